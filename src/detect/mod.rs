//! Detectors: turn observations into findings for the judge. Traffic signatures
//! ([`signatures`]) match decoded fields; model fingerprints ([`fingerprint`]) classify model
//! files; [`pipeline`] is the one path from an observation or a classified model to the judge.

use std::path::{Path, PathBuf};

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

/// Every `*.toml` file of a data directory (signatures, checks) with its text, sorted by path so
/// ids and order are stable. The error names the directory or file that could not be read.
pub fn toml_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, (PathBuf, std::io::Error)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| (dir.to_path_buf(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| (p.clone(), e))?;
        files.push((p, text));
    }
    Ok(files)
}
