//! Model-classifier evaluation on the development corpus (`scripts/corpus/manifest.json`,
//! fetched by `scripts/corpus/fetch-model-corpus.py` into a cache with pinned hashes).
//!
//! Every file goes through `scan` as an inspector's would (archives and bundles are opened, a
//! `.task` bundle's TFLite models classified), under the name `model.<ext>` (content decides,
//! not names), with the catalog of known models off; the file's verdict is its most confident
//! finding, so each package is judged by rules that never saw it
//! (the rules are hand-written: leaving a package out changes nothing but the catalog, which is
//! off). Prints per-class accuracy, a confusion table, every recognition miss and every false
//! recognition, and exits 1 if there is either.
//!
//!   cargo run --release --example eval_models -- [--manifest M] [--cache DIR] [--probe] [--catalog]

use banwatch::detect::fingerprint::FingerprintOptions;
use banwatch::detect::signatures::SignatureSet;
use banwatch::judge::policy::Policy;
use banwatch::judge::JudgeConfig;
use banwatch::scan::{self, ScanOptions};
use banwatch::Technique;
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
    let scan_opts = ScanOptions {
        policy: Policy::default_ban(),
        signatures: SignatureSet::load_dir(&SignatureSet::default_dir())?,
        fingerprint: opts,
        judge: JudgeConfig::default(),
        progress: false,
        workers: 1,
    };
    let mut per_class: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut confusion: BTreeMap<(String, String), u32> = BTreeMap::new();
    let (mut missed, mut false_rec, mut wrong) = (Vec::new(), Vec::new(), Vec::new());
    let (mut total, mut right, mut unreadable) = (0u32, 0u32, 0u32);
    // Per model format: (models, probed, refused with a reason).
    let mut probed: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    // Why the probe refused, per format: the reason and the files.
    let mut refusals: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for e in &entries {
        let class = e["class"].as_str().unwrap_or("");
        let Some(want) = expected(class) else {
            continue;
        };
        let package = e["package"].as_str().unwrap_or("");
        let path = e["path"].as_str().unwrap_or("");
        let file = cache.join("files").join(package).join(path);
        let Ok(bytes) = std::fs::read(&file) else {
            unreadable += 1;
            continue;
        };
        let ext = path.rsplit_once('.').map_or("bin", |(_, x)| x);
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join(format!("model.{ext}")), &bytes)?;
        // Companions (weight shards) keep their names: the model file refers to them. One
        // found by the model's own name (an NCNN .param's .bin) is renamed with it.
        let from = file.parent().map(PathBuf::from).unwrap_or_default();
        let stem = path
            .rsplit('/')
            .next()
            .and_then(|b| b.rsplit_once('.'))
            .map(|(s, _)| format!("{s}."));
        for c in e["companions"].as_array().into_iter().flatten() {
            let Some(base) = c.as_str().and_then(|c| c.rsplit('/').next()) else {
                continue;
            };
            let to = match stem.as_deref().and_then(|s| base.strip_prefix(s)) {
                Some(ext) => format!("model.{ext}"),
                None => base.to_string(),
            };
            let _ = std::fs::copy(from.join(base), dir.path().join(to));
        }
        let report = scan::run(&[dir.path().to_path_buf()], &scan_opts);
        for a in &report.artifacts {
            let slot = probed.entry(a.format.clone()).or_default();
            slot.0 += 1;
            let probe: Vec<&String> = a
                .reasons
                .iter()
                .filter(|r| r.starts_with("probe: "))
                .collect();
            // " ran on ": a network run in ONNX Runtime; " evaluated on ": a cascade run in Rust.
            if probe
                .iter()
                .any(|r| r.contains(" ran on ") || r.contains(" evaluated on "))
            {
                slot.1 += 1;
            } else if !probe.is_empty() {
                slot.2 += 1;
                // The reason up to its first detail in parentheses or after a colon's clause.
                let why: String = probe[0]
                    .trim_start_matches("probe: ")
                    .chars()
                    .take(110)
                    .collect();
                refusals
                    .entry((a.format.clone(), why))
                    .or_default()
                    .push(format!("{package} {path}"));
            }
        }
        // A bundle (a MediaPipe `.task`, an archive) is what its most specific model does: a
        // landmarker ships a face detector in front of its landmark model.
        let rank = |t: Technique| Technique::ALL.iter().position(|x| *x == t).unwrap_or(99);
        let specificity = |t: Technique| match t {
            Technique::FaceDetection | Technique::PersonDetection => 0,
            _ => 1,
        };
        let best = report
            .artifacts
            .iter()
            .filter(|a| a.technique != Technique::None)
            .max_by(|a, b| {
                specificity(a.technique)
                    .cmp(&specificity(b.technique))
                    .then(rank(b.technique).cmp(&rank(a.technique)))
                    .then(a.confidence.total_cmp(&b.confidence))
            });
        let got = match (best, report.artifacts.first()) {
            (Some(a), _) => (a.technique, a.confidence, a.reasons.join("; ")),
            (None, Some(a)) => (Technique::None, a.confidence, a.reasons.join("; ")),
            (None, None) => (
                Technique::None,
                0.0,
                report
                    .inputs
                    .first()
                    .and_then(|i| i.incomplete.clone().or(i.error.clone()))
                    .unwrap_or_else(|| "no model found in it".into()),
            ),
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
    if probe {
        println!("\n| format | models | probed | refused with a reason |\n|---|---|---|---|");
        for (format, (n, ran, refused)) in &probed {
            println!("| {format} | {n} | {ran} | {refused} |");
        }
        println!("\nnot probed, by reason:");
        for ((format, why), files) in &refusals {
            println!("  {format} ×{}: {why}", files.len());
            for f in files {
                println!("      {f}");
            }
        }
    }
    println!("\n| class | files | right | accuracy |\n|---|---|---|---|");
    for (c, (n, r)) in &per_class {
        println!(
            "| {c} | {n} | {r} | {:.0} % |",
            f64::from(*r) * 100.0 / f64::from(*n)
        );
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
