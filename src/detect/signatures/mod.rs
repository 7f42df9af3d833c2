//! Traffic signatures: rules as data (`models/signatures/*.toml`), compiled once into per-field
//! matchers ([`matcher`]).
//!
//! A rule names the field it matches (`tls.sni`, `http.header.x-amz-target`, `mqtt.topic`...,
//! each declared by a decoder in [`crate::decode::fields`]: a rule on an undeclared field does
//! not load), the pattern, the technique it proves, how strongly, and whose device it proves it
//! of (the sender of the message, or the client or server of the flow). Each rule carries
//! `positive` and `negative` examples that the test suite runs through the decoders' fields, so
//! a rule is reviewed with its proof.
//!
//! **Evidence never quotes what was observed.** The excerpt of a hit is built from the rule
//! alone: the exact value or domain it names, its prefix followed by `…`, `…` and its suffix,
//! or, for regex rules, the `excerpt` text the rule must declare. A topic that ends in a
//! person's name, a path with a subject id, a query with a token: none of it can reach a report,
//! because no report is ever built from the value.

pub mod matcher;

use crate::model::{Direction, Observation, Role, Strength, Technique};
use matcher::{AcKind, FieldMatcher};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Why signatures could not be loaded. Every variant names the file (and rule).
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// A file or the directory could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid TOML or not in the rule format.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// A rule is invalid.
    #[error("{path}: signature {id:?}: {message}")]
    Rule {
        /// The file.
        path: PathBuf,
        /// The rule's id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// Whose device a match proves the technique of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// The party that sent the message (a camera sending an event, a box publishing on MQTT):
    /// it runs the technique.
    #[default]
    Sender,
    /// The flow's client (a box calling a cloud face API; a resolver client): it uses the
    /// technique, run by its peer (a service, not a device).
    Client,
    /// The flow's server (a face server answering a recognition call): it runs the technique,
    /// and the client that called it uses it.
    Server,
}

/// A pattern: one string or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Patterns {
    /// One pattern.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Patterns {
    /// The patterns as a slice.
    pub fn as_slice(&self) -> &[String] {
        match self {
            Patterns::One(s) => std::slice::from_ref(s),
            Patterns::Many(v) => v,
        }
    }
}

/// A rule as written in a signature file (see `models/signatures/README.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Unique, stable id (alerts and dashboards refer to it).
    pub id: String,
    /// `proto.field`, or a list of them (e.g. the same host in `dns.query`, `tls.sni`,
    /// `http.host`).
    pub field: Patterns,
    /// The value equals a pattern.
    pub exact: Option<Patterns>,
    /// Host name equal to, or a subdomain of, the pattern (case-insensitive).
    pub domain: Option<Patterns>,
    /// The value starts with a pattern.
    pub prefix: Option<Patterns>,
    /// The value ends with a pattern.
    pub suffix: Option<Patterns>,
    /// The value contains a pattern.
    pub contains: Option<Patterns>,
    /// The value matches a regex (Rust `regex` syntax); needs `excerpt`.
    pub regex: Option<Patterns>,
    /// Compare case-insensitively (always on for `domain`).
    #[serde(default)]
    pub nocase: bool,
    /// What a match proves (DESIGN.md §2).
    pub technique: Technique,
    /// How strongly.
    pub strength: Strength,
    /// Whose device it is evidence about.
    #[serde(default)]
    pub attribute: Attribution,
    /// Weight in [0, 1] this evidence adds to a verdict's confidence; defaults by strength.
    pub weight: Option<f64>,
    /// What the rule means.
    pub description: String,
    /// Where the string is documented.
    pub source: String,
    /// What evidence shows instead of the matched value: required for regex rules; the
    /// default for others is built from the pattern. Fixed text, never personal data.
    pub excerpt: Option<String>,
    /// For `data_sharing`: the organisation data goes to (required there, refused elsewhere).
    pub organisation: Option<String>,
    /// Values the rule must fire on.
    pub positive: Vec<String>,
    /// Nearest values it must stay quiet on.
    pub negative: Vec<String>,
}

impl RuleDef {
    fn kinds(&self) -> [(Option<&Patterns>, &'static str); 6] {
        [
            (self.exact.as_ref(), "exact"),
            (self.domain.as_ref(), "domain"),
            (self.prefix.as_ref(), "prefix"),
            (self.suffix.as_ref(), "suffix"),
            (self.contains.as_ref(), "contains"),
            (self.regex.as_ref(), "regex"),
        ]
    }

    /// The one pattern kind given, and its patterns.
    fn pattern_kind(&self) -> Option<(&'static str, &Patterns)> {
        let given: Vec<_> = self
            .kinds()
            .into_iter()
            .filter_map(|(p, k)| p.map(|p| (k, p)))
            .collect();
        match given.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }
}

/// The `[meta]` table of a signature file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileMeta {
    /// Service or product the rules of this file describe (e.g. `aws.rekognition`). Weak
    /// evidence from a service is discounted when the same device shows strong evidence that the
    /// service is used only for a different technique (see the judge).
    pub service: String,
    /// Vendor name, for people.
    pub vendor: Option<String>,
    /// What the file covers, for people.
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
    /// Unique id.
    pub id: String,
    /// The file's `meta.service`.
    pub service: String,
    /// `proto.field` names it watches.
    pub fields: Vec<String>,
    /// What it proves.
    pub technique: Technique,
    /// How strongly.
    pub strength: Strength,
    /// Whose device.
    pub attribute: Attribution,
    /// Weight in [0, 1].
    pub weight: f64,
    /// What it means.
    pub description: String,
    /// Where documented.
    pub source: String,
    /// The file it came from.
    pub file: PathBuf,
    /// For `data_sharing`, the destination organisation.
    pub organisation: Option<String>,
    /// The excerpt each pattern stands for in evidence.
    excerpts: Vec<String>,
    /// Examples it must fire on.
    pub positive: Vec<String>,
    /// Examples it must stay quiet on.
    pub negative: Vec<String>,
}

/// One signature that fired on an observation, with the excerpt evidence may show.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'s> {
    /// The signature.
    pub signature: &'s Signature,
    /// Fixed text from the rule standing for what matched.
    pub excerpt: &'s str,
}

/// A device a hit is evidence about, and its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party {
    /// The device's address.
    pub address: IpAddr,
    /// Whether it runs the technique or uses it.
    pub role: Role,
    /// The other end, for `uses`.
    pub peer: Option<IpAddr>,
}

impl Signature {
    /// The devices a match of this signature on `obs` is evidence about: the one it names by
    /// [`Attribution`], and for a server that runs a technique, the client that uses it. An
    /// observation with no flow (a message from a feed that belongs to one device) names one
    /// party with no address: the feed's device, which runs what the message shows.
    pub fn parties(&self, obs: &Observation) -> Vec<Party> {
        let Some(flow) = obs.flow else {
            return vec![Party {
                address: IpAddr::from([0, 0, 0, 0]),
                role: Role::Runs,
                peer: None,
            }];
        };
        let (client, server) = (flow.client.ip(), flow.server.ip());
        match self.attribute {
            Attribution::Client => vec![Party {
                address: client,
                role: Role::Uses,
                peer: Some(server),
            }],
            Attribution::Server => {
                let mut v = vec![Party {
                    address: server,
                    role: Role::Runs,
                    peer: None,
                }];
                if !client.is_unspecified() && client != server {
                    v.push(Party {
                        address: client,
                        role: Role::Uses,
                        peer: Some(server),
                    });
                }
                v
            }
            Attribution::Sender => vec![Party {
                address: match obs.dir {
                    Direction::ToServer => client,
                    Direction::ToClient => server,
                },
                role: Role::Runs,
                peer: None,
            }],
        }
    }

    /// The device (address) the signature names on `obs` (the first of [`Self::parties`]).
    pub fn device_of(&self, obs: &Observation) -> Option<IpAddr> {
        self.parties(obs).first().map(|p| p.address)
    }
}

/// Default evidence weight by strength.
pub fn default_weight(strength: Strength) -> f64 {
    match strength {
        Strength::Strong => 0.9,
        Strength::Weak => 0.35,
    }
}

/// All signatures, compiled.
pub struct SignatureSet {
    signatures: Vec<Signature>,
    /// proto → field → matcher. Two levels so lookups need no allocation.
    fields: FxHashMap<String, FxHashMap<String, FieldMatcher>>,
    /// What these rules read, for the decoders ([`crate::decode::demand`]).
    demand: std::sync::Arc<crate::decode::demand::Demand>,
}

impl std::fmt::Debug for SignatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureSet")
            .field("signatures", &self.signatures.len())
            .finish()
    }
}

/// The excerpt of one pattern of a rule: its fixed text, never an observed value.
fn excerpt_of(kind: &str, pattern: &str) -> String {
    match kind {
        "prefix" => format!("{pattern}…"),
        "suffix" => format!("…{pattern}"),
        "contains" => format!("…{pattern}…"),
        _ => pattern.to_string(),
    }
}

fn check(def: &RuleDef) -> Result<(&'static str, &Patterns), String> {
    for f in def.field.as_slice() {
        if f.split_once('.').is_none() {
            return Err(format!(
                "field {f:?} must be `proto.field` (e.g. `tls.sni`)"
            ));
        }
        if crate::decode::fields::lookup(f).is_none() {
            return Err(format!(
                "field {f:?} is not emitted by any decoder (see the field table of models/signatures/README.md)"
            ));
        }
    }
    let Some((kind, patterns)) = def.pattern_kind() else {
        return Err(
            "exactly one of exact, domain, prefix, suffix, contains, regex is required".into(),
        );
    };
    if patterns.as_slice().is_empty() || patterns.as_slice().iter().any(String::is_empty) {
        return Err(format!("{kind}: empty pattern"));
    }
    if kind == "regex" && def.excerpt.as_deref().is_none_or(|e| e.trim().is_empty()) {
        return Err(
            "a regex rule needs `excerpt`: the fixed text evidence shows instead of the matched value"
                .into(),
        );
    }
    if def.positive.is_empty() || def.negative.is_empty() {
        return Err("needs at least one `positive` and one `negative` example".into());
    }
    let weight = def.weight.unwrap_or(default_weight(def.strength));
    if !(0.0..=1.0).contains(&weight) {
        return Err(format!("weight {weight} is outside [0, 1]"));
    }
    if def.source.trim().is_empty() {
        return Err("`source` must say where the string is documented".into());
    }
    match (def.technique == Technique::DataSharing, &def.organisation) {
        (true, None) => {
            return Err("a data_sharing rule must name its `organisation`".into());
        }
        (false, Some(_)) => {
            return Err("`organisation` belongs only on data_sharing rules".into());
        }
        _ => {}
    }
    Ok((kind, patterns))
}

impl SignatureSet {
    /// The directory shipped with banwatch: `$BANWATCH_MODELS/signatures`, else `models/signatures`
    /// next to the crate (development) or the working directory.
    pub fn default_dir() -> PathBuf {
        crate::detect::models_dir().join("signatures")
    }

    /// Load and compile every `*.toml` file of a directory (sorted, so ids and order are stable).
    pub fn load_dir(dir: &Path) -> Result<SignatureSet, SignatureError> {
        let files = crate::detect::toml_files(dir)
            .map_err(|(path, source)| SignatureError::Io { path, source })?;
        Self::from_sources(files.iter().map(|(p, t)| (p.as_path(), t.as_str())))
    }

    /// Compile rules from (path, TOML text) pairs.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a Path, &'a str)>,
    ) -> Result<SignatureSet, SignatureError> {
        let mut signatures: Vec<Signature> = Vec::new();
        let mut fields: FxHashMap<String, FxHashMap<String, FieldMatcher>> = FxHashMap::default();
        let mut seen = std::collections::HashSet::new();
        // The `json.key` patterns, with their case-insensitivity, for the decoders' demand.
        let mut key_patterns: Vec<(String, String, bool)> = Vec::new();
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
                let (kind, patterns) = check(&def).map_err(err)?;
                if def.field.as_slice().iter().any(|f| f == "json.key") {
                    for pat in patterns.as_slice() {
                        key_patterns.push((kind.to_string(), pat.clone(), def.nocase));
                    }
                }
                let idx =
                    u32::try_from(signatures.len()).map_err(|_| err("too many rules".into()))?;
                for full in def.field.as_slice() {
                    let (proto, field) = full.split_once('.').unwrap_or(("", full));
                    let m = fields
                        .entry(proto.to_string())
                        .or_default()
                        .entry(field.to_string())
                        .or_default();
                    for (n, pat) in patterns.as_slice().iter().enumerate() {
                        let r = (idx, n as u32);
                        match kind {
                            "exact" => m.exact(pat, def.nocase, r),
                            "domain" => m.domain(pat, r),
                            "prefix" => m.substring(pat, AcKind::Prefix, def.nocase, r),
                            "suffix" => m.substring(pat, AcKind::Suffix, def.nocase, r),
                            "contains" => m.substring(pat, AcKind::Contains, def.nocase, r),
                            _ => m.regex(pat, def.nocase, r),
                        }
                    }
                }
                let excerpts = patterns
                    .as_slice()
                    .iter()
                    .map(|p| def.excerpt.clone().unwrap_or_else(|| excerpt_of(kind, p)))
                    .collect();
                signatures.push(Signature {
                    id: def.id.clone(),
                    service: file.meta.service.clone(),
                    fields: def.field.as_slice().to_vec(),
                    technique: def.technique,
                    strength: def.strength,
                    attribute: def.attribute,
                    weight: def.weight.unwrap_or(default_weight(def.strength)),
                    description: def.description.clone(),
                    source: def.source.clone(),
                    file: path.to_path_buf(),
                    organisation: def.organisation.clone(),
                    excerpts,
                    positive: def.positive.clone(),
                    negative: def.negative.clone(),
                });
            }
        }
        // Compile the automata and regex sets, reporting a bad pattern against its rule.
        for (proto, per_field) in fields.iter_mut() {
            for (field, m) in per_field.iter_mut() {
                m.compile().map_err(|(rule, message)| {
                    match rule.and_then(|r| signatures.get(r as usize)) {
                        Some(sig) => SignatureError::Rule {
                            path: sig.file.clone(),
                            id: sig.id.clone(),
                            message: format!("bad regex: {message}"),
                        },
                        None => SignatureError::Parse {
                            path: PathBuf::from(format!("{proto}.{field}")),
                            message,
                        },
                    }
                })?;
            }
        }
        use crate::decode::demand::{Demand, FieldDemand, KeyDemand, KeyPattern};
        let json_key = KeyDemand::from_patterns(key_patterns.iter().map(|(kind, p, nocase)| {
            let p = p.as_str();
            let pattern = match kind.as_str() {
                "exact" => KeyPattern::Exact(p),
                "prefix" => KeyPattern::Prefix(p),
                "suffix" => KeyPattern::Suffix(p),
                "contains" => KeyPattern::Contains(p),
                // A domain pattern on a key is odd; a prefix demands every key.
                "domain" => KeyPattern::Prefix(p),
                _ => KeyPattern::Regex(p),
            };
            (pattern, *nocase)
        }));
        let read = FieldDemand::from_fields(fields.iter().flat_map(|(proto, per_field)| {
            per_field.keys().map(move |f| (proto.as_str(), f.as_str()))
        }));
        let demand = std::sync::Arc::new(Demand {
            json_key,
            fields: Some(read),
        });
        Ok(SignatureSet {
            signatures,
            fields,
            demand,
        })
    }

    /// What these rules read: the decoders build only that (see [`crate::decode::demand`]).
    pub fn demand(&self) -> std::sync::Arc<crate::decode::demand::Demand> {
        self.demand.clone()
    }

    /// Every compiled signature, in load order.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// How many signatures.
    pub fn len(&self) -> usize {
        self.signatures.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty()
    }

    /// Whether any rule looks at `proto.field` (lets decoders and benches skip work).
    pub fn watches(&self, proto: &str, field: &str) -> bool {
        self.fields
            .get(proto)
            .is_some_and(|f| f.contains_key(field))
    }

    /// The `proto.field` names some rule reads.
    pub fn consumed_fields(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .fields
            .iter()
            .flat_map(|(p, m)| m.keys().map(move |f| format!("{p}.{f}")))
            .collect();
        v.sort();
        v
    }

    /// Signatures matching `value` of field `proto.field`, with their excerpts, in rule order.
    pub fn hits(&self, proto: &str, field: &str, value: &str) -> Vec<Hit<'_>> {
        let Some(m) = self.fields.get(proto).and_then(|f| f.get(field)) else {
            return Vec::new();
        };
        let mut found = BTreeMap::new();
        m.matches(value, &mut found);
        found
            .into_iter()
            .filter_map(|(rule, pat)| {
                let signature = self.signatures.get(rule as usize)?;
                let excerpt = signature.excerpts.get(pat as usize)?;
                Some(Hit { signature, excerpt })
            })
            .collect()
    }

    /// Signatures matching `value` of field `proto.field`, in rule order.
    pub fn match_value(&self, proto: &str, field: &str, value: &str) -> Vec<&Signature> {
        self.hits(proto, field, value)
            .into_iter()
            .map(|h| h.signature)
            .collect()
    }

    /// Signatures matching an observation, with excerpts.
    pub fn match_observation(&self, obs: &Observation) -> Vec<Hit<'_>> {
        self.hits(obs.proto, obs.field, &obs.value)
    }
}

#[cfg(test)]
mod tests;
