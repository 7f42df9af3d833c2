//! HDF5, read only as far as model files need: the group tree, each object's attributes, and
//! each dataset's shape, element type and storage. Follows The HDF Group's "HDF5 File Format
//! Specification Version 3.0" (superblock versions 0–3; object header versions 1 and 2;
//! groups as symbol tables — version-1 B-tree, symbol-table nodes, local heap — or as link
//! messages; dataspace, datatype, data-layout versions 1–4, attribute versions 1–3; variable-
//! length strings from global heap collections). Keras 2 and `tf.keras` write their `.h5`
//! models and weights with h5py in these forms.
//!
//! Not read, each with a reason in [`Hdf5::notes`]: groups in dense storage (fractal heaps,
//! over 8 links in new-style files), chunked dataset contents (the shape and type are still
//! read), shared (committed) datatypes, external files.
//!
//! Every address, count and size comes from the file and is checked: a bad one is an error or
//! a note, never a panic; the walk visits each object once (hard links can loop) and stops at
//! [`MAX_OBJECTS`] objects and [`MAX_DEPTH`] levels.

mod messages;

use super::ModelError;
use crate::decode::bytes::{le16, le32, le64};
use std::collections::HashSet;

/// The signature every HDF5 superblock starts with.
pub const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Most objects (groups and datasets) one walk reads.
pub const MAX_OBJECTS: usize = 100_000;
/// Deepest group nesting a walk follows.
pub const MAX_DEPTH: usize = 64;
/// Most header messages read from one object.
const MAX_MESSAGES: usize = 4096;
/// Most B-tree nodes read for one group.
const MAX_NODES: usize = 65_536;
/// Most elements an attribute's value is read to.
const MAX_ATTRIBUTE_ELEMENTS: u64 = 1 << 20;
/// Most bytes one dataset's contents are read to.
pub const MAX_DATASET_BYTES: u64 = 1 << 30;

fn truncated(what: impl std::fmt::Display) -> ModelError {
    ModelError::Truncated(format!("hdf5: {what}"))
}

fn invalid(what: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid(format!("hdf5: {what}"))
}

/// An element type (datatype message, class per the specification's section IV.A.2.d).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dtype {
    /// IEEE floating point of `size` bytes (2, 4 or 8), little-endian or not.
    Float {
        /// Bytes per element.
        size: u32,
        /// Little-endian byte order.
        little: bool,
    },
    /// Integers of `size` bytes.
    Int {
        /// Bytes per element.
        size: u32,
        /// Two's-complement signed.
        signed: bool,
        /// Little-endian byte order.
        little: bool,
    },
    /// Fixed-length strings of `size` bytes (NUL- or space-padded).
    FixedString {
        /// Bytes per string.
        size: u32,
    },
    /// Variable-length strings, each a global-heap reference.
    VarString,
    /// Any other class (compound, enum, array, reference…), by its class number.
    Other {
        /// The datatype class (0–10).
        class: u8,
        /// Bytes per element.
        size: u32,
    },
}

impl Dtype {
    /// Bytes per element as stored in a dataset or attribute (variable-length: the reference).
    fn stored_size(&self, offsets: usize) -> u64 {
        match self {
            Dtype::Float { size, .. }
            | Dtype::Int { size, .. }
            | Dtype::FixedString { size }
            | Dtype::Other { size, .. } => u64::from(*size),
            Dtype::VarString => 4 + offsets as u64 + 4,
        }
    }
}

/// Where a dataset's elements are (data-layout message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// In the object header: a byte range of the file.
    Compact {
        /// Start in the file.
        at: usize,
        /// Length in bytes.
        len: usize,
    },
    /// One block of the file (`None`: never written, all fill value).
    Contiguous {
        /// Address (file offset), `None` for the undefined address.
        at: Option<u64>,
        /// Length in bytes.
        len: u64,
    },
    /// In chunks (not read).
    Chunked,
    /// Another layout class (virtual) or version.
    Other,
}

/// A value read from an attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// Strings (fixed or variable length), one per element.
    Strings(Vec<String>),
    /// Numbers, one per element.
    Numbers(Vec<f64>),
    /// A value of a type not read, described.
    Other(String),
}

impl AttrValue {
    /// The first string, for a scalar string attribute.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Strings(s) => s.first().map(String::as_str),
            _ => None,
        }
    }
}

/// A dataset's shape, element type and storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Dimensions (empty for a scalar).
    pub shape: Vec<u64>,
    /// Element type.
    pub dtype: Dtype,
    /// Where the elements are.
    pub layout: Layout,
}

/// One object of the tree: its path from the root (`a/b/c`, the root is `""`), its
/// attributes, and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Path from the root, `/`-separated, no leading slash.
    pub path: String,
    /// Attributes in header order: name and value.
    pub attributes: Vec<(String, AttrValue)>,
    /// A dataset's description, `None` for a group (or an object of another kind).
    pub dataset: Option<Dataset>,
}

impl Object {
    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

/// An HDF5 file opened over its bytes: the superblock read, the root found.
#[derive(Debug)]
pub struct Hdf5<'a> {
    b: &'a [u8],
    /// Where the superblock starts (after a user block): addresses are relative to it.
    base: usize,
    /// Size of offsets (addresses), bytes.
    offsets: usize,
    /// Size of lengths, bytes.
    lengths: usize,
    root: u64,
}

/// A parsed object header: its messages as (type, flags, data range).
struct Header {
    messages: Vec<(u16, u8, usize, usize)>,
}

impl<'a> Hdf5<'a> {
    /// Find the superblock (at 0, 512, 1024, … as the specification places it after a user
    /// block) and read it. Errors: no signature, an unknown superblock version, sizes of
    /// offsets or lengths other than 2, 4 or 8.
    pub fn open(b: &'a [u8]) -> Result<Hdf5<'a>, ModelError> {
        let mut base = 0usize;
        while !b.get(base..).is_some_and(|s| s.starts_with(SIGNATURE)) {
            base = if base == 0 { 512 } else { base * 2 };
            if base >= b.len() {
                return Err(invalid("no superblock signature"));
            }
        }
        let byte = |at: usize| {
            b.get(base + at)
                .copied()
                .ok_or_else(|| truncated("superblock"))
        };
        let version = byte(8)?;
        let (offsets, lengths, root_at) = match version {
            0 | 1 => {
                let (o, l) = (usize::from(byte(13)?), usize::from(byte(14)?));
                // Base, free-space, end-of-file and driver addresses, then the root's symbol
                // table entry: link name offset, then the object header address.
                let entry = if version == 0 { 24 } else { 28 } + 4 * o;
                (o, l, entry + o)
            }
            2 | 3 => {
                let (o, l) = (usize::from(byte(9)?), usize::from(byte(10)?));
                // Base, superblock extension, end of file, then the root object header.
                (o, l, 12 + 3 * o)
            }
            v => {
                return Err(ModelError::Unsupported(format!(
                    "hdf5: superblock version {v}"
                )))
            }
        };
        for (what, n) in [("offsets", offsets), ("lengths", lengths)] {
            if !matches!(n, 2 | 4 | 8) {
                return Err(invalid(format!("size of {what} {n}")));
            }
        }
        let mut f = Hdf5 {
            b,
            base,
            offsets,
            lengths,
            root: 0,
        };
        f.root = f
            .sized(base + root_at, offsets)
            .ok_or_else(|| truncated("superblock root address"))?;
        Ok(f)
    }

    /// An unsigned integer of `n` (2, 4 or 8) bytes at file position `at`.
    fn sized(&self, at: usize, n: usize) -> Option<u64> {
        sized_le(self.b, at, n)
    }

    /// An address at `at`: `Ok(None)` for the undefined address (all ones).
    fn address(&self, at: usize) -> Result<Option<u64>, ModelError> {
        let v = self
            .sized(at, self.offsets)
            .ok_or_else(|| truncated(format!("address at {at}")))?;
        let undefined = if self.offsets == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * self.offsets)) - 1
        };
        Ok((v != undefined).then_some(v))
    }

    fn length(&self, at: usize) -> Result<u64, ModelError> {
        self.sized(at, self.lengths)
            .ok_or_else(|| truncated(format!("length at {at}")))
    }

    /// A file position for address `a` (relative to the superblock), checked against the file.
    fn pos(&self, a: u64) -> Result<usize, ModelError> {
        usize::try_from(a)
            .ok()
            .and_then(|a| a.checked_add(self.base))
            .filter(|&p| p < self.b.len())
            .ok_or_else(|| truncated(format!("address {a} past the end of the file")))
    }

    fn bytes(&self, at: usize, len: usize) -> Result<&'a [u8], ModelError> {
        at.checked_add(len)
            .and_then(|end| self.b.get(at..end))
            .ok_or_else(|| truncated(format!("{len} bytes at {at}")))
    }

    /// Read the object header at address `a`: its messages, following continuations.
    fn header(&self, a: u64) -> Result<Header, ModelError> {
        let p = self.pos(a)?;
        let mut messages = Vec::new();
        // Message blocks still to read: (start, end) of their messages.
        let mut blocks: Vec<(usize, usize)> = Vec::new();
        let v2 = self.b.get(p..p + 4) == Some(b"OHDR");
        let mut creation_order = false;
        if v2 {
            let flags = *self
                .b
                .get(p + 5)
                .ok_or_else(|| truncated("object header"))?;
            let mut at = p + 6;
            if flags & 0x20 != 0 {
                at += 16;
            }
            if flags & 0x10 != 0 {
                at += 4;
            }
            let n = 1usize << (flags & 3);
            let size = sized_le(self.b, at, n).ok_or_else(|| truncated("object header size"))?;
            at += n;
            creation_order = flags & 0x04 != 0;
            let end = at
                .checked_add(usize::try_from(size).map_err(|_| invalid("header size"))?)
                .ok_or_else(|| invalid("header size"))?;
            blocks.push((at, end));
        } else {
            match self.b.get(p) {
                Some(1) => {}
                Some(v) => return Err(invalid(format!("object header version {v} at {a}"))),
                None => return Err(truncated("object header")),
            }
            let size = le32(self.b, p + 8).ok_or_else(|| truncated("object header"))?;
            let start = p + 16;
            blocks.push((start, start.saturating_add(size as usize)));
        }
        let mut seen_blocks = 0usize;
        while let Some((start, end)) = blocks.pop() {
            seen_blocks += 1;
            if seen_blocks > 1024 || end > self.b.len() {
                return Err(truncated(format!("object header at {a}")));
            }
            let mut at = start;
            loop {
                if messages.len() >= MAX_MESSAGES {
                    return Err(ModelError::TooLarge(format!(
                        "hdf5: over {MAX_MESSAGES} messages in the object header at {a}"
                    )));
                }
                let (ty, size, flags, data) = if v2 {
                    // Type, size, flags, [creation order]; a gap shorter than a message's
                    // prefix ends the block.
                    let prefix = 4 + if creation_order { 2 } else { 0 };
                    if at + prefix > end {
                        break;
                    }
                    let ty = u16::from(self.b[at]);
                    let size = usize::from(le16(self.b, at + 1).unwrap_or(0));
                    (ty, size, self.b[at + 3], at + prefix)
                } else {
                    if at + 8 > end {
                        break;
                    }
                    let ty = le16(self.b, at).unwrap_or(0);
                    let size = usize::from(le16(self.b, at + 2).unwrap_or(0));
                    (ty, size, self.b[at + 4], at + 8)
                };
                if data + size > end {
                    return Err(truncated(format!(
                        "message of type {ty} in the object header at {a}"
                    )));
                }
                if ty == 0x10 {
                    // Continuation: address and length of another block.
                    let to = self.address(data)?.ok_or_else(|| invalid("continuation"))?;
                    let len = self.length(data + self.offsets)?;
                    let s = self.pos(to)?;
                    let len = usize::try_from(len).map_err(|_| invalid("continuation"))?;
                    let e = s.checked_add(len).ok_or_else(|| invalid("continuation"))?;
                    if v2 {
                        if self.b.get(s..s + 4) != Some(b"OCHK") {
                            return Err(invalid(format!("continuation block at {to}")));
                        }
                        // Signature first, checksum last.
                        blocks.push((s + 4, e.saturating_sub(4)));
                    } else {
                        blocks.push((s, e));
                    }
                } else {
                    messages.push((ty, flags, data, size));
                }
                at = data + size;
            }
        }
        Ok(Header { messages })
    }

    /// Walk the tree from the root: every group and dataset once, in the order the file lists
    /// them (symbol tables sort by name). Things not read go to `notes`. Errors: a root that
    /// cannot be read; a bad object deeper down becomes a note.
    pub fn objects(&self, notes: &mut Vec<String>) -> Result<Vec<Object>, ModelError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(self.root, String::new(), 0usize)];
        let mut first = true;
        while let Some((addr, path, depth)) = stack.pop() {
            if out.len() >= MAX_OBJECTS {
                notes.push(format!("hdf5: stopped after {MAX_OBJECTS} objects"));
                break;
            }
            if !seen.insert(addr) {
                continue;
            }
            let read = self.object(addr, &path, notes);
            let (object, children) = match read {
                Ok(r) => r,
                Err(e) if first => return Err(e),
                Err(e) => {
                    notes.push(format!("hdf5: object {path}: {e}"));
                    continue;
                }
            };
            first = false;
            out.push(object);
            if depth >= MAX_DEPTH {
                if !children.is_empty() {
                    notes.push(format!("hdf5: {path} nested past {MAX_DEPTH} levels"));
                }
                continue;
            }
            // Reversed onto the stack, so the walk goes in the file's order.
            for (name, child) in children.into_iter().rev() {
                let p = if path.is_empty() {
                    name
                } else {
                    format!("{path}/{name}")
                };
                stack.push((child, p, depth + 1));
            }
        }
        Ok(out)
    }

    /// One object: attributes, dataset description, and its children (name, address).
    fn object(
        &self,
        addr: u64,
        path: &str,
        notes: &mut Vec<String>,
    ) -> Result<(Object, Vec<(String, u64)>), ModelError> {
        let h = self.header(addr)?;
        let mut object = Object {
            path: path.to_string(),
            attributes: Vec::new(),
            dataset: None,
        };
        let (mut shape, mut dtype, mut layout) = (None, None, None);
        let mut children = Vec::new();
        for &(ty, flags, at, size) in &h.messages {
            let shared = flags & 0x02 != 0;
            match ty {
                0x01 if !shared => shape = Some(self.dataspace(at)?),
                0x03 if !shared => dtype = Some(self.datatype(at)?),
                0x03 => {
                    dtype = Some(Dtype::Other {
                        class: 255,
                        size: 0,
                    });
                    notes.push(format!("hdf5: {path}: a shared datatype, not read"));
                }
                0x08 => layout = Some(self.layout(at, size)?),
                0x0C => match self.attribute(at, size) {
                    Ok(a) => object.attributes.push(a),
                    Err(e) => notes.push(format!("hdf5: {path}: an attribute: {e}")),
                },
                0x11 => {
                    let btree = self.address(at)?;
                    let heap = self.address(at + self.offsets)?;
                    if let (Some(t), Some(h)) = (btree, heap) {
                        self.symbol_table(t, h, &mut children)?;
                    }
                }
                0x06 => {
                    if let Some(link) = self.link(at, size)? {
                        children.push(link);
                    }
                }
                0x02 => {
                    // Link info: a fractal heap address means dense storage.
                    let flags = *self.b.get(at + 1).ok_or_else(|| truncated("link info"))?;
                    let heap_at = at + 2 + if flags & 1 != 0 { 8 } else { 0 };
                    if self.address(heap_at)?.is_some() {
                        notes.push(format!(
                            "hdf5: {} keeps its links in dense storage (a fractal heap), not read",
                            if path.is_empty() {
                                "the root group"
                            } else {
                                path
                            }
                        ));
                    }
                }
                _ => {}
            }
        }
        if let (Some(shape), Some(dtype)) = (shape, dtype) {
            object.dataset = Some(Dataset {
                shape,
                dtype,
                layout: layout.unwrap_or(Layout::Other),
            });
        }
        Ok((object, children))
    }

    /// A dataset's elements as `f32` (from 2-, 4- or 8-byte little-endian floats, or integers).
    /// Errors: chunked or other storage, too large, or past the end of the file.
    pub fn read_f32(&self, d: &Dataset) -> Result<Vec<f32>, ModelError> {
        let count = d
            .shape
            .iter()
            .try_fold(1u64, |a, &x| a.checked_mul(x))
            .ok_or_else(|| invalid("dataset shape"))?;
        let each = d.dtype.stored_size(self.offsets);
        let need = count
            .checked_mul(each)
            .filter(|&n| n <= MAX_DATASET_BYTES)
            .ok_or_else(|| ModelError::TooLarge(format!("hdf5: dataset {:?}", d.shape)))?
            as usize;
        let data = match d.layout {
            Layout::Compact { at, len } => self.bytes(at, len.min(need))?,
            Layout::Contiguous { at: Some(a), len } => {
                if len < need as u64 {
                    return Err(invalid("dataset shorter than its shape"));
                }
                self.bytes(self.pos(a)?, need)?
            }
            Layout::Contiguous { at: None, .. } => return Ok(vec![0.0; count as usize]),
            Layout::Chunked => {
                return Err(ModelError::Unsupported(
                    "hdf5: chunked dataset contents".into(),
                ))
            }
            Layout::Other => return Err(ModelError::Unsupported("hdf5: dataset layout".into())),
        };
        if data.len() < need {
            return Err(truncated("dataset"));
        }
        match d.dtype {
            Dtype::Float {
                size: 2,
                little: true,
            } => Ok(data
                .chunks_exact(2)
                .map(|c| super::f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect()),
            Dtype::Float { little: true, .. } | Dtype::Int { little: true, .. } => Ok(data
                .chunks_exact(each as usize)
                .map(|c| number(&d.dtype, c) as f32)
                .collect()),
            ref t => Err(ModelError::Unsupported(format!(
                "hdf5: dataset elements of {t:?}"
            ))),
        }
    }
}

/// A little-endian unsigned integer of `n` (1, 2, 4 or 8) bytes at `at` of `b`.
fn sized_le(b: &[u8], at: usize, n: usize) -> Option<u64> {
    match n {
        1 => b.get(at).map(|&x| u64::from(x)),
        2 => le16(b, at).map(u64::from),
        4 => le32(b, at).map(u64::from),
        8 => le64(b, at),
        _ => None,
    }
}

/// One little-endian number of `dtype` from `c` (exactly its size).
fn number(dtype: &Dtype, c: &[u8]) -> f64 {
    match (dtype, c.len()) {
        (Dtype::Float { .. }, 4) => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        (Dtype::Float { .. }, 8) => le64(c, 0).map_or(f64::NAN, f64::from_bits),
        (Dtype::Int { signed, .. }, n @ (1 | 2 | 4 | 8)) => {
            let mut v = [0u8; 8];
            v[..n].copy_from_slice(c);
            let u = u64::from_le_bytes(v);
            if *signed {
                let shift = 64 - 8 * n as u32;
                (((u << shift) as i64) >> shift) as f64
            } else {
                u as f64
            }
        }
        _ => f64::NAN,
    }
}
