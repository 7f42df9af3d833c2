//! A frozen TensorFlow `GraphDef` read whole, for the probe's converter: every `NodeDef` with
//! its attributes, and every `Const` node's tensor as a weight, in the form the TF.js graph
//! reader gives ([`tfjs::graph::Graph`]), so one converter serves both (a TF.js graph model is
//! the same GraphDef in JSON). Field numbers from tensorflow/core/framework (`node_def.proto`,
//! `attr_value.proto`, `tensor.proto`, `tensor_shape.proto`, `types.proto`).
//!
//! Only frozen graphs: a SavedModel keeps its weights in variable files beside it, which are
//! not read, so a graph reading variables is refused with that reason.

use super::super::protobuf::{Reader, Value as Pb};
use super::super::tfjs::graph::{Graph, Node, Values, Weight, MAX_NODES, MAX_WEIGHT_BYTES};
use super::super::ModelError;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

fn bad(what: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid(format!("tfgraph: {what}"))
}

/// `types.proto` names, for the `{"type": …}` attributes the converter compares.
fn dt_name(t: u64) -> &'static str {
    match t % 100 {
        1 => "DT_FLOAT",
        2 => "DT_DOUBLE",
        3 => "DT_INT32",
        4 => "DT_UINT8",
        5 => "DT_INT16",
        6 => "DT_INT8",
        7 => "DT_STRING",
        9 => "DT_INT64",
        10 => "DT_BOOL",
        19 => "DT_HALF",
        20 => "DT_RESOURCE",
        _ => "DT_OTHER",
    }
}

/// Read a frozen GraphDef's nodes and constants. Errors: not protobuf, too many nodes or
/// constant bytes, a graph that reads variables.
pub fn read(bytes: &[u8]) -> Result<Graph, ModelError> {
    // A SavedModel starts with its schema version (field 1, a varint).
    if matches!(Reader::new(bytes).next_field()?, Some((1, Pb::Varint(_)))) {
        return Err(ModelError::Unsupported(
            "tfgraph: a SavedModel keeps its weights in variables files beside it, not read".into(),
        ));
    }
    let mut nodes = Vec::new();
    let mut weights = HashMap::new();
    let mut total = 0usize;
    let mut r = Reader::new(bytes);
    while let Some((f, v)) = r.next_field()? {
        let (1, Pb::Bytes(n)) = (f, v) else { continue };
        if nodes.len() >= MAX_NODES {
            return Err(ModelError::TooLarge(format!(
                "tfgraph: over {MAX_NODES} nodes"
            )));
        }
        let (node, tensor) = node(n)?;
        if matches!(
            node.op.as_str(),
            "VariableV2" | "VarHandleOp" | "ReadVariableOp" | "Variable"
        ) {
            return Err(bad(format!(
                "node {} reads a variable: the weights are in files beside the graph, not read",
                node.name
            )));
        }
        if let (true, Some(t)) = (node.op == "Const", tensor) {
            let w = weight(t, MAX_WEIGHT_BYTES - total)?;
            total = total.saturating_add(match &w.values {
                Values::Float(v) => v.len() * 4,
                Values::Int(v) => v.len() * 8,
            });
            if total > MAX_WEIGHT_BYTES {
                return Err(ModelError::TooLarge(format!(
                    "tfgraph: over {} MiB of constants",
                    MAX_WEIGHT_BYTES >> 20
                )));
            }
            weights.insert(node.name.clone(), w);
        }
        nodes.push(node);
    }
    if nodes.is_empty() {
        return Err(bad("no nodes"));
    }
    Ok(Graph {
        nodes,
        weights,
        outputs: Vec::new(),
    })
}

/// One `NodeDef`: the node, and its `value` tensor (a `Const`'s).
fn node(n: &[u8]) -> Result<(Node, Option<&[u8]>), ModelError> {
    let (mut name, mut op, mut inputs) = (String::new(), String::new(), Vec::new());
    let mut attr = Map::new();
    let mut tensor = None;
    let mut r = Reader::new(n);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, v) => name = v.as_str(1024).unwrap_or_default(),
            (2, v) => op = v.as_str(128).unwrap_or_default(),
            (3, v) if inputs.len() < 4096 => inputs.push(v.as_str(1024).unwrap_or_default()),
            (5, Pb::Bytes(entry)) => {
                let (mut key, mut value) = (None, None);
                let mut er = Reader::new(entry);
                while let Some((f, v)) = er.next_field()? {
                    match (f, v) {
                        (1, v) => key = v.as_str(256),
                        (2, Pb::Bytes(a)) => value = Some(a),
                        _ => {}
                    }
                }
                let (Some(k), Some(a)) = (key, value) else {
                    continue;
                };
                if k == "value" {
                    tensor = attr_tensor(a)?;
                }
                if let Some(j) = attr_json(a)? {
                    attr.insert(k, j);
                }
            }
            _ => {}
        }
    }
    if name.is_empty() || op.is_empty() {
        return Err(bad("a node without name or op"));
    }
    Ok((Node::new(name, op, inputs, attr), tensor))
}

fn b64(b: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(b))
}

/// `AttrValue.tensor` (8).
fn attr_tensor(a: &[u8]) -> Result<Option<&[u8]>, ModelError> {
    let mut r = Reader::new(a);
    while let Some((f, v)) = r.next_field()? {
        if let (8, Pb::Bytes(t)) = (f, v) {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// Varints of a packed or repeated field's payload.
fn packed_varints(b: &[u8]) -> Result<Vec<u64>, ModelError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = *b.get(at).ok_or_else(|| bad("packed varint"))?;
            at += 1;
            if shift < 64 {
                v |= u64::from(byte & 0x7f) << shift;
            }
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
            if shift > 70 {
                return Err(bad("packed varint"));
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// An `AttrValue` in tfjs-converter's JSON form; `None` for kinds the converter never reads
/// (functions, placeholders, tensors: a `Const`'s tensor is read as a weight).
fn attr_json(a: &[u8]) -> Result<Option<Value>, ModelError> {
    let mut r = Reader::new(a);
    while let Some((f, v)) = r.next_field()? {
        let j = match (f, v) {
            (1, Pb::Bytes(list)) => {
                let (mut s, mut i, mut fl, mut b, mut ty, mut sh) =
                    (vec![], vec![], vec![], vec![], vec![], vec![]);
                let mut lr = Reader::new(list);
                while let Some((f, v)) = lr.next_field()? {
                    match (f, v) {
                        (2, Pb::Bytes(x)) => s.push(b64(x)),
                        (3, Pb::Bytes(p)) => i.extend(
                            packed_varints(p)?
                                .into_iter()
                                .map(|x| json!((x as i64).to_string())),
                        ),
                        (3, Pb::Varint(x)) => i.push(json!((x as i64).to_string())),
                        (4, Pb::Bytes(p)) => fl.extend(
                            p.chunks_exact(4)
                                .map(|c| json!(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
                        ),
                        (4, Pb::Fixed32(x)) => fl.push(json!(f32::from_bits(x))),
                        (5, Pb::Bytes(p)) => {
                            b.extend(packed_varints(p)?.into_iter().map(|x| json!(x != 0)))
                        }
                        (5, Pb::Varint(x)) => b.push(json!(x != 0)),
                        (6, Pb::Bytes(p)) => {
                            ty.extend(packed_varints(p)?.into_iter().map(|x| json!(dt_name(x))))
                        }
                        (6, Pb::Varint(x)) => ty.push(json!(dt_name(x))),
                        (7, Pb::Bytes(x)) => sh.push(shape_json(x)?),
                        _ => {}
                    }
                }
                let mut m = Map::new();
                for (k, v) in [
                    ("s", s),
                    ("i", i),
                    ("f", fl),
                    ("b", b),
                    ("type", ty),
                    ("shape", sh),
                ] {
                    if !v.is_empty() {
                        m.insert(k.into(), Value::Array(v));
                    }
                }
                json!({ "list": m })
            }
            (2, Pb::Bytes(x)) => json!({ "s": b64(x) }),
            (3, Pb::Varint(x)) => json!({ "i": (x as i64).to_string() }),
            (4, Pb::Fixed32(x)) => json!({ "f": f32::from_bits(x) }),
            (5, Pb::Varint(x)) => json!({ "b": x != 0 }),
            (6, Pb::Varint(x)) => json!({ "type": dt_name(x) }),
            (7, Pb::Bytes(x)) => json!({ "shape": shape_json(x)? }),
            _ => continue,
        };
        return Ok(Some(j));
    }
    Ok(None)
}

/// `TensorShapeProto` as `{"dim": [{"size": "n"}, …]}` (-1 unknown).
fn shape_json(sh: &[u8]) -> Result<Value, ModelError> {
    let mut dims = Vec::new();
    let mut r = Reader::new(sh);
    while let Some((f, v)) = r.next_field()? {
        if let (2, Pb::Bytes(d)) = (f, v) {
            let mut size = 0i64;
            let mut dr = Reader::new(d);
            while let Some((f, v)) = dr.next_field()? {
                if let (1, Pb::Varint(x)) = (f, v) {
                    size = x as i64;
                }
            }
            if dims.len() < 16 {
                dims.push(json!({ "size": size.to_string() }));
            }
        }
    }
    Ok(json!({ "dim": dims }))
}

/// A `TensorProto` as a weight: its shape and values (from `tensor_content`, or the typed
/// value lists, a short list repeated to fill the shape as TensorFlow does). Errors: a shape
/// whose values would take more than `budget` bytes (so a one-value splat cannot ask for
/// gigabytes), values that do not fill the shape.
fn weight(t: &[u8], budget: usize) -> Result<Weight, ModelError> {
    let mut dtype = 1u64;
    let mut shape: Vec<usize> = Vec::new();
    let mut content: Option<&[u8]> = None;
    let (mut floats, mut ints) = (Vec::<f32>::new(), Vec::<i64>::new());
    let mut r = Reader::new(t);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, Pb::Varint(x)) => dtype = x,
            (2, Pb::Bytes(s)) => {
                let dims = shape_json(s)?;
                shape = dims["dim"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        d["size"]
                            .as_str()
                            .and_then(|s| s.parse::<usize>().ok())
                            .ok_or_else(|| bad("a constant of unknown shape"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            (4, Pb::Bytes(c)) => content = Some(c),
            (5, Pb::Bytes(p)) => floats.extend(
                p.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            (5, Pb::Fixed32(x)) => floats.push(f32::from_bits(x)),
            // half_val (13): float16 bits in int32s.
            (13, Pb::Bytes(p)) => floats.extend(
                packed_varints(p)?
                    .into_iter()
                    .map(|x| crate::decode::models::f16_to_f32(x as u16)),
            ),
            (7 | 10 | 11, Pb::Bytes(p)) => ints.extend(packed_varints(p)?.into_iter().map(|x| {
                if f == 7 {
                    i64::from(x as i32)
                } else {
                    x as i64
                }
            })),
            (7 | 10 | 11, Pb::Varint(x)) => ints.push(if f == 7 {
                i64::from(x as i32)
            } else {
                x as i64
            }),
            _ => {}
        }
    }
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n.saturating_mul(8) <= budget)
        .ok_or_else(|| {
            ModelError::TooLarge(format!(
                "tfgraph: a constant of shape {shape:?}, past the {} MiB of constants read",
                MAX_WEIGHT_BYTES >> 20
            ))
        })?;
    let float = matches!(dtype % 100, 1 | 2 | 19);
    let values = match content {
        Some(c) => {
            let le4 = |c: &[u8]| [c[0], c[1], c[2], c[3]];
            match dtype % 100 {
                1 => Values::Float(
                    c.chunks_exact(4)
                        .map(|x| f32::from_le_bytes(le4(x)))
                        .collect(),
                ),
                2 => Values::Float(
                    c.chunks_exact(8)
                        .map(|x| f64::from_le_bytes(x.try_into().unwrap_or([0; 8])) as f32)
                        .collect(),
                ),
                19 => Values::Float(
                    c.chunks_exact(2)
                        .map(|x| {
                            crate::decode::models::f16_to_f32(u16::from_le_bytes([x[0], x[1]]))
                        })
                        .collect(),
                ),
                3 => Values::Int(
                    c.chunks_exact(4)
                        .map(|x| i64::from(i32::from_le_bytes(le4(x))))
                        .collect(),
                ),
                9 => Values::Int(
                    c.chunks_exact(8)
                        .map(|x| i64::from_le_bytes(x.try_into().unwrap_or([0; 8])))
                        .collect(),
                ),
                4 | 10 => Values::Int(c.iter().map(|&x| i64::from(x)).collect()),
                6 => Values::Int(c.iter().map(|&x| i64::from(x as i8)).collect()),
                other => return Err(bad(format!("a constant of type {}", dt_name(other)))),
            }
        }
        None if float => Values::Float(fill(floats, n)),
        None => Values::Int(fill(ints, n)),
    };
    let got = match &values {
        Values::Float(v) => v.len(),
        Values::Int(v) => v.len(),
    };
    if got != n {
        return Err(bad(format!(
            "a constant of shape {shape:?} holds {got} values"
        )));
    }
    Ok(Weight { shape, values })
}

/// A value list TensorFlow shortens (a splat: the last value repeated) grown to `n`.
fn fill<T: Clone>(mut v: Vec<T>, n: usize) -> Vec<T> {
    if let Some(last) = v.last().cloned() {
        if v.len() < n {
            v.resize(n, last);
        }
    }
    v
}
