//! The service configuration (`banwatch serve --config FILE`): sites, devices, feeds, policy,
//! state and listen address, in one TOML file. Every setting has a default; a bad file fails at
//! start with the file, the line and what is wrong.

use crate::model::SiteType;
use crate::taps::live::FeedConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The TOML parser's message carries the line and column.
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub site_type: SiteType,
    #[serde(default)]
    pub contractor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    pub id: String,
    pub site: String,
    #[serde(default)]
    pub vendor: Option<String>,
    /// IP addresses the device uses (for attributing traffic and log records).
    #[serde(default)]
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Feed {
    pub id: String,
    /// The configured device this feed belongs to (a camera's own stream).
    #[serde(default)]
    pub device: Option<String>,
    #[serde(flatten)]
    pub source: FeedConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeSettings {
    /// Evidence older than this no longer counts (seconds).
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// A firing alert resolves after this long without new evidence (seconds).
    #[serde(default = "default_resolve")]
    pub resolve_after_secs: u64,
}

fn default_window() -> u64 {
    3600
}
fn default_resolve() -> u64 {
    300
}

impl Default for JudgeSettings {
    fn default() -> Self {
        JudgeSettings {
            window_secs: default_window(),
            resolve_after_secs: default_resolve(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSettings {
    /// `http://host:port`, e.g. `http://127.0.0.1:9093`.
    pub url: String,
    /// How often firing alerts are re-sent (seconds).
    #[serde(default = "default_resend")]
    pub resend_secs: u64,
    /// Disk spool bound for undelivered state changes (bytes).
    #[serde(default = "default_spool")]
    pub spool_max_bytes: u64,
}

fn default_resend() -> u64 {
    60
}

/// A secret given inline or, better, by the name of an environment variable holding it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub env: Option<String>,
}

impl Secret {
    pub fn resolve(&self) -> Result<Option<String>, String> {
        match (&self.value, &self.env) {
            (Some(v), None) => Ok(Some(v.clone())),
            (None, Some(name)) => std::env::var(name)
                .map(Some)
                .map_err(|_| format!("environment variable {name} is not set")),
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err("give value or env, not both".into()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// `http://host:port/path` of the receiver.
    pub url: String,
    /// HMAC-SHA256 key for the `X-Banwatch-Signature` header (required).
    pub secret: Secret,
    /// Disk spool bound for undelivered alerts (bytes).
    #[serde(default = "default_spool")]
    pub spool_max_bytes: u64,
}

fn default_spool() -> u64 {
    64 << 20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EveSettings {
    /// EVE-style JSON lines file, appended to (logrotate-friendly).
    pub path: PathBuf,
}

fn default_listen() -> String {
    "127.0.0.1:9464".into()
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("banwatch-state")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Where the alert store lives.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Policy file; default: the shipped ban.
    #[serde(default)]
    pub policy: Option<PathBuf>,
    #[serde(default, rename = "site")]
    pub sites: Vec<Site>,
    #[serde(default, rename = "device")]
    pub devices: Vec<Device>,
    #[serde(default, rename = "feed")]
    pub feeds: Vec<Feed>,
    #[serde(default)]
    pub judge: JudgeSettings,
    #[serde(default)]
    pub alertmanager: Option<AlertmanagerSettings>,
    #[serde(default)]
    pub webhook: Option<WebhookSettings>,
    #[serde(default)]
    pub eve: Option<EveSettings>,
    /// Bearer token required by every state-changing API call. Without one, such calls are
    /// refused (read-only API).
    #[serde(default)]
    pub api_token: Secret,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let cfg: Config = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        for d in &cfg.devices {
            if !cfg.sites.iter().any(|s| s.id == d.site) {
                return Err(invalid(format!(
                    "device {:?} names unknown site {:?}",
                    d.id, d.site
                )));
            }
            for a in &d.addresses {
                if a.parse::<std::net::IpAddr>().is_err() {
                    return Err(invalid(format!(
                        "device {:?}: {a:?} is not an IP address",
                        d.id
                    )));
                }
            }
        }
        let mut ids = std::collections::HashSet::new();
        for f in &cfg.feeds {
            if !ids.insert(&f.id) {
                return Err(invalid(format!("feed id {:?} appears twice", f.id)));
            }
            if let Some(d) = &f.device {
                if !cfg.devices.iter().any(|x| &x.id == d) {
                    return Err(invalid(format!(
                        "feed {:?} names unknown device {d:?}",
                        f.id
                    )));
                }
            }
        }
        if let Some(am) = &cfg.alertmanager {
            crate::sinks::alertmanager::parse_url(&am.url).map_err(invalid)?;
        }
        if let Some(w) = &cfg.webhook {
            crate::sinks::http::parse_url(&w.url).map_err(|e| invalid(format!("webhook: {e}")))?;
            match w.secret.resolve() {
                Ok(Some(s)) if !s.is_empty() => {}
                Ok(_) => return Err(invalid("webhook: secret is required (value or env)".into())),
                Err(e) => return Err(invalid(format!("webhook secret: {e}"))),
            }
        }
        cfg.api_token
            .resolve()
            .map_err(|e| invalid(format!("api_token: {e}")))?;
        if cfg.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(format!(
                "listen = {:?} is not an address:port",
                cfg.listen
            )));
        }
        Ok(cfg)
    }

    /// The device owning an address, if any.
    pub fn device_by_address(&self, ip: &str) -> Option<&Device> {
        self.devices
            .iter()
            .find(|d| d.addresses.iter().any(|a| a == ip))
    }

    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_line_numbered_errors() {
        let c = Config::parse(Path::new("b.toml"), "").unwrap();
        assert_eq!(c.listen, "127.0.0.1:9464");
        assert_eq!(c.judge.resolve_after_secs, 300);
        let e = Config::parse(
            Path::new("b.toml"),
            "[[site]]\nid = \"s\"\ntype = \"hospital\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("b.toml:") && e.contains("line 3"), "{e}");
        let e = Config::parse(
            Path::new("b.toml"),
            "[[device]]\nid = \"d\"\nsite = \"nowhere\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown site"), "{e}");
        let e = Config::parse(
            Path::new("b.toml"),
            "[[feed]]\nid = \"f\"\nkind = \"rtsp\"\nurl = \"rtsp://127.0.0.1:1/x\"\n[[feed]]\nid = \"f\"\nkind = \"zeek\"\npath = \"x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("twice"), "{e}");
    }
}
