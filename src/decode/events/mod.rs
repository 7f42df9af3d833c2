//! STUB of the event-body decoders (the `app` branch owns the real module; the lead replaces this
//! file at merge). It emits the same observation names the real decoders and the signature files
//! use, for the few vendor shapes the live-tap tests send, so the taps can be tested end to end.

use crate::decode::{printable, Emitter};
use crate::model::Direction;
use quick_xml::events::Event;

const MAX_DOC: usize = 1 << 20;
const MAX_FIELDS: usize = 256;

/// Decode one event/message body (XML, JSON or Dahua `Code=` text).
pub fn decode_body(content_type: Option<&str>, body: &[u8], dir: Direction, em: &mut Emitter) {
    let body = body.get(..MAX_DOC).unwrap_or(body);
    let start = body
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(body.len());
    let trimmed = body.get(start..).unwrap_or(&[]);
    match trimmed.first() {
        Some(b'<') => decode_xml(trimmed, dir, em),
        Some(b'{') => decode_json(None, trimmed, dir, em),
        _ if trimmed.starts_with(b"Code=") => decode_dahua(trimmed, dir, em),
        _ if content_type.is_some_and(|c| c.contains("json")) => {
            decode_json(None, trimmed, dir, em)
        }
        _ => {}
    }
}

/// Decode a JSON document; `context_topic` is the MQTT topic it came on, if any.
pub fn decode_json(context_topic: Option<&str>, body: &[u8], dir: Direction, em: &mut Emitter) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body.get(..MAX_DOC).unwrap_or(body))
    else {
        return;
    };
    let topic = context_topic.unwrap_or("");
    if topic.ends_with("tracked_object_update") {
        if let Some(t) = v.get("type").and_then(|t| t.as_str()) {
            em.emit(dir, "frigate", "update_type", printable(t.as_bytes()));
        }
    }
    if let Some(t) = v.get("eventType").and_then(|t| t.as_str()) {
        em.emit(dir, "hikvision", "event_type", printable(t.as_bytes()));
    }
}

fn decode_dahua(body: &[u8], dir: Direction, em: &mut Emitter) {
    let text = String::from_utf8_lossy(body);
    for kv in text.split(';').take(MAX_FIELDS) {
        if let Some(code) = kv.trim().strip_prefix("Code=") {
            em.emit(dir, "dahua", "code", printable(code.as_bytes()));
        } else if let Some(data) = kv.trim().strip_prefix("data=") {
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(data) {
                for k in m.keys().take(MAX_FIELDS) {
                    em.emit(dir, "dahua", "field", printable(k.as_bytes()));
                }
            }
        }
    }
}

/// Element local names of an XML document, plus the ONVIF/Hikvision fields the tests rely on.
pub fn decode_xml(body: &[u8], dir: Direction, em: &mut Emitter) {
    let mut r = quick_xml::Reader::from_reader(body);
    let mut stack: Vec<String> = Vec::new();
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        n += 1;
        if n > 10 * MAX_FIELDS {
            break;
        }
        let ev = match r.read_event_into(&mut buf) {
            Ok(Event::Eof) | Err(_) => break,
            Ok(ev) => ev,
        };
        match ev {
            Event::Start(e) => {
                simple_item(&e, &stack, dir, em);
                if stack.len() < 64 {
                    stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                }
            }
            Event::Empty(e) => simple_item(&e, &stack, dir, em),
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let text = printable(t.as_ref());
                let text = text.trim();
                let parent = stack.last().map(String::as_str).unwrap_or("");
                let grand = stack.len().checked_sub(2).and_then(|i| stack.get(i));
                match parent {
                    "Topic" if !text.is_empty() => em.emit(dir, "onvif", "topic", text),
                    "Type" if grand.is_some_and(|g| g == "Class") => {
                        em.emit(dir, "onvif", "object.class", text)
                    }
                    "eventType" => em.emit(dir, "hikvision", "event_type", text),
                    _ => {}
                }
            }
            _ => {}
        }
        buf.clear();
    }
}

fn simple_item(
    e: &quick_xml::events::BytesStart<'_>,
    stack: &[String],
    dir: Direction,
    em: &mut Emitter,
) {
    if e.local_name().as_ref() == b"SimpleItem" && stack.iter().any(|s| s == "Data") {
        for a in e.attributes().flatten() {
            if a.key.local_name().as_ref() == b"Name" {
                em.emit(dir, "onvif", "data_item", printable(&a.value));
            }
        }
    }
}
