//! The spot check builds without the service's and the probe's native dependencies: an
//! inspector's laptop needs no GStreamer, libpcap, SQLite or ONNX Runtime development packages
//! (`cargo build --no-default-features --features scan`). Checked on the dependency graph cargo
//! resolves for that build, so the test fails the moment such a crate becomes mandatory.

use std::process::Command;

#[test]
fn the_scan_build_pulls_no_native_service_or_probe_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--no-default-features",
            "--features",
            "scan",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"banwatch") && crates.len() > 20, "{tree}");
    for forbidden in [
        "gstreamer-sys",
        "gstreamer",
        "pcap",
        "libsqlite3-sys",
        "ort",
        "ort-sys",
        "tokio",
        "rumqttc",
        "reqwest",
    ] {
        assert!(
            !crates.contains(&forbidden),
            "{forbidden} is in the scan-only build:\n{tree}"
        );
    }
}
