//! HTTP/1.x message bodies: where a body goes (skipped, buffered for the event decoders,
//! split as multipart), Content-Length, chunked and close-delimited framing, gzip and deflate,
//! and urlencoded form keys.

use super::*;

pub(super) fn is_event_type(mt: &str) -> bool {
    mt == "application/json"
        || mt.ends_with("+json")
        || mt == "text/xml"
        || mt == "application/xml"
        || mt.ends_with("+xml")
        || mt == "text/plain"
        || mt == "text/json"
}

pub(super) fn choose_sink(head: &Head) -> Sink {
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
pub(super) fn body_step(
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

pub(super) fn sink_data(sink: &mut Sink, data: &[u8], dir: Direction, em: &mut Emitter<'_>) {
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

pub(super) fn finish_sink(sink: &mut Sink, dir: Direction, em: &mut Emitter<'_>) {
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

pub(super) fn on_part(p: Part, form_data: bool, dir: Direction, em: &mut Emitter<'_>) {
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
pub(super) fn gunzip(data: &[u8]) -> Vec<u8> {
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
pub(super) fn emit_form_keys(body: &[u8], dir: Direction, em: &mut Emitter<'_>) {
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

/// A query string with each key and value percent-decoded (`+` a space) and the values of
/// identifying keys (`subject`, `name`...) masked as `+`, the `&` and `=` that structure it
/// kept: `face_plugins=landmarks,%20age` → `face_plugins=landmarks, age`. A
/// component whose decoding would add a separator (`%26`, `%3D`) stays as sent, so decoding
/// never changes which pairs there are.
pub(super) fn decode_query(q: &str) -> String {
    let decode = |part: &str| -> String {
        let d = printable(&percent_decode(part.as_bytes()));
        if d.contains(['&', '=']) {
            part.to_string()
        } else {
            d
        }
    };
    q.split('&')
        .map(|pair| match pair.split_once('=') {
            // A person's name or id as a value is masked (decode::identity).
            Some((k, _)) if crate::decode::identity::identifying_key(&decode(k)) => {
                format!("{}=+", decode(k))
            }
            Some((k, v)) => format!("{}={}", decode(k), decode(v)),
            None => decode(pair),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A form key as `application/x-www-form-urlencoded` encodes it: `+` is a space, `%XX` a byte.
pub(super) fn percent_decode(s: &[u8]) -> Vec<u8> {
    let plus: Vec<u8> = s
        .iter()
        .map(|&c| if c == b'+' { b' ' } else { c })
        .collect();
    percent_encoding::percent_decode(&plus).collect()
}
