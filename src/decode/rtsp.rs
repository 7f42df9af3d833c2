//! RTSP 1.0 (`proto = "rtsp"`), with interleaved RTP (`$` frames) over the same TCP flow.
//!
//! Fields: `method`, `uri`, `status`, `content_type`, `transport` (Transport header value),
//! `session` (`present`). `application/sdp` bodies go to [`sdp::parse`]. The ONVIF metadata
//! track is followed: its SDP rtpmap and `a=control` are matched against SETUP requests, the
//! `interleaved=` channel taken from the SETUP response (or request), and the RTP payloads on
//! that channel are reassembled up to the marker bit (bounded) and handed to
//! [`events::decode_body`] (gunzipped first for `+gzip`). Other `$` frames are skipped by their
//! length without copying. After a successful PLAY with no metadata channel the flow is
//! bypassed ([`Progress::Done`]).

use super::rtp::MetadataDepay;
use super::sdp::{self, SdpSession};
use super::{events, multipart, printable, AppParser, Emitter, Progress};
use crate::model::Direction;
use rustc_hash::{FxHashMap, FxHashSet};

use super::protocol::FieldTable;

/// Fields of RTSP 1.0 messages (RFC 2326).
pub const FIELDS: FieldTable = FieldTable(
    "
rtsp.method        enumeration  Request method (`DESCRIBE`, `SETUP`, `PLAY`…)
rtsp.uri           value        Request URI, user information removed
rtsp.status        enumeration  Response status code
rtsp.transport     value        Transport header
rtsp.content_type  enumeration  Media type of a body
rtsp.session       presence     `present` when a Session header is set
",
);

/// RTSP request methods (RFC 2326 §10), separated by spaces.
const METHODS: &str = "DESCRIBE SETUP PLAY PAUSE TEARDOWN ANNOUNCE RECORD GET_PARAMETER SET_PARAMETER REDIRECT OPTIONS";

/// RTSP in the protocol registry: a status line, or a request line naming RTSP/1.x (`OPTIONS`
/// is shared with HTTP: wait for the end of the line).
pub const PROTOCOL: super::protocol::AppProtocol = super::protocol::AppProtocol {
    name: "rtsp",
    ports: &[554, 8554],
    probe: |s| {
        use super::protocol::Probe;
        let d = s.data;
        if d.starts_with(b"RTSP/1.") {
            return Probe::Yes;
        }
        if !crate::decode::protocol::starts_with_word(d, METHODS) {
            return Probe::No;
        }
        let line_end = memchr::memchr(b'\n', d);
        let first = &d[..line_end.unwrap_or(d.len())];
        if memchr::memmem::find(first, b" RTSP/1.").is_some() {
            Probe::Yes
        } else if line_end.is_none() {
            Probe::NeedMore
        } else {
            Probe::No
        }
    },
    parser: || Box::new(RtspParser::new()),
};

const P: &str = "rtsp";
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1 << 20;
/// Largest reassembled metadata document.
const MAX_PENDING: usize = 64;

#[derive(Default)]
struct Side {
    buf: Vec<u8>,
    /// Bytes of an uninteresting `$` frame or oversized body still to skip.
    skip: usize,
    off: bool,
}

/// Per-flow RTSP state.
#[derive(Default)]
pub struct RtspParser {
    req: Side,
    resp: Side,
    /// CSeq → (method, uri) of requests awaiting a response.
    pending: FxHashMap<String, (String, String)>,
    /// Last SDP seen (DESCRIBE response or ANNOUNCE).
    sdp: Option<SdpSession>,
    /// Interleaved channels carrying ONVIF metadata.
    meta: FxHashMap<u8, MetadataDepay>,
    /// Channels we know are not metadata (avoid re-checking).
    other: FxHashSet<u8>,
    playing: bool,
}

impl RtspParser {
    /// A parser for one RTSP flow.
    pub fn new() -> Self {
        Self::default()
    }

    fn progress(&self) -> Progress {
        if self.req.off || (self.playing && self.meta.is_empty()) {
            Progress::Done
        } else {
            Progress::Continue
        }
    }
}

struct Msg {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Msg {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

enum Step {
    NeedMore,
    Bad,
    /// `$` frame: channel, total frame length (4 + payload).
    Frame(u8, usize),
    /// Text message complete: (header length incl. blank line, content length).
    Message(usize, usize),
}

fn plausible_start(b: &[u8]) -> bool {
    if b"RTSP/".starts_with(b.get(..b.len().min(5)).unwrap_or(&[])) || b.starts_with(b"RTSP/") {
        return true;
    }
    let tok = b
        .iter()
        .take_while(|c| c.is_ascii_uppercase() || **c == b'_')
        .count();
    match b.get(tok) {
        Some(b' ') => (1..=20).contains(&tok),
        None => tok <= 20,
        _ => false,
    }
}

fn step(buf: &[u8]) -> Step {
    match buf.first() {
        None => return Step::NeedMore,
        Some(b'$') => {
            return match (buf.get(1), buf.get(2), buf.get(3)) {
                (Some(&ch), Some(&a), Some(&b)) => {
                    Step::Frame(ch, 4 + u16::from_be_bytes([a, b]) as usize)
                }
                _ => Step::NeedMore,
            };
        }
        _ => {}
    }
    if !plausible_start(buf.get(..buf.len().min(24)).unwrap_or(buf)) {
        return Step::Bad;
    }
    let crlf = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(buf, b"\n\n").map(|i| i + 2);
    let end = match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let Some(end) = end else {
        return if buf.len() > MAX_HEAD {
            Step::Bad
        } else {
            Step::NeedMore
        };
    };
    let head = String::from_utf8_lossy(buf.get(..end).unwrap_or(&[]));
    let cl = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    Step::Message(end, cl)
}

fn parse_msg(head: &[u8], body: Vec<u8>) -> Msg {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines();
    let start = lines.next().unwrap_or("").trim().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .take(256)
        .collect();
    Msg {
        start,
        headers,
        body,
    }
}

/// `RTP/AVP/TCP;unicast;interleaved=2-3` → 2.
fn interleaved_channel(transport: &str) -> Option<u8> {
    transport.split(';').find_map(|p| {
        let v = p.trim().strip_prefix("interleaved=")?;
        v.split('-').next()?.trim().parse::<u8>().ok()
    })
}

fn control_matches(uri: &str, control: &str) -> bool {
    !control.is_empty() && control != "*" && (uri == control || uri.ends_with(control))
}

impl AppParser for RtspParser {
    fn feed(&mut self, dir: Direction, data: &[u8], em: &mut Emitter<'_>) -> Progress {
        let is_req = dir == Direction::ToServer;
        let mut data = data;
        {
            let side = if is_req {
                &mut self.req
            } else {
                &mut self.resp
            };
            if side.off {
                return self.progress();
            }
            if side.skip > 0 {
                let n = side.skip.min(data.len());
                side.skip -= n;
                data = data.get(n..).unwrap_or(&[]);
            }
            side.buf.extend_from_slice(data);
        }
        loop {
            let side = if is_req {
                &mut self.req
            } else {
                &mut self.resp
            };
            match step(&side.buf) {
                Step::NeedMore => break,
                Step::Bad => {
                    side.off = true;
                    side.buf.clear();
                    break;
                }
                Step::Frame(ch, len) => {
                    if self.meta.contains_key(&ch) {
                        if side.buf.len() < len {
                            break;
                        }
                        let frame: Vec<u8> = side.buf.drain(..len).collect();
                        self.meta_frame(ch, frame.get(4..).unwrap_or(&[]), dir, em);
                    } else {
                        // Skip without copying: drop what is here, count the rest.
                        let have = side.buf.len().min(len);
                        side.buf.drain(..have);
                        side.skip = len - have;
                        if side.skip > 0 {
                            break;
                        }
                    }
                }
                Step::Message(hlen, cl) => {
                    let keep = cl <= MAX_BODY;
                    if keep && side.buf.len() < hlen + cl {
                        break;
                    }
                    let head: Vec<u8> = side.buf.drain(..hlen).collect();
                    let body = if keep {
                        side.buf.drain(..cl).collect()
                    } else {
                        let have = side.buf.len().min(cl);
                        side.buf.drain(..have);
                        side.skip = cl - have;
                        Vec::new()
                    };
                    let msg = parse_msg(&head, body);
                    if is_req {
                        self.on_request(msg, dir, em);
                    } else {
                        self.on_response(msg, dir, em);
                    }
                    let side = if is_req {
                        &mut self.req
                    } else {
                        &mut self.resp
                    };
                    if side.skip > 0 {
                        break;
                    }
                }
            }
        }
        self.progress()
    }

    fn gap(&mut self, dir: Direction, len: u64, _em: &mut Emitter<'_>) -> Progress {
        let side = if dir == Direction::ToServer {
            &mut self.req
        } else {
            &mut self.resp
        };
        if (side.skip as u64) >= len {
            side.skip -= len as usize;
        } else {
            // Lost framing; interleaved binary makes resync guesswork.
            side.off = true;
            side.buf.clear();
        }
        self.progress()
    }
}

impl RtspParser {
    fn emit_common(&mut self, msg: &Msg, dir: Direction, em: &mut Emitter<'_>) {
        if let Some(ct) = msg.header("Content-Type") {
            em.emit(dir, P, "content_type", multipart::media_type(ct));
        }
        if let Some(t) = msg.header("Transport") {
            em.emit(dir, P, "transport", printable(t.as_bytes()));
        }
        if msg.header("Session").is_some() {
            em.emit(dir, P, "session", "present");
        }
        let is_sdp = msg
            .header("Content-Type")
            .map(multipart::media_type)
            .is_some_and(|m| m == "application/sdp");
        if is_sdp && !msg.body.is_empty() {
            self.sdp = Some(sdp::parse(&msg.body, dir, em));
        }
    }

    fn on_request(&mut self, msg: Msg, dir: Direction, em: &mut Emitter<'_>) {
        let mut parts = msg.start.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let uri = parts.next().unwrap_or("").to_string();
        em.emit(dir, P, "method", printable(method.as_bytes()));
        if !uri.is_empty() {
            em.emit(dir, P, "uri", printable(uri.as_bytes()));
        }
        self.emit_common(&msg, dir, em);
        if let Some(cseq) = msg.header("CSeq") {
            if self.pending.len() < MAX_PENDING {
                self.pending
                    .insert(cseq.to_string(), (method.clone(), uri.clone()));
            }
        }
        if method == "SETUP" {
            // Map from the request already; the response may override the channel.
            if let Some(ch) = msg.header("Transport").and_then(interleaved_channel) {
                self.map_channel(&uri, ch);
            }
        }
    }

    fn on_response(&mut self, msg: Msg, dir: Direction, em: &mut Emitter<'_>) {
        let status = msg
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok());
        if let Some(s) = status {
            em.emit(dir, P, "status", s.to_string());
        }
        self.emit_common(&msg, dir, em);
        let req = msg.header("CSeq").and_then(|c| self.pending.remove(c));
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        if let (Some((method, uri)), true) = (req, ok) {
            match method.as_str() {
                "SETUP" => {
                    if let Some(ch) = msg.header("Transport").and_then(interleaved_channel) {
                        self.map_channel(&uri, ch);
                    }
                }
                "PLAY" => self.playing = true,
                _ => {}
            }
        }
    }

    fn map_channel(&mut self, uri: &str, ch: u8) {
        let Some(sdp) = &self.sdp else { return };
        let media = sdp.media.iter().find(|m| {
            m.control
                .as_deref()
                .is_some_and(|c| control_matches(uri, c))
        });
        match media {
            Some(m) if m.is_onvif_metadata() => {
                let gzip = m.is_gzip();
                self.meta.entry(ch).or_default().gzip = gzip;
                self.other.remove(&ch);
            }
            _ => {
                self.other.insert(ch);
                self.meta.remove(&ch);
            }
        }
    }

    /// One RTP packet of the metadata track: append its payload, decode at the marker bit.
    fn meta_frame(&mut self, ch: u8, rtp: &[u8], dir: Direction, em: &mut Emitter<'_>) {
        let Some(depay) = self.meta.get_mut(&ch) else {
            return;
        };
        match depay.push(rtp) {
            Ok(Some(doc)) => events::decode_body(Some("application/xml"), &doc, dir, em),
            Ok(None) => {}
            Err(_) => em.anomaly("rtsp", "metadata_rtp"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rtp::rtp_payload;
    use super::*;
    use crate::model::Observation;

    const C: Direction = Direction::ToServer;
    const S: Direction = Direction::ToClient;

    const SDP: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Session streamed with GStreamer\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:stream=0\r\nm=application 0 RTP/AVP 107\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\na=control:stream=1\r\n";

    fn rtp(marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x80,
            if marker { 0x80 | 107 } else { 107 },
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
        ];
        p.extend_from_slice(payload);
        p
    }

    fn frame(ch: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![b'$', ch];
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn conversation(meta: bool) -> Vec<(Direction, Vec<u8>)> {
        let desc = format!("RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Base: rtsp://10.0.0.9:554/cam/\r\nContent-Length: {}\r\n\r\n{SDP}", SDP.len());
        let mut v = vec![
            (C, b"OPTIONS rtsp://10.0.0.9:554/cam RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: test\r\n\r\nDESCRIBE rtsp://10.0.0.9:554/cam RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n".to_vec()),
            (S, b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY\r\n\r\n".to_vec()),
            (S, desc.into_bytes()),
            (C, b"SETUP rtsp://10.0.0.9:554/cam/stream=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n".to_vec()),
            (S, b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 12345678;timeout=60\r\n\r\n".to_vec()),
        ];
        if meta {
            v.push((C, b"SETUP rtsp://10.0.0.9:554/cam/stream=1 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP/TCP;unicast;interleaved=2-3\r\nSession: 12345678\r\n\r\n".to_vec()));
            v.push((S, b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nTransport: RTP/AVP/TCP;unicast;interleaved=2-3\r\nSession: 12345678\r\n\r\n".to_vec()));
        }
        v.push((
            C,
            b"PLAY rtsp://10.0.0.9:554/cam/ RTSP/1.0\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n"
                .to_vec(),
        ));
        let mut s = b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n".to_vec();
        s.extend(frame(0, &rtp(true, &[0x65; 3000])));
        if meta {
            let doc = br#"<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"><tt:VideoAnalytics><tt:Frame UtcTime="x"><tt:Object ObjectId="1"><tt:Appearance><tt:Class><tt:Type Likelihood="0.9">HumanFace</tt:Type></tt:Class></tt:Appearance></tt:Object></tt:Frame></tt:VideoAnalytics></tt:MetadataStream>"#;
            let (a, b) = doc.split_at(100);
            s.extend(frame(2, &rtp(false, a)));
            s.extend(frame(0, &rtp(false, &[0x41; 1000])));
            s.extend(frame(2, &rtp(true, b)));
        }
        v.push((S, s));
        v
    }

    fn run_chunked(
        conv: &[(Direction, Vec<u8>)],
        chunk: usize,
    ) -> (Vec<(String, String)>, Progress) {
        let mut out: Vec<Observation> = Vec::new();
        let mut last = Progress::Continue;
        {
            let mut em = Emitter::new(0.0, None, &mut out);
            let mut p = RtspParser::new();
            'outer: for (d, b) in conv {
                for c in b.chunks(chunk.max(1)) {
                    last = p.feed(*d, c, &mut em);
                    if last == Progress::Done {
                        break 'outer;
                    }
                }
            }
        }
        let o = out
            .into_iter()
            .map(|o| (format!("{}.{}", o.proto, o.field), o.value))
            .collect();
        (o, last)
    }

    fn has(o: &[(String, String)], k: &str, v: &str) -> bool {
        o.iter().any(|(a, b)| a == k && b == v)
    }

    #[test]
    fn describe_setup_play_metadata() {
        let conv = conversation(true);
        let (whole, last) = run_chunked(&conv, usize::MAX);
        for n in [1, 2, 3, 7, 64, 1000] {
            assert_eq!(run_chunked(&conv, n).0, whole, "chunk {n}");
        }
        assert_eq!(last, Progress::Continue);
        for (k, v) in [
            ("rtsp.method", "DESCRIBE"),
            ("rtsp.uri", "rtsp://10.0.0.9:554/cam"),
            ("rtsp.status", "200"),
            ("rtsp.content_type", "application/sdp"),
            ("rtsp.transport", "RTP/AVP/TCP;unicast;interleaved=2-3"),
            ("rtsp.session", "present"),
            ("sdp.media", "application"),
            ("sdp.encoding", "vnd.onvif.metadata"),
            ("sdp.encoding", "H264"),
            ("sdp.session_name", "Session streamed with GStreamer"),
            ("onvif.object.class", "HumanFace"),
        ] {
            assert!(has(&whole, k, v), "{k}={v}: {whole:?}");
        }
    }

    #[test]
    fn video_only_play_is_done() {
        let (o, last) = run_chunked(&conversation(false), 500);
        assert_eq!(last, Progress::Done);
        assert!(has(&o, "rtsp.method", "PLAY"));
        assert!(!o.iter().any(|(k, _)| k.starts_with("onvif")));
    }

    #[test]
    fn garbage_and_rtp_edge_cases() {
        let (o, last) = run_chunked(&[(C, b"\x16\x03\x01\x00\x10junk".to_vec())], usize::MAX);
        assert!(o.is_empty());
        assert_eq!(last, Progress::Done);
        assert!(rtp_payload(&[0x80]).is_err());
        assert!(rtp_payload(&[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200]).is_err());
        assert!(rtp_payload(&[0x9f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert_eq!(interleaved_channel("RTP/AVP/TCP;interleaved=4-5"), Some(4));
        assert_eq!(
            interleaved_channel("RTP/AVP;unicast;client_port=5000-5001"),
            None
        );
    }
}
