//! Models shipped as JavaScript or JSON data in web packages: ccv / jsfeat BBF face cascades
//! (`{count, width, height, stage_classifier: [...]}`, Liu Liu's ccv format as embedded by
//! headtrackr, jquery.facedetection and jsfeat), clmtrackr's constrained local models
//! (`{scoring, patchModel: {numPatches, patchType}, shapeModel: {numPtsPerSample}}`), and
//! Jeeliz's WebGL networks (FaceFilter and its kin: strict JSON `{layers: [{type: "input",
//! preprocessing, size}, {size, sparsity, activation, connectivity}...], exportData:
//! {rotationEulerAnglesFactors, translationScalingFactors, nExpressions}}`, read as the
//! package's `neuralNets/*.json` lay it out).
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
    if !super::mostly_text(bytes) {
        return false;
    }
    let h = head(bytes);
    memchr::memmem::find(h, b"stage_classifier").is_some()
        || memchr::memmem::find(h, b"patchModel").is_some()
        || looks_like_jeeliz(start)
}

/// A Jeeliz network: JSON whose first layer is an input with a `preprocessing` shader.
fn looks_like_jeeliz(start: &[u8]) -> bool {
    start.starts_with(b"{\"layers\":[")
        && memchr::memmem::find(start, b"\"preprocessing\"").is_some()
        && memchr::memmem::find(start, b"\"sparsity\"").is_some()
}

/// Largest Jeeliz network parsed.
const MAX_JEELIZ: usize = 64 << 20;

/// The sizes, activations and export data of a Jeeliz network.
fn parse_jeeliz(bytes: &[u8], info: &mut ModelInfo) -> Result<(), ModelError> {
    use serde_json::Value;
    if bytes.len() > MAX_JEELIZ {
        return Err(ModelError::TooLarge(format!(
            "jeeliz network of {} bytes",
            bytes.len()
        )));
    }
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ModelError::Invalid(format!("jeeliz network: {e}")))?;
    let layers = v
        .get("layers")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| ModelError::Invalid("jeeliz network without layers".into()))?;
    let size = |l: &Value| l.get("size").and_then(Value::as_i64);
    let input = layers.first().and_then(size).unwrap_or(0);
    let output = layers.last().and_then(size).unwrap_or(0);
    info.facts.insert("jeeliz.input".into(), input.to_string());
    info.facts
        .insert("jeeliz.output".into(), output.to_string());
    info.facts
        .insert("jeeliz.layers".into(), layers.len().to_string());
    for l in layers.iter().skip(1).take(10_000) {
        let act = l.get("activation").and_then(Value::as_str).unwrap_or("?");
        *info
            .ops
            .entry(format!(
                "sparse_dense:{}",
                act.chars().take(32).collect::<String>()
            ))
            .or_default() += 1;
    }
    let export = v.get("exportData");
    if export
        .and_then(|e| e.get("rotationEulerAnglesFactors"))
        .is_some()
    {
        info.facts.insert("jeeliz.head_pose".into(), "true".into());
    }
    if let Some(n) = export
        .and_then(|e| e.get("nExpressions"))
        .and_then(Value::as_i64)
    {
        info.facts
            .insert("jeeliz.expressions".into(), n.to_string());
    }
    info.notes
        .push("Jeeliz WebGL network (JSON layers with sparse connectivity)".into());
    Ok(())
}

/// Read a ccv cascade or a clmtrackr model.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let h = head(bytes);
    let k = keys();
    let mut info = ModelInfo {
        format: Some(ModelFormat::JsEmbedded),
        ..Default::default()
    };
    if looks_like_jeeliz(&h[..h.len().min(4096)]) {
        parse_jeeliz(bytes, &mut info)?;
        return Ok(info);
    }
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

    #[test]
    fn jeeliz_networks() {
        let nn = br#"{"layers":[{"preprocessing":"inputMix0","size":64,"type":"input","index":0},{"size":128,"sparsity":8,"activation":"arctan"},{"size":4,"sparsity":16,"activation":"copy"}],"exportData":{"rotationEulerAnglesFactors":[0.6,1.0,0.1],"translationScalingFactors":[0.2,0.2,0.3],"nExpressions":1}}"#;
        assert!(looks_like(nn));
        let i = parse(nn).unwrap();
        assert_eq!(i.facts["jeeliz.input"], "64");
        assert_eq!(i.facts["jeeliz.output"], "4");
        assert_eq!(i.facts["jeeliz.head_pose"], "true");
        assert_eq!(i.ops["sparse_dense:arctan"], 1);
        assert!(!looks_like(br#"{"layers":[{"type":"dense"}]}"#));
        for cut in 0..nn.len() {
            let _ = parse(&nn[..cut]);
        }
    }
}
