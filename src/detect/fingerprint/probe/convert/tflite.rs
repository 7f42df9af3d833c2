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
use super::nhwc::{ohwi_to_oihw, Activation, Conv2d, SliceMasks};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::tflite::graph::{
    self, builtin_name, Graph, Operator, Sparsity, Tensor, TensorType,
};
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
        c.operator(op).map_err(|e| match e {
            ConvertError::Graph(m) => {
                ConvertError::Graph(format!("operator {k} ({}): {m}", op_name(op)))
            }
            other => other,
        })?;
    }
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
        format!("converted from TFLite ({ops} operators → {nodes} ONNX nodes)"),
    ))
}

fn op_name(op: &Operator) -> String {
    match (&op.custom, op.builtin) {
        (Some(c), 32) => format!("CUSTOM:{c}"),
        _ => builtin_name(op.builtin),
    }
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

fn elements(shape: &[i64]) -> Result<usize, ConvertError> {
    let mut n: usize = 1;
    for &d in shape {
        let d = usize::try_from(d).map_err(|_| graph_err(format!("constant shape {shape:?}")))?;
        n = n
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| graph_err(format!("constant of shape {shape:?} is too large")))?;
    }
    Ok(n)
}

/// Whether a tensor is a real number in the float view.
fn is_real(t: &Tensor<'_>) -> bool {
    match t.dtype {
        TensorType::Float32 | TensorType::Float16 | TensorType::Float64 => true,
        TensorType::Int8 | TensorType::Int16 => t.quantization.is_some(),
        TensorType::Uint8 => true,
        TensorType::Int32 => t.quantization.is_some() && t.data.is_some(),
        _ => false,
    }
}

/// A constant's values as float32, densified and dequantized.
fn real_values(t: &Tensor<'_>) -> Result<Vec<f32>, ConvertError> {
    let data = t
        .data
        .ok_or_else(|| graph_err(format!("tensor {:?} has no data", t.name)))?;
    let n = elements(&t.shape)?;
    let width = t
        .dtype
        .width()
        .ok_or_else(|| graph_err(format!("tensor {:?} of type {:?}", t.name, t.dtype)))?;
    let stored = match &t.sparsity {
        Some(_) => data.len() / width,
        None => n,
    };
    if data.len() != stored.saturating_mul(width) {
        return Err(graph_err(format!(
            "tensor {:?}: {} bytes for shape {:?}",
            t.name,
            data.len(),
            t.shape
        )));
    }
    let c = data.chunks_exact(width);
    let mut raw: Vec<f32> = match t.dtype {
        TensorType::Float32 => c
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        TensorType::Float16 => c
            .map(|b| crate::decode::models::f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        TensorType::Float64 => c
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        TensorType::Int8 => data.iter().map(|&b| f32::from(b as i8)).collect(),
        TensorType::Uint8 => data.iter().map(|&b| f32::from(b)).collect(),
        TensorType::Int16 => c
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])))
            .collect(),
        TensorType::Int32 => c
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32)
            .collect(),
        other => return Err(graph_err(format!("tensor {:?} of type {other:?}", t.name))),
    };
    if let Some(sp) = &t.sparsity {
        if n > stored.saturating_mul(MAX_SPARSE_EXPANSION).max(1 << 20) {
            return Err(graph_err(format!(
                "sparse tensor {:?}: {stored} values for {n} elements",
                t.name
            )));
        }
        raw = densify(&raw, sp, &t.shape, n)
            .map_err(|m| graph_err(format!("sparse tensor {:?}: {m}", t.name)))?;
    }
    let float = matches!(
        t.dtype,
        TensorType::Float32 | TensorType::Float16 | TensorType::Float64
    );
    let Some(q) = t.quantization.as_ref().filter(|_| !float) else {
        return Ok(raw);
    };
    let zp = |k: usize| q.zero_point.get(k).copied().unwrap_or(0) as f32;
    if q.scale.len() == 1 {
        let (s, z) = (q.scale[0], zp(0));
        return Ok(raw.into_iter().map(|v| s * (v - z)).collect());
    }
    // Per-channel along `dimension`.
    let dims: Vec<usize> = t.shape.iter().map(|&d| d.max(0) as usize).collect();
    let channels = dims.get(q.dimension).copied().unwrap_or(0);
    if channels != q.scale.len() {
        return Err(graph_err(format!(
            "tensor {:?}: {} scales for {} channels",
            t.name,
            q.scale.len(),
            channels
        )));
    }
    let inner: usize = dims[q.dimension + 1..].iter().product::<usize>().max(1);
    Ok(raw
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let ch = (i / inner) % channels;
            q.scale[ch] * (v - zp(ch))
        })
        .collect())
}

/// The dense tensor (row-major, `shape`, `n` elements) that sparse `values` encode, as
/// TFLite's `FormatConverter::SparseToDense` reads them
/// (`tensorflow/lite/kernels/internal/utils/sparsity_format_converter.cc`).
fn densify(values: &[f32], sp: &Sparsity, shape: &[i64], n: usize) -> Result<Vec<f32>, String> {
    let rank = shape.len();
    let levels = sp.traversal_order.len();
    if rank == 0 || rank > 8 || levels < rank || levels != sp.dims.len() {
        return Err(format!("{levels} traversed dimensions for rank {rank}"));
    }
    if sp.block_map.len() != levels - rank {
        return Err("block map and traversal order disagree".into());
    }
    let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    let block_size: Vec<usize> = (0..sp.block_map.len())
        .map(|k| sp.dims[rank + k].dense_size.max(1) as usize)
        .collect();
    let mut out = vec![0f32; n];
    let mut indices = vec![0usize; levels];
    let mut next = 0usize;
    // An explicit stack of (level, prev_idx, position) replaces the reference's recursion.
    struct Frame {
        level: usize,
        prev: usize,
        at: usize,
        end: usize,
    }
    let bounds = |level: usize, prev: usize| -> (usize, usize) {
        let d = &sp.dims[level];
        if d.dense {
            (0, d.dense_size.max(0) as usize)
        } else {
            let seg = &d.array_segments;
            match (seg.get(prev), seg.get(prev + 1)) {
                (Some(&a), Some(&b)) if a >= 0 && b >= a => (a as usize, b as usize),
                _ => (0, 0),
            }
        }
    };
    let (a, b) = bounds(0, 0);
    let mut stack = vec![Frame {
        level: 0,
        prev: 0,
        at: a,
        end: b,
    }];
    let mut steps = 0usize;
    while let Some(f) = stack.last_mut() {
        steps += 1;
        if steps > n.saturating_mul(4).saturating_add(1 << 16) {
            return Err("traversal longer than the tensor".into());
        }
        if f.at >= f.end {
            stack.pop();
            continue;
        }
        let level = f.level;
        let d = &sp.dims[level];
        let (index, child_prev) = if d.dense {
            (f.at, f.prev * d.dense_size.max(0) as usize + f.at)
        } else {
            let Some(&ix) = d.array_indices.get(f.at) else {
                return Err("index past the indices array".into());
            };
            (ix.max(0) as usize, f.at)
        };
        f.at += 1;
        indices[level] = index;
        if level + 1 == levels {
            // A stored value: map the traversal indices back to the dense position.
            let mut orig = vec![0usize; rank];
            for (&o, &index) in sp.traversal_order.iter().zip(&indices).take(rank) {
                *orig
                    .get_mut(o as usize)
                    .ok_or("traversal order out of range")? = index;
            }
            for (&block, &index) in sp.traversal_order.iter().zip(&indices).skip(rank) {
                let block = block as usize;
                let k = block.checked_sub(rank).ok_or("block order out of range")?;
                let dim = *sp.block_map.get(k).ok_or("block map out of range")? as usize;
                let bs = *block_size.get(k).ok_or("block size out of range")?;
                let o = orig.get_mut(dim).ok_or("block map out of range")?;
                *o = *o * bs + index;
            }
            let mut flat = 0usize;
            for (o, &dsz) in orig.iter().zip(&dims) {
                if *o >= dsz {
                    return Err("index outside the dense shape".into());
                }
                flat = flat * dsz + o;
            }
            let v = *values
                .get(next)
                .ok_or("fewer values than the traversal needs")?;
            out[flat] = v;
            next += 1;
        } else {
            let (a, b) = bounds(level + 1, child_prev);
            stack.push(Frame {
                level: level + 1,
                prev: child_prev,
                at: a,
                end: b,
            });
        }
    }
    Ok(out)
}

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

    fn operator(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        match op.builtin {
            // Elementwise binary with a fused activation.
            0 | 18 | 41 | 42 => {
                let onnx = match op.builtin {
                    0 => "Add",
                    18 => "Mul",
                    41 => "Sub",
                    _ => "Div",
                };
                let (a, b) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let act = self.activation(op, 0)?;
                let y = self.b.op(onnx, &[&a, &b], vec![]);
                let out = self.out(op, 0)?;
                self.b.activate(y, &act, Some(&out))?;
            }
            55 | 57 | 78 => {
                let onnx = match op.builtin {
                    55 => "Max",
                    57 => "Min",
                    _ => "Pow",
                };
                let (a, b) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let out = self.out(op, 0)?;
                self.b.node(onnx, &[&a, &b], &[&out], vec![]);
            }
            // SQUARED_DIFFERENCE
            99 => {
                let (a, b) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let d = self.b.op("Sub", &[&a, &b], vec![]);
                let out = self.out(op, 0)?;
                self.b.node("Mul", &[&d, &d], &[&out], vec![]);
            }
            // Comparisons and logic.
            58 | 61 | 62 | 63 | 71 | 84 | 86 => {
                let onnx = match op.builtin {
                    58 => "Less",
                    61 => "Greater",
                    62 => "GreaterOrEqual",
                    63 => "LessOrEqual",
                    71 => "Equal",
                    84 => "Or",
                    _ => "And",
                };
                let (a, b) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let out = self.out(op, 0)?;
                self.b.node(onnx, &[&a, &b], &[&out], vec![]);
            }
            72 => {
                let (a, b) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let e = self.b.op("Equal", &[&a, &b], vec![]);
                let out = self.out(op, 0)?;
                self.b.node("Not", &[&e], &[&out], vec![]);
            }
            // SELECT, SELECT_V2
            64 | 123 => {
                let (c, a, b) = (self.arg(op, 0)?, self.arg(op, 1)?, self.arg(op, 2)?);
                let out = self.out(op, 0)?;
                self.b.node("Where", &[&c, &a, &b], &[&out], vec![]);
            }
            // ADD_N
            106 => {
                let ins: Vec<String> = (0..op.inputs.len())
                    .map(|k| self.arg(op, k))
                    .collect::<Result<_, _>>()?;
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                let out = self.out(op, 0)?;
                self.b.node("Sum", &refs, &[&out], vec![]);
            }
            // Unary.
            14 | 28 | 19 | 47 | 73 | 75 | 101 | 59 | 8 | 104 | 116 | 66 | 108 | 158 | 117 | 87
            | 114 | 80 | 111 => {
                let onnx = match op.builtin {
                    14 => "Sigmoid",
                    28 => "Tanh",
                    19 => "Relu",
                    47 => "Exp",
                    73 => "Log",
                    75 => "Sqrt",
                    101 => "Abs",
                    59 => "Neg",
                    8 => "Floor",
                    104 => "Ceil",
                    116 => "Round",
                    66 => "Sin",
                    108 => "Cos",
                    158 => "Sign",
                    117 => "HardSwish",
                    87 => "Not",
                    111 => "Elu",
                    // QUANTIZE, FAKE_QUANT: the float view already holds reals.
                    _ => "Identity",
                };
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.node(onnx, &[&x], &[&out], vec![]);
            }
            // DEQUANTIZE and DENSIFY: of a constant (stored weights), folded into the constant's real
            // values where it is used; otherwise the float view already holds reals.
            6 | 124 => {
                let i = self.arg_index(op, 0)?;
                let i = self.folded.get(&i).copied().unwrap_or(i);
                let o = self.output_index(op, 0)?;
                if self.tensor(i)?.data.is_some() {
                    self.folded.insert(o, i);
                } else {
                    let x = self.input(i)?;
                    let out = self.out(op, 0)?;
                    self.b.node("Identity", &[&x], &[&out], vec![]);
                }
            }
            // RSQRT, SQUARE
            76 => {
                let x = self.arg(op, 0)?;
                let s = self.b.op("Sqrt", &[&x], vec![]);
                let out = self.out(op, 0)?;
                self.b.node("Reciprocal", &[&s], &[&out], vec![]);
            }
            92 => {
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.node("Mul", &[&x, &x], &[&out], vec![]);
            }
            // RELU6, RELU_N1_TO_1, RELU_0_TO_1
            21 | 20 | 152 => {
                let (lo, hi) = match op.builtin {
                    21 => (0.0, 6.0),
                    20 => (-1.0, 1.0),
                    _ => (0.0, 1.0),
                };
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.clip(&x, lo, hi, &out)?;
            }
            // LEAKY_RELU
            98 => {
                let alpha = g.option_f32(op, 0, 0.2)?;
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.node(
                    "LeakyRelu",
                    &[&x],
                    &[&out],
                    vec![("alpha", Attr::Float(alpha))],
                );
            }
            // PRELU
            54 => {
                let (x, a) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let out = self.out(op, 0)?;
                self.b.node("PRelu", &[&x, &a], &[&out], vec![]);
            }
            // GELU: 0.5 x (1 + erf(x / √2)), or the tanh approximation.
            150 => {
                let approximate = g.option_u8(op, 0, 0)? != 0;
                let x = self.arg(op, 0)?;
                let inner = if approximate {
                    // tanh(√(2/π) (x + 0.044715 x³))
                    let c = self.b.scalar_f32(0.044_715)?;
                    let k = self.b.scalar_f32(0.797_884_6)?;
                    let x2 = self.b.op("Mul", &[&x, &x], vec![]);
                    let x3 = self.b.op("Mul", &[&x2, &x], vec![]);
                    let cx3 = self.b.op("Mul", &[&x3, &c], vec![]);
                    let s = self.b.op("Add", &[&x, &cx3], vec![]);
                    let ks = self.b.op("Mul", &[&s, &k], vec![]);
                    self.b.op("Tanh", &[&ks], vec![])
                } else {
                    let r = self.b.scalar_f32(std::f32::consts::FRAC_1_SQRT_2)?;
                    let xs = self.b.op("Mul", &[&x, &r], vec![]);
                    self.b.op("Erf", &[&xs], vec![])
                };
                let one = self.b.scalar_f32(1.0)?;
                let half = self.b.scalar_f32(0.5)?;
                let p = self.b.op("Add", &[&inner, &one], vec![]);
                let hx = self.b.op("Mul", &[&x, &half], vec![]);
                let out = self.out(op, 0)?;
                self.b.node("Mul", &[&hx, &p], &[&out], vec![]);
            }
            // SOFTMAX, LOG_SOFTMAX
            25 | 50 => {
                let mut x = self.arg(op, 0)?;
                if op.builtin == 25 {
                    let beta = g.option_f32(op, 0, 1.0)?;
                    if beta != 1.0 && beta != 0.0 {
                        let b = self.b.scalar_f32(beta)?;
                        x = self.b.op("Mul", &[&x, &b], vec![]);
                    }
                }
                let out = self.out(op, 0)?;
                let onnx = if op.builtin == 25 {
                    "Softmax"
                } else {
                    "LogSoftmax"
                };
                self.b
                    .node(onnx, &[&x], &[&out], vec![("axis", Attr::Int(-1))]);
            }
            // L2_NORMALIZATION
            11 => {
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.node(
                    "LpNormalization",
                    &[&x],
                    &[&out],
                    vec![("axis", Attr::Int(-1)), ("p", Attr::Int(2))],
                );
            }
            3 | 4 => self.conv(op)?,
            67 => self.transpose_conv(op)?,
            1 | 17 => {
                let padding = self.padding(op)?;
                let sw = g.option_i32(op, 1, 1)?;
                let sh = g.option_i32(op, 2, 1)?;
                let fw = g.option_i32(op, 3, 1)?;
                let fh = g.option_i32(op, 4, 1)?;
                let act = self.activation(op, 5)?;
                let x = self.arg(op, 0)?;
                let onnx = if op.builtin == 1 {
                    "AveragePool"
                } else {
                    "MaxPool"
                };
                let out = self.out(op, 0)?;
                self.b.pool_nhwc(
                    onnx,
                    &x,
                    [fh.into(), fw.into()],
                    [sh.into(), sw.into()],
                    padding == "SAME_UPPER",
                    &act,
                    &out,
                )?;
            }
            9 => self.fully_connected(op)?,
            // CONCATENATION
            2 => {
                let axis = g.option_i32(op, 0, 0)?;
                let act = self.activation(op, 1)?;
                let ins: Vec<String> = (0..op.inputs.len())
                    .map(|k| self.arg(op, k))
                    .collect::<Result<_, _>>()?;
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                let y = self
                    .b
                    .op("Concat", &refs, vec![("axis", Attr::Int(axis.into()))]);
                let out = self.out(op, 0)?;
                self.b.activate(y, &act, Some(&out))?;
            }
            // RESHAPE
            22 => {
                let x = self.arg(op, 0)?;
                let shape = if self.has_arg(op, 1) {
                    self.int64_arg(op, 1)?
                } else {
                    let mut s = g.option_ints(op, 0)?;
                    if s.is_empty() {
                        s = self.out_shape(op, 0)?;
                    }
                    self.b.const_i64(&s)?
                };
                let out = self.out(op, 0)?;
                self.b.node("Reshape", &[&x, &shape], &[&out], vec![]);
            }
            // MEAN, SUM, REDUCE_PROD, REDUCE_MAX, REDUCE_MIN
            40 | 74 | 81 | 82 | 89 => {
                let keep = g.option_u8(op, 0, 0)? != 0;
                let axes = self.const_ints(op, 1)?;
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                let keepdims = ("keepdims", Attr::Int(i64::from(keep)));
                if op.builtin == 74 {
                    let a = self.b.const_i64(&axes)?;
                    self.b.node("ReduceSum", &[&x, &a], &[&out], vec![keepdims]);
                } else {
                    let onnx = match op.builtin {
                        40 => "ReduceMean",
                        81 => "ReduceProd",
                        82 => "ReduceMax",
                        _ => "ReduceMin",
                    };
                    self.b.node(
                        onnx,
                        &[&x],
                        &[&out],
                        vec![("axes", Attr::Ints(axes)), keepdims],
                    );
                }
            }
            // PAD, PADV2, MIRROR_PAD
            34 | 60 | 100 => {
                let pairs = self.const_ints(op, 1)?;
                let mode = if op.builtin == 100 {
                    match g.option_u8(op, 0, 0)? {
                        0 => "reflect",
                        // SYMMETRIC repeats the border; with pads of one that is "edge".
                        1 if pairs.iter().all(|&v| v <= 1) => "edge",
                        _ => return Err(unsupported(op, "SYMMETRIC padding wider than 1")),
                    }
                } else {
                    "constant"
                };
                let x = self.arg(op, 0)?;
                let pads = self.b.pads_from_pairs(&pairs)?;
                let mut ins = vec![x, pads];
                if op.builtin == 60 && self.has_arg(op, 2) {
                    ins.push(self.arg(op, 2)?);
                }
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                let out = self.out(op, 0)?;
                self.b
                    .node("Pad", &refs, &[&out], vec![("mode", Attr::Str(mode))]);
            }
            // TRANSPOSE
            39 => {
                let perm = self.const_ints(op, 1)?;
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.node(
                    "Transpose",
                    &[&x],
                    &[&out],
                    vec![("perm", Attr::Ints(perm))],
                );
            }
            // SQUEEZE
            43 => {
                let axes = g.option_ints(op, 0)?;
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                if axes.is_empty() {
                    self.b.node("Squeeze", &[&x], &[&out], vec![]);
                } else {
                    let a = self.b.const_i64(&axes)?;
                    self.b.node("Squeeze", &[&x, &a], &[&out], vec![]);
                }
            }
            // EXPAND_DIMS
            70 => {
                let axes = self.const_ints(op, 1)?;
                let x = self.arg(op, 0)?;
                let a = self.b.const_i64(&axes)?;
                let out = self.out(op, 0)?;
                self.b.node("Unsqueeze", &[&x, &a], &[&out], vec![]);
            }
            23 | 97 => self.resize(op)?,
            45 => self.strided_slice(op)?,
            // SLICE
            65 => {
                let begin = self.const_ints(op, 1)?;
                let size = self.const_ints(op, 2)?;
                let ends: Vec<i64> = begin
                    .iter()
                    .zip(&size)
                    .map(|(&b, &s)| if s < 0 { i64::MAX } else { b.saturating_add(s) })
                    .collect();
                let axes: Vec<i64> = (0..begin.len() as i64).collect();
                let x = self.arg(op, 0)?;
                let (s, e, a) = (
                    self.b.const_i64(&begin)?,
                    self.b.const_i64(&ends)?,
                    self.b.const_i64(&axes)?,
                );
                let out = self.out(op, 0)?;
                self.b.node("Slice", &[&x, &s, &e, &a], &[&out], vec![]);
            }
            // SPLIT (axis, x), SPLIT_V (x, sizes, axis)
            49 | 102 => {
                let (x, axis, sizes) = if op.builtin == 49 {
                    (self.arg(op, 1)?, self.const_ints(op, 0)?, None)
                } else {
                    (
                        self.arg(op, 0)?,
                        self.const_ints(op, 2)?,
                        Some(self.const_ints(op, 1)?),
                    )
                };
                let axis = axis.first().copied().unwrap_or(0);
                let mut ins = vec![x];
                if let Some(mut sizes) = sizes {
                    if let Some(k) = sizes.iter().position(|&s| s < 0) {
                        let shape = self.shape_of(op, 0)?;
                        let rank = shape.len() as i64;
                        let ax = if axis < 0 { axis + rank } else { axis };
                        let dim = usize::try_from(ax)
                            .ok()
                            .and_then(|a| shape.get(a))
                            .copied()
                            .filter(|&d| d > 0)
                            .ok_or_else(|| unsupported(op, "split of an unknown dimension"))?;
                        let known: i64 = sizes.iter().filter(|&&s| s >= 0).sum();
                        sizes[k] = dim - known;
                    }
                    ins.push(self.b.const_i64(&sizes)?);
                }
                let outs: Vec<String> = (0..op.outputs.len())
                    .map(|k| self.out(op, k))
                    .collect::<Result<_, _>>()?;
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                let orefs: Vec<&str> = outs.iter().map(String::as_str).collect();
                self.b
                    .node("Split", &refs, &orefs, vec![("axis", Attr::Int(axis))]);
            }
            // PACK
            83 => {
                let axis = i64::from(g.option_i32(op, 1, 0)?);
                let a = self.b.const_i64(&[axis])?;
                let mut parts = Vec::new();
                for k in 0..op.inputs.len() {
                    let x = self.arg(op, k)?;
                    parts.push(self.b.op("Unsqueeze", &[&x, &a], vec![]));
                }
                let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                let out = self.out(op, 0)?;
                self.b
                    .node("Concat", &refs, &[&out], vec![("axis", Attr::Int(axis))]);
            }
            // UNPACK
            88 => {
                let axis = i64::from(g.option_i32(op, 1, 0)?);
                let x = self.arg(op, 0)?;
                let parts: Vec<String> = (0..op.outputs.len()).map(|_| self.b.fresh()).collect();
                let prefs: Vec<&str> = parts.iter().map(String::as_str).collect();
                self.b
                    .node("Split", &[&x], &prefs, vec![("axis", Attr::Int(axis))]);
                let a = self.b.const_i64(&[axis])?;
                for (k, p) in parts.iter().enumerate() {
                    let out = self.out(op, k)?;
                    self.b.node("Squeeze", &[p, &a], &[&out], vec![]);
                }
            }
            // GATHER
            36 => {
                let axis = g.option_i32(op, 0, 0)?;
                if g.option_i32(op, 1, 0)? != 0 {
                    return Err(unsupported(op, "batch_dims"));
                }
                let (x, i) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let out = self.out(op, 0)?;
                self.b.node(
                    "Gather",
                    &[&x, &i],
                    &[&out],
                    vec![("axis", Attr::Int(axis.into()))],
                );
            }
            // BATCH_MATMUL
            126 => {
                let mut ab = Vec::new();
                for (k, field) in [(0usize, 0usize), (1, 1)] {
                    let x = self.arg(op, k)?;
                    if g.option_u8(op, field, 0)? != 0 {
                        let rank = self.shape_of(op, k)?.len();
                        if rank < 2 {
                            return Err(unsupported(op, "adjoint of a rank below 2"));
                        }
                        let mut perm: Vec<i64> = (0..rank as i64).collect();
                        perm.swap(rank - 1, rank - 2);
                        ab.push(
                            self.b
                                .op("Transpose", &[&x], vec![("perm", Attr::Ints(perm))]),
                        );
                    } else {
                        ab.push(x);
                    }
                }
                let out = self.out(op, 0)?;
                self.b.node("MatMul", &[&ab[0], &ab[1]], &[&out], vec![]);
            }
            // DEPTH_TO_SPACE, SPACE_TO_DEPTH
            5 | 26 => {
                let block = g.option_i32(op, 0, 2)?;
                let x = self.arg(op, 0)?;
                let xn = self.b.nchw(&x);
                let (onnx, mut attrs) = if op.builtin == 5 {
                    ("DepthToSpace", vec![("mode", Attr::Str("DCR"))])
                } else {
                    ("SpaceToDepth", vec![])
                };
                attrs.push(("blocksize", Attr::Int(block.into())));
                let y = self.b.op(onnx, &[&xn], attrs);
                let out = self.out(op, 0)?;
                self.b.nhwc_into(&y, &out);
            }
            // LOCAL_RESPONSE_NORMALIZATION: ONNX divides alpha by the window size.
            13 => {
                let radius = g.option_i32(op, 0, 5)?;
                let bias = g.option_f32(op, 1, 1.0)?;
                let alpha = g.option_f32(op, 2, 1.0)?;
                let beta = g.option_f32(op, 3, 0.5)?;
                let size = 2 * i64::from(radius) + 1;
                let x = self.arg(op, 0)?;
                let xn = self.b.nchw(&x);
                let y = self.b.op(
                    "LRN",
                    &[&xn],
                    vec![
                        ("size", Attr::Int(size)),
                        ("alpha", Attr::Float(alpha * size as f32)),
                        ("beta", Attr::Float(beta)),
                        ("bias", Attr::Float(bias)),
                    ],
                );
                let out = self.out(op, 0)?;
                self.b.nhwc_into(&y, &out);
            }
            // CAST
            53 => {
                let x = self.arg(op, 0)?;
                let oi = self.output_index(op, 0)?;
                let to = self.onnx_type(self.tensor(oi)?)?;
                let out = self.out(op, 0)?;
                self.b
                    .node("Cast", &[&x], &[&out], vec![("to", Attr::Int(to.into()))]);
            }
            // ARG_MAX, ARG_MIN
            56 | 79 => {
                let axis = self.const_ints(op, 1)?.first().copied().unwrap_or(0);
                let x = self.arg(op, 0)?;
                let onnx = if op.builtin == 56 { "ArgMax" } else { "ArgMin" };
                let y = self.b.op(
                    onnx,
                    &[&x],
                    vec![("axis", Attr::Int(axis)), ("keepdims", Attr::Int(0))],
                );
                self.cast_index_out(op, y)?;
            }
            // SHAPE
            77 => {
                let x = self.arg(op, 0)?;
                let y = self.b.op("Shape", &[&x], vec![]);
                self.cast_index_out(op, y)?;
            }
            // TILE
            69 => {
                let x = self.arg(op, 0)?;
                let r = self.int64_arg(op, 1)?;
                let out = self.out(op, 0)?;
                self.b.node("Tile", &[&x, &r], &[&out], vec![]);
            }
            // BROADCAST_TO
            130 => {
                let x = self.arg(op, 0)?;
                let s = self.int64_arg(op, 1)?;
                let out = self.out(op, 0)?;
                self.b.node("Expand", &[&x, &s], &[&out], vec![]);
            }
            // FILL (dims, value)
            94 => {
                let dims = self.int64_arg(op, 0)?;
                let v = self.arg(op, 1)?;
                let out = self.out(op, 0)?;
                self.b.node("Expand", &[&v, &dims], &[&out], vec![]);
            }
            32 if op.custom.as_deref() == Some("Convolution2DTransposeBias") => {
                self.transpose_conv_bias(op)?
            }
            _ => return Err(unsupported(op, "no ONNX translation")),
        }
        Ok(())
    }

    /// An int64 index result cast to the output's type (TFLite often wants int32).
    fn cast_index_out(&mut self, op: &Operator, y: String) -> Result<(), ConvertError> {
        let oi = self.output_index(op, 0)?;
        let to = self.onnx_type(self.tensor(oi)?)?;
        let out = self.out(op, 0)?;
        if to == data_type::INT64 {
            self.b.node("Identity", &[&y], &[&out], vec![]);
        } else {
            self.b
                .node("Cast", &[&y], &[&out], vec![("to", Attr::Int(to.into()))]);
        }
        Ok(())
    }

    /// CONV_2D (weights OHWI) and DEPTHWISE_CONV_2D (weights 1×H×W×(C·M)).
    fn conv(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        let depthwise = op.builtin == 4;
        let padding = self.padding(op)?;
        let sw = g.option_i32(op, 1, 1)?;
        let sh = g.option_i32(op, 2, 1)?;
        let (act, dw, dh) = if depthwise {
            (
                self.activation(op, 4)?,
                g.option_i32(op, 5, 1)?,
                g.option_i32(op, 6, 1)?,
            )
        } else {
            (
                self.activation(op, 3)?,
                g.option_i32(op, 4, 1)?,
                g.option_i32(op, 5, 1)?,
            )
        };
        let (w, wdims) = self.const_real(op, 1)?;
        let [o, kh, kw, i] = wdims[..] else {
            return Err(unsupported(op, format!("weights of shape {wdims:?}")));
        };
        let in_shape = self.shape_of(op, 0)?;
        let (weights, dims, group) = if depthwise {
            // [1, H, W, C·M] → [C·M, 1, H, W]; one group per input channel.
            let channels = in_shape
                .get(3)
                .copied()
                .filter(|&c| c > 0)
                .map(|c| c as usize)
                .unwrap_or(i);
            if o != 1 || channels == 0 || i % channels != 0 {
                return Err(unsupported(
                    op,
                    format!("weights {wdims:?} for {channels} channels"),
                ));
            }
            (permute(&w, &wdims, &[3, 0, 1, 2]), [i, 1, kh, kw], channels)
        } else {
            let (w, dims) = ohwi_to_oihw(&w, [o, kh, kw, i]);
            let in_channels = in_shape.get(3).copied().unwrap_or(i as i64);
            let group = if in_channels > 0 && i > 0 && in_channels as usize != i {
                // Grouped convolution: the weights hold one group's input channels.
                in_channels as usize / i
            } else {
                1
            };
            (w, dims, group)
        };
        let bias = match self.has_arg(op, 2) {
            true => Some(self.const_real(op, 2)?.0),
            false => None,
        };
        let x = self.arg(op, 0)?;
        let out = self.out(op, 0)?;
        let geometry = Conv2d {
            strides: [sh.into(), sw.into()],
            dilations: [dh.into(), dw.into()],
            same: padding == "SAME_UPPER",
            group,
        };
        let in_hw = match in_shape[..] {
            [_, h, w, _] => Some((h, w)),
            _ => None,
        };
        self.b.conv_nhwc(
            &x,
            in_hw,
            &weights,
            dims,
            bias.as_deref(),
            &geometry,
            &act,
            &out,
        )
    }

    /// TRANSPOSE_CONV: inputs (output_shape, weights O×H×W×I, x, bias?), options padding,
    /// stride_w, stride_h, fused activation.
    fn transpose_conv(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        let p = Deconv {
            same: self.padding(op)? == "SAME_UPPER",
            sw: i64::from(g.option_i32(op, 1, 1)?),
            sh: i64::from(g.option_i32(op, 2, 1)?),
            act: self.activation(op, 3)?,
            out_shape: self.const_ints(op, 0)?,
            weights: 1,
            x: 2,
            bias: 3,
        };
        self.deconv(op, p)
    }

    /// MediaPipe's CUSTOM `Convolution2DTransposeBias`: inputs (x, weights O×H×W×I, bias),
    /// custom options a raw `TfLiteTransposeConvParams` {padding (1 SAME, 2 VALID),
    /// stride_width, stride_height} as little-endian int32
    /// (mediapipe/util/tflite/operations/transpose_conv_bias.cc).
    fn transpose_conv_bias(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let o = &op.custom_options;
        let word = |k: usize| {
            o.get(4 * k..4 * k + 4)
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        };
        let (Some(padding), Some(sw), Some(sh)) = (word(0), word(1), word(2)) else {
            return Err(unsupported(op, "custom options shorter than 12 bytes"));
        };
        let p = Deconv {
            same: match padding {
                1 => true,
                2 => false,
                other => return Err(unsupported(op, format!("padding {other}"))),
            },
            sw,
            sh,
            act: Activation::None,
            out_shape: self.out_shape(op, 0)?,
            weights: 1,
            x: 0,
            bias: 2,
        };
        self.deconv(op, p)
    }

    /// A transposed convolution. Padding is computed as TFLite does (the forward
    /// convolution's SAME padding) and given explicitly.
    fn deconv(&mut self, op: &Operator, p: Deconv) -> Result<(), ConvertError> {
        let in_shape = self.shape_of(op, p.x)?;
        let (w, wdims) = self.const_real(op, p.weights)?;
        let [o, kh, kw, i] = wdims[..] else {
            return Err(unsupported(op, format!("weights of shape {wdims:?}")));
        };
        let out_shape = &p.out_shape;
        if out_shape.len() != 4 || in_shape.len() != 4 || in_shape[1] <= 0 || in_shape[2] <= 0 {
            return Err(unsupported(op, "shapes not known"));
        }
        if p.sh < 1 || p.sw < 1 || p.sh > 64 || p.sw > 64 {
            return Err(unsupported(op, format!("strides {} × {}", p.sh, p.sw)));
        }
        let mut pads = [0i64; 4];
        let mut output_padding = [0i64; 2];
        for (axis, (s, k)) in [(p.sh, kh as i64), (p.sw, kw as i64)]
            .into_iter()
            .enumerate()
        {
            let input = in_shape[axis + 1];
            let output = out_shape[axis + 1];
            let full = s * (input - 1) + k;
            let total = if p.same { (full - output).max(0) } else { 0 };
            pads[axis] = total / 2;
            pads[axis + 2] = total - total / 2;
            output_padding[axis] = output - (full - total);
            if output_padding[axis] < 0 || output_padding[axis] >= s {
                return Err(unsupported(op, "output shape does not fit the stride"));
            }
        }
        // TFLite's weights are [out, H, W, in]; ConvTranspose wants [in, out, H, W].
        let wt = permute(&w, &wdims, &[3, 0, 1, 2]);
        let wname = self
            .b
            .const_f32(vec![i as i64, o as i64, kh as i64, kw as i64], &wt)?;
        let x = self.arg(op, p.x)?;
        let xn = self.b.nchw(&x);
        let mut ins = vec![xn, wname];
        if self.has_arg(op, p.bias) {
            let (bias, _) = self.const_real(op, p.bias)?;
            ins.push(self.b.const_f32(vec![bias.len() as i64], &bias)?);
        }
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        let y = self.b.op(
            "ConvTranspose",
            &refs,
            vec![
                ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
                ("strides", Attr::Ints(vec![p.sh, p.sw])),
                ("pads", Attr::Ints(pads.to_vec())),
                ("output_padding", Attr::Ints(output_padding.to_vec())),
            ],
        );
        let y = self.b.activate(y, &p.act, None)?;
        let out = self.out(op, 0)?;
        self.b.nhwc_into(&y, &out);
        Ok(())
    }

    /// FULLY_CONNECTED: y = x·Wᵀ + b with W [out, in], x flattened to [-1, in] unless
    /// keep_num_dims.
    fn fully_connected(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        let act = self.activation(op, 0)?;
        if g.option_u8(op, 1, 0)? != 0 {
            return Err(unsupported(op, "shuffled weights format"));
        }
        let keep = g.option_u8(op, 2, 0)? != 0;
        let x = self.arg(op, 0)?;
        let w = self.arg(op, 1)?;
        let wshape = self.shape_of(op, 1)?;
        let [_, inner] = wshape[..] else {
            return Err(unsupported(op, format!("weights of shape {wshape:?}")));
        };
        let flat = self.b.const_i64(&[-1, inner])?;
        let x2 = self.b.op("Reshape", &[&x, &flat], vec![]);
        let mut ins = vec![x2, w];
        if self.has_arg(op, 2) {
            ins.push(self.arg(op, 2)?);
        }
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        let y = self.b.op("Gemm", &refs, vec![("transB", Attr::Int(1))]);
        let y = if keep {
            let shape = self.out_shape(op, 0)?;
            let s = self.b.const_i64(&shape)?;
            self.b.op("Reshape", &[&y, &s], vec![])
        } else {
            y
        };
        let out = self.out(op, 0)?;
        self.b.activate(y, &act, Some(&out))?;
        Ok(())
    }

    /// RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR, with their corner conventions.
    fn resize(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        let bilinear = op.builtin == 23;
        let (align, half) = if bilinear {
            (g.option_u8(op, 2, 0)? != 0, g.option_u8(op, 3, 0)? != 0)
        } else {
            (g.option_u8(op, 0, 0)? != 0, g.option_u8(op, 1, 0)? != 0)
        };
        let size = self.const_ints(op, 1)?;
        let shape = self.shape_of(op, 0)?;
        let (&[h, w], &[n, _, _, c]) = (&size[..], &shape[..]) else {
            return Err(unsupported(
                op,
                format!("size {size:?} for input {shape:?}"),
            ));
        };
        if n <= 0 || c <= 0 {
            return Err(unsupported(op, "input shape not known"));
        }
        let x = self.arg(op, 0)?;
        let out = self.out(op, 0)?;
        self.b
            .resize_nhwc(&x, Some((n, c)), [h, w], bilinear, align, half, &out)
    }

    /// STRIDED_SLICE with begin/end masks and shrink_axis_mask (ellipsis and new-axis masks
    /// are refused).
    fn strided_slice(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        let masks = SliceMasks {
            begin: g.option_i32(op, 0, 0)?.into(),
            end: g.option_i32(op, 1, 0)?.into(),
            ellipsis: g.option_i32(op, 2, 0)?.into(),
            new_axis: g.option_i32(op, 3, 0)?.into(),
            shrink_axis: g.option_i32(op, 4, 0)?.into(),
            offset: g.option_u8(op, 5, 0)? != 0,
        };
        let begin = self.const_ints(op, 1)?;
        let end = self.const_ints(op, 2)?;
        let strides = if self.has_arg(op, 3) {
            self.const_ints(op, 3)?
        } else {
            vec![1; begin.len()]
        };
        let x = self.arg(op, 0)?;
        let out = self.out(op, 0)?;
        self.b
            .strided_slice(&x, &begin, &end, &strides, masks, &out)
            .map_err(|m| unsupported(op, m))
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
