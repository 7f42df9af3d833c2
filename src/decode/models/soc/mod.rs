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
use crate::decode::bytes::{le32, le64};
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
        || le32(bytes, 0) == Some(BMODEL_MAGIC)
}

/// Parse an RKNN, cvimodel or bmodel container, dispatching on its magic number. Whatever the
/// published layouts describe is read; the rest is reported as opaque in `notes`.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    if bytes.starts_with(RKNN_MAGIC) || bytes.starts_with(RKNN_CRYPT_MAGIC) {
        parse_rknn(bytes)
    } else if bytes.starts_with(CVI_MAGIC) {
        parse_cvimodel(bytes)
    } else if le32(bytes, 0) == Some(BMODEL_MAGIC) {
        parse_bmodel(bytes)
    } else {
        Err(ModelError::Invalid(
            "soc: no RKNN, CviModel or bmodel magic number".into(),
        ))
    }
}

fn dyn_shape(dims: &[i64]) -> Vec<Option<i64>> {
    dims.iter().map(|&d| (d >= 0).then_some(d)).collect()
}

// ---------------------------------------------------------------------------------------------
// Opaque fallback

/// Printable ASCII runs of at least 4 bytes in the first [`SCAN_REGION`] bytes of `region`,
/// unique, at most [`MAX_SCANNED`], as weights without shapes (names are weak evidence).
pub(super) fn scan_strings(info: &mut ModelInfo, region: &[u8], fmt: &str) {
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

mod flatbuf;
mod rknn;
mod sophgo;
#[cfg(test)]
mod tests;

use rknn::*;
use sophgo::*;
