//! Folding an ONNX graph's constant `DequantizeLinear` nodes into float32 initializers before
//! the probe runs it.
//!
//! Weight-only quantized exports (`onnxruntime.quantization`'s QDQ format, OpenCV Zoo's
//! `*_int8bq.onnx` block-quantized models) keep each weight as int8/uint8/int4 with a scale and
//! zero point, dequantized by a `DequantizeLinear` node whose inputs are all initializers.
//! ONNX Runtime refuses some layouts the standard allows (a block size with a single scale:
//! "block_size must be 0 for per-tensor quantization"), and the probe wants float32 weights
//! anyway (as the other converters write them). So every such node is computed here, by the
//! operator's definition in the ONNX operator docs (opset 10–21: `y = (x - zero_point) *
//! scale`, per tensor, per axis, or per block of `block_size` along `axis`), and replaced by
//! an initializer of the same name.
//!
//! The rewrite is made on the protobuf wire: every field it does not change (metadata, value
//! infos, other nodes, subgraphs) is copied as it was read, so nothing a schema subset does not
//! know is lost.

use super::onnx_proto::{data_type, TensorProto};
use super::ConvertError;
use crate::decode::models::protobuf::{encode, Reader, Value};
use prost::Message;
use std::collections::HashMap;

/// ONNX `TensorProto.DataType` codes read here.
mod code {
    pub use super::data_type::{INT16, INT32, INT8, UINT8};
    pub const UINT16: i32 = 4;
    pub const FLOAT16: i32 = 10;
    pub const BFLOAT16: i32 = 16;
    pub const UINT4: i32 = 21;
    pub const INT4: i32 = 22;
}

/// Largest constant tensor (elements) folded.
const MAX_ELEMENTS: usize = 64 << 20;

/// An initializer as read off the wire: what folding needs.
struct Constant<'a> {
    dims: Vec<i64>,
    data_type: i32,
    raw: Option<&'a [u8]>,
    int32_data: Vec<i64>,
    float_data: Vec<f32>,
    external: bool,
}

impl Constant<'_> {
    fn elements(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |a, &d| {
            usize::try_from(d).ok().and_then(|d| a.checked_mul(d))
        })
    }

    /// The values as f32 (integers exactly, halves widened); `None` for a type or layout not
    /// read (external data, a count that does not match the dimensions).
    fn values(&self) -> Option<Vec<f32>> {
        if self.external {
            return None;
        }
        let n = self.elements()?;
        if n > MAX_ELEMENTS {
            return None;
        }
        let half = crate::decode::models::f16_to_f32;
        let bf16 = |bits: u16| f32::from_bits(u32::from(bits) << 16);
        let v: Vec<f32> = match (self.raw, self.data_type) {
            (Some(r), data_type::FLOAT) => r
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            (Some(r), code::UINT8) => r.iter().map(|&b| f32::from(b)).collect(),
            (Some(r), code::INT8) => r.iter().map(|&b| f32::from(b as i8)).collect(),
            (Some(r), code::UINT16) => r
                .chunks_exact(2)
                .map(|c| f32::from(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            (Some(r), code::INT16) => r
                .chunks_exact(2)
                .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])))
                .collect(),
            (Some(r), code::INT32) => r
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            (Some(r), code::FLOAT16) => r
                .chunks_exact(2)
                .map(|c| half(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            (Some(r), code::BFLOAT16) => r
                .chunks_exact(2)
                .map(|c| bf16(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            // Two 4-bit values per byte, the first in the low nibble.
            (Some(r), code::UINT4 | code::INT4) => r
                .iter()
                .flat_map(|&b| [b & 0x0f, b >> 4])
                .take(n)
                .map(|q| {
                    if self.data_type == code::INT4 {
                        f32::from(((q << 4) as i8) >> 4)
                    } else {
                        f32::from(q)
                    }
                })
                .collect(),
            (None, data_type::FLOAT) => self.float_data.clone(),
            (None, code::FLOAT16) => self.int32_data.iter().map(|&b| half(b as u16)).collect(),
            (None, code::BFLOAT16) => self.int32_data.iter().map(|&b| bf16(b as u16)).collect(),
            (None, code::UINT8 | code::INT8 | code::UINT16 | code::INT16 | code::INT32) => self
                .int32_data
                .iter()
                .map(|&b| match self.data_type {
                    code::INT8 => f32::from(b as i8),
                    code::UINT8 => f32::from(b as u8),
                    code::INT16 => f32::from(b as i16),
                    code::UINT16 => f32::from(b as u16),
                    _ => b as i32 as f32,
                })
                .collect(),
            _ => return None,
        };
        (v.len() == n).then_some(v)
    }
}

/// An initializer's name alone (its values are not decoded).
fn constant_name(b: &[u8]) -> Result<String, ConvertError> {
    let mut r = Reader::new(b);
    let mut name = String::new();
    while let Some((f, v)) = r.next_field()? {
        if f == 8 {
            name = v.as_str(4096).unwrap_or_default();
        }
    }
    Ok(name)
}

fn read_constant(b: &[u8]) -> Result<(String, Constant<'_>), ConvertError> {
    let mut name = String::new();
    let mut c = Constant {
        dims: Vec::new(),
        data_type: 0,
        raw: None,
        int32_data: Vec::new(),
        float_data: Vec::new(),
        external: false,
    };
    let mut r = Reader::new(b);
    while let Some((f, v)) = r.next_field()? {
        match f {
            1 => crate::decode::models::protobuf::push_ints(v, &mut c.dims, 16)?,
            2 => c.data_type = v.as_u64().unwrap_or(0) as i32,
            4 => match v {
                Value::Fixed32(x) => c.float_data.push(f32::from_bits(x)),
                Value::Bytes(p) => c.float_data.extend(
                    p.chunks_exact(4)
                        .take(MAX_ELEMENTS)
                        .map(|q| f32::from_le_bytes([q[0], q[1], q[2], q[3]])),
                ),
                _ => {}
            },
            5 => crate::decode::models::protobuf::push_ints(v, &mut c.int32_data, MAX_ELEMENTS)?,
            8 => name = v.as_str(4096).unwrap_or_default(),
            9 => c.raw = v.as_bytes(),
            13 => c.external = true,
            14 => c.external |= v.as_u64() == Some(1),
            _ => {}
        }
    }
    Ok((name, c))
}

/// A node as read off the wire: what deciding to fold needs.
struct Node {
    op_type: String,
    domain: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    axis: i64,
    block_size: i64,
}

fn read_node(b: &[u8]) -> Result<Node, ConvertError> {
    let mut n = Node {
        op_type: String::new(),
        domain: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        axis: 1,
        block_size: 0,
    };
    let mut r = Reader::new(b);
    while let Some((f, v)) = r.next_field()? {
        match f {
            1 => n.inputs.push(v.as_str(4096).unwrap_or_default()),
            2 => n.outputs.push(v.as_str(4096).unwrap_or_default()),
            4 => n.op_type = v.as_str(128).unwrap_or_default(),
            7 => n.domain = v.as_str(128).unwrap_or_default(),
            5 => {
                let Some(a) = v.as_bytes() else { continue };
                let (mut name, mut i) = (String::new(), 0i64);
                let mut ar = Reader::new(a);
                while let Some((af, av)) = ar.next_field()? {
                    match af {
                        1 => name = av.as_str(64).unwrap_or_default(),
                        3 => i = av.as_u64().unwrap_or(0) as i64,
                        _ => {}
                    }
                }
                match name.as_str() {
                    "axis" => n.axis = i,
                    "block_size" => n.block_size = i,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(n)
}

/// `DequantizeLinear(x, scale, zero_point)` of constants, by the operator's definition; `None`
/// when the shapes do not fit any of its three layouts.
fn dequantize(
    x: &Constant<'_>,
    scale: &Constant<'_>,
    zero: Option<&Constant<'_>>,
    axis: i64,
    block_size: i64,
) -> Option<Vec<f32>> {
    let xv = x.values()?;
    let sv = scale.values()?;
    let zv = match zero {
        Some(z) => z.values()?,
        None => vec![0.0; sv.len()],
    };
    if zv.len() != sv.len() || sv.is_empty() {
        return None;
    }
    if sv.len() == 1 {
        return Some(xv.iter().map(|&q| (q - zv[0]) * sv[0]).collect());
    }
    let rank = x.dims.len() as i64;
    let axis = usize::try_from(if axis < 0 { axis + rank } else { axis }).ok()?;
    let dims: Vec<usize> = x.dims.iter().map(|&d| d as usize).collect();
    let along = *dims.get(axis)?;
    let inner: usize = dims[axis + 1..].iter().product();
    if block_size <= 0 {
        // Per axis: one scale per index along `axis`.
        if sv.len() != along {
            return None;
        }
        return Some(
            xv.iter()
                .enumerate()
                .map(|(i, &q)| {
                    let k = (i / inner.max(1)) % along;
                    (q - zv[k]) * sv[k]
                })
                .collect(),
        );
    }
    // Per block: the scale has x's shape with `axis` divided (rounding up) by the block size.
    let block = usize::try_from(block_size).ok()?;
    let blocks = along.div_ceil(block);
    let outer: usize = dims[..axis].iter().product();
    if scale.dims.len() != dims.len() || sv.len() != outer * blocks * inner {
        return None;
    }
    Some(
        xv.iter()
            .enumerate()
            .map(|(i, &q)| {
                let o = i / (along * inner).max(1);
                let a = (i / inner.max(1)) % along;
                let r = i % inner.max(1);
                let k = (o * blocks + a / block) * inner + r;
                (q - zv[k]) * sv[k]
            })
            .collect(),
    )
}

/// `model` (a serialized ONNX `ModelProto`) with every `DequantizeLinear` node whose inputs
/// are all initializers replaced by the float32 initializer it computes, and how many were
/// folded; `None` when there was none to fold (the model is run as it is). Nodes whose
/// constants are of a type or layout not read here are left for ONNX Runtime. Errors: a model
/// that is not protobuf, or past the probe's bound once folded.
pub fn fold_constant_dequantize(model: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ConvertError> {
    // Find the graph.
    let mut r = Reader::new(model);
    let mut graph = None;
    while let Some((f, v)) = r.next_field()? {
        if f == 7 {
            graph = v.as_bytes();
        }
    }
    let Some(graph) = graph else { return Ok(None) };
    // The nodes first: most graphs have no DequantizeLinear, and then no constant is read.
    let mut nodes = Vec::new();
    let mut g = Reader::new(graph);
    while let Some((f, v)) = g.next_field()? {
        if let (1, Value::Bytes(b)) = (f, v) {
            nodes.push(read_node(b)?);
        }
    }
    let wanted: std::collections::HashSet<&str> = nodes
        .iter()
        .filter(|n| n.op_type == "DequantizeLinear")
        .flat_map(|n| n.inputs.iter().map(String::as_str))
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    // Only the constants those nodes read.
    let mut constants = HashMap::new();
    let mut g = Reader::new(graph);
    while let Some((f, v)) = g.next_field()? {
        if let (5, Value::Bytes(b)) = (f, v) {
            if wanted.contains(constant_name(b)?.as_str()) {
                let (name, c) = read_constant(b)?;
                constants.insert(name, c);
            }
        }
    }
    let mut folded: Vec<TensorProto> = Vec::new();
    let mut fold = vec![false; nodes.len()];
    let mut bytes = 0usize;
    for (i, n) in nodes.iter().enumerate() {
        if n.op_type != "DequantizeLinear"
            || !(n.domain.is_empty() || n.domain == "ai.onnx")
            || n.outputs.len() != 1
        {
            continue;
        }
        let input = |k: usize| n.inputs.get(k).filter(|s| !s.is_empty());
        let (Some(x), Some(scale)) = (
            input(0).and_then(|s| constants.get(s)),
            input(1).and_then(|s| constants.get(s)),
        ) else {
            continue;
        };
        let zero = match input(2) {
            Some(s) => match constants.get(s) {
                Some(z) => Some(z),
                None => continue,
            },
            None => None,
        };
        let Some(values) = dequantize(x, scale, zero, n.axis, n.block_size) else {
            continue;
        };
        bytes = bytes.saturating_add(values.len() * 4);
        if bytes > super::builder::MAX_ONNX_BYTES {
            return Err(ConvertError::Graph(format!(
                "over {} MiB of float32 weights once dequantized",
                super::builder::MAX_ONNX_BYTES >> 20
            )));
        }
        folded.push(TensorProto {
            dims: x.dims.clone(),
            data_type: data_type::FLOAT,
            name: n.outputs[0].clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        fold[i] = true;
    }
    if folded.is_empty() {
        return Ok(None);
    }
    // Write the graph back: the folded nodes left out, their outputs added as initializers.
    let mut new_graph = Vec::with_capacity(graph.len() + bytes);
    let mut g = Reader::new(graph);
    let mut node_index = 0;
    while let Some((f, v)) = g.next_field()? {
        if f == 1 && matches!(v, Value::Bytes(_)) {
            node_index += 1;
            if fold[node_index - 1] {
                continue;
            }
        }
        encode::field(f, v, &mut new_graph);
    }
    for t in &folded {
        encode::field_bytes(5, &t.encode_to_vec(), &mut new_graph);
    }
    let mut out = Vec::with_capacity(model.len() + bytes);
    let mut r = Reader::new(model);
    while let Some((f, v)) = r.next_field()? {
        if f == 7 {
            encode::field_bytes(7, &new_graph, &mut out);
        } else {
            encode::field(f, v, &mut out);
        }
    }
    Ok(Some((out, folded.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(dims: &[i64], data_type: i32, raw: &'static [u8]) -> Constant<'static> {
        Constant {
            dims: dims.to_vec(),
            data_type,
            raw: Some(raw),
            int32_data: Vec::new(),
            float_data: Vec::new(),
            external: false,
        }
    }

    fn floats(dims: &[i64], v: &[f32]) -> Constant<'static> {
        Constant {
            dims: dims.to_vec(),
            data_type: data_type::FLOAT,
            raw: None,
            int32_data: Vec::new(),
            float_data: v.to_vec(),
            external: false,
        }
    }

    #[test]
    fn per_tensor_per_axis_and_per_block() {
        // x: 2 × 4 int8.
        let x = c(&[2, 4], code::INT8, &[1, 2, 3, 4, 0xff, 0xfe, 0xfd, 0xfc]);
        // Per tensor, with a uint8-style zero point.
        let s = floats(&[], &[0.5]);
        let z = c(&[], code::INT8, &[1]);
        assert_eq!(
            dequantize(&x, &s, Some(&z), 1, 0).unwrap(),
            vec![0.0, 0.5, 1.0, 1.5, -1.0, -1.5, -2.0, -2.5]
        );
        // Per axis 0: a scale per row.
        let s = floats(&[2], &[1.0, 2.0]);
        assert_eq!(
            dequantize(&x, &s, None, 0, 0).unwrap(),
            vec![1.0, 2.0, 3.0, 4.0, -2.0, -4.0, -6.0, -8.0]
        );
        // Per block of 2 along axis 1: scale 2 × 2.
        let s = floats(&[2, 2], &[1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(
            dequantize(&x, &s, None, 1, 2).unwrap(),
            vec![1.0, 2.0, 30.0, 40.0, -100.0, -200.0, -3000.0, -4000.0]
        );
        // A block size with a single scale (what ONNX Runtime refuses): per tensor.
        let s = floats(&[1], &[2.0]);
        assert_eq!(dequantize(&x, &s, None, 1, 8).unwrap()[0], 2.0);
        // Shapes that fit no layout are left alone.
        let s = floats(&[3], &[1.0, 2.0, 3.0]);
        assert!(dequantize(&x, &s, None, 1, 0).is_none());
    }

    #[test]
    fn int4_nibbles_low_first() {
        let x = c(&[3], code::INT4, &[0xf1, 0x07]);
        assert_eq!(x.values().unwrap(), vec![1.0, -1.0, 7.0]);
    }

    #[test]
    fn not_protobuf_is_an_error_and_no_graph_is_nothing() {
        assert!(fold_constant_dequantize(&[0xff, 0xff, 0xff]).is_err());
        assert!(fold_constant_dequantize(&[]).unwrap().is_none());
    }
}
