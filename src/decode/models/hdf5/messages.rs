//! The messages of an HDF5 object header that model files use, read as "HDF5 File Format
//! Specification Version 3.0" section IV.A.2 lays them out: dataspace (IV.A.2.b), datatype
//! (IV.A.2.d), data layout (IV.A.2.i), attribute (IV.A.2.m, with variable-length strings from
//! global heap collections, III.E), link (IV.A.2.g), and the symbol-table groups of old-style
//! files (III.A.1 version-1 B-trees, III.B symbol-table nodes, III.D local heaps).

use super::*;

impl<'a> Hdf5<'a> {
    /// Dataspace message: the dimensions.
    pub(super) fn dataspace(&self, at: usize) -> Result<Vec<u64>, ModelError> {
        let head = self.bytes(at, 4)?;
        let (version, rank) = (head[0], usize::from(head[1]));
        let dims_at = match version {
            1 => at + 8,
            2 => at + 4,
            v => return Err(invalid(format!("dataspace version {v}"))),
        };
        if rank > 32 {
            return Err(invalid(format!("dataspace of rank {rank}")));
        }
        // Version 2, type 2: a null dataspace (no elements).
        if version == 2 && head[3] == 2 {
            return Ok(vec![0]);
        }
        (0..rank)
            .map(|i| self.length(dims_at + i * self.lengths))
            .collect()
    }

    /// Datatype message.
    pub(super) fn datatype(&self, at: usize) -> Result<Dtype, ModelError> {
        let head = self.bytes(at, 8)?;
        let class = head[0] & 0x0f;
        let bits = head[1];
        let size = le32(head, 4).unwrap_or(0);
        Ok(match class {
            0 => Dtype::Int {
                size,
                signed: bits & 0x08 != 0,
                little: bits & 0x01 == 0,
            },
            1 => Dtype::Float {
                size,
                little: bits & 0x01 == 0,
            },
            3 => Dtype::FixedString { size },
            9 if bits & 0x0f == 1 => Dtype::VarString,
            c => Dtype::Other { class: c, size },
        })
    }

    /// Data-layout message, versions 1–4.
    pub(super) fn layout(&self, at: usize, size: usize) -> Result<Layout, ModelError> {
        let m = self.bytes(at, size)?;
        let version = *m.first().ok_or_else(|| truncated("layout"))?;
        match version {
            0 => Err(invalid("layout version 0")),
            1 | 2 => {
                let rank = usize::from(*m.get(1).ok_or_else(|| truncated("layout"))?);
                let class = *m.get(2).ok_or_else(|| truncated("layout"))?;
                let dims_at = at + 8 + if class == 0 { 0 } else { self.offsets };
                match class {
                    0 => {
                        let len =
                            le32(self.b, dims_at + 4 * rank).ok_or_else(|| truncated("layout"))?;
                        Ok(Layout::Compact {
                            at: dims_at + 4 * rank + 4,
                            len: len as usize,
                        })
                    }
                    1 => {
                        let dims = (0..rank)
                            .map(|i| le32(self.b, dims_at + 4 * i).map(u64::from))
                            .collect::<Option<Vec<u64>>>()
                            .ok_or_else(|| truncated("layout"))?;
                        // Versions 1 and 2 give the block's dimensions, not its length.
                        let len = dims
                            .iter()
                            .try_fold(1u64, |a, &d| a.checked_mul(d))
                            .ok_or_else(|| invalid("layout dimensions"))?;
                        Ok(Layout::Contiguous {
                            at: self.address(at + 8)?,
                            len,
                        })
                    }
                    _ => Ok(Layout::Chunked),
                }
            }
            3 | 4 => match m.get(1) {
                Some(0) => {
                    let len = le16(self.b, at + 2).ok_or_else(|| truncated("layout"))?;
                    Ok(Layout::Compact {
                        at: at + 4,
                        len: usize::from(len),
                    })
                }
                Some(1) => Ok(Layout::Contiguous {
                    at: self.address(at + 2)?,
                    len: self.length(at + 2 + self.offsets)?,
                }),
                Some(2) => Ok(Layout::Chunked),
                _ => Ok(Layout::Other),
            },
            // Later versions (HDF5 2.0 writes 5 for new chunk indexes): the class is still
            // the second byte; only chunked storage is recognised.
            _ => Ok(match m.get(1) {
                Some(2) => Layout::Chunked,
                _ => Layout::Other,
            }),
        }
    }

    /// Attribute message, versions 1–3: name and value.
    pub(super) fn attribute(
        &self,
        at: usize,
        size: usize,
    ) -> Result<(String, AttrValue), ModelError> {
        let m = self.bytes(at, size)?;
        if m.len() < 8 {
            return Err(truncated("attribute"));
        }
        let version = m[0];
        let name_len = usize::from(le16(m, 2).unwrap_or(0));
        let type_len = usize::from(le16(m, 4).unwrap_or(0));
        let space_len = usize::from(le16(m, 6).unwrap_or(0));
        let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
        let mut p = match version {
            1 | 2 => 8,
            3 => 9,
            v => return Err(invalid(format!("attribute version {v}"))),
        };
        let name_bytes = m
            .get(p..p + name_len)
            .ok_or_else(|| truncated("attribute name"))?;
        let name = String::from_utf8_lossy(name_bytes)
            .trim_end_matches('\0')
            .to_string();
        p += pad(name_len);
        let type_at = at + p;
        if p + type_len > m.len() {
            return Err(truncated(format!("attribute {name}")));
        }
        let dtype = self.datatype(type_at)?;
        p += pad(type_len);
        let dims = self.dataspace(at + p)?;
        p += pad(space_len);
        let count = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= MAX_ATTRIBUTE_ELEMENTS)
            .ok_or_else(|| ModelError::TooLarge(format!("hdf5: attribute {name} {dims:?}")))?
            as usize;
        let data = &m[p.min(m.len())..];
        let value = self.values(&dtype, data, count, &name)?;
        Ok((name, value))
    }

    /// `count` elements of `dtype` from `data`.
    pub(super) fn values(
        &self,
        dtype: &Dtype,
        data: &[u8],
        count: usize,
        name: &str,
    ) -> Result<AttrValue, ModelError> {
        let each = usize::try_from(dtype.stored_size(self.offsets)).unwrap_or(usize::MAX);
        let need = each.saturating_mul(count);
        if need > data.len() {
            return Err(truncated(format!("value of {name}")));
        }
        Ok(match dtype {
            Dtype::FixedString { .. } => AttrValue::Strings(
                data[..need]
                    .chunks(each.max(1))
                    .map(|s| {
                        let s = s.split(|&c| c == 0).next().unwrap_or(s);
                        String::from_utf8_lossy(s).trim_end().to_string()
                    })
                    .collect(),
            ),
            Dtype::VarString => {
                let mut v = Vec::with_capacity(count);
                for i in 0..count {
                    let r = i * each;
                    let len = le32(data, r).unwrap_or(0) as usize;
                    let heap = sized_le(data, r + 4, self.offsets);
                    let index = le32(data, r + 4 + self.offsets).unwrap_or(0);
                    let s = match heap {
                        Some(h) if len > 0 => self.global_heap_object(h, index, len)?,
                        _ => Vec::new(),
                    };
                    v.push(String::from_utf8_lossy(&s).to_string());
                }
                AttrValue::Strings(v)
            }
            Dtype::Float {
                size: 4 | 8,
                little: true,
            }
            | Dtype::Int { little: true, .. } => AttrValue::Numbers(
                data[..need]
                    .chunks(each.max(1))
                    .map(|c| number(dtype, c))
                    .collect(),
            ),
            other => AttrValue::Other(format!("{count} values of {other:?}")),
        })
    }

    /// Object `index` of the global heap collection at address `h`, `len` bytes of it.
    pub(super) fn global_heap_object(
        &self,
        h: u64,
        index: u32,
        len: usize,
    ) -> Result<Vec<u8>, ModelError> {
        let p = self.pos(h)?;
        if self.b.get(p..p + 4) != Some(b"GCOL") {
            return Err(invalid(format!("global heap collection at {h}")));
        }
        let size = usize::try_from(self.length(p + 8)?).map_err(|_| invalid("global heap"))?;
        let end = p.saturating_add(size).min(self.b.len());
        let mut at = p + 8 + self.lengths;
        while at + 8 + self.lengths <= end {
            let i = le16(self.b, at).unwrap_or(0);
            let n = usize::try_from(self.length(at + 8)?).map_err(|_| invalid("global heap"))?;
            let data = at + 8 + self.lengths;
            if i == 0 {
                break;
            }
            if u32::from(i) == index {
                return Ok(self.bytes(data, len.min(n))?.to_vec());
            }
            at = data
                .checked_add(n.div_ceil(8) * 8)
                .ok_or_else(|| invalid("global heap"))?;
        }
        Err(invalid(format!("global heap object {index} not found")))
    }

    /// A link message (version 1): a hard link's name and address; soft and external links
    /// are skipped (`None`).
    pub(super) fn link(&self, at: usize, size: usize) -> Result<Option<(String, u64)>, ModelError> {
        let m = self.bytes(at, size)?;
        let flags = *m.get(1).ok_or_else(|| truncated("link"))?;
        let mut p = 2;
        let mut kind = 0;
        if flags & 0x08 != 0 {
            kind = *m.get(p).ok_or_else(|| truncated("link"))?;
            p += 1;
        }
        if flags & 0x04 != 0 {
            p += 8;
        }
        if flags & 0x10 != 0 {
            p += 1;
        }
        let n = 1usize << (flags & 3);
        let name_len = sized_le(m, p, n).ok_or_else(|| truncated("link name"))?;
        p += n;
        let name_len = usize::try_from(name_len).map_err(|_| invalid("link name"))?;
        let name = m
            .get(p..p.saturating_add(name_len))
            .ok_or_else(|| truncated("link name"))?;
        let name = String::from_utf8_lossy(name).to_string();
        p += name_len;
        if kind != 0 {
            return Ok(None);
        }
        Ok(self.address(at + p)?.map(|a| (name, a)))
    }

    /// A symbol-table group: walk its version-1 B-tree to the symbol-table nodes, naming each
    /// entry from the local heap.
    pub(super) fn symbol_table(
        &self,
        btree: u64,
        heap: u64,
        out: &mut Vec<(String, u64)>,
    ) -> Result<(), ModelError> {
        let hp = self.pos(heap)?;
        if self.b.get(hp..hp + 4) != Some(b"HEAP") {
            return Err(invalid(format!("local heap at {heap}")));
        }
        let seg_len = self.length(hp + 8)?;
        let seg = self
            .address(hp + 8 + 2 * self.lengths)?
            .ok_or_else(|| invalid("local heap data"))?;
        let seg_at = self.pos(seg)?;
        let seg_end = usize::try_from(seg_len)
            .ok()
            .and_then(|l| seg_at.checked_add(l))
            .map_or(self.b.len(), |e| e.min(self.b.len()));
        let name_at = |off: u64| -> String {
            let s = usize::try_from(off)
                .ok()
                .and_then(|o| seg_at.checked_add(o))
                .filter(|&s| s < seg_end)
                .map_or(&[][..], |s| &self.b[s..seg_end]);
            let s = s.split(|&c| c == 0).next().unwrap_or(s);
            String::from_utf8_lossy(s).to_string()
        };
        let mut stack = vec![btree];
        let mut nodes = 0;
        let mut visited = HashSet::new();
        // Children pushed reversed, so entries come out in key (name) order.
        while let Some(a) = stack.pop() {
            nodes += 1;
            if nodes > MAX_NODES || !visited.insert(a) {
                return Err(invalid("group B-tree loops or is too large"));
            }
            let p = self.pos(a)?;
            if self.b.get(p..p + 4) == Some(b"SNOD") {
                let count = usize::from(le16(self.b, p + 6).unwrap_or(0));
                let entry = 2 * self.offsets + 24;
                for i in 0..count {
                    let e = p + 8 + i * entry;
                    let name = name_at(
                        self.sized(e, self.offsets)
                            .ok_or_else(|| truncated("symbol"))?,
                    );
                    if let Some(obj) = self.address(e + self.offsets)? {
                        out.push((name, obj));
                    }
                }
                continue;
            }
            if self.b.get(p..p + 4) != Some(b"TREE") {
                return Err(invalid(format!("group B-tree node at {a}")));
            }
            if self.b.get(p + 4) != Some(&0) {
                return Err(invalid("a B-tree of chunks where a group's was expected"));
            }
            let entries = usize::from(le16(self.b, p + 6).unwrap_or(0));
            let first = p + 8 + 2 * self.offsets;
            let step = self.lengths + self.offsets;
            let mut kids = Vec::with_capacity(entries);
            for i in 0..entries {
                let child_at = first + self.lengths + i * step;
                if let Some(c) = self.address(child_at)? {
                    kids.push(c);
                }
            }
            stack.extend(kids.into_iter().rev());
        }
        Ok(())
    }
}
