//! Carving: find models and nested images inside raw firmware blobs by their signatures, in one
//! pass (one Aho-Corasick automaton over the bytes), each candidate checked against its format's
//! header before it counts. Where a format states its own extent (ONNX fields, a TFLite buffer
//! table, a zip's end-of-central-directory record, a squashfs superblock's `bytes_used`) the
//! region is exact and signatures inside it are skipped, as for a uImage (its header's data
//! size); gzip, xz, zstd and bzip2 streams and CPIO archives run to the end of the blob (their
//! decoders stop at their own end, so bytes that look like another signature inside the
//! compressed data cannot cut them short); anything else runs to the next candidate.

use aho_corasick::AhoCorasick;
use std::sync::OnceLock;

/// A region of a blob that starts like a model or an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Start offset.
    pub offset: usize,
    /// End offset (exclusive).
    pub end: usize,
    /// Extension naming the candidate format (`onnx`, `tflite`, `gz`...).
    pub ext: &'static str,
}

/// A carving signature: (pattern, extension, bytes before the pattern where the region starts).
type Sig = (Vec<u8>, &'static str, usize);

/// The signatures, and one automaton over them. ONNX models start with `ir_version` (field 1,
/// varint 3..=10) followed by field 2 (`producer_name`).
fn carver() -> Option<&'static (Vec<Sig>, AhoCorasick)> {
    static C: OnceLock<Option<(Vec<Sig>, AhoCorasick)>> = OnceLock::new();
    C.get_or_init(|| {
        let mut sigs: Vec<Sig> = vec![
            (b"TFL3".to_vec(), "tflite", 4),
            (b"PK\x03\x04".to_vec(), "zip", 0),
            (b"\x1f\x8b\x08".to_vec(), "gz", 0),
            (b"hsqs".to_vec(), "squashfs", 0),
            (b"\x89HDF\r\n\x1a\n".to_vec(), "h5", 0),
            (b"\xfd7zXZ\x00".to_vec(), "xz", 0),
            (b"\x28\xb5\x2f\xfd".to_vec(), "zst", 0),
            // bzip2: `BZh` and a block size digit, then the first block's magic.
            (b"1AY&SY".to_vec(), "bz2", 4),
            (b"\x27\x05\x19\x56".to_vec(), "uimage", 0),
            (b"070701".to_vec(), "cpio", 0),
            // JFFS2: the first node (a clean marker, a directory entry or an inode), either
            // byte order.
            (b"\x85\x19\x03\x20".to_vec(), "jffs2", 0),
            (b"\x85\x19\x01\xe0".to_vec(), "jffs2", 0),
            (b"\x85\x19\x02\xe0".to_vec(), "jffs2", 0),
            (b"\x19\x85\x20\x03".to_vec(), "jffs2", 0),
            (b"\x19\x85\xe0\x01".to_vec(), "jffs2", 0),
            (b"\x19\x85\xe0\x02".to_vec(), "jffs2", 0),
            // FIT: a device tree blob (checked for `/images`).
            (b"\xd0\x0d\xfe\xed".to_vec(), "itb", 0),
            // ext2/3/4: the superblock's magic, state "clean" and an error policy (continue,
            // read-only or panic), 1080 bytes into the image.
            (b"\x53\xef\x01\x00\x01\x00".to_vec(), "ext4", 1080),
            (b"\x53\xef\x01\x00\x02\x00".to_vec(), "ext4", 1080),
            (b"\x53\xef\x01\x00\x03\x00".to_vec(), "ext4", 1080),
            // 7z: the signature and format version 0.x.
            (b"7z\xbc\xaf\x27\x1c\x00".to_vec(), "7z", 0),
            // UBI: the first erase block's erase-counter header, version 1.
            (b"UBI#\x01".to_vec(), "ubi", 0),
        ];
        sigs.extend((3u8..=10).map(|ir| (vec![0x08, ir, 0x12], "onnx", 0)));
        let ac = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(sigs.iter().map(|s| &s.0))
            .ok()?;
        Some((sigs, ac))
    })
    .as_ref()
}

/// Formats whose decoder finds their own end (compressed streams, CPIO's trailer): their
/// region runs to the end of the blob, so a signature inside their data cannot cut them short.
fn to_end(ext: &str) -> bool {
    matches!(ext, "gz" | "xz" | "zst" | "bz2" | "cpio")
}

/// Whether the candidate at `start` really begins its format.
fn plausible(b: &[u8], start: usize, ext: &str) -> bool {
    match ext {
        // FlatBuffer root offset: small, 4-aligned, inside the data.
        "tflite" => b
            .get(start..start + 4)
            .map(|r| u32::from_le_bytes([r[0], r[1], r[2], r[3]]) as usize)
            .is_some_and(|root| {
                root >= 8 && root % 4 == 0 && root < 4096 && start + root < b.len()
            }),
        // ONNX: ir_version, then a short printable producer name, then more model fields.
        "onnx" => {
            let Some(&len) = b.get(start + 3) else {
                return false;
            };
            let len = usize::from(len);
            let Some(name) = b.get(start + 4..start + 4 + len) else {
                return false;
            };
            (2..=40).contains(&len)
                && name
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
                && matches!(
                    b.get(start + 4 + len),
                    Some(0x1a | 0x22 | 0x28 | 0x32 | 0x3a)
                )
        }
        "zip" => b
            .get(start + 26..start + 28)
            .is_some_and(|n| u16::from_le_bytes([n[0], n[1]]) < 1024),
        "squashfs" => b.get(start + 28..start + 30).is_some_and(|v| v == [4, 0]),
        "bz2" => b
            .get(start..start + 4)
            .is_some_and(|h| h.starts_with(b"BZh") && (b'1'..=b'9').contains(&h[3])),
        // Stream flags: a reserved zero byte, then a check type of 0..=15.
        "xz" => b
            .get(start + 6..start + 8)
            .is_some_and(|f| f[0] == 0 && f[1] < 16),
        // Frame header descriptor: the reserved bit clear.
        "zst" => b.get(start + 4).is_some_and(|d| d & 0x08 == 0),
        "uimage" => uimage_end(b, start).is_some(),
        "jffs2" => start % 4 == 0,
        // Partitions start on 512-byte boundaries at least; the superblock must be sane.
        "ext4" => start % 512 == 0 && ext4_end(b, start).is_some(),
        // Erase blocks are aligned on flash pages; the header's CRC must hold.
        "ubi" => start % 512 == 0 && b.get(start..).is_some_and(super::ubi::is_ubi),
        // A newc header is 110 ASCII bytes: the magic, then thirteen 8-digit hex fields.
        "cpio" => b
            .get(start + 6..start + 110)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
        _ => true,
    }
}

/// Where an ext2/3/4 image starting at `start` ends: its block count times its block size
/// (superblock at 1024: `s_blocks_count_lo` at +4, `s_log_block_size` at +24, and with the
/// 64-bit feature `s_blocks_count_hi` at +0x150), if that fits in the blob.
fn ext4_end(b: &[u8], start: usize) -> Option<usize> {
    use crate::decode::bytes::le32;
    let sb = b.get(start.checked_add(1024)?..)?;
    let log = le32(sb, 24)?;
    if log > 6 || le32(sb, 4)? == 0 {
        return None;
    }
    let incompat = le32(sb, 0x60)?;
    let hi = if incompat & 0x80 != 0 {
        u64::from(le32(sb, 0x150)?)
    } else {
        0
    };
    let blocks = u64::from(le32(sb, 4)?) | hi << 32;
    let len = usize::try_from(blocks.checked_mul(1024u64 << log)?).ok()?;
    let end = start.checked_add(len)?;
    (end <= b.len()).then_some(end)
}

/// Where a zip starting at `start` ends: after the first end-of-central-directory record whose
/// central directory lies right before it (APPNOTE.TXT §4.3.16), with its comment.
fn zip_end(b: &[u8], start: usize) -> Option<usize> {
    let rest = b.get(start..)?;
    let finder = memchr::memmem::Finder::new(b"PK\x05\x06");
    for at in finder.find_iter(rest).take(64) {
        let rec = rest.get(at..at + 22)?;
        let cd_size = u32::from_le_bytes([rec[12], rec[13], rec[14], rec[15]]) as usize;
        let cd_offset = u32::from_le_bytes([rec[16], rec[17], rec[18], rec[19]]) as usize;
        let comment = usize::from(u16::from_le_bytes([rec[20], rec[21]]));
        if cd_offset.checked_add(cd_size) == Some(at) {
            let end = start
                .checked_add(at)?
                .checked_add(22)?
                .checked_add(comment)?;
            return (end <= b.len()).then_some(end);
        }
    }
    None
}

/// Where a U-Boot legacy image starting at `start` ends: its 64-byte header, then the data
/// size the header states (big-endian, offset 12), inside the blob.
fn uimage_end(b: &[u8], start: usize) -> Option<usize> {
    let size: [u8; 4] = b.get(start + 12..start + 16)?.try_into().ok()?;
    let end = start
        .checked_add(64)?
        .checked_add(usize::try_from(u32::from_be_bytes(size)).ok()?)?;
    (end <= b.len() && b.get(start + 31).is_some_and(|c| *c <= 6)).then_some(end)
}

/// Where a squashfs image starting at `start` ends: its superblock's `bytes_used` (offset 40,
/// little-endian u64).
fn squashfs_end(b: &[u8], start: usize) -> Option<usize> {
    let used: [u8; 8] = b.get(start + 40..start + 48)?.try_into().ok()?;
    let end = start.checked_add(usize::try_from(u64::from_le_bytes(used)).ok()?)?;
    (end > start + 96 && end <= b.len()).then_some(end)
}

/// Where an ONNX `ModelProto` starting at `start` ends: top-level fields are walked until one
/// that a ModelProto cannot hold, so the region is exact and signatures inside it are skipped.
fn onnx_end(b: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    let varint = |pos: &mut usize| varint_at(b, pos);
    loop {
        let here = pos;
        let Some(tag) = varint(&mut pos) else {
            return Some(here);
        };
        let (field, wire) = (tag >> 3, tag & 7);
        if !matches!(field, 1..=8 | 14 | 20 | 25) {
            return Some(here);
        }
        match wire {
            0 => {
                varint(&mut pos)?;
            }
            2 => {
                let len = usize::try_from(varint(&mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|e| *e <= b.len())?;
                // Random bytes after a model can pass for one more field: its content must
                // hold too (strings are UTF-8, messages are well-formed protobuf).
                let body = &b[pos..end];
                let ok = match field {
                    2..=4 | 6 => std::str::from_utf8(body).is_ok(),
                    _ => well_formed(body),
                };
                if !ok {
                    return Some(here);
                }
                pos = end;
            }
            _ => return Some(here),
        }
        if pos >= b.len() {
            return Some(b.len());
        }
    }
}

/// A protobuf varint at `*pos`, advancing it.
fn varint_at(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Whether `m` parses as a protobuf message: every field a valid tag and wire type, every
/// length inside, ending exactly at the end. Nested messages are not descended into.
fn well_formed(m: &[u8]) -> bool {
    let mut pos = 0;
    let varint = |pos: &mut usize| varint_at(m, pos);
    while pos < m.len() {
        let Some(tag) = varint(&mut pos) else {
            return false;
        };
        if tag >> 3 == 0 {
            return false;
        }
        let next = match tag & 7 {
            0 => varint(&mut pos).map(|_| pos),
            1 => pos.checked_add(8),
            2 => varint(&mut pos)
                .and_then(|l| usize::try_from(l).ok())
                .and_then(|l| pos.checked_add(l)),
            5 => pos.checked_add(4),
            _ => None,
        };
        match next {
            Some(n) if n <= m.len() => pos = n,
            _ => return false,
        }
    }
    true
}

/// Where a TFLite FlatBuffer starting at `start` ends: the furthest byte its model table, its
/// top-level vectors and its buffers' data reach (buffers are written first, so they sit at
/// the end). Every offset is checked; `None` when the structure does not hold.
fn tflite_end(b: &[u8], start: usize) -> Option<usize> {
    let m = b.get(start..)?;
    let u32_at = |at: usize| -> Option<usize> {
        m.get(at..at.checked_add(4)?)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
    };
    let u16_at = |at: usize| -> Option<usize> {
        m.get(at..at.checked_add(2)?)
            .map(|s| usize::from(u16::from_le_bytes([s[0], s[1]])))
    };
    let u64_at = |at: usize| -> Option<u64> {
        let s = m.get(at..at.checked_add(8)?)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Some(u64::from_le_bytes(a))
    };
    // (table position, vtable position, vtable length)
    let table = |pos: usize| -> Option<(usize, usize, usize)> {
        let soff = u32_at(pos)? as i32 as i64;
        let vt = usize::try_from(pos as i64 - soff).ok()?;
        let len = u16_at(vt)?;
        (len >= 4 && vt + len <= m.len()).then_some((pos, vt, len))
    };
    let field = |t: (usize, usize, usize), i: usize| -> Option<usize> {
        let at = 4 + 2 * i;
        if at + 2 > t.2 {
            return None;
        }
        let off = u16_at(t.1 + at)?;
        (off != 0).then_some(t.0 + off)
    };
    let deref = |at: usize| -> Option<usize> {
        let p = at.checked_add(u32_at(at)?)?;
        (p < m.len()).then_some(p)
    };
    let model = table(u32_at(0)?)?;
    // Random bytes pass the header check now and then: a real model says schema version 3
    // and has one to a few subgraphs.
    if u32_at(field(model, 0)?)? != 3 {
        return None;
    }
    let subgraphs = u32_at(deref(field(model, 2)?)?)?;
    if !(1..=64).contains(&subgraphs) {
        return None;
    }
    let mut end = model.1 + model.2;
    end = end.max(model.0 + 4);
    // Top-level vectors: operator codes, subgraphs, description, buffers, metadata buffers,
    // metadata, signature defs (4-byte elements, bytes for the description).
    for (i, elem) in [(1, 4), (2, 4), (3, 1), (4, 4), (5, 4), (6, 4), (7, 4)] {
        let Some(at) = field(model, i) else { continue };
        let v = deref(at)?;
        let n = u32_at(v)?;
        end = end.max(v.checked_add(4)?.checked_add(n.checked_mul(elem)?)?);
        if i != 4 {
            continue;
        }
        for k in 0..n.min(1 << 20) {
            let buf = deref(v + 4 + 4 * k).and_then(table)?;
            end = end.max(buf.1 + buf.2);
            if let Some(d) = field(buf, 0).and_then(deref) {
                let len = u32_at(d)?;
                end = end.max(d.checked_add(4)?.checked_add(len)?);
            }
            // Models over 2 GB keep buffers outside the FlatBuffer, at offset/size.
            if let (Some(o), Some(sz)) = (field(buf, 1), field(buf, 2)) {
                let (o, sz) = (u64_at(o)?, u64_at(sz)?);
                if o > 1 {
                    end = end.max(usize::try_from(o.checked_add(sz)?).ok()?);
                }
            }
        }
    }
    (end <= m.len()).then_some(start + end)
}

/// Regions of `b` that look like embedded models or images. A file that itself starts with a
/// known signature is not carved (it is parsed as what it is).
pub fn regions(b: &[u8]) -> Vec<Region> {
    let Some((sigs, ac)) = carver() else {
        return vec![];
    };
    // Text is not carved (its words would be taken for magic numbers): no NUL byte and mostly
    // printable in the first 4 KiB. A dump that starts with erased flash (0xFF, no NUL) is not
    // text; a model whose first 4 KiB are names (printable, with NULs) is not either.
    let head = &b[..b.len().min(4096)];
    if b.len() < 64 || (!head.contains(&0) && crate::decode::models::mostly_text(b)) {
        return vec![];
    }
    let mut starts: Vec<(usize, &'static str)> = Vec::new();
    let mut known_end: Vec<(usize, usize)> = Vec::new();
    let mut skip_until = 0;
    // Leftmost, non-overlapping search keeps the automaton on its fast prefilter path.
    for m in ac.find_iter(b) {
        let Some(&(_, ext, back)) = sigs.get(m.pattern().as_usize()) else {
            continue;
        };
        let Some(start) = m.start().checked_sub(back) else {
            continue;
        };
        if start < skip_until || !plausible(b, start, ext) {
            continue;
        }
        if starts.last().is_some_and(|(s, _)| *s == start) {
            continue;
        }
        if ext == "onnx" {
            // An ONNX model's extent is known exactly: signatures inside it are its weights.
            match onnx_end(b, start) {
                Some(end) if end > start + 16 => {
                    known_end.push((start, end));
                    skip_until = end;
                }
                _ => continue,
            }
        } else if let Some(end) = match ext {
            "zip" => zip_end(b, start),
            "squashfs" => squashfs_end(b, start),
            "uimage" => uimage_end(b, start),
            "jffs2" => super::jffs2::extent(b, start).filter(|e| *e >= start + 12),
            "ubi" => super::ubi::ubi_extent(b, start),
            "7z" => super::sevenz::extent(b, start),
            "itb" => super::fit::extent(b, start),
            "ext4" => ext4_end(b, start),
            _ => None,
        } {
            known_end.push((start, end));
            skip_until = end;
        } else if to_end(ext) {
            known_end.push((start, b.len()));
        } else if ext == "tflite" {
            // A well-formed TFLite model's extent is known too, give or take trailing
            // metadata (MediaPipe appends a zip of associated files): signatures inside are
            // skipped, and the region still runs to the next candidate.
            if let Some(end) = tflite_end(b, start).filter(|e| *e > start + 16) {
                skip_until = end;
            }
        }
        starts.push((start, ext));
        if starts.len() > 10_000 {
            break;
        }
    }
    if starts.first().is_some_and(|(s, _)| *s == 0) {
        return vec![];
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, (start, ext)) in starts.iter().enumerate() {
        let next = starts.get(i + 1).map_or(b.len(), |n| n.0);
        let end = match known_end.iter().find(|(s, _)| s == start) {
            // A stream's decoder finds its own end.
            Some((_, e)) if to_end(ext) => *e,
            Some((_, e)) => (*e).min(next),
            None => next,
        };
        if end > *start {
            out.push(Region {
                offset: *start,
                end,
                ext,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_buried_tflite_and_skips_noise() {
        let mut blob = vec![0u8; 1000];
        blob[10] = b'T'; // noise
        let at = blob.len();
        let mut tfl = vec![16, 0, 0, 0, b'T', b'F', b'L', b'3'];
        tfl.extend(vec![1u8; 64]);
        blob.extend_from_slice(&tfl);
        blob.extend(vec![0u8; 100]);
        let r = regions(&blob);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].offset, r[0].ext), (at, "tflite"));
        assert!(regions(&tfl).is_empty() || regions(&tfl)[0].offset != 0);
    }

    #[test]
    fn a_signature_inside_compressed_data_does_not_cut_a_gzip_member_short() {
        use std::io::Write;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&[7u8; 4096]).unwrap();
        let mut gz = z.finish().unwrap();
        // Bytes that look like a gzip header in the middle of the member's data.
        let mid = gz.len() / 2;
        gz.splice(mid..mid, [0x1f, 0x8b, 0x08]);
        let mut blob = vec![0u8; 500];
        let at = blob.len();
        blob.extend_from_slice(&gz);
        blob.extend(vec![0u8; 300]);
        let r = regions(&blob);
        let first = r.iter().find(|x| x.offset == at).expect("the gzip member");
        assert_eq!(first.end, blob.len());
    }

    #[test]
    fn zip_and_squashfs_extents_are_exact() {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file("a.bin", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, &[0x1f, 0x8b, 0x08, 1, 2, 3]).unwrap();
        let zipped = z.finish().unwrap().into_inner();
        let mut blob = vec![0u8; 100];
        let at = blob.len();
        blob.extend_from_slice(&zipped);
        blob.extend(vec![9u8; 200]);
        let r = regions(&blob);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!((r[0].offset, r[0].end), (at, at + zipped.len()));
    }
}
