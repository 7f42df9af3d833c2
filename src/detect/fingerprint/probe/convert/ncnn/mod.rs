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

mod spatial;
mod tensor;

/// The name under which the converter asks for its `.bin` ([`super::WEIGHTS`]).
pub use super::WEIGHTS;

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
        c.layer(l).map_err(|e| e.in_layer(&l.kind, &l.name))?;
    }
    // The graph's outputs: blobs made and never read.
    let read: HashSet<&str> = all
        .iter()
        .flat_map(|l| l.bottoms.iter().map(String::as_str))
        .collect();
    let blobs = &c.blobs;
    c.b.unread_outputs(
        all.iter().flat_map(|l| l.tops.iter()),
        &read,
        |t| blobs.get(t).map(|b| b.name.clone()),
        c.input.as_ref(),
    )?;
    let left = c.mb.remaining();
    let left_out = (left > 0).then(|| format!("{left} bytes of the .bin not read by any layer"));
    Ok(c.b.finish_layers("NCNN", all.len(), left_out))
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

    fn alias(&mut self, l: &Layer, x: Blob) -> Result<(), ConvertError> {
        let t = l.tops.first().ok_or_else(|| graph("no output"))?;
        self.blobs.insert(t.clone(), x);
        Ok(())
    }
}
