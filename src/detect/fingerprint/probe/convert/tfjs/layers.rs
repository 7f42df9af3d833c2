//! The ops with weights: convolutions (plain, depthwise, fused with a bias, a batch
//! normalization and an activation) and matrix products.

use super::*;

impl Converter<'_> {
    /// Folded batch normalization from inputs `first..first + 4` (scale, offset, mean,
    /// variance): y = x · s + t with s = scale / √(var + ε), t = offset − mean · s.
    pub(super) fn batch_norm(
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
    pub(super) fn conv(&mut self, n: &Node) -> Result<(), ConvertError> {
        self.nhwc(n)?;
        let depthwise = n.op.contains("Depthwise");
        let (w, wdims) = self.const_floats(n, 1)?;
        let [kh, kw, i, o] = wdims[..] else {
            return Err(unsupported(n, format!("filter of shape {wdims:?}")));
        };
        let ((weights, dims), group) = if depthwise {
            // [H, W, C, M] → [C, M, H, W], read as [C·M, 1, H, W]: output channel c·M + m
            // reads input channel c.
            let w = permute(&w, &[kh, kw, i, o], &[2, 3, 0, 1]);
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
    pub(super) fn matmul(&mut self, n: &Node) -> Result<(), ConvertError> {
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
