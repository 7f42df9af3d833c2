//! NCNN models (Tencent's inference library for phones and embedded boards): the `.param`
//! text and the `.bin` weights beside it.
//!
//! `.param` (ncnn `src/net.cpp`, `src/paramdict.cpp`): the magic `7767517`, then
//! `layer_count blob_count`, then one line per layer:
//! `Type Name bottom_count top_count bottoms... tops... id=value...`. A value with `.` or `e` is
//! a float, else an integer; an id of -23300 − k is an array for parameter k, written
//! `count,v1,v2,...`. The `Input` layer's `0=w 1=h 2=c` gives the input shape; the last
//! layer's output-size parameter (`0=` of InnerProduct / Convolution) the head width.
//!
//! `.bin` (ncnn `src/modelbin.cpp`): each layer's weights in layer order, as the layer loads
//! them. A load of type 1 is raw little-endian float32; a load of type 0 starts with a 4-byte
//! tag: `0x01306B47` float16, `0x000D4B38` int8, `0x0002C056` or `0` float32, any other
//! non-zero tag a 256-entry float32 table followed by one-byte indices. float16, int8 and
//! index data are padded to 4 bytes.

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo};
use std::collections::HashMap;

/// Most layers read from a `.param`.
const MAX_LAYERS: usize = 200_000;
/// Most bytes of a `.param` read as text.
const MAX_PARAM_BYTES: usize = 16 << 20;
/// Most parameter ids ncnn keeps for a layer (`NCNN_MAX_PARAM_COUNT`).
const MAX_PARAM_ID: i32 = 32;

/// The fact naming the weights file that goes with a `.param` (`<stem>.bin`), set by the
/// sniffer, which knows the file's name.
pub const WEIGHTS_FACT: &str = "ncnn.weights";

/// Whether `bytes` are an NCNN `.param` (magic 7767517).
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(b"7767517")
}

/// The weights file ncnn loads with the `.param` called `name`: `x.param` → `x.bin`.
pub fn weights_name(param_name: &str) -> Option<String> {
    let base = param_name.rsplit(['/', '!']).next().unwrap_or(param_name);
    let stem = base.strip_suffix(".param")?;
    (!stem.is_empty()).then(|| format!("{stem}.bin"))
}

/// One parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// An integer (`0=64`).
    Int(i32),
    /// A float (`1=2.000000e-01`).
    Float(f32),
    /// An array (`-23310=1,2.000000e-01`), its elements as floats (integers are exact up to
    /// 2^24, beyond any count ncnn writes).
    Array(Vec<f32>),
}

/// A layer's parameters by id, as ncnn's `ParamDict`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(HashMap<i32, Param>);

impl Params {
    /// Integer `id`, or `default` when absent (a float is truncated, as a careless writer's
    /// `0=64.0` means 64).
    pub fn int(&self, id: i32, default: i32) -> i32 {
        match self.0.get(&id) {
            Some(Param::Int(i)) => *i,
            Some(Param::Float(f)) => *f as i32,
            _ => default,
        }
    }

    /// Float `id`, or `default` when absent.
    pub fn float(&self, id: i32, default: f32) -> f32 {
        match self.0.get(&id) {
            Some(Param::Float(f)) => *f,
            Some(Param::Int(i)) => *i as f32,
            _ => default,
        }
    }

    /// Array `id`, or empty when absent.
    pub fn array(&self, id: i32) -> &[f32] {
        match self.0.get(&id) {
            Some(Param::Array(v)) => v,
            _ => &[],
        }
    }

    /// Whether `id` is given.
    pub fn has(&self, id: i32) -> bool {
        self.0.contains_key(&id)
    }
}

/// One layer line of a `.param`.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// The layer type (`Convolution`, `PReLU`, ...).
    pub kind: String,
    /// The layer's name.
    pub name: String,
    /// Input blob names.
    pub bottoms: Vec<String>,
    /// Output blob names.
    pub tops: Vec<String>,
    /// Its parameters.
    pub params: Params,
}

/// Read every layer of a `.param`. Errors: not text, no magic, a layer line whose counts or
/// values do not parse (the layer named), more than 200,000 layers.
pub fn layers(bytes: &[u8]) -> Result<Vec<Layer>, ModelError> {
    let bad = |m: String| ModelError::Invalid(format!("ncnn: {m}"));
    let text = std::str::from_utf8(&bytes[..bytes.len().min(MAX_PARAM_BYTES)])
        .map_err(|_| bad(".param is not text".into()))?;
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("7767517") {
        return Err(bad("no 7767517 magic".into()));
    }
    let _counts = lines.next();
    let mut out = Vec::new();
    for line in lines {
        let mut f = line.split_whitespace();
        let Some(kind) = f.next() else { continue };
        if out.len() >= MAX_LAYERS {
            return Err(bad(format!("more than {MAX_LAYERS} layers")));
        }
        let name = f.next().unwrap_or("").to_string();
        let layer_bad = |m: &str| bad(format!("layer {kind} {name}: {m}"));
        let count = |v: Option<&str>| -> Result<usize, ModelError> {
            v.and_then(|s| s.parse::<usize>().ok())
                .filter(|&n| n <= 4096)
                .ok_or_else(|| layer_bad("bad blob count"))
        };
        let (nb, nt) = (count(f.next())?, count(f.next())?);
        let mut blob = || {
            f.next()
                .map(str::to_string)
                .ok_or_else(|| layer_bad("fewer blob names than counted"))
        };
        let bottoms = (0..nb).map(|_| blob()).collect::<Result<Vec<_>, _>>()?;
        let tops = (0..nt).map(|_| blob()).collect::<Result<Vec<_>, _>>()?;
        let mut params = Params::default();
        for kv in f {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| layer_bad(&format!("`{kv}` is not id=value")))?;
            let id: i32 = k
                .parse()
                .map_err(|_| layer_bad(&format!("`{k}` is not a parameter id")))?;
            let (id, value) = if id <= -23300 {
                let mut parts = v.split(',');
                let n: usize = parts
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| layer_bad(&format!("array {k} has no length")))?;
                let vals = parts
                    .map(number)
                    .collect::<Option<Vec<f32>>>()
                    .filter(|vals| vals.len() == n)
                    .ok_or_else(|| layer_bad(&format!("array {k} is not {n} numbers")))?;
                (-id - 23300, Param::Array(vals))
            } else if v.contains(['.', 'e', 'E']) {
                let f = number(v).ok_or_else(|| layer_bad(&format!("`{v}` is not a number")))?;
                (id, Param::Float(f))
            } else {
                let i = v
                    .parse()
                    .map_err(|_| layer_bad(&format!("`{v}` is not an integer")))?;
                (id, Param::Int(i))
            };
            if !(0..MAX_PARAM_ID).contains(&id) {
                return Err(layer_bad(&format!("parameter id {k} is out of range")));
            }
            params.0.insert(id, value);
        }
        out.push(Layer {
            kind: kind.to_string(),
            name,
            bottoms,
            tops,
            params,
        });
    }
    Ok(out)
}

fn number(s: &str) -> Option<f32> {
    s.trim().parse::<f32>().ok().filter(|f| f.is_finite())
}

/// Parse an NCNN `.param`: layers, blobs, input and output shapes where declared.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let all = layers(bytes)?;
    let mut info = ModelInfo {
        format: Some(ModelFormat::Ncnn),
        ..Default::default()
    };
    if let Some(counts) = std::str::from_utf8(&bytes[..bytes.len().min(4096)])
        .ok()
        .and_then(|t| t.lines().nth(1))
    {
        info.facts.insert(
            "ncnn.counts".into(),
            counts.trim().chars().take(40).collect(),
        );
    }
    let mut last_width = None;
    for l in &all {
        *info.ops.entry(l.kind.clone()).or_default() += 1;
        let p = |k: i32| l.params.has(k).then(|| i64::from(l.params.int(k, 0)));
        if l.kind == "Input" {
            let (w, h, c) = (p(0), p(1), p(2));
            info.inputs.push(TensorInfo {
                name: l.name.clone(),
                shape: vec![Some(1), c.or(Some(3)), h, w],
                dtype: None,
            });
        }
        if matches!(
            l.kind.as_str(),
            "InnerProduct" | "Convolution" | "ConvolutionDepthWise" | "Gemm"
        ) {
            last_width = p(0);
        }
        // A reshape to a vector (`0=w` alone) declares the width too.
        let unset = |k: i32| p(k).is_none_or(|v| v == -233);
        if l.kind == "Reshape" && p(0).is_some_and(|w| w > 0) && unset(1) && unset(2) {
            last_width = p(0);
        }
    }
    if let Some(d) = last_width {
        info.outputs.push(TensorInfo {
            name: "last".into(),
            shape: vec![Some(1), Some(d)],
            dtype: None,
        });
        info.notes.push(
            "output width read from the last InnerProduct/Convolution layer or reshape to a vector"
                .into(),
        );
    }
    Ok(info)
}

/// Weights as a layer loaded them.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The values, as float32 (float16 widened, table indices looked up).
    pub values: Vec<f32>,
    /// Whether they were int8 (to be scaled by the layer's own scales).
    pub int8: bool,
}

/// A reader over a `.bin`, loading weights in the order the layers ask for them (ncnn's
/// `ModelBinFromDataReader`).
pub struct ModelBin<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> ModelBin<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                ModelError::Invalid(format!(
                    "ncnn .bin: {n} bytes wanted at offset {}, {} left",
                    self.pos,
                    self.data.len() - self.pos
                ))
            })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, ModelError> {
        let b = self.take(n.checked_mul(4).ok_or_else(too_many)?)?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Load `n` values: `raw` is ncnn's type 1 (float32, no tag), else type 0 (tagged).
    /// Errors: the file ends first.
    pub fn load(&mut self, n: usize, raw: bool) -> Result<Loaded, ModelError> {
        if raw {
            return Ok(Loaded {
                values: self.f32s(n)?,
                int8: false,
            });
        }
        let tag = self.take(4)?;
        let tag_value = u32::from_le_bytes([tag[0], tag[1], tag[2], tag[3]]);
        let padded = |bytes: usize| bytes.checked_add(3).map(|b| b & !3).ok_or_else(too_many);
        let (values, int8) = match tag_value {
            0x0130_6B47 => {
                let b = self.take(padded(n.checked_mul(2).ok_or_else(too_many)?)?)?;
                let v = b
                    .chunks_exact(2)
                    .take(n)
                    .map(|c| super::f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect();
                (v, false)
            }
            0x000D_4B38 => {
                let b = self.take(padded(n)?)?;
                (b[..n].iter().map(|&x| f32::from(x as i8)).collect(), true)
            }
            0x0002_C056 | 0 => (self.f32s(n)?, false),
            _ => {
                let table = self.f32s(256)?;
                let b = self.take(padded(n)?)?;
                (
                    b[..n].iter().map(|&i| table[usize::from(i)]).collect(),
                    false,
                )
            }
        };
        Ok(Loaded { values, int8 })
    }
}

fn too_many() -> ModelError {
    ModelError::Invalid("ncnn .bin: a weight count past the address space".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_layers_with_floats_and_arrays() {
        let p = b"7767517\n2 2\nInput data 0 1 in 0=112 1=96 2=3\nConvolution c1 1 1 in out 0=8 1=3 4=-233 5=1 6=216 9=2 -23310=1,2.000000e-01\n";
        let l = layers(p).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].bottoms, vec!["in"]);
        assert_eq!(l[1].tops, vec!["out"]);
        assert_eq!(l[1].params.int(0, 0), 8);
        assert_eq!(l[1].params.int(11, 3), 3, "absent id gives the default");
        assert_eq!(l[1].params.int(4, 0), -233);
        assert_eq!(l[1].params.array(10), &[0.2]);
        let info = parse(p).unwrap();
        assert_eq!(
            info.inputs[0].shape,
            vec![Some(1), Some(3), Some(96), Some(112)]
        );
        assert_eq!(info.ops["Convolution"], 1);
    }

    #[test]
    fn refuses_broken_lines_naming_the_layer() {
        for (p, want) in [
            (&b"7767517\n1 1\nReLU r 1\n"[..], "layer ReLU r"),
            (
                b"7767517\n1 1\nReLU r 1 1 a b 0=x\n",
                "`x` is not an integer",
            ),
            (
                b"7767517\n1 1\nReLU r 1 1 a b -23301=3,1.0\n",
                "is not 3 numbers",
            ),
            (b"7767517\n1 1\nReLU r 1 1 a b 99=1\n", "out of range"),
            (b"7767517\n1 1\nReLU r 1 1 a\n", "fewer blob names"),
        ] {
            let e = layers(p).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        assert!(layers(b"not ncnn").is_err());
    }

    #[test]
    fn loads_every_weight_encoding() {
        let mut bin = Vec::new();
        // Type 1: raw.
        bin.extend(1.5f32.to_le_bytes());
        // Type 0, tag 0: raw.
        bin.extend(0u32.to_le_bytes());
        bin.extend(2.5f32.to_le_bytes());
        // float16, three values padded to 8 bytes.
        bin.extend(0x0130_6B47u32.to_le_bytes());
        // 1.0, -2.0, 0.5 as IEEE half floats.
        for h in [0x3C00u16, 0xC000, 0x3800] {
            bin.extend(h.to_le_bytes());
        }
        bin.extend([0, 0]);
        // int8, two values padded to 4.
        bin.extend(0x000D_4B38u32.to_le_bytes());
        bin.extend([0xFF, 0x05, 0, 0]);
        // A table: index 1 → 7.0.
        bin.extend(1u32.to_le_bytes());
        let mut table = vec![0f32; 256];
        table[1] = 7.0;
        bin.extend(table.iter().flat_map(|v| v.to_le_bytes()));
        bin.extend([1, 0, 0, 0]);
        let mut mb = ModelBin::new(&bin);
        assert_eq!(mb.load(1, true).unwrap().values, vec![1.5]);
        assert_eq!(mb.load(1, false).unwrap().values, vec![2.5]);
        assert_eq!(mb.load(3, false).unwrap().values, vec![1.0, -2.0, 0.5]);
        let i8s = mb.load(2, false).unwrap();
        assert_eq!((i8s.values, i8s.int8), (vec![-1.0, 5.0], true));
        assert_eq!(mb.load(2, false).unwrap().values, vec![7.0, 0.0]);
        assert_eq!(mb.remaining(), 0);
        let e = mb.load(1, true).unwrap_err().to_string();
        assert!(e.contains("4 bytes wanted"), "{e}");
    }

    #[test]
    fn weights_file_beside_the_param() {
        assert_eq!(weights_name("dir/face.param").as_deref(), Some("face.bin"));
        assert_eq!(weights_name("a.zip!/m/x.param").as_deref(), Some("x.bin"));
        assert_eq!(weights_name("x.param.bin"), None);
        assert_eq!(weights_name(".param"), None);
    }
}
