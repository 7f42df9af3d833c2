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

use super::events;
use super::multipart::{self, MultipartSplitter, Part};
use super::{printable, AppParser, Emitter, Progress};
use crate::model::Direction;
use memchr::memmem;
use std::collections::VecDeque;
use std::io::Read;

use super::fields::{field, FieldDecl, Keeps};

/// Fields of HTTP/1.x messages (RFC 9112), their headers, forms and multipart parts.
pub const FIELDS: &[FieldDecl] = &[
    field("http.method", Keeps::Enumeration, "Request method"),
    field("http.uri", Keeps::Value, "Request target as sent"),
    field("http.path", Keeps::Value, "Path of the target"),
    field("http.query", Keeps::Value, "Query of the target"),
    field(
        "http.host",
        Keeps::Value,
        "Host header (or absolute-form authority) without the port",
    ),
    field(
        "http.hostpath",
        Keeps::Value,
        "Host (lowercase) followed by the path",
    ),
    field("http.user_agent", Keeps::Value, "User-Agent header"),
    field("http.status", Keeps::Enumeration, "Response status code"),
    field(
        "http.content_type",
        Keeps::Enumeration,
        "Media type of the body, without parameters",
    ),
    field(
        "http.multipart.boundary",
        Keeps::Value,
        "Boundary of a multipart body",
    ),
    field(
        "http.header.x-amz-target",
        Keeps::Enumeration,
        "AWS JSON 1.1 operation (`RekognitionService.SearchFaces`)",
    ),
    field(
        "http.header.authorization",
        Keeps::Presence,
        "Authorization scheme only (`Digest`, `Basic`, `Bearer`)",
    ),
    field(
        "http.header.x-api-key",
        Keeps::Presence,
        "`present` when an API key header is sent",
    ),
    field(
        "http.header.ocp-apim-subscription-key",
        Keeps::Presence,
        "`present` when an Azure subscription key is sent",
    ),
    field(
        "http.header.app_id",
        Keeps::Presence,
        "`present` when a Kairos app_id header is sent",
    ),
    field(
        "http.header.app_key",
        Keeps::Presence,
        "`present` when a Kairos app_key header is sent",
    ),
    field(
        "http.form.key",
        Keeps::Name,
        "Names of urlencoded and multipart form fields",
    ),
    field(
        "http.part.content_type",
        Keeps::Enumeration,
        "Media type of a multipart part",
    ),
    field(
        "http.part.size",
        Keeps::Value,
        "Size of a multipart part in bytes",
    ),
];

/// HTTP request methods (RFC 9110 §9), with the space that ends them.
const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// HTTP/1.x in the protocol registry: a status line or a request method.
pub const PROTOCOL: super::registry::AppProtocol = super::registry::AppProtocol {
    name: "http",
    ports: &[80, 8080],
    probe: |s| {
        use super::registry::Probe;
        let d = s.data;
        if d.starts_with(b"HTTP/1.") {
            return Probe::Yes;
        }
        if !METHODS.iter().any(|m| d.starts_with(m)) {
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
}

impl Default for HttpParser {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpParser {
    pub fn new() -> Self {
        HttpParser {
            req: Side::new(Direction::ToServer),
            resp: Side::new(Direction::ToClient),
            pending: VecDeque::new(),
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
        let (side, is_req) = match dir {
            Direction::ToServer => (&mut self.req, true),
            Direction::ToClient => (&mut self.resp, false),
        };
        let mut pos = 0usize;
        // Each iteration consumes input or changes state towards consuming it.
        let mut guard = 0usize;
        let mut tunnel = false;
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
                            let next = if is_req {
                                on_request(&raw, &mut self.pending, side.dir, em)
                            } else {
                                on_response(&raw, &mut self.pending, side.dir, em)
                            };
                            match next {
                                Next::Head => {}
                                Next::Body(framing, sink) => {
                                    side.state = State::Body { framing, sink }
                                }
                                Next::Off => {
                                    tunnel = true;
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
            // A tunnel or protocol upgrade ends HTTP in both directions.
            for s in [&mut self.req, &mut self.resp] {
                s.state = State::Off;
                s.buf.clear();
            }
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
                let _ = on_request(&raw, &mut self.pending, self.req.dir, em);
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

enum HeadResult {
    NeedMore,
    Bad,
    Done(Vec<u8>),
}

/// Accumulate a header block from `input` into `buf`; returns bytes of `input` consumed.
fn take_head(buf: &mut Vec<u8>, input: &[u8]) -> (usize, HeadResult) {
    let mut skipped = 0;
    if buf.is_empty() {
        // Stray line breaks between pipelined messages.
        skipped = input
            .iter()
            .take_while(|&&c| c == b'\r' || c == b'\n')
            .count();
    }
    let input = input.get(skipped..).unwrap_or(&[]);
    if input.is_empty() {
        return (skipped, HeadResult::NeedMore);
    }
    let old = buf.len();
    let take = input.len().min(MAX_HEAD + 1 - old.min(MAX_HEAD));
    buf.extend_from_slice(input.get(..take).unwrap_or(&[]));
    if old < 32 && !plausible_start(buf) {
        return (skipped + take, HeadResult::Bad);
    }
    let from = old.saturating_sub(3);
    let scan = buf.get(from..).unwrap_or(&[]);
    let crlf = memmem::find(scan, b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = memmem::find(scan, b"\n\n").map(|i| (i, i + 2));
    let end = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match end {
        Some((h, total)) => {
            let total = from + total;
            let used = total.saturating_sub(old).min(take);
            let mut raw = std::mem::take(buf);
            raw.truncate(from + h);
            (skipped + used, HeadResult::Done(raw))
        }
        None if buf.len() > MAX_HEAD => {
            buf.clear();
            (skipped + take, HeadResult::Bad)
        }
        None => (skipped + take, HeadResult::NeedMore),
    }
}

/// First bytes look like `HTTP/` or an uppercase method token followed by a space.
fn plausible_start(b: &[u8]) -> bool {
    if b.starts_with(b"HTTP/") || b"HTTP/".starts_with(b.get(..b.len().min(5)).unwrap_or(&[])) {
        return true;
    }
    let tok = b
        .iter()
        .take_while(|c| c.is_ascii_uppercase() || **c == b'-' || **c == b'_')
        .count();
    match b.get(tok) {
        Some(b' ') => tok > 0 && tok <= 20,
        None => tok == b.len() && tok <= 20,
        _ => false,
    }
}

enum Next {
    Head,
    Body(Framing, Sink),
    Off,
}

fn lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Headers common to requests and responses; emits and returns the parsed head.
fn parse_headers<'a>(
    hdrs: impl Iterator<Item = &'a [u8]>,
    dir: Direction,
    em: &mut Emitter<'_>,
    is_req: bool,
) -> (Head, Option<String>) {
    let mut head = Head::default();
    let mut host = None;
    for line in hdrs {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = String::from_utf8_lossy(line.get(..colon).unwrap_or(&[]))
            .trim()
            .to_ascii_lowercase();
        let value = printable(line.get(colon + 1..).unwrap_or(&[]));
        let value = value.trim();
        match name.as_str() {
            "host" if is_req => host = Some(strip_port(value)),
            "user-agent" if is_req => em.emit(dir, P, "user_agent", value),
            "content-type" => {
                let mt = multipart::media_type(value);
                if !mt.is_empty() {
                    em.emit(dir, P, "content_type", mt.clone());
                }
                if let Some(b) = multipart::boundary_from_content_type(value) {
                    em.emit(dir, P, "multipart.boundary", b);
                }
                head.content_type = Some(value.to_string());
            }
            "content-length" => head.content_length = value.parse::<u64>().ok(),
            "transfer-encoding" => {
                head.chunked = value.to_ascii_lowercase().contains("chunked");
            }
            "content-encoding" => {
                let v = value.to_ascii_lowercase();
                head.gzip = v.contains("gzip") || v.contains("deflate");
            }
            "x-amz-target" if is_req => em.emit(dir, P, "header.x-amz-target", value),
            "authorization" | "proxy-authorization" if is_req => {
                let scheme = value.split_whitespace().next().unwrap_or("");
                let canon = match scheme.to_ascii_lowercase().as_str() {
                    "digest" => "Digest".to_string(),
                    "basic" => "Basic".to_string(),
                    "bearer" => "Bearer".to_string(),
                    // Other schemes: only if it is clearly a token (never a bare credential).
                    _ if scheme.len() <= 32
                        && scheme.len() < value.len()
                        && scheme
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || c == b'-') =>
                    {
                        scheme.to_string()
                    }
                    _ => String::new(),
                };
                if !canon.is_empty() && name == "authorization" {
                    em.emit(dir, P, "header.authorization", canon);
                }
            }
            n if is_req && PRESENCE_HEADERS.contains(&n) => {
                let field = match n {
                    "x-api-key" => "header.x-api-key",
                    "ocp-apim-subscription-key" => "header.ocp-apim-subscription-key",
                    "app_key" => "header.app_key",
                    _ => "header.app_id",
                };
                em.emit(dir, P, field, "present");
            }
            _ => {}
        }
    }
    (head, host)
}

fn on_request(
    raw: &[u8],
    pending: &mut VecDeque<String>,
    dir: Direction,
    em: &mut Emitter<'_>,
) -> Next {
    let mut it = lines(raw);
    let start = printable(it.next().unwrap_or(&[]));
    let mut parts = start.split(' ').filter(|s| !s.is_empty());
    let method = parts.next().unwrap_or("").to_string();
    let uri = parts.next().unwrap_or("").to_string();
    em.emit(dir, P, "method", method.clone());
    if !uri.is_empty() {
        em.emit(dir, P, "uri", uri.clone());
    }
    let (path, query, authority) = split_target(&method, &uri);
    let path_for_host = path.clone();
    if let Some(p) = path {
        em.emit(dir, P, "path", p);
    }
    if let Some(q) = query {
        em.emit(dir, P, "query", q);
    }
    let (mut head, host) = parse_headers(it, dir, em, true);
    if let Some(h) = host.or_else(|| authority.map(|a| strip_port(&a))) {
        if !h.is_empty() {
            // Host + path, for rules whose paths are generic words on a specific service.
            if let Some(p) = &path_for_host {
                em.emit(dir, P, "hostpath", format!("{}{p}", h.to_ascii_lowercase()));
            }
            em.emit(dir, P, "host", h);
        }
    }
    head.method = Some(method.clone());
    head.uri = Some(uri);
    if pending.len() < MAX_PENDING {
        pending.push_back(method);
    }
    let framing = if head.chunked {
        Framing::Chunked(Chunk::Size)
    } else {
        match head.content_length {
            Some(0) | None => return Next::Head,
            Some(n) => Framing::Length(n),
        }
    };
    Next::Body(framing, choose_sink(&head))
}

fn on_response(
    raw: &[u8],
    pending: &mut VecDeque<String>,
    dir: Direction,
    em: &mut Emitter<'_>,
) -> Next {
    let mut it = lines(raw);
    let start = printable(it.next().unwrap_or(&[]));
    let status = start
        .split(' ')
        .filter(|s| !s.is_empty())
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    let Some(status) = status else {
        return Next::Off;
    };
    em.emit(dir, P, "status", status.to_string());
    let (head, _) = parse_headers(it, dir, em, false);
    if status == 101 {
        return Next::Off;
    }
    if (100..200).contains(&status) {
        // Interim response (100 Continue): the final one for the same request follows.
        return Next::Head;
    }
    let method = pending.pop_front().unwrap_or_default();
    if method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status) {
        return Next::Off;
    }
    if method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 {
        return Next::Head;
    }
    let framing = if head.chunked {
        Framing::Chunked(Chunk::Size)
    } else {
        match head.content_length {
            Some(0) => return Next::Head,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    Next::Body(framing, choose_sink(&head))
}

/// (path, query, authority) of a request-target.
fn split_target(method: &str, uri: &str) -> (Option<String>, Option<String>, Option<String>) {
    if method.eq_ignore_ascii_case("CONNECT") {
        return (None, None, Some(uri.to_string()));
    }
    let (mut rest, mut authority) = (uri, None);
    if let Some(i) = uri.find("://") {
        let after = uri.get(i + 3..).unwrap_or("");
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let auth = after.get(..end).unwrap_or("");
        let auth = auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth);
        authority = Some(auth.to_string());
        rest = after.get(end..).unwrap_or("");
    }
    let rest = rest.split('#').next().unwrap_or("");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let path = if path.is_empty() && authority.is_some() {
        "/"
    } else {
        path
    };
    (
        (!path.is_empty()).then(|| path.to_string()),
        query.filter(|q| !q.is_empty()).map(str::to_string),
        authority,
    )
}

/// `host:port` → `host`; `[::1]:8080` → `[::1]`; a bare IPv6 literal is kept whole.
fn strip_port(h: &str) -> String {
    let h = h.trim();
    if h.starts_with('[') {
        return match h.find(']') {
            Some(i) => h.get(..=i).unwrap_or(h).to_string(),
            None => h.to_string(),
        };
    }
    match h.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|c| c.is_ascii_digit()) => {
            host.to_string()
        }
        _ => h.to_string(),
    }
}

fn is_event_type(mt: &str) -> bool {
    mt == "application/json"
        || mt.ends_with("+json")
        || mt == "text/xml"
        || mt == "application/xml"
        || mt.ends_with("+xml")
        || mt == "text/plain"
        || mt == "text/json"
}

fn choose_sink(head: &Head) -> Sink {
    let ct = head.content_type.as_deref();
    let mt = ct.map(multipart::media_type).unwrap_or_default();
    if mt.starts_with("multipart/") {
        if let Some(b) = ct.and_then(multipart::boundary_from_content_type) {
            return Sink::Multipart {
                splitter: Box::new(MultipartSplitter::new(&b)),
                boundary: b,
                form_data: mt == "multipart/form-data",
            };
        }
        return Sink::Skip;
    }
    let (limit, form) = if is_event_type(&mt) {
        (MAX_BODY, false)
    } else if mt == "application/x-www-form-urlencoded" {
        (MAX_FORM, true)
    } else if mt.is_empty() {
        // Untyped: keep a little and let the event decoders sniff it.
        (MAX_FORM, false)
    } else {
        return Sink::Skip;
    };
    Sink::Buffer {
        content_type: (!mt.is_empty()).then_some(mt),
        data: Vec::new(),
        limit,
        truncated: false,
        form,
        gzip: head.gzip,
    }
}

/// Feed body bytes through the framing into the sink. Returns (consumed, complete, bad).
fn body_step(
    framing: &mut Framing,
    sink: &mut Sink,
    input: &[u8],
    dir: Direction,
    em: &mut Emitter<'_>,
    line: &mut Vec<u8>,
) -> (usize, bool, bool) {
    match framing {
        Framing::Length(n) => {
            let take = (*n).min(input.len() as u64) as usize;
            sink_data(sink, input.get(..take).unwrap_or(&[]), dir, em);
            *n -= take as u64;
            (take, *n == 0, false)
        }
        Framing::UntilClose => {
            sink_data(sink, input, dir, em);
            (input.len(), false, false)
        }
        Framing::Chunked(c) => {
            let mut pos = 0;
            while pos < input.len() {
                let rest = input.get(pos..).unwrap_or(&[]);
                match c {
                    Chunk::Data(n) => {
                        let take = (*n).min(rest.len() as u64) as usize;
                        sink_data(sink, rest.get(..take).unwrap_or(&[]), dir, em);
                        *n -= take as u64;
                        pos += take;
                        if *n == 0 {
                            *c = Chunk::DataEnd;
                        }
                    }
                    Chunk::Size | Chunk::DataEnd | Chunk::Trailer => {
                        let Some(nl) = memchr::memchr(b'\n', rest) else {
                            if line.len() + rest.len() > MAX_LINE {
                                return (pos + rest.len(), false, true);
                            }
                            line.extend_from_slice(rest);
                            return (input.len(), false, false);
                        };
                        if line.len() + nl > MAX_LINE {
                            return (pos + nl + 1, false, true);
                        }
                        line.extend_from_slice(rest.get(..nl).unwrap_or(&[]));
                        pos += nl + 1;
                        let l = std::mem::take(line);
                        let l = l.strip_suffix(b"\r").unwrap_or(&l);
                        match c {
                            Chunk::DataEnd => *c = Chunk::Size,
                            Chunk::Size => {
                                let hex = l.split(|&b| b == b';').next().unwrap_or(&[]);
                                let hex = String::from_utf8_lossy(hex);
                                let hex = hex.trim();
                                match u64::from_str_radix(hex, 16) {
                                    Ok(0) => *c = Chunk::Trailer,
                                    Ok(n) if hex.len() <= 16 => *c = Chunk::Data(n),
                                    _ => return (pos, false, true),
                                }
                            }
                            Chunk::Trailer => {
                                if l.is_empty() {
                                    return (pos, true, false);
                                }
                            }
                            Chunk::Data(_) => {}
                        }
                    }
                }
            }
            (pos, false, false)
        }
    }
}

fn sink_data(sink: &mut Sink, data: &[u8], dir: Direction, em: &mut Emitter<'_>) {
    match sink {
        Sink::Skip => {}
        Sink::Buffer {
            data: buf,
            limit,
            truncated,
            ..
        } => {
            let room = limit.saturating_sub(buf.len());
            if data.len() > room {
                *truncated = true;
            }
            buf.extend_from_slice(data.get(..room.min(data.len())).unwrap_or(&[]));
        }
        Sink::Multipart {
            splitter,
            form_data,
            ..
        } => {
            let fd = *form_data;
            splitter.feed(data, &mut |p| on_part(p, fd, dir, em));
        }
    }
}

fn finish_sink(sink: &mut Sink, dir: Direction, em: &mut Emitter<'_>) {
    match std::mem::replace(sink, Sink::Skip) {
        Sink::Skip => {}
        Sink::Buffer {
            content_type,
            data,
            form,
            gzip,
            ..
        } => {
            let data = if gzip { gunzip(&data) } else { data };
            if form {
                emit_form_keys(&data, dir, em);
            } else {
                events::decode_body(content_type.as_deref(), &data, dir, em);
            }
        }
        Sink::Multipart {
            mut splitter,
            form_data,
            ..
        } => splitter.finish(&mut |p| on_part(p, form_data, dir, em)),
    }
}

fn on_part(p: Part, form_data: bool, dir: Direction, em: &mut Emitter<'_>) {
    if let Some(ct) = &p.content_type {
        em.emit(dir, P, "part.content_type", ct.clone());
    }
    em.emit(dir, P, "part.size", p.size.to_string());
    if form_data {
        if let Some(n) = &p.name {
            if !n.is_empty() {
                em.emit(dir, P, "form.key", printable(n.as_bytes()));
            }
        }
    }
    if !p.binary && !p.body.is_empty() {
        events::decode_body(p.content_type.as_deref(), &p.body, dir, em);
    }
}

/// gzip or zlib/deflate, bounded to [`MAX_BODY`] of output; on error what was inflated so far.
fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let limit = MAX_BODY as u64;
    let r = if data.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out)
    } else {
        flate2::read::ZlibDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out)
    };
    if r.is_err() && out.is_empty() {
        return data.to_vec();
    }
    out
}

/// `a=1&b=2` → form.key a, b (names only, percent-decoded).
fn emit_form_keys(body: &[u8], dir: Direction, em: &mut Emitter<'_>) {
    let mut seen = std::collections::HashSet::new();
    for pair in body.split(|&c| c == b'&').take(MAX_FORM_KEYS) {
        let key = pair.split(|&c| c == b'=').next().unwrap_or(&[]);
        if key.is_empty() || key.len() > 256 {
            continue;
        }
        let k = printable(&percent_decode(key));
        let k = k.trim().to_string();
        if !k.is_empty() && seen.insert(k.clone()) {
            em.emit(dir, P, "form.key", k);
        }
    }
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s.get(i) {
            Some(b'+') => out.push(b' '),
            Some(b'%') => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            Some(&c) => out.push(c),
            None => break,
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observation;

    type Obs = Vec<(Direction, String, String)>;

    /// Feed a conversation (list of (dir, bytes)) in chunks of `chunk` bytes.
    fn run_chunked(conv: &[(Direction, &[u8])], chunk: usize) -> (Obs, Progress) {
        let mut out: Vec<Observation> = Vec::new();
        let mut p = HttpParser::new();
        let mut last = Progress::Continue;
        {
            let mut em = Emitter::new(0.0, None, &mut out);
            for (dir, bytes) in conv {
                for c in bytes.chunks(chunk.max(1)) {
                    last = p.feed(*dir, c, &mut em);
                    if last == Progress::Done {
                        break;
                    }
                }
                if last == Progress::Done {
                    break;
                }
            }
            p.close(&mut em);
        }
        let obs = out
            .into_iter()
            .map(|o| (o.dir, format!("{}.{}", o.proto, o.field), o.value))
            .collect();
        (obs, last)
    }

    fn run(conv: &[(Direction, &[u8])]) -> Obs {
        let (whole, _) = run_chunked(conv, usize::MAX);
        // Chunk independence: every chunk size gives the same observations.
        let total: usize = conv.iter().map(|(_, b)| b.len()).sum();
        let step = if total > 4000 { 97 } else { 1 };
        let mut n = 1;
        while n < 200.min(total) {
            let (o, _) = run_chunked(conv, n);
            assert_eq!(o, whole, "chunk size {n}");
            n += step;
        }
        whole
    }

    fn has(o: &Obs, key: &str, value: &str) -> bool {
        o.iter().any(|(_, k, v)| k == key && v == value)
    }

    fn count(o: &Obs, key: &str) -> usize {
        o.iter().filter(|(_, k, _)| k == key).count()
    }

    const C: Direction = Direction::ToServer;
    const S: Direction = Direction::ToClient;

    #[test]
    fn request_fields() {
        let o = run(&[(
            C,
            b"POST /face/v1.0/identify?returnFaceId=true HTTP/1.1\r\nHost: westeurope.api.cognitive.microsoft.com:443\r\nUser-Agent: curl/8.0\r\nOcp-Apim-Subscription-Key: 0123456789abcdef\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 52\r\n\r\n{\"personGroupId\":\"g1\",\"faceIds\":[\"a\"],\"maxNumOf\":1}",
        )]);
        assert!(has(&o, "http.method", "POST"));
        assert!(has(&o, "http.uri", "/face/v1.0/identify?returnFaceId=true"));
        assert!(has(&o, "http.path", "/face/v1.0/identify"));
        assert!(has(&o, "http.query", "returnFaceId=true"));
        assert!(has(
            &o,
            "http.host",
            "westeurope.api.cognitive.microsoft.com"
        ));
        assert!(has(&o, "http.user_agent", "curl/8.0"));
        assert!(has(&o, "http.header.ocp-apim-subscription-key", "present"));
        assert!(has(&o, "http.content_type", "application/json"));
        assert!(has(&o, "json.key", "personGroupId"));
        assert!(!o.iter().any(|(_, _, v)| v.contains("0123456789abcdef")));
    }

    #[test]
    fn amz_target_auth_and_presence() {
        let o = run(&[(
            C,
            b"POST / HTTP/1.1\r\nHost: rekognition.us-east-1.amazonaws.com\r\nX-Amz-Target: RekognitionService.SearchFacesByImage\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=abc\r\nx-api-key: k\r\napp_id: 1\r\napp_key: 2\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}GET /x HTTP/1.1\r\nAuthorization: Digest username=\"bob\", realm=\"r\"\r\n\r\n",
        )]);
        assert!(has(
            &o,
            "http.header.x-amz-target",
            "RekognitionService.SearchFacesByImage"
        ));
        assert!(has(&o, "http.header.authorization", "AWS4-HMAC-SHA256"));
        assert!(has(&o, "http.header.authorization", "Digest"));
        assert!(has(&o, "http.header.x-api-key", "present"));
        assert!(has(&o, "http.header.app_id", "present"));
        assert!(has(&o, "http.header.app_key", "present"));
        assert!(!o
            .iter()
            .any(|(_, _, v)| v.contains("bob") || v.contains("AKIA")));
        assert_eq!(count(&o, "http.method"), 2);
    }

    #[test]
    fn hosts() {
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("Example.com:80"), "Example.com");
        assert_eq!(strip_port("::1"), "::1");
        let o = run(&[(
            C,
            b"GET http://user@api.kairos.com:8080/recognize?x=1 HTTP/1.1\r\n\r\n",
        )]);
        assert!(has(&o, "http.host", "api.kairos.com"));
        assert!(has(&o, "http.path", "/recognize"));
        assert!(has(
            &o,
            "http.uri",
            "http://user@api.kairos.com:8080/recognize?x=1"
        ));
        let o = run(&[(C, b"GET http://[2001:db8::1]:81 HTTP/1.1\r\n\r\n")]);
        assert!(has(&o, "http.host", "[2001:db8::1]"));
        assert!(has(&o, "http.path", "/"));
    }

    #[test]
    fn pipelined_keepalive_head_204_304_chunked() {
        let o = run(&[
            (
                C,
                b"HEAD /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\nGET /d HTTP/1.1\r\nHost: h\r\n\r\nGET /e HTTP/1.1\r\n\r\n",
            ),
            (
                S,
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/html\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n5;ext=1\r\n{\"ab\"\r\n4\r\n:1}\n\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnopHTTP/1.1 500 X\r\n\r\n",
            ),
        ]);
        let st: Vec<_> = o
            .iter()
            .filter(|(_, k, _)| k == "http.status")
            .map(|x| x.2.as_str())
            .collect();
        assert_eq!(st, ["200", "204", "304", "200", "404", "500"]);
        assert!(has(&o, "json.key", "ab"));
    }

    #[test]
    fn continue_and_connect() {
        let (o, p) = run_chunked(
            &[
                (C, b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 37\r\n\r\n"),
                (S, b"HTTP/1.1 100 Continue\r\n\r\n"),
                (C, b"api_key=k&api_secret=s&outer_id=x%20y"),
                (S, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
                (C, b"CONNECT api-us.faceplusplus.com:443 HTTP/1.1\r\nHost: api-us.faceplusplus.com:443\r\n\r\n"),
                (S, b"HTTP/1.1 200 Connection established\r\n\r\n"),
                (C, b"\x16\x03\x01\x02\x00"),
            ],
            usize::MAX,
        );
        let st: Vec<_> = o
            .iter()
            .filter(|(_, k, _)| k == "http.status")
            .map(|x| x.2.as_str())
            .collect();
        assert_eq!(st, ["100", "200", "200"]);
        for k in ["api_key", "api_secret", "outer_id"] {
            assert!(has(&o, "http.form.key", k), "{k}");
        }
        assert!(has(&o, "http.uri", "api-us.faceplusplus.com:443"));
        assert!(has(&o, "http.host", "api-us.faceplusplus.com"));
        assert!(!o.iter().any(|(_, _, v)| v == "k" || v == "s"));
        assert_eq!(p, Progress::Done);
    }

    #[test]
    fn facepp_multipart_form() {
        let body = b"--X\r\nContent-Disposition: form-data; name=\"api_key\"\r\n\r\nkey\r\n--X\r\nContent-Disposition: form-data; name=\"faceset_token\"\r\n\r\ntok\r\n--X\r\nContent-Disposition: form-data; name=\"image_file\"; filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0JFIF\r\n--X--\r\n";
        let mut req = format!(
            "POST /facepp/v3/search HTTP/1.1\r\nHost: api-us.faceplusplus.com\r\nContent-Type: multipart/form-data; boundary=X\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let o = run(&[(C, &req)]);
        assert!(has(&o, "http.multipart.boundary", "X"));
        for k in ["api_key", "faceset_token", "image_file"] {
            assert!(has(&o, "http.form.key", k), "{k}");
        }
        assert!(has(&o, "http.part.content_type", "image/jpeg"));
        assert!(has(&o, "http.part.size", "8"));
        assert!(!o
            .iter()
            .any(|(_, _, v)| v == "key" || v == "tok" || v.contains("JFIF")));
    }

    #[test]
    fn hikvision_alarm_server_push() {
        let xml = "<EventNotificationAlert version=\"2.0\" xmlns=\"http://www.hikvision.com/ver20/XMLSchema\"><eventType>faceContrast</eventType><eventState>active</eventState><faceLibType>blackFD</faceLibType><FPID>9</FPID></EventNotificationAlert>";
        let body = format!("--MIME_boundary\r\nContent-Disposition: form-data; name=\"Event_Type\"\r\nContent-Type: application/xml\r\n\r\n{xml}\r\n--MIME_boundary\r\nContent-Disposition: form-data; name=\"Picture\"; filename=\"face.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\u{1}\u{2}\u{3}\r\n--MIME_boundary--\r\n");
        let req = format!("POST /alarm HTTP/1.1\r\nHost: 10.0.0.2:8080\r\nContent-Type: multipart/form-data; boundary=MIME_boundary\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let o = run(&[(C, req.as_bytes())]);
        assert!(has(&o, "hikvision.event_type", "faceContrast"));
        assert!(has(&o, "hikvision.face_lib_type", "blackFD"));
        assert!(has(&o, "hikvision.field", "FPID"));
        assert!(has(&o, "http.form.key", "Event_Type"));
        assert!(has(&o, "http.form.key", "Picture"));
        assert!(has(&o, "http.part.size", "3"));
        assert!(has(&o, "http.host", "10.0.0.2"));
    }

    #[test]
    fn hikvision_alert_stream_endless() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=boundary\r\nConnection: keep-alive\r\n\r\n";
        let part = |t: &str| {
            let x = format!("<EventNotificationAlert version=\"2.0\" xmlns=\"http://www.hikvision.com/ver20/XMLSchema\"><eventType>{t}</eventType><eventState>active</eventState></EventNotificationAlert>");
            format!("--boundary\r\nContent-Type: application/xml; charset=\"UTF-8\"\r\nContent-Length: {}\r\n\r\n{x}\r\n", x.len())
        };
        let mut s = head.to_vec();
        s.extend_from_slice(part("videoloss").as_bytes());
        s.extend_from_slice(b"--boundary\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\n\xff\xd8\xff\xd9\r\n");
        s.extend_from_slice(part("faceCapture").as_bytes());
        s.extend_from_slice(b"--boundary\r\n");
        let o = run(&[
            (C, b"GET /ISAPI/Event/notification/alertStream HTTP/1.1\r\nHost: 10.0.0.64\r\nAuthorization: Digest username=\"admin\"\r\n\r\n"),
            (S, &s),
        ]);
        assert!(has(&o, "hikvision.event_type", "videoloss"));
        assert!(has(&o, "hikvision.event_type", "faceCapture"));
        assert!(has(&o, "http.part.content_type", "image/jpeg"));
        assert!(has(&o, "http.part.size", "4"));
        assert!(has(
            &o,
            "http.path",
            "/ISAPI/Event/notification/alertStream"
        ));
    }

    #[test]
    fn dahua_attach_stream() {
        let s = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=myboundary\r\n\r\n--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n\r\nCode=VideoMotion;action=Start;index=0\r\n\r\n--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 120\r\n\r\nCode=FaceRecognition;action=Start;index=0;data={\"Candidates\":[{\"Person\":{\"Name\":\"Jane\"},\"Similarity\":94}]}\r\n\r\n--myboundary\r\n";
        let o = run(&[
            (C, b"GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=5 HTTP/1.1\r\nHost: 10.0.0.108\r\n\r\n"),
            (S, s),
        ]);
        assert!(has(&o, "dahua.code", "VideoMotion"));
        assert!(has(&o, "dahua.code", "FaceRecognition"));
        assert!(has(&o, "dahua.field", "Similarity"));
        assert!(has(
            &o,
            "http.query",
            "action=attach&codes=[All]&heartbeat=5"
        ));
        assert!(!o.iter().any(|(_, _, v)| v.contains("Jane")));
    }

    #[test]
    fn video_body_is_bypassed() {
        let mut s = b"HTTP/1.0 200 OK\r\nContent-Type: video/mp4\r\n\r\n".to_vec();
        s.extend_from_slice(&[0u8; 5000]);
        let (o, p) = run_chunked(&[(C, b"GET /v.mp4 HTTP/1.0\r\n\r\n"), (S, &s)], 512);
        assert_eq!(p, Progress::Done);
        assert!(has(&o, "http.content_type", "video/mp4"));
    }

    #[test]
    fn gzip_json_body() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(br#"{"subjects":[{"subject":"x","similarity":0.9}]}"#)
            .unwrap();
        let gz = e.finish().unwrap();
        let mut s = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", gz.len()).into_bytes();
        s.extend_from_slice(&gz);
        let o = run(&[
            (C, b"POST /api/v1/recognition/recognize HTTP/1.1\r\n\r\n"),
            (S, &s),
        ]);
        assert!(has(&o, "json.key", "similarity"));
    }

    #[test]
    fn not_http_is_done_and_hostile_sizes() {
        let (o, p) = run_chunked(&[(C, b"\x16\x03\x01\x00\xa5\x01\x00")], usize::MAX);
        assert!(o.is_empty());
        assert_eq!(p, Progress::Done);
        // Giant Content-Length and chunk sizes do not allocate.
        let (_, p) = run_chunked(
            &[
                (C, b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 99999999999999\r\n\r\n{\"a\":1"),
                (S, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc"),
            ],
            3,
        );
        assert_eq!(p, Progress::Continue);
        // Endless header line.
        let mut p2 = HttpParser::new();
        let mut out = Vec::new();
        let mut em = Emitter::new(0.0, None, &mut out);
        p2.feed(C, b"GET /", &mut em);
        for _ in 0..100 {
            p2.feed(C, &[b'a'; 4096], &mut em);
        }
        assert!(p2.req.buf.len() <= MAX_HEAD + 1);
    }

    #[test]
    fn gap_in_length_body_keeps_going() {
        let mut p = HttpParser::new();
        let mut out = Vec::new();
        let mut em = Emitter::new(0.0, None, &mut out);
        p.feed(C, b"POST /a HTTP/1.1\r\nContent-Length: 100\r\nContent-Type: image/jpeg\r\n\r\n0123456789", &mut em);
        assert_eq!(p.gap(C, 80, &mut em), Progress::Continue);
        p.feed(C, b"0123456789GET /next HTTP/1.1\r\n\r\n", &mut em);
        assert!(out.iter().any(|o| o.field == "path" && o.value == "/next"));
    }
}
