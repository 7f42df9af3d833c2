//! OpenVINO IR (`.xml` graph, `.bin` weights) to ONNX. IR operations are, by design, close to
//! ONNX's (OpenVINO's ONNX frontend maps most one to one), so each layer becomes one ONNX node
//! or a few, following the operation specifications of OpenVINO's documentation ("Available
//! Operation Sets", `docs/articles_en/documentation/openvino-ir-format/operation-sets`):
//!
//! - `Const`: the `.bin` slice at `offset`, `size` bytes, of `element_type` (`f32`, `f16`
//!   widened to float32, `i64`, `i32` widened to int64) and `shape`;
//! - `Convolution`, `GroupConvolution` (weights `[G, O/G, I/G, kH, kW]` folded to ONNX's
//!   `[O, I/G, kH, kW]` with `group` G), `MaxPool` (`rounding_type` ceil → `ceil_mode`),
//!   `AvgPool` (`exclude-pad`), `Pad` (`pads_begin` and `pads_end` as one ONNX `pads`);
//! - element-wise arithmetic (numpy broadcasting, as ONNX's), activations, `PReLU` (a
//!   per-channel slope broadcast along axis 1, which ONNX's `PRelu` needs reshaped to
//!   `[C, 1, …]`), `Concat`, `Reshape` (`special_zero` is ONNX's default, 0 copies a
//!   dimension), `Transpose`, `ShapeOf`, `Gather`, `Squeeze`, `Unsqueeze`, `MatMul`,
//!   `SoftMax`, `Convert`.
//!
//! An operation not listed ends the conversion with its name (`operator Interpolate is not
//! converted`). Layers are emitted in the graph's order along its edges, so an IR whose layers
//! are written out of order converts, and one with a cycle is refused.

use super::builder::{Attr, Builder};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::openvino::graph::{read, Layer};
use std::collections::{HashMap, VecDeque};

/// The name under which the converter asks for its `.bin` ([`super::WEIGHTS`]).
pub use super::WEIGHTS;

fn graph(m: impl Into<String>) -> ConvertError {
    ConvertError::Graph(m.into())
}

fn unknown(op: &str, detail: impl Into<String>) -> ConvertError {
    ConvertError::Operator {
        op: op.to_string(),
        detail: detail.into(),
    }
}

/// Convert an IR `.xml` whose weights `sibling` gives as [`WEIGHTS`], with a note of what was
/// converted. Errors: the XML unreadable, no weights file beside it, a constant outside it, an
/// operation not translated (named), a cycle, no input or no output.
pub fn convert(
    xml: &[u8],
    sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<(Vec<u8>, String), ConvertError> {
    let g = read(xml)?;
    let bin = sibling(WEIGHTS)
        .ok_or_else(|| graph("the IR's weights (.bin of the same name) are not beside it"))?;
    let order = topological(&g.layers, &g.edges)?;
    let mut source: HashMap<(u64, u64), (u64, u64)> = HashMap::new();
    for e in &g.edges {
        source.insert(e.to, e.from);
    }
    let mut c = Converter {
        b: Builder::default(),
        bin: &bin,
        values: HashMap::new(),
        ints: HashMap::new(),
        source,
        inputs: 0,
        outputs: Vec::new(),
    };
    // Post-processing not translated (PriorBox, DetectionOutput after an SSD head) is left out
    // with all that reads it, and the probe reads what it read (super::Tail).
    let kinds: HashMap<u64, &str> = g.layers.iter().map(|l| (l.id, l.kind.as_str())).collect();
    let mut tail = super::Tail::default();
    let mut cut = std::collections::HashSet::new();
    let mut read_before: Vec<String> = Vec::new();
    let mut ops = 0;
    for &i in &order {
        let l = &g.layers[i];
        let sources: Vec<(u64, u64)> = l
            .inputs
            .iter()
            .filter_map(|p| c.source.get(&(l.id, p.id)).copied())
            .collect();
        let reads_cut = sources.iter().any(|f| cut.contains(&f.0));
        if l.kind == "Result" {
            if reads_cut {
                continue;
            }
        } else if !matches!(l.kind.as_str(), "Parameter" | "Const") {
            ops += 1;
        }
        let tried = (!reads_cut).then(|| c.layer(l));
        if !tail.outcome(tried, || format!("layer {} {}", l.kind, l.name))? {
            continue;
        }
        cut.insert(l.id);
        // What it read, where converted and not a constant, an input or a shape.
        for f in sources {
            let plain = !matches!(
                kinds.get(&f.0).copied(),
                Some("Const" | "Parameter" | "ShapeOf")
            );
            if let Some(v) = c.values.get(&f).filter(|_| plain && !cut.contains(&f.0)) {
                if !read_before.contains(v) {
                    read_before.push(v.clone());
                }
            }
        }
    }
    tail.check(ops, c.outputs.is_empty() && read_before.is_empty())?;
    if c.inputs == 0 || (c.outputs.is_empty() && read_before.is_empty()) {
        return Err(graph("no input or no output"));
    }
    // Outputs in the order the IR writes its Result layers, as OpenVINO's reader lists them.
    let written: HashMap<u64, usize> = g
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id, i))
        .collect();
    c.outputs.sort_by_key(|(id, _)| written.get(id).copied());
    for (_, v) in std::mem::take(&mut c.outputs) {
        c.b.io(true, &v, data_type::FLOAT, None);
    }
    for v in read_before {
        // Cast: what a left-out layer read is float as a rule, but the graph must say so.
        let to = vec![("to", Attr::Int(i64::from(data_type::FLOAT)))];
        let out = c.b.op("Cast", &[&v], to);
        c.b.io(true, &out, data_type::FLOAT, None);
    }
    Ok(c.b.finish_layers("OpenVINO IR", g.layers.len(), tail.note()))
}

/// Layer indices in an order where every layer comes after the layers it reads (Kahn's).
fn topological(
    layers: &[Layer],
    edges: &[crate::decode::models::openvino::graph::Edge],
) -> Result<Vec<usize>, ConvertError> {
    let index: HashMap<u64, usize> = layers.iter().enumerate().map(|(i, l)| (l.id, i)).collect();
    if index.len() != layers.len() {
        return Err(graph("two layers share an id"));
    }
    let mut indegree = vec![0usize; layers.len()];
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); layers.len()];
    for e in edges {
        let (Some(&a), Some(&b)) = (index.get(&e.from.0), index.get(&e.to.0)) else {
            return Err(graph(format!(
                "an edge from layer {} to layer {} names a layer that is not there",
                e.from.0, e.to.0
            )));
        };
        next[a].push(b);
        indegree[b] += 1;
    }
    let mut ready: VecDeque<usize> = (0..layers.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(layers.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &j in &next[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push_back(j);
            }
        }
    }
    if order.len() != layers.len() {
        return Err(graph("the graph has a cycle"));
    }
    Ok(order)
}

struct Converter<'a> {
    b: Builder,
    bin: &'a [u8],
    /// ONNX value of each (layer id, output port id).
    values: HashMap<(u64, u64), String>,
    /// Integer constants' values, for the attributes ONNX wants as attributes (a transpose's
    /// order, a gather's axis).
    ints: HashMap<String, Vec<i64>>,
    /// Which output port feeds each (layer id, input port id).
    source: HashMap<(u64, u64), (u64, u64)>,
    inputs: usize,
    /// The graph's outputs: each Result layer's id and its value.
    outputs: Vec<(u64, String)>,
}

/// A comma-separated list of integers (`"2, 2"`).
fn list(l: &Layer, key: &str) -> Result<Vec<i64>, ConvertError> {
    let Some(v) = l.data.get(key) else {
        return Ok(Vec::new());
    };
    if v.trim().is_empty() {
        return Ok(Vec::new());
    }
    v.split(',')
        .map(|x| x.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| graph(format!("{key}={v:?} is not a list of integers")))
}

fn text<'l>(l: &'l Layer, key: &str) -> Option<&'l str> {
    l.data.get(key).map(|s| s.trim())
}

fn float(l: &Layer, key: &str) -> Result<f32, ConvertError> {
    text(l, key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| graph(format!("no numeric {key}")))
}

impl Converter<'_> {
    /// The ONNX value read by input `i` (in written order) of `l`.
    fn input(&self, l: &Layer, i: usize) -> Result<String, ConvertError> {
        let port = l
            .inputs
            .get(i)
            .ok_or_else(|| graph(format!("no input {i}")))?;
        let from = self
            .source
            .get(&(l.id, port.id))
            .ok_or_else(|| graph(format!("input {i} is fed by no edge")))?;
        self.values.get(from).cloned().ok_or_else(|| {
            graph(format!(
                "input {i} reads output {} of layer {}, which was not converted",
                from.1, from.0
            ))
        })
    }

    /// The dimensions of input `i` of `l` as the IR declares them.
    fn input_dims<'l>(&self, l: &'l Layer, i: usize) -> &'l [i64] {
        l.inputs.get(i).map_or(&[], |p| p.dims.as_slice())
    }

    /// The integer constant fed to input `i` of `l` (a transpose's order, an axis).
    fn const_ints(&self, l: &Layer, i: usize) -> Result<Vec<i64>, ConvertError> {
        let v = self.input(l, i)?;
        self.ints
            .get(&v)
            .cloned()
            .ok_or_else(|| unknown(&l.kind, format!("input {i} is not an integer constant")))
    }

    /// Record `v` as output `port` (in written order) of `l`.
    fn set(&mut self, l: &Layer, port: usize, v: String) -> Result<(), ConvertError> {
        let p = l
            .outputs
            .get(port)
            .ok_or_else(|| graph(format!("no output {port}")))?;
        self.values.insert((l.id, p.id), v);
        Ok(())
    }

    fn one(
        &mut self,
        l: &Layer,
        op: &str,
        inputs: &[&str],
        attrs: Vec<(&str, Attr)>,
    ) -> Result<(), ConvertError> {
        let v = self.b.op(op, inputs, attrs);
        self.set(l, 0, v)
    }

    /// `v` cast to int64 (OpenVINO allows i32 shapes, pads, axes and indices).
    fn int64(&mut self, v: &str) -> String {
        self.b.int64(v)
    }

    fn layer(&mut self, l: &Layer) -> Result<(), ConvertError> {
        if l.has_body {
            return Err(unknown(&l.kind, "a nested body graph"));
        }
        let kind = l.kind.as_str();
        match kind {
            "Parameter" => self.parameter(l),
            "Const" => self.constant(l),
            "Result" => {
                let v = self.input(l, 0)?;
                let out = self.b.op("Identity", &[&v], vec![]);
                self.outputs.push((l.id, out));
                Ok(())
            }
            "Convolution" | "GroupConvolution" => self.convolution(l),
            "MaxPool" | "AvgPool" => self.pool(l),
            "Pad" => self.pad(l),
            "Add" | "Multiply" | "Subtract" | "Divide" | "Maximum" | "Minimum" | "Power" => {
                let op = match kind {
                    "Add" => "Add",
                    "Multiply" => "Mul",
                    "Subtract" => "Sub",
                    "Divide" => "Div",
                    "Maximum" => "Max",
                    "Minimum" => "Min",
                    _ => "Pow",
                };
                if text(l, "auto_broadcast").is_some_and(|b| b == "pdpd") {
                    return Err(unknown(kind, "auto_broadcast=pdpd"));
                }
                let (a, b) = (self.input(l, 0)?, self.input(l, 1)?);
                self.one(l, op, &[&a, &b], vec![])
            }
            "ReLU" | "Sigmoid" | "Tanh" | "Exp" | "Sqrt" | "Log" | "Abs" | "Negative" | "Floor"
            | "Ceiling" | "HSwish" | "SoftPlus" | "Erf" => {
                let op = match kind {
                    "ReLU" => "Relu",
                    "Negative" => "Neg",
                    "Ceiling" => "Ceil",
                    "HSwish" => "HardSwish",
                    "SoftPlus" => "Softplus",
                    other => other,
                };
                let x = self.input(l, 0)?;
                self.one(l, op, &[&x], vec![])
            }
            "HSigmoid" => {
                let x = self.input(l, 0)?;
                self.one(
                    l,
                    "HardSigmoid",
                    &[&x],
                    vec![
                        ("alpha", Attr::Float(1.0 / 6.0)),
                        ("beta", Attr::Float(0.5)),
                    ],
                )
            }
            "Elu" => {
                let x = self.input(l, 0)?;
                let alpha = float(l, "alpha")?;
                self.one(l, "Elu", &[&x], vec![("alpha", Attr::Float(alpha))])
            }
            "Clamp" => {
                let x = self.input(l, 0)?;
                let lo = self.b.scalar_f32(float(l, "min")?)?;
                let hi = self.b.scalar_f32(float(l, "max")?)?;
                self.one(l, "Clip", &[&x, &lo, &hi], vec![])
            }
            "Swish" => {
                // x · sigmoid(β x), β 1 when not given.
                let x = self.input(l, 0)?;
                let bx = match self.input(l, 1) {
                    Ok(beta) => self.b.op("Mul", &[&x, &beta], vec![]),
                    Err(_) => x.clone(),
                };
                let s = self.b.op("Sigmoid", &[&bx], vec![]);
                self.one(l, "Mul", &[&x, &s], vec![])
            }
            "Mish" => {
                // x · tanh(softplus(x)) (ONNX's Mish is opset 18).
                let x = self.input(l, 0)?;
                let sp = self.b.op("Softplus", &[&x], vec![]);
                let t = self.b.op("Tanh", &[&sp], vec![]);
                self.one(l, "Mul", &[&x, &t], vec![])
            }
            "PReLU" => {
                let x = self.input(l, 0)?;
                let mut slope = self.input(l, 1)?;
                let (rank, s) = (self.input_dims(l, 0).len(), self.input_dims(l, 1));
                // A per-channel slope: broadcast along axis 1, not the last.
                if s.len() == 1 && s[0] > 1 && rank >= 3 {
                    let mut shape = vec![s[0]];
                    shape.resize(rank - 1, 1);
                    let shape = self.b.const_i64(&shape)?;
                    slope = self.b.op("Reshape", &[&slope, &shape], vec![]);
                }
                self.one(l, "PRelu", &[&x, &slope], vec![])
            }
            "SoftMax" | "Softmax" => {
                let x = self.input(l, 0)?;
                let axis = text(l, "axis").and_then(|a| a.parse().ok()).unwrap_or(1);
                self.one(l, "Softmax", &[&x], vec![("axis", Attr::Int(axis))])
            }
            "Concat" => {
                let axis = text(l, "axis")
                    .and_then(|a| a.parse().ok())
                    .ok_or_else(|| graph("no axis"))?;
                let inputs = (0..l.inputs.len())
                    .map(|i| self.input(l, i))
                    .collect::<Result<Vec<_>, _>>()?;
                let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                self.one(l, "Concat", &refs, vec![("axis", Attr::Int(axis))])
            }
            "Reshape" => {
                let x = self.input(l, 0)?;
                let s = self.input(l, 1)?;
                let s = self.int64(&s);
                let zero_copies = text(l, "special_zero").is_none_or(|z| z == "true");
                self.one(
                    l,
                    "Reshape",
                    &[&x, &s],
                    vec![("allowzero", Attr::Int(i64::from(!zero_copies)))],
                )
            }
            "Transpose" => {
                let x = self.input(l, 0)?;
                let perm = self.const_ints(l, 1)?;
                self.one(l, "Transpose", &[&x], vec![("perm", Attr::Ints(perm))])
            }
            "ShapeOf" => {
                let x = self.input(l, 0)?;
                self.one(l, "Shape", &[&x], vec![])
            }
            "Gather" => {
                if text(l, "batch_dims").is_some_and(|b| b != "0") {
                    return Err(unknown(kind, "batch_dims other than 0"));
                }
                let x = self.input(l, 0)?;
                let idx = self.input(l, 1)?;
                let idx = self.int64(&idx);
                let axis = self
                    .const_ints(l, 2)?
                    .first()
                    .copied()
                    .ok_or_else(|| graph("an empty axis"))?;
                self.one(l, "Gather", &[&x, &idx], vec![("axis", Attr::Int(axis))])
            }
            "Squeeze" | "Unsqueeze" => {
                let x = self.input(l, 0)?;
                if l.inputs.len() > 1 {
                    let axes = self.input(l, 1)?;
                    let axes = self.int64(&axes);
                    self.one(l, kind, &[&x, &axes], vec![])
                } else {
                    self.one(l, kind, &[&x], vec![])
                }
            }
            "MatMul" => {
                let mut ab = [self.input(l, 0)?, self.input(l, 1)?];
                for (i, key) in ["transpose_a", "transpose_b"].into_iter().enumerate() {
                    if text(l, key) == Some("true") {
                        let rank = self.input_dims(l, i).len();
                        if rank < 2 {
                            return Err(unknown(kind, format!("{key} on a vector")));
                        }
                        let mut perm: Vec<i64> = (0..rank as i64).collect();
                        perm.swap(rank - 1, rank - 2);
                        ab[i] = self
                            .b
                            .op("Transpose", &[&ab[i]], vec![("perm", Attr::Ints(perm))]);
                    }
                }
                self.one(l, "MatMul", &[&ab[0], &ab[1]], vec![])
            }
            "Convert" => {
                let x = self.input(l, 0)?;
                let to = match text(l, "destination_type") {
                    Some("f32" | "f16" | "f64") => data_type::FLOAT,
                    Some("i64" | "i32") => data_type::INT64,
                    other => return Err(unknown(kind, format!("destination_type {other:?}"))),
                };
                self.one(l, "Cast", &[&x], vec![("to", Attr::Int(i64::from(to)))])
            }
            other => Err(unknown(other, "no ONNX translation")),
        }
    }

    fn parameter(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let ty = text(l, "element_type").unwrap_or("f32");
        if !matches!(ty, "f32" | "f16") {
            return Err(unknown("Parameter", format!("element_type {ty}")));
        }
        let dims: Vec<i64> = match l.outputs.first() {
            Some(p) if !p.dims.is_empty() => p.dims.clone(),
            _ => text(l, "shape")
                .unwrap_or("")
                .split(',')
                .filter(|d| !d.trim().is_empty())
                .map(|d| {
                    d.trim()
                        .parse::<i64>()
                        .ok()
                        .filter(|&v| v >= 0)
                        .unwrap_or(-1)
                })
                .collect(),
        };
        let v = self.b.fresh();
        self.b.io(false, &v, data_type::FLOAT, Some(&dims));
        self.inputs += 1;
        self.set(l, 0, v)
    }

    fn constant(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let ty = text(l, "element_type").unwrap_or("");
        let number = |key: &str| -> Result<usize, ConvertError> {
            text(l, key)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| graph(format!("no numeric {key}")))
        };
        let (offset, size) = (number("offset")?, number("size")?);
        let shape = list(l, "shape")?;
        if shape.iter().any(|&d| d < 0) {
            return Err(graph(format!("a constant of shape {shape:?}")));
        }
        let count = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(usize::try_from(d).ok()?))
            .ok_or_else(|| graph(format!("a constant of shape {shape:?}")))?;
        let width = match ty {
            "f32" | "i32" => 4,
            "f16" => 2,
            "i64" => 8,
            other => return Err(unknown("Const", format!("element_type {other:?}"))),
        };
        if count.checked_mul(width) != Some(size) {
            return Err(graph(format!("{size} bytes for {count} values of {ty}")));
        }
        let bytes = offset
            .checked_add(size)
            .and_then(|end| self.bin.get(offset..end))
            .ok_or_else(|| {
                graph(format!(
                    "bytes {offset}..+{size} are outside the {}-byte weights file",
                    self.bin.len()
                ))
            })?;
        let name = self.b.fresh();
        match ty {
            "f32" => self
                .b
                .initializer(&name, data_type::FLOAT, shape, bytes.to_vec())?,
            "f16" => {
                let raw = bytes
                    .chunks_exact(2)
                    .flat_map(|c| {
                        crate::decode::models::f16_to_f32(u16::from_le_bytes([c[0], c[1]]))
                            .to_le_bytes()
                    })
                    .collect();
                self.b.initializer(&name, data_type::FLOAT, shape, raw)?
            }
            _ => {
                let values: Vec<i64> = if width == 8 {
                    bytes
                        .chunks_exact(8)
                        .map(|c| {
                            i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                        })
                        .collect()
                } else {
                    bytes
                        .chunks_exact(4)
                        .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                        .collect()
                };
                let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                self.b.initializer(&name, data_type::INT64, shape, raw)?;
                if values.len() <= 64 {
                    self.ints.insert(name.clone(), values);
                }
            }
        }
        self.set(l, 0, name)
    }

    /// Explicit pads, or ONNX's `auto_pad` for OpenVINO's `same_upper`, `same_lower`, `valid`.
    fn padding(&self, l: &Layer) -> Result<Vec<(&'static str, Attr)>, ConvertError> {
        Ok(match text(l, "auto_pad") {
            Some("same_upper") => vec![("auto_pad", Attr::Str("SAME_UPPER"))],
            Some("same_lower") => vec![("auto_pad", Attr::Str("SAME_LOWER"))],
            Some("valid") => vec![("auto_pad", Attr::Str("VALID"))],
            _ => {
                let mut pads = list(l, "pads_begin")?;
                let end = list(l, "pads_end")?;
                if pads.len() != end.len() {
                    return Err(graph("pads_begin and pads_end differ in length"));
                }
                pads.extend(end);
                if pads.is_empty() {
                    Vec::new()
                } else {
                    vec![("pads", Attr::Ints(pads))]
                }
            }
        })
    }

    fn convolution(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let x = self.input(l, 0)?;
        let mut w = self.input(l, 1)?;
        let mut attrs = self.padding(l)?;
        let strides = list(l, "strides")?;
        let dilations = list(l, "dilations")?;
        if !strides.is_empty() {
            attrs.push(("strides", Attr::Ints(strides)));
        }
        if !dilations.is_empty() {
            attrs.push(("dilations", Attr::Ints(dilations)));
        }
        if l.kind == "GroupConvolution" {
            let wd = self.input_dims(l, 1);
            if wd.len() < 4 || wd[..3].iter().any(|&d| d <= 0) {
                return Err(graph(format!("group weights of shape {wd:?}")));
            }
            let out = wd[0]
                .checked_mul(wd[1])
                .ok_or_else(|| graph(format!("group weights of shape {wd:?}")))?;
            let mut shape = vec![out];
            shape.extend_from_slice(&wd[2..]);
            let shape = self.b.const_i64(&shape)?;
            w = self.b.op("Reshape", &[&w, &shape], vec![]);
            attrs.push(("group", Attr::Int(wd[0])));
        }
        self.one(l, "Conv", &[&x, &w], attrs)
    }

    fn pool(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let x = self.input(l, 0)?;
        let mut attrs = self.padding(l)?;
        attrs.push(("kernel_shape", Attr::Ints(list(l, "kernel")?)));
        let strides = list(l, "strides")?;
        if !strides.is_empty() {
            attrs.push(("strides", Attr::Ints(strides)));
        }
        if text(l, "rounding_type").is_some_and(|r| r.eq_ignore_ascii_case("ceil")) {
            attrs.push(("ceil_mode", Attr::Int(1)));
        }
        let op = if l.kind == "MaxPool" {
            let dilations = list(l, "dilations")?;
            if dilations.iter().any(|&d| d != 1) {
                attrs.push(("dilations", Attr::Ints(dilations)));
            }
            "MaxPool"
        } else {
            let exclude = text(l, "exclude-pad").is_some_and(|e| e == "true");
            attrs.push(("count_include_pad", Attr::Int(i64::from(!exclude))));
            "AveragePool"
        };
        // MaxPool-8's second output (indices) is not made: a layer reading it is refused.
        self.one(l, op, &[&x], attrs)
    }

    fn pad(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let mode = match text(l, "pad_mode").unwrap_or("constant") {
            "constant" => "constant",
            "edge" => "edge",
            "reflect" => "reflect",
            other => return Err(unknown("Pad", format!("pad_mode {other}"))),
        };
        let x = self.input(l, 0)?;
        let (b, e) = (self.input(l, 1)?, self.input(l, 2)?);
        let (b, e) = (self.int64(&b), self.int64(&e));
        let pads = self.b.op("Concat", &[&b, &e], vec![("axis", Attr::Int(0))]);
        let mut inputs = vec![x, pads];
        if mode == "constant" && l.inputs.len() > 3 {
            inputs.push(self.input(l, 3)?);
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.one(l, "Pad", &refs, vec![("mode", Attr::Str(mode))])
    }
}

#[cfg(test)]
mod tests;
