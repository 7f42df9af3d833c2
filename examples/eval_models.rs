//! Model-classifier evaluation on the development corpus (`scripts/corpus/manifest.json`,
//! fetched by `scripts/corpus/fetch-model-corpus.py` into a cache with pinned hashes).
//!
//! Every file is read under the name `model.<ext>` (content decides, not names) and classified
//! with the catalog of known models off, so each package is judged by rules that never saw it
//! (the rules are hand-written: leaving a package out changes nothing but the catalog, which is
//! off). Prints per-class accuracy, a confusion table, every recognition miss and every false
//! recognition, and exits 1 if there is either.
//!
//!   cargo run --release --example eval_models -- [--manifest M] [--cache DIR] [--probe] [--catalog]

use banwatch::decode::models::sniff_and_parse;
use banwatch::detect::fingerprint::{classify_named, FingerprintOptions};
use banwatch::Technique;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn expected(class: &str) -> Option<Technique> {
    Some(match class {
        "face-recognition-embedding" => Technique::FaceRecognition,
        "face-verification" => Technique::FaceVerification,
        "face-detection" => Technique::FaceDetection,
        "face-landmarks-alignment" | "face-landmarks/alignment" => Technique::FaceLandmarks,
        "face-attributes" => Technique::FaceAttributes,
        "anti-spoofing" => Technique::FaceAntiSpoofing,
        "body-pose" => Technique::BodyPose,
        "person-detection" => Technique::PersonDetection,
        "person-reid" => Technique::PersonReidentification,
        "gait" => Technique::GaitRecognition,
        "negative-other" => Technique::None,
        _ => return None,
    })
}

fn recognition(t: Technique) -> bool {
    matches!(t, Technique::FaceRecognition | Technique::FaceVerification)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut manifest = root.join("scripts/corpus/manifest.json");
    let mut cache = std::env::var_os("BANWATCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/banwatch/corpus")
        });
    let (mut probe, mut catalog) = (false, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--manifest" => manifest = PathBuf::from(args.next().unwrap_or_default()),
            "--cache" => cache = PathBuf::from(args.next().unwrap_or_default()),
            "--probe" => probe = true,
            "--catalog" => catalog = true,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let entries: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(&manifest)
            .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.display()))?,
    )?;
    let mut opts = FingerprintOptions::default().with_catalog(catalog);
    if probe {
        let p = banwatch::detect::fingerprint::probe::Probe::load(None)?;
        opts = opts.with_probe(Some(p));
    }
    let mut per_class: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut confusion: BTreeMap<(String, String), u32> = BTreeMap::new();
    let (mut missed, mut false_rec, mut wrong) = (Vec::new(), Vec::new(), Vec::new());
    let (mut total, mut right, mut unreadable) = (0u32, 0u32, 0u32);
    for e in &entries {
        let class = e["class"].as_str().unwrap_or("");
        let Some(want) = expected(class) else { continue };
        let package = e["package"].as_str().unwrap_or("");
        let path = e["path"].as_str().unwrap_or("");
        let file = cache.join("files").join(package).join(path);
        let Ok(bytes) = std::fs::read(&file) else {
            unreadable += 1;
            continue;
        };
        let ext = path.rsplit_once('.').map_or("bin", |(_, x)| x);
        let name = format!("model.{ext}");
        let dir = file.parent().map(PathBuf::from).unwrap_or_default();
        let got = match sniff_and_parse(&name, &bytes, &|n| std::fs::read(dir.join(n)).ok()) {
            Some(Ok(info)) => {
                let sha = hex::encode(Sha256::digest(&bytes));
                let c = classify_named(&info, &sha, &name, &opts);
                (c.technique, c.confidence, c.reasons.join("; "))
            }
            Some(Err(err)) => (Technique::None, 0.0, format!("not parsed: {err}")),
            None => (Technique::None, 0.0, "not a model format banwatch reads".into()),
        };
        total += 1;
        let ok = got.0 == want;
        let slot = per_class.entry(class.to_string()).or_default();
        slot.0 += 1;
        if ok {
            right += 1;
            slot.1 += 1;
        }
        *confusion
            .entry((class.to_string(), got.0.as_str().to_string()))
            .or_default() += 1;
        let line = format!(
            "{package} {path}: want {}, got {} {:.2} ({})",
            want.as_str(),
            got.0.as_str(),
            got.1,
            got.2.chars().take(160).collect::<String>()
        );
        if recognition(want) && !recognition(got.0) {
            missed.push(line);
        } else if !recognition(want) && recognition(got.0) {
            false_rec.push(line);
        } else if !ok {
            wrong.push(line);
        }
    }
    println!(
        "catalog {}, probe {}: {right} of {total} right ({:.1} %), {unreadable} not in the cache",
        if catalog { "on" } else { "off" },
        if probe { "on" } else { "off" },
        f64::from(right) * 100.0 / f64::from(total.max(1))
    );
    println!("\n| class | files | right | accuracy |\n|---|---|---|---|");
    for (c, (n, r)) in &per_class {
        println!("| {c} | {n} | {r} | {:.0} % |", f64::from(*r) * 100.0 / f64::from(*n));
    }
    println!("\nconfusion (class -> verdict: files):");
    for ((c, g), n) in &confusion {
        println!("  {c:<28} -> {g:<24} {n}");
    }
    for (title, list) in [
        ("recognition missed", &missed),
        ("false recognition", &false_rec),
        ("other errors", &wrong),
    ] {
        println!("\n{title} ({}):", list.len());
        for l in list.iter() {
            println!("  {l}");
        }
    }
    if !missed.is_empty() || !false_rec.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}
