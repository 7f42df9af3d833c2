//! Per-field matchers compiled from the rules: exact-value hash tables, domain-suffix tables,
//! Aho-Corasick automata for prefix/suffix/substring patterns and one `RegexSet` per field, so
//! matching an observation costs a couple of hash lookups, not a loop of regexes. Each entry
//! remembers which pattern of which rule it stands for, so evidence can quote the pattern (a
//! string from the rule file), never the observed value.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{RegexSet, RegexSetBuilder};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// A rule's pattern: (rule index, index of the pattern among the rule's patterns).
pub type PatternRef = (u32, u32);

/// How a substring pattern must sit in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcKind {
    /// At the start.
    Prefix,
    /// At the end.
    Suffix,
    /// Anywhere.
    Contains,
}

/// All patterns on one field.
#[derive(Default)]
pub struct FieldMatcher {
    exact: FxHashMap<String, Vec<PatternRef>>,
    exact_nocase: FxHashMap<String, Vec<PatternRef>>,
    domain: FxHashMap<String, Vec<PatternRef>>,
    ac_refs: Vec<(AcKind, PatternRef)>,
    ac_patterns: Vec<String>,
    ac: Option<AhoCorasick>,
    ac_nocase_refs: Vec<(AcKind, PatternRef)>,
    ac_nocase_patterns: Vec<String>,
    ac_nocase: Option<AhoCorasick>,
    regex_refs: Vec<PatternRef>,
    regex_patterns: Vec<String>,
    regex: Option<RegexSet>,
}

impl FieldMatcher {
    /// Add an exact pattern.
    pub fn exact(&mut self, pattern: &str, nocase: bool, r: PatternRef) {
        if nocase {
            self.exact_nocase
                .entry(pattern.to_ascii_lowercase())
                .or_default()
                .push(r);
        } else {
            self.exact.entry(pattern.to_string()).or_default().push(r);
        }
    }

    /// Add a domain (the host or any subdomain, case-insensitive).
    pub fn domain(&mut self, pattern: &str, r: PatternRef) {
        self.domain
            .entry(pattern.trim_end_matches('.').to_ascii_lowercase())
            .or_default()
            .push(r);
    }

    /// Add a prefix, suffix or substring.
    pub fn substring(&mut self, pattern: &str, kind: AcKind, nocase: bool, r: PatternRef) {
        if nocase {
            self.ac_nocase_patterns.push(pattern.to_string());
            self.ac_nocase_refs.push((kind, r));
        } else {
            self.ac_patterns.push(pattern.to_string());
            self.ac_refs.push((kind, r));
        }
    }

    /// Add a regex.
    pub fn regex(&mut self, pattern: &str, nocase: bool, r: PatternRef) {
        self.regex_patterns.push(if nocase {
            format!("(?i:{pattern})")
        } else {
            pattern.to_string()
        });
        self.regex_refs.push(r);
    }

    /// Build the automata and the regex set. On a bad regex, the rule it belongs to.
    pub fn compile(&mut self) -> Result<(), (Option<u32>, String)> {
        let build = |pats: &[String], nocase: bool| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(nocase)
                .build(pats)
                .map_err(|e| (None, e.to_string()))
        };
        if !self.ac_patterns.is_empty() {
            self.ac = Some(build(&self.ac_patterns, false)?);
        }
        if !self.ac_nocase_patterns.is_empty() {
            self.ac_nocase = Some(build(&self.ac_nocase_patterns, true)?);
        }
        if !self.regex_patterns.is_empty() {
            let set = RegexSetBuilder::new(&self.regex_patterns)
                .size_limit(1 << 22)
                .build()
                .map_err(|e| {
                    let bad = self
                        .regex_patterns
                        .iter()
                        .zip(&self.regex_refs)
                        .find(|(p, _)| regex::Regex::new(p).is_err())
                        .map(|(_, r)| r.0);
                    (bad, e.to_string())
                })?;
            self.regex = Some(set);
        }
        Ok(())
    }

    /// Every rule whose pattern matches `value`, with the first pattern of it that matched.
    pub fn matches(&self, value: &str, out: &mut BTreeMap<u32, u32>) {
        let mut put = |(rule, pat): PatternRef| {
            out.entry(rule).or_insert(pat);
        };
        if let Some(refs) = self.exact.get(value) {
            refs.iter().copied().for_each(&mut put);
        }
        if !self.exact_nocase.is_empty() || !self.domain.is_empty() {
            let lower = value.to_ascii_lowercase();
            if let Some(refs) = self.exact_nocase.get(&lower) {
                refs.iter().copied().for_each(&mut put);
            }
            if !self.domain.is_empty() {
                // A host matches `example.com` if it is `example.com` or ends in `.example.com`.
                let mut rest = lower.trim_end_matches('.');
                loop {
                    if let Some(refs) = self.domain.get(rest) {
                        refs.iter().copied().for_each(&mut put);
                    }
                    match rest.find('.') {
                        Some(i) => rest = &rest[i + 1..],
                        None => break,
                    }
                }
            }
        }
        for (ac, refs) in [
            (&self.ac, &self.ac_refs),
            (&self.ac_nocase, &self.ac_nocase_refs),
        ] {
            let Some(ac) = ac else { continue };
            for m in ac.find_overlapping_iter(value) {
                let Some(&(kind, r)) = refs.get(m.pattern().as_usize()) else {
                    continue;
                };
                let ok = match kind {
                    AcKind::Prefix => m.start() == 0,
                    AcKind::Suffix => m.end() == value.len(),
                    AcKind::Contains => true,
                };
                if ok {
                    put(r);
                }
            }
        }
        if let Some(set) = &self.regex {
            for i in set.matches(value).iter() {
                if let Some(&r) = self.regex_refs.get(i) {
                    put(r);
                }
            }
        }
    }
}
