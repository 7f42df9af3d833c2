//! QUIC Initial packets: the client's TLS ClientHello, decrypted, so that `tls.sni`, ALPN and the
//! JA3/JA4 fingerprints are seen for QUIC (HTTP/3) as they are for TLS over TCP.
//!
//! A client's Initial packets (RFC 9000 §17.2.2) are protected with keys that anyone on the path
//! can derive from the packet's Destination Connection ID (RFC 9001 §5.2; QUIC v2, RFC 9369
//! §3.3.1, with its own salt and labels). The key derivation, header protection and AEAD are
//! rustls's (`rustls::quic`), the maintained TLS stack the service already uses; this module
//! parses the packets (long headers, coalesced packets, variable-length integers), removes
//! protection, collects the CRYPTO frames by offset — clients split and reorder them across
//! packets (Chrome's "chaos protection"), and a post-quantum ClientHello spans two datagrams —
//! and hands the complete ClientHello to [`super::tls`].
//!
//! Bounds: at most [`MAX_CONNS`] connections being assembled (the oldest are dropped), at most
//! [`MAX_HELLO`] bytes of CRYPTO data each, at most [`MAX_PACKETS`] packets per connection;
//! packets that fail to decrypt (a server's Initial, a Retry, noise on a UDP port) are counted as
//! skipped, never an error of the capture.

use super::bytes::be32;
use super::protocol::FieldTable;
use super::Emitter;
use crate::model::Direction;
use rustls::quic::{Keys, Version};
use rustls::Side;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Fields of QUIC Initial packets (RFC 9000 §17.2.2); the ClientHello's are `tls.*`.
pub const FIELDS: FieldTable = FieldTable(
    "
quic.version  enumeration  QUIC version of a client's Initial packet (`1`, `2`)
",
);

const P: &str = "quic";
/// Most CRYPTO bytes gathered per connection (a ClientHello is a few KiB).
pub const MAX_HELLO: usize = 16 * 1024;
/// Connections whose ClientHello is being gathered at once.
pub const MAX_CONNS: usize = 4096;
/// Initial packets read per connection before giving up on its ClientHello.
pub const MAX_PACKETS: u32 = 16;

const V1: u32 = 0x0000_0001;
const V2: u32 = 0x6b33_43cf;

/// Whether a UDP payload could start with a QUIC long-header Initial packet of a version this
/// module reads (cheap: the first five bytes).
pub fn is_initial(d: &[u8]) -> bool {
    // RFC 9000 §14.1: a client pads datagrams with Initial packets to 1,200 bytes.
    d.len() >= 1200 && is_long_initial(d)
}

/// A variable-length integer (RFC 9000 §16) at `*at`, advancing it.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let first = *b.get(*at)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*at..at.checked_add(len)?)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    *at += len;
    Some(v)
}

/// The ClientHello of one connection being gathered.
#[derive(Default)]
struct Hello {
    /// CRYPTO bytes by offset; `have` marks which were received.
    data: Vec<u8>,
    have: Vec<bool>,
    packets: u32,
    /// The ClientHello was read: retransmissions of it are ignored.
    done: bool,
    /// Arrival order, for dropping the oldest.
    seq: u64,
}

impl Hello {
    fn put(&mut self, offset: u64, bytes: &[u8]) -> bool {
        let Some(end) = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(bytes.len()))
        else {
            return false;
        };
        if end > MAX_HELLO {
            return false;
        }
        if self.data.len() < end {
            self.data.resize(end, 0);
            self.have.resize(end, false);
        }
        let start = end - bytes.len();
        self.data[start..end].copy_from_slice(bytes);
        self.have[start..end].iter_mut().for_each(|h| *h = true);
        true
    }

    /// The ClientHello body once its every byte has arrived.
    fn complete(&self) -> Option<&[u8]> {
        let prefix = self.have.iter().take_while(|h| **h).count();
        let head = self.data.get(..4.min(prefix))?;
        if head.len() < 4 || head[0] != 1 {
            return None;
        }
        let len = usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]);
        (prefix >= 4 + len).then(|| &self.data[4..4 + len])
    }
}

/// Why a datagram gave no ClientHello bytes (counted by the flow engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not a client Initial this module can read (a server's, a Retry, another version).
    NotClientInitial,
    /// A header length or varint runs past the datagram.
    Malformed,
    /// The packet did not decrypt with the client's Initial keys.
    Undecryptable,
    /// The CRYPTO data ran past [`MAX_HELLO`] or the connection past [`MAX_PACKETS`].
    TooLong,
}

/// Client Initial packets of many connections, gathered until each ClientHello is complete.
#[derive(Default)]
pub struct Initials {
    conns: HashMap<(SocketAddr, SocketAddr, Vec<u8>), Hello>,
    seq: u64,
}

impl Initials {
    /// Read one UDP datagram from `client` to `server`; emits `quic.version` and the
    /// ClientHello's `tls.*` fields once the ClientHello is complete.
    pub fn datagram(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        d: &[u8],
        em: &mut Emitter<'_>,
    ) -> Result<(), Skip> {
        let mut at = 0usize;
        let mut read_any = false;
        while at < d.len() {
            let rest = &d[at..];
            if !is_long_initial(rest) {
                // Coalesced Handshake/0-RTT packets, or padding after the Initial.
                break;
            }
            let (packet_len, version, dcid, frames) = match decrypt(rest) {
                Ok(p) => p,
                Err(e) if read_any => return if e == Skip::Malformed { Err(e) } else { Ok(()) },
                Err(e) => return Err(e),
            };
            read_any = true;
            at += packet_len;
            let key = (client, server, dcid);
            if !self.conns.contains_key(&key) && self.conns.len() >= MAX_CONNS {
                self.drop_oldest();
            }
            self.seq += 1;
            let seq = self.seq;
            let hello = self.conns.entry(key.clone()).or_insert_with(|| Hello {
                seq,
                ..Hello::default()
            });
            if hello.done {
                return Ok(());
            }
            hello.packets += 1;
            let mut ok = hello.packets <= MAX_PACKETS;
            for (offset, bytes) in crypto_frames(&frames) {
                ok &= hello.put(offset, bytes);
            }
            if let Some(body) = hello.complete() {
                em.emit(
                    Direction::ToServer,
                    P,
                    "version",
                    if version == V2 { "2" } else { "1" },
                );
                super::tls::client_hello_over(body, Direction::ToServer, em, 'q');
                *hello = Hello {
                    done: true,
                    seq,
                    ..Hello::default()
                };
                return Ok(());
            }
            if !ok {
                self.conns.remove(&key);
                return Err(Skip::TooLong);
            }
        }
        Ok(())
    }

    fn drop_oldest(&mut self) {
        if let Some(k) = self
            .conns
            .iter()
            .min_by_key(|(_, h)| h.seq)
            .map(|(k, _)| k.clone())
        {
            self.conns.remove(&k);
        }
    }
}

fn is_long_initial(d: &[u8]) -> bool {
    let Some(&first) = d.first() else {
        return false;
    };
    first & 0xc0 == 0xc0
        && match be32(d, 1) {
            Some(V1) => (first >> 4) & 3 == 0,
            Some(V2) => (first >> 4) & 3 == 1,
            _ => false,
        }
}

/// One Initial packet at the start of `d`, decrypted with the client's keys: its length in the
/// datagram, version, Destination Connection ID and plaintext frames.
fn decrypt(d: &[u8]) -> Result<(usize, u32, Vec<u8>, Vec<u8>), Skip> {
    let version = be32(d, 1).ok_or(Skip::Malformed)?;
    let mut at = 5usize;
    let dcid_len = usize::from(*d.get(at).ok_or(Skip::Malformed)?);
    if dcid_len > 20 {
        return Err(Skip::Malformed);
    }
    let dcid = d.get(at + 1..at + 1 + dcid_len).ok_or(Skip::Malformed)?;
    at += 1 + dcid_len;
    let scid_len = usize::from(*d.get(at).ok_or(Skip::Malformed)?);
    if scid_len > 20 {
        return Err(Skip::Malformed);
    }
    at += 1 + scid_len;
    let token = varint(d, &mut at).ok_or(Skip::Malformed)?;
    at = usize::try_from(token)
        .ok()
        .and_then(|t| at.checked_add(t))
        .ok_or(Skip::Malformed)?;
    let length = varint(d, &mut at).ok_or(Skip::Malformed)?;
    let pn_offset = at;
    let end = usize::try_from(length)
        .ok()
        .and_then(|l| pn_offset.checked_add(l))
        .filter(|e| *e <= d.len())
        // The packet holds the sample: 4 bytes past the packet number's offset, then 16.
        .filter(|e| *e >= pn_offset + 20)
        .ok_or(Skip::Malformed)?;
    // The header-protection sample starts 4 bytes after the packet number's offset.
    let sample = d
        .get(pn_offset + 4..pn_offset + 20)
        .ok_or(Skip::Malformed)?;
    let keys = client_keys(dcid, version).ok_or(Skip::NotClientInitial)?;
    let mut first = d[0];
    let mut pn = [0u8; 4];
    pn.copy_from_slice(d.get(pn_offset..pn_offset + 4).ok_or(Skip::Malformed)?);
    keys.remote
        .header
        .decrypt_in_place(sample, &mut first, &mut pn)
        .map_err(|_| Skip::Malformed)?;
    let pn_len = usize::from(first & 3) + 1;
    let number = pn[..pn_len]
        .iter()
        .fold(0u64, |n, b| (n << 8) | u64::from(*b));
    let mut header = d[..pn_offset + pn_len].to_vec();
    header[0] = first;
    header[pn_offset..].copy_from_slice(&pn[..pn_len]);
    let mut payload = d[pn_offset + pn_len..end].to_vec();
    let plain = keys
        .remote
        .packet
        .decrypt_in_place(number, &header, &mut payload)
        .map_err(|_| Skip::Undecryptable)?
        .len();
    payload.truncate(plain);
    Ok((end, version, dcid.to_vec(), payload))
}

/// The client's Initial keys for a connection whose first Destination Connection ID is `dcid`
/// (seen from the server's side, so `remote` decrypts what the client sends).
fn client_keys(dcid: &[u8], version: u32) -> Option<Keys> {
    let version = match version {
        V1 => Version::V1,
        V2 => Version::V2,
        _ => return None,
    };
    let rustls::SupportedCipherSuite::Tls13(suite) =
        rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
    else {
        return None;
    };
    Some(suite.quic_suite()?.keys(dcid, Side::Server, version))
}

/// The CRYPTO frames (offset, data) of a decrypted Initial payload (RFC 9000 §19), stopping at
/// the first frame type an Initial packet may not carry.
fn crypto_frames(b: &[u8]) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < b.len() {
        let Some(t) = varint(b, &mut at) else { break };
        match t {
            0x00 | 0x01 => {} // PADDING, PING
            0x02 | 0x03 => {
                // ACK: largest, delay, range count, first range, ranges, [ECN counts]
                let mut ok = (0..3).all(|_| varint(b, &mut at).is_some())
                    && match varint(b, &mut at) {
                        Some(n) if n < 256 => (0..n * 2).all(|_| varint(b, &mut at).is_some()),
                        _ => false,
                    };
                if ok && t == 0x03 {
                    ok = (0..3).all(|_| varint(b, &mut at).is_some());
                }
                if !ok {
                    break;
                }
            }
            0x06 => {
                let (Some(offset), Some(len)) = (varint(b, &mut at), varint(b, &mut at)) else {
                    break;
                };
                let Some(data) = usize::try_from(len)
                    .ok()
                    .and_then(|l| b.get(at..at.checked_add(l)?))
                else {
                    break;
                };
                at += data.len();
                out.push((offset, data));
            }
            _ => break, // CONNECTION_CLOSE, or not allowed in an Initial
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observation;

    /// RFC 9001 Appendix A.2: the client's Initial packet, protected, for DCID 8394c8f03e515708.
    /// Its CRYPTO frame holds a ClientHello for `example.com` (an unpadded 1,162-byte payload
    /// padded to 1,200 bytes).
    fn rfc9001_client_initial() -> Vec<u8> {
        let hex: String = RFC9001_A2.lines().filter(|l| !l.starts_with('#')).collect();
        hex::decode(hex.trim()).expect("test vector")
    }

    const RFC9001_A2: &str = include_str!("../../tests/data/quic/rfc9001-a2-client-initial.hex");

    fn run(datagrams: &[&[u8]]) -> (Vec<Observation>, Vec<Result<(), Skip>>) {
        let mut out = Vec::new();
        let mut results = Vec::new();
        let mut q = Initials::default();
        let c: SocketAddr = "10.0.0.5:50000".parse().expect("addr");
        let s: SocketAddr = "10.0.0.9:443".parse().expect("addr");
        for d in datagrams {
            let mut em = Emitter::new(0.0, None, &mut out);
            results.push(q.datagram(c, s, d, &mut em));
        }
        (out, results)
    }

    fn field<'a>(obs: &'a [Observation], name: &str) -> Vec<&'a str> {
        obs.iter()
            .filter(|o| format!("{}.{}", o.proto, o.field) == name)
            .map(|o| o.value.as_str())
            .collect()
    }

    #[test]
    fn rfc9001_client_initial_gives_the_server_name() {
        let p = rfc9001_client_initial();
        assert_eq!(p.len(), 1200);
        assert!(is_initial(&p));
        let (obs, r) = run(&[&p]);
        assert_eq!(r, vec![Ok(())]);
        assert_eq!(field(&obs, "tls.sni"), vec!["example.com"]);
        assert_eq!(field(&obs, "quic.version"), vec!["1"]);
        assert_eq!(field(&obs, "tls.version"), vec!["1.3"]);
        let ja4 = field(&obs, "tls.ja4");
        assert!(ja4[0].starts_with("q13d"), "{ja4:?}");
        // A retransmission of the same Initial is not read twice.
        let (obs, r) = run(&[&p, &p]);
        assert_eq!(r, vec![Ok(()), Ok(())]);
        assert_eq!(field(&obs, "tls.sni").len(), 1);
    }

    #[test]
    fn damaged_or_foreign_packets_are_skipped() {
        let p = rfc9001_client_initial();
        // One flipped bit in the payload: the AEAD tag fails.
        let mut bad = p.clone();
        bad[600] ^= 1;
        assert_eq!(run(&[&bad]).1, vec![Err(Skip::Undecryptable)]);
        // A length past the datagram's end.
        let cut = &p[..900];
        assert!(!is_initial(cut));
        assert_eq!(run(&[cut]).1, vec![Err(Skip::Malformed)]);
        // A length field too short to hold the packet number and the sample.
        let mut short = p.clone();
        short[16..18].copy_from_slice(&[0x40, 0x05]);
        assert_eq!(run(&[&short]).1, vec![Err(Skip::Malformed)]);
        // Every truncation and a spray of bit flips: no panic, never an observation that is not
        // the real server name.
        for n in 0..p.len() {
            let (obs, _) = run(&[&p[..n]]);
            assert!(field(&obs, "tls.sni").iter().all(|s| *s == "example.com"));
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut m = p.clone();
            let i = (x as usize) % 64;
            m[i] ^= (x >> 32) as u8 | 1;
            let _ = run(&[&m]);
        }
    }

    #[test]
    fn crypto_frames_in_any_order_across_packets() {
        // Frames of one payload, split: the second half first.
        let hello = [1u8, 0, 0, 3, 7, 8, 9];
        let mut h = Hello::default();
        assert!(h.put(4, &hello[4..]));
        assert!(h.complete().is_none());
        assert!(h.put(0, &hello[..4]));
        assert_eq!(h.complete(), Some(&[7u8, 8, 9][..]));
        // Offsets past the bound are refused, not allocated.
        assert!(!Hello::default().put(u64::MAX - 2, &[1, 2, 3]));
        assert!(!Hello::default().put(MAX_HELLO as u64, &[1]));
    }

    #[test]
    fn varints_of_every_length() {
        // RFC 9000 §A.1's examples.
        for (bytes, v) in [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c][..],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d][..], 494_878_333),
            (&[0x7b, 0xbd][..], 15_293),
            (&[0x25][..], 37),
        ] {
            let mut at = 0;
            assert_eq!(varint(bytes, &mut at), Some(v));
            assert_eq!(at, bytes.len());
        }
        assert_eq!(varint(&[0xc2, 0x19], &mut 0), None);
    }
}
