//! Emulated vendor devices on loopback, on axum and hyper: Hikvision `alertStream` and Dahua
//! `eventManager` multipart event streams with HTTP Digest (checked with the `digest_auth`
//! crate), over HTTP or HTTPS (a rustls server configuration from the caller, e.g. a
//! certificate a test made).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// The vendor format an [`EventServer`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// ISAPI alertStream.
    Hikvision,
    /// eventManager attach.
    Dahua,
}

impl Vendor {
    /// The path of its event stream (with the query, for Dahua).
    pub fn path(self) -> &'static str {
        match self {
            Vendor::Hikvision => crate::sources::live::hikvision::ALERT_STREAM,
            Vendor::Dahua => crate::sources::live::dahua::ATTACH,
        }
    }
    fn boundary(self) -> &'static str {
        match self {
            Vendor::Hikvision => "boundary",
            Vendor::Dahua => "myboundary",
        }
    }
    fn content_type(self) -> &'static str {
        match self {
            Vendor::Hikvision => "multipart/mixed; boundary=boundary",
            Vendor::Dahua => "multipart/x-mixed-replace; boundary=myboundary",
        }
    }
    fn realm(self) -> &'static str {
        match self {
            Vendor::Hikvision => "DS-2CD2T47G2",
            Vendor::Dahua => "Login to 4L0C2A1PAZ",
        }
    }
}

/// A Hikvision alert in the documented XML shape (SIGNATURES.md §7.E).
pub fn hikvision_alert(event_type: &str, extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>127.0.0.1</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<channelID>1</channelID>
<dateTime>2026-11-02T09:00:02+00:00</dateTime>
<activePostCount>1</activePostCount>
<eventType>{event_type}</eventType>
<eventState>active</eventState>
<eventDescription>{event_type} alarm</eventDescription>
{extra}</EventNotificationAlert>"#
    )
}

/// Options of an [`EventServer`].
#[derive(Debug, Clone)]
pub struct EventServerOptions {
    /// Account the server accepts (Digest).
    pub username: String,
    /// Its password.
    pub password: String,
    /// (content type, body) of each part, sent in a cycle.
    pub parts: Vec<(String, Vec<u8>)>,
    /// Pause between parts.
    pub interval: Duration,
    /// Close each connection after this many parts (to exercise reconnects).
    pub drop_after: Option<usize>,
}

impl EventServerOptions {
    /// The demo payloads of a vendor: a Hikvision face terminal matching faces against a block
    /// list (recognition), a Dahua camera reporting face detections only.
    pub fn demo(vendor: Vendor) -> EventServerOptions {
        let parts = match vendor {
            Vendor::Hikvision => vec![
                ("application/xml; charset=\"UTF-8\"".to_string(), hikvision_alert("videoloss", "").replace("active<", "inactive<").into_bytes()),
                ("application/xml; charset=\"UTF-8\"".to_string(), hikvision_alert("blackListFaceContrast", "<FaceContrastResult><FDID>2</FDID><FPID>fp-7f31</FPID><similarity>0.91</similarity></FaceContrastResult>\n").into_bytes()),
                ("image/jpeg".to_string(), vec![0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F', 0, 0xff, 0xd9]),
            ],
            Vendor::Dahua => vec![
                ("text/plain".to_string(), b"Heartbeat".to_vec()),
                ("text/plain".to_string(), br#"Code=FaceDetection;action=Start;index=0;data={"Faces":[{"BoundingBox":[2000,1800,3200,3600]}],"Object":{"ObjectType":"HumanFace"}}"#.to_vec()),
                ("text/plain".to_string(), b"Code=VideoMotion;action=Stop;index=0".to_vec()),
            ],
        };
        EventServerOptions {
            username: "admin".into(),
            password: "demo-password".into(),
            parts,
            interval: Duration::from_millis(300),
            drop_after: None,
        }
    }
}

/// Counters a test can read.
#[derive(Debug, Default)]
pub struct EventServerStats {
    /// Requests seen.
    pub connections: AtomicUsize,
    /// Requests answered 401.
    pub unauthorized: AtomicUsize,
    /// Streams started.
    pub streams: AtomicUsize,
    /// Parts sent.
    pub parts_sent: AtomicUsize,
}

/// A loopback HTTP(S) server streaming a vendor's event format, with Digest auth. Stops on
/// drop.
pub struct EventServer {
    /// The format it speaks.
    pub vendor: Vendor,
    /// What happened so far.
    pub stats: Arc<EventServerStats>,
    /// The server on its loopback port.
    pub server: Loopback,
}

/// An emulated device's server on a free loopback port; it stops when dropped.
pub struct Loopback {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Whether it speaks HTTPS.
    pub tls: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Loopback {
    /// Bind a free loopback port, then serve the router `make` builds for that port on it
    /// (HTTPS when `tls` is given): a device that names its own address learns it first.
    pub async fn start(
        tls: Option<Arc<rustls::ServerConfig>>,
        make: impl FnOnce(u16) -> Router,
    ) -> anyhow::Result<Loopback> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let is_tls = tls.is_some();
        let task = tokio::spawn(serve(listener, make(port), tls));
        Ok(Loopback {
            port,
            tls: is_tls,
            task,
        })
    }

    /// `http://127.0.0.1:port` or `https://…`.
    pub fn origin(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

#[derive(Clone)]
struct Device {
    vendor: Vendor,
    opts: Arc<EventServerOptions>,
    stats: Arc<EventServerStats>,
    nonces: Arc<Mutex<HashSet<String>>>,
}

/// Serve `router` on `listener` (HTTPS when `tls` is given) until the task is aborted.
pub async fn serve(listener: TcpListener, router: Router, tls: Option<Arc<rustls::ServerConfig>>) {
    let service = hyper_util::service::TowerToHyperService::new(router);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    while let Ok((sock, _)) = listener.accept().await {
        let (service, acceptor) = (service.clone(), acceptor.clone());
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            match acceptor {
                Some(a) => {
                    if let Ok(s) = a.accept(sock).await {
                        let _ = builder.serve_connection(TokioIo::new(s), service).await;
                    }
                }
                None => {
                    let _ = builder.serve_connection(TokioIo::new(sock), service).await;
                }
            }
        });
    }
}

/// Whether the request's `Authorization` header is a Digest answer (to a `method` request)
/// for one of the nonces handed out and the one account the emulated device has.
pub(crate) fn digest_authorized(
    headers: &HeaderMap,
    realm: &str,
    nonces: &Mutex<HashSet<String>>,
    username: &str,
    password: &str,
    method: &str,
) -> bool {
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Ok(h) = digest_auth::AuthorizationHeader::parse(auth) else {
        return false;
    };
    let known = nonces.lock().is_ok_and(|n| n.contains(&h.nonce));
    if h.username != username || h.realm != realm || !known {
        return false;
    }
    let uri = h.uri.clone();
    let ctx = digest_auth::AuthContext::new_with_method(
        username,
        password,
        uri.as_str(),
        None::<&[u8]>,
        digest_auth::HttpMethod::from(method),
    );
    let given = h.response.clone();
    let mut expected = h;
    expected.digest(&ctx);
    expected.response == given
}

/// A fresh Digest challenge for `realm`; its nonce is remembered in `nonces`.
pub(crate) fn digest_challenge(realm: &str, nonces: &Mutex<HashSet<String>>) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nonce = format!(
        "{:032x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|t| t.as_nanos())
            .unwrap_or(0)
            ^ 0x6e6f6e6365
            ^ (COUNTER.fetch_add(1, Ordering::Relaxed) as u128) << 64
    );
    if let Ok(mut n) = nonces.lock() {
        n.insert(nonce.clone());
    }
    format!(
        "Digest realm=\"{realm}\", qop=\"auth\", nonce=\"{nonce}\", opaque=\"\", algorithm=MD5, stale=\"FALSE\""
    )
}

async fn stream(State(d): State<Device>, uri: Uri, headers: HeaderMap) -> Response {
    d.stats.connections.fetch_add(1, Ordering::Relaxed);
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    if target != d.vendor.path() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let ok = digest_authorized(
        &headers,
        d.vendor.realm(),
        &d.nonces,
        &d.opts.username,
        &d.opts.password,
        "GET",
    );
    if !ok {
        d.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
        let challenge = digest_challenge(d.vendor.realm(), &d.nonces);
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    }
    d.stats.streams.fetch_add(1, Ordering::Relaxed);
    let content_type = d.vendor.content_type();
    let parts = futures_util::stream::unfold(0usize, move |sent| {
        let d = d.clone();
        async move {
            if d.opts.drop_after.is_some_and(|n| sent >= n) || d.opts.parts.is_empty() {
                return None;
            }
            if sent > 0 {
                tokio::time::sleep(d.opts.interval).await;
            }
            let (ct, body) = &d.opts.parts[sent % d.opts.parts.len()];
            let mut part = format!(
                "--{}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                d.vendor.boundary(),
                body.len()
            )
            .into_bytes();
            part.extend_from_slice(body);
            part.extend_from_slice(b"\r\n");
            d.stats.parts_sent.fetch_add(1, Ordering::Relaxed);
            Some((
                Ok::<_, std::convert::Infallible>(Bytes::from(part)),
                sent + 1,
            ))
        }
    });
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(parts),
    )
        .into_response()
}

impl EventServer {
    /// Start a plain-HTTP device on a free loopback port.
    pub async fn start(vendor: Vendor, opts: EventServerOptions) -> anyhow::Result<EventServer> {
        Self::start_with(vendor, opts, None).await
    }

    /// Start a device, over HTTPS when `tls` is given.
    pub async fn start_with(
        vendor: Vendor,
        opts: EventServerOptions,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> anyhow::Result<EventServer> {
        let stats = Arc::new(EventServerStats::default());
        let device = Device {
            vendor,
            opts: Arc::new(opts),
            stats: stats.clone(),
            nonces: Arc::new(Mutex::new(HashSet::new())),
        };
        let server =
            Loopback::start(tls, |_| Router::new().fallback(stream).with_state(device)).await?;
        Ok(EventServer {
            vendor,
            stats,
            server,
        })
    }

    /// The device URL a feed uses (the source adds the vendor's default path).
    pub fn url(&self) -> String {
        format!("{}/", self.server.origin())
    }

    /// The feed's settings as a configuration would give them.
    pub fn settings(&self, opts: &EventServerOptions) -> toml::Table {
        let mut t = toml::Table::new();
        t.insert("url".into(), self.url().into());
        t.insert("username".into(), opts.username.clone().into());
        t.insert("password".into(), opts.password.clone().into());
        t
    }

    /// The feed's source, built through the registry like a configured one.
    pub fn feed(
        &self,
        opts: &EventServerOptions,
    ) -> anyhow::Result<Arc<dyn crate::sources::live::registry::LiveSource>> {
        let kind = match self.vendor {
            Vendor::Hikvision => "hikvision",
            Vendor::Dahua => "dahua",
        };
        crate::sources::live::registry::build(kind, self.settings(opts))
            .map_err(|e| anyhow::anyhow!("demo feed: {e}"))
    }
}
