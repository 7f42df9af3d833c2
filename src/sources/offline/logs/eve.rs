//! Suricata EVE JSON (`eve.json`), one event a line: dns, tls and http events become the same observations the
//! packet decoders emit, with the flow from `src_ip/src_port` → `dest_ip/dest_port`.

use crate::decode::{http, printable, Emitter};
use crate::model::{Direction, Flow, Observation, Transport};
use serde_json::Value;

use super::{flow_of, text as s};

fn flow(v: &Value) -> Option<Flow> {
    let udp = s(v, "proto").is_some_and(|p| p.eq_ignore_ascii_case("udp"));
    let transport = if udp { Transport::Udp } else { Transport::Tcp };
    flow_of(
        v,
        ("src_ip", "src_port"),
        ("dest_ip", "dest_port"),
        transport,
    )
}

/// EVE `timestamp` ("2026-11-02T09:00:01.123456+0000") → Unix seconds; falls back to now.
fn timestamp(v: &Value) -> f64 {
    s(v, "timestamp")
        .and_then(crate::clock::parse_rfc3339)
        .unwrap_or_else(crate::clock::now)
}

/// EVE lines are independent records.
#[derive(Debug, Default)]
pub struct EveDecoder;

impl super::LineDecoder for EveDecoder {
    fn line(&mut self, line: &[u8]) -> Result<Vec<Observation>, String> {
        decode_line(line)
    }
}

/// One EVE line → observations.
pub fn decode_line(line: &[u8]) -> Result<Vec<Observation>, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let kind = s(&v, "event_type").ok_or("no event_type")?.to_string();
    let mut out = Vec::new();
    let mut em = Emitter::new(timestamp(&v), flow(&v), &mut out);
    let emit = |em: &mut Emitter, dir, proto, field: &'static str, x: Option<&str>| {
        if let Some(x) = x.filter(|x| !x.is_empty()) {
            em.emit(dir, proto, field, printable(x.as_bytes()));
        }
    };
    match kind.as_str() {
        "dns" => {
            let Some(d) = v.get("dns") else {
                return Ok(out);
            };
            // EVE v2 logs one query per event (`rrname`); v3 (Suricata 8) a `queries` list.
            if s(d, "type") == Some("query") || s(d, "type") == Some("request") {
                emit(&mut em, Direction::ToServer, "dns", "query", s(d, "rrname"));
            }
            if let Some(qs) = d.get("queries").and_then(Value::as_array) {
                for q in qs.iter().take(16) {
                    emit(&mut em, Direction::ToServer, "dns", "query", s(q, "rrname"));
                }
            }
        }
        "tls" => {
            let Some(t) = v.get("tls") else {
                return Ok(out);
            };
            emit(&mut em, Direction::ToServer, "tls", "sni", s(t, "sni"));
            emit(
                &mut em,
                Direction::ToServer,
                "tls",
                "ja3",
                t.get("ja3").and_then(|j| s(j, "hash")),
            );
            emit(
                &mut em,
                Direction::ToClient,
                "tls",
                "ja3s",
                t.get("ja3s").and_then(|j| s(j, "hash")),
            );
        }
        "http" => {
            let Some(h) = v.get("http") else {
                return Ok(out);
            };
            emit(
                &mut em,
                Direction::ToServer,
                "http",
                "method",
                s(h, "http_method"),
            );
            emit(
                &mut em,
                Direction::ToServer,
                "http",
                "user_agent",
                s(h, "http_user_agent"),
            );
            // The target through the HTTP decoder's own path: names and ids masked.
            let method = s(h, "http_method").unwrap_or("GET");
            let (path, _) = http::emit_target(
                &mut em,
                Direction::ToServer,
                method,
                s(h, "url").unwrap_or(""),
            );
            http::emit_host(
                &mut em,
                Direction::ToServer,
                s(h, "hostname").map(str::to_string),
                path.as_deref(),
            );
            if let Some(st) = h.get("status").and_then(Value::as_u64) {
                em.emit(Direction::ToClient, "http", "status", st.to_string());
            }
        }
        // Suricata's MQTT logger: `mqtt.publish` {topic, message}, `mqtt.connect` {client_id},
        // `mqtt.subscribe` {topics: [{topic}]} (suricata docs, EVE output, MQTT). Topics are
        // masked like the MQTT decoder's; a JSON message goes to the same event decoders.
        "mqtt" => {
            let Some(m) = v.get("mqtt") else {
                return Ok(out);
            };
            if let Some(p) = m.get("publish") {
                let topic = s(p, "topic");
                if let Some(t) = topic {
                    let shown = crate::decode::identity::topic(&printable(t.as_bytes()));
                    em.emit(Direction::ToServer, "mqtt", "topic", shown);
                }
                if let Some(msg) = s(p, "message").filter(|m| m.starts_with(['{', '['])) {
                    crate::decode::events::decode_json(
                        topic,
                        msg.as_bytes(),
                        Direction::ToServer,
                        &mut em,
                    );
                }
            }
            if let Some(c) = m.get("connect") {
                emit(
                    &mut em,
                    Direction::ToServer,
                    "mqtt",
                    "client_id",
                    s(c, "client_id"),
                );
            }
            if let Some(topics) = m
                .get("subscribe")
                .and_then(|x| x.get("topics"))
                .and_then(Value::as_array)
            {
                for t in topics.iter().take(64).filter_map(|t| s(t, "topic")) {
                    let shown = crate::decode::identity::topic(&printable(t.as_bytes()));
                    em.emit(Direction::ToServer, "mqtt", "subscribe", shown);
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eve_events() {
        let l = r#"{"timestamp":"2026-11-02T09:00:01.500000+0000","flow_id":1,"event_type":"tls","src_ip":"10.0.0.7","src_port":40000,"dest_ip":"52.1.2.3","dest_port":443,"proto":"TCP","tls":{"sni":"rekognition.eu-west-1.amazonaws.com","version":"TLS 1.2","ja3":{"hash":"abc","string":"771,..."}}}"#;
        let o = decode_line(l.as_bytes()).unwrap();
        assert_eq!(o[0].field, "sni");
        assert_eq!(o[1].value, "abc");
        assert_eq!(o[0].flow.unwrap().server.to_string(), "52.1.2.3:443");
        assert_eq!(o[0].ts, 1_793_610_001.5);
        let l = r#"{"timestamp":"2026-11-02T10:00:01+0100","event_type":"http","src_ip":"10.0.0.7","src_port":1,"dest_ip":"10.0.0.9","dest_port":80,"http":{"hostname":"cam","url":"/ISAPI/Intelligent/FDLib/FDSearch?format=json","http_method":"POST","status":200}}"#;
        let o = decode_line(l.as_bytes()).unwrap();
        assert!(o
            .iter()
            .any(|o| o.field == "path" && o.value == "/ISAPI/Intelligent/FDLib/FDSearch"));
        assert_eq!(o[0].ts, 1_793_610_001.0);
        let l = r#"{"event_type":"dns","src_ip":"10.0.0.7","dest_ip":"10.0.0.1","proto":"UDP","dns":{"version":3,"type":"request","queries":[{"rrname":"api.kairos.com","rrtype":"A"}]}}"#;
        let o = decode_line(l.as_bytes()).unwrap();
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].value, "api.kairos.com");
        assert!(decode_line(br#"{"event_type":"flow"}"#).unwrap().is_empty());
        // A person's name in the URL never becomes an observation (the HTTP decoder's path).
        let l = r#"{"event_type":"http","src_ip":"10.0.0.7","src_port":1,"dest_ip":"10.0.0.9","dest_port":8000,"http":{"hostname":"cf","url":"/api/v1/recognition/subjects/Jane%20Doe?subject=Jane","http_method":"DELETE"}}"#;
        let o = decode_line(l.as_bytes()).unwrap();
        assert!(
            o.iter()
                .any(|o| o.field == "path" && o.value == "/api/v1/recognition/subjects/+"),
            "{o:?}"
        );
        assert!(o.iter().any(|o| o.field == "hostpath"), "{o:?}");
        assert!(!o.iter().any(|o| o.value.contains("Jane")), "{o:?}");
        // MQTT: Double Take's match topic (the name masked) and a Frigate event message.
        let l = r#"{"event_type":"mqtt","src_ip":"10.0.0.7","src_port":40000,"dest_ip":"10.0.0.2","dest_port":1883,"mqtt":{"publish":{"qos":0,"topic":"double-take/matches/jane","message":"{\"name\":\"jane\",\"confidence\":91}"}}}"#;
        let o = decode_line(l.as_bytes()).unwrap();
        assert!(
            o.iter()
                .any(|o| o.proto == "mqtt" && o.value == "double-take/matches/+"),
            "{o:?}"
        );
        assert!(!o.iter().any(|o| o.value.contains("jane")), "{o:?}");
    }

    #[test]
    fn broken() {
        assert!(decode_line(b"{\"event_type\":\"dns\",").is_err());
        assert!(decode_line(b"{}").is_err());
        for t in [
            "",
            "2026",
            "2026-11-02T09:00:01.+",
            "2026-11-02T09:00:01+0",
            "xxxx-xx-xxTxx:xx:xx",
        ] {
            assert_eq!(crate::clock::parse_rfc3339(t), None, "{t}");
        }
    }
}
