//! Frigate NVR MQTT payloads: `frigate/events` (before/after snapshots) and
//! `frigate/tracked_object_update` (`type`: face, lpr, description, classification).
//!
//! Emits (`proto = "frigate"`): `update_type`, `label`, `attribute`, `sub_label` (`present`),
//! `field` (`name` when an update of type face carries it). Recognised names and sub labels are
//! never emitted.

use super::json::scalar;
use super::{Sink, MAX_ENUM_LEN};
use serde_json::{Map, Value};

const P: &str = "frigate";
const UPDATE_TYPES: &[&str] = &["face", "lpr", "description", "classification"];

fn looks_like_event(top: &Map<String, Value>) -> bool {
    ["before", "after"]
        .iter()
        .any(|k| top.get(*k).and_then(|v| v.get("camera")).is_some())
}

fn looks_like_update(top: &Map<String, Value>) -> bool {
    top.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| UPDATE_TYPES.contains(&t))
        && top.contains_key("id")
        && top.contains_key("camera")
}

/// Whether a top-level JSON key is one [`decode`] starts from off Frigate's topics (an event's
/// `before`/`after`, an update's `camera`): a document with none of them gives it nothing to do
/// unless [`topic_starts`].
pub fn starts_from(key: &str, depth: usize) -> bool {
    depth == 0 && matches!(key, "before" | "after" | "camera")
}

/// Whether the MQTT topic alone makes [`decode`] read the document (Frigate's topics).
pub fn topic_starts(topic: Option<&str>) -> bool {
    topic.is_some_and(|t| t.starts_with("frigate/") || t.ends_with("/tracked_object_update"))
}

pub fn decode(topic: Option<&str>, v: &Value, sink: &mut Sink<'_, '_>) {
    let Value::Object(top) = v else { return };
    let on_frigate = topic.is_some_and(|t| t.starts_with("frigate/"));
    let is_update_topic = topic.is_some_and(|t| t.ends_with("/tracked_object_update"));
    // On Frigate's own events topic, a before/after object is an event even if fields are missing.
    let event = looks_like_event(top)
        || (topic.is_some_and(|t| t.starts_with("frigate/") && t.ends_with("/events"))
            && ["before", "after"]
                .iter()
                .any(|k| top.get(*k).is_some_and(Value::is_object)));
    let update = looks_like_update(top) || (is_update_topic && top.contains_key("type"));
    if !(event || update || on_frigate && top.contains_key("label")) {
        return;
    }
    if update {
        if let Some(t) = top.get("type").and_then(scalar) {
            sink.emit_enum(P, "update_type", &t);
            if t == "face" && top.contains_key("name") {
                sink.emit(P, "field", "name");
            }
        }
    }
    // The object itself, or each snapshot of an event.
    let objects: Vec<&Map<String, Value>> = if event {
        ["before", "after"]
            .iter()
            .filter_map(|k| top.get(*k).and_then(Value::as_object))
            .collect()
    } else {
        vec![top]
    };
    for o in objects {
        object(o, sink);
    }
}

fn object(o: &Map<String, Value>, sink: &mut Sink<'_, '_>) {
    if let Some(l) = o.get("label").and_then(Value::as_str) {
        if l.len() <= MAX_ENUM_LEN {
            sink.emit(P, "label", l);
        }
    }
    if o.get("sub_label").is_some_and(|s| !s.is_null()) {
        sink.emit(P, "sub_label", "present");
    }
    if let Some(Value::Object(attrs)) = o.get("attributes") {
        for k in attrs.keys() {
            sink.emit_enum(P, "attribute", k);
        }
    }
    if let Some(Value::Array(cur)) = o.get("current_attributes") {
        for a in cur {
            if let Some(l) = a.get("label").and_then(Value::as_str) {
                sink.emit_enum(P, "attribute", l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::model::Direction;

    fn mqtt(topic: &str, b: &[u8]) -> Vec<(String, String, String)> {
        run(|em| super::super::decode_json(Some(topic), b, Direction::ToServer, em))
    }

    const FACE_UPDATE: &[u8] = br#"{
  "type": "face",
  "id": "1607123955.475377-mxklsc",
  "name": "John",
  "score": 0.95,
  "camera": "front_door_cam",
  "timestamp": 1607123958.748393
}"#;

    const EVENT_WITH_FACE_ATTR: &[u8] = br#"{"type":"update",
 "before":{"id":"1607123955.475377-mxklsc","camera":"front_door","label":"person","sub_label":null,
   "top_score":0.82,"attributes":{},"current_attributes":[]},
 "after":{"id":"1607123955.475377-mxklsc","camera":"front_door","label":"person","sub_label":null,
   "top_score":0.85,"attributes":{"face":0.86},
   "current_attributes":[{"label":"face","box":[442,506,534,524],"score":0.86}]}}"#;

    #[test]
    fn tracked_object_update_face() {
        let o = mqtt("frigate/tracked_object_update", FACE_UPDATE);
        assert!(has(&o, "frigate", "update_type", "face"));
        assert!(has(&o, "frigate", "field", "name"));
        assert_private(&o, &["John"]);
        // Shape alone is enough without the topic (e.g. bridged to another broker).
        let o = run(|em| super::super::decode_json(None, FACE_UPDATE, Direction::ToServer, em));
        assert!(has(&o, "frigate", "update_type", "face"));
    }

    #[test]
    fn event_with_face_attribute_is_not_an_update() {
        let o = mqtt("frigate/events", EVENT_WITH_FACE_ATTR);
        assert!(has(&o, "frigate", "label", "person"));
        assert!(has(&o, "frigate", "attribute", "face"));
        assert!(!any(&o, "frigate", "update_type"));
        assert!(!any(&o, "frigate", "sub_label"));
        assert!(!any(&o, "frigate", "field"));
    }

    #[test]
    fn sub_label_presence_only() {
        let doc = String::from_utf8_lossy(EVENT_WITH_FACE_ATTR).replace(
            r#""top_score":0.85,"#,
            r#""top_score":0.85,"sub_label":["John Smith",0.79],"#,
        );
        let doc = doc.replacen(r#""sub_label":null,"#, "", 2);
        let o = mqtt("frigate/events", doc.as_bytes());
        assert!(has(&o, "frigate", "sub_label", "present"));
        assert_private(&o, &["John"]);
    }

    #[test]
    fn lpr_and_description_updates() {
        let o = mqtt(
            "frigate/tracked_object_update",
            br#"{"type":"lpr","id":"x","name":null,"plate":"ABC123","score":0.9,"camera":"gate","timestamp":1}"#,
        );
        assert!(has(&o, "frigate", "update_type", "lpr"));
        assert!(!has(&o, "frigate", "field", "name"));
        assert_private(&o, &["ABC123"]);
    }

    #[test]
    fn unrelated_json_is_not_frigate() {
        let o = mqtt("home/sensor", br#"{"type":"face","label":"x"}"#);
        assert!(!o.iter().any(|(p, _, _)| p == "frigate"));
    }
}
