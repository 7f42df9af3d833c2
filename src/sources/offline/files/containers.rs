//! The containers firmware and packages ship in, beyond tar, zip, gzip and squashfs: the
//! compressed streams xz and LZMA (`liblzma`), bzip2 (`bzip2`), zstd (`ruzstd`) and LZ4 frames
//! (`lz4_flex`); `ar` archives (Debian `.deb`, OpenWrt `.ipk`; the `ar` crate); CPIO newc
//! archives (initramfs, RPM payloads; the `cpio` crate); U-Boot legacy images (uImage: the
//! 64-byte header of U-Boot's `include/image.h`, then the payload, compressed as the header
//! says); ext2/3/4 filesystem images (`ext4-view`); Android sparse images; and RPM packages
//! (their payload, a compressed CPIO archive).
//! All read from memory; every expansion is bounded by the caller's cap.

use std::io::Read;

/// What the first bytes say, for the containers of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// xz stream (`FD 37 7A 58 5A 00`).
    Xz,
    /// bzip2 stream (`BZh1`..`BZh9`, then the block magic `1AY&SY` or an empty stream's end).
    Bzip2,
    /// zstd frame (`28 B5 2F FD`).
    Zstd,
    /// LZ4 frame (`04 22 4D 18`).
    Lz4,
    /// `ar` archive (`!<arch>\n`).
    Ar,
    /// CPIO newc archive (`070701` or `070702`).
    Cpio,
    /// U-Boot legacy image (`27 05 19 56`).
    UImage,
    /// A bare LZMA stream (`.lzma`, LZMA-alone): no magic, known only from a uImage header.
    Lzma,
    /// ext2/3/4 filesystem image (superblock magic `0xEF53` at byte 1080).
    Ext4,
    /// Android sparse image (`0xED26FF3A`, AOSP libsparse `sparse_format.h`).
    Sparse,
    /// RPM package (lead magic `ED AB EE DB`).
    Rpm,
}

/// Which of this module's containers `b` starts with.
pub fn kind(b: &[u8]) -> Option<Kind> {
    Some(match b {
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Kind::Xz,
        [b'B', b'Z', b'h', b'1'..=b'9', 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, ..] => Kind::Bzip2,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Kind::Zstd,
        [0x04, 0x22, 0x4d, 0x18, ..] => Kind::Lz4,
        _ if b.starts_with(b"!<arch>\n") => Kind::Ar,
        _ if b.starts_with(b"070701") || b.starts_with(b"070702") => Kind::Cpio,
        [0x27, 0x05, 0x19, 0x56, ..] if b.len() >= 64 => Kind::UImage,
        [0x3a, 0xff, 0x26, 0xed, 1, 0, ..] => Kind::Sparse,
        [0xed, 0xab, 0xee, 0xdb, ..] if b.len() >= 96 => Kind::Rpm,
        // The superblock at 1024: magic at +56, log2(block size) - 10 at +24 (0..=6).
        _ if b.get(1080..1082) == Some(&[0x53, 0xef])
            && b.get(1048).is_some_and(|l| *l <= 6)
            && b.get(1049..1052) == Some(&[0, 0, 0]) =>
        {
            Kind::Ext4
        }
        _ => return None,
    })
}

/// A decompressed stream: the bytes (at most `cap`), and the error that ended it early, if any
/// (the cap reached reads as an error too, with the bytes up to it).
pub fn inflate(kind: Kind, b: &[u8], cap: u64) -> (Vec<u8>, Option<String>) {
    let read = |r: &mut dyn Read| {
        let mut out = Vec::new();
        let e = r
            .take(cap)
            .read_to_end(&mut out)
            .err()
            .map(|e| e.to_string());
        (out, e)
    };
    match kind {
        // One stream: a carved stream is followed by unrelated bytes, not another stream.
        Kind::Xz => read(&mut liblzma::read::XzDecoder::new(b)),
        // LZMA-alone with a 256 MiB memory limit for its dictionary.
        Kind::Lzma => match liblzma::stream::Stream::new_lzma_decoder(256 << 20) {
            Ok(s) => read(&mut liblzma::read::XzDecoder::new_stream(b, s)),
            Err(e) => (Vec::new(), Some(e.to_string())),
        },
        Kind::Bzip2 => read(&mut bzip2::read::BzDecoder::new(b)),
        Kind::Zstd => match ruzstd::decoding::StreamingDecoder::new(b) {
            Ok(mut d) => read(&mut d),
            Err(e) => (Vec::new(), Some(e.to_string())),
        },
        Kind::Lz4 => read(&mut lz4_flex::frame::FrameDecoder::new(b)),
        Kind::Ar | Kind::Cpio | Kind::UImage | Kind::Ext4 | Kind::Sparse | Kind::Rpm => {
            (Vec::new(), Some("not a compressed stream".into()))
        }
    }
}

/// One member of an archive stored as is: its name and where its bytes are.
pub struct Member {
    /// Name as the archive gives it.
    pub name: String,
    /// Declared size in bytes.
    pub size: u64,
    /// Where its bytes are in the archive.
    pub range: std::ops::Range<usize>,
}

/// Each member of an `ar` archive (common, GNU and BSD variants), in order, handed to `each`
/// with its name, declared size and a reader of its bytes. Returns what was malformed, if
/// anything, after the members read before it.
pub fn ar_each(
    b: &[u8],
    max: usize,
    each: &mut dyn FnMut(&str, u64, &mut dyn Read),
) -> Option<String> {
    let mut archive = ar::Archive::new(b);
    for _ in 0..max {
        let mut entry = match archive.next_entry() {
            None => return None,
            Some(Ok(e)) => e,
            Some(Err(e)) => return Some(format!("ar: {e}")),
        };
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        let size = entry.header().size();
        each(&name, size, &mut entry);
    }
    Some(format!("ar: more than {max} members"))
}

/// The regular files of a CPIO newc archive, in order, up to the trailer.
pub fn cpio_members(b: &[u8], max: usize) -> (Vec<Member>, Option<String>) {
    let mut out = Vec::new();
    let mut cursor = std::io::Cursor::new(b);
    while out.len() < max {
        let mut reader = match cpio::NewcReader::new(cursor) {
            Ok(r) => r,
            Err(e) => return (out, Some(format!("cpio: {e}"))),
        };
        if reader.entry().is_trailer() {
            return (out, None);
        }
        let name = reader.entry().name().to_string();
        let size = u64::from(reader.entry().file_size());
        // File type bits of `mode` (S_IFREG = 0o100000).
        let regular = reader.entry().mode() & 0o170000 == 0o100000;
        let start = match reader.offset() {
            Ok(o) => usize::try_from(o).unwrap_or(usize::MAX),
            Err(e) => return (out, Some(format!("cpio: {e}"))),
        };
        let end = start.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
        if end > b.len() {
            return (out, Some(format!("cpio: {name} runs past the end")));
        }
        if regular && size > 0 {
            out.push(Member {
                name,
                size,
                range: start..end,
            });
        }
        cursor = match reader.skip() {
            Ok(c) => c,
            Err(e) => return (out, Some(format!("cpio: {e}"))),
        };
    }
    (out, Some(format!("cpio: more than {max} members")))
}

/// Reads one file of a filesystem image, whole.
pub type ReadFile<'a> = &'a dyn Fn() -> Result<Vec<u8>, String>;

/// Each regular file of an ext2/3/4 image, in directory order, handed to `each` with its path
/// and size and a way to read it; symbolic links are not followed. At most `max` files; returns
/// what was malformed, if anything.
pub fn ext4_each(
    image: Vec<u8>,
    max: usize,
    each: &mut dyn FnMut(&str, u64, ReadFile<'_>),
) -> Option<String> {
    let fs = match ext4_view::Ext4::load(Box::new(image)) {
        Ok(fs) => fs,
        Err(e) => return Some(format!("ext4: {e}")),
    };
    let mut dirs = vec![ext4_view::PathBuf::new("/")];
    let mut files = 0usize;
    while let Some(dir) = dirs.pop() {
        let entries = match fs.read_dir(&dir) {
            Ok(r) => r,
            Err(e) => return Some(format!("ext4: {}: {e}", dir.display())),
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => return Some(format!("ext4: {}: {e}", dir.display())),
            };
            let name = entry.file_name();
            if name.as_ref() == b"." || name.as_ref() == b".." {
                continue;
            }
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if dirs.len() < max {
                    dirs.push(path);
                }
            } else if kind.is_regular_file() {
                files += 1;
                if files > max {
                    return Some(format!("ext4: more than {max} files"));
                }
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                let shown = path.display().to_string();
                let read = || fs.read(&path).map_err(|e| format!("ext4: {e}"));
                each(&shown, size, &read);
            }
        }
    }
    None
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Expand an Android sparse image (AOSP libsparse `sparse_format.h`: a 28-byte file header
/// with block size and block count, then chunks of raw data, a 4-byte fill value, "don't
/// care" or CRC, each with a 12-byte header) into the raw image, if it holds at most `cap`
/// bytes. Don't-care blocks are zeros.
pub fn sparse_expand(b: &[u8], cap: u64) -> Result<Vec<u8>, String> {
    let bad = |what: &str| format!("sparse image: {what}");
    let file_hdr = usize::from(le16(b, 8).ok_or_else(|| bad("short header"))?);
    let chunk_hdr = usize::from(le16(b, 10).ok_or_else(|| bad("short header"))?);
    let block = u64::from(le32(b, 12).ok_or_else(|| bad("short header"))?);
    let blocks = u64::from(le32(b, 16).ok_or_else(|| bad("short header"))?);
    let chunks = le32(b, 20).ok_or_else(|| bad("short header"))?;
    if file_hdr < 28 || chunk_hdr < 12 || block == 0 || block % 4 != 0 {
        return Err(bad("implausible header"));
    }
    let total = block
        .checked_mul(blocks)
        .filter(|t| *t <= cap)
        .ok_or_else(|| bad(&format!("{blocks} blocks of {block} bytes: over the cap")))?;
    let mut out = Vec::with_capacity(usize::try_from(total).map_err(|_| bad("too large"))?);
    let mut at = file_hdr;
    for _ in 0..chunks {
        let kind = le16(b, at).ok_or_else(|| bad("chunk header past the end"))?;
        let count = u64::from(le32(b, at + 4).ok_or_else(|| bad("chunk header past the end"))?);
        let size = le32(b, at + 8).ok_or_else(|| bad("chunk header past the end"))? as usize;
        let data = b
            .get(at + chunk_hdr..at.saturating_add(size))
            .ok_or_else(|| bad("chunk past the end"))?;
        let len = count
            .checked_mul(block)
            .filter(|l| out.len() as u64 + l <= total)
            .ok_or_else(|| bad("chunks exceed the stated size"))? as usize;
        match kind {
            0xCAC1 => out.extend_from_slice(data.get(..len).ok_or_else(|| bad("short raw chunk"))?),
            0xCAC2 => {
                let fill: [u8; 4] = data
                    .get(..4)
                    .and_then(|f| f.try_into().ok())
                    .ok_or_else(|| bad("short fill chunk"))?;
                out.extend(fill.iter().cycle().take(len));
            }
            0xCAC3 => out.resize(out.len() + len, 0),
            0xCAC4 => {}
            other => return Err(bad(&format!("chunk type {other:#x}"))),
        }
        at = at.saturating_add(size.max(chunk_hdr));
    }
    Ok(out)
}

/// The payload of an RPM package (its lead, signature header padded to 8 bytes, and main
/// header skipped, per the RPM file format): a compressed CPIO archive.
pub fn rpm_payload(b: &[u8]) -> Result<&[u8], String> {
    let header_end = |at: usize| -> Result<usize, String> {
        if b.get(at..at + 4) != Some(&[0x8e, 0xad, 0xe8, 0x01]) {
            return Err(format!("rpm: no header magic at {at}"));
        }
        let entries = be32(b, at + 8).ok_or("rpm: short header")? as usize;
        let data = be32(b, at + 12).ok_or("rpm: short header")? as usize;
        entries
            .checked_mul(16)
            .and_then(|i| i.checked_add(16)?.checked_add(data)?.checked_add(at))
            .filter(|e| *e <= b.len())
            .ok_or_else(|| "rpm: header runs past the end".to_string())
    };
    let sig_end = header_end(96)?;
    let main = sig_end.checked_add(7).ok_or("rpm: too large")? / 8 * 8;
    let payload = header_end(main)?;
    Ok(&b[payload..])
}

/// A U-Boot legacy image: (image name, compression byte, payload), from the header of
/// `include/image.h` (big-endian: magic, header CRC, time, data size at 12, ..., comp at 31,
/// name at 32..64).
pub fn uimage(b: &[u8]) -> Result<(String, u8, &[u8]), String> {
    let size = u32::from_be_bytes(
        b.get(12..16)
            .and_then(|s| s.try_into().ok())
            .ok_or("uImage: header of fewer than 64 bytes")?,
    ) as usize;
    let comp = *b.get(31).ok_or("uImage: header of fewer than 64 bytes")?;
    let name: String = b
        .get(32..64)
        .ok_or("uImage: header of fewer than 64 bytes")?
        .iter()
        .take_while(|c| **c != 0)
        .map(|&c| {
            if c.is_ascii_graphic() {
                char::from(c)
            } else {
                '_'
            }
        })
        .collect();
    let payload = b
        .get(64..64usize.saturating_add(size))
        .ok_or_else(|| format!("uImage: data of {size} bytes, image of {}", b.len()))?;
    Ok((name, comp, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_hostile_headers() {
        assert_eq!(kind(b"!<arch>\ndebian-binary"), Some(Kind::Ar));
        assert_eq!(kind(b"070701000000"), Some(Kind::Cpio));
        assert_eq!(kind(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]), Some(Kind::Xz));
        assert_eq!(kind(b"BZh91AY&SY"), Some(Kind::Bzip2));
        assert_eq!(kind(b"BZh9 not bzip2"), None);
        assert_eq!(kind(&[0x27, 0x05, 0x19, 0x56]), None);
        let mut u = vec![0x27, 0x05, 0x19, 0x56];
        u.resize(64, 0);
        u[12..16].copy_from_slice(&1000u32.to_be_bytes());
        assert!(uimage(&u).is_err());
        assert!(ar_each(b"!<arch>\nshort", 10, &mut |_, _, _| {}).is_some());
        assert!(cpio_members(b"070701garbage", 10).1.is_some());
        // Sparse images: a stated size over the cap, chunks past the end or beyond the size.
        let mut sp = vec![0x3a, 0xff, 0x26, 0xed, 1, 0, 0, 0, 28, 0, 12, 0];
        sp.extend_from_slice(&4096u32.to_le_bytes());
        sp.extend_from_slice(&u32::MAX.to_le_bytes());
        sp.extend_from_slice(&1u32.to_le_bytes());
        sp.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(kind(&sp), Some(Kind::Sparse));
        assert!(sparse_expand(&sp, 1 << 30).is_err());
        sp[16..20].copy_from_slice(&2u32.to_le_bytes());
        sp.extend_from_slice(&[0xc2, 0xca, 0, 0, 3, 0, 0, 0, 16, 0, 0, 0, 1, 2, 3, 4]);
        assert!(
            sparse_expand(&sp, 1 << 30).is_err(),
            "3 blocks in a 2-block image"
        );
        sp[16..20].copy_from_slice(&3u32.to_le_bytes());
        let raw = sparse_expand(&sp, 1 << 30).unwrap();
        assert_eq!(raw.len(), 3 * 4096);
        assert_eq!(&raw[..8], &[1, 2, 3, 4, 1, 2, 3, 4]);
        let mut rpm = vec![0xed, 0xab, 0xee, 0xdb];
        rpm.resize(96, 0);
        rpm.extend_from_slice(&[0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);
        rpm.extend_from_slice(&u32::MAX.to_be_bytes());
        rpm.extend_from_slice(&0u32.to_be_bytes());
        assert!(rpm_payload(&rpm).is_err());
        for k in [Kind::Xz, Kind::Bzip2, Kind::Zstd, Kind::Lz4, Kind::Lzma] {
            let (out, e) = inflate(k, b"\xfd7zXZ\0garbage garbage garbage", 1 << 20);
            assert!(out.len() < 64 && e.is_some(), "{k:?}");
        }
    }
}
