//! HTTP/1.x message heads: framing a header block, the request and status lines, the headers
//! banwatch reads, and the request target split into path, query and host.

use super::body::choose_sink;
use super::*;

pub(super) enum HeadResult {
    NeedMore,
    Bad,
    Done(Vec<u8>),
}

/// Accumulate a header block from `input` into `buf`; returns bytes of `input` consumed.
pub(super) fn take_head(buf: &mut Vec<u8>, input: &[u8]) -> (usize, HeadResult) {
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
pub(super) fn plausible_start(b: &[u8]) -> bool {
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

pub(super) enum Next {
    Head,
    Body(Framing, Sink),
    Off,
    /// `101 Switching Protocols`: HTTP/1 ends; HTTP/2 (`h2c`) may follow.
    Upgrade,
}

pub(super) fn lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Headers common to requests and responses; emits and returns the parsed head.
pub(super) fn parse_headers<'a>(
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

/// A complete head: a request's (`is_req`) or a response's; says what follows it. `pending`
/// holds the methods of requests still waiting for their response.
pub(super) fn on_head(
    raw: &[u8],
    is_req: bool,
    pending: &mut VecDeque<String>,
    dir: Direction,
    em: &mut Emitter<'_>,
) -> Next {
    let mut it = lines(raw);
    let start = printable(it.next().unwrap_or(&[]));
    if is_req {
        on_request(&start, it, pending, dir, em)
    } else {
        on_response(&start, it, pending, dir, em)
    }
}

fn on_request<'a>(
    start: &str,
    it: impl Iterator<Item = &'a [u8]>,
    pending: &mut VecDeque<String>,
    dir: Direction,
    em: &mut Emitter<'_>,
) -> Next {
    let mut parts = start.split(' ').filter(|s| !s.is_empty());
    let method = parts.next().unwrap_or("").to_string();
    let uri = parts.next().unwrap_or("").to_string();
    em.emit(dir, P, "method", method.clone());
    let (path, authority) = emit_target(em, dir, &method, &uri);
    let (mut head, host) = parse_headers(it, dir, em, true);
    emit_host(
        em,
        dir,
        host.or_else(|| authority.map(|a| strip_port(&a))),
        path.as_deref(),
    );
    head.method = Some(method.clone());
    head.uri = Some(uri);
    if pending.len() < MAX_PENDING {
        pending.push_back(method);
    }
    body_next(&head, None)
}

/// What follows a head: a chunked body, a body of Content-Length bytes, or, with no length,
/// `no_length` (a response read until close) or nothing (a request).
fn body_next(head: &Head, no_length: Option<Framing>) -> Next {
    let framing = match (head.chunked, head.content_length, no_length) {
        (true, _, _) => Framing::Chunked(Chunk::Size),
        (false, Some(0), _) | (false, None, None) => return Next::Head,
        (false, Some(n), _) => Framing::Length(n),
        (false, None, Some(f)) => f,
    };
    Next::Body(framing, choose_sink(head))
}

fn on_response<'a>(
    start: &str,
    it: impl Iterator<Item = &'a [u8]>,
    pending: &mut VecDeque<String>,
    dir: Direction,
    em: &mut Emitter<'_>,
) -> Next {
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
        return Next::Upgrade;
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
    body_next(&head, Some(Framing::UntilClose))
}

/// Emit a request target as `http.uri`, `http.path` and `http.query`, with people's names and
/// ids masked and the query percent-decoded (`decode::identity`): the one place a target
/// becomes observations, for packets and for logs (EVE, Zeek). Returns the shown path and the
/// target's authority (absolute form).
pub fn emit_target(
    em: &mut Emitter<'_>,
    dir: Direction,
    method: &str,
    uri: &str,
) -> (Option<String>, Option<String>) {
    let (path, query, authority) = split_target(method, uri);
    let path = path.as_deref().map(crate::decode::identity::path);
    let query = query.as_deref().map(super::body::decode_query);
    if !uri.is_empty() {
        let shown = match (&path, &query) {
            (Some(p), Some(q)) => format!("{p}?{q}"),
            (Some(p), None) => p.clone(),
            (None, Some(q)) => format!("?{q}"),
            (None, None) => authority.clone().unwrap_or_default(),
        };
        let shown = match (uri.find("://"), &authority) {
            (Some(i), Some(a)) if !method.eq_ignore_ascii_case("CONNECT") => {
                format!("{}://{a}{shown}", &uri[..i])
            }
            _ => shown,
        };
        em.emit(dir, P, "uri", shown);
    }
    if let Some(p) = &path {
        em.emit(dir, P, "path", p.clone());
    }
    if let Some(q) = query {
        em.emit(dir, P, "query", q);
    }
    (path, authority)
}

/// Emit `http.host` and, with the path, `http.hostpath` (rules whose paths are generic words
/// on a specific service).
pub fn emit_host(em: &mut Emitter<'_>, dir: Direction, host: Option<String>, path: Option<&str>) {
    if let Some(h) = host.filter(|h| !h.is_empty()) {
        if let Some(p) = path {
            em.emit(dir, P, "hostpath", format!("{}{p}", h.to_ascii_lowercase()));
        }
        em.emit(dir, P, "host", h);
    }
}

/// (path, query, authority) of a request-target.
pub(super) fn split_target(
    method: &str,
    uri: &str,
) -> (Option<String>, Option<String>, Option<String>) {
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
pub(super) fn strip_port(h: &str) -> String {
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
