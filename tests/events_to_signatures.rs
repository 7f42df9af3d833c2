//! Vendor event messages, as documented, through the event decoders and the shipped signatures:
//! each recognition message proves recognition, and its nearest detection-only counterpart does
//! not. This is decode → detect without the packet layers.

use banwatch::decode::events::{decode_body, decode_json};
use banwatch::decode::Emitter;
use banwatch::detect::signatures::SignatureSet;
use banwatch::model::{Direction, Observation, Strength, Technique};
use std::collections::BTreeSet;

fn rules() -> SignatureSet {
    SignatureSet::load_dir(&SignatureSet::default_dir()).expect("shipped rules")
}

/// (technique, strength) of every signature that fires on the observations.
fn proves(set: &SignatureSet, obs: &[Observation]) -> BTreeSet<(Technique, Strength)> {
    obs.iter()
        .flat_map(|o| set.match_value(o.proto, o.field, &o.value))
        .map(|s| (s.technique, s.strength))
        .collect()
}

fn body(ct: &str, b: &str) -> Vec<Observation> {
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    decode_body(Some(ct), b.as_bytes(), Direction::ToClient, &mut em);
    out
}

fn json(topic: &str, b: &str) -> Vec<Observation> {
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    decode_json(Some(topic), b.as_bytes(), Direction::ToServer, &mut em);
    out
}

const FR: (Technique, Strength) = (Technique::FaceRecognition, Strength::Strong);
const FD: (Technique, Strength) = (Technique::FaceDetection, Strength::Strong);

fn hik(event_type: &str, extra: &str) -> String {
    format!(
        r#"<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><ipAddress>10.0.0.5</ipAddress><channelID>1</channelID><dateTime>2026-11-02T09:00:02+00:00</dateTime><activePostCount>1</activePostCount><eventType>{event_type}</eventType><eventState>active</eventState><eventDescription>x</eventDescription>{extra}</EventNotificationAlert>"#
    )
}

#[test]
fn hikvision_face_capture_is_detection_unless_library_fields_appear() {
    let set = rules();
    let capture = proves(&set, &body("application/xml", &hik("faceCapture", "")));
    assert!(capture.contains(&FD), "{capture:?}");
    assert!(!capture.contains(&FR), "{capture:?}");
    let with_fpid = proves(
        &set,
        &body(
            "application/xml",
            &hik(
                "faceCapture",
                "<FPID>emp-1</FPID><similarity>0.9</similarity>",
            ),
        ),
    );
    assert!(with_fpid.contains(&FR), "{with_fpid:?}");
    let contrast = proves(&set, &body("application/xml", &hik("faceContrast", "")));
    assert!(contrast.contains(&FR), "{contrast:?}");
}

#[test]
fn dahua_face_recognition_vs_face_detection() {
    let set = rules();
    let det = proves(
        &set,
        &body("text/plain", "Code=FaceDetection;action=Start;index=0;data={\"Faces\":[{\"BoundingBox\":[1,2,3,4]}]}"),
    );
    assert!(det.contains(&FD) && !det.contains(&FR), "{det:?}");
    let rec = proves(
        &set,
        &body(
            "text/plain",
            "Code=FaceRecognition;action=Start;index=0;data={\"Candidates\":[{\"Person\":{\"Name\":\"x\"},\"Similarity\":94}]}",
        ),
    );
    assert!(rec.contains(&FR), "{rec:?}");
    let dump = proves(
        &set,
        &body(
            "text/plain",
            "Events[0].EventBaseInfo.Code=FaceRecognition\r\nEvents[0].Candidates[0].Person.UID=0012\r\n",
        ),
    );
    assert!(dump.contains(&FR), "{dump:?}");
}

#[test]
fn onvif_recognition_event_vs_attributes_only_metadata() {
    let set = rules();
    let notify = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tev="http://www.onvif.org/ver10/events/wsdl"><env:Body><tev:PullMessagesResponse><wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/Recognition/Face</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2026-11-02T09:00:05Z"><tt:Source><tt:SimpleItem Name="Rule" Value="r"/></tt:Source><tt:Data><tt:SimpleItem Name="EnrollmentID" Value="p-1"/><tt:SimpleItem Name="Likelihood" Value="0.9"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></tev:PullMessagesResponse></env:Body></env:Envelope>"#;
    let rec = proves(&set, &body("application/soap+xml", notify));
    assert!(rec.contains(&FR), "{rec:?}");

    // The spec's own metadata example: attributes (gender, age) of a human, no identity.
    let frame = r#"<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:fc="http://www.onvif.org/ver20/analytics/humanface"><tt:VideoAnalytics><tt:Frame UtcTime="2021-10-05T15:13:27.321" Source="MyClassifier"><tt:Object ObjectId="15"><tt:Appearance><tt:Class><tt:Type Likelihood="0.8">HumanFace</tt:Type></tt:Class><tt:HumanFace><fc:Gender>Male</fc:Gender><fc:Age><tt:Min>20</tt:Min><tt:Max>30</tt:Max></fc:Age></tt:HumanFace></tt:Appearance></tt:Object></tt:Frame></tt:VideoAnalytics></tt:MetadataStream>"#;
    let attrs = proves(&set, &body("application/xml", frame));
    assert!(!attrs.contains(&FR), "{attrs:?}");
    assert!(attrs.contains(&FD), "{attrs:?}");
    assert!(
        attrs.contains(&(Technique::FaceAttributes, Strength::Strong)),
        "{attrs:?}"
    );

    // A people counter proves nothing banned.
    let counter = notify
        .replace("Recognition/Face", "CountAggregation/Counter")
        .replace("EnrollmentID", "Count");
    let c = proves(&set, &body("application/soap+xml", &counter));
    assert!(
        c.iter().all(|(t, _)| !t.is_biometric_identification()),
        "{c:?}"
    );
}

#[test]
fn frigate_face_update_vs_face_attribute_event() {
    let set = rules();
    let rec = proves(
        &set,
        &json(
            "frigate/tracked_object_update",
            r#"{"type":"face","id":"1607123955.475377-mxklsc","name":"John","score":0.95,"camera":"front_door_cam","timestamp":1607123958.748393}"#,
        ),
    );
    assert!(rec.contains(&FR), "{rec:?}");
    let det = proves(
        &set,
        &json(
            "frigate/events",
            r#"{"type":"new","after":{"label":"person","attributes":{"face":0.86},"current_attributes":[{"label":"face","score":0.86}]}}"#,
        ),
    );
    assert!(det.contains(&FD) && !det.contains(&FR), "{det:?}");
}
