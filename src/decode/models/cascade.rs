//! OpenCV cascade classifiers (XML, `opencv_storage`): feature type, window size, stage count.
//! The window is reported as the model's input `[1, 1, height, width]`.

use super::{ModelError, ModelFormat, ModelInfo, TensorInfo};

/// Whether `bytes` are an OpenCV cascade XML (`<opencv_storage>` with a cascade).
pub fn looks_like(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    memchr::memmem::find(head, b"<opencv_storage>").is_some()
        && (memchr::memmem::find(bytes, b"<stageType>").is_some()
            || memchr::memmem::find(bytes, b"<stages>").is_some())
}

fn tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(text[start..end].trim())
}

/// Parse a cascade: window size, stages, feature type. Errors say what is malformed.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let text = String::from_utf8_lossy(bytes);
    if !text.contains("<opencv_storage>") {
        return Err(ModelError::Invalid("cascade: no <opencv_storage>".into()));
    }
    let mut info = ModelInfo {
        format: Some(ModelFormat::OpencvCascade),
        ..Default::default()
    };
    let num = |n: &str| tag(&text, n).and_then(|v| v.parse::<i64>().ok());
    let (h, w) = (num("height"), num("width"));
    if let (Some(h), Some(w)) = (h, w) {
        if (1..=4096).contains(&h) && (1..=4096).contains(&w) {
            info.inputs.push(TensorInfo {
                name: "window".into(),
                shape: vec![Some(1), Some(1), Some(h), Some(w)],
                dtype: Some("uint8".into()),
            });
            info.facts
                .insert("cascade.window".into(), format!("{w}x{h}"));
        }
    }
    if let Some(f) = tag(&text, "featureType") {
        info.facts
            .insert("cascade.feature_type".into(), f.chars().take(16).collect());
    }
    if let Some(s) = num("stageNum") {
        info.facts.insert("cascade.stages".into(), s.to_string());
    }
    let weak = text.matches("<internalNodes>").count();
    info.params = weak as u64;
    info.ops
        .insert("weak_classifier".into(), weak.min(u32::MAX as usize) as u32);
    // The licence/comment header often names the object; weak evidence only.
    let comment = text.find("<!--").and_then(|s| {
        let body = text.get(s + 4..)?;
        body.find("-->").and_then(|e| body.get(..e))
    });
    if let Some(c) = comment {
        info.metadata
            .insert("comment".into(), c.trim().chars().take(400).collect());
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_found_comment_edge_does_not_panic() {
        // `<!-->`: the comment's end overlaps its start (found by the cascade fuzz target).
        let _ = parse(b"<opencv_storage><!-->x<stages></stages>");
        let _ = parse(b"<opencv_storage><!--");
    }
}
