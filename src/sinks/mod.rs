//! Sinks: consume alerts, verdicts and reports; never parse packets. The spot check's reports
//! ([`report`] JSON, [`text`]) are built from a finished scan; the service's alert sinks
//! implement [`AlertSink`] and are listed once in [`REGISTRY`], by the top-level table that
//! configures them (`[alertmanager]`, `[webhook]`, `[eve]`). The alert store ([`store`]) is not
//! a sink among others: an alert exists once it is stored, and every sink hears of it after.
//!
//! Adding an alert sink: a module with a settings struct (`deny_unknown_fields`), an
//! implementation of [`AlertSink`], and one line in [`REGISTRY`].

pub mod chart;
pub mod contractor;
pub mod html;
#[cfg(feature = "live")]
pub mod pdf;
pub mod report;
pub mod text;

#[cfg(feature = "live")]
pub mod alertmanager;
#[cfg(feature = "live")]
pub mod eve;
#[cfg(feature = "live")]
pub(crate) mod spool;
#[cfg(feature = "live")]
pub(crate) mod store;
#[cfg(feature = "live")]
pub mod webhook;

#[cfg(feature = "live")]
pub use registry::*;

#[cfg(feature = "live")]
mod registry {
    use crate::model::Alert;
    use std::path::PathBuf;

    /// Something that hears of every alert state change (fired, resolved, changed evidence).
    pub trait AlertSink: Send {
        /// The registry name (`alertmanager`, `webhook`, `eve`), a metrics label.
        fn name(&self) -> &'static str;
        /// An alert fired or resolved. Must not block on the network: queue or spool, and
        /// deliver from a task of the sink's own. `Ok` once the sink has taken it (it is in
        /// the spool or written); an error leaves it owed in the store's outbox, to be handed
        /// over again.
        fn notify(&mut self, alert: &Alert) -> Result<(), String>;
        /// The sink's disk spool, for `/metrics` (depth, bytes, deliveries, drops).
        fn spool(&self) -> Option<&super::spool::Spool> {
            None
        }
        /// In a cluster: this replica took over a firing alert from another (`held`), or
        /// handed one over (`!held`). Not a state change — nothing is announced; a sink that
        /// repeats firing alerts starts or stops repeating it.
        fn held(&mut self, _alert: &Alert, _held: bool) {}
    }

    /// What a sink gets when the service builds it.
    pub struct SinkContext<'a> {
        /// Where sinks keep their spools (`state_dir/spool/<name>`).
        pub state_dir: PathBuf,
        /// Alerts firing at start (from the store), for sinks that announce them again.
        pub firing: &'a [Alert],
    }

    /// How a sink is built from its settings.
    pub type BuildSink = fn(&toml::Value, &SinkContext<'_>) -> Result<Box<dyn AlertSink>, String>;

    /// One entry of the registry.
    pub struct SinkKind {
        /// The top-level table that configures it.
        pub name: &'static str,
        /// Check the settings without side effects (config loading); the error says what is
        /// wrong in a sentence.
        pub validate: fn(&toml::Value) -> Result<(), String>,
        /// Build it (inside the service's runtime: it may spawn its delivery task).
        pub build: BuildSink,
    }

    /// Every alert sink, one line each.
    pub const REGISTRY: &[SinkKind] = &[
        super::alertmanager::KIND,
        super::webhook::KIND,
        super::eve::KIND,
    ];

    /// The registry entry named `name`.
    pub fn kind(name: &str) -> Option<&'static SinkKind> {
        REGISTRY.iter().find(|k| k.name == name)
    }

    /// Deserialize a sink's settings into its struct (which should deny unknown fields).
    pub fn settings<T: serde::de::DeserializeOwned>(v: &toml::Value) -> Result<T, String> {
        v.clone()
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_string())
    }

    /// Check an `http(s)://` URL of a receiver and its TLS settings.
    pub fn receiver_url(
        url: &str,
        tls: Option<&crate::net::tls::TlsSettings>,
    ) -> Result<url::Url, String> {
        let u = url::Url::parse(url).map_err(|e| format!("url {url:?}: {e}"))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(format!("url {url:?}: scheme must be http or https"));
        }
        if u.host_str().is_none_or(str::is_empty) {
            return Err(format!("url {url:?}: no host"));
        }
        if let Some(t) = tls {
            t.validate().map_err(|e| e.to_string())?;
        }
        Ok(u)
    }

    /// The spool key of an alert state change: its id and state.
    pub fn spool_key(alert: &Alert) -> String {
        let state = match alert.state {
            crate::model::AlertState::Firing => "firing",
            crate::model::AlertState::Resolved => "resolved",
        };
        format!("{}-{state}", alert.id)
    }

    /// Default bound of a sink's disk spool (bytes).
    pub fn default_spool_bytes() -> u64 {
        64 << 20
    }

    /// POST a JSON body to a receiver (with `headers` besides the content type); Ok on a 2xx
    /// answer, else the status in words.
    pub async fn post_json(
        client: &reqwest::Client,
        url: &url::Url,
        mut headers: reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        use reqwest::header::{HeaderValue, CONTENT_TYPE};
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let resp = crate::net::http::send(client, reqwest::Method::POST, url, &headers, body, None)
            .await
            .map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "{} answered {}",
                crate::net::http::authority(url),
                resp.status()
            ))
        }
    }

    /// Open the sink's spool (`state_dir/spool/<name>`, at most `max_bytes`) and deliver from
    /// it with `send` in a task of its own.
    pub fn spooled<F, Fut>(
        ctx: &SinkContext<'_>,
        name: &'static str,
        max_bytes: u64,
        send: F,
    ) -> Result<super::spool::Spool, String>
    where
        F: Fn(Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        let spool = super::spool::Spool::open(&ctx.state_dir.join("spool").join(name), max_bytes)
            .map_err(|e| e.to_string())?;
        tokio::spawn(spool.clone().deliver(name, send));
        Ok(spool)
    }
}
