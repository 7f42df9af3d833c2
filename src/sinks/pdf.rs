//! PDF from an HTML report through headless Chromium's print-to-PDF (Debian's `chromium`), run
//! as a child process with a throw-away profile and every background service that would reach
//! the network switched off: a report must not make the inspector's laptop phone anyone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Why no PDF was made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// No Chromium found.
    #[error(
        "no Chromium found (install Debian's `chromium`, or set BANWATCH_CHROMIUM to its path)"
    )]
    NoBrowser,
    /// Writing the HTML or running the browser failed.
    #[error("{0}")]
    Failed(String),
}

/// The Chromium binary: `$BANWATCH_CHROMIUM`, else the first of `chromium`,
/// `chromium-browser`, `google-chrome` on `PATH`.
pub fn browser() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BANWATCH_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let c = dir.join(name);
            if c.is_file() {
                return Some(c);
            }
        }
    }
    None
}

/// Print `html` to the PDF file `out` (A4, no header or footer) within `timeout`.
pub fn print(html: &str, out: &Path, timeout: Duration) -> Result<(), PdfError> {
    let chromium = browser().ok_or(PdfError::NoBrowser)?;
    let fail = |m: String| PdfError::Failed(m);
    let dir = tempfile::tempdir().map_err(|e| fail(format!("temporary directory: {e}")))?;
    let page = dir.path().join("report.html");
    std::fs::write(&page, html).map_err(|e| fail(format!("{}: {e}", page.display())))?;
    let out_abs = std::path::absolute(out).map_err(|e| fail(format!("{}: {e}", out.display())))?;
    let mut child = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-sync",
            "--disable-breakpad",
            "--metrics-recording-only",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", out_abs.display()))
        .arg(format!("file://{}", page.display()))
        .env("HOME", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("{}: {e}", chromium.display())))?;
    let t = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(status)) => {
                return Err(fail(format!("{} exited with {status}", chromium.display())))
            }
            Ok(None) if t.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "{} did not finish within {} s",
                    chromium.display(),
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    match std::fs::metadata(&out_abs) {
        Ok(m) if m.len() > 0 => Ok(()),
        _ => Err(fail(format!("{} wrote no PDF", chromium.display()))),
    }
}
