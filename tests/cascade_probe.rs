//! The cascade probe: OpenCV Haar and LBP cascades evaluated in Rust on drawn pictures.
//!
//! - Window for window against OpenCV itself (opencv-python-headless, installed by
//!   `scripts/setup.sh test`; scripts/compare-cascade-opencv.py): the fixture cascades and
//!   generated ones covering what the fixtures do not (LBP, trees, tilted features).
//! - What the fixtures fire on, and a cascade whose comment misnames its object.

use banwatch::decode::models::{cascade, sniff_and_parse};
use banwatch::detect::fingerprint::probe::cascade::eval::Gray;
use banwatch::detect::fingerprint::probe::cascade::{comparison_record, scenes};
use banwatch::detect::fingerprint::{classify_model, FingerprintOptions, LazyProbe};
use banwatch::model::Technique;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/fixture_scripts.rs"]
#[allow(dead_code)]
mod fixture_scripts;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/models")
        .join(rel)
}

const FACE: &str =
    "face-detection/opencv-python-headless-4.14.0.94/haarcascade_frontalface_default.xml";
const PLATE: &str =
    "negative-other/opencv-python-headless-4.14.0.94/haarcascade_russian_plate_number.xml";
const BODY: &str = "person-detection/opencv-python-headless-4.14.0.94/haarcascade_fullbody.xml";

/// A deterministic generator for the generated cascades.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n.max(1)) as i64
    }
}

/// A random cascade in `opencv-cascade-classifier` XML: `lbp` or Haar (upright and tilted
/// features), stumps or depth-2 trees, thresholds set so that many windows pass every stage.
fn generated(lbp: bool, trees: bool, seed: u64) -> String {
    let mut r = Lcg(seed);
    let (w, h) = (24i64, 24i64);
    let nfeat = 40;
    let mut features = String::new();
    for i in 0..nfeat {
        if lbp {
            let (cw, ch) = (1 + r.below(7), 1 + r.below(7));
            let (x, y) = (
                r.below((w - 3 * cw + 1) as u64),
                r.below((h - 3 * ch + 1) as u64),
            );
            let _ = write!(features, "<_><rect>{x} {y} {cw} {ch}</rect></_>");
        } else if i % 3 == 2 {
            // Tilted: top corner (x, y), needs x - rh >= 0, x + rw <= w, y + rw + rh <= h.
            let (rw, rh) = (2 + r.below(8), 2 + r.below(8));
            let x = rh + r.below((w - rw - rh + 1) as u64);
            let y = r.below((h - rw - rh + 1) as u64);
            let _ = write!(
                features,
                "<_><rects><_>{x} {y} {rw} {rh} -1.</_><_>{x} {y} {} {rh} 2.</_></rects><tilted>1</tilted></_>",
                rw / 2
            );
        } else {
            let (rw, rh) = (2 + 2 * r.below(10), 2 + r.below(20));
            let (x, y) = (r.below((w - rw + 1) as u64), r.below((h - rh + 1) as u64));
            let _ = write!(
                features,
                "<_><rects><_>{x} {y} {rw} {rh} -1.</_><_>{x} {y} {} {rh} 2.</_></rects><tilted>0</tilted></_>",
                rw / 2
            );
        }
    }
    let split = |r: &mut Lcg| -> String {
        let f = r.below(nfeat);
        if lbp {
            let words: Vec<String> = (0..8)
                .map(|_| (r.next() as u32 as i32).to_string())
                .collect();
            format!("{f} {}", words.join(" "))
        } else {
            format!("{f} {:.4}", (r.below(2001) - 1000) as f64 / 20000.0)
        }
    };
    let mut stages = String::new();
    for _ in 0..4 {
        let mut weak = String::new();
        for _ in 0..3 {
            if trees {
                let (a, b, c) = (split(&mut r), split(&mut r), split(&mut r));
                let _ = write!(
                    weak,
                    "<_><internalNodes>1 2 {a} 0 -1 {b} -2 -3 {c}</internalNodes><leafValues>-1. 1. -1. 1.</leafValues></_>"
                );
            } else {
                let a = split(&mut r);
                let _ = write!(
                    weak,
                    "<_><internalNodes>0 -1 {a}</internalNodes><leafValues>-1. 1.</leafValues></_>"
                );
            }
        }
        let _ = write!(
            stages,
            "<_><maxWeakCount>3</maxWeakCount><stageThreshold>-1.5</stageThreshold><weakClassifiers>{weak}</weakClassifiers></_>"
        );
    }
    format!(
        "<?xml version=\"1.0\"?>\n<opencv_storage>\n<cascade type_id=\"opencv-cascade-classifier\"><stageType>BOOST</stageType><featureType>{}</featureType><height>{h}</height><width>{w}</width><stageParams><maxWeakCount>3</maxWeakCount></stageParams><featureParams><maxCatCount>{}</maxCatCount></featureParams><stageNum>4</stageNum><stages>{stages}</stages><features>{features}</features></cascade>\n</opencv_storage>\n",
        if lbp { "LBP" } else { "HAAR" },
        if lbp { 256 } else { 0 },
    )
}

/// `c` written in the old `opencv-haar-classifier` layout (OpenCV 1.x–2.x), which OpenCV 4
/// still runs, through its old code path: one feature per node, `left_val`/`left_node`.
fn old_layout(c: &cascade::Cascade) -> String {
    let mut x = format!(
        "<?xml version=\"1.0\"?>\n<opencv_storage>\n<old type_id=\"opencv-haar-classifier\"><size>{} {}</size><stages>",
        c.width, c.height
    );
    for (si, stage) in c.stages.iter().enumerate() {
        x.push_str("<_><trees>");
        for (nodes, leaves) in &stage.weak {
            x.push_str("<_>");
            for n in nodes {
                let cascade::CascadeFeature::Haar { rects, tilted } = &c.features[n.feature] else {
                    panic!("Haar only");
                };
                x.push_str("<_><feature><rects>");
                for (rx, ry, rw, rh, w) in rects {
                    let _ = write!(x, "<_>{rx} {ry} {rw} {rh} {w:?}</_>");
                }
                let _ = write!(
                    x,
                    "</rects><tilted>{}</tilted></feature><threshold>{:?}</threshold>",
                    u8::from(*tilted),
                    n.threshold
                );
                for (side, child) in [("left", n.left), ("right", n.right)] {
                    if child > 0 {
                        let _ = write!(x, "<{side}_node>{child}</{side}_node>");
                    } else {
                        let _ = write!(
                            x,
                            "<{side}_val>{:?}</{side}_val>",
                            leaves[(-child) as usize]
                        );
                    }
                }
                x.push_str("</_>");
            }
            x.push_str("</_>");
        }
        let _ = write!(
            x,
            "</trees><stage_threshold>{:?}</stage_threshold><parent>{}</parent><next>-1</next></_>",
            stage.threshold,
            si as i64 - 1
        );
    }
    x.push_str("</stages></old>\n</opencv_storage>\n");
    x
}

#[test]
fn cascades_match_opencv_window_for_window() {
    let dir = tempfile::tempdir().unwrap();
    let battery = scenes::battery();
    for (i, s) in battery.iter().enumerate() {
        std::fs::write(dir.path().join(format!("scene-{i}.pgm")), s.image.to_pgm()).unwrap();
    }
    let mut cascades: Vec<(String, PathBuf)> = [FACE, PLATE, BODY]
        .iter()
        .map(|r| (r.rsplit('/').next().unwrap().to_string(), fixture(r)))
        .collect();
    for (name, lbp, trees, seed) in [
        ("gen_lbp_stumps.xml", true, false, 1),
        ("gen_lbp_trees.xml", true, true, 2),
        ("gen_haar_stumps.xml", false, false, 3),
        ("gen_haar_trees.xml", false, true, 4),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, generated(lbp, trees, seed)).unwrap();
        cascades.push((name.to_string(), p));
    }
    // The old layout: the same Haar cascades rewritten, run by OpenCV's old code path.
    for (name, from) in [
        ("old_frontalface_default.xml", fixture(FACE)),
        ("old_fullbody.xml", fixture(BODY)),
        (
            "old_gen_haar_trees.xml",
            dir.path().join("gen_haar_trees.xml"),
        ),
    ] {
        let c = cascade::read(&std::fs::read(from).unwrap()).unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, old_layout(&c)).unwrap();
        cascades.push((name.to_string(), p));
    }
    let mut accepted = std::collections::BTreeMap::new();
    for (name, path) in &cascades {
        let c =
            cascade::read(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let rec = comparison_record(&c, battery, &path.display().to_string(), false);
        let n: usize = rec["scenes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["scale_one"].as_array().unwrap().len())
            .sum();
        accepted.insert(name.clone(), n);
        std::fs::write(
            dir.path().join(format!("{name}.json")),
            serde_json::to_vec(&rec).unwrap(),
        )
        .unwrap();
    }
    // The comparison is not vacuous: the generated cascades accept many windows.
    for (name, n) in &accepted {
        println!("{name}: {n} windows accepted at scale one");
        if name.contains("gen_") {
            assert!(
                *n > 200,
                "{name}: only {n} windows accepted; the check would prove little"
            );
        }
    }
    let run = Command::new(fixture_scripts::python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/compare-cascade-opencv.py"))
        .arg(dir.path())
        .output()
        .expect("python: run `bash scripts/setup.sh test`");
    let out = String::from_utf8_lossy(&run.stdout);
    println!("{out}");
    assert!(
        run.status.success(),
        "banwatch and OpenCV disagree:\n{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(out.lines().count(), cascades.len(), "{out}");
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["scale_one_pictures_differing"], 0, "{line}");
        assert_eq!(v["scale_one_pictures_equal"], battery.len(), "{line}");
    }
}

/// Classify with the catalog off and the probe on, but no ONNX Runtime: cascades need none.
fn classify(bytes: &[u8], name: &str) -> banwatch::detect::fingerprint::Classification {
    let info = sniff_and_parse("model.xml", bytes, &|_| None)
        .unwrap()
        .unwrap();
    let opts = FingerprintOptions::default()
        .with_catalog(false)
        .with_lazy_probe(LazyProbe::new(|| None));
    classify_model(&info, bytes, "", name, &opts)
}

#[test]
fn the_cascade_probe_says_what_each_fixture_fires_on() {
    for (rel, technique, part) in [
        (FACE, Technique::FaceDetection, "fires on frontal faces"),
        (PLATE, Technique::None, "fires on number plates"),
        (BODY, Technique::PersonDetection, "fires on whole bodies"),
    ] {
        let bytes = std::fs::read(fixture(rel)).unwrap();
        let c = classify(&bytes, "");
        println!("{rel}: {} {:.2} {:?}", c.technique, c.confidence, c.reasons);
        assert_eq!(c.technique, technique, "{rel}: {:?}", c.reasons);
        assert!(
            c.reasons.iter().any(|r| r.contains(part)),
            "{rel}: {:?}",
            c.reasons
        );
        assert!(c.confidence >= 0.8, "{rel}: {}", c.confidence);
    }
}

#[test]
fn a_face_cascade_whose_comment_names_an_eye_is_still_a_face_detector() {
    // Structure believes the comment (weak): an eye cascade, facial-part localisation.
    let text = String::from_utf8(std::fs::read(fixture(FACE)).unwrap()).unwrap();
    let start = text.find("<!--").unwrap();
    let end = text.find("-->").unwrap() + 3;
    let relabelled = format!(
        "{}<!-- Stump-based 24x24 eye detector. -->{}",
        &text[..start],
        &text[end..]
    );
    let info = sniff_and_parse("model.xml", relabelled.as_bytes(), &|_| None)
        .unwrap()
        .unwrap();
    let structure = banwatch::detect::fingerprint::classify_named(
        &info,
        "",
        "",
        &FingerprintOptions::default().with_catalog(false),
    );
    assert_eq!(structure.technique, Technique::FaceLandmarks);
    // Where it fires says otherwise; and a cascade never becomes recognition.
    let c = classify(relabelled.as_bytes(), "");
    assert_eq!(c.technique, Technique::FaceDetection, "{:?}", c.reasons);
    assert!(
        c.reasons.iter().any(|r| r.contains("not face_landmarks")),
        "{:?}",
        c.reasons
    );
}

#[test]
fn a_cascade_the_probe_cannot_read_keeps_its_structural_verdict_with_the_reason() {
    // A tree whose child points at a node it does not have: the structure still reads the
    // window, the probe refuses to walk it and says why.
    let text = String::from_utf8(std::fs::read(fixture(FACE)).unwrap()).unwrap();
    let bad = text.replacen(
        "<internalNodes>\n            0 -1 ",
        "<internalNodes>\n            1 -1 ",
        1,
    );
    assert_ne!(bad, text, "the fixture's layout changed");
    let info = sniff_and_parse("model.xml", bad.as_bytes(), &|_| None)
        .unwrap()
        .unwrap();
    let c = classify_model(
        &info,
        bad.as_bytes(),
        "",
        "",
        &FingerprintOptions::default()
            .with_catalog(false)
            .with_lazy_probe(LazyProbe::new(|| None)),
    );
    assert_eq!(c.technique, Technique::FaceDetection);
    assert!(
        c.reasons
            .iter()
            .any(|r| r.contains("cascade not evaluated") && r.contains("backwards")),
        "{:?}",
        c.reasons
    );
}

/// A BBF cascade (ccv's format, as web packages embed it) is evaluated as jsfeat itself runs
/// it: jsfeat 0.0.8's own face cascade, on every probe picture, gives the same raw hits and the
/// same grouped detections here as in jsfeat under Node.js (scripts/run-bbf-jsfeat.js; jsfeat
/// installed by `scripts/setup.sh test`), and the probe finds that it fires on frontal faces.
#[test]
fn bbf_cascades_are_evaluated_as_jsfeat_evaluates_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join(".deps/webjs/node_modules");
    let cascade_path = modules.join("jsfeat/cascades/bbf_face.js");
    let bytes = std::fs::read(&cascade_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run `bash scripts/setup.sh test`",
            cascade_path.display()
        )
    });
    let c = cascade::bbf::read(&bytes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Every probe picture, and each at twice its size (more scales, more hits to group).
    let battery: Vec<(String, Gray)> = scenes::battery()
        .iter()
        .flat_map(|s| {
            let big = s.image.resized(s.image.width * 2, s.image.height * 2);
            [
                (s.name.to_string(), s.image.clone()),
                (format!("{} x2", s.name), big),
            ]
        })
        .collect();
    let mut pictures = Vec::new();
    for (i, (_, image)) in battery.iter().enumerate() {
        let p = dir.path().join(format!("scene{i:02}.pgm"));
        std::fs::write(&p, image.to_pgm()).unwrap();
        pictures.push(p);
    }
    let pictures: Vec<(String, &Gray, PathBuf)> = battery
        .iter()
        .zip(pictures)
        .map(|((n, g), p)| (n.clone(), g, p))
        .collect();
    let (raw_total, grouped_total) = compare_with_jsfeat(&c, &cascade_path, &pictures);
    println!("jsfeat's bbf_face on {} pictures: {raw_total} raw hits, {grouped_total} detections, all as jsfeat's", battery.len());
    // A permissive generated cascade in jsfeat's layout (one stage, two features over all
    // three levels): thousands of hits, so the skip after a hit and the grouping are exercised.
    let permissive = r#"(function(global) { global.face_cascade = {"count": 1, "width": 24, "height": 24,
        "stage_classifier": [{"count": 2, "threshold": -0.5, "feature": [
          {"size": 2, "px": [10, 3], "py": [12, 4], "pz": [0, 1], "nx": [2, 5], "ny": [3, 1], "nz": [1, 2]},
          {"size": 1, "px": [4], "py": [5], "pz": [2], "nx": [20], "ny": [20], "nz": [0]}],
          "alpha": [-1.0, 1.0, -0.25, 0.25]}]}; })(jsfeat.bbf);"#;
    let generated = dir.path().join("permissive.js");
    std::fs::write(&generated, permissive).unwrap();
    let g = cascade::bbf::read(permissive.as_bytes()).unwrap();
    let some: Vec<(String, &Gray, PathBuf)> = pictures.iter().step_by(7).cloned().collect();
    let (raw_total, grouped_total) = compare_with_jsfeat(&g, &generated, &some);
    println!("a permissive cascade on {} pictures: {raw_total} raw hits, {grouped_total} detections, all as jsfeat's", some.len());
    assert!(raw_total > 1000 && grouped_total > 0);
    assert!(grouped_total > 0 && raw_total >= grouped_total);
    let info = sniff_and_parse("bbf_face.js", &bytes, &|_| None)
        .unwrap()
        .unwrap();
    let opts = FingerprintOptions::default()
        .with_catalog(false)
        .with_lazy_probe(LazyProbe::new(|| None));
    let verdict = classify_model(&info, &bytes, "", "", &opts);
    assert_eq!(
        verdict.technique,
        Technique::FaceDetection,
        "{:?}",
        verdict.reasons
    );
    assert!(
        verdict
            .reasons
            .iter()
            .any(|r| r.contains("BBF cascade") && r.contains("frontal faces")),
        "{:?}",
        verdict.reasons
    );
}

/// Run `cascade` (its script at `script`) here and in jsfeat (scripts/run-bbf-jsfeat.js) on
/// `pictures` (name, picture, its PGM file); every picture's hits must agree. Returns the raw
/// hits and grouped detections counted.
fn compare_with_jsfeat(
    cascade: &cascade::bbf::BbfCascade,
    script: &Path,
    pictures: &[(String, &Gray, PathBuf)],
) -> (usize, usize) {
    use banwatch::detect::fingerprint::probe::cascade::bbf;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("node")
        .arg(root.join("scripts/run-bbf-jsfeat.js"))
        .arg(script)
        .args(pictures.iter().map(|p| &p.2))
        .env("NODE_PATH", root.join(".deps/webjs/node_modules"))
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (mut raw, mut grouped) = (0, 0);
    for (i, (name, image, _)) in pictures.iter().enumerate() {
        let ours = bbf::comparison_record(cascade, image);
        same_as_jsfeat(&ours, &theirs[i], name);
        raw += ours["raw"].as_array().map_or(0, Vec::len);
        grouped += ours["grouped"].as_array().map_or(0, Vec::len);
    }
    (raw, grouped)
}

/// Raw hits and grouped detections equal to jsfeat's, box for box (numbers as floats).
fn same_as_jsfeat(ours: &serde_json::Value, theirs: &serde_json::Value, name: &str) {
    for key in ["raw", "grouped"] {
        let (a, b) = (
            ours[key].as_array().unwrap(),
            theirs[key].as_array().unwrap(),
        );
        let first_difference = a.iter().zip(b).position(|(x, y)| {
            (0..4).any(|k| (x[k].as_f64().unwrap() - y[k].as_f64().unwrap()).abs() > 1e-9)
        });
        assert!(
            a.len() == b.len() && first_difference.is_none(),
            "{name} {key}: {} boxes here, {} in jsfeat; first difference at {first_difference:?}: {:?} vs {:?}",
            a.len(),
            b.len(),
            first_difference.and_then(|i| a.get(i)),
            first_difference.and_then(|i| b.get(i)),
        );
    }
}
