//! Keras models, both containers:
//! - HDF5 (`.h5`, Keras 2): the HDF5 signature, and the `model_config` attribute — the model's
//!   JSON architecture, stored as a string attribute of the root group — found by scanning for
//!   its JSON (walking HDF5's B-trees is not needed for the architecture);
//! - the Keras 3 `.keras` zip: `config.json` (the same architecture JSON), `metadata.json` and
//!   `model.weights.h5` (Keras `saving_lib`).
//!
//! Layer classes become the op histogram; `batch_input_shape` (`batch_shape` in Keras 3) the
//! input; the last Dense `units` the head.

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo};
use serde_json::Value;

const SIG: &[u8] = b"\x89HDF\r\n\x1a\n";

/// Largest `config.json` read from a `.keras` zip.
const MAX_CONFIG: u64 = 32 << 20;

/// Whether `bytes` are an HDF5 file or a Keras 3 zip (its `config.json` and
/// `metadata.json` named in the first local headers).
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(SIG) || looks_like_zip(bytes)
}

fn looks_like_zip(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1 << 16)];
    bytes.starts_with(b"PK\x03\x04")
        && memchr::memmem::find(head, b"config.json").is_some()
        && (memchr::memmem::find(head, b"metadata.json").is_some()
            || memchr::memmem::find(head, b"keras_version").is_some())
}

/// `config.json` of a `.keras` zip. Errors: not a zip, no or oversized `config.json`.
fn zip_config(bytes: &[u8]) -> Result<Vec<u8>, ModelError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| ModelError::Invalid(format!("keras: zip: {e}")))?;
    super::zip_entry(&mut zip, "config.json", MAX_CONFIG, "keras")
}

/// The balanced JSON object starting at `start`.
fn json_at(b: &[u8], start: usize) -> Option<&[u8]> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    for (i, &c) in b.get(start..)?.iter().enumerate().take(32 << 20) {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return b.get(start..start + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Parse a Keras HDF5 model: layer config and weight shapes. Errors say what is malformed.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let mut info = ModelInfo {
        format: Some(ModelFormat::Keras),
        ..Default::default()
    };
    let config;
    let json = if bytes.starts_with(SIG) {
        let Some(at) = memchr::memmem::find(bytes, b"{\"class_name\"") else {
            info.notes
                .push("HDF5 file without a Keras model_config (weights only?)".into());
            return Ok(info);
        };
        json_at(bytes, at)
            .ok_or_else(|| ModelError::Truncated("keras: model_config JSON".into()))?
    } else if bytes.starts_with(b"PK\x03\x04") {
        info.facts
            .insert("keras.container".into(), "keras-zip".into());
        config = zip_config(bytes)?;
        &config[..]
    } else {
        return Err(ModelError::Invalid(
            "keras: neither HDF5 nor a .keras zip".into(),
        ));
    };
    let v: Value = serde_json::from_slice(json)
        .map_err(|e| ModelError::Invalid(format!("keras: model_config: {e}")))?;
    let layers = v.pointer("/config/layers").and_then(Value::as_array);
    let mut last_units = None;
    for l in layers.into_iter().flatten().take(100_000) {
        let class = l.get("class_name").and_then(Value::as_str).unwrap_or("?");
        *info.ops.entry(class.to_string()).or_default() += 1;
        info.inputs.extend(super::keras_input(l));
        if let Some(u) = l.pointer("/config/units").and_then(Value::as_i64) {
            last_units = Some((
                u,
                l.pointer("/config/activation")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ));
        }
    }
    if let Some((u, act)) = last_units {
        info.outputs.push(TensorInfo {
            name: "last".into(),
            shape: vec![None, Some(u)],
            dtype: None,
        });
        if act == "softmax" {
            info.ops.entry("Softmax".into()).or_insert(1);
        }
    }
    Ok(info)
}
