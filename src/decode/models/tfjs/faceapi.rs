//! face-api.js's networks, known by the weights they load. face-api.js ships weights alone
//! (`*-weights_manifest.json` and its shards); its code builds each network and loads an exact
//! set of weight names (face-api.js 0.22 and @vladmandic/face-api, `src/<net>/
//! extractParamsFromWeightMap.ts`). A manifest that holds every name of one network (and, for
//! all but SsdMobilenetv1, no other) is that network's weights: the parser records it as the
//! fact [`FACT`], and the probe's converter builds the network's graph from it.

/// The fact naming the face-api.js network a manifest holds ([`Network::as_str`]).
pub const FACT: &str = "faceapi.network";

/// The networks face-api.js ships weights for, as its code builds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// FaceRecognitionNet: a 128-value face descriptor.
    Recognition,
    /// TinyFaceDetector: a tiny-YOLOv2 score and box map.
    TinyDetector,
    /// FaceLandmark68TinyNet: 68 landmarks.
    Landmark68Tiny,
    /// SsdMobilenetv1: face boxes and scores.
    SsdMobilenetV1,
    /// FaceLandmark68Net: 68 landmarks from the full feature extractor.
    Landmark68,
    /// FaceExpressionNet: seven expression probabilities from the same extractor.
    Expression,
}

/// The weight whose second dimension is the classifier's width ([`recognise`]'s `fc_width`).
pub const CLASSIFIER: &str = "fc/weights";

impl Network {
    /// Every network, in the order [`recognise`] tries them.
    pub const ALL: [Network; 6] = [
        Network::Recognition,
        Network::TinyDetector,
        Network::Landmark68Tiny,
        Network::SsdMobilenetV1,
        Network::Landmark68,
        Network::Expression,
    ];

    /// The network whose [`Network::as_str`] is `name` (as the fact [`FACT`] holds it).
    pub fn named(name: &str) -> Option<Network> {
        Network::ALL.into_iter().find(|n| n.as_str() == name)
    }

    /// The network's class name in face-api.js.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Recognition => "FaceRecognitionNet",
            Network::TinyDetector => "TinyFaceDetector",
            Network::Landmark68Tiny => "FaceLandmark68TinyNet",
            Network::SsdMobilenetV1 => "SsdMobilenetv1",
            Network::Landmark68 => "FaceLandmark68Net",
            Network::Expression => "FaceExpressionNet",
        }
    }
}

/// FaceRecognitionNet's residual blocks in order (`_down`: a down-sampling block).
pub const RESIDUAL_BLOCKS: [&str; 14] = [
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
pub fn names(net: Network) -> Vec<String> {
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
        Network::Recognition => {
            let mut n = conv("conv32_down");
            for b in RESIDUAL_BLOCKS.iter() {
                n.extend(conv(&format!("{b}/conv1")));
                n.extend(conv(&format!("{b}/conv2")));
            }
            n.push("fc".into());
            n
        }
        Network::TinyDetector => {
            let mut n = vec!["conv0/filters".to_string(), "conv0/bias".to_string()];
            for i in 1..=5 {
                n.extend(separable(&format!("conv{i}")));
            }
            n.extend(["conv8/filters".to_string(), "conv8/bias".to_string()]);
            n
        }
        Network::Landmark68Tiny => {
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
        Network::Landmark68 | Network::Expression => {
            let mut n = vec![
                "dense0/conv0/filters".to_string(),
                "dense0/conv0/bias".to_string(),
            ];
            for c in ["conv1", "conv2", "conv3"] {
                n.extend(separable(&format!("dense0/{c}")));
            }
            for d in ["dense1", "dense2", "dense3"] {
                for c in ["conv0", "conv1", "conv2", "conv3"] {
                    n.extend(separable(&format!("{d}/{c}")));
                }
            }
            n.extend(["fc/weights".to_string(), "fc/bias".to_string()]);
            n
        }
        Network::SsdMobilenetV1 => {
            let pointwise = |p: &str, i: usize| {
                [
                    format!("{p}/Conv2d_{i}_pointwise/weights"),
                    format!("{p}/Conv2d_{i}_pointwise/convolution_bn_offset"),
                ]
            };
            let mut n: Vec<String> = pointwise("MobilenetV1", 0).into();
            for i in 1..=13 {
                let d = format!("MobilenetV1/Conv2d_{i}_depthwise");
                n.push(format!("{d}/depthwise_weights"));
                for b in ["gamma", "beta", "moving_mean", "moving_variance"] {
                    n.push(format!("{d}/BatchNorm/{b}"));
                }
                n.extend(pointwise("MobilenetV1", i));
            }
            for i in 0..=7 {
                n.extend(pointwise("Prediction", i));
            }
            for i in 0..=5 {
                for p in ["BoxEncodingPredictor", "ClassPredictor"] {
                    for w in ["weights", "biases"] {
                        n.push(format!("Prediction/BoxPredictor_{i}/{p}/{w}"));
                    }
                }
            }
            n.push("Output/extra_dim".into());
            n
        }
    }
}

/// Which face-api network loads these weights, if any: every name the network loads is
/// present (`has`), and no other (`count` weights in all), except that SsdMobilenetv1's
/// manifest also keeps integer constants of the graph it was exported from, which face-api
/// disposes of. FaceLandmark68Net and FaceExpressionNet load the same names: `fc_width` (the
/// second dimension of `fc/weights`: 136 coordinates, 7 expressions) tells them apart.
pub fn recognise(
    has: impl Fn(&str) -> bool,
    count: usize,
    fc_width: Option<usize>,
) -> Option<Network> {
    Network::ALL.into_iter().find(|&net| {
        let n = names(net);
        let extra_ok = net == Network::SsdMobilenetV1 || n.len() == count;
        let width_ok = match net {
            Network::Landmark68 => fc_width == Some(136),
            Network::Expression => fc_width == Some(7),
            _ => true,
        };
        extra_ok && width_ok && n.iter().all(|k| has(k))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_of_one_network_and_no_other() {
        let all = |net| {
            names(net)
                .into_iter()
                .collect::<std::collections::HashSet<_>>()
        };
        let tiny = all(Network::TinyDetector);
        assert_eq!(
            recognise(|n| tiny.contains(n), tiny.len(), None),
            Some(Network::TinyDetector)
        );
        // One weight missing, or one more: not that network.
        let short: Vec<String> = tiny.iter().skip(1).cloned().collect();
        assert_eq!(
            recognise(|n| short.iter().any(|s| s == n), short.len(), None),
            None
        );
        assert_eq!(recognise(|n| tiny.contains(n), tiny.len() + 1, None), None);
        // SsdMobilenetv1's manifest keeps the exporter's constants beside its weights.
        let ssd = all(Network::SsdMobilenetV1);
        assert_eq!(
            recognise(|n| ssd.contains(n), ssd.len() + 9, None),
            Some(Network::SsdMobilenetV1)
        );
        // The full feature extractor's two heads: told apart by the classifier's width.
        let full = all(Network::Landmark68);
        let has = |n: &str| full.contains(n);
        assert_eq!(
            recognise(has, full.len(), Some(136)),
            Some(Network::Landmark68)
        );
        assert_eq!(
            recognise(has, full.len(), Some(7)),
            Some(Network::Expression)
        );
        assert_eq!(recognise(has, full.len(), Some(3)), None);
    }
}
