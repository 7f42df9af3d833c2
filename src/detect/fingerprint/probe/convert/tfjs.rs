//! TF.js graph models → ONNX. The graph is TensorFlow's GraphDef (NodeDef op names and attrs
//! as in `tensorflow/core/ops/`, plus tfjs-converter's fused ops `_FusedConv2D`,
//! `FusedDepthwiseConv2dNative` and `_FusedMatMul`, whose `fused_ops` list a bias add and an
//! activation). NHWC data layout only; weights come from the manifest, dequantized.

use super::builder::{Attr, Builder};
use super::nhwc::{hwio_to_oihw, Activation, Conv2d, SliceMasks};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::tfjs::graph::{self, Graph, Node, Values, Weight};
use std::collections::HashMap;

/// Convert a graph model (`model.json` bytes; shards through `sibling`).
pub fn convert(
    bytes: &[u8],
    sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<(Vec<u8>, String), ConvertError> {
    let g = graph::read(bytes, sibling)?;
    let order = topological(&g)?;
    let mut c = Converter {
        g: &g,
        b: Builder::default(),
        values: HashMap::new(),
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
    for &i in &order {
        let n = &g.nodes[i];
        if n.op == "Placeholder" || n.op == "Const" {
            continue;
        }
        c.node(n).map_err(|e| match e {
            ConvertError::Graph(m) => {
                ConvertError::Graph(format!("node {} ({}): {m}", n.name, n.op))
            }
            other => other,
        })?;
    }
    let outputs = if g.outputs.is_empty() {
        sinks(&g)
    } else {
        g.outputs.clone()
    };
    for o in &outputs {
        let v = c.value(o)?;
        c.b.io(true, &v, data_type::FLOAT, None);
    }
    let nodes = c.b.node_count();
    Ok((
        c.b.finish("banwatch tfjs converter"),
        format!(
            "converted from TF.js ({} nodes → {nodes} ONNX nodes)",
            g.nodes.len()
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
        self.g
            .weights
            .get(node_of(i))
            .ok_or_else(|| unsupported(n, format!("input {k} is computed, not constant")))
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
        let v = self.b.fresh();
        self.values.insert(n.name.clone(), v.clone());
        v
    }

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

    fn node(&mut self, n: &Node) -> Result<(), ConvertError> {
        match n.op.as_str() {
            "Identity" | "StopGradient" | "Snapshot" => {
                let x = self.arg(n, 0)?;
                self.values.insert(n.name.clone(), x);
            }
            "Conv2D" | "_FusedConv2D" | "DepthwiseConv2dNative" | "FusedDepthwiseConv2dNative" => {
                self.conv(n)?
            }
            "MatMul" | "_FusedMatMul" => self.matmul(n)?,
            "MaxPool" | "AvgPool" => {
                self.nhwc(n)?;
                let x = self.arg(n, 0)?;
                let same = self.same(n)?;
                let out = self.out(n);
                let onnx = if n.op == "MaxPool" {
                    "MaxPool"
                } else {
                    "AveragePool"
                };
                self.b.pool_nhwc(
                    onnx,
                    &x,
                    Self::hw(n, "ksize"),
                    Self::hw(n, "strides"),
                    same,
                    &Activation::None,
                    &out,
                )?;
            }
            "Add" | "AddV2" | "BiasAdd" | "Sub" | "Mul" | "RealDiv" | "Div" | "Maximum"
            | "Minimum" | "Pow" => {
                let onnx = match n.op.as_str() {
                    "Add" | "AddV2" | "BiasAdd" => "Add",
                    "Sub" => "Sub",
                    "Mul" => "Mul",
                    "RealDiv" | "Div" => "Div",
                    "Maximum" => "Max",
                    "Minimum" => "Min",
                    _ => "Pow",
                };
                let (a, b) = (self.arg(n, 0)?, self.arg(n, 1)?);
                let out = self.out(n);
                self.b.node(onnx, &[&a, &b], &[&out], vec![]);
            }
            "SquaredDifference" => {
                let (a, b) = (self.arg(n, 0)?, self.arg(n, 1)?);
                let d = self.b.op("Sub", &[&a, &b], vec![]);
                let out = self.out(n);
                self.b.node("Mul", &[&d, &d], &[&out], vec![]);
            }
            "Relu" | "Sigmoid" | "Tanh" | "Elu" | "Exp" | "Log" | "Sqrt" | "Neg" | "Abs"
            | "Floor" | "Ceil" | "Round" | "Sign" | "Softplus" => {
                let onnx = match n.op.as_str() {
                    "Sigmoid" => "Sigmoid",
                    "Tanh" => "Tanh",
                    "Elu" => "Elu",
                    "Exp" => "Exp",
                    "Log" => "Log",
                    "Sqrt" => "Sqrt",
                    "Neg" => "Neg",
                    "Abs" => "Abs",
                    "Floor" => "Floor",
                    "Ceil" => "Ceil",
                    "Round" => "Round",
                    "Sign" => "Sign",
                    "Softplus" => "Softplus",
                    _ => "Relu",
                };
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                self.b.node(onnx, &[&x], &[&out], vec![]);
            }
            "Relu6" => {
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                self.b.clip(&x, 0.0, 6.0, &out)?;
            }
            "Rsqrt" => {
                let x = self.arg(n, 0)?;
                let s = self.b.op("Sqrt", &[&x], vec![]);
                let out = self.out(n);
                self.b.node("Reciprocal", &[&s], &[&out], vec![]);
            }
            "Square" => {
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                self.b.node("Mul", &[&x, &x], &[&out], vec![]);
            }
            "LeakyRelu" => {
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                let alpha = n.attr_f("alpha").unwrap_or(0.2);
                self.b.node(
                    "LeakyRelu",
                    &[&x],
                    &[&out],
                    vec![("alpha", Attr::Float(alpha))],
                );
            }
            "Prelu" => {
                let (x, a) = (self.arg(n, 0)?, self.arg(n, 1)?);
                let out = self.out(n);
                self.b.node("PRelu", &[&x, &a], &[&out], vec![]);
            }
            "Softmax" | "LogSoftmax" => {
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                self.b
                    .node(&n.op, &[&x], &[&out], vec![("axis", Attr::Int(-1))]);
            }
            "Reshape" => {
                let x = self.arg(n, 0)?;
                let s = self.int64_arg(n, 1)?;
                let out = self.out(n);
                self.b.node("Reshape", &[&x, &s], &[&out], vec![]);
            }
            "Squeeze" => {
                let axes = n.attr_ints("squeeze_dims");
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                if axes.is_empty() {
                    self.b.node("Squeeze", &[&x], &[&out], vec![]);
                } else {
                    let a = self.b.const_i64(&axes)?;
                    self.b.node("Squeeze", &[&x, &a], &[&out], vec![]);
                }
            }
            "ExpandDims" => {
                let axes = self.const_ints(n, 1)?;
                let x = self.arg(n, 0)?;
                let a = self.b.const_i64(&axes)?;
                let out = self.out(n);
                self.b.node("Unsqueeze", &[&x, &a], &[&out], vec![]);
            }
            "Transpose" => {
                let perm = self.const_ints(n, 1)?;
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                self.b.node(
                    "Transpose",
                    &[&x],
                    &[&out],
                    vec![("perm", Attr::Ints(perm))],
                );
            }
            "ConcatV2" => {
                let last = n.inputs.len().saturating_sub(1);
                let axis = self.const_ints(n, last)?.first().copied().unwrap_or(0);
                let ins: Vec<String> = (0..last)
                    .map(|k| self.arg(n, k))
                    .collect::<Result<_, _>>()?;
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                let out = self.out(n);
                self.b
                    .node("Concat", &refs, &[&out], vec![("axis", Attr::Int(axis))]);
            }
            "Pack" => {
                let axis = n.attr_i("axis").unwrap_or(0);
                let a = self.b.const_i64(&[axis])?;
                let mut parts = Vec::new();
                for k in 0..n.inputs.len() {
                    let x = self.arg(n, k)?;
                    parts.push(self.b.op("Unsqueeze", &[&x, &a], vec![]));
                }
                let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                let out = self.out(n);
                self.b
                    .node("Concat", &refs, &[&out], vec![("axis", Attr::Int(axis))]);
            }
            "Pad" | "PadV2" | "MirrorPad" => {
                let pairs = self.const_ints(n, 1)?;
                let mode = match (n.op.as_str(), n.attr_s("mode").as_deref()) {
                    ("MirrorPad", Some("REFLECT")) => "reflect",
                    ("MirrorPad", Some("SYMMETRIC")) if pairs.iter().all(|&p| p <= 1) => "edge",
                    ("MirrorPad", other) => return Err(unsupported(n, format!("mode {other:?}"))),
                    _ => "constant",
                };
                let x = self.arg(n, 0)?;
                let pads = self.b.pads_from_pairs(&pairs)?;
                let mut ins = vec![x, pads];
                if n.op == "PadV2" {
                    ins.push(self.arg(n, 2)?);
                }
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                let out = self.out(n);
                self.b
                    .node("Pad", &refs, &[&out], vec![("mode", Attr::Str(mode))]);
            }
            "Mean" | "Sum" | "Max" | "Min" | "Prod" => {
                let axes = self.const_ints(n, 1)?;
                let keep = i64::from(n.attr_b("keep_dims").unwrap_or(false));
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                if n.op == "Sum" {
                    let a = self.b.const_i64(&axes)?;
                    self.b.node(
                        "ReduceSum",
                        &[&x, &a],
                        &[&out],
                        vec![("keepdims", Attr::Int(keep))],
                    );
                } else {
                    let onnx = match n.op.as_str() {
                        "Mean" => "ReduceMean",
                        "Max" => "ReduceMax",
                        "Min" => "ReduceMin",
                        _ => "ReduceProd",
                    };
                    self.b.node(
                        onnx,
                        &[&x],
                        &[&out],
                        vec![("axes", Attr::Ints(axes)), ("keepdims", Attr::Int(keep))],
                    );
                }
            }
            "ResizeBilinear" | "ResizeNearestNeighbor" => {
                let size = self.const_ints(n, 1)?;
                let [h, w] = size[..] else {
                    return Err(unsupported(n, format!("size {size:?}")));
                };
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                self.b.resize_nhwc(
                    &x,
                    None,
                    [h, w],
                    n.op == "ResizeBilinear",
                    n.attr_b("align_corners").unwrap_or(false),
                    n.attr_b("half_pixel_centers").unwrap_or(false),
                    &out,
                )?;
            }
            "StridedSlice" => {
                let begin = self.const_ints(n, 1)?;
                let end = self.const_ints(n, 2)?;
                let strides = self.const_ints(n, 3)?;
                let masks = SliceMasks {
                    begin: n.attr_i("begin_mask").unwrap_or(0),
                    end: n.attr_i("end_mask").unwrap_or(0),
                    ellipsis: n.attr_i("ellipsis_mask").unwrap_or(0),
                    new_axis: n.attr_i("new_axis_mask").unwrap_or(0),
                    shrink_axis: n.attr_i("shrink_axis_mask").unwrap_or(0),
                    offset: false,
                };
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                self.b
                    .strided_slice(&x, &begin, &end, &strides, masks, &out)
                    .map_err(|m| unsupported(n, m))?;
            }
            "Split" => {
                let axis = self.const_ints(n, 0)?.first().copied().unwrap_or(0);
                let count = n.attr_i("num_split").unwrap_or(1).clamp(1, 1024) as usize;
                let x = self.arg(n, 1)?;
                let outs: Vec<String> = (0..count).map(|k| self.out_k(n, k)).collect();
                let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
                self.b
                    .node("Split", &[&x], &refs, vec![("axis", Attr::Int(axis))]);
            }
            "FusedBatchNorm" | "FusedBatchNormV2" | "FusedBatchNormV3" => {
                self.nhwc(n)?;
                let eps = n.attr_f("epsilon").unwrap_or(1e-3);
                let (scale, shift) = self.batch_norm(n, 1, eps)?;
                let x = self.arg(n, 0)?;
                let s = self.b.const_f32(vec![scale.len() as i64], &scale)?;
                let t = self.b.const_f32(vec![shift.len() as i64], &shift)?;
                let m = self.b.op("Mul", &[&x, &s], vec![]);
                let out = self.out(n);
                self.b.node("Add", &[&m, &t], &[&out], vec![]);
            }
            "Cast" => {
                let x = self.arg(n, 0)?;
                let to = match n.attr_type("DstT") {
                    Some("DT_FLOAT") => data_type::FLOAT,
                    Some("DT_INT32") => data_type::INT32,
                    Some("DT_INT64") => data_type::INT64,
                    Some("DT_BOOL") => data_type::BOOL,
                    other => return Err(unsupported(n, format!("cast to {other:?}"))),
                };
                let out = self.out(n);
                self.b
                    .node("Cast", &[&x], &[&out], vec![("to", Attr::Int(to.into()))]);
            }
            "Shape" => {
                let x = self.arg(n, 0)?;
                let s = self.b.op("Shape", &[&x], vec![]);
                let out = self.out(n);
                self.b.node(
                    "Cast",
                    &[&s],
                    &[&out],
                    vec![("to", Attr::Int(data_type::INT32.into()))],
                );
            }
            "Tile" => {
                let x = self.arg(n, 0)?;
                let r = self.int64_arg(n, 1)?;
                let out = self.out(n);
                self.b.node("Tile", &[&x, &r], &[&out], vec![]);
            }
            "GatherV2" => {
                let axis = self.const_ints(n, 2)?.first().copied().unwrap_or(0);
                let (x, i) = (self.arg(n, 0)?, self.arg(n, 1)?);
                let out = self.out(n);
                self.b.node(
                    "Gather",
                    &[&x, &i],
                    &[&out],
                    vec![("axis", Attr::Int(axis))],
                );
            }
            _ => return Err(unsupported(n, "no ONNX translation")),
        }
        Ok(())
    }

    /// Folded batch normalization from inputs `first..first + 4` (scale, offset, mean,
    /// variance): y = x · s + t with s = scale / √(var + ε), t = offset − mean · s.
    fn batch_norm(
        &self,
        n: &Node,
        first: usize,
        eps: f32,
    ) -> Result<(Vec<f32>, Vec<f32>), ConvertError> {
        let (scale, _) = self.const_floats(n, first)?;
        let (offset, _) = self.const_floats(n, first + 1)?;
        let (mean, _) = self.const_floats(n, first + 2)?;
        let (var, _) = self.const_floats(n, first + 3)?;
        let c = scale.len();
        if offset.len() != c || mean.len() != c || var.len() != c {
            return Err(unsupported(n, "batch-norm parameters differ in length"));
        }
        let s: Vec<f32> = (0..c).map(|i| scale[i] / (var[i] + eps).sqrt()).collect();
        let t: Vec<f32> = (0..c).map(|i| offset[i] - mean[i] * s[i]).collect();
        Ok((s, t))
    }

    /// Conv2D and DepthwiseConv2dNative, plain or fused (`fused_ops`: BiasAdd or
    /// FusedBatchNorm, then an activation).
    fn conv(&mut self, n: &Node) -> Result<(), ConvertError> {
        self.nhwc(n)?;
        let depthwise = n.op.contains("Depthwise");
        let (w, wdims) = self.const_floats(n, 1)?;
        let [kh, kw, i, o] = wdims[..] else {
            return Err(unsupported(n, format!("filter of shape {wdims:?}")));
        };
        let ((weights, dims), group) = if depthwise {
            // [H, W, C, M] → [C·M, 1, H, W]: output channel c·M + m reads input channel c.
            let (w, _) = hwio_to_oihw(&w, [kh, kw, i, o]);
            let w = super::builder::permute(&w, &[o, i, kh, kw], &[1, 0, 2, 3]);
            ((w, [i * o, 1, kh, kw]), i)
        } else {
            (hwio_to_oihw(&w, [kh, kw, i, o]), 1)
        };
        let fused = n.op.starts_with('_') || n.op.starts_with("Fused");
        let ops = n.attr_strs("fused_ops");
        let batch_norm = fused && ops.first().is_some_and(|o| o == "FusedBatchNorm");
        let (bias, act) = if batch_norm {
            (false, Activation::None)
        } else if fused {
            self.fused(n, 2)?
        } else {
            (false, Activation::None)
        };
        let bias = match bias {
            true => Some(self.const_floats(n, 2)?.0),
            false => None,
        };
        let geometry = Conv2d {
            strides: Self::hw(n, "strides"),
            dilations: Self::hw(n, "dilations"),
            same: self.same(n)?,
            group,
        };
        let x = self.arg(n, 0)?;
        if batch_norm {
            // Convolution, then the folded normalization, then the activation.
            let eps = n.attr_f("epsilon").unwrap_or(1e-3);
            let (s, t) = self.batch_norm(n, 2, eps)?;
            let y = self.b.fresh();
            self.b.conv_nhwc(
                &x,
                None,
                &weights,
                dims,
                None,
                &geometry,
                &Activation::None,
                &y,
            )?;
            let s = self.b.const_f32(vec![s.len() as i64], &s)?;
            let t = self.b.const_f32(vec![t.len() as i64], &t)?;
            let m = self.b.op("Mul", &[&y, &s], vec![]);
            let z = self.b.op("Add", &[&m, &t], vec![]);
            let act = match ops.get(1).map(String::as_str) {
                None => Activation::None,
                Some("Relu") => Activation::Relu,
                Some("Relu6") => Activation::Relu6,
                Some(other) => return Err(unsupported(n, format!("fused op {other}"))),
            };
            let out = self.out(n);
            self.b.activate(z, &act, Some(&out))?;
            return Ok(());
        }
        let out = self.out(n);
        self.b.conv_nhwc(
            &x,
            None,
            &weights,
            dims,
            bias.as_deref(),
            &geometry,
            &act,
            &out,
        )
    }

    /// MatMul and _FusedMatMul (BiasAdd and an activation).
    fn matmul(&mut self, n: &Node) -> Result<(), ConvertError> {
        let (a, b) = (self.arg(n, 0)?, self.arg(n, 1)?);
        let ta = i64::from(n.attr_b("transpose_a").unwrap_or(false));
        let tb = i64::from(n.attr_b("transpose_b").unwrap_or(false));
        let (bias, act) = if n.op == "_FusedMatMul" {
            self.fused(n, 2)?
        } else {
            (false, Activation::None)
        };
        let mut ins = vec![a, b];
        if bias {
            ins.push(self.arg(n, 2)?);
        }
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        let y = self.b.op(
            "Gemm",
            &refs,
            vec![("transA", Attr::Int(ta)), ("transB", Attr::Int(tb))],
        );
        let out = self.out(n);
        self.b.activate(y, &act, Some(&out))?;
        Ok(())
    }
}

fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}
