//! OpenVINO IR (`.xml`): layer types, `Parameter` input shapes and the shapes feeding `Result`
//! layers. The `.bin` weights are not needed for structure; the probe's converter reads them
//! (the whole graph: [`graph`]).

pub mod graph;

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo};

/// The fact naming an IR's weights file (`face_detection.xml` → `face_detection.bin`: the IR
/// names no file, OpenVINO's reader looks for the `.bin` of the same stem).
pub const WEIGHTS_FACT: &str = "openvino.weights";

/// The weights file of the IR named `xml_name`, by OpenVINO's rule (the same stem, `.bin`).
pub fn weights_name(xml_name: &str) -> Option<String> {
    let base = xml_name.rsplit(['/', '!']).next().unwrap_or(xml_name);
    let cut = base.len().checked_sub(4)?;
    let (stem, ext) = (base.get(..cut)?, base.get(cut..)?);
    (ext.eq_ignore_ascii_case(".xml") && !stem.is_empty()).then(|| format!("{stem}.bin"))
}

/// Whether `bytes` are an OpenVINO IR XML (`<net` with layers).
pub fn looks_like(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    memchr::memmem::find(head, b"<net ").is_some()
        && memchr::memmem::find(bytes, b"<layers>").is_some()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag.get(start..)?.find('"')? + start;
    tag.get(start..end)
}

fn dims(shape: &str) -> Vec<Option<i64>> {
    shape
        .split(',')
        .take(16)
        .map(|d| d.trim().parse::<i64>().ok().filter(|v| *v >= 0))
        .collect()
}

/// Parse an OpenVINO IR: layers, ports and their shapes.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 << 20)]);
    if !text.contains("<net ") {
        return Err(ModelError::Invalid("openvino: no <net> element".into()));
    }
    let mut info = ModelInfo {
        format: Some(ModelFormat::Openvino),
        ..Default::default()
    };
    if let Some(net) = text.find("<net ").and_then(|s| {
        text.get(s..)
            .and_then(|t| t.split_once('>'))
            .map(|(t, _)| t)
    }) {
        if let Some(n) = attr(net, "name") {
            info.metadata
                .insert("name".into(), n.chars().take(200).collect());
        }
    }
    // Each <layer ...> ... </layer> block.
    let mut rest = text.as_ref();
    let mut count = 0;
    while let Some(start) = rest.find("<layer ") {
        count += 1;
        if count > 200_000 {
            break;
        }
        let block_end = rest[start..]
            .find("</layer>")
            .map_or(rest.len(), |e| start + e);
        let block = &rest[start..block_end];
        let tag = block.split_once('>').map_or(block, |(t, _)| t);
        let kind = attr(tag, "type").unwrap_or("?");
        *info.ops.entry(kind.to_string()).or_default() += 1;
        let shape_of_port = |section: &str| -> Vec<Option<i64>> {
            block
                .find(section)
                .and_then(|s| block.get(s..))
                .map(|b| {
                    let mut d = Vec::new();
                    let mut r = b;
                    while let Some(i) = r.find("<dim>") {
                        let after = &r[i + 5..];
                        let Some(e) = after.find("</dim>") else { break };
                        d.push(after[..e].trim().parse::<i64>().ok().filter(|v| *v >= 0));
                        r = &after[e..];
                        if r.trim_start().starts_with("</port>") || d.len() >= 16 {
                            break;
                        }
                        if let Some(p) = r.find("</port>") {
                            if r.find("<dim>").is_none_or(|n| n > p) {
                                break;
                            }
                        }
                    }
                    d
                })
                .unwrap_or_default()
        };
        let name = attr(tag, "name").unwrap_or("").to_string();
        match kind {
            "Parameter" => {
                let shape = block
                    .find("<data ")
                    .and_then(|s| attr(&block[s..], "shape"))
                    .map(dims)
                    .unwrap_or_else(|| shape_of_port("<output>"));
                info.inputs.push(TensorInfo {
                    name,
                    shape,
                    dtype: None,
                });
            }
            "Result" => info.outputs.push(TensorInfo {
                name,
                shape: shape_of_port("<input>"),
                dtype: None,
            }),
            _ => {}
        }
        rest = &rest[block_end..];
    }
    if count == 0 {
        return Err(ModelError::Invalid("openvino: no layers".into()));
    }
    Ok(info)
}
