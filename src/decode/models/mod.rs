//! Model formats: one module per format, each reading *structure* (inputs, outputs, ops, weight
//! shapes, metadata), not just magic bytes. Parsers never execute anything found in a file (no
//! pickle, no Python, no custom ops) and bound every size they read from it.
//!
//! Every parser produces a [`ModelInfo`]; the fingerprint stage (`detect::fingerprint`) classifies
//! it. A format that cannot be parsed deeply still yields a `ModelInfo` with its format and notes.

use serde::Serialize;
use std::collections::BTreeMap;

pub mod caffe;
pub mod cascade;
pub mod clm;
pub mod dlib;
pub mod embedded;
pub mod error;
pub mod hdf5;
pub mod joblib;
pub mod jsmodel;
pub mod keras;
pub mod ncnn;
pub mod numpy;
pub mod onnx;
pub mod opaque;
pub mod openvino;
pub mod pickle;
pub(crate) mod protobuf;
pub mod pyfunc;
pub mod pytorch;
pub mod safetensors;
pub mod sniff;
pub mod soc;
pub mod tfgraph;
pub mod tfjs;
pub mod tflite;
pub mod tnn;
pub mod torch7;

pub use error::ModelError;
pub use sniff::{model_file, sniff_and_parse};

/// The fact under which a format that keeps its weights in a file beside the model names that
/// file (NCNN's `.bin` beside its `.param`, OpenVINO's beside its `.xml`), if it is such a
/// format.
pub fn weights_fact(format: ModelFormat) -> Option<&'static str> {
    match format {
        ModelFormat::Ncnn => Some(ncnn::WEIGHTS_FACT),
        ModelFormat::Openvino => Some(openvino::WEIGHTS_FACT),
        _ => None,
    }
}

/// For a model of `format` named `name`: the fact naming its weights file, and that file's
/// name by the format's own rule (the same stem, `.bin`).
pub fn weights_beside(format: ModelFormat, name: &str) -> Option<(&'static str, String)> {
    let file = match format {
        ModelFormat::Ncnn => ncnn::weights_name(name),
        ModelFormat::Openvino => openvino::weights_name(name),
        _ => None,
    }?;
    Some((weights_fact(format)?, file))
}

/// The formats banwatch recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFormat {
    /// ONNX `ModelProto` (protobuf).
    Onnx,
    /// TensorFlow Lite FlatBuffer.
    Tflite,
    /// TensorFlow.js `model.json` or weights manifest.
    Tfjs,
    /// dlib serialized network or shape predictor.
    Dlib,
    /// Caffe prototxt or caffemodel.
    Caffe,
    /// NCNN `.param`.
    Ncnn,
    /// OpenVINO IR XML.
    Openvino,
    /// PyTorch checkpoint (legacy or zip).
    Pytorch,
    /// TorchScript archive.
    Torchscript,
    /// Keras HDF5.
    Keras,
    /// OpenCV Haar or LBP cascade XML.
    OpencvCascade,
    /// TensorFlow `GraphDef` (frozen `.pb`) or SavedModel `saved_model.pb`.
    TfGraph,
    /// Lua Torch 7 serialized object (`.t7`).
    Torch7,
    /// Hugging Face safetensors.
    Safetensors,
    /// NumPy `.npy` array or `.npz` archive.
    Numpy,
    /// Rockchip RKNN.
    Rknn,
    /// Sophgo/Cvitek `.cvimodel`.
    Cvimodel,
    /// Sophgo `.bmodel`.
    Bmodel,
    /// Alibaba MNN (recognised, not walked).
    Mnn,
    /// Tencent TNN (`.tnnproto` text; `.tnnmodel` weights recognised, not walked).
    Tnn,
    /// Hailo executable format `.hef` (recognised, not walked).
    Hef,
    /// Axera Pulsar2 `.axmodel` (recognised, not walked).
    Axmodel,
    /// PaddlePaddle `ProgramDesc` (`.pdmodel`, `__model__`; recognised, not walked).
    Paddle,
    /// Paddle Lite naive buffer `.nb` (recognised, not walked).
    PaddleLite,
    /// Apple CoreML `.mlmodel` (recognised, not walked).
    Coreml,
    /// Model data embedded in a web script (ccv cascades, clmtrackr models).
    JsEmbedded,
    /// A Python pickle of NumPy arrays or an estimator (`joblib.dump`, `pickle.dump`), raw or
    /// compressed whole.
    Pickle,
}

impl ModelFormat {
    /// The `format` string of the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFormat::Onnx => "onnx",
            ModelFormat::Tflite => "tflite",
            ModelFormat::Tfjs => "tfjs",
            ModelFormat::Dlib => "dlib",
            ModelFormat::Caffe => "caffe",
            ModelFormat::Ncnn => "ncnn",
            ModelFormat::Openvino => "openvino",
            ModelFormat::Pytorch => "pytorch",
            ModelFormat::Torchscript => "torchscript",
            ModelFormat::Keras => "keras",
            ModelFormat::OpencvCascade => "opencv_cascade",
            ModelFormat::TfGraph => "tf_graph",
            ModelFormat::Torch7 => "torch7",
            ModelFormat::Safetensors => "safetensors",
            ModelFormat::Numpy => "numpy",
            ModelFormat::Rknn => "rknn",
            ModelFormat::Cvimodel => "cvimodel",
            ModelFormat::Bmodel => "bmodel",
            ModelFormat::Mnn => "mnn",
            ModelFormat::Tnn => "tnn",
            ModelFormat::Hef => "hef",
            ModelFormat::Axmodel => "axmodel",
            ModelFormat::Paddle => "paddle",
            ModelFormat::PaddleLite => "paddle_lite",
            ModelFormat::Coreml => "coreml",
            ModelFormat::JsEmbedded => "js_embedded",
            ModelFormat::Pickle => "pickle",
        }
    }
}

/// One input or output tensor. `None` in a shape is a dynamic dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    /// Name as the file gives it.
    pub name: String,
    /// Dimensions, outermost first.
    pub shape: Vec<Option<i64>>,
    /// Element type as the format names it (`float32`, `uint8`...), when known.
    pub dtype: Option<String>,
}

/// A named weight tensor (for formats with weights but no explicit graph, e.g. TF.js weight
/// manifests, PyTorch state dicts, Keras HDF5 groups).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeightInfo {
    /// Name (layer path) as the file gives it.
    pub name: String,
    /// Dimensions in the file's own order.
    pub shape: Vec<i64>,
}

/// What a parser could read of a model's structure.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ModelInfo {
    /// The format, when recognised.
    pub format: Option<ModelFormat>,
    /// Declared inputs.
    pub inputs: Vec<TensorInfo>,
    /// Declared outputs (graph outputs, not guesses).
    pub outputs: Vec<TensorInfo>,
    /// Operator / layer type histogram (`Conv` → 52, `PRelu` → 20...).
    pub ops: BTreeMap<String, u32>,
    /// Weight tensors in file order, bounded (parsers keep at most [`MAX_WEIGHTS_LISTED`]).
    pub weights: Vec<WeightInfo>,
    /// Total number of weight elements, when known.
    pub params: u64,
    /// Free-text metadata: producer, graph name, doc strings, model.json `format`, cascade
    /// comments. Weak evidence only (names can lie).
    pub metadata: BTreeMap<String, String>,
    /// Format-specific structural facts, e.g. `cascade.window` → `24x24`, `dlib.net` → `loss_mmod`.
    pub facts: BTreeMap<String, String>,
    /// What the parser could not read or chose to skip, for the report's reasons.
    pub notes: Vec<String>,
}

impl ModelInfo {
    /// Count a weight tensor of `shape` into [`ModelInfo::params`]. A dynamic or negative
    /// dimension counts as 1. Checked: a shape whose element count (or the running total)
    /// does not fit 64 bits is an error naming the tensor, never a wrapped number.
    pub(crate) fn count_params(&mut self, name: &str, shape: &[i64]) -> Result<(), ModelError> {
        let too_large = || {
            ModelError::Invalid(format!(
                "tensor `{}` has a shape of more than 2^64 elements ({shape:?})",
                name.chars().take(64).collect::<String>()
            ))
        };
        let n = shape.iter().try_fold(1u64, |a, &d| {
            a.checked_mul(u64::try_from(d.max(1)).unwrap_or(1))
        });
        let total = n
            .and_then(|n| self.params.checked_add(n))
            .ok_or_else(too_large)?;
        self.params = total;
        Ok(())
    }
}

/// A Keras layer's declared input (`batch_input_shape`, or Keras 3's `batch_shape`) as a
/// tensor: the layers JSON of Keras HDF5 files and TF.js layers models.
pub(crate) fn keras_input(layer: &serde_json::Value) -> Option<TensorInfo> {
    use serde_json::Value;
    let shape = layer
        .pointer("/config/batch_input_shape")
        .or_else(|| layer.pointer("/config/batch_shape"))
        .and_then(Value::as_array)?;
    Some(TensorInfo {
        name: layer
            .pointer("/config/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .into(),
        shape: shape.iter().take(16).map(Value::as_i64).collect(),
        dtype: None,
    })
}

/// Whether the first 4 KiB of `b` are mostly (95 %) printable ASCII or whitespace: text.
pub(crate) fn mostly_text(b: &[u8]) -> bool {
    let start = &b[..b.len().min(4096)];
    !start.is_empty()
        && start
            .iter()
            .filter(|c| c.is_ascii_graphic() || c.is_ascii_whitespace())
            .count()
            * 100
            >= start.len() * 95
}

/// The `n` bytes of `buf` at `*pos`, advancing `*pos` past them. Errors: they run past the end
/// (`what` and `container` name the field and the buffer in the message).
pub(crate) fn take_bytes<'a>(
    buf: &'a [u8],
    pos: &mut usize,
    n: usize,
    what: &str,
    container: &str,
) -> Result<&'a [u8], ModelError> {
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| {
            ModelError::Truncated(format!(
                "{what} of {n} bytes at {pos} exceeds {container} of {}",
                buf.len()
            ))
        })?;
    let s = buf.get(*pos..end).unwrap_or_default();
    *pos = end;
    Ok(s)
}

/// The entry `name` of a zip-format model (`fmt` names the format in errors), read whole if it
/// holds at most `max` bytes. Errors: no such entry, larger than `max`, unreadable.
pub(crate) fn zip_entry<R: std::io::Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    max: u64,
    fmt: &str,
) -> Result<Vec<u8>, ModelError> {
    use std::io::Read;
    let mut f = zip
        .by_name(name)
        .map_err(|e| ModelError::Invalid(format!("{fmt}: {name}: {e}")))?;
    if f.size() > max {
        return Err(ModelError::TooLarge(format!(
            "{fmt}: {name} of {} bytes",
            f.size()
        )));
    }
    let mut data = Vec::new();
    f.by_ref()
        .take(max)
        .read_to_end(&mut data)
        .map_err(|e| ModelError::Invalid(format!("{fmt}: {name}: {e}")))?;
    Ok(data)
}

/// Upper bound on [`ModelInfo::weights`] entries kept per model.
pub const MAX_WEIGHTS_LISTED: usize = 4096;

/// IEEE 754 half precision (binary16, as TFLite and TF.js store weights) to single precision.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalise.
            let mut e: u32 = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | e << 23 | (f & 0x3ff) << 13
        }
        (31, _) => sign | 0xff << 23 | frac << 13,
        _ => sign | (exp + 112) << 23 | frac << 13,
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod half_tests {
    use super::*;

    #[test]
    fn half_floats_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0200), 2f32.powi(-15));
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
