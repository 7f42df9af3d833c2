//! RTSP cameras through GStreamer. The pipeline is data: a launch-syntax template from the
//! pipelines directory (`rtsp-metadata` by default) with `{url}` and `{latency}` filled in, so
//! a team can change it without rebuilding. banwatch reads three things from it:
//! - the SDP (rtspsrc `on-sdp`): which tracks the camera offers (`sdp.media`, `sdp.encoding`);
//! - the appsink `meta`: RTP of the ONVIF metadata track, depayloaded here (RTP header off,
//!   payload joined up to the marker bit, ONVIF Streaming §5.1.2.1) and passed to the shared
//!   event decoders (object classes, face attributes, `tt:Event` topics and items);
//! - the optional appsink `sei`: H.264 access units whose SEI user-data-unregistered UUIDs are
//!   reported (`h264.sei_uuid`), without decoding video.
//!
//! Video RTP otherwise goes to a fakesink.

use super::context::{reconnect_loop, stopped, SourceContext, SourceError};
use super::source::{redact_url, settings, LiveSource, RunFuture, SourceKind};
use crate::decode::h264::h264_sei_uuids;
use crate::decode::rtp::MetadataDepay;
use crate::decode::Emitter;
use crate::model::{Direction, Observation};
use crate::secret::Secret;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// An RTSP camera feed.
///
/// ```toml
/// [[feed]]
/// id = "lobby-cam"
/// kind = "rtsp"
/// url = "rtsp://10.20.0.12:554/Streaming/Channels/101"
/// username = "audit"                       # or in the URL (never logged)
/// password = { env = "LOBBY_CAM_PASSWORD" }
/// pipeline = "rtsp-metadata"               # a template of the pipelines directory
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rtsp {
    /// `rtsp://`, `rtsps://` or `rtspt://` URL of the stream.
    pub url: String,
    /// Name of a template in the pipelines directory (default `rtsp-metadata`).
    pub pipeline: Option<String>,
    /// Account on the camera (rtspsrc `user-id`), instead of user information in the URL.
    pub username: Option<String>,
    /// Its password (rtspsrc `user-pw`): inline, `{ env = "…" }` or `{ file = "…" }`.
    pub password: Option<Secret>,
}

/// The registry entry.
pub const KIND: SourceKind = SourceKind {
    name: "rtsp",
    description: "RTSP camera through GStreamer: SDP tracks, the ONVIF metadata track, H.264 SEI",
    build: |t| {
        let r: Rtsp = settings(t)?;
        r.validate()?;
        Ok(Arc::new(r))
    },
};

impl Rtsp {
    fn validate(&self) -> Result<(), String> {
        fill("{url}", &self.url, 0).map_err(|e| e.to_string())?;
        if let Some(p) = &self.pipeline {
            load_template(p).map_err(|e| e.to_string())?;
        }
        if self.password.is_some() && self.username.is_none() {
            return Err("password given without username".into());
        }
        Ok(())
    }
}

impl LiveSource for Rtsp {
    fn kind(&self) -> &'static str {
        KIND.name
    }
    fn endpoint(&self) -> String {
        redact_url(&self.url)
    }
    fn run(self: Arc<Self>, ctx: SourceContext) -> RunFuture {
        Box::pin(async move {
            let name = self
                .pipeline
                .clone()
                .unwrap_or_else(|| DEFAULT_PIPELINE.to_string());
            let creds = match (&self.username, &self.password) {
                (Some(u), p) => match p.as_ref().map(Secret::resolve).transpose() {
                    Ok(p) => Some((u.clone(), p.flatten().unwrap_or_default())),
                    Err(e) => return ctx.health.set_error(&e),
                },
                (None, _) => None,
            };
            let shown = self.endpoint();
            let window = WatchdogWindow::default();
            reconnect_loop(&ctx, |shutdown| {
                once(
                    &self.url,
                    &shown,
                    creds.as_ref(),
                    &name,
                    &ctx,
                    &window,
                    shutdown,
                )
            })
            .await
        })
    }
}

/// Template used when a feed names none.
pub const DEFAULT_PIPELINE: &str = "rtsp-metadata";
/// Jitterbuffer latency (ms) filled into `{latency}`; metadata needs no smoothing.
pub const DEFAULT_LATENCY_MS: u32 = 200;

/// Why a pipeline could not be made or started.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The template name is not a plain file name.
    #[error("pipeline name {0:?} is not a plain file name")]
    BadName(String),
    /// The template file could not be read.
    #[error("{0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The URL could break out of its quoted property value, or has another scheme.
    #[error("camera URL {0} must be rtsp://, rtsps:// or rtspt:// without quotes, spaces or backslashes")]
    BadUrl(String),
    /// GStreamer refused the pipeline.
    #[error("GStreamer: {0}")]
    Gst(String),
}

/// Where pipeline templates live: `$BANWATCH_PIPELINES`, else `pipelines/` in the working
/// directory, else the source tree's, else `/usr/share/banwatch/pipelines`.
pub fn pipelines_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BANWATCH_PIPELINES") {
        return PathBuf::from(dir);
    }
    let candidates = [
        PathBuf::from("pipelines"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines"),
        PathBuf::from("/usr/share/banwatch/pipelines"),
    ];
    for c in &candidates {
        if c.join(format!("{DEFAULT_PIPELINE}.pipeline")).is_file() {
            return c.clone();
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines")
}

/// Reads template `name` (without `.pipeline`) from [`pipelines_dir`].
pub fn load_template(name: &str) -> Result<String, PipelineError> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(PipelineError::BadName(name.into()));
    }
    let path = pipelines_dir().join(format!("{name}.pipeline"));
    std::fs::read_to_string(&path).map_err(|e| PipelineError::Read(path, e))
}

/// Fills a template: comment lines dropped, `{url}` and `{latency}` replaced. The URL is
/// checked so it cannot break out of its quoted property value.
pub fn fill(template: &str, url: &str, latency_ms: u32) -> Result<String, PipelineError> {
    let ok_scheme =
        url.starts_with("rtsp://") || url.starts_with("rtsps://") || url.starts_with("rtspt://");
    if !ok_scheme
        || url
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_whitespace() || c.is_control())
    {
        return Err(PipelineError::BadUrl(redact_url(url)));
    }
    let body: Vec<&str> = template
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    Ok(body
        .join("\n")
        .replace("{url}", url)
        .replace("{latency}", &latency_ms.to_string()))
}

fn init() -> Result<(), PipelineError> {
    static INIT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| gst::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(PipelineError::Gst)
}

/// Stops the pipeline however `once` ends.
struct Running(gst::Pipeline);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

async fn once(
    url: &str,
    shown: &str,
    creds: Option<&(String, String)>,
    name: &str,
    ctx: &SourceContext,
    window: &WatchdogWindow,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let desc = load_template(name)
        .and_then(|t| fill(&t, url, DEFAULT_LATENCY_MS))
        .and_then(|d| init().map(|_| d))
        .map_err(|e| SourceError::Connect(e.to_string()))?;
    let (pipeline, watch) =
        build(&desc, creds, ctx).map_err(|e| SourceError::Connect(e.to_string()))?;
    let running = Running(pipeline);
    running
        .0
        .set_state(gst::State::Playing)
        .map_err(|e| SourceError::Connect(format!("{shown}: cannot start pipeline: {e}")))?;
    let bus = running
        .0
        .bus()
        .ok_or_else(|| SourceError::Connect("pipeline has no bus".into()))?;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut flowing = false;
    let started = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped(&mut shutdown) => return Ok(()),
        }
        use std::sync::atomic::Ordering::Relaxed;
        // Up once media flows, not when the pipeline reaches PLAYING: a live pipeline gets
        // there before rtspsrc has even connected, so a refused camera would read as up
        // between each retry and its error.
        if !flowing && (watch.video_since.get().is_some() || watch.arrived.load(Relaxed)) {
            flowing = true;
            ctx.health.set_up(true);
        }
        // Nothing at all since the start — a session stuck in setup (seen with 5 of 1,000
        // feeds against one loaded server) or a camera that never sends: reconnect, with the
        // same growing patience, rather than wait forever without an error.
        let patience = window.get() * NO_MEDIA_FACTOR;
        if !flowing && started.elapsed() > patience {
            ctx.health.watchdog_restarts.fetch_add(1, Relaxed);
            window.widen();
            return Err(SourceError::Connect(format!(
                "{shown}: no media (video or metadata) {patience:?} after starting; reconnecting"
            )));
        }
        if watch.arrived.load(Relaxed) {
            window.reset();
        } else if let Some(silent) = watch.silent_for() {
            let limit = window.get();
            if watch.announced.load(Relaxed) && silent > limit {
                ctx.health.watchdog_restarts.fetch_add(1, Relaxed);
                window.widen();
                return Err(SourceError::Connect(format!(
                    "{shown}: video flows but the announced metadata track has been silent for {limit:?}; reconnecting (next time after {:?})",
                    window.get()
                )));
            }
        }
        while let Some(msg) = bus.pop() {
            use gst::MessageView;
            match msg.view() {
                MessageView::Error(e) => {
                    // GStreamer's message can quote the location; say only the redacted URL.
                    let msg = e.error().to_string().replace(url, shown);
                    return Err(SourceError::Connect(format!("{shown}: {msg}")));
                }
                MessageView::Eos(_) => return Ok(()),
                MessageView::Warning(w) => {
                    let warning = w.error().to_string().replace(url, shown);
                    tracing::debug!(feed = %ctx.feed, warning = %warning, "gstreamer warning");
                }
                _ => {}
            }
        }
    }
}

/// What the stall watchdog needs: whether the SDP announced a metadata track, whether any of
/// it has arrived, and since when video has been flowing (the watchdog's clock starts at the
/// first video buffer, not at connection: a camera slow to set up, or a loaded machine, is
/// late, not silent).
#[derive(Default)]
struct MetaWatch {
    announced: std::sync::atomic::AtomicBool,
    arrived: std::sync::atomic::AtomicBool,
    video_since: std::sync::OnceLock<std::time::Instant>,
}

impl MetaWatch {
    /// How long video has flowed without metadata; `None` before the first video buffer.
    fn silent_for(&self) -> Option<Duration> {
        self.video_since.get().map(std::time::Instant::elapsed)
    }
}

/// How long the metadata track may stay silent while video flows before the stream is
/// reconnected: [`FIRST_METADATA_WITHIN`] at first, doubled after each restart that did not
/// bring metadata (a camera that sends metadata only on events is not restarted every few
/// seconds), up to [`MAX_SILENT_WINDOW`]; back to the start once metadata arrives.
struct WatchdogWindow(std::sync::atomic::AtomicU64);

impl Default for WatchdogWindow {
    fn default() -> Self {
        WatchdogWindow(std::sync::atomic::AtomicU64::new(
            FIRST_METADATA_WITHIN.as_millis() as u64,
        ))
    }
}

impl WatchdogWindow {
    fn get(&self) -> Duration {
        Duration::from_millis(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }
    fn widen(&self) {
        let next = (self.get() * 2).min(MAX_SILENT_WINDOW);
        self.0.store(
            next.as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    fn reset(&self) {
        self.0.store(
            FIRST_METADATA_WITHIN.as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

/// A stream from which nothing at all has arrived is restarted after this many watchdog
/// windows from its start (20 s at first): setup itself takes part of the time.
const NO_MEDIA_FACTOR: u32 = 2;

/// The longest the watchdog waits (see [`WatchdogWindow`]).
const MAX_SILENT_WINDOW: Duration = Duration::from_secs(600);

fn pipeline_has_meta(desc: &str) -> bool {
    desc.contains("name=meta")
}

/// A camera that announces a metadata track but sends none of it this long after its video
/// started flowing is reconnected: some servers set up the track and never start it (seen
/// intermittently with gst-rtsp-server), and a real stall looks the same from here.
const FIRST_METADATA_WITHIN: Duration = Duration::from_secs(10);

fn build(
    desc: &str,
    creds: Option<&(String, String)>,
    ctx: &SourceContext,
) -> Result<(gst::Pipeline, Arc<MetaWatch>), PipelineError> {
    let watch = Arc::new(MetaWatch::default());
    // Only a pipeline that reads the metadata track can notice it is silent.
    let reads_metadata = pipeline_has_meta(desc);
    let el = gst::parse::launch(desc).map_err(|e| PipelineError::Gst(e.to_string()))?;
    let pipeline = match el.downcast::<gst::Pipeline>() {
        Ok(p) => p,
        Err(el) => {
            let p = gst::Pipeline::new();
            p.add(&el).map_err(|e| PipelineError::Gst(e.to_string()))?;
            p
        }
    };
    if let Some(src) = pipeline.by_name("src") {
        if let (Some((user, pass)), Some(_)) = (creds, src.find_property("user-id")) {
            src.set_property("user-id", user);
            src.set_property("user-pw", pass);
        }
        // The watchdog's clock: the first video buffer on any of rtspsrc's video pads.
        let w = watch.clone();
        src.connect_pad_added(move |_, pad| {
            let video = pad.current_caps().is_some_and(|caps| {
                caps.structure(0)
                    .and_then(|s| s.get::<&str>("media").ok())
                    .is_some_and(|m| m == "video")
            });
            if video {
                let w = w.clone();
                pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                    let _ = w.video_since.set(std::time::Instant::now());
                    gst::PadProbeReturn::Remove
                });
            }
        });
        if src.find_property("protocols").is_some() {
            let h = ctx.clone_handle();
            let w = watch.clone();
            src.connect("on-sdp", false, move |args| {
                if let Some(sdp) = args
                    .get(1)
                    .and_then(|v| v.get::<gstreamer_sdp::SDPMessage>().ok())
                {
                    let obs = sdp_observations(sdp.as_text().unwrap_or_default().as_bytes());
                    if reads_metadata
                        && obs.iter().any(|o| {
                            o.field == "encoding"
                                && o.value.to_ascii_lowercase().contains("onvif.metadata")
                        })
                    {
                        w.announced
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    let _ = h.deliver_blocking(0, obs);
                }
                None
            });
        }
    }
    if let Some(meta) = pipeline
        .by_name("meta")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
    {
        let h = ctx.clone_handle();
        let mut depay = MetadataDepay::default();
        let w = watch.clone();
        meta.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    w.arrived.store(true, std::sync::atomic::Ordering::Relaxed);
                    let Some(buf) = sample.buffer() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let Ok(map) = buf.map_readable() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    match depay.push(map.as_slice()) {
                        Ok(None) => {}
                        Ok(Some(doc)) => {
                            let mut obs = Vec::new();
                            let mut em = Emitter::new(crate::clock::now(), None, &mut obs);
                            crate::decode::events::decode_body(
                                Some("application/xml"),
                                &doc,
                                Direction::ToClient,
                                &mut em,
                            );
                            if h.deliver_blocking(doc.len(), obs).is_err() {
                                return Err(gst::FlowError::Flushing);
                            }
                        }
                        Err(why) => h.health.add_decode_error(&why),
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    if let Some(sei) = pipeline
        .by_name("sei")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
    {
        let h = ctx.clone_handle();
        let mut seen = rustc_hash::FxHashSet::default();
        sei.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let Some(buf) = sample.buffer() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let Ok(map) = buf.map_readable() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let mut obs = Vec::new();
                    for uuid in h264_sei_uuids(map.as_slice()) {
                        // Report each UUID once per connection: it names a vendor's analytics
                        // payload, repeated in every frame.
                        if seen.len() < 64 && seen.insert(uuid) {
                            let mut em = Emitter::new(crate::clock::now(), None, &mut obs);
                            em.emit(Direction::ToClient, "h264", "sei_uuid", hex::encode(uuid));
                        }
                    }
                    if !obs.is_empty() && h.deliver_blocking(0, obs).is_err() {
                        return Err(gst::FlowError::Flushing);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    Ok((pipeline, watch))
}

/// Observations of the camera's SDP (the shared SDP decoder's `sdp.*` fields).
pub fn sdp_observations(sdp: &[u8]) -> Vec<Observation> {
    let mut obs = Vec::new();
    let mut em = Emitter::new(crate::clock::now(), None, &mut obs);
    crate::decode::sdp::parse(sdp, Direction::ToClient, &mut em);
    obs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_checks_url_and_strips_comments() {
        let t = "# comment\nrtspsrc location=\"{url}\" latency={latency} ! fakesink";
        assert_eq!(
            fill(t, "rtsp://127.0.0.1:8554/cam1", 50).unwrap(),
            "rtspsrc location=\"rtsp://127.0.0.1:8554/cam1\" latency=50 ! fakesink"
        );
        for bad in [
            "rtsp://x\" ! filesink location=/etc/passwd",
            "file:///etc",
            "rtsp://a b",
            "rtsp://x\\",
        ] {
            assert!(fill(t, bad, 0).is_err(), "{bad}");
        }
        assert!(load_template("../etc/passwd").is_err());
        assert!(load_template("rtsp-metadata")
            .unwrap()
            .contains("appsink name=meta"));
    }
}
