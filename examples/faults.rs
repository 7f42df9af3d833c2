//! Fault drills for `banwatch serve`: does every alert reach the webhook exactly once when
//! things go wrong?
//!
//! Each scenario gets a fresh temporary directory, a fresh `banwatch serve` process (the binary
//! in `BANWATCH_BIN`, else `target/debug/banwatch`) following a Suricata EVE log, and a webhook
//! receiver written here (axum, on 127.0.0.1) that records every POST body. Violations are
//! CompreFace recognition calls from 10.30.0.5 to 10.30.1.N, appended to the EVE log; the
//! devices are left unconfigured, so each alert's device is its address (the client 10.30.0.5
//! also gets a "uses" alert, which is not counted). Alerts never resolve during a run
//! (`resolve_after_secs = 3600`).
//!
//! 1. kill -9 during alerting: 20 violations; SIGKILL at three random moments (one in each
//!    third of the run, 0-400 ms after a violation) while they are appended, restarting on the
//!    same state directory and config each time.
//! 2. sink outage: the receiver is down while 20 violations fire, and up again after 20 s.
//! 3. full disk: a file-size limit of 1 byte on the service (every write fails, as on a full
//!    disk) while 10 violations fire; `/readyz` must say 503 meanwhile; then lifted.
//! 4. feed flaps: the EVE log deleted and recreated 5 times, violations after each recreation.
//! 5. connection flood: 2000 idle TCP connections from 127.0.0.2 (each reopened 2 s after the
//!    service closes it) while 10 violations fire; `/healthz` and `/readyz` asked from
//!    127.0.0.1 must answer 200.
//!
//! For each: alerts = ids in the store for 10.30.1.*; lost = those never received `firing`
//! plus devices sent a violation that have no alert; duplicated = (id, state) pairs received
//! more than once; stuck = `*.json` files left in `<state>/spool/webhook` after up to 60 s of
//! draining. Exits non-zero when anything is lost, duplicated, stuck, or readiness lied.
//!
//! Run with `scripts/faults.sh` (needs root or CAP_SYS_RESOURCE for the file-size limit, and
//! 127.0.0.2 on loopback, as on Linux). Arguments pick scenarios by part of their name
//! (`scripts/faults.sh flood disk`); `FAULTS_SEED=<n>` repeats a run's random kill moments.
//! Not part of CI: it takes a few minutes and needs the privileges above.

use anyhow::{anyhow, bail, Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// How long a scenario may take to deliver what it owes once the fault is over.
const DRAIN: Duration = Duration::from_secs(60);
/// How long to wait after draining for late (duplicate) deliveries.
const SETTLE: Duration = Duration::from_secs(3);
/// The client that makes every recognition call.
const CLIENT: &str = "10.30.0.5";
/// Devices counted: the recognition servers.
const DEVICE_PREFIX: &str = "10.30.1.";

fn main() -> Result<()> {
    let bin = std::env::var_os("BANWATCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/banwatch"));
    let bin = if bin.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(bin)
    } else {
        bin
    };
    if !bin.is_file() {
        bail!(
            "no banwatch binary at {} (build it, or set BANWATCH_BIN)",
            bin.display()
        );
    }
    let seed = match std::env::var("FAULTS_SEED") {
        Ok(s) => s.parse().context("FAULTS_SEED: not a number")?,
        Err(_) => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                ^ u64::from(std::process::id())
        }
    };
    println!("banwatch: {}  seed: {seed}", bin.display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let mut rng = Rng(seed | 1);

    type Scenario = fn(&Drill, &mut Rng) -> Result<Outcome>;
    let scenarios: [(&str, Scenario); 5] = [
        ("kill -9 during alerting", kill_during_alerting),
        ("sink outage", sink_outage),
        ("full disk", full_disk),
        ("feed flaps", feed_flaps),
        ("connection flood", connection_flood),
    ];
    // Optional arguments: run only the scenarios whose names contain one of them.
    let only: Vec<String> = std::env::args().skip(1).collect();
    let mut rows = Vec::new();
    for (name, run) in scenarios {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        println!("--- {name}");
        let t = Instant::now();
        let row = match Drill::new(&bin, &rt) {
            Err(e) => Row::failed(name, format!("setup: {e:#}")),
            Ok(d) => {
                let row = match run(&d, &mut rng) {
                    Ok(o) => d.evaluate(name, o),
                    Err(e) => Row::failed(name, format!("{e:#}")),
                };
                if !row.ok() {
                    d.print_log_tail(25);
                    let kept = d.keep();
                    println!("    state kept in {}", kept.display());
                }
                row
            }
        };
        println!("    {} ({:.0} s)", row.verdict(), t.elapsed().as_secs_f64());
        for n in &row.notes {
            println!("    note: {n}");
        }
        rows.push(row);
    }
    if rows.is_empty() {
        bail!("no scenario matches {only:?}");
    }
    print_table(&rows);
    let bad: Vec<&str> = rows.iter().filter(|r| !r.ok()).map(|r| r.name).collect();
    if !bad.is_empty() {
        bail!("failed: {}", bad.join(", "));
    }
    Ok(())
}

// ---------------------------------------------------------------- scenarios

/// What a scenario did, for [`Drill::evaluate`].
struct Outcome {
    /// Devices sent at least one violation.
    devices: Vec<String>,
    /// Whether readiness answered as it should during the fault.
    readiness_ok: bool,
    notes: Vec<String>,
}

fn kill_during_alerting(d: &Drill, rng: &mut Rng) -> Result<Outcome> {
    let devices = device_range(1, 20);
    // One kill in each third of the run, a random 0-400 ms after a violation is appended;
    // after each restart, half the time the next violations wait until the service is live
    // (the kill then hits it alerting), half the time they do not (it may hit the replay of
    // the log at start-up).
    let kills: Vec<usize> = (0..3).map(|k| 3 + 5 * k + rng.below(5) as usize).collect();
    let mut svc = d.serve()?;
    d.wait_ready(&svc, 30)?;
    let mut notes = Vec::new();
    for (i, dev) in devices.iter().enumerate() {
        d.violation(dev)?;
        if kills.contains(&i) {
            let after = rng.below(400);
            std::thread::sleep(Duration::from_millis(after));
            svc.kill9()?;
            svc = d.serve()?;
            let wait = rng.below(2) == 0;
            if wait && !d.wait_status("/healthz", 200, 30) {
                bail!("banwatch serve not live 30 s after a restart");
            }
            notes.push(format!(
                "SIGKILL {after} ms after violation {}, restart{}",
                i + 1,
                if wait { " (waited until live)" } else { "" }
            ));
        } else {
            std::thread::sleep(Duration::from_millis(50 + rng.below(250)));
        }
    }
    // Readiness after the last restart: the feed is up and the store writable.
    let readiness_ok = d.wait_status("/readyz", 200, 30);
    d.keep_serve(svc);
    Ok(Outcome {
        devices,
        readiness_ok,
        notes,
    })
}

fn sink_outage(d: &Drill, _rng: &mut Rng) -> Result<Outcome> {
    let devices = device_range(1, 20);
    let svc = d.serve()?;
    d.wait_ready(&svc, 30)?;
    d.rx.stop(d.rt);
    let down = Instant::now();
    for dev in &devices {
        d.violation(dev)?;
        std::thread::sleep(Duration::from_millis(200));
    }
    // The store and the feed are fine: ready throughout the outage.
    let mut readiness_ok = true;
    while down.elapsed() < Duration::from_secs(20) {
        readiness_ok &= d.status("/readyz") == Some(200);
        std::thread::sleep(Duration::from_secs(1));
    }
    let early = d.rx.received().len();
    d.rx.start(d.rt)?;
    d.keep_serve(svc);
    Ok(Outcome {
        devices,
        readiness_ok,
        notes: vec![format!("{early} bodies received while the sink was down")],
    })
}

fn full_disk(d: &Drill, _rng: &mut Rng) -> Result<Outcome> {
    let devices = device_range(1, 10);
    let svc = d.serve()?;
    d.wait_ready(&svc, 30)?;
    limit_files(svc.pid(), 1)?;
    for dev in &devices {
        d.violation(dev)?;
        std::thread::sleep(Duration::from_millis(200));
    }
    // Readiness must turn 503 (the store is checked every few seconds) and stay so.
    let turned = d.wait_status("/readyz", 503, 20);
    let mut stayed = true;
    for _ in 0..5 {
        stayed &= d.status("/readyz") == Some(503);
        std::thread::sleep(Duration::from_secs(1));
    }
    let stored_during = d.store_alerts().len();
    limit_files(svc.pid(), rlimit::INFINITY)?;
    let back = d.wait_status("/readyz", 200, 30);
    d.keep_serve(svc);
    let mut notes = vec![format!(
        "readyz: 503 within 20 s {turned}, stayed 503 {stayed}, 200 again after {back}"
    )];
    if stored_during > 0 {
        notes.push(format!(
            "{stored_during} alerts in the store while it was full"
        ));
    }
    Ok(Outcome {
        devices,
        readiness_ok: turned && stayed && back,
        notes,
    })
}

fn feed_flaps(d: &Drill, _rng: &mut Rng) -> Result<Outcome> {
    let devices = device_range(1, 20);
    let svc = d.serve()?;
    d.wait_ready(&svc, 30)?;
    let mut readiness_ok = true;
    let mut notes = Vec::new();
    for (flap, chunk) in devices.chunks(4).enumerate() {
        std::fs::remove_file(&d.eve).context("delete the EVE log")?;
        // Down for 2 s: readiness may say so (not required: the follower may not have
        // noticed yet), and must come back below.
        let mut down_503 = 0;
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(500));
            down_503 += usize::from(d.status("/readyz") == Some(503));
        }
        std::fs::write(&d.eve, "").context("recreate the EVE log")?;
        std::thread::sleep(Duration::from_millis(300));
        for dev in chunk {
            d.violation(dev)?;
            std::thread::sleep(Duration::from_millis(100));
        }
        // The feed is back: ready again.
        let t = Instant::now();
        if d.wait_status("/readyz", 200, 30) {
            notes.push(format!(
                "flap {}: readyz 503 in {down_503}/4 samples while deleted, 200 {:.1} s after the violations",
                flap + 1,
                t.elapsed().as_secs_f64()
            ));
        } else {
            readiness_ok = false;
            notes.push(format!("flap {}: not ready within 30 s", flap + 1));
        }
    }
    d.keep_serve(svc);
    Ok(Outcome {
        devices,
        readiness_ok,
        notes,
    })
}

fn connection_flood(d: &Drill, _rng: &mut Rng) -> Result<Outcome> {
    const CONNECTIONS: usize = 2000;
    let devices = device_range(1, 10);
    let svc = d.serve()?;
    d.wait_ready(&svc, 30)?;
    let _ = rlimit::increase_nofile_limit(8192);
    // 2000 connections from 127.0.0.2 that never send a byte, each reopened (after 2 s, so
    // the drill itself does not eat the two cores) when the service closes it.
    let stats = Arc::new(FloodStats::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let target = std::net::SocketAddr::from(([127, 0, 0, 1], d.port));
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            d.rt.spawn(hold_connection(target, stats.clone(), stop_rx.clone()))
        })
        .collect();
    // Wait until each has connected once (or 30 s); the service keeps only its per-peer
    // share open and closes the rest, which then come back.
    let t = Instant::now();
    while stats.connects.load(Ordering::SeqCst) + stats.failed.load(Ordering::SeqCst) < CONNECTIONS
        && t.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let open_at_start = stats.open.load(Ordering::SeqCst);
    for dev in &devices {
        d.violation(dev)?;
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut healthz = 0;
    let mut readyz = 0;
    let mut open_min = usize::MAX;
    for _ in 0..10 {
        healthz += usize::from(d.status("/healthz") == Some(200));
        readyz += usize::from(d.status("/readyz") == Some(200));
        open_min = open_min.min(stats.open.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = stop_tx.send(true);
    d.rt.block_on(async move {
        for t in tasks {
            let _ = t.await;
        }
    });
    d.keep_serve(svc);
    Ok(Outcome {
        devices,
        readiness_ok: healthz == 10 && readyz == 10,
        notes: vec![format!(
            "flood from 127.0.0.2: {open_at_start} open when the violations began, at least {open_min} while sampling; {} connects, {} closed by the service, {} failed; healthz 200 {healthz}/10, readyz 200 {readyz}/10",
            stats.connects.load(Ordering::SeqCst),
            stats.closed.load(Ordering::SeqCst),
            stats.failed.load(Ordering::SeqCst),
        )],
    })
}

#[derive(Default)]
struct FloodStats {
    open: AtomicUsize,
    connects: AtomicUsize,
    closed: AtomicUsize,
    failed: AtomicUsize,
}

/// One idle connection from 127.0.0.2 to `target`, reopened when it ends, until `stop`.
async fn hold_connection(
    target: std::net::SocketAddr,
    stats: Arc<FloodStats>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::AsyncReadExt;
    while !*stop.borrow() {
        let conn = async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.bind(([127, 0, 0, 2], 0).into())?;
            tokio::time::timeout(Duration::from_secs(2), sock.connect(target))
                .await
                .map_err(|_| std::io::Error::other("connect timed out"))?
        };
        match conn.await {
            Ok(mut c) => {
                stats.connects.fetch_add(1, Ordering::SeqCst);
                stats.open.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 1024];
                // Held until the service closes it (EOF or error) or the drill stops.
                loop {
                    tokio::select! {
                        r = c.read(&mut buf) => match r {
                            Ok(n) if n > 0 => continue,
                            _ => {
                                stats.closed.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                        },
                        _ = stop.changed() => break,
                    }
                }
                stats.open.fetch_sub(1, Ordering::SeqCst);
            }
            Err(_) => {
                stats.failed.fetch_add(1, Ordering::SeqCst);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => {}
        }
    }
}

fn device_range(first: u32, n: u32) -> Vec<String> {
    (first..first + n)
        .map(|i| format!("{DEVICE_PREFIX}{i}"))
        .collect()
}

/// Cap the service's file size (soft limit): every write past `bytes` fails.
fn limit_files(pid: i32, bytes: u64) -> Result<()> {
    rlimit::prlimit(
        pid,
        rlimit::Resource::FSIZE,
        Some((bytes, rlimit::INFINITY)),
        None,
    )
    .context("prlimit FSIZE on banwatch serve (needs root or CAP_SYS_RESOURCE)")
}

// ---------------------------------------------------------------- one drill

/// A scenario's world: temp dir, config, EVE log, receiver, and the running service.
struct Drill<'a> {
    rt: &'a Runtime,
    bin: PathBuf,
    dir: Mutex<Option<tempfile::TempDir>>,
    root: PathBuf,
    port: u16,
    eve: PathBuf,
    cfg: PathBuf,
    state: PathBuf,
    rx: Receiver,
    /// The service that runs until the drill is evaluated.
    svc: Mutex<Option<Serve>>,
}

impl<'a> Drill<'a> {
    fn new(bin: &Path, rt: &'a Runtime) -> Result<Drill<'a>> {
        let dir = tempfile::Builder::new()
            .prefix("banwatch-faults-")
            .tempdir()
            .context("temp dir")?;
        let root = dir.path().to_path_buf();
        let (port, hook) = (free_port()?, free_port()?);
        let eve = root.join("eve.json");
        std::fs::write(&eve, "").context("create the EVE log")?;
        let state = root.join("state");
        let cfg = root.join("banwatch.toml");
        std::fs::write(
            &cfg,
            format!(
                r#"listen = "127.0.0.1:{port}"
state_dir = "{state}"
[judge]
resolve_after_secs = 3600
[[feed]]
id = "suricata"
kind = "eve"
path = "{eve}"
[webhook]
url = "http://127.0.0.1:{hook}/hooks/banwatch"
secret = {{ value = "hook-key" }}
"#,
                state = state.display(),
                eve = eve.display(),
            ),
        )
        .context("write the config")?;
        let rx = Receiver::new(hook);
        rx.start(rt)?;
        Ok(Drill {
            rt,
            bin: bin.to_path_buf(),
            dir: Mutex::new(Some(dir)),
            root,
            port,
            eve,
            cfg,
            state,
            rx,
            svc: Mutex::new(None),
        })
    }

    fn serve(&self) -> Result<Serve> {
        Serve::start(&self.bin, &self.cfg)
    }

    /// Hand the running service over for evaluation (it is stopped when the drill ends).
    fn keep_serve(&self, svc: Serve) {
        if let Ok(mut s) = self.svc.lock() {
            *s = Some(svc);
        }
    }

    /// Keep the temp dir for a look after the run.
    fn keep(&self) -> PathBuf {
        if let Ok(mut d) = self.dir.lock() {
            if let Some(d) = d.take() {
                let _ = d.keep();
            }
        }
        self.root.clone()
    }

    fn print_log_tail(&self, n: usize) {
        let log = match self.svc.lock() {
            Ok(s) => s.as_ref().map(Serve::log).unwrap_or_default(),
            Err(_) => String::new(),
        };
        let lines: Vec<&str> = log.lines().collect();
        for l in &lines[lines.len().saturating_sub(n)..] {
            println!("    | {l}");
        }
    }

    /// Append one recognition call to `device` to the EVE log.
    fn violation(&self, device: &str) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.eve)
            .context("open the EVE log")?;
        writeln!(f, "{}", eve_line(device)).context("append to the EVE log")
    }

    fn status(&self, path: &str) -> Option<u16> {
        http_get(self.port, path).map(|(s, _)| s)
    }

    fn wait_status(&self, path: &str, want: u16, secs: u64) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(secs) {
            if self.status(path) == Some(want) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        false
    }

    fn wait_ready(&self, svc: &Serve, secs: u64) -> Result<()> {
        if self.wait_status("/readyz", 200, secs) {
            return Ok(());
        }
        let log = svc.log();
        let tail: Vec<&str> = log.lines().rev().take(10).collect();
        Err(anyhow!(
            "banwatch serve not ready within {secs} s; log tail:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }

    /// Alerts in the store for the counted devices: id → (device, state).
    fn store_alerts(&self) -> BTreeMap<String, (String, String)> {
        let Some((200, body)) = http_get(self.port, "/api/v1/alerts") else {
            return BTreeMap::new();
        };
        let Ok(all) = serde_json::from_str::<Vec<Value>>(&body) else {
            return BTreeMap::new();
        };
        all.iter()
            .filter_map(|a| {
                let device = a["device"].as_str()?;
                device.starts_with(DEVICE_PREFIX).then(|| {
                    (
                        a["id"].as_str().unwrap_or_default().to_string(),
                        (
                            device.to_string(),
                            a["state"].as_str().unwrap_or_default().to_string(),
                        ),
                    )
                })
            })
            .collect()
    }

    fn spooled(&self) -> usize {
        count_json(&self.state.join("spool/webhook"))
    }

    /// Wait for delivery (up to [`DRAIN`]), then count.
    fn evaluate(&self, name: &'static str, o: Outcome) -> Row {
        let t = Instant::now();
        let sent: BTreeSet<&str> = o.devices.iter().map(String::as_str).collect();
        let mut api_seen = false;
        loop {
            let store = self.store_alerts();
            api_seen |= !store.is_empty();
            let fired = received_pairs(&self.rx.received());
            let alerted: BTreeSet<&str> = store.values().map(|(d, _)| d.as_str()).collect();
            let done = sent.iter().all(|d| alerted.contains(d))
                && store
                    .keys()
                    .all(|id| fired.contains_key(&(id.clone(), "firing".into())))
                && self.spooled() == 0;
            if done || t.elapsed() > DRAIN {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        std::thread::sleep(SETTLE);

        let store = self.store_alerts();
        let got = self.rx.received();
        let pairs = received_pairs(&got);
        let alerted: BTreeSet<&str> = store.values().map(|(d, _)| d.as_str()).collect();
        let never_fired: Vec<&String> = store
            .keys()
            .filter(|id| !pairs.contains_key(&((*id).clone(), "firing".into())))
            .collect();
        let silent: Vec<&&str> = sent.iter().filter(|d| !alerted.contains(**d)).collect();
        let dups: Vec<String> = pairs
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|((id, st), n)| format!("{id} {st} x{n}"))
            .collect();
        let stuck = self.spooled();
        let mut notes = o.notes;
        if !never_fired.is_empty() {
            notes.push(format!("stored but never received firing: {never_fired:?}"));
        }
        if !silent.is_empty() {
            notes.push(format!("violations with no alert in the store: {silent:?}"));
        }
        if !dups.is_empty() {
            notes.push(format!("received more than once: {dups:?}"));
        }
        let foreign = got
            .iter()
            .filter(|b| {
                b["alert"]["device"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(DEVICE_PREFIX))
                    && b["alert"]["id"]
                        .as_str()
                        .is_some_and(|id| !store.contains_key(id))
            })
            .count();
        if foreign > 0 {
            notes.push(format!(
                "{foreign} bodies received for ids that are not in the store"
            ));
        }
        let mut per_device: BTreeMap<&str, usize> = BTreeMap::new();
        for (dev, _) in store.values() {
            *per_device.entry(dev.as_str()).or_insert(0) += 1;
        }
        let multi: Vec<&&str> = per_device
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(d, _)| d)
            .collect();
        if !multi.is_empty() {
            notes.push(format!(
                "devices with more than one alert id in the store: {multi:?}"
            ));
        }
        if !api_seen {
            notes.push("the alerts API never listed a counted alert".into());
        }
        notes.push(format!(
            "{} bodies received in all, drained in {:.0} s",
            got.len(),
            t.elapsed().as_secs_f64()
        ));
        Row {
            name,
            violations: o.devices.len(),
            alerts: store.len(),
            lost: never_fired.len() + silent.len(),
            duplicated: dups.len(),
            stuck,
            readiness_ok: o.readiness_ok,
            error: None,
            notes,
        }
    }
}

impl Drop for Drill<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.svc.lock() {
            s.take();
        }
        self.rx.stop(self.rt);
    }
}

/// How many times each (alert id, state) was received.
fn received_pairs(bodies: &[Value]) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for b in bodies {
        let a = &b["alert"];
        let (Some(id), Some(state)) = (a["id"].as_str(), a["state"].as_str()) else {
            continue;
        };
        if !a["device"]
            .as_str()
            .is_some_and(|d| d.starts_with(DEVICE_PREFIX))
        {
            continue;
        }
        *m.entry((id.to_string(), state.to_string())).or_insert(0) += 1;
    }
    m
}

/// `*.json` files under `dir` (0 when it does not exist).
fn count_json(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_json(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "json"))
            }
        })
        .sum()
}

/// A Suricata EVE record of a CompreFace recognition call from [`CLIENT`] to `device`, now.
fn eve_line(device: &str) -> String {
    let ts = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+0000"
        ))
        .unwrap_or_else(|_| "2026-11-02T09:00:00.000000+0000".into());
    format!(
        r#"{{"timestamp":"{ts}","event_type":"http","src_ip":"{CLIENT}","src_port":40000,"dest_ip":"{device}","dest_port":8000,"proto":"TCP","http":{{"hostname":"{device}","url":"/api/v1/recognition/recognize?limit=1","http_method":"POST","status":200}}}}"#
    )
}

// ---------------------------------------------------------------- the service

/// `banwatch serve` with its log collected through a pipe (a pipe, so the file-size limit
/// does not cut it). Killed when dropped.
struct Serve {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Serve {
    fn start(bin: &Path, cfg: &Path) -> Result<Serve> {
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--config")
            .arg(cfg)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {} serve", bin.display()))?;
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = log.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut l) = sink.lock() {
                        l.push_str(&String::from_utf8_lossy(&buf[..n]));
                        // Bounded: keep the last 256 KiB or so.
                        if l.len() > 512 << 10 {
                            let cut = l.len() - (256 << 10);
                            let cut = (cut..l.len()).find(|i| l.is_char_boundary(*i)).unwrap_or(0);
                            l.drain(..cut);
                        }
                    }
                }
            });
        }
        Ok(Serve { child, log })
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// SIGKILL (what `Child::kill` sends on Unix), and reap.
    fn kill9(&mut self) -> Result<()> {
        self.child.kill().context("SIGKILL banwatch serve")?;
        self.child.wait().context("reap banwatch serve")?;
        Ok(())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- the webhook receiver

/// What the handler shares: every body received, and whether the sink is "up".
#[derive(Clone)]
struct Hook {
    got: Arc<Mutex<Vec<Value>>>,
    up: Arc<AtomicBool>,
}

/// The webhook receiver on 127.0.0.1:`port`; stop it to simulate an outage (the port then
/// refuses connections), start it again to end one.
struct Receiver {
    port: u16,
    hook: Hook,
    running: Mutex<Option<Running>>,
}

type Running = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
);

impl Receiver {
    fn new(port: u16) -> Receiver {
        Receiver {
            port,
            hook: Hook {
                got: Arc::new(Mutex::new(Vec::new())),
                up: Arc::new(AtomicBool::new(false)),
            },
            running: Mutex::new(None),
        }
    }

    fn start(&self, rt: &Runtime) -> Result<()> {
        let mut running = self
            .running
            .lock()
            .map_err(|_| anyhow!("receiver state poisoned"))?;
        if running.is_some() {
            return Ok(());
        }
        let port = self.port;
        let listener = rt.block_on(async move {
            let mut last = None;
            for _ in 0..20 {
                match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                    Ok(l) => return Ok(l),
                    Err(e) => last = Some(e),
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(last.unwrap_or_else(|| std::io::Error::other("bind failed")))
        });
        let listener = listener.with_context(|| format!("webhook receiver on 127.0.0.1:{port}"))?;
        let app = axum::Router::new()
            .route("/hooks/banwatch", axum::routing::post(receive))
            .with_state(self.hook.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.hook.up.store(true, Ordering::SeqCst);
        let task = rt.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        *running = Some((tx, task));
        Ok(())
    }

    fn stop(&self, rt: &Runtime) {
        // Down at once, even for a keep-alive connection still draining.
        self.hook.up.store(false, Ordering::SeqCst);
        let running = self.running.lock().ok().and_then(|mut r| r.take());
        if let Some((tx, task)) = running {
            let _ = tx.send(());
            let abort = task.abort_handle();
            let waited =
                rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await });
            if waited.is_err() {
                abort.abort();
            }
        }
    }

    fn received(&self) -> Vec<Value> {
        self.hook.got.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

async fn receive(State(h): State<Hook>, body: Bytes) -> StatusCode {
    if !h.up.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    match h.got.lock() {
        Ok(mut g) => g.push(v),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR,
    }
    StatusCode::NO_CONTENT
}

// ---------------------------------------------------------------- small things

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .context("bind a free port")?
        .local_addr()
        .context("local address")?
        .port())
}

/// Status code and body of `GET path` on 127.0.0.1:`port`.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let out = String::from_utf8_lossy(&out);
    let (head, body) = out.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// xorshift64*: enough randomness for kill moments, and repeatable from a seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

struct Row {
    name: &'static str,
    violations: usize,
    alerts: usize,
    lost: usize,
    duplicated: usize,
    stuck: usize,
    readiness_ok: bool,
    error: Option<String>,
    notes: Vec<String>,
}

impl Row {
    fn failed(name: &'static str, error: String) -> Row {
        Row {
            name,
            violations: 0,
            alerts: 0,
            lost: 0,
            duplicated: 0,
            stuck: 0,
            readiness_ok: false,
            error: Some(error),
            notes: Vec::new(),
        }
    }

    fn ok(&self) -> bool {
        self.error.is_none()
            && self.lost == 0
            && self.duplicated == 0
            && self.stuck == 0
            && self.readiness_ok
    }

    fn verdict(&self) -> String {
        match &self.error {
            Some(e) => format!("ERROR: {e}"),
            None if self.ok() => "ok".into(),
            None => "FAILED".into(),
        }
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<24} | {:>10} | {:>6} | {:>4} | {:>10} | {:>5} | readiness correct",
        "scenario", "violations", "alerts", "lost", "duplicated", "stuck"
    );
    println!("{}", "-".repeat(96));
    for r in rows {
        if r.error.is_some() {
            println!(
                "{:<24} | {:>10} | {:>6} | {:>4} | {:>10} | {:>5} | error",
                r.name, "-", "-", "-", "-", "-"
            );
            continue;
        }
        println!(
            "{:<24} | {:>10} | {:>6} | {:>4} | {:>10} | {:>5} | {}",
            r.name,
            r.violations,
            r.alerts,
            r.lost,
            r.duplicated,
            r.stuck,
            if r.readiness_ok { "yes" } else { "NO" }
        );
    }
}
