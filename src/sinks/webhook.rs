//! Webhook sink: each alert state change is POSTed as JSON (over HTTP or HTTPS), signed with
//! HMAC-SHA256 so the receiver can tell it came from banwatch and was not replayed:
//!
//! ```text
//! X-Banwatch-Timestamp: 1795500000
//! X-Banwatch-Signature: sha256=hex(HMAC_SHA256(secret, "<timestamp>.<body>"))
//! ```
//!
//! The timestamp is taken at each delivery attempt; receivers should reject stale ones (the
//! README suggests five minutes). Deliveries go through the disk [`spool`](super::spool).
//!
//! ```toml
//! [webhook]
//! url = "https://hooks.example.city/banwatch"
//! secret = { env = "BANWATCH_WEBHOOK_SECRET" }
//! tls = { ca_file = "/etc/banwatch/city-ca.pem" }   # optional
//! ```

use super::spool::Spool;
use super::{
    default_spool_bytes, post_json, receiver_url, settings, spooled, AlertSink, SinkContext,
    SinkKind,
};
use crate::model::Alert;
use crate::net::http;
use crate::net::tls::TlsSettings;
use crate::secret::Secret;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use sha2::Sha256;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Banwatch-Signature";
/// Header carrying the timestamp the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Banwatch-Timestamp";

/// `[webhook]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// `http(s)://host[:port]/path` of the receiver.
    pub url: String,
    /// HMAC-SHA256 key for the signature header (required).
    pub secret: Secret,
    /// Disk spool bound for undelivered alerts (bytes, default 64 MiB).
    #[serde(default = "default_spool_bytes")]
    pub spool_max_bytes: u64,
    /// How to trust an HTTPS receiver (default: the system roots).
    pub tls: Option<TlsSettings>,
}

fn validate(v: &toml::Value) -> Result<WebhookSettings, String> {
    let w: WebhookSettings = settings(v)?;
    receiver_url(&w.url, w.tls.as_ref())?;
    match w.secret.resolve() {
        Ok(Some(s)) if !s.is_empty() => Ok(w),
        Ok(_) => Err("secret is required (inline, env or file)".into()),
        Err(e) => Err(format!("secret: {e}")),
    }
}

/// The registry entry.
pub const KIND: SinkKind = SinkKind {
    name: "webhook",
    validate: |v| validate(v).map(|_| ()),
    build,
};

fn build(v: &toml::Value, ctx: &SinkContext<'_>) -> Result<Box<dyn AlertSink>, String> {
    let w = validate(v)?;
    let url = receiver_url(&w.url, None)?;
    let secret = w.secret.resolve()?.unwrap_or_default().into_bytes();
    let client = http::client(&w.tls.unwrap_or_default()).map_err(|e| e.to_string())?;
    let spool = spooled(ctx, "webhook", w.spool_max_bytes, move |body| {
        let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
        async move { deliver(&client, &url, &secret, body).await }
    })?;
    Ok(Box::new(Webhook { spool }))
}

struct Webhook {
    spool: Spool,
}

impl AlertSink for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }
    fn notify(&mut self, alert: &Alert) -> Result<(), String> {
        self.spool
            .push(&super::spool_key(alert), &payload(alert))
            .map_err(|e| format!("webhook: {e}"))
    }
    fn spool(&self) -> Option<&Spool> {
        Some(&self.spool)
    }
}

/// The body a webhook receives for one alert state change.
pub fn payload(a: &Alert) -> Vec<u8> {
    let v = serde_json::json!({
        "source": "banwatch",
        "alert": a,
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// `sha256=<hex>` over `"<timestamp>.<body>"`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Deliver one spooled body; Ok on a 2xx answer.
pub async fn deliver(
    client: &reqwest::Client,
    url: &url::Url,
    secret: &[u8],
    body: Vec<u8>,
) -> Result<(), String> {
    let ts = crate::clock::now() as u64;
    let mut headers = HeaderMap::new();
    for (k, v) in [
        (TIMESTAMP_HEADER, ts.to_string()),
        (SIGNATURE_HEADER, sign(secret, ts, &body)),
    ] {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
        headers.insert(name, HeaderValue::from_str(&v).map_err(|e| e.to_string())?);
    }
    post_json(client, url, headers, &body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231 test case 2, fed through `sign` as "<ts>.<body>" = "what do ya want for
        // nothing?" split at its first dot is impossible (no dot), so check the composition:
        // sign(k, ts, body) == HMAC(k, "ts" + "." + body) computed independently.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1700000000.{\"a\":1}");
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sign(b"Jefe", 1_700_000_000, b"{\"a\":1}"), want);
        // And the primitive itself against RFC 4231 test case 2.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Timestamp and body both count.
        assert_ne!(sign(b"k", 1, b"{}"), sign(b"k", 2, b"{}"));
        assert_ne!(sign(b"k", 1, b"{}"), sign(b"k", 1, b"{ }"));
        assert_ne!(sign(b"k", 1, b"{}"), sign(b"K", 1, b"{}"));
    }

    #[test]
    fn settings_are_checked() {
        let v: toml::Value = toml::from_str("url = \"ftp://x/\"\nsecret = \"k\"").unwrap();
        assert!(validate(&v).unwrap_err().contains("scheme"));
        let v: toml::Value = toml::from_str("url = \"https://x/\"\nsecret = \"\"").unwrap();
        assert!(validate(&v).unwrap_err().contains("secret"));
        let v: toml::Value =
            toml::from_str("url = \"https://x/\"\nsecret = \"k\"\nspool = 1").unwrap();
        assert!(validate(&v).unwrap_err().contains("spool"));
        let v: toml::Value =
            toml::from_str("url = \"https://x/\"\nsecret = \"k\"\ntls = { pin_sha256 = \"zz\" }")
                .unwrap();
        assert!(validate(&v).unwrap_err().contains("pin_sha256"));
    }
}
