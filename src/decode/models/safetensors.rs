//! Hugging Face safetensors: a little-endian `u64` header length `N`, `N` bytes of JSON
//! (`{"__metadata__": {str: str}, "<tensor>": {"dtype", "shape", "data_offsets": [b, e]}}`),
//! then the raw tensor data. The whole layout is public and read here: every tensor's name,
//! dtype and shape (as weights, in data order), the parameter count and the string metadata.
//! The format is weights-only, so no inputs or outputs are reported. Tensor data is never read,
//! only its offsets checked against the data section.

use super::{ModelError, ModelFormat, ModelInfo, WeightInfo, MAX_WEIGHTS_LISTED};
use serde_json::Value;
use std::collections::BTreeSet;

/// Largest JSON header accepted (the reference implementation's own limit).
const MAX_HEADER: u64 = 100_000_000;
/// Longest metadata key or value kept, in characters.
const MAX_META_CHARS: usize = 512;
/// Most metadata entries kept.
const MAX_META: usize = 64;
/// Most dimensions accepted in one tensor's shape.
const MAX_DIMS: usize = 64;

fn bad(what: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid(format!("safetensors: {what}"))
}

fn short(s: &str) -> String {
    s.chars().take(MAX_META_CHARS).collect()
}

/// The declared header length, when the first 8 bytes hold one.
fn header_len(bytes: &[u8]) -> Option<u64> {
    let b = bytes.get(..8)?;
    Some(u64::from_le_bytes([
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
    ]))
}

/// Cheap content test: a plausible header length (2 ≤ N ≤ 100 MB, within the file) followed by
/// a header that starts with `{`.
pub fn looks_like(bytes: &[u8]) -> bool {
    let Some(n) = header_len(bytes) else {
        return false;
    };
    (2..=MAX_HEADER).contains(&n)
        && 8u64.saturating_add(n) <= bytes.len() as u64
        && bytes.get(8) == Some(&b'{')
}

/// Parse a safetensors file: tensors as weights ordered by data offset, parameter count,
/// `__metadata__` strings as `meta.<key>`. Offsets outside the data section, or an end before
/// a begin, are errors.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let n = header_len(bytes)
        .ok_or_else(|| ModelError::Truncated("safetensors: no 8-byte header length".into()))?;
    if n > MAX_HEADER {
        return Err(ModelError::TooLarge(format!(
            "safetensors: header of {n} bytes"
        )));
    }
    // n ≤ 100 MB, so it fits usize.
    let n = usize::try_from(n).map_err(|_| bad("header length"))?;
    let header = 8usize
        .checked_add(n)
        .and_then(|end| bytes.get(8..end))
        .ok_or_else(|| {
            ModelError::Truncated(format!(
                "safetensors: header of {n} bytes, file of {}",
                bytes.len()
            ))
        })?;
    let data_len = (bytes.len() - 8 - n) as u64;
    let json: Value =
        serde_json::from_slice(header).map_err(|e| bad(format!("header JSON: {e}")))?;
    let Value::Object(map) = json else {
        return Err(bad("header is not a JSON object"));
    };

    let mut info = ModelInfo {
        format: Some(ModelFormat::Safetensors),
        ..Default::default()
    };
    // (begin, name, shape)
    let mut tensors: Vec<(u64, String, Vec<i64>)> = Vec::new();
    let mut dtypes = BTreeSet::new();
    for (name, v) in &map {
        if name == "__metadata__" {
            match v {
                Value::Object(meta) => {
                    let mut kept = 0;
                    for (k, val) in meta {
                        let Value::String(s) = val else { continue };
                        if kept == MAX_META {
                            info.notes.push(format!(
                                "safetensors: only the first {MAX_META} metadata entries kept"
                            ));
                            break;
                        }
                        info.metadata.insert(format!("meta.{}", short(k)), short(s));
                        kept += 1;
                    }
                }
                _ => info
                    .notes
                    .push("safetensors: __metadata__ is not an object; ignored".into()),
            }
            continue;
        }
        let shown = short(name);
        let t = v
            .as_object()
            .ok_or_else(|| bad(format!("tensor `{shown}` is not an object")))?;
        let dtype = t
            .get("dtype")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("tensor `{shown}` has no dtype")))?;
        if dtypes.len() < 32 {
            dtypes.insert(short(dtype));
        }
        let dims = t
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("tensor `{shown}` has no shape")))?;
        if dims.len() > MAX_DIMS {
            return Err(ModelError::TooLarge(format!(
                "safetensors: tensor `{shown}` has {} dimensions",
                dims.len()
            )));
        }
        let shape = dims
            .iter()
            .map(|d| {
                d.as_u64()
                    .and_then(|d| i64::try_from(d).ok())
                    .ok_or_else(|| bad(format!("tensor `{shown}`: bad dimension {d}")))
            })
            .collect::<Result<Vec<i64>, _>>()?;
        let offs = t
            .get("data_offsets")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("tensor `{shown}` has no data_offsets")))?;
        let [b, e] = offs.as_slice() else {
            return Err(bad(format!(
                "tensor `{shown}`: data_offsets is not [begin, end]"
            )));
        };
        let (Some(b), Some(e)) = (b.as_u64(), e.as_u64()) else {
            return Err(bad(format!(
                "tensor `{shown}`: data_offsets are not integers"
            )));
        };
        if e < b {
            return Err(bad(format!(
                "tensor `{shown}`: data_offsets end {e} before begin {b}"
            )));
        }
        if e > data_len {
            return Err(bad(format!(
                "tensor `{shown}`: data_offsets end {e} past the data section of {data_len} bytes"
            )));
        }
        info.count_params(name, &shape)?;
        tensors.push((b, name.clone(), shape));
    }
    // File (data) order ≈ layer order; names break ties for zero-sized tensors.
    tensors.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let total = tensors.len();
    info.facts
        .insert("safetensors.tensors".into(), total.to_string());
    if !dtypes.is_empty() {
        info.facts.insert(
            "safetensors.dtypes".into(),
            dtypes.into_iter().collect::<Vec<_>>().join(","),
        );
    }
    if total > MAX_WEIGHTS_LISTED {
        info.notes.push(format!(
            "safetensors: {total} tensors, only the first {MAX_WEIGHTS_LISTED} listed"
        ));
    }
    info.weights = tensors
        .into_iter()
        .take(MAX_WEIGHTS_LISTED)
        .map(|(_, name, shape)| WeightInfo { name, shape })
        .collect();
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.resize(v.len() + data, 0);
        v
    }

    #[test]
    fn reads_tensors_in_data_order_with_metadata() {
        let h = r#"{"__metadata__":{"format":"pt","n":"1"},
            "b.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[16,40]},
            "a.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
        let f = file(h, 40);
        assert!(looks_like(&f));
        let info = parse(&f).unwrap();
        assert_eq!(info.format, Some(ModelFormat::Safetensors));
        assert_eq!(info.weights.len(), 2);
        assert_eq!(info.weights[0].name, "a.weight");
        assert_eq!(info.weights[1].shape, vec![2, 3]);
        assert_eq!(info.params, 10);
        assert_eq!(
            info.metadata.get("meta.format").map(String::as_str),
            Some("pt")
        );
        assert!(info.inputs.is_empty() && info.outputs.is_empty());
    }

    #[test]
    fn rejects_bad_offsets() {
        let h = r#"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
        assert!(parse(&file(h, 8)).is_err());
        let h = r#"{"t":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}}"#;
        assert!(parse(&file(h, 16)).is_err());
        let h = r#"{"t":{"dtype":"F32","shape":[-4],"data_offsets":[0,0]}}"#;
        assert!(parse(&file(h, 0)).is_err());
    }

    #[test]
    fn truncations_and_garbage_are_errors() {
        let h = r#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        let f = file(h, 4);
        assert!(parse(&f).is_ok());
        for cut in 0..f.len() {
            assert!(parse(&f[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.push(b'{');
        assert!(!looks_like(&huge));
        assert!(parse(&huge).is_err());
        assert!(!looks_like(b"\x01\0\0\0\0\0\0\0{"));
    }
}
