//! What the consumers of observations will read, so that decoders do not build what nobody
//! reads. Two filters, both derived from the compiled signature set:
//! - **fields** ([`FieldDemand`]): the `proto.field`s some rule reads. [`super::Emitter::emit`]
//!   drops any other before its value is made a `String`, and a decoder whose field is costly
//!   to build (JA3 and JA4 hashes) asks [`super::Emitter::wants`] first. A field the decoders
//!   derive from another is demanded with it (`tls.sni_upload` needs `tls.sni`).
//! - **JSON keys** ([`KeyDemand`]): `json.key` is emitted for every key of every JSON body (a
//!   REST call or an MQTT message carries dozens) though a handful of rules read it; the
//!   rules' `json.key` patterns say which keys they can match ([`KeyDemand::from_patterns`]).
//!
//! `scan` and the service's feeds (capture, MQTT, ONVIF and HTTP event streams) build only
//! what is demanded, `inspect` asks for everything ([`Demand::everything`]).
//!
//! The filter is on a key's last component (the bare key): a rule's pattern on a dotted path
//! (`faces.age.ageGroup`, a suffix `group.matchedName`, a regex ending `AiDetectType\.face$`)
//! can only match paths whose last key is the pattern's last component. Where that component
//! cannot be derived (a prefix pattern, a regex whose match may end anywhere), every key is
//! demanded: the filter never hides a key a rule could match.

use regex_syntax::hir::literal::{ExtractKind, Extractor};
use rustc_hash::{FxHashMap, FxHashSet};

/// Which observations the consumers read. [`Default`] is everything.
#[derive(Debug, Clone, Default)]
pub struct Demand {
    /// `json.key` values by their last component; `None`: every key.
    pub json_key: Option<KeyDemand>,
    /// The fields read; `None`: every field.
    pub fields: Option<FieldDemand>,
}

/// The `proto.field`s some consumer reads, by protocol.
#[derive(Debug, Clone, Default)]
pub struct FieldDemand {
    by_proto: FxHashMap<String, FxHashSet<String>>,
}

/// A field as (protocol, field).
type Field = (&'static str, &'static str);

/// Fields a decoder derives from another field's observations: (derived, what it needs).
const DERIVED: &[(Field, Field)] = &[(("tls", "sni_upload"), ("tls", "sni"))];

impl FieldDemand {
    /// The demand for `fields` (`(proto, field)` pairs), with what derived fields need.
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> FieldDemand {
        let mut d = FieldDemand::default();
        for (proto, field) in fields {
            d.insert(proto, field);
            for ((p, f), need) in DERIVED {
                if (*p, *f) == (proto, field) {
                    d.insert(need.0, need.1);
                }
            }
        }
        d
    }

    fn insert(&mut self, proto: &str, field: &str) {
        self.by_proto
            .entry(proto.to_string())
            .or_default()
            .insert(field.to_string());
    }

    fn wants(&self, proto: &str, field: &str) -> bool {
        self.by_proto.get(proto).is_some_and(|f| f.contains(field))
    }
}

/// Bare keys (last components) some pattern can match: exactly, or as a suffix of the key.
#[derive(Debug, Clone, Default)]
pub struct KeyDemand {
    exact: FxHashSet<String>,
    suffixes: Vec<String>,
    /// The last two bytes of `suffixes`, as a 65,536-bit set (`None` until a suffix is
    /// added): most keys end in none of them, and are then refused without comparing any.
    suffix_ends: Option<Box<[u64; 1024]>>,
    /// Some suffix is shorter than two bytes: every key is compared.
    short_suffix: bool,
}

/// A `json.key` pattern as a rule states it.
#[derive(Debug, Clone, Copy)]
pub enum KeyPattern<'a> {
    /// The whole key or path.
    Exact(&'a str),
    /// The path ends with it.
    Suffix(&'a str),
    /// The path starts with it.
    Prefix(&'a str),
    /// It occurs in the path.
    Contains(&'a str),
    /// A regular expression (Rust `regex` syntax) over the path.
    Regex(&'a str),
}

impl Demand {
    /// Every observation (for `inspect`, and wherever the consumers are not known).
    pub fn everything() -> Self {
        Demand::default()
    }

    /// Whether a `json.key` whose last component is `leaf` is read by anyone.
    pub fn json_key(&self, leaf: &str) -> bool {
        // The key demand first: it refuses most keys on their last two bytes, and the field
        // lookup is then made only for the few it keeps.
        self.json_key.as_ref().is_none_or(|k| k.wants(leaf)) && self.field("json", "key")
    }

    /// Whether `proto.field` is read by anyone.
    pub fn field(&self, proto: &str, field: &str) -> bool {
        self.fields.as_ref().is_none_or(|f| f.wants(proto, field))
    }
}

impl KeyDemand {
    /// The keys `patterns` can match (case-insensitive patterns demand everything: the filter
    /// compares exactly); `None` when some pattern could match any last component.
    pub fn from_patterns<'a>(
        patterns: impl IntoIterator<Item = (KeyPattern<'a>, bool)>,
    ) -> Option<KeyDemand> {
        let mut d = KeyDemand::default();
        for (p, nocase) in patterns {
            if nocase {
                return None;
            }
            match p {
                KeyPattern::Exact(s) => {
                    d.exact.insert(last(s).to_string());
                }
                KeyPattern::Suffix(s) | KeyPattern::Contains(s) if s.contains('.') => {
                    // A dotted suffix fixes the last component; a dotted substring does not
                    // (`a.b` occurs in `x.a.bc`), so it is demanded as a suffix of the key.
                    if matches!(p, KeyPattern::Suffix(_)) {
                        d.exact.insert(last(s).to_string());
                    } else {
                        return None;
                    }
                }
                KeyPattern::Suffix(s) => d.push_suffix(s),
                KeyPattern::Prefix(_) | KeyPattern::Contains(_) => return None,
                KeyPattern::Regex(r) => d.regex(r)?,
            }
        }
        Some(d)
    }

    /// A regex's possible endings, from its literal suffixes (`regex-syntax`): each match ends
    /// with one of them; an exact one fixes the last component whole when it holds a `.` or
    /// the regex is anchored at the start of that component.
    fn regex(&mut self, r: &str) -> Option<()> {
        let hir = regex_syntax::parse(r).ok()?;
        let seq = Extractor::new().kind(ExtractKind::Suffix).extract(&hir);
        let lits = seq.literals()?;
        for lit in lits {
            let text = std::str::from_utf8(lit.as_bytes()).ok()?;
            if text.is_empty() {
                return None;
            }
            match text.rsplit_once('.') {
                // `…AiDetectType.face`: the last component is `face` exactly, provided the
                // match cannot go on past it (an inexact literal may be followed by more).
                Some((_, leaf))
                    if lit.is_exact() && !leaf.is_empty() && hir_ends_anchored(&hir) =>
                {
                    self.exact.insert(leaf.to_string());
                }
                // Otherwise the key ends with the literal's last component, or with the
                // literal itself when it holds no dot.
                Some((_, leaf)) if !leaf.is_empty() && hir_ends_anchored(&hir) => {
                    self.push_suffix(leaf)
                }
                None if hir_ends_anchored(&hir) => self.push_suffix(text),
                _ => return None,
            }
        }
        Some(())
    }

    fn push_suffix(&mut self, s: &str) {
        match s.as_bytes() {
            [.., a, b] => {
                let ends = self.suffix_ends.get_or_insert_with(|| Box::new([0; 1024]));
                let i = usize::from(u16::from_be_bytes([*a, *b]));
                ends[i >> 6] |= 1 << (i & 63);
            }
            _ => self.short_suffix = true,
        }
        self.suffixes.push(s.to_string());
    }

    fn wants(&self, leaf: &str) -> bool {
        if self.exact.contains(leaf) {
            return true;
        }
        let may_end_so = self.short_suffix
            || match (leaf.as_bytes(), &self.suffix_ends) {
                ([.., a, b], Some(ends)) => {
                    let i = usize::from(u16::from_be_bytes([*a, *b]));
                    ends[i >> 6] & (1 << (i & 63)) != 0
                }
                _ => false,
            };
        may_end_so && self.suffixes.iter().any(|s| leaf.ends_with(s.as_str()))
    }
}

/// Whether every match of `hir` ends at the end of the text (`$`/`\z`): only then do its
/// literal suffixes say how the path ends.
fn hir_ends_anchored(hir: &regex_syntax::hir::Hir) -> bool {
    hir.properties()
        .look_set_suffix()
        .contains_anchor_haystack()
        || hir
            .properties()
            .look_set_suffix()
            .contains(regex_syntax::hir::Look::EndLF)
}

fn last(s: &str) -> &str {
    s.rsplit('.').next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(p: &[KeyPattern<'_>]) -> Option<KeyDemand> {
        KeyDemand::from_patterns(p.iter().map(|p| (*p, false)))
    }

    #[test]
    fn exact_and_suffix_keys_by_their_last_component() {
        let d = demand(&[
            KeyPattern::Exact("smartDetectTypes"),
            KeyPattern::Suffix("group.matchedName"),
            KeyPattern::Suffix("Score"),
        ])
        .unwrap();
        assert!(d.wants("smartDetectTypes"));
        assert!(d.wants("matchedName"));
        assert!(d.wants("identificationScore"));
        assert!(!d.wants("temperature"));
        assert!(!d.wants("group"));
        assert!(!d.wants("e"));
        // A suffix of one byte is compared against every key.
        let d = demand(&[KeyPattern::Suffix("e")]).unwrap();
        assert!(d.wants("name") && d.wants("e") && !d.wants("id"));
    }

    #[test]
    fn anchored_regexes_give_their_endings() {
        // The shipped rules' shapes.
        let d = demand(&[
            KeyPattern::Regex(r"(^|\.)AiDetectType\.face$"),
            KeyPattern::Regex(
                r"(^|\.)(faces(\[[0-9]*\])?\.)?(age\.ageGroup|faceExpression\.value)$|(^|\.)faces(\[[0-9]*\])?\.(gender|glass)\.value$",
            ),
        ])
        .unwrap();
        for k in ["face", "ageGroup", "value"] {
            assert!(d.wants(k), "{k}");
        }
        assert!(!d.wants("uptime"));
        // Every positive path of those rules ends in a demanded key.
        for path in [
            "AiDetectType.face",
            "faces.age.ageGroup",
            "faces[0].gender.value",
        ] {
            assert!(d.wants(last(path)), "{path}");
        }
    }

    #[test]
    fn what_could_end_anywhere_demands_everything() {
        assert!(demand(&[KeyPattern::Regex("face")]).is_none());
        assert!(demand(&[KeyPattern::Regex(r"^Object\.[A-Za-z]+$")]).is_none());
        assert!(demand(&[KeyPattern::Prefix("Object.")]).is_none());
        assert!(demand(&[KeyPattern::Contains("a.b")]).is_none());
        assert!(KeyDemand::from_patterns([(KeyPattern::Exact("Age"), true)]).is_none());
        assert!(Demand::everything().json_key("anything"));
    }

    #[test]
    fn fields_demanded_with_what_derived_fields_need() {
        let d = Demand {
            json_key: None,
            fields: Some(FieldDemand::from_fields([
                ("http", "path"),
                ("tls", "sni_upload"),
            ])),
        };
        assert!(d.field("http", "path") && d.field("tls", "sni_upload"));
        // `tls.sni_upload` is made from the flow's `tls.sni`.
        assert!(d.field("tls", "sni"));
        assert!(!d.field("http", "host") && !d.field("tls", "ja3") && !d.field("path", "http"));
        // No rule on `json.key`: no key at all, whatever the key demand says.
        assert!(!d.json_key("name"));
        assert!(Demand::everything().field("tls", "ja3") && Demand::everything().json_key("x"));
    }
}
