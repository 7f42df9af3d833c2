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
//!
//! The graph takes RGB pixels 0–255 in NCHW; face-api's own normalisation is its first nodes.

use super::super::builder::{Attr, Builder};
use super::super::nhwc::hwio_to_oihw;
use super::super::onnx_proto::data_type;
use super::super::ConvertError;
use crate::decode::models::tfjs::graph::{Values, Weight};
use std::collections::HashMap;

/// The networks recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// FaceRecognitionNet: a 128-value face descriptor.
    Recognition,
    /// TinyFaceDetector: a tiny-YOLOv2 score and box map.
    TinyDetector,
    /// FaceLandmark68TinyNet: 68 landmarks.
    Landmark68Tiny,
}

impl Net {
    fn as_str(self) -> &'static str {
        match self {
            Net::Recognition => "FaceRecognitionNet",
            Net::TinyDetector => "TinyFaceDetector",
            Net::Landmark68Tiny => "FaceLandmark68TinyNet",
        }
    }
}

/// FaceRecognitionNet's residual blocks in order (`_down`: a down-sampling block).
const RESIDUAL_BLOCKS: [&str; 14] = [
    "conv32_1",
    "conv32_2",
    "conv32_3",
    "conv64_down",
    "conv64_1",
    "conv64_2",
    "conv64_3",
    "conv128_down",
    "conv128_1",
    "conv128_2",
    "conv256_down",
    "conv256_1",
    "conv256_2",
    "conv256_down_out",
];

/// The weight names each network loads, in face-api's order.
fn names(net: Net) -> Vec<String> {
    let conv = |p: &str| {
        ["conv/filters", "conv/bias", "scale/weights", "scale/biases"]
            .iter()
            .map(|s| format!("{p}/{s}"))
            .collect::<Vec<_>>()
    };
    let separable = |p: &str| {
        ["depthwise_filter", "pointwise_filter", "bias"]
            .iter()
            .map(|s| format!("{p}/{s}"))
            .collect::<Vec<_>>()
    };
    match net {
        Net::Recognition => {
            let mut n = conv("conv32_down");
            for b in RESIDUAL_BLOCKS.iter() {
                n.extend(conv(&format!("{b}/conv1")));
                n.extend(conv(&format!("{b}/conv2")));
            }
            n.push("fc".into());
            n
        }
        Net::TinyDetector => {
            let mut n = vec!["conv0/filters".to_string(), "conv0/bias".to_string()];
            for i in 1..=5 {
                n.extend(separable(&format!("conv{i}")));
            }
            n.extend(["conv8/filters".to_string(), "conv8/bias".to_string()]);
            n
        }
        Net::Landmark68Tiny => {
            let mut n = vec![
                "dense0/conv0/filters".to_string(),
                "dense0/conv0/bias".to_string(),
            ];
            n.extend(separable("dense0/conv1"));
            n.extend(separable("dense0/conv2"));
            for d in ["dense1", "dense2"] {
                for c in ["conv0", "conv1", "conv2"] {
                    n.extend(separable(&format!("{d}/{c}")));
                }
            }
            n.extend(["fc/weights".to_string(), "fc/bias".to_string()]);
            n
        }
    }
}

/// Which face-api network loads exactly these weights, if any.
pub fn recognise(weights: &HashMap<String, Weight>) -> Option<Net> {
    [Net::Recognition, Net::TinyDetector, Net::Landmark68Tiny]
        .into_iter()
        .find(|&net| {
            let n = names(net);
            n.len() == weights.len() && n.iter().all(|k| weights.contains_key(k))
        })
}

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

    /// `denseBlock3`.
    fn dense3(&mut self, x: &str, p: &str, first: bool) -> Result<String, ConvertError> {
        let out1 = if first {
            let c = self.conv(x, &format!("{p}/conv0/filters"), 2, true, false)?;
            self.add_channels(&c, &format!("{p}/conv0/bias"))?
        } else {
            self.separable(x, &format!("{p}/conv0"), 2)?
        };
        let out1 = self.relu(&out1);
        let out2 = self.separable(&out1, &format!("{p}/conv1"), 1)?;
        let s = self.b.op("Add", &[&out1, &out2], vec![]);
        let in3 = self.relu(&s);
        let out3 = self.separable(&in3, &format!("{p}/conv2"), 1)?;
        let s = self.b.op("Add", &[&out2, &out3], vec![]);
        let s = self.b.op("Add", &[&out1, &s], vec![]);
        Ok(self.relu(&s))
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
}

/// Convert face-api.js weights to the network its code runs (see the module's text), with a
/// note naming the network. Errors: the weights are none of face-api's networks (the reason
/// says a weights manifest holds no graph), or a weight of the wrong shape.
pub fn convert(weights: &HashMap<String, Weight>) -> Result<(Vec<u8>, String), ConvertError> {
    let net = recognise(weights).ok_or_else(|| {
        graph("a weights manifest holds no graph, and its weight names are none of face-api.js's FaceRecognitionNet, TinyFaceDetector or FaceLandmark68TinyNet")
    })?;
    let mut c = Net2Onnx {
        w: weights,
        b: Builder::default(),
    };
    let side: i64 = match net {
        Net::Recognition => 150,
        Net::TinyDetector => 416,
        Net::Landmark68Tiny => 112,
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
            let x = c.dense3(&x, "dense0", true)?;
            let x = c.dense3(&x, "dense1", false)?;
            let x = c.dense3(&x, "dense2", false)?;
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
