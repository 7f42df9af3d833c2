//! The operators with geometry: convolutions (plain, depthwise, transposed), fully connected,
//! resize and strided slice.

use super::*;

impl Converter<'_, '_> {
    /// CONV_2D (weights OHWI) and DEPTHWISE_CONV_2D (weights 1×H×W×(C·M)).
    pub(super) fn conv(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        let depthwise = op.builtin == 4;
        let padding = self.padding(op)?;
        let sw = g.option_i32(op, 1, 1)?;
        let sh = g.option_i32(op, 2, 1)?;
        let (act, dw, dh) = if depthwise {
            (
                self.activation(op, 4)?,
                g.option_i32(op, 5, 1)?,
                g.option_i32(op, 6, 1)?,
            )
        } else {
            (
                self.activation(op, 3)?,
                g.option_i32(op, 4, 1)?,
                g.option_i32(op, 5, 1)?,
            )
        };
        let (w, wdims) = self.const_real(op, 1)?;
        let [o, kh, kw, i] = wdims[..] else {
            return Err(unsupported(op, format!("weights of shape {wdims:?}")));
        };
        let in_shape = self.shape_of(op, 0)?;
        let (weights, dims, group) = if depthwise {
            // [1, H, W, C·M] → [C·M, 1, H, W]; one group per input channel.
            let channels = in_shape
                .get(3)
                .copied()
                .filter(|&c| c > 0)
                .map(|c| c as usize)
                .unwrap_or(i);
            if o != 1 || channels == 0 || i % channels != 0 {
                return Err(unsupported(
                    op,
                    format!("weights {wdims:?} for {channels} channels"),
                ));
            }
            (permute(&w, &wdims, &[3, 0, 1, 2]), [i, 1, kh, kw], channels)
        } else {
            let (w, dims) = ohwi_to_oihw(&w, [o, kh, kw, i]);
            let in_channels = in_shape.get(3).copied().unwrap_or(i as i64);
            let group = if in_channels > 0 && i > 0 && in_channels as usize != i {
                // Grouped convolution: the weights hold one group's input channels.
                in_channels as usize / i
            } else {
                1
            };
            (w, dims, group)
        };
        let bias = match self.has_arg(op, 2) {
            true => Some(self.const_real(op, 2)?.0),
            false => None,
        };
        let x = self.arg(op, 0)?;
        let out = self.out(op, 0)?;
        let geometry = Conv2d {
            strides: [sh.into(), sw.into()],
            dilations: [dh.into(), dw.into()],
            same: padding == "SAME_UPPER",
            group,
        };
        let in_hw = match in_shape[..] {
            [_, h, w, _] => Some((h, w)),
            _ => None,
        };
        self.b.conv_nhwc(
            &x,
            in_hw,
            &weights,
            dims,
            bias.as_deref(),
            &geometry,
            &act,
            &out,
        )
    }

    /// TRANSPOSE_CONV: inputs (output_shape, weights O×H×W×I, x, bias?), options padding,
    /// stride_w, stride_h, fused activation.
    pub(super) fn transpose_conv(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        let p = Deconv {
            same: self.padding(op)? == "SAME_UPPER",
            sw: i64::from(g.option_i32(op, 1, 1)?),
            sh: i64::from(g.option_i32(op, 2, 1)?),
            act: self.activation(op, 3)?,
            out_shape: self.const_ints(op, 0)?,
            weights: 1,
            x: 2,
            bias: 3,
        };
        self.deconv(op, p)
    }

    /// MediaPipe's CUSTOM `Convolution2DTransposeBias`: inputs (x, weights O×H×W×I, bias),
    /// custom options a raw `TfLiteTransposeConvParams` {padding (1 SAME, 2 VALID),
    /// stride_width, stride_height} as little-endian int32
    /// (mediapipe/util/tflite/operations/transpose_conv_bias.cc).
    pub(super) fn transpose_conv_bias(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let o = &op.custom_options;
        let word = |k: usize| {
            o.get(4 * k..4 * k + 4)
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        };
        let (Some(padding), Some(sw), Some(sh)) = (word(0), word(1), word(2)) else {
            return Err(unsupported(op, "custom options shorter than 12 bytes"));
        };
        let p = Deconv {
            same: match padding {
                1 => true,
                2 => false,
                other => return Err(unsupported(op, format!("padding {other}"))),
            },
            sw,
            sh,
            act: Activation::None,
            out_shape: self.out_shape(op, 0)?,
            weights: 1,
            x: 0,
            bias: 2,
        };
        self.deconv(op, p)
    }

    /// A transposed convolution. Padding is computed as TFLite does (the forward
    /// convolution's SAME padding) and given explicitly.
    pub(super) fn deconv(&mut self, op: &Operator, p: Deconv) -> Result<(), ConvertError> {
        let in_shape = self.shape_of(op, p.x)?;
        let (w, wdims) = self.const_real(op, p.weights)?;
        let [o, kh, kw, i] = wdims[..] else {
            return Err(unsupported(op, format!("weights of shape {wdims:?}")));
        };
        let out_shape = &p.out_shape;
        if out_shape.len() != 4 || in_shape.len() != 4 || in_shape[1] <= 0 || in_shape[2] <= 0 {
            return Err(unsupported(op, "shapes not known"));
        }
        if p.sh < 1 || p.sw < 1 || p.sh > 64 || p.sw > 64 {
            return Err(unsupported(op, format!("strides {} × {}", p.sh, p.sw)));
        }
        let mut pads = [0i64; 4];
        let mut output_padding = [0i64; 2];
        for (axis, (s, k)) in [(p.sh, kh as i64), (p.sw, kw as i64)]
            .into_iter()
            .enumerate()
        {
            let input = in_shape[axis + 1];
            let output = out_shape[axis + 1];
            let full = s * (input - 1) + k;
            let total = if p.same { (full - output).max(0) } else { 0 };
            pads[axis] = total / 2;
            pads[axis + 2] = total - total / 2;
            output_padding[axis] = output - (full - total);
            if output_padding[axis] < 0 || output_padding[axis] >= s {
                return Err(unsupported(op, "output shape does not fit the stride"));
            }
        }
        // TFLite's weights are [out, H, W, in]; ConvTranspose wants [in, out, H, W].
        let wt = permute(&w, &wdims, &[3, 0, 1, 2]);
        let wname = self
            .b
            .const_f32(vec![i as i64, o as i64, kh as i64, kw as i64], &wt)?;
        let x = self.arg(op, p.x)?;
        let xn = self.b.nchw(&x);
        let mut ins = vec![xn, wname];
        if self.has_arg(op, p.bias) {
            let (bias, _) = self.const_real(op, p.bias)?;
            ins.push(self.b.const_f32(vec![bias.len() as i64], &bias)?);
        }
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        let y = self.b.op(
            "ConvTranspose",
            &refs,
            vec![
                ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
                ("strides", Attr::Ints(vec![p.sh, p.sw])),
                ("pads", Attr::Ints(pads.to_vec())),
                ("output_padding", Attr::Ints(output_padding.to_vec())),
            ],
        );
        let y = self.b.activate(y, &p.act, None)?;
        let out = self.out(op, 0)?;
        self.b.nhwc_into(&y, &out);
        Ok(())
    }

    /// FULLY_CONNECTED: y = x·Wᵀ + b with W [out, in], x flattened to [-1, in] unless
    /// keep_num_dims.
    pub(super) fn fully_connected(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        let act = self.activation(op, 0)?;
        if g.option_u8(op, 1, 0)? != 0 {
            return Err(unsupported(op, "shuffled weights format"));
        }
        let keep = g.option_u8(op, 2, 0)? != 0;
        let x = self.arg(op, 0)?;
        let w = self.arg(op, 1)?;
        let wshape = self.shape_of(op, 1)?;
        let [_, inner] = wshape[..] else {
            return Err(unsupported(op, format!("weights of shape {wshape:?}")));
        };
        let flat = self.b.const_i64(&[-1, inner])?;
        let x2 = self.b.op("Reshape", &[&x, &flat], vec![]);
        let mut ins = vec![x2, w];
        if self.has_arg(op, 2) {
            ins.push(self.arg(op, 2)?);
        }
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        let y = self.b.op("Gemm", &refs, vec![("transB", Attr::Int(1))]);
        let y = if keep {
            let shape = self.out_shape(op, 0)?;
            let s = self.b.const_i64(&shape)?;
            self.b.op("Reshape", &[&y, &s], vec![])
        } else {
            y
        };
        let out = self.out(op, 0)?;
        self.b.activate(y, &act, Some(&out))?;
        Ok(())
    }

    /// RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR, with their corner conventions.
    pub(super) fn resize(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        let bilinear = op.builtin == 23;
        let (align, half) = if bilinear {
            (g.option_u8(op, 2, 0)? != 0, g.option_u8(op, 3, 0)? != 0)
        } else {
            (g.option_u8(op, 0, 0)? != 0, g.option_u8(op, 1, 0)? != 0)
        };
        let size = self.const_ints(op, 1)?;
        let shape = self.shape_of(op, 0)?;
        let (&[h, w], &[n, _, _, c]) = (&size[..], &shape[..]) else {
            return Err(unsupported(
                op,
                format!("size {size:?} for input {shape:?}"),
            ));
        };
        if n <= 0 || c <= 0 {
            return Err(unsupported(op, "input shape not known"));
        }
        let x = self.arg(op, 0)?;
        let out = self.out(op, 0)?;
        self.b.resize_nhwc(
            &x,
            Some((n, c)),
            ResizeTo::Fixed([h, w]),
            bilinear,
            align,
            half,
            &out,
        )
    }

    /// STRIDED_SLICE with begin/end masks and shrink_axis_mask (ellipsis and new-axis masks
    /// are refused).
    pub(super) fn strided_slice(&mut self, op: &Operator) -> Result<(), ConvertError> {
        let g = self.g;
        let masks = SliceMasks {
            begin: g.option_i32(op, 0, 0)?.into(),
            end: g.option_i32(op, 1, 0)?.into(),
            ellipsis: g.option_i32(op, 2, 0)?.into(),
            new_axis: g.option_i32(op, 3, 0)?.into(),
            shrink_axis: g.option_i32(op, 4, 0)?.into(),
            offset: g.option_u8(op, 5, 0)? != 0,
        };
        let begin = self.const_ints(op, 1)?;
        let end = self.const_ints(op, 2)?;
        let strides = if self.has_arg(op, 3) {
            self.const_ints(op, 3)?
        } else {
            vec![1; begin.len()]
        };
        let x = self.arg(op, 0)?;
        let out = self.out(op, 0)?;
        self.b
            .strided_slice(&x, &begin, &end, &strides, masks, &out)
            .map_err(|m| unsupported(op, m))
    }
}
