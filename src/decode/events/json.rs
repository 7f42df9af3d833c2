//! Generic JSON: parsing (first value of the input, trailing bytes ignored) and `json.key`.

use super::{Sink, MAX_DEPTH};
use serde_json::Value;

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
