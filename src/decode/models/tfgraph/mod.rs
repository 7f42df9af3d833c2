//! TensorFlow `GraphDef` (frozen graph `.pb`) and SavedModel (`saved_model.pb`, protobuf):
//! `Placeholder` inputs with shapes, operator histogram, `Const` weight shapes, and the graph's
//! outputs (nodes no other node consumes). Field numbers from tensorflow/core/framework
//! (graph.proto, node_def.proto, attr_value.proto, tensor_shape.proto, tensor.proto) and
//! tensorflow/core/protobuf (saved_model.proto, meta_graph.proto).
//! Of a SavedModel only the first meta graph is read; the ops of its function library (where
//! TF2 keeps the real network) are counted into the histogram too.

use super::protobuf::{Reader, Value};
use super::{ModelError, ModelFormat, ModelInfo, TensorInfo, WeightInfo, MAX_WEIGHTS_LISTED};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Nodes examined per graph (library functions included); a real network has at most tens of
/// thousands.
const MAX_NODES: usize = 500_000;
const MAX_DIMS: usize = 16;
const MAX_TEXT: usize = 512;
const MAX_IO: usize = 1024;
const MAX_INPUTS_PER_NODE: usize = 1024;

/// Operators that never are a graph's real output even when nothing consumes them.
const NOT_OUTPUTS: &[&str] = &[
    "Const",
    "NoOp",
    "Placeholder",
    "PlaceholderWithDefault",
    "Assert",
    "SaveV2",
    "RestoreV2",
    "SaveSlices",
    "MergeV2Checkpoints",
    "VarHandleOp",
    "VariableV2",
    "Variable",
    "Assign",
    "AssignVariableOp",
    "ShardedFilename",
    "StringJoin",
];

/// TensorFlow `DataType` names (reference types, +100, named like their base type).
fn dtype_name(t: u64) -> &'static str {
    match t % 100 {
        1 => "float32",
        2 => "float64",
        3 => "int32",
        4 => "uint8",
        5 => "int16",
        6 => "int8",
        7 => "string",
        8 => "complex64",
        9 => "int64",
        10 => "bool",
        14 => "bfloat16",
        17 => "uint16",
        19 => "float16",
        20 => "resource",
        22 => "uint32",
        23 => "uint64",
        _ => "other",
    }
}

/// A plausible TensorFlow op name: an ASCII identifier of at most 64 characters.
fn plausible_op(op: &[u8]) -> bool {
    !op.is_empty()
        && op.len() <= 64
        && op.first().is_some_and(u8::is_ascii_alphabetic)
        && op.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Whether `n` is a whole `NodeDef` with a non-empty name and a plausible op.
fn plausible_node(n: &[u8]) -> bool {
    let mut r = Reader::new(n);
    let (mut name, mut op) = (false, false);
    for _ in 0..100_000 {
        match r.next_field() {
            Ok(Some((1, Value::Bytes(b)))) => name = !b.is_empty() && b.len() <= 4096,
            Ok(Some((2, Value::Bytes(b)))) => op = plausible_op(b),
            Ok(Some((3..=5, Value::Bytes(_)))) => {}
            Ok(Some((6 | 7, Value::Bytes(_)))) => {}
            Ok(None) => return name && op,
            _ => return false,
        }
    }
    false
}

/// Cheap content test: a `GraphDef` starts with a node (field 1, length-delimited) that reads as
/// a `NodeDef` with a name and a plausible op; a SavedModel starts with
/// `saved_model_schema_version` 1 (field 1, varint) followed by a meta graph (field 2). ONNX
/// files start with a varint field 1 (`ir_version`) followed by strings, never a meta graph.
pub fn looks_like(bytes: &[u8]) -> bool {
    let mut r = Reader::new(bytes);
    match r.next_field() {
        Ok(Some((1, Value::Bytes(n)))) => plausible_node(n),
        Ok(Some((1, Value::Varint(1)))) => match r.next_field() {
            Ok(Some((2, Value::Bytes(m)))) => plausible_meta_graph(m),
            _ => false,
        },
        _ => false,
    }
}

/// Whether `m` begins like a `MetaGraphDef`: a `MetaInfoDef` (1) whose fields read, or a
/// `GraphDef` (2) that starts with a plausible node.
fn plausible_meta_graph(m: &[u8]) -> bool {
    let mut r = Reader::new(m);
    match r.next_field() {
        Ok(Some((1, Value::Bytes(mi)))) => {
            let mut mr = Reader::new(mi);
            let mut fields = 0;
            loop {
                match mr.next_field() {
                    // meta_graph_version, stripped_op_list, any_info, tags, tensorflow_version,
                    // tensorflow_git_version, stripped_default_attrs, function_aliases
                    Ok(Some((1..=8, _))) => fields += 1,
                    Ok(None) => return fields > 0,
                    _ => return false,
                }
                if fields > 10_000 {
                    return false;
                }
            }
        }
        Ok(Some((2, Value::Bytes(g)))) => matches!(
            Reader::new(g).next_field(),
            Ok(Some((1, Value::Bytes(n)))) if plausible_node(n)
        ),
        _ => false,
    }
}

/// Parse a frozen `GraphDef` or a SavedModel.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let mut info = ModelInfo {
        format: Some(ModelFormat::TfGraph),
        ..Default::default()
    };
    let saved_model = matches!(
        Reader::new(bytes).next_field()?,
        Some((1, Value::Varint(_)))
    );
    let graph = if saved_model {
        read_saved_model(bytes, &mut info)?
    } else {
        bytes
    };
    parse_graph(graph, &mut info)?;
    Ok(info)
}

/// `SavedModel`: schema version (1), meta graphs (2). Returns the first meta graph's
/// `GraphDef` (`MetaGraphDef.graph_def`, 2) and records its tags and TF version.
fn read_saved_model<'a>(bytes: &'a [u8], info: &mut ModelInfo) -> Result<&'a [u8], ModelError> {
    let mut meta: Option<&[u8]> = None;
    let mut metas = 0usize;
    let mut r = Reader::new(bytes);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, Value::Varint(x)) => {
                info.facts
                    .insert("tfgraph.saved_model_schema".into(), x.to_string());
            }
            (2, Value::Bytes(m)) => {
                metas += 1;
                if meta.is_none() {
                    meta = Some(m);
                }
            }
            _ => {}
        }
    }
    let meta = meta.ok_or_else(|| ModelError::Invalid("SavedModel has no meta graph".into()))?;
    info.facts
        .insert("tfgraph.meta_graphs".into(), metas.to_string());
    if metas > 1 {
        info.notes.push(format!(
            "SavedModel has {metas} meta graphs; only the first is read"
        ));
    }
    let mut graph: Option<&[u8]> = None;
    let mut r = Reader::new(meta);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, Value::Bytes(mi)) => {
                // MetaInfoDef: meta_graph_version (1), tags (4), tensorflow_version (5)
                let mut tags: Vec<String> = Vec::new();
                let mut mr = Reader::new(mi);
                while let Some((f, v)) = mr.next_field()? {
                    match f {
                        1 => put(&mut info.metadata, "meta_graph_version", v),
                        4 if tags.len() < 16 => {
                            if let Some(t) = v.as_str(64) {
                                tags.push(t);
                            }
                        }
                        5 => put(&mut info.metadata, "tensorflow_version", v),
                        _ => {}
                    }
                }
                if !tags.is_empty() {
                    info.metadata
                        .insert("saved_model.tags".into(), tags.join(","));
                }
            }
            (2, Value::Bytes(g)) => graph = Some(g),
            _ => {}
        }
    }
    graph.ok_or_else(|| ModelError::Invalid("SavedModel meta graph has no graph_def".into()))
}

fn put(map: &mut BTreeMap<String, String>, key: &str, v: Value<'_>) {
    if let Some(s) = v.as_str(MAX_TEXT) {
        if !s.is_empty() {
            map.insert(key.into(), s);
        }
    }
}

/// The node a tensor reference names: `^ctrl` → `ctrl`, `conv/BiasAdd:1` → `conv/BiasAdd`.
fn node_of(input: &str) -> &str {
    let s = input.strip_prefix('^').unwrap_or(input);
    match s.rsplit_once(':') {
        Some((n, idx)) if !idx.is_empty() && idx.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => s,
    }
}

/// What is kept of one node after it is read.
struct Kept {
    name: String,
    op: String,
    dtype: Option<String>,
    output_shape: Option<Vec<Option<i64>>>,
}

fn parse_graph(g: &[u8], info: &mut ModelInfo) -> Result<(), ModelError> {
    let mut nodes = 0usize;
    let mut consumed: HashSet<String> = HashSet::new();
    let mut kept: Vec<Kept> = Vec::new();
    // For every node, its op and its first data input (the L2-normalisation check).
    let mut op_of: HashMap<String, String> = HashMap::new();
    let mut inputs_of: HashMap<String, Vec<String>> = HashMap::new();
    let mut l2_by_name = false;
    let mut library_functions = 0usize;
    let mut r = Reader::new(g);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, Value::Bytes(n)) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(ModelError::TooLarge(format!("more than {MAX_NODES} nodes")));
                }
                let node = parse_node(n)?;
                if node.name.to_ascii_lowercase().contains("l2_normalize") {
                    l2_by_name = true;
                }
                let c = info.ops.entry(node.op.clone()).or_insert(0);
                *c = c.saturating_add(1);
                for i in &node.inputs {
                    consumed.insert(node_of(i).to_string());
                }
                match node.op.as_str() {
                    "Placeholder" if info.inputs.len() < MAX_IO => info.inputs.push(TensorInfo {
                        name: node.name.clone(),
                        shape: node.shape.clone().unwrap_or_default(),
                        dtype: node.dtype.clone(),
                    }),
                    "Const" => {
                        if let Some(shape) = node.value_shape.as_ref().filter(|s| !s.is_empty()) {
                            info.count_params(&node.name, shape)?;
                            if info.weights.len() < MAX_WEIGHTS_LISTED {
                                info.weights.push(WeightInfo {
                                    name: node.name.clone(),
                                    shape: shape.clone(),
                                });
                            }
                        }
                    }
                    _ => {}
                }
                let data_inputs: Vec<String> = node
                    .inputs
                    .iter()
                    .filter(|i| !i.starts_with('^'))
                    .take(4)
                    .map(|i| node_of(i).to_string())
                    .collect();
                inputs_of.insert(node.name.clone(), data_inputs);
                op_of.insert(node.name.clone(), node.op.clone());
                if !NOT_OUTPUTS.contains(&node.op.as_str()) {
                    kept.push(Kept {
                        name: node.name,
                        op: node.op,
                        dtype: node.dtype,
                        output_shape: node.output_shape,
                    });
                }
            }
            (2, Value::Bytes(lib)) => {
                library_functions =
                    library_functions.saturating_add(count_library_ops(lib, info, &mut nodes)?);
            }
            (4, Value::Bytes(ver)) => {
                // VersionDef: producer (1), min_consumer (2)
                let mut vr = Reader::new(ver);
                while let Some((f, v)) = vr.next_field()? {
                    if let (1, Value::Varint(p)) = (f, v) {
                        info.facts.insert("tfgraph.producer".into(), p.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    if nodes == 0 {
        return Err(ModelError::Invalid("GraphDef has no nodes".into()));
    }
    let mut l2_structural = false;
    for k in kept.into_iter().filter(|k| !consumed.contains(&k.name)) {
        if info.outputs.len() >= MAX_IO {
            info.notes.push(format!(
                "more than {MAX_IO} unconsumed nodes; the rest not listed"
            ));
            break;
        }
        if ends_in_l2_normalize(&k.name, &op_of, &inputs_of) {
            l2_structural = true;
        }
        info.facts
            .insert(format!("tfgraph.output_op.{}", k.name), k.op);
        info.outputs.push(TensorInfo {
            name: k.name,
            shape: k.output_shape.unwrap_or_default(),
            dtype: k.dtype,
        });
    }
    info.facts.insert("tfgraph.nodes".into(), nodes.to_string());
    if library_functions > 0 {
        info.facts.insert(
            "tfgraph.library_functions".into(),
            library_functions.to_string(),
        );
    }
    if l2_by_name || l2_structural {
        info.facts
            .insert("tfgraph.l2_normalize".into(), "true".into());
    }
    Ok(())
}

/// Whether output `name` is `x * rsqrt(...)` (or `x / sqrt(...)`), the shape
/// `tf.nn.l2_normalize` compiles to, possibly behind one `Identity`.
fn ends_in_l2_normalize(
    name: &str,
    op_of: &HashMap<String, String>,
    inputs_of: &HashMap<String, Vec<String>>,
) -> bool {
    let mut cur = name;
    for _ in 0..2 {
        let op = op_of.get(cur).map(String::as_str).unwrap_or("");
        let ins = inputs_of.get(cur).map(Vec::as_slice).unwrap_or(&[]);
        let feeds = |want: &str| {
            ins.iter()
                .any(|i| op_of.get(i).map(String::as_str) == Some(want))
        };
        match op {
            "Mul" if feeds("Rsqrt") => return true,
            "RealDiv" | "Div" if feeds("Sqrt") || feeds("Maximum") => return true,
            "Identity" => match ins.first() {
                Some(i) => cur = i,
                None => return false,
            },
            _ => return false,
        }
    }
    false
}

/// `FunctionDefLibrary`: function (1) → `FunctionDef`: node_def (3). Counts the functions' ops
/// into the histogram (and their nodes into `nodes`); returns the number of functions.
fn count_library_ops(
    lib: &[u8],
    info: &mut ModelInfo,
    nodes: &mut usize,
) -> Result<usize, ModelError> {
    let mut functions = 0usize;
    let mut r = Reader::new(lib);
    while let Some((f, v)) = r.next_field()? {
        if let (1, Value::Bytes(func)) = (f, v) {
            functions += 1;
            let mut fr = Reader::new(func);
            while let Some((f, v)) = fr.next_field()? {
                if let (3, Value::Bytes(n)) = (f, v) {
                    *nodes += 1;
                    if *nodes > MAX_NODES {
                        return Err(ModelError::TooLarge(format!("more than {MAX_NODES} nodes")));
                    }
                    let node = parse_node(n)?;
                    let c = info.ops.entry(node.op).or_insert(0);
                    *c = c.saturating_add(1);
                }
            }
        }
    }
    Ok(functions)
}

/// One `NodeDef`, as much as banwatch keeps of it.
struct Node {
    name: String,
    op: String,
    inputs: Vec<String>,
    /// `dtype` attr (Placeholder, Const), else `T`.
    dtype: Option<String>,
    /// `shape` attr (Placeholder).
    shape: Option<Vec<Option<i64>>>,
    /// First of the `_output_shapes` attr.
    output_shape: Option<Vec<Option<i64>>>,
    /// Shape of the `value` attr's tensor (Const).
    value_shape: Option<Vec<i64>>,
}

/// `NodeDef`: name (1), op (2), input (3), device (4), attr (5, map entries key 1 / value 2).
fn parse_node(n: &[u8]) -> Result<Node, ModelError> {
    let mut node = Node {
        name: String::new(),
        op: String::new(),
        inputs: Vec::new(),
        dtype: None,
        shape: None,
        output_shape: None,
        value_shape: None,
    };
    let mut t_attr = None;
    let mut r = Reader::new(n);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (1, v) => node.name = v.as_str(MAX_TEXT).unwrap_or_default(),
            (2, v) => node.op = v.as_str(64).unwrap_or_default(),
            (3, v) => {
                if node.inputs.len() >= MAX_INPUTS_PER_NODE {
                    return Err(ModelError::TooLarge(format!(
                        "node has more than {MAX_INPUTS_PER_NODE} inputs"
                    )));
                }
                node.inputs.push(v.as_str(MAX_TEXT).unwrap_or_default());
            }
            (5, Value::Bytes(entry)) => {
                let mut key: Option<&[u8]> = None;
                let mut value: Option<&[u8]> = None;
                let mut er = Reader::new(entry);
                while let Some((f, v)) = er.next_field()? {
                    match (f, v) {
                        (1, Value::Bytes(k)) => key = Some(k),
                        (2, Value::Bytes(a)) => value = Some(a),
                        _ => {}
                    }
                }
                let Some(a) = value else { continue };
                match key.unwrap_or_default() {
                    b"dtype" => node.dtype = attr_type(a)?.map(|t| dtype_name(t).to_string()),
                    b"T" => t_attr = attr_type(a)?.map(|t| dtype_name(t).to_string()),
                    b"shape" => node.shape = attr_shape(a)?,
                    b"_output_shapes" => node.output_shape = attr_first_list_shape(a)?,
                    b"value" => node.value_shape = attr_tensor_shape(a)?,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if node.op.is_empty() {
        node.op = "?".into();
    }
    if node.dtype.is_none() {
        node.dtype = t_attr;
    }
    Ok(node)
}

/// `AttrValue.type` (6).
fn attr_type(a: &[u8]) -> Result<Option<u64>, ModelError> {
    let mut out = None;
    let mut r = Reader::new(a);
    while let Some((f, v)) = r.next_field()? {
        if let (6, Value::Varint(t)) = (f, v) {
            out = Some(t);
        }
    }
    Ok(out)
}

/// `AttrValue.shape` (7).
fn attr_shape(a: &[u8]) -> Result<Option<Vec<Option<i64>>>, ModelError> {
    let mut out = None;
    let mut r = Reader::new(a);
    while let Some((f, v)) = r.next_field()? {
        if let (7, Value::Bytes(s)) = (f, v) {
            out = Some(parse_shape(s)?);
        }
    }
    Ok(out)
}

/// `AttrValue.list` (1) → `ListValue.shape` (7): the first shape.
fn attr_first_list_shape(a: &[u8]) -> Result<Option<Vec<Option<i64>>>, ModelError> {
    let mut r = Reader::new(a);
    while let Some((f, v)) = r.next_field()? {
        if let (1, Value::Bytes(list)) = (f, v) {
            let mut lr = Reader::new(list);
            while let Some((f, v)) = lr.next_field()? {
                if let (7, Value::Bytes(s)) = (f, v) {
                    return Ok(Some(parse_shape(s)?));
                }
            }
        }
    }
    Ok(None)
}

/// `AttrValue.tensor` (8) → `TensorProto.tensor_shape` (2). A dynamic dimension (never in a
/// constant, but a file can say so) is kept as -1.
fn attr_tensor_shape(a: &[u8]) -> Result<Option<Vec<i64>>, ModelError> {
    let mut out = None;
    let mut r = Reader::new(a);
    while let Some((f, v)) = r.next_field()? {
        if let (8, Value::Bytes(t)) = (f, v) {
            let mut shape = Vec::new();
            let mut tr = Reader::new(t);
            while let Some((f, v)) = tr.next_field()? {
                if let (2, Value::Bytes(s)) = (f, v) {
                    shape = parse_shape(s)?
                        .into_iter()
                        .map(|d| d.unwrap_or(-1))
                        .collect();
                }
            }
            out = Some(shape);
        }
    }
    Ok(out)
}

/// `TensorShapeProto`: dim (2) → `Dim.size` (1, -1 unknown); unknown_rank (3) gives an empty
/// shape.
fn parse_shape(sh: &[u8]) -> Result<Vec<Option<i64>>, ModelError> {
    let mut dims = Vec::new();
    let mut unknown_rank = false;
    let mut r = Reader::new(sh);
    while let Some((f, v)) = r.next_field()? {
        match (f, v) {
            (2, Value::Bytes(d)) => {
                if dims.len() >= MAX_DIMS {
                    return Err(ModelError::TooLarge(format!("more than {MAX_DIMS} dims")));
                }
                let mut val = Some(0);
                let mut dr = Reader::new(d);
                while let Some((f, v)) = dr.next_field()? {
                    if let (1, Value::Varint(x)) = (f, v) {
                        let x = x as i64;
                        val = if x >= 0 { Some(x) } else { None };
                    }
                }
                dims.push(val);
            }
            (3, Value::Varint(u)) => unknown_rank = u != 0,
            _ => {}
        }
    }
    if unknown_rank {
        dims.clear();
    }
    Ok(dims)
}

pub mod nodes;

#[cfg(test)]
mod tests;
