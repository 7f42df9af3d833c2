//! Logs other sensors write, one record a line: Suricata EVE JSON ([`eve`]) and Zeek logs in
//! JSON or Zeek's default tab-separated format ([`zeek`]). Each record becomes the observations
//! the packet decoders would have emitted, so the same signatures apply. `scan` reads them from
//! files; the live `zeek` and `eve` sources follow them as they grow.

pub mod eve;
pub mod zeek;

use crate::model::{Flow, Observation, Transport};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};

/// Longest line read; a longer one is counted as broken and skipped.
pub const MAX_LINE: usize = 1 << 20;

/// Turns lines of one log into observations. Some formats keep state between lines (Zeek's TSV
/// header names the columns of the rows after it).
pub trait LineDecoder: Send {
    /// One line without its line break. `Err` says why the line was skipped.
    fn line(&mut self, line: &[u8]) -> Result<Vec<Observation>, String>;
}

/// The log formats banwatch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Suricata EVE JSON lines.
    Eve,
    /// Zeek logs, JSON or TSV.
    Zeek,
}

impl LogFormat {
    /// The name reports and feed kinds use.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Eve => "eve",
            LogFormat::Zeek => "zeek",
        }
    }

    /// A fresh decoder for one file.
    pub fn decoder(self) -> Box<dyn LineDecoder> {
        match self {
            LogFormat::Eve => Box::new(eve::EveDecoder),
            LogFormat::Zeek => Box::new(zeek::ZeekDecoder::default()),
        }
    }

    /// Recognise a log from the first bytes of a file (its first line may be far longer than
    /// `head`: Suricata's `stats` records often are, so keys are looked for in the part seen).
    pub fn sniff(head: &[u8]) -> Option<LogFormat> {
        let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
        let first = &head[start..];
        if first.starts_with(b"#separator") || first.starts_with(b"#fields\t") {
            return Some(LogFormat::Zeek);
        }
        if first.first() != Some(&b'{') {
            return None;
        }
        let line = &first[..memchr::memchr(b'\n', first).unwrap_or(first.len())];
        let has = |k: &[u8]| memchr::memmem::find(line, k).is_some();
        if has(b"\"event_type\"") && has(b"\"timestamp\"") {
            Some(LogFormat::Eve)
        } else if has(b"\"id.orig_h\"") || (has(b"\"uid\"") && has(b"\"ts\"")) {
            Some(LogFormat::Zeek)
        } else {
            None
        }
    }
}

/// A record's non-empty string field (`-` is Zeek's unset value).
pub(crate) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "-")
}

/// The flow of a log record from its address and port fields (`client` and `server` name the
/// (address, port) keys); ports may be missing.
pub(crate) fn flow_of(
    v: &Value,
    client: (&str, &str),
    server: (&str, &str),
    transport: Transport,
) -> Option<Flow> {
    let end = |(addr, port): (&str, &str)| {
        let ip = text(v, addr)?.parse::<IpAddr>().ok()?;
        let port = v
            .get(port)
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok());
        Some(SocketAddr::new(ip, port.unwrap_or(0)))
    };
    Some(Flow {
        transport,
        client: end(client)?,
        server: end(server)?,
        client_mac: None,
        server_mac: None,
    })
}

/// What reading one log gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSummary {
    /// Records (non-blank lines) read.
    pub records: u64,
    /// Records skipped as broken.
    pub errors: u64,
}

/// Decode every line of a log held in memory; each record's observations go to `each`.
pub fn read(
    format: LogFormat,
    data: &[u8],
    name: &str,
    each: &mut dyn FnMut(Vec<Observation>),
) -> LogSummary {
    let mut decoder = format.decoder();
    let mut sum = LogSummary::default();
    for raw in data.split(|b| *b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        sum.records += 1;
        if line.len() > MAX_LINE {
            sum.errors += 1;
            tracing::debug!(
                "{name}: record {}: longer than {MAX_LINE} bytes",
                sum.records
            );
            continue;
        }
        match decoder.line(line) {
            Ok(obs) => each(obs),
            Err(e) => {
                sum.errors += 1;
                tracing::debug!("{name}: record {}: {e}", sum.records);
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_long_first_lines_and_tsv() {
        let mut stats =
            br#"{"timestamp":"2026-11-02T09:00:01.500000+0000","event_type":"stats","stats":{"#
                .to_vec();
        stats.extend(std::iter::repeat_n(b'x', 10_000));
        assert_eq!(LogFormat::sniff(&stats[..4096]), Some(LogFormat::Eve));
        assert_eq!(
            LogFormat::sniff(b"#separator \\x09\n#set_separator\t,\n"),
            Some(LogFormat::Zeek)
        );
        assert_eq!(
            LogFormat::sniff(br#"{"ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1"}"#),
            Some(LogFormat::Zeek)
        );
        assert_eq!(LogFormat::sniff(br#"{"modelTopology":{}}"#), None);
        assert_eq!(LogFormat::sniff(b"\x89PNG"), None);
    }
}
