//! Runs the fixture-generating Python scripts with the project's venv (scripts/setup.sh test
//! creates it with onnx, numpy and PyYAML).

use std::path::Path;
use std::process::Command;

/// The Python to use: `BANWATCH_PYTHON`, else `.deps/venv/bin/python`, else `python3`.
pub fn python() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var("BANWATCH_PYTHON")
        .ok()
        .or_else(|| {
            let venv = root.join(".deps/venv/bin/python");
            venv.exists().then(|| venv.display().to_string())
        })
        .unwrap_or_else(|| "python3".into())
}

/// Run `scripts/<script> <out>`; panics with the set-up hint when it cannot.
pub fn run(script: &str, out: &Path) {
    run_with(&python(), script, out, "python with onnx, numpy");
}

/// Run `scripts/<script> <out>` with `python`; panics naming `needs` in the set-up hint.
fn run_with(python: &str, script: &str, out: &Path, needs: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let st = Command::new(python)
        .arg(root.join("scripts").join(script))
        .arg(out)
        .status()
        .unwrap_or_else(|e| panic!("{python}: {e}: run `bash scripts/setup.sh test` ({needs})"));
    assert!(
        st.success(),
        "{script} failed: run `bash scripts/setup.sh test` ({needs})"
    );
}

/// The Python with Keras (3, JAX backend) for the Keras fixtures and comparisons:
/// `BANWATCH_KERAS_PYTHON`, else `.deps/keras/bin/python` (scripts/setup.sh test makes it).
pub fn keras_python() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var("BANWATCH_KERAS_PYTHON")
        .ok()
        .unwrap_or_else(|| root.join(".deps/keras/bin/python").display().to_string())
}

/// Run `scripts/<script> <out>` with Keras's Python; panics with the set-up hint when it cannot.
pub fn run_keras(script: &str, out: &Path) {
    run_with(&keras_python(), script, out, "Keras");
}
