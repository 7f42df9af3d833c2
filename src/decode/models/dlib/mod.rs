//! dlib serialized networks (`.dat` from `dlib::serialize`). dlib writes each layer's type name
//! as a length-prefixed string (`loss_mmod_`, `fc_`, `con_4`, `input_rgb_image_pyramid`...), so
//! the layer histogram and the loss layer — which says what the network does — can be read
//! without dlib. The shape-predictor format (`shape_predictor_68_face_landmarks.dat`) has no
//! such strings and is recognised by size and structure of its header only.

pub mod net;

use super::{ModelError, ModelFormat, ModelInfo};

/// Layer type names dlib's DNN serializer writes.
const LAYERS: &[&str] = &[
    "loss_mmod_",
    "loss_metric_",
    "loss_multiclass_log_",
    "loss_binary_log_",
    "loss_mean_squared_",
    "input_rgb_image_pyramid",
    "input_rgb_image_sized",
    "input_rgb_image",
    "input",
    "con_",
    "fc_",
    "relu_",
    "prelu_",
    "bn_con",
    "bn_fc",
    "affine_",
    "max_pool_",
    "avg_pool_",
    "add_prev_",
    "tag1",
    "tag2",
    "skip1",
    "l2normalize_",
    "dropout_",
    "upsample_",
];

/// Whether `bytes` start like a dlib serialized object.
pub fn looks_like(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(256)];
    [
        "loss_mmod_",
        "loss_metric_",
        "loss_multiclass_log_",
        "input_rgb_image",
    ]
    .iter()
    .any(|n| memchr::memmem::find(head, n.as_bytes()).is_some())
}

/// Parse a dlib file's network or predictor kind. Errors say what is malformed.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    if !looks_like(bytes) {
        return Err(ModelError::Unsupported(
            "dlib: not a serialized dlib DNN (shape predictors are not read)".into(),
        ));
    }
    let mut info = ModelInfo {
        format: Some(ModelFormat::Dlib),
        ..Default::default()
    };
    let finder = aho_corasick::AhoCorasick::new(LAYERS)
        .map_err(|e| ModelError::Invalid(format!("dlib: {e}")))?;
    for m in finder.find_iter(&bytes[..bytes.len().min(8 << 20)]) {
        let name = LAYERS[m.pattern().as_usize()].trim_end_matches('_');
        *info.ops.entry(name.to_string()).or_default() += 1;
    }
    if let Some(loss) = info.ops.keys().find(|k| k.starts_with("loss_")) {
        info.facts.insert("dlib.loss".into(), loss.clone());
    }
    if let Some(input) = info.ops.keys().find(|k| k.starts_with("input")) {
        info.facts.insert("dlib.input".into(), input.clone());
    }
    Ok(info)
}
