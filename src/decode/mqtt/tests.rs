//! Tests of the MQTT decoder: every packet type, every protocol level, hostile lengths.

use super::*;
use crate::model::Observation;

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

fn s16(s: &[u8]) -> Vec<u8> {
    let mut v = (s.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

fn pkt(b0: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![b0];
    let mut n = body.len();
    loop {
        let mut c = (n & 0x7f) as u8;
        n >>= 7;
        if n > 0 {
            c |= 0x80;
        }
        v.push(c);
        if n == 0 {
            break;
        }
    }
    v.extend_from_slice(body);
    v
}

fn connect_pkt(level: u8, client: &str, user: bool) -> Vec<u8> {
    let mut b = s16(if level == 3 { b"MQIsdp" } else { b"MQTT" });
    b.push(level);
    b.push(if user { 0xC2 } else { 0x02 });
    b.extend_from_slice(&[0, 60]);
    if level == 5 {
        b.extend_from_slice(&[5, 0x11, 0, 0, 0, 10]); // session expiry
    }
    b.extend_from_slice(&s16(client.as_bytes()));
    if user {
        b.extend_from_slice(&s16(b"alice"));
        b.extend_from_slice(&s16(b"hunter2"));
    }
    pkt(0x10, &b)
}

fn publish_pkt(v5: bool, qos: u8, topic: &str, payload: &[u8], alias: Option<u16>) -> Vec<u8> {
    let mut b = s16(topic.as_bytes());
    if qos > 0 {
        b.extend_from_slice(&[0, 7]);
    }
    if v5 {
        let mut props = vec![0x01, 1]; // payload format indicator
        if let Some(a) = alias {
            props.push(0x23);
            props.extend_from_slice(&a.to_be_bytes());
        }
        props.extend_from_slice(&[0x03]);
        props.extend_from_slice(&s16(b"application/json"));
        b.push(props.len() as u8);
        b.extend_from_slice(&props);
    }
    b.extend_from_slice(payload);
    pkt(0x30 | (qos << 1), &b)
}

fn run_chunked(conv: &[(Direction, Vec<u8>)], chunk: usize) -> Vec<(String, String)> {
    let mut out: Vec<Observation> = Vec::new();
    {
        let mut em = Emitter::new(0.0, None, &mut out);
        let mut p = MqttParser::new();
        for (d, b) in conv {
            for c in b.chunks(chunk.max(1)) {
                p.feed(*d, c, &mut em);
            }
        }
        p.close(&mut em);
    }
    out.into_iter()
        .map(|o| (format!("{}.{}", o.proto, o.field), o.value))
        .collect()
}

fn run(conv: &[(Direction, Vec<u8>)]) -> Vec<(String, String)> {
    let whole = run_chunked(conv, usize::MAX);
    for n in 1..64 {
        assert_eq!(run_chunked(conv, n), whole, "chunk {n}");
    }
    whole
}

fn has(o: &[(String, String)], k: &str, v: &str) -> bool {
    o.iter().any(|(a, b)| a == k && b == v)
}

const FRIGATE: &[u8] =
    br#"{"type":"face","id":"1607123955.475377-mxklsc","name":"John","score":0.95,"camera":"front_door_cam","timestamp":1607123958.748393}"#;

#[test]
fn mqtt311_connect_publish_subscribe() {
    let mut c = connect_pkt(4, "frigate-1", true);
    c.extend(publish_pkt(
        false,
        1,
        "frigate/tracked_object_update",
        FRIGATE,
        None,
    ));
    let mut sub = vec![0, 9];
    sub.extend(s16(b"frigate/#"));
    sub.push(1);
    sub.extend(s16(b"cams/+/events"));
    sub.push(0);
    c.extend(pkt(0x82, &sub));
    c.extend(pkt(0xC0, &[]));
    let o = run(&[(C, c), (S, vec![0x20, 2, 0, 0])]);
    assert!(has(&o, "mqtt.protocol", "MQTT 3.1.1"));
    assert!(has(&o, "mqtt.client_id", "frigate-1"));
    assert!(has(&o, "mqtt.username", "present"));
    assert!(has(&o, "mqtt.topic", "frigate/tracked_object_update"));
    assert!(has(&o, "mqtt.subscribe", "frigate/#"));
    assert!(has(&o, "mqtt.subscribe", "cams/+/events"));
    assert!(has(&o, "frigate.update_type", "face"));
    assert!(!o
        .iter()
        .any(|(_, v)| v.contains("alice") || v.contains("hunter2") || v.contains("John")));
}

#[test]
fn mqtt31_and_mqtt5_with_alias() {
    let o = run(&[(C, connect_pkt(3, "old", false))]);
    assert!(has(&o, "mqtt.protocol", "MQTT 3.1"));
    let mut c = connect_pkt(5, "v5client", false);
    c.extend(publish_pkt(
        true,
        0,
        "frigate/tracked_object_update",
        FRIGATE,
        Some(3),
    ));
    c.extend(publish_pkt(
        true,
        2,
        "",
        br#"{"type":"lpr","id":"a","camera":"c"}"#,
        Some(3),
    ));
    let mut sub = vec![0, 1, 0];
    sub.extend(s16(b"a/b"));
    sub.push(0);
    c.extend(pkt(0x82, &sub));
    let o = run(&[(C, c)]);
    assert!(has(&o, "mqtt.protocol", "MQTT 5"));
    assert_eq!(o.iter().filter(|(k, _)| k == "mqtt.topic").count(), 2);
    assert!(has(&o, "frigate.update_type", "lpr"));
    assert!(has(&o, "mqtt.subscribe", "a/b"));
}

#[test]
fn midstream_publish_split() {
    // Like suricata-verify mqtt-midstream-split: server side starts with a v5 CONNACK
    // split after its first byte, client side with a big PUBLISH carrying a JPEG.
    let mut connack = vec![0x20, 0x05, 0, 0, 2, 0x21, 0];
    connack.truncate(7);
    let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0];
    jpeg.extend(std::iter::repeat_n(0x5a, 35000));
    let mut body = s16(b"topicX");
    body.push(0); // v5 property length
    body.extend(&jpeg);
    let publ = pkt(0x30, &body);
    let o = run_chunked(&[(S, connack), (C, publ.clone())], 1448);
    assert!(has(&o, "mqtt.topic", "topicX"), "{o:?}");
    // Started in the middle of a packet: garbage first, then the PUBLISH.
    let mut late = b"\x11\x22garbage-from-previous-packet".to_vec();
    late.extend(publish_pkt(
        false,
        0,
        "site/cam1/events",
        b"{\"eventType\":\"faceCapture\"}",
        None,
    ));
    late.extend(pkt(0xC0, &[]));
    let o = run(&[(C, late)]);
    assert!(has(&o, "mqtt.topic", "site/cam1/events"), "{o:?}");
    assert!(has(&o, "hikvision.event_type", "faceCapture"));
}

#[test]
fn xml_payload_and_oversized() {
    let xml = br#"<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"><tt:VideoAnalytics/></tt:MetadataStream>"#;
    let mut c = connect_pkt(4, "x", false);
    c.extend(publish_pkt(false, 0, "onvif/meta", xml, None));
    let big = vec![b'{'; MAX_PACKET + 10];
    c.extend(publish_pkt(false, 0, "big/topic", &big, None));
    c.extend(publish_pkt(false, 0, "after/big", b"1", None));
    let o = run_chunked(&[(C, c)], 4096);
    assert!(has(&o, "xml.element", "MetadataStream"));
    assert!(has(&o, "mqtt.topic", "big/topic"));
    assert!(has(&o, "mqtt.topic", "after/big"));
}

#[test]
fn hostile_inputs() {
    assert_eq!(fixed_header(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), Err(()));
    assert_eq!(fixed_header(&[0x30, 0xff]), Ok(None));
    let mut p = MqttParser::new();
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    let mut last = Progress::Continue;
    for i in 0..2000u32 {
        let junk: Vec<u8> = (0..256u32)
            .map(|j| ((i * 31 + j * 17) % 251) as u8 | 0x80)
            .collect();
        p.feed(C, &junk, &mut em);
        last = p.feed(S, &junk, &mut em);
    }
    assert_eq!(last, Progress::Done);
    assert!(p.to_server.buf.len() < 200 * 1024);
}

#[test]
fn gap_resyncs() {
    let mut p = MqttParser::new();
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    let c = connect_pkt(4, "x", false);
    p.feed(C, &c, &mut em);
    let pb = publish_pkt(false, 0, "a/lost", b"xx", None);
    p.feed(C, &pb[..5], &mut em);
    p.gap(C, 100, &mut em);
    p.feed(C, b"\x00\x01zz", &mut em);
    p.feed(C, &publish_pkt(false, 0, "a/found", b"{}", None), &mut em);
    assert!(out.iter().any(|o| o.value == "a/found"));
    assert!(!out.iter().any(|o| o.value == "a/lost"));
}
