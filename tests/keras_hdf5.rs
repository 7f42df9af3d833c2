//! The HDF5 reader checked against HDF5's own library: scripts/gen-keras-h5.py writes Keras-style
//! files with h5py (old and new file formats, symbol-table and link-message groups, contiguous,
//! compact and chunked datasets, fixed and variable-length strings) and lists what each holds in
//! expected.json; every path, shape, attribute and first value must come out the same. Then what
//! the Keras reader and the classifier make of weights-only files.

use banwatch::decode::models::hdf5::{AttrValue, Hdf5};
use banwatch::decode::models::sniff_and_parse;
use banwatch::detect::fingerprint::{classify_named, FingerprintOptions};
use banwatch::Technique;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[path = "common/fixture_scripts.rs"]
#[allow(dead_code)]
mod fixture_scripts;

fn generate(out: &Path) -> Value {
    fixture_scripts::run("gen-keras-h5.py", out);
    serde_json::from_slice(&std::fs::read(out.join("expected.json")).unwrap()).unwrap()
}

#[test]
fn the_hdf5_reader_reads_what_h5py_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let expected = generate(dir.path());
    let files = expected.as_object().unwrap();
    assert_eq!(files.len(), 4);
    for (file, want) in files {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        let f = Hdf5::open(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut notes = Vec::new();
        let objects = f
            .objects(&mut notes)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let by_path: BTreeMap<&str, _> = objects.iter().map(|o| (o.path.as_str(), o)).collect();
        // Every dataset h5py wrote, with its shape and first values.
        let datasets = want["datasets"].as_object().unwrap();
        for (path, d) in datasets {
            let o = by_path
                .get(path.as_str())
                .unwrap_or_else(|| panic!("{file}: {path} not found; notes {notes:?}"));
            let ds = o
                .dataset
                .as_ref()
                .unwrap_or_else(|| panic!("{file}: {path} not a dataset"));
            let shape: Vec<u64> = d["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect();
            assert_eq!(ds.shape, shape, "{file}: {path}");
            let first: Vec<f64> = d["first"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            match f.read_f32(ds) {
                Ok(v) if d["readable"] == true => {
                    let got: Vec<f64> = v.iter().take(4).map(|&x| f64::from(x)).collect();
                    for (g, w) in got.iter().zip(&first) {
                        assert!(
                            (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                            "{file}: {path}: {got:?} vs {first:?}"
                        );
                    }
                    assert_eq!(got.len(), first.len(), "{file}: {path}");
                }
                Ok(_) => panic!("{file}: {path}: chunked contents read"),
                Err(e) if d["readable"] == false => {
                    assert!(e.to_string().contains("chunked"), "{file}: {path}: {e}")
                }
                Err(e) => panic!("{file}: {path}: {e}"),
            }
        }
        // The datasets found are those h5py wrote, besides the dense group it could not read.
        let found = objects.iter().filter(|o| o.dataset.is_some()).count();
        assert_eq!(found, datasets.len(), "{file}");
        // Root attributes: fixed-length string arrays and variable-length strings.
        let root = by_path[""];
        for (name, values) in want["root_attributes"].as_object().unwrap() {
            let want: Vec<String> = values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                root.attribute(name),
                Some(&AttrValue::Strings(want)),
                "{file}: attribute {name}"
            );
        }
        for n in want["notes"].as_array().into_iter().flatten() {
            let n = n.as_str().unwrap();
            assert!(notes.iter().any(|x| x.contains(n)), "{file}: {notes:?}");
        }
        if want.get("notes").is_none() {
            assert!(notes.is_empty(), "{file}: {notes:?}");
        }
    }
}

/// Weights-only Keras files (`model.save_weights`): the classifier works from the layer
/// weights' shapes. A conv backbone ending in a 128-value bottleneck is a suspected embedding;
/// three parallel heads of 120 and 66 bins are head pose (WHENet, Hopenet); the same backbone
/// ending in a 1000-class classifier is neither.
#[test]
fn weights_only_keras_files_are_read_from_their_layers() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let off = FingerprintOptions::default().with_catalog(false);
    let classify = |file: &str| {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        let info = sniff_and_parse("model.h5", &bytes, &|_| None)
            .unwrap()
            .unwrap();
        let c = classify_named(&info, "", "model.h5", &off);
        println!(
            "{file}: {} {:.2} {:?}",
            c.technique.as_str(),
            c.confidence,
            c.reasons
        );
        (info, c)
    };
    let (info, c) = classify("embedder_weights.h5");
    assert_eq!(
        info.facts.get("keras.weights_only").map(String::as_str),
        Some("true")
    );
    assert_eq!(info.ops.get("Conv2D"), Some(&12));
    assert_eq!(info.ops.get("BatchNormalization"), Some(&12));
    assert_eq!(c.technique, Technique::FaceRecognition);
    assert!(
        c.confidence <= 0.6,
        "weights only is suspected at most: {c:?}"
    );
    let (_, c) = classify("headpose_weights.h5");
    assert_eq!(c.technique, Technique::FaceLandmarks, "{c:?}");
    let (_, c) = classify("classifier_weights.h5");
    assert_eq!(c.technique, Technique::None, "{c:?}");
    // A whole model: the architecture from the model_config attribute, a variable-length
    // string in a new-style file.
    let (info, _) = classify("full_model_latest.h5");
    assert_eq!(info.ops.get("Conv2D"), Some(&1));
    assert!(
        info.inputs
            .iter()
            .any(|t| t.shape == vec![None, Some(64), Some(64), Some(3)]),
        "{:?}",
        info.inputs
    );
}

/// Damaged files: every truncation and a run of corrupted bytes give an error or a partial
/// reading, never a panic.
#[test]
fn damaged_hdf5_files_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    for file in ["full_model_latest.h5", "headpose_weights.h5"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        let step = (bytes.len() / 300).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let _ = sniff_and_parse("model.h5", &bytes[..cut], &|_| None);
        }
        let mut seed = 7u64;
        for _ in 0..300 {
            let mut b = bytes.clone();
            for _ in 0..8 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let at = (seed >> 33) as usize % b.len().min(8192);
                b[at] = (seed >> 17) as u8;
            }
            if let Ok(f) = Hdf5::open(&b) {
                let mut notes = Vec::new();
                if let Ok(objects) = f.objects(&mut notes) {
                    for o in objects.iter().filter_map(|o| o.dataset.as_ref()) {
                        let _ = f.read_f32(o);
                    }
                }
            }
            let _ = sniff_and_parse("model.h5", &b, &|_| None);
        }
    }
}
