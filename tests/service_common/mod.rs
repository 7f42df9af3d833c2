//! Helpers shared by the tests that run `banwatch serve` as a process: free ports, raw HTTP
//! requests, waiting, the metrics exposition, a real Alertmanager, a signed-webhook receiver.
#![allow(dead_code)]

#[path = "../common/ports.rs"]
mod ports;
pub use ports::free_port;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// A `banwatch serve` process, killed when dropped. Its log goes to a file; when the test
/// fails (the thread is panicking) the drop prints whether the process had exited and the
/// log's last lines, so a timed-out wait says what the service was doing.
pub struct Serve(pub Child, pub tempfile::NamedTempFile);

impl Drop for Serve {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let status = match self.0.try_wait() {
                Ok(Some(st)) => format!("had exited: {st}"),
                Ok(None) => "was still running".to_string(),
                Err(e) => format!("could not be asked: {e}"),
            };
            let log = std::fs::read_to_string(self.1.path()).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            eprintln!("banwatch serve {status}; the last lines of its log:\n{tail}");
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn serve(args: &[&str]) -> Serve {
    let log = tempfile::NamedTempFile::new().expect("a file for the service's log");
    let stderr = log.reopen().expect("the service's log file");
    Serve(
        Command::new(env!("CARGO_BIN_EXE_banwatch"))
            .arg("serve")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start banwatch serve"),
        log,
    )
}

/// The value of `name` whose labels include every one of `labels`, from an exposition text
/// (label order is the encoder's, so labels are compared as a set).
pub fn sample(m: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    m.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let (labels_text, value) = match rest.strip_prefix('{') {
            Some(r) => r.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        let all = labels.iter().all(|(k, v)| {
            labels_text
                .split(',')
                .any(|kv| kv == format!("{k}=\"{v}\""))
        });
        all.then(|| value.trim().parse().ok()).flatten()
    })
}

pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out after {secs} s waiting for {what}");
}

pub fn alerts(port: u16) -> Vec<serde_json::Value> {
    get(port, "/api/v1/alerts")
        .and_then(|b| serde_json::from_str::<Vec<serde_json::Value>>(&b).ok())
        .unwrap_or_default()
}

/// A real Alertmanager (Debian's prometheus-alertmanager) on loopback.
pub struct Alertmanager(pub Child, pub u16);

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn alertmanager(dir: &Path, port: u16) -> Alertmanager {
    let bin = Path::new("/usr/bin/prometheus-alertmanager");
    assert!(
        bin.exists(),
        "prometheus-alertmanager is missing: install the Debian package prometheus-alertmanager (scripts/setup.sh test does)"
    );
    let cfg = dir.join("am.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus-alertmanager");
    let am = Alertmanager(child, port);
    wait_for("Alertmanager to answer", 30, || {
        get(port, "/-/ready").is_some()
    });
    am
}

pub fn request(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// A webhook receiver in Python's standard library (http.server, hmac): checks the signature
/// independently of banwatch's code and appends each verified body to a file.
pub const RECEIVER: &str = r#"
import hashlib, hmac, http.server, sys, time
port, secret, out = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ts = self.headers["X-Banwatch-Timestamp"]
        want = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers["X-Banwatch-Signature"]) and abs(time.time() - int(ts)) < 300
        with open(out, "ab") as f:
            f.write((b"VERIFIED " if ok else b"BAD ") + body + b"\n")
        self.send_response(204 if ok else 401)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

/// `banwatch serve` with its log (stderr) collected through a pipe (a pipe, so a file-size
/// limit put on the service does not cut its log).
pub struct LoggedServe {
    pub child: Child,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl LoggedServe {
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for LoggedServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve_logged(args: &[&str]) -> LoggedServe {
    serve_logged_with(args, "info")
}

/// [`serve_logged`] at log level `level` (`RUST_LOG`).
pub fn serve_logged_with(args: &[&str], level: &str) -> LoggedServe {
    serve_logged_env(args, level, &[])
}

/// [`serve_logged_with`] with these environment variables set.
pub fn serve_logged_env(args: &[&str], level: &str, env: &[(&str, &str)]) -> LoggedServe {
    let mut child = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", level)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start banwatch serve");
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut err = child.stderr.take().expect("stderr");
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut l) = sink.lock() {
                l.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    LoggedServe { child, log }
}

/// The signed-webhook receiver ([`RECEIVER`]) on `port`, writing what it gets to `out`.
pub struct Receiver(pub Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the webhook receiver and wait until it listens (Python takes a while to start on a
/// loaded machine); a receiver that exits first, say because its port was taken, fails here
/// with its status instead of as a missing delivery later.
pub fn receiver(dir: &Path, port: u16, secret: &str, out: &Path) -> Receiver {
    let script = dir.join("receiver.py");
    std::fs::write(&script, RECEIVER).unwrap();
    let mut r = Receiver(
        Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(secret)
            .arg(out)
            .spawn()
            .expect("python3 receiver"),
    );
    wait_for("the webhook receiver to listen", 20, || {
        if let Ok(Some(status)) = r.0.try_wait() {
            panic!("the webhook receiver on port {port} exited: {status}");
        }
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    r
}

/// The status line and body of a raw request.
pub fn raw(port: u16, request: &[u8]) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}
