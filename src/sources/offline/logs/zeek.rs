//! Zeek logs: dns, ssl, http and conn, in Zeek's default tab-separated format (`#fields` and
//! `#types` header lines, then one row a record; <https://docs.zeek.org/en/master/log-formats.html>)
//! or as JSON (`LogAscii::use_json=T`). Each record becomes the same observations the packet
//! decoders emit (`dns.query`, `tls.sni`, `tls.ja3`, `http.*`), with the flow from
//! `id.orig_h/p` → `id.resp_h/p`, so device attribution works as for captures. A TSV row is
//! first turned into the JSON object Zeek would have written.

use crate::decode::{http, printable, Emitter};
use crate::model::{Direction, Flow, Observation, Transport};
use serde_json::Value;

use super::{flow_of, text as s};

fn flow(v: &Value, udp: bool) -> Option<Flow> {
    let transport = if udp { Transport::Udp } else { Transport::Tcp };
    flow_of(
        v,
        ("id.orig_h", "id.orig_p"),
        ("id.resp_h", "id.resp_p"),
        transport,
    )
}

/// Decoder of one Zeek log file: remembers the TSV header.
#[derive(Debug, Default)]
pub struct ZeekDecoder {
    /// `#fields` names, once seen.
    fields: Vec<String>,
    /// `#types` of the same columns.
    types: Vec<String>,
    /// `#path` (the log's kind: dns, ssl, http, conn...).
    path: Option<String>,
    /// `#unset_field` (default `-`) and `#empty_field` (default `(empty)`).
    unset: Option<String>,
    empty: Option<String>,
}

impl super::LineDecoder for ZeekDecoder {
    fn line(&mut self, line: &[u8]) -> Result<Vec<Observation>, String> {
        match line.first() {
            Some(b'{') => decode_line(line),
            Some(b'#') => {
                self.header(line);
                Ok(Vec::new())
            }
            _ => decode_value(&self.row(line)?),
        }
    }
}

/// Most columns a TSV header may declare.
const MAX_COLUMNS: usize = 512;

impl ZeekDecoder {
    fn header(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let mut parts = text.split('\t');
        let key = parts.next().unwrap_or("");
        let rest: Vec<String> = parts.take(MAX_COLUMNS).map(str::to_string).collect();
        match key {
            "#fields" => self.fields = rest,
            "#types" => self.types = rest,
            "#path" => self.path = rest.into_iter().next(),
            "#unset_field" => self.unset = rest.into_iter().next(),
            "#empty_field" => self.empty = rest.into_iter().next(),
            _ => {}
        }
    }

    /// A TSV row as the JSON object Zeek would log: numbers for `time`, `interval`, `double`,
    /// `count`, `int` and `port` columns, strings otherwise; unset columns left out.
    fn row(&self, line: &[u8]) -> Result<Value, String> {
        if self.fields.is_empty() {
            return Err("a tab-separated row before any #fields header".into());
        }
        let text = String::from_utf8_lossy(line);
        let cells: Vec<&str> = text.split('\t').collect();
        if cells.len() != self.fields.len() {
            return Err(format!(
                "{} columns where #fields names {}",
                cells.len(),
                self.fields.len()
            ));
        }
        let unset = self.unset.as_deref().unwrap_or("-");
        let empty = self.empty.as_deref().unwrap_or("(empty)");
        let mut obj = serde_json::Map::new();
        for (i, (name, cell)) in self.fields.iter().zip(cells).enumerate() {
            if cell == unset {
                continue;
            }
            let ty = self.types.get(i).map(String::as_str).unwrap_or("string");
            let v = match ty {
                "time" | "interval" | "double" => cell
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number),
                "count" | "port" => cell.parse::<u64>().ok().map(Value::from),
                "int" => cell.parse::<i64>().ok().map(Value::from),
                _ if cell == empty => Some(Value::String(String::new())),
                _ => Some(Value::String(unescape(cell))),
            };
            if let Some(v) = v {
                obj.insert(name.clone(), v);
            }
        }
        if let Some(p) = &self.path {
            obj.entry("_path")
                .or_insert_with(|| Value::String(p.clone()));
        }
        Ok(Value::Object(obj))
    }
}

/// Zeek escapes non-printable bytes in TSV as `\xHH`.
fn unescape(cell: &str) -> String {
    if !cell.contains("\\x") {
        return cell.to_string();
    }
    let b = cell.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            if let Some(v) = cell
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One log line → observations. The log kind comes from `_path` when present, else from the
/// fields (a default Zeek JSON line carries no `_path`).
pub fn decode_line(line: &[u8]) -> Result<Vec<Observation>, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    decode_value(&v)
}

/// One Zeek record (a JSON object, or a TSV row turned into one) → observations.
pub fn decode_value(v: &Value) -> Result<Vec<Observation>, String> {
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    let ts = v
        .get("ts")
        .and_then(|t| {
            t.as_f64()
                .or_else(|| t.as_str().and_then(crate::clock::parse_rfc3339))
        })
        .unwrap_or_else(crate::clock::now);
    let udp = s(v, "proto") == Some("udp");
    let kind = s(v, "_path").map(str::to_string).unwrap_or_else(|| {
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
    let mut em = Emitter::new(ts, flow(v, udp || kind == "dns"), &mut out);
    let put = |em: &mut Emitter, dir, proto, field: &'static str, key: &str| {
        if let Some(x) = s(v, key) {
            em.emit(dir, proto, field, printable(x.as_bytes()));
        }
    };
    // conn.log with Zeek's mac-logging policy: each end's MAC, as the vendor prefix.
    for (key, dir) in [
        ("orig_l2_addr", Direction::ToServer),
        ("resp_l2_addr", Direction::ToClient),
    ] {
        if let Some(oui) = s(v, key)
            .and_then(crate::decode::link::parse_mac)
            .and_then(crate::decode::link::oui)
        {
            em.emit(dir, "mac", "oui", oui);
        }
    }
    match kind.as_str() {
        "dns" => put(&mut em, Direction::ToServer, "dns", "query", "query"),
        "ssl" => {
            put(&mut em, Direction::ToServer, "tls", "sni", "server_name");
            put(&mut em, Direction::ToServer, "tls", "ja3", "ja3");
            put(&mut em, Direction::ToClient, "tls", "ja3s", "ja3s");
        }
        "http" => {
            put(&mut em, Direction::ToServer, "http", "method", "method");
            put(
                &mut em,
                Direction::ToServer,
                "http",
                "user_agent",
                "user_agent",
            );
            // The target through the HTTP decoder's own path: names and ids masked.
            let method = s(v, "method").unwrap_or("GET");
            let (path, _) = http::emit_target(
                &mut em,
                Direction::ToServer,
                method,
                s(v, "uri").unwrap_or(""),
            );
            http::emit_host(
                &mut em,
                Direction::ToServer,
                s(v, "host").map(str::to_string),
                path.as_deref(),
            );
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
            (o[0].proto, o[0].field, o[0].value.as_str()),
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
    fn tab_separated_logs_as_zeek_writes_them() {
        use super::super::LineDecoder;
        let log = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\thttp\n#open\t2026-11-02-09-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\ttrans_depth\tmethod\thost\turi\treferrer\tversion\tuser_agent\tstatus_code\n#types\ttime\tstring\taddr\tport\taddr\tport\tcount\tstring\tstring\tstring\tstring\tstring\tstring\tcount\n1700000000.250000\tCx1\t10.0.0.7\t40001\t10.0.0.9\t8000\t1\tPOST\tcompreface.local\t/api/v1/recognition/recognize?limit=1\t-\t1.1\tcurl/8.0\t200\n#close\t2026-11-02-10-00-00\n";
        let mut d = ZeekDecoder::default();
        let mut obs = Vec::new();
        for l in log.lines() {
            obs.extend(d.line(l.as_bytes()).unwrap());
        }
        let f: Vec<(&str, &str)> = obs.iter().map(|o| (o.field, o.value.as_str())).collect();
        assert!(
            f.contains(&("path", "/api/v1/recognition/recognize")),
            "{f:?}"
        );
        assert!(f.contains(&("host", "compreface.local")));
        assert!(f.contains(&("status", "200")));
        assert_eq!(obs[0].ts, 1_700_000_000.25);
        assert_eq!(obs[0].flow.unwrap().server.to_string(), "10.0.0.9:8000");
        // A row before the header, or with the wrong number of columns, is an error.
        assert!(ZeekDecoder::default().line(b"1.0\tC\t10.0.0.1").is_err());
        assert!(d.line(b"1.0\tC").is_err());
        assert_eq!(unescape("a\\x41b\\xzz"), "aAb\\xzz");
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

    #[test]
    fn conn_log_macs_give_vendor_prefixes() {
        let conn = r#"{"ts":1.0,"uid":"C9","id.orig_h":"10.0.0.7","id.orig_p":40001,"id.resp_h":"10.0.0.9","id.resp_p":443,"proto":"tcp","orig_l2_addr":"b4:1e:52:01:02:03","resp_l2_addr":"02:00:00:00:00:01"}"#;
        let o = decode_line(conn.as_bytes()).unwrap();
        let ouis: Vec<&str> = o
            .iter()
            .filter(|o| o.proto == "mac" && o.field == "oui")
            .map(|o| o.value.as_str())
            .collect();
        // The locally administered address names no vendor.
        assert_eq!(ouis, ["b4:1e:52"]);
    }
}
