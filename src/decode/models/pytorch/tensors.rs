//! The tensors of a PyTorch state dict, with their values, read without Python.
//!
//! `torch.save` pickles a dict of parameter name → tensor; each tensor is a call of
//! `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` whose storage is a
//! persistent id `('storage', torch.FloatStorage, key, location, numel)`
//! (`torch/serialization.py`, `_legacy_save` and `_save`). The storages' bytes sit:
//! - in the legacy format, after the pickles: a pickled list of storage keys, then per key an
//!   8-byte little-endian element count and the elements;
//! - in the zip format, in the entry `<archive>/data/<key>`.
//!
//! The pickle is interpreted by a small stack machine that knows only the opcodes `torch.save`
//! writes and builds only strings, integers, tuples, dicts and tensor references: nothing is
//! imported or called. Only parameter names (keys that look like `conv1.weight`; others are
//! named by position, since a dict may be keyed by people's names) and numbers are kept.

use super::super::{f16_to_f32, ModelError};

/// Largest number of elements read over all tensors (256 MiB of float32).
pub const MAX_ELEMENTS: usize = 64 << 20;
const MAX_OPS: usize = 2_000_000;
const MAX_STACK: usize = 100_000;
const MAX_MEMO: usize = 200_000;
/// Most items kept in one tuple, list or dict.
const MAX_ITEMS: usize = 100_000;

/// One tensor of a state dict: its name, dimensions (PyTorch's order) and row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The state dict key (`conv1.weight`).
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Elements in row-major order, widened to f32.
    pub values: Vec<f32>,
}

#[derive(Debug, Clone)]
enum V {
    Mark,
    Int(i64),
    Str(String),
    Tuple(Vec<V>),
    Dict(Vec<(V, V)>),
    Global(String),
    Storage {
        key: String,
        dtype: String,
    },
    Tensor {
        key: String,
        dtype: String,
        offset: usize,
        size: Vec<usize>,
        stride: Vec<usize>,
    },
    /// An instance of a class (NEWOBJ, OBJ): never built.
    Object,
    Other,
}

fn ints(v: &V) -> Option<Vec<usize>> {
    match v {
        V::Tuple(items) => items
            .iter()
            .map(|i| match i {
                V::Int(x) => usize::try_from(*x).ok(),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn bad(what: impl Into<String>) -> ModelError {
    ModelError::Invalid(format!("pytorch: {}", what.into()))
}

/// Interpret one pickle starting at `pos`; returns the object it builds and where it ends.
fn unpickle(b: &[u8], mut pos: usize) -> Result<(V, usize), ModelError> {
    let mut stack: Vec<V> = Vec::new();
    let mut memo: std::collections::HashMap<u64, V> = Default::default();
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], ModelError> {
        let s = b
            .get(*pos..pos.saturating_add(n))
            .ok_or_else(|| ModelError::Truncated(format!("pytorch: pickle at {pos}")))?;
        *pos += n;
        Ok(s)
    };
    let le = |s: &[u8]| s.iter().rev().fold(0u64, |a, x| (a << 8) | u64::from(*x));
    let pop = |stack: &mut Vec<V>| stack.pop().ok_or_else(|| bad("pickle stack underflow"));
    let mark = |stack: &mut Vec<V>| -> Result<Vec<V>, ModelError> {
        let at = stack
            .iter()
            .rposition(|v| matches!(v, V::Mark))
            .ok_or_else(|| bad("pickle MARK missing"))?;
        let items = stack.split_off(at + 1);
        stack.pop();
        Ok(items)
    };
    for _ in 0..MAX_OPS {
        if stack.len() > MAX_STACK {
            return Err(bad("pickle stack too deep"));
        }
        let op = take(&mut pos, 1)?[0];
        match op {
            0x80 => {
                take(&mut pos, 1)?;
            }
            0x95 => {
                take(&mut pos, 8)?;
            }
            b'c' => {
                let mut parts = Vec::new();
                for _ in 0..2 {
                    let rest = b.get(pos..).unwrap_or_default();
                    let nl = memchr::memchr(b'\n', &rest[..rest.len().min(256)])
                        .ok_or_else(|| bad("GLOBAL without newline"))?;
                    parts.push(String::from_utf8_lossy(&rest[..nl]).into_owned());
                    pos += nl + 1;
                }
                stack.push(V::Global(parts.join(".")));
            }
            0x93 => {
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                stack.push(match (module, name) {
                    (V::Str(m), V::Str(n)) => V::Global(format!("{m}.{n}")),
                    _ => V::Other,
                });
            }
            b'q' | b'r' | 0x94 => {
                let idx = match op {
                    b'q' => u64::from(take(&mut pos, 1)?[0]),
                    b'r' => le(take(&mut pos, 4)?),
                    _ => memo.len() as u64,
                };
                if memo.len() < MAX_MEMO {
                    let top = stack.last().ok_or_else(|| bad("PUT on empty stack"))?;
                    memo.insert(idx, top.clone());
                }
            }
            b'h' | b'j' => {
                let idx = if op == b'h' {
                    u64::from(take(&mut pos, 1)?[0])
                } else {
                    le(take(&mut pos, 4)?)
                };
                stack.push(memo.get(&idx).cloned().unwrap_or(V::Other));
            }
            b'(' => stack.push(V::Mark),
            b't' => {
                let items = mark(&mut stack)?;
                stack.push(V::Tuple(items));
            }
            b')' => stack.push(V::Tuple(Vec::new())),
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if stack.len() < n {
                    return Err(bad("pickle stack underflow"));
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(V::Tuple(items));
            }
            b'}' => stack.push(V::Dict(Vec::new())),
            b']' => stack.push(V::Tuple(Vec::new())),
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                if let Some(V::Dict(d)) = stack.last_mut() {
                    if d.len() < MAX_ITEMS {
                        d.push((k, v));
                    }
                }
            }
            b'u' => {
                let items = mark(&mut stack)?;
                if let Some(V::Dict(d)) = stack.last_mut() {
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        if d.len() < MAX_ITEMS {
                            d.push((k, v));
                        }
                    }
                }
            }
            b'a' => {
                let v = pop(&mut stack)?;
                if let Some(V::Tuple(l)) = stack.last_mut() {
                    if l.len() < MAX_ITEMS {
                        l.push(v);
                    }
                }
            }
            b'e' => {
                let items = mark(&mut stack)?;
                if let Some(V::Tuple(l)) = stack.last_mut() {
                    l.extend(items.into_iter().take(MAX_ITEMS.saturating_sub(l.len())));
                }
            }
            b'X' => {
                let n = usize::try_from(le(take(&mut pos, 4)?)).unwrap_or(usize::MAX);
                let s = take(&mut pos, n)?;
                stack.push(V::Str(
                    String::from_utf8_lossy(&s[..s.len().min(1024)]).into(),
                ));
            }
            0x8c => {
                let n = usize::from(take(&mut pos, 1)?[0]);
                let s = take(&mut pos, n)?;
                stack.push(V::Str(String::from_utf8_lossy(s).into()));
            }
            b'K' => stack.push(V::Int(i64::from(take(&mut pos, 1)?[0]))),
            b'M' => stack.push(V::Int(le(take(&mut pos, 2)?) as i64)),
            b'J' => stack.push(V::Int(i64::from(le(take(&mut pos, 4)?) as u32 as i32))),
            0x8a => {
                let n = usize::from(take(&mut pos, 1)?[0]);
                let s = take(&mut pos, n)?;
                stack.push(if n <= 8 {
                    V::Int(le(s) as i64)
                } else {
                    V::Other
                });
            }
            b'G' => {
                take(&mut pos, 8)?;
                stack.push(V::Other);
            }
            b'N' | 0x88 | 0x89 => stack.push(V::Other),
            b'Q' => {
                // BINPERSID: ('storage', storage type, key, location, numel).
                let pid = pop(&mut stack)?;
                stack.push(match pid {
                    V::Tuple(t) => match (t.get(1), t.get(2)) {
                        (Some(V::Global(g)), Some(V::Str(key))) => V::Storage {
                            key: key.clone(),
                            dtype: g.rsplit('.').next().unwrap_or_default().to_string(),
                        },
                        _ => V::Other,
                    },
                    _ => V::Other,
                });
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let f = pop(&mut stack)?;
                let made = match (f, args) {
                    (V::Global(g), V::Tuple(a)) if g.ends_with("._rebuild_tensor_v2") => {
                        match (
                            a.first(),
                            a.get(1),
                            a.get(2).and_then(ints),
                            a.get(3).and_then(ints),
                        ) {
                            (
                                Some(V::Storage { key, dtype }),
                                Some(V::Int(offset)),
                                Some(size),
                                Some(stride),
                            ) if size.len() == stride.len() => V::Tensor {
                                key: key.clone(),
                                dtype: dtype.clone(),
                                offset: usize::try_from(*offset).unwrap_or(usize::MAX),
                                size,
                                stride,
                            },
                            _ => V::Other,
                        }
                    }
                    (V::Global(g), V::Tuple(mut a)) if g.ends_with("._rebuild_parameter") => {
                        if a.is_empty() {
                            V::Other
                        } else {
                            a.swap_remove(0)
                        }
                    }
                    (V::Global(g), _) if g.ends_with("OrderedDict") => V::Dict(Vec::new()),
                    _ => V::Other,
                };
                stack.push(made);
            }
            // NEWOBJ, NEWOBJ_EX, OBJ: an object of a class the file names (a pickled
            // `nn.Module`, an optimizer): opaque, never built.
            0x81 => {
                pop(&mut stack)?;
                pop(&mut stack)?;
                stack.push(V::Object);
            }
            0x92 => {
                for _ in 0..3 {
                    pop(&mut stack)?;
                }
                stack.push(V::Object);
            }
            b'o' => {
                mark(&mut stack)?;
                stack.push(V::Object);
            }
            b'b' => {
                pop(&mut stack)?;
            }
            b'0' => {
                pop(&mut stack)?;
            }
            b'.' => return Ok((pop(&mut stack)?, pos)),
            other => {
                return Err(bad(format!(
                    "pickle opcode 0x{other:02x} at {} (not one torch.save writes)",
                    pos - 1
                )))
            }
        }
    }
    Err(bad("pickle longer than the walk's bound"))
}

fn element_size(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "FloatStorage" => 4,
        "DoubleStorage" => 8,
        "HalfStorage" | "BFloat16Storage" => 2,
        _ => return None,
    })
}

fn element(dtype: &str, s: &[u8]) -> f32 {
    match (dtype, s.len()) {
        ("FloatStorage", 4) => f32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        ("DoubleStorage", 8) => {
            f64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]) as f32
        }
        ("HalfStorage", 2) => f16_to_f32(u16::from_le_bytes([s[0], s[1]])),
        ("BFloat16Storage", 2) => f32::from_bits(u32::from(u16::from_le_bytes([s[0], s[1]])) << 16),
        _ => 0.0,
    }
}

/// Gather a strided view of `storage` into row-major order.
fn gather(
    name: &str,
    dtype: &str,
    storage: &[u8],
    offset: usize,
    size: &[usize],
    stride: &[usize],
) -> Result<Vec<f32>, ModelError> {
    let es = element_size(dtype).ok_or_else(|| bad(format!("{name}: {dtype} is not read")))?;
    let n = size
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| ModelError::TooLarge(format!("pytorch: {name} of shape {size:?}")))?;
    // The last element read must be inside the storage.
    let last = size
        .iter()
        .zip(stride)
        .try_fold(offset, |a, (&d, &s)| {
            a.checked_add(d.saturating_sub(1).checked_mul(s)?)
        })
        .ok_or_else(|| bad(format!("{name}: stride overflows")))?;
    if n > 0 && (last + 1).saturating_mul(es) > storage.len() {
        return Err(bad(format!(
            "{name}: view {size:?} stride {stride:?} from {offset} past its storage of {} elements",
            storage.len() / es
        )));
    }
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; size.len()];
    for _ in 0..n {
        let at: usize = offset + idx.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>();
        out.push(element(dtype, &storage[at * es..at * es + es]));
        for i in (0..size.len()).rev() {
            idx[i] += 1;
            if idx[i] < size[i] {
                break;
            }
            idx[i] = 0;
        }
    }
    Ok(out)
}

/// The state dict's tensors in file order (PyTorch keeps a module's registration order, which
/// for sequential nets is the order layers run). A checkpoint whose top object is not a dict
/// of tensors, but holds one under a key (`state_dict`, `model`), is read through that key.
/// Errors: not a PyTorch checkpoint, an opcode `torch.save` does not write, a storage missing
/// or shorter than a view of it, more than [`MAX_ELEMENTS`] elements.
pub fn state_dict(bytes: &[u8]) -> Result<Vec<Tensor>, ModelError> {
    if super::looks_like_legacy(bytes) {
        // Magic number, protocol version, system info, then the object.
        let mut pos = 0;
        for _ in 0..3 {
            pos = unpickle(bytes, pos)?.1;
        }
        let (obj, end) = unpickle(bytes, pos)?;
        let (keys, mut pos) = unpickle(bytes, end)?;
        let V::Tuple(keys) = keys else {
            return Err(bad("legacy checkpoint without its list of storage keys"));
        };
        let mut storages = std::collections::HashMap::new();
        let mut dtypes = std::collections::HashMap::new();
        collect_dtypes(&obj, &mut dtypes);
        for k in keys {
            let V::Str(k) = k else {
                return Err(bad("a storage key that is not a string"));
            };
            let n = usize::try_from(u64::from_le_bytes(
                bytes
                    .get(pos..pos + 8)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| ModelError::Truncated(format!("pytorch: storage {k}")))?,
            ))
            .unwrap_or(usize::MAX);
            pos += 8;
            let es = dtypes
                .get(&k)
                .and_then(|d: &String| element_size(d))
                .unwrap_or(4);
            let len = n
                .checked_mul(es)
                .filter(|&l| l <= MAX_ELEMENTS * 8)
                .ok_or_else(|| ModelError::TooLarge(format!("pytorch: storage {k} of {n}")))?;
            let data = bytes
                .get(pos..pos + len)
                .ok_or_else(|| ModelError::Truncated(format!("pytorch: storage {k}")))?;
            pos += len;
            storages.insert(k, data);
        }
        return tensors(&obj, &|k| storages.get(k).map(|s| s.to_vec()));
    }
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(bad("neither a legacy checkpoint nor a zip"));
    }
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(format!("zip: {e}")))?;
    let pkl = zip
        .file_names()
        .find(|n| n.ends_with("data.pkl"))
        .map(str::to_string)
        .ok_or_else(|| bad("zip without data.pkl"))?;
    let prefix = pkl.trim_end_matches("data.pkl").to_string();
    let data = super::super::zip_entry(&mut zip, &pkl, 64 << 20, "pytorch")?;
    let (obj, _) = unpickle(&data, 0)?;
    let zip = std::cell::RefCell::new(zip);
    tensors(&obj, &|k| {
        super::super::zip_entry(
            &mut zip.borrow_mut(),
            &format!("{prefix}data/{k}"),
            (MAX_ELEMENTS * 8) as u64,
            "pytorch",
        )
        .ok()
    })
}

fn collect_dtypes(v: &V, out: &mut std::collections::HashMap<String, String>) {
    match v {
        V::Dict(d) => d.iter().for_each(|(_, v)| collect_dtypes(v, out)),
        V::Tensor { key, dtype, .. } => {
            out.insert(key.clone(), dtype.clone());
        }
        _ => {}
    }
}

fn tensors(obj: &V, storage: &dyn Fn(&str) -> Option<Vec<u8>>) -> Result<Vec<Tensor>, ModelError> {
    let V::Dict(entries) = obj else {
        return Err(bad("the checkpoint is not a dict"));
    };
    let is_tensor = |v: &V| matches!(v, V::Tensor { .. });
    // A training checkpoint: the weights are the first dict of tensors under a key
    // (`state_dict`, `model_state`, `net`...).
    if !entries.iter().any(|(_, v)| is_tensor(v)) {
        for (_, v) in entries {
            if let V::Dict(d) = v {
                if d.iter().any(|(_, t)| is_tensor(t)) {
                    return tensors(v, storage);
                }
            }
        }
        if entries.iter().any(|(_, v)| matches!(v, V::Object)) {
            return Err(bad(
                "the checkpoint pickles model objects, not a state dict of tensors (their classes' code would be needed)",
            ));
        }
        return Err(bad("no state dict of tensors in the checkpoint"));
    }
    let mut out = Vec::new();
    let mut total = 0usize;
    let mut cache: std::collections::HashMap<String, Vec<u8>> = Default::default();
    for (k, v) in entries {
        let (
            V::Str(name),
            V::Tensor {
                key,
                dtype,
                offset,
                size,
                stride,
            },
        ) = (k, v)
        else {
            continue;
        };
        // Integer and boolean tensors (a batch norm's `num_batches_tracked`) are counters,
        // not weights.
        if element_size(dtype).is_none() {
            continue;
        }
        total = total.saturating_add(size.iter().product());
        if total > MAX_ELEMENTS {
            return Err(ModelError::TooLarge(format!(
                "pytorch: over {MAX_ELEMENTS} elements"
            )));
        }
        // Only parameter paths are kept, in the result and in errors: a dict of tensors may be
        // keyed by people's names (a pickled gallery of embeddings); other keys are named by
        // position.
        let name = if super::super::pickle::looks_like_param(name) {
            name.clone()
        } else {
            format!("#{}", out.len())
        };
        if !cache.contains_key(key) {
            let s = storage(key).ok_or_else(|| bad(format!("{name}: storage {key} missing")))?;
            cache.insert(key.clone(), s);
        }
        let values = gather(&name, dtype, &cache[key], *offset, size, stride)?;
        out.push(Tensor {
            name,
            shape: size.clone(),
            values,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strided_view_is_gathered_row_major() {
        // A 2 × 3 view stored transposed (stride 1, 2) in a 6-element storage.
        let storage: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let v = gather("w", "FloatStorage", &storage, 0, &[2, 3], &[1, 2]).unwrap();
        assert_eq!(v, vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
        // A view past the storage is refused with its name.
        let e = gather("w", "FloatStorage", &storage, 1, &[2, 3], &[3, 1]).unwrap_err();
        assert!(e.to_string().contains("w: view"), "{e}");
    }

    #[test]
    fn a_pickled_model_object_is_named_as_such() {
        // {"model": <NEWOBJ of a class>}: what Ultralytics checkpoints hold.
        let p = b"\x80\x02}X\x05\x00\x00\x00modelcm\nNet\n)\x81s.";
        let (obj, _) = unpickle(p, 0).unwrap();
        let e = tensors(&obj, &|_| None).unwrap_err().to_string();
        assert!(e.contains("pickles model objects"), "{e}");
    }

    #[test]
    fn unknown_opcodes_and_truncation_are_errors() {
        assert!(unpickle(b"\x80\x02\xff", 0).is_err());
        assert!(unpickle(b"\x80\x02}", 0).is_err());
        assert!(state_dict(b"not a checkpoint").is_err());
    }
}
