//! Generic JSON: parsing (first value of the input, trailing bytes ignored) and `json.key`.
//!
//! Two ways through a document. [`scan_keys`] streams it once through serde_json's deserializer
//! without building a tree: keys are borrowed from the body, values nobody reads are skipped,
//! and only the keys the consumers read are kept. [`parse`] builds the tree, which the vendor
//! decoders need; [`crate::decode::events`] builds it only when [`scan_keys`] met a key that a
//! vendor decoder starts from.

use super::{Sink, MAX_DEPTH};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// Parse the first JSON value of `body`. serde_json's own recursion limit (128) protects the
/// stack; invalid or truncated documents yield `None`.
pub fn parse(body: &[u8]) -> Option<Value> {
    let mut it = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    match it.next() {
        Some(Ok(v)) => Some(v),
        _ => None,
    }
}

/// Visit every object key (with its value and depth) down to [`MAX_DEPTH`], in document order.
pub fn walk<'v>(v: &'v Value, f: &mut dyn FnMut(&'v str, &'v Value, usize)) {
    fn go<'v>(v: &'v Value, depth: usize, f: &mut dyn FnMut(&'v str, &'v Value, usize)) {
        if depth >= MAX_DEPTH {
            return;
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    f(k, x, depth);
                    go(x, depth + 1, f);
                }
            }
            Value::Array(a) => {
                for x in a {
                    go(x, depth + 1, f);
                }
            }
            _ => {}
        }
    }
    go(v, 0, f)
}

/// Like [`walk`], with each key's dotted path from the root, array indices left out
/// (`{"Object":{"Age":30}}` gives `Object.Age`). Paths longer than 256 bytes are cut at a
/// key boundary.
pub fn walk_paths<'v>(v: &'v Value, f: &mut dyn FnMut(&str, &'v str, &'v Value)) {
    fn go<'v>(
        v: &'v Value,
        path: &mut String,
        depth: usize,
        f: &mut dyn FnMut(&str, &'v str, &'v Value),
    ) {
        if depth >= MAX_DEPTH {
            return;
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let len = path.len();
                    if path.len() + k.len() < 256 {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(k);
                    }
                    f(path, k, x);
                    go(x, path, depth + 1, f);
                    path.truncate(len);
                }
            }
            Value::Array(a) => {
                for x in a {
                    go(x, path, depth + 1, f);
                }
            }
            _ => {}
        }
    }
    go(v, &mut String::new(), 0, f)
}

/// Every key of the document, bare and as its dotted path (`age` and `faces.age.ageGroup`,
/// indices left out), each distinct one once (the sink drops repeats) — those the consumers
/// read ([`crate::decode::demand`]: by the key's last component).
#[cfg(test)]
pub fn emit_keys(v: &Value, sink: &mut Sink<'_, '_>) {
    walk_paths(v, &mut |path, k, _| {
        if !sink.demand().json_key(k) {
            return;
        }
        sink.emit("json", "key", k);
        if path != k {
            sink.emit("json", "key", path);
        }
    });
}

/// What [`scan_keys`] found in one document.
#[derive(Debug, Default)]
pub struct KeyScan<'a> {
    /// The demanded keys in document order: the bare key, and its dotted path when that
    /// differs from the bare key (the same paths as [`walk_paths`]).
    pub keys: Vec<(Cow<'a, str>, Option<String>)>,
    /// Whether some key made `wants_tree` say yes.
    pub wants_tree: bool,
}

impl KeyScan<'_> {
    /// Emit the keys as `json.key`, bare then dotted, as [`emit_keys`] does.
    pub fn emit(&self, sink: &mut Sink<'_, '_>) {
        for (k, path) in &self.keys {
            sink.emit("json", "key", k);
            if let Some(p) = path {
                sink.emit("json", "key", p);
            }
        }
    }
}

/// Stream the first JSON value of `body` once, without building a tree: every object key down
/// to [`MAX_DEPTH`] (depth as in [`walk`]) is offered to `wanted` (by its bare key) and to
/// `wants_tree` (bare key and depth). `None` when the document is not valid JSON up to the end
/// of its first value (then nothing of it counts, as with [`parse`]); trailing bytes are
/// ignored.
pub fn scan_keys<'a>(
    body: &'a [u8],
    wanted: &dyn Fn(&str) -> bool,
    wants_tree: &dyn Fn(&str, usize) -> bool,
) -> Option<KeyScan<'a>> {
    let mut st = ScanState {
        wanted,
        wants_tree,
        path: String::new(),
        out: KeyScan::default(),
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    Node {
        st: &mut st,
        depth: 0,
    }
    .deserialize(&mut de)
    .ok()?;
    Some(st.out)
}

struct ScanState<'f, 'a> {
    wanted: &'f dyn Fn(&str) -> bool,
    wants_tree: &'f dyn Fn(&str, usize) -> bool,
    path: String,
    out: KeyScan<'a>,
}

/// One value at `depth`: objects and arrays are walked, everything else skipped.
struct Node<'s, 'f, 'a> {
    st: &'s mut ScanState<'f, 'a>,
    depth: usize,
}

impl<'a> DeserializeSeed<'a> for Node<'_, '_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        if self.depth >= MAX_DEPTH {
            d.deserialize_ignored_any(IgnoredAny).map(|_| ())
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'a> Visitor<'a> for Node<'_, '_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<S: SeqAccess<'a>>(self, mut seq: S) -> Result<(), S::Error> {
        let depth = self.depth + 1;
        while seq
            .next_element_seed(Node { st: self.st, depth })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<M: MapAccess<'a>>(self, mut map: M) -> Result<(), M::Error> {
        let st = self.st;
        while let Some(k) = map.next_key_seed(Key)? {
            let len = st.path.len();
            if len + k.len() < 256 {
                if len > 0 {
                    st.path.push('.');
                }
                st.path.push_str(&k);
            }
            if !st.out.wants_tree && (st.wants_tree)(&k, self.depth) {
                st.out.wants_tree = true;
            }
            if (st.wanted)(&k) {
                let path = (st.path != *k).then(|| st.path.clone());
                st.out.keys.push((k, path));
            }
            map.next_value_seed(Node {
                st: &mut *st,
                depth: self.depth + 1,
            })?;
            st.path.truncate(len);
        }
        Ok(())
    }
}

/// An object key, borrowed from the body unless it holds escapes.
struct Key;

impl<'a> DeserializeSeed<'a> for Key {
    type Value = Cow<'a, str>;

    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Cow<'a, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'a> Visitor<'a> for Key {
    type Value = Cow<'a, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'a str) -> Result<Cow<'a, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'a, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// A string or number value as text (for enumerated values such as `type`).
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_first_value_with_trailing_bytes() {
        assert!(parse(b"{\"a\":1}\r\n--myboundary").is_some());
        assert!(parse(b"{\"a\":").is_none());
        assert!(parse(b"").is_none());
    }

    #[test]
    fn walk_is_depth_bounded() {
        let mut s = String::new();
        for _ in 0..100 {
            s.push_str("{\"k\":");
        }
        s.push('1');
        for _ in 0..100 {
            s.push('}');
        }
        let v = parse(s.as_bytes()).unwrap();
        let mut n = 0;
        walk(&v, &mut |_, _, _| n += 1);
        assert_eq!(n, MAX_DEPTH);
    }
}
