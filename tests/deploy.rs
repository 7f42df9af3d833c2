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

/// Every object of both manifests against the Kubernetes API's own schemas, strictly (an
/// unknown or misspelt field fails), with kubernetes-validate from the test venv.
#[test]
fn kubernetes_manifests_validate_against_the_api_schemas() {
    let python = fixture_scripts::python();
    for file in [
        "deploy/kubernetes/banwatch.yaml",
        "deploy/kubernetes/cluster.yaml",
    ] {
        let out = Command::new(&python)
            .args([
                "-m",
                "kubernetes_validate",
                "-k",
                "1.31.0",
                "--strict",
                "--quiet",
                file,
            ])
            .current_dir(root())
            .output()
            .unwrap_or_else(|e| panic!("{python}: {e}: run `bash scripts/setup.sh test`"));
        assert!(
            out.status.success(),
            "{file}:\n{}{}\n(kubernetes-validate comes with `bash scripts/setup.sh test`)",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The cluster manifest's objects agree with each other and with banwatch: the configuration
/// parses and asks for the shared store through the env the StatefulSet sets; the budget,
/// policies and services select the pods they mean; banwatch sends to every Alertmanager peer
/// and the peers name each other; the Alertmanager routing is the checked one.
#[test]
fn kubernetes_cluster_manifest_agrees_with_the_service() {
    let docs = yaml_documents(&root().join("deploy/kubernetes/cluster.yaml"));
    let named = |k: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == k && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {k} {name}"))
    };
    assert!(
        !docs.iter().any(|d| d["kind"] == "Secret"),
        "a Secret with a value in the shipped manifests"
    );
    let toml = named("ConfigMap", "banwatch-cluster-config")["data"]["banwatch.toml"]
        .as_str()
        .expect("banwatch.toml");
    // The secrets the install comment creates (banwatch-secrets, banwatch-postgres).
    std::env::set_var("BANWATCH_API_TOKEN", "3f9a1c7e5b2d8046a1e9c3b7");
    std::env::set_var("BANWATCH_LOBBY_PASSWORD", "camera-account-password");
    let cfg = banwatch::service::config::Config::parse(Path::new("configmap:banwatch.toml"), toml)
        .unwrap_or_else(|e| panic!("{e}"));
    let cluster = cfg.cluster.as_ref().expect("[cluster]");
    assert!(
        cluster.replica.is_none(),
        "the replica id must come from HOSTNAME"
    );
    assert!(cluster.lease_secs * 4 / 3 <= 30, "takeover bound over 30 s");
    let store_env = format!("{:?}", cluster.store);
    assert!(store_env.contains("BANWATCH_POSTGRES_URL"), "{store_env}");

    let sts = named("StatefulSet", "banwatch");
    assert!(sts["spec"]["replicas"].as_u64().unwrap() >= 3);
    let labels = &sts["spec"]["template"]["metadata"]["labels"];
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert!(c["env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "BANWATCH_POSTGRES_URL"
            && e["valueFrom"]["secretKeyRef"]["name"] == "banwatch-postgres"));
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    let selects = |sel: &serde_json::Value, labels: &serde_json::Value| {
        sel["matchLabels"]
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| &labels[k] == v)
    };
    let pdb = named("PodDisruptionBudget", "banwatch");
    assert!(selects(&pdb["spec"]["selector"], labels));
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);

    // The policy lets banwatch reach PostgreSQL and Alertmanager pods on their ports.
    let pg_labels =
        &named("StatefulSet", "banwatch-postgres")["spec"]["template"]["metadata"]["labels"];
    let am_sts = named("StatefulSet", "alertmanager");
    let am_labels = &am_sts["spec"]["template"]["metadata"]["labels"];
    let np = named("NetworkPolicy", "banwatch");
    assert!(selects(&np["spec"]["podSelector"], labels));
    let egress = np["spec"]["egress"].as_array().unwrap();
    let reaches = |target: &serde_json::Value, port: u64| {
        egress.iter().any(|rule| {
            rule["to"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t.get("podSelector").is_some_and(|s| selects(s, target)))
                && rule["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["port"] == port)
        })
    };
    assert!(reaches(pg_labels, 5432), "banwatch cannot reach PostgreSQL");
    assert!(
        reaches(am_labels, 9093),
        "banwatch cannot reach Alertmanager"
    );
    let pg_np = named("NetworkPolicy", "banwatch-postgres");
    assert!(selects(&pg_np["spec"]["podSelector"], pg_labels));
    assert!(selects(
        &pg_np["spec"]["ingress"][0]["from"][0]["podSelector"],
        labels
    ));

    // banwatch posts to every Alertmanager pod, and the pods peer with each other.
    let n = am_sts["spec"]["replicas"].as_u64().unwrap();
    assert!(n >= 2);
    let am = cfg.sink("alertmanager").expect("[alertmanager]");
    let urls: Vec<&str> = am["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u.as_str())
        .collect();
    let args: Vec<&str> = am_sts["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let svc = am_sts["spec"]["serviceName"].as_str().unwrap();
    for i in 0..n {
        let pod = format!("alertmanager-{i}.{svc}");
        assert!(
            urls.contains(&format!("http://{pod}:9093").as_str()),
            "{pod} not in {urls:?}"
        );
        assert!(
            args.contains(&format!("--cluster.peer={pod}:9094").as_str()),
            "{pod} not a peer"
        );
    }
    let routing = named("ConfigMap", "alertmanager-config")["data"]["alertmanager.yml"]
        .as_str()
        .unwrap();
    let checked =
        std::fs::read_to_string(root().join("deploy/alertmanager/alertmanager.yml")).unwrap();
    assert_eq!(
        routing, checked,
        "the cluster's Alertmanager routing differs from the checked one"
    );
}
