//! Keras models, both containers:
//! - HDF5 (`.h5`, Keras 2 and `tf.keras`), read with [`super::hdf5`]: the root's
//!   `model_config` attribute (the model's JSON architecture) when the whole model was saved,
//!   and the layers' weights: the `layer_names` attribute (of the root for `save_weights`
//!   files, of `model_weights` for whole models) lists the layers in order, each layer group's
//!   `weight_names` its weights, each a dataset (Keras `legacy/hdf5_format.py`; attributes over
//!   HDF5's 64 KiB header limit are split as `layer_names0`, `layer_names1`, …). A file the
//!   HDF5 reader cannot walk falls back to finding the `model_config` JSON by scanning;
//! - the Keras 3 `.keras` zip: `config.json` (the same architecture JSON), `metadata.json` and
//!   `model.weights.h5` (Keras `saving_lib`).
//!
//! Layer classes become the op histogram; `batch_input_shape` (`batch_shape` in Keras 3) the
//! input; the last Dense `units` the head. A weights-only file has no architecture: the layer
//! classes come from the weights (a 4-D `kernel` is a Conv2D, a `depthwise_kernel` a
//! DepthwiseConv2D, `moving_mean` a BatchNormalization, a 2-D `kernel` a Dense) or, for layers
//! without weights, from Keras's automatic names (`global_average_pooling2d_1`), and the weight
//! shapes go to [`ModelInfo::weights`] for the weights-only rules of the classifier.

use super::hdf5::{AttrValue, Hdf5, Object};
use super::{ModelError, ModelFormat, ModelInfo, TensorInfo, WeightInfo, MAX_WEIGHTS_LISTED};
use serde_json::Value;
use std::collections::HashMap;

const SIG: &[u8] = super::hdf5::SIGNATURE;

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
        match read_hdf5(bytes, &mut info) {
            Ok(Some(c)) => {
                config = c;
                &config[..]
            }
            Ok(None) => return Ok(info),
            Err(e) => {
                info.notes.push(format!(
                    "{e}: the HDF5 tree was not walked; the architecture is looked for by scanning"
                ));
                let Some(at) = memchr::memmem::find(bytes, b"{\"class_name\"") else {
                    info.notes
                        .push("HDF5 file without a Keras model_config (weights only?)".into());
                    return Ok(info);
                };
                json_at(bytes, at)
                    .ok_or_else(|| ModelError::Truncated("keras: model_config JSON".into()))?
            }
        }
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

/// Walk a Keras HDF5 file: the layers' weights into `info` (and, for a weights-only file, the
/// op histogram), and the `model_config` JSON if the whole model was saved (`Ok(None)` for a
/// weights-only file, or an HDF5 file that is no Keras file). Errors: the HDF5 root cannot be
/// read.
fn read_hdf5(bytes: &[u8], info: &mut ModelInfo) -> Result<Option<Vec<u8>>, ModelError> {
    let f = Hdf5::open(bytes)?;
    let mut notes = Vec::new();
    let objects = f.objects(&mut notes)?;
    info.notes.extend(notes);
    let by_path: HashMap<&str, &Object> = objects.iter().map(|o| (o.path.as_str(), o)).collect();
    let config = model_config(&by_path).map(|s| s.as_bytes().to_vec());
    // The weights: under the root (`save_weights`) or `model_weights` (`save`).
    let (prefix, layers) = ["", "model_weights"]
        .iter()
        .find_map(|p| {
            let names = split_attribute(by_path.get(p)?, "layer_names");
            (!names.is_empty()).then_some((*p, names))
        })
        .unwrap_or(("", Vec::new()));
    let weights_only = config.is_none() && !layers.is_empty();
    for layer in layers.iter().take(100_000) {
        let group = join(prefix, layer);
        let weight_names = weight_names(&by_path, &group);
        let mut shapes = Vec::with_capacity(weight_names.len());
        for w in &weight_names {
            let Some(d) = by_path
                .get(join(&group, w).as_str())
                .and_then(|o| o.dataset.as_ref())
            else {
                continue;
            };
            let shape: Vec<i64> = d
                .shape
                .iter()
                .map(|&x| i64::try_from(x).unwrap_or(i64::MAX))
                .collect();
            let elements = shape
                .iter()
                .try_fold(1u64, |a, &x| a.checked_mul(x.max(0) as u64));
            info.params = info.params.saturating_add(elements.unwrap_or(u64::MAX));
            if info.weights.len() < MAX_WEIGHTS_LISTED {
                info.weights.push(WeightInfo {
                    name: format!("{layer}/{}", w.rsplit('/').next().unwrap_or(w)),
                    shape: shape.clone(),
                });
            }
            shapes.push((short_name(w).to_string(), shape));
        }
        if weights_only {
            if let Some(class) = layer_class(layer, &shapes) {
                *info.ops.entry(class).or_default() += 1;
            }
        }
    }
    if weights_only {
        info.facts
            .insert("keras.weights_only".into(), "true".into());
        info.notes.push(format!(
            "Keras weights only ({} layers): no architecture, no input size; layer classes from the weights",
            layers.len()
        ));
    } else if config.is_none() {
        info.notes
            .push("HDF5 file without a Keras model_config or layer list".into());
    }
    Ok(config)
}

/// The root's `model_config` attribute (the architecture JSON of a whole saved model), of a
/// Keras HDF5 file's objects by path.
pub fn model_config<'a>(by_path: &HashMap<&str, &'a Object>) -> Option<&'a str> {
    by_path
        .get("")
        .and_then(|root| root.attribute("model_config"))
        .and_then(AttrValue::as_str)
}

/// The `weight_names` of the layer group at `group` (whole or split), in order, as listed
/// (`conv2d_1/kernel:0`); each is a dataset at `group/<name>`. Empty without the group.
pub fn weight_names(by_path: &HashMap<&str, &Object>, group: &str) -> Vec<String> {
    by_path
        .get(group)
        .map(|g| split_attribute(g, "weight_names"))
        .unwrap_or_default()
}

/// A weight's short name: `conv2d_1/kernel:0` → `kernel`.
pub fn short_name(weight: &str) -> &str {
    weight
        .rsplit('/')
        .next()
        .unwrap_or(weight)
        .trim_end_matches(":0")
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// A string-list attribute, whole or split by Keras into `name0`, `name1`, … (its
/// `save_attributes_to_hdf5_group` splits one over HDF5's 64 KiB header limit).
fn split_attribute(o: &Object, name: &str) -> Vec<String> {
    let strings = |v: &AttrValue| match v {
        AttrValue::Strings(s) => s.clone(),
        _ => Vec::new(),
    };
    if let Some(v) = o.attribute(name) {
        return strings(v);
    }
    let mut out = Vec::new();
    for i in 0..1000 {
        match o.attribute(&format!("{name}{i}")) {
            Some(v) => out.extend(strings(v)),
            None => break,
        }
    }
    out
}

/// A weights-only layer's class: from its weights' names and shapes, else from Keras's automatic
/// name (`global_average_pooling2d_1` → `GlobalAveragePooling2D`); `None` for a custom name
/// without weights.
fn layer_class(layer: &str, weights: &[(String, Vec<i64>)]) -> Option<String> {
    let has = |n: &str| weights.iter().find(|(w, _)| w == n).map(|(_, s)| s.len());
    let class = if has("depthwise_kernel").is_some() {
        "DepthwiseConv2D"
    } else if has("recurrent_kernel").is_some() {
        "RNN"
    } else if let Some(rank) = has("kernel") {
        match rank {
            2 => "Dense",
            3 => "Conv1D",
            4 => "Conv2D",
            5 => "Conv3D",
            _ => "Layer",
        }
    } else if has("moving_mean").is_some() || has("gamma").is_some() {
        "BatchNormalization"
    } else if has("embeddings").is_some() {
        "Embedding"
    } else if has("alpha").is_some() {
        "PReLU"
    } else if !weights.is_empty() {
        "Layer"
    } else {
        // Keras names layers `<snake_case class>_<n>` unless told otherwise.
        let (stem, n) = layer.rsplit_once('_')?;
        if n.is_empty() || !n.bytes().all(|c| c.is_ascii_digit()) || stem.is_empty() {
            return None;
        }
        let camel: String = stem
            .split('_')
            .map(|part| {
                let mut c = part.chars();
                match c.next() {
                    Some(f) => {
                        f.to_ascii_uppercase().to_string()
                            + &c.as_str()
                                .replace("2d", "2D")
                                .replace("1d", "1D")
                                .replace("3d", "3D")
                    }
                    None => String::new(),
                }
            })
            .collect();
        return Some(if camel == "Input" {
            "InputLayer".into()
        } else {
            camel
        });
    };
    Some(class.to_string())
}
