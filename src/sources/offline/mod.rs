//! Offline inputs of `banwatch scan` and `inspect`: files on disk, read in place (memory-mapped),
//! and whatever archives and firmware images hold ([`files`]). Each file or member is recognised
//! by content through one sniff table, [`TRAFFIC`]: captures and sensor logs are read as
//! traffic here; everything else goes to the model parsers. A capture inside a directory, a
//! tarball or a firmware image is read like one given on the command line.
//!
//! Adding an offline traffic format: a module here and one line in [`TRAFFIC`].

pub mod files;
pub mod logs;
pub mod pcap;
mod workers;

use crate::decode::flow::{DecodeStats, Decoder, DecoderConfig};
use crate::model::Observation;
use logs::LogFormat;

/// What reading one traffic input gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficSummary {
    /// `pcap`, `pcapng`, `eve` or `zeek`.
    pub kind: &'static str,
    /// Packets (captures) or records (logs) read.
    pub records: u64,
    /// Counted problems: skipped records, undecodable packets, broken lines.
    pub errors: u64,
    /// Bytes of the input passed over unread (a capture read only in part).
    pub skipped_bytes: u64,
    /// Size of the input.
    pub total_bytes: u64,
    /// The first problem, in words, naming the input and offset.
    pub first_error: Option<String>,
}

/// What a traffic reader is asked for besides the bytes.
#[derive(Clone)]
pub struct ReadOptions<'a> {
    /// What the consumers read (see [`crate::decode::demand`]).
    pub demand: std::sync::Arc<crate::decode::demand::Demand>,
    /// Threads decoding a capture's flows (1: the calling thread alone; more: one reader
    /// and this many flow engines, see [`workers`]). The output is the same.
    pub workers: usize,
    /// The mapped file the input is, when it is one whole: the reader hands back the pages it
    /// has passed, so that resident memory stays bounded on captures of any size.
    pub pages: Option<std::sync::Arc<files::MappedFile>>,
    /// Which observations the consumer will act on, when it says (a scan: those some
    /// signature matches). Decode workers drop the others where they were made, instead of
    /// handing them to the merge; one engine hands on everything. `None`: everything.
    pub keep: Option<&'a (dyn Fn(&Observation) -> bool + Sync)>,
}

impl Default for ReadOptions<'_> {
    fn default() -> Self {
        ReadOptions {
            demand: Default::default(),
            workers: 1,
            pages: None,
            keep: None,
        }
    }
}

impl ReadOptions<'_> {
    /// Everything, on as many workers as the machine has cores.
    pub fn all_cores(demand: std::sync::Arc<crate::decode::demand::Demand>) -> Self {
        ReadOptions {
            demand,
            workers: workers_for(0),
            pages: None,
            keep: None,
        }
    }
}

/// The decode workers asked for: `n`, or one per core for 0.
pub fn workers_for(n: usize) -> usize {
    match n {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// How a traffic format is read: the input, its name, what is asked ([`ReadOptions`]), where
/// observations go, and a progress callback getting (bytes read, total).
pub type ReadTraffic = fn(
    data: &[u8],
    name: &str,
    opts: &ReadOptions<'_>,
    each: &mut dyn FnMut(&[Observation]),
    progress: &mut dyn FnMut(u64, u64),
) -> TrafficSummary;

/// One entry of the sniff table.
pub struct TrafficFormat {
    /// What reports call it.
    pub name: &'static str,
    /// Whether the input's first bytes (up to 64 KiB) say it is this format.
    pub sniff: fn(&[u8]) -> bool,
    /// Read the whole input, handing observations to `each` in order; `progress` gets
    /// (bytes read, total) now and then.
    pub read: ReadTraffic,
}

/// Traffic formats, tried in order on every input.
pub const TRAFFIC: &[TrafficFormat] = &[
    TrafficFormat {
        name: "capture",
        sniff: pcap::is_capture,
        read: read_capture,
    },
    TrafficFormat {
        name: "eve",
        sniff: |h| LogFormat::sniff(h) == Some(LogFormat::Eve),
        read: |d, n, _, each, _| read_log(LogFormat::Eve, d, n, each),
    },
    TrafficFormat {
        name: "zeek",
        sniff: |h| LogFormat::sniff(h) == Some(LogFormat::Zeek),
        read: |d, n, _, each, _| read_log(LogFormat::Zeek, d, n, each),
    },
];

/// How many leading bytes sniffing looks at.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The traffic format of an input, if it is traffic at all.
pub fn traffic_format(data: &[u8]) -> Option<&'static TrafficFormat> {
    let head = &data[..data.len().min(SNIFF_BYTES)];
    TRAFFIC.iter().find(|f| (f.sniff)(head))
}

fn read_log(
    format: LogFormat,
    data: &[u8],
    name: &str,
    each: &mut dyn FnMut(&[Observation]),
) -> TrafficSummary {
    let s = logs::read(format, data, name, &mut |obs| each(&obs));
    TrafficSummary {
        kind: format.name(),
        records: s.records,
        errors: s.errors,
        skipped_bytes: 0,
        total_bytes: data.len() as u64,
        first_error: None,
    }
}

/// Decode a pcap or pcapng capture held in memory through the flow engine, as `opts` asks.
pub fn read_capture(
    data: &[u8],
    name: &str,
    opts: &ReadOptions<'_>,
    each: &mut dyn FnMut(&[Observation]),
    progress: &mut dyn FnMut(u64, u64),
) -> TrafficSummary {
    let (summary, _) =
        read_capture_with(data, name, DecoderConfig::default(), opts, each, progress);
    summary
}

/// [`read_capture`] with a decoder configuration, returning the decoder's counters too (added
/// up over the workers).
pub fn read_capture_with(
    data: &[u8],
    name: &str,
    config: DecoderConfig,
    opts: &ReadOptions<'_>,
    each: &mut dyn FnMut(&[Observation]),
    progress: &mut dyn FnMut(u64, u64),
) -> (TrafficSummary, DecodeStats) {
    let mut sum = TrafficSummary {
        kind: "pcap",
        total_bytes: data.len() as u64,
        ..TrafficSummary::default()
    };
    let mut reader = match pcap::PcapReader::new(data, name) {
        Ok(r) => r,
        Err(e) => {
            sum.errors = 1;
            sum.skipped_bytes = data.len() as u64;
            sum.first_error = Some(e.to_string());
            return (sum, DecodeStats::default());
        }
    };
    if reader.is_pcapng() {
        sum.kind = "pcapng";
    }
    if opts.workers > 1 {
        let (counts, stats) = workers::decode(reader, opts, config, each, progress);
        sum.records = counts.packets;
        sum.errors = counts.errors + stats.errors();
        sum.first_error = counts.first_error;
        sum.skipped_bytes = counts.skipped_bytes;
        return (sum, stats);
    }
    let mut decoder = Decoder::new(config).demanding(opts.demand.clone());
    let mut obs: Vec<Observation> = Vec::new();
    let mut n = 0u32;
    while let Some(p) = reader.next_packet() {
        match p {
            Ok(pkt) => decoder.packet(pkt.ts, pkt.linktype, pkt.data, &mut obs),
            Err(e) => {
                sum.errors += 1;
                tracing::warn!("{e}");
                sum.first_error.get_or_insert_with(|| e.to_string());
            }
        }
        if !obs.is_empty() {
            each(&obs);
            obs.clear();
        }
        n = n.wrapping_add(1);
        if n % 4096 == 0 {
            progress(reader.position(), reader.len());
            // The engine keeps no reference into frames it has decoded.
            if let Some(pages) = &opts.pages {
                pages.release_before(reader.position() as usize);
            }
        }
    }
    decoder.finish(&mut obs);
    if !obs.is_empty() {
        each(&obs);
    }
    let stats = decoder.stats().clone();
    sum.records = reader.packets();
    sum.errors += stats.errors();
    sum.skipped_bytes = reader.skipped_bytes();
    (sum, stats)
}
