//! 7z archives (7-Zip's format: `DOC/7zFormat.txt` of the 7-Zip / LZMA SDK sources), read with
//! the pure-Rust `sevenz-rust2` crate.
//!
//! A 7z archive is a 32-byte signature header (signature, version, CRC of the start header, and
//! the offset, size and CRC of the end header), packed streams, and an end header — plain
//! (`kHeader`) or itself LZMA-packed (`kEncodedHeader`) — describing the folders (coder chains
//! producing one unpacked stream each, "blocks" in `sevenz-rust2`), how each folder's output
//! splits into files (substreams), and the files (names, empty-stream and directory flags).
//!
//! `sevenz-rust2` trusts the counts and sizes in that header (it allocates `num_files` entries,
//! `num_substreams` sizes, a dictionary as large as the coder properties say, and indexes its
//! tables unchecked), so the header is walked here first: every count must fit the bytes that
//! hold it, packed streams must lie inside the archive, the encoded header must be small, and
//! LZMA/LZMA2 dictionaries are bounded ([`DICT_CAP`]). Only then is it handed to the crate. Any
//! panic left in the crate is caught and reported as an error.
//!
//! Supported coders: COPY, LZMA, LZMA2, BZip2, Deflate, the BCJ/ARM/… filters, Delta, BCJ2.
//! Not supported: PPMd, Zstandard, Brotli, LZ4, Deflate64, encryption (folders using AES are
//! reported as `encrypted: not read`), archives without an end header (unfinished).

use std::cell::{Cell, RefCell};
use std::io::{Cursor, Read};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use sevenz_rust2::{Archive, BlockDecoder, EncoderMethod, Password};

pub use super::jffs2::ReadFile;

/// The 6-byte 7z signature.
const SIGNATURE: [u8; 6] = [0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C];

/// The largest LZMA/LZMA2 dictionary accepted (the decoder allocates it whole).
pub const DICT_CAP: u64 = 256 << 20;

/// The largest encoded (packed) end header accepted, unpacked.
const HEADER_CAP: u64 = 16 << 20;

/// Coders or stream counts per folder accepted (`sevenz-rust2` handles at most 32 coders).
const COUNT_CAP: u64 = 32;

mod header;
use header::*;

/// Whether `b` starts with the 7z signature (37 7A BC AF 27 1C).
pub fn is_7z(b: &[u8]) -> bool {
    b.starts_with(&SIGNATURE)
}

/// Where a 7z archive starting at `start` ends inside a larger blob: after its end header,
/// whose offset and size the start header gives (`DOC/7zFormat.txt`, SignatureHeader). `None`
/// when that lies past the blob.
pub fn extent(b: &[u8], start: usize) -> Option<usize> {
    let h = b.get(start..)?;
    if !is_7z(h) {
        return None;
    }
    let offset = usize::try_from(crate::decode::bytes::le64(h, 12)?).ok()?;
    let size = usize::try_from(crate::decode::bytes::le64(h, 20)?).ok()?;
    let end = start
        .checked_add(32)?
        .checked_add(offset)?
        .checked_add(size)?;
    (size > 0 && end <= b.len()).then_some(end)
}

/// Unpacks an encoded header (after `kEncodedHeader`): one folder of one LZMA, LZMA2 or COPY
/// coder, at most [`HEADER_CAP`] bytes.
fn decode_header(h: &mut H<'_>, b: &[u8]) -> Result<Vec<u8>, String> {
    let mut st = Streams::default();
    streams_info(h, &mut st)?;
    if check_streams(&st, b.len() as u64)? {
        return Err("7z: encrypted: not read (encrypted header)".into());
    }
    let [f] = st.folders.as_slice() else {
        return Err("7z: encoded header not in one folder".into());
    };
    let [c] = f.coders.as_slice() else {
        return Err("7z: encoded header with several coders not supported".into());
    };
    let size = f.unpack.first().copied().ok_or("7z: header size missing")?;
    if size > HEADER_CAP {
        return Err(format!("7z: encoded header of {size} bytes refused"));
    }
    let start = usize::try_from(32 + st.pack_pos).map_err(|_| "7z: bad pack position")?;
    let len = usize::try_from(*st.pack_sizes.first().ok_or("7z: no packed header")?)
        .map_err(|_| "7z: bad pack size")?;
    let end = start.checked_add(len).ok_or("7z: bad pack size")?;
    let packed = b
        .get(start..end)
        .ok_or("7z: packed header outside the archive")?;
    let mut out = Vec::with_capacity(size as usize);
    let r = if c.id == EncoderMethod::ID_COPY {
        packed.take(size).read_to_end(&mut out)
    } else if c.id == EncoderMethod::ID_LZMA {
        let p = c.props.get(..5).ok_or("7z: short LZMA properties")?;
        let dict = u32::from_le_bytes([p[1], p[2], p[3], p[4]]);
        lzma_rust2::LzmaReader::new_with_props(packed, size, p[0], dict, None)
            .map_err(|e| format!("7z: header: {e}"))?
            .take(size)
            .read_to_end(&mut out)
    } else if c.id == EncoderMethod::ID_LZMA2 {
        let p = u32::from(*c.props.first().ok_or("7z: short LZMA2 properties")?);
        let dict = if p >= 40 {
            u32::MAX
        } else {
            (2 | (p & 1)) << (p / 2 + 11)
        };
        lzma_rust2::Lzma2Reader::new(packed, dict, None)
            .take(size)
            .read_to_end(&mut out)
    } else {
        return Err("7z: encoded header coder not supported".into());
    };
    r.map_err(|e| format!("7z: header: {e}"))?;
    if out.len() as u64 != size {
        return Err("7z: encoded header truncated".into());
    }
    Ok(out)
}

/// Checks the signature header and the end header before `sevenz-rust2` sees them; whether
/// any folder is encrypted.
fn precheck(b: &[u8]) -> Result<bool, String> {
    let sh = b.get(..32).ok_or("7z: truncated signature header")?;
    if !is_7z(sh) {
        return Err("7z: bad signature".into());
    }
    if sh[6] != 0 {
        return Err(format!("7z: unsupported version {}.{}", sh[6], sh[7]));
    }
    let le32 = |s: &[u8]| u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let le64 = |s: &[u8]| u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
    if sh[8..32].iter().all(|&x| x == 0) {
        return Err("7z: no end header (unfinished archive)".into());
    }
    if crc32fast::hash(&sh[12..32]) != le32(&sh[8..12]) {
        return Err("7z: start header CRC mismatch".into());
    }
    let (off, size) = (le64(&sh[12..20]), le64(&sh[20..28]));
    let start = 32u64.checked_add(off).ok_or("7z: bad end header offset")?;
    let end = start.checked_add(size).ok_or("7z: bad end header size")?;
    if end > b.len() as u64 || size == 0 {
        return Err("7z: end header outside the archive (truncated?)".into());
    }
    let hb = b
        .get(start as usize..end as usize)
        .ok_or("7z: end header outside the archive")?;
    if crc32fast::hash(hb) != le32(&sh[28..32]) {
        return Err("7z: end header CRC mismatch".into());
    }
    if hb.first() == Some(&K_ENCODED_HEADER) {
        let decoded = decode_header(&mut H { s: hb, i: 1 }, b)?;
        walk_header(&decoded, b.len() as u64)
    } else {
        walk_header(hb, b.len() as u64)
    }
}

/// Each regular file of a 7z archive held in memory: its path inside the archive, its size,
/// and a way to read it (error if over `max_file` bytes). At most `max` files; returns what was
/// malformed or not read, if anything.
///
/// Files are visited in archive order. Directories, anti-items and empty files are skipped.
/// Paths use `/` separators (a `\` is turned into `/`). In a solid folder a file's bytes follow
/// the files before it: files the caller did not read are decoded and dropped (at most
/// `max_file` bytes each); a file over `max_file` cannot be skipped that way, so the files after
/// it in its folder are not visited (and that is reported). Folders using AES are not read
/// (`encrypted: not read`).
pub fn each(
    b: &[u8],
    max: usize,
    max_file: u64,
    each: &mut dyn FnMut(&str, u64, ReadFile<'_>),
) -> Option<String> {
    let encrypted = match precheck(b) {
        Ok(e) => e,
        Err(e) => return Some(e),
    };
    let in_user = Cell::new(false);
    let mut notes: Vec<String> = Vec::new();
    if encrypted {
        notes.push("7z: encrypted: not read".into());
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        walk(b, max, max_file, each, &in_user, &mut notes)
    }));
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => notes.push(e),
        Err(p) if in_user.get() => resume_unwind(p),
        Err(_) => notes.push("7z: malformed archive (decoder panicked)".into()),
    }
    if notes.is_empty() {
        None
    } else {
        notes.dedup();
        Some(notes.join("; "))
    }
}

/// The visit proper, once [`precheck`] passed.
fn walk(
    b: &[u8],
    max: usize,
    max_file: u64,
    each: &mut dyn FnMut(&str, u64, ReadFile<'_>),
    in_user: &Cell<bool>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let pw = Password::empty();
    let mut src = Cursor::new(b);
    let archive = Archive::read(&mut src, &pw).map_err(|e| format!("7z: {e}"))?;
    let mut count = 0usize;
    for bi in 0..archive.blocks.len() {
        let block = archive.blocks.get(bi).ok_or("7z: block index")?;
        if block
            .coders
            .iter()
            .any(|c| c.encoder_method_id() == EncoderMethod::ID_AES256_SHA256)
        {
            notes.push("7z: encrypted: not read".into());
            continue;
        }
        let dec = BlockDecoder::new(1, bi, &archive, &pw, &mut src);
        // Whether a file with data follows position `k` of this folder.
        let more_after: Vec<bool> = {
            let entries = dec.entries();
            let mut v = vec![false; entries.len()];
            let mut seen = false;
            for (k, e) in entries.iter().enumerate().rev() {
                v[k] = seen;
                seen |= e.has_stream() && e.size() > 0;
            }
            v
        };
        let mut pos = 0usize;
        let mut stop_all = false;
        let r = dec.for_each_entries(&mut |entry, reader| {
            let k = pos;
            pos += 1;
            let size = entry.size();
            if entry.is_directory() || entry.is_anti_item() || !entry.has_stream() || size == 0 {
                return Ok(true);
            }
            let follows = more_after.get(k).copied().unwrap_or(false);
            if count >= max {
                notes.push(format!("7z: more than {max} files, the rest not read"));
                stop_all = true;
                return Ok(false);
            }
            count += 1;
            let name = entry.name().replace('\\', "/");
            let reader = RefCell::new(reader);
            let got: RefCell<Option<Result<Vec<u8>, String>>> = RefCell::new(None);
            let read = || -> Result<Vec<u8>, String> {
                if let Some(r) = got.borrow().as_ref() {
                    return r.clone();
                }
                let r = if size > max_file {
                    Err(format!(
                        "7z: {name}: {size} bytes, over the limit of {max_file}"
                    ))
                } else {
                    let mut v = Vec::with_capacity(size.min(1 << 20) as usize);
                    match Read::take(&mut **reader.borrow_mut(), size).read_to_end(&mut v) {
                        Ok(_) if v.len() as u64 == size => Ok(v),
                        Ok(_) => Err(format!("7z: {name}: truncated")),
                        Err(e) => Err(format!("7z: {name}: {e}")),
                    }
                };
                *got.borrow_mut() = Some(r.clone());
                r
            };
            in_user.set(true);
            each(&name, size, &read);
            in_user.set(false);
            let result = got.borrow_mut().take();
            match result {
                Some(Ok(_)) => Ok(true),
                Some(Err(e)) => {
                    if size <= max_file {
                        // A decoding error: the rest of the folder is unreliable.
                        notes.push(e);
                        return Ok(false);
                    }
                    if follows {
                        notes.push(format!(
                            "7z: files after {name} in its solid block not read (over max_file)"
                        ));
                    }
                    Ok(false)
                }
                None if !follows => Ok(true),
                None if size > max_file => {
                    notes.push(format!(
                        "7z: files after {name} in its solid block not read (over max_file)"
                    ));
                    Ok(false)
                }
                None => {
                    let mut r = reader.borrow_mut();
                    match std::io::copy(&mut Read::take(&mut **r, size), &mut std::io::sink()) {
                        Ok(n) if n == size => Ok(true),
                        Ok(_) => {
                            notes.push(format!("7z: {name}: truncated"));
                            Ok(false)
                        }
                        Err(e) => {
                            notes.push(format!("7z: {name}: {e}"));
                            Ok(false)
                        }
                    }
                }
            }
        });
        if let Err(e) = r {
            notes.push(format!("7z: {e}"));
        }
        if stop_all {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
