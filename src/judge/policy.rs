//! Policy: which techniques are banned at which site types, which verdict statuses count as
//! violations, and recorded exemptions. Loaded from TOML; the shipped default is the ban.

use crate::model::{SiteType, Status, Technique};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The default policy, compiled in so a spot check works with no files around.
pub const DEFAULT_POLICY: &str = include_str!("../../models/policy.toml");

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid policy (`path`, and the parser's `message` with line and column).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
}

/// Which verdicts count as violations.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ViolationRule {
    /// Statuses that count (default: `confirmed`).
    #[serde(default = "default_statuses")]
    pub statuses: Vec<Status>,
    /// Least confidence that counts, in [0, 1] (default 0.5).
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
}

fn default_statuses() -> Vec<Status> {
    vec![Status::Confirmed]
}

fn default_min_confidence() -> f64 {
    0.5
}

impl Default for ViolationRule {
    fn default() -> Self {
        ViolationRule {
            statuses: default_statuses(),
            min_confidence: default_min_confidence(),
        }
    }
}

/// What one site type bans.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SitePolicy {
    /// Banned techniques.
    #[serde(default)]
    pub banned: Vec<Technique>,
}

/// An exemption on record. Every given key must match; at least one of device, technique and
/// signature must be given.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    /// The device it applies to.
    pub device: Option<String>,
    /// The technique it applies to.
    pub technique: Option<Technique>,
    /// The signature it applies to.
    pub signature: Option<String>,
    /// Why, on record (a decision, a consent).
    pub reason: String,
}

/// Which techniques are banned at which site types, what counts as a violation, and the exemptions on record (DESIGN.md §3).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// What counts as a violation.
    #[serde(default)]
    pub violation: ViolationRule,
    /// Bans per site type.
    #[serde(default)]
    pub sites: BTreeMap<SiteType, SitePolicy>,
    /// Exemptions on record.
    #[serde(default)]
    pub exempt: Vec<Exemption>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::default_ban()
    }
}

impl Policy {
    /// The ban this project exists for (models/policy.toml, compiled in).
    pub fn default_ban() -> Policy {
        // The embedded file is tested below; fall back to an explicit ban rather than panic.
        Policy::parse(Path::new("models/policy.toml"), DEFAULT_POLICY).unwrap_or_else(|_| {
            let banned = vec![
                Technique::FaceRecognition,
                Technique::FaceVerification,
                Technique::FaceAttributes,
                Technique::GaitRecognition,
            ];
            Policy {
                violation: ViolationRule::default(),
                sites: [SiteType::Housing, SiteType::School, SiteType::Transit]
                    .into_iter()
                    .map(|s| {
                        (
                            s,
                            SitePolicy {
                                banned: banned.clone(),
                            },
                        )
                    })
                    .collect(),
                exempt: Vec::new(),
            }
        })
    }

    /// Read and check a policy file. Errors name the file and the line.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Policy::parse(path, &text)
    }

    /// Parse and check a policy; errors name the file and (from the TOML parser) the line.
    pub fn parse(path: &Path, text: &str) -> Result<Policy, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let policy: Policy = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if !(0.0..=1.0).contains(&policy.violation.min_confidence) {
            return Err(invalid(format!(
                "violation.min_confidence = {} is outside [0, 1]",
                policy.violation.min_confidence
            )));
        }
        for (i, e) in policy.exempt.iter().enumerate() {
            if e.device.is_none() && e.technique.is_none() && e.signature.is_none() {
                return Err(invalid(format!(
                    "exempt[{i}] must name a device, a technique or a signature"
                )));
            }
        }
        Ok(policy)
    }

    /// Site types at which `technique` is banned.
    pub fn banned_at(&self, technique: Technique) -> Vec<SiteType> {
        self.sites
            .iter()
            .filter(|(_, p)| p.banned.contains(&technique))
            .map(|(s, _)| *s)
            .collect()
    }

    /// Whether a verdict status and confidence count as a violation (before site and exemptions).
    pub fn counts(&self, status: Status, confidence: f64) -> bool {
        self.violation.statuses.contains(&status) && confidence >= self.violation.min_confidence
    }

    /// The exemption covering this finding, if any. `signatures` are the ids of its evidence;
    /// a signature exemption covers the finding only if every piece of evidence is exempt.
    pub fn exemption(
        &self,
        device: &str,
        technique: Technique,
        signatures: &[&str],
    ) -> Option<&Exemption> {
        self.exempt.iter().find(|e| {
            e.device.as_deref().is_none_or(|d| d == device)
                && e.technique.is_none_or(|t| t == technique)
                && e.signature
                    .as_deref()
                    .is_none_or(|s| !signatures.is_empty() && signatures.iter().all(|x| *x == s))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_bans_recognition_but_not_detection() {
        let p = Policy::parse(Path::new("models/policy.toml"), DEFAULT_POLICY).unwrap();
        assert_eq!(
            p.banned_at(Technique::FaceRecognition),
            vec![SiteType::Housing, SiteType::School, SiteType::Transit]
        );
        for t in [
            Technique::FaceVerification,
            Technique::FaceAttributes,
            Technique::GaitRecognition,
        ] {
            assert_eq!(p.banned_at(t).len(), 3, "{t}");
        }
        assert!(p.banned_at(Technique::FaceDetection).is_empty());
        assert!(p.banned_at(Technique::PersonDetection).is_empty());
        assert!(p.counts(Status::Confirmed, 0.9));
        assert!(!p.counts(Status::Suspected, 0.9));
        assert_eq!(p, Policy::default_ban());
    }

    #[test]
    fn bad_policy_names_file_and_line() {
        let err = Policy::parse(
            Path::new("site.toml"),
            "[sites.housing]\nbanned = [\"face_recognitio\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("site.toml:"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = Policy::parse(Path::new("p.toml"), "[[exempt]]\nreason = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("exempt[0]"), "{err}");
    }

    #[test]
    fn exemptions_match_all_given_keys() {
        let p = Policy::parse(
            Path::new("p.toml"),
            "[[exempt]]\ndevice = \"10.0.0.5\"\ntechnique = \"face_verification\"\nreason = \"door\"\n",
        )
        .unwrap();
        assert!(p
            .exemption("10.0.0.5", Technique::FaceVerification, &[])
            .is_some());
        assert!(p
            .exemption("10.0.0.5", Technique::FaceRecognition, &[])
            .is_none());
        assert!(p
            .exemption("10.0.0.6", Technique::FaceVerification, &[])
            .is_none());
    }
}
