//! A `.caffemodel` read as a network: its layers in order, each with its type, blobs in and out,
//! its parameter messages and its weights (BVLC Caffe `src/caffe/proto/caffe.proto`:
//! `NetParameter.layer` = 100, `LayerParameter` name 1, type 2, bottom 3, top 4, blobs 7,
//! include 8; `BlobProto` shape 7, data 5, double_data 8, legacy num/channels/height/width
//! 1–4). A trained model's file holds the layer parameters as well as the weights, so it is
//! converted on its own. Layers of the training phase only (`include { phase: TRAIN }`) are
//! left out; legacy `V1LayerParameter` files (field 2) are refused with a reason.

use crate::decode::models::protobuf::{push_ints, Reader, Value};
use crate::decode::models::ModelError;

/// Most layers read.
const MAX_LAYERS: usize = 100_000;
/// Most weight values read over the whole file.
const MAX_VALUES: usize = 1 << 28;

/// A message's fields, for reading a layer's parameters.
#[derive(Debug, Clone, Default)]
pub struct Message<'a>(Vec<(u32, Value<'a>)>);

impl<'a> Message<'a> {
    /// Read every field of `bytes` (one level). Errors: malformed wire data.
    pub fn read(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let mut r = Reader::new(bytes);
        let mut out = Vec::new();
        while let Some(f) = r.next_field()? {
            out.push(f);
        }
        Ok(Self(out))
    }

    /// The last value of field `f` as an unsigned integer (varint or fixed).
    pub fn uint(&self, f: u32) -> Option<u64> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| *k == f)
            .and_then(|(_, v)| v.as_u64())
    }

    /// The last value of float field `f`.
    pub fn float(&self, f: u32) -> Option<f32> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| *k == f)
            .and_then(|(_, v)| match v {
                Value::Fixed32(b) => Some(f32::from_bits(*b)),
                _ => None,
            })
    }

    /// Every value of repeated integer field `f` (packed or not).
    pub fn uints(&self, f: u32) -> Vec<i64> {
        let mut out = Vec::new();
        for (_, v) in self.0.iter().filter(|(k, _)| *k == f) {
            let _ = push_ints(*v, &mut out, 64);
        }
        out
    }

    /// Every value of repeated float field `f` (packed or not).
    pub fn floats(&self, f: u32) -> Vec<f32> {
        let mut out = Vec::new();
        for (_, v) in self.0.iter().filter(|(k, _)| *k == f) {
            match v {
                Value::Fixed32(b) => out.push(f32::from_bits(*b)),
                Value::Bytes(b) => out.extend(
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                ),
                _ => {}
            }
        }
        out
    }

    /// The embedded message in field `f` (the last one), if any.
    pub fn message(&self, f: u32) -> Result<Option<Message<'a>>, ModelError> {
        match self.0.iter().rev().find(|(k, _)| *k == f) {
            Some((_, Value::Bytes(b))) => Ok(Some(Message::read(b)?)),
            _ => Ok(None),
        }
    }

    /// Every string of repeated field `f`.
    pub fn strings(&self, f: u32) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| *k == f)
            .filter_map(|(_, v)| v.as_str(256))
            .collect()
    }
}

/// One weight blob.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// Its shape (`BlobShape.dim`, or the legacy num, channels, height, width).
    pub shape: Vec<i64>,
    /// Its values.
    pub data: Vec<f32>,
}

/// One layer.
#[derive(Debug, Clone)]
pub struct Layer<'a> {
    /// Its name.
    pub name: String,
    /// Its type (`Convolution`, `BatchNorm`, ...).
    pub kind: String,
    /// Blobs in.
    pub bottoms: Vec<String>,
    /// Blobs out.
    pub tops: Vec<String>,
    /// Its weights, in the layer's order.
    pub blobs: Vec<Blob>,
    /// All of its fields (the `*_param` messages among them, by their field numbers).
    pub fields: Message<'a>,
}

impl<'a> Layer<'a> {
    /// The parameter message at field `f` (e.g. 106 `convolution_param`), empty when absent.
    pub fn param(&self, f: u32) -> Result<Message<'a>, ModelError> {
        Ok(self.fields.message(f)?.unwrap_or_default())
    }
}

/// A network.
#[derive(Debug, Clone, Default)]
pub struct Net<'a> {
    /// The layers of the test phase, in file order.
    pub layers: Vec<Layer<'a>>,
    /// The net-level input's name and shape (`input` + `input_shape` / `input_dim`), if given.
    pub input: Option<(String, Vec<i64>)>,
}

fn blob(bytes: &[u8], budget: &mut usize) -> Result<Blob, ModelError> {
    let m = Message::read(bytes)?;
    let mut shape = match m.message(7)? {
        Some(s) => s.uints(1),
        None => vec![],
    };
    if shape.is_empty() {
        shape = [1, 2, 3, 4]
            .iter()
            .filter_map(|&f| m.uint(f).map(|v| v as i64))
            .collect();
    }
    let mut data = m.floats(5);
    if data.is_empty() {
        for (_, v) in m.0.iter().filter(|(k, _)| *k == 8) {
            match v {
                Value::Fixed64(b) => data.push(f64::from_bits(*b) as f32),
                Value::Bytes(b) => data.extend(b.chunks_exact(8).map(|c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })),
                _ => {}
            }
        }
    }
    *budget = budget
        .checked_sub(data.len())
        .ok_or_else(|| ModelError::Invalid("caffe: more than 2^28 weight values".into()))?;
    Ok(Blob { shape, data })
}

/// Read a `.caffemodel`. Errors: malformed protobuf, a legacy V1 net, no layers.
pub fn read(bytes: &[u8]) -> Result<Net<'_>, ModelError> {
    let net = Message::read(bytes)?;
    let mut out = Net::default();
    let mut budget = MAX_VALUES;
    let mut v1 = false;
    for (f, v) in &net.0 {
        match (f, v) {
            (2, Value::Bytes(_)) => v1 = true,
            (100, Value::Bytes(l)) => {
                if out.layers.len() >= MAX_LAYERS {
                    return Err(ModelError::Invalid(format!(
                        "caffe: more than {MAX_LAYERS} layers"
                    )));
                }
                let m = Message::read(l)?;
                // include { phase: TRAIN } (NetStateRule.phase = 1, TRAIN = 0): training only.
                let train_only =
                    m.0.iter()
                        .filter(|(k, _)| *k == 8)
                        .filter_map(|(_, v)| v.as_bytes())
                        .filter_map(|b| Message::read(b).ok())
                        .any(|rule| rule.uint(1) == Some(0));
                if train_only {
                    continue;
                }
                let blobs =
                    m.0.iter()
                        .filter(|(k, _)| *k == 7)
                        .filter_map(|(_, v)| v.as_bytes())
                        .map(|b| blob(b, &mut budget))
                        .collect::<Result<Vec<_>, _>>()?;
                out.layers.push(Layer {
                    name: m.strings(1).pop().unwrap_or_default(),
                    kind: m.strings(2).pop().unwrap_or_default(),
                    bottoms: m.strings(3),
                    tops: m.strings(4),
                    blobs,
                    fields: m,
                });
            }
            _ => {}
        }
    }
    if let Some(name) = net.strings(3).pop() {
        let mut shape = match net.message(8)? {
            Some(s) => s.uints(1),
            None => vec![],
        };
        if shape.is_empty() {
            shape = net.uints(4);
        }
        out.input = Some((name, shape));
    }
    if out.layers.is_empty() {
        return Err(ModelError::Invalid(if v1 {
            "caffe: legacy V1 layers (field 2) are not read as a network".into()
        } else {
            "caffe: no layers".into()
        }));
    }
    Ok(out)
}
