//! What a live source is: the trait each implements ([`LiveSource`]), its registry entry
//! ([`SourceKind`]), and the helpers every source uses (settings, redacted URLs). Sources
//! import this module; the registry imports the sources — so nothing imports back up.

use super::context::SourceContext;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A future a source runs as, until its context's shutdown flag flips.
pub type RunFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// One configured feed's source: its settings, able to run.
pub trait LiveSource: std::fmt::Debug + Send + Sync {
    /// The `kind` this source is configured under (`rtsp`, `mqtt`, ...).
    fn kind(&self) -> &'static str;
    /// Where it reads from, for logs: credentials never appear (URLs are shown without their
    /// user information).
    fn endpoint(&self) -> String;
    /// Whether the feed must name its `device` (its messages do not say who sent them, e.g.
    /// an MQTT broker's).
    fn needs_device(&self) -> bool {
        false
    }
    /// Run until `ctx.shutdown` becomes true: connect, deliver, reconnect with backoff. Never
    /// returns early on a bad peer or a broken message.
    fn run(self: Arc<Self>, ctx: SourceContext) -> RunFuture;
}

/// An entry of the registry: the name a config uses and how to build the source from the
/// feed's settings (the `[[feed]]` table without `id`, `device` and `kind`).
pub struct SourceKind {
    /// The `kind = "..."` of a `[[feed]]`.
    pub name: &'static str,
    /// One line on what the source reads.
    pub description: &'static str,
    /// Build from settings; the error names the offending key (see [`settings`]).
    pub build: fn(toml::Table) -> Result<Arc<dyn LiveSource>, String>,
}

/// Deserialize a source's settings into its config struct (which should deny unknown fields).
pub fn settings<T: DeserializeOwned>(table: toml::Table) -> Result<T, String> {
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())
}

/// A URL for logs and reports: user information (`user:password@`) removed, and any query
/// parameter whose name suggests a secret replaced by `…`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let secret = ["pass", "pwd", "token", "key", "secret", "auth"]
                        .iter()
                        .any(|s| k.to_ascii_lowercase().contains(s));
                    (
                        k.into_owned(),
                        if secret { "…".into() } else { v.into_owned() },
                    )
                })
                .collect();
            if !pairs.is_empty() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => "(unparseable URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            redact_url("rtsp://admin:hunter2@10.0.0.5:554/Streaming/101?token=abc&x=1"),
            "rtsp://10.0.0.5:554/Streaming/101?token=%E2%80%A6&x=1"
        );
        assert_eq!(redact_url("http://u:p@h/x"), "http://h/x");
    }
}
