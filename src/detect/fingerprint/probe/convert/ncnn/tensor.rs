//! The NCNN layers that combine or rearrange blobs: eltwise and binary ops (with ncnn's
//! per-channel broadcast of a vector), unary ops, reshape, permute, normalize (ncnn
//! `src/layer/{eltwise,binaryop,unaryop,reshape,permute,normalize}.cpp`).

use super::{count, graph, refuse, Converter, UNSET};
use crate::decode::models::ncnn::Layer;
use crate::detect::fingerprint::probe::convert::builder::Attr;
use crate::detect::fingerprint::probe::convert::ConvertError;

impl Converter<'_> {
    pub(super) fn eltwise(&mut self, l: &Layer) -> Result<(), ConvertError> {
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
        let values = xs
            .iter()
            .map(|x| self.widen(x, dims))
            .collect::<Result<Vec<_>, _>>()?;
        let y = self.b.eltwise(op, values, &coeffs)?;
        self.top(l, y, dims)
    }

    pub(super) fn binary_op(&mut self, l: &Layer) -> Result<(), ConvertError> {
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

    pub(super) fn unary_op(&mut self, l: &Layer) -> Result<(), ConvertError> {
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

    pub(super) fn reshape(&mut self, l: &Layer) -> Result<(), ConvertError> {
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

    pub(super) fn permute(&mut self, l: &Layer) -> Result<(), ConvertError> {
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

    /// ncnn's `Normalize` (`src/layer/normalize.cpp`): the sum of squares over the whole blob
    /// (across space and channels), over each channel's plane (across space), or over the
    /// channels at each position (across channels); a vector or matrix is one channel.
    pub(super) fn normalize(&mut self, l: &Layer) -> Result<(), ConvertError> {
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
