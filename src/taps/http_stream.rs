//! A small streaming HTTP/1.1 client for device event streams: one request per connection,
//! Digest (RFC 7616) or Basic auth after a 401, and a body read incrementally (identity,
//! chunked or until close) that may never end. [`MultipartSplitter`] cuts such a body into parts
//! as they complete. Everything read from the device is bounded.

use super::digest;
use super::live::TapError;
use crate::model::{Flow, Transport};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Longest status line or header line.
const MAX_LINE: usize = 8 * 1024;
/// Most headers in one response or part.
const MAX_HEADERS: usize = 64;
/// Largest multipart part kept (event XML/JSON is a few kB; pictures are skipped, not kept).
pub const MAX_PART: usize = 1 << 20;
/// Largest non-streaming response body (ONVIF SOAP replies).
pub const MAX_BODY: usize = 4 << 20;

#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// `http://host[:port]/path?query` (https is not supported: devices on a camera VLAN speak plain
/// HTTP; put a TLS-terminating proxy in front otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<HttpUrl, TapError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| TapError::Connect(format!("{url}: only http:// URLs are supported")))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority.ends_with(']') => {
                let port = authority[i + 1..]
                    .parse()
                    .map_err(|_| TapError::Connect(format!("{url}: bad port")))?;
                (&authority[..i], port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(TapError::Connect(format!("{url}: no host")));
        }
        Ok(HttpUrl {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            path: path.to_string(),
        })
    }

    pub fn with_default_path(mut self, path: &str) -> HttpUrl {
        if self.path == "/" {
            self.path = path.to_string();
        }
        self
    }
}

/// A response whose body is still on the wire.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: BodyReader,
    pub flow: Flow,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The whole (bounded) body, for request/response exchanges.
    pub async fn read_all(mut self, max: usize) -> Result<Vec<u8>, TapError> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = self.body.read(&mut buf).await?;
            if n == 0 {
                return Ok(out);
            }
            if out.len() + n > max {
                return Err(TapError::Protocol(format!("body larger than {max} bytes")));
            }
            out.extend_from_slice(buf.get(..n).unwrap_or(&[]));
        }
    }
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

enum Framing {
    Length(u64),
    Chunked { left: u64, done: bool },
    Close,
}

/// Decodes the transfer coding of a response body.
pub struct BodyReader {
    io: BufReader<TcpStream>,
    framing: Framing,
}

impl BodyReader {
    /// Reads decoded body bytes; 0 means the body ended.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, TapError> {
        match &mut self.framing {
            Framing::Length(left) => {
                if *left == 0 {
                    return Ok(0);
                }
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.io.read(buf.get_mut(..want).unwrap_or(&mut [])).await?;
                *left -= n as u64;
                Ok(n)
            }
            Framing::Close => Ok(self.io.read(buf).await?),
            Framing::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let line = read_line(&mut self.io).await?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16)
                        .map_err(|_| TapError::Protocol(format!("bad chunk size {size:?}")))?;
                    if size == 0 {
                        *done = true;
                        return Ok(0);
                    }
                    *left = size;
                }
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.io.read(buf.get_mut(..want).unwrap_or(&mut [])).await?;
                if n == 0 {
                    return Ok(0);
                }
                *left -= n as u64;
                if *left == 0 {
                    // CRLF after the chunk data.
                    read_line(&mut self.io).await?;
                }
                Ok(n)
            }
        }
    }
}

async fn read_line(io: &mut BufReader<TcpStream>) -> Result<String, TapError> {
    let mut line = Vec::new();
    let n = (&mut *io)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Err(TapError::Protocol("connection closed in headers".into()));
    }
    if line.last() != Some(&b'\n') {
        return Err(TapError::Protocol("header line too long".into()));
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

/// Sends one request and reads the response head. After a 401 it retries once with Digest (or
/// Basic) credentials on a new connection.
pub async fn request(
    url: &HttpUrl,
    method: &str,
    extra_headers: &[(&str, &str)],
    body: &[u8],
    creds: Option<&Credentials>,
) -> Result<Response, TapError> {
    let first = send(url, method, extra_headers, body, None).await?;
    if first.status != 401 {
        return Ok(first);
    }
    let Some(c) = creds else {
        return Err(TapError::Connect(
            "401 unauthorized and no credentials configured".into(),
        ));
    };
    let challenges: Vec<&str> = first
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, v)| v.as_str())
        .collect();
    let auth = if let Some(ch) = challenges.iter().find_map(|v| digest::parse_challenge(v)) {
        digest::authorization(
            &ch,
            &c.username,
            &c.password,
            method,
            &url.path,
            1,
            &cnonce(),
        )
    } else if challenges
        .iter()
        .any(|v| v.trim_start().to_ascii_lowercase().starts_with("basic"))
    {
        format!(
            "Basic {}",
            base64(format!("{}:{}", c.username, c.password).as_bytes())
        )
    } else {
        return Err(TapError::Connect(
            "401 with no usable WWW-Authenticate challenge".into(),
        ));
    };
    drop(first);
    let second = send(url, method, extra_headers, body, Some(&auth)).await?;
    if second.status == 401 {
        return Err(TapError::Connect(
            "401 unauthorized: credentials rejected".into(),
        ));
    }
    Ok(second)
}

fn cnonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:016x}", (t as u64) ^ 0x5deece66d)
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let b = [
            c.first().copied().unwrap_or(0),
            c.get(1).copied().unwrap_or(0),
            c.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn send(
    url: &HttpUrl,
    method: &str,
    extra_headers: &[(&str, &str)],
    body: &[u8],
    auth: Option<&str>,
) -> Result<Response, TapError> {
    let stream = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        TcpStream::connect((url.host.as_str(), url.port)),
    )
    .await
    .map_err(|_| TapError::Connect(format!("{}:{}: connect timed out", url.host, url.port)))?
    .map_err(|e| TapError::Connect(format!("{}:{}: {e}", url.host, url.port)))?;
    let _ = stream.set_nodelay(true);
    let flow = Flow {
        transport: Transport::Tcp,
        client: stream.local_addr()?,
        server: stream.peer_addr()?,
        client_mac: None,
        server_mac: None,
    };
    let mut req = format!(
        "{method} {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: banwatch/{}\r\nAccept: */*\r\n",
        url.path,
        url.host,
        url.port,
        crate::VERSION
    );
    for (k, v) in extra_headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut io = BufReader::new(stream);
    io.get_mut().write_all(req.as_bytes()).await?;
    if !body.is_empty() {
        io.get_mut().write_all(body).await?;
    }
    let head = tokio::time::timeout(std::time::Duration::from_secs(15), read_head(&mut io))
        .await
        .map_err(|_| TapError::Protocol("no response head within 15 s".into()))??;
    let (status, headers) = head;
    let framing = if header(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        Framing::Chunked {
            left: 0,
            done: false,
        }
    } else if let Some(len) = header(&headers, "content-length") {
        Framing::Length(
            len.trim()
                .parse()
                .map_err(|_| TapError::Protocol("bad Content-Length".into()))?,
        )
    } else {
        Framing::Close
    };
    Ok(Response {
        status,
        headers,
        body: BodyReader { io, framing },
        flow,
    })
}

async fn read_head(
    io: &mut BufReader<TcpStream>,
) -> Result<(u16, Vec<(String, String)>), TapError> {
    let status_line = read_line(io).await?;
    let mut it = status_line.split_whitespace();
    let version = it.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(TapError::Protocol(format!(
            "not an HTTP/1.x response: {:?}",
            crate::decode::printable(status_line.as_bytes())
        )));
    }
    let status: u16 = it
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| TapError::Protocol("bad status line".into()))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(io).await?;
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(TapError::Protocol("too many headers".into()));
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((status, headers))
}

/// The boundary parameter of a multipart Content-Type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What the splitter found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    Part(Part),
    /// A part that could not be framed (oversized, bad headers): counted and skipped.
    Broken(String),
}

/// Incremental, bounded splitter of a never-ending multipart body (`multipart/mixed` from
/// Hikvision, `multipart/x-mixed-replace` from Dahua). A part with Content-Length is complete as
/// soon as its bytes are in, without waiting for the next boundary (events must not lag one
/// behind); without it, the part ends at the next delimiter.
pub struct MultipartSplitter {
    delim: Vec<u8>,
    buf: Vec<u8>,
}

impl MultipartSplitter {
    pub fn new(boundary: &str) -> MultipartSplitter {
        // Some firmware already puts the leading dashes into the parameter.
        let b = boundary.strip_prefix("--").unwrap_or(boundary);
        MultipartSplitter {
            delim: format!("--{b}").into_bytes(),
            buf: Vec::new(),
        }
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete part, if any.
    pub fn next_part(&mut self) -> Option<Split> {
        loop {
            let Some(d) = memchr::memmem::find(&self.buf, &self.delim) else {
                // Keep only what could be the start of a delimiter.
                if self.buf.len() > MAX_PART {
                    let keep = self.delim.len();
                    let cut = self.buf.len() - keep;
                    self.buf.drain(..cut);
                    return Some(Split::Broken(format!("{cut} bytes with no boundary")));
                }
                return None;
            };
            let after = d + self.delim.len();
            let rest = self.buf.get(after..).unwrap_or(&[]);
            if rest.len() < 2 {
                return None;
            }
            if rest.starts_with(b"--") {
                // Closing delimiter: drop it and keep going (a stream may restart).
                self.buf.drain(..after + 2);
                continue;
            }
            let Some(hend) = memchr::memmem::find(rest, b"\r\n\r\n")
                .map(|i| (i, 4))
                .or_else(|| memchr::memmem::find(rest, b"\n\n").map(|i| (i, 2)))
            else {
                if rest.len() > MAX_LINE * 4 {
                    self.buf.drain(..after);
                    return Some(Split::Broken("part headers too long".into()));
                }
                return None;
            };
            let (hlen, sep) = hend;
            let head = String::from_utf8_lossy(rest.get(..hlen).unwrap_or(&[])).into_owned();
            let mut content_type = None;
            let mut length = None;
            for line in head.lines().take(MAX_HEADERS) {
                if let Some((k, v)) = line.split_once(':') {
                    let k = k.trim();
                    if k.eq_ignore_ascii_case("content-type") {
                        content_type = Some(v.trim().to_string());
                    } else if k.eq_ignore_ascii_case("content-length") {
                        length = Some(v.trim().parse::<usize>().map_err(|_| v.trim().to_string()));
                    }
                }
            }
            let body_start = after + hlen + sep;
            match length {
                Some(Err(v)) => {
                    self.buf.drain(..after);
                    return Some(Split::Broken(format!("bad part Content-Length {v:?}")));
                }
                Some(Ok(len)) if len > MAX_PART => {
                    // Skip by delimiter instead of trusting the claimed size.
                    self.buf.drain(..after);
                    return Some(Split::Broken(format!(
                        "part of {len} bytes is over the limit"
                    )));
                }
                Some(Ok(len)) => {
                    if self.buf.len() < body_start + len {
                        return None;
                    }
                    let body = self
                        .buf
                        .get(body_start..body_start + len)
                        .unwrap_or(&[])
                        .to_vec();
                    self.buf.drain(..body_start + len);
                    return Some(Split::Part(Part { content_type, body }));
                }
                None => {
                    let tail = self.buf.get(body_start..).unwrap_or(&[]);
                    let Some(next) = memchr::memmem::find(tail, &self.delim) else {
                        if tail.len() > MAX_PART {
                            self.buf.drain(..after);
                            return Some(Split::Broken("part over the limit".into()));
                        }
                        return None;
                    };
                    let mut body = tail.get(..next).unwrap_or(&[]);
                    body = body
                        .strip_suffix(b"\r\n")
                        .or_else(|| body.strip_suffix(b"\n"))
                        .unwrap_or(body);
                    let body = body.to_vec();
                    self.buf.drain(..body_start + next);
                    return Some(Split::Part(Part { content_type, body }));
                }
            }
        }
    }
}

/// Follows a device's never-ending multipart event stream (`GET url`), reconnecting with
/// backoff, and hands each part's body to the shared event decoders.
pub async fn run_event_stream(
    url: HttpUrl,
    creds: Option<Credentials>,
    ctx: &super::live::TapContext,
) {
    super::live::reconnect_loop(ctx, |shutdown| {
        stream_once(&url, creds.as_ref(), ctx, shutdown)
    })
    .await
}

/// No byte for this long (devices send heartbeats every few seconds) means a dead connection.
const IDLE: std::time::Duration = std::time::Duration::from_secs(60);

async fn stream_once(
    url: &HttpUrl,
    creds: Option<&Credentials>,
    ctx: &super::live::TapContext,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), TapError> {
    let mut resp = request(url, "GET", &[("Connection", "keep-alive")], &[], creds).await?;
    if resp.status != 200 {
        return Err(TapError::Connect(format!("HTTP status {}", resp.status)));
    }
    let ct = resp.header("content-type").unwrap_or("").to_string();
    let b = boundary(&ct)
        .ok_or_else(|| TapError::Protocol(format!("not a multipart stream: {ct:?}")))?;
    let mut split = MultipartSplitter::new(&b);
    ctx.health.set_up(true);
    let flow = resp.flow;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = tokio::time::timeout(IDLE, resp.body.read(&mut buf)) => match r {
                Ok(r) => r?,
                Err(_) => return Err(TapError::Protocol("stream idle for 60 s".into())),
            },
            _ = super::live::stopped(&mut shutdown) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        split.push(buf.get(..n).unwrap_or(&[]));
        while let Some(s) = split.next_part() {
            match s {
                Split::Broken(why) => ctx.health.add_decode_error(&why),
                Split::Part(p) => {
                    let binary = p.content_type.as_deref().is_some_and(|c| {
                        c.starts_with("image/") || c.starts_with("application/octet")
                    });
                    let mut obs = Vec::new();
                    if !binary {
                        let mut em =
                            crate::decode::Emitter::new(super::live::now(), Some(flow), &mut obs);
                        crate::decode::events::decode_body(
                            p.content_type.as_deref(),
                            &p.body,
                            crate::model::Direction::ToClient,
                            &mut em,
                        );
                    }
                    ctx.deliver(p.body.len(), obs).await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &mut MultipartSplitter) -> Vec<Split> {
        std::iter::from_fn(|| s.next_part()).collect()
    }

    #[test]
    fn urls() {
        let u = HttpUrl::parse("http://admin@127.0.0.1:8080/ISAPI/Event/notification/alertStream")
            .unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/ISAPI/Event/notification/alertStream")
        );
        let u = HttpUrl::parse("http://cam.local")
            .unwrap()
            .with_default_path("/x");
        assert_eq!((u.port, u.path.as_str()), (80, "/x"));
        assert!(HttpUrl::parse("https://cam").is_err());
        assert!(HttpUrl::parse("http://:80/").is_err());
        assert!(HttpUrl::parse("http://h:99999/").is_err());
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn boundary_param() {
        assert_eq!(
            boundary("multipart/x-mixed-replace; boundary=myboundary").as_deref(),
            Some("myboundary")
        );
        assert_eq!(
            boundary("multipart/mixed; charset=x; Boundary=\"b\"").as_deref(),
            Some("b")
        );
        assert_eq!(boundary("text/plain"), None);
    }

    #[test]
    fn splits_byte_by_byte_with_and_without_length() {
        let stream = b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n--myboundary\r\nContent-Type: text/plain\r\n\r\nCode=FaceDetection;action=Start;index=0\r\n--myboundary\r\n";
        let mut s = MultipartSplitter::new("myboundary");
        let mut got = Vec::new();
        for b in stream {
            s.push(std::slice::from_ref(b));
            got.extend(parts(&mut s));
        }
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[0],
            Split::Part(Part {
                content_type: Some("text/plain".into()),
                body: b"Heartbeat".to_vec()
            })
        );
        assert!(
            matches!(&got[1], Split::Part(p) if p.body == b"Code=FaceDetection;action=Start;index=0")
        );
    }

    #[test]
    fn length_part_completes_without_next_boundary() {
        let mut s = MultipartSplitter::new("--boundary");
        s.push(b"--boundary\r\nContent-Type: application/xml\r\nContent-Length: 5\r\n\r\n<a/>x");
        assert!(matches!(s.next_part(), Some(Split::Part(p)) if p.body == b"<a/>x"));
        assert_eq!(s.next_part(), None);
    }

    #[test]
    fn hostile_parts_are_bounded_and_skipped() {
        let mut s = MultipartSplitter::new("b");
        s.push(b"--b\r\nContent-Length: 99999999999\r\n\r\nxx--b\r\nContent-Length: zz\r\n\r\n--b\r\nContent-Length: 2\r\n\r\nok");
        let got = parts(&mut s);
        assert!(matches!(&got[0], Split::Broken(_)));
        assert!(matches!(&got[1], Split::Broken(_)));
        assert!(
            matches!(&got[2], Split::Part(p) if p.body == b"ok"),
            "{got:?}"
        );
        // Garbage with no boundary never grows past the limit.
        let mut s = MultipartSplitter::new("b");
        for _ in 0..40 {
            s.push(&[b'x'; 64 * 1024]);
            let _ = parts(&mut s);
        }
        assert!(s.buffered() <= MAX_PART + 64 * 1024);
    }
}
