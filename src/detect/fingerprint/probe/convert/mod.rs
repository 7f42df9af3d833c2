//! Converters from banwatch's parsed graphs to ONNX, in memory, so that the behavioural probe
//! runs models of other formats in the one runtime it loads (ONNX Runtime). No second inference
//! engine: a model is rewritten as standard ONNX operators (opset 17), its quantized weights
//! dequantized to float32, and probed like any ONNX model.
//!
//! A converter refuses with [`ConvertError`] naming the operator it does not know, so the report
//! can say which models were probed and why the others were not.

mod builder;
pub mod caffe;
pub mod clm;
pub mod dequantize;
pub mod dlib;
pub mod keras;
pub mod ncnn;
pub mod nhwc;
pub mod onnx_proto;
pub mod openvino;
pub mod pytorch;
pub mod tfjs;
pub mod tflite;

use crate::decode::models::{ModelError, ModelFormat};
use std::borrow::Cow;

/// The name under which a converter asks `sibling` for the weights file its format keeps
/// beside the model (NCNN's `.bin`, OpenVINO's `.bin`); [`model_to_onnx`] answers with the file
/// the parser named ([`crate::decode::models::weights_beside`]).
pub const WEIGHTS: &str = "<weights beside the model>";

/// Why a model was not converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The model could not be read.
    #[error("{0}")]
    Model(#[from] ModelError),
    /// An operator the converter does not translate (its name, and where).
    #[error("operator {op} is not converted ({detail})")]
    Operator {
        /// The operator's name in its format (`CONV_2D`, `CUSTOM:Convolution2DTransposeBias`).
        op: String,
        /// What about it (an option value, a computed weight).
        detail: String,
    },
    /// The graph is not one the probe can run (several inputs, a missing tensor, absurd sizes).
    #[error("{0}")]
    Graph(String),
}

impl ConvertError {
    /// A graph error said of layer `name` of type `kind` (an operator error names its
    /// operator already).
    pub fn in_layer(self, kind: &str, name: &str) -> Self {
        match self {
            ConvertError::Graph(m) => ConvertError::Graph(format!("layer {kind} {name}: {m}")),
            other => other,
        }
    }
}

/// Formats a converter exists for.
pub fn converts(format: ModelFormat) -> bool {
    matches!(
        format,
        ModelFormat::Tflite
            | ModelFormat::Tfjs
            | ModelFormat::Pytorch
            | ModelFormat::Dlib
            | ModelFormat::Ncnn
            | ModelFormat::Caffe
            | ModelFormat::Keras
            | ModelFormat::TfGraph
            | ModelFormat::Openvino
            | ModelFormat::JsEmbedded
    )
}

/// The ONNX model (serialized `ModelProto`) equivalent to `bytes` of `format`, and a one-line
/// note of what was converted. `sibling` fetches a file beside the model (TF.js weight
/// shards; an NCNN `.param`'s or an OpenVINO IR's `.bin`, asked for as [`WEIGHTS`]). Errors:
/// see [`ConvertError`].
pub fn to_onnx(
    format: ModelFormat,
    bytes: &[u8],
    sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<(Vec<u8>, String), ConvertError> {
    match format {
        ModelFormat::Tflite => tflite::convert(bytes),
        ModelFormat::Tfjs => tfjs::convert(bytes, sibling),
        ModelFormat::Pytorch => pytorch::convert(bytes),
        ModelFormat::Dlib => dlib::convert(bytes),
        ModelFormat::Ncnn => ncnn::convert(bytes, sibling),
        ModelFormat::Caffe => caffe::convert(bytes),
        ModelFormat::Keras => keras::convert(bytes),
        ModelFormat::Openvino => openvino::convert(bytes, sibling),
        ModelFormat::JsEmbedded => clm::convert(bytes),
        ModelFormat::TfGraph => tfjs::from_graph(
            &crate::decode::models::tfgraph::nodes::read(bytes)?,
            "TF GraphDef",
        ),
        ModelFormat::Onnx => {
            let (b, note) = prepare_onnx(bytes)?;
            Ok((
                b.into_owned(),
                note.unwrap_or_else(|| "nothing to convert".into()),
            ))
        }
        other => Err(ConvertError::Graph(format!(
            "no converter from {} to ONNX",
            other.as_str()
        ))),
    }
}

/// [`to_onnx`] for a parsed model: the weights file beside it is the one its parser named
/// ([`crate::decode::models::weights_fact`]). Errors: as
/// [`to_onnx`], and a model of no known format.
pub fn model_to_onnx(
    info: &crate::decode::models::ModelInfo,
    bytes: &[u8],
    sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<(Vec<u8>, String), ConvertError> {
    let format = info
        .format
        .ok_or_else(|| ConvertError::Graph("the model's format is not known".into()))?;
    let weights = crate::decode::models::weights_fact(format).and_then(|f| info.facts.get(f));
    let sibling = |n: &str| match n {
        WEIGHTS => weights.and_then(|w| sibling(w)),
        _ => sibling(n),
    };
    to_onnx(format, bytes, &sibling)
}

/// An ONNX model as the probe runs it: as it is (borrowed, no note) unless it has constant
/// quantized weights, which are folded to float32 first ([`dequantize`]) with a note saying how
/// many. Errors: the model is not readable protobuf, or too large once folded.
pub fn prepare_onnx(bytes: &[u8]) -> Result<(Cow<'_, [u8]>, Option<String>), ConvertError> {
    Ok(match dequantize::fold_constant_dequantize(bytes)? {
        Some((b, n)) => (
            Cow::Owned(b),
            Some(format!(
                "{n} quantized weight{} dequantized to float32",
                if n == 1 { "" } else { "s" }
            )),
        ),
        None => (Cow::Borrowed(bytes), None),
    })
}
