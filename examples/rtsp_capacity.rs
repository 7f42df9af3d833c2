//! Capacity benchmark driver for the RTSP tap (run by scripts/bench-rtsp-capacity.sh).
//!
//! `rtsp_capacity serve N RATE SENTLOG [metadata]` — N loopback RTSP cameras (`/cam0`..), H.264
//!   test video and an ONVIF metadata track sending RATE documents/s (with `metadata`, the
//!   metadata track alone: many cameras without encoding video for each); each document's send
//!   time is appended to SENTLOG as `mount n unix_seconds`. Prints the port, runs until killed.
//! `rtsp_capacity ingest PORT N SECONDS SENTLOG` — runs N banwatch RTSP feeds for SECONDS,
//!   then prints one JSON line: CPU seconds, peak RSS, documents, latency p50/p99 from a
//!   document's send time to its observations reaching the service channel.

use banwatch::sim::live::{metadata_document, metadata_rtp, CameraKind};
use banwatch::sources::live::context::SourceContext;
use banwatch::sources::live::health::FeedHealth;
use banwatch::sources::live::rtsp::Rtsp;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp_server;
use gstreamer_rtsp_server::prelude::*;

/// The allocator the `banwatch` binary ships with, so that the taps cost what they cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn now() -> f64 {
    banwatch::clock::now()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(
            args[2].parse()?,
            args[3].parse()?,
            &args[4],
            args.get(5).is_some_and(|a| a == "metadata"),
        ),
        Some("ingest") => ingest(
            args[2].parse()?,
            args[3].parse()?,
            args[4].parse()?,
            &args[5],
        ),
        _ => anyhow::bail!(
            "usage: rtsp_capacity serve N RATE SENTLOG | ingest PORT N SECONDS SENTLOG"
        ),
    }
}

fn serve(n: usize, rate: f64, sentlog: &str, metadata_only: bool) -> anyhow::Result<()> {
    gst::init()?;
    let log = Arc::new(Mutex::new(std::io::BufWriter::new(std::fs::File::create(
        sentlog,
    )?)));
    let server = rtsp_server::RTSPServer::new();
    server.set_address("127.0.0.1");
    server.set_service("0");
    let mounts = server
        .mount_points()
        .ok_or_else(|| anyhow::anyhow!("no mounts"))?;
    for i in 0..n {
        let f = rtsp_server::RTSPMediaFactory::new();
        let metadata = "is-live=true format=time do-timestamp=true caps=\"application/x-rtp,media=(string)application,payload=(int)107,clock-rate=(int)90000,encoding-name=(string)VND.ONVIF.METADATA\"";
        if metadata_only {
            f.set_launch(&format!("( appsrc name=pay0 {metadata} )"));
        } else {
            f.set_launch(&format!("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=10/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=20 bitrate=256 ! rtph264pay name=pay0 pt=96 config-interval=1 appsrc name=pay1 {metadata} )"));
        }
        let track = if metadata_only { "pay0" } else { "pay1" };
        f.set_shared(true);
        let mount = format!("/cam{i}");
        let log = log.clone();
        let m = mount.clone();
        f.connect_media_configure(move |_, media| {
            let Some(src) = media
                .element()
                .downcast::<gst::Bin>()
                .ok()
                .and_then(|b| b.by_name_recurse_up(track))
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            else {
                return;
            };
            let log = log.clone();
            let m = m.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut seq = 0u16;
                for k in 0u64.. {
                    let Some(doc) = metadata_document(CameraKind::Recognition, k) else {
                        return;
                    };
                    let ts = (start.elapsed().as_secs_f64() * 90_000.0) as u32;
                    let t = now();
                    for p in metadata_rtp(doc.as_bytes(), &mut seq, ts, 7, 1200) {
                        if src.push_buffer(gst::Buffer::from_mut_slice(p)).is_err() {
                            return;
                        }
                    }
                    if let Ok(mut l) = log.lock() {
                        let _ = writeln!(l, "{m} {k} {t:.6}");
                        let _ = l.flush();
                    }
                    // Scheduled, not drifting: document k goes out at start + k/rate.
                    let next = start + Duration::from_secs_f64((k + 1) as f64 / rate);
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
            });
        });
        mounts.add_factory(&mount, f);
    }
    let ctx = glib::MainContext::new();
    let _src = server.attach(Some(&ctx))?;
    println!("{}", server.bound_port());
    std::io::stdout().flush()?;
    let ml = glib::MainLoop::new(Some(&ctx), false);
    ctx.with_thread_default(|| ml.run())?;
    Ok(())
}

fn proc_cpu_and_rss() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name.
    let ticks: f64 = f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (ticks / 100.0, hwm)
}

fn ingest(port: u16, n: usize, seconds: f64, sentlog: &str) -> anyhow::Result<()> {
    // As the service does before its feeds start.
    banwatch::service::without_huge_pages();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (cpu0, _) = proc_cpu_and_rss();
    let t0 = Instant::now();
    let arrivals = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        let mut healths = Vec::new();
        for i in 0..n {
            let health = Arc::new(FeedHealth::default());
            healths.push(health.clone());
            let ctx = SourceContext {
                feed: format!("/cam{i}"),
                device: None,
                tx: tx.clone(),
                health,
                shutdown: stop_rx.clone(),
                demand: Default::default(),
            };
            let source = Arc::new(Rtsp {
                url: format!("rtsp://127.0.0.1:{port}/cam{i}"),
                pipeline: None,
                username: None,
                password: None,
            });
            tasks.push(tokio::spawn(
                banwatch::sources::live::registry::LiveSource::run(source, ctx),
            ));
        }
        drop(tx);
        let mut arrivals: HashMap<String, Vec<f64>> = HashMap::new();
        let end = tokio::time::Instant::now() + Duration::from_secs_f64(seconds);
        while let Ok(Some(ev)) = tokio::time::timeout_at(end, rx.recv()).await {
            if ev.observations.iter().any(|o| o.proto == "onvif") {
                arrivals.entry(ev.feed).or_default().push(ev.received);
            }
        }
        for (i, h) in healths.iter().enumerate() {
            if !h.is_up() || h.reconnects.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                eprintln!(
                    "feed /cam{i}: up={} reconnects={} last_error={:?}",
                    h.is_up(),
                    h.reconnects.load(std::sync::atomic::Ordering::Relaxed),
                    h.last_error()
                );
            }
        }
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        arrivals
    });
    let wall = t0.elapsed().as_secs_f64();
    let (cpu1, hwm_kib) = proc_cpu_and_rss();
    // Match arrivals to send times by order (TCP, no loss: the k-th document of a camera is
    // its k-th arrival); skip the first 3 s of each camera (documents queued before PLAY).
    let mut sent: HashMap<String, Vec<f64>> = HashMap::new();
    for line in std::fs::read_to_string(sentlog)?.lines() {
        let mut it = line.split_whitespace();
        if let (Some(m), Some(_), Some(t)) = (it.next(), it.next(), it.next()) {
            sent.entry(m.to_string())
                .or_default()
                .push(t.parse().unwrap_or(0.0));
        }
    }
    let mut lat = Vec::new();
    let mut docs = 0usize;
    for (feed, arr) in &arrivals {
        docs += arr.len();
        let Some(s) = sent.get(feed) else { continue };
        let first = s.first().copied().unwrap_or(0.0);
        for (a, t) in arr.iter().zip(s.iter()) {
            if *t > first + 3.0 {
                lat.push(a - t);
            }
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "{{\"feeds\":{n},\"feeds_with_metadata\":{},\"wall_s\":{wall:.2},\"cpu_s\":{:.2},\"peak_rss_kib\":{hwm_kib},\"documents\":{docs},\"latency_samples\":{},\"latency_p50_ms\":{:.1},\"latency_p99_ms\":{:.1},\"latency_max_ms\":{:.1}}}",
        arrivals.len(),
        cpu1 - cpu0,
        lat.len(),
        pct(0.5) * 1e3,
        pct(0.99) * 1e3,
        lat.last().copied().unwrap_or(f64::NAN) * 1e3
    );
    Ok(())
}
