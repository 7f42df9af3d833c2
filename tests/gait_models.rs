//! Gait recognition models, generated with the shapes of published architectures (no public
//! package ships one; see scripts/gen-gait-models.py), are classified as gait recognition; the
//! RGB-clip sequence model of similar size is not.

use banwatch::decode::models::sniff_and_parse;
use banwatch::detect::fingerprint::{classify_named, FingerprintOptions};
use banwatch::Technique;
use std::path::Path;

#[path = "common/fixture_scripts.rs"]
#[allow(dead_code)]
mod fixture_scripts;

/// Writes the generated gait nets into `out`.
pub fn generate(out: &Path) {
    fixture_scripts::run("gen-gait-models.py", out);
}

#[test]
fn generated_gait_nets_are_gait_and_the_clip_model_is_not() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    for (file, want) in [
        ("gaitset_like.onnx", Technique::GaitRecognition),
        ("gaitgl_like.onnx", Technique::GaitRecognition),
        ("gaitbase_like.onnx", Technique::GaitRecognition),
        ("action_sequence_like.onnx", Technique::None),
    ] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        let info = sniff_and_parse(file, &bytes, &|_| None).unwrap().unwrap();
        // Structure only: a neutral name (names are weak evidence) and no catalog (it could
        // know a published model by hash and answer for the structure).
        let c = classify_named(
            &info,
            "",
            "model.onnx",
            &FingerprintOptions::default().with_catalog(false),
        );
        assert!(
            !c.reasons.iter().any(|r| r.starts_with("known model")),
            "{file}: {:?}",
            c.reasons
        );
        assert_eq!(c.technique, want, "{file}: {:?}", c.reasons);
        if want == Technique::GaitRecognition {
            assert!(c.confidence >= 0.8, "{file}: {}", c.confidence);
        }
    }
}
