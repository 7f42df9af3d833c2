//! NCNN models (`.param` + `.bin`, read by [`crate::decode::models::ncnn`]) to ONNX.
//!
//! NCNN lays blobs out as ONNX does (channels, then rows, then columns), so layers map one to
//! one, weights in their own order. An ncnn blob of `d` dimensions becomes an ONNX tensor of
//! `d + 1` with a batch of one in front: `(w)` → `(1, w)`, `(h, w)` → `(1, h, w)`,
//! `(c, h, w)` → `(1, c, h, w)`; an ncnn axis `a` is ONNX axis `a + 1`. Two ncnn rules are
//! not ONNX broadcasting and are written out: a one-dimensional blob met with a larger one is
//! per channel (ncnn `BinaryOp`, `Eltwise`; a squeeze-and-excitation's scales), and global
//! pooling and `InnerProduct` give one-dimensional blobs.
//!
//! Layer semantics and parameter ids follow ncnn's `src/layer/*.cpp` and its operator
//! reference (`docs/developer-guide/operators.md`). The input is fed as ncnn's `Input` layer
//! declares it; the pixel scaling an application applies before (`substract_mean_normalize`)
//! is not in the model, so the probe tries its usual scalings. A layer type not here, or a
//! parameter that changes what a layer computes in a way not written out (int8 weights,
//! dynamic weights, adaptive pooling to more than one cell), ends the conversion naming it.

use super::builder::{Attr, Builder};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::ncnn::{layers, Layer, ModelBin, Params};
use std::collections::{HashMap, HashSet};

/// The name under which the converter asks for the `.bin` that goes with the `.param` (the
/// probe answers with the file named by [`crate::decode::models::ncnn::WEIGHTS_FACT`]).
pub const WEIGHTS: &str = "<ncnn weights>";

/// ncnn's marker for "not set" / "same padding, more at the end".
const UNSET: i32 = -233;
/// ncnn's marker for "same padding, more at the start".
const SAME_LOWER: i32 = -234;

/// Convert a `.param` with its `.bin` (fetched through `sibling` as [`WEIGHTS`]), with a note
/// of what was converted. Errors: the `.bin` missing or too short, a layer or parameter not
/// converted (named), several inputs, a blob used before it is made.
pub fn convert(
    param: &[u8],
    sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<(Vec<u8>, String), ConvertError> {
    let all = layers(param)?;
    let bin = sibling(WEIGHTS)
        .ok_or_else(|| ConvertError::Graph("the .bin beside the .param was not found".into()))?;
    let mut c = Converter {
        b: Builder::default(),
        mb: ModelBin::new(&bin),
        blobs: HashMap::new(),
        input: None,
    };
    for l in &all {
        c.layer(l).map_err(|e| match e {
            ConvertError::Graph(m) => {
                ConvertError::Graph(format!("layer {} {}: {m}", l.kind, l.name))
            }
            other => other,
        })?;
    }
    // The graph's outputs: blobs made and never read.
    let read: HashSet<&str> = all
        .iter()
        .flat_map(|l| l.bottoms.iter().map(String::as_str))
        .collect();
    let mut outputs = Vec::new();
    for l in &all {
        for t in &l.tops {
            if !read.contains(t.as_str()) {
                if let Some(b) = c.blobs.get(t) {
                    if !outputs.contains(&b.name) && Some(&b.name) != c.input.as_ref() {
                        outputs.push(b.name.clone());
                    }
                }
            }
        }
    }
    if c.input.is_none() || outputs.is_empty() {
        return Err(ConvertError::Graph("no Input layer or no output".into()));
    }
    for o in &outputs {
        c.b.io(true, o, data_type::FLOAT, None);
    }
    let left = c.mb.remaining();
    let note = format!(
        "converted from NCNN ({} layers, {} ONNX nodes{})",
        all.len(),
        c.b.node_count(),
        if left > 0 {
            format!("; {left} bytes of the .bin not read by any layer")
        } else {
            String::new()
        }
    );
    Ok((c.b.finish("banwatch-ncnn"), note))
}

/// A blob: its ONNX value and how many dimensions ncnn gives it (1–3).
#[derive(Clone)]
struct Blob {
    name: String,
    dims: usize,
}

struct Converter<'a> {
    b: Builder,
    mb: ModelBin<'a>,
    blobs: HashMap<String, Blob>,
    input: Option<String>,
}

fn graph(m: impl Into<String>) -> ConvertError {
    ConvertError::Graph(m.into())
}

fn refuse(l: &Layer, detail: &str) -> ConvertError {
    ConvertError::Operator {
        op: l.kind.clone(),
        detail: detail.into(),
    }
}

fn count(v: i32, what: &str) -> Result<usize, ConvertError> {
    usize::try_from(v)
        .ok()
        .filter(|&n| n > 0 && n <= 1 << 28)
        .ok_or_else(|| graph(format!("{what} = {v}")))
}

impl Converter<'_> {
    fn bottom(&self, l: &Layer, i: usize) -> Result<Blob, ConvertError> {
        let name = l
            .bottoms
            .get(i)
            .ok_or_else(|| graph(format!("no input {i}")))?;
        self.blobs
            .get(name)
            .cloned()
            .ok_or_else(|| graph(format!("blob {name} is used before it is made")))
    }

    fn top(&mut self, l: &Layer, name: String, dims: usize) -> Result<(), ConvertError> {
        let t = l.tops.first().ok_or_else(|| graph("no output"))?;
        self.blobs.insert(t.clone(), Blob { name, dims });
        Ok(())
    }

    fn load(&mut self, l: &Layer, n: usize, raw: bool) -> Result<Vec<f32>, ConvertError> {
        let w = self.mb.load(n, raw)?;
        if w.int8 {
            return Err(refuse(l, "int8 weights"));
        }
        Ok(w.values)
    }

    /// A per-channel constant for a blob of `dims` (ncnn's channel: `c` of a map, `h` of a
    /// matrix, `w` of a vector).
    fn per_channel(&mut self, values: &[f32], dims: usize) -> Result<String, ConvertError> {
        let n = values.len() as i64;
        let shape = match dims {
            3 => vec![n, 1, 1],
            2 => vec![n, 1],
            _ => vec![n],
        };
        self.b.const_f32(shape, values)
    }

    /// `x` of `from` dimensions shaped to meet a blob of `to` dimensions channel-wise (a
    /// vector's elements on the channel axis).
    fn widen(&mut self, x: &Blob, to: usize) -> Result<String, ConvertError> {
        if x.dims != 1 || to == 1 {
            return Ok(x.name.clone());
        }
        let axes: Vec<i64> = (2..=to as i64).collect();
        let axes = self.b.const_i64(&axes)?;
        Ok(self.b.op("Unsqueeze", &[&x.name, &axes], vec![]))
    }

    /// ncnn's fused activation (`9=type`, `10=params`) after a convolution or inner product.
    fn activation(&mut self, l: &Layer, x: String) -> Result<String, ConvertError> {
        let p = &l.params;
        let a = p.array(10).to_vec();
        let arg = |i: usize, d: f32| a.get(i).copied().unwrap_or(d);
        Ok(match p.int(9, 0) {
            0 => x,
            1 => self.b.op("Relu", &[&x], vec![]),
            2 => self.b.op(
                "LeakyRelu",
                &[&x],
                vec![("alpha", Attr::Float(arg(0, 0.0)))],
            ),
            3 => self.clip(&x, arg(0, f32::MIN), arg(1, f32::MAX))?,
            4 => self.b.op("Sigmoid", &[&x], vec![]),
            5 => self.mish(&x),
            6 => self.hard_swish(&x, arg(0, 0.2), arg(1, 0.5)),
            t => return Err(refuse(l, &format!("activation type {t}"))),
        })
    }

    fn clip(&mut self, x: &str, lo: f32, hi: f32) -> Result<String, ConvertError> {
        let (lo, hi) = (self.b.scalar_f32(lo)?, self.b.scalar_f32(hi)?);
        Ok(self.b.op("Clip", &[x, &lo, &hi], vec![]))
    }

    fn mish(&mut self, x: &str) -> String {
        let sp = self.b.op("Softplus", &[x], vec![]);
        let t = self.b.op("Tanh", &[&sp], vec![]);
        self.b.op("Mul", &[x, &t], vec![])
    }

    fn hard_swish(&mut self, x: &str, alpha: f32, beta: f32) -> String {
        let h = self.b.op(
            "HardSigmoid",
            &[x],
            vec![("alpha", Attr::Float(alpha)), ("beta", Attr::Float(beta))],
        );
        self.b.op("Mul", &[x, &h], vec![])
    }

    fn layer(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        match l.kind.as_str() {
            "Input" => {
                if self.input.is_some() {
                    return Err(graph("a second Input: the probe feeds one picture"));
                }
                let dim = |id: i32| i64::from(p.int(id, 0)).max(0);
                let (w, h, c) = (dim(0), dim(1), dim(2));
                let (shape, dims) = match (p.has(2), p.has(1)) {
                    (true, _) | (false, false) => (vec![1, if c > 0 { c } else { 3 }, h, w], 3),
                    (false, true) => (vec![1, h, w], 2),
                };
                let name = self.b.fresh();
                self.b.io(false, &name, data_type::FLOAT, Some(&shape));
                self.input = Some(name.clone());
                self.top(l, name, dims)
            }
            "Split" | "Dropout" | "Noop" => {
                let x = self.bottom(l, 0)?;
                for t in &l.tops {
                    self.blobs.insert(t.clone(), x.clone());
                }
                Ok(())
            }
            "Convolution" | "ConvolutionDepthWise" => self.convolution(l, false),
            "Deconvolution" | "DeconvolutionDepthWise" => self.convolution(l, true),
            "InnerProduct" => self.inner_product(l),
            "BatchNorm" => {
                let x = self.bottom(l, 0)?;
                let c = count(p.int(0, 0), "channels")?;
                let eps = p.float(1, 0.0);
                let mut vals = Vec::new();
                for _ in 0..4 {
                    vals.push(self.load(l, c, true)?);
                }
                // ncnn's order: slope, mean, variance, bias.
                let [slope, mean, var, bias] = [&vals[0], &vals[1], &vals[2], &vals[3]];
                let c = c as i64;
                let s = self.b.const_f32(vec![c], slope)?;
                let bi = self.b.const_f32(vec![c], bias)?;
                let m = self.b.const_f32(vec![c], mean)?;
                let v = self.b.const_f32(vec![c], var)?;
                let y = self.b.op(
                    "BatchNormalization",
                    &[&x.name, &s, &bi, &m, &v],
                    vec![("epsilon", Attr::Float(eps))],
                );
                self.top(l, y, x.dims)
            }
            "Scale" => {
                let x = self.bottom(l, 0)?;
                let n = p.int(0, 0);
                let y = if n == UNSET {
                    let s = self.bottom(l, 1)?;
                    let s = self.widen(&s, x.dims)?;
                    self.b.op("Mul", &[&x.name, &s], vec![])
                } else {
                    let v = self.load(l, count(n, "scale_data_size")?, true)?;
                    let s = self.per_channel(&v, x.dims)?;
                    self.b.op("Mul", &[&x.name, &s], vec![])
                };
                let y = if p.int(1, 0) != 0 {
                    let n = count(if n == UNSET { 0 } else { n }, "scale_data_size")?;
                    let v = self.load(l, n, true)?;
                    let bi = self.per_channel(&v, x.dims)?;
                    self.b.op("Add", &[&y, &bi], vec![])
                } else {
                    y
                };
                self.top(l, y, x.dims)
            }
            "PReLU" => {
                let x = self.bottom(l, 0)?;
                let n = count(p.int(0, 0), "num_slope")?;
                let v = self.load(l, n, true)?;
                let s = if n == 1 {
                    self.b.const_f32(vec![1], &v)?
                } else {
                    self.per_channel(&v, x.dims)?
                };
                let y = self.b.op("PRelu", &[&x.name, &s], vec![]);
                self.top(l, y, x.dims)
            }
            "ReLU" => self.unary(l, |b, x, p| {
                let slope = p.float(0, 0.0);
                Ok(if slope == 0.0 {
                    b.op("Relu", &[x], vec![])
                } else {
                    b.op("LeakyRelu", &[x], vec![("alpha", Attr::Float(slope))])
                })
            }),
            "Clip" => {
                let x = self.bottom(l, 0)?;
                let y = self.clip(&x.name, p.float(0, f32::MIN), p.float(1, f32::MAX))?;
                self.top(l, y, x.dims)
            }
            "Sigmoid" => self.simple(l, "Sigmoid"),
            "TanH" => self.simple(l, "Tanh"),
            "AbsVal" => self.simple(l, "Abs"),
            "Erf" => self.simple(l, "Erf"),
            "Swish" => self.unary(l, |b, x, _| {
                let s = b.op("Sigmoid", &[x], vec![]);
                Ok(b.op("Mul", &[x, &s], vec![]))
            }),
            "Mish" => {
                let x = self.bottom(l, 0)?;
                let y = self.mish(&x.name);
                self.top(l, y, x.dims)
            }
            "HardSigmoid" => self.unary(l, |b, x, p| {
                Ok(b.op(
                    "HardSigmoid",
                    &[x],
                    vec![
                        ("alpha", Attr::Float(p.float(0, 0.2))),
                        ("beta", Attr::Float(p.float(1, 0.5))),
                    ],
                ))
            }),
            "HardSwish" => {
                let x = self.bottom(l, 0)?;
                let y = self.hard_swish(&x.name, p.float(0, 0.2), p.float(1, 0.5));
                self.top(l, y, x.dims)
            }
            "ELU" => self.unary(l, |b, x, p| {
                Ok(b.op("Elu", &[x], vec![("alpha", Attr::Float(p.float(0, 0.1)))]))
            }),
            "SELU" => self.unary(l, |b, x, p| {
                Ok(b.op(
                    "Selu",
                    &[x],
                    vec![
                        ("alpha", Attr::Float(p.float(0, 1.673_263_2))),
                        ("gamma", Attr::Float(p.float(1, 1.050_701))),
                    ],
                ))
            }),
            "GELU" => self.unary(l, |b, x, _| {
                // 0.5 x (1 + erf(x / sqrt 2)).
                let r2 = b.scalar_f32(std::f32::consts::SQRT_2)?;
                let d = b.op("Div", &[x, &r2], vec![]);
                let e = b.op("Erf", &[&d], vec![]);
                let one = b.scalar_f32(1.0)?;
                let a = b.op("Add", &[&e, &one], vec![]);
                let h = b.scalar_f32(0.5)?;
                let m = b.op("Mul", &[x, &a], vec![]);
                Ok(b.op("Mul", &[&m, &h], vec![]))
            }),
            "Power" => self.unary(l, |b, x, p| {
                // (shift + scale x) ^ power.
                let (pw, sc, sh) = (p.float(0, 1.0), p.float(1, 1.0), p.float(2, 0.0));
                let s = b.scalar_f32(sc)?;
                let y = b.op("Mul", &[x, &s], vec![]);
                let t = b.scalar_f32(sh)?;
                let y = b.op("Add", &[&y, &t], vec![]);
                let e = b.scalar_f32(pw)?;
                Ok(b.op("Pow", &[&y, &e], vec![]))
            }),
            "UnaryOp" => self.unary_op(l),
            "Softmax" => {
                let x = self.bottom(l, 0)?;
                let axis = self.axis(p.int(0, 0), x.dims)?;
                let y = self
                    .b
                    .op("Softmax", &[&x.name], vec![("axis", Attr::Int(axis))]);
                self.top(l, y, x.dims)
            }
            "Pooling" => self.pooling(l),
            "Eltwise" => self.eltwise(l),
            "BinaryOp" => self.binary_op(l),
            "Concat" => {
                let xs = (0..l.bottoms.len())
                    .map(|i| self.bottom(l, i))
                    .collect::<Result<Vec<_>, _>>()?;
                let dims = xs.first().map_or(3, |x| x.dims);
                if xs.iter().any(|x| x.dims != dims) {
                    return Err(refuse(l, "inputs of different dimensions"));
                }
                let axis = self.axis(p.int(0, 0), dims)?;
                let names: Vec<&str> = xs.iter().map(|x| x.name.as_str()).collect();
                let y = self.b.op("Concat", &names, vec![("axis", Attr::Int(axis))]);
                self.top(l, y, dims)
            }
            "Interp" => self.interp(l),
            "PixelShuffle" => {
                let x = self.bottom(l, 0)?;
                let f = count(p.int(0, 1), "upscale_factor")?;
                // ncnn mode 0 is PyTorch's pixel_shuffle (ONNX CRD), 1 TensorFlow's (DCR).
                let mode = if p.int(1, 0) == 0 { "CRD" } else { "DCR" };
                let y = self.b.op(
                    "DepthToSpace",
                    &[&x.name],
                    vec![
                        ("blocksize", Attr::Int(f as i64)),
                        ("mode", Attr::Str(mode)),
                    ],
                );
                self.top(l, y, 3)
            }
            "Flatten" => {
                let x = self.bottom(l, 0)?;
                let y = self
                    .b
                    .op("Flatten", &[&x.name], vec![("axis", Attr::Int(1))]);
                self.top(l, y, 1)
            }
            "MatMul" => {
                // numpy's matmul over ncnn's dimensions; the batch of one in front broadcasts.
                let (a, b) = (self.bottom(l, 0)?, self.bottom(l, 1)?);
                if a.dims < 2 || b.dims < 2 {
                    return Err(refuse(l, "a vector operand"));
                }
                let b_name = if p.int(0, 0) != 0 {
                    let mut perm: Vec<i64> = (0..=b.dims as i64).collect();
                    perm.swap(b.dims - 1, b.dims);
                    self.b
                        .op("Transpose", &[&b.name], vec![("perm", Attr::Ints(perm))])
                } else {
                    b.name.clone()
                };
                let y = self.b.op("MatMul", &[&a.name, &b_name], vec![]);
                self.top(l, y, a.dims.max(b.dims))
            }
            "Reshape" => self.reshape(l),
            "Permute" => self.permute(l),
            "Padding" => self.padding(l),
            "Normalize" => self.normalize(l),
            "MemoryData" => {
                let (w, h, c) = (p.int(0, 0), p.int(1, 0), p.int(2, 0));
                if p.int(11, 0) > 0 {
                    return Err(refuse(l, "four dimensions"));
                }
                let (shape, dims): (Vec<i32>, usize) = match (c > 0, h > 0) {
                    (true, _) => (vec![c, h.max(1), w.max(1)], 3),
                    (false, true) => (vec![h, w.max(1)], 2),
                    _ => (vec![w.max(1)], 1),
                };
                let n = shape
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(count(d, "size").ok()?))
                    .ok_or_else(|| graph("size"))?;
                let v = self.load(l, n, true)?;
                let mut onnx_shape = vec![1i64];
                onnx_shape.extend(shape.iter().map(|&d| i64::from(d)));
                let y = self.b.const_f32(onnx_shape, &v)?;
                self.top(l, y, dims)
            }
            _ => Err(refuse(l, "no ONNX translation written for this ncnn layer")),
        }
    }

    fn simple(&mut self, l: &Layer, op: &str) -> Result<(), ConvertError> {
        let x = self.bottom(l, 0)?;
        let y = self.b.op(op, &[&x.name], vec![]);
        self.top(l, y, x.dims)
    }

    fn unary(
        &mut self,
        l: &Layer,
        f: impl FnOnce(&mut Builder, &str, &Params) -> Result<String, ConvertError>,
    ) -> Result<(), ConvertError> {
        let x = self.bottom(l, 0)?;
        let y = f(&mut self.b, &x.name, &l.params)?;
        self.top(l, y, x.dims)
    }

    /// ncnn axis `a` (negative counts from the end) of a blob of `dims` → ONNX axis.
    fn axis(&self, a: i32, dims: usize) -> Result<i64, ConvertError> {
        let d = dims as i64;
        let a = i64::from(a);
        let a = if a < 0 { a + d } else { a };
        if !(0..d).contains(&a) {
            return Err(graph(format!("axis {a} of a {dims}-dimensional blob")));
        }
        Ok(a + 1)
    }

    fn convolution(&mut self, l: &Layer, transposed: bool) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.bottom(l, 0)?;
        if x.dims != 3 {
            return Err(refuse(l, "an input that is not a feature map"));
        }
        if p.int(19, 0) != 0 && !transposed || transposed && p.int(28, 0) != 0 {
            return Err(refuse(l, "dynamic weights"));
        }
        if p.int(8, 0) != 0 {
            return Err(refuse(l, "int8 weights"));
        }
        let out = count(p.int(0, 0), "num_output")?;
        let kw = count(p.int(1, 0), "kernel_w")?;
        let kh = count(p.int(11, kw as i32), "kernel_h")?;
        let dw = p.int(2, 1);
        let dh = p.int(12, dw);
        let sw = p.int(3, 1);
        let sh = p.int(13, sw);
        let pl = p.int(4, 0);
        let pr = p.int(15, pl);
        let pt = p.int(14, pl);
        let pb = p.int(16, pt);
        if p.float(18, 0.0) != 0.0 {
            return Err(refuse(l, "a non-zero padding value"));
        }
        let group = if l.kind.ends_with("DepthWise") {
            count(p.int(7, 1), "group")?
        } else {
            1
        };
        let size = count(p.int(6, 0), "weight_data_size")?;
        let per = out * kh * kw;
        if size % per != 0 || out % group != 0 {
            return Err(graph(format!(
                "weight_data_size {size} is not num_output {out} × {kh} × {kw} × inputs"
            )));
        }
        let inputs_per_group = size / per;
        let mut w = self.load(l, size, false)?;
        let bias = if p.int(5, 0) != 0 {
            Some(self.load(l, out, true)?)
        } else {
            None
        };
        let (kh, kw) = (kh as i64, kw as i64);
        let dims = if transposed {
            // ncnn keeps a deconvolution's weights output-major per group; ONNX wants
            // input-major: swap the two axes within each group.
            let (o, i) = (out / group, inputs_per_group);
            let k = (kh * kw) as usize;
            let mut t = vec![0f32; w.len()];
            for g in 0..group {
                let base = g * o * i * k;
                for oc in 0..o {
                    for ic in 0..i {
                        let from = base + (oc * i + ic) * k;
                        let to = base + (ic * o + oc) * k;
                        t[to..to + k].copy_from_slice(&w[from..from + k]);
                    }
                }
            }
            w = t;
            vec![(group * i) as i64, o as i64, kh, kw]
        } else {
            vec![out as i64, inputs_per_group as i64, kh, kw]
        };
        let wn = self.b.const_f32(dims, &w)?;
        let mut ins = vec![x.name.clone(), wn];
        if let Some(bias) = &bias {
            ins.push(self.b.const_f32(vec![out as i64], bias)?);
        }
        let mut attrs = vec![
            ("kernel_shape", Attr::Ints(vec![kh, kw])),
            ("strides", Attr::Ints(vec![i64::from(sh), i64::from(sw)])),
            ("dilations", Attr::Ints(vec![i64::from(dh), i64::from(dw)])),
            ("group", Attr::Int(group as i64)),
        ];
        match pl {
            UNSET => attrs.push(("auto_pad", Attr::Str("SAME_UPPER"))),
            SAME_LOWER => attrs.push(("auto_pad", Attr::Str("SAME_LOWER"))),
            _ if [pl, pr, pt, pb].iter().any(|&v| v < 0) => {
                return Err(refuse(l, "a negative padding"))
            }
            _ => attrs.push((
                "pads",
                Attr::Ints([pt, pl, pb, pr].iter().map(|&v| i64::from(v)).collect()),
            )),
        }
        if transposed {
            let (ow, oh) = (p.int(18, 0), p.int(19, 0));
            let (outw, outh) = (p.int(20, 0), p.int(21, 0));
            if outw > 0 || outh > 0 {
                return Err(refuse(l, "a fixed output size"));
            }
            if ow > 0 || oh > 0 {
                attrs.push((
                    "output_padding",
                    Attr::Ints(vec![i64::from(oh), i64::from(ow)]),
                ));
            }
        }
        let names: Vec<&str> = ins.iter().map(String::as_str).collect();
        let op = if transposed { "ConvTranspose" } else { "Conv" };
        let y = self.b.op(op, &names, attrs);
        let y = self.activation(l, y)?;
        self.top(l, y, 3)
    }

    fn inner_product(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.bottom(l, 0)?;
        if p.int(8, 0) != 0 {
            return Err(refuse(l, "int8 weights"));
        }
        let out = count(p.int(0, 0), "num_output")?;
        let size = count(p.int(2, 0), "weight_data_size")?;
        if size % out != 0 {
            return Err(graph(format!(
                "weight_data_size {size} is not a multiple of {out}"
            )));
        }
        let w = self.load(l, size, false)?;
        let bias = if p.int(1, 0) != 0 {
            self.load(l, out, true)?
        } else {
            vec![0.0; out]
        };
        let flat = self
            .b
            .op("Flatten", &[&x.name], vec![("axis", Attr::Int(1))]);
        let wn = self
            .b
            .const_f32(vec![out as i64, (size / out) as i64], &w)?;
        let bn = self.b.const_f32(vec![out as i64], &bias)?;
        let y = self
            .b
            .op("Gemm", &[&flat, &wn, &bn], vec![("transB", Attr::Int(1))]);
        let y = self.activation(l, y)?;
        self.top(l, y, 1)
    }

    fn pooling(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.bottom(l, 0)?;
        let max = match p.int(0, 0) {
            0 => true,
            1 => false,
            t => return Err(refuse(l, &format!("pooling type {t}"))),
        };
        let global = p.int(4, 0) != 0;
        let adaptive = p.int(7, 0) != 0;
        let (ow, oh) = (p.int(8, 0), p.int(18, p.int(8, 0)));
        if global || adaptive && ow == 1 && oh == 1 {
            let op = if max {
                "GlobalMaxPool"
            } else {
                "GlobalAveragePool"
            };
            let g = self.b.op(op, &[&x.name], vec![]);
            if adaptive {
                return self.top(l, g, 3);
            }
            let y = self.b.op("Flatten", &[&g], vec![("axis", Attr::Int(1))]);
            return self.top(l, y, 1);
        }
        if adaptive {
            return Err(refuse(l, "adaptive pooling to more than one cell"));
        }
        let kw = count(p.int(1, 0), "kernel_w")?;
        let kh = count(p.int(11, kw as i32), "kernel_h")?;
        let sw = p.int(2, 1);
        let sh = p.int(12, sw);
        let pl = p.int(3, 0);
        let pr = p.int(14, pl);
        let pt = p.int(13, pl);
        let pb = p.int(15, pt);
        if [pl, pr, pt, pb].iter().any(|&v| v < 0) {
            return Err(refuse(l, "a negative padding"));
        }
        let mut attrs = vec![
            ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
            ("strides", Attr::Ints(vec![i64::from(sh), i64::from(sw)])),
        ];
        match p.int(5, 0) {
            // "Full" padding: a last window past the edge is kept (Caffe's rounding up).
            0 | 1 => {
                attrs.push((
                    "pads",
                    Attr::Ints([pt, pl, pb, pr].iter().map(|&v| i64::from(v)).collect()),
                ));
                attrs.push(("ceil_mode", Attr::Int(i64::from(p.int(5, 0) == 0))));
            }
            2 => attrs.push(("auto_pad", Attr::Str("SAME_UPPER"))),
            3 => attrs.push(("auto_pad", Attr::Str("SAME_LOWER"))),
            m => return Err(refuse(l, &format!("pad_mode {m}"))),
        }
        if !max {
            attrs.push(("count_include_pad", Attr::Int(i64::from(p.int(6, 0)))));
        }
        let op = if max { "MaxPool" } else { "AveragePool" };
        let y = self.b.op(op, &[&x.name], attrs);
        self.top(l, y, 3)
    }

    fn eltwise(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let xs = (0..l.bottoms.len())
            .map(|i| self.bottom(l, i))
            .collect::<Result<Vec<_>, _>>()?;
        if xs.len() < 2 {
            return Err(graph("fewer than two inputs"));
        }
        let dims = xs.iter().map(|x| x.dims).max().unwrap_or(3);
        let coeffs = l.params.array(1).to_vec();
        let op = match l.params.int(0, 1) {
            0 => "Mul",
            1 => "Add",
            2 => "Max",
            t => return Err(refuse(l, &format!("op_type {t}"))),
        };
        let mut acc: Option<String> = None;
        for (i, x) in xs.iter().enumerate() {
            let mut v = self.widen(x, dims)?;
            if op == "Add" && !coeffs.is_empty() {
                let c = self.b.scalar_f32(coeffs.get(i).copied().unwrap_or(1.0))?;
                v = self.b.op("Mul", &[&v, &c], vec![]);
            }
            acc = Some(match acc {
                None => v,
                Some(a) => self.b.op(op, &[&a, &v], vec![]),
            });
        }
        let y = acc.ok_or_else(|| graph("no input"))?;
        self.top(l, y, dims)
    }

    fn binary_op(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let a = self.bottom(l, 0)?;
        let (x, y, dims) = if p.int(1, 0) != 0 {
            let b = self.b.scalar_f32(p.float(2, 0.0))?;
            (a.name.clone(), b, a.dims)
        } else {
            let b = self.bottom(l, 1)?;
            let dims = a.dims.max(b.dims);
            (self.widen(&a, dims)?, self.widen(&b, dims)?, dims)
        };
        let (op, swap) = match p.int(0, 0) {
            0 => ("Add", false),
            1 => ("Sub", false),
            2 => ("Mul", false),
            3 => ("Div", false),
            4 => ("Max", false),
            5 => ("Min", false),
            6 => ("Pow", false),
            7 => ("Sub", true),
            8 => ("Div", true),
            9 => ("Pow", true),
            t => return Err(refuse(l, &format!("op_type {t}"))),
        };
        let (first, second) = if swap { (&y, &x) } else { (&x, &y) };
        let out = self.b.op(op, &[first, second], vec![]);
        self.top(l, out, dims)
    }

    fn unary_op(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let op = match l.params.int(0, 0) {
            0 => "Abs",
            1 => "Neg",
            2 => "Floor",
            3 => "Ceil",
            5 => "Sqrt",
            7 => "Exp",
            8 => "Log",
            9 => "Sin",
            10 => "Cos",
            11 => "Tan",
            12 => "Asin",
            13 => "Acos",
            14 => "Atan",
            15 => "Reciprocal",
            16 => "Tanh",
            18 => "Round",
            4 => {
                return self.unary(l, |b, x, _| Ok(b.op("Mul", &[x, x], vec![])));
            }
            6 => {
                return self.unary(l, |b, x, _| {
                    let s = b.op("Sqrt", &[x], vec![]);
                    Ok(b.op("Reciprocal", &[&s], vec![]))
                });
            }
            t => return Err(refuse(l, &format!("op_type {t}"))),
        };
        self.simple(l, op)
    }

    fn interp(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.bottom(l, 0)?;
        if x.dims != 3 {
            return Err(refuse(l, "an input that is not a feature map"));
        }
        if p.int(5, 0) != 0 || l.bottoms.len() > 1 {
            return Err(refuse(l, "a size taken from another blob"));
        }
        let align = p.int(6, 0) != 0;
        let (mode, transform) = match p.int(0, 0) {
            1 => ("nearest", "asymmetric"),
            2 => ("linear", if align { "align_corners" } else { "half_pixel" }),
            3 => ("cubic", if align { "align_corners" } else { "half_pixel" }),
            t => return Err(refuse(l, &format!("resize_type {t}"))),
        };
        let mut attrs = vec![
            ("mode", Attr::Str(mode)),
            ("coordinate_transformation_mode", Attr::Str(transform)),
        ];
        if mode == "nearest" {
            attrs.push(("nearest_mode", Attr::Str("floor")));
        }
        if mode == "cubic" {
            attrs.push(("cubic_coeff_a", Attr::Float(-0.75)));
        }
        let (oh, ow) = (p.int(3, 0), p.int(4, 0));
        let y = if oh > 0 && ow > 0 {
            let shape = self.b.op("Shape", &[&x.name], vec![]);
            let starts = self.b.const_i64(&[0])?;
            let ends = self.b.const_i64(&[2])?;
            let nc = self.b.op("Slice", &[&shape, &starts, &ends], vec![]);
            let hw = self.b.const_i64(&[i64::from(oh), i64::from(ow)])?;
            let sizes = self
                .b
                .op("Concat", &[&nc, &hw], vec![("axis", Attr::Int(0))]);
            self.b.op("Resize", &[&x.name, "", "", &sizes], attrs)
        } else {
            let (hs, ws) = (p.float(1, 1.0), p.float(2, 1.0));
            if !(hs > 0.0 && ws > 0.0) {
                return Err(graph(format!("scales {hs} × {ws}")));
            }
            let scales = self.b.const_f32(vec![4], &[1.0, 1.0, hs, ws])?;
            self.b.op("Resize", &[&x.name, "", &scales], attrs)
        };
        self.top(l, y, 3)
    }

    fn reshape(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.bottom(l, 0)?;
        if p.int(3, 0) != 0 {
            return Err(refuse(l, "Caffe's permuted reshape"));
        }
        if p.int(11, UNSET) != UNSET {
            return Err(refuse(l, "four dimensions"));
        }
        let (w, h, c) = (p.int(0, UNSET), p.int(1, UNSET), p.int(2, UNSET));
        let dims: Vec<i32> = if c != UNSET {
            vec![c, h, w]
        } else if h != UNSET {
            vec![h, w]
        } else {
            vec![w]
        };
        // ncnn's 0 keeps the input's size of that axis; ONNX's 0 keeps the size at the same
        // index, which is the same axis only when the dimensions agree.
        if dims.contains(&0) && dims.len() != x.dims || dims.contains(&UNSET) {
            return Err(refuse(l, "a kept size across a change of dimensions"));
        }
        let mut shape = vec![1i64];
        shape.extend(dims.iter().map(|&d| i64::from(d)));
        let s = self.b.const_i64(&shape)?;
        let y = self.b.op("Reshape", &[&x.name, &s], vec![]);
        self.top(l, y, dims.len())
    }

    fn permute(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let x = self.bottom(l, 0)?;
        let order = l.params.int(0, 0);
        // ncnn names the output's axes innermost first ("c w h": the output's w is the
        // input's c); ONNX's perm lists the input axis of each output axis, outermost first.
        let perm: Vec<i64> = match (x.dims, order) {
            (_, 0) => return self.alias(l, x),
            (2, 1) => vec![0, 2, 1],
            (3, 1) => vec![0, 1, 3, 2],
            (3, 2) => vec![0, 2, 1, 3],
            (3, 3) => vec![0, 2, 3, 1],
            (3, 4) => vec![0, 3, 1, 2],
            (3, 5) => vec![0, 3, 2, 1],
            (d, o) => return Err(refuse(l, &format!("order_type {o} of {d} dimensions"))),
        };
        let y = self
            .b
            .op("Transpose", &[&x.name], vec![("perm", Attr::Ints(perm))]);
        self.top(l, y, x.dims)
    }

    fn alias(&mut self, l: &Layer, x: Blob) -> Result<(), ConvertError> {
        let t = l.tops.first().ok_or_else(|| graph("no output"))?;
        self.blobs.insert(t.clone(), x);
        Ok(())
    }

    fn padding(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.bottom(l, 0)?;
        if x.dims != 3 {
            return Err(refuse(l, "an input that is not a feature map"));
        }
        if p.int(6, 0) != 0 {
            return Err(refuse(l, "per-channel padding values"));
        }
        let (t, b, le, r) = (p.int(0, 0), p.int(1, 0), p.int(2, 0), p.int(3, 0));
        let (front, behind) = (p.int(7, 0), p.int(8, 0));
        let mode = match p.int(4, 0) {
            0 => "constant",
            1 => "edge",
            2 => "reflect",
            m => return Err(refuse(l, &format!("type {m}"))),
        };
        let pads = self
            .b
            .const_i64(&[0, front, t, le, 0, behind, b, r].map(i64::from))?;
        let v = self.b.scalar_f32(p.float(5, 0.0))?;
        let y = self.b.op(
            "Pad",
            &[&x.name, &pads, &v],
            vec![("mode", Attr::Str(mode))],
        );
        self.top(l, y, 3)
    }

    /// ncnn's `Normalize` (`src/layer/normalize.cpp`): the sum of squares over the whole blob
    /// (across space and channels), over each channel's plane (across space), or over the
    /// channels at each position (across channels); a vector or matrix is one channel.
    fn normalize(&mut self, l: &Layer) -> Result<(), ConvertError> {
        let p = &l.params;
        let x = self.bottom(l, 0)?;
        let (spatial, channel) = (p.int(0, 0) != 0, p.int(4, 1) != 0);
        let eps = p.float(2, 0.0001);
        let n = count(p.int(3, 0), "scale_data_size")?;
        let scale = self.load(l, n, true)?;
        let all: Vec<i64> = (1..=x.dims as i64).collect();
        let axes: Vec<i64> = match (spatial, channel, x.dims) {
            (false, false, _) => return self.alias(l, x),
            (true, true, _) => all,
            (true, false, 3) => vec![2, 3],
            (true, false, _) => all,
            (false, true, 3) => vec![1],
            (false, true, _) => vec![],
        };
        let ss = if axes.is_empty() {
            self.b.op("Mul", &[&x.name, &x.name], vec![])
        } else {
            // Opset 17 takes the axes as an attribute (an input from opset 18).
            self.b.op(
                "ReduceSumSquare",
                &[&x.name],
                vec![("axes", Attr::Ints(axes)), ("keepdims", Attr::Int(1))],
            )
        };
        let e = self.b.scalar_f32(eps)?;
        // ncnn's eps_mode: 0 Caffe/MXNet sqrt(s + eps), 1 PyTorch max(sqrt s, eps),
        // 2 TensorFlow sqrt(max(s, eps)).
        let norm = match p.int(9, 0) {
            0 => {
                let a = self.b.op("Add", &[&ss, &e], vec![]);
                self.b.op("Sqrt", &[&a], vec![])
            }
            1 => {
                let s = self.b.op("Sqrt", &[&ss], vec![]);
                self.b.op("Max", &[&s, &e], vec![])
            }
            2 => {
                let m = self.b.op("Max", &[&ss, &e], vec![]);
                self.b.op("Sqrt", &[&m], vec![])
            }
            m => return Err(refuse(l, &format!("eps_mode {m}"))),
        };
        let y = self.b.op("Div", &[&x.name, &norm], vec![]);
        // One scale for all when shared, and for a vector or matrix (one channel to ncnn).
        let s = if p.int(1, 0) != 0 || x.dims < 3 || n == 1 {
            self.b.const_f32(vec![1], &scale[..1])?
        } else {
            self.per_channel(&scale, x.dims)?
        };
        let y = self.b.op("Mul", &[&y, &s], vec![]);
        self.top(l, y, x.dims)
    }
}
