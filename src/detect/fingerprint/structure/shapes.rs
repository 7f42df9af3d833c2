//! Reading a model's shapes: its image or sequence input, its heads (dense, per-anchor, paired
//! detector outputs), landmark-sized vectors, softmax and layout cues, and the name's tokens.

use super::*;

/// Square face-crop sizes of published recognition nets (FaceNet 160, ArcFace/MobileFaceNet 112,
/// OpenFace 96, dlib 150, SphereFace 112x96 is near-square).
pub(super) const FACE_CROPS: &[i64] = &[96, 112, 128, 150, 160];

pub(super) fn known(shape: &[Option<i64>]) -> Vec<i64> {
    shape.iter().map(|d| d.unwrap_or(-1)).collect()
}

/// Product of the non-batch dimensions (None if any is dynamic, or the product does not fit:
/// no real tensor has 2^63 elements).
pub(super) fn flat(shape: &[i64]) -> Option<i64> {
    let rest = shape.get(1..)?;
    if rest.iter().any(|d| *d < 0) {
        return None;
    }
    rest.iter()
        .try_fold(1i64, |a, &d| a.checked_mul(d))
        .map(|n| n.max(1))
}

/// An image input as (height, width, channels), NCHW or NHWC.
pub(super) fn image_input(info: &ModelInfo) -> Option<(i64, i64, i64)> {
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
pub(super) fn sequence_input(info: &ModelInfo) -> Option<(i64, i64, i64, i64)> {
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
pub(super) fn heads(info: &ModelInfo) -> Vec<i64> {
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
pub(super) fn dense_heads(info: &ModelInfo) -> Vec<i64> {
    let pytorch = torch_layout(info);
    info.weights
        .iter()
        .rev()
        .filter(|w| w.shape.len() == 2)
        .take(3)
        .map(|w| if pytorch { w.shape[0] } else { w.shape[1] })
        .collect()
}

/// Whether the last `n` dense (2-D) weights of a weight-only file read the same number of
/// features: parallel heads over one feature vector, not a chain.
pub(super) fn parallel_dense(info: &ModelInfo, n: usize) -> bool {
    let pytorch = torch_layout(info);
    let ins: Vec<i64> = info
        .weights
        .iter()
        .rev()
        .filter(|w| w.shape.len() == 2)
        .take(n)
        .map(|w| if pytorch { w.shape[1] } else { w.shape[0] })
        .collect();
    ins.len() == n && ins.windows(2).all(|p| p[0] == p[1])
}

/// Detection heads: several outputs sharing an anchor axis (≥ 100 anchors, or dynamic, as
/// in SCRFD/RetinaFace exports with a free input size); returns the per-anchor widths.
pub(super) fn anchor_heads(info: &ModelInfo) -> Option<Vec<i64>> {
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
pub(super) fn detector_ops(info: &ModelInfo) -> Option<&str> {
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
pub(super) fn tokens(info: &ModelInfo, name: &str) -> String {
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
pub(super) fn output_softmax(info: &ModelInfo) -> bool {
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
pub(super) fn torch_layout(info: &ModelInfo) -> bool {
    matches!(
        info.format,
        Some(ModelFormat::Pytorch | ModelFormat::Torchscript | ModelFormat::Safetensors)
    )
}

/// Weight-only formats (state dicts, TF.js manifests): the last dense layer, as
/// (name, in-features, out-features), when a convolutional backbone precedes it.
pub(super) fn last_dense(info: &ModelInfo) -> Option<(String, i64, i64)> {
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
pub(super) const FACE_LANDMARK_COUNTS: &[i64] = &[68, 106, 468, 478];

/// Weight-only formats: a model whose input is a set of facial landmarks rather than an image —
/// a template of N×2 or N×3 coordinates among its tensors, or a first layer reading N·2 or N·3
/// values, for N a facial landmark count. Returns (N, coordinate dimensions).
pub(super) fn landmark_input(info: &ModelInfo) -> Option<(i64, i64)> {
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
pub(super) fn anchor_head_pairs(info: &ModelInfo) -> Option<(usize, bool)> {
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
