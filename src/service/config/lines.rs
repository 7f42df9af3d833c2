//! Where in the configuration's text an error is: the line of a key, a table, a byte.

/// 1-based line of byte `at` in `text`.
pub(super) fn line_at(text: &str, at: usize) -> usize {
    text.get(..at).map_or(1, |t| t.matches('\n').count() + 1)
}

/// The line of `key` inside a table spanning `span` (a line `key = …`, else a line holding
/// the word, e.g. a bad value an error quotes), else the table's own line.
pub(super) fn line_of_key(text: &str, span: std::ops::Range<usize>, key: Option<&str>) -> usize {
    if let (Some(k), Some(body)) = (key, text.get(span.clone())) {
        let find = |pred: &dyn Fn(&str) -> bool| {
            let mut at = span.start;
            for l in body.split_inclusive('\n') {
                if pred(l.trim_start()) {
                    return Some(line_at(text, at));
                }
                at += l.len();
            }
            None
        };
        let assigned = |t: &str| t.starts_with(k) && t[k.len()..].trim_start().starts_with('=');
        if let Some(l) = find(&assigned).or_else(|| find(&|t: &str| t.contains(k))) {
            return l;
        }
    }
    line_at(text, span.start)
}

/// The line of a top-level `[name]` table header.
pub(super) fn line_of_table(text: &str, name: &str) -> Option<usize> {
    let mut at = 0;
    for l in text.split_inclusive('\n') {
        let t = l.trim();
        if t == format!("[{name}]") || t.starts_with(&format!("[{name}.")) {
            return Some(line_at(text, at));
        }
        if t.starts_with(name) && t[name.len()..].trim_start().starts_with('=') {
            return Some(line_at(text, at));
        }
        at += l.len();
    }
    None
}

/// The key an error message from serde names (`unknown field `pasword``, `missing field `id``).
pub(super) fn key_in(message: &str) -> Option<&str> {
    let i = message.find('`')?;
    let rest = &message[i + 1..];
    Some(&rest[..rest.find('`')?])
}
