//! Structural rules: what a model does, read from the shapes it takes and gives.
//!
//! Each rule names the published architecture shapes it stands on. Order matters: the most
//! specific shapes (silhouette sequences, detection heads, landmark vectors) are tried before the
//! generic "one flat vector out" of an embedding, so landmark nets and detectors — the hard
//! negatives of face recognition — are claimed first.

use super::Classification;
use crate::decode::models::{ModelFormat, ModelInfo};
use crate::model::Technique;

/// Square face-crop sizes of published recognition nets (FaceNet 160, ArcFace/MobileFaceNet 112,
/// OpenFace 96, dlib 150, SphereFace 112x96 is near-square).
const FACE_CROPS: &[i64] = &[96, 112, 128, 150, 160];

fn known(shape: &[Option<i64>]) -> Vec<i64> {
    shape.iter().map(|d| d.unwrap_or(-1)).collect()
}

/// Product of the non-batch dimensions (None if any is dynamic, or the product does not fit:
/// no real tensor has 2^63 elements).
fn flat(shape: &[i64]) -> Option<i64> {
    let rest = shape.get(1..)?;
    if rest.iter().any(|d| *d < 0) {
        return None;
    }
    rest.iter()
        .try_fold(1i64, |a, &d| a.checked_mul(d))
        .map(|n| n.max(1))
}

/// An image input as (height, width, channels), NCHW or NHWC.
fn image_input(info: &ModelInfo) -> Option<(i64, i64, i64)> {
    info.inputs.iter().find_map(|t| {
        let s = known(&t.shape);
        if s.len() != 4 {
            return None;
        }
        if matches!(s[1], 1 | 3) && s[2] > 4 && s[3] > 4 {
            Some((s[2], s[3], s[1]))
        } else if matches!(s[3], 1 | 3) && s[1] > 4 && s[2] > 4 {
            Some((s[1], s[2], s[3]))
        } else {
            None
        }
    })
}

/// A silhouette-sequence input: (frames, height, width, channels).
fn sequence_input(info: &ModelInfo) -> Option<(i64, i64, i64, i64)> {
    info.inputs.iter().find_map(|t| {
        let s = known(&t.shape);
        match s.len() {
            5 => Some((s[2], s[3], s[4], s[1])), // N, C, T, H, W
            4 if !matches!(s[1], 1 | 3) && !matches!(s[3], 1 | 3) => Some((s[1], s[2], s[3], 1)),
            _ => None,
        }
    })
}

/// Output sizes of the model's heads: declared outputs, or for weight-only formats the output
/// width of the last layers.
fn heads(info: &ModelInfo) -> Vec<i64> {
    if !info.outputs.is_empty() {
        return info
            .outputs
            .iter()
            .filter_map(|t| flat(&known(&t.shape)))
            .collect();
    }
    // Last layers: weights with rank ≥ 2, read as out-features (PyTorch: dim 0; TF: last dim).
    let pytorch = matches!(
        info.format,
        Some(ModelFormat::Pytorch | ModelFormat::Torchscript)
    );
    let mut out = Vec::new();
    for w in info
        .weights
        .iter()
        .rev()
        .filter(|w| w.shape.len() >= 2)
        .take(3)
    {
        let d = if pytorch {
            w.shape[0]
        } else {
            *w.shape.last().unwrap_or(&0)
        };
        out.push(d);
    }
    out
}

/// Out-features of the last three dense (2-D) weights of a weight-only file.
fn dense_heads(info: &ModelInfo) -> Vec<i64> {
    let pytorch = torch_layout(info);
    info.weights
        .iter()
        .rev()
        .filter(|w| w.shape.len() == 2)
        .take(3)
        .map(|w| if pytorch { w.shape[0] } else { w.shape[1] })
        .collect()
}

/// Detection heads: several outputs sharing an anchor axis (≥ 100 anchors, or dynamic, as
/// in SCRFD/RetinaFace exports with a free input size); returns the per-anchor widths.
fn anchor_heads(info: &ModelInfo) -> Option<Vec<i64>> {
    // (anchor axis, per-anchor width) of each [N, anchors, width] or [anchors, width] output.
    let heads: Vec<(Option<i64>, i64)> = info
        .outputs
        .iter()
        .filter_map(|t| {
            let n = t.shape.len();
            if !(2..=3).contains(&n) {
                return None;
            }
            let width = t.shape[n - 1]?;
            let anchors = t.shape[n - 2];
            anchors.is_none_or(|a| a >= 100).then_some((anchors, width))
        })
        .collect();
    if heads.len() < 2 {
        return None;
    }
    let widths: Vec<i64> = heads
        .iter()
        .filter(|(a, _)| heads.iter().filter(|(b, _)| b == a).count() >= 2)
        .map(|(_, w)| *w)
        .collect();
    // A detector regresses boxes: some per-anchor width is a box (4), a box and a score (5, 6)
    // or a box and keypoint pairs (4 + 2k); frame-wise outputs (notes, phonemes) are not.
    let boxes = widths
        .iter()
        .any(|&w| (4..=6).contains(&w) || (w > 4 && w <= 40 && (w - 4) % 2 == 0));
    (!widths.is_empty() && boxes).then_some(widths)
}

/// Operators that only object detectors have: prior boxes and non-maximum suppression
/// (Caffe SSD, ONNX, TensorFlow).
fn detector_ops(info: &ModelInfo) -> Option<&str> {
    info.ops.keys().map(String::as_str).find(|k| {
        matches!(
            *k,
            "PriorBox"
                | "DetectionOutput"
                | "MultiBoxLoss"
                | "NonMaxSuppression"
                | "NonMaxSuppressionV3"
                | "NonMaxSuppressionV4"
                | "NonMaxSuppressionV5"
                | "CombinedNonMaxSuppression"
                | "TFLite_Detection_PostProcess"
        )
    })
}

/// Name tokens from the file name, metadata and weight names: weak evidence only.
fn tokens(info: &ModelInfo, name: &str) -> String {
    let mut t = name.to_ascii_lowercase();
    for v in info.metadata.values() {
        t.push(' ');
        t.push_str(&v.to_ascii_lowercase());
    }
    for w in info.weights.iter().take(64) {
        t.push(' ');
        t.push_str(&w.name.to_ascii_lowercase());
    }
    t
}

/// Whether the model's output is a softmax: by the op that makes each output where the format
/// records it (ONNX), else by any softmax op at all (an attention block's softmax inside an
/// embedding net does not make its output a class distribution).
fn output_softmax(info: &ModelInfo) -> bool {
    let mut producers = info
        .facts
        .iter()
        .filter(|(k, _)| k.starts_with("onnx.output_op."))
        .map(|(_, v)| v.to_ascii_lowercase())
        .peekable();
    if producers.peek().is_some() {
        return producers.any(|op| op.contains("softmax"));
    }
    info.ops
        .keys()
        .any(|k| k.to_ascii_lowercase().contains("softmax"))
}

/// Whether weights are laid out as PyTorch stores them (out-features first), not as
/// TensorFlow and Keras do (out-features last).
fn torch_layout(info: &ModelInfo) -> bool {
    matches!(
        info.format,
        Some(ModelFormat::Pytorch | ModelFormat::Torchscript | ModelFormat::Safetensors)
    )
}

/// Weight-only formats (state dicts, TF.js manifests): the last dense layer, as
/// (name, in-features, out-features), when a convolutional backbone precedes it.
fn last_dense(info: &ModelInfo) -> Option<(String, i64, i64)> {
    if !info.outputs.is_empty() || !info.inputs.is_empty() {
        return None;
    }
    let convs = info.weights.iter().filter(|w| w.shape.len() == 4).count();
    if convs < 8 {
        return None;
    }
    let pytorch = torch_layout(info);
    let w = info.weights.iter().rev().find(|w| w.shape.len() == 2)?;
    let (inp, out) = if pytorch {
        (w.shape[1], w.shape[0])
    } else {
        (w.shape[0], w.shape[1])
    };
    Some((w.name.to_ascii_lowercase(), inp, out))
}

/// Landmark counts of the common facial landmark schemes: dlib/iBUG 68, InsightFace 106,
/// MediaPipe Face Mesh 468 (478 with irises).
const FACE_LANDMARK_COUNTS: &[i64] = &[68, 106, 468, 478];

/// Weight-only formats: a model whose input is a set of facial landmarks rather than an image —
/// a template of N×2 or N×3 coordinates among its tensors, or a first layer reading N·2 or N·3
/// values, for N a facial landmark count. Returns (N, coordinate dimensions).
fn landmark_input(info: &ModelInfo) -> Option<(i64, i64)> {
    if !info.inputs.is_empty() || info.weights.iter().any(|w| w.shape.len() == 4) {
        return None;
    }
    let template = info.weights.iter().find_map(|w| match w.shape.as_slice() {
        [n, d] if FACE_LANDMARK_COUNTS.contains(n) && (2..=3).contains(d) => Some((*n, *d)),
        _ => None,
    });
    let first = info
        .weights
        .iter()
        .find(|w| w.shape.len() == 2)
        .and_then(|w| {
            let flat = w.shape.iter().copied().max()?;
            FACE_LANDMARK_COUNTS.iter().find_map(|&n| {
                [2, 3]
                    .into_iter()
                    .find(|&d| n.checked_mul(d) == Some(flat))
                    .map(|d| (n, d))
            })
        });
    template.or(first)
}

/// Weight-only formats: anchor heads of a single-shot detector. Pairs of convolutions reading
/// the same feature map, one with 2·A outputs (object/background scores for A anchors) and one
/// with 4·A (box offsets), in the second half of the network — SSD, FaceBoxes and RetinaFace
/// heads — found at least twice (one pair per scale). Returns (pairs, landmark heads: 10·A
/// outputs beside them).
fn anchor_head_pairs(info: &ModelInfo) -> Option<(usize, bool)> {
    if !info.outputs.is_empty() || !info.inputs.is_empty() {
        return None;
    }
    let pytorch = torch_layout(info);
    // (out, in) channels of each convolution, in file order.
    let convs: Vec<(i64, i64)> = info
        .weights
        .iter()
        .filter(|w| w.shape.len() == 4)
        .map(|w| {
            if pytorch {
                (w.shape[0], w.shape[1])
            } else {
                (w.shape[3], w.shape[2])
            }
        })
        .collect();
    if convs.len() < 6 {
        return None;
    }
    let late = &convs[convs.len() / 2..];
    let mut pairs = 0;
    let mut landmarks = false;
    for (i, &(score, input)) in late.iter().enumerate() {
        let anchors = score / 2;
        if score % 2 != 0 || !(1..=32).contains(&anchors) {
            continue;
        }
        let near = &late[i.saturating_sub(3)..(i + 4).min(late.len())];
        if near
            .iter()
            .any(|&(o, n)| n == input && Some(o) == anchors.checked_mul(4))
        {
            pairs += 1;
            landmarks |= near
                .iter()
                .any(|&(o, n)| n == input && Some(o) == anchors.checked_mul(10));
        }
    }
    (pairs >= 2).then_some((pairs, landmarks))
}

fn verdict(technique: Technique, confidence: f64, reasons: Vec<String>) -> Classification {
    Classification {
        technique,
        confidence,
        family: None,
        reasons,
    }
}

/// Pick the detector's object class: face if the structure shows face keypoints or the name
/// says face, person if it says person or pose; detection either way, never recognition.
fn detector(
    face_cue: bool,
    person_cue: bool,
    toks: &str,
    mut reasons: Vec<String>,
) -> Classification {
    if face_cue {
        return verdict(Technique::FaceDetection, 0.85, reasons);
    }
    if person_cue {
        return verdict(Technique::PersonDetection, 0.8, reasons);
    }
    if toks.contains("face") || toks.contains("mtcnn") {
        reasons.push("name says face (weak)".into());
        return verdict(Technique::FaceDetection, 0.6, reasons);
    }
    if toks.contains("person") || toks.contains("pedestrian") || toks.contains("body") {
        reasons.push("name says person (weak)".into());
        return verdict(Technique::PersonDetection, 0.6, reasons);
    }
    reasons.push("object class not determined; a detector, not a recognition model".into());
    verdict(Technique::FaceDetection, 0.4, reasons)
}

pub fn classify(info: &ModelInfo, name: &str) -> Classification {
    let toks = tokens(info, name);
    let heads = heads(info);
    let img = image_input(info);

    // Gait: silhouette sequences (GaitSet/GaitGL/GaitBase: N x T x 64 x 44, or 64 x 64).
    if let Some((t, h, w, c)) = sequence_input(info) {
        let silhouette = matches!((h, w), (64, 44) | (64, 64) | (128, 88) | (44, 64));
        if silhouette && c == 1 && (4..=300).contains(&t) {
            let mut reasons = vec![format!(
                "input: sequences of {t} silhouettes of {h}x{w}, one channel"
            )];
            let emb = heads.iter().any(|d| *d >= 64);
            if emb {
                reasons.push(format!(
                    "output: {} values per sequence (an identity embedding)",
                    heads.iter().max().unwrap_or(&0)
                ));
            }
            return verdict(
                Technique::GaitRecognition,
                if emb { 0.85 } else { 0.6 },
                reasons,
            );
        }
        if c == 3 && t > 1 {
            return verdict(
                Technique::None,
                0.6,
                vec![format!("input: RGB clips of {t} frames of {h}x{w}: a video/action model, not silhouettes")],
            );
        }
    }

    // The model's own class labels (Ultralytics checkpoints, TFLite metadata...).
    if let Some(labels) = info.facts.get("model.labels") {
        let head = info
            .facts
            .get("pytorch.ultralytics_head")
            .map(String::as_str);
        if let Some(c) = super::labels::classify(labels, head) {
            return c;
        }
    }

    // Two embeddings in, a score out: a face-verification comparator (InsightFace-style
    // cosine/distance graphs compare two 128/256/512-value embeddings).
    let pair = |t: &crate::decode::models::TensorInfo| {
        let s = known(&t.shape);
        s.len() == 2 && matches!(s[1], 128 | 256 | 512)
    };
    if info.inputs.len() == 2 && info.inputs.iter().all(pair) {
        let d = known(&info.inputs[0].shape)[1];
        return verdict(
            Technique::FaceVerification,
            0.6,
            vec![format!(
                "inputs: two {d}-value vectors; compares two embeddings (1:1 verification)"
            )],
        );
    }

    // OpenCV cascades: the window's aspect says the object.
    if let Some(win) = info.facts.get("cascade.window") {
        let (w, h) = win
            .split_once('x')
            .and_then(|(w, h)| Some((w.parse::<f64>().ok()?, h.parse::<f64>().ok()?)))
            .unwrap_or((0.0, 0.0));
        let mut reasons = vec![format!(
            "{} cascade, {} stages, {win} window",
            info.facts
                .get("cascade.feature_type")
                .map_or("", |s| s.as_str()),
            info.facts.get("cascade.stages").map_or("?", |s| s.as_str())
        )];
        // The window's shape cannot tell a face from an eye, a smile or a cat's face; the
        // cascade's own comment header usually names its object. Words are weak evidence:
        // they choose between what the shape allows, and lower the confidence.
        let comment = info
            .metadata
            .get("comment")
            .map(|c| c.to_ascii_lowercase())
            .unwrap_or_default();
        let says = |words: &[&str]| words.iter().any(|w| comment.contains(w));
        if says(&[
            "upperbody",
            "upper body",
            "lowerbody",
            "lower body",
            "fullbody",
            "full body",
            "pedestrian",
        ]) {
            reasons.push("its comment names a body: people detection (weak)".into());
            return verdict(Technique::PersonDetection, 0.6, reasons);
        }
        if says(&[
            "cat face",
            "catface",
            "cat's face",
            "silverware",
            "licence plate",
            "license plate",
        ]) {
            reasons.push("its comment names a non-human object (weak)".into());
            return verdict(Technique::None, 0.55, reasons);
        }
        if says(&["smile"]) {
            reasons.push("its comment names a smile: an expression detector (weak)".into());
            return verdict(Technique::FaceAttributes, 0.5, reasons);
        }
        if says(&[" eye", "eye detector", "eyes", "righteye", "lefteye"])
            && !says(&["face detector", "frontal face"])
        {
            reasons.push("its comment names an eye: facial-part localisation (weak)".into());
            return verdict(Technique::FaceLandmarks, 0.5, reasons);
        }
        if says(&["profile"]) {
            reasons.push("its comment names a profile face (weak)".into());
            return verdict(Technique::FaceDetection, 0.7, reasons);
        }
        if h > 0.0 && (w / h - 1.0).abs() <= 0.25 && w <= 48.0 {
            reasons.push("square window: the shape of face (and eye) cascades".into());
            return verdict(Technique::FaceDetection, 0.75, reasons);
        }
        if w > 0.0 && h / w >= 1.5 {
            reasons.push("tall window: the shape of pedestrian / full-body cascades".into());
            return verdict(Technique::PersonDetection, 0.7, reasons);
        }
        reasons.push("wide window: plates, text or other objects".into());
        return verdict(Technique::None, 0.6, reasons);
    }

    // clmtrackr: a constrained local model fits points to a face.
    if let Some(points) = info.facts.get("clm.points") {
        return verdict(
            Technique::FaceLandmarks,
            0.8,
            vec![format!(
                "constrained local model of {points} facial points: face landmark fitting"
            )],
        );
    }

    // Jeeliz WebGL nets: the export data of the trackers scales head rotation and translation
    // out of the net's few outputs — a face detector and tracker (it finds and follows one face,
    // it does not tell whose it is).
    if info.facts.contains_key("jeeliz.layers") {
        let input = info.facts.get("jeeliz.input").map_or("?", String::as_str);
        if info.facts.contains_key("jeeliz.head_pose") {
            let mut reasons = vec![
                format!("Jeeliz network on a {input}x{input} input"),
                "export data scales head rotation and translation: a face detector and tracker"
                    .to_string(),
            ];
            if let Some(n) = info.facts.get("jeeliz.expressions").filter(|n| *n != "1") {
                reasons.push(format!("and {n} expression outputs"));
            }
            return verdict(Technique::FaceDetection, 0.75, reasons);
        }
    }

    // dlib: the loss layer says what the network does.
    if let Some(loss) = info.facts.get("dlib.loss") {
        let reasons = vec![format!("dlib network with {loss} loss")];
        return match loss.as_str() {
            "loss_metric" => verdict(Technique::FaceRecognition, 0.85, {
                let mut r = reasons;
                r.push("metric-learning loss: the network outputs identity embeddings".into());
                r
            }),
            "loss_mmod" => detector(false, false, &toks, {
                let mut r = reasons;
                r.push("max-margin object detection: a detector".into());
                r
            }),
            _ => verdict(Technique::None, 0.4, reasons),
        };
    }

    // Detection heads sharing an anchor axis (BlazeFace 896 x 16 + 896 x 1, YuNet, SSD...).
    if let Some(widths) = anchor_heads(info) {
        let mut reasons = vec![format!(
            "detection heads over a shared anchor axis, per-anchor widths {widths:?}"
        )];
        let face = widths.iter().any(|w| matches!(w, 16 | 14 | 10 | 15));
        // SCRFD/RetinaFace: separate box (4) and 5-point (10) heads.
        let person = widths.contains(&12);
        if widths.contains(&18) && !face {
            reasons.push("per-anchor box + 7 keypoints: a palm (hand) detector".into());
            return verdict(Technique::None, 0.7, reasons);
        }
        if face {
            reasons.push("per-anchor face keypoints (5 or 6 points)".into());
        } else if person {
            reasons.push("per-anchor box + 4 body keypoints".into());
        }
        return detector(face, person, &toks, reasons);
    }

    if let Some(op) = detector_ops(info) {
        return detector(
            false,
            false,
            &toks,
            vec![format!(
                "a `{op}` operator: an object detector's post-processing"
            )],
        );
    }

    // Landmarks and poses: flat coordinate vectors — declared outputs, or a weight-only
    // file's dense layers (its convolutions' channel counts are not vectors).
    let vectors: Vec<i64> = if info.outputs.is_empty() {
        dense_heads(info)
    } else {
        heads.clone()
    };
    let lm = |d: i64| matches!(d, 136 | 1404 | 196 | 212 | 1434 | 62);
    if let Some(d) = vectors.iter().copied().find(|d| lm(*d)) {
        return verdict(
            Technique::FaceLandmarks,
            0.8,
            vec![format!(
                "output: {d} values, a face-landmark vector (68x2, 98x2, 106x2 or 468x3 points, or 3DDFA's 62 pose and shape parameters)"
            )],
        );
    }
    if let Some(d) = vectors
        .iter()
        .copied()
        .find(|d| matches!(d, 195 | 165 | 117 | 99 | 51 | 34))
    {
        return verdict(
            Technique::BodyPose,
            0.75,
            vec![format!(
                "output: {d} values, body keypoints (33/39 points x 3-5, or 17 x 2-3)"
            )],
        );
    }
    if vectors.iter().any(|d| matches!(d, 63 | 42)) {
        return verdict(
            Technique::None,
            0.7,
            vec!["output: 21 hand keypoints: hand landmarks".into()],
        );
    }

    // Weight-only detectors: a 2-way classifier next to a 4-value box regressor (MTCNN stages),
    // or a single YOLO head of anchors x (5 + classes).
    if info.outputs.is_empty() && !info.weights.is_empty() {
        if heads.contains(&2) && heads.contains(&4) {
            let mut reasons =
                vec!["heads: 2-way score + 4-value box regression: a detection stage".into()];
            let kp = heads.contains(&10);
            if kp {
                reasons.push("and a 10-value head: 5 facial landmarks".into());
            }
            return detector(kp, false, &toks, reasons);
        }
        if let Some(d) = heads
            .first()
            .copied()
            .filter(|d| *d == 25 || *d == 30 || *d == 18)
        {
            return detector(
                false,
                false,
                &toks,
                vec![format!(
                    "last layer: {d} channels = anchors x (box + score): a single-class YOLO head"
                )],
            );
        }
    }

    // Segmentation: an output map as large as the input.
    if let Some((h, w, _)) = img {
        for t in &info.outputs {
            let s = known(&t.shape);
            if s.len() == 4 && ((s[1] == h && s[2] == w) || (s[2] == h && s[3] == w)) {
                return verdict(
                    Technique::None,
                    0.6,
                    vec![format!("output: a {h}x{w} mask: segmentation")],
                );
            }
        }
    }

    // An L2-normalised output (FaceNet's `l2_normalize`, OpenFace's `nn.Normalize`): the
    // output is compared by distance, i.e. an embedding. On a face-crop input, recognition.
    let l2 = info
        .facts
        .get("tfgraph.l2_normalize")
        .is_some_and(|v| v == "true")
        || info
            .facts
            .get("torch7.normalize")
            .is_some_and(|v| v == "true");
    if l2 {
        let dim = info
            .facts
            .get("torch7.last_linear")
            .and_then(|d| d.parse::<i64>().ok())
            .or_else(|| heads.first().copied());
        let mut reasons = vec![format!(
            "output L2-normalised{}: compared by distance, an embedding",
            dim.map_or(String::new(), |d| format!(" ({d} values)"))
        )];
        let convs = info
            .ops
            .keys()
            .any(|k| k.contains("Conv") || k.contains("Convolution"));
        match img {
            Some((h, w, _)) if h == w && FACE_CROPS.contains(&h) => {
                reasons.push(format!(
                    "input {h}x{w}: a face-crop size of published recognition nets"
                ));
                return verdict(Technique::FaceRecognition, 0.85, reasons);
            }
            Some((h, w, _)) => {
                reasons.push(format!(
                    "input {h}x{w}: not a face-crop size: suspected only"
                ));
                return verdict(Technique::FaceRecognition, 0.5, reasons);
            }
            None if convs && dim.is_some_and(|d| (64..=1024).contains(&d)) => {
                reasons.push("a convolutional network; the file declares no input size".into());
                return verdict(Technique::FaceRecognition, 0.7, reasons);
            }
            None => {}
        }
    }

    // Embeddings: one flat vector out of a face crop (recognition) or a person crop (re-id).
    let single = heads.len() == 1 && info.outputs.len() <= 1;
    if let (Some((h, w, c)), true) = (img, single) {
        let d = heads[0];
        let embedding = (64..=1024).contains(&d) && d != 1000;
        let softmax = output_softmax(info);
        if embedding && !softmax {
            let mut reasons = vec![
                format!("input {h}x{w}x{c}"),
                format!("output: one {d}-value vector, no softmax: an embedding"),
            ];
            if h == w && FACE_CROPS.contains(&h) {
                reasons.push(format!(
                    "{h}x{h} is a face-crop size of published recognition nets"
                ));
                return verdict(Technique::FaceRecognition, 0.85, reasons);
            }
            let tall = |num: i64, den: i64| matches!((h.checked_mul(den), w.checked_mul(num)), (Some(a), Some(b)) if a == b);
            if tall(2, 1) || tall(8, 3) {
                reasons.push("tall person crop: re-identification shape".into());
                return verdict(Technique::PersonReidentification, 0.75, reasons);
            }
            if h == w && h == 224 {
                reasons.push("224x224 is also a generic ImageNet size: weak".into());
                let c = if toks.contains("face") { 0.55 } else { 0.35 };
                return verdict(Technique::FaceRecognition, c, reasons);
            }
        }
    }

    // Small classifiers on face-size crops: attributes (age, gender, emotion: 48-64 px crops) vs
    // liveness (80-128 px crops, 1-3 classes).
    if let Some((h, w, c)) = img {
        let small = !heads.is_empty() && heads.iter().all(|d| *d <= 10);
        // Emotion and age/gender nets take small grey crops (48 or 64 px, one channel).
        let unknown_out = (info.outputs.is_empty() || heads.is_empty())
            && (info.ops.keys().any(|k| k == "Softmax") || (c == 1 && h <= 64));
        if h == w && (small || unknown_out) {
            let total: i64 = heads
                .iter()
                .try_fold(0i64, |a, &d| a.checked_add(d.max(0)))
                .unwrap_or(i64::MAX);
            // Grey crops up to 128 px too: expression nets are trained on grey faces (FER-2013
            // style), and general image classifiers take colour.
            if h <= 64 || (c == 1 && small && h <= 128) {
                return verdict(
                    Technique::FaceAttributes,
                    0.7,
                    vec![
                        format!("input {h}x{w}x{c}: a small face crop"),
                        format!("output: small class/regression heads {heads:?}: age, gender or emotion"),
                    ],
                );
            }
            if (80..=160).contains(&h) && total <= 3 {
                return verdict(
                    Technique::FaceAntiSpoofing,
                    0.7,
                    vec![
                        format!("input {h}x{w}x{c}"),
                        format!(
                            "output: {total} live/spoof score(s): presentation-attack detection"
                        ),
                    ],
                );
            }
        }
    }

    // Weight-only checkpoints: a conv backbone ending in a dense layer. An angular-margin head
    // (ArcFace, CosFace, SphereFace: one row per training identity) exists only to train
    // identity embeddings; a bare 128-512-value bottleneck is an embedding by shape, with no
    // input geometry to say it is a face: suspected, not confirmed.
    // Models over facial landmark sets (no image in): a dense vector out with no classifier
    // after it is a face-geometry embedding, for telling faces apart; a few outputs are
    // attributes (expression, pose). Weights only: suspected at most.
    if let Some((points, dims)) = landmark_input(info) {
        let last = info
            .weights
            .iter()
            .rev()
            .find(|w| w.shape.len() == 2 && !FACE_LANDMARK_COUNTS.contains(&w.shape[0]));
        let pytorch = torch_layout(info);
        let out = last.map(|w| if pytorch { w.shape[0] } else { w.shape[1] });
        let input = format!("input: {points} facial landmarks of {dims} coordinates, no image");
        match out {
            Some(d) if (64..=512).contains(&d) && !output_softmax(info) => {
                return verdict(
                    Technique::FaceRecognition,
                    0.6,
                    vec![
                        input,
                        format!("output: a dense {d}-value vector, no classifier after it: a face-geometry embedding"),
                        "weights only: suspected, not confirmed".into(),
                    ],
                );
            }
            Some(d) if (1..=10).contains(&d) => {
                return verdict(
                    Technique::FaceAttributes,
                    0.6,
                    vec![input, format!("output: {d} values: attributes of the face")],
                );
            }
            _ => {}
        }
    }

    // Weight-only single-shot detectors: 2-class anchor heads find one kind of object; the
    // landmark heads beside them (5 points per anchor) make it a face.
    if let Some((pairs, landmarks)) = anchor_head_pairs(info) {
        let mut reasons = vec![format!(
            "weights only: {pairs} pairs of anchor heads (2 scores and 4 box offsets per anchor): a one-class single-shot detector"
        )];
        if landmarks {
            reasons.push("and 10 values per anchor beside them: 5 facial landmarks".into());
        }
        return detector(landmarks, false, &toks, reasons);
    }

    if let Some((name, inp, out)) = last_dense(info) {
        let margin = [
            "arcface",
            "cosface",
            "sphereface",
            "margin",
            "metric_fc",
            "partial_fc",
        ]
        .iter()
        .any(|m| name.contains(m));
        if margin && (64..=1024).contains(&inp) && out > inp {
            return verdict(
                Technique::FaceRecognition,
                0.7,
                vec![
                    format!("weights only: a convolutional backbone, then a {inp}-value embedding"),
                    format!("last layer `{name}`: an angular-margin head over {out} training identities (ArcFace-style): trained for identity embeddings"),
                ],
            );
        }
        if matches!(out, 128 | 256 | 384 | 512) && inp >= out {
            let face = toks.contains("face") || toks.contains("facenet") || toks.contains("arc");
            return verdict(
                Technique::FaceRecognition,
                if face { 0.6 } else { 0.5 },
                vec![
                    format!("weights only: a convolutional backbone ending in a dense {inp} -> {out} bottleneck, no classifier after it: an embedding"),
                    "no input geometry in the file: suspected, not confirmed".into(),
                ],
            );
        }
    }

    verdict(
        Technique::None,
        0.3,
        vec![format!(
            "no face or gait structure recognised (inputs {:?}, heads {heads:?})",
            info.inputs
                .iter()
                .map(|t| known(&t.shape))
                .collect::<Vec<_>>()
        )],
    )
}

#[cfg(test)]
mod tests;
