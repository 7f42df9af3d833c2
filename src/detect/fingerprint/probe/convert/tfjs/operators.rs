//! The op table: each TensorFlow op a TF.js graph uses, as ONNX nodes.

use super::*;

impl Converter<'_> {
    pub(super) fn node(&mut self, n: &Node) -> Result<(), ConvertError> {
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
                // A constant size, or one computed at run time (a feature pyramid matching
                // its neighbour's size).
                let computed;
                let size = match self.const_ints(n, 1) {
                    Ok(size) => match size[..] {
                        [h, w] => ResizeTo::Fixed([h, w]),
                        _ => return Err(unsupported(n, format!("size {size:?}"))),
                    },
                    Err(_) => {
                        computed = self.arg(n, 1)?;
                        ResizeTo::Computed(&computed)
                    }
                };
                let x = self.arg(n, 0)?;
                let out = self.out(n);
                self.b.resize_nhwc(
                    &x,
                    None,
                    size,
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
            "Range" => {
                // start, limit, delta: scalars of one type (Tidx), as ONNX's Range takes them
                // (a one-element constant read as a scalar).
                let scalar = self.b.const_i64(&[])?;
                let mut ends = Vec::new();
                for k in 0..3 {
                    let v = self.arg(n, k)?;
                    ends.push(self.b.op("Reshape", &[&v, &scalar], vec![]));
                }
                let out = self.out(n);
                self.b
                    .node("Range", &[&ends[0], &ends[1], &ends[2]], &[&out], vec![]);
            }
            "Fill" => {
                // dims, value: the scalar broadcast to the shape (ONNX's Expand).
                let shape = self.int64_arg(n, 0)?;
                let v = self.arg(n, 1)?;
                let out = self.out(n);
                self.b.node("Expand", &[&v, &shape], &[&out], vec![]);
            }
            "BroadcastTo" => {
                // numpy broadcasting to the given shape: ONNX's Expand.
                let x = self.arg(n, 0)?;
                let shape = self.int64_arg(n, 1)?;
                let out = self.out(n);
                self.b.node("Expand", &[&x, &shape], &[&out], vec![]);
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
}
