//! TFLite → ONNX. Operators and options follow `tensorflow/lite/schema/schema.fbs`; their
//! semantics the TFLite reference kernels (`tensorflow/lite/kernels/internal/reference/`).
//!
//! Tensors stay in TFLite's NHWC layout; the operators ONNX defines only on NCHW (convolution,
//! pooling, resize, depth/space rearrangement, LRN) are wrapped in a transpose each way, which
//! ONNX Runtime's optimizer cancels between neighbours. The graph is converted in its float
//! view: quantized tensors (int8/uint8/int16 with a scale) become float32, their constants
//! dequantized (`real = scale × (q − zero_point)`, per channel where given), and
//! QUANTIZE/DEQUANTIZE become identities. Integer index tensors (shapes, axes) stay integers.

use super::builder::{permute, Attr, Builder};
use super::nhwc::{ohwi_to_oihw, Activation, Conv2d, ResizeTo, SliceMasks};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::tflite::graph::{self, Graph, Operator, Sparsity, Tensor, TensorType};
use std::collections::HashMap;

/// Elements one constant may have (256 MiB of float32, the probe's bound on a whole model).
const MAX_ELEMENTS: usize = super::builder::MAX_ONNX_BYTES / 4;
/// A sparse constant may stand for at most this many times its stored values (pruned
/// weights keep 10 % and more), so a few stored bytes cannot ask for a huge dense tensor.
const MAX_SPARSE_EXPANSION: usize = 64;

/// Convert a TFLite model's main subgraph. Returns the ONNX bytes and a note.
pub fn convert(bytes: &[u8]) -> Result<(Vec<u8>, String), ConvertError> {
    let g = graph::read(bytes)?;
    let mut c = Converter {
        g: &g,
        b: Builder::default(),
        values: HashMap::new(),
        folded: HashMap::new(),
    };
    let inputs: Vec<i32> = g
        .inputs
        .iter()
        .copied()
        .filter(|&i| g.tensor(i).is_some_and(|t| t.data.is_none()))
        .collect();
    if inputs.len() != 1 {
        return Err(ConvertError::Graph(format!(
            "{} graph inputs; the probe feeds one image",
            inputs.len()
        )));
    }
    for &i in &inputs {
        let t = c.tensor(i)?;
        let shape = t.shape.clone();
        let ty = c.onnx_type(t)?;
        let name = c.value_name(i);
        c.b.io(false, &name, ty, Some(&shape));
        c.values.insert(i, name);
    }
    let mut outputs = g.outputs.clone();
    // Operators left out as post-processing, their outputs, and why the first was.
    let mut tail = super::Tail::default();
    let mut cut = std::collections::HashSet::new();
    for (k, op) in g.operators.iter().enumerate() {
        if is_post_process(op) {
            // Box decoding and non-maximum suppression after a detector: the probe reads the
            // raw boxes and scores that feed it instead.
            outputs.retain(|o| !op.outputs.contains(o));
            for &i in &op.inputs {
                if g.tensor(i).is_some_and(|t| t.data.is_none()) && !outputs.contains(&i) {
                    outputs.push(i);
                }
            }
            continue;
        }
        // An operator that reads what was left out is left out too.
        let tried = (!op.inputs.iter().any(|i| cut.contains(i))).then(|| c.operator(op));
        let left_out = tail.outcome(tried, || format!("operator {k} ({})", op_name(op)))?;
        if left_out {
            cut.extend(op.outputs.iter().copied());
            // What the left-out operator read, where converted: the probe reads it instead.
            for &i in &op.inputs {
                if c.values.contains_key(&i)
                    && !g.inputs.contains(&i)
                    && g.tensor(i).is_some_and(|t| t.data.is_none() && is_real(t))
                    && !outputs.contains(&i)
                {
                    outputs.push(i);
                }
            }
        }
    }
    let outputs: Vec<i32> = outputs.into_iter().filter(|o| !cut.contains(o)).collect();
    tail.check(g.operators.len(), outputs.is_empty())?;
    for &o in &outputs {
        let Some(name) = c.values.get(&o).cloned() else {
            return Err(ConvertError::Graph(format!(
                "graph output tensor {o} is produced by no operator"
            )));
        };
        let ty = c.onnx_type(c.tensor(o)?)?;
        c.b.io(true, &name, ty, None);
    }
    let ops = g.operators.len();
    let nodes = c.b.node_count();
    Ok((
        c.b.finish("banwatch tflite converter"),
        format!(
            "converted from TFLite ({ops} operators → {nodes} ONNX nodes{})",
            tail.note().map(|n| format!("; {n}")).unwrap_or_default()
        ),
    ))
}

fn op_name(op: &Operator) -> String {
    graph::operator_name(op.builtin, op.custom.as_deref())
}

fn is_post_process(op: &Operator) -> bool {
    op.builtin == 32 && op.custom.as_deref() == Some("TFLite_Detection_PostProcess")
}

fn unsupported(op: &Operator, detail: impl Into<String>) -> ConvertError {
    ConvertError::Operator {
        op: op_name(op),
        detail: detail.into(),
    }
}

fn graph_err(m: impl Into<String>) -> ConvertError {
    ConvertError::Graph(m.into())
}

/// A transposed convolution's parameters and where its inputs are.
struct Deconv {
    same: bool,
    sw: i64,
    sh: i64,
    act: Activation,
    /// NHWC output shape.
    out_shape: Vec<i64>,
    weights: usize,
    x: usize,
    bias: usize,
}

struct Converter<'g, 'a> {
    g: &'g Graph<'a>,
    b: Builder,
    /// ONNX value name of each TFLite tensor converted so far.
    values: HashMap<i32, String>,
    /// Outputs of DEQUANTIZE applied to a constant (how fp16 and int8 weights are stored):
    /// the constant they stand for, read as real values where used.
    folded: HashMap<i32, i32>,
}

mod layers;
mod operators;
mod values;

use values::*;

impl<'a> Converter<'_, 'a> {
    fn tensor(&self, i: i32) -> Result<&Tensor<'a>, ConvertError> {
        self.g
            .tensor(i)
            .ok_or_else(|| graph_err(format!("tensor index {i} out of range")))
    }

    fn value_name(&self, i: i32) -> String {
        format!("t{i}")
    }

    fn onnx_type(&self, t: &Tensor<'_>) -> Result<i32, ConvertError> {
        if is_real(t) {
            return Ok(data_type::FLOAT);
        }
        Ok(match t.dtype {
            TensorType::Int32 => data_type::INT32,
            TensorType::Int64 => data_type::INT64,
            TensorType::Bool => data_type::BOOL,
            TensorType::Int8 => data_type::INT8,
            TensorType::Int16 => data_type::INT16,
            other => return Err(graph_err(format!("tensor {:?} of type {other:?}", t.name))),
        })
    }

    /// The ONNX value for TFLite tensor `i`: produced earlier, a graph input, or a constant
    /// (written as an initializer on first use).
    fn input(&mut self, i: i32) -> Result<String, ConvertError> {
        if let Some(v) = self.values.get(&i) {
            return Ok(v.clone());
        }
        let source = self.folded.get(&i).copied().unwrap_or(i);
        let t = self.tensor(source)?.clone();
        if t.data.is_none() {
            return Err(graph_err(format!(
                "tensor {i} ({:?}) is used before any operator produces it",
                t.name
            )));
        }
        let name = self.value_name(i);
        if is_real(&t) {
            let v = real_values(&t)?;
            let raw = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            self.b
                .initializer(&name, data_type::FLOAT, t.shape.clone(), raw)?;
        } else {
            let ty = self.onnx_type(&t)?;
            let n = elements(&t.shape)?;
            let data = t.data.unwrap_or_default();
            if Some(data.len()) != t.dtype.width().map(|w| w.saturating_mul(n)) {
                return Err(graph_err(format!(
                    "tensor {:?}: {} bytes for shape {:?}",
                    t.name,
                    data.len(),
                    t.shape
                )));
            }
            self.b
                .initializer(&name, ty, t.shape.clone(), data.to_vec())?;
        }
        self.values.insert(i, name.clone());
        Ok(name)
    }

    /// Input `k` of `op` (error if absent).
    fn arg(&mut self, op: &Operator, k: usize) -> Result<String, ConvertError> {
        let i = self.arg_index(op, k)?;
        self.input(i)
    }

    fn arg_index(&self, op: &Operator, k: usize) -> Result<i32, ConvertError> {
        op.inputs
            .get(k)
            .copied()
            .filter(|&i| i >= 0)
            .ok_or_else(|| graph_err(format!("input {k} missing")))
    }

    /// Whether input `k` is given (not -1 and present).
    fn has_arg(&self, op: &Operator, k: usize) -> bool {
        op.inputs.get(k).is_some_and(|&i| i >= 0)
    }

    /// Input `k`'s tensor, or for a folded DEQUANTIZE output, the constant it stands for.
    fn arg_tensor(&self, op: &Operator, k: usize) -> Result<&Tensor<'a>, ConvertError> {
        let i = self.arg_index(op, k)?;
        self.tensor(self.folded.get(&i).copied().unwrap_or(i))
    }

    /// Input `k` as constant integers (axes, shapes, paddings).
    fn const_ints(&self, op: &Operator, k: usize) -> Result<Vec<i64>, ConvertError> {
        let t = self.arg_tensor(op, k)?;
        let Some(data) = t.data else {
            return Err(unsupported(
                op,
                format!("input {k} is computed, not constant"),
            ));
        };
        match t.dtype {
            TensorType::Int32 => Ok(data
                .chunks_exact(4)
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect()),
            TensorType::Int64 => Ok(data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect()),
            other => Err(unsupported(op, format!("input {k} of type {other:?}"))),
        }
    }

    /// Input `k` as int64 (ONNX wants int64 shapes, pads, repeats): a constant, or a cast.
    fn int64_arg(&mut self, op: &Operator, k: usize) -> Result<String, ConvertError> {
        let t = self.arg_tensor(op, k)?;
        if t.data.is_some() {
            let v = self.const_ints(op, k)?;
            return self.b.const_i64(&v);
        }
        let v = self.arg(op, k)?;
        Ok(self.b.int64(&v))
    }

    /// Input `k` as constant float32 values with the tensor's dims.
    fn const_real(&self, op: &Operator, k: usize) -> Result<(Vec<f32>, Vec<usize>), ConvertError> {
        let t = self.arg_tensor(op, k)?;
        if t.data.is_none() {
            return Err(unsupported(
                op,
                format!("input {k} is computed, not constant"),
            ));
        }
        let v = real_values(t)?;
        let dims = t.shape.iter().map(|&d| d.max(0) as usize).collect();
        Ok((v, dims))
    }

    fn output_index(&self, op: &Operator, k: usize) -> Result<i32, ConvertError> {
        op.outputs
            .get(k)
            .copied()
            .filter(|&i| i >= 0)
            .ok_or_else(|| graph_err(format!("output {k} missing")))
    }

    /// Name output `k` of `op` and record it.
    fn out(&mut self, op: &Operator, k: usize) -> Result<String, ConvertError> {
        let i = self.output_index(op, k)?;
        let name = self.value_name(i);
        self.values.insert(i, name.clone());
        Ok(name)
    }

    fn shape_of(&self, op: &Operator, k: usize) -> Result<Vec<i64>, ConvertError> {
        Ok(self.arg_tensor(op, k)?.shape.clone())
    }

    fn out_shape(&self, op: &Operator, k: usize) -> Result<Vec<i64>, ConvertError> {
        Ok(self.tensor(self.output_index(op, k)?)?.shape.clone())
    }

    fn activation(&self, op: &Operator, field: usize) -> Result<Activation, ConvertError> {
        Ok(match self.g.option_u8(op, field, 0)? {
            0 => Activation::None,
            1 => Activation::Relu,
            2 => Activation::ReluN1To1,
            3 => Activation::Relu6,
            4 => Activation::Tanh,
            other => return Err(unsupported(op, format!("fused activation {other}"))),
        })
    }

    fn padding(&self, op: &Operator) -> Result<&'static str, ConvertError> {
        Ok(match self.g.option_u8(op, 0, 0)? {
            0 => "SAME_UPPER",
            1 => "VALID",
            other => return Err(unsupported(op, format!("padding {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_dequantization_uses_each_channels_scale() {
        let data = [2u8, 4, 6, 8]; // int8 [[2, 4], [6, 8]], channels along axis 0
        let t = Tensor {
            name: "w".into(),
            shape: vec![2, 2],
            dtype: TensorType::Int8,
            data: Some(&data),
            quantization: Some(graph::Quantization {
                scale: vec![0.5, 0.25],
                zero_point: vec![0, 2],
                dimension: 0,
            }),
            sparsity: None,
        };
        assert_eq!(real_values(&t).unwrap(), vec![1.0, 2.0, 1.0, 1.5]);
        let short = Tensor {
            data: Some(&data[..3]),
            ..t.clone()
        };
        assert!(real_values(&short).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(convert(b"not a model").is_err());
        let mut b = [0u8; 64];
        b[4..8].copy_from_slice(b"TFL3");
        for cut in 0..b.len() {
            assert!(convert(&b[..cut]).is_err());
        }
    }
}
