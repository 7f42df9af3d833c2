//! Incremental multipart splitter (RFC 2046 framing, lenient): `multipart/mixed`,
//! `multipart/x-mixed-replace` event streams (Hikvision alertStream, Dahua `--myboundary`) and
//! `multipart/form-data`.
//!
//! Bytes arrive in chunks of any size; each complete part is handed to a callback as soon as the
//! next delimiter is seen, so a never-ending stream is processed part by part and never
//! accumulated. Per-part bounds: headers [`MAX_PART_HEADERS`], kept body `max_part` (default
//! [`MAX_PART_BODY`]); binary parts (image, video, audio, octet-stream) are counted, never kept.
//! The delimiter is searched anywhere (not only after CRLF), which tolerates devices that omit
//! the line break before it.

use memchr::memmem;

/// Largest part header block; beyond it the part is dropped and the splitter resyncs.
pub const MAX_PART_HEADERS: usize = 16 * 1024;
/// Default largest kept part body (text, XML, JSON).
pub const MAX_PART_BODY: usize = 1 << 20;

/// One part, complete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Part {
    /// Media type of the part, lowercase, without parameters.
    pub content_type: Option<String>,
    /// `Content-Disposition: form-data; name="..."`.
    pub name: Option<String>,
    /// A `filename=` parameter was present (the value is not kept).
    pub has_filename: bool,
    /// Kept bytes (empty for binary parts).
    pub body: Vec<u8>,
    /// Full size of the part body in bytes, kept or not.
    pub size: u64,
    /// Body was longer than the bound and was cut.
    pub truncated: bool,
    /// Body was not kept because the part is binary.
    pub binary: bool,
    /// The part's own `Content-Length`, when it declared a sane one.
    pub declared_length: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for a delimiter (start of stream, or after a broken part).
    Seek,
    /// Just after a delimiter: `--` closes, otherwise skip to the end of the line.
    AfterDelim,
    Headers,
    Body,
    /// Closing delimiter seen (epilogue ignored).
    Done,
}

/// Per-stream splitter state.
#[derive(Debug)]
pub struct MultipartSplitter {
    delim: Vec<u8>,
    buf: Vec<u8>,
    state: State,
    part: Part,
    max_part: usize,
    tail: Vec<u8>,
    /// Parts dropped because their headers were too long.
    pub dropped: u64,
    /// Parts whose `Content-Length` was unreadable or beyond the bound (framed by the
    /// delimiter instead).
    pub bad_lengths: u64,
    /// After a closing delimiter, look for the next opening one (never-ending event streams
    /// that restart) instead of ignoring the rest.
    restart: bool,
}

/// Boundary parameter of a `multipart/*` Content-Type (quotes removed).
pub fn boundary_from_content_type(ct: &str) -> Option<String> {
    let lower = ct.to_ascii_lowercase();
    if !lower.trim_start().starts_with("multipart/") {
        return None;
    }
    for param in ct.split(';').skip(1) {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim().trim_matches('"');
            if !v.is_empty() && v.len() <= 200 {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// Lowercased media type without parameters.
pub fn media_type(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Parts that are never worth keeping.
pub fn is_binary_type(mt: &str) -> bool {
    mt.starts_with("image/")
        || mt.starts_with("video/")
        || mt.starts_with("audio/")
        || mt == "application/octet-stream"
}

impl MultipartSplitter {
    /// `boundary` as given in the Content-Type parameter. Dahua sometimes writes the parameter
    /// with the leading dashes already (`boundary=--myboundary`) and then frames with that same
    /// string; searching for the parameter itself then matches both spellings.
    pub fn new(boundary: &str) -> Self {
        let b = boundary.as_bytes();
        let delim = if b.starts_with(b"--") {
            b.to_vec()
        } else {
            let mut d = b"--".to_vec();
            d.extend_from_slice(b);
            d
        };
        MultipartSplitter {
            delim,
            buf: Vec::new(),
            state: State::Seek,
            part: Part::default(),
            max_part: MAX_PART_BODY,
            tail: Vec::new(),
            dropped: 0,
            bad_lengths: 0,
            restart: false,
        }
    }

    /// A live event stream: a closing delimiter does not end it.
    pub fn restartable(mut self) -> Self {
        self.restart = true;
        self
    }

    /// Keep at most `max` bytes of a text part (the rest is counted, not kept).
    pub fn with_max_part(mut self, max: usize) -> Self {
        self.max_part = max;
        self
    }

    /// Closing delimiter seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes currently held (for tests of the memory bound).
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.part.body.len()
    }

    /// Feed the next chunk; complete parts go to `on_part`.
    pub fn feed(&mut self, data: &[u8], on_part: &mut dyn FnMut(Part)) {
        if self.state == State::Done {
            return;
        }
        self.buf.extend_from_slice(data);
        // Each iteration consumes bytes or returns, so this ends.
        loop {
            let before = (self.state, self.buf.len());
            match self.state {
                State::Done => {
                    self.buf.clear();
                    return;
                }
                State::Seek => match memmem::find(&self.buf, &self.delim) {
                    Some(i) => {
                        self.buf.drain(..i + self.delim.len());
                        self.state = State::AfterDelim;
                    }
                    None => {
                        let keep = self.delim.len().saturating_sub(1);
                        let cut = self.buf.len().saturating_sub(keep);
                        self.buf.drain(..cut);
                        return;
                    }
                },
                State::AfterDelim => {
                    if self.buf.len() < 2 {
                        return;
                    }
                    if self.buf.starts_with(b"--") {
                        if self.restart {
                            self.buf.drain(..2);
                            self.state = State::Seek;
                        } else {
                            self.state = State::Done;
                        }
                        continue;
                    }
                    match memchr::memchr(b'\n', &self.buf) {
                        Some(i) => {
                            self.buf.drain(..=i);
                            self.part = Part::default();
                            self.tail.clear();
                            self.state = State::Headers;
                        }
                        None if self.buf.len() > 1024 => {
                            self.dropped += 1;
                            self.state = State::Seek;
                        }
                        None => return,
                    }
                }
                State::Headers => {
                    let end = header_end(&self.buf);
                    match end {
                        Some((hlen, total)) => {
                            let head = self.buf.get(..hlen).unwrap_or(&[]).to_vec();
                            self.parse_headers(&head);
                            self.buf.drain(..total);
                            self.state = State::Body;
                        }
                        None if self.buf.len() > MAX_PART_HEADERS => {
                            self.dropped += 1;
                            self.state = State::Seek;
                        }
                        None => return,
                    }
                }
                State::Body => match memmem::find(&self.buf, &self.delim) {
                    Some(i) => {
                        let chunk = self.buf.get(..i).unwrap_or(&[]).to_vec();
                        self.take_body(&chunk);
                        self.finish_part(on_part);
                        self.buf.drain(..i + self.delim.len());
                        self.state = State::AfterDelim;
                    }
                    None => {
                        // Hold back enough for a delimiter split across chunks plus the CRLF
                        // before it, so that CRLF can still be stripped from the part.
                        let keep = self.delim.len() + 2;
                        if self.buf.len() <= keep {
                            return;
                        }
                        let cut = self.buf.len() - keep;
                        let chunk: Vec<u8> = self.buf.drain(..cut).collect();
                        self.take_body(&chunk);
                        return;
                    }
                },
            }
            if (self.state, self.buf.len()) == before {
                return;
            }
        }
    }

    /// Hand over the part being read if it declared a `Content-Length` and that many bytes are
    /// in, without waiting for the next delimiter: a live event stream then never lags one
    /// event behind. Offline decoding does not call this (delimiters frame parts there, as
    /// some firmware declares lengths that are off by one).
    pub fn flush_complete(&mut self, on_part: &mut dyn FnMut(Part)) {
        if self.state != State::Body {
            return;
        }
        let Some(len) = self.part.declared_length else {
            return;
        };
        let have = self.part.size + self.buf.len() as u64;
        if have < len {
            return;
        }
        let need = usize::try_from(len.saturating_sub(self.part.size)).unwrap_or(usize::MAX);
        let chunk: Vec<u8> = self.buf.drain(..need.min(self.buf.len())).collect();
        self.take_body(&chunk);
        // The length is exact: no framing line break to strip.
        self.tail.clear();
        self.finish_part(on_part);
        self.state = State::Seek;
    }

    /// End of stream: hand over a part that was cut short (no closing delimiter).
    pub fn finish(&mut self, on_part: &mut dyn FnMut(Part)) {
        if self.state == State::Body {
            let rest = std::mem::take(&mut self.buf);
            self.take_body(&rest);
            self.finish_part(on_part);
        }
        self.buf.clear();
        self.state = State::Done;
    }

    fn take_body(&mut self, chunk: &[u8]) {
        self.part.size += chunk.len() as u64;
        // Remember the last two bytes seen, kept or not, to strip the framing CRLF later.
        self.tail
            .extend_from_slice(chunk.get(chunk.len().saturating_sub(2)..).unwrap_or(&[]));
        let extra = self.tail.len().saturating_sub(2);
        self.tail.drain(..extra);
        if self.part.binary {
            return;
        }
        let room = self.max_part.saturating_sub(self.part.body.len());
        if chunk.len() > room {
            self.part.truncated = true;
        }
        self.part
            .body
            .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(&[]));
    }

    fn finish_part(&mut self, on_part: &mut dyn FnMut(Part)) {
        let mut part = std::mem::take(&mut self.part);
        // The line break before the delimiter belongs to the framing.
        let strip = if self.tail.ends_with(b"\r\n") {
            2
        } else if self.tail.ends_with(b"\n") {
            1
        } else {
            0
        };
        self.tail.clear();
        part.size = part.size.saturating_sub(strip as u64);
        if !part.binary && !part.truncated {
            let keep = part.body.len().saturating_sub(strip);
            part.body.truncate(keep);
        }
        on_part(part);
    }

    fn parse_headers(&mut self, head: &[u8]) {
        let text = String::from_utf8_lossy(head);
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-type") {
                let mt = media_type(v);
                self.part.binary = is_binary_type(&mt);
                self.part.content_type = Some(mt);
            } else if k.eq_ignore_ascii_case("content-length") {
                // A length beyond the kept bound is not trusted: the delimiter frames the part.
                self.part.declared_length = v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= self.max_part as u64);
                if self.part.declared_length.is_none() {
                    self.bad_lengths += 1;
                }
            } else if k.eq_ignore_ascii_case("content-disposition") {
                for p in v.split(';').skip(1) {
                    let Some((pk, pv)) = p.split_once('=') else {
                        continue;
                    };
                    let pk = pk.trim().to_ascii_lowercase();
                    if pk == "name" {
                        let n = pv.trim().trim_matches('"');
                        if n.len() <= 256 {
                            self.part.name = Some(n.to_string());
                        }
                    } else if pk == "filename" || pk == "filename*" {
                        self.part.has_filename = true;
                    }
                }
            }
        }
    }
}

/// End of a header block: (header bytes, header bytes + blank line). A part with no headers
/// starts directly with the blank line.
fn header_end(buf: &[u8]) -> Option<(usize, usize)> {
    if buf.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    if buf.starts_with(b"\n") {
        return Some((0, 1));
    }
    let crlf = memmem::find(buf, b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = memmem::find(buf, b"\n\n").map(|i| (i, i + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(boundary: &str, data: &[u8], chunk: usize) -> Vec<Part> {
        let mut s = MultipartSplitter::new(boundary);
        let mut parts = Vec::new();
        for c in data.chunks(chunk.max(1)) {
            s.feed(c, &mut |p| parts.push(p));
        }
        s.finish(&mut |p| parts.push(p));
        parts
    }

    const DAHUA: &[u8] = b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 36\r\n\r\nCode=VideoMotion;action=Start;index=0\r\n--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n--myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: 6\r\n\r\n\xff\xd8\xff\xe0--\xd9\r\n--myboundary--\r\n";

    #[test]
    fn dahua_stream_any_chunking() {
        let whole = split_all("myboundary", DAHUA, DAHUA.len());
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].body, b"Code=VideoMotion;action=Start;index=0");
        assert_eq!(whole[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(whole[1].body, b"Heartbeat");
        assert!(whole[2].binary);
        assert!(whole[2].body.is_empty());
        assert_eq!(whole[2].size, 7);
        for n in 1..DAHUA.len() {
            assert_eq!(split_all("myboundary", DAHUA, n), whole, "chunk {n}");
        }
        // Every split point of two chunks.
        for i in 0..DAHUA.len() {
            let mut s = MultipartSplitter::new("myboundary");
            let mut parts = Vec::new();
            s.feed(&DAHUA[..i], &mut |p| parts.push(p));
            s.feed(&DAHUA[i..], &mut |p| parts.push(p));
            assert_eq!(parts, whole, "split at {i}");
        }
    }

    #[test]
    fn boundary_param_with_dashes() {
        let parts = split_all("--myboundary", DAHUA, 7);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].body, b"Heartbeat");
    }

    #[test]
    fn form_data_names_and_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"api_key\"\r\n\r\nsecret\r\n--XyZ\r\nContent-Disposition: form-data; name=\"image_file\"; filename=\"me.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8JPEGDATA\r\n--XyZ--";
        let parts = split_all("XyZ", body, 5);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name.as_deref(), Some("api_key"));
        assert_eq!(parts[1].name.as_deref(), Some("image_file"));
        assert!(parts[1].has_filename && parts[1].binary && parts[1].body.is_empty());
        assert_eq!(parts[1].size, 10);
    }

    #[test]
    fn endless_binary_stream_stays_small() {
        let mut s = MultipartSplitter::new("b");
        let mut n = 0;
        s.feed(b"--b\r\nContent-Type: image/jpeg\r\n\r\n", &mut |_| n += 1);
        let junk = vec![0x42u8; 64 * 1024];
        for _ in 0..64 {
            s.feed(&junk, &mut |_| n += 1);
            assert!(s.buffered() < 64, "{}", s.buffered());
        }
        s.feed(b"\r\n--b\r\n\r\nx\r\n--b", &mut |_| n += 1);
        assert_eq!(n, 2);
    }

    #[test]
    fn text_part_is_bounded() {
        let mut s = MultipartSplitter::new("b").with_max_part(100);
        let mut parts = Vec::new();
        s.feed(b"--b\r\nContent-Type: text/plain\r\n\r\n", &mut |p| {
            parts.push(p)
        });
        s.feed(&[b'a'; 1000], &mut |p| parts.push(p));
        s.feed(b"\r\n--b--", &mut |p| parts.push(p));
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].body.len(), 100);
        assert!(parts[0].truncated);
        assert!(s.is_done());
    }

    #[test]
    fn oversized_headers_resync() {
        let mut s = MultipartSplitter::new("b");
        let mut parts = Vec::new();
        s.feed(b"--b\r\nX: ", &mut |p| parts.push(p));
        s.feed(&vec![b'h'; MAX_PART_HEADERS + 10], &mut |p| parts.push(p));
        s.feed(
            b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nok\r\n--b--",
            &mut |p| parts.push(p),
        );
        assert_eq!(s.dropped, 1);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].body, b"ok");
    }

    #[test]
    fn a_live_stream_gets_each_part_as_soon_as_its_length_is_in() {
        let mut s = MultipartSplitter::new("--boundary").restartable();
        let mut parts = Vec::new();
        s.feed(
            b"--boundary\r\nContent-Type: application/xml\r\nContent-Length: 5\r\n\r\n<a/>",
            &mut |p| parts.push(p),
        );
        s.flush_complete(&mut |p| parts.push(p));
        assert!(parts.is_empty());
        s.feed(b"x", &mut |p| parts.push(p));
        s.flush_complete(&mut |p| parts.push(p));
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].body, b"<a/>x");
        // The closing delimiter of one stream, then a new part: still read.
        s.feed(
            b"\r\n--boundary--\r\n--boundary\r\nContent-Length: 2\r\n\r\nok",
            &mut |p| parts.push(p),
        );
        s.flush_complete(&mut |p| parts.push(p));
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(parts[1].body, b"ok");
    }

    #[test]
    fn hostile_lengths_fall_back_to_delimiters() {
        let mut s = MultipartSplitter::new("b").restartable();
        let mut parts = Vec::new();
        s.feed(
            b"--b\r\nContent-Length: 99999999999\r\n\r\nxx\r\n--b\r\nContent-Length: zz\r\n\r\nyy\r\n--b\r\nContent-Length: 2\r\n\r\nok",
            &mut |p| parts.push(p),
        );
        s.flush_complete(&mut |p| parts.push(p));
        let bodies: Vec<&[u8]> = parts.iter().map(|p| p.body.as_slice()).collect();
        assert_eq!(bodies, [&b"xx"[..], b"yy", b"ok"]);
        assert_eq!(s.bad_lengths, 2);
        // Garbage with no boundary never grows the buffer.
        let mut s = MultipartSplitter::new("b").restartable();
        for _ in 0..40 {
            s.feed(&[b'x'; 64 * 1024], &mut |p| parts.push(p));
            assert!(s.buffered() < 64);
        }
    }

    #[test]
    fn parses_content_type_params() {
        assert_eq!(
            boundary_from_content_type("multipart/x-mixed-replace; boundary=myboundary").as_deref(),
            Some("myboundary")
        );
        assert_eq!(
            boundary_from_content_type("Multipart/Form-Data; charset=x; Boundary=\"a b\"")
                .as_deref(),
            Some("a b")
        );
        assert_eq!(boundary_from_content_type("text/plain; boundary=x"), None);
        assert_eq!(
            media_type(" Application/JSON ; charset=utf-8"),
            "application/json"
        );
    }
}
