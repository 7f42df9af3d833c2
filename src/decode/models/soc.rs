//! Camera-SoC model containers, read as far as their public layouts allow:
//!
//! - **RKNN** (Rockchip, `RKNN` magic): the published community layout is a header (magic,
//!   padding, `u64` file-format version, `u64` model-data length, padding to 64 bytes on
//!   current toolkits or 24 on old ones), the model data, then a `u64` length and a JSON
//!   model-info block. That JSON is read (inputs/outputs from `norm_tensor` + `graph` /
//!   `connection`, target platform, node op types, string metadata); when the layout does not
//!   validate, a bounded search for the JSON object is tried. The model data itself (layers,
//!   weights) is undocumented and reported as opaque. `CYPTRKNN` (encrypted) files are opaque.
//! - **cvimodel** (Sophgo/Cvitek, `CviModel` magic): the 48-byte header (magic, body size,
//!   version, md5, chip) and the FlatBuffers `cvi.model.Model` of sophgo/tpu-mlir
//!   `cvimodel.fbs` are read: name, version, build time, target, weights (`weight_map`
//!   names and shapes), program inputs/outputs with shapes from `tensor_map`. If the FlatBuffer
//!   cannot be walked, the opaque fallback lists printable strings of the first 1 MiB.
//! - **bmodel** (Sophgo BM168x, `0xFF55AAEE` magic): the 64-byte header (magic, header size,
//!   FlatBuffers size, binary size) and the FlatBuffers `bmodel.Model` of sophgo/tpu-mlir
//!   `bmodel.fbs` are read: type, version, time, chip, net names, each net's first-stage
//!   input/output tensors with shapes and dtypes, and coefficient location (op) names. If the
//!   FlatBuffer cannot be walked, the same string-scan fallback applies.
//! - **MNN** has no magic number; it is not detected here (no safe discriminator).
//!
//! Command streams, weights' binary data and the RKNN model section are never interpreted.

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo, WeightInfo, MAX_WEIGHTS_LISTED};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const RKNN_MAGIC: &[u8] = b"RKNN";
const RKNN_CRYPT_MAGIC: &[u8] = b"CYPTRKNN";
const CVI_MAGIC: &[u8] = b"CviModel";
const CVI_HEADER: usize = 48;
const BMODEL_MAGIC: u32 = 0xFF55_AAEE;
const BMODEL_HEADER: usize = 64;

/// Most elements accepted in one FlatBuffers vector.
const MAX_VEC: usize = 1 << 20;
/// Longest string kept from a file.
const MAX_STR: usize = 512;
/// Most dimensions kept per shape.
const MAX_DIMS: usize = 16;
/// Most input plus output tensors kept per model.
const MAX_IO: usize = 1024;
/// Region scanned by the opaque string fallback.
const SCAN_REGION: usize = 1 << 20;
/// Most strings kept by the opaque string fallback.
const MAX_SCANNED: usize = 200;
/// Largest RKNN JSON block accepted.
const MAX_RKNN_JSON: u64 = 64 << 20;
/// Most candidate `{` positions tried when searching for the RKNN JSON block.
const MAX_JSON_TRIES: usize = 64;

fn bad(fmt: &str, what: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid(format!("{fmt}: {what}"))
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_le(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes([
        s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
    ]))
}

fn short(s: &str) -> String {
    s.chars().take(MAX_STR).collect()
}

/// A NUL-padded fixed-size ASCII field.
fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    b.get(..end)
        .unwrap_or_default()
        .iter()
        .filter(|c| c.is_ascii_graphic() || **c == b' ')
        .map(|&c| char::from(c))
        .collect()
}

/// Whether `bytes` start with an RKNN, cvimodel or bmodel magic number.
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(RKNN_MAGIC)
        || bytes.starts_with(RKNN_CRYPT_MAGIC)
        || bytes.starts_with(CVI_MAGIC)
        || u32_le(bytes, 0) == Some(BMODEL_MAGIC)
}

/// Parse an RKNN, cvimodel or bmodel container, dispatching on its magic number. Whatever the
/// published layouts describe is read; the rest is reported as opaque in `notes`.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    if bytes.starts_with(RKNN_MAGIC) || bytes.starts_with(RKNN_CRYPT_MAGIC) {
        parse_rknn(bytes)
    } else if bytes.starts_with(CVI_MAGIC) {
        parse_cvimodel(bytes)
    } else if u32_le(bytes, 0) == Some(BMODEL_MAGIC) {
        parse_bmodel(bytes)
    } else {
        Err(ModelError::Invalid(
            "soc: no RKNN, CviModel or bmodel magic number".into(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// FlatBuffers (bounds-checked, every offset verified against the buffer)

struct Fb<'a> {
    b: &'a [u8],
    fmt: &'static str,
}

#[derive(Clone, Copy)]
struct Table {
    pos: usize,
    vt: usize,
    vt_len: usize,
}

impl Fb<'_> {
    fn err(&self, what: &str) -> ModelError {
        bad(self.fmt, format!("flatbuffer: {what}"))
    }
    fn u32_at(&self, at: usize) -> Result<u32, ModelError> {
        u32_le(self.b, at).ok_or_else(|| self.err("offset out of range"))
    }
    fn u16_at(&self, at: usize) -> Result<u16, ModelError> {
        let s = at
            .checked_add(2)
            .and_then(|end| self.b.get(at..end))
            .ok_or_else(|| self.err("offset out of range"))?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u64_at(&self, at: usize) -> Result<u64, ModelError> {
        u64_le(self.b, at).ok_or_else(|| self.err("offset out of range"))
    }
    fn table(&self, pos: usize) -> Result<Table, ModelError> {
        let soff = i64::from(self.u32_at(pos)? as i32);
        let vt = i64::try_from(pos)
            .ok()
            .and_then(|p| p.checked_sub(soff))
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| self.err("bad vtable"))?;
        let vt_len = usize::from(self.u16_at(vt)?);
        if vt_len < 4 || vt.saturating_add(vt_len) > self.b.len() {
            return Err(self.err("bad vtable"));
        }
        Ok(Table { pos, vt, vt_len })
    }
    fn root(&self) -> Result<Table, ModelError> {
        let p = self.deref(0)?;
        self.table(p)
    }
    fn field(&self, t: Table, i: usize) -> Result<Option<usize>, ModelError> {
        let at = 4 + 2 * i;
        if at + 2 > t.vt_len {
            return Ok(None);
        }
        let off = usize::from(self.u16_at(t.vt + at)?);
        if off == 0 {
            return Ok(None);
        }
        let p = t.pos.saturating_add(off);
        if p >= self.b.len() {
            return Err(self.err("field out of range"));
        }
        Ok(Some(p))
    }
    fn deref(&self, at: usize) -> Result<usize, ModelError> {
        let rel = self.u32_at(at)? as usize;
        let p = at
            .checked_add(rel)
            .ok_or_else(|| self.err("offset overflow"))?;
        if p >= self.b.len() {
            return Err(self.err("reference out of range"));
        }
        Ok(p)
    }
    /// A vector at `p` (its length word) of `elem`-byte elements: (start, length).
    fn vector_at(&self, p: usize, elem: usize) -> Result<(usize, usize), ModelError> {
        let n = self.u32_at(p)? as usize;
        if n > MAX_VEC {
            return Err(ModelError::TooLarge(format!(
                "{}: flatbuffer vector of {n} elements",
                self.fmt
            )));
        }
        let start = p + 4;
        let fits = n
            .checked_mul(elem)
            .and_then(|bytes| start.checked_add(bytes))
            .is_some_and(|end| end <= self.b.len());
        if !fits {
            return Err(self.err("vector runs past the buffer"));
        }
        Ok((start, n))
    }
    fn vector(
        &self,
        t: Table,
        i: usize,
        elem: usize,
    ) -> Result<Option<(usize, usize)>, ModelError> {
        match self.field(t, i)? {
            Some(at) => Ok(Some(self.vector_at(self.deref(at)?, elem)?)),
            None => Ok(None),
        }
    }
    fn str_at(&self, p: usize) -> Result<String, ModelError> {
        let (start, n) = self.vector_at(p, 1)?;
        let s = self
            .b
            .get(start..start + n.min(MAX_STR))
            .ok_or_else(|| self.err("string out of range"))?;
        Ok(String::from_utf8_lossy(s).into_owned())
    }
    fn string(&self, t: Table, i: usize) -> Result<Option<String>, ModelError> {
        match self.field(t, i)? {
            Some(at) => Ok(Some(self.str_at(self.deref(at)?)?)),
            None => Ok(None),
        }
    }
    /// At most `max` strings of a vector of strings.
    fn strings(&self, t: Table, i: usize, max: usize) -> Result<Vec<String>, ModelError> {
        let Some((start, n)) = self.vector(t, i, 4)? else {
            return Ok(vec![]);
        };
        (0..n.min(max))
            .map(|k| self.str_at(self.deref(start + 4 * k)?))
            .collect()
    }
    /// At most `max` tables of a vector of tables.
    fn tables(&self, t: Table, i: usize, max: usize) -> Result<Vec<Table>, ModelError> {
        let Some((start, n)) = self.vector(t, i, 4)? else {
            return Ok(vec![]);
        };
        (0..n.min(max))
            .map(|k| self.table(self.deref(start + 4 * k)?))
            .collect()
    }
    /// The number of elements of a vector field (0 when absent).
    fn count(&self, t: Table, i: usize) -> Result<usize, ModelError> {
        Ok(self.vector(t, i, 4)?.map_or(0, |(_, n)| n))
    }
    fn sub(&self, t: Table, i: usize) -> Result<Option<Table>, ModelError> {
        match self.field(t, i)? {
            Some(at) => Ok(Some(self.table(self.deref(at)?)?)),
            None => Ok(None),
        }
    }
    /// The first [`MAX_DIMS`] elements of a vector of 64-bit integers.
    fn ints64(&self, t: Table, i: usize) -> Result<Vec<i64>, ModelError> {
        let Some((start, n)) = self.vector(t, i, 8)? else {
            return Ok(vec![]);
        };
        (0..n.min(MAX_DIMS))
            .map(|k| Ok(self.u64_at(start + 8 * k)? as i64))
            .collect()
    }
    fn scalar_u8(&self, t: Table, i: usize) -> Result<Option<u8>, ModelError> {
        Ok(match self.field(t, i)? {
            Some(at) => self.b.get(at).copied(),
            None => None,
        })
    }
    fn scalar_u32(&self, t: Table, i: usize) -> Result<Option<u32>, ModelError> {
        Ok(match self.field(t, i)? {
            Some(at) => Some(self.u32_at(at)?),
            None => None,
        })
    }
}

fn dyn_shape(dims: &[i64]) -> Vec<Option<i64>> {
    dims.iter().map(|&d| (d >= 0).then_some(d)).collect()
}

// ---------------------------------------------------------------------------------------------
// Opaque fallback

/// Printable ASCII runs of at least 4 bytes in the first [`SCAN_REGION`] bytes of `region`,
/// unique, at most [`MAX_SCANNED`], as weights without shapes (names are weak evidence).
fn scan_strings(info: &mut ModelInfo, region: &[u8], fmt: &str) {
    let region = region
        .get(..region.len().min(SCAN_REGION))
        .unwrap_or(region);
    let mut seen = BTreeSet::new();
    for run in region.split(|c| !(0x20..0x7f).contains(c)) {
        if seen.len() >= MAX_SCANNED {
            break;
        }
        if run.len() < 4 || run.iter().all(|c| *c == b' ') {
            continue;
        }
        let s: String = run.iter().take(MAX_STR).map(|&c| char::from(c)).collect();
        if seen.insert(s.clone()) {
            info.weights.push(WeightInfo {
                name: s,
                shape: vec![],
            });
        }
    }
    info.facts
        .insert(format!("{fmt}.layout"), "opaque (string scan)".into());
    info.notes.push(format!(
        "{fmt}: structure not walked; {} printable strings of the first {} bytes listed as \
         shapeless weights (weak evidence)",
        seen.len(),
        region.len()
    ));
}

// ---------------------------------------------------------------------------------------------
// RKNN

fn rknn_json_by_layout(bytes: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let data_len = usize::try_from(u64_le(bytes, 16)?).ok()?;
    for header in [64usize, 24] {
        let Some(at) = header.checked_add(data_len) else {
            continue;
        };
        let Some(n) = u64_le(bytes, at) else { continue };
        if n == 0 || n > MAX_RKNN_JSON {
            continue;
        }
        let Some(json) = usize::try_from(n)
            .ok()
            .and_then(|n| (at + 8).checked_add(n))
            .and_then(|end| bytes.get(at + 8..end))
        else {
            continue;
        };
        if json.first() != Some(&b'{') {
            continue;
        }
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(json) {
            return Some(m);
        }
    }
    None
}

const RKNN_KEYS: [&str; 8] = [
    "norm_tensor",
    "target_platform",
    "graph",
    "connection",
    "output",
    "outputs",
    "name",
    "version",
];

/// Bounded search for the model-info JSON object in the first 64 KiB and the last 1 MiB.
fn rknn_json_by_search(bytes: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let head = bytes.len().min(1 << 16);
    let tail = bytes.len().saturating_sub(SCAN_REGION).max(head);
    let mut tries = 0;
    for (lo, hi) in [(tail, bytes.len()), (0, head)] {
        let window = bytes.get(lo..hi)?;
        for pos in memchr::memmem::find_iter(window, b"{\"") {
            if tries == MAX_JSON_TRIES {
                return None;
            }
            tries += 1;
            let rest = window.get(pos..)?;
            let mut it = serde_json::Deserializer::from_slice(rest).into_iter::<Value>();
            if let Some(Ok(Value::Object(m))) = it.next() {
                let hits = RKNN_KEYS.iter().filter(|k| m.contains_key(**k)).count();
                if m.contains_key("norm_tensor") || m.contains_key("target_platform") || hits >= 2 {
                    return Some(m);
                }
            }
        }
    }
    None
}

fn json_shape(v: Option<&Value>) -> Vec<Option<i64>> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(MAX_DIMS)
                .map(|d| d.as_i64().filter(|d| *d >= 0))
                .collect()
        })
        .unwrap_or_default()
}

fn json_tensor(t: &Value) -> TensorInfo {
    let name = ["url", "name"]
        .iter()
        .find_map(|k| t.get(*k).and_then(Value::as_str))
        .map(short)
        .unwrap_or_default();
    let shape = json_shape(
        ["size", "dims", "shape"]
            .iter()
            .find_map(|k| t.get(*k).filter(|v| v.is_array())),
    );
    let dtype = match t.get("dtype") {
        Some(Value::String(s)) => Some(short(s)),
        Some(d @ Value::Object(_)) => ["vx_type", "qnt_type"]
            .iter()
            .filter_map(|k| d.get(*k).and_then(Value::as_str))
            .find(|s| !s.is_empty())
            .map(short),
        _ => None,
    };
    TensorInfo { name, shape, dtype }
}

fn fill_rknn(info: &mut ModelInfo, m: &serde_json::Map<String, Value>) {
    for (k, v) in m.iter().take(256) {
        if info.metadata.len() >= 64 {
            break;
        }
        if let Value::String(s) = v {
            info.metadata.insert(format!("rknn.{}", short(k)), short(s));
        }
    }
    match m.get("target_platform") {
        Some(Value::String(s)) => {
            info.facts.insert("rknn.target_platform".into(), short(s));
        }
        Some(Value::Array(a)) => {
            let p: Vec<&str> = a.iter().take(16).filter_map(Value::as_str).collect();
            info.facts
                .insert("rknn.target_platform".into(), short(&p.join(",")));
        }
        _ => {}
    }
    // norm_tensor: every named tensor, keyed by tensor_id.
    let mut by_id: BTreeMap<i64, TensorInfo> = BTreeMap::new();
    if let Some(ts) = m.get("norm_tensor").and_then(Value::as_array) {
        info.facts
            .insert("rknn.norm_tensors".into(), ts.len().to_string());
        for t in ts.iter().take(1 << 16) {
            if let Some(id) = t.get("tensor_id").and_then(Value::as_i64) {
                by_id.insert(id, json_tensor(t));
            }
        }
    }
    // graph / connection: which norm_tensors are the model's inputs and outputs.
    let mut io: BTreeMap<(bool, i64), i64> = BTreeMap::new();
    for key in ["graph", "connection"] {
        let Some(edges) = m.get(key).and_then(Value::as_array) else {
            continue;
        };
        for e in edges.iter().take(1 << 16) {
            let is_input = match e.get("left").and_then(Value::as_str) {
                Some("input") => true,
                Some("output") => false,
                _ => continue,
            };
            let slot = e.get("left_tensor_id").and_then(Value::as_i64).unwrap_or(0);
            let id = e
                .get("right_tensor_id")
                .or_else(|| e.pointer("/right_tensor/tensor_id"))
                .and_then(Value::as_i64);
            if let Some(id) = id {
                if io.len() < MAX_IO {
                    io.entry((is_input, slot)).or_insert(id);
                }
            }
        }
    }
    for ((is_input, _), id) in io {
        let Some(t) = by_id.get(&id) else { continue };
        if is_input {
            info.inputs.push(t.clone());
        } else {
            info.outputs.push(t.clone());
        }
    }
    // Other toolkits' shapes: explicit input/output lists.
    if info.inputs.is_empty() && info.outputs.is_empty() {
        for (keys, out) in [(["inputs", "input"], false), (["outputs", "output"], true)] {
            let Some(list) = keys
                .iter()
                .find_map(|k| m.get(*k).and_then(Value::as_array))
            else {
                continue;
            };
            for t in list.iter().take(MAX_IO) {
                let t = match t {
                    Value::String(s) => TensorInfo {
                        name: short(s),
                        shape: vec![],
                        dtype: None,
                    },
                    Value::Object(_) => json_tensor(t),
                    _ => continue,
                };
                if out {
                    info.outputs.push(t);
                } else {
                    info.inputs.push(t);
                }
            }
        }
    }
    if let Some(nodes) = m.get("nodes").and_then(Value::as_array) {
        for n in nodes.iter().take(1 << 16) {
            if let Some(op) = ["op", "type"]
                .iter()
                .find_map(|k| n.get(*k).and_then(Value::as_str))
            {
                if info.ops.len() < 1024 || info.ops.contains_key(op) {
                    *info.ops.entry(short(op)).or_default() += 1;
                }
            }
        }
    }
}

fn parse_rknn(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let mut info = ModelInfo {
        format: Some(ModelFormat::Rknn),
        ..Default::default()
    };
    if bytes.starts_with(RKNN_CRYPT_MAGIC) {
        info.facts.insert("rknn.encrypted".into(), "true".into());
        info.notes
            .push("RKNN container is encrypted (CYPTRKNN); reported as opaque".into());
        return Ok(info);
    }
    if bytes.len() < 8 {
        return Err(ModelError::Truncated(
            "rknn: header shorter than 8 bytes".into(),
        ));
    }
    if let Some(v) = u64_le(bytes, 8) {
        info.facts.insert("rknn.file_version".into(), v.to_string());
    }
    let json = rknn_json_by_layout(bytes).or_else(|| rknn_json_by_search(bytes));
    match json {
        Some(m) => {
            fill_rknn(&mut info, &m);
            info.notes.push(
                "RKNN container: model-info JSON read; layer data is not documented publicly \
                 and is reported as opaque"
                    .into(),
            );
        }
        None => info.notes.push(
            "RKNN container: layer data is not documented publicly; reported as opaque".into(),
        ),
    }
    Ok(info)
}

// ---------------------------------------------------------------------------------------------
// cvimodel

fn cvi_dtype(t: u8) -> &'static str {
    match t {
        0 => "float32",
        1 => "int32",
        2 => "uint32",
        3 => "bfloat16",
        4 => "int16",
        5 => "uint16",
        6 => "int8",
        7 => "uint8",
        _ => "unknown",
    }
}

/// Walk `cvi.model.Model` (tpu-mlir `cvimodel.fbs`): 0 version (struct of 3 bytes), 1 name,
/// 2 build_time, 5 weight_map [Weight{0 name, 3 shape}], 6 programs [Program{2 input_tensors,
/// 3 output_tensors, 4 tensor_map [Tensor{1 name, 3 dtype, 4 shape}]}], 8 target,
/// 9 mlir_version; Shape{0 dim:[int64]}.
fn walk_cvimodel(fb: &Fb, info: &mut ModelInfo) -> Result<(), ModelError> {
    let model = fb.root()?;
    if let Some(at) = fb.field(model, 0)? {
        if let Some(v) = fb.b.get(at..at.saturating_add(3)) {
            info.facts.insert(
                "cvimodel.version".into(),
                format!("{}.{}.{}", v[0], v[1], v[2]),
            );
        }
    }
    for (i, key) in [
        (1, "name"),
        (2, "build_time"),
        (8, "target"),
        (9, "mlir_version"),
    ] {
        if let Some(s) = fb.string(model, i)? {
            info.metadata.insert(format!("cvimodel.{key}"), s);
        }
    }
    let mut listed = 0usize;
    for w in fb.tables(model, 5, MAX_WEIGHTS_LISTED)? {
        let name = fb.string(w, 0)?.unwrap_or_default();
        let shape = match fb.sub(w, 3)? {
            Some(s) => fb.ints64(s, 0)?,
            None => vec![],
        };
        info.count_params(&name, &shape)?;
        info.weights.push(WeightInfo { name, shape });
        listed += 1;
    }
    let programs = fb.tables(model, 6, 16)?;
    info.facts
        .insert("cvimodel.programs".into(), fb.count(model, 6)?.to_string());
    let mut seen_io = BTreeSet::new();
    for p in programs {
        let ins = fb.strings(p, 2, MAX_IO)?;
        let outs = fb.strings(p, 3, MAX_IO)?;
        let wanted: BTreeSet<&str> = ins.iter().chain(&outs).map(String::as_str).collect();
        let mut found: BTreeMap<String, TensorInfo> = BTreeMap::new();
        let tensors = fb.tables(p, 4, 1 << 16)?;
        for t in &tensors {
            let name = fb.string(*t, 1)?.unwrap_or_default();
            let shape = match fb.sub(*t, 4)? {
                Some(s) => dyn_shape(&fb.ints64(s, 0)?),
                None => vec![],
            };
            let dtype = Some(cvi_dtype(fb.scalar_u8(*t, 3)?.unwrap_or(0)).to_string());
            if wanted.contains(name.as_str()) {
                found.insert(
                    name.clone(),
                    TensorInfo {
                        name: name.clone(),
                        shape,
                        dtype,
                    },
                );
            } else if listed == 0 && info.weights.len() < MAX_WEIGHTS_LISTED {
                // No weight_map: tensor (layer) names are still weak evidence.
                info.weights.push(WeightInfo {
                    name,
                    shape: vec![],
                });
            }
        }
        for (names, is_input) in [(&ins, true), (&outs, false)] {
            for n in names {
                if !seen_io.insert((is_input, n.clone())) || seen_io.len() > MAX_IO {
                    continue;
                }
                let t = found.get(n).cloned().unwrap_or(TensorInfo {
                    name: n.clone(),
                    shape: vec![],
                    dtype: None,
                });
                if is_input {
                    info.inputs.push(t);
                } else {
                    info.outputs.push(t);
                }
            }
        }
    }
    if listed == 0 && !info.weights.is_empty() {
        info.notes.push(
            "cvimodel: no weight_map; tensor names listed as shapeless weights (weak evidence)"
                .into(),
        );
    }
    Ok(())
}

fn parse_cvimodel(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    if bytes.len() < CVI_HEADER {
        return Err(ModelError::Truncated(format!(
            "cvimodel: header of {CVI_HEADER} bytes, file of {}",
            bytes.len()
        )));
    }
    let mut info = ModelInfo {
        format: Some(ModelFormat::Cvimodel),
        ..Default::default()
    };
    let body = u32_le(bytes, 8).unwrap_or(0) as usize;
    let (major, minor) = (bytes.get(12).copied(), bytes.get(13).copied());
    if let (Some(a), Some(b)) = (major, minor) {
        info.facts
            .insert("cvimodel.header_version".into(), format!("{a}.{b}"));
    }
    let chip = c_str(bytes.get(30..46).unwrap_or_default());
    if !chip.is_empty() {
        info.facts.insert("cvimodel.chip".into(), chip);
    }
    let rest = bytes.get(CVI_HEADER..).unwrap_or_default();
    let walked = match rest.get(..body) {
        Some(fb) if body >= 8 => {
            let mut tmp = info.clone();
            match walk_cvimodel(
                &Fb {
                    b: fb,
                    fmt: "cvimodel",
                },
                &mut tmp,
            ) {
                Ok(()) => {
                    info = tmp;
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Some(_) => Err(format!(
            "body of {body} bytes is too small for a FlatBuffer"
        )),
        None => Err(format!(
            "body of {body} bytes runs past the file ({} left)",
            rest.len()
        )),
    };
    if let Err(why) = walked {
        info.notes
            .push(format!("cvimodel: FlatBuffer not read ({why})"));
        scan_strings(&mut info, rest, "cvimodel");
    } else {
        info.notes
            .push("cvimodel: command buffers and weight data are not interpreted".into());
    }
    Ok(info)
}

// ---------------------------------------------------------------------------------------------
// bmodel

fn bm_dtype(t: u32) -> &'static str {
    match t {
        0 => "float32",
        1 => "float16",
        2 => "int8",
        3 => "uint8",
        4 => "int16",
        5 => "uint16",
        6 => "int32",
        7 => "uint32",
        8 => "bfloat16",
        9 => "int4",
        10 => "uint4",
        _ => "unknown",
    }
}

fn bm_tensor(fb: &Fb, t: Table) -> Result<TensorInfo, ModelError> {
    let name = fb.string(t, 0)?.unwrap_or_default();
    let dtype = fb.scalar_u32(t, 1)?.map(|d| bm_dtype(d).to_string());
    let shape = match fb.tables(t, 5, 1)?.first() {
        Some(s) => dyn_shape(&fb.ints64(*s, 0)?),
        None => vec![],
    };
    Ok(TensorInfo { name, shape, dtype })
}

/// Walk `bmodel.Model` (tpu-mlir `bmodel.fbs`): 0 type, 1 version, 2 time, 3 chip,
/// 4 net [Net{0 name, 3 parameter [NetParameter{0 input_tensor, 1 output_tensor,
/// 4 coeff_mem CoeffMem{3 location [Location{0 name}]}}]}]; Tensor{0 name, 1 data_type,
/// 5 shape [Shape{0 dim:[uint64]}]}. Only each net's first stage (parameter) is read.
fn walk_bmodel(fb: &Fb, info: &mut ModelInfo) -> Result<(), ModelError> {
    let model = fb.root()?;
    for (i, key) in [(0, "type"), (1, "version"), (2, "time")] {
        if let Some(s) = fb.string(model, i)? {
            info.metadata.insert(format!("bmodel.{key}"), s);
        }
    }
    if let Some(chip) = fb.string(model, 3)? {
        info.facts.insert("bmodel.chip".into(), chip);
    }
    info.facts
        .insert("bmodel.nets".into(), fb.count(model, 4)?.to_string());
    let mut names = Vec::new();
    for net in fb.tables(model, 4, 64)? {
        let name = fb.string(net, 0)?.unwrap_or_default();
        let stages = fb.count(net, 3)?;
        names.push(format!("{name} ({stages} stage(s))"));
        let Some(p) = fb.tables(net, 3, 1)?.first().copied() else {
            continue;
        };
        for t in fb.tables(p, 0, 256)? {
            if info.inputs.len() + info.outputs.len() < MAX_IO {
                info.inputs.push(bm_tensor(fb, t)?);
            }
        }
        for t in fb.tables(p, 1, 256)? {
            if info.inputs.len() + info.outputs.len() < MAX_IO {
                info.outputs.push(bm_tensor(fb, t)?);
            }
        }
        if let Some(coeff) = fb.sub(p, 4)? {
            let room = MAX_WEIGHTS_LISTED.saturating_sub(info.weights.len());
            for loc in fb.tables(coeff, 3, room)? {
                if let Some(n) = fb.string(loc, 0)? {
                    info.weights.push(WeightInfo {
                        name: n,
                        shape: vec![],
                    });
                }
            }
        }
    }
    info.metadata
        .insert("bmodel.net_names".into(), short(&names.join(", ")));
    if !info.weights.is_empty() {
        info.notes
            .push("bmodel: coefficient locations listed as shapeless weights (op names)".into());
    }
    Ok(())
}

fn parse_bmodel(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    if bytes.len() < BMODEL_HEADER {
        return Err(ModelError::Truncated(format!(
            "bmodel: header of {BMODEL_HEADER} bytes, file of {}",
            bytes.len()
        )));
    }
    let mut info = ModelInfo {
        format: Some(ModelFormat::Bmodel),
        ..Default::default()
    };
    let header_size = u32_le(bytes, 4).unwrap_or(0);
    let fb_size = u32_le(bytes, 8).unwrap_or(0) as usize;
    let bin_size = u32_le(bytes, 12).unwrap_or(0);
    info.facts
        .insert("bmodel.header_size".into(), header_size.to_string());
    info.facts
        .insert("bmodel.binary_size".into(), bin_size.to_string());
    let rest = bytes.get(BMODEL_HEADER..).unwrap_or_default();
    let walked = match rest.get(..fb_size) {
        Some(fb) if fb_size >= 8 => {
            let mut tmp = info.clone();
            match walk_bmodel(
                &Fb {
                    b: fb,
                    fmt: "bmodel",
                },
                &mut tmp,
            ) {
                Ok(()) => {
                    info = tmp;
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Some(_) => Err(format!("FlatBuffer of {fb_size} bytes is too small")),
        None => Err(format!(
            "FlatBuffer of {fb_size} bytes runs past the file ({} left)",
            rest.len()
        )),
    };
    if let Err(why) = walked {
        info.notes
            .push(format!("bmodel: FlatBuffer not read ({why})"));
        scan_strings(&mut info, rest, "bmodel");
    } else {
        info.notes
            .push("bmodel: command streams and coefficient data are not interpreted".into());
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal back-to-front FlatBuffers builder. Object ids are distances from the end of
    /// the buffer, as in the real builder; references always point forward.
    #[derive(Default)]
    struct Fbb {
        v: Vec<u8>,
    }

    enum F {
        Absent,
        U32(u32),
        U8(u8),
        Bytes3([u8; 3]),
        Ref(usize),
    }

    impl Fbb {
        fn prepend(&mut self, bytes: &[u8]) -> usize {
            let mut v = bytes.to_vec();
            while v.len() % 4 != 0 {
                v.push(0);
            }
            v.extend_from_slice(&self.v);
            self.v = v;
            self.v.len()
        }
        fn string(&mut self, s: &str) -> usize {
            let mut b = (s.len() as u32).to_le_bytes().to_vec();
            b.extend_from_slice(s.as_bytes());
            b.push(0);
            self.prepend(&b)
        }
        fn vec_i64(&mut self, vals: &[i64]) -> usize {
            let mut b = (vals.len() as u32).to_le_bytes().to_vec();
            for v in vals {
                b.extend_from_slice(&v.to_le_bytes());
            }
            self.prepend(&b)
        }
        fn vec_refs(&mut self, ids: &[usize]) -> usize {
            let l = self.v.len() + 4 + 4 * ids.len();
            let mut b = (ids.len() as u32).to_le_bytes().to_vec();
            for (k, id) in ids.iter().enumerate() {
                b.extend_from_slice(&((l - 4 - 4 * k - id) as u32).to_le_bytes());
            }
            self.prepend(&b)
        }
        fn table(&mut self, fields: &[F]) -> usize {
            let vt_len = 4 + 2 * fields.len();
            let vt_pad = vt_len.div_ceil(4) * 4;
            let tbl_len = 4 + 4 * fields.len();
            let table_id = self.v.len() + tbl_len;
            let mut vt = (vt_pad as u16).to_le_bytes().to_vec();
            vt.extend_from_slice(&(tbl_len as u16).to_le_bytes());
            let mut tb = (vt_pad as i32).to_le_bytes().to_vec();
            for (k, f) in fields.iter().enumerate() {
                let off = 4 + 4 * k;
                let slot: [u8; 4] = match f {
                    F::Absent => {
                        vt.extend_from_slice(&0u16.to_le_bytes());
                        [0; 4]
                    }
                    F::U32(x) => {
                        vt.extend_from_slice(&(off as u16).to_le_bytes());
                        x.to_le_bytes()
                    }
                    F::U8(x) => {
                        vt.extend_from_slice(&(off as u16).to_le_bytes());
                        [*x, 0, 0, 0]
                    }
                    F::Bytes3(b) => {
                        vt.extend_from_slice(&(off as u16).to_le_bytes());
                        [b[0], b[1], b[2], 0]
                    }
                    F::Ref(id) => {
                        vt.extend_from_slice(&(off as u16).to_le_bytes());
                        ((table_id - off - id) as u32).to_le_bytes()
                    }
                };
                tb.extend_from_slice(&slot);
            }
            vt.resize(vt_pad, 0);
            vt.extend_from_slice(&tb);
            self.prepend(&vt);
            table_id
        }
        fn finish(mut self, root: usize) -> Vec<u8> {
            let l = self.v.len() + 4;
            self.prepend(&((l - root) as u32).to_le_bytes());
            self.v
        }
    }

    fn cvimodel() -> Vec<u8> {
        let mut b = Fbb::default();
        let shape_in = b.vec_i64(&[1, 3, 112, 112]);
        let shape_in = b.table(&[F::Ref(shape_in)]);
        let shape_out = b.vec_i64(&[1, 512]);
        let shape_out = b.table(&[F::Ref(shape_out)]);
        let n_in = b.string("data");
        let t_in = b.table(&[
            F::U32(0),
            F::Ref(n_in),
            F::Absent,
            F::U8(7),
            F::Ref(shape_in),
        ]);
        let n_out = b.string("fc1_embedding");
        let t_out = b.table(&[
            F::U32(1),
            F::Ref(n_out),
            F::Absent,
            F::U8(0),
            F::Ref(shape_out),
        ]);
        let map = b.vec_refs(&[t_in, t_out]);
        let s_in = b.string("data");
        let ins = b.vec_refs(&[s_in]);
        let s_out = b.string("fc1_embedding");
        let outs = b.vec_refs(&[s_out]);
        let prog = b.table(&[F::U32(1), F::U32(0), F::Ref(ins), F::Ref(outs), F::Ref(map)]);
        let progs = b.vec_refs(&[prog]);
        let wshape = b.vec_i64(&[64, 3, 3, 3]);
        let wshape = b.table(&[F::Ref(wshape)]);
        let wname = b.string("conv1_weight");
        let w = b.table(&[F::Ref(wname), F::Absent, F::Absent, F::Ref(wshape)]);
        let weights = b.vec_refs(&[w]);
        let name = b.string("arcface_r50");
        let model = b.table(&[
            F::Bytes3([1, 4, 0]),
            F::Ref(name),
            F::Absent,
            F::Absent,
            F::Absent,
            F::Ref(weights),
            F::Ref(progs),
        ]);
        let fb = b.finish(model);
        let mut f = CVI_MAGIC.to_vec();
        f.extend_from_slice(&(fb.len() as u32).to_le_bytes());
        f.extend_from_slice(&[1, 4]);
        f.extend_from_slice(&[0; 16]);
        f.extend_from_slice(b"cv181x\0\0\0\0\0\0\0\0\0\0");
        f.extend_from_slice(&[0; 2]);
        assert_eq!(f.len(), CVI_HEADER);
        f.extend_from_slice(&fb);
        f.extend_from_slice(&[0xAB; 32]);
        f
    }

    fn bmodel() -> Vec<u8> {
        let mut b = Fbb::default();
        let dims = b.vec_i64(&[1, 3, 640, 640]);
        let shape = b.table(&[F::Ref(dims)]);
        let shapes = b.vec_refs(&[shape]);
        let n = b.string("images");
        let t_in = b.table(&[
            F::Ref(n),
            F::U32(0),
            F::Absent,
            F::Absent,
            F::Absent,
            F::Ref(shapes),
        ]);
        let n = b.string("face_landmarks");
        let t_out = b.table(&[F::Ref(n), F::U32(1)]);
        let ins = b.vec_refs(&[t_in]);
        let outs = b.vec_refs(&[t_out]);
        let param = b.table(&[F::Ref(ins), F::Ref(outs)]);
        let params = b.vec_refs(&[param]);
        let net_name = b.string("retinaface");
        let net = b.table(&[F::Ref(net_name), F::Absent, F::Absent, F::Ref(params)]);
        let nets = b.vec_refs(&[net]);
        let ty = b.string("B");
        let ver = b.string("2.2");
        let time = b.string("now");
        let chip = b.string("BM1684X");
        let model = b.table(&[
            F::Ref(ty),
            F::Ref(ver),
            F::Ref(time),
            F::Ref(chip),
            F::Ref(nets),
        ]);
        let fb = b.finish(model);
        let mut f = BMODEL_MAGIC.to_le_bytes().to_vec();
        f.extend_from_slice(&(BMODEL_HEADER as u32).to_le_bytes());
        f.extend_from_slice(&(fb.len() as u32).to_le_bytes());
        f.extend_from_slice(&16u32.to_le_bytes());
        f.extend_from_slice(&[0; 48]);
        f.extend_from_slice(&fb);
        f.extend_from_slice(&[0xCD; 16]);
        f
    }

    fn rknn() -> Vec<u8> {
        let json = br#"{"connection":[{"left":"input","left_tensor_id":0,"node_id":0,"right_tensor":{"tensor_id":0,"type":"norm_tensor"}},{"left":"output","left_tensor_id":0,"node_id":0,"right_tensor":{"tensor_id":1,"type":"norm_tensor"}}],"name":"rknn model","network_platform":"ONNX","target_platform":["rk3588"],"nodes":[{"op":"Conv"},{"op":"Conv"}],"norm_tensor":[{"tensor_id":0,"url":"input.1","size":[1,3,112,112],"dtype":{"qnt_type":"","vx_type":"VSI_NN_TYPE_UINT8"}},{"tensor_id":1,"url":"embedding","size":[1,128],"dtype":{"qnt_type":"","vx_type":"VSI_NN_TYPE_FLOAT16"}}]}"#;
        let data = [0x11u8; 40];
        let mut f = RKNN_MAGIC.to_vec();
        f.extend_from_slice(&[0; 4]);
        f.extend_from_slice(&6u64.to_le_bytes());
        f.extend_from_slice(&(data.len() as u64).to_le_bytes());
        f.extend_from_slice(&[0; 40]);
        f.extend_from_slice(&data);
        f.extend_from_slice(&(json.len() as u64).to_le_bytes());
        f.extend_from_slice(json);
        f
    }

    #[test]
    fn reads_rknn_model_info_json() {
        let f = rknn();
        assert!(looks_like(&f));
        let info = parse(&f).unwrap();
        assert_eq!(info.format, Some(ModelFormat::Rknn));
        assert_eq!(info.inputs.len(), 1);
        assert_eq!(info.inputs[0].name, "input.1");
        assert_eq!(
            info.inputs[0].shape,
            vec![Some(1), Some(3), Some(112), Some(112)]
        );
        assert_eq!(info.outputs[0].name, "embedding");
        assert_eq!(
            info.facts.get("rknn.target_platform").map(String::as_str),
            Some("rk3588")
        );
        assert_eq!(info.ops.get("Conv"), Some(&2));
        assert_eq!(
            info.metadata
                .get("rknn.network_platform")
                .map(String::as_str),
            Some("ONNX")
        );
    }

    #[test]
    fn rknn_json_is_found_by_search_when_the_layout_does_not_match() {
        let mut f = rknn();
        f[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        let info = parse(&f).unwrap();
        assert_eq!(info.outputs.len(), 1);
        let info = parse(b"RKNN\0\0\0\0\x01\0\0\0\0\0\0\0 opaque bytes").unwrap();
        assert!(info.inputs.is_empty());
        assert!(info.notes.iter().any(|n| n.contains("opaque")));
        assert!(parse(b"CYPTRKNN....")
            .unwrap()
            .facts
            .contains_key("rknn.encrypted"));
    }

    #[test]
    fn reads_cvimodel_flatbuffer() {
        let f = cvimodel();
        assert!(looks_like(&f));
        let info = parse(&f).unwrap();
        assert_eq!(info.format, Some(ModelFormat::Cvimodel));
        assert_eq!(
            info.metadata.get("cvimodel.name").map(String::as_str),
            Some("arcface_r50")
        );
        assert_eq!(
            info.facts.get("cvimodel.chip").map(String::as_str),
            Some("cv181x")
        );
        assert_eq!(
            info.facts.get("cvimodel.version").map(String::as_str),
            Some("1.4.0")
        );
        assert_eq!(info.inputs[0].name, "data");
        assert_eq!(info.inputs[0].dtype.as_deref(), Some("uint8"));
        assert_eq!(
            info.inputs[0].shape,
            vec![Some(1), Some(3), Some(112), Some(112)]
        );
        assert_eq!(info.outputs[0].name, "fc1_embedding");
        assert_eq!(info.outputs[0].shape, vec![Some(1), Some(512)]);
        assert_eq!(info.weights[0].name, "conv1_weight");
        assert_eq!(info.params, 64 * 27);
    }

    #[test]
    fn cvimodel_falls_back_to_strings() {
        let mut f = CVI_MAGIC.to_vec();
        f.extend_from_slice(&1000u32.to_le_bytes());
        f.extend_from_slice(&[0; 36]);
        f.extend_from_slice(b"\0\0face_detect_conv1\0\x01xy\0landmark_out\0");
        let info = parse(&f).unwrap();
        assert_eq!(info.format, Some(ModelFormat::Cvimodel));
        let names: Vec<&str> = info.weights.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["face_detect_conv1", "landmark_out"]);
        assert!(info.notes.iter().any(|n| n.contains("not read")));
    }

    #[test]
    fn reads_bmodel_flatbuffer() {
        let f = bmodel();
        assert!(looks_like(&f));
        let info = parse(&f).unwrap();
        assert_eq!(info.format, Some(ModelFormat::Bmodel));
        assert_eq!(
            info.facts.get("bmodel.chip").map(String::as_str),
            Some("BM1684X")
        );
        assert_eq!(info.inputs[0].name, "images");
        assert_eq!(info.inputs[0].dtype.as_deref(), Some("float32"));
        assert_eq!(
            info.inputs[0].shape,
            vec![Some(1), Some(3), Some(640), Some(640)]
        );
        assert_eq!(info.outputs[0].name, "face_landmarks");
        assert!(info
            .metadata
            .get("bmodel.net_names")
            .is_some_and(|n| n.starts_with("retinaface")));
    }

    #[test]
    fn bmodel_header_with_strings_is_opaque() {
        let mut f = BMODEL_MAGIC.to_le_bytes().to_vec();
        f.extend_from_slice(&64u32.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&[0; 52]);
        f.extend_from_slice(b"BM1684X\0\0yolov8_face\0");
        let info = parse(&f).unwrap();
        assert_eq!(info.format, Some(ModelFormat::Bmodel));
        assert!(info.weights.iter().any(|w| w.name == "yolov8_face"));
    }

    #[test]
    fn truncations_and_corruptions_never_panic() {
        for f in [rknn(), cvimodel(), bmodel()] {
            for cut in 0..f.len() {
                let _ = parse(&f[..cut]);
            }
            for i in 0..f.len() {
                for x in [0u8, 0xff, 0x7f, 0x80] {
                    let mut g = f.clone();
                    g[i] = x;
                    let _ = parse(&g);
                }
            }
        }
        assert!(parse(b"").is_err());
        assert!(parse(b"MNN?").is_err());
        assert!(!looks_like(b"\x00\x00\x00\x00"));
    }
}
