//! Models carried inside source text: a Python bytes literal (`MODEL = b'\x08\x07\x12...'`,
//! adjacent literals joined as Python joins them) or a long base64 string in any script. The
//! literal is decoded (Python's escape rules: `\xhh`, octal, the single-character escapes, line
//! continuations) and the bytes are handed back to the sniffer ([`inner_file`]), which reads
//! them as a model of their own; the report names the source file and says where it was.

use super::{ModelError, ModelInfo};
use base64::Engine;

/// Bytes of a source file examined.
const SCAN_LIMIT: usize = 64 << 20;
/// Shortest decoded literal considered a model.
const MIN_MODEL: usize = 256;
/// Candidates tried per file.
const MAX_CANDIDATES: usize = 16;
/// Shortest base64 run considered.
const MIN_BASE64: usize = 1024;

fn head(b: &[u8]) -> &[u8] {
    &b[..b.len().min(SCAN_LIMIT)]
}

/// Mostly printable text holding a bytes literal or a long base64 run whose decoded bytes
/// `is_model` recognises (so that the many small `b'\x00'` literals and base64 images of
/// ordinary sources are not taken for models).
pub fn looks_like(b: &[u8], is_model: &dyn Fn(&[u8]) -> bool) -> bool {
    super::mostly_text(b) && decoded(head(b)).any(|(_, _, blob)| is_model(&blob))
}

/// The first decoded literal or base64 string that `is_model` recognises, with a note saying
/// where it was: the sniffer reads it as the model.
pub fn inner_file(b: &[u8], is_model: &dyn Fn(&[u8]) -> bool) -> Option<(Vec<u8>, String)> {
    decoded(head(b))
        .find(|(_, _, blob)| is_model(blob))
        .map(|(at, is_literal, blob)| {
            let kind = if is_literal {
                "a Python bytes literal"
            } else {
                "a base64 string"
            };
            let note = format!(
                "embedded in source text: {kind} at byte {at}, {} bytes decoded",
                blob.len()
            );
            (blob, note)
        })
}

/// The decoded candidates of a source text, long enough to be a model: (offset, is a Python
/// literal, bytes).
fn decoded(h: &[u8]) -> impl Iterator<Item = (usize, bool, Vec<u8>)> + '_ {
    candidates(h)
        .into_iter()
        .filter_map(move |(at, is_literal)| {
            let blob = if is_literal {
                literals(h, at).0
            } else {
                let run: Vec<u8> = h[at..]
                    .iter()
                    .take_while(|x| x.is_ascii_alphanumeric() || matches!(x, b'+' | b'/' | b'='))
                    .copied()
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(&run)
                    .ok()?
            };
            (blob.len() >= MIN_MODEL).then_some((at, is_literal, blob))
        })
}

/// Where a bytes literal (`b'` / `b"`, not raw) or a quoted base64 run starts.
fn candidates(h: &[u8]) -> Vec<(usize, bool)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < h.len() && out.len() < MAX_CANDIDATES {
        let c = h[i];
        let boundary = i == 0 || !(h[i - 1].is_ascii_alphanumeric() || h[i - 1] == b'_');
        if boundary
            && matches!(c, b'b' | b'B')
            && matches!(h[i + 1], b'\'' | b'"')
            && h.get(i + 2..i + 4) == Some(b"\\x")
        {
            out.push((i, true));
            // Past the whole run of joined literals.
            i = literals(h, i).1.max(i + 2);
            continue;
        }
        if matches!(c, b'\'' | b'"' | b'`') {
            let run = h[i + 1..]
                .iter()
                .take_while(|x| x.is_ascii_alphanumeric() || matches!(x, b'+' | b'/' | b'='))
                .count();
            if run >= MIN_BASE64 {
                out.push((i + 1, false));
                i += run + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Decode one Python bytes literal starting at `b[at]` (`b'` or `b"`, single or triple
/// quoted) into `out`; returns the index after it.
fn literal(b: &[u8], at: usize, out: &mut Vec<u8>) -> Option<usize> {
    let q = *b.get(at + 1)?;
    let triple = b.get(at + 1..at + 4) == Some(&[q, q, q][..]);
    let mut i = at + if triple { 4 } else { 2 };
    loop {
        let c = *b.get(i)?;
        if c == q && (!triple || b.get(i..i + 3) == Some(&[q, q, q][..])) {
            return Some(i + if triple { 3 } else { 1 });
        }
        if c == b'\n' && !triple {
            return None;
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *b.get(i + 1)?;
        i += 2;
        match e {
            b'x' => {
                let h = std::str::from_utf8(b.get(i..i + 2)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match b.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\n' => {}
            b'\r' if b.get(i) == Some(&b'\n') => i += 1,
            other => {
                if !matches!(other, b'\\' | b'\'' | b'"') {
                    out.push(b'\\');
                }
                out.push(other);
            }
        }
    }
}

/// A run of adjacent bytes literals from `at`, joined (Python's implicit concatenation across
/// spaces, newlines, line continuations and the parentheses around them).
fn literals(b: &[u8], at: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut i = at;
    while let Some(end) = literal(b, i, &mut out) {
        i = end;
        while let Some(c) = b.get(i) {
            if c.is_ascii_whitespace() || *c == b'\\' || *c == b'(' {
                i += 1;
            } else {
                break;
            }
        }
        if !(matches!(b.get(i), Some(b'b' | b'B')) && matches!(b.get(i + 1), Some(b'\'' | b'"'))) {
            break;
        }
        if out.len() > SCAN_LIMIT {
            break;
        }
    }
    (out, i)
}

/// Source text whose decoded strings are not a model the sniffer could read: an error (the
/// sniffer reads the model of [`inner_file`] instead when there is one).
pub fn parse(_b: &[u8]) -> Result<ModelInfo, ModelError> {
    Err(ModelError::Invalid(
        "source text: no bytes literal or base64 string in it is a model".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_escapes_and_joined_literals() {
        let src = b"X = (b'\\x08\\x07A\\n\\101\\\\' \n     b\"\\x00z\")\n";
        let mut out = Vec::new();
        let end = literal(src, 5, &mut out).unwrap();
        assert_eq!(out, b"\x08\x07A\nA\\");
        assert_eq!(src[end], b' ');
        assert_eq!(literals(src, 5).0, b"\x08\x07A\nA\\\x00z");
        assert_eq!(candidates(src), vec![(5, true)]);
    }

    #[test]
    fn not_models_and_hostile_text() {
        assert!(!looks_like(b"print('hello')\n", &|_| true));
        let mut src = b"M = b'".to_vec();
        for _ in 0..300 {
            src.extend_from_slice(b"\\x41");
        }
        src.extend_from_slice(b"'\n");
        // A long literal that is no model is not taken for one.
        assert!(!looks_like(&src, &|b| b.starts_with(b"\x08")));
        assert!(looks_like(&src, &|b| b.starts_with(b"A")));
        assert!(inner_file(&src, &|b| b.starts_with(b"A")).is_some_and(|(b, _)| b.len() == 300));
        assert!(parse(&src).is_err());
        for cut in 0..src.len().min(64) {
            let _ = parse(&src[..cut]);
        }
        let _ = literals(b"b'\\x4", 0);
        let _ = literals(b"b'\\777\\", 0);
    }
}
