//! Which format is this file? Decided by content (magic bytes and structure), with the file
//! name only as a tie-breaker; returns `None` for files that are not models at all.

use super::{
    caffe, cascade, dlib, jsmodel, keras, ncnn, numpy, onnx, openvino, pytorch, safetensors, soc,
    tfgraph, tfjs, tflite, torch7, ModelError, ModelInfo,
};

/// Largest file parsed as a model.
pub const MAX_MODEL: usize = 2 << 30;

/// Recognise and parse a model. `sibling` fetches a file next to this one (weight shards, the
/// `.bin` of a `.param`); formats that need none ignore it.
pub fn sniff_and_parse(
    name: &str,
    bytes: &[u8],
    _sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Option<Result<ModelInfo, ModelError>> {
    if bytes.len() > MAX_MODEL {
        return Some(Err(ModelError::TooLarge(format!("{} bytes", bytes.len()))));
    }
    let lower = name.to_ascii_lowercase();
    if tflite::looks_like(bytes) {
        return Some(tflite::parse(bytes));
    }
    // Magic-numbered containers first: their magic cannot be mistaken.
    if soc::looks_like(bytes) {
        return Some(soc::parse(bytes));
    }
    if numpy::looks_like(bytes) {
        return Some(numpy::parse(bytes));
    }
    if safetensors::looks_like(bytes) {
        return Some(safetensors::parse(bytes));
    }
    if torch7::looks_like(bytes) {
        return Some(torch7::parse(bytes));
    }
    if pytorch::looks_like_legacy(bytes) || pytorch::looks_like_zip(bytes) {
        return Some(pytorch::parse(bytes));
    }
    if dlib::looks_like(bytes) {
        return Some(dlib::parse(bytes));
    }
    if cascade::looks_like(bytes) {
        return Some(cascade::parse(bytes));
    }
    if (lower.ends_with(".json") || bytes.first().is_some_and(|b| matches!(b, b'{' | b'[')))
        && tfjs::looks_like(bytes)
    {
        return Some(tfjs::parse(bytes));
    }
    if jsmodel::looks_like(bytes) {
        return Some(jsmodel::parse(bytes));
    }
    if ncnn::looks_like(bytes) {
        return Some(ncnn::parse(bytes));
    }
    if keras::looks_like(bytes) {
        return Some(keras::parse(bytes));
    }
    if openvino::looks_like(bytes) {
        return Some(openvino::parse(bytes));
    }
    if caffe::looks_like_prototxt(bytes) {
        return Some(caffe::parse(bytes));
    }
    if onnx::looks_like(bytes) {
        return Some(onnx::parse(bytes));
    }
    if tfgraph::looks_like(bytes) {
        return Some(tfgraph::parse(bytes));
    }
    if lower.ends_with(".caffemodel") && caffe::looks_like_caffemodel(bytes) {
        return Some(caffe::parse(bytes));
    }
    if lower.ends_with(".onnx") {
        return Some(Err(ModelError::Invalid(
            "named .onnx but not an ONNX model".into(),
        )));
    }
    None
}
