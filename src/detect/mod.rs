//! Detectors: turn observations into findings for the judge. Traffic signatures
//! ([`signatures`]) match decoded fields; model fingerprints ([`fingerprint`]) classify model
//! files; [`pipeline`] is the one path from an observation or a classified model to the judge.

use std::path::PathBuf;

pub mod checks;
pub mod fingerprint;
pub mod pipeline;
pub mod signatures;

/// Where the data files live (signatures, catalog, policy): `$BANWATCH_MODELS`, else `models/`
/// in the working directory, else the source tree's `models/` (development and tests), else
/// `/usr/share/banwatch/models` (packaged).
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BANWATCH_MODELS") {
        return PathBuf::from(dir);
    }
    let candidates = [
        PathBuf::from("models"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"),
        PathBuf::from("/usr/share/banwatch/models"),
    ];
    for c in &candidates {
        if c.join("signatures").is_dir() {
            return c.clone();
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}
