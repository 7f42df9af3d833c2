//! The catalog of known models (`models/catalog.toml`): public models by file hash and by
//! structural hash, with family, technique, source and licence. Entries are data, reviewed like
//! signatures.

use crate::model::Technique;
use serde::Deserialize;
use std::sync::OnceLock;

/// The shipped catalog, compiled in.
const SHIPPED: &str = include_str!("../../../models/catalog.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub family: String,
    pub technique: Technique,
    #[serde(default)]
    pub sha256: Vec<String>,
    #[serde(default)]
    pub structure: Vec<String>,
    pub source: String,
    /// Licence of the published model (for the people who review the catalog).
    #[allow(dead_code)]
    pub licence: String,
    /// Free text for reviewers.
    #[allow(dead_code)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(rename = "model", default)]
    pub models: Vec<Entry>,
}

/// A catalog hit.
#[derive(Debug, Clone)]
pub struct Known<'a> {
    pub family: &'a str,
    pub technique: Technique,
    pub source: &'a str,
    pub by_hash: bool,
}

impl Catalog {
    pub fn parse(text: &str) -> Result<Catalog, String> {
        toml::from_str(text).map_err(|e| format!("models/catalog.toml: {e}"))
    }

    /// The compiled-in catalog (empty if it failed to parse, which the tests rule out).
    pub fn shipped() -> &'static Catalog {
        static C: OnceLock<Catalog> = OnceLock::new();
        C.get_or_init(|| {
            Catalog::parse(SHIPPED).unwrap_or_else(|e| {
                tracing::error!("{e}");
                Catalog { models: vec![] }
            })
        })
    }

    pub fn lookup(&self, sha256: &str, structure: &str) -> Option<Known<'_>> {
        fn hit(e: &Entry, by_hash: bool) -> Known<'_> {
            Known {
                family: &e.family,
                technique: e.technique,
                source: &e.source,
                by_hash,
            }
        }
        self.models
            .iter()
            .find(|e| e.sha256.iter().any(|h| h.eq_ignore_ascii_case(sha256)))
            .map(|e| hit(e, true))
            .or_else(|| {
                self.models
                    .iter()
                    .find(|e| e.structure.iter().any(|h| h == structure))
                    .map(|e| hit(e, false))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalog_parses() {
        let c = Catalog::parse(SHIPPED).unwrap();
        assert!(!c.models.is_empty());
        for m in &c.models {
            assert!(
                !m.sha256.is_empty() || !m.structure.is_empty(),
                "{}",
                m.family
            );
        }
    }
}
