//! Follows a growing line-oriented log file (Zeek JSON logs, Suricata EVE), like `tail -F`:
//! starts at the beginning, picks up appended lines, reopens after rotation or truncation, and
//! holds back a partial last line until its newline arrives. Lines are bounded.

use super::context::{reconnect_loop, stopped, SourceContext, SourceError};
use super::source::{settings, LiveSource, RunFuture};
use crate::sources::offline::logs::{LineDecoder, LogFormat};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Longest line kept; longer ones are counted as broken and skipped.
pub const MAX_LINE: usize = 1 << 20;
const POLL: Duration = Duration::from_millis(200);

/// Settings of a followed log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSettings {
    /// The log file (it may not exist yet: it is waited for).
    path: PathBuf,
}

/// A log file followed as it grows (the `zeek` and `eve` sources).
#[derive(Debug)]
pub struct FollowedLog {
    format: LogFormat,
    path: PathBuf,
}

impl FollowedLog {
    /// Build from a feed's settings (`path = "…"`).
    pub fn build(table: toml::Table, format: LogFormat) -> Result<Arc<dyn LiveSource>, String> {
        let s: LogSettings = settings(table)?;
        if s.path.as_os_str().is_empty() {
            return Err("path: empty".into());
        }
        Ok(Arc::new(FollowedLog {
            format,
            path: s.path,
        }))
    }
}

impl LiveSource for FollowedLog {
    fn kind(&self) -> &'static str {
        self.format.name()
    }
    fn endpoint(&self) -> String {
        self.path.display().to_string()
    }
    fn run(self: Arc<Self>, ctx: SourceContext) -> RunFuture {
        Box::pin(async move {
            reconnect_loop(&ctx, |_| {
                let mut decoder = self.format.decoder();
                let path = self.path.clone();
                let ctx = &ctx;
                async move { follow(&path, ctx, &mut *decoder).await }
            })
            .await
        })
    }
}

/// Hands each complete line of `path` to `decoder` until shutdown; a broken line is counted
/// and skipped.
async fn follow(
    path: &Path,
    ctx: &SourceContext,
    decoder: &mut dyn LineDecoder,
) -> Result<(), SourceError> {
    let mut shutdown = ctx.shutdown.clone();
    let mut file = open(path, ctx, &mut shutdown).await?;
    let mut pos: u64 = 0;
    let mut pending: Vec<u8> = Vec::new();
    let mut skipping = false;
    let mut buf = vec![0u8; 64 * 1024];
    // A rotation was seen: the old file is read to its end before the new one is opened, so
    // lines written just before a rotation or deletion are not lost.
    let mut switch = false;
    ctx.health.set_up(true);
    loop {
        let Some(f) = file.as_mut() else {
            return Ok(());
        };
        let n = f.read(&mut buf).await?;
        if n == 0 {
            if switch {
                tracing::info!(path = %path.display(), "log rotated or truncated; reopening");
                file = open(path, ctx, &mut shutdown).await?;
                ctx.health.set_up(true);
                pos = 0;
                pending.clear();
                skipping = false;
                switch = false;
                continue;
            }
            // At the end: wait, then check for rotation (new inode) or truncation.
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stopped(&mut shutdown) => return Ok(()),
            }
            switch = rotated(path, f, pos).await;
            continue;
        }
        pos += n as u64;
        let mut chunk = buf.get(..n).unwrap_or(&[]);
        while let Some(nl) = memchr::memchr(b'\n', chunk) {
            let part = chunk.get(..nl).unwrap_or(&[]);
            chunk = chunk.get(nl + 1..).unwrap_or(&[]);
            if skipping {
                skipping = false;
                pending.clear();
                continue;
            }
            pending.extend_from_slice(part);
            let line = std::mem::take(&mut pending);
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if line.iter().all(|c| c.is_ascii_whitespace()) {
                continue;
            }
            match decoder.line(line) {
                Ok(obs) => ctx.deliver(line.len(), obs).await?,
                Err(why) => ctx
                    .health
                    .add_decode_error(&format!("{}: {why}", path.display())),
            }
        }
        if !skipping {
            pending.extend_from_slice(chunk);
            if pending.len() > MAX_LINE {
                ctx.health.add_decode_error(&format!(
                    "{}: line longer than {MAX_LINE} bytes",
                    path.display()
                ));
                pending.clear();
                skipping = true;
            }
        }
    }
}

async fn open(
    path: &Path,
    ctx: &SourceContext,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<Option<tokio::fs::File>, SourceError> {
    // A log that does not exist yet (sensor not started) is waited for, not an error.
    loop {
        match tokio::fs::File::open(path).await {
            Ok(f) => return Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                ctx.health.set_up(false);
                ctx.health
                    .set_error(&format!("{}: waiting for the file", path.display()));
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped(shutdown) => return Ok(None),
                }
            }
            Err(e) => return Err(SourceError::Connect(format!("{}: {e}", path.display()))),
        }
    }
}

/// Whether the log at `path` is no longer the file being read: replaced (new inode),
/// truncated, or gone (deleted and not yet recreated: the feed then waits for it, and is down
/// meanwhile).
async fn rotated(path: &Path, f: &mut tokio::fs::File, pos: u64) -> bool {
    let now = match tokio::fs::metadata(path).await {
        Ok(m) => m,
        Err(e) => return e.kind() == std::io::ErrorKind::NotFound,
    };
    if now.len() < pos {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(cur) = f.metadata().await {
            if cur.ino() != now.ino() || cur.dev() != now.dev() {
                return true;
            }
        }
    }
    false
}
