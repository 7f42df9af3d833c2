//! The 7z end header, walked and checked before `sevenz-rust2` sees it (`DOC/7zFormat.txt`):
//! property IDs, the byte reader, folders, pack, unpack and substream info.

use super::*;

pub(super) const K_END: u8 = 0x00;
pub(super) const K_HEADER: u8 = 0x01;
pub(super) const K_ARCHIVE_PROPERTIES: u8 = 0x02;
pub(super) const K_MAIN_STREAMS_INFO: u8 = 0x04;
pub(super) const K_FILES_INFO: u8 = 0x05;
pub(super) const K_PACK_INFO: u8 = 0x06;
pub(super) const K_UNPACK_INFO: u8 = 0x07;
pub(super) const K_SUBSTREAMS_INFO: u8 = 0x08;
pub(super) const K_SIZE: u8 = 0x09;
pub(super) const K_CRC: u8 = 0x0A;
pub(super) const K_FOLDER: u8 = 0x0B;
pub(super) const K_CODERS_UNPACK_SIZE: u8 = 0x0C;
pub(super) const K_NUM_UNPACK_STREAM: u8 = 0x0D;
pub(super) const K_EMPTY_STREAM: u8 = 0x0E;
pub(super) const K_ENCODED_HEADER: u8 = 0x17;

/// A cursor over header bytes.
pub(super) struct H<'a> {
    pub(super) s: &'a [u8],
    pub(super) i: usize,
}

impl<'a> H<'a> {
    pub(super) fn left(&self) -> u64 {
        self.s.len().saturating_sub(self.i) as u64
    }
    pub(super) fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| "7z: header truncated")?;
        let end = self.i.checked_add(n).ok_or("7z: header truncated")?;
        let v = self.s.get(self.i..end).ok_or("7z: header truncated")?;
        self.i = end;
        Ok(v)
    }
    pub(super) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    /// A 7z number: the first byte's leading one bits count the extra little-endian bytes.
    pub(super) fn num(&mut self) -> Result<u64, String> {
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
    pub(super) fn count(&mut self, min_bytes: u64) -> Result<u64, String> {
        let n = self.num()?;
        if n.saturating_mul(min_bytes) > self.left() {
            return Err(format!("7z: count {n} larger than the header"));
        }
        Ok(n)
    }
    pub(super) fn expect(&mut self, id: u8) -> Result<(), String> {
        let v = self.u8()?;
        if v != id {
            return Err(format!("7z: header property {v:#x} where {id:#x} expected"));
        }
        Ok(())
    }
    /// A digest list for `n` items: an all-defined byte or a bit vector, then 4 bytes each.
    pub(super) fn digests(&mut self, n: u64) -> Result<(), String> {
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
pub(super) struct Coder<'a> {
    pub(super) id: &'a [u8],
    pub(super) props: &'a [u8],
    pub(super) num_out: u64,
}

/// What the walk learnt about a folder.
pub(super) struct Folder<'a> {
    pub(super) coders: Vec<Coder<'a>>,
    /// Unpacked size of each coder output stream.
    pub(super) unpack: Vec<u64>,
    /// The final output: the one output stream not bound to another coder's input.
    pub(super) main: u64,
    pub(super) has_crc: bool,
}

/// What the walk learnt about a streams-info block.
#[derive(Default)]
pub(super) struct Streams<'a> {
    pub(super) pack_pos: u64,
    pub(super) pack_sizes: Vec<u64>,
    pub(super) folders: Vec<Folder<'a>>,
}

pub(super) fn pack_info(h: &mut H<'_>, st: &mut Streams<'_>) -> Result<(), String> {
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

pub(super) fn folder<'a>(h: &mut H<'a>) -> Result<Folder<'a>, String> {
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

pub(super) fn unpack_info<'a>(h: &mut H<'a>, st: &mut Streams<'a>) -> Result<(), String> {
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

pub(super) fn substreams_info(h: &mut H<'_>, st: &Streams<'_>) -> Result<u64, String> {
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
pub(super) fn streams_info<'a>(h: &mut H<'a>, st: &mut Streams<'a>) -> Result<u64, String> {
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
pub(super) fn check_streams(st: &Streams<'_>, archive_len: u64) -> Result<bool, String> {
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
pub(super) fn walk_header(hb: &[u8], archive_len: u64) -> Result<bool, String> {
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
