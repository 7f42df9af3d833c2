//! Three `banwatch serve` replicas sharing a real PostgreSQL 15 (started here in a temporary
//! data directory, on loopback), with 30 MQTT feeds on a real mosquitto and a real pair of
//! Alertmanagers in cluster mode. One replica is killed with SIGKILL: its feeds move to the
//! others within the lease bound, no alert is lost or raised twice; it comes back and takes
//! its feeds back. Then the database itself goes away and returns.

#[path = "common/mosquitto.rs"]
mod mosquitto;
#[path = "service_common/mod.rs"]
mod service_common;
#[path = "tls_common/mod.rs"]
mod tls_common;

use rumqttc::{Client, MqttOptions, QoS};
use service_common::{free_port, get, serve_logged_env, wait_for, LoggedServe};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FEEDS: usize = 30;
const LEASE_SECS: u64 = 6;

/// PostgreSQL's programs (Debian's postgresql-15).
fn pg_bin(name: &str) -> PathBuf {
    let p = Path::new("/usr/lib/postgresql/15/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: install the Debian package postgresql-15 (scripts/setup.sh test does)",
        p.display()
    );
    p
}

/// A command run as the `postgres` user when the tests run as root (PostgreSQL refuses root).
fn as_postgres(program: &Path) -> Command {
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

struct Postgres {
    child: Option<Child>,
    data: PathBuf,
    port: u16,
    /// More `-c name=value` settings.
    settings: Vec<String>,
}

impl Postgres {
    fn init(dir: &Path) -> Postgres {
        Postgres::init_with(dir, |_| Vec::new())
    }

    /// Initialise in `dir`; `settings` may place files in the data directory (owned by the
    /// server's user) and returns `-c` settings.
    fn init_with(dir: &Path, settings: impl FnOnce(&Path) -> Vec<String>) -> Postgres {
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data).unwrap();
        if unsafe { libc::geteuid() } == 0 {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown {} to postgres", dir.display());
        }
        let out = as_postgres(&pg_bin("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "banwatch", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let settings = settings(&data);
        if unsafe { libc::geteuid() } == 0 {
            let _ = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&data)
                .status();
        }
        let mut pg = Postgres {
            child: None,
            data,
            port: free_port(),
            settings,
        };
        pg.start();
        pg
    }

    fn start(&mut self) {
        let child = as_postgres(&pg_bin("postgres"))
            .arg("-D")
            .arg(&self.data)
            .args(["-c", "listen_addresses=127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.data)
            .args(self.settings.iter().flat_map(|s| ["-c", s.as_str()]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        wait_for("PostgreSQL to accept connections", 30, || {
            Command::new(pg_bin("pg_isready"))
                .args(["-h", "127.0.0.1", "-p"])
                .arg(self.port.to_string())
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    }

    /// SIGKILL the postmaster (its backends exit when they notice).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Backends outlive a killed postmaster briefly; wait until the port is free.
        wait_for("PostgreSQL's port to close", 30, || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err()
        });
    }

    fn url(&self) -> String {
        format!("postgres://banwatch@127.0.0.1:{}/postgres", self.port)
    }

    fn psql(&self, sql: &str) -> String {
        let out = Command::new(pg_bin("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "banwatch",
                "-d",
                "postgres",
                "-At",
                "-p",
            ])
            .arg(self.port.to_string())
            .args(["-c", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two Alertmanagers gossiping as one cluster, on loopback.
fn alertmanager_pair(dir: &Path) -> (Vec<Guard>, Vec<u16>) {
    let bin = "/usr/bin/prometheus-alertmanager";
    assert!(
        Path::new(bin).exists(),
        "prometheus-alertmanager is missing: install the Debian package (scripts/setup.sh test does)"
    );
    let cfg = dir.join("am.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let web = [free_port(), free_port()];
    let gossip = [free_port(), free_port()];
    let mut guards = Vec::new();
    for i in 0..2 {
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.join(format!("am{i}")).display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", web[i]))
            .arg(format!("--cluster.listen-address=127.0.0.1:{}", gossip[i]))
            .arg(format!("--cluster.peer=127.0.0.1:{}", gossip[1 - i]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus-alertmanager");
        guards.push(Guard(child));
    }
    for p in web {
        wait_for("Alertmanager to answer", 30, || {
            get(p, "/-/ready").is_some()
        });
    }
    (guards, web.to_vec())
}

fn config(dir: &Path, pg: &Postgres, mqtt: u16, am: &[u16]) -> PathBuf {
    let mut c = format!(
        "[judge]\nresolve_after_secs = 3600\n\n[cluster]\nstore = \"{}\"\nlease_secs = {LEASE_SECS}\n\n\
         [alertmanager]\nurls = [\"http://127.0.0.1:{}\", \"http://127.0.0.1:{}\"]\nresend_secs = 5\n\n\
         [[site]]\nid = \"estate\"\ntype = \"housing\"\ncontractor = \"Acme\"\n",
        pg.url(),
        am[0],
        am[1]
    );
    for i in 0..FEEDS {
        c += &format!(
            "\n[[device]]\nid = \"cam-{i}\"\nsite = \"estate\"\n\n[[feed]]\nid = \"feed-{i}\"\ndevice = \"cam-{i}\"\nkind = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {mqtt}\ntopics = [\"frigate/cam-{i}/tracked_object_update\"]\n"
        );
    }
    let p = dir.join("banwatch.toml");
    std::fs::write(&p, c).unwrap();
    p
}

struct Replica {
    name: String,
    port: u16,
    state: PathBuf,
    serve: Option<LoggedServe>,
}

impl Replica {
    /// Not started yet; its state directory and API port of its own.
    fn new(name: &str, dir: &Path) -> Replica {
        Replica {
            name: name.into(),
            port: free_port(),
            state: dir.join(format!("state-{name}")),
            serve: None,
        }
    }

    fn start(&mut self, cfg: &Path) {
        // The replica's identity comes from HOSTNAME, as in a StatefulSet.
        let s = serve_logged_env(
            &[
                "--config",
                cfg.to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--state-dir",
                self.state.to_str().unwrap(),
            ],
            "info",
            &[("HOSTNAME", &self.name)],
        );
        self.serve = Some(s);
    }

    fn cluster(&self) -> Option<serde_json::Value> {
        get(self.port, "/api/v1/cluster").and_then(|b| serde_json::from_str(&b).ok())
    }

    fn feeds(&self) -> BTreeSet<String> {
        self.cluster()
            .and_then(|c| {
                c["feeds"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    fn log(&self) -> String {
        self.serve
            .as_ref()
            .map(LoggedServe::log)
            .unwrap_or_default()
    }
}

fn logs(replicas: &[Replica]) -> String {
    replicas
        .iter()
        .map(|r| format!("--- {} ---\n{}", r.name, r.log()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Feeds tapped by the running replicas: (feed → replicas tapping it).
fn placement(replicas: &[Replica]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in replicas.iter().filter(|r| r.serve.is_some()) {
        for f in r.feeds() {
            m.entry(f).or_default().push(r.name.clone());
        }
    }
    m
}

fn each_feed_once(replicas: &[Replica]) -> bool {
    let p = placement(replicas);
    p.len() == FEEDS && p.values().all(|v| v.len() == 1)
}

/// A Frigate face-recognition result on every camera's topic (the payload names a person,
/// which banwatch must never record).
fn publish_faces(mqtt: u16) {
    let mut opts = MqttOptions::new(format!("test-pub-{}", free_port()), "127.0.0.1", mqtt);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = Client::new(opts, 256);
    let pump = std::thread::spawn(move || {
        for ev in conn.iter() {
            if ev.is_err() {
                break;
            }
        }
    });
    for i in 0..FEEDS {
        let body = format!(
            r#"{{"type": "face", "id": "1607123955.475377-{i}", "name": "Zelda Quartermain", "score": 0.95, "camera": "cam-{i}", "timestamp": 1607123958.7}}"#
        );
        client
            .publish(
                format!("frigate/cam-{i}/tracked_object_update"),
                QoS::AtLeastOnce,
                false,
                body,
            )
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = client.disconnect();
    let _ = pump.join();
}

/// Every alert in the shared store, as any replica's API lists them.
fn alerts(r: &Replica) -> Vec<serde_json::Value> {
    service_common::alerts(r.port)
}

fn firing_by_device(r: &Replica) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in alerts(r) {
        if a["state"] == "firing" {
            m.entry(a["device"].as_str().unwrap_or("").to_string())
                .or_default()
                .push(a["id"].as_str().unwrap_or("").to_string());
        }
    }
    m
}

/// Active alerts at one Alertmanager (asked in HTTP/1.0, so that the list, which can be long,
/// does not come chunked).
fn am_alerts(port: u16) -> Vec<serde_json::Value> {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return Vec::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /api/v2/alerts?active=true HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or_default()
}

#[test]
fn replicas_share_feeds_take_over_from_a_dead_one_and_keep_one_alert_each() {
    let dir = tempfile::tempdir().unwrap();
    let mut pg = Postgres::init(&dir.path().join("pg"));
    let mqtt = free_port();
    let _broker = mosquitto::start(dir.path(), mqtt);
    let (_am, am) = alertmanager_pair(dir.path());
    let cfg = config(dir.path(), &pg, mqtt, &am);
    let mut replicas: Vec<Replica> = (0..3)
        .map(|i| Replica::new(&format!("banwatch-{i}"), dir.path()))
        .collect();
    for r in &mut replicas {
        r.start(&cfg);
    }
    // Every replica sees three live replicas, and every feed is tapped by exactly one.
    wait_for("three live replicas splitting 30 feeds", 60, || {
        replicas.iter().all(|r| {
            r.cluster()
                .is_some_and(|c| c["live"].as_array().is_some_and(|l| l.len() == 3))
        }) && each_feed_once(&replicas)
    });
    let before = placement(&replicas);
    for r in &replicas {
        let n = r.feeds().len();
        assert!((3..=17).contains(&n), "{} taps {n} of 30 feeds", r.name);
        let ready = get(r.port, "/readyz").unwrap_or_default();
        assert!(ready.starts_with("ready"), "{}: {ready}", r.name);
    }
    // Wait for the feeds to be connected, then every camera reports a recognised face.
    wait_for("every MQTT feed connected", 60, || {
        replicas.iter().all(|r| {
            get(r.port, "/metrics").is_some_and(|m| {
                r.feeds().iter().all(|f| {
                    service_common::sample(&m, "banwatch_feed_up", &[("feed", f)]) == Some(1.0)
                })
            })
        })
    });
    publish_faces(mqtt);
    wait_for("30 firing alerts", 60, || {
        firing_by_device(&replicas[0]).len() == FEEDS
    });
    let first = firing_by_device(&replicas[0]);
    assert!(
        first.values().all(|ids| ids.len() == 1),
        "a device with two firing alerts: {first:?}"
    );
    let mut seen = Vec::new();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        seen = am.iter().map(|p| am_alerts(*p).len()).collect();
        if seen.iter().all(|n| *n == FEEDS) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        seen.iter().all(|n| *n == FEEDS),
        "alerts at the Alertmanagers: {seen:?}\n{}",
        logs(&replicas)
    );

    // SIGKILL one replica: its feeds move to the two others within the lease bound.
    let victim = 1;
    let victims_feeds = replicas[victim].feeds();
    let killed = Instant::now();
    replicas[victim].serve = None;
    wait_for("the dead replica's feeds taken over", 30, || {
        each_feed_once(&replicas)
    });
    let takeover = killed.elapsed();
    eprintln!("takeover after SIGKILL: {:.1} s", takeover.as_secs_f64());
    assert!(
        takeover <= Duration::from_secs(LEASE_SECS + LEASE_SECS / 3 + 4),
        "takeover took {takeover:?} (lease {LEASE_SECS} s)\n{}",
        logs(&replicas)
    );
    // Only the dead replica's feeds moved.
    let after = placement(&replicas);
    for (f, owners) in &before {
        if !victims_feeds.contains(f) {
            assert_eq!(
                after.get(f),
                Some(owners),
                "{f} moved though its replica lives"
            );
        }
    }
    // The cameras go on reporting faces; the survivors carry on with the same alerts.
    wait_for("the taken-over feeds connected", 60, || {
        [0, 2].iter().all(|&i| {
            let r = &replicas[i];
            get(r.port, "/metrics").is_some_and(|m| {
                r.feeds().iter().all(|f| {
                    service_common::sample(&m, "banwatch_feed_up", &[("feed", f)]) == Some(1.0)
                })
            })
        })
    });
    publish_faces(mqtt);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        firing_by_device(&replicas[0]),
        first,
        "an alert was lost or raised twice after the takeover\n{}",
        logs(&replicas)
    );

    // The replica comes back: it takes its own feeds back, the others let them go.
    replicas[victim].start(&cfg);
    wait_for("the returning replica's feeds back with it", 30, || {
        placement(&replicas) == before
    });
    publish_faces(mqtt);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(firing_by_device(&replicas[2]), first);
    let total = alerts(&replicas[2]).len();
    assert_eq!(total, FEEDS, "alerts in the store: {total}");
    for p in &am {
        let n = am_alerts(*p).len();
        assert_eq!(n, FEEDS, "Alertmanager on {p} holds {n} alerts");
    }

    // PostgreSQL goes away: the replicas keep their feeds and say they are not ready; it
    // returns and they are ready again.
    pg.kill();
    wait_for("every replica not ready without its store", 30, || {
        replicas
            .iter()
            .all(|r| get(r.port, "/readyz").is_some_and(|b| b.starts_with("not ready")))
    });
    assert_eq!(
        placement(&replicas),
        before,
        "feeds moved while the store was down"
    );
    pg.start();
    wait_for("every replica ready again", 60, || {
        replicas
            .iter()
            .all(|r| get(r.port, "/readyz").is_some_and(|b| b.starts_with("ready")))
    });
    assert_eq!(firing_by_device(&replicas[0]), first);

    // A replica started with another configuration is reported by the others (and still
    // ready: mid-rollout configurations always differ).
    let odd_cfg = dir.path().join("odd.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &odd_cfg,
        text.replace("resolve_after_secs = 3600", "resolve_after_secs = 3599"),
    )
    .unwrap();
    let mut odd = Replica::new("banwatch-odd", dir.path());
    odd.start(&odd_cfg);
    wait_for("the odd configuration reported", 30, || {
        replicas[0]
            .cluster()
            .is_some_and(|c| c["config_differs"] == serde_json::json!(["banwatch-odd"]))
            && get(replicas[0].port, "/metrics").is_some_and(|m| {
                service_common::sample(&m, "banwatch_cluster_config_differs", &[]) == Some(1.0)
            })
    });
    assert!(get(replicas[0].port, "/readyz").is_some_and(|b| b.starts_with("ready")));
    // A clean stop gives the lease up: the others see three replicas again at once.
    if let Some(mut s) = odd.serve.take() {
        let _ = Command::new("kill")
            .args(["-TERM", &s.pid().to_string()])
            .status();
        let _ = s.child.wait();
    }
    wait_for(
        "the odd replica's lease given up",
        2 * LEASE_SECS / 3 + 3,
        || {
            replicas[0]
                .cluster()
                .is_some_and(|c| c["live"].as_array().is_some_and(|l| l.len() == 3))
        },
    );
    wait_for("the feeds back where they were", 10, || {
        placement(&replicas) == before
    });

    // The contractor report reads the shared store: every replica's alerts.
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args([
            "report",
            "--contractor",
            "Acme",
            "--format",
            "json",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .expect("banwatch report");
    assert!(
        out.status.success(),
        "report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report JSON");
    assert_eq!(report["totals"]["devices_with_findings"], FEEDS);
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(FEEDS));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Zelda"));

    // Nothing a camera said about a person reached the store.
    let leaked = pg
        .psql("SELECT count(*) FROM alerts WHERE body LIKE '%Zelda%' OR body LIKE '%Quartermain%'");
    assert_eq!(leaked, "0");
    // The store agrees: who taps each feed, and each alert with the replica tapping its camera.
    let feed_owners = || -> BTreeMap<String, Vec<String>> {
        pg.psql("SELECT feed || '=' || replica FROM feed_owners ORDER BY feed")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(f, r)| (f.to_string(), vec![r.to_string()]))
            .collect()
    };
    let mut stored = BTreeMap::new();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(LEASE_SECS) {
        stored = feed_owners();
        if stored == before {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(stored, before);
    let rows = pg.psql("SELECT device || '=' || replica FROM alerts WHERE state = 'firing'");
    for (device, owner) in rows.lines().filter_map(|l| l.split_once('=')) {
        let feed = device.replace("cam-", "feed-");
        assert_eq!(
            before.get(&feed),
            Some(&vec![owner.to_string()]),
            "the alert of {device} is held by {owner}"
        );
    }
}

/// PostgreSQL goes down, every camera then reports a recognised face: the alerts fire but
/// cannot be stored. The replica is killed with SIGKILL before the store returns, and the
/// faces are not reported again. When it starts once more (the store back), the state
/// changes it could not store are taken from its state directory: every violation is stored,
/// one alert each. Kept only in memory, they were lost with the process.
#[test]
fn violations_seen_while_the_store_is_down_survive_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut pg = Postgres::init(&dir.path().join("pg"));
    let mqtt = free_port();
    let _broker = mosquitto::start(dir.path(), mqtt);
    // Alertmanagers nobody runs: the sink spools, which is not what this test is about.
    let cfg = config(dir.path(), &pg, mqtt, &[free_port(), free_port()]);
    let mut r = Replica::new("banwatch-0", dir.path());
    r.start(&cfg);
    wait_for("every MQTT feed connected", 60, || {
        r.feeds().len() == FEEDS
            && get(r.port, "/metrics").is_some_and(|m| {
                r.feeds().iter().all(|f| {
                    service_common::sample(&m, "banwatch_feed_up", &[("feed", f)]) == Some(1.0)
                })
            })
    });
    pg.kill();
    wait_for("not ready without its store", 30, || {
        get(r.port, "/readyz").is_some_and(|b| b.starts_with("not ready"))
    });
    publish_faces(mqtt);
    let pending = r.state.join("pending-alerts.json");
    wait_for("the unstored changes on disk", 60, || {
        std::fs::read_to_string(&pending).is_ok_and(|t| t.matches("\"device\"").count() == FEEDS)
    });
    let text = std::fs::read_to_string(&pending).unwrap();
    assert!(
        !text.contains("Zelda"),
        "a name reached the state directory"
    );
    if let Some(mut s) = r.serve.take() {
        let _ = s.child.kill();
        let _ = s.child.wait();
    }
    pg.start();
    r.start(&cfg);
    wait_for("every violation stored after the restart", 60, || {
        firing_by_device(&r).len() == FEEDS
    });
    let firing = firing_by_device(&r);
    assert!(
        firing.values().all(|ids| ids.len() == 1),
        "a device with two firing alerts: {firing:?}"
    );
    wait_for("the file emptied once stored", 30, || !pending.exists());
    assert!(r.log().contains("could not store"), "{}", r.log());
}

/// The shared store over TLS: a replica trusting the server's CA connects encrypted (as
/// PostgreSQL's own pg_stat_ssl says) and holds its lease; one pinning another certificate is
/// refused and says not ready, naming the certificate problem. Never plain text.
#[test]
fn the_store_over_tls_only_with_the_right_trust() {
    let dir = tempfile::tempdir().unwrap();
    let pki = tls_common::pki();
    let pg = Postgres::init_with(&dir.path().join("pg"), |data| {
        std::fs::copy(&pki.signed.cert_pem, data.join("server.crt")).unwrap();
        std::fs::copy(&pki.signed.key_pem, data.join("server.key")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        vec!["ssl=on".into()]
    });
    let write = |name: &str, tls: &str| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!(
                "[cluster]\nstore = \"{}?sslmode=require\"\nlease_secs = 6\ntls = {tls}\n",
                pg.url()
            ),
        )
        .unwrap();
        p
    };
    let good_cfg = write(
        "good.toml",
        &format!("{{ ca_file = {:?} }}", pki.ca_pem.display().to_string()),
    );
    let bad_cfg = write(
        "bad.toml",
        &format!("{{ pin_sha256 = {:?} }}", pki.self_signed.pin()),
    );
    let mut good = Replica::new("tls-good", dir.path());
    let mut bad = Replica::new("tls-bad", dir.path());
    good.start(&good_cfg);
    bad.start(&bad_cfg);
    wait_for("the replica trusting the CA to hold its lease", 30, || {
        good.cluster().is_some_and(|c| c["lease_held"] == true)
            && get(good.port, "/readyz").is_some_and(|b| b.starts_with("ready"))
    });
    let encrypted = pg.psql(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = 'banwatch tls-good' AND s.ssl",
    );
    assert!(encrypted != "0", "banwatch's connection is not encrypted");
    let mut why = String::new();
    wait_for(
        "the replica pinning another certificate to say why",
        30,
        || {
            why = get(bad.port, "/readyz").unwrap_or_default();
            why.starts_with("not ready") && why.contains("no lease")
        },
    );
    assert!(
        why.to_lowercase().contains("certificate") || why.contains("tls"),
        "{why}\n{}",
        bad.log()
    );
    let plain = pg.psql(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name LIKE 'banwatch%' AND NOT s.ssl",
    );
    assert_eq!(plain, "0", "a banwatch connection in plain text");
}
