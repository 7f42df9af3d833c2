//! dlib DNNs read as a chain ([`crate::decode::models::dlib::net`]) to ONNX.
//!
//! The graph takes an RGB image of 0–255 values (N, 3, H, W) and does what dlib's input layer
//! does first: subtract the mean pixel, divide by 256 (`dlib/dnn/input.h`). A convolution is an
//! ONNX `Conv` with dlib's stride and symmetric zero padding (dlib's filters are already
//! `O × I × H × W`); an affine layer a per-channel `Mul` and `Add`. The loss layer is not
//! converted: the probe reads the last layer's map. An image pyramid input
//! (`input_rgb_image_pyramid`) is fed one level: the probe's picture at a size set from the
//! loss's detector window (three times its larger side), so that a face drawn a third of the
//! picture wide fills about the window.

use super::builder::{Attr, Builder};
use super::onnx_proto::data_type;
use super::ConvertError;
use crate::decode::models::dlib::net::{read, Layer};

/// Input side when the file gives no detector window: dlib's 150-pixel face chips.
const DEFAULT_SIDE: usize = 150;

/// Convert a dlib DNN file, with a note of what was converted. Errors: what the reader refuses
/// (a layer outside the chain, named), or a graph past the probe's bounds.
pub fn convert(bytes: &[u8]) -> Result<(Vec<u8>, String), ConvertError> {
    let net = read(bytes)?;
    let side = match net.window {
        Some((w, h)) => (3 * w.max(h)).clamp(64, 320).div_ceil(8) * 8,
        None => DEFAULT_SIDE,
    };
    let mut b = Builder::default();
    b.io(
        false,
        "input",
        data_type::FLOAT,
        Some(&[1, 3, side as i64, side as i64]),
    );
    let mean = b.const_f32(vec![1, 3, 1, 1], &net.input.mean)?;
    let centred = b.op("Sub", &["input", &mean], vec![]);
    let scale = b.scalar_f32(1.0 / 256.0)?;
    let mut x = b.op("Mul", &[&centred, &scale], vec![]);
    let mut channels = 3usize;
    let mut convs = 0;
    for l in &net.layers {
        x = match l {
            Layer::Conv {
                shape,
                filters,
                bias,
                stride,
                padding,
                relu,
            } => {
                if shape[1] != channels {
                    return Err(ConvertError::Graph(format!(
                        "dlib con_ over {} channels after {channels}",
                        shape[1]
                    )));
                }
                channels = shape[0];
                convs += 1;
                let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
                let w = b.const_f32(dims.clone(), filters)?;
                let mut ins = vec![x, w];
                if let Some(bias) = bias {
                    ins.push(b.const_f32(vec![dims[0]], bias)?);
                }
                let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
                let (py, px) = (padding[0] as i64, padding[1] as i64);
                let y = b.op(
                    "Conv",
                    &ins,
                    vec![
                        ("kernel_shape", Attr::Ints(vec![dims[2], dims[3]])),
                        (
                            "strides",
                            Attr::Ints(vec![stride[0] as i64, stride[1] as i64]),
                        ),
                        ("pads", Attr::Ints(vec![py, px, py, px])),
                    ],
                );
                if *relu {
                    b.op("Relu", &[&y], vec![])
                } else {
                    y
                }
            }
            Layer::Affine { gamma, beta } => {
                if gamma.len() != channels {
                    return Err(ConvertError::Graph(format!(
                        "dlib affine_ of {} channels after {channels}",
                        gamma.len()
                    )));
                }
                let c = channels as i64;
                let g = b.const_f32(vec![c, 1, 1], gamma)?;
                let o = b.const_f32(vec![c, 1, 1], beta)?;
                let y = b.op("Mul", &[&x, &g], vec![]);
                b.op("Add", &[&y, &o], vec![])
            }
            Layer::Relu => b.op("Relu", &[&x], vec![]),
        };
    }
    b.io(true, &x, data_type::FLOAT, None);
    let note = format!(
        "converted from dlib ({} layers, {convs} convolutions; {} fed one {side}×{side} level{}; the {} loss not converted)",
        net.layers.len(),
        net.input.name,
        net.window
            .map(|(w, h)| format!(", three times its {w}×{h} detector window"))
            .unwrap_or_default(),
        net.loss.trim_end_matches('_'),
    );
    Ok((b.finish("banwatch-dlib"), note))
}
