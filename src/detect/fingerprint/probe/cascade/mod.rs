//! The probe for OpenCV cascades: they are not neural nets, so they do not run in ONNX Runtime;
//! they are evaluated here, in Rust, on the same kind of synthetic pictures ([`scenes`]), and
//! the report says what they fire on. A cascade's window shape cannot tell a face cascade from
//! an eye, smile, profile or cat-face cascade; where it fires can.
//!
//! A cascade is always a detector: whatever it fires on, it never makes a model recognition.

pub mod bbf;
pub mod eval;
pub mod scenes;

use super::ProbeError;
use crate::decode::models::cascade::{self, Cascade, FeatureKind};
use crate::model::Technique;
use eval::Rect;
use scenes::Part;
use std::time::Instant;

/// Most node evaluations one cascade may spend on the whole battery (a real cascade spends a
/// few million: most windows leave after the first stages). A cascade whose every stage passes
/// everywhere is cut off here and reported as not evaluated to the end.
pub const MAX_NODE_EVALUATIONS: u64 = 400_000_000;

/// What a cascade fired on.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CascadeReport {
    /// `HAAR` or `LBP`.
    pub features: String,
    /// Window, `(width, height)` pixels.
    pub window: (u32, u32),
    /// Probe pictures drawn.
    pub scenes: usize,
    /// Detections (after grouping) that fell on each kind of part, most first.
    pub fired: Vec<(Part, usize)>,
    /// Detections that fell on no drawn part (background, noise).
    pub stray: usize,
    /// Time taken, milliseconds.
    pub millis: f64,
}

impl CascadeReport {
    /// The part most detections fell on, when the finding is clear: at least two detections,
    /// more than twice as many as on any other kind of part, and at least a third as many as
    /// fell on nothing drawn (an eye cascade also fires on a cat's eyes and nostrils, which are
    /// no drawn part).
    pub fn fires_on(&self) -> Option<Part> {
        let (part, n) = *self.fired.first()?;
        let runner_up = self.fired.get(1).map_or(0, |f| f.1);
        (n >= 2 && n > 2 * runner_up && 3 * n >= self.stray).then_some(part)
    }

    /// One line for the artifact's reasons.
    pub fn summary(&self) -> String {
        let fired: Vec<String> = self
            .fired
            .iter()
            .map(|(p, n)| format!("{} {n}", p.as_str()))
            .collect();
        format!(
            "probe: {} cascade ({}x{} window) evaluated on {} synthetic pictures: {}; {} stray detection{}",
            self.features,
            self.window.0,
            self.window.1,
            self.scenes,
            if fired.is_empty() {
                "no detection on any drawn object".to_string()
            } else {
                format!("detections on {}", fired.join(", "))
            },
            self.stray,
            if self.stray == 1 { "" } else { "s" }
        )
    }
}

/// The technique a cascade firing on `part` implements: faces and profiles are face
/// detection, an eye is facial-part localisation, a mouth an expression (smile) detector,
/// bodies people detection, a cat's face or a plate none of the banned or watched techniques.
pub fn technique_of(part: Part) -> Technique {
    match part {
        Part::Face | Part::Profile => Technique::FaceDetection,
        Part::Eye => Technique::FaceLandmarks,
        Part::Mouth => Technique::FaceAttributes,
        Part::Body | Part::UpperBody | Part::LowerBody => Technique::PersonDetection,
        Part::CatFace | Part::Plate => Technique::None,
    }
}

/// Least overlap (intersection over union) between a detection and a drawn part for the
/// detection to count as falling on that part.
pub const MIN_OVERLAP: f64 = 0.25;

/// The drawn part a detection overlaps most, when it overlaps it by [`MIN_OVERLAP`] or more.
fn part_of(d: &Rect, parts: &[(Part, Rect)]) -> Option<Part> {
    parts
        .iter()
        .map(|(p, r)| {
            let iw = ((d.x + d.w).min(r.x + r.w) - d.x.max(r.x)).max(0);
            let ih = ((d.y + d.h).min(r.y + r.h) - d.y.max(r.y)).max(0);
            let inter = (iw * ih) as f64;
            let union = (d.w * d.h + r.w * r.h) as f64 - inter;
            (*p, if union > 0.0 { inter / union } else { 0.0 })
        })
        .filter(|(_, iou)| *iou >= MIN_OVERLAP)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, _)| p)
}

/// Read the cascade in `bytes` and run it on the probe battery. Errors: the cascade does not
/// parse ([`ProbeError::Unsupported`] with the parser's reason), or it spends more than
/// [`MAX_NODE_EVALUATIONS`].
pub fn run(bytes: &[u8]) -> Result<CascadeReport, ProbeError> {
    let c = cascade::read(bytes).map_err(|e| ProbeError::Unsupported(e.to_string()))?;
    run_cascade(&c)
}

/// [`run`] on a cascade already read.
pub fn run_cascade(c: &Cascade) -> Result<CascadeReport, ProbeError> {
    let mut budget = eval::Budget::new(MAX_NODE_EVALUATIONS);
    let features = match c.kind {
        FeatureKind::Haar => "HAAR",
        FeatureKind::Lbp => "LBP",
    };
    evaluate(features, (c.width, c.height), |scene| {
        eval::detect(c, &scene.image, &mut budget).map_err(|cut| match cut {
            eval::Cut::Budget => format!(
                "the cascade spent over {MAX_NODE_EVALUATIONS} node evaluations on the probe pictures; not evaluated to the end"
            ),
            eval::Cut::Everywhere => format!(
                "the cascade accepts over {} windows of the {} picture: it fires everywhere, on no object in particular",
                eval::MAX_RAW_WINDOWS,
                scene.name
            ),
        })
    })
}

/// Read the BBF cascade in a script (ccv's format, as jsfeat, headtrackr and
/// jquery.facedetection embed it) and run it on the probe battery as jsfeat does ([`bbf`]).
/// Errors: the literal does not read ([`ProbeError::Unsupported`] with the reader's reason),
/// or the cascade spends more than [`MAX_NODE_EVALUATIONS`] feature evaluations.
pub fn run_bbf(bytes: &[u8]) -> Result<CascadeReport, ProbeError> {
    let c = cascade::bbf::read(bytes).map_err(|e| ProbeError::Unsupported(e.to_string()))?;
    let mut budget = MAX_NODE_EVALUATIONS;
    evaluate("BBF", (c.width, c.height), |scene| {
        bbf::detect_objects(&c, &scene.image, &mut budget).map_err(|_| {
            format!(
                "the cascade spent over {MAX_NODE_EVALUATIONS} feature evaluations on the probe pictures; not evaluated to the end"
            )
        })
    })
}

/// Run `detect` on every picture of the battery and count where its detections fall.
fn evaluate(
    features: &str,
    window: (u32, u32),
    mut detect: impl FnMut(&scenes::Scene) -> Result<Vec<(Rect, usize)>, String>,
) -> Result<CascadeReport, ProbeError> {
    let start = Instant::now();
    let battery = scenes::battery();
    let mut fired: std::collections::BTreeMap<Part, usize> = Default::default();
    let mut stray = 0;
    for scene in battery {
        for (d, _) in detect(scene).map_err(ProbeError::Unsupported)? {
            match part_of(&d, &scene.parts) {
                Some(p) => *fired.entry(p).or_default() += 1,
                None => stray += 1,
            }
        }
    }
    let mut fired: Vec<(Part, usize)> = fired.into_iter().collect();
    fired.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(CascadeReport {
        features: features.into(),
        window,
        scenes: battery.len(),
        fired,
        stray,
        millis: start.elapsed().as_secs_f64() * 1e3,
    })
}

/// What the cascade does on each picture of `battery`, for checking against OpenCV
/// (scripts/compare-cascade-opencv.py): per picture, the windows accepted at scale one and,
/// with `pyramid`, the grouped detections over the whole pyramid, as `[x, y, w, h]` lists.
pub fn comparison_record(
    c: &Cascade,
    battery: &[scenes::Scene],
    cascade_path: &str,
    pyramid: bool,
) -> serde_json::Value {
    let per_scene: Vec<serde_json::Value> = battery
        .iter()
        .map(|s| {
            let mut budget = eval::Budget::new(u64::MAX);
            let one = eval::windows_at_scale_one(c, &s.image, 2, &mut budget).unwrap_or_default();
            let all = pyramid.then(|| {
                eval::detect(c, &s.image, &mut budget)
                    .unwrap_or_default()
                    .iter()
                    .map(|(r, _)| [r.x, r.y, r.w, r.h])
                    .collect::<Vec<_>>()
            });
            serde_json::json!({
                "scale_one": one.iter().map(|r| [r.x, r.y, r.w, r.h]).collect::<Vec<_>>(),
                "detections": all,
            })
        })
        .collect();
    serde_json::json!({"cascade": cascade_path, "scenes": per_scene})
}

/// Fold what a cascade fired on into its structural classification: where it fires says its
/// object better than its window's shape or its comment, so a clear finding sets the technique
/// (never recognition: every outcome of [`technique_of`] is a detector); no finding leaves the
/// structural verdict as it was.
pub fn apply(c: &mut super::super::Classification, r: &CascadeReport) {
    c.reasons.push(r.summary());
    let Some(part) = r.fires_on() else {
        c.reasons.push(
            "probe: no clear finding (too few detections, two kinds of object alike, or as many on the background); the structural verdict stands".into(),
        );
        return;
    };
    let t = technique_of(part);
    if t == c.technique {
        // Where it fires is stronger evidence of the object than a window's shape or a word.
        c.confidence = (c.confidence + 0.1).clamp(0.8, 0.9);
        c.reasons.push(format!(
            "probe: it fires on {}, as its structure suggested",
            part.as_str()
        ));
    } else {
        c.reasons.push(format!(
            "probe: it fires on {}: {t}, not {} as its structure suggested ({:.2})",
            part.as_str(),
            c.technique,
            c.confidence
        ));
        c.technique = t;
        c.confidence = 0.75;
        c.family = None;
    }
}

#[cfg(test)]
mod tests {
    use super::eval::*;
    use super::*;

    /// A cascade of one stump on one upright feature; `threshold` is its stage threshold.
    fn one_stump(threshold: f32) -> Cascade {
        let xml = format!(
            "<opencv_storage><cascade><stageType>BOOST</stageType><featureType>HAAR</featureType><height>8</height><width>8</width><stages><_><stageThreshold>{threshold}</stageThreshold><weakClassifiers><_><internalNodes>0 -1 0 0.</internalNodes><leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages><features><_><rects><_>0 0 8 8 -1.</_><_>0 0 4 8 2.</_></rects><tilted>0</tilted></_></features></cascade></opencv_storage>"
        );
        cascade::read(xml.as_bytes()).unwrap()
    }

    fn noise(w: usize, h: usize) -> Gray {
        let mut x = 0x9E37_79B9u32;
        Gray {
            width: w,
            height: h,
            pixels: (0..w * h)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect(),
        }
    }

    #[test]
    fn a_cascade_that_accepts_everything_is_cut_off_not_grouped_forever() {
        let c = one_stump(-1e9);
        let g = noise(160, 160);
        let mut budget = Budget::new(u64::MAX);
        assert_eq!(detect(&c, &g, &mut budget), Err(Cut::Everywhere));
        let mut small = Budget::new(100);
        assert_eq!(detect(&c, &g, &mut small), Err(Cut::Budget));
    }

    #[test]
    fn grouping_keeps_clusters_of_more_than_min_neighbours() {
        let r = |x, y| Rect { x, y, w: 24, h: 24 };
        let four = [r(10, 10), r(11, 10), r(10, 11), r(12, 12)];
        let got = group(&four, 3, 0.2);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, 4);
        assert_eq!(got[0].0, r(11, 11));
        assert!(group(&four[..3], 3, 0.2).is_empty());
        // Far apart: two clusters of one each.
        assert!(group(&[r(0, 0), r(100, 100)], 0, 0.2).len() == 2);
    }

    #[test]
    fn a_detection_counts_for_the_part_it_overlaps_most() {
        let parts = [
            (
                Part::Face,
                Rect {
                    x: 0,
                    y: 0,
                    w: 100,
                    h: 100,
                },
            ),
            (
                Part::Eye,
                Rect {
                    x: 20,
                    y: 30,
                    w: 20,
                    h: 16,
                },
            ),
        ];
        assert_eq!(
            part_of(
                &Rect {
                    x: 18,
                    y: 28,
                    w: 24,
                    h: 20
                },
                &parts
            ),
            Some(Part::Eye)
        );
        assert_eq!(
            part_of(
                &Rect {
                    x: 10,
                    y: 10,
                    w: 80,
                    h: 80
                },
                &parts
            ),
            Some(Part::Face)
        );
        assert_eq!(
            part_of(
                &Rect {
                    x: 200,
                    y: 0,
                    w: 80,
                    h: 80
                },
                &parts
            ),
            None
        );
    }

    #[test]
    fn only_a_clear_finding_names_the_object() {
        let report = |fired: Vec<(Part, usize)>, stray| CascadeReport {
            features: "HAAR".into(),
            window: (24, 24),
            scenes: 1,
            fired,
            stray,
            millis: 0.0,
        };
        assert_eq!(
            report(vec![(Part::Face, 6), (Part::CatFace, 2)], 0).fires_on(),
            Some(Part::Face)
        );
        assert_eq!(
            report(vec![(Part::Face, 4), (Part::CatFace, 2)], 0).fires_on(),
            None
        );
        // Alike on two kinds of object, one detection, or mostly on the background: no finding.
        assert_eq!(
            report(vec![(Part::Face, 4), (Part::CatFace, 4)], 0).fires_on(),
            None
        );
        assert_eq!(report(vec![(Part::Profile, 1)], 0).fires_on(), None);
        assert_eq!(report(vec![(Part::Mouth, 2)], 16).fires_on(), None);
        // Never recognition, whatever it fires on.
        for p in [
            Part::Face,
            Part::Eye,
            Part::Mouth,
            Part::Profile,
            Part::Body,
            Part::UpperBody,
            Part::LowerBody,
            Part::CatFace,
            Part::Plate,
        ] {
            assert!(!technique_of(p).is_biometric_identification());
        }
    }
}
