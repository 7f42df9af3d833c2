//! TFLite models (FlatBuffers, file identifier `TFL3`): the main subgraph's input and output
//! tensors with shapes, the operator histogram, weight tensors and description. The FlatBuffer
//! is read by hand with every offset checked against the buffer, never trusted.

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo, WeightInfo, MAX_WEIGHTS_LISTED};

pub mod graph;

const MAX_VEC: usize = 1 << 20;

/// A bounds-checked view of a FlatBuffer.
struct Fb<'a> {
    b: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
struct Table {
    pos: usize,
    vt: usize,
    vt_len: usize,
}

fn bad(what: &str) -> ModelError {
    ModelError::Invalid(format!("tflite: {what}"))
}

impl<'a> Fb<'a> {
    fn u32_at(&self, at: usize) -> Result<u32, ModelError> {
        let s = at
            .checked_add(4)
            .and_then(|end| self.b.get(at..end))
            .ok_or_else(|| bad("offset out of range"))?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u16_at(&self, at: usize) -> Result<u16, ModelError> {
        let s = at
            .checked_add(2)
            .and_then(|end| self.b.get(at..end))
            .ok_or_else(|| bad("offset out of range"))?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn table(&self, pos: usize) -> Result<Table, ModelError> {
        let soff = self.u32_at(pos)? as i32;
        // The vtable sits at pos - soff; a hostile soff points before the buffer.
        let vt = usize::try_from(pos as i64 - i64::from(soff)).map_err(|_| bad("bad vtable"))?;
        let vt_len = usize::from(self.u16_at(vt)?);
        if vt_len < 4 || vt.saturating_add(vt_len) > self.b.len() {
            return Err(bad("bad vtable"));
        }
        Ok(Table { pos, vt, vt_len })
    }
    /// Offset of field `i` in table `t`, if present.
    fn field(&self, t: Table, i: usize) -> Result<Option<usize>, ModelError> {
        let at = 4 + 2 * i;
        if at + 2 > t.vt_len {
            return Ok(None);
        }
        let off = usize::from(self.u16_at(t.vt + at)?);
        Ok((off != 0).then_some(t.pos + off))
    }
    fn deref(&self, at: usize) -> Result<usize, ModelError> {
        let rel = self.u32_at(at)? as usize;
        let p = at.checked_add(rel).ok_or_else(|| bad("offset overflow"))?;
        if p >= self.b.len() {
            return Err(bad("reference out of range"));
        }
        Ok(p)
    }
    /// A vector field: (start of elements, length).
    fn vector(&self, t: Table, i: usize) -> Result<Option<(usize, usize)>, ModelError> {
        let Some(at) = self.field(t, i)? else {
            return Ok(None);
        };
        let p = self.deref(at)?;
        let n = self.u32_at(p)? as usize;
        if n > MAX_VEC {
            return Err(ModelError::TooLarge(format!(
                "tflite: vector of {n} elements"
            )));
        }
        Ok(Some((p + 4, n)))
    }
    fn string(&self, t: Table, i: usize) -> Result<Option<String>, ModelError> {
        let Some((start, n)) = self.vector(t, i)? else {
            return Ok(None);
        };
        let s = self
            .b
            .get(start..start + n.min(512))
            .ok_or_else(|| bad("string out of range"))?;
        Ok(Some(String::from_utf8_lossy(s).into_owned()))
    }
    fn tables(&self, t: Table, i: usize) -> Result<Vec<Table>, ModelError> {
        let Some((start, n)) = self.vector(t, i)? else {
            return Ok(vec![]);
        };
        (0..n)
            .map(|k| self.table(self.deref(start + 4 * k)?))
            .collect()
    }
    fn ints(&self, t: Table, i: usize) -> Result<Vec<i64>, ModelError> {
        let Some((start, n)) = self.vector(t, i)? else {
            return Ok(vec![]);
        };
        (0..n.min(64))
            .map(|k| Ok(i64::from(self.u32_at(start + 4 * k)? as i32)))
            .collect()
    }
    fn scalar_u8(&self, t: Table, i: usize) -> Result<Option<u8>, ModelError> {
        Ok(match self.field(t, i)? {
            Some(at) => Some(*self.b.get(at).ok_or_else(|| bad("scalar out of range"))?),
            None => None,
        })
    }
    fn scalar_i32(&self, t: Table, i: usize) -> Result<Option<i32>, ModelError> {
        Ok(match self.field(t, i)? {
            Some(at) => Some(self.u32_at(at)? as i32),
            None => None,
        })
    }
    fn u64_at(&self, at: usize) -> Result<u64, ModelError> {
        let lo = u64::from(self.u32_at(at)?);
        let hi = u64::from(self.u32_at(at.checked_add(4).ok_or_else(|| bad("offset overflow"))?)?);
        Ok(lo | hi << 32)
    }
    fn scalar_u64(&self, t: Table, i: usize) -> Result<Option<u64>, ModelError> {
        Ok(match self.field(t, i)? {
            Some(at) => Some(self.u64_at(at)?),
            None => None,
        })
    }
    /// A vector of 4-byte elements, every one (up to [`MAX_VEC`]), as raw `u32`s.
    fn words(&self, t: Table, i: usize) -> Result<Vec<u32>, ModelError> {
        let Some((start, n)) = self.vector(t, i)? else {
            return Ok(vec![]);
        };
        (0..n).map(|k| self.u32_at(start + 4 * k)).collect()
    }
    /// A vector of 8-byte elements as raw `u64`s.
    fn longs(&self, t: Table, i: usize) -> Result<Vec<u64>, ModelError> {
        let Some((start, n)) = self.vector(t, i)? else {
            return Ok(vec![]);
        };
        (0..n).map(|k| self.u64_at(start + 8 * k)).collect()
    }
    /// A `[ubyte]` vector as a slice of the buffer.
    fn byte_vector(&self, t: Table, i: usize) -> Result<Option<&'a [u8]>, ModelError> {
        let Some(at) = self.field(t, i)? else {
            return Ok(None);
        };
        let p = self.deref(at)?;
        let n = self.u32_at(p)? as usize;
        let start = p + 4;
        let s = start
            .checked_add(n)
            .and_then(|end| self.b.get(start..end))
            .ok_or_else(|| bad("byte vector out of range"))?;
        Ok(Some(s))
    }
}

/// `TFL3` at bytes 4..8.
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"TFL3")
}

fn dtype(t: u8) -> &'static str {
    match t {
        0 => "float32",
        1 => "float16",
        2 => "int32",
        3 => "uint8",
        4 => "int64",
        9 => "int8",
        _ => "other",
    }
}

/// Parse a TFLite FlatBuffer: subgraph inputs, outputs, operators and tensor shapes; every offset checked.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    if !looks_like(bytes) {
        return Err(bad("no TFL3 identifier"));
    }
    let fb = Fb { b: bytes };
    let model = fb.table(fb.u32_at(0)? as usize)?;
    let mut info = ModelInfo {
        format: Some(ModelFormat::Tflite),
        ..Default::default()
    };
    if let Some(v) = fb.scalar_i32(model, 0)? {
        info.metadata.insert("schema_version".into(), v.to_string());
    }
    if let Some(d) = fb.string(model, 3)? {
        info.metadata.insert("description".into(), d);
    }
    let codes: Vec<String> = graph::operator_codes(&fb, model)?
        .into_iter()
        .map(|(code, custom)| graph::operator_name(code, custom.as_deref()))
        .collect();
    note_edgetpu(&mut info, &codes);
    let subgraphs = fb.tables(model, 2)?;
    if subgraphs.len() > 1 {
        info.notes.push(format!(
            "{} subgraphs; the first is the model",
            subgraphs.len()
        ));
    }
    let Some(&sg) = subgraphs.first() else {
        return Err(bad("no subgraph"));
    };
    let tensors = fb.tables(sg, 0)?;
    let tensor = |i: i64| -> Result<Option<TensorInfo>, ModelError> {
        let Some(&t) = usize::try_from(i).ok().and_then(|i| tensors.get(i)) else {
            return Ok(None);
        };
        Ok(Some(TensorInfo {
            name: fb.string(t, 3)?.unwrap_or_default(),
            shape: fb
                .ints(t, 0)?
                .into_iter()
                .map(|d| (d >= 0).then_some(d))
                .collect(),
            dtype: Some(dtype(fb.scalar_u8(t, 1)?.unwrap_or(0)).to_string()),
        }))
    };
    for i in fb.ints(sg, 1)? {
        if let Some(t) = tensor(i)? {
            info.inputs.push(t);
        }
    }
    for i in fb.ints(sg, 2)? {
        if let Some(t) = tensor(i)? {
            info.outputs.push(t);
        }
    }
    for op in fb.tables(sg, 3)? {
        let idx = fb.scalar_i32(op, 0)?.unwrap_or(0);
        let name = usize::try_from(idx)
            .ok()
            .and_then(|i| codes.get(i))
            .cloned()
            .unwrap_or_else(|| "UNKNOWN".into());
        *info.ops.entry(name).or_default() += 1;
    }
    // Weights: tensors backed by a non-empty buffer (buffer index > 0).
    for &t in &tensors {
        if fb.scalar_i32(t, 2)?.unwrap_or(0) > 0 && info.weights.len() < MAX_WEIGHTS_LISTED {
            let shape = fb.ints(t, 0)?;
            let name = fb.string(t, 3)?.unwrap_or_default();
            info.count_params(&name, &shape)?;
            info.weights.push(WeightInfo { name, shape });
        }
    }
    Ok(info)
}

/// Edge TPU compiled models (`edgetpu_compiler`) replace the graph with one custom op whose
/// payload is a compiled executable: inputs and outputs stay readable, the layers do not.
fn note_edgetpu(info: &mut ModelInfo, codes: &[String]) {
    if codes.iter().any(|c| c == "CUSTOM:edgetpu-custom-op") {
        info.facts.insert("tflite.edgetpu".into(), "true".into());
        info.notes.push(
            "Edge TPU compiled: the layers are inside edgetpu-custom-op (opaque); judged by inputs and outputs"
                .into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_tpu_models_are_said_to_be_opaque_inside() {
        let mut info = ModelInfo::default();
        note_edgetpu(
            &mut info,
            &[
                "CONV_2D".into(),
                "CUSTOM:TFLite_Detection_PostProcess".into(),
            ],
        );
        assert!(info.notes.is_empty());
        note_edgetpu(&mut info, &["CUSTOM:edgetpu-custom-op".into()]);
        assert_eq!(info.facts["tflite.edgetpu"], "true");
        assert!(info.notes[0].contains("opaque"));
    }

    #[test]
    fn hostile_vtable_offsets_are_errors_not_overflows() {
        // Found by `cargo fuzz run carve`: a table whose vtable offset points before the buffer.
        let blob: &[u8] = &[
            80, 75, 131, 46, 0, 0, 0, 0, 4, 255, 255, 255, 255, 255, 255, 255, 255, 32, 0, 0, 0,
            84, 70, 76, 51, 0, 255, 255, 255, 255, 255, 255, 255, 32, 34, 34, 34, 34, 34, 34, 34,
            34, 34, 34, 34, 34, 34, 34, 34, 34, 0, 0, 0, 84, 70, 76, 51, 0, 0, 0, 0, 9, 204, 232,
            0, 0, 48, 48, 170, 2, 136, 131, 246, 131, 122, 128, 65, 65, 65, 65, 65, 65, 65, 31,
            139, 122, 65, 75, 4, 75, 136, 72, 68, 70, 13, 255, 255, 255, 255, 255, 255, 255, 255,
            255, 255, 255, 0, 54, 12, 143, 255, 255, 255, 255, 255, 255, 41, 41,
        ];
        for start in 0..blob.len() {
            let _ = parse(&blob[start..]);
        }
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(parse(b"abcdTFL3").is_err());
        let mut b = vec![0u8; 64];
        b[4..8].copy_from_slice(b"TFL3");
        b[0] = 60;
        assert!(parse(&b).is_err());
        for cut in 0..b.len() {
            let _ = parse(&b[..cut]);
        }
    }
}
