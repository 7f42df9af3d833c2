//! face-api.js's networks, from their weight manifests. face-api.js ships weights alone
//! (`*-weights_manifest.json` and its shards); the graph is in its code, so each network is
//! rebuilt here as that code runs it, recognised by the exact set of weight names it loads
//! (face-api.js 0.22, `src/<net>/extractParamsFromWeigthMap.ts`; @vladmandic/face-api keeps the
//! same networks and names):
//!
//! - **FaceRecognitionNet** (`src/faceRecognitionNet/`): a 150 × 150 RGB crop, mean
//!   (122.782, 117.001, 104.298) subtracted and divided by 256, then dlib's ResNet: a 7 × 7
//!   stride-2 convolution, a 3 × 3 max pool, residual blocks (3 × 3 convolutions, each with a
//!   bias and a per-channel scale and shift) at 32, 64, 128 and 256 channels, down-sampling
//!   blocks whose shortcut is a 2 × 2 average pool padded with zero channels (and a zero row and
//!   column where the sizes differ), a global mean and a 256 → 128 matrix: the face descriptor.
//! - **TinyFaceDetector** (`src/tinyYolov2/TinyYolov2Base.ts`, `runMobilenet`): mean
//!   (117.001, 114.697, 97.404) subtracted and divided by 256, a valid 3 × 3 convolution, then
//!   depthwise-separable convolutions (zero-padded by one, leaky ReLU 0.1) between 2 × 2 max
//!   pools (TensorFlow's `same`), and a 1 × 1 convolution to 5 anchors × (4 box + 1 score)
//!   channels. Run at 416 × 416, face-api's default input size.
//! - **FaceLandmark68TinyNet** (`src/faceFeatureExtractor/TinyFaceFeatureExtractor.ts`,
//!   `denseBlock3`): a 112 × 112 crop, mean subtracted and divided by 255, three dense blocks of
//!   stride-2 then stride-1 separable convolutions, a 14 × 14 average pool and a 128 → 136
//!   fully connected layer: 68 (x, y) points.
//! - **FaceLandmark68Net** and **FaceExpressionNet** (`src/faceFeatureExtractor/
//!   FaceFeatureExtractor.ts`, `denseBlock4`; `src/faceProcessor/`): the same 112 × 112 crop
//!   and normalisation, four dense blocks of four convolutions, a 7 × 7 average pool and a
//!   256-wide fully connected layer: 68 (x, y) points, or seven expressions through a softmax.
//!   Both load the same names; the classifier's width tells them apart.
//! - **SsdMobilenetv1** (`src/ssdMobilenetv1/`, face-api's default face detector): a 512 × 512
//!   picture scaled to −1..1, MobileNetV1 (`mobileNetV1.ts`: a 3 × 3 stride-2 convolution, then
//!   13 depthwise (batch-normalised, ε 0.001) and pointwise convolutions, stride 2 at depthwise
//!   layers 2, 4, 6 and 12, every one clipped to 0..6), the prediction layer
//!   (`predictionLayer.ts`: eight more pointwise convolutions and six box predictors on layer
//!   11's output, the last, and every second extra convolution) and the output layer
//!   (`outputLayer.ts`: boxes decoded from the anchors in `Output/extra_dim`, the face score
//!   the sigmoid of the class column 1). Outputs: boxes (1, anchors, 4) and scores (1,
//!   anchors), before face-api's non-maximum suppression (not converted).
//!
//! The graph takes RGB pixels 0–255 in NCHW; face-api's own normalisation is its first nodes.

use super::super::builder::{Attr, Builder};
use super::super::nhwc::hwio_to_oihw;
use super::super::onnx_proto::data_type;
use super::super::ConvertError;
use crate::decode::models::tfjs::faceapi::{
    recognise, Network as Net, CLASSIFIER, RESIDUAL_BLOCKS,
};
use crate::decode::models::tfjs::graph::{Values, Weight};
use std::collections::HashMap;

fn graph(m: impl Into<String>) -> ConvertError {
    ConvertError::Graph(m.into())
}

struct Net2Onnx<'a> {
    w: &'a HashMap<String, Weight>,
    b: Builder,
}

impl Net2Onnx<'_> {
    /// Weight `name`: its values as float32 and its dimensions, `rank` of them.
    fn get(&self, name: &str, rank: usize) -> Result<(&[f32], &[usize]), ConvertError> {
        let w = self
            .w
            .get(name)
            .ok_or_else(|| graph(format!("weight {name} missing")))?;
        let Values::Float(v) = &w.values else {
            return Err(graph(format!("weight {name} is not float")));
        };
        let n: usize = w.shape.iter().product();
        if w.shape.len() != rank || v.len() != n {
            return Err(graph(format!(
                "weight {name} of shape {:?}, {} values",
                w.shape,
                v.len()
            )));
        }
        Ok((v, &w.shape))
    }

    /// A vector weight as a `[1, C, 1, 1]` constant (added or multiplied per channel).
    fn channels(&mut self, name: &str) -> Result<(String, usize), ConvertError> {
        let (v, s) = self.get(name, 1)?;
        let (v, c) = (v.to_vec(), s[0]);
        Ok((self.b.const_f32(vec![1, c as i64, 1, 1], &v)?, c))
    }

    /// An HWIO filter as an OIHW constant; with `depthwise`, an HW·C·1 filter as `[C, 1, H, W]`.
    fn filter(
        &mut self,
        name: &str,
        depthwise: bool,
    ) -> Result<(String, [usize; 4]), ConvertError> {
        let (v, s) = self.get(name, 4)?;
        let dims = [s[0], s[1], s[2], s[3]];
        let (w, o) = hwio_to_oihw(v, dims);
        // Depthwise: HWIO with O the multiplier (1) gives [1, C, H, W]; ONNX wants [C, 1, H, W].
        let o = if depthwise {
            [o[1], o[0], o[2], o[3]]
        } else {
            o
        };
        let id = self
            .b
            .const_f32(o.iter().map(|&d| d as i64).collect(), &w)?;
        Ok((id, o))
    }

    /// Convolution of `x` by filter `name` with TensorFlow's `same` padding (`same`) or none.
    fn conv(
        &mut self,
        x: &str,
        name: &str,
        stride: i64,
        same: bool,
        depthwise: bool,
    ) -> Result<String, ConvertError> {
        let (w, o) = self.filter(name, depthwise)?;
        let mut attrs = vec![("strides", Attr::Ints(vec![stride, stride]))];
        if same {
            attrs.push(("auto_pad", Attr::Str("SAME_UPPER")));
        }
        if depthwise {
            attrs.push(("group", Attr::Int(o[0] as i64)));
        }
        Ok(self.b.op("Conv", &[x, &w], attrs))
    }

    fn add_channels(&mut self, x: &str, name: &str) -> Result<String, ConvertError> {
        let (c, _) = self.channels(name)?;
        Ok(self.b.op("Add", &[x, &c], vec![]))
    }

    fn relu(&mut self, x: &str) -> String {
        self.b.op("Relu", &[x], vec![])
    }

    /// `x` minus a per-channel mean, divided by `divisor` (face-api's `normalize` and `div`).
    fn normalise(&mut self, x: &str, mean: [f32; 3], divisor: f32) -> Result<String, ConvertError> {
        let m = self.b.const_f32(vec![1, 3, 1, 1], &mean)?;
        let d = self.b.scalar_f32(divisor)?;
        let centred = self.b.op("Sub", &[x, &m], vec![]);
        Ok(self.b.op("Div", &[&centred, &d], vec![]))
    }

    /// FaceRecognitionNet's `convLayer`: convolution, bias, scale and shift, then ReLU if asked.
    fn res_conv(
        &mut self,
        x: &str,
        p: &str,
        stride: i64,
        same: bool,
        relu: bool,
    ) -> Result<String, ConvertError> {
        let c = self.conv(x, &format!("{p}/conv/filters"), stride, same, false)?;
        let c = self.add_channels(&c, &format!("{p}/conv/bias"))?;
        let (s, _) = self.channels(&format!("{p}/scale/weights"))?;
        let c = self.b.op("Mul", &[&c, &s], vec![]);
        let c = self.add_channels(&c, &format!("{p}/scale/biases"))?;
        Ok(if relu { self.relu(&c) } else { c })
    }

    /// `residual` (`down` false) or `residualDown`; `side` is `x`'s height and width, `ch` its
    /// channels. Returns the output, its side and channels.
    fn residual(
        &mut self,
        x: &str,
        p: &str,
        side: usize,
        ch: usize,
        down: bool,
    ) -> Result<(String, usize, usize), ConvertError> {
        let out_ch = self.get(&format!("{p}/conv1/conv/filters"), 4)?.1[3];
        if !down {
            let a = self.res_conv(x, &format!("{p}/conv1"), 1, true, true)?;
            let a = self.res_conv(&a, &format!("{p}/conv2"), 1, true, false)?;
            let s = self.b.op("Add", &[&a, x], vec![]);
            return Ok((self.relu(&s), side, ch));
        }
        let a = self.res_conv(x, &format!("{p}/conv1"), 2, false, true)?;
        let mut a = self.res_conv(&a, &format!("{p}/conv2"), 1, true, false)?;
        let conv_side = (side.saturating_sub(3)) / 2 + 1;
        let pool_side = (side.saturating_sub(2)) / 2 + 1;
        let pooled = self.b.op(
            "AveragePool",
            &[x],
            vec![
                ("kernel_shape", Attr::Ints(vec![2, 2])),
                ("strides", Attr::Ints(vec![2, 2])),
            ],
        );
        // The convolution's output is padded with a zero row and column to the pool's size,
        // the pool's with zero channels to the convolution's.
        if pool_side != conv_side {
            let extra = pool_side as i64 - conv_side as i64;
            let pads = self.b.const_i64(&[0, 0, 0, 0, 0, 0, extra, extra])?;
            a = self.b.op("Pad", &[&a, &pads], vec![]);
        }
        let pooled = if out_ch > ch {
            let pads = self
                .b
                .const_i64(&[0, 0, 0, 0, 0, (out_ch - ch) as i64, 0, 0])?;
            self.b.op("Pad", &[&pooled, &pads], vec![])
        } else {
            pooled
        };
        let s = self.b.op("Add", &[&pooled, &a], vec![]);
        Ok((self.relu(&s), pool_side, out_ch))
    }

    /// TinyYolov2's `depthwiseSeparableConv`: zero padding of one, a valid separable
    /// convolution, bias, leaky ReLU 0.1.
    fn yolo_separable(&mut self, x: &str, p: &str) -> Result<String, ConvertError> {
        let pads = self.b.const_i64(&[0, 0, 1, 1, 0, 0, 1, 1])?;
        let padded = self.b.op("Pad", &[x, &pads], vec![]);
        let d = self.conv(&padded, &format!("{p}/depthwise_filter"), 1, false, true)?;
        let c = self.conv(&d, &format!("{p}/pointwise_filter"), 1, false, false)?;
        let c = self.add_channels(&c, &format!("{p}/bias"))?;
        Ok(self.leaky(&c))
    }

    fn leaky(&mut self, x: &str) -> String {
        self.b
            .op("LeakyRelu", &[x], vec![("alpha", Attr::Float(0.1))])
    }

    fn max_pool_same(&mut self, x: &str, stride: i64) -> String {
        self.b.op(
            "MaxPool",
            &[x],
            vec![
                ("kernel_shape", Attr::Ints(vec![2, 2])),
                ("strides", Attr::Ints(vec![stride, stride])),
                ("auto_pad", Attr::Str("SAME_UPPER")),
            ],
        )
    }

    /// The common `depthwiseSeparableConv` (TensorFlow `same`, no activation).
    fn separable(&mut self, x: &str, p: &str, stride: i64) -> Result<String, ConvertError> {
        let d = self.conv(x, &format!("{p}/depthwise_filter"), stride, true, true)?;
        let c = self.conv(&d, &format!("{p}/pointwise_filter"), 1, false, false)?;
        self.add_channels(&c, &format!("{p}/bias"))
    }

    /// `denseBlock3` (`convs` 3) or `denseBlock4` (4): a stride-2 first convolution (plain in
    /// the first block, separable after), then separable ones, each fed the ReLU of the sum of
    /// those before it; the block's output is the ReLU of the sum of all.
    fn dense_block(
        &mut self,
        x: &str,
        p: &str,
        first: bool,
        convs: usize,
    ) -> Result<String, ConvertError> {
        let out1 = if first {
            let c = self.conv(x, &format!("{p}/conv0/filters"), 2, true, false)?;
            self.add_channels(&c, &format!("{p}/conv0/bias"))?
        } else {
            self.separable(x, &format!("{p}/conv0"), 2)?
        };
        let mut outs = vec![self.relu(&out1)];
        for k in 1..convs {
            let input = if k == 1 {
                outs[0].clone()
            } else {
                let s = self.sum_nested(&outs);
                self.relu(&s)
            };
            outs.push(self.separable(&input, &format!("{p}/conv{k}"), 1)?);
        }
        let s = self.sum_nested(&outs);
        Ok(self.relu(&s))
    }

    /// `a + (b + (c + …))`, in face-api's order.
    fn sum_nested(&mut self, values: &[String]) -> String {
        let mut acc = values.last().cloned().unwrap_or_default();
        for v in values.iter().rev().skip(1) {
            acc = self.b.op("Add", &[v, &acc], vec![]);
        }
        acc
    }

    /// `x` flattened to `[1, n]` times the `[n, m]` weight `w`, plus bias `bias` if given.
    fn dense(&mut self, x: &str, w: &str, bias: Option<&str>) -> Result<String, ConvertError> {
        let (v, s) = self.get(w, 2)?;
        let (v, dims) = (v.to_vec(), vec![s[0] as i64, s[1] as i64]);
        let wc = self.b.const_f32(dims, &v)?;
        let flat = self.b.op("Flatten", &[x], vec![("axis", Attr::Int(1))]);
        let mut y = self.b.op("MatMul", &[&flat, &wc], vec![]);
        if let Some(bias) = bias {
            let (v, s) = self.get(bias, 1)?;
            let (v, n) = (v.to_vec(), s[0] as i64);
            let bc = self.b.const_f32(vec![1, n], &v)?;
            y = self.b.op("Add", &[&y, &bc], vec![]);
        }
        Ok(y)
    }

    /// `tf.clipByValue(x, 0, 6)`.
    fn relu6(&mut self, x: &str) -> Result<String, ConvertError> {
        let (lo, hi) = (self.b.scalar_f32(0.0)?, self.b.scalar_f32(6.0)?);
        Ok(self.b.op("Clip", &[x, &lo, &hi], vec![]))
    }

    /// SsdMobilenetv1's `pointwiseConvLayer`: convolution (`same`), the offset, clipped.
    fn ssd_pointwise(&mut self, x: &str, p: &str, stride: i64) -> Result<String, ConvertError> {
        let c = self.conv(x, &format!("{p}/weights"), stride, true, false)?;
        let c = self.add_channels(&c, &format!("{p}/convolution_bn_offset"))?;
        self.relu6(&c)
    }

    /// `depthwiseConvLayer`: depthwise convolution (`same`), batch norm (ε 0.001), clipped.
    fn ssd_depthwise(&mut self, x: &str, p: &str, stride: i64) -> Result<String, ConvertError> {
        let d = self.conv(x, &format!("{p}/depthwise_weights"), stride, true, true)?;
        let get = |c: &Self, k: &str| -> Result<Vec<f32>, ConvertError> {
            Ok(c.get(&format!("{p}/BatchNorm/{k}"), 1)?.0.to_vec())
        };
        let (g, b) = (get(self, "gamma")?, get(self, "beta")?);
        let (m, v) = (get(self, "moving_mean")?, get(self, "moving_variance")?);
        if [b.len(), m.len(), v.len()].iter().any(|&n| n != g.len()) {
            return Err(graph(format!("{p}: batch norm of unequal lengths")));
        }
        let scale: Vec<f32> = g
            .iter()
            .zip(&v)
            .map(|(g, v)| g / (v + 0.001_f32).sqrt())
            .collect();
        let shift: Vec<f32> = b
            .iter()
            .zip(&m)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        let n = g.len() as i64;
        let (sc, sh) = (
            self.b.const_f32(vec![1, n, 1, 1], &scale)?,
            self.b.const_f32(vec![1, n, 1, 1], &shift)?,
        );
        let y = self.b.op("Mul", &[&d, &sc], vec![]);
        let y = self.b.op("Add", &[&y, &sh], vec![]);
        self.relu6(&y)
    }

    /// `boxPredictionLayer`: the box encodings as (1, cells × anchors, 4) and the class
    /// scores as (1, cells × anchors, 3), in TensorFlow's NHWC order of cells.
    fn ssd_predict(&mut self, x: &str, i: usize) -> Result<(String, String), ConvertError> {
        let mut out = Vec::new();
        for (p, k) in [("BoxEncodingPredictor", 4), ("ClassPredictor", 3)] {
            let pre = format!("Prediction/BoxPredictor_{i}/{p}");
            let c = self.conv(x, &format!("{pre}/weights"), 1, true, false)?;
            let c = self.add_channels(&c, &format!("{pre}/biases"))?;
            let t = self.b.op(
                "Transpose",
                &[&c],
                vec![("perm", Attr::Ints(vec![0, 2, 3, 1]))],
            );
            let shape = self.b.const_i64(&[1, -1, k])?;
            out.push(self.b.op("Reshape", &[&t, &shape], vec![]));
        }
        let class = out.pop().unwrap_or_default();
        Ok((out.pop().unwrap_or_default(), class))
    }

    /// SsdMobilenetv1 on `input` (RGB 0..255): boxes (1, N, 4) and scores (1, N).
    fn ssd(&mut self, input: &str) -> Result<(String, String), ConvertError> {
        let d = self.b.scalar_f32(127.5)?;
        let one = self.b.scalar_f32(1.0)?;
        let x = self.b.op("Div", &[input, &d], vec![]);
        let mut x = self.b.op("Sub", &[&x, &one], vec![]);
        x = self.ssd_pointwise(&x, "MobilenetV1/Conv2d_0_pointwise", 2)?;
        let mut conv11 = String::new();
        for i in 1..=13usize {
            let stride = if [2, 4, 6, 12].contains(&i) { 2 } else { 1 };
            x = self.ssd_depthwise(&x, &format!("MobilenetV1/Conv2d_{i}_depthwise"), stride)?;
            x = self.ssd_pointwise(&x, &format!("MobilenetV1/Conv2d_{i}_pointwise"), 1)?;
            if i == 11 {
                conv11 = x.clone();
            }
        }
        let mut extra = vec![x.clone()];
        for k in 0..=7usize {
            let stride = if k % 2 == 1 { 2 } else { 1 };
            let prev = extra[k].clone();
            extra.push(self.ssd_pointwise(
                &prev,
                &format!("Prediction/Conv2d_{k}_pointwise"),
                stride,
            )?);
        }
        // Predictors on conv11, the backbone's output, and the extra layers 1, 3, 5, 7.
        let sources = [
            &conv11, &extra[0], &extra[2], &extra[4], &extra[6], &extra[8],
        ];
        let (mut boxes, mut classes) = (Vec::new(), Vec::new());
        for (i, src) in sources.into_iter().enumerate() {
            let (b, c) = self.ssd_predict(src, i)?;
            boxes.push(b);
            classes.push(c);
        }
        let br: Vec<&str> = boxes.iter().map(String::as_str).collect();
        let cr: Vec<&str> = classes.iter().map(String::as_str).collect();
        let enc = self.b.op("Concat", &br, vec![("axis", Attr::Int(1))]);
        let cls = self.b.op("Concat", &cr, vec![("axis", Attr::Int(1))]);
        // decodeBoxesLayer, with the anchors' sizes and centres computed here.
        let (anchors, shape) = self.get("Output/extra_dim", 3)?;
        let n = shape[1];
        if shape[0] != 1 || shape[2] != 4 {
            return Err(graph(format!("Output/extra_dim of shape {shape:?}")));
        }
        let col = |j: usize| -> Vec<f32> { (0..n).map(|a| anchors[4 * a + j]).collect() };
        let (a0, a1, a2, a3) = (col(0), col(1), col(2), col(3));
        let s0: Vec<f32> = a2.iter().zip(&a0).map(|(x2, x0)| x2 - x0).collect();
        let s1: Vec<f32> = a3.iter().zip(&a1).map(|(x3, x1)| x3 - x1).collect();
        let c0: Vec<f32> = a0.iter().zip(&s0).map(|(x, s)| x + s / 2.0).collect();
        let c1: Vec<f32> = a1.iter().zip(&s1).map(|(x, s)| x + s / 2.0).collect();
        let dims = vec![1, n as i64, 1];
        let s0 = self.b.const_f32(dims.clone(), &s0)?;
        let s1 = self.b.const_f32(dims.clone(), &s1)?;
        let c0 = self.b.const_f32(dims.clone(), &c0)?;
        let c1 = self.b.const_f32(dims, &c1)?;
        let e: Vec<String> = (0..4)
            .map(|j| {
                let (st, en, ax) = (
                    self.b.const_i64(&[j])?,
                    self.b.const_i64(&[j + 1])?,
                    self.b.const_i64(&[2])?,
                );
                Ok(self.b.op("Slice", &[&enc, &st, &en, &ax], vec![]))
            })
            .collect::<Result<_, ConvertError>>()?;
        let (five, ten, two) = (
            self.b.scalar_f32(5.0)?,
            self.b.scalar_f32(10.0)?,
            self.b.scalar_f32(2.0)?,
        );
        let mut half_size = |e: &str, s: &str| -> String {
            let v = self.b.op("Div", &[e, &five], vec![]);
            let v = self.b.op("Exp", &[&v], vec![]);
            let v = self.b.op("Mul", &[&v, s], vec![]);
            self.b.op("Div", &[&v, &two], vec![])
        };
        let div0 = half_size(&e[2], &s0);
        let div1 = half_size(&e[3], &s1);
        let mut centre = |e: &str, s: &str, c: &str| -> String {
            let v = self.b.op("Div", &[e, &ten], vec![]);
            let v = self.b.op("Mul", &[&v, s], vec![]);
            self.b.op("Add", &[&v, c], vec![])
        };
        let add0 = centre(&e[0], &s0, &c0);
        let add1 = centre(&e[1], &s1, &c1);
        let corners = [
            self.b.op("Sub", &[&add0, &div0], vec![]),
            self.b.op("Sub", &[&add1, &div1], vec![]),
            self.b.op("Add", &[&add0, &div0], vec![]),
            self.b.op("Add", &[&add1, &div1], vec![]),
        ];
        let cr: Vec<&str> = corners.iter().map(String::as_str).collect();
        let boxes = self.b.op("Concat", &cr, vec![("axis", Attr::Int(2))]);
        // The face score: sigmoid of class column 1.
        let (st, en, ax) = (
            self.b.const_i64(&[1])?,
            self.b.const_i64(&[2])?,
            self.b.const_i64(&[2])?,
        );
        let col1 = self.b.op("Slice", &[&cls, &st, &en, &ax], vec![]);
        let sig = self.b.op("Sigmoid", &[&col1], vec![]);
        let flat = self.b.const_i64(&[1, n as i64])?;
        let scores = self.b.op("Reshape", &[&sig, &flat], vec![]);
        Ok((boxes, scores))
    }
}

/// Convert face-api.js weights to the network its code runs (see the module's text), with a
/// note naming the network. Errors: the weights are none of face-api's networks (the reason
/// says a weights manifest holds no graph), or a weight of the wrong shape.
pub fn convert(weights: &HashMap<String, Weight>) -> Result<(Vec<u8>, String), ConvertError> {
    let classes = weights
        .get(CLASSIFIER)
        .and_then(|w| w.shape.get(1).copied());
    let net = recognise(|n| weights.contains_key(n), weights.len(), classes).ok_or_else(|| {
        graph("a weights manifest holds no graph, and its weight names are none of face-api.js's FaceRecognitionNet, TinyFaceDetector, FaceLandmark68TinyNet, FaceLandmark68Net, FaceExpressionNet or SsdMobilenetv1")
    })?;
    let mut c = Net2Onnx {
        w: weights,
        b: Builder::default(),
    };
    let side: i64 = match net {
        Net::Recognition => 150,
        Net::TinyDetector => 416,
        Net::Landmark68Tiny => 112,
        Net::SsdMobilenetV1 => 512,
        Net::Landmark68 | Net::Expression => 112,
    };
    let input = c.b.fresh();
    c.b.io(false, &input, data_type::FLOAT, Some(&[1, 3, side, side]));
    let out = match net {
        Net::Recognition => {
            let x = c.normalise(&input, [122.782, 117.001, 104.298], 256.0)?;
            let x = c.res_conv(&x, "conv32_down", 2, false, true)?;
            let x = c.b.op(
                "MaxPool",
                &[&x],
                vec![
                    ("kernel_shape", Attr::Ints(vec![3, 3])),
                    ("strides", Attr::Ints(vec![2, 2])),
                ],
            );
            // 150 → 72 (7 × 7 valid, stride 2) → 35 (3 × 3 valid, stride 2).
            let (mut x, mut s, mut ch) = (x, 35usize, 32usize);
            for b in RESIDUAL_BLOCKS.iter() {
                (x, s, ch) = c.residual(&x, b, s, ch, b.contains("down"))?;
            }
            let mean = c.b.op(
                "ReduceMean",
                &[&x],
                vec![("axes", Attr::Ints(vec![2, 3])), ("keepdims", Attr::Int(0))],
            );
            c.dense(&mean, "fc", None)?
        }
        Net::TinyDetector => {
            let x = c.normalise(&input, [117.001, 114.697, 97.404], 256.0)?;
            let x = c.conv(&x, "conv0/filters", 1, false, false)?;
            let x = c.add_channels(&x, "conv0/bias")?;
            let mut x = c.leaky(&x);
            for i in 1..=5 {
                x = c.max_pool_same(&x, 2);
                x = c.yolo_separable(&x, &format!("conv{i}"))?;
            }
            let x = c.max_pool_same(&x, 1);
            let x = c.conv(&x, "conv8/filters", 1, false, false)?;
            c.add_channels(&x, "conv8/bias")?
        }
        Net::Landmark68Tiny => {
            let x = c.normalise(&input, [122.782, 117.001, 104.298], 255.0)?;
            let x = c.dense_block(&x, "dense0", true, 3)?;
            let x = c.dense_block(&x, "dense1", false, 3)?;
            let x = c.dense_block(&x, "dense2", false, 3)?;
            let x = c.b.op(
                "AveragePool",
                &[&x],
                vec![
                    ("kernel_shape", Attr::Ints(vec![14, 14])),
                    ("strides", Attr::Ints(vec![2, 2])),
                ],
            );
            c.dense(&x, "fc/weights", Some("fc/bias"))?
        }
        Net::Landmark68 | Net::Expression => {
            // FaceFeatureExtractor, then FaceProcessor's fully connected layer; expressions
            // through a softmax (FaceExpressionNet.forwardInput).
            let x = c.normalise(&input, [122.782, 117.001, 104.298], 255.0)?;
            let mut x = c.dense_block(&x, "dense0", true, 4)?;
            for d in ["dense1", "dense2", "dense3"] {
                x = c.dense_block(&x, d, false, 4)?;
            }
            let x = c.b.op(
                "AveragePool",
                &[&x],
                vec![
                    ("kernel_shape", Attr::Ints(vec![7, 7])),
                    ("strides", Attr::Ints(vec![2, 2])),
                ],
            );
            let y = c.dense(&x, "fc/weights", Some("fc/bias"))?;
            if net == Net::Expression {
                c.b.op("Softmax", &[&y], vec![("axis", Attr::Int(1))])
            } else {
                y
            }
        }
        Net::SsdMobilenetV1 => {
            let (boxes, scores) = c.ssd(&input)?;
            c.b.io(true, &boxes, data_type::FLOAT, None);
            scores
        }
    };
    c.b.io(true, &out, data_type::FLOAT, None);
    let layers = weights.len();
    let nodes = c.b.node_count();
    Ok((
        c.b.finish("banwatch-faceapi"),
        format!(
            "converted from a face-api.js weights manifest as its {} ({layers} weights, {nodes} ONNX nodes; the graph as face-api.js's code runs it)",
            net.as_str()
        ),
    ))
}
