//! Event and message bodies (XML / JSON / Dahua text) carried by HTTP, MQTT and RTSP metadata.
//!
//! [`decode_body`] sniffs the format and dispatches to the generic walkers ([`xml`], [`json`])
//! and the vendor decoders ([`hikvision`], [`dahua`], [`onvif`], [`frigate`]). Everything is
//! bounded per document: at most [`MAX_DOC`] bytes are looked at, nesting is cut at
//! [`MAX_DEPTH`], and at most [`MAX_FIELDS`] observations are emitted. Malformed input yields
//! whatever was read safely before the error.
//!
//! Privacy: decoders emit event types, field *names*, enumerated values (verify modes, library
//! types, class names, topics) and presence markers; never names, images or embeddings.

use super::protocol::FieldTable;
use super::{printable, Emitter};
use crate::model::Direction;
use rustc_hash::FxHashSet;

pub(crate) mod dahua;
pub(crate) mod frigate;
pub(crate) mod hikvision;
pub(crate) mod json;
pub(crate) mod onvif;
pub(crate) mod xml;

/// Fields of event bodies: generic JSON and XML walkers and the vendor decoders.
pub const FIELDS: FieldTable = FieldTable(
    "
json.key                     name         Key of a JSON body, bare (`Age`) and as a dotted path (`Object.Age`)
xml.element                  name         Local name of an XML element
hikvision.event_type         enumeration  ISAPI EventNotificationAlert eventType
hikvision.event_state        enumeration  eventState (`active`, `inactive`)
hikvision.event_description  enumeration  eventDescription
hikvision.field              name         Names of library and match fields present (`FPID`, `similarity`)
hikvision.verify_mode        enumeration  Access terminal currentVerifyMode (`cardOrFaceOrFp`)
hikvision.face_lib_type      enumeration  faceLibType (`blackFD`, `staticFD`)
hikvision.capability         enumeration  An isSupport… capability with its value (`isSupportFaceLib=true`)
dahua.code                   enumeration  Event code (`FaceRecognition`)
dahua.action                 enumeration  Event action (`Start`, `Stop`, `Pulse`)
dahua.field                  name         Keys of the event data, indices stripped, bare and dotted
dahua.class                  enumeration  Class of the event data (`PortraitDetect`, `FaceAnalysis`)
dahua.attribute              name         Attribute keys of a face object holding an estimate, not a default (`Age`, `Sex`, `Emotion`)
onvif.action                 enumeration  SOAP body element (operation)
onvif.topic                  enumeration  Notification topic
onvif.data_item              name         Names of SimpleItems in a message
onvif.rule_type              enumeration  Analytics rule or module type
onvif.object.class           enumeration  Class of a metadata object (`Face`, `Human`)
onvif.appearance             name         Appearance elements of a metadata object
onvif.face_attribute         name         Face attribute elements (`Gender`, `Age`)
frigate.update_type          enumeration  tracked_object_update type (`face`)
frigate.label                enumeration  Object label (`person`, `face`)
frigate.attribute            enumeration  Object attribute label
frigate.sub_label            presence     `present` when a sub_label (a recognised name) is set
frigate.field                name         `name` when a recognition result names someone
",
);

/// Largest document looked at; longer input is cut (the decoders are tolerant of the cut).
pub const MAX_DOC: usize = 1 << 20;
/// Deepest nesting walked.
pub const MAX_DEPTH: usize = 64;
/// Most observations emitted per document.
pub const MAX_FIELDS: usize = 1000;
/// Longest enumerated value (event type, topic, class) emitted by the vendor decoders.
pub const MAX_ENUM_LEN: usize = 128;

/// Per-document output: deduplicates (proto, field, value) and enforces [`MAX_FIELDS`].
pub struct Sink<'e, 'a> {
    em: &'e mut Emitter<'a>,
    dir: Direction,
    left: usize,
    seen: FxHashSet<(&'static str, &'static str, String)>,
}

impl<'e, 'a> Sink<'e, 'a> {
    /// A sink emitting through `em`, as messages travelling `dir`.
    pub fn new(em: &'e mut Emitter<'a>, dir: Direction) -> Self {
        Sink {
            em,
            dir,
            left: MAX_FIELDS,
            seen: FxHashSet::default(),
        }
    }

    /// What the consumers read.
    pub fn demand(&self) -> &crate::decode::demand::Demand {
        self.em.demand
    }

    /// Emit once per document. Values are made printable; empty values are dropped.
    pub fn emit(&mut self, proto: &'static str, field: &'static str, value: &str) {
        if self.left == 0 {
            return;
        }
        let value = printable(value.as_bytes());
        if value.is_empty() {
            return;
        }
        let key = (proto, field, value);
        if self.seen.contains(&key) {
            return;
        }
        self.left -= 1;
        self.em.emit(self.dir, proto, field, key.2.clone());
        self.seen.insert(key);
    }

    /// Emit an enumerated value taken from the document (event type, verify mode...): trimmed
    /// and dropped if implausibly long for an enum.
    pub fn emit_enum(&mut self, proto: &'static str, field: &'static str, value: &str) {
        let v = value.trim();
        if v.len() <= MAX_ENUM_LEN {
            self.emit(proto, field, v);
        }
    }
}

/// What a body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// An XML document (ISAPI, ONVIF SOAP, metadata).
    Xml,
    /// A JSON document (ISAPI JSON, Frigate, vendor pushes).
    Json,
    /// Dahua `Code=…;action=…;data={…}` text.
    DahuaText,
    /// Anything else (ignored).
    Other,
}

/// Sniff a body: content first, then the declared type as a tie-breaker.
pub fn sniff(content_type: Option<&str>, body: &[u8]) -> BodyKind {
    let b = trim_start(body);
    match b.first() {
        Some(b'<') => return BodyKind::Xml,
        Some(b'{') | Some(b'[') => {
            // `[` may also be a Dahua `Events[0]`-less dump? No: dumps start with a letter.
            return BodyKind::Json;
        }
        _ => {}
    }
    if b.starts_with(b"Code=")
        || b.starts_with(b"Events[")
        || memchr::memmem::find(b, b"\nCode=").is_some()
    {
        return BodyKind::DahuaText;
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.contains("json") {
        BodyKind::Json
    } else if ct.contains("xml") {
        BodyKind::Xml
    } else {
        BodyKind::Other
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    // UTF-8 BOM, then whitespace.
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let skip = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    b.get(skip..).unwrap_or(&[])
}

fn bounded(body: &[u8]) -> &[u8] {
    body.get(..MAX_DOC).unwrap_or(body)
}

/// Decode one event/message body of any supported kind.
pub fn decode_body(content_type: Option<&str>, body: &[u8], dir: Direction, em: &mut Emitter) {
    let body = bounded(body);
    let mut sink = Sink::new(em, dir);
    match sniff(content_type, body) {
        BodyKind::Xml => decode_xml_into(body, &mut sink),
        BodyKind::Json => decode_json_into(None, body, &mut sink),
        BodyKind::DahuaText => dahua::decode_text(body, &mut sink),
        BodyKind::Other => {}
    }
}

/// Decode a JSON document; `context_topic` is the MQTT topic it came on, if any.
pub fn decode_json(context_topic: Option<&str>, body: &[u8], dir: Direction, em: &mut Emitter) {
    let body = bounded(body);
    let mut sink = Sink::new(em, dir);
    decode_json_into(context_topic, body, &mut sink);
}

/// Decode an XML document (SOAP, metadata stream, vendor alert).
pub fn decode_xml(body: &[u8], dir: Direction, em: &mut Emitter) {
    let body = bounded(body);
    let mut sink = Sink::new(em, dir);
    decode_xml_into(body, &mut sink);
}

fn decode_xml_into(body: &[u8], sink: &mut Sink<'_, '_>) {
    let tree = xml::Tree::parse(body);
    xml::emit_elements(&tree, sink);
    hikvision::decode_xml(&tree, sink);
    onvif::decode(&tree, sink);
}

/// One pass over the document for `json.key` (only the keys the consumers read); the tree is
/// built only when a key or the topic is one a vendor decoder starts from
/// ([`hikvision::starts_from`], [`frigate::starts_from`], [`frigate::topic_starts`]).
pub(crate) fn decode_json_into(topic: Option<&str>, body: &[u8], sink: &mut Sink<'_, '_>) {
    let demand = sink.demand();
    let Some(keys) = json::scan_keys(body, &|k| demand.json_key(k), &|k, depth| {
        hikvision::starts_from(k) || frigate::starts_from(k, depth)
    }) else {
        return;
    };
    keys.emit(sink);
    if !(keys.wants_tree || frigate::topic_starts(topic)) {
        return;
    }
    let Some(v) = json::parse(body) else {
        return;
    };
    hikvision::decode_json(&v, sink);
    frigate::decode(topic, &v, sink);
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::decode::Emitter;
    use crate::model::{Direction, Observation};

    /// Run a decoder against a fresh emitter and return (proto, field, value) triples.
    pub fn run(f: impl FnOnce(&mut Emitter)) -> Vec<(String, String, String)> {
        let mut out: Vec<Observation> = Vec::new();
        {
            let mut em = Emitter::new(0.0, None, &mut out);
            f(&mut em);
        }
        out.into_iter()
            .map(|o| (o.proto.to_string(), o.field.to_string(), o.value))
            .collect()
    }

    pub fn body(ct: Option<&str>, b: &[u8]) -> Vec<(String, String, String)> {
        run(|em| super::decode_body(ct, b, Direction::ToClient, em))
    }

    pub fn has(obs: &[(String, String, String)], proto: &str, field: &str, value: &str) -> bool {
        obs.iter()
            .any(|(p, f, v)| p == proto && f == field && v == value)
    }

    pub fn any(obs: &[(String, String, String)], proto: &str, field: &str) -> bool {
        obs.iter().any(|(p, f, _)| p == proto && f == field)
    }

    /// No observation value contains any of `secrets`.
    pub fn assert_private(obs: &[(String, String, String)], secrets: &[&str]) {
        for (p, f, v) in obs {
            for s in secrets {
                assert!(!v.contains(s), "{p}.{f} = {v:?} leaks {s:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn sniffs() {
        assert_eq!(sniff(None, b"  <?xml version='1.0'?><a/>"), BodyKind::Xml);
        assert_eq!(sniff(None, b"\xEF\xBB\xBF{\"a\":1}"), BodyKind::Json);
        assert_eq!(
            sniff(None, b"Code=VideoMotion;action=Start;index=0"),
            BodyKind::DahuaText
        );
        assert_eq!(sniff(None, b"Events[0].Code=X"), BodyKind::DahuaText);
        assert_eq!(sniff(Some("application/json"), b""), BodyKind::Json);
        assert_eq!(sniff(Some("image/jpeg"), b"\xff\xd8\xff"), BodyKind::Other);
    }

    #[test]
    fn generic_keys_and_elements_once() {
        let o = body(None, br#"{"a":{"b":1,"a":[{"b":2}]}}"#);
        let keys: Vec<_> = o
            .iter()
            .filter(|(p, f, _)| p == "json" && f == "key")
            .map(|(_, _, v)| v.as_str())
            .collect();
        // Bare keys once each, and each distinct dotted path once, in document order.
        assert_eq!(keys, ["a", "b", "a.b", "a.a", "a.a.b"]);
        let o = body(None, b"<r><x/><x/><y>1</y></r>");
        assert!(has(&o, "xml", "element", "r"));
        assert_eq!(o.iter().filter(|(_, _, v)| v == "x").count(), 1);
    }

    /// The old way through a JSON document: the whole tree, every key walked, every vendor
    /// decoder run.
    fn through_the_tree(topic: Option<&str>, body: &[u8], em: &mut Emitter) {
        let mut sink = Sink::new(em, Direction::ToClient);
        if let Some(v) = json::parse(body) {
            json::emit_keys(&v, &mut sink);
            hikvision::decode_json(&v, &mut sink);
            frigate::decode(topic, &v, &mut sink);
        }
    }

    /// The one-pass key scan with the tree built on demand gives what the tree gave, for
    /// every consumer demand: every key, only some keys, none.
    #[test]
    fn key_scan_gives_what_the_tree_gave() {
        use crate::decode::demand::{Demand, KeyDemand, KeyPattern};
        let mut deep = String::new();
        for i in 0..70 {
            deep.push_str(&format!("{{\"k{i}\":"));
        }
        deep.push('1');
        deep.push_str(&"}".repeat(70));
        let long = format!(
            r#"{{"{a}":{{"{a}":{{"{b}":{{"Score":1}}}}}}}}"#,
            a = "x".repeat(120),
            b = "y".repeat(30)
        );
        let docs: Vec<(Option<&str>, String)> = vec![
            (None, r#"{"a":{"b":1,"a":[{"b":2}]}}"#.into()),
            (None, r#"[{"faces":[{"age":{"ageGroup":"adult"}}]},{"x":null}]"#.into()),
            (None, r#"{"eventType":"faceContrast","eventState":"active","FPID":"p","similarity":93,"name":"n"}"#.into()),
            (None, r#"{"EventNotificationAlert":{"eventType":"AccessControllerEvent","AccessControllerEvent":{"currentVerifyMode":"cardOrFace"}}}"#.into()),
            (None, r#"{"FaceLibCap":{"isSupportFaceLib":true,"isSupportFDLib":"false"}}"#.into()),
            (None, r#"{"searchResultPosition":0,"FDID":"1","faceLibType":"blackFD"}"#.into()),
            (None, r#"{"type":"face","id":"1.2-x","camera":"door","name":"n","score":0.9}"#.into()),
            (None, r#"{"before":{"camera":"c","label":"person"},"after":{"camera":"c","label":"person","sub_label":["n",0.9],"attributes":{"face":0.8}}}"#.into()),
            (Some("frigate/events"), r#"{"type":"new","before":{"label":"person"},"after":{"label":"person"}}"#.into()),
            (Some("frigate/tracked_object_update"), r#"{"type":"face","name":"n"}"#.into()),
            (Some("site/tracked_object_update"), r#"{"type":"lpr"}"#.into()),
            (Some("frigate/available"), r#"{"label":"person"}"#.into()),
            (None, r#"{"data":{"AiDetectType":{"face":1}},"smartDetectTypes":["face"],"identificationScore":0.7}"#.into()),
            (None, r#"{"k\u0065y":{"esc\"aped":1},"\u00e9t\u00e9":2}"#.into()),
            (None, r#"{"a":1} trailing {"b":2}"#.into()),
            (None, r#"{"a":{"b":"#.into()),
            (None, r#"{"a":1e400,"b":2}"#.into()),
            (None, deep.clone()),
            (None, long.clone()),
            (None, "[]".into()),
            (None, "42".into()),
        ];
        let narrow = Demand {
            json_key: KeyDemand::from_patterns([
                (KeyPattern::Exact("smartDetectTypes"), false),
                (KeyPattern::Suffix("Score"), false),
                (KeyPattern::Regex(r"(^|\.)AiDetectType\.face$"), false),
                (
                    KeyPattern::Regex(r"(^|\.)(faces(\[[0-9]*\])?\.)?age\.ageGroup$"),
                    false,
                ),
            ]),
            fields: None,
        };
        assert!(narrow.json_key.is_some());
        let none = Demand {
            json_key: KeyDemand::from_patterns(std::iter::empty()),
            fields: None,
        };
        let mut narrowed = 0;
        for demand in [Demand::everything(), narrow, none] {
            for (topic, doc) in &docs {
                let sorted = |f: &dyn Fn(&mut Emitter)| {
                    let mut out = Vec::new();
                    f(&mut Emitter::new(0.0, None, &mut out).demanding(&demand));
                    let mut o: Vec<_> = out
                        .into_iter()
                        .map(|o| (o.proto.to_string(), o.field.to_string(), o.value))
                        .collect();
                    o.sort();
                    o
                };
                let want = sorted(&|em| through_the_tree(*topic, doc.as_bytes(), em));
                let got =
                    sorted(&|em| decode_json(*topic, doc.as_bytes(), Direction::ToClient, em));
                narrowed += usize::from(demand.json_key.is_some() && !want.is_empty());
                assert_eq!(got, want, "{topic:?} {doc}");
            }
        }
        assert!(
            narrowed > 5,
            "the narrow demands were exercised: {narrowed}"
        );
        // One difference, on purpose: a key given twice is read twice (the tree kept only the
        // last value), so the keys under both are reported.
        let o = body(None, br#"{"dup":{"x":1},"dup":{"y":2}}"#);
        assert!(has(&o, "json", "key", "dup.x") && has(&o, "json", "key", "dup.y"));
    }

    #[test]
    fn field_cap_holds() {
        let mut doc = String::from("{");
        for i in 0..5000 {
            doc.push_str(&format!("\"k{i}\":1,"));
        }
        doc.push_str("\"end\":0}");
        let o = body(None, doc.as_bytes());
        assert_eq!(o.len(), MAX_FIELDS);
    }

    #[test]
    fn garbage_never_panics() {
        for b in [
            &b""[..],
            b"<",
            b"{",
            b"Code=",
            b"Code=;data={",
            b"Events[",
            b"\xff\xfe<\x00a\x00>",
            b"<a xmlns:p='x'><p:b p:c='1'/></a",
        ] {
            let _ = body(None, b);
            let _ = body(Some("application/json"), b);
        }
    }

    /// A payload full of personal data yields only names, types and presence markers.
    #[test]
    fn privacy_no_names_images_or_embeddings() {
        let name = "Jane Quinterra Doe";
        let img = "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHR8eHRsa";
        let emb = "0.0123457,-0.0456789,0.0987654";
        let json = format!(
            r#"{{"eventType":"faceCapture","FPID":"p-77","similarity":93,"name":"{name}",
                "personName":"{name}","faceImage":"{img}","embedding":[{emb}],
                "type":"face","sub_label":["{name}",0.9]}}"#
        );
        let xml = format!(
            r#"<EventNotificationAlert xmlns="http://www.hikvision.com/ver20/XMLSchema">
               <eventType>faceContrast</eventType><name>{name}</name><FPID>p-77</FPID>
               <picture>{img}</picture><modelData>{emb}</modelData></EventNotificationAlert>"#
        );
        let dahua = format!(
            "Code=FaceRecognition;action=Start;index=0;data={{\"Candidates\":[{{\"Person\":{{\"Name\":\"{name}\",\"Image\":\"{img}\"}},\"Similarity\":94,\"Feature\":[{emb}]}}]}}\r\nEvents[0].Candidates[0].Person.Name={name}\r\n"
        );
        let onvif = format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"><s:Body><wsnt:Notify><wsnt:NotificationMessage><wsnt:Topic>tns1:RuleEngine/Recognition/Face</wsnt:Topic><wsnt:Message><tt:Message><tt:Data><tt:SimpleItem Name="Label" Value="{name}"/><tt:ElementItem Name="Image"><tt:Image>{img}</tt:Image></tt:ElementItem></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></wsnt:Notify></s:Body></s:Envelope>"#
        );
        let frig = format!(
            r#"{{"type":"face","id":"1.2-x","name":"{name}","score":0.9,"camera":"door","timestamp":1.0}}"#
        );
        let mut all = Vec::new();
        all.extend(body(None, json.as_bytes()));
        all.extend(body(None, xml.as_bytes()));
        all.extend(body(Some("text/plain"), dahua.as_bytes()));
        all.extend(body(None, onvif.as_bytes()));
        all.extend(run(|em| {
            decode_json(
                Some("frigate/tracked_object_update"),
                frig.as_bytes(),
                Direction::ToClient,
                em,
            )
        }));
        assert!(all.len() > 20, "decoders produced output: {all:?}");
        assert!(has(&all, "frigate", "update_type", "face"));
        assert!(has(&all, "dahua", "code", "FaceRecognition"));
        assert!(has(&all, "hikvision", "field", "FPID"));
        assert!(has(&all, "onvif", "data_item", "Label"));
        assert_private(&all, &[name, "Jane", &img[..20], "0.0123457", "p-77"]);
    }
}
