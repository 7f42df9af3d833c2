//! UBIFS volumes (the filesystem in one UBI volume), read in place. A log-structured B+-tree of
//! little-endian, 8-byte aligned nodes sharing a 24-byte common header: a superblock in LEB 0,
//! master nodes in LEBs 1 and 2 pointing at the root of the index, index nodes, and leaves
//! (inode, data, directory-entry nodes) keyed by the "simple" 8-byte key format.
//! Reference: Linux `fs/ubifs/ubifs-media.h`.
//!
//! The leaves come from the index and from the journal written since the last commit (the buds
//! the log refers to); a damaged index falls back to a scan of every node, newest wins, and says
//! so. Data nodes are LZO, zlib (raw deflate) or zstd compressed, or stored. Not read: encrypted
//! volumes (reported), extended attributes, truncation nodes (the inode's size bounds a file),
//! key formats other than the simple one (reported).

use super::ubi::{crc32_raw, Notes};
use crate::decode::bytes::{le16, le32, le64};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;

pub use super::jffs2::ReadFile;

const UBIFS_NODE_MAGIC: u32 = 0x0610_1831;
const UBIFS_CH_SZ: usize = 24;
const UBIFS_INO_NODE: u8 = 0;
const UBIFS_DATA_NODE: u8 = 1;
const UBIFS_DENT_NODE: u8 = 2;
const UBIFS_SB_NODE: u8 = 6;
const UBIFS_MST_NODE: u8 = 7;
const UBIFS_IDX_NODE: u8 = 9;
const UBIFS_BLOCK_SIZE: usize = 4096;
const UBIFS_MIN_LEB_SZ: usize = 15 * 1024;
const UBIFS_MAX_LEB_SZ: usize = 2 * 1024 * 1024;
const UBIFS_ROOT_INO: u64 = 1;
const UBIFS_ITYPE_REG: u8 = 0;
const UBIFS_ITYPE_DIR: u8 = 1;
const UBIFS_MAX_LEVELS: u16 = 64;
const UBIFS_SK_LEN: usize = 8;
const UBIFS_MAX_NLEN: usize = 255;
const UBIFS_LOG_LNUM: usize = 3;
const UBIFS_REF_NODE: u8 = 8;
const UBIFS_CS_NODE: u8 = 10;
/// Bound on the journal references followed.
const MAX_BUDS: usize = 4096;
const UBIFS_BRANCH_SZ: usize = 12 + UBIFS_SK_LEN;
const UBIFS_DATA_NODE_SZ: usize = 48;
const UBIFS_DENT_NODE_SZ: usize = 56;
const UBIFS_INO_NODE_SZ: usize = 160;
const UBIFS_FLG_ENCRYPTION: u32 = 0x10;
/// Path depth bound when building paths from directory entries.
const MAX_DEPTH: usize = 64;

/// Whether `b` starts with a UBIFS superblock node (node magic 0x06101831 little-endian, node type 6).
pub fn is_ubifs(b: &[u8]) -> bool {
    le32(b, 0) == Some(UBIFS_NODE_MAGIC) && b.get(20) == Some(&UBIFS_SB_NODE)
}

/// A checked UBIFS node: its type, sequence number and all its bytes (header included).
#[derive(Clone, Copy)]
struct Node<'a> {
    ty: u8,
    sqnum: u64,
    raw: &'a [u8],
}

/// Parses the node at `pos`, which must fit in `b[..end]`; checks magic, length and CRC.
fn parse_node(b: &[u8], pos: usize, end: usize) -> Result<Node<'_>, String> {
    if le32(b, pos) != Some(UBIFS_NODE_MAGIC) {
        return Err(format!("no node at {pos:#x}"));
    }
    let len = le32(b, pos + 16).ok_or("truncated node")? as usize;
    let stop = pos
        .checked_add(len)
        .filter(|&s| len >= UBIFS_CH_SZ && s <= end.min(b.len()));
    let raw = stop
        .and_then(|s| b.get(pos..s))
        .ok_or_else(|| format!("bad node length at {pos:#x}"))?;
    if le32(raw, 4) != Some(crc32_raw(&raw[8..])) {
        return Err(format!("bad node CRC at {pos:#x}"));
    }
    Ok(Node {
        ty: raw[20],
        sqnum: le64(raw, 8).unwrap_or(0),
        raw,
    })
}

/// An inode's size, link count and type bits.
#[derive(Clone, Copy)]
struct Inode {
    size: u64,
    nlink: u32,
}

/// A directory entry: target inode and type.
#[derive(Clone)]
struct Dent {
    inum: u64,
    ty: u8,
}

/// The leaves of the filesystem tree, highest sqnum per key.
#[derive(Default)]
struct Leaves<'a> {
    inodes: HashMap<u64, (u64, Inode)>,
    /// (parent inum, name) -> (sqnum, entry).
    dents: BTreeMap<(u64, &'a [u8]), (u64, Dent)>,
    /// (inum, block) -> (sqnum, node).
    data: BTreeMap<(u64, u32), (u64, &'a [u8])>,
}

/// The first half of a simple key: (inum, key type, block/hash).
fn key(raw: &[u8], off: usize) -> Option<(u64, u32, u32)> {
    let inum = le32(raw, off)?;
    let second = le32(raw, off + 4)?;
    Some((u64::from(inum), second >> 29, second & 0x1fff_ffff))
}

impl<'a> Leaves<'a> {
    /// Deletions: a dent with inode 0 removes the name; an inode with no links is gone.
    fn drop_deleted(&mut self) {
        self.dents.retain(|_, (_, d)| d.inum != 0);
        self.inodes.retain(|_, (_, i)| i.nlink != 0);
    }

    /// Adds a leaf node; Err when it is malformed.
    fn add(&mut self, n: Node<'a>) -> Result<(), String> {
        let (inum, _, block) = key(n.raw, UBIFS_CH_SZ).ok_or("short leaf")?;
        match n.ty {
            UBIFS_INO_NODE => {
                if n.raw.len() < UBIFS_INO_NODE_SZ {
                    return Err("short inode node".into());
                }
                let ino = Inode {
                    size: le64(n.raw, 48).unwrap_or(0),
                    nlink: le32(n.raw, 92).unwrap_or(0),
                };
                upsert(&mut self.inodes, inum, n.sqnum, ino);
            }
            UBIFS_DATA_NODE => {
                if n.raw.len() < UBIFS_DATA_NODE_SZ {
                    return Err("short data node".into());
                }
                upsert_b(&mut self.data, (inum, block), n.sqnum, n.raw);
            }
            UBIFS_DENT_NODE => {
                let nlen = usize::from(le16(n.raw, 50).ok_or("short dent")?);
                if nlen > UBIFS_MAX_NLEN {
                    return Err("dent name too long".into());
                }
                let name = n
                    .raw
                    .get(UBIFS_DENT_NODE_SZ..UBIFS_DENT_NODE_SZ + nlen)
                    .ok_or("bad dent name")?;
                let d = Dent {
                    inum: le64(n.raw, 40).unwrap_or(0),
                    ty: n.raw.get(49).copied().unwrap_or(0xff),
                };
                upsert_b(&mut self.dents, (inum, name), n.sqnum, d);
            }
            _ => {} // xattr entries, truncation nodes and others are not needed
        }
        Ok(())
    }
}

fn upsert<K: std::hash::Hash + Eq, V>(m: &mut HashMap<K, (u64, V)>, k: K, sq: u64, v: V) {
    match m.get(&k) {
        Some((old, _)) if *old >= sq => {}
        _ => {
            m.insert(k, (sq, v));
        }
    }
}

fn upsert_b<K: Ord, V>(m: &mut BTreeMap<K, (u64, V)>, k: K, sq: u64, v: V) {
    match m.get(&k) {
        Some((old, _)) if *old >= sq => {}
        _ => {
            m.insert(k, (sq, v));
        }
    }
}

/// A UBIFS volume image with its LEB size.
struct Fs<'a> {
    b: &'a [u8],
    leb: usize,
    /// Number of LEBs of the journal's log, which starts at LEB 3.
    log_lebs: usize,
}

/// The fields of the newest master node that the reader needs.
struct Master {
    root_lnum: u32,
    root_offs: u32,
    log_lnum: u32,
}

impl<'a> Fs<'a> {
    fn open(b: &'a [u8], notes: &mut Notes) -> Result<Self, String> {
        if !is_ubifs(b) {
            return Err("not a UBIFS image".into());
        }
        let sb = parse_node(b, 0, b.len()).map_err(|e| format!("superblock: {e}"))?;
        let leb = le32(sb.raw, 36).ok_or("short superblock")? as usize;
        if !(UBIFS_MIN_LEB_SZ..=UBIFS_MAX_LEB_SZ).contains(&leb) || leb % 8 != 0 {
            return Err(format!("bad LEB size {leb}"));
        }
        if sb.raw.get(27).is_some_and(|&f| f != 0) {
            notes.add("unknown key format");
        }
        if le32(sb.raw, 28).is_some_and(|f| f & UBIFS_FLG_ENCRYPTION != 0) {
            notes.add("filesystem uses encryption: encrypted names and data are not decoded");
        }
        let log_lebs = le32(sb.raw, 56).ok_or("short superblock")? as usize;
        Ok(Fs { b, leb, log_lebs })
    }

    fn leb_count(&self) -> usize {
        self.b.len().div_ceil(self.leb)
    }

    fn node(&self, lnum: u32, offs: u32) -> Result<Node<'a>, String> {
        let (lnum, offs) = (lnum as usize, offs as usize);
        if offs >= self.leb || offs % 8 != 0 {
            return Err(format!("bad node offset {lnum}:{offs}"));
        }
        let start = lnum.checked_mul(self.leb).ok_or("bad lnum")?;
        let pos = start.checked_add(offs).ok_or("bad lnum")?;
        parse_node(self.b, pos, start.saturating_add(self.leb))
    }

    /// Every valid node of a LEB from offset `from` on, in order, while `f` returns true.
    fn scan_leb(&self, lnum: usize, from: usize, mut f: impl FnMut(Node<'a>) -> bool) {
        let Some(start) = lnum.checked_mul(self.leb) else {
            return;
        };
        let end = start.saturating_add(self.leb).min(self.b.len());
        let mut pos = start.saturating_add(from.min(self.leb));
        while pos + UBIFS_CH_SZ <= end {
            match parse_node(self.b, pos, end) {
                Ok(n) => {
                    if !f(n) {
                        return;
                    }
                    pos += n.raw.len().next_multiple_of(8);
                }
                Err(_) => pos += 8,
            }
        }
    }

    /// The newest master node.
    fn master(&self) -> Result<Master, String> {
        let mut best: Option<Node<'a>> = None;
        for lnum in [1, 2] {
            if lnum >= self.leb_count() {
                break;
            }
            self.scan_leb(lnum, 0, |n| {
                if n.ty == UBIFS_MST_NODE && best.is_none_or(|b| n.sqnum > b.sqnum) {
                    best = Some(n);
                }
                true
            });
        }
        let m = best.ok_or("no master node")?;
        let field = |off| le32(m.raw, off).ok_or("short master node");
        Ok(Master {
            log_lnum: field(44)?,
            root_lnum: field(48)?,
            root_offs: field(52)?,
        })
    }

    /// Walks the index B-tree from the master node's root, collecting leaves.
    fn walk_index(&self, m: &Master, limit: usize) -> Result<Leaves<'a>, String> {
        let mut leaves = Leaves::default();
        let mut stack = vec![(m.root_lnum, m.root_offs, None::<u16>)];
        let mut visited = 0usize;
        while let Some((lnum, offs, want_level)) = stack.pop() {
            visited += 1;
            if visited > limit {
                return Err("index too large".into());
            }
            let n = self.node(lnum, offs)?;
            if n.ty != UBIFS_IDX_NODE {
                return Err(format!("expected index node at {lnum}:{offs}"));
            }
            let count = usize::from(le16(n.raw, 24).ok_or("short index node")?);
            let level = le16(n.raw, 26).ok_or("short index node")?;
            if level > UBIFS_MAX_LEVELS || want_level.is_some_and(|w| w != level) {
                return Err(format!("bad index level at {lnum}:{offs}"));
            }
            for i in 0..count {
                let br = 28 + i * UBIFS_BRANCH_SZ;
                let (cl, co) = (
                    le32(n.raw, br).ok_or("short index node")?,
                    le32(n.raw, br + 4).ok_or("short index node")?,
                );
                if level > 0 {
                    stack.push((cl, co, Some(level - 1)));
                } else {
                    visited += 1;
                    let leaf = self.node(cl, co)?;
                    leaves.add(leaf)?;
                }
            }
        }
        Ok(leaves)
    }

    /// Fallback: every node of every LEB, highest sqnum per key.
    fn scan_all(&self, limit: usize) -> Leaves<'a> {
        let mut leaves = Leaves::default();
        let mut seen = 0usize;
        for lnum in 0..self.leb_count() {
            self.scan_leb(lnum, 0, |n| {
                seen += 1;
                if matches!(n.ty, UBIFS_INO_NODE | UBIFS_DATA_NODE | UBIFS_DENT_NODE) {
                    let _ = leaves.add(n);
                }
                seen < limit
            });
            if seen >= limit {
                break;
            }
        }
        leaves.drop_deleted();
        leaves
    }

    /// Applies the journal written since the last commit: the leaves of the buds that the log
    /// references after the commit-start node. Returns what was wrong, if anything.
    fn replay_journal(&self, m: &Master, leaves: &mut Leaves<'a>) -> Result<(), String> {
        let log_end = UBIFS_LOG_LNUM
            .saturating_add(self.log_lebs)
            .min(self.leb_count());
        let first = m.log_lnum as usize;
        if !(UBIFS_LOG_LNUM..log_end).contains(&first) {
            return Err("master node's log LEB out of range".into());
        }
        let cs = self.node(m.log_lnum, 0).map_err(|e| format!("log: {e}"))?;
        if cs.ty != UBIFS_CS_NODE {
            return Err("log does not start with a commit-start node".into());
        }
        let mut buds = Vec::new();
        let span = log_end - UBIFS_LOG_LNUM;
        for i in 0..span {
            let lnum = UBIFS_LOG_LNUM + (first - UBIFS_LOG_LNUM + i) % span;
            let mut newer = false;
            self.scan_leb(lnum, 0, |n| {
                if n.sqnum <= cs.sqnum {
                    return true;
                }
                newer = true;
                if n.ty == UBIFS_REF_NODE && buds.len() < MAX_BUDS {
                    if let (Some(l), Some(o)) = (le32(n.raw, 24), le32(n.raw, 28)) {
                        buds.push((l as usize, o as usize));
                    }
                }
                true
            });
            if i > 0 && !newer {
                break;
            }
        }
        buds.sort_unstable();
        buds.dedup();
        for (lnum, offs) in buds {
            if lnum >= self.leb_count() {
                return Err(format!("journal references LEB {lnum} past the end"));
            }
            self.scan_leb(lnum, offs, |n| {
                if n.sqnum > cs.sqnum
                    && matches!(n.ty, UBIFS_INO_NODE | UBIFS_DATA_NODE | UBIFS_DENT_NODE)
                {
                    let _ = leaves.add(n);
                }
                true
            });
        }
        Ok(())
    }

    /// The filesystem's leaves: from the index plus the journal, or from a scan of every node.
    fn leaves(&self, limit: usize, notes: &mut Notes) -> Leaves<'a> {
        let indexed = self
            .master()
            .and_then(|m| Ok((self.walk_index(&m, limit)?, m)));
        match indexed {
            Ok((mut leaves, m)) => {
                if let Err(e) = self.replay_journal(&m, &mut leaves) {
                    notes.add(format!("journal not replayed: {e}"));
                }
                leaves.drop_deleted();
                leaves
            }
            Err(e) => {
                notes.add(format!(
                    "index not walkable ({e}): used a linear scan of all nodes"
                ));
                self.scan_all(limit.saturating_mul(4))
            }
        }
    }
}

/// The absolute path of entry `name` in directory `parent`, if it reaches the root.
fn path_of(dirs: &HashMap<u64, (u64, &[u8])>, parent: u64, name: &[u8]) -> Option<String> {
    let mut parts = vec![name];
    let mut p = parent;
    while p != UBIFS_ROOT_INO {
        if parts.len() > MAX_DEPTH {
            return None;
        }
        let (pp, n) = dirs.get(&p)?;
        parts.push(n);
        p = *pp;
    }
    let mut s = String::new();
    for part in parts.iter().rev() {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(part));
    }
    Some(s)
}

fn name_ok(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

/// The uncompressed bytes of one data node (at most one block).
fn data_block(raw: &[u8]) -> Result<Vec<u8>, String> {
    let size = le32(raw, 40).ok_or("short data node")? as usize;
    let compr = le16(raw, 44).ok_or("short data node")?;
    if size > UBIFS_BLOCK_SIZE {
        return Err("data node larger than a block".into());
    }
    let payload = raw.get(UBIFS_DATA_NODE_SZ..).ok_or("short data node")?;
    let out = match compr {
        0 => payload.to_vec(),
        1 => super::lzo::decompress(payload, size)?,
        2 => read_capped(flate2::read::DeflateDecoder::new(payload), size)?,
        3 => zstd_decompress(payload, size)?,
        c => return Err(format!("unknown compression type {c}")),
    };
    if out.len() != size {
        return Err(format!(
            "data node decompressed to {} bytes, expected {size}",
            out.len()
        ));
    }
    Ok(out)
}

/// Reads a whole file from its data nodes; holes read as zeros.
fn read_file(leaves: &Leaves<'_>, inum: u64, size: u64, max_file: u64) -> Result<Vec<u8>, String> {
    if size > max_file {
        return Err(format!("file of {size} bytes is larger than {max_file}"));
    }
    let size = usize::try_from(size).map_err(|_| "file too large")?;
    let mut out = vec![0u8; size];
    for (&(_, block), &(_, raw)) in leaves.data.range((inum, 0)..=(inum, u32::MAX)) {
        let off = (block as usize).saturating_mul(UBIFS_BLOCK_SIZE);
        if off >= size {
            continue;
        }
        let d = data_block(raw).map_err(|e| format!("block {block}: {e}"))?;
        let n = d.len().min(size - off);
        out[off..off + n].copy_from_slice(&d[..n]);
    }
    Ok(out)
}

/// Each regular file of a UBIFS volume image (the bytes of one UBI volume), with its absolute path
/// ("/dir/file"), its size, and a way to read it (at most `max_file` bytes, error if bigger).
/// At most `max` files; returns what was malformed or not read, if anything.
///
/// Files come in path order. The leaves come from the index B-tree plus the journal written
/// since the last commit (buds referenced by the log); if the index cannot be walked, from a
/// linear scan of every node (highest sqnum per key wins), which the String then says.
/// Hard links yield one entry per name. Holes read as zeros.
pub fn ubifs_each(
    b: &[u8],
    max: usize,
    max_file: u64,
    each: &mut dyn FnMut(&str, u64, ReadFile<'_>),
) -> Option<String> {
    let mut notes = Notes::default();
    let fs = match Fs::open(b, &mut notes) {
        Ok(fs) => fs,
        Err(e) => return Some(e),
    };
    let limit = max.saturating_mul(64).clamp(1 << 16, 1 << 20);
    let leaves = fs.leaves(limit, &mut notes);
    let dirs: HashMap<u64, (u64, &[u8])> = leaves
        .dents
        .iter()
        .filter(|((_, name), (_, d))| d.ty == UBIFS_ITYPE_DIR && name_ok(name))
        .map(|(&(parent, name), (_, d))| (d.inum, (parent, name)))
        .collect();
    let mut files = Vec::new();
    for ((parent, name), (_, d)) in &leaves.dents {
        if d.ty != UBIFS_ITYPE_REG {
            continue;
        }
        let path = name_ok(name)
            .then(|| path_of(&dirs, *parent, name))
            .flatten();
        match (path, leaves.inodes.get(&d.inum)) {
            (Some(p), Some((_, ino))) => files.push((p, d.inum, ino.size)),
            (None, _) => notes.add(format!(
                "entry {:?} not reachable from the root",
                String::from_utf8_lossy(name)
            )),
            (_, None) => notes.add(format!(
                "entry {:?} has no inode",
                String::from_utf8_lossy(name)
            )),
        }
    }
    files.sort();
    if files.len() > max {
        notes.add(format!("more than {max} files: the rest not read"));
        files.truncate(max);
    }
    for (path, inum, size) in &files {
        let read = || read_file(&leaves, *inum, *size, max_file);
        each(path, *size, &read);
    }
    notes.into_option()
}

/// Reads at most `cap` bytes; an error if the stream holds more.
fn read_capped(r: impl Read, cap: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    r.take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() > cap {
        return Err("decompressed data larger than expected".into());
    }
    Ok(out)
}

fn zstd_decompress(src: &[u8], cap: usize) -> Result<Vec<u8>, String> {
    let mut dec = ruzstd::decoding::FrameDecoder::new();
    dec.set_max_window_size(1 << 20);
    let s = ruzstd::decoding::StreamingDecoder::new_with_decoder(src, dec)
        .map_err(|e| e.to_string())?;
    read_capped(s, cap)
}

#[cfg(test)]
mod tests;
