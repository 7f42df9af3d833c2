//! A static reader of Python pickles (PEP 307/3154 opcodes, as CPython's `pickletools`
//! documents them). It never executes anything: it walks the opcode stream, keeping only
//! literals (strings, ints, flat tuples of them, the memo), and recovers `name → shape` pairs
//! from three layouts:
//! - `torch.save`: the parameter name, then a `_rebuild_tensor_v2` call whose first all-integer
//!   tuple is the tensor's size;
//! - NumPy's own pickling: `numpy.core.multiarray._reconstruct`, then a BUILD whose state tuple
//!   holds the shape;
//! - joblib's `NumpyArrayWrapper`: a state dict with `shape` and `dtype`, after whose BUILD the
//!   array's bytes follow *outside* the pickle (after an alignment byte and padding since joblib
//!   0.12), and are skipped by their size (`joblib/numpy_pickle.py`, `write_array`).
//!
//! Arrays are named by position (`#N`), with the dict key above when it is a parameter word
//! (`#3.weights`). No other key, no array content and no other string is kept: pickles may hold
//! people's names (the classes of an identity classifier, the keys of a gallery). Unknown opcodes end the walk with what was found so far.

use super::WeightInfo;
use std::collections::HashMap;

const MAX_OPS: usize = 5_000_000;
const MAX_STACK: usize = 100_000;
/// Memo entries kept; fetches beyond are opaque.
const MAX_MEMO: usize = 200_000;
/// Items kept in a tuple; longer tuples are opaque.
const MAX_TUPLE: usize = 16;
/// Nested pickles (object arrays inside joblib files) followed.
const MAX_DEPTH: usize = 2;

#[derive(Debug, Clone)]
enum Item {
    Mark,
    Int(i64),
    Str(String),
    /// A tuple of at most [`MAX_TUPLE`] flat items (nested tuples become `Shape` when they are
    /// all integers, `Other` otherwise, so memo fetches cannot grow it), or `None`.
    Tuple(Option<Vec<Item>>),
    /// An all-integer tuple inside a tuple.
    Shape(Vec<i64>),
    /// A class or function named by GLOBAL or STACK_GLOBAL.
    Global(String),
    /// A `numpy.dtype` built from its type string (`f4`, `<U10`).
    Dtype(String),
    /// An ndarray being rebuilt by NumPy's reduce, waiting for its state.
    NdArray,
    /// A joblib `NumpyArrayWrapper`, waiting for its state.
    ArrayWrapper,
    /// The state dict of a joblib wrapper.
    WrapperState {
        shape: Vec<i64>,
        dtype: String,
        aligned: bool,
    },
    Other,
}

/// Bytes per element of a NumPy type string (`f4`, `<i8`, `|u1`, `<U10`, `S7`); `None` for
/// objects and what is not understood.
fn itemsize(code: &str) -> Option<u64> {
    let c = code.trim_start_matches(['<', '>', '|', '=']);
    let mut chars = c.chars();
    let kind = chars.next()?;
    let n: u64 = if kind == '?' {
        1
    } else {
        chars.as_str().parse().ok()?
    };
    match kind {
        'U' => n.checked_mul(4),
        'f' | 'i' | 'u' | 'b' | 'c' | 'S' | 'V' | 'm' | 'M' | '?' => Some(n),
        _ => None,
    }
}

/// A value as it may sit in a tuple: flat, so that copies stay small.
fn flat(it: Item) -> Item {
    match it {
        Item::Tuple(Some(v)) => int_tuple(&v).map_or(Item::Other, Item::Shape),
        Item::Tuple(None) | Item::Mark | Item::WrapperState { .. } => Item::Other,
        other => other,
    }
}

fn tuple(items: Vec<Item>) -> Item {
    if items.len() > MAX_TUPLE {
        return Item::Tuple(None);
    }
    Item::Tuple(Some(items.into_iter().map(flat).collect()))
}

/// A joblib wrapper's state from its dict items (key, value, key, value...).
fn wrapper_state(items: &[Item]) -> Option<Item> {
    let (mut shape, mut dtype, mut aligned) = (None, None, false);
    for pair in items.chunks_exact(2) {
        match (&pair[0], &pair[1]) {
            (Item::Str(k), Item::Tuple(Some(v))) if k == "shape" => shape = int_tuple(v),
            (Item::Str(k), Item::Dtype(d)) if k == "dtype" => dtype = Some(d.clone()),
            (Item::Str(k), Item::Int(_)) if k == "numpy_array_alignment_bytes" => aligned = true,
            _ => {}
        }
    }
    Some(Item::WrapperState {
        shape: shape?,
        dtype: dtype?,
        aligned,
    })
}

/// Parameter words a dict key may be kept as (`{'conv1': {'weights': ..}}` gives `#0.weights`).
/// Other keys are never kept: a pickled dict may map people's names or ids to their face
/// embeddings, and nothing of them may reach a report.
const PARAM_WORDS: &[&str] = &[
    "weights",
    "weight",
    "biases",
    "bias",
    "kernel",
    "gamma",
    "beta",
    "alpha",
    "scale",
    "running_mean",
    "running_var",
    "moving_mean",
    "moving_variance",
];

/// The name of the array on top of `stack`: its position among the arrays found, and the dict
/// key right above it when that is a parameter word.
fn array_name(stack: &[Item], arrays: usize) -> String {
    match stack.last() {
        Some(Item::Str(k)) if PARAM_WORDS.contains(&k.as_str()) => format!("#{arrays}.{k}"),
        _ => format!("#{arrays}"),
    }
}

/// Everything a walk recovered.
#[derive(Debug, Default)]
pub struct PickleFacts {
    /// Tensors and arrays found, in stream order, named and shaped (at most
    /// [`super::MAX_WEIGHTS_LISTED`]).
    pub tensors: Vec<WeightInfo>,
    /// Module paths of GLOBAL opcodes (`torch._utils _rebuild_tensor_v2`, `collections OrderedDict`).
    pub globals: Vec<String>,
    /// Whether the walk reached a STOP opcode.
    pub complete: bool,
    /// Class labels of the model: the values of a `names` dict of index → label (how
    /// Ultralytics checkpoints carry theirs: `{0: 'face'}`), at most [`MAX_LABELS`].
    pub labels: Vec<String>,
    /// NumPy arrays found (NumPy's reduce or joblib's wrapper), listed in `tensors` by key path.
    pub arrays: usize,
    /// Byte arrays (joblib, 1-D, one byte per element) that hold a whole file starting with a
    /// zip or HDF5 signature — a Keras model pickled by scikeras — as (offset, length) in the
    /// walked buffer, at most [`MAX_EMBEDDED`].
    pub embedded: Vec<(usize, usize)>,
}

/// Most embedded files remembered.
pub const MAX_EMBEDDED: usize = 8;

/// Most class labels kept.
pub const MAX_LABELS: usize = 1000;

/// Labels from `key`, the dict built on top of it, and its items (index, label, index,
/// label...), when the key is `names`.
fn names_dict(key: Option<&Item>, items: &[Item], facts: &mut PickleFacts) {
    if !matches!(key, Some(Item::Str(k)) if k == "names") || items.len() % 2 != 0 {
        return;
    }
    for pair in items.chunks_exact(2) {
        // The index may come from the memo (BINGET) rather than as a literal.
        if let [Item::Int(_) | Item::Other, Item::Str(label)] = pair {
            if facts.labels.len() < MAX_LABELS {
                facts.labels.push(label.chars().take(64).collect());
            }
        } else {
            return;
        }
    }
}

fn int_tuple(items: &[Item]) -> Option<Vec<i64>> {
    items
        .iter()
        .map(|i| match i {
            Item::Int(v) => Some(*v),
            _ => None,
        })
        .collect()
}

/// Walk up to `max_pickles` consecutive pickles in `b` (legacy `torch.save` writes several).
/// Never fails: a truncated or unknown stream gives what was found before it (`complete` false).
pub fn walk(b: &[u8], max_pickles: usize) -> PickleFacts {
    let mut facts = PickleFacts::default();
    let mut pos = 0;
    for _ in 0..max_pickles {
        match walk_one(b, pos, &mut facts, 0) {
            Some(end) if end > pos => pos = end,
            _ => break,
        }
    }
    facts
}

fn walk_one(b: &[u8], start: usize, facts: &mut PickleFacts, depth: usize) -> Option<usize> {
    let mut stack: Vec<Item> = Vec::new();
    let mut memo: HashMap<u64, Item> = HashMap::new();
    let mut pos = start;
    let mut pending_name: Option<String> = None;
    let mut in_tensor = false;
    let take = |pos: &mut usize, n: usize| -> Option<&[u8]> {
        let s = b.get(*pos..pos.checked_add(n)?)?;
        *pos += n;
        Some(s)
    };
    let le = |s: &[u8]| -> u64 { s.iter().rev().fold(0u64, |a, x| (a << 8) | u64::from(*x)) };
    for _ in 0..MAX_OPS {
        if stack.len() > MAX_STACK {
            return None;
        }
        let op = *b.get(pos)?;
        pos += 1;
        let push = |it: Item, stack: &mut Vec<Item>| stack.push(it);
        match op {
            0x80 => {
                take(&mut pos, 1)?;
            }
            0x95 => {
                take(&mut pos, 8)?;
            }
            b'K' => push(Item::Int(i64::from(take(&mut pos, 1)?[0])), &mut stack),
            b'M' => push(Item::Int(le(take(&mut pos, 2)?) as i64), &mut stack),
            b'J' => push(
                Item::Int(le(take(&mut pos, 4)?) as u32 as i32 as i64),
                &mut stack,
            ),
            0x8a => {
                let n = usize::from(take(&mut pos, 1)?[0]);
                let s = take(&mut pos, n)?;
                push(Item::Int(if n <= 8 { le(s) as i64 } else { 0 }), &mut stack);
            }
            0x8b => {
                let n = le(take(&mut pos, 4)?) as usize;
                take(&mut pos, n)?;
                push(Item::Other, &mut stack);
            }
            b'X' | b'T' | b'B' => {
                let n = le(take(&mut pos, 4)?) as usize;
                let s = take(&mut pos, n)?;
                push(
                    Item::Str(String::from_utf8_lossy(&s[..s.len().min(256)]).into()),
                    &mut stack,
                );
            }
            0x8c | b'U' | b'C' => {
                let n = usize::from(take(&mut pos, 1)?[0]);
                let s = take(&mut pos, n)?;
                push(Item::Str(String::from_utf8_lossy(s).into()), &mut stack);
            }
            0x8d | 0x8e => {
                let n = usize::try_from(le(take(&mut pos, 8)?)).ok()?;
                let s = take(&mut pos, n)?;
                push(
                    Item::Str(String::from_utf8_lossy(&s[..s.len().min(256)]).into()),
                    &mut stack,
                );
            }
            b'q' | b'r' | 0x94 | b'p' => {
                let idx = match op {
                    b'q' => u64::from(take(&mut pos, 1)?[0]),
                    b'r' => le(take(&mut pos, 4)?),
                    b'p' => text_int(b, &mut pos)?,
                    _ => memo.len() as u64,
                };
                if memo.len() < MAX_MEMO {
                    memo.insert(idx, stack.last()?.clone());
                }
            }
            b'h' | b'j' | b'g' => {
                let idx = match op {
                    b'h' => u64::from(take(&mut pos, 1)?[0]),
                    b'j' => le(take(&mut pos, 4)?),
                    _ => text_int(b, &mut pos)?,
                };
                push(memo.get(&idx).cloned().unwrap_or(Item::Other), &mut stack);
            }
            b'G' => {
                take(&mut pos, 8)?;
                push(Item::Other, &mut stack);
            }
            b'c' => {
                let mut parts = Vec::new();
                for _ in 0..2 {
                    let nl = memchr::memchr(b'\n', b.get(pos..)?)?;
                    parts.push(String::from_utf8_lossy(&b[pos..pos + nl.min(200)]).into_owned());
                    pos += nl + 1;
                }
                let g = parts.join(".");
                // Storage classes are named inside a tensor's arguments: only a rebuild starts one.
                if g.contains("_rebuild_tensor") || g.contains("_rebuild_parameter") {
                    in_tensor = true;
                }
                if facts.globals.len() < 256 && !facts.globals.contains(&g) {
                    facts.globals.push(g.clone());
                }
                push(Item::Global(g), &mut stack);
            }
            b'P' => {
                let nl = memchr::memchr(b'\n', b.get(pos..)?)?;
                pos += nl + 1;
                push(Item::Other, &mut stack);
            }
            0x93 => {
                // STACK_GLOBAL: module and name strings on the stack.
                let name = stack.pop();
                let module = stack.pop();
                if let (Some(Item::Str(m)), Some(Item::Str(n))) = (module, name) {
                    let g = format!("{m}.{n}");
                    if g.contains("_rebuild_tensor") || g.contains("_rebuild_parameter") {
                        in_tensor = true;
                    }
                    if facts.globals.len() < 256 && !facts.globals.contains(&g) {
                        facts.globals.push(g.clone());
                    }
                    push(Item::Global(g), &mut stack);
                } else {
                    push(Item::Other, &mut stack);
                }
            }
            b'(' => push(Item::Mark, &mut stack),
            b')' => push(Item::Tuple(Some(Vec::new())), &mut stack),
            b']' | b'}' | b'N' | 0x88 | 0x89 => push(Item::Other, &mut stack),
            b't' => {
                let at = stack.iter().rposition(|i| matches!(i, Item::Mark))?;
                let items = stack.split_off(at + 1);
                stack.pop();
                on_tuple(&items, &mut pending_name, &mut in_tensor, facts);
                stack.push(tuple(items));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if stack.len() < n {
                    return None;
                }
                let items = stack.split_off(stack.len() - n);
                on_tuple(&items, &mut pending_name, &mut in_tensor, facts);
                stack.push(tuple(items));
            }
            b'R' | 0x81 => {
                let args = stack.pop();
                let made = match (stack.pop(), args) {
                    (Some(Item::Global(g)), _) if g.ends_with("NumpyArrayWrapper") => {
                        Item::ArrayWrapper
                    }
                    (Some(Item::Global(g)), _) if g.ends_with("multiarray._reconstruct") => {
                        Item::NdArray
                    }
                    (Some(Item::Global(g)), Some(Item::Tuple(Some(a))))
                        if g.ends_with(".dtype") =>
                    {
                        match a.first() {
                            Some(Item::Str(code)) => Item::Dtype(code.clone()),
                            _ => Item::Other,
                        }
                    }
                    _ => Item::Other,
                };
                push(made, &mut stack);
            }
            b'b' => {
                // BUILD: an array gets its state; joblib's bytes follow the opcode.
                let state = stack.pop()?;
                match (stack.last(), state) {
                    (
                        Some(Item::ArrayWrapper),
                        Item::WrapperState {
                            shape,
                            dtype,
                            aligned,
                        },
                    ) => {
                        match itemsize(&dtype) {
                            Some(size) => {
                                found_array(facts, &stack, &shape);
                                // Object arrays are pickled unpadded; the others after a byte
                                // giving the padding's length.
                                if aligned {
                                    let pad = usize::from(take(&mut pos, 1)?[0]);
                                    take(&mut pos, pad)?;
                                }
                                let n = shape.iter().try_fold(size, |a, &d| {
                                    a.checked_mul(u64::try_from(d).ok()?)
                                })?;
                                let n = usize::try_from(n).ok()?;
                                let at = pos;
                                let data = take(&mut pos, n)?;
                                let file = data.starts_with(b"PK\x03\x04")
                                    || data.starts_with(b"\x89HDF\r\n\x1a\n");
                                if size == 1
                                    && shape.len() == 1
                                    && file
                                    && facts.embedded.len() < MAX_EMBEDDED
                                {
                                    facts.embedded.push((at, n));
                                }
                            }
                            // An object array is a whole pickle of its own.
                            None if dtype
                                .trim_start_matches(['<', '>', '|', '='])
                                .starts_with('O')
                                && depth < MAX_DEPTH =>
                            {
                                // Walked only to find its end: the same array again, and
                                // Python objects (strings, perhaps names) that are not kept.
                                pos = walk_one(b, pos, &mut PickleFacts::default(), depth + 1)?;
                            }
                            None => return None,
                        }
                    }
                    (Some(Item::NdArray), Item::Tuple(Some(t))) => {
                        // (version, shape, dtype, fortran, data); an object array's members
                        // were counted on their own.
                        let objects =
                            matches!(t.get(2), Some(Item::Dtype(d)) if d.starts_with('O'));
                        if let (Some(Item::Shape(shape)), false) = (t.get(1), objects) {
                            found_array(facts, &stack, shape);
                        }
                    }
                    _ => {}
                }
                if let Some(top) = stack.last_mut() {
                    if matches!(top, Item::ArrayWrapper | Item::NdArray) {
                        *top = Item::Other;
                    }
                }
            }
            b'a' | b'0' | b'Q' => {
                stack.pop();
                if op == b'Q' {
                    push(Item::Other, &mut stack);
                }
            }
            b's' => {
                // dict[key] = value: a state-dict entry's key is the parameter name.
                let n = stack.len();
                if n >= 4 {
                    names_dict(stack.get(n - 4), &stack[n - 2..], facts);
                }
                stack.pop();
                stack.pop();
            }
            b'u' | b'e' | b'1' => {
                let at = stack.iter().rposition(|i| matches!(i, Item::Mark))?;
                if op == b'u' && at >= 2 {
                    names_dict(stack.get(at - 2), &stack[at + 1..], facts);
                }
                let state = if op == b'u' {
                    wrapper_state(&stack[at + 1..])
                } else {
                    None
                };
                stack.truncate(at);
                if let (Some(state), Some(dict)) = (state, stack.last_mut()) {
                    *dict = state;
                }
            }
            b'2' => {
                let top = stack.last().cloned()?;
                stack.push(top);
            }
            b'.' => {
                facts.complete = true;
                return Some(pos);
            }
            _ => return None,
        }
        // A string that looks like a parameter name starts a new tensor entry.
        if let Some(Item::Str(s)) = stack.last() {
            if looks_like_param(s) {
                pending_name = Some(s.clone());
            }
        }
    }
    None
}

/// The decimal argument of a text opcode (PUT, GET), up to its newline.
fn text_int(b: &[u8], pos: &mut usize) -> Option<u64> {
    let rest = b.get(*pos..)?;
    let nl = memchr::memchr(b'\n', &rest[..rest.len().min(24)])?;
    let v = std::str::from_utf8(&rest[..nl]).ok()?.trim().parse().ok()?;
    *pos += nl + 1;
    Some(v)
}

/// Count an array (the top of `stack` is the object being built) and list it by name.
fn found_array(facts: &mut PickleFacts, stack: &[Item], shape: &[i64]) {
    if facts.tensors.len() < super::MAX_WEIGHTS_LISTED {
        let name = array_name(&stack[..stack.len().saturating_sub(1)], facts.arrays);
        facts.tensors.push(WeightInfo {
            name,
            shape: shape.to_vec(),
        });
    }
    facts.arrays += 1;
}

/// Whether a dict key looks like a parameter path (`conv1.weight`, `bn.running_var`): the only
/// keys kept, because a pickled dict may be keyed by people's names.
pub(crate) fn looks_like_param(s: &str) -> bool {
    s.len() < 200
        && s.contains('.')
        && !s.contains(' ')
        && (s.ends_with("weight")
            || s.ends_with("bias")
            || s.ends_with("running_mean")
            || s.ends_with("running_var")
            || s.ends_with("alpha")
            || s.ends_with("gamma")
            || s.ends_with("beta"))
}

fn on_tuple(
    items: &[Item],
    pending_name: &mut Option<String>,
    in_tensor: &mut bool,
    facts: &mut PickleFacts,
) {
    // The rebuild global is pickled once and fetched from the memo afterwards, so after the
    // first tensor a parameter name alone says a tensor follows.
    let rebuilds = facts.globals.iter().any(|g| g.contains("_rebuild_"));
    if !(*in_tensor || rebuilds) || pending_name.is_none() {
        return;
    }
    if let Some(shape) = int_tuple(items) {
        if !shape.is_empty() && facts.tensors.len() < super::MAX_WEIGHTS_LISTED {
            facts.tensors.push(WeightInfo {
                name: pending_name.take().unwrap_or_default(),
                shape,
            });
            *in_tensor = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_names_and_shapes_from_a_legacy_state_dict_layout() {
        // X "conv1.weight", c torch._utils _rebuild_tensor_v2, ( ( "storage" ... ) K0 (K32 K3 K3 K3 t ...
        let mut p = vec![0x80, 2, b'}', b'('];
        p.push(b'X');
        p.extend_from_slice(&12u32.to_le_bytes());
        p.extend_from_slice(b"conv1.weight");
        p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n");
        p.push(b'(');
        p.push(b'(');
        p.push(0x8c);
        p.push(7);
        p.extend_from_slice(b"storage");
        p.push(b't');
        p.extend_from_slice(&[b'K', 0]);
        p.extend_from_slice(&[b'(', b'K', 32, b'K', 3, b'K', 3, b'K', 3, b't']);
        p.extend_from_slice(b"tRu.");
        let f = walk(&p, 1);
        assert!(f.complete);
        assert_eq!(f.tensors.len(), 1);
        assert_eq!(f.tensors[0].name, "conv1.weight");
        assert_eq!(f.tensors[0].shape, vec![32, 3, 3, 3]);
        for cut in 0..p.len() {
            let _ = walk(&p[..cut], 2);
        }
    }
}
