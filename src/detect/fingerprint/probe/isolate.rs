//! Probing in a child process (`banwatch probe-worker`): a model that crashes or hangs ONNX
//! Runtime costs that model's probe, not the scan.

use super::*;

/// Run `program probe-worker` with the model on stdin; its stdout is the report as JSON.
pub(super) fn run_in_child(
    program: &Path,
    timeout: std::time::Duration,
    model: &[u8],
) -> Result<ProbeReport, ProbeError> {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .arg("probe-worker")
        // No telemetry (see `TELEMETRY_OPT_OUT`), and, should a future runtime ignore the
        // opt-out, no home to keep a device id in and no CA bundle to upload with.
        .env(TELEMETRY_OPT_OUT.0, TELEMETRY_OPT_OUT.1)
        .env("HOME", "/nonexistent")
        .env("XDG_CACHE_HOME", "/nonexistent")
        .env("SSL_CERT_FILE", "/nonexistent")
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ProbeError::Runtime(format!("probe worker {}: {e}", program.display())))?;
    let mut stdin = child.stdin.take();
    let bytes = model.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&bytes);
        }
    });
    // Drain stdout and stderr while waiting, so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.take(16 << 20).read_to_end(&mut v);
        }
        v
    });
    let mut err = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.take(64 << 10).read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                // The I/O threads end when the pipes close; not waited for here, since a
                // grandchild could hold them open.
                return Err(ProbeError::Runtime(format!(
                    "gave up after {} s (model hangs ONNX Runtime?)",
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(5)),
            Err(e) => return Err(ProbeError::Runtime(format!("probe worker: {e}"))),
        }
    };
    let _ = writer.join();
    let stdout = reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    if !status.success() {
        let msg = String::from_utf8_lossy(&stderr);
        let line = msg
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        // The worker prints "banwatch: <probe error>"; pass the error on as it was.
        let line = line.strip_prefix("banwatch: ").unwrap_or(line);
        let line = line.strip_prefix("ONNX Runtime: ").unwrap_or(line);
        return Err(match status.code() {
            Some(_) => ProbeError::Runtime(line.chars().take(200).collect()),
            None => ProbeError::Runtime(format!(
                "ONNX Runtime crashed on this model ({status}); the scan goes on"
            )),
        });
    }
    serde_json::from_slice(&stdout)
        .map_err(|e| ProbeError::Runtime(format!("probe worker answered garbage: {e}")))
}
