//! SDP (RFC 8866) session descriptions from RTSP DESCRIBE/ANNOUNCE (`proto = "sdp"`).
//!
//! Fields: `session_name` (`s=`), `media` (`m=` media type), `encoding` (`a=rtpmap` encoding
//! name exactly as sent: `H264`, `vnd.onvif.metadata`, `VND.ONVIF.METADATA`...).
//! [`parse_session`] is the pure parser; RTSP uses its result to map the ONVIF metadata track
//! to an interleaved channel.

use super::{printable, Emitter};
use crate::model::Direction;

use super::protocol::FieldTable;

/// Fields of SDP session descriptions (RFC 8866).
pub const FIELDS: FieldTable = FieldTable(
    "
sdp.session_name  value        `s=` line
sdp.media         enumeration  `m=` media type (`video`, `application`…)
sdp.encoding      enumeration  `a=rtpmap` encoding name (`H264`, `vnd.onvif.metadata`)
",
);

const P: &str = "sdp";
const MAX_LINES: usize = 10_000;
const MAX_MEDIA: usize = 64;
const MAX_RTPMAP: usize = 32;

/// One `m=` section of a session description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdpMedia {
    /// `video`, `audio`, `application`...
    pub media: String,
    /// `a=control:` value (absolute URL or relative path), if present.
    pub control: Option<String>,
    /// (payload type, encoding name as sent).
    pub encodings: Vec<(u8, String)>,
}

impl SdpMedia {
    /// Carries the ONVIF metadata stream (any spelling, plain or gzip).
    pub fn is_onvif_metadata(&self) -> bool {
        self.encodings
            .iter()
            .any(|(_, e)| e.to_ascii_lowercase().starts_with("vnd.onvif.metadata"))
    }

    /// Metadata is gzip-compressed (`vnd.onvif.metadata+gzip`, or the `.gzip` variant).
    pub fn is_gzip(&self) -> bool {
        self.encodings.iter().any(|(_, e)| {
            let e = e.to_ascii_lowercase();
            e.ends_with("+gzip") || e.ends_with(".gzip")
        })
    }
}

/// A parsed session description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdpSession {
    /// `s=` line.
    pub session_name: Option<String>,
    /// Session-level `a=control:`.
    pub control: Option<String>,
    /// Its media sections.
    pub media: Vec<SdpMedia>,
}

/// Parse an SDP body; tolerant of CRLF/LF, junk lines and truncation.
pub fn parse_session(body: &[u8]) -> SdpSession {
    let mut s = SdpSession::default();
    let text = String::from_utf8_lossy(body.get(..1 << 20).unwrap_or(body));
    for line in text.lines().take(MAX_LINES) {
        let line = line.trim_end_matches('\r');
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k.trim() {
            "s" if s.session_name.is_none() => s.session_name = Some(v.trim().to_string()),
            "m" if s.media.len() < MAX_MEDIA => {
                s.media.push(SdpMedia {
                    media: v.split_whitespace().next().unwrap_or("").to_string(),
                    ..Default::default()
                });
            }
            "a" => {
                if let Some(c) = v.strip_prefix("control:") {
                    let c = c.trim().to_string();
                    match s.media.last_mut() {
                        Some(m) => m.control = Some(c),
                        None => s.control = Some(c),
                    }
                } else if let Some(r) = v.strip_prefix("rtpmap:") {
                    let mut it = r.split_whitespace();
                    let pt = it.next().and_then(|p| p.parse::<u8>().ok());
                    let enc = it.next().and_then(|e| e.split('/').next());
                    if let (Some(pt), Some(enc), Some(m)) = (pt, enc, s.media.last_mut()) {
                        if m.encodings.len() < MAX_RTPMAP && !enc.is_empty() {
                            m.encodings.push((pt, enc.to_string()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    s
}

/// Parse and emit `sdp.*` observations; returns the session for the caller's bookkeeping.
pub fn parse(body: &[u8], dir: Direction, em: &mut Emitter<'_>) -> SdpSession {
    let s = parse_session(body);
    if let Some(n) = &s.session_name {
        if !n.is_empty() {
            em.emit(dir, P, "session_name", printable(n.as_bytes()));
        }
    }
    for m in &s.media {
        if !m.media.is_empty() {
            em.emit(dir, P, "media", printable(m.media.as_bytes()));
        }
        for (_, e) in &m.encodings {
            em.emit(dir, P, "encoding", printable(e.as_bytes()));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAM: &[u8] = b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=Session streamed by \"onvif camera\"\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:rtsp://10.0.0.9/stream1/trackID=1\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:trackID=2\r\nm=application 0 RTP/AVP 107\r\na=control:rtsp://example.com/onvif_camera/metadata\r\na=recvonly\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\n";

    #[test]
    fn parses_camera_sdp() {
        let s = parse_session(CAM);
        assert_eq!(
            s.session_name.as_deref(),
            Some("Session streamed by \"onvif camera\"")
        );
        assert_eq!(s.control.as_deref(), Some("*"));
        assert_eq!(s.media.len(), 3);
        assert_eq!(s.media[0].encodings, vec![(96, "H264".to_string())]);
        assert_eq!(s.media[1].control.as_deref(), Some("trackID=2"));
        assert!(s.media[2].is_onvif_metadata());
        assert!(!s.media[2].is_gzip());
        assert!(!s.media[0].is_onvif_metadata());
    }

    #[test]
    fn emits_fields() {
        let mut out = Vec::new();
        let mut em = Emitter::new(0.0, None, &mut out);
        let body = b"v=0\ns=GStreamer\nm=application 0 RTP/AVP 98\na=rtpmap:98 VND.ONVIF.METADATA/90000\nm=application 0 RTP/AVP 99\na=rtpmap:99 vnd.onvif.metadata+gzip/90000\n";
        let s = parse(body, Direction::ToClient, &mut em);
        assert!(s.media[1].is_gzip());
        let got: Vec<_> = out
            .iter()
            .map(|o| format!("{}={}", o.field, o.value))
            .collect();
        assert_eq!(
            got,
            [
                "session_name=GStreamer",
                "media=application",
                "encoding=VND.ONVIF.METADATA",
                "media=application",
                "encoding=vnd.onvif.metadata+gzip"
            ]
        );
    }

    #[test]
    fn junk_is_harmless() {
        let _ = parse_session(b"\xff\xfe=\n=\na=rtpmap:\na=rtpmap:999 X\nm=\n");
        let mut big = Vec::new();
        for _ in 0..200 {
            big.extend_from_slice(b"m=video 0 RTP/AVP 96\n");
        }
        assert_eq!(parse_session(&big).media.len(), MAX_MEDIA);
    }
}
