//! Gait recognition models, generated with the shapes of published architectures (no public
//! package ships one; see scripts/gen-gait-models.py), are classified as gait recognition; the
//! RGB-clip sequence model of similar size is not.

use banwatch::decode::models::sniff_and_parse;
use banwatch::detect::fingerprint::{classify_named, FingerprintOptions};
use banwatch::Technique;
use std::path::Path;
use std::process::Command;

/// Runs the fixture script with the project's venv python (scripts/setup.sh test creates it).
pub fn generate(out: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("BANWATCH_PYTHON")
        .ok()
        .or_else(|| {
            let venv = root.join(".deps/venv/bin/python");
            venv.exists().then(|| venv.display().to_string())
        })
        .unwrap_or_else(|| "python3".into());
    let st = Command::new(&python)
        .arg(root.join("scripts/gen-gait-models.py"))
        .arg(out)
        .status()
        .unwrap_or_else(|e| {
            panic!("{python}: {e}: run `bash scripts/setup.sh test` (python with onnx)")
        });
    assert!(
        st.success(),
        "gen-gait-models.py failed: run `bash scripts/setup.sh test` (python with onnx, numpy)"
    );
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
        // Names are weak evidence: classify under a neutral name so only structure counts.
        let c = classify_named(&info, "", "model.onnx", &FingerprintOptions::default());
        assert_eq!(c.technique, want, "{file}: {:?}", c.reasons);
        if want == Technique::GaitRecognition {
            assert!(c.confidence >= 0.8, "{file}: {}", c.confidence);
        }
    }
}
