//! The bundled demo network on loopback (127.0.0.1 only): real servers speaking the vendors'
//! documented formats, for `banwatch serve` with no configuration, the live-source tests and
//! the capacity benchmark.
//! - [`cameras::RtspCameras`]: GStreamer's RTSP server with ONVIF metadata tracks;
//! - [`devices::EventServer`]: Hikvision `alertStream` and Dahua `eventManager` HTTP(S) streams
//!   (multipart, Digest auth) on axum, which can drop connections to exercise reconnects;
//! - [`audit::AuditServer`]: devices answering the audit's read-only queries (Hikvision ISAPI,
//!   Dahua CGI, ONVIF SOAP, UniFi Protect, Frigate), recording every request.
//!
//! Identity values in the demo payloads are opaque tokens, never names.

pub mod audit;
pub mod cameras;
pub mod devices;

pub use cameras::{metadata_document, metadata_rtp, CameraKind, CameraOptions, RtspCameras};
pub use devices::{
    hikvision_alert, EventServer, EventServerOptions, EventServerStats, Loopback, Vendor,
};

use crate::service::config::Feed;
use crate::sources::live::rtsp::Rtsp;
use std::sync::Arc;

/// The bundled demo network: three RTSP cameras (recognition / detection only / nothing), a
/// Hikvision-format and a Dahua-format event server, all on 127.0.0.1. Stops on drop.
pub struct DemoNetwork {
    /// The RTSP cameras.
    pub cameras: RtspCameras,
    /// The Hikvision-format event server.
    pub hikvision: EventServer,
    /// The Dahua-format event server.
    pub dahua: EventServer,
    hik_opts: EventServerOptions,
    dahua_opts: EventServerOptions,
}

/// The demo network's inventory, as a configuration gives it: a housing estate and a school,
/// with the contractors answering for them, and the demo's devices placed at them.
pub const DEMO_INVENTORY: &str = r#"
[[site]]
id = "riverside-houses"
name = "Riverside Houses"
type = "housing"
contractor = "Acme Security Ltd"

[[site]]
id = "ps-12"
name = "P.S. 12"
type = "school"
contractor = "Borough Safety Services"

[[device]]
id = "demo-cam-lobby"
site = "riverside-houses"

[[device]]
id = "demo-cam-stairwell"
site = "riverside-houses"

[[device]]
id = "demo-cam-carpark"
site = "riverside-houses"

[[device]]
id = "demo-hik-terminal"
site = "ps-12"

[[device]]
id = "demo-dahua-entrance"
site = "ps-12"
"#;

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
    /// Start every part on 127.0.0.1 (free ports).
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

    /// The feeds of the demo network, as a configuration would list them.
    pub fn feeds(&self) -> anyhow::Result<Vec<Feed>> {
        let mut f: Vec<Feed> = DEMO_CAMERAS
            .iter()
            .map(|(mount, dev, _)| Feed {
                id: format!("rtsp-{}", mount.trim_start_matches('/')),
                device: Some(dev.to_string()),
                source: Arc::new(Rtsp {
                    url: self.cameras.url(mount),
                    pipeline: None,
                    username: None,
                    password: None,
                }),
            })
            .collect();
        f.push(Feed {
            id: "hikvision-terminal".into(),
            device: Some("demo-hik-terminal".into()),
            source: self.hikvision.feed(&self.hik_opts)?,
        });
        f.push(Feed {
            id: "dahua-entrance".into(),
            device: Some("demo-dahua-entrance".into()),
            source: self.dahua.feed(&self.dahua_opts)?,
        });
        Ok(f)
    }
}
