//! ONNX (`ModelProto`, protobuf): graph inputs/outputs with shapes, operator histogram, initializer
//! shapes, producer and metadata. Field numbers from onnx/onnx.proto (IR version 3..10).
//! Subgraphs of `If`/`Loop` nodes are not descended into (their ops are counted as the node).

use super::protobuf::{push_ints, Reader, Value};
use super::{ModelError, ModelFormat, ModelInfo, TensorInfo, WeightInfo, MAX_WEIGHTS_LISTED};
use std::collections::{BTreeMap, HashSet};

/// Nodes examined per graph; a real network has at most tens of thousands.
const MAX_NODES: usize = 500_000;
const MAX_DIMS: usize = 16;
const MAX_TEXT: usize = 512;
const MAX_IO: usize = 1024;

/// ONNX `TensorProto.DataType` names.
fn elem_type_name(t: u64) -> &'static str {
    match t {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "other",
    }
}

/// Cheap content test: a ModelProto starts with `ir_version` (field 1, varint) and contains a
/// graph (field 7). Used by the sniffer before a full parse.
pub fn looks_like(bytes: &[u8]) -> bool {
    let mut r = Reader::new(bytes);
    let mut saw_ir = false;
    for _ in 0..16 {
        match r.next_field() {
            Ok(Some((1, Value::Varint(v)))) if (1..=20).contains(&v) => saw_ir = true,
            Ok(Some((7, Value::Bytes(_)))) => return saw_ir,
            Ok(Some((2..=6 | 8 | 14 | 20 | 25, _))) => {}
            _ => return false,
        }
    }
    false
}

/// Parse an ONNX model.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let mut info = ModelInfo {
        format: Some(ModelFormat::Onnx),
        ..Default::default()
    };
    let mut graph: Option<&[u8]> = None;
    let mut r = Reader::new(bytes);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, Value::Varint(x)) => {
                info.facts.insert("onnx.ir_version".into(), x.to_string());
            }
            (2, v) => put(&mut info.metadata, "producer_name", v),
            (3, v) => put(&mut info.metadata, "producer_version", v),
            (4, v) => put(&mut info.metadata, "domain", v),
            (6, v) => put(&mut info.metadata, "doc_string", v),
            (7, Value::Bytes(g)) => graph = Some(g),
            (8, Value::Bytes(op)) => {
                // OperatorSetIdProto: 1 domain, 2 version
                let mut dom = String::new();
                let mut ver = 0;
                let mut o = Reader::new(op);
                while let Some((f, v)) = o.next_field()? {
                    match f {
                        1 => dom = v.as_str(64).unwrap_or_default(),
                        2 => ver = v.as_u64().unwrap_or(0),
                        _ => {}
                    }
                }
                let key = if dom.is_empty() || dom == "ai.onnx" {
                    "onnx.opset".to_string()
                } else {
                    format!("onnx.opset.{dom}")
                };
                info.facts.insert(key, ver.to_string());
            }
            (14, Value::Bytes(kv)) => {
                let (mut k, mut val) = (String::new(), String::new());
                let mut o = Reader::new(kv);
                while let Some((f, v)) = o.next_field()? {
                    match f {
                        1 => k = v.as_str(64).unwrap_or_default(),
                        2 => val = v.as_str(MAX_TEXT).unwrap_or_default(),
                        _ => {}
                    }
                }
                if info.metadata.len() < 64 && !k.is_empty() {
                    info.metadata.insert(format!("meta.{k}"), val);
                }
            }
            _ => {}
        }
    }
    let graph = graph.ok_or_else(|| ModelError::Invalid("ONNX ModelProto has no graph".into()))?;
    parse_graph(graph, &mut info)?;
    if info.inputs.is_empty() && info.outputs.is_empty() {
        return Err(ModelError::Invalid(
            "ONNX graph has no inputs or outputs".into(),
        ));
    }
    Ok(info)
}

fn put(map: &mut BTreeMap<String, String>, key: &str, v: Value<'_>) {
    if let Some(s) = v.as_str(MAX_TEXT) {
        if !s.is_empty() {
            map.insert(key.into(), s);
        }
    }
}

fn parse_graph(g: &[u8], info: &mut ModelInfo) -> Result<(), ModelError> {
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut init_names: HashSet<String> = HashSet::new();
    let mut producer_of: BTreeMap<String, String> = BTreeMap::new();
    let mut nodes = 0usize;
    // Small int64 tensors (initializers and `Constant` outputs) by name, and the names of the
    // tensors that give `ConstantOfShape`/`Expand` their output shape.
    let mut shapes: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut shaped_by: Vec<String> = Vec::new();
    let mut r = Reader::new(g);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, Value::Bytes(n)) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(ModelError::TooLarge(format!("more than {MAX_NODES} nodes")));
                }
                let node = parse_node(n)?;
                if let (Some(values), Some(out)) = (&node.constant, node.outputs.first()) {
                    shapes.insert(out.clone(), values.clone());
                }
                if let Some(shape) = node
                    .shape_input()
                    .and_then(|i| node.inputs.get(i))
                    .filter(|n| !n.is_empty())
                {
                    shaped_by.push(shape.clone());
                }
                let op = node.op;
                for o in node.outputs {
                    if producer_of.len() < MAX_NODES {
                        producer_of.insert(o, op.clone());
                    }
                }
                let c = info.ops.entry(op).or_insert(0);
                *c = c.saturating_add(1);
            }
            (2, v) => put(&mut info.metadata, "graph_name", v),
            (10, v) => put(&mut info.metadata, "graph_doc_string", v),
            (5, Value::Bytes(t)) => {
                let (w, values) = parse_initializer(t)?;
                if let Some(values) = values {
                    shapes.insert(w.name.clone(), values);
                }
                info.count_params(&w.name, &w.shape)?;
                init_names.insert(w.name.clone());
                if info.weights.len() < MAX_WEIGHTS_LISTED {
                    info.weights.push(w);
                }
            }
            (11, Value::Bytes(vi)) if inputs.len() < MAX_IO => inputs.push(parse_value_info(vi)?),
            (12, Value::Bytes(vi)) if outputs.len() < MAX_IO => outputs.push(parse_value_info(vi)?),
            _ => {}
        }
    }
    // Before IR 4 initializers were also listed as graph inputs; they are not real inputs.
    info.inputs = inputs
        .into_iter()
        .filter(|i: &TensorInfo| !init_names.contains(&i.name))
        .collect();
    for o in &outputs {
        if let Some(op) = producer_of.get(&o.name) {
            info.facts
                .insert(format!("onnx.output_op.{}", o.name), op.clone());
        }
    }
    info.outputs = outputs;
    info.facts.insert("onnx.nodes".into(), nodes.to_string());
    let largest = shaped_by
        .iter()
        .filter_map(|name| shapes.get(name))
        .map(|dims| elements(dims))
        .max();
    if let Some(n) = largest {
        info.facts.insert(CONSTANT_SHAPE_FACT.into(), n.to_string());
    }
    Ok(())
}

/// Fact: the most elements any `ConstantOfShape` or `Expand` with a constant shape asks for
/// (saturating; a negative dimension counts as 0). A runtime allocates at least this many
/// elements when it runs the graph, so the probe refuses absurd values before running.
pub const CONSTANT_SHAPE_FACT: &str = "onnx.largest_constant_shape";

/// Product of dimensions, saturating at `u64::MAX`.
fn elements(dims: &[i64]) -> u64 {
    dims.iter()
        .map(|&d| d.max(0) as u64)
        .fold(1u64, |a, d| a.saturating_mul(d))
}

/// One `NodeProto`: operator (domain-qualified outside the default domain), inputs, outputs,
/// and for a `Constant` node a small int64 value.
struct Node {
    op: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    constant: Option<Vec<i64>>,
}

impl Node {
    /// Which input gives this operator its output shape outright (ONNX operator spec:
    /// `ConstantOfShape(input)`, `Expand(input, shape)`).
    fn shape_input(&self) -> Option<usize> {
        match self.op.as_str() {
            "ConstantOfShape" => Some(0),
            "Expand" => Some(1),
            _ => None,
        }
    }
}

/// `NodeProto`: input (1), output (2), op_type (4), attribute (5), domain (7).
fn parse_node(n: &[u8]) -> Result<Node, ModelError> {
    let mut op = String::new();
    let mut domain = String::new();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut value = None;
    let mut r = Reader::new(n);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, v) if inputs.len() < 64 => inputs.push(v.as_str(MAX_TEXT).unwrap_or_default()),
            (2, v) if outputs.len() < 64 => outputs.push(v.as_str(MAX_TEXT).unwrap_or_default()),
            (4, v) => op = v.as_str(64).unwrap_or_default(),
            (5, Value::Bytes(a)) => {
                // AttributeProto: name (1), t (5). `Constant` keeps its tensor in `value`.
                let mut ar = Reader::new(a);
                let (mut name, mut tensor) = (String::new(), None);
                while let Some((f, v)) = ar.next_field()? {
                    match (f, v) {
                        (1, v) => name = v.as_str(64).unwrap_or_default(),
                        (5, Value::Bytes(t)) => tensor = Some(t),
                        _ => {}
                    }
                }
                if let (true, Some(t)) = (name == "value", tensor) {
                    value = parse_initializer(t)?.1;
                }
            }
            (7, v) => domain = v.as_str(64).unwrap_or_default(),
            _ => {}
        }
    }
    let constant = if op == "Constant" && domain.is_empty() {
        value
    } else {
        None
    };
    if !domain.is_empty() && domain != "ai.onnx" {
        op = format!("{domain}::{op}");
    }
    if op.is_empty() {
        op = "?".into();
    }
    Ok(Node {
        op,
        inputs,
        outputs,
        constant,
    })
}

/// Most values kept of a small int64 tensor (a shape has at most [`MAX_DIMS`] dimensions).
const MAX_SMALL_VALUES: usize = MAX_DIMS;

/// `TensorProto`: dims (1), data_type (2), int64_data (7), name (8), raw_data (9,
/// little-endian). Returns the weight's name and shape, and the values when the tensor is
/// int64 with at most [`MAX_SMALL_VALUES`] elements.
fn parse_initializer(t: &[u8]) -> Result<(WeightInfo, Option<Vec<i64>>), ModelError> {
    let mut shape = Vec::new();
    let mut name = String::new();
    let mut data_type = 0u64;
    let mut ints = Vec::new();
    let mut raw: Option<&[u8]> = None;
    let mut r = Reader::new(t);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, v) => push_ints(v, &mut shape, MAX_DIMS)?,
            (2, Value::Varint(d)) => data_type = d,
            (7, v) => push_ints(v, &mut ints, MAX_SMALL_VALUES + 1)?,
            (8, v) => name = v.as_str(MAX_TEXT).unwrap_or_default(),
            (9, Value::Bytes(b)) => raw = Some(b),
            _ => {}
        }
    }
    let values = match (data_type, raw) {
        (7, Some(b)) if b.len() % 8 == 0 && b.len() / 8 <= MAX_SMALL_VALUES => Some(
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
        (7, None) if ints.len() <= MAX_SMALL_VALUES => Some(ints),
        _ => None,
    };
    Ok((WeightInfo { name, shape }, values))
}

fn parse_value_info(vi: &[u8]) -> Result<TensorInfo, ModelError> {
    let mut t = TensorInfo {
        name: String::new(),
        shape: Vec::new(),
        dtype: None,
    };
    let mut r = Reader::new(vi);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, v) => t.name = v.as_str(MAX_TEXT).unwrap_or_default(),
            (2, Value::Bytes(tp)) => {
                // TypeProto.tensor_type (1): elem_type (1), shape (2)
                let mut tr = Reader::new(tp);
                while let Some((f, v)) = tr.next_field()? {
                    if let (1, Value::Bytes(tt)) = (f, v) {
                        let mut ttr = Reader::new(tt);
                        while let Some((f, v)) = ttr.next_field()? {
                            match (f, v) {
                                (1, Value::Varint(e)) => {
                                    t.dtype = Some(elem_type_name(e).to_string())
                                }
                                (2, Value::Bytes(sh)) => t.shape = parse_shape(sh)?,
                                _ => {}
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(t)
}

fn parse_shape(sh: &[u8]) -> Result<Vec<Option<i64>>, ModelError> {
    let mut dims = Vec::new();
    let mut r = Reader::new(sh);
    while let Some((f, v)) = r.next_field()? {
        if let (1, Value::Bytes(d)) = (f, v) {
            if dims.len() >= MAX_DIMS {
                return Err(ModelError::TooLarge(format!("more than {MAX_DIMS} dims")));
            }
            let mut val = None;
            let mut dr = Reader::new(d);
            while let Some((f, v)) = dr.next_field()? {
                if let (1, Value::Varint(x)) = (f, v) {
                    let x = x as i64;
                    val = if x > 0 { Some(x) } else { None };
                }
            }
            dims.push(val);
        }
    }
    Ok(dims)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::decode::models::protobuf::encode::{field_bytes, field_varint};
    fn value_info(name: &str, dims: &[i64]) -> Vec<u8> {
        let mut shape = vec![];
        for &d in dims {
            let mut dim = vec![];
            if d > 0 {
                field_varint(1, d as u64, &mut dim);
            } else {
                field_bytes(2, b"N", &mut dim);
            }
            field_bytes(1, &dim, &mut shape);
        }
        let mut tt = vec![];
        field_varint(1, 1, &mut tt);
        field_bytes(2, &shape, &mut tt);
        let mut tp = vec![];
        field_bytes(1, &tt, &mut tp);
        let mut vi = vec![];
        field_bytes(1, name.as_bytes(), &mut vi);
        field_bytes(2, &tp, &mut vi);
        vi
    }

    /// A tiny hand-built ModelProto: `Conv` + `Gemm`, input 1x3x112x112, output Nx512.
    pub(crate) fn tiny_model(input: &[i64], output: &[i64]) -> Vec<u8> {
        let mut g = vec![];
        for op in ["Conv", "Gemm"] {
            let mut n = vec![];
            field_bytes(1, b"x", &mut n);
            field_bytes(2, if op == "Gemm" { b"y" } else { b"h" }, &mut n);
            field_bytes(4, op.as_bytes(), &mut n);
            field_bytes(1, &n, &mut g);
        }
        let mut init = vec![];
        field_bytes(1, &[0x40, 0x80, 0x04], &mut init); // packed dims 64, 512
        field_bytes(8, b"w", &mut init);
        field_bytes(5, &init, &mut g);
        field_bytes(11, &value_info("x", input), &mut g);
        field_bytes(12, &value_info("y", output), &mut g);
        let mut m = vec![];
        field_varint(1, 7, &mut m);
        field_bytes(2, b"pytorch", &mut m);
        field_bytes(7, &g, &mut m);
        m
    }

    #[test]
    fn parses_hand_built_model() {
        let m = tiny_model(&[1, 3, 112, 112], &[0, 512]);
        assert!(looks_like(&m));
        let info = parse(&m).unwrap();
        assert_eq!(
            info.inputs[0].shape,
            vec![Some(1), Some(3), Some(112), Some(112)]
        );
        assert_eq!(info.outputs[0].shape, vec![None, Some(512)]);
        assert_eq!(info.ops.get("Conv"), Some(&1));
        assert_eq!(info.weights[0].shape, vec![64, 512]);
        assert_eq!(info.params, 64 * 512);
        assert_eq!(
            info.metadata.get("producer_name").map(String::as_str),
            Some("pytorch")
        );
        assert_eq!(
            info.facts.get("onnx.output_op.y").map(String::as_str),
            Some("Gemm")
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let m = tiny_model(&[1, 3, 112, 112], &[1, 512]);
        for n in 0..m.len() {
            let _ = parse(&m[..n]);
        }
        assert!(parse(&[]).is_err());
        assert!(!looks_like(b"PK\x03\x04 not onnx"));
    }
}
