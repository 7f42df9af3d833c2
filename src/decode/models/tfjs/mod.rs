//! TensorFlow.js models: `model.json` (graph or layers model, with a weights manifest) and bare
//! weight manifests (a JSON array of `{paths, weights}` groups, as face-api.js ships). Input and
//! output shapes come from the signature or the graph's placeholders; weights from the manifest.
//! The `.bin` shards are not needed for structure.

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo, WeightInfo, MAX_WEIGHTS_LISTED};
use serde_json::Value;

pub mod faceapi;
pub mod graph;

const MAX_JSON: usize = 64 * 1024 * 1024;

/// A JSON document with a TF.js weights manifest.
pub fn looks_like(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let s = String::from_utf8_lossy(head);
    let t = s.trim_start();
    (t.starts_with('{') && (s.contains("\"weightsManifest\"") || s.contains("\"modelTopology\"")))
        || (t.starts_with('[')
            && s.contains("\"weights\"")
            && memchr::memmem::find(bytes, b"\"paths\"").is_some())
}

fn dims(v: &Value) -> Vec<Option<i64>> {
    v.get("dim")
        .and_then(Value::as_array)
        .map(|d| {
            d.iter()
                .take(16)
                .map(|x| {
                    let n = x
                        .get("size")
                        .and_then(|s| {
                            s.as_str()
                                .and_then(|s| s.parse().ok())
                                .or_else(|| s.as_i64())
                        })
                        .unwrap_or(-1);
                    (n >= 0).then_some(n)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn manifest(groups: &[Value], info: &mut ModelInfo) -> Result<(), ModelError> {
    let mut names = std::collections::HashSet::new();
    let mut fc_width = None;
    for g in groups {
        for w in g
            .get("weights")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let shape: Vec<i64> = w
                .get("shape")
                .and_then(Value::as_array)
                .map(|s| s.iter().take(16).filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            let name = w.get("name").and_then(Value::as_str).unwrap_or("");
            info.count_params(name, &shape)?;
            if name == faceapi::CLASSIFIER {
                fc_width = shape.get(1).and_then(|&d| usize::try_from(d).ok());
            }
            names.insert(name.to_string());
            if info.weights.len() < MAX_WEIGHTS_LISTED {
                info.weights.push(WeightInfo {
                    name: name.to_string(),
                    shape,
                });
            }
        }
    }
    if let Some(net) = faceapi::recognise(|n| names.contains(n), names.len(), fc_width) {
        info.facts.insert(faceapi::FACT.into(), net.as_str().into());
    }
    Ok(())
}

/// Parse a TF.js `model.json` (graph or layers model) or a bare weights manifest.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    if bytes.len() > MAX_JSON {
        return Err(ModelError::TooLarge(format!(
            "tfjs: {} bytes of JSON",
            bytes.len()
        )));
    }
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| ModelError::Invalid(format!("tfjs: {e}")))?;
    let mut info = ModelInfo {
        format: Some(ModelFormat::Tfjs),
        ..Default::default()
    };
    match &v {
        Value::Array(groups) => {
            info.notes.push(
                "weights manifest only: no graph, classified by weight names and shapes".into(),
            );
            manifest(groups, &mut info)?;
        }
        Value::Object(m) => {
            for k in ["format", "generatedBy", "convertedBy"] {
                if let Some(s) = m.get(k).and_then(Value::as_str) {
                    info.metadata
                        .insert(k.into(), s.chars().take(200).collect());
                }
            }
            if let Some(groups) = m.get("weightsManifest").and_then(Value::as_array) {
                manifest(groups, &mut info)?;
            }
            let topo = m.get("modelTopology");
            let nodes = topo.and_then(|t| t.get("node")).and_then(Value::as_array);
            for n in nodes.into_iter().flatten().take(500_000) {
                let op = n.get("op").and_then(Value::as_str).unwrap_or("?");
                *info.ops.entry(op.to_string()).or_default() += 1;
            }
            let sig = m.get("signature");
            for (key, list) in [("inputs", &mut info.inputs), ("outputs", &mut info.outputs)] {
                if let Some(obj) = sig.and_then(|s| s.get(key)).and_then(Value::as_object) {
                    for (name, t) in obj.iter().take(64) {
                        list.push(TensorInfo {
                            name: name.clone(),
                            shape: t.get("tensorShape").map(dims).unwrap_or_default(),
                            dtype: t.get("dtype").and_then(Value::as_str).map(str::to_string),
                        });
                    }
                }
            }
            if info.inputs.is_empty() {
                for n in nodes.into_iter().flatten() {
                    if n.get("op").and_then(Value::as_str) == Some("Placeholder") {
                        info.inputs.push(TensorInfo {
                            name: n.get("name").and_then(Value::as_str).unwrap_or("").into(),
                            shape: n.pointer("/attr/shape/shape").map(dims).unwrap_or_default(),
                            dtype: None,
                        });
                    }
                }
            }
            // Layers models (Keras JSON): layer classes as ops, batch_input_shape as input.
            if let Some(layers) = topo
                .and_then(|t| t.pointer("/model_config/config/layers"))
                .and_then(Value::as_array)
            {
                for l in layers.iter().take(100_000) {
                    let class = l.get("class_name").and_then(Value::as_str).unwrap_or("?");
                    *info.ops.entry(class.to_string()).or_default() += 1;
                    info.inputs.extend(super::keras_input(l));
                }
            }
        }
        _ => {
            return Err(ModelError::Invalid(
                "tfjs: not a JSON object or array".into(),
            ))
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_and_graph_model() {
        let m = br#"[{"paths":["a.bin"],"weights":[{"name":"fc/weights","shape":[128,136],"dtype":"float32"}]}]"#;
        assert!(looks_like(m));
        let i = parse(m).unwrap();
        assert_eq!(i.weights[0].shape, vec![128, 136]);
        let g = br#"{"format":"graph-model","modelTopology":{"node":[{"name":"x","op":"Placeholder","attr":{"shape":{"shape":{"dim":[{"size":"-1"},{"size":"112"},{"size":"112"},{"size":"3"}]}}}},{"name":"y","op":"Conv2D"}]},"weightsManifest":[]}"#;
        let i = parse(g).unwrap();
        assert_eq!(i.inputs[0].shape, vec![None, Some(112), Some(112), Some(3)]);
        assert_eq!(i.ops.get("Conv2D"), Some(&1));
        assert!(parse(b"{not json").is_err());
    }
}
