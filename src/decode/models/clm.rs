//! clmtrackr's constrained local models, read whole: the object literal a model script assigns
//! (`var pModel = { "scoring": …, "path": …, "patchModel": …, "shapeModel": …, "hints": … }`,
//! as clmtrackr 1.1's `models/model_*.js` ship it), which is JSON with `//` comments.
//!
//! What is read is what clmtrackr's `clm.js` reads to fit a face: the patch experts
//! (`patchModel`: `patchType` `"SVM"` with one linear filter of `patchSize` × `patchSize`
//! weights and a bias per landmark, `weights.raw` / `bias.raw` for grey-level patches; or
//! `"MOSSE"`, frequency-domain filters given as real and imaginary parts), the model's canvas
//! (`canvasSize`, width then height) and the mean shape (`shapeModel.meanShape`, one (x, y) per
//! landmark in canvas pixels). [`crate::decode::models::jsmodel`] recognises the script; this
//! module reads it for the probe's converter.

use super::ModelError;
use serde::Deserialize;

/// Largest script read (clmtrackr's own models are under 1 MB).
pub const MAX_BYTES: usize = 16 << 20;
/// Most landmarks read.
pub const MAX_PATCHES: usize = 512;
/// Largest patch side read.
pub const MAX_PATCH: usize = 64;
/// Largest canvas side read.
pub const MAX_CANVAS: usize = 2048;
/// Object literals tried before giving up on finding the model's.
const MAX_CANDIDATES: usize = 64;

/// How a model's patch experts score a patch.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchExperts {
    /// Linear SVMs on grey-level patches: per landmark `patch_size²` weights (row-major, as the
    /// file lists them) and a bias.
    Svm {
        /// One filter per landmark.
        weights: Vec<Vec<f32>>,
        /// One bias per landmark.
        bias: Vec<f32>,
    },
    /// MOSSE correlation filters (David Bolme's, as the `mosse` package runs them), kept in
    /// the frequency domain: per landmark the real and the imaginary parts of its
    /// `patch_size²` coefficients, row-major.
    Mosse {
        /// Real parts, one filter per landmark.
        real: Vec<Vec<f32>>,
        /// Imaginary parts, one filter per landmark.
        imag: Vec<Vec<f32>>,
    },
    /// Another `patchType` (its name).
    Other(String),
}

/// A clmtrackr model, as its fitting code reads it.
#[derive(Debug, Clone)]
pub struct ClmModel {
    /// The patch experts.
    pub experts: PatchExperts,
    /// Landmarks (`numPatches`).
    pub landmarks: usize,
    /// Side of a patch expert's filter, in pixels (`patchSize`).
    pub patch_size: usize,
    /// The model's canvas, width and height in pixels (`canvasSize`).
    pub canvas: (usize, usize),
    /// Mean position of each landmark on the canvas, (x, y) in pixels.
    pub mean_shape: Vec<(f64, f64)>,
    /// The eyes' positions on the canvas (`hints.leftEye`, `hints.rightEye`: the model's
    /// left eye first, as the file names them), where the file gives them.
    pub eyes: Option<((f64, f64), (f64, f64))>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Literal {
    patch_model: PatchModel,
    shape_model: ShapeModel,
    #[serde(default)]
    hints: Option<Hints>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Hints {
    left_eye: Option<[f64; 2]>,
    right_eye: Option<[f64; 2]>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchModel {
    patch_type: String,
    num_patches: usize,
    patch_size: Vec<usize>,
    canvas_size: Vec<usize>,
    #[serde(default)]
    weights: Option<serde_json::Value>,
    #[serde(default)]
    bias: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShapeModel {
    mean_shape: Vec<[f64; 2]>,
}

/// Where the string literal opening with the quote at `start` ends (just past its closing
/// quote, escapes skipped; the text's end if it never closes).
fn string_end(text: &[u8], start: usize) -> usize {
    let quote = text[start];
    let mut i = start + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

/// `text` with `//` and `/* */` comments outside string literals replaced by spaces (offsets
/// kept).
fn without_comments(text: &[u8]) -> Vec<u8> {
    let mut out = text.to_vec();
    let mut i = 0;
    while i < out.len() {
        match (out[i], out.get(i + 1)) {
            (b'"' | b'\'', _) => i = string_end(&out, i),
            (b'/', Some(b'/')) => {
                let end = memchr::memchr(b'\n', &out[i..]).map_or(out.len(), |e| i + e);
                out[i..end].fill(b' ');
                i = end;
            }
            (b'/', Some(b'*')) => {
                let end =
                    memchr::memmem::find(&out[i + 2..], b"*/").map_or(out.len(), |e| i + 2 + e + 2);
                out[i..end].fill(b' ');
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// The end (exclusive) of the object literal opening at `start`, by brace count outside
/// strings.
fn literal_end(text: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < text.len() {
        match text[i] {
            b'"' | b'\'' => {
                i = string_end(text, i);
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn floats(v: &serde_json::Value, what: &str) -> Result<Vec<f32>, ModelError> {
    v.as_array()
        .ok_or_else(|| ModelError::Invalid(format!("clmtrackr {what} is not a list")))?
        .iter()
        .map(|x| {
            x.as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| ModelError::Invalid(format!("clmtrackr {what} holds a non-number")))
        })
        .collect()
}

/// Read the model literal of a clmtrackr model script. Errors: no literal with a `patchModel`
/// and a `shapeModel` ([`ModelError::Invalid`]), sizes past the bounds above
/// ([`ModelError::TooLarge`]), filters or a mean shape that disagree with the declared counts.
pub fn read(bytes: &[u8]) -> Result<ClmModel, ModelError> {
    if bytes.len() > MAX_BYTES {
        return Err(ModelError::TooLarge(format!(
            "clmtrackr script of {} bytes",
            bytes.len()
        )));
    }
    let text = without_comments(bytes);
    let mut tried = 0;
    let mut last = None;
    let mut at = 0;
    let literal = loop {
        let Some(open) = memchr::memchr(b'{', &text[at..]).map(|o| at + o) else {
            return Err(ModelError::Invalid(last.unwrap_or_else(|| {
                "no clmtrackr model literal (an object with patchModel and shapeModel)".into()
            })));
        };
        at = open + 1;
        // A JSON object opens with a quoted key.
        let next = text[at..].iter().find(|c| !c.is_ascii_whitespace());
        if next != Some(&b'"') {
            continue;
        }
        tried += 1;
        if tried > MAX_CANDIDATES {
            return Err(ModelError::Invalid(
                "no clmtrackr model literal among the script's first objects".into(),
            ));
        }
        let Some(end) = literal_end(&text, open) else {
            continue;
        };
        match serde_json::from_slice::<Literal>(&text[open..end]) {
            Ok(l) => break l,
            Err(e) => {
                last = Some(format!("clmtrackr model literal: {e}"));
                // Skip the whole object: its inner objects are parts of it.
                at = end;
            }
        }
    };
    let p = literal.patch_model;
    let n = p.num_patches;
    let side = match p.patch_size.as_slice() {
        [w, h] if w == h => *w,
        other => {
            return Err(ModelError::Invalid(format!(
                "clmtrackr patchSize {other:?} is not square"
            )))
        }
    };
    let canvas = match p.canvas_size.as_slice() {
        [w, h] => (*w, *h),
        other => {
            return Err(ModelError::Invalid(format!(
                "clmtrackr canvasSize {other:?} is not a width and a height"
            )))
        }
    };
    if n == 0 || n > MAX_PATCHES || side == 0 || side > MAX_PATCH {
        return Err(ModelError::TooLarge(format!(
            "clmtrackr model of {n} patches of {side} pixels"
        )));
    }
    if canvas.0 == 0 || canvas.1 == 0 || canvas.0 > MAX_CANVAS || canvas.1 > MAX_CANVAS {
        return Err(ModelError::TooLarge(format!(
            "clmtrackr canvas of {}x{} pixels",
            canvas.0, canvas.1
        )));
    }
    let mean_shape: Vec<(f64, f64)> = literal
        .shape_model
        .mean_shape
        .iter()
        .map(|p| (p[0], p[1]))
        .collect();
    if mean_shape.len() != n
        || mean_shape
            .iter()
            .any(|p| !p.0.is_finite() || !p.1.is_finite())
    {
        return Err(ModelError::Invalid(format!(
            "clmtrackr mean shape of {} points for {n} patches",
            mean_shape.len()
        )));
    }
    let experts = match p.patch_type.as_str() {
        "SVM" => {
            let raw = |v: Option<serde_json::Value>, what: &str| {
                v.and_then(|v| v.get("raw").cloned()).ok_or_else(|| {
                    ModelError::Invalid(format!("clmtrackr SVM patches without {what}.raw"))
                })
            };
            let weights = raw(p.weights, "weights")?;
            let weights: Vec<Vec<f32>> = weights
                .as_array()
                .ok_or_else(|| ModelError::Invalid("clmtrackr weights.raw is not a list".into()))?
                .iter()
                .map(|f| floats(f, "weights.raw filter"))
                .collect::<Result<_, _>>()?;
            let bias = floats(&raw(p.bias, "bias")?, "bias.raw")?;
            if weights.len() != n
                || bias.len() != n
                || weights.iter().any(|f| f.len() != side * side)
            {
                return Err(ModelError::Invalid(format!(
                    "clmtrackr SVM patches: {} filters and {} biases for {n} patches of {side}x{side}",
                    weights.len(),
                    bias.len()
                )));
            }
            PatchExperts::Svm { weights, bias }
        }
        "MOSSE" => {
            let filters = p
                .weights
                .as_ref()
                .and_then(serde_json::Value::as_array)
                .ok_or_else(|| {
                    ModelError::Invalid("clmtrackr MOSSE patches without weights".into())
                })?;
            let (mut real, mut imag) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for f in filters {
                match f.as_array().map(Vec::as_slice) {
                    Some([re, im]) => {
                        real.push(floats(re, "MOSSE real part")?);
                        imag.push(floats(im, "MOSSE imaginary part")?);
                    }
                    _ => {
                        return Err(ModelError::Invalid(
                            "clmtrackr MOSSE filter is not a real and an imaginary part".into(),
                        ))
                    }
                }
            }
            if real.len() != n || real.iter().chain(&imag).any(|f| f.len() != side * side) {
                return Err(ModelError::Invalid(format!(
                    "clmtrackr MOSSE patches: {} filters for {n} patches of {side}x{side}",
                    real.len()
                )));
            }
            PatchExperts::Mosse { real, imag }
        }
        other => PatchExperts::Other(other.chars().take(32).collect()),
    };
    let eyes = literal
        .hints
        .and_then(|h| Some((h.left_eye?, h.right_eye?)))
        .map(|(l, r)| ((l[0], l[1]), (r[0], r[1])))
        .filter(|(l, r)| [l.0, l.1, r.0, r.1].iter().all(|v| v.is_finite()));
    Ok(ClmModel {
        experts,
        landmarks: n,
        patch_size: side,
        canvas,
        mean_shape,
        eyes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(patch_type: &str, extra: &str) -> String {
        format!(
            "(function (global) {{\n  'use strict';\n  var pModel = {{\n    \"scoring\": {{\"size\": [2, 2], \"bias\": 0.5, \"coef\": [1, 2, 3, 4]}},\n    \"path\": {{\"vertices\": [\n      // jawline\n      [0, 1, 0]]}},\n    \"patchModel\": {{\"patchType\": \"{patch_type}\", {extra} \"numPatches\": 2, \"patchSize\": [2, 2], \"canvasSize\": [20, 18]}},\n    \"shapeModel\": {{\"meanShape\": [[5.5, 6], [12, 6.25]] /* eyes */}},\n    \"hints\": {{\"rightEye\": [12, 6.25], \"leftEye\": [5.5, 6]}}\n  }};\n  global.pModel = pModel; // \"{{\" in a comment\n}})(this);\n"
        )
    }

    #[test]
    fn reads_svm_patch_experts_past_comments() {
        let s = script(
            "SVM",
            "\"bias\": {\"raw\": [-1, 0.5]}, \"weights\": {\"raw\": [[1, 2, 3, 4], [0, 0, 0, -1]]},",
        );
        let m = read(s.as_bytes()).unwrap();
        assert_eq!(m.landmarks, 2);
        assert_eq!(m.patch_size, 2);
        assert_eq!(m.canvas, (20, 18));
        assert_eq!(m.mean_shape, vec![(5.5, 6.0), (12.0, 6.25)]);
        assert_eq!(m.eyes, Some(((5.5, 6.0), (12.0, 6.25))));
        assert_eq!(
            m.experts,
            PatchExperts::Svm {
                weights: vec![vec![1.0, 2.0, 3.0, 4.0], vec![0.0, 0.0, 0.0, -1.0]],
                bias: vec![-1.0, 0.5]
            }
        );
        let mosse = script(
            "MOSSE",
            "\"weights\": [[[1, 0, 0, 0], [0, 0, 0, 0]], [[0, 1, 0, 0], [0, 0, 0, 2]]],",
        );
        assert_eq!(
            read(mosse.as_bytes()).unwrap().experts,
            PatchExperts::Mosse {
                real: vec![vec![1.0, 0.0, 0.0, 0.0], vec![0.0, 1.0, 0.0, 0.0]],
                imag: vec![vec![0.0; 4], vec![0.0, 0.0, 0.0, 2.0]]
            }
        );
        assert!(read(script("MOSSE", "").as_bytes()).is_err());
    }

    #[test]
    fn refuses_what_disagrees_with_its_counts() {
        // One filter short.
        let s = script(
            "SVM",
            "\"bias\": {\"raw\": [-1, 0.5]}, \"weights\": {\"raw\": [[1, 2, 3, 4]]},",
        );
        let e = read(s.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("1 filters and 2 biases for 2 patches"), "{e}");
        // No literal at all, and cut anywhere: an error, never a panic.
        assert!(read(b"var x = 1;").is_err());
        let s = script("SVM", "\"bias\": {\"raw\": [-1, 0.5]}, \"weights\": {\"raw\": [[1, 2, 3, 4], [0, 0, 0, -1]]},");
        for cut in 0..s.len() {
            let _ = read(&s.as_bytes()[..cut]);
        }
    }
}
