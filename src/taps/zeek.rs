//! Zeek JSON logs (`LogAscii::use_json=T`): dns, ssl, http and conn. Each line becomes the same
//! observations the packet decoders emit (`dns.query`, `tls.sni`, `tls.ja3`, `http.*`), with the
//! flow from `id.orig_h/p` → `id.resp_h/p`, so device attribution works as for captures.

use super::live::{reconnect_loop, TapContext};
use crate::decode::{printable, Emitter};
use crate::model::{Direction, Flow, Observation, Transport};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};

pub async fn run(path: std::path::PathBuf, ctx: &TapContext) {
    reconnect_loop(ctx, |_| super::tail::follow(&path, ctx, decode_line)).await
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "-")
}

fn flow(v: &Value, udp: bool) -> Option<Flow> {
    let ip = |k: &str| s(v, k).and_then(|x| x.parse::<IpAddr>().ok());
    let port = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
    };
    Some(Flow {
        transport: if udp { Transport::Udp } else { Transport::Tcp },
        client: SocketAddr::new(ip("id.orig_h")?, port("id.orig_p").unwrap_or(0)),
        server: SocketAddr::new(ip("id.resp_h")?, port("id.resp_p").unwrap_or(0)),
        client_mac: None,
        server_mac: None,
    })
}

/// One log line → observations. The log kind comes from `_path` when present, else from the
/// fields (a default Zeek JSON line carries no `_path`).
pub fn decode_line(line: &[u8]) -> Result<Vec<Observation>, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    let ts = v
        .get("ts")
        .and_then(Value::as_f64)
        .unwrap_or_else(super::live::now);
    let udp = s(&v, "proto") == Some("udp");
    let kind = s(&v, "_path").map(str::to_string).unwrap_or_else(|| {
        if v.get("query").is_some() || v.get("qtype_name").is_some() {
            "dns".into()
        } else if v.get("server_name").is_some()
            || v.get("ja3").is_some()
            || v.get("cipher").is_some()
        {
            "ssl".into()
        } else if v.get("uri").is_some() || v.get("method").is_some() {
            "http".into()
        } else {
            "conn".into()
        }
    });
    let mut out = Vec::new();
    let mut em = Emitter::new(ts, flow(&v, udp || kind == "dns"), &mut out);
    let put = |em: &mut Emitter, dir, proto, field: &'static str, key: &str| {
        if let Some(x) = s(&v, key) {
            em.emit(dir, proto, field, printable(x.as_bytes()));
        }
    };
    match kind.as_str() {
        "dns" => put(&mut em, Direction::ToServer, "dns", "query", "query"),
        "ssl" => {
            put(&mut em, Direction::ToServer, "tls", "sni", "server_name");
            put(&mut em, Direction::ToServer, "tls", "ja3", "ja3");
            put(&mut em, Direction::ToClient, "tls", "ja3s", "ja3s");
        }
        "http" => {
            put(&mut em, Direction::ToServer, "http", "host", "host");
            put(&mut em, Direction::ToServer, "http", "method", "method");
            put(&mut em, Direction::ToServer, "http", "uri", "uri");
            put(
                &mut em,
                Direction::ToServer,
                "http",
                "user_agent",
                "user_agent",
            );
            if let Some(uri) = s(&v, "uri") {
                let path = uri.split(['?', '#']).next().unwrap_or(uri);
                em.emit(
                    Direction::ToServer,
                    "http",
                    "path",
                    printable(path.as_bytes()),
                );
            }
            if let Some(code) = v.get("status_code").and_then(Value::as_u64) {
                em.emit(Direction::ToClient, "http", "status", code.to_string());
            }
        }
        // conn (and other logs): a flow record with no field a signature reads.
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Vec<(String, String, String)> {
        decode_line(line.as_bytes())
            .unwrap()
            .into_iter()
            .map(|o| (o.proto.to_string(), o.field.to_string(), o.value))
            .collect()
    }

    #[test]
    fn dns_ssl_http_lines() {
        let dns = r#"{"ts":1700000000.5,"uid":"C1","id.orig_h":"10.0.0.7","id.orig_p":5353,"id.resp_h":"10.0.0.1","id.resp_p":53,"proto":"udp","query":"api-us.faceplusplus.com","qtype_name":"A"}"#;
        let o = decode_line(dns.as_bytes()).unwrap();
        assert_eq!(o.len(), 1);
        assert_eq!(
            (o[0].proto, o[0].field.as_ref(), o[0].value.as_str()),
            ("dns", "query", "api-us.faceplusplus.com")
        );
        assert_eq!(o[0].flow.unwrap().client.to_string(), "10.0.0.7:5353");
        assert_eq!(o[0].ts, 1700000000.5);
        let ssl = r#"{"ts":1.0,"id.orig_h":"10.0.0.7","id.orig_p":40000,"id.resp_h":"52.1.2.3","id.resp_p":443,"server_name":"rekognition.us-east-1.amazonaws.com","ja3":"e7d705a3286e19ea42f587b344ee6865"}"#;
        let f = fields(ssl);
        assert!(f.contains(&(
            "tls".into(),
            "sni".into(),
            "rekognition.us-east-1.amazonaws.com".into()
        )));
        assert!(f.contains(&(
            "tls".into(),
            "ja3".into(),
            "e7d705a3286e19ea42f587b344ee6865".into()
        )));
        let http = r#"{"ts":1.0,"id.orig_h":"10.0.0.7","id.orig_p":40001,"id.resp_h":"10.0.0.9","id.resp_p":5000,"method":"POST","host":"frigate.local","uri":"/api/faces/recognize?x=1","user_agent":"curl/8","status_code":200}"#;
        let f = fields(http);
        assert!(f.contains(&("http".into(), "path".into(), "/api/faces/recognize".into())));
        assert!(f.contains(&("http".into(), "status".into(), "200".into())));
        assert!(f.contains(&("http".into(), "method".into(), "POST".into())));
        let conn = r#"{"ts":1.0,"id.orig_h":"10.0.0.7","id.orig_p":1,"id.resp_h":"10.0.0.9","id.resp_p":2,"proto":"tcp","service":"http","duration":1.2}"#;
        assert!(decode_line(conn.as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn broken_lines_are_errors_not_panics() {
        for l in [
            "{\"ts\":1.0,\"query\":\"a",
            "[1,2]",
            "\u{0}\u{1}",
            "{\"id.orig_h\":\"::zz\",\"query\":\"x\"}",
        ] {
            let _ = decode_line(l.as_bytes());
        }
        assert!(decode_line(b"{\"ts\":1.0,\"query\":\"a").is_err());
        assert!(decode_line(b"[1]").is_err());
    }
}
