//! `[cluster]` settings and the configuration hash replicas compare.

use crate::secret::Secret;
use serde::Deserialize;

/// `[cluster]`: replicas sharing a PostgreSQL store, each tapping the feeds rendezvous
/// hashing gives it among the live replicas (see [`crate::service::cluster`]).
///
/// ```toml
/// [cluster]
/// store = { env = "BANWATCH_POSTGRES_URL" }   # postgres://banwatch:…@postgres:5432/banwatch
/// replica = "banwatch-0"                        # default: $HOSTNAME (a StatefulSet's pod name)
/// lease_secs = 15                               # a replica silent this long is dead
/// tls = { ca_file = "/etc/banwatch/postgres-ca.pem" }   # optional
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// The PostgreSQL URL (it holds a password, hence a secret).
    pub store: Secret,
    /// This replica's identity; default `HOSTNAME`. Not part of the configuration hash.
    pub replica: Option<String>,
    /// How long a lease lasts without renewal (seconds, default 15; renewed every third).
    /// A dead replica's feeds move within `lease_secs` plus one renewal period.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// TLS to PostgreSQL: `{ ca_file = "…" }`, `{ pin_sha256 = "…" }` or `{}` for the system
    /// roots. Given, the connection is encrypted or refused (never plain text).
    pub tls: Option<crate::net::tls::TlsSettings>,
}

fn default_lease_secs() -> u64 {
    15
}

/// The hash replicas compare to find one started with a different configuration: SHA-256
/// of the configuration's TOML with `cluster.replica` left out, first 16 hex digits.
pub(super) fn config_hash(text: &str) -> String {
    use sha2::Digest;
    let mut t: toml::Table = toml::from_str(text).unwrap_or_default();
    if let Some(toml::Value::Table(c)) = t.get_mut("cluster") {
        c.remove("replica");
    }
    let canonical = toml::to_string(&t).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(canonical.as_bytes()))[..16].to_string()
}
