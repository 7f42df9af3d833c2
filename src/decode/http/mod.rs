//! HTTP/1.x (`proto = "http"`): requests and responses per flow, pipelining and keep-alive,
//! Content-Length, chunked and close-delimited bodies, HEAD/1xx/204/304 without body,
//! `100 Continue`, CONNECT and `101 Switching Protocols` (the flow is bypassed afterwards).
//!
//! Fields: `method`, `uri`, `path`, `query`, `host`, `user_agent`, `status`, `content_type`,
//! `multipart.boundary`, `header.x-amz-target` (value), presence-only `header.x-api-key`,
//! `header.ocp-apim-subscription-key`, `header.app_key`, `header.app_id`,
//! `header.authorization` (scheme only), `form.key` (urlencoded keys and form-data part names),
//! `part.content_type` and `part.size` for multipart parts. Event bodies (JSON, XML, Dahua
//! text, and each text part of a multipart body or never-ending event stream) go to
//! [`events::decode_body`]. Images and video are skipped without buffering.
//!
//! Bounds: 64 KiB of headers, 1 MiB per body or part of interest, 64 KiB of urlencoded form,
//! 128 outstanding pipelined requests.

use crate::decode::events;
use crate::decode::multipart::{self, MultipartSplitter, Part};
use crate::decode::{printable, AppParser, Emitter, Progress};
use crate::model::Direction;
use memchr::memmem;
use std::collections::VecDeque;
use std::io::Read;

use crate::decode::protocol::FieldTable;

mod body;
pub mod h2;
mod head;
#[cfg(test)]
mod tests;

use body::{body_step, finish_sink};
pub use head::{emit_host, emit_target};
use head::{on_head, take_head, HeadResult, Next};

/// Fields of HTTP/1.x messages (RFC 9112), their headers, forms and multipart parts.
pub const FIELDS: FieldTable = FieldTable(
    "
http.method                            enumeration  Request method
http.uri                               value        Request target: the path and query below (absolute form keeps scheme and host)
http.path                              value        Path of the target, members of collections masked (`/subjects/+`; decode::identity)
http.query                             value        Query of the target, percent-decoded, values of identifying keys masked (`subject=+`)
http.host                              value        Host header (or absolute-form authority) without the port
http.hostpath                          value        Host (lowercase) followed by the path
http.user_agent                        value        User-Agent header
http.status                            enumeration  Response status code
http.content_type                      enumeration  Media type of the body, without parameters
http.multipart.boundary                value        Boundary of a multipart body
http.header.x-amz-target               enumeration  AWS JSON 1.1 operation (`RekognitionService.SearchFaces`)
http.header.authorization              presence     Authorization scheme only (`Digest`, `Basic`, `Bearer`)
http.header.x-api-key                  presence     `present` when an API key header is sent
http.header.ocp-apim-subscription-key  presence     `present` when an Azure subscription key is sent
http.header.app_id                     presence     `present` when a Kairos app_id header is sent
http.header.app_key                    presence     `present` when a Kairos app_key header is sent
http.form.key                          name         Names of urlencoded and multipart form fields
http.part.content_type                 enumeration  Media type of a multipart part
http.part.size                         value        Size of a multipart part in bytes
",
);

/// HTTP request methods (RFC 9110 §9), separated by spaces.
const METHODS: &str = "GET POST PUT HEAD DELETE OPTIONS PATCH CONNECT TRACE";

/// HTTP/1.x in the protocol registry: a status line or a request method.
pub const PROTOCOL: crate::decode::protocol::AppProtocol = crate::decode::protocol::AppProtocol {
    name: "http",
    ports: &[80, 8080],
    probe: |s| {
        use crate::decode::protocol::Probe;
        let d = s.data;
        if d.starts_with(b"HTTP/1.") {
            return Probe::Yes;
        }
        if !crate::decode::protocol::starts_with_word(d, METHODS) {
            return Probe::No;
        }
        if d.starts_with(b"OPTIONS ") && memchr::memchr(b'\n', d).is_none() {
            // `OPTIONS * RTSP/1.0` or HTTP: the end of the line tells.
            return Probe::NeedMore;
        }
        Probe::Yes
    },
    parser: || Box::new(HttpParser::new()),
};

const P: &str = "http";
/// Largest header block (start line + headers).
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest body of interest kept for decoding.
pub const MAX_BODY: usize = 1 << 20;
/// Largest urlencoded form (or untyped body sniffed for events).
const MAX_FORM: usize = 64 * 1024;
/// Requests waiting for their response.
const MAX_PENDING: usize = 128;
/// Longest chunk-size or trailer line.
const MAX_LINE: usize = 4096;
/// Most form keys reported per body.
const MAX_FORM_KEYS: usize = 256;

/// Headers whose presence (never value) is reported.
const PRESENCE_HEADERS: &[&str] = &[
    "x-api-key",
    "ocp-apim-subscription-key",
    "app_key",
    "app_id",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
}

enum Sink {
    Skip,
    Buffer {
        content_type: Option<String>,
        data: Vec<u8>,
        limit: usize,
        truncated: bool,
        form: bool,
        gzip: bool,
    },
    Multipart {
        splitter: Box<MultipartSplitter>,
        boundary: String,
        form_data: bool,
    },
}

enum State {
    Head,
    Body {
        framing: Framing,
        sink: Sink,
    },
    /// Not HTTP (any more): CONNECT tunnel, protocol upgrade, garbage, unrecoverable gap.
    Off,
}

struct Side {
    dir: Direction,
    buf: Vec<u8>,
    state: State,
}

impl Side {
    fn new(dir: Direction) -> Self {
        Side {
            dir,
            buf: Vec::new(),
            state: State::Head,
        }
    }
}

/// Parsed start line + headers of one message.
#[derive(Debug, Default)]
struct Head {
    method: Option<String>,
    uri: Option<String>,
    content_type: Option<String>,
    content_length: Option<u64>,
    chunked: bool,
    gzip: bool,
}

/// Per-flow HTTP/1.x state.
pub struct HttpParser {
    req: Side,
    resp: Side,
    /// Methods of requests whose response has not been parsed yet.
    pending: VecDeque<String>,
    /// After `101 Switching Protocols`: the flow continues as HTTP/2 (`h2c`) if the client's
    /// next bytes are its connection preface.
    upgraded: Option<Box<h2::Http2Parser>>,
}

impl Default for HttpParser {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpParser {
    /// A parser for one HTTP/1.x flow.
    pub fn new() -> Self {
        HttpParser {
            req: Side::new(Direction::ToServer),
            resp: Side::new(Direction::ToClient),
            pending: VecDeque::new(),
            upgraded: None,
        }
    }

    fn progress(&self) -> Progress {
        // Request side not HTTP (garbage, tunnel, upgrade): nothing more to learn here.
        if matches!(self.req.state, State::Off) {
            return Progress::Done;
        }
        // A close-delimited response we do not keep (video, images) with no request pending.
        let skipping_forever = matches!(
            self.resp.state,
            State::Body {
                framing: Framing::UntilClose,
                sink: Sink::Skip
            }
        ) && matches!(self.req.state, State::Head)
            && self.req.buf.is_empty();
        if skipping_forever {
            Progress::Done
        } else {
            Progress::Continue
        }
    }
}

impl AppParser for HttpParser {
    fn feed(&mut self, dir: Direction, data: &[u8], em: &mut Emitter<'_>) -> Progress {
        if let Some(h2) = &mut self.upgraded {
            return h2.feed(dir, data, em);
        }
        let (side, is_req) = match dir {
            Direction::ToServer => (&mut self.req, true),
            Direction::ToClient => (&mut self.resp, false),
        };
        let mut pos = 0usize;
        // Each iteration consumes input or changes state towards consuming it.
        let mut guard = 0usize;
        let mut tunnel = false;
        let mut upgrade = None;
        while pos < data.len() {
            guard += 1;
            if guard > data.len() + 16 {
                break;
            }
            let rest = data.get(pos..).unwrap_or(&[]);
            match &mut side.state {
                State::Off => break,
                State::Head => {
                    let (used, head) = take_head(&mut side.buf, rest);
                    pos += used;
                    match head {
                        HeadResult::NeedMore => {}
                        HeadResult::Bad => {
                            side.state = State::Off;
                            side.buf.clear();
                        }
                        HeadResult::Done(raw) => {
                            let next = on_head(&raw, is_req, &mut self.pending, side.dir, em);
                            match next {
                                Next::Head => {}
                                Next::Body(framing, sink) => {
                                    side.state = State::Body { framing, sink }
                                }
                                Next::Off => {
                                    tunnel = true;
                                    break;
                                }
                                Next::Upgrade => {
                                    tunnel = true;
                                    upgrade = Some(pos);
                                    break;
                                }
                            }
                        }
                    }
                }
                State::Body { framing, sink } => {
                    let (used, complete, bad) =
                        body_step(framing, sink, rest, side.dir, em, &mut side.buf);
                    pos += used;
                    if bad {
                        side.state = State::Off;
                        side.buf.clear();
                    } else if complete {
                        if let State::Body { sink, .. } = &mut side.state {
                            finish_sink(sink, side.dir, em);
                        }
                        side.state = State::Head;
                        side.buf.clear();
                    }
                }
            }
        }
        if tunnel {
            // A tunnel or protocol upgrade ends HTTP/1 in both directions.
            for s in [&mut self.req, &mut self.resp] {
                s.state = State::Off;
                s.buf.clear();
            }
        }
        if let Some(at) = upgrade {
            // The server's frames may follow its 101 in the same bytes.
            let mut h2 = Box::new(h2::Http2Parser::new(true));
            let progress = h2.feed(dir, data.get(at..).unwrap_or_default(), em);
            self.upgraded = Some(h2);
            return progress;
        }
        self.progress()
    }

    fn gap(&mut self, dir: Direction, len: u64, _em: &mut Emitter<'_>) -> Progress {
        let side = match dir {
            Direction::ToServer => &mut self.req,
            Direction::ToClient => &mut self.resp,
        };
        match &mut side.state {
            State::Body {
                framing: Framing::Length(n),
                sink,
            } if *n > len => {
                *n -= len;
                mark_gap(sink);
            }
            State::Body {
                framing: Framing::UntilClose,
                sink,
            } => mark_gap(sink),
            State::Body {
                framing: Framing::Chunked(Chunk::Data(n)),
                sink,
            } if *n > len => {
                *n -= len;
                mark_gap(sink);
            }
            _ => {
                side.state = State::Off;
                side.buf.clear();
            }
        }
        self.progress()
    }

    fn close(&mut self, em: &mut Emitter<'_>) {
        // A request cut off inside its head (the flow was reset): its request line still says
        // what was asked, as other IDSs log it.
        if matches!(self.req.state, State::Head) && !self.req.buf.is_empty() {
            let line_end = memchr::memchr(b'\n', &self.req.buf).unwrap_or(self.req.buf.len());
            let line = &self.req.buf[..line_end];
            if line.len() < 8192 && line.iter().filter(|b| **b == b' ').count() >= 1 {
                let raw = line.to_vec();
                let _ = on_head(&raw, true, &mut self.pending, self.req.dir, em);
            }
        }
        for side in [&mut self.req, &mut self.resp] {
            if let State::Body { sink, .. } = &mut side.state {
                finish_sink(sink, side.dir, em);
            }
            side.state = State::Off;
            side.buf.clear();
        }
    }
}

/// After a gap the kept bytes of a body are incomplete: decode what is there, restart
/// multipart splitting at the next delimiter.
fn mark_gap(sink: &mut Sink) {
    match sink {
        Sink::Skip => {}
        Sink::Buffer { truncated, .. } => *truncated = true,
        Sink::Multipart {
            splitter, boundary, ..
        } => **splitter = MultipartSplitter::new(boundary),
    }
}
