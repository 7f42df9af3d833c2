//! TensorFlow-layout (NHWC) operators lowered onto ONNX, shared by the TFLite and TF.js
//! converters. Tensors stay NHWC; the operators ONNX defines only on NCHW (convolution,
//! pooling, resize) are wrapped in a transpose each way, which ONNX Runtime's optimizer cancels
//! between neighbours. Padding follows TensorFlow's SAME rule (the odd pixel after).

use super::builder::{permute, Attr, Builder};
use super::ConvertError;

/// NHWC → NCHW.
const TO_NCHW: [i64; 4] = [0, 3, 1, 2];
/// NCHW → NHWC.
const TO_NHWC: [i64; 4] = [0, 2, 3, 1];

/// An activation applied after an operator (TFLite's fused activations, TF's fused ops).
#[derive(Debug, Clone, PartialEq)]
pub enum Activation {
    /// None.
    None,
    /// max(x, 0).
    Relu,
    /// clip(x, -1, 1).
    ReluN1To1,
    /// clip(x, 0, 6).
    Relu6,
    /// tanh.
    Tanh,
    /// max(x, alpha · x).
    LeakyRelu(f32),
    /// Parametric ReLU with this ONNX value as the slope.
    PRelu(String),
}

/// A 2-D convolution's geometry.
pub struct Conv2d {
    /// (height, width) strides.
    pub strides: [i64; 2],
    /// (height, width) dilations.
    pub dilations: [i64; 2],
    /// TensorFlow SAME (true) or VALID padding.
    pub same: bool,
    /// Groups (input channels for a depthwise convolution).
    pub group: usize,
}

/// TensorFlow's SAME padding along one axis: the output is ceil(input / stride), and the
/// padding that needs is split with the odd pixel after. Returns (before, after).
pub fn same_pads(input: i64, kernel: i64, stride: i64, dilation: i64) -> (i64, i64) {
    let stride = stride.max(1);
    let effective = (kernel - 1).saturating_mul(dilation.max(1)) + 1;
    let output = (input + stride - 1) / stride;
    let total = ((output - 1).saturating_mul(stride) + effective - input).max(0);
    (total / 2, total - total / 2)
}

impl Builder {
    /// `x` through `act` into `out` (a fresh name when `out` is None); returns the name.
    pub fn activate(
        &mut self,
        x: String,
        act: &Activation,
        out: Option<&str>,
    ) -> Result<String, ConvertError> {
        let name = out.map_or_else(|| self.fresh(), str::to_string);
        match act {
            Activation::None => self.node("Identity", &[&x], &[&name], vec![]),
            Activation::Relu => self.node("Relu", &[&x], &[&name], vec![]),
            Activation::Tanh => self.node("Tanh", &[&x], &[&name], vec![]),
            Activation::Relu6 => self.clip(&x, 0.0, 6.0, &name)?,
            Activation::ReluN1To1 => self.clip(&x, -1.0, 1.0, &name)?,
            Activation::LeakyRelu(alpha) => self.node(
                "LeakyRelu",
                &[&x],
                &[&name],
                vec![("alpha", Attr::Float(*alpha))],
            ),
            Activation::PRelu(slope) => self.node("PRelu", &[&x, slope], &[&name], vec![]),
        }
        Ok(name)
    }

    /// clip(x, lo, hi) into `out`.
    pub fn clip(&mut self, x: &str, lo: f32, hi: f32, out: &str) -> Result<(), ConvertError> {
        let lo = self.scalar_f32(lo)?;
        let hi = self.scalar_f32(hi)?;
        self.node("Clip", &[x, &lo, &hi], &[out], vec![]);
        Ok(())
    }

    /// NHWC `x` transposed to NCHW.
    pub fn nchw(&mut self, x: &str) -> String {
        self.op(
            "Transpose",
            &[x],
            vec![("perm", Attr::Ints(TO_NCHW.to_vec()))],
        )
    }

    /// NCHW `x` transposed back to NHWC into `out`.
    pub fn nhwc_into(&mut self, x: &str, out: &str) {
        self.node(
            "Transpose",
            &[x],
            &[out],
            vec![("perm", Attr::Ints(TO_NHWC.to_vec()))],
        );
    }

    /// An NHWC convolution into `out`: `weights` are OIHW float32 with `dims`, `bias` one value
    /// per output channel, `in_hw` the input's (height, width) when known (SAME padding is
    /// then written out, which ONNX Runtime needs with dilation).
    #[allow(clippy::too_many_arguments)]
    pub fn conv_nhwc(
        &mut self,
        x: &str,
        in_hw: Option<(i64, i64)>,
        weights: &[f32],
        dims: [usize; 4],
        bias: Option<&[f32]>,
        c: &Conv2d,
        act: &Activation,
        out: &str,
    ) -> Result<(), ConvertError> {
        let [o, i, kh, kw] = dims.map(|d| d as i64);
        let w = self.const_f32(vec![o, i, kh, kw], weights)?;
        let xn = self.nchw(x);
        let mut ins = vec![xn, w];
        if let Some(b) = bias {
            ins.push(self.const_f32(vec![b.len() as i64], b)?);
        }
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        let mut attrs = vec![
            ("kernel_shape", Attr::Ints(vec![kh, kw])),
            ("strides", Attr::Ints(c.strides.to_vec())),
            ("dilations", Attr::Ints(c.dilations.to_vec())),
            ("group", Attr::Int(c.group as i64)),
        ];
        match (c.same, in_hw) {
            (true, Some((ih, iw))) if ih > 0 && iw > 0 => {
                let (t, b) = same_pads(ih, kh, c.strides[0], c.dilations[0]);
                let (l, r) = same_pads(iw, kw, c.strides[1], c.dilations[1]);
                attrs.push(("pads", Attr::Ints(vec![t, l, b, r])));
            }
            (true, _) => attrs.push(("auto_pad", Attr::Str("SAME_UPPER"))),
            (false, _) => attrs.push(("auto_pad", Attr::Str("VALID"))),
        }
        let y = self.op("Conv", &refs, attrs);
        let y = self.activate(y, act, None)?;
        self.nhwc_into(&y, out);
        Ok(())
    }

    /// Max or average pooling (`onnx` is `MaxPool` or `AveragePool`) of NHWC `x` into `out`.
    /// TensorFlow's average pooling leaves padding out of the count, as ONNX's default does.
    #[allow(clippy::too_many_arguments)]
    pub fn pool_nhwc(
        &mut self,
        onnx: &str,
        x: &str,
        kernel: [i64; 2],
        strides: [i64; 2],
        same: bool,
        act: &Activation,
        out: &str,
    ) -> Result<(), ConvertError> {
        let xn = self.nchw(x);
        let y = self.op(
            onnx,
            &[&xn],
            vec![
                ("kernel_shape", Attr::Ints(kernel.to_vec())),
                ("strides", Attr::Ints(strides.to_vec())),
                (
                    "auto_pad",
                    Attr::Str(if same { "SAME_UPPER" } else { "VALID" }),
                ),
            ],
        );
        let y = self.activate(y, act, None)?;
        self.nhwc_into(&y, out);
        Ok(())
    }

    /// Resize NHWC `x` to `size` (height, width) into `out`, with TensorFlow's corner
    /// conventions (`align_corners`, `half_pixel_centers`). `nc` is the (images, channels)
    /// count when known; otherwise it is read from the tensor at run time.
    #[allow(clippy::too_many_arguments)]
    pub fn resize_nhwc(
        &mut self,
        x: &str,
        nc: Option<(i64, i64)>,
        size: ResizeTo<'_>,
        bilinear: bool,
        align: bool,
        half: bool,
        out: &str,
    ) -> Result<(), ConvertError> {
        let ctm = match (align, half, bilinear) {
            (true, _, _) => "align_corners",
            (false, true, true) => "half_pixel",
            (false, true, false) => "tf_half_pixel_for_nn",
            (false, false, _) => "asymmetric",
        };
        let mut attrs = vec![
            (
                "mode",
                Attr::Str(if bilinear { "linear" } else { "nearest" }),
            ),
            ("coordinate_transformation_mode", Attr::Str(ctm)),
        ];
        if !bilinear {
            attrs.push((
                "nearest_mode",
                Attr::Str(if align { "round_prefer_ceil" } else { "floor" }),
            ));
        }
        let xn = self.nchw(x);
        let sizes = match (nc, size) {
            (Some((n, c)), ResizeTo::Fixed([h, w])) => self.const_i64(&[n, c, h, w])?,
            (_, size) => {
                let shape = self.op("Shape", &[&xn], vec![]);
                let (zero, two) = (self.const_i64(&[0])?, self.const_i64(&[2])?);
                let lead = self.op("Slice", &[&shape, &zero, &two], vec![]);
                let hw = match size {
                    ResizeTo::Fixed(hw) => self.const_i64(&hw)?,
                    ResizeTo::Computed(v) => self.int64(v),
                };
                self.op("Concat", &[&lead, &hw], vec![("axis", Attr::Int(0))])
            }
        };
        let y = self.op("Resize", &[&xn, "", "", &sizes], attrs);
        self.nhwc_into(&y, out);
        Ok(())
    }

    /// TensorFlow's strided slice (begin/end masks, shrink-axis mask, `offset` ends, an
    /// ellipsis and new axes, as `tf.strided_slice` documents them) into `out`, without
    /// knowing the input's rank: the specs before the ellipsis slice axes 0, 1, …, those after
    /// it the last axes (negative axes), and new axes are inserted where the specs put them
    /// in the output, counted from the start before the ellipsis and from the end after it.
    /// Errors (a reason) for more than one ellipsis and zero strides.
    #[allow(clippy::too_many_arguments)]
    pub fn strided_slice(
        &mut self,
        x: &str,
        begin: &[i64],
        end: &[i64],
        strides: &[i64],
        masks: SliceMasks,
        out: &str,
    ) -> Result<(), String> {
        if begin.len() != end.len() || begin.len() != strides.len() || begin.len() > 31 {
            return Err("begin, end and strides differ in length".into());
        }
        let n = begin.len();
        let bit = |m: i64, k: usize| m & (1 << k) != 0;
        if masks.ellipsis.count_ones() > 1 {
            return Err("more than one ellipsis".into());
        }
        let ellipsis = (0..n).find(|&k| bit(masks.ellipsis, k));
        // Which specs slice an input axis, and which (from the start, or from the end after
        // the ellipsis).
        let slices = |k: usize| !bit(masks.new_axis, k) && Some(k) != ellipsis;
        let after = |k: usize| ellipsis.is_some_and(|e| k > e);
        let (mut starts, mut ends, mut steps, mut axes, mut squeeze, mut unsqueeze) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let mut next_axis = 0i64;
        for k in 0..n {
            if !slices(k) {
                continue;
            }
            let axis = if after(k) {
                -(((k + 1)..n).filter(|&j| slices(j)).count() as i64) - 1
            } else {
                next_axis += 1;
                next_axis - 1
            };
            let s = strides[k];
            if s == 0 {
                return Err("stride 0".into());
            }
            axes.push(axis);
            if bit(masks.shrink_axis, k) {
                let b = begin[k];
                starts.push(b);
                ends.push(if b == -1 { i64::MAX } else { b + 1 });
                steps.push(1);
                squeeze.push(axis);
                continue;
            }
            starts.push(match (bit(masks.begin, k), s > 0) {
                (true, true) => 0,
                (true, false) => i64::MAX,
                (false, _) => begin[k],
            });
            ends.push(match (bit(masks.end, k), s > 0) {
                (true, true) => i64::MAX,
                (true, false) => i64::MIN,
                (false, _) if masks.offset => begin[k].saturating_add(end[k]),
                (false, _) => end[k],
            });
            steps.push(s);
        }
        // New axes: their place in the output (each spec gives one dimension, a shrunk one
        // none; the ellipsis the rest).
        let gives = |j: usize| usize::from(!bit(masks.shrink_axis, j) || bit(masks.new_axis, j));
        for k in (0..n).filter(|&k| bit(masks.new_axis, k)) {
            unsqueeze.push(if after(k) {
                -(((k + 1)..n).map(gives).sum::<usize>() as i64) - 1
            } else {
                (0..k).map(gives).sum::<usize>() as i64
            });
        }
        let consts = (|| -> Result<_, ConvertError> {
            Ok((
                self.const_i64(&starts)?,
                self.const_i64(&ends)?,
                self.const_i64(&axes)?,
                self.const_i64(&steps)?,
            ))
        })()
        .map_err(|e| e.to_string())?;
        let (s, e, a, st) = consts;
        let mut y = if axes.is_empty() {
            x.to_string()
        } else {
            self.op("Slice", &[x, &s, &e, &a, &st], vec![])
        };
        if !squeeze.is_empty() {
            let q = self.const_i64(&squeeze).map_err(|e| e.to_string())?;
            y = self.op("Squeeze", &[&y, &q], vec![]);
        }
        if !unsqueeze.is_empty() {
            let u = self.const_i64(&unsqueeze).map_err(|e| e.to_string())?;
            y = self.op("Unsqueeze", &[&y, &u], vec![]);
        }
        self.node("Identity", &[&y], &[out], vec![]);
        Ok(())
    }

    /// TensorFlow paddings (`[[before, after]; rank]`, flattened) as ONNX `pads`
    /// (all befores, then all afters), as an int64 constant.
    pub fn pads_from_pairs(&mut self, pairs: &[i64]) -> Result<String, ConvertError> {
        let rank = pairs.len() / 2;
        let pads: Vec<i64> = (0..rank)
            .map(|i| pairs[2 * i])
            .chain((0..rank).map(|i| pairs[2 * i + 1]))
            .collect();
        self.const_i64(&pads)
    }
}

/// The size a resize goes to: (height, width) known when converting, or a value of the graph
/// (two integers, computed at run time: a feature pyramid's upsampling to its neighbour).
#[derive(Clone, Copy)]
pub enum ResizeTo<'a> {
    /// Height and width.
    Fixed([i64; 2]),
    /// The name of a graph value holding height and width (int32 or int64).
    Computed(&'a str),
}

/// The masks of a strided slice (bit `k` for axis `k`).
#[derive(Default, Clone, Copy)]
pub struct SliceMasks {
    /// Begin from the start (or end, for negative strides).
    pub begin: i64,
    /// End at the end (or start).
    pub end: i64,
    /// The spec that stands for every axis not named (at most one bit).
    pub ellipsis: i64,
    /// Insert an axis of size 1.
    pub new_axis: i64,
    /// Take one element and drop the axis.
    pub shrink_axis: i64,
    /// `end` is an offset from `begin` (TFLite).
    pub offset: bool,
}

/// HWIO (TensorFlow's convolution filter) to OIHW.
pub fn hwio_to_oihw(w: &[f32], dims: [usize; 4]) -> (Vec<f32>, [usize; 4]) {
    let [h, wd, i, o] = dims;
    (permute(w, &dims, &[3, 2, 0, 1]), [o, i, h, wd])
}

/// OHWI (TFLite's convolution filter) to OIHW.
pub fn ohwi_to_oihw(w: &[f32], dims: [usize; 4]) -> (Vec<f32>, [usize; 4]) {
    let [o, h, wd, i] = dims;
    (permute(w, &dims, &[0, 3, 1, 2]), [o, i, h, wd])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_odd_pixel_after() {
        // 5 wide, 3 kernel, stride 2: output 3, needs 2, one each side.
        assert_eq!(same_pads(5, 3, 2, 1), (1, 1));
        // 4 wide, 3 kernel, stride 2: output 2, needs 1, after.
        assert_eq!(same_pads(4, 3, 2, 1), (0, 1));
        // Dilation 2 widens a 3 kernel to 5: 16 wide stride 1 needs 4.
        assert_eq!(same_pads(16, 3, 1, 2), (2, 2));
    }

    #[test]
    fn filters_reorder_to_oihw() {
        // HWIO 1×1×2×3: w[0][0][i][o] = 10 i + o.
        let w = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
        let (v, d) = hwio_to_oihw(&w, [1, 1, 2, 3]);
        assert_eq!(d, [3, 2, 1, 1]);
        assert_eq!(v, vec![0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
    }
}
