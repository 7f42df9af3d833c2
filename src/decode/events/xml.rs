//! A small, bounded XML tree built with quick-xml, and the generic `xml.element` output.
//!
//! Vendor decoders (ONVIF, Hikvision) need parent/child relations (`Body`'s first child,
//! `Class/Type`, `HumanFace`'s children), so the document is turned into an arena of nodes.
//! Bounds: the caller caps the document at [`super::MAX_DOC`]; depth is capped at
//! [`super::MAX_DEPTH`] (deeper elements are skipped), nodes at [`MAX_NODES`], kept text per
//! element at [`MAX_TEXT`]. Malformed XML ends the walk: what was read so far is kept.
//! quick-xml never expands DTD entities, so entity bombs are inert.

use super::{Sink, MAX_DEPTH};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

/// Most elements kept per document.
pub const MAX_NODES: usize = 20_000;
/// Most text bytes kept per element (enough for event types, topics, class names).
pub const MAX_TEXT: usize = 256;
/// Most attributes kept per element.
const MAX_ATTRS: usize = 16;

/// One element. `text` is the trimmed, concatenated character data directly inside it (bounded).
#[derive(Debug, Default, Clone)]
pub struct Node {
    /// Local name (no prefix).
    pub name: String,
    /// Qualified name as written (`tns1:RuleEngine`).
    pub qname: String,
    /// Namespace URI, if the prefix resolved.
    pub ns: Option<String>,
    /// Attributes: (local name, unescaped value), bounded.
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
}

impl Node {
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == local)
            .map(|(_, v)| v.as_str())
    }
}

/// Arena of elements in document order; index 0 is the first root element (if any).
#[derive(Debug, Default)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    pub fn parse(body: &[u8]) -> Tree {
        let mut tree = Tree::default();
        let mut reader = NsReader::from_reader(body);
        {
            let cfg = reader.config_mut();
            cfg.trim_text(true);
            // Tolerate mismatched end tags: keep reading what is readable.
            cfg.check_end_names = false;
            cfg.expand_empty_elements = false;
        }
        let mut stack: Vec<usize> = Vec::new();
        // Elements nested deeper than MAX_DEPTH are not stored; count how deep we are in them.
        let mut skipped_depth: usize = 0;
        while let Ok((ns, ev)) = reader.read_resolved_event() {
            match ev {
                Event::Start(e) => {
                    if skipped_depth > 0 || stack.len() >= MAX_DEPTH {
                        skipped_depth += 1;
                        continue;
                    }
                    if tree.nodes.len() >= MAX_NODES {
                        break;
                    }
                    let idx = tree.push(&ns, &e, stack.last().copied());
                    stack.push(idx);
                }
                Event::Empty(e) => {
                    if skipped_depth > 0 || stack.len() >= MAX_DEPTH {
                        continue;
                    }
                    if tree.nodes.len() >= MAX_NODES {
                        break;
                    }
                    tree.push(&ns, &e, stack.last().copied());
                }
                Event::End(_) => {
                    if skipped_depth > 0 {
                        skipped_depth -= 1;
                    } else {
                        stack.pop();
                    }
                }
                Event::Text(t) if skipped_depth == 0 => {
                    if let Some(&top) = stack.last() {
                        let s = match t.unescape() {
                            Ok(s) => s.into_owned(),
                            Err(_) => String::from_utf8_lossy(&t).into_owned(),
                        };
                        tree.add_text(top, &s);
                    }
                }
                Event::CData(t) if skipped_depth == 0 => {
                    if let Some(&top) = stack.last() {
                        let s = String::from_utf8_lossy(&t).into_owned();
                        tree.add_text(top, &s);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        tree
    }

    fn push(&mut self, ns: &ResolveResult<'_>, e: &BytesStart<'_>, parent: Option<usize>) -> usize {
        let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let qname = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let ns = match ns {
            ResolveResult::Bound(n) => Some(String::from_utf8_lossy(n.as_ref()).into_owned()),
            _ => None,
        };
        let mut attrs = Vec::new();
        for a in e.attributes().with_checks(false).flatten().take(MAX_ATTRS) {
            let k = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
            let v = match a.unescape_value() {
                Ok(v) => v.into_owned(),
                Err(_) => String::from_utf8_lossy(&a.value).into_owned(),
            };
            let mut v = v;
            truncate(&mut v, MAX_TEXT);
            attrs.push((k, v));
        }
        let idx = self.nodes.len();
        self.nodes.push(Node {
            name,
            qname,
            ns,
            attrs,
            text: String::new(),
            parent,
            children: Vec::new(),
        });
        if let Some(p) = parent {
            if let Some(pn) = self.nodes.get_mut(p) {
                pn.children.push(idx);
            }
        }
        idx
    }

    fn add_text(&mut self, idx: usize, s: &str) {
        if let Some(n) = self.nodes.get_mut(idx) {
            if n.text.len() >= MAX_TEXT {
                return;
            }
            n.text.push_str(s.trim());
            truncate(&mut n.text, MAX_TEXT);
        }
    }

    pub fn root(&self) -> Option<&Node> {
        self.nodes.first()
    }

    pub fn get(&self, idx: usize) -> Option<&Node> {
        self.nodes.get(idx)
    }

    pub fn children<'t>(&'t self, n: &'t Node) -> impl Iterator<Item = &'t Node> + 't {
        n.children.iter().filter_map(move |&c| self.nodes.get(c))
    }

    pub fn parent(&self, n: &Node) -> Option<&Node> {
        n.parent.and_then(|p| self.nodes.get(p))
    }

    /// First child with this local name.
    pub fn child<'t>(&'t self, n: &'t Node, local: &str) -> Option<&'t Node> {
        self.children(n).find(|c| c.name == local)
    }
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Generic output: every distinct element local name, once per document.
pub fn emit_elements(tree: &Tree, sink: &mut Sink<'_, '_>) {
    for n in &tree.nodes {
        sink.emit("xml", "element", &n.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_tree_with_namespaces() {
        let t = Tree::parse(br#"<a:Root xmlns:a="urn:x"><a:Kid k="v">hello</a:Kid><b/></a:Root>"#);
        assert_eq!(t.nodes.len(), 3);
        let root = t.root().unwrap();
        assert_eq!(root.name, "Root");
        assert_eq!(root.qname, "a:Root");
        assert_eq!(root.ns.as_deref(), Some("urn:x"));
        let kid = t.child(root, "Kid").unwrap();
        assert_eq!(kid.text, "hello");
        assert_eq!(kid.attr("k"), Some("v"));
        assert!(t.child(root, "b").is_some());
    }

    #[test]
    fn malformed_keeps_prefix() {
        let t = Tree::parse(b"<a><b>x</b><c attr=\"1\"><<<<");
        assert!(t.nodes.iter().any(|n| n.name == "b"));
    }

    #[test]
    fn depth_is_bounded() {
        let mut doc = String::new();
        for _ in 0..200 {
            doc.push_str("<d>");
        }
        doc.push_str("<deep/>");
        for _ in 0..200 {
            doc.push_str("</d>");
        }
        doc.push_str("");
        let t = Tree::parse(doc.as_bytes());
        assert_eq!(t.nodes.len(), MAX_DEPTH);
        assert!(!t.nodes.iter().any(|n| n.name == "deep"));
    }

    #[test]
    fn entities_not_expanded() {
        let doc = br#"<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>"#;
        let t = Tree::parse(doc);
        assert!(t.root().map(|r| r.text.len() <= MAX_TEXT).unwrap_or(true));
    }
}
