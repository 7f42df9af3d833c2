//! Rockchip RKNN: the community-documented header and its model-info JSON.

use super::*;

// ---------------------------------------------------------------------------------------------
// RKNN

pub(super) fn rknn_json_by_layout(bytes: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let data_len = usize::try_from(le64(bytes, 16)?).ok()?;
    for header in [64usize, 24] {
        let Some(at) = header.checked_add(data_len) else {
            continue;
        };
        let Some(n) = le64(bytes, at) else { continue };
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

pub(super) const RKNN_KEYS: [&str; 8] = [
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
pub(super) fn rknn_json_by_search(bytes: &[u8]) -> Option<serde_json::Map<String, Value>> {
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

pub(super) fn json_shape(v: Option<&Value>) -> Vec<Option<i64>> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(MAX_DIMS)
                .map(|d| d.as_i64().filter(|d| *d >= 0))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn json_tensor(t: &Value) -> TensorInfo {
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

pub(super) fn fill_rknn(info: &mut ModelInfo, m: &serde_json::Map<String, Value>) {
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

pub(super) fn parse_rknn(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
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
    if let Some(v) = le64(bytes, 8) {
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
