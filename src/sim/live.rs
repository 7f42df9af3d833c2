//! The bundled demo network on loopback (127.0.0.1 only): real servers speaking the vendors'
//! documented formats, for `banwatch serve` with no configuration, the live-tap tests and the
//! capacity benchmark.
//! - [`RtspCameras`]: GStreamer's RTSP server (in process) with H.264 test video and, per
//!   camera, an ONVIF metadata track (`VND.ONVIF.METADATA`) carrying face-recognition events,
//!   face detections only, or no track at all.
//! - [`EventServer`]: Hikvision `alertStream` and Dahua `eventManager.cgi?action=attach` HTTP
//!   streams (multipart, Digest auth), which can drop connections to exercise reconnects.
//!
//! Identity values in the demo payloads are opaque tokens, never names.

use crate::taps::digest;
use crate::taps::live::FeedConfig;
use anyhow::{anyhow, Context as _};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp_server;
use gstreamer_rtsp_server::prelude::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What a demo camera's analytics report in its metadata track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraKind {
    /// HumanFace objects and `tns1:RuleEngine/Recognition/Face` events with an EnrollmentID.
    Recognition,
    /// HumanFace objects only (blurring, counting).
    DetectionOnly,
    /// Plain video, no metadata track.
    Plain,
}

/// One metadata document a camera of `kind` sends at tick `n`.
pub fn metadata_document(kind: CameraKind, n: u64) -> Option<String> {
    let utc = "2026-11-02T09:00:00.000Z";
    let frame = format!(
        r#"<tt:VideoAnalytics><tt:Frame UtcTime="{utc}" Source="FaceAnalytics"><tt:Object ObjectId="{id}"><tt:Appearance><tt:Shape><tt:BoundingBox left="0.1" top="0.2" right="0.3" bottom="0.5"/><tt:CenterOfGravity x="0.2" y="0.35"/></tt:Shape><tt:Class><tt:Type Likelihood="0.91">HumanFace</tt:Type></tt:Class></tt:Appearance></tt:Object></tt:Frame></tt:VideoAnalytics>"#,
        id = n % 50
    );
    let event = format!(
        r#"<tt:Event><wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/Recognition/Face</wsnt:Topic><wsnt:Message><tt:Message UtcTime="{utc}" PropertyOperation="Changed"><tt:Source><tt:SimpleItem Name="VideoSource" Value="vs1"/><tt:SimpleItem Name="Rule" Value="WatchList"/></tt:Source><tt:Data><tt:SimpleItem Name="Likelihood" Value="0.93"/><tt:SimpleItem Name="EnrollmentID" Value="enr-{tok:04x}"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></tt:Event>"#,
        tok = (n * 2_654_435_761) % 0xffff
    );
    let body = match kind {
        CameraKind::Plain => return None,
        CameraKind::DetectionOnly => frame,
        CameraKind::Recognition if n % 2 == 1 => format!("{frame}{event}"),
        CameraKind::Recognition => frame,
    };
    Some(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics">{body}</tt:MetadataStream>"#
    ))
}

/// RTP packets (payload type 107, marker on the last) carrying one document, cut into pieces
/// of at most `mtu` bytes as a camera would.
pub fn metadata_rtp(
    doc: &[u8],
    seq: &mut u16,
    timestamp: u32,
    ssrc: u32,
    mtu: usize,
) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> = doc.chunks(mtu.max(1)).collect();
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let mut p = Vec::with_capacity(12 + c.len());
            p.push(0x80);
            p.push(107 | if i + 1 == n { 0x80 } else { 0 });
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&timestamp.to_be_bytes());
            p.extend_from_slice(&ssrc.to_be_bytes());
            p.extend_from_slice(c);
            *seq = seq.wrapping_add(1);
            p
        })
        .collect()
}

/// Options of the demo cameras' streams.
#[derive(Debug, Clone)]
pub struct CameraOptions {
    /// Metadata documents per second.
    pub metadata_rate: f64,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Cut documents into RTP packets of at most this many bytes.
    pub mtu: usize,
}

impl Default for CameraOptions {
    fn default() -> Self {
        CameraOptions {
            metadata_rate: 5.0,
            width: 320,
            height: 240,
            fps: 10,
            mtu: 400,
        }
    }
}

/// An in-process RTSP server on 127.0.0.1 with one mount per camera.
pub struct RtspCameras {
    server: rtsp_server::RTSPServer,
    main_loop: glib::MainLoop,
    thread: Option<std::thread::JoinHandle<()>>,
    port: u16,
    stop: Arc<AtomicBool>,
}

impl RtspCameras {
    /// Starts the server on a free port; `cameras` are (mount path like `/cam1`, kind).
    pub fn start(
        cameras: &[(String, CameraKind)],
        opts: &CameraOptions,
    ) -> anyhow::Result<RtspCameras> {
        Self::start_on(cameras, opts, 0)
    }

    /// The same on a given port (0: any), e.g. to restart a camera where it was.
    pub fn start_on(
        cameras: &[(String, CameraKind)],
        opts: &CameraOptions,
        port: u16,
    ) -> anyhow::Result<RtspCameras> {
        gst::init().context("GStreamer init (apt: libgstreamer1.0-0)")?;
        for (el, pkg) in [
            ("x264enc", "gstreamer1.0-plugins-ugly"),
            ("rtph264pay", "gstreamer1.0-plugins-good"),
            ("videotestsrc", "gstreamer1.0-plugins-base"),
            ("appsrc", "gstreamer1.0-plugins-base"),
            ("rtspsrc", "gstreamer1.0-plugins-good"),
        ] {
            if gst::ElementFactory::find(el).is_none() {
                return Err(anyhow!(
                    "GStreamer element {el} is missing: apt-get install {pkg}"
                ));
            }
        }
        let ctx = glib::MainContext::new();
        let server = rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let mounts = server
            .mount_points()
            .ok_or_else(|| anyhow!("RTSP server has no mount points"))?;
        let stop = Arc::new(AtomicBool::new(false));
        for (path, kind) in cameras {
            let factory = rtsp_server::RTSPMediaFactory::new();
            let video = format!(
                "videotestsrc is-live=true pattern=ball ! video/x-raw,width={},height={},framerate={}/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={} bitrate=256 ! rtph264pay name=pay0 pt=96 config-interval=1",
                opts.width, opts.height, opts.fps, opts.fps * 2
            );
            let launch = if *kind == CameraKind::Plain {
                format!("( {video} )")
            } else {
                format!("( {video} appsrc name=pay1 is-live=true format=time do-timestamp=true caps=\"application/x-rtp,media=(string)application,payload=(int)107,clock-rate=(int)90000,encoding-name=(string)VND.ONVIF.METADATA\" )")
            };
            factory.set_launch(&launch);
            factory.set_shared(true);
            let kind = *kind;
            let opts = opts.clone();
            let stop = stop.clone();
            factory.connect_media_configure(move |_, media| {
                let Some(bin) = media.element().downcast::<gst::Bin>().ok() else {
                    return;
                };
                let Some(src) = bin
                    .by_name_recurse_up("pay1")
                    .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
                else {
                    return;
                };
                let opts = opts.clone();
                let stop = stop.clone();
                std::thread::spawn(move || push_metadata(src, kind, &opts, &stop));
            });
            mounts.add_factory(path, factory);
        }
        let source = server.attach(Some(&ctx)).context("RTSP server: attach")?;
        let port = u16::try_from(server.bound_port()).context("RTSP server: no port")?;
        let main_loop = glib::MainLoop::new(Some(&ctx), false);
        let ml = main_loop.clone();
        let srv = server.clone();
        let thread = std::thread::Builder::new()
            .name("demo-rtsp".into())
            .spawn(move || {
                let _server = srv;
                let _ = ctx.with_thread_default(|| ml.run());
                // Close the listening socket: the source belongs to our own context.
                if let Some(s) = ctx.find_source_by_id(&source) {
                    s.destroy();
                }
            })?;
        Ok(RtspCameras {
            server,
            main_loop,
            thread: Some(thread),
            port,
            stop,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, mount: &str) -> String {
        format!("rtsp://127.0.0.1:{}{mount}", self.port)
    }
}

impl Drop for RtspCameras {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Close every client connection (a camera going away), then the listening socket.
        self.server
            .client_filter(Some(&mut |_, _| rtsp_server::RTSPFilterResult::Remove));
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn push_metadata(src: gst_app::AppSrc, kind: CameraKind, opts: &CameraOptions, stop: &AtomicBool) {
    let period = Duration::from_secs_f64(1.0 / opts.metadata_rate.max(0.1));
    let start = Instant::now();
    let mut seq: u16 = 1;
    let ssrc = 0x0b5e_0000 | (kind as u32);
    for n in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Some(doc) = metadata_document(kind, n) else {
            return;
        };
        let ts = (start.elapsed().as_secs_f64() * 90_000.0) as u32;
        for pkt in metadata_rtp(doc.as_bytes(), &mut seq, ts, ssrc, opts.mtu) {
            if src.push_buffer(gst::Buffer::from_mut_slice(pkt)).is_err() {
                // Media unprepared (last client left): this pusher ends with it.
                return;
            }
        }
        std::thread::sleep(period);
    }
}

/// The vendor format an [`EventServer`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Hikvision,
    Dahua,
}

impl Vendor {
    pub fn path(self) -> &'static str {
        match self {
            Vendor::Hikvision => crate::taps::hikvision::ALERT_STREAM,
            Vendor::Dahua => crate::taps::dahua::ATTACH,
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
    pub username: String,
    pub password: String,
    /// (content type, body) of each part, sent in a cycle.
    pub parts: Vec<(String, Vec<u8>)>,
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
    pub connections: AtomicUsize,
    pub unauthorized: AtomicUsize,
    pub streams: AtomicUsize,
    pub parts_sent: AtomicUsize,
}

/// A loopback HTTP server streaming a vendor's event format, with Digest auth. Stops on drop.
pub struct EventServer {
    pub vendor: Vendor,
    pub port: u16,
    pub stats: Arc<EventServerStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EventServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EventServer {
    pub async fn start(vendor: Vendor, opts: EventServerOptions) -> anyhow::Result<EventServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let stats = Arc::new(EventServerStats::default());
        let st = stats.clone();
        let opts = Arc::new(opts);
        let nonces = Arc::new(Mutex::new(HashSet::new()));
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((sock, _)) = listener.accept().await {
                st.connections.fetch_add(1, Ordering::Relaxed);
                conns.spawn(serve_conn(
                    sock,
                    vendor,
                    opts.clone(),
                    st.clone(),
                    nonces.clone(),
                ));
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(EventServer {
            vendor,
            port,
            stats,
            task,
        })
    }

    /// The device URL a feed uses (the tap adds the vendor's default path).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn feed(&self, opts: &EventServerOptions) -> FeedConfig {
        match self.vendor {
            Vendor::Hikvision => FeedConfig::Hikvision {
                url: self.url(),
                username: Some(opts.username.clone()),
                password: Some(opts.password.clone()),
            },
            Vendor::Dahua => FeedConfig::Dahua {
                url: self.url(),
                username: Some(opts.username.clone()),
                password: Some(opts.password.clone()),
            },
        }
    }
}

async fn serve_conn(
    sock: tokio::net::TcpStream,
    vendor: Vendor,
    opts: Arc<EventServerOptions>,
    stats: Arc<EventServerStats>,
    nonces: Arc<Mutex<HashSet<String>>>,
) -> std::io::Result<()> {
    let mut io = BufReader::new(sock);
    let mut request_line = String::new();
    io.read_line(&mut request_line).await?;
    let mut auth = None;
    for _ in 0..64 {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("authorization") {
                auth = Some(v.trim().to_string());
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let sock = io.get_mut();
    if method != "GET" || target != vendor.path() {
        sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        return Ok(());
    }
    let ok = auth.as_deref().is_some_and(|a| {
        let known = nonces
            .lock()
            .map(|n| {
                n.iter().any(|nonce| {
                    digest::verify(
                        a,
                        vendor.realm(),
                        nonce,
                        &opts.username,
                        &opts.password,
                        "GET",
                    )
                })
            })
            .unwrap_or(false);
        known
    });
    if !ok {
        stats.unauthorized.fetch_add(1, Ordering::Relaxed);
        let nonce = format!(
            "{:032x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
                ^ 0x6e6f6e6365
        );
        if let Ok(mut n) = nonces.lock() {
            n.insert(nonce.clone());
        }
        let resp = format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"{}\", qop=\"auth\", nonce=\"{nonce}\", opaque=\"\", algorithm=MD5, stale=\"FALSE\"\r\nContent-Type: text/html\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            vendor.realm()
        );
        sock.write_all(resp.as_bytes()).await?;
        return Ok(());
    }
    stats.streams.fetch_add(1, Ordering::Relaxed);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nConnection: close\r\n\r\n",
        vendor.content_type()
    );
    sock.write_all(head.as_bytes()).await?;
    for (sent, (ct, body)) in opts.parts.iter().cycle().enumerate() {
        if opts.drop_after.is_some_and(|d| sent >= d) {
            return Ok(());
        }
        let mut part = format!(
            "--{}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            vendor.boundary(),
            body.len()
        )
        .into_bytes();
        part.extend_from_slice(body);
        part.extend_from_slice(b"\r\n");
        sock.write_all(&part).await?;
        stats.parts_sent.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(opts.interval).await;
    }
    Ok(())
}

/// The bundled demo network: three RTSP cameras (recognition / detection only / nothing), a
/// Hikvision-format and a Dahua-format event server, all on 127.0.0.1. Stops on drop.
pub struct DemoNetwork {
    pub cameras: RtspCameras,
    pub hikvision: EventServer,
    pub dahua: EventServer,
    hik_opts: EventServerOptions,
    dahua_opts: EventServerOptions,
}

/// Mount, device id and kind of the demo cameras.
pub const DEMO_CAMERAS: [(&str, &str, CameraKind); 3] = [
    ("/lobby", "demo-cam-lobby", CameraKind::Recognition),
    (
        "/stairwell",
        "demo-cam-stairwell",
        CameraKind::DetectionOnly,
    ),
    ("/carpark", "demo-cam-carpark", CameraKind::Plain),
];

impl DemoNetwork {
    pub async fn start() -> anyhow::Result<DemoNetwork> {
        let cams: Vec<(String, CameraKind)> = DEMO_CAMERAS
            .iter()
            .map(|(m, _, k)| (m.to_string(), *k))
            .collect();
        let cameras = RtspCameras::start(&cams, &CameraOptions::default())?;
        let hik_opts = EventServerOptions::demo(Vendor::Hikvision);
        let dahua_opts = EventServerOptions::demo(Vendor::Dahua);
        let hikvision = EventServer::start(Vendor::Hikvision, hik_opts.clone()).await?;
        let dahua = EventServer::start(Vendor::Dahua, dahua_opts.clone()).await?;
        Ok(DemoNetwork {
            cameras,
            hikvision,
            dahua,
            hik_opts,
            dahua_opts,
        })
    }

    pub fn feeds(&self) -> Vec<(String, Option<String>, FeedConfig)> {
        let mut f: Vec<(String, Option<String>, FeedConfig)> = DEMO_CAMERAS
            .iter()
            .map(|(mount, dev, _)| {
                (
                    format!("rtsp-{}", mount.trim_start_matches('/')),
                    Some(dev.to_string()),
                    FeedConfig::Rtsp {
                        url: self.cameras.url(mount),
                        pipeline: None,
                    },
                )
            })
            .collect();
        f.push((
            "hikvision-terminal".into(),
            Some("demo-hik-terminal".into()),
            self.hikvision.feed(&self.hik_opts),
        ));
        f.push((
            "dahua-entrance".into(),
            Some("demo-dahua-entrance".into()),
            self.dahua.feed(&self.dahua_opts),
        ));
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_rtp_round_trips_through_the_tap_depayloader() {
        let doc = metadata_document(CameraKind::Recognition, 1).unwrap();
        let mut seq = 0;
        let pkts = metadata_rtp(doc.as_bytes(), &mut seq, 0, 1, 100);
        assert!(pkts.len() > 3);
        let mut d = crate::taps::rtsp::MetadataDepay::default();
        let got: Vec<_> = pkts.iter().filter_map(|p| d.push(p).unwrap()).collect();
        assert_eq!(got, vec![doc.into_bytes()]);
        assert!(metadata_document(CameraKind::Plain, 0).is_none());
        assert!(!metadata_document(CameraKind::DetectionOnly, 1)
            .unwrap()
            .contains("EnrollmentID"));
    }
}
