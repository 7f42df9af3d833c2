//! Dahua CGI event text: attach-stream records `Code=X;action=Y;index=N;data={json}` and
//! key=value dumps `Events[0].EventBaseInfo.Code=X`.
//!
//! Emits (`proto = "dahua"`): `code`, `action`, and `field` (key names of the data JSON, or
//! dump keys with indices and the `Events.` prefix stripped). Values other than code/action are
//! never emitted.

use super::json::{self, walk};
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
            walk(&v, &mut |k, _, _| sink.emit(P, "field", k));
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
        for f in ["Candidates", "Person", "Similarity", "Name", "Face"] {
            assert!(has(&o, "dahua", "field", f), "{f}: {o:?}");
        }
        assert_private(&o, &["Jane"]);
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
