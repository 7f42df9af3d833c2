//! The containers firmware and packages ship in, beyond tar, zip, gzip and squashfs: the
//! compressed streams xz and LZMA (`liblzma`), bzip2 (`bzip2`), zstd (`ruzstd`) and LZ4 frames
//! (`lz4_flex`); `ar` archives (Debian `.deb`, OpenWrt `.ipk`; the `ar` crate); CPIO newc
//! archives (initramfs, RPM payloads; the `cpio` crate); U-Boot legacy images (uImage: the
//! 64-byte header of U-Boot's `include/image.h`, then the payload, compressed as the header
//! says); ext2/3/4 filesystem images (`ext4-view`); Android sparse images; RPM packages
//! (their payload, a compressed CPIO archive); cramfs and romfs images, and odc CPIO archives
//! (read here: no maintained crate reads them).
//! All read from memory; every expansion is bounded by the caller's cap.

use crate::decode::bytes::{be32, le16, le32};
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
    /// cramfs image (little-endian magic `0x28CD3D45`).
    Cramfs,
    /// romfs image (`-rom1fs-`).
    Romfs,
    /// JFFS2 flash image (node magic `0x1985`, either byte order; see [`super::jffs2`]).
    Jffs2,
    /// U-Boot FIT image (a device tree with `/images`; see [`super::fit`]).
    Fit,
    /// lzop file (`89 4C 5A 4F 00 0D 0A 1A 0A`; see [`super::lzop`]).
    Lzop,
    /// 7z archive (`37 7A BC AF 27 1C`; see [`super::sevenz`]).
    SevenZ,
    /// UBI image (erase-counter header `UBI#`; see [`super::ubi`]).
    Ubi,
    /// UBIFS volume (a superblock node first; see [`super::ubifs`]).
    Ubifs,
}

/// Which of this module's containers `b` starts with.
pub fn kind(b: &[u8]) -> Option<Kind> {
    Some(match b {
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Kind::Xz,
        [b'B', b'Z', b'h', b'1'..=b'9', 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, ..] => Kind::Bzip2,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Kind::Zstd,
        [0x04, 0x22, 0x4d, 0x18, ..] => Kind::Lz4,
        _ if b.starts_with(b"!<arch>\n") => Kind::Ar,
        _ if b.starts_with(b"070701") || b.starts_with(b"070702") || b.starts_with(b"070707") => {
            Kind::Cpio
        }
        _ if b.starts_with(b"-rom1fs-") && b.len() >= 32 => Kind::Romfs,
        _ if super::jffs2::is_jffs2(b) => Kind::Jffs2,
        _ if super::fit::is_fit(b) => Kind::Fit,
        _ if super::lzop::is_lzop(b) => Kind::Lzop,
        _ if super::sevenz::is_7z(b) => Kind::SevenZ,
        _ if super::ubi::is_ubi(b) => Kind::Ubi,
        _ if super::ubifs::is_ubifs(b) => Kind::Ubifs,
        [0x27, 0x05, 0x19, 0x56, ..] if b.len() >= 64 => Kind::UImage,
        [0x3a, 0xff, 0x26, 0xed, 1, 0, ..] => Kind::Sparse,
        [0xed, 0xab, 0xee, 0xdb, ..] if b.len() >= 96 => Kind::Rpm,
        [0x45, 0x3d, 0xcd, 0x28, ..] if b.get(16..32) == Some(b"Compressed ROMFS") => Kind::Cramfs,
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
        Kind::Lzop => super::lzop::decompress(b, cap),
        Kind::Ar
        | Kind::Cpio
        | Kind::UImage
        | Kind::Ext4
        | Kind::Sparse
        | Kind::Rpm
        | Kind::Cramfs
        | Kind::Romfs
        | Kind::Jffs2
        | Kind::Fit
        | Kind::Ubi
        | Kind::Ubifs
        | Kind::SevenZ => (Vec::new(), Some("not a compressed stream".into())),
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
    if b.starts_with(b"070707") {
        return cpio_odc_members(b, max);
    }
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

pub use super::jffs2::ReadFile;

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

/// The regular files of a portable ASCII (odc) CPIO archive: 76-byte headers of octal fields
/// (`magic dev ino mode uid gid nlink rdev mtime namesize filesize`), the name, the data, no
/// padding (POSIX.1 `cpio` format, as `cpio -H odc` writes it).
fn cpio_odc_members(b: &[u8], max: usize) -> (Vec<Member>, Option<String>) {
    let mut out = Vec::new();
    let mut at = 0usize;
    let octal = |at: usize, len: usize| -> Option<usize> {
        let s = std::str::from_utf8(b.get(at..at + len)?).ok()?;
        usize::from_str_radix(s, 8).ok()
    };
    while out.len() < max {
        if b.get(at..at + 6) != Some(b"070707") {
            return (out, Some(format!("cpio: no odc header at {at}")));
        }
        let (Some(mode), Some(namesize), Some(size)) =
            (octal(at + 18, 6), octal(at + 59, 6), octal(at + 65, 11))
        else {
            return (out, Some(format!("cpio: bad odc header at {at}")));
        };
        let name_at = at + 76;
        let data_at = name_at.saturating_add(namesize);
        let end = data_at.saturating_add(size);
        let Some(raw) = b.get(name_at..data_at) else {
            return (out, Some("cpio: name past the end".into()));
        };
        let name = String::from_utf8_lossy(raw)
            .trim_end_matches('\0')
            .to_string();
        if name == "TRAILER!!!" {
            return (out, None);
        }
        if end > b.len() {
            return (out, Some(format!("cpio: {name} runs past the end")));
        }
        if mode as u32 & S_IFMT == S_IFREG && size > 0 {
            out.push(Member {
                name,
                size: size as u64,
                range: data_at..end,
            });
        }
        at = end;
    }
    (out, Some(format!("cpio: more than {max} members")))
}

/// Each regular file of a romfs image (Linux `Documentation/filesystems/romfs.rst`: big-endian
/// 16-byte-aligned file headers — next header and type, spec.info, size, checksum — then the
/// name and the data, each padded to 16 bytes), with its path and bytes. Returns what was
/// malformed, if anything.
pub fn romfs_each(b: &[u8], max: usize, each: &mut dyn FnMut(&str, &[u8])) -> Option<String> {
    let align = |n: usize| n.checked_add(15).map(|n| n & !15);
    let name_at = |at: usize| -> Option<(String, usize)> {
        let rest = b.get(at..)?;
        let len = rest.iter().position(|c| *c == 0)?;
        let name = String::from_utf8_lossy(&rest[..len])
            .chars()
            .map(|c| if c == '/' || c.is_control() { '_' } else { c })
            .collect();
        Some((name, align(at + len + 1)?))
    };
    let Some((_, first)) = name_at(16) else {
        return Some("romfs: no volume name".into());
    };
    let mut dirs = vec![(String::new(), first)];
    let mut seen = 0usize;
    while let Some((dir, mut at)) = dirs.pop() {
        while at != 0 {
            seen += 1;
            if seen > max {
                return Some(format!("romfs: more than {max} entries"));
            }
            let (Some(next), Some(info), Some(size)) =
                (be32(b, at), be32(b, at + 4), be32(b, at + 8))
            else {
                return Some(format!("romfs: file header at {at} past the end"));
            };
            let Some((name, data)) = name_at(at + 16) else {
                return Some(format!("romfs: name at {} past the end", at + 16));
            };
            let path = format!("{dir}/{name}");
            match next & 7 {
                // A directory's spec.info is its first entry ("." then ".."): later in the image.
                1 if name != "." && name != ".." && info as usize > at => {
                    dirs.push((path, info as usize));
                }
                2 => match b.get(data..data.saturating_add(size as usize)) {
                    Some(bytes) => each(&path, bytes),
                    None => return Some(format!("romfs: {path} runs past the end")),
                },
                _ => {}
            }
            let following = (next & !15) as usize;
            // Headers only move forward: a pointer back would loop.
            if following != 0 && following <= at {
                return Some(format!("romfs: header at {at} points back to {following}"));
            }
            at = following;
        }
    }
    None
}

/// cramfs: inode mode bits (`<linux/stat.h>`), block size, and the flag of extended block
/// pointers (not read here).
const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const CRAMFS_BLOCK: usize = 4096;
const CRAMFS_EXT_BLOCK_POINTERS: u32 = 0x800;

/// One cramfs inode (`<linux/cramfs_fs.h>`: three little-endian words of bitfields): mode,
/// size, and the byte offset of its data (a directory's entries, a file's block pointers).
fn cramfs_inode(b: &[u8], at: usize) -> Option<(u32, usize, usize, usize)> {
    let (w0, w1, w2) = (le32(b, at)?, le32(b, at + 4)?, le32(b, at + 8)?);
    let mode = w0 & 0xffff;
    let size = (w1 & 0x00ff_ffff) as usize;
    let namelen = (w2 & 0x3f) as usize * 4;
    let offset = (w2 >> 6) as usize * 4;
    Some((mode, size, offset, namelen))
}

/// A cramfs file's bytes: `size` bytes in 4 KiB blocks, each zlib-compressed, after an array
/// of block end offsets at `offset`.
fn cramfs_file(b: &[u8], offset: usize, size: usize) -> Result<Vec<u8>, String> {
    let blocks = size.div_ceil(CRAMFS_BLOCK);
    let mut start = offset
        .checked_add(blocks * 4)
        .ok_or("cramfs: block table too large")?;
    let mut out = Vec::with_capacity(size);
    for i in 0..blocks {
        let end = le32(b, offset + i * 4).ok_or("cramfs: block table past the end")? as usize;
        let block = b
            .get(start..end)
            .ok_or_else(|| format!("cramfs: block {i} at {start}..{end} outside the image"))?;
        let want = (size - out.len()).min(CRAMFS_BLOCK);
        if !block.is_empty() {
            let mut d = flate2::read::ZlibDecoder::new(block).take(want as u64);
            d.read_to_end(&mut out)
                .map_err(|e| format!("cramfs: block {i}: {e}"))?;
        }
        // A hole (an empty block) reads as zeros.
        out.resize(out.len().max((i * CRAMFS_BLOCK + want).min(size)), 0);
        start = end;
    }
    Ok(out)
}

/// Each regular file of a little-endian cramfs image, with its path, size and a way to read
/// it. At most `max` files; returns what was malformed, if anything.
pub fn cramfs_each(
    b: &[u8],
    max: usize,
    each: &mut dyn FnMut(&str, u64, ReadFile<'_>),
) -> Option<String> {
    let Some(flags) = le32(b, 8) else {
        return Some("cramfs: short superblock".into());
    };
    if flags & CRAMFS_EXT_BLOCK_POINTERS != 0 {
        return Some("cramfs: extended block pointers are not read".into());
    }
    let Some((mode, size, offset, _)) = cramfs_inode(b, 64) else {
        return Some("cramfs: short superblock".into());
    };
    if mode & S_IFMT != S_IFDIR {
        return Some("cramfs: the root is not a directory".into());
    }
    let mut dirs = vec![(String::new(), offset, size)];
    let mut files = 0usize;
    let mut visited = 0usize;
    while let Some((dir, offset, size)) = dirs.pop() {
        let end = offset.saturating_add(size).min(b.len());
        let mut at = offset;
        while at + 12 <= end {
            visited += 1;
            if visited > max.saturating_mul(4) {
                return Some(format!("cramfs: more than {max} entries"));
            }
            let Some((mode, size, data, namelen)) = cramfs_inode(b, at) else {
                return Some("cramfs: inode past the end".into());
            };
            let Some(raw) = b.get(at + 12..at + 12 + namelen) else {
                return Some("cramfs: name past the end".into());
            };
            let name: String = String::from_utf8_lossy(raw)
                .trim_end_matches('\0')
                .chars()
                .map(|c| if c == '/' || c.is_control() { '_' } else { c })
                .collect();
            at += 12 + namelen;
            if name.is_empty() || name == "." || name == ".." {
                continue;
            }
            let path = format!("{dir}/{name}");
            match mode & S_IFMT {
                // A directory's entries come after its own: offsets only grow, so no loop.
                S_IFDIR if data > offset && dirs.len() < max => dirs.push((path, data, size)),
                S_IFREG => {
                    files += 1;
                    if files > max {
                        return Some(format!("cramfs: more than {max} files"));
                    }
                    let read = || cramfs_file(b, data, size);
                    each(&path, size as u64, &read);
                }
                _ => {}
            }
        }
    }
    None
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
        // cramfs: a root inode pointing outside the image, a file whose blocks are garbage.
        let mut cr = vec![0x45, 0x3d, 0xcd, 0x28];
        cr.resize(16, 0);
        cr.extend_from_slice(b"Compressed ROMFS");
        cr.resize(64, 0);
        let dir_inode = |size: u32, offset: u32| {
            let mut v = (0o040755u32).to_le_bytes().to_vec();
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&((offset / 4) << 6).to_le_bytes());
            v
        };
        cr.extend(dir_inode(16, 76));
        assert_eq!(kind(&cr), Some(Kind::Cramfs));
        let mut reads = 0;
        assert!(cramfs_each(&cr, 10, &mut |_, _, _| reads += 1).is_none());
        let mut file = (0o100644u32).to_le_bytes().to_vec();
        file.extend_from_slice(&5000u32.to_le_bytes());
        file.extend_from_slice(&(1u32 | ((92u32 / 4) << 6)).to_le_bytes());
        file.extend_from_slice(b"m\0\0\0");
        cr.extend(file);
        cr.extend_from_slice(&[0xff; 16]);
        let mut got = Vec::new();
        assert!(cramfs_each(&cr, 10, &mut |p, _, read| got
            .push((p.to_string(), read().is_err())))
        .is_none());
        assert_eq!(got, vec![("/m".to_string(), true)]);
        // romfs: a header pointing back at itself; odc CPIO: sizes past the end.
        let mut rom = b"-rom1fs-".to_vec();
        rom.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 0]);
        rom.extend_from_slice(b"v\0");
        rom.resize(32, 0);
        rom.extend_from_slice(&(32u32 | 2).to_be_bytes());
        rom.extend_from_slice(&[0; 12]);
        rom.extend_from_slice(b"f\0");
        rom.resize(64, 0);
        assert_eq!(kind(&rom), Some(Kind::Romfs));
        assert!(romfs_each(&rom, 10, &mut |_, _| {}).is_some_and(|e| e.contains("points back")));
        let odc =
            b"070707000000000000100644000000000000000001000000000000000000000002077777777777x\0";
        assert!(cpio_members(odc, 10).1.is_some());
        for k in [Kind::Xz, Kind::Bzip2, Kind::Zstd, Kind::Lz4, Kind::Lzma] {
            let (out, e) = inflate(k, b"\xfd7zXZ\0garbage garbage garbage", 1 << 20);
            assert!(out.len() < 64 && e.is_some(), "{k:?}");
        }
    }
}
