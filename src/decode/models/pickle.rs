//! A static reader of Python pickles, for PyTorch state dicts. It never executes anything: it
//! walks the opcode stream, keeping only literals (strings, ints, tuples of them), and recovers
//! `name → shape` pairs from the way `torch.save` lays out tensors (the parameter name, then a
//! `_rebuild_tensor_v2` call whose first all-integer tuple is the tensor's size). Unknown opcodes
//! end the walk with what was found so far.

use super::WeightInfo;

const MAX_OPS: usize = 5_000_000;
const MAX_STACK: usize = 100_000;

#[derive(Debug, Clone)]
enum Item {
    Mark,
    Int(i64),
    Str(String),
    Tuple,
    Other,
}

/// Everything a walk recovered.
#[derive(Debug, Default)]
pub struct PickleFacts {
    pub tensors: Vec<WeightInfo>,
    /// Module paths of GLOBAL opcodes (`torch._utils _rebuild_tensor_v2`, `collections OrderedDict`).
    pub globals: Vec<String>,
    /// Whether the walk reached a STOP opcode.
    pub complete: bool,
    /// Class labels of the model: the values of a `names` dict of index → label (how
    /// Ultralytics checkpoints carry theirs: `{0: 'face'}`), at most [`MAX_LABELS`].
    pub labels: Vec<String>,
}

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
pub fn walk(b: &[u8], max_pickles: usize) -> PickleFacts {
    let mut facts = PickleFacts::default();
    let mut pos = 0;
    for _ in 0..max_pickles {
        match walk_one(b, pos, &mut facts) {
            Some(end) if end > pos => pos = end,
            _ => break,
        }
    }
    facts
}

fn walk_one(b: &[u8], start: usize, facts: &mut PickleFacts) -> Option<usize> {
    let mut stack: Vec<Item> = Vec::new();
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
            b'q' | b'h' => {
                take(&mut pos, 1)?;
                if op == b'h' {
                    push(Item::Other, &mut stack);
                }
            }
            b'r' | b'j' => {
                take(&mut pos, 4)?;
                if op == b'j' {
                    push(Item::Other, &mut stack);
                }
            }
            0x94 => {}
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
                    facts.globals.push(g);
                }
                push(Item::Other, &mut stack);
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
                        facts.globals.push(g);
                    }
                }
                push(Item::Other, &mut stack);
            }
            b'(' => push(Item::Mark, &mut stack),
            b')' => push(Item::Tuple, &mut stack),
            b']' | b'}' | b'N' | 0x88 | 0x89 => push(Item::Other, &mut stack),
            b't' => {
                let at = stack.iter().rposition(|i| matches!(i, Item::Mark))?;
                let items = stack.split_off(at + 1);
                stack.pop();
                on_tuple(&items, &mut pending_name, &mut in_tensor, facts);
                stack.push(Item::Tuple);
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if stack.len() < n {
                    return None;
                }
                let items = stack.split_off(stack.len() - n);
                on_tuple(&items, &mut pending_name, &mut in_tensor, facts);
                stack.push(Item::Tuple);
            }
            b'R' | 0x81 => {
                stack.pop();
                stack.pop();
                push(Item::Other, &mut stack);
            }
            b'b' | b'a' | b'0' | b'Q' => {
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
                stack.truncate(at);
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

fn looks_like_param(s: &str) -> bool {
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
