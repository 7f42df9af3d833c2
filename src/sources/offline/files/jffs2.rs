//! JFFS2 flash images (the filesystem of many camera and NVR firmware partitions), read in
//! place: the image is a log of nodes (Linux `include/uapi/linux/jffs2.h`), each with a common
//! header — magic `0x1985`, node type, total length, header CRC — on 4-byte boundaries, with
//! erased flash (`0xFF`) and padding between them. Directory-entry nodes name an inode in a
//! parent directory; inode nodes carry a piece of a file's data at an offset, compressed. The
//! newest version of each name and each piece wins, as the kernel replays the log.
//!
//! Read: both byte orders; compression none, zero, zlib and rtime (`fs/jffs2/compr_rtime.c`),
//! which `mkfs.jffs2` writes by default, and LZO ([`super::lzo`]). LZMA and the rubin
//! compressors are reported per file, not guessed at. CRCs are not checked (a damaged node is skipped when its lengths do not
//! fit; a damaged payload fails to inflate and is reported).

use crate::decode::bytes::{be16, be32, le16, le32};
use std::collections::BTreeMap;
use std::io::Read;

/// How a filesystem reader hands over a file's bytes: called only for files the walker wants
/// (its budgets decide), so files over the limits are never inflated.
pub type ReadFile<'a> = &'a dyn Fn() -> Result<Vec<u8>, String>;

const MAGIC: u16 = 0x1985;
const DIRENT: u16 = 0xE001;
const INODE: u16 = 0xE002;
/// File type of a regular file in a dirent (`DT_REG`).
const DT_REG: u8 = 8;
/// Node header sizes: dirent name at 40, inode data at 68.
const DIRENT_HDR: usize = 40;
const INODE_HDR: usize = 68;

/// Whether `b` starts with a JFFS2 node (either byte order) of a known type.
pub fn is_jffs2(b: &[u8]) -> bool {
    matches!(
        b.get(..4),
        Some([0x85, 0x19, 0x01..=0x04, 0xe0 | 0x20]) | Some([0x19, 0x85, 0xe0 | 0x20, 0x01..=0x04])
    )
}

/// Where a JFFS2 image starting at `start` (a node) ends inside a larger blob: after its last
/// node, walking nodes, erased flash (`0xFF` words) and zero padding, and stopping at the first
/// word that is none of them. `None` when `start` is not a plausible node.
pub fn extent(b: &[u8], start: usize) -> Option<usize> {
    let rest = b.get(start..)?;
    if !is_jffs2(rest) {
        return None;
    }
    let e = Endian(rest.get(..2) == Some(&[0x85, 0x19]));
    let mut at = 0usize;
    let mut end = None;
    while at + 4 <= rest.len() {
        if e.u16(rest, at) == Some(MAGIC) {
            let total = e.u32(rest, at + 4)? as usize;
            if (12..=1 << 20).contains(&total) && at + total <= rest.len() {
                at += total.div_ceil(4) * 4;
                end = Some(at);
                continue;
            }
        }
        let w = &rest[at..at + 4];
        if w == [0xff; 4] || w == [0; 4] {
            at += 4;
            continue;
        }
        break;
    }
    end.map(|e| start + e.min(rest.len()))
}

/// The image's byte order: `true` for little-endian.
#[derive(Clone, Copy)]
struct Endian(bool);

impl Endian {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        if self.0 {
            le16(b, at)
        } else {
            be16(b, at)
        }
    }
    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        if self.0 {
            le32(b, at)
        } else {
            be32(b, at)
        }
    }
}

/// One piece of a file: version, offset, compression, stored and decompressed sizes, where
/// its stored bytes are.
#[derive(Clone, Copy)]
struct Piece {
    version: u32,
    offset: u32,
    compr: u8,
    csize: usize,
    dsize: usize,
    data: usize,
}

#[derive(Default)]
struct Inode {
    /// Size from the newest node.
    size: (u32, u32),
    pieces: Vec<Piece>,
}

/// Linux `fs/jffs2/compr_rtime.c`: each byte is followed by a repeat count copying from the
/// last position the same byte value was written at.
fn rtime(src: &[u8], dsize: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(dsize.min(1 << 20));
    let mut positions = [0usize; 256];
    let mut pos = 0;
    while out.len() < dsize {
        let (Some(&value), Some(&repeat)) = (src.get(pos), src.get(pos + 1)) else {
            return Err("rtime data ends early".into());
        };
        pos += 2;
        out.push(value);
        let back = positions[value as usize];
        positions[value as usize] = out.len();
        for i in 0..usize::from(repeat) {
            if out.len() >= dsize {
                break;
            }
            let b = *out.get(back + i).ok_or("rtime refers past its output")?;
            out.push(b);
        }
    }
    Ok(out)
}

/// A piece's bytes, at most `want` of them: a node's stated decompressed size is untrusted (a
/// damaged or hostile node may claim 4 GiB), so what is produced is bounded by what the file
/// can hold at the piece's offset.
fn inflate_piece(b: &[u8], p: &Piece, want: usize) -> Result<Vec<u8>, String> {
    let src = b
        .get(p.data..p.data + p.csize)
        .ok_or("node data runs past the image")?;
    let want = want.min(p.dsize);
    let out = match p.compr {
        0x00 | 0x04 => src[..src.len().min(want)].to_vec(),
        0x01 => vec![0; want],
        0x02 => rtime(src, want)?,
        0x06 => {
            let mut out = Vec::with_capacity(want.min(1 << 20));
            flate2::read::ZlibDecoder::new(src)
                .take(want as u64)
                .read_to_end(&mut out)
                .map_err(|e| format!("zlib: {e}"))?;
            out
        }
        0x03 | 0x05 => return Err("rubin compression is not read".into()),
        // A node holds at most a page; its stated size is untrusted.
        0x07 => {
            let mut out = super::lzo::decompress(src, p.dsize.min(64 << 10))
                .map_err(|e| format!("lzo: {e}"))?;
            out.truncate(want);
            out
        }
        0x08 => return Err("LZMA compression is not read".into()),
        c => return Err(format!("unknown compression {c:#x}")),
    };
    Ok(out)
}

/// A JFFS2 file's bytes: its pieces in version order, each written at its offset (newer
/// versions over older ones), cut to the newest size; gaps read as zeros.
fn assemble(b: &[u8], inode: &Inode, max: u64) -> Result<Vec<u8>, String> {
    let size = inode.size.1 as usize;
    if size as u64 > max {
        return Err(format!("{size} bytes: over the limit"));
    }
    let mut out = vec![0u8; size];
    let mut pieces = inode.pieces.clone();
    pieces.sort_by_key(|p| p.version);
    for p in &pieces {
        let start = p.offset as usize;
        if start >= size {
            continue;
        }
        let data = inflate_piece(b, p, size - start)?;
        let end = (start + data.len()).min(size);
        out[start..end].copy_from_slice(&data[..end - start]);
    }
    Ok(out)
}

/// Each regular file of a JFFS2 image, with its path and size and a way to read it (at most
/// `max_file` bytes). At most `max` files; returns what was malformed or not read, if anything.
pub fn each(
    b: &[u8],
    max: usize,
    max_file: u64,
    each: &mut dyn FnMut(&str, u64, ReadFile<'_>),
) -> Option<String> {
    let e = Endian(b.get(..2) == Some(&[0x85, 0x19]));
    // (parent, name) → (version, ino, type); ino → its pieces.
    let mut names: BTreeMap<(u32, String), (u32, u32, u8)> = BTreeMap::new();
    let mut inodes: BTreeMap<u32, Inode> = BTreeMap::new();
    let mut at = 0usize;
    let mut nodes = 0usize;
    while at + 12 <= b.len() {
        if e.u16(b, at) != Some(MAGIC) {
            at += 4;
            continue;
        }
        let (Some(kind), Some(total)) = (e.u16(b, at + 2), e.u32(b, at + 4)) else {
            break;
        };
        let total = total as usize;
        if total < 12 || at + total > b.len() {
            at += 4;
            continue;
        }
        nodes += 1;
        if nodes > max.saturating_mul(64).max(1 << 20) {
            return Some(format!("jffs2: more than {nodes} nodes"));
        }
        match kind {
            DIRENT if total >= DIRENT_HDR => {
                let f = |o| e.u32(b, at + o);
                let (Some(pino), Some(version), Some(ino)) = (f(12), f(16), f(20)) else {
                    break;
                };
                let nsize = b[at + 28] as usize;
                let kind = b[at + 29];
                if let Some(name) = b.get(at + DIRENT_HDR..at + DIRENT_HDR + nsize) {
                    let name: String = String::from_utf8_lossy(name)
                        .chars()
                        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
                        .collect();
                    let slot = names.entry((pino, name)).or_insert((0, 0, 0));
                    if version >= slot.0 {
                        *slot = (version, ino, kind);
                    }
                }
            }
            INODE if total >= INODE_HDR => {
                let f = |o| e.u32(b, at + o);
                let (Some(ino), Some(version), Some(isize), Some(offset), Some(csize), Some(dsize)) =
                    (f(12), f(16), f(28), f(44), f(48), f(52))
                else {
                    break;
                };
                let node = inodes.entry(ino).or_default();
                if version >= node.size.0 {
                    node.size = (version, isize);
                }
                if csize > 0 || dsize > 0 {
                    node.pieces.push(Piece {
                        version,
                        offset,
                        compr: b[at + 56],
                        csize: (csize as usize).min(total - INODE_HDR),
                        dsize: dsize as usize,
                        data: at + INODE_HDR,
                    });
                }
            }
            _ => {}
        }
        at += total.div_ceil(4) * 4;
    }
    if nodes == 0 {
        return Some("jffs2: no node".into());
    }
    // Paths from the root directory (inode 1); a name whose newest dirent has inode 0 is
    // deleted.
    let mut children: BTreeMap<u32, Vec<(&str, u32, u8)>> = BTreeMap::new();
    for ((parent, name), (_, ino, kind)) in &names {
        if *ino != 0 {
            children
                .entry(*parent)
                .or_default()
                .push((name.as_str(), *ino, *kind));
        }
    }
    let mut stack = vec![(1u32, String::new(), 0usize)];
    let mut files = 0usize;
    let mut problems = Vec::new();
    while let Some((dir, path, depth)) = stack.pop() {
        if depth > 64 {
            problems.push(format!("jffs2: {path}: nested deeper than 64"));
            continue;
        }
        for (name, ino, kind) in children.get(&dir).map(Vec::as_slice).unwrap_or(&[]) {
            let full = format!("{path}/{name}");
            if *kind == DT_REG {
                files += 1;
                if files > max {
                    return Some(format!("jffs2: more than {max} files"));
                }
                let Some(inode) = inodes.get(ino) else {
                    problems.push(format!("jffs2: {full}: no inode node"));
                    continue;
                };
                let read = || assemble(b, inode, max_file).map_err(|m| format!("jffs2: {m}"));
                each(&full, u64::from(inode.size.1), &read);
            } else if *kind == 4 && *ino != dir {
                stack.push((*ino, full, depth + 1));
            }
        }
    }
    problems.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: u16, body: &[u8]) -> Vec<u8> {
        let total = 12 + body.len();
        let mut n = Vec::new();
        n.extend_from_slice(&MAGIC.to_le_bytes());
        n.extend_from_slice(&kind.to_le_bytes());
        n.extend_from_slice(&(total as u32).to_le_bytes());
        n.extend_from_slice(&[0; 4]);
        n.extend_from_slice(body);
        while n.len() % 4 != 0 {
            n.push(0xff);
        }
        n
    }

    fn dirent(pino: u32, version: u32, ino: u32, kind: u8, name: &str) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [pino, version, ino, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&[name.len() as u8, kind, 0, 0]);
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(name.as_bytes());
        node(DIRENT, &b)
    }

    fn inode(
        ino: u32,
        version: u32,
        isize: u32,
        offset: u32,
        compr: u8,
        data: &[u8],
        dsize: u32,
    ) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [
            ino,
            version,
            0o100644,
            0,
            isize,
            0,
            0,
            0,
            offset,
            data.len() as u32,
            dsize,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&[compr, 0, 0, 0]);
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(data);
        node(INODE, &b)
    }

    #[test]
    fn newest_names_and_pieces_win_and_rtime_inflates() {
        let mut img = Vec::new();
        img.extend(dirent(1, 1, 2, 4, "models"));
        img.extend(dirent(2, 1, 3, DT_REG, "face.onnx"));
        img.extend(vec![0xff; 64]);
        img.extend(inode(3, 1, 8, 0, 0, b"AAAAAAAA", 8));
        // A newer version rewrites bytes 4..8; rtime "x" repeated: value 'x', repeat 3.
        img.extend(inode(3, 2, 8, 4, 2, b"x\x03", 4));
        img.extend(dirent(1, 1, 4, DT_REG, "gone.bin"));
        img.extend(dirent(1, 2, 0, DT_REG, "gone.bin"));
        let mut seen = Vec::new();
        let err = each(&img, 10, 1 << 20, &mut |p, size, read| {
            seen.push((p.to_string(), size, read().unwrap()));
        });
        assert_eq!(err, None);
        assert_eq!(
            seen,
            vec![("/models/face.onnx".to_string(), 8, b"AAAAxxxx".to_vec())]
        );
        assert!(is_jffs2(&img));
        // Carved from a larger blob: it ends after its last node, before the unrelated bytes.
        let mut blob = b"unrelated header".to_vec();
        let at = blob.len();
        blob.extend(&img);
        blob.extend(vec![0xff; 256]);
        blob.extend(b"squashfs follows".iter());
        assert_eq!(extent(&blob, at), Some(at + img.len()));
        assert_eq!(rtime(b"a\x02b\x00", 4).unwrap(), b"aaab");
    }

    #[test]
    fn a_node_claiming_gigabytes_costs_only_what_the_file_holds() {
        // Found by the containers fuzz target: an inode node of a 900-byte file whose piece
        // states a decompressed size of 0xFFFF0384 bytes asked for 4 GiB at once.
        for compr in [0u8, 1, 2, 6] {
            let mut img = dirent(1, 1, 3, DT_REG, "a.bin");
            let mut node = inode(3, 1, 900, 0, compr, b"x\x10", 0xffff_0384);
            if compr == 6 {
                node = inode(3, 1, 900, 0, compr, &[0x78, 0x9c, 0x03, 0x00], 0xffff_0384);
            }
            img.extend(node);
            let mut sizes = Vec::new();
            let err = each(&img, 10, 1 << 20, &mut |_, size, read| {
                sizes.push((size, read().map(|d| d.len())));
            });
            assert_eq!(err, None);
            assert_eq!(sizes.len(), 1, "compression {compr}");
            assert_eq!(sizes[0].0, 900);
            if let (_, Ok(n)) = sizes[0] {
                assert_eq!(n, 900, "compression {compr}");
            }
        }
    }
}
