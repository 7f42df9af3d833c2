//! TLS ClientHello: SNI, ALPN, version, JA3 and JA4 fingerprints. Handshake bytes are gathered
//! across records and TCP segments (bounded); once the ClientHello is read the flow is bypassed,
//! since nothing after it is visible.

use super::{printable, AppParser, Emitter, Progress};
use crate::model::Direction;
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::fmt::Write as _;

use super::bytes::be16;
use super::protocol::FieldTable;

/// Fields of the TLS ClientHello (RFC 8446 §4.1.2) and of sensor logs.
pub const FIELDS: FieldTable = FieldTable(
    "
tls.sni      value        Server name indication
tls.sni_upload  value    Server name of a TLS session in which the client sent at least 64 KiB (an upload, not a page read)
tls.alpn     enumeration  Offered application protocols (`h2`, `http/1.1`)
tls.version  enumeration  Highest offered version
tls.ja3      digest       JA3 fingerprint of the ClientHello
tls.ja4      digest       JA4 fingerprint of the ClientHello
tls.ja3s     digest       JA3S of the ServerHello (from Zeek and EVE logs)
",
);

/// TLS in the protocol registry: a handshake record (type 22, version 3.x).
pub const PROTOCOL: super::protocol::AppProtocol = super::protocol::AppProtocol {
    name: "tls",
    ports: &[443, 8443, 8883],
    probe: |s| {
        let d = s.data;
        if d.len() >= 3 && d[0] == 0x16 && d[1] == 3 && d[2] <= 4 {
            super::protocol::Probe::Yes
        } else {
            super::protocol::Probe::No
        }
    },
    parser: || Box::new(TlsParser::new()),
};

const P: &str = "tls";
/// Largest ClientHello gathered (real ones are under 2 KiB; post-quantum ones under 4 KiB).
const MAX_HELLO: usize = 64 * 1024;

/// Per-flow TLS state: reads the ClientHello, then the flow is bypassed.
#[derive(Default)]
pub struct TlsParser {
    record: Vec<u8>,
    handshake: Vec<u8>,
}

impl TlsParser {
    /// A parser for one TLS flow.
    pub fn new() -> Self {
        Self::default()
    }
}

fn grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

impl AppParser for TlsParser {
    fn feed(&mut self, dir: Direction, data: &[u8], em: &mut Emitter<'_>) -> Progress {
        if dir == Direction::ToClient {
            // The server's side adds nothing we use; wait for the client's hello.
            return Progress::Continue;
        }
        self.record.extend_from_slice(data);
        loop {
            if self.record.len() < 5 {
                return Progress::Continue;
            }
            if self.record[0] != 22 || self.record[1] != 3 {
                return Progress::Done;
            }
            let len = usize::from(be16(&self.record, 3).unwrap_or(0));
            if self.record.len() < 5 + len {
                if self.record.len() > MAX_HELLO {
                    return Progress::Done;
                }
                return Progress::Continue;
            }
            self.handshake.extend_from_slice(&self.record[5..5 + len]);
            self.record.drain(..5 + len);
            if self.handshake.len() >= 4 {
                if self.handshake[0] != 1 {
                    return Progress::Done;
                }
                let hlen = (usize::from(self.handshake[1]) << 16)
                    | (usize::from(self.handshake[2]) << 8)
                    | usize::from(self.handshake[3]);
                if hlen > MAX_HELLO {
                    return Progress::Done;
                }
                if self.handshake.len() >= 4 + hlen {
                    client_hello(&self.handshake[4..4 + hlen], dir, em);
                    return Progress::Done;
                }
            }
            if self.handshake.len() > MAX_HELLO {
                return Progress::Done;
            }
        }
    }
}

fn version_name(v: u16) -> &'static str {
    match v {
        0x0304 => "1.3",
        0x0303 => "1.2",
        0x0302 => "1.1",
        0x0301 => "1.0",
        0x0300 => "ssl3",
        _ => "unknown",
    }
}

fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        _ => "00",
    }
}

fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".into();
    }
    hex::encode(&Sha256::digest(s.as_bytes())[..6])
}

/// Append `v` joined by `sep`, each number in decimal or as four lowercase hex digits.
fn join_into(out: &mut String, v: &[u16], sep: &str, hex4: bool) {
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        let _ = if hex4 {
            write!(out, "{x:04x}")
        } else {
            write!(out, "{x}")
        };
    }
}

/// Parse a ClientHello body (after the 4-byte handshake header) carried over TCP.
pub fn client_hello(b: &[u8], dir: Direction, em: &mut Emitter<'_>) -> Option<()> {
    client_hello_over(b, dir, em, 't')
}

/// Parse a ClientHello body carried over `transport`: JA4's first letter, `t` (TCP) or `q`
/// (QUIC, whose ClientHello [`super::quic`] decrypts).
pub fn client_hello_over(
    b: &[u8],
    dir: Direction,
    em: &mut Emitter<'_>,
    transport: char,
) -> Option<()> {
    let legacy = be16(b, 0)?;
    let mut at = 2 + 32;
    let sid = usize::from(*b.get(at)?);
    at += 1 + sid;
    let cs_len = usize::from(be16(b, at)?);
    let suites: Vec<u16> = b
        .get(at + 2..at + 2 + cs_len)?
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    at += 2 + cs_len;
    let comp = usize::from(*b.get(at)?);
    at += 1 + comp;
    let mut exts: Vec<u16> = Vec::new();
    let mut sni = None;
    let mut alpn: Vec<String> = Vec::new();
    let mut groups: Vec<u16> = Vec::new();
    let mut formats: Vec<u8> = Vec::new();
    let mut sigalgs: Vec<u16> = Vec::new();
    let mut versions: Vec<u16> = Vec::new();
    if let Some(ext_len) = be16(b, at) {
        let ext_end = (at + 2 + usize::from(ext_len)).min(b.len());
        let mut e = at + 2;
        while e + 4 <= ext_end {
            let t = be16(b, e)?;
            let l = usize::from(be16(b, e + 2)?);
            let body = b.get(e + 4..e + 4 + l)?;
            exts.push(t);
            match t {
                0 => {
                    // server_name list: type(1) len(2) name
                    if let (Some(0), Some(nl)) = (body.get(2), be16(body, 3)) {
                        if let Some(n) = body.get(5..5 + usize::from(nl)) {
                            sni = Some(printable(n));
                        }
                    }
                }
                16 => {
                    let mut p = 2;
                    while let Some(&pl) = body.get(p) {
                        let Some(proto) = body.get(p + 1..p + 1 + usize::from(pl)) else {
                            break;
                        };
                        alpn.push(printable(proto));
                        p += 1 + usize::from(pl);
                    }
                }
                10 => {
                    groups = body
                        .get(2..)
                        .unwrap_or(&[])
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect()
                }
                11 => formats = body.get(1..).unwrap_or(&[]).to_vec(),
                13 => {
                    sigalgs = body
                        .get(2..)
                        .unwrap_or(&[])
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect()
                }
                43 => {
                    versions = body
                        .get(1..)
                        .unwrap_or(&[])
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .filter(|v| !grease(*v))
                        .collect()
                }
                _ => {}
            }
            e += 4 + l;
        }
    }
    if let Some(s) = &sni {
        em.emit(dir, P, "sni", s.clone());
    }
    for a in &alpn {
        em.emit(dir, P, "alpn", a.clone());
    }
    let best = versions.iter().copied().max().unwrap_or(legacy);
    em.emit(dir, P, "version", version_name(best));
    let (ja3_read, ja4_read) = (em.wants(P, "ja3"), em.wants(P, "ja4"));
    if !ja3_read && !ja4_read {
        return Some(());
    }

    // JA3: SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats (GREASE out).
    let no_grease = |v: &[u16]| {
        v.iter()
            .copied()
            .filter(|x| !grease(*x))
            .collect::<Vec<u16>>()
    };
    let (ciphers, all_exts) = (no_grease(&suites), no_grease(&exts));
    let mut ja3 = String::with_capacity(256);
    let _ = write!(ja3, "{legacy},");
    join_into(&mut ja3, &ciphers, "-", false);
    ja3.push(',');
    join_into(&mut ja3, &all_exts, "-", false);
    ja3.push(',');
    join_into(&mut ja3, &no_grease(&groups), "-", false);
    ja3.push(',');
    let formats: Vec<u16> = formats.iter().map(|x| u16::from(*x)).collect();
    join_into(&mut ja3, &formats, "-", false);
    if ja3_read {
        em.emit(dir, P, "ja3", hex::encode(Md5::digest(ja3.as_bytes())));
    }
    if !ja4_read {
        return Some(());
    }

    // JA4 (FoxIO): t{ver}{d|i}{ciphers:02}{exts:02}{alpn}_{sorted ciphers}_{sorted exts_sigalgs}.
    let alpn_code = alpn
        .first()
        .and_then(|a| {
            let f = a.chars().next()?;
            let l = a.chars().last()?;
            (f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric()).then(|| format!("{f}{l}"))
        })
        .unwrap_or_else(|| "00".into());
    // Sorting the numbers sorts their fixed-width hex forms the same way.
    let sorted = |mut v: Vec<u16>| {
        v.sort_unstable();
        v
    };
    let ext_for_hash = sorted(
        all_exts
            .iter()
            .copied()
            .filter(|x| *x != 0 && *x != 16)
            .collect(),
    );
    let mut c_part = String::with_capacity(256);
    join_into(&mut c_part, &ext_for_hash, ",", true);
    if !sigalgs.is_empty() {
        c_part.push('_');
        join_into(&mut c_part, &no_grease(&sigalgs), ",", true);
    }
    let mut b_part = String::with_capacity(256);
    join_into(&mut b_part, &sorted(ciphers.clone()), ",", true);
    let ja4 = format!(
        "{transport}{}{}{:02}{:02}{}_{}_{}",
        ja4_version(best),
        if sni.is_some() { 'd' } else { 'i' },
        ciphers.len().min(99),
        all_exts.len().min(99),
        alpn_code,
        hash12(&b_part),
        if ext_for_hash.is_empty() {
            "000000000000".to_string()
        } else {
            hash12(&c_part)
        }
    );
    em.emit(dir, P, "ja4", ja4);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observation;

    fn feed_split(rec: &[u8], split: usize) -> Vec<Observation> {
        let mut out = Vec::new();
        let mut em = Emitter::new(0.0, None, &mut out);
        let mut p = TlsParser::new();
        let a = p.feed(Direction::ToServer, &rec[..split], &mut em);
        if a == Progress::Continue {
            p.feed(Direction::ToServer, &rec[split..], &mut em);
        }
        out
    }

    #[test]
    fn client_hello_fields_at_every_split() {
        let rec = crate::sim::tls_client_hello("rekognition.us-east-1.amazonaws.com");
        for split in 1..rec.len() {
            let o = feed_split(&rec, split);
            let get = |f: &str| o.iter().find(|x| x.field == f).map(|x| x.value.clone());
            assert_eq!(
                get("sni").as_deref(),
                Some("rekognition.us-east-1.amazonaws.com")
            );
            assert_eq!(get("version").as_deref(), Some("1.3"));
            let ja4 = get("ja4").unwrap();
            // 4 ciphers, 6 extensions, ALPN h2.
            assert!(ja4.starts_with("t13d0406h2_"), "{ja4}");
            assert_eq!(get("ja3").unwrap().len(), 32);
        }
        let o = feed_split(&rec, 3);
        assert_eq!(o.iter().filter(|x| x.field == "alpn").count(), 2);
    }

    #[test]
    fn hello_fragmented_over_records() {
        let rec = crate::sim::tls_client_hello("a.example");
        let hs = &rec[5..];
        let mut frag = Vec::new();
        for part in hs.chunks(10) {
            frag.extend_from_slice(&[22, 3, 1]);
            frag.extend_from_slice(&(part.len() as u16).to_be_bytes());
            frag.extend_from_slice(part);
        }
        let o = feed_split(&frag, frag.len());
        assert!(o.iter().any(|x| x.field == "sni" && x.value == "a.example"));
    }

    #[test]
    fn not_tls_or_hostile_lengths_end_quietly() {
        assert!(feed_split(b"GET / HTTP/1.1\r\n\r\n", 5).is_empty());
        let bad = [22, 3, 1, 0, 8, 1, 0xff, 0xff, 0xff, 3, 3, 0, 0];
        assert!(feed_split(&bad, bad.len()).is_empty());
    }

    #[test]
    fn grease_values() {
        assert!(grease(0x0a0a) && grease(0xfafa) && !grease(0x0a1a) && !grease(0x1301));
    }
}
