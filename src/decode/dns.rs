//! DNS messages (RFC 1035) over UDP and TCP; also mDNS and LLMNR, which share the format.
//! Names are reported exactly as sent (case kept). Compression pointers are followed with a
//! bound on jumps and name length, so pointer loops end.

use super::{printable, AppParser, Emitter, Progress};
use crate::model::Direction;

use super::bytes::be16;
use super::protocol::FieldTable;

/// Fields of DNS messages (RFC 1035; UDP, TCP, mDNS, LLMNR).
pub const FIELDS: FieldTable = FieldTable(
    "
dns.query         value        Query name as sent (case kept)
dns.qtype         enumeration  Query type (`A`, `AAAA`, `PTR`…)
dns.answer.name   value        Owner name of an answer record
dns.answer.type   enumeration  Type of an answer record
dns.answer.rdata  value        Address or name an answer record carries
",
);

/// DNS over TCP in the protocol registry, by port (UDP DNS is read per datagram).
pub const PROTOCOL: super::protocol::AppProtocol = super::protocol::AppProtocol {
    name: "dns",
    ports: &[53, 5353],
    probe: |s| {
        if s.on_port(&[53, 5353]) {
            super::protocol::Probe::Yes
        } else {
            super::protocol::Probe::No
        }
    },
    parser: || Box::new(DnsTcpParser::new()),
};

const P: &str = "dns";
const MAX_QUESTIONS: usize = 32;
const MAX_ANSWERS: usize = 128;

/// Read a (possibly compressed) name at `at`; returns the name and the offset after it.
fn name(msg: &[u8], at: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut pos = at;
    let mut after = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    pos += 1;
                    break;
                }
                let label = msg.get(pos + 1..pos + 1 + usize::from(len))?;
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&printable(label));
                if out.len() > 255 {
                    return None;
                }
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                jumps += 1;
                if jumps > 16 {
                    return None;
                }
                let target = usize::from(be16(msg, pos)? & 0x3fff);
                after.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return None,
        }
    }
    Some((out, after.unwrap_or(pos)))
}

fn qtype_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        other => other.to_string(),
    }
}

/// Parse one DNS message and emit its questions and answers.
pub fn parse_message(msg: &[u8], dir: Direction, em: &mut Emitter<'_>) -> bool {
    let (Some(qd), Some(an)) = (be16(msg, 4), be16(msg, 6)) else {
        return false;
    };
    let mut at = 12;
    for _ in 0..usize::from(qd).min(MAX_QUESTIONS) {
        let Some((n, next)) = name(msg, at) else {
            return false;
        };
        let Some(t) = be16(msg, next) else {
            return false;
        };
        if !n.is_empty() {
            em.emit(dir, P, "query", n);
        }
        em.emit(dir, P, "qtype", qtype_name(t));
        at = next + 4;
    }
    for _ in 0..usize::from(an).min(MAX_ANSWERS) {
        let Some((n, next)) = name(msg, at) else {
            return true;
        };
        let (Some(t), Some(rdlen)) = (be16(msg, next), be16(msg, next + 8)) else {
            return true;
        };
        let rd_at = next + 10;
        let Some(rdata) = msg.get(rd_at..rd_at + usize::from(rdlen)) else {
            return true;
        };
        em.emit(dir, P, "answer.name", n);
        em.emit(dir, P, "answer.type", qtype_name(t));
        let value = match (t, rdata.len()) {
            (1, 4) => {
                Some(std::net::Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string())
            }
            (28, 16) => <[u8; 16]>::try_from(rdata)
                .ok()
                .map(|b| std::net::Ipv6Addr::from(b).to_string()),
            (2 | 5 | 12, _) => name(msg, rd_at).map(|(n, _)| n),
            (16, _) => rdata
                .first()
                .and_then(|l| rdata.get(1..1 + usize::from(*l)))
                .map(printable),
            _ => None,
        };
        if let Some(v) = value {
            em.emit(dir, P, "answer.rdata", v);
        }
        at = rd_at + usize::from(rdlen);
    }
    true
}

/// A DNS datagram. Queries travel to the server, responses back (QR bit).
pub fn parse_udp(payload: &[u8], dir: Direction, em: &mut Emitter<'_>) -> bool {
    parse_message(payload, dir, em)
}

/// DNS over TCP: messages prefixed by a two-byte length.
#[derive(Default)]
pub struct DnsTcpParser {
    buf: [Vec<u8>; 2],
}

impl DnsTcpParser {
    /// A parser for one DNS-over-TCP flow (two-byte length prefixes, RFC 1035 §4.2.2).
    pub fn new() -> Self {
        Self::default()
    }
}

impl AppParser for DnsTcpParser {
    fn feed(&mut self, dir: Direction, data: &[u8], em: &mut Emitter<'_>) -> Progress {
        let buf = &mut self.buf[usize::from(dir == Direction::ToClient)];
        buf.extend_from_slice(data);
        loop {
            let Some(len) = be16(buf, 0).map(usize::from) else {
                return Progress::Continue;
            };
            if buf.len() < 2 + len {
                return Progress::Continue;
            }
            if !parse_message(&buf[2..2 + len], dir, em) {
                return Progress::Done;
            }
            buf.drain(..2 + len);
        }
    }

    fn gap(&mut self, _dir: Direction, _len: u64, _em: &mut Emitter<'_>) -> Progress {
        Progress::Done
    }

    /// A message cut short by the end of the flow: report what of it is complete.
    fn close(&mut self, em: &mut Emitter<'_>) {
        for (i, dir) in [Direction::ToServer, Direction::ToClient]
            .into_iter()
            .enumerate()
        {
            if let Some(msg) = self.buf[i].get(2..) {
                if msg.len() >= 12 {
                    parse_message(msg, dir, em);
                }
            }
            self.buf[i].clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observation;

    fn run(msg: &[u8]) -> Vec<Observation> {
        let mut out = Vec::new();
        let mut em = Emitter::new(0.0, None, &mut out);
        parse_udp(msg, Direction::ToClient, &mut em);
        out
    }

    fn has(o: &[Observation], f: &str, v: &str) -> bool {
        o.iter().any(|x| x.field == f && x.value == v)
    }

    #[test]
    fn query_and_compressed_answers() {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x0bcatenacyber\x02Fr\x00\x00\x01\x00\x01");
        // CNAME pointing into the question name, then an A record.
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 16]);
        m.extend_from_slice(&[0xc0, 16, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        let o = run(&m);
        assert!(has(&o, "query", "www.catenacyber.Fr"));
        assert!(has(&o, "qtype", "A"));
        assert!(has(&o, "answer.rdata", "catenacyber.Fr"));
        assert!(has(&o, "answer.rdata", "1.2.3.4"));
    }

    #[test]
    fn pointer_loops_and_truncation_end() {
        let mut m = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 12]);
        assert!(run(&m).is_empty());
        let m = [0u8, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, b'a'];
        assert!(run(&m).is_empty());
        assert!(run(&[0, 1]).is_empty());
    }

    #[test]
    fn tcp_messages_split_anywhere() {
        let q = crate::sim::dns_query(7, "api-us.faceplusplus.com");
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        framed.extend_from_slice(&framed.clone());
        for split in 1..framed.len() {
            let mut out = Vec::new();
            let mut em = Emitter::new(0.0, None, &mut out);
            let mut p = DnsTcpParser::new();
            p.feed(Direction::ToServer, &framed[..split], &mut em);
            p.feed(Direction::ToServer, &framed[split..], &mut em);
            assert_eq!(
                out.iter().filter(|o| o.field == "query").count(),
                2,
                "split {split}"
            );
        }
    }
}
