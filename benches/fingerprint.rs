//! Model fingerprinting, measured: parse + classify of every fixture model (the target is under
//! 20 ms per model), the behavioural probe on the ONNX, TFLite, TF.js graph, PyTorch state-dict
//! and dlib fixtures, generated NCNN and OpenVINO IR models and a generated graph that takes no
//! picture (the run on drawn signals)
//! (each fixture it runs on; ONNX Runtime, when
//! `ORT_DYLIB_PATH` or .deps/onnxruntime has the library), the cascade probe on the OpenCV
//! cascade fixtures and jsfeat's BBF face cascade (no ONNX Runtime needed), and carving
//! throughput over a firmware-like blob.
//!
//!   cargo bench --bench fingerprint
use banwatch::decode::models::sniff_and_parse;
use banwatch::detect::fingerprint::probe::{cascade, Probe};
use banwatch::detect::fingerprint::{classify_named, FingerprintOptions};
use banwatch::sources::offline::files::{walk, Limits};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::{Path, PathBuf};

fn fixture_paths() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/models");
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p: PathBuf = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_none_or(|x| x != "bin") && !p.ends_with("manifest.json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fixture_paths()
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn classify(c: &mut Criterion) {
    let models = fixtures();
    let opts = FingerprintOptions::default().with_catalog(false);
    let mut g = c.benchmark_group("fingerprint");
    g.sample_size(10);
    for (name, bytes) in &models {
        g.bench_function(format!("parse+classify {name}"), |b| {
            b.iter(|| {
                let info = sniff_and_parse(name, bytes, &|_| None).unwrap().unwrap();
                classify_named(&info, "", name, &opts).technique
            })
        });
    }
    g.finish();
}

fn cascade_probe(c: &mut Criterion) {
    let mut g = c.benchmark_group("probe");
    g.sample_size(10);
    for path in fixture_paths() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        if cascade::run(&bytes).is_err() {
            continue;
        }
        g.bench_function(format!("probe opencv_cascade {name}"), |b| {
            b.iter(|| cascade::run(&bytes).map(|r| r.fired.len()).unwrap_or(0))
        });
    }
    // A BBF cascade as web packages embed it: jsfeat's own, from the reference install
    // (scripts/setup.sh test puts it in .deps/webjs).
    let bbf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".deps/webjs/node_modules/jsfeat/cascades/bbf_face.js");
    match std::fs::read(&bbf) {
        Ok(bytes) => {
            g.bench_function("probe bbf_cascade jsfeat bbf_face.js", |b| {
                b.iter(|| cascade::run_bbf(&bytes).map(|r| r.fired.len()).unwrap_or(0))
            });
        }
        Err(e) => eprintln!("probe bench: {}: {e}: BBF not measured", bbf.display()),
    }
    g.finish();
}

fn probe(c: &mut Criterion) {
    let Ok(p) = Probe::load(None) else {
        eprintln!("probe bench: ONNX Runtime not found (run scripts/setup.sh): not measured");
        return;
    };
    let mut g = c.benchmark_group("probe");
    g.sample_size(10);
    // The ONNX fixtures as they are, the others through their converters
    // (conversion included in the time); NCNN and OpenVINO IR through generated models
    // (scripts/gen-probe-ncnn.py, scripts/gen-probe-openvino.py: numpy only), there being no
    // fixture of either, and the run on drawn signals through a generated graph that takes no
    // picture (scripts/gen-probe-models.py: needs onnx, so BANWATCH_PYTHON=.deps/venv/bin/python).
    let generated = tempfile::tempdir().unwrap();
    let mut paths = fixture_paths();
    let python = std::env::var("BANWATCH_PYTHON").unwrap_or_else(|_| "python3".into());
    for (script, names) in [
        (
            "gen-probe-ncnn.py",
            &["embedder_512.param", "heatmap_landmarks_512.param"][..],
        ),
        ("gen-probe-openvino.py", &["embedder_512.xml"][..]),
        ("gen-probe-models.py", &["voice_activity_like.onnx"][..]),
    ] {
        let out = generated.path().join(script);
        let made = std::fs::create_dir_all(&out).is_ok()
            && std::process::Command::new(&python)
                .arg(
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("scripts")
                        .join(script),
                )
                .arg(&out)
                .status()
                .is_ok_and(|s| s.success());
        if made {
            paths.extend(names.iter().map(|n| out.join(n)));
        } else {
            eprintln!("probe bench: scripts/{script} did not run: its models not measured");
        }
    }
    // The web packages' own models scripts/setup.sh unpacks for the suite: clmtrackr's SVM and
    // MOSSE models and face-api.js's default detector (SsdMobilenetv1), when present.
    let webjs = Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/webjs/node_modules");
    for rel in [
        "clmtrackr/models/model_pca_20_svm.js",
        "clmtrackr/models/model_pca_20_mosse.js",
        "@vladmandic/face-api/model/ssd_mobilenetv1_model-weights_manifest.json",
    ] {
        let path = webjs.join(rel);
        if path.exists() {
            paths.push(path);
        } else {
            eprintln!(
                "probe bench: {rel} not in .deps/webjs (scripts/setup.sh test): not measured"
            );
        }
    }
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let beside = path.parent().unwrap().to_path_buf();
        let sibling = move |n: &str| std::fs::read(beside.join(n)).ok();
        let Some(Ok(info)) = sniff_and_parse(&name, &bytes, &sibling) else {
            continue;
        };
        if p.run_with(&bytes, &info, &sibling).is_err() {
            continue;
        }
        let format = info.format.map_or("?", |f| f.as_str());
        g.bench_function(format!("probe {format} {name}"), |b| {
            b.iter(|| {
                p.run_with(&bytes, &info, &sibling)
                    .map(|r| r.outputs.len())
                    .unwrap_or(0)
            })
        });
    }
    g.finish();
}

fn carve(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("fw.bin");
    let models = fixtures();
    let mut data = Vec::new();
    let mut x: u64 = 7;
    for (i, (name, bytes)) in models.iter().enumerate() {
        for _ in 0..(1 << 20) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(x as u8);
        }
        if name.ends_with(".onnx") || name.ends_with(".tflite") || i % 5 == 0 {
            data.extend_from_slice(bytes);
        }
    }
    std::fs::write(&blob, &data).unwrap();
    let mut g = c.benchmark_group("carve");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("walk+carve firmware blob", |b| {
        b.iter(|| {
            let mut n = 0;
            walk(&blob, &Limits::default(), &mut |_| {
                n += 1;
                banwatch::sources::offline::files::Carve::Yes
            })
            .unwrap();
            n
        })
    });
    g.finish();
}

criterion_group!(benches, classify, probe, cascade_probe, carve);
criterion_main!(benches);
