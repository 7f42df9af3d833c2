//! What a check reads from a device's answer: a path into a JSON, XML or `key=value` document,
//! reduced to one number. Only numbers leave this module (and, for captures, short tokens of a
//! fixed alphabet): a name, a picture or an embedding in the answer is read over, never kept.
//!
//! Path languages (one per document kind, as the check file names it):
//! - `json = "a.b[].c"`: dot-separated keys; `[]` after a key walks the elements of that array,
//!   `*` walks the values of an object; `"."` is the whole document.
//! - `xml = "A/B"` or `"A/B@attr"`: local element names (namespace prefixes ignored), matched as
//!   the end of the element path, so `isSupportFaceLib` finds the element at any depth and
//!   `FDLibBaseCfgList/FDLibBaseCfg` only under its list; `@attr` takes an attribute.
//! - `kv = "GroupList[*].groupSize"`: Dahua CGI answers, one `key=value` per line; `[*]` stands
//!   for any index; keys compare ASCII case-insensitively.

use serde::Deserialize;

/// How the matched nodes become one number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduce {
    /// How many nodes matched (libraries, groups, rules).
    #[default]
    Count,
    /// The sum of the nodes' numeric values (record counts); non-numbers add nothing.
    Sum,
    /// How many nodes are the boolean `true` (or the text `true`, any case).
    True,
    /// How many object keys the nodes hold (a map of people to pictures is counted, never
    /// read).
    Keys,
}

/// Where in an answer to look, and how to reduce what is found (`extract = { ... }`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extract {
    /// Path into a JSON answer.
    pub json: Option<String>,
    /// Path into an XML answer.
    pub xml: Option<String>,
    /// Key pattern in a `key=value` answer.
    pub kv: Option<String>,
    /// How matched nodes become one number.
    #[serde(default)]
    pub reduce: Reduce,
    /// Keep only nodes whose value equals one of these (ASCII case-insensitive; a value with a
    /// namespace prefix such as `tt:FaceRecognition` also equals its local part).
    #[serde(default)]
    pub equals: Vec<String>,
    /// With `reduce = "keys"`: keys not counted (a folder of unsorted pictures listed beside
    /// the people, say).
    #[serde(default)]
    pub ignore_keys: Vec<String>,
}

/// Why an answer could not be read as the check expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The check's path is malformed (caught when checks load).
    #[error("bad path {0:?}")]
    Path(String),
    /// The answer is not a document of the expected kind.
    #[error("answer is not {kind}: {message}")]
    Document {
        /// `JSON`, `XML` or `key=value text`.
        kind: &'static str,
        /// The parser's complaint (positions, not content).
        message: String,
    },
}

/// A node found by a path: its scalar text (empty for objects and arrays), and for JSON the
/// value itself.
enum Node<'a> {
    Json(&'a serde_json::Value),
    Text(String),
}

impl Node<'_> {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Node::Json(serde_json::Value::String(s)) => s.as_str().into(),
            Node::Json(serde_json::Value::Bool(b)) => b.to_string().into(),
            Node::Json(serde_json::Value::Number(n)) => n.to_string().into(),
            Node::Json(_) => "".into(),
            Node::Text(s) => s.as_str().into(),
        }
    }
    fn number(&self) -> Option<u64> {
        match self {
            Node::Json(serde_json::Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
            _ => self.text().trim().parse().ok(),
        }
    }
    fn is_true(&self) -> bool {
        match self {
            Node::Json(serde_json::Value::Bool(b)) => *b,
            _ => self.text().trim().eq_ignore_ascii_case("true"),
        }
    }
    fn keys(&self, ignore: &[String]) -> u64 {
        match self {
            Node::Json(serde_json::Value::Object(m)) => {
                m.keys().filter(|k| !ignore.contains(k)).count() as u64
            }
            _ => 0,
        }
    }
}

fn equals_any(value: &str, wanted: &[String]) -> bool {
    let value = value.trim();
    let local = value.rsplit(':').next().unwrap_or(value);
    wanted
        .iter()
        .any(|w| value.eq_ignore_ascii_case(w) || local.eq_ignore_ascii_case(w))
}

impl Extract {
    /// Check the path's syntax; the error names what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let set = [&self.json, &self.xml, &self.kv]
            .iter()
            .filter(|p| p.is_some())
            .count();
        if set != 1 {
            return Err("extract needs exactly one of json, xml, kv".into());
        }
        let path = self.path();
        if path.is_empty() || path.chars().any(|c| c.is_whitespace()) {
            return Err(format!("extract path {path:?} is empty or has spaces"));
        }
        if let Some(x) = &self.xml {
            let (elems, attr) = split_attr(x);
            if elems.split('/').any(str::is_empty) || attr.is_some_and(str::is_empty) {
                return Err(format!("xml path {x:?}: empty element or attribute name"));
            }
        }
        if let Some(j) = self.json.as_ref().filter(|j| *j != ".") {
            if j.split('.')
                .any(|s| s.trim_end_matches("[]").is_empty() && s != "[]")
            {
                return Err(format!("json path {j:?}: empty key"));
            }
        }
        if self.reduce == Reduce::Keys && self.json.is_none() {
            return Err("reduce = \"keys\" needs a json path".into());
        }
        if !self.ignore_keys.is_empty() && self.reduce != Reduce::Keys {
            return Err("ignore_keys belongs only with reduce = \"keys\"".into());
        }
        Ok(())
    }

    fn path(&self) -> &str {
        self.json
            .as_deref()
            .or(self.xml.as_deref())
            .or(self.kv.as_deref())
            .unwrap_or("")
    }

    /// The number this extract reads from `body`.
    pub fn number(&self, body: &[u8]) -> Result<u64, ExtractError> {
        let mut total = 0u64;
        self.walk(body, &mut |n| {
            if !self.equals.is_empty() && !equals_any(&n.text(), &self.equals) {
                return;
            }
            let add = match self.reduce {
                Reduce::Count => 1,
                Reduce::Sum => n.number().unwrap_or(0),
                Reduce::True => u64::from(n.is_true()),
                Reduce::Keys => n.keys(&self.ignore_keys),
            };
            total = total.saturating_add(add);
        })?;
        Ok(total)
    }

    /// The matched nodes' values that are tokens (at most 64 characters of `A-Za-z0-9._:/-`,
    /// at most `max` distinct), for captures: configuration tokens and service paths that a
    /// later request names. Anything else (a name with spaces, a long text) is dropped.
    pub fn tokens(&self, body: &[u8], max: usize) -> Result<Vec<String>, ExtractError> {
        let mut out: Vec<String> = Vec::new();
        self.walk(body, &mut |n| {
            let t = n.text();
            let t = t.trim();
            let ok = !t.is_empty()
                && t.len() <= 64
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
            if ok && out.len() < max && !out.iter().any(|o| o == t) {
                out.push(t.to_string());
            }
        })?;
        Ok(out)
    }

    fn walk(&self, body: &[u8], f: &mut dyn FnMut(&Node)) -> Result<(), ExtractError> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        if let Some(path) = &self.json {
            let doc: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| ExtractError::Document {
                    kind: "JSON",
                    message: format!("line {} column {}", e.line(), e.column()),
                })?;
            let mut nodes = vec![&doc];
            let segments = if path == "." { "" } else { path.as_str() };
            for seg in segments.split('.').filter(|s| !s.is_empty()) {
                let (key, each) = match seg.strip_suffix("[]") {
                    Some(k) => (k, true),
                    None => (seg, false),
                };
                let mut next = Vec::new();
                for n in nodes {
                    let v = match key {
                        "" => Some(n),
                        "*" => {
                            if let serde_json::Value::Object(m) = n {
                                next.extend(m.values());
                            }
                            None
                        }
                        k => n.get(k),
                    };
                    match (v, each) {
                        (Some(serde_json::Value::Array(a)), true) => next.extend(a.iter()),
                        (Some(v), false) if !v.is_null() => next.push(v),
                        _ => {}
                    }
                }
                nodes = next;
            }
            for n in nodes {
                f(&Node::Json(n));
            }
            return Ok(());
        }
        if let Some(path) = &self.xml {
            return walk_xml(body, path, f);
        }
        if let Some(pattern) = &self.kv {
            let text = std::str::from_utf8(body).map_err(|e| ExtractError::Document {
                kind: "key=value text",
                message: format!("not UTF-8 at byte {}", e.valid_up_to()),
            })?;
            let mut seen_any = false;
            for line in text.lines() {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                seen_any = true;
                if kv_matches(pattern, k.trim()) {
                    f(&Node::Text(v.trim().to_string()));
                }
            }
            if !seen_any && !text.trim().is_empty() {
                return Err(ExtractError::Document {
                    kind: "key=value text",
                    message: "no line of the form key=value".into(),
                });
            }
            return Ok(());
        }
        Err(ExtractError::Path(String::new()))
    }
}

fn split_attr(path: &str) -> (&str, Option<&str>) {
    match path.split_once('@') {
        Some((e, a)) => (e, Some(a)),
        None => (path, None),
    }
}

/// `GroupList[*].groupSize` against `GroupList[3].groupSize`, ASCII case-insensitively (Dahua
/// firmware and documents differ in the case of the same key).
fn kv_matches(pattern: &str, key: &str) -> bool {
    kv_matches_exact(&pattern.to_ascii_lowercase(), &key.to_ascii_lowercase())
}

fn kv_matches_exact(pattern: &str, key: &str) -> bool {
    let mut p = pattern;
    let mut k = key;
    loop {
        match p.find("[*]") {
            None => return p == k,
            Some(i) => {
                let (head, rest) = p.split_at(i);
                let Some(krest) = k.strip_prefix(head).and_then(|r| r.strip_prefix('[')) else {
                    return false;
                };
                let Some(close) = krest.find(']') else {
                    return false;
                };
                if close == 0 || !krest[..close].bytes().all(|b| b.is_ascii_digit()) {
                    return false;
                }
                k = &krest[close + 1..];
                p = &rest[3..];
            }
        }
    }
}

fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

fn walk_xml(body: &[u8], path: &str, f: &mut dyn FnMut(&Node)) -> Result<(), ExtractError> {
    use quick_xml::events::Event;
    let (elems, attr) = split_attr(path);
    let want: Vec<&[u8]> = elems.split('/').map(str::as_bytes).collect();
    let bad = |e: String| ExtractError::Document {
        kind: "XML",
        message: e,
    };
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    // Text of the element being matched (for element paths), with the depth it belongs to.
    let mut text: Option<(usize, String)> = None;
    let mut buf = Vec::new();
    let mut elements = 0usize;
    let ends_with_want = |stack: &[Vec<u8>]| {
        stack.len() >= want.len()
            && stack[stack.len() - want.len()..]
                .iter()
                .zip(&want)
                .all(|(a, b)| a.as_slice() == *b)
    };
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| bad(format!("at byte {}: {e}", reader.buffer_position())))?;
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                elements += 1;
                if stack.len() >= 256 {
                    return Err(bad("nested deeper than 256 elements".into()));
                }
                stack.push(local(s.name().as_ref()).to_vec());
                if ends_with_want(&stack) {
                    match attr {
                        Some(a) => {
                            for at in s.attributes().flatten() {
                                if local(at.key.as_ref()) == a.as_bytes() {
                                    let v = at.unescape_value().map(|v| v.into_owned());
                                    f(&Node::Text(v.unwrap_or_default()));
                                }
                            }
                        }
                        None => text = Some((stack.len(), String::new())),
                    }
                }
                if matches!(ev, Event::Empty(_)) {
                    if let Some((_, t)) = text.take_if(|(d, _)| *d == stack.len()) {
                        f(&Node::Text(t));
                    }
                    stack.pop();
                }
            }
            Event::Text(t) => {
                if let Some((d, s)) = &mut text {
                    if *d == stack.len() && s.len() < 256 {
                        s.push_str(&t.unescape().unwrap_or_default());
                    }
                }
            }
            Event::CData(t) => {
                if let Some((d, s)) = &mut text {
                    if *d == stack.len() && s.len() < 256 {
                        s.push_str(&String::from_utf8_lossy(&t));
                    }
                }
            }
            Event::End(_) => {
                if let Some((_, t)) = text.take_if(|(d, _)| *d == stack.len()) {
                    f(&Node::Text(t));
                }
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if elements == 0 {
        return Err(bad("no element".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(toml_text: &str) -> Extract {
        let e: Extract = toml::from_str(toml_text).unwrap();
        e.validate().unwrap();
        e
    }

    #[test]
    fn json_paths_count_sum_and_keys() {
        let body = br#"{"FDRecordDataInfo":[{"FDID":"1","recordDataNumber":7,"name":"Jane"},
            {"FDID":"2","recordDataNumber":"5"}], "faces": {"a": [1], "b": []}, "on": true}"#;
        assert_eq!(ex("json = \"FDRecordDataInfo[]\"").number(body), Ok(2));
        assert_eq!(
            ex("json = \"FDRecordDataInfo[].recordDataNumber\"\nreduce = \"sum\"").number(body),
            Ok(12)
        );
        assert_eq!(
            ex("json = \"faces\"\nreduce = \"keys\"").number(body),
            Ok(2)
        );
        assert_eq!(ex("json = \".\"\nreduce = \"keys\"").number(body), Ok(3));
        assert_eq!(
            ex("json = \"faces\"\nreduce = \"keys\"\nignore_keys = [\"b\"]").number(body),
            Ok(1)
        );
        assert_eq!(ex("json = \"on\"\nreduce = \"true\"").number(body), Ok(1));
        assert_eq!(ex("json = \"missing.deeper\"").number(body), Ok(0));
        assert_eq!(
            ex("json = \"FDRecordDataInfo[].FDID\"").tokens(body, 8),
            Ok(vec!["1".to_string(), "2".to_string()])
        );
        assert!(matches!(
            ex("json = \"x\"").number(b"<xml/>"),
            Err(ExtractError::Document { kind: "JSON", .. })
        ));
    }

    #[test]
    fn xml_paths_match_local_names_at_any_depth_and_attributes() {
        let body = br#"<?xml version="1.0"?>
            <tan:GetSupportedRulesResponse xmlns:tan="x" xmlns:tt="y"><tan:SupportedRules>
              <tt:RuleDescription Name="tt:FaceRecognition"/>
              <tt:RuleDescription Name="tt:LineDetector"><tt:Parameters/></tt:RuleDescription>
            </tan:SupportedRules><Cap><isSupportFaceLib>true</isSupportFaceLib>
            <isSupportFaceContrast>false</isSupportFaceContrast></Cap></tan:GetSupportedRulesResponse>"#;
        let rules = "xml = \"SupportedRules/RuleDescription@Name\"";
        assert_eq!(ex(rules).number(body), Ok(2));
        let face = format!("{rules}\nequals = [\"FaceRecognition\"]");
        assert_eq!(ex(&face).number(body), Ok(1));
        assert_eq!(
            ex("xml = \"isSupportFaceLib\"\nreduce = \"true\"").number(body),
            Ok(1)
        );
        assert_eq!(
            ex("xml = \"isSupportFaceContrast\"\nreduce = \"true\"").number(body),
            Ok(0)
        );
        assert!(ex("xml = \"a\"").number(b"{\"json\": 1}").is_err());
        assert!(ex("xml = \"a\"").number(b"<a><b></a>").is_err());
    }

    #[test]
    fn key_value_answers_match_any_index() {
        let body = b"GroupList[0].GroupID=1\r\nGroupList[0].GroupSize=7\r\nGroupList[1].GroupID=2\r\nGroupList[1].GroupSize=5\r\nGroupList[1].GroupName=Staff\r\n";
        assert_eq!(ex("kv = \"GroupList[*].GroupID\"").number(body), Ok(2));
        assert_eq!(ex("kv = \"grouplist[*].groupid\"").number(body), Ok(2));
        assert_eq!(
            ex("kv = \"GroupList[*].GroupSize\"\nreduce = \"sum\"").number(body),
            Ok(12)
        );
        assert!(!kv_matches("GroupList[*].GroupID", "GroupList[x].GroupID"));
        assert!(ex("kv = \"a\"").number(b"<html>denied</html>").is_err());
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in [
            "json = \"a..b\"",
            "xml = \"a//b\"",
            "xml = \"a@\"",
            "json = \"a\"\nxml = \"b\"",
            "kv = \"a\"\nreduce = \"keys\"",
        ] {
            let e: Extract = toml::from_str(bad).unwrap();
            assert!(e.validate().is_err(), "{bad}");
        }
    }
}
