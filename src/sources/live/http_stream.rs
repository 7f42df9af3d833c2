//! What the HTTP sources share: the settings of a device reached over HTTP(S) with credentials
//! ([`DeviceHttp`]), and the runner of a never-ending multipart event stream (Hikvision
//! `alertStream`, Dahua `eventManager`), which hands each text part to the event decoders and
//! skips pictures unread.

use super::context::{reconnect_loop, stopped, SourceContext, SourceError};
use super::source::{settings, LiveSource, RunFuture};
use crate::decode::multipart::{boundary_from_content_type, MultipartSplitter};
use crate::model::{Direction, Flow, Transport};
use crate::net::http::{self, Credentials};
use crate::net::tls::TlsSettings;
use crate::secret::Secret;
use reqwest::header::{HeaderMap, HeaderValue, CONNECTION, CONTENT_TYPE};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// A device reached over HTTP(S): the settings of the `hikvision`, `dahua` and `onvif_events`
/// feeds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceHttp {
    /// `http://` or `https://host[:port][/path]`; without a path, the vendor's default. User
    /// information in the URL is taken as the credentials (and never sent as Basic auth).
    pub url: String,
    /// Account on the device.
    pub username: Option<String>,
    /// Its password: inline, `{ env = "NAME" }` or `{ file = "…" }`.
    pub password: Option<Secret>,
    /// Answer a Basic-only device over plain HTTP (the password then crosses the network
    /// readable). Off by default; over HTTPS Basic is always allowed.
    #[serde(default)]
    pub allow_basic: bool,
    /// How to trust the device's certificate over HTTPS (default: the system roots).
    pub tls: Option<TlsSettings>,
}

/// A device endpoint ready to use: URL without user information, credentials, client.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL requests go to (no user information).
    pub url: Url,
    /// Credentials, from the settings or the URL's user information.
    pub creds: Option<Credentials>,
    /// The client, trusting the device as configured.
    pub client: reqwest::Client,
}

impl DeviceHttp {
    /// Check the settings (scheme, URL, TLS pin, password source) and fill in `default_path`
    /// when the URL names only the device.
    pub fn validate(&self, default_path: &str) -> Result<(), String> {
        self.url(default_path)?;
        if let Some(t) = &self.tls {
            t.validate().map_err(|e| e.to_string())?;
        }
        if let Some(p) = &self.password {
            if self.username.is_none() {
                return Err("password given without username".into());
            }
            if let Secret::Table(_) = p {
                p.resolve()?;
            }
        }
        Ok(())
    }

    fn url(&self, default_path: &str) -> Result<Url, String> {
        let mut u = Url::parse(&self.url).map_err(|e| format!("url: {e}"))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(format!("url: scheme {:?} is not http or https", u.scheme()));
        }
        if u.host_str().is_none_or(str::is_empty) {
            return Err("url: no host".into());
        }
        if u.path() == "/" && u.query().is_none() {
            let (path, query) = default_path.split_once('?').unwrap_or((default_path, ""));
            u.set_path(path);
            if !query.is_empty() {
                u.set_query(Some(query));
            }
        }
        Ok(u)
    }

    /// Resolve into an [`Endpoint`].
    pub fn endpoint(&self, default_path: &str) -> Result<Endpoint, String> {
        let mut url = self.url(default_path)?;
        let from_url = (!url.username().is_empty()).then(|| {
            (
                percent(url.username()),
                url.password().map(percent).unwrap_or_default(),
            )
        });
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let creds = match (&self.username, from_url) {
            (Some(u), _) => Some(Credentials {
                username: u.clone(),
                password: match &self.password {
                    Some(p) => p.resolve()?.unwrap_or_default(),
                    None => String::new(),
                },
                allow_basic: self.allow_basic,
            }),
            (None, Some((username, password))) => Some(Credentials {
                username,
                password,
                allow_basic: self.allow_basic,
            }),
            (None, None) => None,
        };
        let client =
            http::client(&self.tls.clone().unwrap_or_default()).map_err(|e| e.to_string())?;
        Ok(Endpoint { url, creds, client })
    }

    /// The URL for logs: no user information, secrets in the query hidden.
    pub fn shown(&self) -> String {
        super::source::redact_url(&self.url)
    }
}

fn percent(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The flow of observations read from a device's answer: the device is the server.
pub fn flow_of(resp: &reqwest::Response) -> Flow {
    let server = resp
        .remote_addr()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    Flow {
        transport: Transport::Tcp,
        client: SocketAddr::from(([0, 0, 0, 0], 0)),
        server,
        client_mac: None,
        server_mac: None,
    }
}

/// A vendor's multipart event stream on one device (the `hikvision` and `dahua` sources).
#[derive(Debug)]
pub struct EventStream {
    kind: &'static str,
    default_path: &'static str,
    device: DeviceHttp,
}

impl EventStream {
    /// Build from a feed's settings; `default_path` is used when the URL names only the device.
    pub fn build(
        table: toml::Table,
        kind: &'static str,
        default_path: &'static str,
    ) -> Result<Arc<dyn LiveSource>, String> {
        let device: DeviceHttp = settings(table)?;
        device.validate(default_path)?;
        Ok(Arc::new(EventStream {
            kind,
            default_path,
            device,
        }))
    }
}

impl LiveSource for EventStream {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn endpoint(&self) -> String {
        self.device.shown()
    }
    fn run(self: Arc<Self>, ctx: SourceContext) -> RunFuture {
        Box::pin(async move {
            match self.device.endpoint(self.default_path) {
                Ok(ep) => run_event_stream(ep, ctx).await,
                Err(e) => ctx.health.set_error(&e),
            }
        })
    }
}

/// Follows a device's never-ending multipart event stream (`GET url`), reconnecting with
/// backoff, and hands each part's body to the shared event decoders.
pub async fn run_event_stream(ep: Endpoint, ctx: SourceContext) {
    reconnect_loop(&ctx, |shutdown| stream_once(&ep, &ctx, shutdown)).await
}

/// No byte for this long (devices send heartbeats every few seconds) means a dead connection.
const IDLE: Duration = Duration::from_secs(60);

async fn stream_once(
    ep: &Endpoint,
    ctx: &SourceContext,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let mut headers = HeaderMap::new();
    headers.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
    let mut resp = http::send(
        &ep.client,
        reqwest::Method::GET,
        &ep.url,
        &headers,
        &[],
        ep.creds.as_ref(),
    )
    .await
    .map_err(|e| SourceError::Connect(e.to_string()))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(SourceError::Connect(format!(
            "HTTP status {}",
            resp.status().as_u16()
        )));
    }
    let ct = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let b = boundary_from_content_type(&ct).ok_or_else(|| {
        SourceError::Protocol(format!(
            "not a multipart stream: {:?}",
            crate::decode::printable(ct.as_bytes())
        ))
    })?;
    let mut split = MultipartSplitter::new(&b).restartable();
    ctx.health.set_up(true);
    let flow = flow_of(&resp);
    loop {
        let chunk = tokio::select! {
            r = tokio::time::timeout(IDLE, http::next_chunk(&mut resp)) => match r {
                Ok(r) => r.map_err(|e| SourceError::Protocol(e.to_string()))?,
                Err(_) => return Err(SourceError::Protocol("stream idle for 60 s".into())),
            },
            _ = stopped(&mut shutdown) => return Ok(()),
        };
        let Some(chunk) = chunk else {
            return Ok(());
        };
        let (dropped, bad_lengths) = (split.dropped, split.bad_lengths);
        let mut parts = Vec::new();
        split.feed(&chunk, &mut |p| parts.push(p));
        split.flush_complete(&mut |p| parts.push(p));
        for _ in dropped..split.dropped {
            ctx.health
                .add_decode_error("multipart part with oversized headers skipped");
        }
        for _ in bad_lengths..split.bad_lengths {
            ctx.health
                .add_decode_error("multipart part with an unreadable or oversized Content-Length");
        }
        for p in parts {
            if p.truncated {
                ctx.health
                    .add_decode_error("multipart part over the size bound: cut");
            }
            let mut obs = Vec::new();
            if !p.binary {
                let mut em = crate::decode::Emitter::new(crate::clock::now(), Some(flow), &mut obs)
                    .demanding(&ctx.demand);
                crate::decode::events::decode_body(
                    p.content_type.as_deref(),
                    &p.body,
                    Direction::ToClient,
                    &mut em,
                );
            }
            ctx.deliver(p.size as usize, obs).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(url: &str) -> DeviceHttp {
        DeviceHttp {
            url: url.into(),
            username: None,
            password: None,
            allow_basic: false,
            tls: None,
        }
    }

    #[test]
    fn urls_get_default_paths_and_lose_their_user_information() {
        let ep = dev("http://admin:pa%40ss@127.0.0.1:8080")
            .endpoint("/ISAPI/Event/notification/alertStream")
            .unwrap();
        assert_eq!(
            ep.url.as_str(),
            "http://127.0.0.1:8080/ISAPI/Event/notification/alertStream"
        );
        let c = ep.creds.unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("admin", "pa@ss")
        );
        let ep = dev("https://cam.local/")
            .endpoint("/cgi-bin/eventManager.cgi?action=attach&codes=[All]")
            .unwrap();
        assert_eq!(ep.url.path(), "/cgi-bin/eventManager.cgi");
        assert_eq!(ep.url.query(), Some("action=attach&codes=[All]"));
        assert!(dev("ftp://cam/").validate("/").unwrap_err().contains("ftp"));
        assert!(dev("http://:80/").validate("/").is_err());
        assert!(dev("http://h:99999/").validate("/").is_err());
        assert!(!dev("http://u:secret@h/").shown().contains("secret"));
    }
}
