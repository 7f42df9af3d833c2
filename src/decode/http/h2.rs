//! HTTP/2 in clear text (`h2c`, RFC 9113): the connection preface, then frames. Header blocks
//! (HEADERS, CONTINUATION, PUSH_PROMISE) are decompressed with HPACK (RFC 7541, by the
//! `loona-hpack` crate) per direction, and become the same `http.*` observations as HTTP/1.x:
//! `:method`, `:path` and `:authority` as method, target and host, `:status` as status, and the
//! other headers through the HTTP/1 header rules (so secrets stay presence-only). Bodies of
//! interest (JSON, XML, `application/dns-message`) are kept per stream up to 1 MiB and decoded
//! at END_STREAM like HTTP/1 bodies; DNS over HTTPS in clear (`?dns=` base64url or a
//! `dns-message` body, RFC 8484) goes to the DNS decoder.
//!
//! Reached two ways: a flow whose client starts with the preface (prior knowledge; a server's
//! SETTINGS seen first makes the engine wait for the client), or an HTTP/1.1
//! `101 Switching Protocols` (`Upgrade: h2c`), after which [`super::HttpParser`] hands the flow
//! here. Bounds: frames over 1 MiB are skipped (a skipped header block ends header decoding on
//! that side, since HPACK state is then unknown), header blocks up to 256 KiB, 256 streams
//! with bodies at a time, HPACK tables up to 64 KiB.

use super::head::parse_headers;
use crate::decode::protocol::{AppProtocol, Probe};
use crate::decode::{events, printable, AppParser, Emitter, Progress};
use crate::model::Direction;
use base64::Engine;
use std::collections::HashMap;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const P: &str = "http";
const HEADER_LEN: usize = 9;
/// Largest frame kept; larger ones are skipped.
const MAX_FRAME: usize = 1 << 20;
/// Largest header block (HEADERS plus CONTINUATIONs).
const MAX_BLOCK: usize = 256 << 10;
/// Largest body kept per stream.
const MAX_BODY: usize = 1 << 20;
/// Most streams with a body being kept.
const MAX_STREAMS: usize = 256;
/// Largest HPACK dynamic table a peer may ask for.
const MAX_TABLE: usize = 64 << 10;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PUSH_PROMISE: u8 = 0x5;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// HTTP/2 with prior knowledge in the protocol registry: the client preface.
pub const PROTOCOL: AppProtocol = AppProtocol {
    name: "http2",
    ports: &[],
    probe: |s| {
        let d = s.data;
        let n = d.len().min(PREFACE.len());
        if n > 0 && d.get(..n) == PREFACE.get(..n) {
            return if n < PREFACE.len() {
                Probe::NeedMore
            } else {
                Probe::Yes
            };
        }
        // A server may send its SETTINGS before the client's preface arrives: wait for the
        // client's bytes rather than give the flow up.
        let settings = d.len() >= HEADER_LEN
            && d[3] == 0x4
            && d[4] & !0x1 == 0
            && d[5..9] == [0, 0, 0, 0]
            && frame_len(d) % 6 == 0
            && frame_len(d) <= 60;
        if settings && !s.final_look {
            Probe::NeedMore
        } else {
            Probe::No
        }
    },
    parser: || Box::new(Http2Parser::new(true)),
};

/// A body being kept for one stream and direction.
struct Body {
    content_type: String,
    data: Vec<u8>,
}

/// One direction's frame reader and HPACK state.
struct Side {
    dir: Direction,
    buf: Vec<u8>,
    /// Preface bytes still expected (client side, prior knowledge or after an upgrade).
    preface: usize,
    /// Payload bytes of an oversized frame still to skip.
    skip: usize,
    hpack: loona_hpack::Decoder<'static>,
    /// A header block waiting for CONTINUATION: (stream, bytes so far, END_STREAM seen).
    block: Option<(u32, Vec<u8>, bool)>,
    /// HPACK state lost (a skipped or undecodable block): headers are no longer read.
    headers_lost: bool,
    /// Not HTTP/2 after all.
    off: bool,
    bodies: HashMap<u32, Body>,
}

impl Side {
    fn new(dir: Direction, preface: bool) -> Self {
        let mut hpack = loona_hpack::Decoder::new();
        hpack.set_max_allowed_table_size(MAX_TABLE);
        Side {
            dir,
            buf: Vec::new(),
            preface: if preface { PREFACE.len() } else { 0 },
            skip: 0,
            hpack,
            block: None,
            headers_lost: false,
            off: false,
            bodies: HashMap::new(),
        }
    }
}

/// Per-flow HTTP/2 state.
pub struct Http2Parser {
    client: Side,
    server: Side,
}

impl Http2Parser {
    /// A parser for one flow; `preface`: the client's bytes start with the connection preface
    /// (always so for prior knowledge and after an `h2c` upgrade).
    pub fn new(preface: bool) -> Self {
        Http2Parser {
            client: Side::new(Direction::ToServer, preface),
            server: Side::new(Direction::ToClient, false),
        }
    }
}

impl AppParser for Http2Parser {
    fn feed(&mut self, dir: Direction, data: &[u8], em: &mut Emitter<'_>) -> Progress {
        let side = match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        };
        feed_side(side, data, em);
        if self.client.off && self.server.off {
            Progress::Done
        } else {
            Progress::Continue
        }
    }

    fn gap(&mut self, dir: Direction, _len: u64, _em: &mut Emitter<'_>) -> Progress {
        // Frame boundaries are lost with the bytes: nothing after a gap can be trusted.
        let side = match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        };
        side.off = true;
        side.buf.clear();
        side.bodies.clear();
        if self.client.off && self.server.off {
            Progress::Done
        } else {
            Progress::Continue
        }
    }
}

fn feed_side(side: &mut Side, mut data: &[u8], em: &mut Emitter<'_>) {
    while !side.off && !data.is_empty() {
        if side.preface > 0 {
            let at = PREFACE.len() - side.preface;
            let n = side.preface.min(data.len());
            if data[..n] != PREFACE[at..at + n] {
                side.off = true;
                return;
            }
            side.preface -= n;
            data = &data[n..];
            continue;
        }
        if side.skip > 0 {
            let n = side.skip.min(data.len());
            side.skip -= n;
            data = &data[n..];
            continue;
        }
        // A whole frame header, then a whole frame, gathered in `buf`.
        let want = if side.buf.len() < HEADER_LEN {
            HEADER_LEN
        } else {
            HEADER_LEN + frame_len(&side.buf)
        };
        let n = want.saturating_sub(side.buf.len()).min(data.len());
        side.buf.extend_from_slice(&data[..n]);
        data = &data[n..];
        if side.buf.len() == HEADER_LEN {
            let len = frame_len(&side.buf);
            if len > MAX_FRAME {
                if matches!(side.buf[3], HEADERS | CONTINUATION | PUSH_PROMISE) {
                    side.headers_lost = true;
                    side.block = None;
                }
                side.skip = len;
                side.buf.clear();
                continue;
            }
        }
        if side.buf.len() >= HEADER_LEN && side.buf.len() == HEADER_LEN + frame_len(&side.buf) {
            let frame = std::mem::take(&mut side.buf);
            on_frame(side, &frame, em);
        }
    }
}

fn frame_len(h: &[u8]) -> usize {
    (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2])
}

/// The payload without padding (and the priority block of HEADERS), or `None` when the
/// padding is longer than the frame.
fn unpadded(kind: u8, flags: u8, p: &[u8]) -> Option<&[u8]> {
    let (pad, p) = if flags & PADDED != 0 {
        (usize::from(*p.first()?), p.get(1..)?)
    } else {
        (0, p)
    };
    let p = p.get(..p.len().checked_sub(pad)?)?;
    if kind == HEADERS && flags & PRIORITY != 0 {
        return p.get(5..);
    }
    Some(p)
}

fn on_frame(side: &mut Side, frame: &[u8], em: &mut Emitter<'_>) {
    let (kind, flags) = (frame[3], frame[4]);
    let stream = u32::from_be_bytes([frame[5], frame[6], frame[7], frame[8]]) & 0x7fff_ffff;
    let payload = &frame[HEADER_LEN..];
    match kind {
        HEADERS | PUSH_PROMISE => {
            let Some(mut block) = unpadded(kind, flags, payload) else {
                side.headers_lost = true;
                return;
            };
            if kind == PUSH_PROMISE {
                // The promised stream's id comes first; its request is the server's guess.
                block = block.get(4..).unwrap_or_default();
            }
            let end_stream = kind == HEADERS && flags & END_STREAM != 0;
            if flags & END_HEADERS != 0 {
                header_block(side, stream, block, end_stream, kind == PUSH_PROMISE, em);
            } else {
                side.block = Some((stream, block.to_vec(), end_stream));
            }
        }
        CONTINUATION => {
            let Some((s, mut block, end_stream)) = side.block.take() else {
                return;
            };
            if s != stream || block.len() + payload.len() > MAX_BLOCK {
                side.headers_lost = true;
                return;
            }
            block.extend_from_slice(payload);
            if flags & END_HEADERS != 0 {
                header_block(side, stream, &block, end_stream, false, em);
            } else {
                side.block = Some((s, block, end_stream));
            }
        }
        DATA => {
            let Some(data) = unpadded(kind, flags, payload) else {
                return;
            };
            if let Some(body) = side.bodies.get_mut(&stream) {
                let room = MAX_BODY.saturating_sub(body.data.len());
                body.data.extend_from_slice(&data[..data.len().min(room)]);
            }
            if flags & END_STREAM != 0 {
                finish(side, stream, em);
            }
        }
        _ => {}
    }
}

fn header_block(
    side: &mut Side,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    promise: bool,
    em: &mut Emitter<'_>,
) {
    if side.headers_lost {
        return;
    }
    let headers = match side.hpack.decode(block) {
        Ok(h) => h,
        Err(e) => {
            tracing::debug!("http2: header block of stream {stream}: {e:?}");
            side.headers_lost = true;
            return;
        }
    };
    // Promised requests go to the client side's kind of fields but were sent by the server.
    let dir = side.dir;
    let request = dir == Direction::ToServer || promise;
    let pseudo = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name.as_bytes())
            .map(|(_, v)| printable(v))
    };
    if request {
        let method = pseudo(":method").unwrap_or_default();
        let path = pseudo(":path").unwrap_or_default();
        if !method.is_empty() {
            em.emit(dir, P, "method", method.clone());
        }
        let (shown, _) = super::emit_target(em, dir, &method, &path);
        if let Some(q) = path.split_once('?').map(|(_, q)| q) {
            doh_query(q, dir, em);
        }
        let lines = regular(&headers);
        let (head, host) = parse_headers(lines.iter().map(Vec::as_slice), dir, em, true);
        let authority = pseudo(":authority").map(|a| super::head::strip_port(&a));
        super::emit_host(em, dir, authority.or(host), shown.as_deref());
        keep_body(side, stream, head.content_type, end_stream, promise);
    } else {
        if let Some(status) = pseudo(":status") {
            em.emit(dir, P, "status", status);
        }
        let lines = regular(&headers);
        let (head, _) = parse_headers(lines.iter().map(Vec::as_slice), dir, em, false);
        keep_body(side, stream, head.content_type, end_stream, false);
    }
    if end_stream && !promise {
        finish(side, stream, em);
    }
}

/// The regular (non-pseudo) headers as HTTP/1 header lines.
fn regular(headers: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    headers
        .iter()
        .filter(|(n, _)| !n.starts_with(b":"))
        .take(256)
        .map(|(n, v)| [&n[..], b": ", &v[..]].concat())
        .collect()
}

/// Start keeping a stream's body when its media type is one decoded.
fn keep_body(
    side: &mut Side,
    stream: u32,
    content_type: Option<String>,
    end_stream: bool,
    promise: bool,
) {
    let Some(ct) = content_type else { return };
    let mt = ct.to_ascii_lowercase();
    let wanted = mt.contains("json") || mt.contains("xml") || mt.contains("dns-message");
    if wanted && !end_stream && !promise && side.bodies.len() < MAX_STREAMS {
        side.bodies.insert(
            stream,
            Body {
                content_type: ct,
                data: Vec::new(),
            },
        );
    }
}

/// A stream's direction ended: decode what was kept of its body.
fn finish(side: &mut Side, stream: u32, em: &mut Emitter<'_>) {
    let Some(body) = side.bodies.remove(&stream) else {
        return;
    };
    if body
        .content_type
        .to_ascii_lowercase()
        .contains("dns-message")
    {
        crate::decode::dns::parse_message(&body.data, side.dir, em);
    } else {
        events::decode_body(Some(&body.content_type), &body.data, side.dir, em);
    }
}

/// DNS over HTTPS by GET: the `dns` query parameter, base64url without padding (RFC 8484 §4.1).
fn doh_query(query: &str, dir: Direction, em: &mut Emitter<'_>) {
    let Some(value) = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("dns="))
        .filter(|v| v.len() <= 8192)
    else {
        return;
    };
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if let Ok(msg) = engine.decode(value.trim_end_matches('=')) {
        crate::decode::dns::parse_message(&msg, dir, em);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observation;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn run(client: &[u8], server: &[u8], chunk: usize) -> Vec<Observation> {
        let mut out = Vec::new();
        let mut p = Http2Parser::new(true);
        {
            let mut em = Emitter::new(0.0, None, &mut out);
            for c in client.chunks(chunk) {
                p.feed(Direction::ToServer, c, &mut em);
            }
            for c in server.chunks(chunk) {
                p.feed(Direction::ToClient, c, &mut em);
            }
        }
        out
    }

    fn has(obs: &[Observation], field: &str, value: &str) -> bool {
        obs.iter()
            .any(|o| o.proto == "http" && o.field == field && o.value == value)
            || obs
                .iter()
                .any(|o| format!("{}.{}", o.proto, o.field) == field && o.value == value)
    }

    #[test]
    fn requests_responses_and_doh_in_any_chunking() {
        let mut enc = loona_hpack::Encoder::new();
        let req: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"POST"),
            (b":path", b"/api/v1/recognition/recognize?limit=1"),
            (b":authority", b"faces.example:8000"),
            (b"user-agent", b"cam/1.0"),
            (b"x-api-key", b"secret-key-value"),
            (b"content-type", b"application/json"),
        ];
        let block = enc.encode(req);
        let mut client = PREFACE.to_vec();
        client.extend(frame(0x4, 0, 0, &[]));
        client.extend(frame(HEADERS, END_HEADERS, 1, &block));
        client.extend(frame(DATA, END_STREAM, 1, br#"{"subject":"x"}"#));
        // DNS over HTTPS by GET, continued over a CONTINUATION frame.
        let q = [
            0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3,
            b'c', b'o', b'm', 0, 0, 1, 0, 1,
        ];
        let path = format!(
            "/dns-query?dns={}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(q)
        );
        let block = enc.encode(vec![
            (&b":method"[..], &b"GET"[..]),
            (b":path", path.as_bytes()),
        ]);
        let (a, b) = block.split_at(block.len() / 2);
        client.extend(frame(HEADERS, END_STREAM, 3, a));
        client.extend(frame(CONTINUATION, END_HEADERS, 3, b));
        let mut senc = loona_hpack::Encoder::new();
        let server = frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            &senc.encode(vec![(&b":status"[..], &b"200"[..])]),
        );
        for chunk in [1, 7, 4096] {
            let obs = run(&client, &server, chunk);
            assert!(has(&obs, "method", "POST"), "{chunk}: {obs:?}");
            assert!(
                has(&obs, "path", "/api/v1/recognition/recognize"),
                "{obs:?}"
            );
            assert!(has(&obs, "host", "faces.example"), "{obs:?}");
            assert!(has(&obs, "user_agent", "cam/1.0"), "{obs:?}");
            assert!(has(&obs, "header.x-api-key", "present"), "{obs:?}");
            assert!(has(&obs, "status", "200"), "{obs:?}");
            assert!(has(&obs, "dns.query", "example.com"), "{obs:?}");
            let all = format!("{obs:?}");
            assert!(!all.contains("secret-key-value"), "{all}");
        }
    }

    #[test]
    fn hostile_frames_end_decoding_without_panics() {
        // Not the preface.
        assert!(run(b"GET / HTTP/1.1\r\n\r\n", b"", 3).is_empty());
        // A padded frame whose padding is longer than it, an oversized frame, garbage blocks.
        let mut client = PREFACE.to_vec();
        client.extend(frame(HEADERS, PADDED | END_HEADERS, 1, &[200, 1, 2]));
        client.extend(frame(HEADERS, END_HEADERS, 3, &[0xff; 40]));
        client.extend([0xff, 0xff, 0xff, HEADERS, 0, 0, 0, 0, 5]);
        client.extend(vec![0u8; 100]);
        let _ = run(&client, &[0xff; 64], 5);
        for cut in 0..client.len() {
            let _ = run(&client[..cut], b"", 9);
        }
    }
}
