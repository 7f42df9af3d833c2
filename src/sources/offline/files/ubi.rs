//! UBI images (Unsorted Block Images, the volume layer under UBIFS on the NAND flash of many
//! cameras and NVRs), read in place. A flash device is split into physical erase blocks (PEBs).
//! Each PEB starts with a 64-byte erase-counter (EC) header (magic `UBI#`) and, at the offset it
//! names, a 64-byte volume-identifier (VID) header (magic `UBI!`) telling which volume and which
//! logical erase block (LEB) of it the PEB holds. All UBI headers are big-endian and protected by
//! a CRC-32. The volume table lives in the internal layout volume `0x7fffefff`.
//! Reference: Linux `drivers/mtd/ubi/ubi-media.h`.
//!
//! Everything read from an image is bounds-checked: hostile input yields errors, never panics,
//! and allocations are bounded by the caller's limits. Fastmap is ignored (a scan of every PEB
//! finds the same LEBs); UBI's own data CRCs are not checked.

use crate::decode::bytes::{be32, be64};
use std::collections::{BTreeMap, HashMap};

/// CRC-32 (IEEE) as UBI and UBIFS store it: initial value `0xffffffff`, no final xor.
pub(super) fn crc32_raw(data: &[u8]) -> u32 {
    !crc32fast::hash(data)
}

/// Collects what was malformed, keeping the message short.
#[derive(Default)]
pub(super) struct Notes(Vec<String>);

impl Notes {
    const MAX: usize = 16;
    pub(super) fn add(&mut self, s: impl Into<String>) {
        let s = s.into();
        if self.0.len() < Self::MAX && !self.0.contains(&s) {
            self.0.push(s);
        } else if self.0.len() == Self::MAX {
            self.0.push("...".into());
        }
    }
    pub(super) fn into_option(self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.join("; "))
    }
}

const UBI_EC_MAGIC: &[u8; 4] = b"UBI#";
const UBI_VID_MAGIC: &[u8; 4] = b"UBI!";
const UBI_HDR_SIZE: usize = 64;
const UBI_LAYOUT_VOL_ID: u32 = 0x7fff_efff;
const UBI_MAX_VOLUMES: u32 = 128;
const UBI_VTBL_RECORD_SIZE: usize = 172;
const UBI_VID_STATIC: u8 = 2;
/// The smallest LEB accepted (it bounds the work per volume byte).
const UBI_MIN_LEB: usize = 512;
/// PEB sizes searched for when locating the second EC header.
const UBI_MAX_PEB: usize = 16 << 20;

/// The fields of an EC header that the reader needs.
#[derive(Clone, Copy)]
struct EcHdr {
    vid_off: usize,
    data_off: usize,
}

fn ec_hdr(b: &[u8], pos: usize) -> Option<EcHdr> {
    let h = b.get(pos..pos.checked_add(UBI_HDR_SIZE)?)?;
    if !h.starts_with(UBI_EC_MAGIC) || h.get(4) != Some(&1) {
        return None;
    }
    Some(EcHdr {
        vid_off: be32(h, 16)? as usize,
        data_off: be32(h, 20)? as usize,
    })
}

fn ec_crc_ok(b: &[u8], pos: usize) -> bool {
    let Some(h) = pos.checked_add(UBI_HDR_SIZE).and_then(|e| b.get(pos..e)) else {
        return false;
    };
    be32(h, 60) == Some(crc32_raw(&h[..60]))
}

/// Whether `b` starts with a UBI erase-counter header (magic "UBI#", version 1).
pub fn is_ubi(b: &[u8]) -> bool {
    ec_hdr(b, 0).is_some()
}

/// The PEB size of the UBI image at `start`: distance to the next EC header with the same
/// offsets, or to the blob's end when there is none.
fn peb_size(b: &[u8], start: usize) -> Option<usize> {
    let first = ec_hdr(b, start)?;
    let limit = b.len().min(start.saturating_add(UBI_MAX_PEB));
    let mut pos = start.checked_add(UBI_HDR_SIZE)?;
    while pos.checked_add(UBI_HDR_SIZE).is_some_and(|e| e <= limit) {
        if let Some(h) = ec_hdr(b, pos) {
            let dist = pos - start;
            if h.vid_off == first.vid_off && h.data_off == first.data_off && first.data_off < dist {
                return Some(dist);
            }
        }
        pos += UBI_HDR_SIZE;
    }
    let rest = b.len() - start;
    (rest > first.data_off).then_some(rest)
}

/// Where a UBI image starting at `start` ends in a larger blob: after the last consecutive PEB
/// that starts with "UBI#". PEB size found as the distance between the first two EC headers
/// (or the blob's end when there is one PEB). None if `start` is not a UBI EC header.
pub fn ubi_extent(b: &[u8], start: usize) -> Option<usize> {
    ec_hdr(b, start)?;
    let peb = peb_size(b, start).unwrap_or(b.len() - start);
    let mut pos = start;
    while b.get(pos..pos.saturating_add(4)) == Some(UBI_EC_MAGIC.as_slice()) {
        match pos.checked_add(peb) {
            Some(next) if next < b.len() => pos = next,
            _ => return Some(b.len()),
        }
    }
    Some(pos)
}

/// One UBI volume: its name from the volume table (layout volume 0x7fffefff), and its bytes,
/// the LEBs in lnum order (for each lnum the copy with the highest sqnum wins; missing LEBs are
/// filled with 0xFF up to the highest lnum present). At most `max_bytes` per volume (error if more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The volume id (0..128).
    pub id: u32,
    /// The name from the volume table ("" if the table has none).
    pub name: String,
    /// The volume's bytes.
    pub data: Vec<u8>,
}

/// One LEB copy found in a PEB.
#[derive(Clone, Copy)]
struct LebCopy {
    sqnum: u64,
    /// Where the LEB's data starts in the image.
    data_start: usize,
    /// Usable bytes of the LEB (PEB size - data offset - data_pad).
    leb_len: usize,
    /// Bytes of data in this LEB (static volumes; `leb_len` for dynamic ones).
    used: usize,
}

/// Reads the VID header of the PEB at `pos`; Ok(None) for a free PEB.
fn read_peb(b: &[u8], pos: usize, peb: usize) -> Result<Option<(u32, u32, LebCopy)>, String> {
    let ec = ec_hdr(b, pos).ok_or("PEB without EC header")?;
    if !ec_crc_ok(b, pos) {
        return Err("bad EC header CRC".into());
    }
    if ec.vid_off.checked_add(UBI_HDR_SIZE).is_none_or(|e| e > peb) || ec.data_off >= peb {
        return Err("EC header offsets out of range".into());
    }
    let v = b
        .get(pos + ec.vid_off..pos + ec.vid_off + UBI_HDR_SIZE)
        .ok_or("truncated VID header")?;
    if v.iter().all(|&x| x == 0xff) {
        return Ok(None);
    }
    if !v.starts_with(UBI_VID_MAGIC) || be32(v, 60) != Some(crc32_raw(&v[..60])) {
        return Err("bad VID header".into());
    }
    let vol_type = v[5];
    let vol_id = be32(v, 8).ok_or("VID")?;
    let lnum = be32(v, 12).ok_or("VID")?;
    let data_size = be32(v, 20).ok_or("VID")? as usize;
    let data_pad = be32(v, 28).ok_or("VID")? as usize;
    let sqnum = be64(v, 40).ok_or("VID")?;
    let leb_len = (peb - ec.data_off)
        .checked_sub(data_pad)
        .ok_or("data_pad too large")?;
    let used = if vol_type == UBI_VID_STATIC {
        data_size.min(leb_len)
    } else {
        leb_len
    };
    let copy = LebCopy {
        sqnum,
        data_start: pos + ec.data_off,
        leb_len,
        used,
    };
    Ok(Some((vol_id, lnum, copy)))
}

type LebMap = BTreeMap<u32, BTreeMap<u32, LebCopy>>;

/// Every LEB copy in the image, highest sqnum per (volume, lnum).
fn scan_pebs(b: &[u8], peb: usize, notes: &mut Notes) -> LebMap {
    let mut map: LebMap = BTreeMap::new();
    let count = b.len() / peb;
    if b.len() % peb != 0 {
        notes.add("image does not end on a PEB boundary");
    }
    for i in 0..count {
        let pos = i * peb;
        match read_peb(b, pos, peb) {
            Ok(Some((vol, lnum, copy))) => {
                if vol >= UBI_MAX_VOLUMES && vol != UBI_LAYOUT_VOL_ID {
                    notes.add(format!("PEB {i}: bad volume id {vol}"));
                    continue;
                }
                let e = map.entry(vol).or_default().entry(lnum).or_insert(copy);
                if copy.sqnum > e.sqnum {
                    *e = copy;
                }
            }
            Ok(None) => {}
            Err(e) => notes.add(format!("PEB {i}: {e}")),
        }
    }
    map
}

/// Volume names by id from the volume table.
fn volume_table(
    b: &[u8],
    lebs: Option<&BTreeMap<u32, LebCopy>>,
    notes: &mut Notes,
) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    let Some(copy) = lebs.and_then(|m| m.get(&0).or_else(|| m.get(&1))) else {
        notes.add("no volume table");
        return names;
    };
    let Some(table) = b.get(copy.data_start..copy.data_start.saturating_add(copy.leb_len)) else {
        notes.add("truncated volume table");
        return names;
    };
    for (id, rec) in table
        .chunks_exact(UBI_VTBL_RECORD_SIZE)
        .take(UBI_MAX_VOLUMES as usize)
        .enumerate()
    {
        if be32(rec, 168) != Some(crc32_raw(&rec[..168])) {
            notes.add(format!("volume table record {id}: bad CRC"));
            continue;
        }
        let reserved = be32(rec, 0).unwrap_or(0);
        let name_len = usize::from(u16::from_be_bytes([rec[14], rec[15]]));
        if reserved == 0 || name_len > 127 {
            continue;
        }
        let name = String::from_utf8_lossy(&rec[16..16 + name_len]).into_owned();
        names.insert(id as u32, name);
    }
    names
}

/// Concatenates a volume's LEBs, filling missing ones with 0xFF.
fn volume_bytes(
    b: &[u8],
    lebs: &BTreeMap<u32, LebCopy>,
    max_bytes: usize,
) -> Result<Vec<u8>, String> {
    let Some((&last, _)) = lebs.last_key_value() else {
        return Ok(Vec::new());
    };
    let leb_len = lebs.values().map(|c| c.leb_len).max().unwrap_or(0);
    if leb_len < UBI_MIN_LEB {
        return Err(format!("LEB size {leb_len} too small"));
    }
    let bound = (last as usize)
        .checked_add(1)
        .and_then(|n| n.checked_mul(leb_len));
    // The last LEB of a static volume may be short: check the exact size before allocating.
    let total = bound
        .and_then(|n| n.checked_sub(leb_len))
        .and_then(|n| n.checked_add(lebs.get(&last).map_or(leb_len, |c| c.used)))
        .filter(|&n| n <= max_bytes)
        .ok_or_else(|| format!("volume larger than {max_bytes} bytes"))?;
    let mut out = Vec::with_capacity(total);
    for lnum in 0..=last {
        match lebs.get(&lnum) {
            Some(c) => {
                let d = b
                    .get(c.data_start..c.data_start + c.used)
                    .ok_or("truncated LEB")?;
                out.extend_from_slice(d);
                // A LEB shorter than the volume's usual size (only the last one, normally).
                if lnum != last && c.used < leb_len {
                    out.resize(out.len() + leb_len - c.used, 0xff);
                }
            }
            None => out.resize(out.len() + leb_len, 0xff),
        }
        if out.len() > max_bytes {
            return Err(format!("volume larger than {max_bytes} bytes"));
        }
    }
    Ok(out)
}

/// The volumes of a UBI image; the String is what was malformed, if anything (partial results kept).
///
/// Volumes are sorted by id. A volume over `max_bytes` is left out and named in the String; a
/// volume in the volume table without any LEB has empty data. Static volumes hold exactly their
/// data (each LEB's `data_size`), dynamic ones whole LEBs.
pub fn ubi_volumes(b: &[u8], max_bytes: usize) -> (Vec<Volume>, Option<String>) {
    let mut notes = Notes::default();
    let Some(peb) = peb_size(b, 0) else {
        return (Vec::new(), Some("not a UBI image".into()));
    };
    let map = scan_pebs(b, peb, &mut notes);
    let names = volume_table(b, map.get(&UBI_LAYOUT_VOL_ID), &mut notes);
    let mut ids: Vec<u32> = map
        .keys()
        .copied()
        .filter(|&v| v != UBI_LAYOUT_VOL_ID)
        .collect();
    ids.extend(names.keys().copied().filter(|v| !map.contains_key(v)));
    ids.sort_unstable();
    let mut vols = Vec::new();
    for id in ids {
        let data = match map.get(&id).map(|l| volume_bytes(b, l, max_bytes)) {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                notes.add(format!("volume {id}: {e}"));
                continue;
            }
            None => Vec::new(),
        };
        let name = names.get(&id).cloned().unwrap_or_else(|| {
            notes.add(format!("volume {id} not in the volume table"));
            String::new()
        });
        vols.push(Volume { id, name, data });
    }
    (vols, notes.into_option())
}
