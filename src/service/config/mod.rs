//! The service configuration (`banwatch serve --config FILE`): sites, devices, feeds, sinks,
//! policy, state and listen address, in one TOML file. Every setting has a default. Nothing is
//! accepted silently: an unknown or misspelt key, an impossible value, a duplicate id or two
//! devices claiming one address stop the start with the file, the line and what is wrong.
//!
//! Feeds are built through the source registry ([`crate::sources::live::registry`]) and sinks
//! through the sink registry ([`crate::sinks::REGISTRY`]): each checks its own settings.

mod cluster;
mod index;
mod lines;

use cluster::config_hash;
pub use cluster::ClusterSettings;
use index::Index;
use lines::{key_in, line_at, line_of_key, line_of_table};

use crate::model::SiteType;
use crate::secret::Secret;
use crate::sources::live::registry::{self as sources, LiveSource};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is wrong: `file:line: what` (the TOML parser's messages carry line and column
    /// too).
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending table or key, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

/// A site of the city's inventory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Unique id.
    pub id: String,
    /// Name for people.
    pub name: Option<String>,
    /// What kind of site (the policy bans techniques per site type).
    #[serde(rename = "type")]
    pub site_type: SiteType,
    /// The contractor answering for its systems.
    pub contractor: Option<String>,
}

/// A device of the inventory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Unique id.
    pub id: String,
    /// The site it is at.
    pub site: String,
    /// Vendor, for people.
    pub vendor: Option<String>,
    /// IP addresses the device uses (for attributing traffic and log records). An address
    /// belongs to one device.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// The product family whose audit checks apply (a `models/checks` product id such as
    /// `hikvision`, `dahua`, `onvif`, `unifi_protect`, `frigate`); without it the audit
    /// identifies the product.
    pub product: Option<String>,
    /// How `banwatch audit` and the scheduled audit reach the device: `url`, `username`,
    /// `password` (a secret), `allow_basic`, `tls`, as an HTTP feed takes them.
    pub audit: Option<crate::sources::live::http_stream::DeviceHttp>,
}

/// A configured feed: its id, the device it belongs to, and its source.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Unique id (metrics label).
    pub id: String,
    /// The device its observations are about, for feeds that belong to one device.
    pub device: Option<String>,
    /// The source, built and checked by the registry.
    pub source: Arc<dyn LiveSource>,
}

/// How evidence ages and alerts resolve.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeSettings {
    /// Evidence older than this no longer counts (seconds, ≥ 1; default 3600).
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// A firing alert resolves after this long without new evidence (seconds, ≥ 1; default
    /// 300).
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

/// When and how `serve` audits the devices that have an `audit` table (`[audit]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSchedule {
    /// Seconds between two audits of every device (default one day).
    #[serde(default = "default_audit_every")]
    pub every_secs: u64,
    /// Seconds after start before the first audit.
    #[serde(default = "default_audit_first")]
    pub first_after_secs: u64,
    /// Devices audited at once.
    #[serde(default = "default_audit_concurrency")]
    pub concurrency: usize,
    /// Devices of one site audited at once.
    #[serde(default = "default_audit_per_site")]
    pub per_site: usize,
    /// Longest wait for one answer, seconds.
    #[serde(default = "default_audit_timeout")]
    pub timeout_secs: u64,
}

fn default_audit_every() -> u64 {
    86_400
}
fn default_audit_first() -> u64 {
    5
}
fn default_audit_concurrency() -> usize {
    8
}
fn default_audit_per_site() -> usize {
    2
}
fn default_audit_timeout() -> u64 {
    20
}

impl Default for AuditSchedule {
    fn default() -> Self {
        AuditSchedule {
            every_secs: default_audit_every(),
            first_after_secs: default_audit_first(),
            concurrency: default_audit_concurrency(),
            per_site: default_audit_per_site(),
            timeout_secs: default_audit_timeout(),
        }
    }
}

/// A configured sink: its name in the sink registry, its settings, and their line.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    /// `alertmanager`, `webhook`, `eve`...
    pub name: String,
    /// The table as written.
    pub settings: toml::Value,
}

fn default_listen() -> String {
    "127.0.0.1:9464".into()
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("banwatch-state")
}

/// The file's top level. Sink tables are collected into `rest` and checked against the sink
/// registry, so an unknown top-level key is refused as well.
#[derive(Debug, Deserialize)]
struct Raw {
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default = "default_state_dir")]
    state_dir: PathBuf,
    policy: Option<PathBuf>,
    #[serde(default, rename = "site")]
    sites: Vec<toml::Spanned<toml::Table>>,
    #[serde(default, rename = "device")]
    devices: Vec<toml::Spanned<toml::Table>>,
    #[serde(default, rename = "feed")]
    feeds: Vec<toml::Spanned<toml::Table>>,
    judge: Option<toml::Spanned<toml::Table>>,
    audit: Option<toml::Spanned<toml::Table>>,
    api_token: Option<Secret>,
    cluster: Option<toml::Spanned<toml::Table>>,
    #[serde(flatten)]
    rest: toml::Table,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `address:port` of the HTTP endpoint.
    pub listen: String,
    /// Where the alert store and spools live.
    pub state_dir: PathBuf,
    /// Policy file; default: the shipped ban.
    pub policy: Option<PathBuf>,
    /// Sites.
    pub sites: Vec<Site>,
    /// Devices.
    pub devices: Vec<Device>,
    /// Feeds.
    pub feeds: Vec<Feed>,
    /// Evidence window and resolve delay.
    pub judge: JudgeSettings,
    /// Configured sinks besides the store.
    pub sinks: Vec<SinkSettings>,
    /// The schedule of device audits.
    pub audit: AuditSchedule,
    /// Bearer token required by every state-changing API call. Without one, such calls are
    /// refused (read-only API).
    pub api_token: Secret,
    /// Replicas sharing a PostgreSQL store; `None`: one machine, the SQLite store.
    pub cluster: Option<ClusterSettings>,
    /// The hash replicas compare (see `[cluster]`).
    pub hash: String,
    /// Devices and sites by id, devices by address: the service looks one up per message, so
    /// a city's thousands of devices must not be searched one by one.
    index: Index,
}

impl Config {
    /// Read and check a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(path, &text)
    }

    /// Check a configuration's text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let invalid = |line: Option<usize>, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_at(text, s.start));
            invalid(line, e.message().to_string())
        })?;
        // A table of `T` from a spanned table, errors at the offending key's line.
        fn typed<T: serde::de::DeserializeOwned>(
            t: &toml::Spanned<toml::Table>,
            text: &str,
            what: &str,
        ) -> Result<T, (usize, String)> {
            toml::Value::Table(t.get_ref().clone())
                .try_into()
                .map_err(|e: toml::de::Error| {
                    let msg = e.message().to_string();
                    (
                        line_of_key(text, t.span(), key_in(&msg)),
                        format!("{what}: {msg}"),
                    )
                })
        }
        let mut sites = Vec::new();
        for t in &raw.sites {
            let s: Site = typed(t, text, "site").map_err(|(l, m)| invalid(Some(l), m))?;
            if sites.iter().any(|x: &Site| x.id == s.id) {
                return Err(invalid(
                    Some(line_of_key(text, t.span(), Some("id"))),
                    format!("site id {:?} appears twice", s.id),
                ));
            }
            sites.push(s);
        }
        let mut devices: Vec<Device> = Vec::new();
        for t in &raw.devices {
            let d: Device = typed(t, text, "device").map_err(|(l, m)| invalid(Some(l), m))?;
            let at = |key| Some(line_of_key(text, t.span(), Some(key)));
            if devices.iter().any(|x| x.id == d.id) {
                return Err(invalid(
                    at("id"),
                    format!("device id {:?} appears twice", d.id),
                ));
            }
            if !sites.iter().any(|s| s.id == d.site) {
                return Err(invalid(
                    at("site"),
                    format!("device {:?} names unknown site {:?}", d.id, d.site),
                ));
            }
            for a in &d.addresses {
                let ip: std::net::IpAddr = a.parse().map_err(|_| {
                    invalid(
                        at("addresses"),
                        format!("device {:?}: {a:?} is not an IP address", d.id),
                    )
                })?;
                if let Some(other) = devices
                    .iter()
                    .find(|x| x.addresses.iter().any(|b| b.parse().ok() == Some(ip)))
                {
                    return Err(invalid(
                        at("addresses"),
                        format!(
                            "device {:?}: address {a} already belongs to device {:?}",
                            d.id, other.id
                        ),
                    ));
                }
            }
            if let Some(a) = &d.audit {
                a.validate("/")
                    .map_err(|m| invalid(at("audit"), format!("device {:?}: audit {m}", d.id)))?;
            }
            devices.push(d);
        }
        let mut feeds: Vec<Feed> = Vec::new();
        for t in &raw.feeds {
            let mut table = t.get_ref().clone();
            let span = t.span();
            let at = |key: &str| Some(line_of_key(text, span.clone(), Some(key)));
            let mut take_str = |key: &str, required: bool| -> Result<Option<String>, ConfigError> {
                match table.remove(key) {
                    Some(toml::Value::String(s)) => Ok(Some(s)),
                    Some(_) => Err(invalid(at(key), format!("feed: `{key}` must be a string"))),
                    None if required => Err(invalid(
                        Some(line_at(text, span.start)),
                        format!("feed: `{key}` is required"),
                    )),
                    None => Ok(None),
                }
            };
            let id = take_str("id", true)?.unwrap_or_default();
            let device = take_str("device", false)?;
            let kind = take_str("kind", true)?.unwrap_or_default();
            if feeds.iter().any(|f| f.id == id) {
                return Err(invalid(at("id"), format!("feed id {id:?} appears twice")));
            }
            if let Some(d) = &device {
                if !devices.iter().any(|x| &x.id == d) {
                    return Err(invalid(
                        at("device"),
                        format!("feed {id:?} names unknown device {d:?}"),
                    ));
                }
            }
            let source = sources::build(&kind, table).map_err(|m| {
                let line = key_in(&m)
                    .and_then(at)
                    .unwrap_or_else(|| line_at(text, span.start));
                invalid(Some(line), format!("feed {id:?} (kind {kind}): {m}"))
            })?;
            if source.needs_device() && device.is_none() {
                return Err(invalid(
                    Some(line_at(text, span.start)),
                    format!(
                        "feed {id:?} (kind {kind}) needs `device`: its messages do not say which device sent them"
                    ),
                ));
            }
            feeds.push(Feed { id, device, source });
        }
        let judge = match &raw.judge {
            Some(t) => {
                typed::<JudgeSettings>(t, text, "judge").map_err(|(l, m)| invalid(Some(l), m))?
            }
            None => JudgeSettings::default(),
        };
        for (key, v) in [
            ("window_secs", judge.window_secs),
            ("resolve_after_secs", judge.resolve_after_secs),
        ] {
            if v == 0 {
                let line = raw
                    .judge
                    .as_ref()
                    .map(|t| line_of_key(text, t.span(), Some(key)));
                return Err(invalid(line, format!("judge: {key} = 0 is not a duration")));
            }
        }
        let audit = match &raw.audit {
            Some(t) => {
                typed::<AuditSchedule>(t, text, "audit").map_err(|(l, m)| invalid(Some(l), m))?
            }
            None => AuditSchedule::default(),
        };
        for (key, v) in [
            ("every_secs", audit.every_secs),
            ("timeout_secs", audit.timeout_secs),
            ("concurrency", audit.concurrency as u64),
            ("per_site", audit.per_site as u64),
        ] {
            if v == 0 {
                let line = raw
                    .audit
                    .as_ref()
                    .map(|t| line_of_key(text, t.span(), Some(key)));
                return Err(invalid(line, format!("audit: {key} = 0 is not allowed")));
            }
        }
        let mut sinks = Vec::new();
        for (name, settings) in raw.rest {
            let line = line_of_table(text, &name);
            let Some(kind) = crate::sinks::kind(&name) else {
                return Err(invalid(
                    line,
                    format!(
                        "unknown key or table `{name}` (sinks: {})",
                        crate::sinks::REGISTRY
                            .iter()
                            .map(|k| k.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            (kind.validate)(&settings).map_err(|m| invalid(line, format!("{name}: {m}")))?;
            sinks.push(SinkSettings { name, settings });
        }
        let api_token = raw.api_token.unwrap_or_default();
        let token = api_token
            .resolve()
            .map_err(|e| invalid(line_of_table(text, "api_token"), format!("api_token: {e}")))?;
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            check_api_token(&t).map_err(|e| {
                invalid(line_of_table(text, "api_token"), format!("api_token: {e}"))
            })?;
        }
        if raw.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                line_of_table(text, "listen"),
                format!("listen = {:?} is not an address:port", raw.listen),
            ));
        }
        let cluster = match &raw.cluster {
            Some(t) => {
                let c: ClusterSettings =
                    typed(t, text, "cluster").map_err(|(l, m)| invalid(Some(l), m))?;
                if let Some(tls) = &c.tls {
                    tls.validate().map_err(|e| {
                        invalid(
                            Some(line_of_key(text, t.span(), Some("tls"))),
                            format!("cluster: tls: {e}"),
                        )
                    })?;
                }
                if c.lease_secs < 3 {
                    let line = line_of_key(text, t.span(), Some("lease_secs"));
                    return Err(invalid(
                        Some(line),
                        "cluster: lease_secs must be at least 3 (renewed every third)".into(),
                    ));
                }
                Some(c)
            }
            None => None,
        };
        Ok(Config {
            index: Index::build(&sites, &devices),
            cluster,
            hash: config_hash(text),
            listen: raw.listen,
            state_dir: raw.state_dir,
            policy: raw.policy,
            sites,
            devices,
            feeds,
            judge,
            sinks,
            audit,
            api_token,
        })
    }

    /// The device owning an address, if any.
    pub fn device_by_address(&self, ip: std::net::IpAddr) -> Option<&Device> {
        self.devices.get(*self.index.addresses.get(&ip)?)
    }

    /// The audit targets of the inventory: every device with an `audit` table, at its site.
    /// `insecure` overrides each device's certificate trust (and reports record it).
    pub fn audit_targets(
        &self,
        insecure: bool,
    ) -> Result<Vec<crate::sources::audit::Target>, String> {
        let mut out = Vec::new();
        for d in &self.devices {
            let Some(settings) = &d.audit else { continue };
            let mut tls = settings.tls.clone().unwrap_or_default();
            tls.insecure |= insecure;
            let mut s = settings.clone();
            s.tls = Some(tls.clone());
            let ep = s
                .endpoint("/")
                .map_err(|e| format!("device {:?}: audit {e}", d.id))?;
            let mut url = ep.url;
            if url.path() == "/" {
                url.set_path("");
            }
            out.push(crate::sources::audit::Target {
                device: crate::model::DeviceId(d.id.clone()),
                url,
                product: d.product.clone(),
                credentials: ep.creds,
                tls,
                site: Some(d.site.clone()),
            });
        }
        Ok(out)
    }

    /// Site id and type of an inventory device.
    pub fn placement_of(&self, device: &crate::model::DeviceId) -> Option<(String, SiteType)> {
        let d = self.device(&device.0)?;
        let site = self.site(&d.site)?;
        Some((site.id.clone(), site.site_type))
    }

    /// A device by id.
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.get(*self.index.devices.get(id)?)
    }

    /// A site by id.
    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.get(*self.index.sites.get(id)?)
    }

    /// A configured sink's settings.
    pub fn sink(&self, name: &str) -> Option<&toml::Value> {
        self.sinks
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.settings)
    }
}

/// Shortest API token taken (bytes).
pub const MIN_API_TOKEN: usize = 16;

/// Refuse a bearer token that is a placeholder from an example or too short to resist
/// guessing: the service would otherwise start with a token anyone can read in its manifests.
pub fn check_api_token(token: &str) -> Result<(), String> {
    let lower = token.to_ascii_lowercase();
    let placeholder = [
        "change",
        "example",
        "placeholder",
        "replace",
        "secret",
        "token",
        "password",
        "xxxx",
    ]
    .iter()
    .any(|p| lower.contains(p));
    if placeholder {
        return Err("looks like a placeholder; generate one, e.g. `openssl rand -hex 32`".into());
    }
    if token.len() < MIN_API_TOKEN {
        return Err(format!(
            "{} characters is too short (at least {MIN_API_TOKEN}); generate one, e.g. `openssl rand -hex 32`",
            token.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::parse(Path::new("b.toml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_and_line_numbered_errors() {
        let c = Config::parse(Path::new("b.toml"), "").unwrap();
        assert_eq!(c.listen, "127.0.0.1:9464");
        assert_eq!(c.judge.resolve_after_secs, 300);
        let e = err("[[site]]\nid = \"s\"\ntype = \"hospital\"\n");
        assert!(e.starts_with("b.toml:3:"), "{e}");
        let e = err("[[device]]\nid = \"d\"\nsite = \"nowhere\"\n");
        assert!(
            e.starts_with("b.toml:3:") && e.contains("unknown site"),
            "{e}"
        );
        let e = err("[[feed]]\nid = \"f\"\nkind = \"rtsp\"\nurl = \"rtsp://127.0.0.1:1/x\"\n[[feed]]\nid = \"f\"\nkind = \"zeek\"\npath = \"x\"\n");
        assert!(e.starts_with("b.toml:6:") && e.contains("twice"), "{e}");
    }

    #[test]
    fn mistakes_are_refused_with_their_line() {
        let site = "[[site]]\nid = \"s\"\ntype = \"school\"\n";
        let cases: &[(&str, &str, &str)] = &[
            (
                "[[feed]]\nid = \"f\"\nkind = \"hikvision\"\nurl = \"http://10.0.0.5/\"\nusername = \"a\"\npasword = \"x\"\n",
                "b.toml:6:",
                "pasword",
            ),
            (
                "[[feed]]\nid = \"f\"\nkind = \"dahua\"\nurl = \"ftp://10.0.0.5/\"\n",
                "b.toml:1:",
                "ftp",
            ),
            (
                "[webhook]\nurl = \"http://127.0.0.1:80x/h\"\nsecret = \"k\"\n",
                "b.toml:1:",
                "webhook",
            ),
            ("[judge]\nwindow_secs = 0\n", "b.toml:2:", "window_secs"),
            ("[alertmanagr]\nurl = \"http://127.0.0.1:9093\"\n", "b.toml:1:", "alertmanagr"),
            ("lisen = \"127.0.0.1:1\"\n", "b.toml:1:", "lisen"),
            ("api_token = \"change-me\"\n", "b.toml:1:", "placeholder"),
            ("api_token = { value = \"0123456789\" }\n", "b.toml:1:", "too short"),
            (
                "[[feed]]\nid = \"m\"\nkind = \"mqtt\"\nhost = \"127.0.0.1\"\ntopics = [\"a/#\"]\n",
                "b.toml:1:",
                "needs `device`",
            ),
        ];
        for (text, at, what) in cases {
            let e = err(text);
            assert!(e.starts_with(at) && e.contains(what), "{text:?}: {e}");
        }
        let e = err(&format!("{site}{site}"));
        assert!(e.starts_with("b.toml:5:") && e.contains("twice"), "{e}");
        let e = err(&format!(
            "{site}[[device]]\nid = \"a\"\nsite = \"s\"\naddresses = [\"10.0.0.1\"]\n[[device]]\nid = \"b\"\nsite = \"s\"\naddresses = [\"10.0.0.1\"]\n"
        ));
        assert!(
            e.starts_with("b.toml:11:") && e.contains("already belongs"),
            "{e}"
        );
    }
}
