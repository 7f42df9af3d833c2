//! Keras HDF5 models (`.h5`): the HDF5 signature, and the `model_config` attribute — the
//! model's JSON architecture, stored as a string attribute of the root group — found by
//! scanning for its JSON (walking HDF5's B-trees is not needed for the architecture). Layer
//! classes become the op histogram; `batch_input_shape` the input; the last Dense `units` the head.

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo};
use serde_json::Value;

const SIG: &[u8] = b"\x89HDF\r\n\x1a\n";

/// Whether `bytes` are an HDF5 file (the Keras container).
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(SIG)
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
    if !looks_like(bytes) {
        return Err(ModelError::Invalid("keras: no HDF5 signature".into()));
    }
    let mut info = ModelInfo {
        format: Some(ModelFormat::Keras),
        ..Default::default()
    };
    let Some(at) = memchr::memmem::find(bytes, b"{\"class_name\"") else {
        info.notes
            .push("HDF5 file without a Keras model_config (weights only?)".into());
        return Ok(info);
    };
    let json = json_at(bytes, at)
        .ok_or_else(|| ModelError::Truncated("keras: model_config JSON".into()))?;
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
