//! The live sources banwatch knows, by the `kind` a `[[feed]]` names, and the trait each
//! implements. The service builds feeds from configuration through [`build`]; nothing else
//! switches on the kind of a source.

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

/// Every live source, one line each.
pub const REGISTRY: &[SourceKind] = &[
    super::rtsp::KIND,
    super::hikvision::KIND,
    super::dahua::KIND,
    super::onvif_events::KIND,
    super::mqtt::KIND,
    super::zeek::KIND,
    super::eve::KIND,
    super::capture::KIND,
];

/// The registry entry for `kind`.
pub fn kind(name: &str) -> Option<&'static SourceKind> {
    REGISTRY.iter().find(|k| k.name == name)
}

/// Build the source a feed's `kind` and settings describe. Errors say what is wrong (unknown
/// kind, unknown or misspelt key, bad value) in a sentence the config loader prefixes with
/// file and line.
pub fn build(kind_name: &str, settings: toml::Table) -> Result<Arc<dyn LiveSource>, String> {
    match kind(kind_name) {
        Some(k) => (k.build)(settings),
        None => Err(format!(
            "unknown feed kind {kind_name:?} (known: {})",
            REGISTRY
                .iter()
                .map(|k| k.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
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
    fn every_kind_is_listed_once_and_builds_from_its_settings() {
        let mut names: Vec<_> = REGISTRY.iter().map(|k| k.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
        let t: toml::Table = toml::from_str("url = \"rtsp://127.0.0.1:8554/cam1\"").unwrap();
        assert_eq!(build("rtsp", t).unwrap().kind(), "rtsp");
        let e = build("telnet", toml::Table::new()).unwrap_err();
        assert!(e.contains("unknown feed kind") && e.contains("rtsp"), "{e}");
    }

    #[test]
    fn a_misspelt_key_is_refused() {
        let t: toml::Table =
            toml::from_str("url = \"http://10.0.0.5/\"\nusername = \"a\"\npasword = \"x\"")
                .unwrap();
        let e = build("hikvision", t).unwrap_err();
        assert!(e.contains("pasword"), "{e}");
    }

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            redact_url("rtsp://admin:hunter2@10.0.0.5:554/Streaming/101?token=abc&x=1"),
            "rtsp://10.0.0.5:554/Streaming/101?token=%E2%80%A6&x=1"
        );
        assert_eq!(redact_url("http://u:p@h/x"), "http://h/x");
    }
}
