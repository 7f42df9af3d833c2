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

/// The operators a graph converter left out at the end of a graph: from the first it does not
/// translate (typically post-processing: anchors, box decoding, a custom landmark transform),
/// with every operator that reads what was left out. The probe reads what the left-out
/// operators read instead. Refused, with the first operator's error, when more than half of the
/// graph would be left out (then it is not post-processing) or nothing is left to read.
#[derive(Debug, Default)]
pub struct Tail {
    /// The first operator left out, and why (its name and the converter's detail).
    pub first: Option<(String, String)>,
    /// Operators left out.
    pub left_out: usize,
}

impl Tail {
    /// Count one operator left out; `why` for one the converter refused, `None` for one that
    /// reads what was left out.
    pub fn leave_out(&mut self, why: Option<(String, String)>) {
        self.left_out += 1;
        if self.first.is_none() {
            self.first = why;
        }
    }

    /// Whether one operator is left out, from what converting it gave (`converted`, `None`
    /// when it reads what was left out and was not tried): an operator the converter does not
    /// translate is left out and counted; a graph error is returned, said of the operator
    /// `at` names.
    pub fn outcome(
        &mut self,
        converted: Option<Result<(), ConvertError>>,
        at: impl FnOnce() -> String,
    ) -> Result<bool, ConvertError> {
        match converted {
            None => {
                self.leave_out(None);
                Ok(true)
            }
            Some(Ok(())) => Ok(false),
            Some(Err(ConvertError::Operator { op, detail })) => {
                self.leave_out(Some((op, detail)));
                Ok(true)
            }
            Some(Err(ConvertError::Graph(m))) => Err(ConvertError::Graph(format!("{}: {m}", at()))),
            Some(Err(e)) => Err(e),
        }
    }

    /// Whether the cut may stand in a graph of `total` operators. Errors: the first
    /// operator's [`ConvertError::Operator`] when over half of them were left out or no
    /// output is left.
    pub fn check(&self, total: usize, no_output: bool) -> Result<(), ConvertError> {
        if self.left_out == 0 {
            return Ok(());
        }
        if no_output || self.left_out * 2 > total {
            let (op, detail) = self
                .first
                .clone()
                .unwrap_or_else(|| ("?".into(), "left out".into()));
            return Err(ConvertError::Operator { op, detail });
        }
        Ok(())
    }

    /// For the conversion's note, when something was left out: `N operators from OP on left
    /// out (…): outputs read before them`.
    pub fn note(&self) -> Option<String> {
        match &self.first {
            Some((op, detail)) if self.left_out > 0 => Some(format!(
                "{} operator{} from {op} on left out ({detail}): outputs read before {}",
                self.left_out,
                if self.left_out == 1 { "" } else { "s" },
                if self.left_out == 1 { "it" } else { "them" }
            )),
            _ => None,
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
