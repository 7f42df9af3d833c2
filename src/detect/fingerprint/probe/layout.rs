//! How a model wants its input: layout (NCHW, NHWC, silhouette sequences), size, and the
//! scalings tried in turn.

use super::*;

/// The shape the probe feeds and how to lay an image into it.
pub(super) struct InputLayout {
    pub(super) shape: Vec<i64>,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) channels: usize,
    /// NCHW (true) or NHWC.
    pub(super) channels_first: bool,
    /// Silhouette sequence length (N × T × H × W inputs).
    pub(super) frames: Option<usize>,
    /// Batch size the graph fixes (1 unless its first dimension is a constant over 1).
    pub(super) batch: usize,
}

/// Largest fixed batch the probe fills.
const MAX_BATCH: usize = 16;

/// Sides tried, in turn, for an image input whose height or width the graph leaves open: the
/// 112-pixel face crop first (ArcFace, MobileFaceNet), then sizes that are multiples of 32,
/// which detectors with five stride-2 stages (feature pyramids, DBNet, YOLO) need.
pub(super) const DYNAMIC_SIDES: [i64; 6] = [112, 128, 160, 224, 320, 640];

impl InputLayout {
    /// Whether `dims` is an image input (N × C × H × W or N × H × W × C, C 1 or 3) whose
    /// height or width is open.
    pub(super) fn open_side(dims: &[i64]) -> bool {
        match dims {
            [_, 1 | 3, h, w] => *h <= 0 || *w <= 0,
            [_, h, w, 1 | 3] => *h <= 0 || *w <= 0,
            _ => false,
        }
    }

    pub(super) fn of(dims: &[i64]) -> Result<InputLayout, ProbeError> {
        Self::of_sized(dims, 112)
    }

    /// [`InputLayout::of`] with `side` for the open height and width of an image input.
    pub(super) fn of_sized(dims: &[i64], side: i64) -> Result<InputLayout, ProbeError> {
        // A dimension over this cannot be probed anyway (the element bound below); keeping
        // them small keeps every product and cast here exact.
        const MAX_DIM: i64 = 1 << 16;
        if dims.iter().any(|&x| x > MAX_DIM) {
            return Err(ProbeError::Unsupported(format!(
                "input shape {dims:?} out of the probe's range"
            )));
        }
        let d = |i: usize, default: i64| match dims.get(i) {
            Some(&x) if x > 0 => x,
            _ => default,
        };
        let layout = match dims.len() {
            4 if matches!(dims[1], 1 | 3) => {
                let c = dims[1];
                InputLayout {
                    shape: vec![1, c, d(2, side), d(3, side)],
                    height: d(2, side) as u32,
                    width: d(3, side) as u32,
                    channels: c as usize,
                    channels_first: true,
                    frames: None,
                    batch: 1,
                }
            }
            4 if matches!(dims[3], 1 | 3) => {
                let c = dims[3];
                InputLayout {
                    shape: vec![1, d(1, side), d(2, side), c],
                    height: d(1, side) as u32,
                    width: d(2, side) as u32,
                    channels: c as usize,
                    channels_first: false,
                    frames: None,
                    batch: 1,
                }
            }
            // Silhouette sequences: N × T × H × W (or N × 1 × T × H × W).
            4 => InputLayout {
                shape: vec![1, d(1, 30), d(2, 64), d(3, 44)],
                height: d(2, 64) as u32,
                width: d(3, 44) as u32,
                channels: 1,
                channels_first: true,
                frames: Some(d(1, 30) as usize),
                batch: 1,
            },
            5 if dims[1] == 1 => InputLayout {
                shape: vec![1, 1, d(2, 30), d(3, 64), d(4, 44)],
                height: d(3, 64) as u32,
                width: d(4, 44) as u32,
                channels: 1,
                channels_first: true,
                frames: Some(d(2, 30) as usize),
                batch: 1,
            },
            _ => {
                return Err(ProbeError::Unsupported(format!(
                    "input shape {dims:?} is not an image or a silhouette sequence"
                )))
            }
        };
        // A graph exported with a fixed batch (MobileFaceNet's TFLite takes two faces) gets
        // the same picture in every slot; the probe reads the first.
        let mut layout = layout;
        layout.batch = dims
            .first()
            .copied()
            .filter(|&b| b > 1 && b <= MAX_BATCH as i64)
            .map_or(1, |b| b as usize);
        layout.shape[0] = layout.batch as i64;
        let elements = layout
            .shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(u64::try_from(d).ok()?))
            .unwrap_or(u64::MAX);
        if layout.width < 8 || layout.height < 8 || elements > MAX_INPUT_ELEMENTS as u64 {
            return Err(ProbeError::Unsupported(format!(
                "input shape {:?} out of the probe's range",
                layout.shape
            )));
        }
        Ok(layout)
    }

    /// An RGB image as the model's input tensor.
    pub(super) fn tensor(&self, img: &RgbImage, scaling: Scaling) -> Vec<f32> {
        let img = if img.width() != self.width || img.height() != self.height {
            imageops::resize(img, self.width, self.height, imageops::FilterType::Triangle)
        } else {
            img.clone()
        };
        let (w, h, c) = (self.width as usize, self.height as usize, self.channels);
        let mut out = vec![0f32; w * h * c];
        for (x, y, px) in img.enumerate_pixels() {
            let (x, y) = (x as usize, y as usize);
            for ch in 0..c {
                let v = if c == 1 {
                    (px[0] as f32 + px[1] as f32 + px[2] as f32) / 3.0
                } else {
                    px[ch] as f32
                };
                let i = if self.channels_first {
                    ch * w * h + y * w + x
                } else {
                    (y * w + x) * c + ch
                };
                out[i] = scaling.apply(v, ch);
            }
        }
        out
    }
}

/// Input scalings in use by published face nets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scaling {
    /// (x - 127.5) / 127.5: ArcFace, MobileFaceNet, FaceNet.
    Symmetric,
    /// x / 255.
    Unit,
    /// Raw 0..255 (models that normalise inside).
    Raw,
    /// ImageNet mean and standard deviation.
    ImageNet,
}

impl Scaling {
    pub(super) const ALL: [Scaling; 4] = [
        Scaling::Symmetric,
        Scaling::Unit,
        Scaling::Raw,
        Scaling::ImageNet,
    ];

    pub(super) fn apply(self, v: f32, ch: usize) -> f32 {
        const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
        const STD: [f32; 3] = [0.229, 0.224, 0.225];
        match self {
            Scaling::Symmetric => (v - 127.5) / 127.5,
            Scaling::Unit => v / 255.0,
            Scaling::Raw => v,
            Scaling::ImageNet => (v / 255.0 - MEAN[ch % 3]) / STD[ch % 3],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scaling::Symmetric => "[-1, 1]",
            Scaling::Unit => "[0, 1]",
            Scaling::Raw => "0..255",
            Scaling::ImageNet => "ImageNet mean/std",
        }
    }
}
