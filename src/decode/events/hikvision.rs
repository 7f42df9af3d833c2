//! Hikvision ISAPI `EventNotificationAlert` (XML and JSON) and FDLib request/response bodies.
//!
//! Hikvision ISAPI `EventNotificationAlert` (XML and JSON), FDLib request/response bodies,
//! access-control `AcsEvent` searches and pushed events, and capability documents.
//!
//! Emits (`proto = "hikvision"`): `event_type`, `event_state`, `event_description`, `field`
//! (names of identity/recognition fields present), `verify_mode` (currentVerifyMode /
//! verifyMode value), `face_lib_type` (faceLibType value), `capability` (an `isSupport…` key
//! with its true/false value: `isSupportFaceLib=true`). Person names, employee numbers and
//! pictures are only ever reported as a field name. Source: Hikvision ISAPI documents as
//! quoted in SIGNATURES.md §1.

use super::json::{scalar, walk};
use super::xml::Tree;
use super::Sink;
use serde_json::Value;

const P: &str = "hikvision";
const NS: &str = "http://www.hikvision.com/ver20/XMLSchema";

/// Field names that matter for telling recognition from detection (matched case-insensitively,
/// reported with this spelling).
const FIELDS: &[&str] = &[
    "FPID",
    "FDID",
    "PID",
    "similarity",
    "faceLibType",
    "name",
    "personName",
    "currentVerifyMode",
    "verifyMode",
    "facePicURL",
    "faceID",
    "faceLibName",
    "blackListInfo",
    "whiteListInfo",
    "faceContrastResult",
    "employeeNoString",
    "modelData",
];

fn canonical(name: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .copied()
        .find(|f| f.eq_ignore_ascii_case(name))
}

/// XML alert (any namespace) or any document in the Hikvision schema namespace.
pub fn decode_xml(tree: &Tree, sink: &mut Sink<'_, '_>) {
    let Some(root) = tree.root() else { return };
    let is_alert = root.name == "EventNotificationAlert";
    if !is_alert && root.ns.as_deref() != Some(NS) {
        return;
    }
    if is_alert {
        for c in tree.children(root) {
            match c.name.as_str() {
                "eventType" => sink.emit_enum(P, "event_type", &c.text),
                "eventState" => sink.emit_enum(P, "event_state", &c.text),
                "eventDescription" => sink.emit_enum(P, "event_description", &c.text),
                _ => {}
            }
        }
    }
    for n in &tree.nodes {
        if let Some(f) = canonical(&n.name) {
            sink.emit(P, "field", f);
            value_fields(f, &n.text, sink);
        }
        capability(&n.name, n.text.trim(), sink);
    }
}

fn value_fields(canonical: &str, value: &str, sink: &mut Sink<'_, '_>) {
    match canonical {
        "currentVerifyMode" | "verifyMode" => sink.emit_enum(P, "verify_mode", value),
        "faceLibType" => sink.emit_enum(P, "face_lib_type", value),
        _ => {}
    }
}

/// `isSupport…` keys of capability documents, with their boolean value.
fn capability(key: &str, value: &str, sink: &mut Sink<'_, '_>) {
    if key.starts_with("isSupport")
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_alphanumeric())
        && matches!(value, "true" | "false")
    {
        sink.emit_enum(P, "capability", &format!("{key}={value}"));
    }
}

/// Keys that make a JSON body a Hikvision document worth reading (near the top).
const DOCUMENT_KEYS: &[&str] = &[
    "faceLibType",
    "FDID",
    "FPID",
    "AcsEvent",
    "AcsEventCond",
    "currentVerifyMode",
    "verifyMode",
];

/// Whether a JSON key at any depth is one [`decode_json`] starts from (an alert, its wrapper, a
/// document key or a capability): a document with none of them gives it nothing to do.
pub fn starts_from(key: &str) -> bool {
    // Called for every key of every JSON body: a key whose length and first letter none of
    // these has is refused without comparing (the test below keeps this and the lists
    // together).
    let named = match (key.len(), key.as_bytes().first()) {
        (4, Some(b'F'))
        | (8 | 12, Some(b'A'))
        | (9, Some(b'e'))
        | (10, Some(b'v'))
        | (11, Some(b'f'))
        | (17, Some(b'c'))
        | (22, Some(b'E')) => {
            matches!(key, "EventNotificationAlert" | "eventType") || DOCUMENT_KEYS.contains(&key)
        }
        _ => false,
    };
    named || (key.as_bytes().first() == Some(&b'i') && key.starts_with("isSupport"))
}

/// JSON alert (`eventType` at the top level) or FDLib body (`faceLibType`/`FDID`/`FPID` near
/// the top).
pub fn decode_json(v: &Value, sink: &mut Sink<'_, '_>) {
    // Some firmware wraps the alert: {"EventNotificationAlert": {...}}.
    let v = match v.get("EventNotificationAlert") {
        Some(inner @ Value::Object(_)) => inner,
        _ => v,
    };
    let Value::Object(top) = v else { return };
    let event_type = top.get("eventType").and_then(scalar);
    let document = {
        let mut found = false;
        walk(v, &mut |k, _, depth| {
            if (depth <= 3 && DOCUMENT_KEYS.contains(&k)) || k.starts_with("isSupport") {
                found = true;
            }
        });
        found
    };
    if event_type.is_none() && !document {
        return;
    }
    if let Some(t) = &event_type {
        sink.emit_enum(P, "event_type", t);
        if let Some(s) = top.get("eventState").and_then(scalar) {
            sink.emit_enum(P, "event_state", &s);
        }
        if let Some(s) = top.get("eventDescription").and_then(scalar) {
            sink.emit_enum(P, "event_description", &s);
        }
    }
    walk(v, &mut |k, x, _| {
        if let Some(f) = canonical(k) {
            sink.emit(P, "field", f);
            if let Some(s) = scalar(x) {
                value_fields(f, &s, sink);
            }
        }
        if let Some(s) = scalar(x) {
            capability(k, &s, sink);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn every_document_key_starts_the_decoder() {
        for k in super::DOCUMENT_KEYS.iter().chain(&[
            "EventNotificationAlert",
            "eventType",
            "isSupportFaceLib",
        ]) {
            assert!(super::starts_from(k), "{k}");
        }
        for k in ["name", "type", "eventTypes", "FPIDs", "isSupport", "camera"] {
            assert_eq!(super::starts_from(k), k == "isSupport", "{k}");
        }
    }

    const FACE_CAPTURE: &str = r#"<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
  <ipAddress>192.168.1.64</ipAddress>
  <channelID>1</channelID>
  <dateTime>2024-05-01T10:00:00+08:00</dateTime>
  <activePostCount>1</activePostCount>
  <eventType>faceCapture</eventType>
  <eventState>active</eventState>
  <eventDescription>Face Capture</eventDescription>
  <uuid>abc</uuid>
</EventNotificationAlert>"#;

    #[test]
    fn face_capture_without_identity_is_plain() {
        let o = body(Some("application/xml"), FACE_CAPTURE.as_bytes());
        assert!(has(&o, "hikvision", "event_type", "faceCapture"));
        assert!(has(&o, "hikvision", "event_state", "active"));
        assert!(has(&o, "hikvision", "event_description", "Face Capture"));
        assert!(!any(&o, "hikvision", "field"), "{o:?}");
        assert!(has(&o, "xml", "element", "EventNotificationAlert"));
    }

    #[test]
    fn face_capture_with_fpid_and_similarity() {
        let doc = FACE_CAPTURE.replace(
            "<uuid>abc</uuid>",
            "<uuid>abc</uuid><faceCapture><FPID>8821</FPID><similarity>92</similarity><name>Jane Doe</name></faceCapture>",
        );
        let o = body(None, doc.as_bytes());
        assert!(has(&o, "hikvision", "field", "FPID"));
        assert!(has(&o, "hikvision", "field", "similarity"));
        assert!(has(&o, "hikvision", "field", "name"));
        assert_private(&o, &["Jane", "8821"]);
    }

    #[test]
    fn access_controller_json_verify_mode() {
        let doc = br#"{"ipAddress":"10.0.0.5","portNo":80,"protocol":"HTTP","macAddress":"aa:bb",
            "channelID":1,"dateTime":"2024-05-01T10:00:00+08:00","activePostCount":1,
            "eventType":"AccessControllerEvent","eventState":"active","eventDescription":"Access Controller Event",
            "AccessControllerEvent":{"deviceName":"Door","majorEventType":5,"subEventType":75,
              "name":"Jane Doe","employeeNoString":"42","currentVerifyMode":"cardOrFace","picturesNumber":1}}"#;
        let o = body(Some("application/json"), doc);
        assert!(has(&o, "hikvision", "event_type", "AccessControllerEvent"));
        assert!(has(&o, "hikvision", "verify_mode", "cardOrFace"));
        assert!(has(&o, "hikvision", "field", "currentVerifyMode"));
        assert!(has(&o, "hikvision", "field", "name"));
        assert_private(&o, &["Jane"]);
    }

    #[test]
    fn wrapped_json_alert() {
        let o = body(
            None,
            br#"{"EventNotificationAlert":{"eventType":"faceSnapMatch","eventState":"active","faceSnapMatch":{"type":"faceMatch","similarity":0.91,"FPID":"x"}}}"#,
        );
        assert!(has(&o, "hikvision", "event_type", "faceSnapMatch"));
        assert!(has(&o, "hikvision", "field", "similarity"));
    }

    #[test]
    fn fdlib_json_face_lib_type() {
        let o = body(
            None,
            br#"{"faceLibType":"blackFD","FDID":"1","FPID":"x","searchResultPosition":0,"maxResults":32}"#,
        );
        assert!(has(&o, "hikvision", "face_lib_type", "blackFD"));
        assert!(has(&o, "hikvision", "field", "FDID"));
        assert!(!any(&o, "hikvision", "event_type"));
    }

    #[test]
    fn unrelated_json_and_xml_are_not_hikvision() {
        let o = body(None, br#"{"type":"new","name":"x"}"#);
        assert!(!o.iter().any(|(p, _, _)| p == "hikvision"));
        let o = body(None, b"<Other><name>x</name></Other>");
        assert!(!o.iter().any(|(p, _, _)| p == "hikvision"));
    }

    #[test]
    fn face_contrast_alert() {
        let doc = FACE_CAPTURE
            .replace("faceCapture", "faceContrast")
            .replace("Face Capture", "faceContrast alarm")
            .replace(
                "<uuid>abc</uuid>",
                "<FaceContrastResult><faceLibType>whiteFD</faceLibType><FDID>3</FDID></FaceContrastResult>",
            );
        let o = body(None, doc.as_bytes());
        assert!(has(&o, "hikvision", "event_type", "faceContrast"));
        assert!(has(&o, "hikvision", "face_lib_type", "whiteFD"));
        assert!(has(&o, "hikvision", "field", "FDID"));
    }
}
