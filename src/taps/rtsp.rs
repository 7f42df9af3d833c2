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

use super::live::{reconnect_loop, TapContext, TapError};
use crate::decode::{printable, Emitter};
use crate::model::{Direction, Observation};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Template used when a feed names none.
pub const DEFAULT_PIPELINE: &str = "rtsp-metadata";
/// Jitterbuffer latency (ms) filled into `{latency}`; metadata needs no smoothing.
pub const DEFAULT_LATENCY_MS: u32 = 200;
/// Largest metadata document reassembled from RTP.
pub const MAX_DOC: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("pipeline name {0:?} is not a plain file name")]
    BadName(String),
    #[error("{0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("camera URL {0:?} must be rtsp:// or rtsps:// without quotes, spaces or backslashes")]
    BadUrl(String),
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
        return Err(PipelineError::BadUrl(url.into()));
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

pub async fn run(url: String, pipeline: Option<String>, ctx: &TapContext) {
    let name = pipeline.unwrap_or_else(|| DEFAULT_PIPELINE.to_string());
    reconnect_loop(ctx, |shutdown| once(&url, &name, ctx, shutdown)).await
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
    name: &str,
    ctx: &TapContext,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), TapError> {
    let desc = load_template(name)
        .and_then(|t| fill(&t, url, DEFAULT_LATENCY_MS))
        .and_then(|d| init().map(|_| d))
        .map_err(|e| TapError::Connect(e.to_string()))?;
    let (pipeline, watch) = build(&desc, ctx).map_err(|e| TapError::Connect(e.to_string()))?;
    let running = Running(pipeline);
    let started = std::time::Instant::now();
    running
        .0
        .set_state(gst::State::Playing)
        .map_err(|e| TapError::Connect(format!("{url}: cannot start pipeline: {e}")))?;
    let bus = running
        .0
        .bus()
        .ok_or_else(|| TapError::Connect("pipeline has no bus".into()))?;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = super::live::stopped(&mut shutdown) => return Ok(()),
        }
        use std::sync::atomic::Ordering::Relaxed;
        if watch.announced.load(Relaxed)
            && !watch.arrived.load(Relaxed)
            && started.elapsed() > FIRST_METADATA_WITHIN
        {
            return Err(TapError::Connect(format!(
                "{url}: metadata track announced but silent for {FIRST_METADATA_WITHIN:?}; reconnecting"
            )));
        }
        while let Some(msg) = bus.pop() {
            use gst::MessageView;
            match msg.view() {
                MessageView::Error(e) => {
                    return Err(TapError::Connect(format!("{url}: {}", e.error())));
                }
                MessageView::Eos(_) => return Ok(()),
                MessageView::StateChanged(s)
                    if s.current() == gst::State::Playing
                        && s.src()
                            .is_some_and(|o| o == running.0.upcast_ref::<gst::Object>()) =>
                {
                    ctx.health.set_up(true);
                }
                MessageView::Warning(w) => {
                    tracing::debug!(feed = %ctx.feed, warning = %w.error(), "gstreamer warning");
                }
                _ => {}
            }
        }
    }
}

/// What the stall watchdog needs: whether the SDP announced a metadata track, and whether any
/// of it has arrived.
#[derive(Default)]
struct MetaWatch {
    announced: std::sync::atomic::AtomicBool,
    arrived: std::sync::atomic::AtomicBool,
}

fn pipeline_has_meta(desc: &str) -> bool {
    desc.contains("name=meta")
}

/// A camera that announces a metadata track but sends none of it this long after the pipeline
/// starts is reconnected: some servers set up the track and never start it (seen intermittently
/// with gst-rtsp-server), and a real stall looks the same from here.
const FIRST_METADATA_WITHIN: Duration = Duration::from_secs(10);

fn build(desc: &str, ctx: &TapContext) -> Result<(gst::Pipeline, Arc<MetaWatch>), PipelineError> {
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
        if src.find_property("protocols").is_some() {
            let h = ctx.clone_handle();
            let w = watch.clone();
            src.connect("on-sdp", false, move |args| {
                if let Some(sdp) = args
                    .get(1)
                    .and_then(|v| v.get::<gstreamer_sdp::SDPMessage>().ok())
                {
                    let obs = sdp_observations(&sdp);
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
                            let mut em = Emitter::new(super::live::now(), None, &mut obs);
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
                            let mut em = Emitter::new(super::live::now(), None, &mut obs);
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

/// Observations of the camera's SDP: each media type and encoding (`vnd.onvif.metadata/90000`).
pub fn sdp_observations(sdp: &gstreamer_sdp::SDPMessageRef) -> Vec<Observation> {
    let mut obs = Vec::new();
    let mut em = Emitter::new(super::live::now(), None, &mut obs);
    for m in sdp.medias().take(16) {
        if let Some(media) = m.media() {
            em.emit(
                Direction::ToClient,
                "sdp",
                "media",
                printable(media.as_bytes()),
            );
        }
        for a in m.attributes().take(64) {
            if a.key() == "rtpmap" {
                if let Some(enc) = a.value().and_then(|v| v.split_once(' ')).map(|(_, e)| e) {
                    em.emit(
                        Direction::ToClient,
                        "sdp",
                        "encoding",
                        printable(enc.trim().as_bytes()),
                    );
                }
            }
        }
    }
    obs
}

/// The payload and marker bit of an RTP packet (RFC 3550 §5.1), or why it is not one.
pub fn rtp_payload(p: &[u8]) -> Result<(bool, &[u8]), String> {
    let b0 = *p.first().ok_or("empty RTP packet")?;
    let b1 = *p.get(1).ok_or("short RTP packet")?;
    if b0 >> 6 != 2 {
        return Err("not RTP version 2".into());
    }
    let mut off = 12 + 4 * usize::from(b0 & 0x0f);
    if b0 & 0x10 != 0 {
        let words = p.get(off + 2..off + 4).ok_or("truncated RTP extension")?;
        off += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    let mut end = p.len();
    if b0 & 0x20 != 0 {
        let pad = usize::from(*p.last().ok_or("empty")?);
        end = end.checked_sub(pad).ok_or("bad RTP padding")?;
    }
    let payload = p.get(off..end).ok_or("truncated RTP packet")?;
    Ok((b1 & 0x80 != 0, payload))
}

/// Joins ONVIF metadata RTP payloads into documents: a document ends at the marker bit.
#[derive(Default)]
pub struct MetadataDepay {
    buf: Vec<u8>,
    /// Dropping an oversized document until its marker.
    skipping: bool,
}

impl MetadataDepay {
    /// Feed one RTP packet; returns a complete document, or an error for a broken one.
    pub fn push(&mut self, rtp: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let (marker, payload) = rtp_payload(rtp)?;
        if !self.skipping {
            if self.buf.len() + payload.len() > MAX_DOC {
                self.buf.clear();
                self.skipping = true;
                if !marker {
                    return Err(format!("metadata document over {MAX_DOC} bytes"));
                }
            } else {
                self.buf.extend_from_slice(payload);
            }
        }
        if !marker {
            return Ok(None);
        }
        if std::mem::take(&mut self.skipping) {
            return Ok(None);
        }
        let doc = std::mem::take(&mut self.buf);
        Ok((!doc.is_empty()).then_some(doc))
    }
}

/// UUIDs of H.264 SEI `user_data_unregistered` messages (payload type 5) in an Annex B
/// access unit. Emulation-prevention bytes are removed before reading the SEI.
pub fn h264_sei_uuids(au: &[u8]) -> Vec<[u8; 16]> {
    let mut out = Vec::new();
    for nal in annexb_nals(au).take(256) {
        if nal.first().map(|b| b & 0x1f) != Some(6) {
            continue;
        }
        let rbsp = unescape(nal.get(1..).unwrap_or(&[]));
        let mut i = 0;
        while i < rbsp.len() && out.len() < 16 {
            let mut ptype = 0usize;
            while rbsp.get(i) == Some(&0xff) {
                ptype += 255;
                i += 1;
            }
            let Some(&b) = rbsp.get(i) else { break };
            ptype += usize::from(b);
            i += 1;
            let mut size = 0usize;
            while rbsp.get(i) == Some(&0xff) {
                size += 255;
                i += 1;
            }
            let Some(&b) = rbsp.get(i) else { break };
            size += usize::from(b);
            i += 1;
            let Some(payload) = rbsp.get(i..i + size) else {
                break;
            };
            if ptype == 5 {
                if let Some(u) = payload.get(..16).and_then(|u| <[u8; 16]>::try_from(u).ok()) {
                    out.push(u);
                }
            }
            i += size;
            if rbsp.get(i) == Some(&0x80) {
                break;
            }
        }
    }
    out
}

fn annexb_nals(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let finder = memchr::memmem::Finder::new(&[0u8, 0, 1]);
    let mut starts: Vec<usize> = finder.find_iter(data).map(|i| i + 3).collect();
    starts.truncate(4096);
    let n = starts.len();
    (0..n).map(move |k| {
        let s = starts[k];
        let e = starts.get(k + 1).map(|&n| n - 3).unwrap_or(data.len());
        let nal = data.get(s..e).unwrap_or(&[]);
        // A 4-byte start code leaves a trailing zero on the previous NAL.
        nal.strip_suffix(&[0]).unwrap_or(nal)
    })
}

fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x80,
            107 | if marker { 0x80 } else { 0 },
            0,
            1,
            0,
            0,
            0,
            0,
            1,
            2,
            3,
            4,
        ];
        p.extend_from_slice(payload);
        p
    }

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

    #[test]
    fn depayloads_across_packets_and_skips_broken() {
        let mut d = MetadataDepay::default();
        assert_eq!(d.push(&rtp(false, b"<a>")).unwrap(), None);
        assert_eq!(d.push(&rtp(true, b"</a>")).unwrap().unwrap(), b"<a></a>");
        assert!(d.push(&[0x40, 0]).is_err());
        assert!(d
            .push(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff])
            .is_err());
        assert!(d
            .push(&[0xa0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200])
            .is_err());
        // An oversized document is dropped whole, and the next one is intact.
        let big = vec![b'x'; 64 * 1024];
        let mut errs = 0;
        for _ in 0..(MAX_DOC / big.len() + 2) {
            errs += d.push(&rtp(false, &big)).is_err() as usize;
        }
        assert_eq!(errs, 1);
        assert_eq!(d.push(&rtp(true, b"tail")).unwrap(), None);
        assert_eq!(d.push(&rtp(true, b"<b/>")).unwrap().unwrap(), b"<b/>");
    }

    #[test]
    fn sei_user_data_uuid() {
        let uuid = [
            0xdc, 0x45, 0xe9, 0xbd, 0xe6, 0xd9, 0x48, 0xb7, 0x96, 0x2c, 0xd8, 0x20, 0xd9, 0x23,
            0xee, 0xef,
        ];
        let mut au = vec![0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x06, 5, 20];
        au.extend_from_slice(&uuid);
        au.extend_from_slice(b"x264");
        au.push(0x80);
        au.extend_from_slice(&[0, 0, 1, 0x65, 0x88]);
        assert_eq!(h264_sei_uuids(&au), vec![uuid]);
        for junk in [
            &[0u8, 0, 1, 6][..],
            &[0, 0, 1, 6, 0xff, 0xff, 0xff],
            &[0, 0, 1, 6, 5, 200, 1, 2],
            &[],
        ] {
            assert!(h264_sei_uuids(junk).is_empty());
        }
    }
}
