//! A dlib DNN file read layer by layer, with its weights, for nets that are one chain.
//!
//! `dlib::serialize(net)` writes (dlib `dnn/core.h`, `dnn/layers.h`, `dnn/input.h`,
//! `dnn/loss.h`, `serialize.h`):
//! - the loss layer first: a version, the loss's name (`loss_mmod_`) and options;
//! - then the subnetwork, nesting outward: one version per layer, the input layer's name and
//!   mean pixel, then, for each layer from the input out, its name and parameters followed by
//!   three flags (`'0'`/`'1'`) and three cached tensors (usually empty), plus a sample-expansion
//!   integer after the innermost layer in newer files.
//!
//! Integers are a control byte (low 4 bits: byte count; bit 7: negative) and little-endian
//! bytes; floats and doubles are a mantissa and a base-2 exponent, each such an integer;
//! strings are a length and bytes; tensors are a version, four dimensions and little-endian
//! float32 values.
//!
//! The chain is read for the layers a detection or classification trunk is made of:
//! convolutions (`con_`), affine (`affine_`, and `bn_con2` folded into one), ReLU. Any other layer (a
//! residual `add_prev`, pooling, fully connected) ends the read with its name.

use super::super::ModelError;

/// Largest number of float32 values read from one file.
const MAX_VALUES: usize = 64 << 20;
/// Most layers read.
const MAX_LAYERS: usize = 1024;

/// The input layer: dlib subtracts the mean pixel and divides by 256 (`input.h`,
/// `input_rgb_image` and `input_rgb_image_pyramid`).
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The layer's name as written.
    pub name: String,
    /// Mean red, green, blue (0–255).
    pub mean: [f32; 3],
}

/// One layer of the chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// `con_`: `filters` is `num_filters × channels × rows × columns`.
    Conv {
        /// Filter dimensions (O, I, H, W).
        shape: [usize; 4],
        /// Filter values, then nothing else.
        filters: Vec<f32>,
        /// One per filter, when the layer has a bias.
        bias: Option<Vec<f32>>,
        /// Stride (y, x).
        stride: [usize; 2],
        /// Zero padding (y, x).
        padding: [usize; 2],
        /// A ReLU fused into the layer (`con_6`'s `use_relu`).
        relu: bool,
    },
    /// `affine_` in convolution mode: `y = gamma · x + beta` per channel.
    Affine {
        /// One per channel.
        gamma: Vec<f32>,
        /// One per channel.
        beta: Vec<f32>,
    },
    /// `relu_`.
    Relu,
}

/// A dlib net read as a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// The loss layer's name (`loss_mmod_`).
    pub loss: String,
    /// The first detector window (width, height) of a `loss_mmod_`.
    pub window: Option<(usize, usize)>,
    /// The input layer.
    pub input: Input,
    /// Layers from the input out.
    pub layers: Vec<Layer>,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    values: usize,
}

fn bad(what: impl Into<String>) -> ModelError {
    ModelError::Invalid(format!("dlib: {}", what.into()))
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, ModelError> {
        let v = *self
            .b
            .get(self.pos)
            .ok_or_else(|| ModelError::Truncated(format!("dlib: at {}", self.pos)))?;
        self.pos += 1;
        Ok(v)
    }

    fn int(&mut self) -> Result<i64, ModelError> {
        let c = self.byte()?;
        let n = usize::from(c & 0x0f);
        if c & 0x70 != 0 || n > 8 {
            return Err(bad(format!(
                "integer control byte 0x{c:02x} at {}",
                self.pos - 1
            )));
        }
        let mut v: u64 = 0;
        for i in 0..n {
            v |= u64::from(self.byte()?) << (8 * i);
        }
        let v = v as i64;
        Ok(if c & 0x80 != 0 { v.wrapping_neg() } else { v })
    }

    fn size(&mut self) -> Result<usize, ModelError> {
        let v = self.int()?;
        usize::try_from(v).map_err(|_| bad(format!("negative size {v} at {}", self.pos)))
    }

    fn float(&mut self) -> Result<f64, ModelError> {
        let mantissa = self.int()?;
        let exponent = self.int()?;
        Ok(mantissa as f64 * 2f64.powi(exponent.clamp(-1100, 1100) as i32))
    }

    fn flag(&mut self) -> Result<bool, ModelError> {
        match self.byte()? {
            b'1' => Ok(true),
            b'0' => Ok(false),
            c => Err(bad(format!("flag byte 0x{c:02x} at {}", self.pos - 1))),
        }
    }

    /// A string, if the bytes at the cursor are one of at most 64 printable bytes (the cursor
    /// stays put otherwise).
    fn peek_name(&self) -> Option<String> {
        let mut r = Reader {
            b: self.b,
            pos: self.pos,
            values: 0,
        };
        let n = r.size().ok().filter(|&n| (1..=64).contains(&n))?;
        let s = self.b.get(r.pos..r.pos + n)?;
        s.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .then(|| String::from_utf8_lossy(s).into_owned())
    }

    fn name(&mut self) -> Result<String, ModelError> {
        let s = self
            .peek_name()
            .ok_or_else(|| bad(format!("a layer name expected at {}", self.pos)))?;
        self.size()?;
        self.pos += s.len();
        Ok(s)
    }

    /// A tensor: (dimensions, values).
    fn tensor(&mut self) -> Result<([usize; 4], Vec<f32>), ModelError> {
        let version = self.int()?;
        if version != 2 {
            return Err(bad(format!("tensor version {version} at {}", self.pos)));
        }
        let mut dims = [0usize; 4];
        for d in &mut dims {
            *d = self.size()?;
        }
        let n = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| self.values.saturating_add(n) <= MAX_VALUES)
            .ok_or_else(|| ModelError::TooLarge(format!("dlib: tensor {dims:?}")))?;
        self.values += n;
        let bytes = self.b.get(self.pos..self.pos + n * 4).ok_or_else(|| {
            ModelError::Truncated(format!("dlib: tensor {dims:?} at {}", self.pos))
        })?;
        self.pos += n * 4;
        Ok((
            dims,
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ))
    }

    /// An alias tensor's dimensions (version 1, four sizes).
    fn alias(&mut self) -> Result<[usize; 4], ModelError> {
        let version = self.int()?;
        if version != 1 {
            return Err(bad(format!(
                "alias tensor version {version} at {}",
                self.pos
            )));
        }
        let mut dims = [0usize; 4];
        for d in &mut dims {
            *d = self.size()?;
        }
        Ok(dims)
    }
}

fn product(d: &[usize; 4]) -> usize {
    d.iter().product()
}

/// Read the layer whose name is `name` (already consumed); `None` for a disabled one.
fn layer(r: &mut Reader<'_>, name: &str) -> Result<Option<Layer>, ModelError> {
    match name {
        "con_4" | "con_5" | "con_6" => {
            let (_, params) = r.tensor()?;
            let num_filters = r.size()?;
            let (nr, nc) = (r.size()?, r.size()?);
            let stride = [r.size()?, r.size()?];
            let padding = [r.size()?, r.size()?];
            let filters = r.alias()?;
            let biases = r.alias()?;
            for _ in 0..4 {
                r.float()?;
            }
            let use_bias = if name != "con_4" { r.flag()? } else { true };
            let relu = if name == "con_6" { r.flag()? } else { false };
            let nf = product(&filters);
            if filters[0] != num_filters || filters[2] != nr || filters[3] != nc {
                return Err(bad(format!(
                    "{name}: filters {filters:?} for {num_filters} of {nr}×{nc}"
                )));
            }
            let nb = if use_bias { product(&biases) } else { 0 };
            if params.len() < nf + nb || (use_bias && nb != num_filters) {
                return Err(bad(format!(
                    "{name}: {} parameters for filters {filters:?} and biases {biases:?}",
                    params.len()
                )));
            }
            if stride.contains(&0) {
                return Err(bad(format!("{name}: stride {stride:?}")));
            }
            Ok(Some(Layer::Conv {
                shape: filters,
                filters: params[..nf].to_vec(),
                bias: use_bias.then(|| params[nf..nf + nb].to_vec()),
                stride,
                padding,
                relu,
            }))
        }
        "affine_" | "affine_2" => {
            let (_, params) = r.tensor()?;
            let gamma = r.alias()?;
            let beta = r.alias()?;
            let mode = r.int()?;
            let disabled = name == "affine_2" && r.flag()?;
            let (g, b) = (product(&gamma), product(&beta));
            // Convolution mode (1) has one gamma per channel.
            if mode != 1 || gamma[2] * gamma[3] != 1 || g != b || params.len() < g + b {
                return Err(bad(format!(
                    "affine_ mode {mode} with gamma {gamma:?} (only per-channel convolution mode is converted)"
                )));
            }
            Ok((!disabled).then(|| Layer::Affine {
                gamma: params[..g].to_vec(),
                beta: params[g..g + b].to_vec(),
            }))
        }
        // Batch norm as saved from training: folded into an affine layer with its running
        // statistics, as dlib does when it loads one into an `affine_` (`layers.h`).
        "bn_con2" => {
            let (_, params) = r.tensor()?;
            let gamma = r.alias()?;
            let beta = r.alias()?;
            for _ in 0..2 {
                r.tensor()?;
            }
            let (_, mean) = r.tensor()?;
            let (_, var) = r.tensor()?;
            r.size()?;
            r.size()?;
            for _ in 0..4 {
                r.float()?;
            }
            let eps = r.float()? as f32;
            let n = product(&gamma);
            if n != product(&beta) || params.len() < 2 * n || mean.len() != n || var.len() != n {
                return Err(bad(format!(
                    "bn_con2 with gamma {gamma:?}, {} parameters, {} means",
                    params.len(),
                    mean.len()
                )));
            }
            let g: Vec<f32> = (0..n)
                .map(|i| params[i] / (var[i] + eps).max(0.0).sqrt().max(f32::MIN_POSITIVE))
                .collect();
            let beta = (0..n).map(|i| params[n + i] - g[i] * mean[i]).collect();
            Ok(Some(Layer::Affine { gamma: g, beta }))
        }
        "relu_" => Ok(Some(Layer::Relu)),
        "relu_2" => Ok((!r.flag()?).then_some(Layer::Relu)),
        other => Err(ModelError::Unsupported(format!(
            "dlib: layer {other} is not read as part of a chain"
        ))),
    }
}

/// Read `bytes` (a serialized dlib DNN) as a chain. Errors: not a dlib DNN, a layer other than
/// those listed in the module doc (named), malformed or truncated data (with the offset).
pub fn read(bytes: &[u8]) -> Result<Chain, ModelError> {
    let mut r = Reader {
        b: bytes,
        pos: 0,
        values: 0,
    };
    r.int()?;
    let loss = r.name()?;
    if !loss.starts_with("loss_") {
        return Err(bad(format!("{loss}: not a loss layer first")));
    }
    let window = if loss == "loss_mmod_" {
        let mut w = Reader {
            b: bytes,
            pos: r.pos,
            values: 0,
        };
        (|| -> Result<(usize, usize), ModelError> {
            let version = w.int()?;
            if version == 1 {
                return Ok((w.size()?, w.size()?));
            }
            if w.size()? == 0 {
                return Err(bad("no detector window"));
            }
            w.int()?;
            Ok((w.size()?, w.size()?))
        })()
        .ok()
    } else {
        None
    };
    // The loss's options, then one version per layer, up to the input layer's name.
    let start = r.pos;
    let found = (start..bytes.len().min(start + (1 << 16))).find(|&p| {
        r.pos = p;
        r.peek_name().is_some_and(|n| n.starts_with("input"))
    });
    let Some(at) = found else {
        return Err(bad("no input layer after the loss layer"));
    };
    r.pos = at;
    let name = r.name()?;
    let mean = match name.as_str() {
        "input_rgb_image_pyramid2" | "input_rgb_image_pyramid" | "input_rgb_image" => {
            let m = [r.float()? as f32, r.float()? as f32, r.float()? as f32];
            if name == "input_rgb_image_pyramid2" {
                r.size()?;
                r.size()?;
            }
            m
        }
        other => {
            return Err(ModelError::Unsupported(format!(
                "dlib: input layer {other} is not read"
            )))
        }
    };
    let mut layers = Vec::new();
    while r.pos < bytes.len() {
        let name = r.name()?;
        layers.extend(layer(&mut r, &name)?);
        if layers.len() > MAX_LAYERS {
            return Err(bad(format!("over {MAX_LAYERS} layers")));
        }
        for _ in 0..3 {
            r.flag()?;
        }
        for _ in 0..3 {
            r.tensor()?;
        }
        // Newer files: the innermost layer's sample-expansion factor.
        if r.pos < bytes.len() && r.peek_name().is_none() {
            r.int()?;
        }
    }
    if layers.is_empty() {
        return Err(bad("no layers after the input"));
    }
    Ok(Chain {
        loss,
        window,
        input: Input { name, mean },
        layers,
    })
}
