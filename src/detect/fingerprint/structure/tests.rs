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
