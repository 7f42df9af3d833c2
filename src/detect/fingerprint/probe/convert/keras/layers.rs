//! The Keras layers [`Converter::layer`] translates, one ONNX subgraph each: what
//! `layer_op` does per class, convolutions of every kind (`conv`) and the activations a layer
//! names (`activation`), as the Keras 2 layer reference defines them.

use super::*;

impl Converter<'_> {
    /// [`Converter::layer`]'s translation.
    pub(super) fn layer_op(
        &mut self,
        class: &str,
        name: &str,
        cfg: &Value,
        ins: &[String],
    ) -> Result<String, ConvertError> {
        if cfg["data_format"].as_str() == Some("channels_first") {
            return Err(unsupported(class, "channels_first data"));
        }
        if class == "InputLayer" {
            return self.input(name, cfg);
        }
        let x = ins
            .first()
            .cloned()
            .ok_or_else(|| graph("a layer with no input"))?;
        let act = || cfg["activation"].as_str().unwrap_or("linear");
        let out = match class {
            "Conv2D" | "DepthwiseConv2D" | "SeparableConv2D" => {
                let y = self.conv(class, name, cfg, &x)?;
                self.activation(y, act())?
            }
            "Dense" => {
                let w = self.weights(name, class, cfg)?;
                let (k, kd) = w.get("kernel").ok_or_else(|| graph("no kernel"))?;
                let k = self
                    .b
                    .const_f32(kd.iter().map(|&d| d as i64).collect(), k)?;
                let mut y = self.b.op("MatMul", &[&x, &k], vec![]);
                if let Some((bias, _)) = w.get("bias") {
                    let bv = self.b.const_f32(vec![bias.len() as i64], bias)?;
                    y = self.b.op("Add", &[&y, &bv], vec![]);
                }
                self.activation(y, act())?
            }
            "BatchNormalization" => {
                let axis = cfg["axis"]
                    .as_i64()
                    .or_else(|| cfg["axis"].as_array().and_then(|a| a.first()?.as_i64()));
                // The channel axis of an NHWC tensor, or axis 1 of a flat [N, C] one (a
                // normalised embedding after its Dense: keras-facenet's `Bottleneck_BatchNorm`).
                let flat = ins.first().is_some_and(|x| !self.hw.contains_key(x));
                if !(matches!(axis, Some(-1 | 3) | None) || (axis == Some(1) && flat)) {
                    return Err(unsupported(class, format!("axis {axis:?}")));
                }
                let eps = cfg["epsilon"].as_f64().unwrap_or(1e-3) as f32;
                let w = self.weights(name, class, cfg)?;
                let get = |k: &str| w.get(k).map(|v| v.0.clone());
                let mean = get("moving_mean").ok_or_else(|| graph("no moving_mean"))?;
                let var = get("moving_variance").ok_or_else(|| graph("no moving_variance"))?;
                let n = mean.len();
                let gamma = get("gamma").unwrap_or_else(|| vec![1.0; n]);
                let beta = get("beta").unwrap_or_else(|| vec![0.0; n]);
                if var.len() != n || gamma.len() != n || beta.len() != n {
                    return Err(graph("batch-norm parameters differ in length"));
                }
                let s: Vec<f32> = (0..n).map(|i| gamma[i] / (var[i] + eps).sqrt()).collect();
                let t: Vec<f32> = (0..n).map(|i| beta[i] - mean[i] * s[i]).collect();
                let s = self.b.const_f32(vec![n as i64], &s)?;
                let t = self.b.const_f32(vec![n as i64], &t)?;
                let y = self.b.op("Mul", &[&x, &s], vec![]);
                self.b.op("Add", &[&y, &t], vec![])
            }
            "Activation" => self.activation(x, act())?,
            "ReLU" => {
                let max = cfg["max_value"].as_f64();
                let slope = cfg["negative_slope"].as_f64().unwrap_or(0.0);
                if cfg["threshold"].as_f64().unwrap_or(0.0) != 0.0 || slope != 0.0 {
                    return Err(unsupported(class, "a threshold or negative slope"));
                }
                match max {
                    Some(m) => {
                        let y = self.b.fresh();
                        self.b.clip(&x, 0.0, m as f32, &y)?;
                        y
                    }
                    None => self.b.op("Relu", &[&x], vec![]),
                }
            }
            "LeakyReLU" => {
                let alpha = cfg["alpha"]
                    .as_f64()
                    .or_else(|| cfg["negative_slope"].as_f64())
                    .unwrap_or(0.3) as f32;
                self.b.activate(x, &Activation::LeakyRelu(alpha), None)?
            }
            "PReLU" => {
                let w = self.weights(name, class, cfg)?;
                let (a, ad) = w.get("alpha").ok_or_else(|| graph("no alpha"))?;
                let a = self
                    .b
                    .const_f32(ad.iter().map(|&d| d as i64).collect(), a)?;
                self.b.op("PRelu", &[&x, &a], vec![])
            }
            "Softmax" => {
                let axis = cfg["axis"].as_i64().unwrap_or(-1);
                self.b.op("Softmax", &[&x], vec![("axis", Attr::Int(axis))])
            }
            "MaxPooling2D" | "AveragePooling2D" => {
                let (kernel, strides) = pool_geometry(cfg);
                let same = cfg["padding"].as_str() == Some("same");
                let onnx = if class == "MaxPooling2D" {
                    "MaxPool"
                } else {
                    "AveragePool"
                };
                let y = self.b.fresh();
                self.b
                    .pool_nhwc(onnx, &x, kernel, strides, same, &Activation::None, &y)?;
                y
            }
            "GlobalAveragePooling2D" | "GlobalMaxPooling2D" => {
                let keep = cfg["keepdims"].as_bool().unwrap_or(false);
                let op = if class.starts_with("GlobalAverage") {
                    "ReduceMean"
                } else {
                    "ReduceMax"
                };
                self.b.op(
                    op,
                    &[&x],
                    vec![
                        ("axes", Attr::Ints(vec![1, 2])),
                        ("keepdims", Attr::Int(i64::from(keep))),
                    ],
                )
            }
            "Flatten" => self.b.op("Flatten", &[&x], vec![("axis", Attr::Int(1))]),
            "Dropout"
            | "SpatialDropout2D"
            | "GaussianNoise"
            | "GaussianDropout"
            | "AlphaDropout"
            | "ActivityRegularization" => x,
            "Add" | "Subtract" | "Multiply" | "Maximum" | "Minimum" | "Average" => {
                let op = match class {
                    "Add" => "Add",
                    "Subtract" => "Sub",
                    "Multiply" => "Mul",
                    "Maximum" => "Max",
                    "Minimum" => "Min",
                    _ => "Mean",
                };
                if ins.len() < 2 {
                    return Err(graph(format!("{class} of {} input", ins.len())));
                }
                if matches!(op, "Max" | "Min" | "Mean") {
                    let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                    self.b.op(op, &refs, vec![])
                } else {
                    self.b.eltwise(op, ins.to_vec(), &[])?
                }
            }
            "Concatenate" => {
                let axis = cfg["axis"].as_i64().unwrap_or(-1);
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                self.b.op("Concat", &refs, vec![("axis", Attr::Int(axis))])
            }
            "ZeroPadding2D" => {
                let [t, b, l, r] = zero_padding(cfg);
                let pads = self.b.const_i64(&[0, t, l, 0, 0, b, r, 0])?;
                self.b.op("Pad", &[&x, &pads], vec![])
            }
            "Reshape" => {
                let target = ints(cfg, "target_shape", -1)?;
                let shape = self.b.const_i64(&[&[0][..], &target].concat())?;
                self.b.op("Reshape", &[&x, &shape], vec![])
            }
            "Permute" => {
                let perm = [&[0][..], &ints(cfg, "dims", 0)?].concat();
                self.b
                    .op("Transpose", &[&x], vec![("perm", Attr::Ints(perm))])
            }
            "UpSampling2D" => {
                if cfg["interpolation"]
                    .as_str()
                    .is_some_and(|i| i != "nearest")
                {
                    return Err(unsupported(class, "interpolation other than nearest"));
                }
                let [sh, sw] = pair(cfg.get("size"), 2);
                let xn = self.b.nchw(&x);
                let scales = self
                    .b
                    .const_f32(vec![4], &[1.0, 1.0, sh as f32, sw as f32])?;
                let y = self.b.op(
                    "Resize",
                    &[&xn, "", &scales],
                    vec![("mode", Attr::Str("nearest"))],
                );
                let out = self.b.fresh();
                self.b.nhwc_into(&y, &out);
                out
            }
            "UnitNormalization" => {
                let axis = cfg["axis"]
                    .as_i64()
                    .or_else(|| cfg["axis"].as_array().and_then(|a| a.first()?.as_i64()))
                    .unwrap_or(-1);
                self.b.op(
                    "LpNormalization",
                    &[&x],
                    vec![("axis", Attr::Int(axis)), ("p", Attr::Int(2))],
                )
            }
            "Rescaling" => {
                let scale = cfg["scale"].as_f64().unwrap_or(1.0) as f32;
                let offset = cfg["offset"].as_f64().unwrap_or(0.0) as f32;
                let s = self.b.scalar_f32(scale)?;
                let o = self.b.scalar_f32(offset)?;
                let y = self.b.op("Mul", &[&x, &s], vec![]);
                self.b.op("Add", &[&y, &o], vec![])
            }
            "Lambda" => {
                let s = lambda_scale(cfg)?;
                let s = self.b.scalar_f32(s)?;
                self.b.op("Mul", &[&x, &s], vec![])
            }
            "Sequential" | "Functional" | "Model" => {
                return Err(unsupported(class, "a nested model"))
            }
            other => return Err(unsupported(other, "no ONNX translation")),
        };
        Ok(out)
    }

    /// Conv2D, DepthwiseConv2D and SeparableConv2D (no activation).
    pub(super) fn conv(
        &mut self,
        class: &str,
        name: &str,
        cfg: &Value,
        x: &str,
    ) -> Result<String, ConvertError> {
        let w = self.weights(name, class, cfg)?;
        let in_hw = self.hw.get(x).copied();
        let geometry = |group: usize| Conv2d {
            strides: pair(cfg.get("strides"), 1),
            dilations: pair(cfg.get("dilation_rate"), 1),
            same: cfg["padding"].as_str() == Some("same"),
            group,
        };
        let bias = w.get("bias").map(|b| b.0.clone());
        let dims4 = |d: &[usize]| -> Result<[usize; 4], ConvertError> {
            d.try_into()
                .map_err(|_| graph(format!("a kernel of shape {d:?}")))
        };
        let depthwise = |b: &mut Builder,
                         k: &(Vec<f32>, Vec<usize>),
                         x: &str,
                         bias: Option<&[f32]>,
                         g: &Conv2d|
         -> Result<String, ConvertError> {
            // [H, W, C, M] → [C, M, H, W], read as [C·M, 1, H, W].
            let [kh, kw, c, m] = dims4(&k.1)?;
            let wt = permute(&k.0, &[kh, kw, c, m], &[2, 3, 0, 1]);
            let y = b.fresh();
            let g = Conv2d { group: c, ..*g };
            b.conv_nhwc(
                x,
                in_hw,
                &wt,
                [c * m, 1, kh, kw],
                bias,
                &g,
                &Activation::None,
                &y,
            )?;
            Ok(y)
        };
        match class {
            "Conv2D" => {
                let groups = cfg["groups"].as_u64().unwrap_or(1) as usize;
                let k = w.get("kernel").ok_or_else(|| graph("no kernel"))?;
                let (wt, dims) = hwio_to_oihw(&k.0, dims4(&k.1)?);
                let y = self.b.fresh();
                self.b.conv_nhwc(
                    x,
                    in_hw,
                    &wt,
                    dims,
                    bias.as_deref(),
                    &geometry(groups.max(1)),
                    &Activation::None,
                    &y,
                )?;
                Ok(y)
            }
            "DepthwiseConv2D" => {
                // Keras 2 names it `depthwise_kernel`, Keras 3 `kernel`.
                let k = w
                    .get("depthwise_kernel")
                    .or_else(|| w.get("kernel"))
                    .ok_or_else(|| graph("no depthwise_kernel"))?;
                depthwise(&mut self.b, k, x, bias.as_deref(), &geometry(1))
            }
            _ => {
                let k = w
                    .get("depthwise_kernel")
                    .ok_or_else(|| graph("no depthwise_kernel"))?;
                let d = depthwise(&mut self.b, k, x, None, &geometry(1))?;
                let p = w
                    .get("pointwise_kernel")
                    .ok_or_else(|| graph("no pointwise_kernel"))?;
                let (wt, dims) = hwio_to_oihw(&p.0, dims4(&p.1)?);
                let y = self.b.fresh();
                let one = Conv2d {
                    strides: [1, 1],
                    dilations: [1, 1],
                    same: false,
                    group: 1,
                };
                self.b.conv_nhwc(
                    &d,
                    None,
                    &wt,
                    dims,
                    bias.as_deref(),
                    &one,
                    &Activation::None,
                    &y,
                )?;
                Ok(y)
            }
        }
    }

    /// A Keras activation by name (`keras.activations`).
    pub(super) fn activation(&mut self, x: String, name: &str) -> Result<String, ConvertError> {
        let unary = |b: &mut Builder, op: &str, x: &str| b.op(op, &[x], vec![]);
        Ok(match name {
            "linear" | "" => x,
            "relu" => unary(&mut self.b, "Relu", &x),
            "sigmoid" => unary(&mut self.b, "Sigmoid", &x),
            "tanh" => unary(&mut self.b, "Tanh", &x),
            "elu" => unary(&mut self.b, "Elu", &x),
            "selu" => unary(&mut self.b, "Selu", &x),
            "softplus" => unary(&mut self.b, "Softplus", &x),
            "softsign" => unary(&mut self.b, "Softsign", &x),
            "exponential" => unary(&mut self.b, "Exp", &x),
            "softmax" => self.b.op("Softmax", &[&x], vec![("axis", Attr::Int(-1))]),
            "relu6" => {
                let y = self.b.fresh();
                self.b.clip(&x, 0.0, 6.0, &y)?;
                y
            }
            "swish" | "silu" => {
                let s = unary(&mut self.b, "Sigmoid", &x);
                self.b.op("Mul", &[&x, &s], vec![])
            }
            // Keras 2: clip(0.2·x + 0.5, 0, 1).
            "hard_sigmoid" => self.b.op(
                "HardSigmoid",
                &[&x],
                vec![("alpha", Attr::Float(0.2)), ("beta", Attr::Float(0.5))],
            ),
            other => {
                return Err(unsupported(
                    &format!("activation {other}"),
                    "no ONNX translation",
                ))
            }
        })
    }
}
