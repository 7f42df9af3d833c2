use super::*;
use crate::decode::models::{ModelFormat, TensorInfo, WeightInfo};

fn tensor(shape: &[i64]) -> TensorInfo {
    TensorInfo {
        name: "t".into(),
        shape: shape.iter().map(|&d| Some(d)).collect(),
        dtype: Some("float32".into()),
    }
}

/// Shapes are numbers from the file: products and sums of them never overflow (a panic in
/// debug builds, a wrapped number steering the verdict in release ones).
#[test]
fn hostile_shapes_neither_overflow_nor_steer_the_verdict() {
    let huge = 1i64 << 62;
    for (input, output, weights) in [
        // Wraps to 512 when multiplied unchecked: looked like an embedding.
        (vec![1, 3, 112, 112], vec![1, huge + 1, 4, 128], vec![]),
        (
            vec![1, 3, 1 << 32, 1 << 32],
            vec![1, 1 << 32, 1 << 32],
            vec![],
        ),
        (vec![1, 3, huge, huge], vec![1, 512], vec![]),
        (vec![1, 3, 64, 64], vec![1, 2], vec![i64::MIN, i64::MIN, 2]),
    ] {
        let info = ModelInfo {
            format: Some(ModelFormat::Onnx),
            inputs: vec![tensor(&input)],
            outputs: vec![tensor(&output)],
            weights: weights
                .iter()
                .map(|&d| WeightInfo {
                    name: "w".into(),
                    shape: vec![d],
                })
                .collect(),
            ..Default::default()
        };
        let c = classify(&info, "model.onnx");
        assert!(
            !matches!(
                c.technique,
                Technique::FaceRecognition | Technique::PersonReidentification
            ) || input[2] == 64,
            "{input:?} -> {output:?}: {:?}",
            c.technique
        );
    }
}

/// Weight-only single-shot detectors: anchor head pairs (2·A scores, 4·A boxes) at several
/// scales, with 10·A landmark heads beside them, are a face detector; the same backbone whose
/// heads have 3 scores per anchor (a multi-class detector) is not taken for a face detector.
#[test]
fn anchor_heads_in_state_dicts() {
    let conv = |name: &str, out: i64, inp: i64| WeightInfo {
        name: name.into(),
        shape: vec![out, inp, 3, 3],
    };
    let model = |scores: i64| {
        let mut weights = vec![
            conv("body.0", 16, 3),
            conv("body.1", 32, 16),
            conv("body.2", 64, 32),
            conv("body.3", 64, 64),
            conv("fpn.0", 64, 64),
            conv("fpn.1", 64, 64),
        ];
        for level in 0..3 {
            weights.push(conv(&format!("ClassHead.{level}"), scores, 64));
            weights.push(conv(&format!("BboxHead.{level}"), 8, 64));
            weights.push(conv(&format!("LandmarkHead.{level}"), 20, 64));
        }
        ModelInfo {
            format: Some(ModelFormat::Pytorch),
            weights,
            ..Default::default()
        }
    };
    let c = classify(&model(4), "model.pth");
    assert_eq!(c.technique, Technique::FaceDetection, "{:?}", c.reasons);
    assert!(c.confidence >= 0.8, "{:?}", c.reasons);
    let c = classify(&model(6), "model.pth");
    assert!(
        !(c.technique == Technique::FaceDetection && c.confidence >= 0.8),
        "{:?} {:?}",
        c.technique,
        c.reasons
    );
}

/// A transformer over MediaPipe's 478 face-mesh points (a coordinate template among its
/// tensors, a 3 -> 64 point embedding) ending in a 128-value vector is a face-geometry
/// embedding (suspected recognition); the same net ending in 7 classes is face attributes.
#[test]
fn models_over_facial_landmarks() {
    let w = |name: &str, shape: &[i64]| WeightInfo {
        name: name.into(),
        shape: shape.to_vec(),
    };
    let model = |head: i64| ModelInfo {
        format: Some(ModelFormat::Pytorch),
        weights: vec![
            w("embedding.0.weight", &[64, 3]),
            w("embedding.3.weight", &[128, 64]),
            w("blocks.0.attn.in_proj_weight", &[384, 128]),
            w("blocks.0.mlp.0.weight", &[256, 128]),
            w("blocks.0.mlp.3.weight", &[128, 256]),
            w("head.0.weight", &[head, 128]),
            w("head.0.bias", &[head]),
            w("#0", &[478, 3]),
        ],
        ..Default::default()
    };
    let c = classify(&model(128), "model.pth");
    assert_eq!(c.technique, Technique::FaceRecognition, "{:?}", c.reasons);
    assert!(
        c.confidence < 0.8,
        "weights only never confirms: {}",
        c.confidence
    );
    let c = classify(&model(7), "model.pth");
    assert_eq!(c.technique, Technique::FaceAttributes, "{:?}", c.reasons);
    // Hand landmarks (21 points) are not faces.
    let mut hand = model(128);
    hand.weights.pop();
    hand.weights.push(w("#0", &[21, 3]));
    assert!(!classify(&hand, "model.pth")
        .technique
        .is_biometric_identification());
}

/// Head pose by bins (Hopenet's three 66-bin heads; WHENet's 120 yaw bins beside 66 for pitch
/// and roll), as declared outputs and as a weight-only file's parallel dense layers; three
/// heads of other widths, or a chain of dense layers of those widths, are not head pose.
#[test]
fn three_bin_heads_are_head_pose() {
    let outputs = |heads: &[i64]| ModelInfo {
        format: Some(ModelFormat::Onnx),
        inputs: vec![tensor(&[1, 3, 224, 224])],
        outputs: heads.iter().map(|&d| tensor(&[1, d])).collect(),
        ..Default::default()
    };
    assert_eq!(
        classify(&outputs(&[66, 66, 66]), "m.onnx").technique,
        Technique::FaceLandmarks
    );
    assert_ne!(
        classify(&outputs(&[66, 66, 10]), "m.onnx").technique,
        Technique::FaceLandmarks
    );
    let dense = |shapes: &[[i64; 2]]| ModelInfo {
        format: Some(ModelFormat::Keras),
        weights: (0..10)
            .map(|i| WeightInfo {
                name: format!("conv2d_{i}/kernel:0"),
                shape: vec![3, 3, 64, 64],
            })
            .chain(shapes.iter().map(|s| WeightInfo {
                name: "dense/kernel:0".into(),
                shape: s.to_vec(),
            }))
            .collect(),
        ..Default::default()
    };
    let whenet = dense(&[[1280, 120], [1280, 66], [1280, 66]]);
    assert_eq!(
        classify(&whenet, "m.h5").technique,
        Technique::FaceLandmarks
    );
    // A chain 1280 -> 120 -> 66 -> 66 has the same widths but is not three heads.
    let chain = dense(&[[1280, 120], [120, 66], [66, 66]]);
    assert_ne!(classify(&chain, "m.h5").technique, Technique::FaceLandmarks);
}

#[test]
fn face_api_networks_known_by_their_weights() {
    // A manifest holding every weight face-api.js's FaceRecognitionNet loads is that network;
    // its detector's weights are a detector, never recognition.
    for (net, want) in [
        ("FaceRecognitionNet", Technique::FaceRecognition),
        ("SsdMobilenetv1", Technique::FaceDetection),
        ("TinyFaceDetector", Technique::FaceDetection),
        ("FaceLandmark68Net", Technique::FaceLandmarks),
        ("FaceExpressionNet", Technique::FaceAttributes),
    ] {
        let mut info = ModelInfo {
            format: Some(ModelFormat::Tfjs),
            ..Default::default()
        };
        info.facts.insert(
            crate::decode::models::tfjs::faceapi::FACT.into(),
            net.into(),
        );
        let c = classify(&info, "model.json");
        assert_eq!(c.technique, want, "{net}");
        assert!(c.reasons[0].contains(net), "{:?}", c.reasons);
    }
}
