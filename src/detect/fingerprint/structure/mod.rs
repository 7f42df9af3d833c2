//! Structural rules: what a model does, read from the shapes it takes and gives.
//!
//! Each rule names the published architecture shapes it stands on. Order matters: the most
//! specific shapes (silhouette sequences, detection heads, landmark vectors) are tried before the
//! generic "one flat vector out" of an embedding, so landmark nets and detectors — the hard
//! negatives of face recognition — are claimed first.

use super::Classification;
use crate::decode::models::{ModelFormat, ModelInfo};
use crate::model::Technique;

mod shapes;
use shapes::*;

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

    // face-api.js weights: every weight name one of its networks loads, so the network its
    // code builds from them (decode::models::tfjs::faceapi).
    {
        use crate::decode::models::tfjs::faceapi::{Network, FACT};
        if let Some(net) = info.facts.get(FACT) {
            let (technique, does) = match Network::named(net) {
                Some(Network::Recognition) => (
                    Technique::FaceRecognition,
                    "dlib's ResNet face descriptor: a 128-value identity embedding",
                ),
                Some(Network::TinyDetector | Network::SsdMobilenetV1) => {
                    (Technique::FaceDetection, "face boxes and scores")
                }
                Some(Network::Landmark68 | Network::Landmark68Tiny) => {
                    (Technique::FaceLandmarks, "68 facial points")
                }
                Some(Network::Expression) => (Technique::FaceAttributes, "seven expression scores"),
                None => (Technique::None, "a network banwatch does not know"),
            };
            return verdict(
                technique,
                0.85,
                vec![format!(
                    "weights of face-api.js's {net} (every weight name its code loads): {does}"
                )],
            );
        }
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
    // Head pose by bin classification: three parallel heads (yaw, pitch, roll) of 66 bins of 3°
    // (Hopenet: Ruiz et al. 2018, arXiv:1710.00925, `num_bins = 66`), or 120 yaw bins over
    // the full circle beside 66 for pitch and roll (WHENet: Zhou & Gregson 2020,
    // arXiv:2005.10353). Three 66/120 heads fed by the same features are nothing else.
    let bins = |d: &i64| *d == 66;
    if vectors.len() == 3
        && vectors.iter().all(|d| matches!(d, 66 | 120))
        && vectors.iter().filter(|d| bins(d)).count() >= 2
        && (!info.outputs.is_empty() || parallel_dense(info, 3))
    {
        return verdict(
            Technique::FaceLandmarks,
            0.7,
            vec![format!(
                "three parallel heads of {vectors:?} bins: yaw, pitch and roll classified in 3° bins (Hopenet, WHENet): head pose"
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
