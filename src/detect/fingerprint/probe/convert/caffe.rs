//! Caffe models (a trained `.caffemodel`, read by [`crate::decode::models::caffe::net`]) to
//! ONNX.
//!
//! Caffe blobs are NCHW with the batch axis, as ONNX, and its weights are in ONNX's order
//! (convolution `O × I/g × kh × kw`, deconvolution `I × O/g × kh × kw`, inner product
//! `out × in`), so layers map one to one. Semantics and parameter numbers follow BVLC Caffe's
//! `caffe.proto` and `src/caffe/layers/`, and for `Permute` and `Normalize` the SSD fork
//! (weiliu89/caffe), which OpenCV's DNN module also reads.
//!
//! The input is the net's `input`/`Input` layer, or the first data layer's first output (a
//! trained file often keeps its training data layer), at the shape given, else open (the
//! probe tries its sizes). Losses, accuracies and `Silence` are left out. SSD's `PriorBox`
//! and `DetectionOutput` are post-processing on constants and boxes: they and whatever
//! depends on them are left out, and the raw score and box outputs are the graph's outputs.
//! Any other layer type ends the conversion naming it.

use super::builder::{Attr, Builder};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::caffe::net::{read, Blob, Layer};
use std::collections::{HashMap, HashSet};

/// Convert a `.caffemodel`, with a note of what was converted. Errors: what the reader
/// refuses, a layer not translated (named), weights of the wrong size.
pub fn convert(bytes: &[u8]) -> Result<(Vec<u8>, String), ConvertError> {
    if crate::decode::models::caffe::looks_like_prototxt(bytes) {
        return Err(ConvertError::Graph(
            "a .prototxt holds no weights: the .caffemodel is probed".into(),
        ));
    }
    let net = read(bytes)?;
    let mut c = Converter {
        b: Builder::default(),
        blobs: HashMap::new(),
        input: None,
        dropped: HashSet::new(),
    };
    if let Some((name, shape)) = &net.input {
        c.declare_input(name, shape);
    }
    let mut skipped = 0;
    for l in &net.layers {
        if l.bottoms.iter().any(|b| c.dropped.contains(b)) || is_post_processing(&l.kind) {
            c.dropped.extend(l.tops.iter().cloned());
            skipped += 1;
            continue;
        }
        // A deployed net may name its input only in the .prototxt: the first blob read
        // before any layer makes it is the picture.
        if c.input.is_none() && !is_data(&l.kind) {
            if let Some(b) = l.bottoms.first().filter(|b| !c.blobs.contains_key(*b)) {
                c.declare_input(b, &[]);
            }
        }
        c.layer(l).map_err(|e| e.in_layer(&l.kind, &l.name))?;
    }
    let read_somewhere: HashSet<&str> = net
        .layers
        .iter()
        .filter(|l| !is_skipped(&l.kind))
        .flat_map(|l| l.bottoms.iter().map(String::as_str))
        .collect();
    let blobs = &c.blobs;
    c.b.unread_outputs(
        net.layers.iter().flat_map(|l| l.tops.iter()),
        &read_somewhere,
        |t| blobs.get(t).map(|b| b.0.clone()),
        c.input.as_ref(),
    )?;
    let left_out = (skipped > 0).then(|| format!("{skipped} post-processing layers left out"));
    Ok(c.b.finish_layers("Caffe", net.layers.len(), left_out))
}

/// Layers with no part in inference.
fn is_skipped(kind: &str) -> bool {
    kind.ends_with("Loss") || matches!(kind, "Accuracy" | "Silence")
}

/// SSD's post-processing: prior boxes and their decoding.
fn is_post_processing(kind: &str) -> bool {
    matches!(kind, "PriorBox" | "DetectionOutput")
}

/// Layers whose first output is the picture fed in.
fn is_data(kind: &str) -> bool {
    matches!(
        kind,
        "Input"
            | "Data"
            | "ImageData"
            | "AnnotatedData"
            | "DummyData"
            | "MemoryData"
            | "WindowData"
    )
}

struct Converter {
    b: Builder,
    /// ONNX value and rank of each Caffe blob.
    blobs: HashMap<String, (String, usize)>,
    input: Option<String>,
    /// Blobs made by left-out layers.
    dropped: HashSet<String>,
}

fn graph(m: impl Into<String>) -> ConvertError {
    ConvertError::Graph(m.into())
}

fn refuse(l: &Layer<'_>, detail: &str) -> ConvertError {
    ConvertError::Operator {
        op: l.kind.clone(),
        detail: detail.into(),
    }
}

impl Converter {
    fn declare_input(&mut self, name: &str, shape: &[i64]) {
        let mut dims: Vec<i64> = shape.iter().map(|&d| d.max(0)).collect();
        if dims.len() != 4 {
            dims = vec![1, 3, 0, 0];
        }
        dims[0] = 1;
        let v = self.b.fresh();
        self.b.io(false, &v, data_type::FLOAT, Some(&dims));
        self.input = Some(v.clone());
        self.blobs.insert(name.to_string(), (v, 4));
    }

    fn bottom(&self, l: &Layer<'_>, i: usize) -> Result<(String, usize), ConvertError> {
        let name = l
            .bottoms
            .get(i)
            .ok_or_else(|| graph(format!("no input {i}")))?;
        self.blobs
            .get(name)
            .cloned()
            .ok_or_else(|| graph(format!("blob {name} is used before it is made")))
    }

    fn top(&mut self, l: &Layer<'_>, v: String, rank: usize) -> Result<(), ConvertError> {
        let t = l.tops.first().ok_or_else(|| graph("no output"))?;
        self.blobs.insert(t.clone(), (v, rank));
        Ok(())
    }

    fn weights(&self, l: &Layer<'_>, i: usize) -> Result<Blob, ConvertError> {
        let b = l
            .blobs
            .get(i)
            .cloned()
            .ok_or_else(|| graph(format!("weight blob {i} missing")))?;
        let n = b.shape.iter().try_fold(1i64, |a, &d| a.checked_mul(d));
        if n != Some(b.data.len() as i64) {
            return Err(graph(format!(
                "weight blob {i} of shape {:?} holds {} values",
                b.shape,
                b.data.len()
            )));
        }
        Ok(b)
    }

    /// A per-channel constant for a blob of `rank` (channels on axis 1).
    fn per_channel(&mut self, values: &[f32], rank: usize) -> Result<String, ConvertError> {
        let mut shape = vec![values.len() as i64];
        shape.extend(std::iter::repeat_n(1, rank.saturating_sub(2)));
        self.b.const_f32(shape, values)
    }

    fn layer(&mut self, l: &Layer<'_>) -> Result<(), ConvertError> {
        let k = l.kind.as_str();
        if is_skipped(k) {
            return Ok(());
        }
        if is_data(k) {
            if self.input.is_some() {
                return Ok(());
            }
            let shape = l
                .param(143)?
                .message(1)?
                .map(|s| s.uints(1))
                .unwrap_or_default();
            // A data layer's crop is the size the net sees (transform_param.crop_size).
            let crop = l.param(100)?.uint(3).map(|c| c as i64).filter(|&c| c > 0);
            let shape = match (shape.len(), crop) {
                (4, _) => shape,
                (_, Some(c)) => vec![1, 3, c, c],
                _ => vec![],
            };
            let name = l.tops.first().ok_or_else(|| graph("no output"))?;
            self.declare_input(name, &shape);
            return Ok(());
        }
        match k {
            "Split" | "Dropout" => {
                let x = self.bottom(l, 0)?;
                for t in &l.tops {
                    self.blobs.insert(t.clone(), x.clone());
                }
                Ok(())
            }
            "Convolution" | "Deconvolution" => self.convolution(l),
            "InnerProduct" => {
                let (x, _) = self.bottom(l, 0)?;
                let p = l.param(117)?;
                let axis = p.uint(5).map_or(1, |a| a as i64);
                let w = self.weights(l, 0)?;
                if w.shape.len() != 2 {
                    return Err(graph(format!("weights of shape {:?}", w.shape)));
                }
                let flat = self.b.op("Flatten", &[&x], vec![("axis", Attr::Int(axis))]);
                let wn = self.b.const_f32(w.shape.clone(), &w.data)?;
                let trans = i64::from(p.uint(6).unwrap_or(0) == 0);
                let mut ins = vec![flat, wn];
                if p.uint(2).unwrap_or(1) != 0 {
                    let bias = self.weights(l, 1)?;
                    ins.push(self.b.const_f32(vec![bias.data.len() as i64], &bias.data)?);
                }
                let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
                let y = self.b.op("Gemm", &ins, vec![("transB", Attr::Int(trans))]);
                self.top(l, y, 2)
            }
            "BatchNorm" => {
                let (x, rank) = self.bottom(l, 0)?;
                let (mean, var) = (self.weights(l, 0)?, self.weights(l, 1)?);
                // The third blob is the moving-average factor the sums were kept under.
                let sf = l
                    .blobs
                    .get(2)
                    .and_then(|b| b.data.first().copied())
                    .unwrap_or(1.0);
                let f = if sf == 0.0 { 0.0 } else { 1.0 / sf };
                let n = mean.data.len() as i64;
                let m: Vec<f32> = mean.data.iter().map(|v| v * f).collect();
                let v: Vec<f32> = var.data.iter().map(|v| v * f).collect();
                let eps = l.param(139)?.float(3).unwrap_or(1e-5);
                let (one, zero) = (vec![1.0; n as usize], vec![0.0; n as usize]);
                let ins = [
                    x,
                    self.b.const_f32(vec![n], &one)?,
                    self.b.const_f32(vec![n], &zero)?,
                    self.b.const_f32(vec![n], &m)?,
                    self.b.const_f32(vec![n], &v)?,
                ];
                let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
                let y = self.b.op(
                    "BatchNormalization",
                    &ins,
                    vec![("epsilon", Attr::Float(eps))],
                );
                self.top(l, y, rank)
            }
            "Scale" | "Bias" => {
                let (x, rank) = self.bottom(l, 0)?;
                if l.bottoms.len() > 1 {
                    return Err(refuse(l, "a second input"));
                }
                let scale = k == "Scale";
                let w = self.weights(l, 0)?;
                let c = self.per_channel(&w.data, rank)?;
                let mut y = self
                    .b
                    .op(if scale { "Mul" } else { "Add" }, &[&x, &c], vec![]);
                if scale && l.param(142)?.uint(4).unwrap_or(0) != 0 {
                    let bias = self.weights(l, 1)?;
                    let bc = self.per_channel(&bias.data, rank)?;
                    y = self.b.op("Add", &[&y, &bc], vec![]);
                }
                self.top(l, y, rank)
            }
            "ReLU" => {
                let (x, rank) = self.bottom(l, 0)?;
                let slope = l.param(123)?.float(1).unwrap_or(0.0);
                let y = if slope == 0.0 {
                    self.b.op("Relu", &[&x], vec![])
                } else {
                    self.b
                        .op("LeakyRelu", &[&x], vec![("alpha", Attr::Float(slope))])
                };
                self.top(l, y, rank)
            }
            "PReLU" => {
                let (x, rank) = self.bottom(l, 0)?;
                let w = self.weights(l, 0)?;
                let s = if w.data.len() == 1 {
                    self.b.const_f32(vec![1], &w.data)?
                } else {
                    self.per_channel(&w.data, rank)?
                };
                let y = self.b.op("PRelu", &[&x, &s], vec![]);
                self.top(l, y, rank)
            }
            "Sigmoid" | "TanH" | "AbsVal" => {
                let (x, rank) = self.bottom(l, 0)?;
                let op = match k {
                    "Sigmoid" => "Sigmoid",
                    "TanH" => "Tanh",
                    _ => "Abs",
                };
                let y = self.b.op(op, &[&x], vec![]);
                self.top(l, y, rank)
            }
            "ELU" => {
                let (x, rank) = self.bottom(l, 0)?;
                let a = l.param(140)?.float(1).unwrap_or(1.0);
                let y = self.b.op("Elu", &[&x], vec![("alpha", Attr::Float(a))]);
                self.top(l, y, rank)
            }
            "Power" => {
                let (x, rank) = self.bottom(l, 0)?;
                let p = l.param(122)?;
                let (pw, sc, sh) = (
                    p.float(1).unwrap_or(1.0),
                    p.float(2).unwrap_or(1.0),
                    p.float(3).unwrap_or(0.0),
                );
                let s = self.b.scalar_f32(sc)?;
                let y = self.b.op("Mul", &[&x, &s], vec![]);
                let t = self.b.scalar_f32(sh)?;
                let y = self.b.op("Add", &[&y, &t], vec![]);
                let e = self.b.scalar_f32(pw)?;
                let y = self.b.op("Pow", &[&y, &e], vec![]);
                self.top(l, y, rank)
            }
            "Pooling" => self.pooling(l),
            "Eltwise" => {
                let p = l.param(110)?;
                let coeffs = p.floats(2);
                let op = match p.uint(1).unwrap_or(1) {
                    0 => "Mul",
                    1 => "Add",
                    2 => "Max",
                    o => return Err(refuse(l, &format!("operation {o}"))),
                };
                let xs = (0..l.bottoms.len())
                    .map(|i| self.bottom(l, i))
                    .collect::<Result<Vec<_>, _>>()?;
                let rank = xs.first().map_or(4, |x| x.1);
                let y = self
                    .b
                    .eltwise(op, xs.into_iter().map(|x| x.0).collect(), &coeffs)?;
                self.top(l, y, rank)
            }
            "Concat" => {
                let p = l.param(104)?;
                let axis = p.uint(2).or(p.uint(1)).map_or(1, |a| a as i64);
                let xs = (0..l.bottoms.len())
                    .map(|i| self.bottom(l, i))
                    .collect::<Result<Vec<_>, _>>()?;
                let rank = xs.first().map_or(4, |x| x.1);
                let names: Vec<&str> = xs.iter().map(|x| x.0.as_str()).collect();
                let y = self.b.op("Concat", &names, vec![("axis", Attr::Int(axis))]);
                self.top(l, y, rank)
            }
            "Softmax" => {
                let (x, rank) = self.bottom(l, 0)?;
                let axis = l.param(125)?.uint(2).map_or(1, |a| a as i64);
                let y = self.b.op("Softmax", &[&x], vec![("axis", Attr::Int(axis))]);
                self.top(l, y, rank)
            }
            "Flatten" => {
                let (x, _) = self.bottom(l, 0)?;
                let p = l.param(135)?;
                let axis = p.uint(1).map_or(1, |a| a as i64);
                if p.uint(2).is_some_and(|e| e as i32 != -1) {
                    return Err(refuse(l, "an end axis other than the last"));
                }
                let y = self.b.op("Flatten", &[&x], vec![("axis", Attr::Int(axis))]);
                self.top(l, y, axis.max(1) as usize + 1)
            }
            "Reshape" => {
                let (x, _) = self.bottom(l, 0)?;
                let p = l.param(133)?;
                if p.uint(2).unwrap_or(0) != 0 || p.uint(3).is_some_and(|n| n as i32 != -1) {
                    return Err(refuse(l, "a reshape of some axes only"));
                }
                let dims = p.message(1)?.map(|s| s.uints(1)).unwrap_or_default();
                if dims.is_empty() {
                    return Err(graph("no shape"));
                }
                let s = self.b.const_i64(&dims)?;
                let y = self.b.op("Reshape", &[&x, &s], vec![]);
                self.top(l, y, dims.len())
            }
            "Permute" => {
                let (x, rank) = self.bottom(l, 0)?;
                let mut perm = l.param(202)?.uints(1);
                for a in 0..rank as i64 {
                    if !perm.contains(&a) {
                        perm.push(a);
                    }
                }
                if perm.len() != rank {
                    return Err(graph(format!("order {perm:?} for {rank} axes")));
                }
                let y = self
                    .b
                    .op("Transpose", &[&x], vec![("perm", Attr::Ints(perm))]);
                self.top(l, y, rank)
            }
            "LRN" => {
                let (x, rank) = self.bottom(l, 0)?;
                let p = l.param(118)?;
                if p.uint(4).unwrap_or(0) != 0 {
                    return Err(refuse(l, "normalising within a channel"));
                }
                let y = self.b.op(
                    "LRN",
                    &[&x],
                    vec![
                        ("size", Attr::Int(p.uint(1).unwrap_or(5) as i64)),
                        ("alpha", Attr::Float(p.float(2).unwrap_or(1.0))),
                        ("beta", Attr::Float(p.float(3).unwrap_or(0.75))),
                        ("bias", Attr::Float(p.float(5).unwrap_or(1.0))),
                    ],
                );
                self.top(l, y, rank)
            }
            "Normalize" => self.normalize(l),
            _ => Err(refuse(
                l,
                "no ONNX translation written for this Caffe layer",
            )),
        }
    }

    fn convolution(&mut self, l: &Layer<'_>) -> Result<(), ConvertError> {
        let (x, _) = self.bottom(l, 0)?;
        let p = l.param(106)?;
        let w = self.weights(l, 0)?;
        if w.shape.len() != 4 {
            return Err(graph(format!("weights of shape {:?}", w.shape)));
        }
        let two = |one: Vec<i64>, h: Option<u64>, w: Option<u64>, d: i64| -> [i64; 2] {
            match (h, w) {
                (Some(h), Some(w)) => [h as i64, w as i64],
                _ => match one.as_slice() {
                    [] => [d, d],
                    [v] => [*v, *v],
                    [a, b, ..] => [*a, *b],
                },
            }
        };
        let pad = two(p.uints(3), p.uint(9), p.uint(10), 0);
        let stride = two(p.uints(6), p.uint(13), p.uint(14), 1);
        let dil = two(p.uints(18), None, None, 1);
        let group = p.uint(5).unwrap_or(1).max(1) as i64;
        let wn = self.b.const_f32(w.shape.clone(), &w.data)?;
        let mut ins = vec![x, wn];
        if p.uint(2).unwrap_or(1) != 0 {
            let bias = self.weights(l, 1)?;
            ins.push(self.b.const_f32(vec![bias.data.len() as i64], &bias.data)?);
        }
        let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
        let op = if l.kind == "Deconvolution" {
            "ConvTranspose"
        } else {
            "Conv"
        };
        let y = self.b.op(
            op,
            &ins,
            vec![
                ("kernel_shape", Attr::Ints(vec![w.shape[2], w.shape[3]])),
                ("strides", Attr::Ints(stride.to_vec())),
                ("dilations", Attr::Ints(dil.to_vec())),
                ("pads", Attr::Ints(vec![pad[0], pad[1], pad[0], pad[1]])),
                ("group", Attr::Int(group)),
            ],
        );
        self.top(l, y, 4)
    }

    fn pooling(&mut self, l: &Layer<'_>) -> Result<(), ConvertError> {
        let (x, _) = self.bottom(l, 0)?;
        let p = l.param(121)?;
        let max = match p.uint(1).unwrap_or(0) {
            0 => true,
            1 => false,
            o => return Err(refuse(l, &format!("pool method {o}"))),
        };
        if p.uint(12).unwrap_or(0) != 0 {
            let op = if max {
                "GlobalMaxPool"
            } else {
                "GlobalAveragePool"
            };
            let y = self.b.op(op, &[&x], vec![]);
            return self.top(l, y, 4);
        }
        let pick = |one: Option<u64>, h: Option<u64>, w: Option<u64>, d: u64| -> [i64; 2] {
            match (h, w) {
                (Some(h), Some(w)) => [h as i64, w as i64],
                _ => {
                    let v = one.unwrap_or(d) as i64;
                    [v, v]
                }
            }
        };
        let kernel = pick(p.uint(2), p.uint(5), p.uint(6), 1);
        let stride = pick(p.uint(3), p.uint(7), p.uint(8), 1);
        let pad = pick(p.uint(4), p.uint(9), p.uint(10), 0);
        // Caffe rounds the output size up unless round_mode is FLOOR (1).
        let ceil = i64::from(p.uint(13).unwrap_or(0) == 0);
        let mut attrs = vec![
            ("kernel_shape", Attr::Ints(kernel.to_vec())),
            ("strides", Attr::Ints(stride.to_vec())),
            ("pads", Attr::Ints(vec![pad[0], pad[1], pad[0], pad[1]])),
            ("ceil_mode", Attr::Int(ceil)),
        ];
        if !max {
            attrs.push(("count_include_pad", Attr::Int(1)));
        }
        let op = if max { "MaxPool" } else { "AveragePool" };
        let y = self.b.op(op, &[&x], attrs);
        self.top(l, y, 4)
    }

    /// SSD's `Normalize`: x / sqrt(sum of squares + eps) over the channels at each position
    /// (or over everything with `across_spatial`), times a per-channel or shared scale.
    fn normalize(&mut self, l: &Layer<'_>) -> Result<(), ConvertError> {
        let (x, rank) = self.bottom(l, 0)?;
        let p = l.param(206)?;
        let across_spatial = p.uint(1).unwrap_or(1) != 0;
        let eps = p.float(4).unwrap_or(1e-10);
        let axes: Vec<i64> = if across_spatial {
            (1..rank as i64).collect()
        } else {
            vec![1]
        };
        let ss = self.b.op(
            "ReduceSumSquare",
            &[&x],
            vec![("axes", Attr::Ints(axes)), ("keepdims", Attr::Int(1))],
        );
        let e = self.b.scalar_f32(eps)?;
        let a = self.b.op("Add", &[&ss, &e], vec![]);
        let n = self.b.op("Sqrt", &[&a], vec![]);
        let y = self.b.op("Div", &[&x, &n], vec![]);
        let w = self.weights(l, 0)?;
        let s = if w.data.len() == 1 {
            self.b.const_f32(vec![1], &w.data)?
        } else {
            self.per_channel(&w.data, rank)?
        };
        let y = self.b.op("Mul", &[&y, &s], vec![]);
        self.top(l, y, rank)
    }
}
