//! Catalog entries for the genuine published models of the development corpus
//! (`scripts/corpus/manifest.json`): one `[[model]]` per file of a banned-or-allowed class, with
//! its sha256 and, when no file of another class in the corpus shares it, its structural hash.
//! Prints TOML to append to `models/catalog.toml` after review.
//!
//!   cargo run --example catalog_entries -- [--manifest M] [--cache DIR]

use banwatch::decode::models::sniff_and_parse;
use banwatch::detect::fingerprint::structural_hash;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn technique(class: &str) -> Option<&'static str> {
    Some(match class {
        "face-recognition-embedding" => "face_recognition",
        "face-verification" => "face_verification",
        "face-detection" => "face_detection",
        "face-landmarks-alignment" => "face_landmarks",
        "face-attributes" => "face_attributes",
        "anti-spoofing" => "face_anti_spoofing",
        "body-pose" => "body_pose",
        "person-detection" => "person_detection",
        _ => return None,
    })
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let mut manifest = root.join("scripts/corpus/manifest.json");
    let mut cache =
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/banwatch/corpus");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--manifest" => manifest = PathBuf::from(args.next().unwrap_or_default()),
            "--cache" => cache = PathBuf::from(args.next().unwrap_or_default()),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&manifest)?)?;
    // (entry, sha256, structural hash)
    let mut rows = Vec::new();
    let mut classes_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let known: String = std::fs::read_to_string(root.join("models/catalog.toml"))?;
    for e in &entries {
        let package = e["package"].as_str().unwrap_or("");
        let path = e["path"].as_str().unwrap_or("");
        let class = e["class"].as_str().unwrap_or("").to_string();
        let Ok(bytes) = std::fs::read(cache.join("files").join(package).join(path)) else {
            continue;
        };
        let sha = hex::encode(Sha256::digest(&bytes));
        let hash = match sniff_and_parse("model", &bytes, &|_| None) {
            Some(Ok(info)) => Some(structural_hash(&info)),
            _ => None,
        };
        if let Some(h) = &hash {
            classes_of
                .entry(h.clone())
                .or_default()
                .insert(class.clone());
        }
        rows.push((e, class, sha, hash));
    }
    for (e, class, sha, hash) in rows {
        let Some(t) = technique(&class) else { continue };
        if known.contains(&sha) {
            continue;
        }
        let unique = hash
            .as_ref()
            .filter(|h| classes_of.get(*h).is_some_and(|c| c.len() == 1));
        let path = e["path"].as_str().unwrap_or("");
        let file = path.rsplit('/').next().unwrap_or(path);
        let family = file
            .rsplit_once('.')
            .map_or(file, |(stem, _)| stem)
            .to_ascii_lowercase()
            .replace(['_', ' '], "-");
        println!("[[model]]");
        println!("family = {family:?}");
        println!("technique = {t:?}");
        println!("sha256 = [{sha:?}]");
        if let Some(h) = unique {
            println!("structure = [{h:?}]");
        }
        println!(
            "source = {:?}",
            format!(
                "{}@{} ({path})",
                e["package"].as_str().unwrap_or(""),
                e["version"].as_str().unwrap_or("")
            )
        );
        println!("licence = {:?}", e["licence"].as_str().unwrap_or("unknown"));
        println!();
    }
    Ok(())
}
