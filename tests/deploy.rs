//! The deployment files are checked by the tools that will read them: `promtool` (rules, rule
//! unit tests, scrape config), `amtool` (Alertmanager routing), `systemd-analyze` (the unit),
//! and banwatch itself (the Kubernetes ConfigMap's configuration). The Grafana dashboard and
//! the alerting rules may only name metrics the service really exports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/fixture_scripts.rs"]
#[allow(dead_code)]
mod fixture_scripts;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool(bin: &str, args: &[&str]) {
    let out = Command::new(bin)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!("{bin}: {e}: run `bash scripts/setup.sh test` (Debian packages prometheus, prometheus-alertmanager)")
        });
    assert!(
        out.status.success(),
        "{bin} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn prometheus_rules_pass_their_unit_tests() {
    tool(
        "promtool",
        &["check", "rules", "deploy/prometheus/banwatch.rules.yml"],
    );
    tool(
        "promtool",
        &["test", "rules", "deploy/prometheus/banwatch.rules.test.yml"],
    );
    tool(
        "promtool",
        &["check", "config", "deploy/prometheus/prometheus.yml"],
    );
}

#[test]
fn alertmanager_routing_is_valid() {
    tool(
        "amtool",
        &["check-config", "deploy/alertmanager/alertmanager.yml"],
    );
}

/// `systemd-analyze security` rates the unit's exposure (0 safest, 10 worst): it stays at or
/// under 2.5; it holds only CAP_NET_RAW; its configuration, which holds camera passwords, is
/// installed root-only and reaches the service as a credential.
#[test]
fn systemd_unit_is_confined() {
    let unit = root().join("deploy/systemd/banwatch.service");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=25"])
        .arg(&unit)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("systemd-analyze not found: install the Debian package systemd");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&unit).unwrap();
    let caps: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("AmbientCapabilities=") || l.starts_with("CapabilityBoundingSet=")
        })
        .collect();
    assert_eq!(
        caps,
        [
            "AmbientCapabilities=CAP_NET_RAW",
            "CapabilityBoundingSet=CAP_NET_RAW"
        ]
    );
    assert!(text.contains("install -D -m 0600 deploy/banwatch.toml /etc/banwatch/banwatch.toml"));
    assert!(text.contains("LoadCredential=banwatch.toml:/etc/banwatch/banwatch.toml"));
    assert!(text.contains("--config ${CREDENTIALS_DIRECTORY}/banwatch.toml"));
}

#[test]
fn systemd_unit_verifies() {
    let out = Command::new("systemd-analyze")
        .args(["verify", "deploy/systemd/banwatch.service"])
        .current_dir(root())
        .output();
    // Debian's systemd package ships systemd-analyze (scripts/setup.sh test installs it): a
    // missing tool fails this test, it does not pass it unchecked.
    let out = out.expect("systemd-analyze not found: install the Debian package systemd");
    let err = String::from_utf8_lossy(&out.stderr);
    // The binary is not installed here; anything else is a real problem with the unit.
    let problems: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.contains("/usr/local/bin/banwatch is not executable"))
        .collect();
    assert!(problems.is_empty(), "{err}");
}

/// Metric names the service writes (from its source, so a rename breaks this test).
fn exported() -> BTreeSet<String> {
    let src = std::fs::read_to_string(root().join("src/service/metrics.rs")).unwrap();
    names(&src)
}

fn names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(p) = text[i..].find("banwatch_") {
        let s = i + p;
        let ok_start =
            s == 0 || !(b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'_' || b[s - 1] == b':');
        let mut e = s;
        while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'_') {
            e += 1;
        }
        if ok_start {
            let n = &text[s..e];
            let n = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suf| n.strip_suffix(suf))
                .filter(|base| base.ends_with("_seconds"))
                .unwrap_or(n);
            out.insert(n.to_string());
        }
        i = e;
    }
    out
}

#[test]
fn dashboard_and_rules_name_only_exported_metrics() {
    let known = exported();
    for must in [
        "banwatch_feed_up",
        "banwatch_device_compliant",
        "banwatch_alerts_firing",
        "banwatch_event_to_alert_seconds",
        "banwatch_sink_queue_depth",
    ] {
        assert!(known.contains(must), "{must} not exported: {known:?}");
    }
    let text =
        std::fs::read_to_string(root().join("deploy/grafana/banwatch-dashboard.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut used = BTreeSet::new();
    let panels = dash["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10);
    for p in panels {
        for t in p["targets"].as_array().expect("targets") {
            let expr = t["expr"].as_str().expect("expr");
            let n = names(expr);
            assert!(
                !n.is_empty(),
                "panel {:?} has no banwatch metric",
                p["title"]
            );
            used.extend(n);
        }
    }
    let unknown: Vec<_> = used.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "dashboard names metrics the service does not export: {unknown:?}"
    );
    let unused: Vec<_> = known.difference(&used).collect();
    assert!(unused.is_empty(), "exported but on no panel: {unused:?}");
    let rules =
        std::fs::read_to_string(root().join("deploy/prometheus/banwatch.rules.yml")).unwrap();
    let in_rules = names(&rules);
    let unknown: Vec<_> = in_rules.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "rules name unknown metrics: {unknown:?}"
    );
}

fn yaml_documents(path: &Path) -> Vec<serde_json::Value> {
    let python = fixture_scripts::python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}: run `bash scripts/setup.sh test` (venv with PyYAML)"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("YAML as JSON")
}

#[test]
fn kubernetes_manifests_agree_with_the_service() {
    let docs = yaml_documents(&root().join("deploy/kubernetes/banwatch.yaml"));
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"] == k)
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let cm = kind("ConfigMap");
    let toml = cm["data"]["banwatch.toml"].as_str().expect("banwatch.toml");
    // The configuration banwatch will read in the pod parses, with its secret from the env.
    std::env::set_var("BANWATCH_API_TOKEN", "3f9a1c7e5b2d8046a1e9c3b7");
    // No secret value ships in the manifests: the token is created at install.
    assert!(
        !docs.iter().any(|d| d["kind"] == "Secret"),
        "a Secret with a value in the shipped manifests"
    );
    let cfg = banwatch::service::config::Config::parse(Path::new("configmap:banwatch.toml"), toml)
        .unwrap_or_else(|e| panic!("{e}"));
    let port: u16 = cfg
        .listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("listen port");
    let sts = kind("StatefulSet");
    let pod = &sts["spec"]["template"];
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["ports"][0]["containerPort"], port);
    assert_eq!(
        pod["metadata"]["annotations"]["prometheus.io/port"],
        port.to_string()
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    assert!(
        mounts.contains(&cfg.state_dir.to_str().unwrap()),
        "state_dir {:?} not on a volume",
        cfg.state_dir
    );
    assert_eq!(kind("Service")["spec"]["ports"][0]["port"], port);
}
