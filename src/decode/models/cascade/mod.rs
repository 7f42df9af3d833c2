//! OpenCV cascade classifiers (XML, `opencv_storage`): feature type, window size, stage count.
//! The window is reported as the model's input `[1, 1, height, width]`.

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo};

pub mod bbf;
mod old;
use old::read_old;

/// Whether `bytes` are an OpenCV cascade XML (`<opencv_storage>` with a cascade).
pub fn looks_like(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    memchr::memmem::find(head, b"<opencv_storage>").is_some()
        && (memchr::memmem::find(bytes, b"<stageType>").is_some()
            || memchr::memmem::find(bytes, b"<stages>").is_some())
}

fn tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(text[start..end].trim())
}

/// Parse a cascade: window size, stages, feature type. Errors say what is malformed.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let text = String::from_utf8_lossy(bytes);
    if !text.contains("<opencv_storage>") {
        return Err(ModelError::Invalid("cascade: no <opencv_storage>".into()));
    }
    let mut info = ModelInfo {
        format: Some(ModelFormat::OpencvCascade),
        ..Default::default()
    };
    let num = |n: &str| tag(&text, n).and_then(|v| v.parse::<i64>().ok());
    let (h, w) = (num("height"), num("width"));
    if let (Some(h), Some(w)) = (h, w) {
        if (1..=4096).contains(&h) && (1..=4096).contains(&w) {
            info.inputs.push(TensorInfo {
                name: "window".into(),
                shape: vec![Some(1), Some(1), Some(h), Some(w)],
                dtype: Some("uint8".into()),
            });
            info.facts
                .insert("cascade.window".into(), format!("{w}x{h}"));
        }
    }
    if let Some(f) = tag(&text, "featureType") {
        info.facts
            .insert("cascade.feature_type".into(), f.chars().take(16).collect());
    }
    if let Some(s) = num("stageNum") {
        info.facts.insert("cascade.stages".into(), s.to_string());
    }
    let weak = text.matches("<internalNodes>").count();
    info.params = weak as u64;
    info.ops
        .insert("weak_classifier".into(), weak.min(u32::MAX as usize) as u32);
    // The licence/comment header often names the object; weak evidence only.
    let comment = text.find("<!--").and_then(|s| {
        let body = text.get(s + 4..)?;
        body.find("-->").and_then(|e| body.get(..e))
    });
    if let Some(c) = comment {
        info.metadata
            .insert("comment".into(), c.trim().chars().take(400).collect());
    }
    Ok(info)
}

/// Which features a cascade's weak classifiers test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// Haar-like features: weighted sums of up to three rectangles, upright or tilted 45°,
    /// normalised by the window's standard deviation (Viola–Jones; Lienhart–Maydt for tilted).
    Haar,
    /// Multi-block local binary patterns: an 8-bit code comparing eight cells of a 3×3 grid with
    /// the centre cell; split on a 256-bit subset (Liao et al. 2007, as OpenCV's `LBPEvaluator`).
    Lbp,
}

/// One feature of a cascade, in window coordinates (pixels of the `width`×`height` window).
#[derive(Debug, Clone, PartialEq)]
pub enum CascadeFeature {
    /// Up to three weighted rectangles `(x, y, w, h, weight)`; `tilted` rectangles are rotated
    /// 45° about their top corner, as OpenCV's `CV_TILTED_OFS` reads them.
    Haar {
        /// The rectangles.
        rects: Vec<(i32, i32, i32, i32, f32)>,
        /// Rotated 45°.
        tilted: bool,
    },
    /// The top-left cell `(x, y)` and the cell size `(w, h)` of a 3×3 grid.
    Lbp {
        /// Left of the grid.
        x: i32,
        /// Top of the grid.
        y: i32,
        /// Cell width.
        w: i32,
        /// Cell height.
        h: i32,
    },
}

/// One split of a weak classifier's tree. Child indexes: `> 0` another node of the same tree,
/// `<= 0` the leaf `-index`.
#[derive(Debug, Clone, PartialEq)]
pub struct CascadeNode {
    /// Child when the feature value is below the threshold (Haar) or in the subset (LBP).
    pub left: i32,
    /// The other child.
    pub right: i32,
    /// Index into [`Cascade::features`].
    pub feature: usize,
    /// Haar: the split threshold on the normalised feature value.
    pub threshold: f32,
    /// LBP: the 256-bit subset of codes that go left (8 × 32 bits, OpenCV's `subset`).
    pub subset: Option<[u32; 8]>,
}

/// A boosted stage: the sum of its weak classifiers' leaves must reach `threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct CascadeStage {
    /// Stage threshold.
    pub threshold: f32,
    /// Weak classifiers: each a small tree (`nodes`, root first) and its `leaves`.
    pub weak: Vec<(Vec<CascadeNode>, Vec<f32>)>,
}

/// A whole cascade in OpenCV's `opencv-cascade-classifier` XML form (what `opencv_traincascade`
/// writes and OpenCV 3+ ships), ready to be evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct Cascade {
    /// Haar or LBP.
    pub kind: FeatureKind,
    /// Window width, pixels.
    pub width: u32,
    /// Window height, pixels.
    pub height: u32,
    /// Stages, in order.
    pub stages: Vec<CascadeStage>,
    /// The features the nodes index.
    pub features: Vec<CascadeFeature>,
}

/// Most weak classifiers (over all stages) and features a cascade may have; OpenCV's largest
/// shipped cascade (`haarcascade_frontalface_alt_tree`) has about 3,400 trees.
pub const MAX_CASCADE_ITEMS: usize = 200_000;
/// Most nodes in one weak classifier's tree.
pub const MAX_TREE_NODES: usize = 256;

pub(super) fn numbers<T: std::str::FromStr>(text: &str, what: &str) -> Result<Vec<T>, ModelError> {
    text.split_ascii_whitespace()
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| ModelError::Invalid(format!("cascade: {what}: {v:?} is not a number")))
        })
        .collect()
}

/// Read a cascade's stages, trees and features, in either layout: `opencv-cascade-classifier`
/// (OpenCV 3+) or the older `opencv-haar-classifier` (OpenCV 1.x–2.x: each node carries its
/// feature, leaves are `left_val`/`right_val`, inner children `left_node`/`right_node`). Errors
/// name what is malformed: counts past [`MAX_CASCADE_ITEMS`] are [`ModelError::TooLarge`], and
/// trees whose children point backwards, features outside the window and indexes out of range
/// are [`ModelError::Invalid`].
pub fn read(bytes: &[u8]) -> Result<Cascade, ModelError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut path: Vec<String> = Vec::new();
    let (mut kind, mut width, mut height) = (None, None, None);
    let mut stages: Vec<CascadeStage> = Vec::new();
    let mut features: Vec<CascadeFeature> = Vec::new();
    let mut nodes_text: Option<String> = None;
    let mut items = 0usize;
    let mut old_format = false;
    let too_many = || {
        ModelError::TooLarge(format!(
            "cascade: more than {MAX_CASCADE_ITEMS} weak classifiers or features"
        ))
    };
    loop {
        let event = next_event(&mut reader)?;
        match event {
            Event::Start(s) => {
                let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
                if path.len() == 1
                    && s.attributes().flatten().any(|a| {
                        a.key.as_ref() == b"type_id"
                            && a.value.as_ref() == b"opencv-haar-classifier"
                    })
                {
                    old_format = true;
                }
                path.push(name);
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                match p.as_slice() {
                    [_, "cascade", "stages", "_"] => {
                        stages.push(CascadeStage {
                            threshold: 0.0,
                            weak: Vec::new(),
                        });
                    }
                    [_, "cascade", "stages", "_", "weakClassifiers", "_"] => {
                        items += 1;
                        if items > MAX_CASCADE_ITEMS {
                            return Err(too_many());
                        }
                        nodes_text = None;
                    }
                    [_, "cascade", "features", "_"] => {
                        if features.len() >= MAX_CASCADE_ITEMS {
                            return Err(too_many());
                        }
                        features.push(match kind {
                            Some(FeatureKind::Lbp) => CascadeFeature::Lbp {
                                x: 0,
                                y: 0,
                                w: 0,
                                h: 0,
                            },
                            _ => CascadeFeature::Haar {
                                rects: Vec::new(),
                                tilted: false,
                            },
                        });
                    }
                    _ => {}
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let text = unescaped(&t)?;
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                match p.as_slice() {
                    [_, "cascade", "featureType"] => {
                        kind = Some(match text.trim() {
                            "HAAR" => FeatureKind::Haar,
                            "LBP" => FeatureKind::Lbp,
                            other => {
                                return Err(ModelError::Unsupported(format!(
                                    "cascade: feature type {:?} (HAAR and LBP are read)",
                                    other.chars().take(16).collect::<String>()
                                )))
                            }
                        })
                    }
                    [_, "cascade", "width"] => width = text.trim().parse::<u32>().ok(),
                    [_, "cascade", "height"] => height = text.trim().parse::<u32>().ok(),
                    [_, "cascade", "stages", "_", "stageThreshold"] => {
                        if let Some(s) = stages.last_mut() {
                            s.threshold = text.trim().parse().map_err(|_| {
                                ModelError::Invalid(
                                    "cascade: stage threshold is not a number".into(),
                                )
                            })?;
                        }
                    }
                    [_, "cascade", "stages", "_", "weakClassifiers", "_", "internalNodes"] => {
                        nodes_text = Some(text.into_owned());
                    }
                    [_, "cascade", "stages", "_", "weakClassifiers", "_", "leafValues"] => {
                        let leaves: Vec<f32> = numbers(&text, "leaf values")?;
                        let nodes = parse_nodes(nodes_text.take().as_deref().unwrap_or(""), kind)?;
                        check_tree(&nodes, leaves.len())?;
                        let stage = stages.last_mut().ok_or_else(|| {
                            ModelError::Invalid("cascade: a weak classifier outside a stage".into())
                        })?;
                        stage.weak.push((nodes, leaves));
                    }
                    [_, "cascade", "features", "_", "rects", "_"] => {
                        if let Some(CascadeFeature::Haar { rects, .. }) = features.last_mut() {
                            push_haar_rect(&text, rects)?;
                        }
                    }
                    [_, "cascade", "features", "_", "tilted"] => {
                        if let Some(CascadeFeature::Haar { tilted, .. }) = features.last_mut() {
                            *tilted = text.trim() == "1";
                        }
                    }
                    [_, "cascade", "features", "_", "rect"] => {
                        let v: Vec<i32> = numbers(&text, "LBP rectangle")?;
                        let [rx, ry, rw, rh] = v[..] else {
                            return Err(ModelError::Invalid(format!(
                                "cascade: an LBP rectangle has {} numbers (x y w h)",
                                v.len()
                            )));
                        };
                        if let Some(CascadeFeature::Lbp { x, y, w, h }) = features.last_mut() {
                            (*x, *y, *w, *h) = (rx, ry, rw, rh);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if old_format {
        return read_old(bytes);
    }
    let kind = kind.ok_or_else(|| ModelError::Invalid("cascade: no <featureType>".into()))?;
    finish(kind, width.zip(height), stages, features)
}

/// The next XML event, or where the XML broke.
pub(super) fn next_event<'a>(
    reader: &mut quick_xml::Reader<&'a [u8]>,
) -> Result<quick_xml::events::Event<'a>, ModelError> {
    reader.read_event().map_err(|e| {
        ModelError::Invalid(format!(
            "cascade: XML at byte {}: {e}",
            reader.buffer_position()
        ))
    })
}

/// An element's text with XML escapes resolved.
pub(super) fn unescaped<'a>(
    t: &'a quick_xml::events::BytesText<'_>,
) -> Result<std::borrow::Cow<'a, str>, ModelError> {
    t.unescape()
        .map_err(|e| ModelError::Invalid(format!("cascade: text: {e}")))
}

/// Check what was read and assemble it: a window of 2..512 pixels each way, at least one
/// stage, every feature inside the window.
pub(super) fn finish(
    kind: FeatureKind,
    size: Option<(u32, u32)>,
    stages: Vec<CascadeStage>,
    features: Vec<CascadeFeature>,
) -> Result<Cascade, ModelError> {
    let (width, height) = match size {
        Some((w, h)) if (2..=512).contains(&w) && (2..=512).contains(&h) => (w, h),
        _ => {
            return Err(ModelError::Invalid(
                "cascade: no window size, or one outside 2..512 pixels".into(),
            ))
        }
    };
    if stages.is_empty() {
        return Err(ModelError::Invalid("cascade: no stages".into()));
    }
    let cascade = Cascade {
        kind,
        width,
        height,
        stages,
        features,
    };
    check_features(&cascade)?;
    Ok(cascade)
}

/// One Haar rectangle, `x y w h weight`, added to `rects` (at most three).
pub(super) fn push_haar_rect(
    text: &str,
    rects: &mut Vec<(i32, i32, i32, i32, f32)>,
) -> Result<(), ModelError> {
    let v: Vec<f32> = numbers(text, "feature rectangle")?;
    let [x, y, w, h, weight] = v[..] else {
        return Err(ModelError::Invalid(format!(
            "cascade: a Haar rectangle has {} numbers (x y w h weight)",
            v.len()
        )));
    };
    if rects.len() >= 3 {
        return Err(ModelError::Invalid(
            "cascade: a Haar feature with more than three rectangles".into(),
        ));
    }
    rects.push((x as i32, y as i32, w as i32, h as i32, weight));
    Ok(())
}

fn parse_nodes(text: &str, kind: Option<FeatureKind>) -> Result<Vec<CascadeNode>, ModelError> {
    let lbp = kind == Some(FeatureKind::Lbp);
    let fields = if lbp { 11 } else { 4 };
    let v: Vec<&str> = text.split_ascii_whitespace().collect();
    if v.is_empty() || v.len() % fields != 0 || v.len() / fields > MAX_TREE_NODES {
        return Err(ModelError::Invalid(format!(
            "cascade: a tree's internalNodes hold {} numbers (groups of {fields}, at most {MAX_TREE_NODES} nodes)",
            v.len()
        )));
    }
    let int = |s: &str| {
        s.parse::<i64>().map_err(|_| {
            ModelError::Invalid(format!("cascade: node field {s:?} is not an integer"))
        })
    };
    v.chunks(fields)
        .map(|c| {
            let feature = usize::try_from(int(c[2])?)
                .map_err(|_| ModelError::Invalid("cascade: a negative feature index".into()))?;
            let (threshold, subset) = if lbp {
                let mut s = [0u32; 8];
                for (i, word) in c[3..].iter().enumerate() {
                    // Written as signed 32-bit integers.
                    s[i] = int(word)? as i32 as u32;
                }
                (0.0, Some(s))
            } else {
                let t = c[3].parse::<f32>().map_err(|_| {
                    ModelError::Invalid("cascade: a node threshold is not a number".into())
                })?;
                (t, None)
            };
            Ok(CascadeNode {
                left: int(c[0])?.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
                right: int(c[1])?.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
                feature,
                threshold,
                subset,
            })
        })
        .collect()
}

/// Children must point forwards (so every walk ends) and leaves must exist.
pub(super) fn check_tree(nodes: &[CascadeNode], leaves: usize) -> Result<(), ModelError> {
    for (i, n) in nodes.iter().enumerate() {
        for child in [n.left, n.right] {
            let ok = if child > 0 {
                (child as usize) > i && (child as usize) < nodes.len()
            } else {
                (child.unsigned_abs() as usize) < leaves
            };
            if !ok {
                return Err(ModelError::Invalid(format!(
                    "cascade: node {i} of a tree points at {child}, outside its {} nodes and {leaves} leaves (or backwards)",
                    nodes.len()
                )));
            }
        }
    }
    Ok(())
}

/// Every feature lies inside the window and every node's feature exists.
pub(super) fn check_features(c: &Cascade) -> Result<(), ModelError> {
    let (ww, wh) = (c.width as i32, c.height as i32);
    for (i, f) in c.features.iter().enumerate() {
        let inside = match (f, c.kind) {
            (CascadeFeature::Haar { rects, tilted }, FeatureKind::Haar) => {
                !rects.is_empty()
                    && rects.iter().all(|&(x, y, w, h, _)| {
                        w >= 0
                            && h >= 0
                            && y >= 0
                            && if *tilted {
                                x - h >= 0 && x + w <= ww && y + w + h <= wh
                            } else {
                                x >= 0 && x + w <= ww && y + h <= wh
                            }
                    })
            }
            (&CascadeFeature::Lbp { x, y, w, h }, FeatureKind::Lbp) => {
                x >= 0 && y >= 0 && w > 0 && h > 0 && x + 3 * w <= ww && y + 3 * h <= wh
            }
            _ => false,
        };
        if !inside {
            return Err(ModelError::Invalid(format!(
                "cascade: feature {i} lies outside the {ww}x{wh} window or is empty"
            )));
        }
    }
    for s in &c.stages {
        for (nodes, _) in &s.weak {
            if let Some(n) = nodes.iter().find(|n| n.feature >= c.features.len()) {
                return Err(ModelError::Invalid(format!(
                    "cascade: a node uses feature {} of {}",
                    n.feature,
                    c.features.len()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
