//! TF.js graph models → ONNX. The graph is TensorFlow's GraphDef (NodeDef op names and attrs
//! as in `tensorflow/core/ops/`, plus tfjs-converter's fused ops `_FusedConv2D`,
//! `FusedDepthwiseConv2dNative` and `_FusedMatMul`, whose `fused_ops` list a bias add and an
//! activation). NHWC data layout only; weights come from the manifest, dequantized.

use super::builder::{permute, Attr, Builder};
use super::nhwc::{hwio_to_oihw, Activation, Conv2d, ResizeTo, SliceMasks};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::tfjs::graph::{self, Graph, Node, Values, Weight};
use std::collections::{HashMap, HashSet};

pub mod faceapi;
mod layers;
mod operators;

/// Convert a graph model (`model.json` bytes; shards through `sibling`), or a weights manifest
/// alone whose weights are one of face-api.js's networks ([`faceapi`]).
pub fn convert(
    bytes: &[u8],
    sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<(Vec<u8>, String), ConvertError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return faceapi::convert(&graph::read_manifest(bytes, sibling)?);
    }
    from_graph(&graph::read(bytes, sibling)?, "TF.js")
}

/// Convert a TensorFlow graph already read (a TF.js graph model's, or a frozen GraphDef's:
/// [`crate::decode::models::tfgraph::nodes`]); `from` names the format in the note.
pub fn from_graph(g: &Graph, from: &str) -> Result<(Vec<u8>, String), ConvertError> {
    let order = topological(g)?;
    let mut c = Converter {
        g,
        b: Builder::default(),
        values: HashMap::new(),
        nodes: g.nodes.iter().map(|n| (n.name.as_str(), n)).collect(),
    };
    let placeholders: Vec<&Node> = g.nodes.iter().filter(|n| n.op == "Placeholder").collect();
    let [input] = placeholders[..] else {
        return Err(ConvertError::Graph(format!(
            "{} placeholders; the probe feeds one image",
            placeholders.len()
        )));
    };
    let shape = input
        .attr_shape("shape")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ConvertError::Graph("the input has no shape".into()))?;
    c.b.io(false, "input", data_type::FLOAT, Some(&shape));
    c.values.insert(input.name.clone(), "input".into());
    let mut outputs = if g.outputs.is_empty() {
        sinks(g)
    } else {
        g.outputs.clone()
    };
    // Nodes left out as post-processing (by name), and why the first was.
    let mut tail = super::Tail::default();
    let mut cut: HashSet<&str> = HashSet::new();
    let mut ops = 0;
    for &i in &order {
        let n = &g.nodes[i];
        if n.op == "Placeholder" || n.op == "Const" {
            continue;
        }
        ops += 1;
        // A node that reads what was left out is left out too.
        let tried = (!n.inputs.iter().any(|i| cut.contains(node_of(i)))).then(|| c.node(n));
        let left_out = tail.outcome(tried, || format!("node {} ({})", n.name, n.op))?;
        if left_out {
            cut.insert(n.name.as_str());
            // What the left-out node read, where converted and float: the probe reads it.
            for input in &n.inputs {
                let from = c.nodes.get(node_of(input));
                let float = from.is_some_and(|f| {
                    f.op != "Const"
                        && f.op != "Placeholder"
                        && f.attr_type("T") == Some("DT_FLOAT")
                        && c.values
                            .contains_key(input.strip_suffix(":0").unwrap_or(input))
                });
                if float && !outputs.contains(input) {
                    outputs.push(input.clone());
                }
            }
        }
    }
    outputs.retain(|o| !cut.contains(node_of(o)));
    tail.check(ops, outputs.is_empty())?;
    for o in &outputs {
        let v = c.value(o)?;
        c.b.io(true, &v, data_type::FLOAT, None);
    }
    let nodes = c.b.node_count();
    Ok((
        c.b.finish("banwatch tfjs converter"),
        format!(
            "converted from {from} ({} nodes → {nodes} ONNX nodes{})",
            g.nodes.len(),
            tail.note().map(|n| format!("; {n}")).unwrap_or_default()
        ),
    ))
}

/// `name` of `name:k`.
fn node_of(input: &str) -> &str {
    match input.rsplit_once(':') {
        Some((n, k)) if k.chars().all(|c| c.is_ascii_digit()) => n,
        _ => input,
    }
}

/// Node indices in an order where every input comes first. Errors on a cycle or an input
/// naming no node.
fn topological(g: &Graph) -> Result<Vec<usize>, ConvertError> {
    let index: HashMap<&str, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    // 0 unvisited, 1 on the stack, 2 done.
    let mut state = vec![0u8; g.nodes.len()];
    let mut order = Vec::with_capacity(g.nodes.len());
    for start in 0..g.nodes.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(&mut (i, ref mut next)) = stack.last_mut() {
            if let Some(input) = g.nodes[i].inputs.get(*next) {
                *next += 1;
                let j = *index
                    .get(node_of(input))
                    .ok_or_else(|| ConvertError::Graph(format!("input {input} names no node")))?;
                match state[j] {
                    0 => {
                        state[j] = 1;
                        stack.push((j, 0));
                    }
                    1 => return Err(ConvertError::Graph("the graph has a cycle".into())),
                    _ => {}
                }
            } else {
                state[i] = 2;
                order.push(i);
                stack.pop();
            }
        }
    }
    Ok(order)
}

/// Outputs when there is no signature: nodes nothing consumes (not constants).
fn sinks(g: &Graph) -> Vec<String> {
    let used: std::collections::HashSet<&str> = g
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter().map(|i| node_of(i)))
        .collect();
    g.nodes
        .iter()
        .filter(|n| !used.contains(n.name.as_str()) && n.op != "Const" && n.op != "NoOp")
        .map(|n| n.name.clone())
        .collect()
}

fn unsupported(n: &Node, detail: impl Into<String>) -> ConvertError {
    ConvertError::Operator {
        op: n.op.clone(),
        detail: detail.into(),
    }
}

struct Converter<'g> {
    g: &'g Graph,
    b: Builder,
    /// ONNX value of each converted node output (`name`, `name:k`).
    values: HashMap<String, String>,
    /// The graph's nodes by name.
    nodes: HashMap<&'g str, &'g Node>,
}

impl Converter<'_> {
    /// The ONNX value for input `name` (`node` or `node:k`): produced earlier, or a constant.
    fn value(&mut self, name: &str) -> Result<String, ConvertError> {
        let key = name.strip_suffix(":0").unwrap_or(name);
        if let Some(v) = self.values.get(key) {
            return Ok(v.clone());
        }
        let w = self.weight(node_of(key))?.clone();
        let v = match &w.values {
            Values::Float(f) => self.b.const_f32(dims(&w.shape), f)?,
            Values::Int(i) => {
                // Index tensors stay int32 as TensorFlow has them, as ONNX int64 where used.
                let v = self.b.fresh();
                let raw = i.iter().flat_map(|x| (*x as i32).to_le_bytes()).collect();
                self.b
                    .initializer(&v, data_type::INT32, dims(&w.shape), raw)?;
                v
            }
        };
        self.values.insert(key.to_string(), v.clone());
        Ok(v)
    }

    fn weight(&self, node: &str) -> Result<&Weight, ConvertError> {
        self.g.weights.get(node).ok_or_else(|| {
            ConvertError::Graph(format!("{node} is used before any node produces it"))
        })
    }

    fn arg(&mut self, n: &Node, k: usize) -> Result<String, ConvertError> {
        let i = n
            .inputs
            .get(k)
            .ok_or_else(|| ConvertError::Graph(format!("input {k} missing")))?
            .clone();
        self.value(&i)
    }

    /// Input `k` as a constant weight.
    fn const_arg(&self, n: &Node, k: usize) -> Result<&Weight, ConvertError> {
        let i = n
            .inputs
            .get(k)
            .ok_or_else(|| ConvertError::Graph(format!("input {k} missing")))?;
        // Through identities (a frozen graph's `Identity` after each weight's `Const`).
        let mut name = node_of(i);
        for _ in 0..8 {
            if let Some(w) = self.g.weights.get(name) {
                return Ok(w);
            }
            match self.nodes.get(name) {
                Some(m) if matches!(m.op.as_str(), "Identity" | "Snapshot" | "StopGradient") => {
                    match m.inputs.first() {
                        Some(next) => name = node_of(next),
                        None => break,
                    }
                }
                Some(m) => {
                    return Err(unsupported(
                        n,
                        format!("input {k} is computed by {}, not constant", m.op),
                    ))
                }
                None => break,
            }
        }
        Err(unsupported(
            n,
            format!("input {k} is computed, not constant"),
        ))
    }

    fn const_floats(&self, n: &Node, k: usize) -> Result<(Vec<f32>, Vec<usize>), ConvertError> {
        let w = self.const_arg(n, k)?;
        match &w.values {
            Values::Float(f) => Ok((f.clone(), w.shape.clone())),
            Values::Int(i) => Ok((i.iter().map(|&x| x as f32).collect(), w.shape.clone())),
        }
    }

    fn const_ints(&self, n: &Node, k: usize) -> Result<Vec<i64>, ConvertError> {
        match &self.const_arg(n, k)?.values {
            Values::Int(i) => Ok(i.clone()),
            Values::Float(_) => Err(unsupported(n, format!("input {k} is not integer"))),
        }
    }

    /// Input `k` as int64 for ONNX (shapes, repeats): a constant, or a cast.
    fn int64_arg(&mut self, n: &Node, k: usize) -> Result<String, ConvertError> {
        if let Ok(v) = self.const_ints(n, k) {
            return self.b.const_i64(&v);
        }
        let v = self.arg(n, k)?;
        Ok(self.b.int64(&v))
    }

    /// Record the node's (first) output.
    fn out(&mut self, n: &Node) -> String {
        self.out_k(n, 0)
    }

    /// Record output `k` of the node (`name`, `name:1`, ...).
    fn out_k(&mut self, n: &Node, k: usize) -> String {
        let v = self.b.fresh();
        let key = if k == 0 {
            n.name.clone()
        } else {
            format!("{}:{k}", n.name)
        };
        self.values.insert(key, v.clone());
        v
    }

    fn nhwc(&self, n: &Node) -> Result<(), ConvertError> {
        match n.attr_s("data_format").as_deref() {
            None | Some("NHWC") => Ok(()),
            Some(other) => Err(unsupported(n, format!("data format {other}"))),
        }
    }

    fn same(&self, n: &Node) -> Result<bool, ConvertError> {
        match n.attr_s("padding").as_deref() {
            Some("SAME") => Ok(true),
            Some("VALID") => Ok(false),
            other => Err(unsupported(n, format!("padding {other:?}"))),
        }
    }

    /// (height, width) of an NHWC list attribute (`strides`, `dilations`, `ksize`).
    fn hw(n: &Node, k: &str) -> [i64; 2] {
        match n.attr_ints(k)[..] {
            [_, h, w, _] => [h.max(1), w.max(1)],
            _ => [1, 1],
        }
    }

    /// The activation and extra inputs of a fused op's `fused_ops` after `BiasAdd`.
    fn fused(&mut self, n: &Node, first_extra: usize) -> Result<(bool, Activation), ConvertError> {
        let ops = n.attr_strs("fused_ops");
        let mut bias = false;
        let mut act = Activation::None;
        for (i, op) in ops.iter().enumerate() {
            match (i, op.as_str()) {
                (0, "BiasAdd") => bias = true,
                (_, "Relu") => act = Activation::Relu,
                (_, "Relu6") => act = Activation::Relu6,
                (_, "LeakyRelu") => {
                    act = Activation::LeakyRelu(n.attr_f("leakyrelu_alpha").unwrap_or(0.2))
                }
                (_, "Prelu") => act = Activation::PRelu(self.arg(n, first_extra + 1)?),
                (_, "Tanh") => act = Activation::Tanh,
                (_, other) => return Err(unsupported(n, format!("fused op {other}"))),
            }
        }
        Ok((bias, act))
    }
}

fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}
