//! The operator table: each TFLite builtin (and the known CUSTOM ones) as ONNX nodes.

use super::*;

impl Converter<'_, '_> {
    pub(super) fn operator(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        match op.builtin {
            // Elementwise binary with a fused activation.
            0 | 18 | 41 | 42 => {
                let onnx = match op.builtin {
                    0 => "Add",
                    18 => "Mul",
                    41 => "Sub",
                    _ => "Div",
                };
                let (a, b) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let act = self.activation(op, 0)?;
                let y = self.b.op(onnx, &[&a, &b], vec![]);
                let out = self.out(op, 0)?;
                self.b.activate(y, &act, Some(&out))?;
            }
            55 | 57 | 78 => {
                let onnx = match op.builtin {
                    55 => "Max",
                    57 => "Min",
                    _ => "Pow",
                };
                let (a, b) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let out = self.out(op, 0)?;
                self.b.node(onnx, &[&a, &b], &[&out], vec![]);
            }
            // SQUARED_DIFFERENCE
            99 => {
                let (a, b) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let d = self.b.op("Sub", &[&a, &b], vec![]);
                let out = self.out(op, 0)?;
                self.b.node("Mul", &[&d, &d], &[&out], vec![]);
            }
            // Comparisons and logic.
            58 | 61 | 62 | 63 | 71 | 84 | 86 => {
                let onnx = match op.builtin {
                    58 => "Less",
                    61 => "Greater",
                    62 => "GreaterOrEqual",
                    63 => "LessOrEqual",
                    71 => "Equal",
                    84 => "Or",
                    _ => "And",
                };
                let (a, b) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let out = self.out(op, 0)?;
                self.b.node(onnx, &[&a, &b], &[&out], vec![]);
            }
            72 => {
                let (a, b) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let e = self.b.op("Equal", &[&a, &b], vec![]);
                let out = self.out(op, 0)?;
                self.b.node("Not", &[&e], &[&out], vec![]);
            }
            // SELECT, SELECT_V2
            64 | 123 => {
                let (c, a, b) = (self.arg(op, 0)?, self.arg(op, 1)?, self.arg(op, 2)?);
                let out = self.out(op, 0)?;
                self.b.node("Where", &[&c, &a, &b], &[&out], vec![]);
            }
            // ADD_N
            106 => {
                let ins: Vec<String> = (0..op.inputs.len())
                    .map(|k| self.arg(op, k))
                    .collect::<Result<_, _>>()?;
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                let out = self.out(op, 0)?;
                self.b.node("Sum", &refs, &[&out], vec![]);
            }
            // Unary.
            14 | 28 | 19 | 47 | 73 | 75 | 101 | 59 | 8 | 104 | 116 | 66 | 108 | 158 | 117 | 87
            | 114 | 80 | 111 => {
                let onnx = match op.builtin {
                    14 => "Sigmoid",
                    28 => "Tanh",
                    19 => "Relu",
                    47 => "Exp",
                    73 => "Log",
                    75 => "Sqrt",
                    101 => "Abs",
                    59 => "Neg",
                    8 => "Floor",
                    104 => "Ceil",
                    116 => "Round",
                    66 => "Sin",
                    108 => "Cos",
                    158 => "Sign",
                    117 => "HardSwish",
                    87 => "Not",
                    111 => "Elu",
                    // QUANTIZE, FAKE_QUANT: the float view already holds reals.
                    _ => "Identity",
                };
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.node(onnx, &[&x], &[&out], vec![]);
            }
            // DEQUANTIZE and DENSIFY: of a constant (stored weights), folded into the
            // constant's real values where it is used; otherwise the float view already holds
            // reals.
            6 | 124 => {
                let i = self.arg_index(op, 0)?;
                let i = self.folded.get(&i).copied().unwrap_or(i);
                let o = self.output_index(op, 0)?;
                if self.tensor(i)?.data.is_some() {
                    self.folded.insert(o, i);
                } else {
                    let x = self.input(i)?;
                    let out = self.out(op, 0)?;
                    self.b.node("Identity", &[&x], &[&out], vec![]);
                }
            }
            // RSQRT, SQUARE
            76 => {
                let x = self.arg(op, 0)?;
                let s = self.b.op("Sqrt", &[&x], vec![]);
                let out = self.out(op, 0)?;
                self.b.node("Reciprocal", &[&s], &[&out], vec![]);
            }
            92 => {
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.node("Mul", &[&x, &x], &[&out], vec![]);
            }
            // RELU6, RELU_N1_TO_1, RELU_0_TO_1
            21 | 20 | 152 => {
                let (lo, hi) = match op.builtin {
                    21 => (0.0, 6.0),
                    20 => (-1.0, 1.0),
                    _ => (0.0, 1.0),
                };
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.clip(&x, lo, hi, &out)?;
            }
            // LEAKY_RELU
            98 => {
                let alpha = g.option_f32(op, 0, 0.2)?;
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.node(
                    "LeakyRelu",
                    &[&x],
                    &[&out],
                    vec![("alpha", Attr::Float(alpha))],
                );
            }
            // PRELU
            54 => {
                let (x, a) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let out = self.out(op, 0)?;
                self.b.node("PRelu", &[&x, &a], &[&out], vec![]);
            }
            // GELU: 0.5 x (1 + erf(x / √2)), or the tanh approximation.
            150 => {
                let approximate = g.option_u8(op, 0, 0)? != 0;
                let x = self.arg(op, 0)?;
                let inner = if approximate {
                    // tanh(√(2/π) (x + 0.044715 x³))
                    let c = self.b.scalar_f32(0.044_715)?;
                    let k = self.b.scalar_f32(0.797_884_6)?;
                    let x2 = self.b.op("Mul", &[&x, &x], vec![]);
                    let x3 = self.b.op("Mul", &[&x2, &x], vec![]);
                    let cx3 = self.b.op("Mul", &[&x3, &c], vec![]);
                    let s = self.b.op("Add", &[&x, &cx3], vec![]);
                    let ks = self.b.op("Mul", &[&s, &k], vec![]);
                    self.b.op("Tanh", &[&ks], vec![])
                } else {
                    let r = self.b.scalar_f32(std::f32::consts::FRAC_1_SQRT_2)?;
                    let xs = self.b.op("Mul", &[&x, &r], vec![]);
                    self.b.op("Erf", &[&xs], vec![])
                };
                let one = self.b.scalar_f32(1.0)?;
                let half = self.b.scalar_f32(0.5)?;
                let p = self.b.op("Add", &[&inner, &one], vec![]);
                let hx = self.b.op("Mul", &[&x, &half], vec![]);
                let out = self.out(op, 0)?;
                self.b.node("Mul", &[&hx, &p], &[&out], vec![]);
            }
            // SOFTMAX, LOG_SOFTMAX
            25 | 50 => {
                let mut x = self.arg(op, 0)?;
                if op.builtin == 25 {
                    let beta = g.option_f32(op, 0, 1.0)?;
                    if beta != 1.0 && beta != 0.0 {
                        let b = self.b.scalar_f32(beta)?;
                        x = self.b.op("Mul", &[&x, &b], vec![]);
                    }
                }
                let out = self.out(op, 0)?;
                let onnx = if op.builtin == 25 {
                    "Softmax"
                } else {
                    "LogSoftmax"
                };
                self.b
                    .node(onnx, &[&x], &[&out], vec![("axis", Attr::Int(-1))]);
            }
            // L2_NORMALIZATION
            11 => {
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.node(
                    "LpNormalization",
                    &[&x],
                    &[&out],
                    vec![("axis", Attr::Int(-1)), ("p", Attr::Int(2))],
                );
            }
            3 | 4 => self.conv(op)?,
            67 => self.transpose_conv(op)?,
            1 | 17 => {
                let padding = self.padding(op)?;
                let sw = g.option_i32(op, 1, 1)?;
                let sh = g.option_i32(op, 2, 1)?;
                let fw = g.option_i32(op, 3, 1)?;
                let fh = g.option_i32(op, 4, 1)?;
                let act = self.activation(op, 5)?;
                let x = self.arg(op, 0)?;
                let onnx = if op.builtin == 1 {
                    "AveragePool"
                } else {
                    "MaxPool"
                };
                let out = self.out(op, 0)?;
                self.b.pool_nhwc(
                    onnx,
                    &x,
                    [fh.into(), fw.into()],
                    [sh.into(), sw.into()],
                    padding == "SAME_UPPER",
                    &act,
                    &out,
                )?;
            }
            9 => self.fully_connected(op)?,
            // CONCATENATION
            2 => {
                let axis = g.option_i32(op, 0, 0)?;
                let act = self.activation(op, 1)?;
                let ins: Vec<String> = (0..op.inputs.len())
                    .map(|k| self.arg(op, k))
                    .collect::<Result<_, _>>()?;
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                let y = self
                    .b
                    .op("Concat", &refs, vec![("axis", Attr::Int(axis.into()))]);
                let out = self.out(op, 0)?;
                self.b.activate(y, &act, Some(&out))?;
            }
            // RESHAPE
            22 => {
                let x = self.arg(op, 0)?;
                let shape = if self.has_arg(op, 1) {
                    self.int64_arg(op, 1)?
                } else {
                    let mut s = g.option_ints(op, 0)?;
                    if s.is_empty() {
                        s = self.out_shape(op, 0)?;
                    }
                    self.b.const_i64(&s)?
                };
                let out = self.out(op, 0)?;
                self.b.node("Reshape", &[&x, &shape], &[&out], vec![]);
            }
            // MEAN, SUM, REDUCE_PROD, REDUCE_MAX, REDUCE_MIN
            40 | 74 | 81 | 82 | 89 => {
                let keep = g.option_u8(op, 0, 0)? != 0;
                let axes = self.const_ints(op, 1)?;
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                let keepdims = ("keepdims", Attr::Int(i64::from(keep)));
                if op.builtin == 74 {
                    let a = self.b.const_i64(&axes)?;
                    self.b.node("ReduceSum", &[&x, &a], &[&out], vec![keepdims]);
                } else {
                    let onnx = match op.builtin {
                        40 => "ReduceMean",
                        81 => "ReduceProd",
                        82 => "ReduceMax",
                        _ => "ReduceMin",
                    };
                    self.b.node(
                        onnx,
                        &[&x],
                        &[&out],
                        vec![("axes", Attr::Ints(axes)), keepdims],
                    );
                }
            }
            // PAD, PADV2, MIRROR_PAD
            34 | 60 | 100 => {
                let pairs = self.const_ints(op, 1)?;
                let mode = if op.builtin == 100 {
                    match g.option_u8(op, 0, 0)? {
                        0 => "reflect",
                        // SYMMETRIC repeats the border; with pads of one that is "edge".
                        1 if pairs.iter().all(|&v| v <= 1) => "edge",
                        _ => return Err(unsupported(op, "SYMMETRIC padding wider than 1")),
                    }
                } else {
                    "constant"
                };
                let x = self.arg(op, 0)?;
                let pads = self.b.pads_from_pairs(&pairs)?;
                let mut ins = vec![x, pads];
                if op.builtin == 60 && self.has_arg(op, 2) {
                    ins.push(self.arg(op, 2)?);
                }
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                let out = self.out(op, 0)?;
                self.b
                    .node("Pad", &refs, &[&out], vec![("mode", Attr::Str(mode))]);
            }
            // TRANSPOSE
            39 => {
                let perm = self.const_ints(op, 1)?;
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                self.b.node(
                    "Transpose",
                    &[&x],
                    &[&out],
                    vec![("perm", Attr::Ints(perm))],
                );
            }
            // SQUEEZE
            43 => {
                let axes = g.option_ints(op, 0)?;
                let x = self.arg(op, 0)?;
                let out = self.out(op, 0)?;
                if axes.is_empty() {
                    self.b.node("Squeeze", &[&x], &[&out], vec![]);
                } else {
                    let a = self.b.const_i64(&axes)?;
                    self.b.node("Squeeze", &[&x, &a], &[&out], vec![]);
                }
            }
            // EXPAND_DIMS
            70 => {
                let axes = self.const_ints(op, 1)?;
                let x = self.arg(op, 0)?;
                let a = self.b.const_i64(&axes)?;
                let out = self.out(op, 0)?;
                self.b.node("Unsqueeze", &[&x, &a], &[&out], vec![]);
            }
            23 | 97 => self.resize(op)?,
            45 => self.strided_slice(op)?,
            // SLICE
            65 => {
                let begin = self.const_ints(op, 1)?;
                let size = self.const_ints(op, 2)?;
                let ends: Vec<i64> = begin
                    .iter()
                    .zip(&size)
                    .map(|(&b, &s)| if s < 0 { i64::MAX } else { b.saturating_add(s) })
                    .collect();
                let axes: Vec<i64> = (0..begin.len() as i64).collect();
                let x = self.arg(op, 0)?;
                let (s, e, a) = (
                    self.b.const_i64(&begin)?,
                    self.b.const_i64(&ends)?,
                    self.b.const_i64(&axes)?,
                );
                let out = self.out(op, 0)?;
                self.b.node("Slice", &[&x, &s, &e, &a], &[&out], vec![]);
            }
            // SPLIT (axis, x), SPLIT_V (x, sizes, axis)
            49 | 102 => {
                let (x, axis, sizes) = if op.builtin == 49 {
                    (self.arg(op, 1)?, self.const_ints(op, 0)?, None)
                } else {
                    (
                        self.arg(op, 0)?,
                        self.const_ints(op, 2)?,
                        Some(self.const_ints(op, 1)?),
                    )
                };
                let axis = axis.first().copied().unwrap_or(0);
                let mut ins = vec![x];
                if let Some(mut sizes) = sizes {
                    if let Some(k) = sizes.iter().position(|&s| s < 0) {
                        let shape = self.shape_of(op, 0)?;
                        let rank = shape.len() as i64;
                        let ax = if axis < 0 { axis + rank } else { axis };
                        let dim = usize::try_from(ax)
                            .ok()
                            .and_then(|a| shape.get(a))
                            .copied()
                            .filter(|&d| d > 0)
                            .ok_or_else(|| unsupported(op, "split of an unknown dimension"))?;
                        let known: i64 = sizes.iter().filter(|&&s| s >= 0).sum();
                        sizes[k] = dim - known;
                    }
                    ins.push(self.b.const_i64(&sizes)?);
                }
                let outs: Vec<String> = (0..op.outputs.len())
                    .map(|k| self.out(op, k))
                    .collect::<Result<_, _>>()?;
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                let orefs: Vec<&str> = outs.iter().map(String::as_str).collect();
                self.b
                    .node("Split", &refs, &orefs, vec![("axis", Attr::Int(axis))]);
            }
            // PACK
            83 => {
                let axis = i64::from(g.option_i32(op, 1, 0)?);
                let a = self.b.const_i64(&[axis])?;
                let mut parts = Vec::new();
                for k in 0..op.inputs.len() {
                    let x = self.arg(op, k)?;
                    parts.push(self.b.op("Unsqueeze", &[&x, &a], vec![]));
                }
                let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                let out = self.out(op, 0)?;
                self.b
                    .node("Concat", &refs, &[&out], vec![("axis", Attr::Int(axis))]);
            }
            // UNPACK
            88 => {
                let axis = i64::from(g.option_i32(op, 1, 0)?);
                let x = self.arg(op, 0)?;
                let parts: Vec<String> = (0..op.outputs.len()).map(|_| self.b.fresh()).collect();
                let prefs: Vec<&str> = parts.iter().map(String::as_str).collect();
                self.b
                    .node("Split", &[&x], &prefs, vec![("axis", Attr::Int(axis))]);
                let a = self.b.const_i64(&[axis])?;
                for (k, p) in parts.iter().enumerate() {
                    let out = self.out(op, k)?;
                    self.b.node("Squeeze", &[p, &a], &[&out], vec![]);
                }
            }
            // GATHER
            36 => {
                let axis = g.option_i32(op, 0, 0)?;
                if g.option_i32(op, 1, 0)? != 0 {
                    return Err(unsupported(op, "batch_dims"));
                }
                let (x, i) = (self.arg(op, 0)?, self.arg(op, 1)?);
                let out = self.out(op, 0)?;
                self.b.node(
                    "Gather",
                    &[&x, &i],
                    &[&out],
                    vec![("axis", Attr::Int(axis.into()))],
                );
            }
            // BATCH_MATMUL
            126 => {
                let mut ab = Vec::new();
                for (k, field) in [(0usize, 0usize), (1, 1)] {
                    let x = self.arg(op, k)?;
                    if g.option_u8(op, field, 0)? != 0 {
                        let rank = self.shape_of(op, k)?.len();
                        if rank < 2 {
                            return Err(unsupported(op, "adjoint of a rank below 2"));
                        }
                        let mut perm: Vec<i64> = (0..rank as i64).collect();
                        perm.swap(rank - 1, rank - 2);
                        ab.push(
                            self.b
                                .op("Transpose", &[&x], vec![("perm", Attr::Ints(perm))]),
                        );
                    } else {
                        ab.push(x);
                    }
                }
                let out = self.out(op, 0)?;
                self.b.node("MatMul", &[&ab[0], &ab[1]], &[&out], vec![]);
            }
            // DEPTH_TO_SPACE, SPACE_TO_DEPTH
            5 | 26 => {
                let block = g.option_i32(op, 0, 2)?;
                let x = self.arg(op, 0)?;
                let xn = self.b.nchw(&x);
                let (onnx, mut attrs) = if op.builtin == 5 {
                    ("DepthToSpace", vec![("mode", Attr::Str("DCR"))])
                } else {
                    ("SpaceToDepth", vec![])
                };
                attrs.push(("blocksize", Attr::Int(block.into())));
                let y = self.b.op(onnx, &[&xn], attrs);
                let out = self.out(op, 0)?;
                self.b.nhwc_into(&y, &out);
            }
            // LOCAL_RESPONSE_NORMALIZATION: ONNX divides alpha by the window size.
            13 => {
                let radius = g.option_i32(op, 0, 5)?;
                let bias = g.option_f32(op, 1, 1.0)?;
                let alpha = g.option_f32(op, 2, 1.0)?;
                let beta = g.option_f32(op, 3, 0.5)?;
                let size = 2 * i64::from(radius) + 1;
                let x = self.arg(op, 0)?;
                let xn = self.b.nchw(&x);
                let y = self.b.op(
                    "LRN",
                    &[&xn],
                    vec![
                        ("size", Attr::Int(size)),
                        ("alpha", Attr::Float(alpha * size as f32)),
                        ("beta", Attr::Float(beta)),
                        ("bias", Attr::Float(bias)),
                    ],
                );
                let out = self.out(op, 0)?;
                self.b.nhwc_into(&y, &out);
            }
            // CAST
            53 => {
                let x = self.arg(op, 0)?;
                let oi = self.output_index(op, 0)?;
                let to = self.onnx_type(self.tensor(oi)?)?;
                let out = self.out(op, 0)?;
                self.b
                    .node("Cast", &[&x], &[&out], vec![("to", Attr::Int(to.into()))]);
            }
            // ARG_MAX, ARG_MIN
            56 | 79 => {
                let axis = self.const_ints(op, 1)?.first().copied().unwrap_or(0);
                let x = self.arg(op, 0)?;
                let onnx = if op.builtin == 56 { "ArgMax" } else { "ArgMin" };
                let y = self.b.op(
                    onnx,
                    &[&x],
                    vec![("axis", Attr::Int(axis)), ("keepdims", Attr::Int(0))],
                );
                self.cast_index_out(op, y)?;
            }
            // SHAPE
            77 => {
                let x = self.arg(op, 0)?;
                let y = self.b.op("Shape", &[&x], vec![]);
                self.cast_index_out(op, y)?;
            }
            // TILE
            69 => {
                let x = self.arg(op, 0)?;
                let r = self.int64_arg(op, 1)?;
                let out = self.out(op, 0)?;
                self.b.node("Tile", &[&x, &r], &[&out], vec![]);
            }
            // BROADCAST_TO
            130 => {
                let x = self.arg(op, 0)?;
                let s = self.int64_arg(op, 1)?;
                let out = self.out(op, 0)?;
                self.b.node("Expand", &[&x, &s], &[&out], vec![]);
            }
            // FILL (dims, value)
            94 => {
                let dims = self.int64_arg(op, 0)?;
                let v = self.arg(op, 1)?;
                let out = self.out(op, 0)?;
                self.b.node("Expand", &[&v, &dims], &[&out], vec![]);
            }
            32 if op.custom.as_deref() == Some("Convolution2DTransposeBias") => {
                self.transpose_conv_bias(op)?
            }
            _ => return Err(unsupported(op, "no ONNX translation")),
        }
        Ok(())
    }

    /// An int64 index result cast to the output's type (TFLite often wants int32).
    pub(super) fn cast_index_out(&mut self, op: &Operator, y: String) -> Result<(), ConvertError> {
        let oi = self.output_index(op, 0)?;
        let to = self.onnx_type(self.tensor(oi)?)?;
        let out = self.out(op, 0)?;
        if to == data_type::INT64 {
            self.b.node("Identity", &[&y], &[&out], vec![]);
        } else {
            self.b
                .node("Cast", &[&y], &[&out], vec![("to", Attr::Int(to.into()))]);
        }
        Ok(())
    }
}
