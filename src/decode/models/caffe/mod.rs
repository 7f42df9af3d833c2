//! Caffe models: the `.prototxt` network description (layer types, `input_shape`/`input_dim`) and
//! the binary `.caffemodel` (a `NetParameter` protobuf: layer names and types, field 100, or the
//! legacy field 2 `V1LayerParameter`).

pub mod net;

use super::protobuf::{Reader, Value};
use super::{ModelError, ModelFormat, ModelInfo, TensorInfo};

/// Whether `bytes` read like a Caffe prototxt (`layer {` / `input:` text).
pub fn looks_like_prototxt(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(8192)]);
    (head.contains("layer {") || head.contains("layers {") || head.contains("layer{"))
        && (head.contains("type:") && (head.contains("bottom:") || head.contains("top:")))
}

/// A NetParameter: a name and the net-level fields (1, 3–8) then layers (field 100) whose
/// field 2 is a type string.
pub fn looks_like_caffemodel(bytes: &[u8]) -> bool {
    let mut r = Reader::new(bytes);
    let mut saw_layer = false;
    for _ in 0..4 {
        match r.next_field() {
            Ok(Some((100, Value::Bytes(l)))) => {
                let mut lr = Reader::new(l);
                for _ in 0..4 {
                    if let Ok(Some((2, Value::Bytes(t)))) = lr.next_field() {
                        saw_layer = !t.is_empty()
                            && t.len() < 64
                            && t.iter().all(|c| c.is_ascii_alphanumeric());
                        break;
                    }
                }
                break;
            }
            // name, input, input_dim, force_backward, state, debug_info, input_shape.
            Ok(Some((1 | 3..=8, _))) => {}
            _ => break,
        }
    }
    saw_layer
}

/// Parse a prototxt or caffemodel. Errors say what is malformed.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let mut info = ModelInfo {
        format: Some(ModelFormat::Caffe),
        ..Default::default()
    };
    if looks_like_prototxt(bytes) {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(16 << 20)]);
        // Values after `key:` anywhere in the text (prototxt allows one line or many).
        let values = |t: &str, key: &str| -> Vec<String> {
            t.match_indices(key)
                .take(500_000)
                .filter_map(|(i, _)| {
                    let v = t.get(i + key.len()..)?.trim_start();
                    let end = v
                        .find(|c: char| c.is_whitespace() || c == '}')
                        .unwrap_or(v.len());
                    Some(v[..end].trim_matches('"').to_string())
                })
                .collect()
        };
        let first_layer = text.find("layer").unwrap_or(text.len());
        let head = &text[..first_layer];
        let dims: Vec<Option<i64>> = values(head, "dim:")
            .iter()
            .take(8)
            .map(|d| d.parse::<i64>().ok())
            .collect();
        for t in values(&text[first_layer..], "type:") {
            *info.ops.entry(t).or_default() += 1;
        }
        let last_out = values(&text, "num_output:")
            .last()
            .and_then(|n| n.parse::<i64>().ok());
        if !dims.is_empty() {
            info.inputs.push(TensorInfo {
                name: "data".into(),
                shape: dims,
                dtype: None,
            });
        }
        if let Some(d) = last_out {
            info.outputs.push(TensorInfo {
                name: "last".into(),
                shape: vec![Some(1), Some(d)],
                dtype: None,
            });
            info.notes
                .push("output width read from the last num_output".into());
        }
        return Ok(info);
    }
    let mut r = Reader::new(bytes);
    let mut layers = 0;
    while let Some((f, v)) = r.next_field()? {
        if let (100 | 2, Value::Bytes(l)) = (f, v) {
            layers += 1;
            let type_field = if f == 100 { 2 } else { 5 };
            let mut lr = Reader::new(l);
            while let Ok(Some((lf, lv))) = lr.next_field() {
                if lf == type_field {
                    let t = match lv {
                        Value::Bytes(t) => {
                            String::from_utf8_lossy(&t[..t.len().min(64)]).into_owned()
                        }
                        Value::Varint(v) => format!("V1:{v}"),
                        _ => continue,
                    };
                    *info.ops.entry(t).or_default() += 1;
                    break;
                }
            }
            if layers > 100_000 {
                break;
            }
        }
    }
    if layers == 0 {
        return Err(ModelError::Invalid("caffe: no layers".into()));
    }
    info.notes
        .push("caffemodel: layer types only (shapes are in the prototxt)".into());
    Ok(info)
}
