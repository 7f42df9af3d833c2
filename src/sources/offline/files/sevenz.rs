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

const K_END: u8 = 0x00;
const K_HEADER: u8 = 0x01;
const K_ARCHIVE_PROPERTIES: u8 = 0x02;
const K_MAIN_STREAMS_INFO: u8 = 0x04;
const K_FILES_INFO: u8 = 0x05;
const K_PACK_INFO: u8 = 0x06;
const K_UNPACK_INFO: u8 = 0x07;
const K_SUBSTREAMS_INFO: u8 = 0x08;
const K_SIZE: u8 = 0x09;
const K_CRC: u8 = 0x0A;
const K_FOLDER: u8 = 0x0B;
const K_CODERS_UNPACK_SIZE: u8 = 0x0C;
const K_NUM_UNPACK_STREAM: u8 = 0x0D;
const K_EMPTY_STREAM: u8 = 0x0E;
const K_ENCODED_HEADER: u8 = 0x17;

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

/// A cursor over header bytes.
struct H<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> H<'a> {
    fn left(&self) -> u64 {
        self.s.len().saturating_sub(self.i) as u64
    }
    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| "7z: header truncated")?;
        let end = self.i.checked_add(n).ok_or("7z: header truncated")?;
        let v = self.s.get(self.i..end).ok_or("7z: header truncated")?;
        self.i = end;
        Ok(v)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    /// A 7z number: the first byte's leading one bits count the extra little-endian bytes.
    fn num(&mut self) -> Result<u64, String> {
        let first = self.u8()?;
        let mut mask = 0x80u8;
        let mut value = 0u64;
        for i in 0..8 {
            if first & mask == 0 {
                let high = u64::from(first & mask.wrapping_sub(1));
                return Ok(value | high << (8 * i));
            }
            value |= u64::from(self.u8()?) << (8 * i);
            mask >>= 1;
        }
        Ok(value)
    }
    /// A count of things each taking at least `min_bytes` of the rest of the header.
    fn count(&mut self, min_bytes: u64) -> Result<u64, String> {
        let n = self.num()?;
        if n.saturating_mul(min_bytes) > self.left() {
            return Err(format!("7z: count {n} larger than the header"));
        }
        Ok(n)
    }
    fn expect(&mut self, id: u8) -> Result<(), String> {
        let v = self.u8()?;
        if v != id {
            return Err(format!("7z: header property {v:#x} where {id:#x} expected"));
        }
        Ok(())
    }
    /// A digest list for `n` items: an all-defined byte or a bit vector, then 4 bytes each.
    fn digests(&mut self, n: u64) -> Result<(), String> {
        let defined = if self.u8()? != 0 {
            n
        } else {
            let bits = self.take(n.div_ceil(8))?;
            bits.iter().map(|b| u64::from(b.count_ones())).sum()
        };
        self.take(defined.saturating_mul(4))?;
        Ok(())
    }
}

/// One coder of a folder: method id and properties.
struct Coder<'a> {
    id: &'a [u8],
    props: &'a [u8],
    num_out: u64,
}

/// What the walk learnt about a folder.
struct Folder<'a> {
    coders: Vec<Coder<'a>>,
    /// Unpacked size of each coder output stream.
    unpack: Vec<u64>,
    /// The final output: the one output stream not bound to another coder's input.
    main: u64,
    has_crc: bool,
}

/// What the walk learnt about a streams-info block.
#[derive(Default)]
struct Streams<'a> {
    pack_pos: u64,
    pack_sizes: Vec<u64>,
    folders: Vec<Folder<'a>>,
}

fn pack_info(h: &mut H<'_>, st: &mut Streams<'_>) -> Result<(), String> {
    st.pack_pos = h.num()?;
    let n = h.count(1)?;
    loop {
        match h.u8()? {
            K_END => break,
            K_SIZE => {
                for _ in 0..n {
                    st.pack_sizes.push(h.num()?);
                }
            }
            K_CRC => h.digests(n)?,
            v => return Err(format!("7z: unexpected pack info property {v:#x}")),
        }
    }
    if st.pack_sizes.len() as u64 != n {
        return Err("7z: pack sizes missing".into());
    }
    Ok(())
}

fn folder<'a>(h: &mut H<'a>) -> Result<Folder<'a>, String> {
    let num_coders = h.num()?;
    if num_coders == 0 || num_coders > COUNT_CAP {
        return Err(format!("7z: folder with {num_coders} coders"));
    }
    let (mut total_in, mut total_out) = (0u64, 0u64);
    let mut coders = Vec::new();
    for _ in 0..num_coders {
        let flags = h.u8()?;
        let id = h.take(u64::from(flags & 0x0F))?;
        let (num_in, num_out) = if flags & 0x10 != 0 {
            (h.num()?, h.num()?)
        } else {
            (1, 1)
        };
        if num_in > COUNT_CAP || num_out > COUNT_CAP {
            return Err("7z: coder with too many streams".into());
        }
        let props = if flags & 0x20 != 0 {
            let n = h.num()?;
            h.take(n)?
        } else {
            &[]
        };
        if flags & 0x80 != 0 {
            return Err("7z: alternative coder methods not supported".into());
        }
        total_in += num_in;
        total_out += num_out;
        coders.push(Coder { id, props, num_out });
    }
    if total_out == 0 || total_in > COUNT_CAP || total_out > COUNT_CAP {
        return Err("7z: bad folder stream counts".into());
    }
    let mut bound_out = vec![false; total_out as usize];
    let num_bind = total_out - 1;
    for _ in 0..num_bind {
        let (i, o) = (h.num()?, h.num()?);
        if i >= total_in || o >= total_out {
            return Err("7z: bind pair out of range".into());
        }
        bound_out[o as usize] = true;
    }
    let num_packed = total_in
        .checked_sub(num_bind)
        .filter(|&n| n >= 1)
        .ok_or("7z: folder without packed stream")?;
    if num_packed > 1 {
        for _ in 0..num_packed {
            if h.num()? >= total_in {
                return Err("7z: packed stream index out of range".into());
            }
        }
    }
    let main = bound_out.iter().position(|b| !b).unwrap_or(0) as u64;
    Ok(Folder {
        coders,
        unpack: Vec::new(),
        main,
        has_crc: false,
    })
}

fn unpack_info<'a>(h: &mut H<'a>, st: &mut Streams<'a>) -> Result<(), String> {
    h.expect(K_FOLDER)?;
    let n = h.count(2)?;
    if h.u8()? != 0 {
        return Err("7z: external folders not supported".into());
    }
    for _ in 0..n {
        let f = folder(h)?;
        st.folders.push(f);
    }
    h.expect(K_CODERS_UNPACK_SIZE)?;
    for f in &mut st.folders {
        let outs: u64 = f.coders.iter().map(|c| c.num_out).sum();
        for _ in 0..outs {
            f.unpack.push(h.num()?);
        }
    }
    loop {
        match h.u8()? {
            K_END => return Ok(()),
            K_CRC => {
                // Which folders have a CRC matters for the substream digests: re-read the bits.
                let start = h.i;
                h.digests(n)?;
                let all = h.s.get(start).copied().unwrap_or(0) != 0;
                let bits = h.s.get(start + 1..).unwrap_or(&[]);
                for (k, f) in st.folders.iter_mut().enumerate() {
                    f.has_crc = all || bits.get(k / 8).is_some_and(|b| b & (0x80 >> (k % 8)) != 0);
                }
            }
            v => return Err(format!("7z: unexpected unpack info property {v:#x}")),
        }
    }
}

fn substreams_info(h: &mut H<'_>, st: &Streams<'_>) -> Result<u64, String> {
    let mut counts: Vec<u64> = vec![1; st.folders.len()];
    let mut nid = h.u8()?;
    if nid == K_NUM_UNPACK_STREAM {
        let mut total = 0u64;
        for c in &mut counts {
            *c = h.num()?;
            total = total.saturating_add(*c);
            if total > h.s.len() as u64 {
                return Err("7z: more substreams than the header can describe".into());
            }
        }
        nid = h.u8()?;
    }
    if nid == K_SIZE {
        for (f, &c) in st.folders.iter().zip(&counts) {
            let mut sum = 0u64;
            for _ in 1..c {
                sum = sum
                    .checked_add(h.num()?)
                    .ok_or("7z: substream sizes overflow")?;
            }
            let size = f.unpack.get(f.main as usize).copied().unwrap_or(0);
            if c > 0 && sum > size {
                return Err("7z: substreams larger than their folder".into());
            }
        }
        nid = h.u8()?;
    }
    let digests: u64 = st
        .folders
        .iter()
        .zip(&counts)
        .map(|(f, &c)| if c == 1 && f.has_crc { 0 } else { c })
        .sum();
    loop {
        match nid {
            K_END => return Ok(counts.iter().sum()),
            K_CRC => h.digests(digests)?,
            v => return Err(format!("7z: unexpected substreams property {v:#x}")),
        }
        nid = h.u8()?;
    }
}

/// Walks a streams-info block (after its id), checking counts; the number of substreams.
fn streams_info<'a>(h: &mut H<'a>, st: &mut Streams<'a>) -> Result<u64, String> {
    let mut nid = h.u8()?;
    if nid == K_PACK_INFO {
        pack_info(h, st)?;
        nid = h.u8()?;
    }
    if nid == K_UNPACK_INFO {
        unpack_info(h, st)?;
        nid = h.u8()?;
    }
    let mut substreams = st.folders.len() as u64;
    if nid == K_SUBSTREAMS_INFO {
        substreams = substreams_info(h, st)?;
        nid = h.u8()?;
    }
    if nid != K_END {
        return Err(format!("7z: unexpected streams info property {nid:#x}"));
    }
    Ok(substreams)
}

/// Checks the packed streams lie inside the archive and the coders are sane; whether any
/// folder is encrypted.
fn check_streams(st: &Streams<'_>, archive_len: u64) -> Result<bool, String> {
    let mut end = 32u64
        .checked_add(st.pack_pos)
        .ok_or("7z: bad pack position")?;
    for &s in &st.pack_sizes {
        end = end.checked_add(s).ok_or("7z: bad pack size")?;
    }
    if end > archive_len {
        return Err("7z: packed streams past the end of the archive (truncated?)".into());
    }
    let mut encrypted = false;
    for f in &st.folders {
        let mut out = 0usize;
        for c in &f.coders {
            let size = f.unpack.get(out).copied().unwrap_or(0);
            out += c.num_out as usize;
            if c.id == EncoderMethod::ID_AES256_SHA256 {
                encrypted = true;
            } else if c.id == EncoderMethod::ID_LZMA {
                let p = c.props.get(1..5).ok_or("7z: short LZMA properties")?;
                let dict = u64::from(u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
                if dict.min(size) > DICT_CAP {
                    return Err(format!("7z: LZMA dictionary of {dict} bytes refused"));
                }
            } else if c.id == EncoderMethod::ID_LZMA2 {
                let p = u64::from(*c.props.first().ok_or("7z: short LZMA2 properties")?);
                if p > 40 {
                    return Err("7z: bad LZMA2 properties".into());
                }
                let dict = if p == 40 {
                    u64::from(u32::MAX)
                } else {
                    (2 | (p & 1)) << (p / 2 + 11)
                };
                if dict > DICT_CAP || dict > size.saturating_mul(2).max(1 << 20) {
                    return Err(format!("7z: LZMA2 dictionary of {dict} bytes refused"));
                }
            }
        }
    }
    Ok(encrypted)
}

/// Walks a plain header (after `kHeader`); whether any folder is encrypted.
fn walk_header(hb: &[u8], archive_len: u64) -> Result<bool, String> {
    let mut h = H { s: hb, i: 0 };
    h.expect(K_HEADER)?;
    let mut nid = h.u8()?;
    if nid == K_ARCHIVE_PROPERTIES {
        loop {
            if h.u8()? == K_END {
                break;
            }
            let n = h.num()?;
            h.take(n)?;
        }
        nid = h.u8()?;
    }
    let mut st = Streams::default();
    let mut encrypted = false;
    let mut substreams = 0;
    if nid == K_MAIN_STREAMS_INFO {
        substreams = streams_info(&mut h, &mut st)?;
        encrypted = check_streams(&st, archive_len)?;
        nid = h.u8()?;
    }
    if nid == K_FILES_INFO {
        // Each file needs at least a 2-byte name.
        let num_files = h.count(2)?;
        let mut with_data = num_files;
        loop {
            let id = h.u8()?;
            if id == K_END {
                break;
            }
            let n = h.num()?;
            let data = h.take(n)?;
            if id == K_EMPTY_STREAM {
                let bits = data
                    .get(..num_files.div_ceil(8) as usize)
                    .ok_or("7z: short bits")?;
                let empty: u64 = bits.iter().map(|b| u64::from(b.count_ones())).sum();
                with_data = num_files.saturating_sub(empty);
            }
        }
        if with_data != substreams {
            return Err("7z: files with data do not match the substreams".into());
        }
        nid = h.u8()?;
    }
    if nid != K_END {
        return Err(format!("7z: unexpected header property {nid:#x}"));
    }
    Ok(encrypted)
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
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn bytes(n: usize, mut seed: u64) -> Vec<u8> {
        (0..n).map(|_| rng(&mut seed) as u8).collect()
    }

    /// The test tree, written once; None when `7z` is missing.
    fn tree(tag: &str) -> Option<PathBuf> {
        Command::new("7z").arg("i").output().ok()?;
        let dir = std::env::temp_dir().join(format!("sevenz-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("t/sub/dir")).ok()?;
        std::fs::write(dir.join("t/a.bin"), bytes(100_000, 1)).ok()?;
        std::fs::write(dir.join("t/sub/dir/model.onnx"), bytes(20_000, 2)).ok()?;
        std::fs::write(dir.join("t/empty.txt"), b"").ok()?;
        Some(dir)
    }

    fn make(dir: &std::path::Path, name: &str, opts: &[&str]) -> Vec<u8> {
        let out = dir.join(name);
        let st = Command::new("7z")
            .arg("a")
            .args(opts)
            .arg(&out)
            .arg(".")
            .current_dir(dir.join("t"))
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        std::fs::read(out).unwrap()
    }

    type Seen = Vec<(String, u64, Result<Vec<u8>, String>)>;

    fn read_all(b: &[u8], max: usize, max_file: u64) -> (Seen, Option<String>) {
        let mut seen = Vec::new();
        let err = each(b, max, max_file, &mut |name, size, read| {
            seen.push((name.to_string(), size, read()));
        });
        (seen, err)
    }

    #[test]
    fn archives_of_each_method() {
        let Some(dir) = tree("m") else {
            eprintln!("7z missing: skipped");
            return;
        };
        let a = bytes(100_000, 1);
        let m = bytes(20_000, 2);
        let cases: [(&str, &[&str]); 7] = [
            ("default.7z", &[]),
            ("lzma.7z", &["-m0=lzma"]),
            ("bzip2.7z", &["-m0=bzip2"]),
            ("deflate.7z", &["-m0=deflate"]),
            ("copy.7z", &["-m0=copy"]),
            ("nonsolid.7z", &["-ms=off"]),
            ("plainhdr.7z", &["-mhc=off", "-m0=copy"]),
        ];
        for (name, opts) in cases {
            let b = make(&dir, name, opts);
            assert!(is_7z(&b));
            let (seen, err) = read_all(&b, 100, 1 << 20);
            assert_eq!(err, None, "{name}");
            let got: Vec<(&str, u64, bool)> = seen
                .iter()
                .map(|(n, s, r)| {
                    let want: &[u8] = if n == "a.bin" { &a } else { &m };
                    (n.as_str(), *s, r.as_deref() == Ok(want))
                })
                .collect();
            assert_eq!(
                got,
                [
                    ("a.bin", 100_000, true),
                    ("sub/dir/model.onnx", 20_000, true)
                ],
                "{name}"
            );
            // Limits: one file only; a per-file cap between the two sizes.
            let (seen, err) = read_all(&b, 1, 1 << 20);
            assert_eq!(seen.len(), 1);
            assert!(err.unwrap().contains("more than 1"));
            let (seen, _) = read_all(&b, 100, 50_000);
            assert!(seen[0].2.is_err() && seen[0].1 == 100_000);
            if name == "nonsolid.7z" {
                assert_eq!(seen[1].2.as_deref(), Ok(&m[..]));
            }
            // Unread files are skipped over in solid blocks.
            let mut names = Vec::new();
            let err = each(&b, 100, 1 << 20, &mut |n, _, read| {
                if n.ends_with(".onnx") {
                    assert_eq!(read().as_deref(), Ok(&m[..]));
                }
                names.push(n.to_string());
            });
            assert_eq!(err, None);
            assert_eq!(names.len(), 2);
        }
        let enc = make(&dir, "enc.7z", &["-pSECRET", "-mhe=off"]);
        let (seen, err) = read_all(&enc, 100, 1 << 20);
        assert!(seen.is_empty());
        assert!(err.unwrap().contains("encrypted"));
        let enc = make(&dir, "enchdr.7z", &["-pSECRET", "-mhe=on"]);
        let (seen, err) = read_all(&enc, 100, 1 << 20);
        assert!(seen.is_empty());
        assert!(err.unwrap().contains("encrypted"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hostile_inputs() {
        let Some(dir) = tree("h") else {
            eprintln!("7z missing: skipped");
            return;
        };
        let t0 = std::time::Instant::now();
        for (name, opts) in [("h1.7z", &[][..]), ("h2.7z", &["-ms=off", "-mhc=off"][..])] {
            let b = make(&dir, name, opts);
            for n in (0..b.len()).step_by(31) {
                let _ = read_all(&b[..n], 100, 1 << 20);
            }
            let mut s = 99u64;
            for _ in 0..1000 {
                let mut g = b.clone();
                for _ in 0..1 + rng(&mut s) % 3 {
                    // Mostly in the headers, where the interesting damage is.
                    let bit = if rng(&mut s) % 2 == 0 {
                        (rng(&mut s) % (g.len() as u64 * 8)) as usize
                    } else {
                        let tail = (g.len().min(400) * 8) as u64;
                        g.len() * 8 - 1 - (rng(&mut s) % tail) as usize
                    };
                    g[bit / 8] ^= 1 << (bit % 8);
                }
                let _ = read_all(&g, 100, 1 << 20);
                // Also with the signature header's CRCs made right again.
                fix_crcs(&mut g);
                let _ = read_all(&g, 100, 1 << 20);
            }
        }
        assert!(read_all(b"7z\xBC\xAF\x27\x1C", 10, 10).1.is_some());
        assert!(t0.elapsed().as_secs() < 60, "{:?}", t0.elapsed());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Recomputes the end header CRC and the start header CRC, when the offsets allow.
    fn fix_crcs(g: &mut [u8]) {
        let off = u64::from_le_bytes(g[12..20].try_into().unwrap());
        let size = u64::from_le_bytes(g[20..28].try_into().unwrap());
        if let Some(h) = 32u64
            .checked_add(off)
            .and_then(|s| Some((s, s.checked_add(size)?)))
            .and_then(|(s, e)| g.get(s as usize..e as usize))
        {
            let c = crc32fast::hash(h);
            g[28..32].copy_from_slice(&c.to_le_bytes());
        }
        let c = crc32fast::hash(&g[12..32]);
        g[8..12].copy_from_slice(&c.to_le_bytes());
    }

    /// A 7z number, in its shortest form only for values below 0x80 or as 9 bytes.
    fn num(v: u64) -> Vec<u8> {
        if v < 0x80 {
            vec![v as u8]
        } else {
            let mut x = vec![0xFF];
            x.extend_from_slice(&v.to_le_bytes());
            x
        }
    }

    /// A hand-made archive: one COPY folder of `packed` bytes declared to unpack to `size`.
    fn handmade(packed: &[u8], size: u64, num_files: u64) -> Vec<u8> {
        let mut h = vec![K_HEADER, K_MAIN_STREAMS_INFO, K_PACK_INFO, 0];
        h.extend(num(1));
        h.push(K_SIZE);
        h.extend(num(packed.len() as u64));
        h.extend([
            K_END,
            K_UNPACK_INFO,
            K_FOLDER,
            1,
            0,
            1,
            0x01,
            0x00,
            K_CODERS_UNPACK_SIZE,
        ]);
        h.extend(num(size));
        h.extend([K_END, K_SUBSTREAMS_INFO, K_END, K_END, K_FILES_INFO]);
        h.extend(num(num_files));
        h.extend([0x11, 9, 0]);
        h.extend("big\0".encode_utf16().flat_map(u16::to_le_bytes));
        h.extend([K_END, K_END]);
        let mut b = SIGNATURE.to_vec();
        b.extend([0, 4, 0, 0, 0, 0]);
        b.extend((packed.len() as u64).to_le_bytes());
        b.extend((h.len() as u64).to_le_bytes());
        b.extend(crc32fast::hash(&h).to_le_bytes());
        b.extend(packed);
        b.extend(&h);
        fix_crcs(&mut b);
        b
    }

    #[test]
    fn absurd_sizes() {
        let ok = handmade(b"0123456789", 10, 1);
        let (seen, err) = read_all(&ok, 10, 100);
        assert_eq!(err, None);
        assert_eq!(seen, [("big".to_string(), 10, Ok(b"0123456789".to_vec()))]);
        let tb = handmade(b"0123456789", 1 << 40, 1);
        let (seen, err) = read_all(&tb, 10, 1 << 30);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].1, 1 << 40);
        assert!(seen[0].2.as_ref().unwrap_err().contains("over the limit"));
        assert_eq!(err, None);
        let (seen, err) = read_all(&tb, 10, u64::MAX);
        assert!(seen[0].2.is_err() && err.is_some());
        let many = handmade(b"0123456789", 10, 1 << 40);
        let (seen, err) = read_all(&many, 10, 100);
        assert!(seen.is_empty() && err.is_some());
    }
}
