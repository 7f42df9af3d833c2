//! Demo cameras: GStreamer's RTSP server (in process) on 127.0.0.1 with H.264 test video and,
//! per camera, an ONVIF metadata track (`VND.ONVIF.METADATA`) carrying face-recognition events,
//! face detections only, or no track at all. Identity values are opaque tokens, never names.

use anyhow::{anyhow, Context as _};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp_server;
use gstreamer_rtsp_server::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// Metadata documents per second; 0: the track sends one packet, which the server needs to
    /// set the stream up, and then nothing (the stall the tap's watchdog exists for).
    pub metadata_rate: f64,
    /// Video width, pixels.
    pub width: u32,
    /// Video height, pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Cut documents into RTP packets of at most this many bytes.
    pub mtu: usize,
    /// Serve a video track (false: the metadata track alone).
    pub video: bool,
}

impl Default for CameraOptions {
    fn default() -> Self {
        CameraOptions {
            metadata_rate: 5.0,
            width: 320,
            height: 240,
            fps: 10,
            mtu: 400,
            video: true,
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
            let metadata = "is-live=true format=time do-timestamp=true caps=\"application/x-rtp,media=(string)application,payload=(int)107,clock-rate=(int)90000,encoding-name=(string)VND.ONVIF.METADATA\"";
            let launch = if *kind == CameraKind::Plain {
                format!("( {video} )")
            } else if !opts.video {
                format!("( appsrc name=pay0 {metadata} )")
            } else {
                format!("( {video} appsrc name=pay1 {metadata} )")
            };
            let track = if opts.video { "pay1" } else { "pay0" };
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
                    .by_name_recurse_up(track)
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

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `rtsp://` URL of a mount.
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
    if opts.metadata_rate <= 0.0 {
        // gst-rtsp-server prepares a stream only once it has seen a buffer.
        let pkt = metadata_rtp(b"<", &mut 1, 0, 0x0b5e_0000, opts.mtu);
        for p in pkt {
            let _ = src.push_buffer(gst::Buffer::from_mut_slice(p));
        }
        return;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_rtp_round_trips_through_the_tap_depayloader() {
        let doc = metadata_document(CameraKind::Recognition, 1).unwrap();
        let mut seq = 0;
        let pkts = metadata_rtp(doc.as_bytes(), &mut seq, 0, 1, 100);
        assert!(pkts.len() > 3);
        let mut d = crate::decode::rtp::MetadataDepay::default();
        let got: Vec<_> = pkts.iter().filter_map(|p| d.push(p).unwrap()).collect();
        assert_eq!(got, vec![doc.into_bytes()]);
        assert!(metadata_document(CameraKind::Plain, 0).is_none());
        assert!(!metadata_document(CameraKind::DetectionOnly, 1)
            .unwrap()
            .contains("EnrollmentID"));
    }
}
