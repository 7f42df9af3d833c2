//! U-Boot FIT images (Flattened Image Tree): a flattened device tree (Devicetree Specification
//! v0.4 §5: big-endian header with magic `0xD00DFEED`, a structure block of tokens and a
//! strings block) whose `/images` node holds one child per image — kernel, ramdisk, device
//! trees, firmware blobs — with its bytes in a `data` property, or outside the tree at
//! `data-position` (absolute) or `data-offset` (after the tree) with `data-size`, and a
//! `compression` property (`none`, `gzip`, `bzip2`, `lzma`, `lz4`, `zstd`). U-Boot
//! `doc/usage/fit/source_file_format.rst` describes the layout. Read in place; a malformed
//! tree is reported with what was read before it.

use crate::decode::bytes::be32;

/// FDT structure-block tokens.
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

/// Whether `b` starts with a device tree blob that has an `/images` node name in its strings
/// or structure (a FIT, not a plain device tree).
pub fn is_fit(b: &[u8]) -> bool {
    if b.get(..4) != Some(&[0xd0, 0x0d, 0xfe, 0xed]) {
        return false;
    }
    let total = be32(b, 4).unwrap_or(0) as usize;
    let head = &b[..total.min(b.len()).min(1 << 16)];
    memchr::memmem::find(head, b"images\0").is_some()
}

/// Where a FIT starting at `start` ends inside a larger blob: after its tree (`totalsize`) or
/// after the last image stored outside it (`mkimage -E`), whichever is later. `None` when
/// `start` is not a FIT.
pub fn extent(b: &[u8], start: usize) -> Option<usize> {
    let rest = b.get(start..)?;
    if !is_fit(rest) {
        return None;
    }
    let total = be32(rest, 4)? as usize;
    let (images, _) = images(rest);
    let base = rest.as_ptr() as usize;
    let data_end = images
        .iter()
        .map(|i| i.data.as_ptr() as usize - base + i.data.len())
        .max()
        .unwrap_or(0);
    let end = start.checked_add(total.max(data_end))?;
    (total >= 40 && end <= b.len()).then_some(end)
}

/// One image of a FIT: its node name, compression and bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Image<'a> {
    /// The node name under `/images` (`kernel-1`, `ramdisk`...), made safe for a path.
    pub name: String,
    /// The `compression` property (`none` when absent).
    pub compression: String,
    /// The image's bytes as stored.
    pub data: &'a [u8],
}

#[derive(Default)]
struct Props<'a> {
    data: Option<&'a [u8]>,
    position: Option<usize>,
    offset: Option<usize>,
    size: Option<usize>,
    compression: Option<String>,
}

/// The images of a FIT, and what was malformed, if anything.
pub fn images(b: &[u8]) -> (Vec<Image<'_>>, Option<String>) {
    let mut out = Vec::new();
    let bad = |m: String| Some(format!("FIT: {m}"));
    let (Some(total), Some(off_struct), Some(off_strings), Some(size_struct)) =
        (be32(b, 4), be32(b, 8), be32(b, 12), be32(b, 36))
    else {
        return (out, bad("header of fewer than 40 bytes".into()));
    };
    let (total, off_struct, off_strings) =
        (total as usize, off_struct as usize, off_strings as usize);
    let Some(structure) = b.get(off_struct..off_struct.saturating_add(size_struct as usize)) else {
        return (
            out,
            bad(format!("structure block outside the {} bytes", b.len())),
        );
    };
    let strings = b.get(off_strings..).unwrap_or(&[]);
    let name_at = |off: usize| -> Option<&str> {
        let s = strings.get(off..)?;
        std::str::from_utf8(&s[..s.iter().position(|c| *c == 0)?]).ok()
    };
    let mut path: Vec<String> = Vec::new();
    let mut props: Vec<Props> = Vec::new();
    let mut at = 0usize;
    let align = |n: usize| n.div_ceil(4) * 4;
    loop {
        let Some(token) = be32(structure, at) else {
            return (out, bad("structure block ends without END".into()));
        };
        at += 4;
        match token {
            BEGIN_NODE => {
                let rest = structure.get(at..).unwrap_or(&[]);
                let Some(len) = rest.iter().position(|c| *c == 0) else {
                    return (out, bad("node name runs past the structure block".into()));
                };
                let name: String = String::from_utf8_lossy(&rest[..len])
                    .chars()
                    .map(|c| if c == '/' || c.is_control() { '_' } else { c })
                    .collect();
                at += align(len + 1);
                if path.len() >= 32 {
                    return (out, bad("nodes nested deeper than 32".into()));
                }
                path.push(name);
                props.push(Props::default());
            }
            END_NODE => {
                let (Some(name), Some(p)) = (path.pop(), props.pop()) else {
                    return (out, bad("END_NODE without a node".into()));
                };
                // /images/<name>: depth 3 counting the root's empty name.
                if path.len() == 2 && path[1] == "images" {
                    let data = p.data.or_else(|| {
                        let size = p.size?;
                        let start = p.position.or(p.offset.map(|o| align(total) + o))?;
                        b.get(start..start.checked_add(size)?)
                    });
                    match data {
                        Some(data) => out.push(Image {
                            name,
                            compression: p.compression.unwrap_or_else(|| "none".into()),
                            data,
                        }),
                        None => {
                            return (
                                out,
                                bad(format!("image {name}: its data is not in the file")),
                            )
                        }
                    }
                }
                if path.is_empty() {
                    return (out, None);
                }
            }
            PROP => {
                let (Some(len), Some(nameoff)) = (be32(structure, at), be32(structure, at + 4))
                else {
                    return (out, bad("property header past the structure block".into()));
                };
                let (len, nameoff) = (len as usize, nameoff as usize);
                let Some(value) = structure.get(at + 8..(at + 8).saturating_add(len)) else {
                    return (out, bad("property value past the structure block".into()));
                };
                at += 8 + align(len);
                let (Some(p), Some(name)) = (props.last_mut(), name_at(nameoff)) else {
                    continue;
                };
                let int = || match value.len() {
                    4 => be32(value, 0).map(|v| v as usize),
                    8 => Some(u64::from_be_bytes(value.try_into().ok()?) as usize),
                    _ => None,
                };
                match name {
                    "data" => p.data = Some(value),
                    "data-position" => p.position = int(),
                    "data-offset" => p.offset = int(),
                    "data-size" => p.size = int(),
                    "compression" => {
                        p.compression = Some(
                            String::from_utf8_lossy(value)
                                .trim_end_matches('\0')
                                .to_ascii_lowercase(),
                        )
                    }
                    _ => {}
                }
            }
            NOP => {}
            END => return (out, None),
            t => {
                return (
                    out,
                    bad(format!("unknown token {t:#x} at {}", off_struct + at - 4)),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FIT with one embedded image and one stored after the tree (`mkimage -E` style).
    fn fit() -> Vec<u8> {
        let strings = b"data\0compression\0data-offset\0data-size\0";
        let mut s = Vec::new();
        let word = |s: &mut Vec<u8>, v: u32| s.extend_from_slice(&v.to_be_bytes());
        let node = |s: &mut Vec<u8>, name: &str| {
            word(s, BEGIN_NODE);
            s.extend_from_slice(name.as_bytes());
            s.push(0);
            while s.len() % 4 != 0 {
                s.push(0);
            }
        };
        let prop = |s: &mut Vec<u8>, off: u32, v: &[u8]| {
            word(s, PROP);
            word(s, v.len() as u32);
            word(s, off);
            s.extend_from_slice(v);
            while s.len() % 4 != 0 {
                s.push(0);
            }
        };
        node(&mut s, "");
        node(&mut s, "images");
        node(&mut s, "ramdisk");
        prop(&mut s, 0, b"hello ramdisk");
        prop(&mut s, 5, b"none\0");
        word(&mut s, END_NODE);
        node(&mut s, "model/blob");
        prop(&mut s, 17, &0u32.to_be_bytes());
        prop(&mut s, 29, &6u32.to_be_bytes());
        prop(&mut s, 5, b"gzip\0");
        word(&mut s, END_NODE);
        word(&mut s, END_NODE);
        word(&mut s, END_NODE);
        word(&mut s, END);
        let off_struct = 40u32;
        let off_strings = off_struct + s.len() as u32;
        let total = off_strings + strings.len() as u32;
        let mut b = Vec::new();
        for v in [
            0xd00d_feed,
            total,
            off_struct,
            off_strings,
            0,
            17,
            16,
            0,
            strings.len() as u32,
            s.len() as u32,
        ] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend(&s);
        b.extend(strings);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b.extend(b"extern");
        b
    }

    #[test]
    fn embedded_and_external_images_are_found() {
        let b = fit();
        assert!(is_fit(&b));
        let (imgs, err) = images(&b);
        assert_eq!(err, None);
        assert_eq!(imgs.len(), 2);
        assert_eq!(
            (imgs[0].name.as_str(), imgs[0].data),
            ("ramdisk", &b"hello ramdisk"[..])
        );
        assert_eq!(imgs[1].name, "model_blob");
        assert_eq!(
            (imgs[1].compression.as_str(), imgs[1].data),
            ("gzip", &b"extern"[..])
        );
        // Truncated: what was read before the damage, and the damage named.
        let (_, err) = images(&b[..100]);
        assert!(err.is_some());
    }
}
