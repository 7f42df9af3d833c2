//! Dahua CGI event text: attach-stream records `Code=X;action=Y;index=N;data={json}` and
//! key=value dumps `Events[0].EventBaseInfo.Code=X`.
//!
//! Emits (`proto = "dahua"`): `code`, `action`, `field` (key names of the data JSON, bare and as
//! dotted paths — `Age` and `Object.Age` — and dump keys with indices and the `Events.` prefix
//! stripped, which are dotted already), and `class` (the value of a `Class` key, an
//! enumeration such as `FaceRecognition` or `HumanTrait`). No other value is ever emitted.
//! Source: Dahua HTTP API (eventManager attach, `data=` JSON; SIGNATURES.md §2).

use super::json::{self, scalar, walk_paths};
use super::Sink;

const P: &str = "dahua";
/// Most records/lines looked at per body.
const MAX_LINES: usize = 10_000;

pub fn decode_text(body: &[u8], sink: &mut Sink<'_, '_>) {
    let text = String::from_utf8_lossy(body);
    // Records start at a line beginning with `Code=`; a data JSON may span several lines, so
    // gather lines until the next record or dump line.
    let mut record: Option<String> = None;
    for line in text.lines().take(MAX_LINES) {
        let t = line.trim();
        if t.starts_with("Code=") {
            if let Some(r) = record.take() {
                decode_record(&r, sink);
            }
            record = Some(t.to_string());
        } else if is_dump_line(t) {
            if let Some(r) = record.take() {
                decode_record(&r, sink);
            }
            decode_dump_line(t, sink);
        } else if let Some(r) = record.as_mut() {
            if r.len() < super::MAX_DOC {
                r.push('\n');
                r.push_str(t);
            }
        }
    }
    if let Some(r) = record.take() {
        decode_record(&r, sink);
    }
}

fn is_dump_line(t: &str) -> bool {
    t.starts_with("Events[") || t.starts_with("Events.") || t.starts_with("table.")
}

/// Keys of a face object that carry an estimate about the person (Dahua HTTP API, face
/// detection/recognition event `Object`/`Face`: Age, Sex, Emotion, Glass, Beard, Mask...).
const ATTRIBUTES: &[&str] = &[
    "Age",
    "Sex",
    "Emotion",
    "Glass",
    "Beard",
    "Mask",
    "Race",
    "Attractive",
];

/// Whether an attribute value is an estimate rather than the firmware's "not estimated" default
/// (0, empty, `Unknown`). The value itself is never emitted.
fn estimated(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|x| x > 0.0),
        serde_json::Value::String(s) => {
            let s = s.trim();
            !s.is_empty() && !s.eq_ignore_ascii_case("unknown") && s != "0"
        }
        _ => false,
    }
}

/// `Code=FaceRecognition;action=Start;index=0;data={...}`
fn decode_record(r: &str, sink: &mut Sink<'_, '_>) {
    let (head, data) = match r.find(";data=") {
        Some(i) => (&r[..i], r.get(i + 6..)),
        None => (r, None),
    };
    for kv in head.split(';') {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        match k.trim() {
            "Code" => sink.emit_enum(P, "code", v),
            "action" => sink.emit_enum(P, "action", v),
            _ => {}
        }
    }
    if let Some(data) = data {
        if let Some(v) = json::parse(data.trim().as_bytes()) {
            walk_paths(&v, &mut |path, k, x| {
                sink.emit(P, "field", k);
                if path != k {
                    sink.emit(P, "field", path);
                }
                if k == "Class" {
                    if let Some(c) = scalar(x) {
                        sink.emit_enum(P, "class", &c);
                    }
                }
                if ATTRIBUTES.contains(&k) && estimated(x) {
                    sink.emit(P, "attribute", k);
                }
            });
        }
    }
}

/// `Events[0].Candidates[0].Person.Name=...` → field `Candidates.Person.Name`.
fn decode_dump_line(t: &str, sink: &mut Sink<'_, '_>) {
    let Some((key, value)) = t.split_once('=') else {
        return;
    };
    let stripped = strip_indices(key.trim());
    let mut path = stripped.as_str();
    path = path.strip_prefix("table.").unwrap_or(path);
    path = path.strip_prefix("Events.").unwrap_or(path);
    if path == "Code" || path == "EventBaseInfo.Code" {
        sink.emit_enum(P, "code", value);
    }
    if path == "Action" || path == "EventBaseInfo.Action" {
        sink.emit_enum(P, "action", value);
    }
    if path.ends_with("Class") {
        sink.emit_enum(P, "class", value);
    }
    sink.emit(P, "field", path);
}

fn strip_indices(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut depth = 0usize;
    for c in key.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn face_recognition_record() {
        let b = b"Code=FaceRecognition;action=Start;index=0;data={\n   \"Candidates\" : [ { \"Person\" : { \"Name\" : \"Jane Doe\", \"ID\" : \"7\" }, \"Similarity\" : 94 } ],\n   \"Face\" : { \"BoundingBox\" : [1,2,3,4] }\n}\n";
        let o = body(Some("text/plain"), b);
        assert!(has(&o, "dahua", "code", "FaceRecognition"));
        assert!(has(&o, "dahua", "action", "Start"));
        for f in [
            "Candidates",
            "Person",
            "Similarity",
            "Name",
            "Face",
            "Candidates.Person.Name",
            "Candidates.Similarity",
            "Face.BoundingBox",
        ] {
            assert!(has(&o, "dahua", "field", f), "{f}: {o:?}");
        }
        assert_private(&o, &["Jane"]);
    }

    /// Attributes nested in the event's object, and the object's class, as the rules read
    /// them (the kind of ../shared/cases/realworld/rw-01).
    #[test]
    fn nested_attributes_and_class() {
        let b = b"Code=FaceRecognition;action=Start;index=0;data={\"Class\":\"FaceRecognition\",\"Object\":{\"Age\":30,\"Sex\":\"Man\",\"Emotion\":\"Smile\",\"Name\":\"Jane Doe\"}}\n";
        let o = body(Some("text/plain"), b);
        for f in ["Object.Age", "Object.Sex", "Object.Emotion", "Age"] {
            assert!(has(&o, "dahua", "field", f), "{f}: {o:?}");
        }
        assert!(has(&o, "dahua", "class", "FaceRecognition"), "{o:?}");
        for a in ["Age", "Sex", "Emotion"] {
            assert!(has(&o, "dahua", "attribute", a), "{a}: {o:?}");
        }
        // Defaults are not estimates.
        let d = b"Code=FaceRecognition;action=Start;index=0;data={\"Object\":{\"Age\":0,\"Sex\":\"Unknown\",\"Emotion\":\"\"}}\n";
        let o2 = body(Some("text/plain"), d);
        assert!(!any(&o2, "dahua", "attribute"), "{o2:?}");
        assert_private(&o, &["Jane", "Man", "Smile", "30"]);
    }

    #[test]
    fn face_detection_has_no_candidates() {
        let b = b"Code=FaceDetection;action=Start;index=0;data={\"Faces\":[{\"BoundingBox\":[1,2,3,4]}],\"Sex\":\"Man\"}";
        let o = body(Some("text/plain"), b);
        assert!(has(&o, "dahua", "code", "FaceDetection"));
        assert!(!has(&o, "dahua", "field", "Candidates"));
        assert!(!has(&o, "dahua", "field", "Similarity"));
        assert!(has(&o, "dahua", "field", "Faces"));
    }

    #[test]
    fn plain_records_without_data_and_several_per_body() {
        let o = body(
            None,
            b"Code=VideoMotion;action=Start;index=0\r\nCode=CrossLineDetection;action=Stop;index=1\r\n",
        );
        assert!(has(&o, "dahua", "code", "VideoMotion"));
        assert!(has(&o, "dahua", "code", "CrossLineDetection"));
        assert!(has(&o, "dahua", "action", "Stop"));
    }

    #[test]
    fn key_value_dump() {
        let b = b"Events[0].EventBaseInfo.Code=FaceRecognition\r\nEvents[0].EventBaseInfo.Action=Pulse\r\nEvents[0].Candidates[0].Person.UID=0012\r\nEvents[0].Candidates[0].Person.GroupID=10000\r\nEvents[0].Candidates[0].Person.Name=Jane Doe\r\nEvents[0].Candidates[0].Similarity=88\r\n";
        let o = body(Some("text/plain"), b);
        assert!(has(&o, "dahua", "code", "FaceRecognition"));
        assert!(has(&o, "dahua", "action", "Pulse"));
        assert!(has(&o, "dahua", "field", "Candidates.Person.Name"));
        assert!(has(&o, "dahua", "field", "Candidates.Similarity"));
        assert!(has(&o, "dahua", "field", "Candidates.Person.UID"));
        assert_private(&o, &["Jane", "0012"]);
    }

    #[test]
    fn events_code_short_form() {
        let o = body(
            None,
            b"Events[0].Code=FaceDetection\nEvents[0].Data.Sex=Man\n",
        );
        assert!(has(&o, "dahua", "code", "FaceDetection"));
        assert!(has(&o, "dahua", "field", "Data.Sex"));
        assert!(!has(&o, "dahua", "code", "Man"));
    }

    #[test]
    fn strips_indices() {
        assert_eq!(strip_indices("Events[0].A[12].B"), "Events.A.B");
        assert_eq!(strip_indices("A]]]["), "A");
    }
}
