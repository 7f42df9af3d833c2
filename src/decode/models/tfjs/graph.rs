//! A TF.js graph model's whole graph, as the probe's converter needs it: the GraphDef nodes of
//! `model.json`'s `modelTopology` (TensorFlow's `NodeDef` in JSON: name, op, inputs, attrs) and
//! the weights of its `weightsManifest`, read from the `.bin` shards beside it. Shard layout
//! and quantization follow tfjs-converter's `io/types.ts` (`WeightsManifestEntry`): the shards
//! of a group are concatenated and the weights follow each other in manifest order; quantized
//! weights are `value = min + scale × q` (uint8, uint16) or IEEE half floats (float16).

use super::super::ModelError;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Nodes a graph may have.
pub const MAX_NODES: usize = 100_000;
/// Bytes of weight shards read.
pub const MAX_WEIGHT_BYTES: usize = 256 << 20;

fn bad(what: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid(format!("tfjs: {what}"))
}

/// One GraphDef node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Node name (outputs are `name` or `name:k`).
    pub name: String,
    /// TensorFlow op type (`Conv2D`, `_FusedConv2D`, ...).
    pub op: String,
    /// Data inputs (`node` or `node:k`); control inputs (`^node`) are dropped.
    pub inputs: Vec<String>,
    attr: Map<String, Value>,
}

/// A weight's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// float32 (dequantized if stored quantized).
    Float(Vec<f32>),
    /// int32 / int64 / bool.
    Int(Vec<i64>),
}

/// One weight of the manifest.
#[derive(Debug, Clone)]
pub struct Weight {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Values,
}

/// The graph: nodes in file order, weights by name, the input placeholder, the outputs.
#[derive(Debug)]
pub struct Graph {
    /// Nodes as listed (not necessarily in execution order).
    pub nodes: Vec<Node>,
    /// Weights by node name.
    pub weights: HashMap<String, Weight>,
    /// Output tensors from the signature (`node:k`), or empty.
    pub outputs: Vec<String>,
}

impl Node {
    /// A node from its parts; `attr` holds TensorFlow's `AttrValue`s in their JSON form
    /// (`{"i": "3"}`, `{"list": {"i": [...]}}`, `{"s": base64}`, `{"type": "DT_FLOAT"}`,
    /// `{"shape": {"dim": [{"size": "-1"}]}}`), as tfjs-converter writes them. Inputs starting
    /// with `^` (control inputs) are dropped.
    pub fn new(name: String, op: String, inputs: Vec<String>, attr: Map<String, Value>) -> Node {
        Node {
            name,
            op,
            inputs: inputs.into_iter().filter(|i| !i.starts_with('^')).collect(),
            attr,
        }
    }

    fn get(&self, k: &str) -> Option<&Value> {
        self.attr.get(k)
    }

    /// Every attribute, in tfjs-converter's JSON form (see [`Node::new`]).
    pub fn attrs(&self) -> &Map<String, Value> {
        &self.attr
    }
    /// An int attribute (`{"i": "3"}`).
    pub fn attr_i(&self, k: &str) -> Option<i64> {
        num(self.get(k)?.get("i")?)
    }
    /// A float attribute (`{"f": 0.2}`).
    pub fn attr_f(&self, k: &str) -> Option<f32> {
        self.get(k)?.get("f")?.as_f64().map(|f| f as f32)
    }
    /// A bool attribute (`{"b": true}`).
    pub fn attr_b(&self, k: &str) -> Option<bool> {
        self.get(k)?.get("b")?.as_bool()
    }
    /// A string attribute (`{"s": base64}`), decoded.
    pub fn attr_s(&self, k: &str) -> Option<String> {
        decode_s(self.get(k)?.get("s")?)
    }
    /// A type attribute (`{"type": "DT_FLOAT"}`).
    pub fn attr_type(&self, k: &str) -> Option<&str> {
        self.get(k)?.get("type")?.as_str()
    }
    /// A shape attribute (`{"shape": {"dim": [{"size": "-1"}, ...]}}`); -1 for unknown.
    pub fn attr_shape(&self, k: &str) -> Option<Vec<i64>> {
        let dims = self.get(k)?.get("shape")?.get("dim")?.as_array()?;
        Some(
            dims.iter()
                .take(16)
                .map(|d| d.get("size").and_then(num).unwrap_or(-1))
                .collect(),
        )
    }
    /// An int-list attribute (`{"list": {"i": ["1", "2"]}}`).
    pub fn attr_ints(&self, k: &str) -> Vec<i64> {
        self.get(k)
            .and_then(|v| v.get("list"))
            .and_then(|l| l.get("i"))
            .and_then(Value::as_array)
            .map(|a| a.iter().take(64).filter_map(num).collect())
            .unwrap_or_default()
    }
    /// A string-list attribute (`{"list": {"s": [base64...]}}`), decoded.
    pub fn attr_strs(&self, k: &str) -> Vec<String> {
        self.get(k)
            .and_then(|v| v.get("list"))
            .and_then(|l| l.get("s"))
            .and_then(Value::as_array)
            .map(|a| a.iter().take(16).filter_map(decode_s).collect())
            .unwrap_or_default()
    }
}

fn num(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

fn decode_s(v: &Value) -> Option<String> {
    let b = base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()?;
    String::from_utf8(b).ok()
}

/// Read a graph model. `sibling` fetches a shard named in the manifest (relative to the
/// model.json). Errors: not a graph model, a missing or short shard, sizes past the bounds.
pub fn read(bytes: &[u8], sibling: &dyn Fn(&str) -> Option<Vec<u8>>) -> Result<Graph, ModelError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let nodes_json = v
        .get("modelTopology")
        .and_then(|t| t.get("node"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("not a graph model (no modelTopology.node)"))?;
    if nodes_json.len() > MAX_NODES {
        return Err(ModelError::TooLarge(format!(
            "tfjs: {} nodes",
            nodes_json.len()
        )));
    }
    let mut nodes = Vec::with_capacity(nodes_json.len());
    for n in nodes_json {
        let name = n.get("name").and_then(Value::as_str).unwrap_or_default();
        let op = n.get("op").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() || op.is_empty() {
            return Err(bad("a node without name or op"));
        }
        nodes.push(Node {
            name: name.to_string(),
            op: op.to_string(),
            inputs: n
                .get("input")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter(|s| !s.starts_with('^'))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            attr: n
                .get("attr")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        });
    }
    let outputs = v
        .get("signature")
        .and_then(|s| s.get("outputs"))
        .and_then(Value::as_object)
        .map(|o| {
            o.values()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let groups = v
        .get("weightsManifest")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let weights = read_weights(groups, sibling)?;
    Ok(Graph {
        nodes,
        weights,
        outputs,
    })
}

/// A weights manifest alone (`*-weights_manifest.json`: a JSON array of groups, each with
/// `paths` and `weights`, as face-api.js and tfjs's `io.weightsLoaderFactory` read them): every
/// weight by name, dequantized to float32. Errors: not such an array, a missing or short
/// shard, sizes past the bounds.
pub fn read_manifest(
    bytes: &[u8],
    sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<HashMap<String, Weight>, ModelError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let groups = v
        .as_array()
        .filter(|g| g.iter().all(|g| g.get("weights").is_some()))
        .ok_or_else(|| bad("not a weights manifest (an array of weight groups)"))?;
    read_weights(groups, sibling)
}

/// The weights of manifest `groups`: each group's shards concatenated, its weights read in
/// order (tfjs-converter `io/types.ts`, `WeightsManifestEntry`).
fn read_weights(
    groups: &[Value],
    sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<HashMap<String, Weight>, ModelError> {
    let mut weights = HashMap::new();
    let mut total = 0usize;
    for group in groups {
        let mut data = Vec::new();
        for p in group
            .get("paths")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let shard = sibling(p).ok_or_else(|| bad(format!("weight shard {p} not found")))?;
            total = total.saturating_add(shard.len());
            if total > MAX_WEIGHT_BYTES {
                return Err(ModelError::TooLarge(format!(
                    "tfjs: over {} MiB of weights",
                    MAX_WEIGHT_BYTES >> 20
                )));
            }
            data.extend_from_slice(&shard);
        }
        let mut at = 0usize;
        for w in group
            .get("weights")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = w.get("name").and_then(Value::as_str).unwrap_or_default();
            let (weight, used) = weight(w, &data[at.min(data.len())..])
                .map_err(|m| bad(format!("weight {name}: {m}")))?;
            at += used;
            weights.insert(name.to_string(), weight);
        }
    }
    Ok(weights)
}

/// One manifest entry read from `data` (the rest of its group); returns it and the bytes used.
fn weight(w: &Value, data: &[u8]) -> Result<(Weight, usize), String> {
    let mut shape = Vec::new();
    let mut n: usize = 1;
    for d in w
        .get("shape")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(16)
    {
        let d = d
            .as_u64()
            .and_then(|d| usize::try_from(d).ok())
            .ok_or("bad shape")?;
        n = n
            .checked_mul(d)
            .filter(|&n| n <= MAX_WEIGHT_BYTES)
            .ok_or("shape too large")?;
        shape.push(d);
    }
    let dtype = w.get("dtype").and_then(Value::as_str).unwrap_or("float32");
    let q = w.get("quantization");
    let qtype = q.and_then(|q| q.get("dtype")).and_then(Value::as_str);
    let width = match (qtype, dtype) {
        (Some("uint8"), _) | (None, "bool") => 1,
        (Some("uint16"), _) | (Some("float16"), _) => 2,
        (Some(other), _) => return Err(format!("quantization {other}")),
        (None, "float32" | "int32") => 4,
        (None, other) => return Err(format!("dtype {other}")),
    };
    let len = n.checked_mul(width).ok_or("shape too large")?;
    let b = data
        .get(..len)
        .ok_or_else(|| format!("shards end before its {len} bytes"))?;
    let qf = |k: &str| {
        q.and_then(|q| q.get(k))
            .and_then(Value::as_f64)
            .unwrap_or(0.0) as f32
    };
    let values = match (qtype, dtype) {
        (Some("float16"), _) => Values::Float(
            b.chunks_exact(2)
                .map(|c| crate::decode::models::f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        (Some(qt), dt) => {
            let (min, scale) = (qf("min"), qf("scale"));
            let raw: Vec<f32> = if qt == "uint8" {
                b.iter().map(|&x| f32::from(x)).collect()
            } else {
                b.chunks_exact(2)
                    .map(|c| f32::from(u16::from_le_bytes([c[0], c[1]])))
                    .collect()
            };
            let real = raw.into_iter().map(|x| min + scale * x);
            if dt == "int32" {
                Values::Int(real.map(|x| x.round() as i64).collect())
            } else {
                Values::Float(real.collect())
            }
        }
        (None, "float32") => Values::Float(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        (None, "int32") => Values::Int(
            b.chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
        ),
        _ => Values::Int(b.iter().map(|&x| i64::from(x != 0)).collect()),
    };
    Ok((Weight { shape, values }, len))
}
