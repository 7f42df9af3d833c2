//! Traffic signatures: rules as data (`models/signatures/*.toml`), compiled once into matchers
//! indexed by field — exact-value hash tables, domain-suffix tables, Aho-Corasick automata for
//! prefix/suffix/substring patterns and one `RegexSet` per field — so matching an observation
//! costs a couple of hash lookups, not a loop of regexes.
//!
//! A rule names the field it matches (`tls.sni`, `http.header.x-amz-target`, `mqtt.topic`...),
//! the pattern, the technique it proves, how strongly, and whose device it proves it of (the
//! sender of the message, or the client or server of the flow). Each rule carries `positive` and
//! `negative` examples that the test suite runs, so a rule is reviewed with its proof.

use crate::model::{Direction, Observation, Strength, Technique};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{RegexSet, RegexSetBuilder};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: signature {id:?}: {message}")]
    Rule {
        path: PathBuf,
        id: String,
        message: String,
    },
}

/// Whose device a match proves the technique of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// The party that sent the message (a camera sending an event, a box publishing on MQTT).
    #[default]
    Sender,
    /// The flow's client (a box calling a cloud face API; a resolver client).
    Client,
    /// The flow's server (a camera answering a face-library query).
    Server,
}

/// A pattern: one string or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Patterns {
    One(String),
    Many(Vec<String>),
}

impl Patterns {
    fn as_slice(&self) -> &[String] {
        match self {
            Patterns::One(s) => std::slice::from_ref(s),
            Patterns::Many(v) => v,
        }
    }
}

/// A rule as written in a signature file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: String,
    /// `proto.field`, or a list of them (e.g. the same host in `dns.query`, `tls.sni`, `http.host`).
    pub field: Patterns,
    #[serde(default)]
    pub exact: Option<Patterns>,
    /// Host name equal to, or a subdomain of, the pattern (case-insensitive).
    #[serde(default)]
    pub domain: Option<Patterns>,
    #[serde(default)]
    pub prefix: Option<Patterns>,
    #[serde(default)]
    pub suffix: Option<Patterns>,
    #[serde(default)]
    pub contains: Option<Patterns>,
    #[serde(default)]
    pub regex: Option<Patterns>,
    /// Compare case-insensitively (always on for `domain`).
    #[serde(default)]
    pub nocase: bool,
    pub technique: Technique,
    pub strength: Strength,
    #[serde(default)]
    pub attribute: Attribution,
    /// Weight in [0, 1] this evidence adds to a verdict's confidence; defaults by strength.
    #[serde(default)]
    pub weight: Option<f64>,
    pub description: String,
    pub source: String,
    /// A regex whose capture groups are replaced with `…` in evidence excerpts: for values that
    /// can carry a person's name or id (e.g. `/api/faces/{name}/register`).
    #[serde(default)]
    pub redact: Option<String>,
    /// Values the rule must fire on.
    pub positive: Vec<String>,
    /// Nearest values it must stay quiet on.
    pub negative: Vec<String>,
}

/// The `[meta]` table of a signature file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileMeta {
    /// Service or product the rules of this file describe (e.g. `aws.rekognition`). Weak
    /// evidence from a service is discounted when the same device shows strong evidence that the
    /// service is used only for a different technique (see the judge).
    pub service: String,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFile {
    meta: FileMeta,
    #[serde(default, rename = "signature")]
    signatures: Vec<RuleDef>,
}

/// A compiled signature.
#[derive(Debug, Clone)]
pub struct Signature {
    pub id: String,
    pub service: String,
    pub fields: Vec<String>,
    pub technique: Technique,
    pub strength: Strength,
    pub attribute: Attribution,
    pub weight: f64,
    pub description: String,
    pub source: String,
    pub file: PathBuf,
    pub redact: Option<regex::Regex>,
    pub positive: Vec<String>,
    pub negative: Vec<String>,
}

impl Signature {
    /// The value as evidence may keep it: identity-bearing parts replaced with `…`.
    pub fn redact<'a>(&self, value: &'a str) -> std::borrow::Cow<'a, str> {
        let Some(re) = &self.redact else {
            return value.into();
        };
        let Some(caps) = re.captures(value) else {
            return value.into();
        };
        let mut out = String::with_capacity(value.len());
        let mut at = 0;
        for m in caps.iter().skip(1).flatten() {
            out.push_str(&value[at..m.start()]);
            out.push('…');
            at = m.end();
        }
        out.push_str(&value[at..]);
        out.into()
    }

    /// The device (address) a match of this signature on `obs` is evidence about.
    pub fn device_of(&self, obs: &Observation) -> Option<IpAddr> {
        let flow = obs.flow?;
        Some(match self.attribute {
            Attribution::Client => flow.client.ip(),
            Attribution::Server => flow.server.ip(),
            Attribution::Sender => match obs.dir {
                Direction::ToServer => flow.client.ip(),
                Direction::ToClient => flow.server.ip(),
            },
        })
    }
}

/// Default evidence weight by strength.
pub fn default_weight(strength: Strength) -> f64 {
    match strength {
        Strength::Strong => 0.9,
        Strength::Weak => 0.35,
    }
}

#[derive(Default)]
struct FieldMatcher {
    exact: FxHashMap<String, Vec<u32>>,
    exact_nocase: FxHashMap<String, Vec<u32>>,
    domain: FxHashMap<String, Vec<u32>>,
    /// (pattern kind, rule) per automaton pattern id.
    ac_rules: Vec<(AcKind, u32)>,
    ac_patterns: Vec<String>,
    ac: Option<AhoCorasick>,
    ac_nocase_rules: Vec<(AcKind, u32)>,
    ac_nocase_patterns: Vec<String>,
    ac_nocase: Option<AhoCorasick>,
    regex_rules: Vec<u32>,
    regex_patterns: Vec<String>,
    regex: Option<RegexSet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcKind {
    Prefix,
    Suffix,
    Contains,
}

impl FieldMatcher {
    fn matches(&self, value: &str, out: &mut BTreeSet<u32>) {
        if let Some(ids) = self.exact.get(value) {
            out.extend(ids);
        }
        if !self.exact_nocase.is_empty() || !self.domain.is_empty() {
            let lower = value.to_ascii_lowercase();
            if let Some(ids) = self.exact_nocase.get(&lower) {
                out.extend(ids);
            }
            if !self.domain.is_empty() {
                // A host matches `example.com` if it is `example.com` or ends in `.example.com`.
                let host = lower.trim_end_matches('.');
                let mut rest = host;
                loop {
                    if let Some(ids) = self.domain.get(rest) {
                        out.extend(ids);
                    }
                    match rest.find('.') {
                        Some(i) => rest = &rest[i + 1..],
                        None => break,
                    }
                }
            }
        }
        for (ac, rules) in [
            (&self.ac, &self.ac_rules),
            (&self.ac_nocase, &self.ac_nocase_rules),
        ] {
            let Some(ac) = ac else { continue };
            for m in ac.find_overlapping_iter(value) {
                let Some(&(kind, rule)) = rules.get(m.pattern().as_usize()) else {
                    continue;
                };
                let ok = match kind {
                    AcKind::Prefix => m.start() == 0,
                    AcKind::Suffix => m.end() == value.len(),
                    AcKind::Contains => true,
                };
                if ok {
                    out.insert(rule);
                }
            }
        }
        if let Some(set) = &self.regex {
            for i in set.matches(value).iter() {
                if let Some(&rule) = self.regex_rules.get(i) {
                    out.insert(rule);
                }
            }
        }
    }
}

/// All signatures, compiled.
pub struct SignatureSet {
    signatures: Vec<Signature>,
    /// proto → field → matcher. Two levels so lookups need no allocation.
    fields: FxHashMap<String, FxHashMap<String, FieldMatcher>>,
}

impl std::fmt::Debug for SignatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureSet")
            .field("signatures", &self.signatures.len())
            .finish()
    }
}

impl SignatureSet {
    /// The directory shipped with banwatch: `$BANWATCH_MODELS/signatures`, else `models/signatures`
    /// next to the crate (development) or the working directory.
    pub fn default_dir() -> PathBuf {
        crate::detect::models_dir().join("signatures")
    }

    /// Load and compile every `*.toml` file of a directory (sorted, so ids and order are stable).
    pub fn load_dir(dir: &Path) -> Result<SignatureSet, SignatureError> {
        let rd = std::fs::read_dir(dir).map_err(|source| SignatureError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut files = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| SignatureError::Io {
                path: path.clone(),
                source,
            })?;
            files.push((path, text));
        }
        Self::from_sources(files.iter().map(|(p, t)| (p.as_path(), t.as_str())))
    }

    /// Compile rules from (path, TOML text) pairs.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a Path, &'a str)>,
    ) -> Result<SignatureSet, SignatureError> {
        let mut signatures: Vec<Signature> = Vec::new();
        let mut pending: Vec<(u32, RuleDef)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (path, text) in sources {
            let file: SignatureFile = toml::from_str(text).map_err(|e| SignatureError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            for def in file.signatures {
                let err = |message: String| SignatureError::Rule {
                    path: path.to_path_buf(),
                    id: def.id.clone(),
                    message,
                };
                if !seen.insert(def.id.clone()) {
                    return Err(err("duplicate id".into()));
                }
                if let Some(f) = def
                    .field
                    .as_slice()
                    .iter()
                    .find(|f| f.split_once('.').is_none())
                {
                    return Err(err(format!(
                        "field {f:?} must be `proto.field` (e.g. `tls.sni`)"
                    )));
                }
                let kinds = [
                    def.exact.is_some(),
                    def.domain.is_some(),
                    def.prefix.is_some(),
                    def.suffix.is_some(),
                    def.contains.is_some(),
                    def.regex.is_some(),
                ];
                if kinds.iter().filter(|k| **k).count() != 1 {
                    return Err(err(
                        "exactly one of exact, domain, prefix, suffix, contains, regex is required"
                            .into(),
                    ));
                }
                if def.positive.is_empty() || def.negative.is_empty() {
                    return Err(err(
                        "needs at least one `positive` and one `negative` example".into(),
                    ));
                }
                let weight = def.weight.unwrap_or(default_weight(def.strength));
                if !(0.0..=1.0).contains(&weight) {
                    return Err(err(format!("weight {weight} is outside [0, 1]")));
                }
                if def.source.trim().is_empty() {
                    return Err(err(
                        "`source` must say where the string is documented".into()
                    ));
                }
                let redact = match &def.redact {
                    Some(r) => Some(
                        regex::Regex::new(r).map_err(|e| err(format!("bad redact regex: {e}")))?,
                    ),
                    None => None,
                };
                let idx =
                    u32::try_from(signatures.len()).map_err(|_| err("too many rules".into()))?;
                signatures.push(Signature {
                    id: def.id.clone(),
                    service: file.meta.service.clone(),
                    fields: def.field.as_slice().to_vec(),
                    technique: def.technique,
                    strength: def.strength,
                    attribute: def.attribute,
                    weight,
                    description: def.description.clone(),
                    source: def.source.clone(),
                    file: path.to_path_buf(),
                    redact,
                    positive: def.positive.clone(),
                    negative: def.negative.clone(),
                });
                pending.push((idx, def));
            }
        }

        let mut fields: FxHashMap<String, FxHashMap<String, FieldMatcher>> = FxHashMap::default();
        for (idx, def) in &pending {
            for full in def.field.as_slice() {
                let (proto, field) = full.split_once('.').unwrap_or(("", full));
                let m = fields
                    .entry(proto.to_string())
                    .or_default()
                    .entry(field.to_string())
                    .or_default();
                let push = |map: &mut FxHashMap<String, Vec<u32>>, k: String| {
                    map.entry(k).or_default().push(*idx)
                };
                if let Some(p) = &def.exact {
                    for s in p.as_slice() {
                        if def.nocase {
                            push(&mut m.exact_nocase, s.to_ascii_lowercase());
                        } else {
                            push(&mut m.exact, s.clone());
                        }
                    }
                }
                if let Some(p) = &def.domain {
                    for s in p.as_slice() {
                        push(&mut m.domain, s.trim_end_matches('.').to_ascii_lowercase());
                    }
                }
                for (pats, kind) in [
                    (&def.prefix, AcKind::Prefix),
                    (&def.suffix, AcKind::Suffix),
                    (&def.contains, AcKind::Contains),
                ] {
                    if let Some(p) = pats {
                        for s in p.as_slice() {
                            if def.nocase {
                                m.ac_nocase_patterns.push(s.clone());
                                m.ac_nocase_rules.push((kind, *idx));
                            } else {
                                m.ac_patterns.push(s.clone());
                                m.ac_rules.push((kind, *idx));
                            }
                        }
                    }
                }
                if let Some(p) = &def.regex {
                    for s in p.as_slice() {
                        let pat = if def.nocase {
                            format!("(?i:{s})")
                        } else {
                            s.clone()
                        };
                        m.regex_patterns.push(pat);
                        m.regex_rules.push(*idx);
                    }
                }
            }
        }
        // Compile the automata and regex sets, reporting a bad pattern against its rule.
        for (proto, per_field) in fields.iter_mut() {
            for (field, m) in per_field.iter_mut() {
                let build = |pats: &[String], nocase: bool| -> Result<AhoCorasick, String> {
                    AhoCorasickBuilder::new()
                        .match_kind(MatchKind::Standard)
                        .ascii_case_insensitive(nocase)
                        .build(pats)
                        .map_err(|e| e.to_string())
                };
                let where_ = |message: String| SignatureError::Parse {
                    path: PathBuf::from(format!("{proto}.{field}")),
                    message,
                };
                if !m.ac_patterns.is_empty() {
                    m.ac = Some(build(&m.ac_patterns, false).map_err(where_)?);
                }
                if !m.ac_nocase_patterns.is_empty() {
                    m.ac_nocase = Some(build(&m.ac_nocase_patterns, true).map_err(where_)?);
                }
                if !m.regex_patterns.is_empty() {
                    let set = RegexSetBuilder::new(&m.regex_patterns)
                        .size_limit(1 << 22)
                        .build()
                        .map_err(|e| {
                            let bad = m
                                .regex_patterns
                                .iter()
                                .zip(&m.regex_rules)
                                .find(|(p, _)| regex::Regex::new(p).is_err())
                                .map(|(_, r)| r);
                            match bad.and_then(|r| signatures.get(*r as usize)) {
                                Some(sig) => SignatureError::Rule {
                                    path: sig.file.clone(),
                                    id: sig.id.clone(),
                                    message: format!("bad regex: {e}"),
                                },
                                None => where_(e.to_string()),
                            }
                        })?;
                    m.regex = Some(set);
                }
            }
        }
        Ok(SignatureSet { signatures, fields })
    }

    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    pub fn len(&self) -> usize {
        self.signatures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty()
    }

    /// Whether any rule looks at `proto.field` (lets decoders and benches skip work).
    pub fn watches(&self, proto: &str, field: &str) -> bool {
        self.fields
            .get(proto)
            .is_some_and(|f| f.contains_key(field))
    }

    /// Signatures matching `value` of field `proto.field`, in rule order.
    pub fn match_value(&self, proto: &str, field: &str, value: &str) -> Vec<&Signature> {
        let mut ids = BTreeSet::new();
        if let Some(m) = self.fields.get(proto).and_then(|f| f.get(field)) {
            m.matches(value, &mut ids);
        }
        ids.into_iter()
            .filter_map(|i| self.signatures.get(i as usize))
            .collect()
    }

    /// Signatures matching an observation.
    pub fn match_observation(&self, obs: &Observation) -> Vec<&Signature> {
        self.match_value(obs.proto, &obs.field, &obs.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(toml: &str) -> SignatureSet {
        SignatureSet::from_sources([(Path::new("t.toml"), toml)]).unwrap()
    }

    const BASE: &str = r#"
[meta]
service = "test"
"#;

    fn rule(kind: &str, pat: &str, extra: &str) -> String {
        format!(
            r#"{BASE}
[[signature]]
id = "t.rule"
field = "http.path"
{kind} = {pat}
technique = "face_recognition"
strength = "strong"
description = "d"
source = "s"
positive = ["x"]
negative = ["y"]
{extra}
"#
        )
    }

    fn ids(s: &SignatureSet, field: &str, v: &str) -> usize {
        let (p, f) = field.split_once('.').unwrap();
        s.match_value(p, f, v).len()
    }

    #[test]
    fn exact_prefix_suffix_contains_regex() {
        let s = set(&rule("exact", r#"["/a", "/b"]"#, ""));
        assert_eq!(ids(&s, "http.path", "/a"), 1);
        assert_eq!(ids(&s, "http.path", "/A"), 0);
        assert_eq!(ids(&s, "http.host", "/a"), 0);
        let s = set(&rule("exact", r#""/A""#, "nocase = true"));
        assert_eq!(ids(&s, "http.path", "/a"), 1);
        let s = set(&rule("prefix", r#""/face/""#, ""));
        assert_eq!(ids(&s, "http.path", "/face/identify"), 1);
        assert_eq!(ids(&s, "http.path", "/x/face/identify"), 0);
        let s = set(&rule("suffix", r#""/identify""#, ""));
        assert_eq!(ids(&s, "http.path", "/face/v1.0/identify"), 1);
        assert_eq!(ids(&s, "http.path", "/face/v1.0/identify/x"), 0);
        let s = set(&rule("contains", r#""FDLib""#, "nocase = true"));
        assert_eq!(ids(&s, "http.path", "/ISAPI/Intelligent/fdlib/x"), 1);
        let s = set(&rule("regex", r#""^/v\\d/face$""#, ""));
        assert_eq!(ids(&s, "http.path", "/v1/face"), 1);
        assert_eq!(ids(&s, "http.path", "/v1/faces"), 0);
    }

    #[test]
    fn domain_matches_subdomains_only_on_label_boundaries() {
        let s = set(&rule("domain", r#""faceplusplus.com""#, ""));
        assert_eq!(ids(&s, "http.path", "api-us.faceplusplus.com"), 1);
        assert_eq!(ids(&s, "http.path", "FacePlusPlus.com."), 1);
        assert_eq!(ids(&s, "http.path", "notfaceplusplus.com"), 0);
        assert_eq!(ids(&s, "http.path", "faceplusplus.com.evil.net"), 0);
    }

    #[test]
    fn rejects_rules_without_examples_or_with_two_patterns() {
        let bad = rule("exact", r#""/a""#, "prefix = \"/b\"");
        assert!(SignatureSet::from_sources([(Path::new("t.toml"), bad.as_str())]).is_err());
        let bad = rule("exact", r#""/a""#, "").replace("negative = [\"y\"]", "negative = []");
        let err = SignatureSet::from_sources([(Path::new("t.toml"), bad.as_str())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.rule") && err.contains("negative"), "{err}");
        let bad = rule("regex", r#""(""#, "");
        let err = SignatureSet::from_sources([(Path::new("t.toml"), bad.as_str())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.rule") && err.contains("regex"), "{err}");
    }
}
