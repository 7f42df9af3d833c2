//! Every real model of ../shared/fixtures/models classified into its class's technique, with the
//! catalog of known models and — the structural path on its own — without it.

use banwatch::decode::models::sniff_and_parse;
use banwatch::detect::fingerprint::{classify_named, FingerprintOptions};
use banwatch::Technique;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/models")
}

fn expected(class: &str) -> Technique {
    match class {
        "face-recognition-embedding" => Technique::FaceRecognition,
        "face-detection" => Technique::FaceDetection,
        "face-landmarks/alignment" => Technique::FaceLandmarks,
        "face-attributes" => Technique::FaceAttributes,
        "anti-spoofing" => Technique::FaceAntiSpoofing,
        "body-pose" => Technique::BodyPose,
        "person-detection" => Technique::PersonDetection,
        "negative-other" => Technique::None,
        other => panic!("unknown fixture class {other}"),
    }
}

fn run(catalog: bool) -> Vec<String> {
    let manifest_path = fixtures().join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path)
        .unwrap_or_else(|e| panic!("{}: {e}", manifest_path.display()));
    let manifest: Value = serde_json::from_str(&text).unwrap();
    let entries = manifest.as_array().expect("array");
    assert_eq!(entries.len(), 25);
    let opts = FingerprintOptions::default().with_catalog(catalog);
    let mut failures = Vec::new();
    println!("\ncatalog {}:", if catalog { "on" } else { "off" });
    for e in entries {
        let dir = fixtures().join(e["fixture_dir"].as_str().unwrap());
        let file = e["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["file"].as_str().unwrap())
            .find(|f| !f.ends_with(".bin"))
            .unwrap();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let want = expected(e["class"].as_str().unwrap());
        let info = match sniff_and_parse(file, &bytes, &|n| std::fs::read(dir.join(n)).ok()) {
            Some(Ok(i)) => i,
            other => {
                failures.push(format!("{file}: not parsed: {:?}", other.map(|r| r.err())));
                continue;
            }
        };
        let sha = hex::encode(Sha256::digest(&bytes));
        let c = classify_named(&info, &sha, file, &opts);
        println!(
            "  {:<50} {:<20} {:.2} {}",
            file,
            c.technique.as_str(),
            c.confidence,
            c.reasons.join("; ")
        );
        if c.technique != want {
            failures.push(format!(
                "{file}: {} (want {want}): {:?}",
                c.technique, c.reasons
            ));
        }
        if want == Technique::FaceRecognition && c.confidence < 0.8 {
            failures.push(format!(
                "{file}: recognition with low confidence {}",
                c.confidence
            ));
        }
        if want != Technique::FaceRecognition && c.technique.is_biometric_identification() {
            failures.push(format!(
                "{file}: a non-recognition model called {}",
                c.technique
            ));
        }
    }
    failures
}

#[test]
fn every_fixture_classified_with_the_catalog() {
    let f = run(true);
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn every_fixture_classified_by_structure_alone() {
    let f = run(false);
    assert!(f.is_empty(), "{}", f.join("\n"));
}

/// A re-trained copy of a known network (same graph, other weights) is known by its structural
/// hash, not its sha256.
#[test]
fn a_retrained_copy_is_known_by_its_structure() {
    let path = fixtures()
        .join("face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx");
    let mut bytes = std::fs::read(&path).unwrap();
    // Nudge low mantissa bits in the middle of the weights: other weights, same graph.
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 256] {
        *b ^= 0x01;
    }
    let sha = hex::encode(Sha256::digest(&bytes));
    let info = sniff_and_parse("model.onnx", &bytes, &|_| None)
        .unwrap()
        .unwrap();
    let c = classify_named(&info, &sha, "model.onnx", &FingerprintOptions::default());
    assert_eq!(c.technique, Technique::FaceRecognition);
    assert_eq!(c.family.as_deref(), Some("mobilefacenet-arcface"));
    assert!(c.reasons[0].contains("structural hash"), "{:?}", c.reasons);
    // And a different network with the same output size is not that family.
    let other = std::fs::read(
        fixtures()
            .join("face-landmarks-alignment/faceplugin-face-recognition-js-0.0.1/fr_landmark.onnx"),
    )
    .unwrap();
    let info = sniff_and_parse("model.onnx", &other, &|_| None)
        .unwrap()
        .unwrap();
    let c = classify_named(&info, "", "model.onnx", &FingerprintOptions::default());
    assert_ne!(c.family.as_deref(), Some("mobilefacenet-arcface"));
}
