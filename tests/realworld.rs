//! The real-world cases (`../shared/cases/realworld/`): captures rebuilt from payloads people
//! posted in public bug reports, each with the verdicts `scan` must reach at its device and
//! strings that must never appear in any output. Every case folder present is checked, so a
//! new case is a new test without code.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cases/realworld");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    v.sort();
    v
}

fn run(args: &[&str], input: &Path) -> (String, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(args)
        .arg(input)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn every_real_world_case_reaches_its_expected_verdicts_and_leaks_nothing() {
    let cases = cases();
    assert!(cases.len() >= 4, "{cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap())
                .unwrap();
        let input = case.join("input.pcap");
        let (json, err, code) = run(&["scan", "--format", "json"], &input);
        let report: Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}: {err}"));
        let device = expected["device"].as_str().unwrap();
        let verdicts: Vec<(String, String)> = report["devices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["device"] == device)
            .flat_map(|d| d["verdicts"].as_array().cloned().unwrap_or_default())
            .map(|v| {
                (
                    v["technique"].as_str().unwrap_or("").to_string(),
                    v["status"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        for want in expected["expect"].as_array().unwrap() {
            let technique = want["technique"].as_str().unwrap();
            let allowed: Vec<&str> = want["status"].as_str().unwrap().split(" or ").collect();
            let got = verdicts.iter().find(|(t, _)| t == technique);
            if !got.is_some_and(|(_, s)| allowed.contains(&s.as_str())) {
                failures.push(format!(
                    "{name}: {device} {technique}: want {allowed:?}, got {got:?} (all: {verdicts:?})"
                ));
            }
        }
        if code != Some(1) {
            failures.push(format!("{name}: exit {code:?}, want 1 (violations)"));
        }
        let (text, text_err, _) = run(&["scan"], &input);
        let (inspect, inspect_err, _) = run(&["inspect"], &input);
        for secret in expected["must_not_appear_in_any_output"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            for (what, out) in [
                ("json", &json),
                ("json stderr", &err),
                ("text", &text),
                ("text stderr", &text_err),
                ("inspect", &inspect),
                ("inspect stderr", &inspect_err),
            ] {
                if out.contains(secret) {
                    failures.push(format!("{name}: {secret:?} in the {what} output"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
