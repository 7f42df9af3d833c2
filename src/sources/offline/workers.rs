//! A capture decoded on several cores, as Suricata's workers mode does: one reader thread walks
//! the records and hands each frame to the worker that owns its flow
//! ([`crate::decode::flow::worker_of`]: a hash of the flow's two ends, so both directions meet
//! in one worker); each worker runs its own flow engine; the calling thread merges what the
//! workers find back into the order one engine gives, and hands it on.
//!
//! The output is the one engine's, observation for observation (of those the consumer keeps,
//! [`ReadOptions::keep`]: a worker drops the others where it made them, so that most never
//! cross to another thread):
//! - the reader keeps the one sweep clock and tells every worker when to close idle flows (at
//!   the packets where one engine would sweep);
//! - flows closed together are ordered by [`CloseOrder`] (one engine closes them in that order
//!   too);
//! - a `mac.oui` for an (address, MAC) pair another worker reported first is dropped (each
//!   worker remembers only the pairs it met).
//!
//! It differs only when a flow table overflows: each worker holds its share of the bound and
//! evicts its own idlest flows. Memory stays bounded: the reader is at most [`QUEUED`] batches
//! of [`BATCH`] frames ahead of the slowest worker.

use crate::decode::demand::Demand;
use crate::decode::flow::{
    worker_of, CloseMarks, CloseOrder, DecodeStats, Decoder, DecoderConfig, MAX_MACS,
    SWEEP_INTERVAL,
};
use crate::model::{Direction, Observation};
use rustc_hash::FxHashSet;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

use super::files::MappedFile;
use super::pcap::PcapReader;
use super::ReadOptions;

/// Frames the reader reads between handing each worker its batch.
pub const BATCH: usize = 2048;
/// Batches queued for a worker before the reader waits for it.
pub const QUEUED: usize = 4;

/// One unit of a worker's input, in capture order.
enum Job<'d> {
    /// A frame of the worker's flows, with its place in the capture.
    Frame {
        seq: u64,
        ts: f64,
        linktype: u32,
        data: &'d [u8],
    },
    /// Close idle flows as one engine would after frame `seq`, at capture time `now`.
    Sweep { seq: u64, now: f64 },
}

/// A worker's jobs up to (not including) frame `below`.
struct Batch<'d> {
    jobs: Vec<Job<'d>>,
    below: u64,
}

/// Where a group of observations falls in one engine's output: after frame `seq`, the frame's
/// own observations first, then the flows a sweep closed, in [`CloseOrder`].
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Order {
    seq: u64,
    close: Option<CloseOrder>,
}

struct Group {
    order: Order,
    /// The worker that made it.
    worker: usize,
    obs: Vec<Observation>,
}

/// What a worker found in one batch: everything before frame `below` is in `groups`;
/// `stats` comes with its last message.
struct Found {
    worker: usize,
    below: u64,
    groups: Vec<Group>,
    stats: Option<DecodeStats>,
}

/// What the reader thread counted.
pub(super) struct ReadCounts {
    pub packets: u64,
    pub skipped_bytes: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// Decode `reader`'s frames on `n` workers (n ≥ 2), handing observations to `each` in one
/// engine's order; `progress` gets (bytes read, total). Returns the reader's counts and the
/// workers' counters added up.
pub(super) fn decode(
    reader: PcapReader<'_>,
    opts: &ReadOptions<'_>,
    config: DecoderConfig,
    each: &mut dyn FnMut(&[Observation]),
    progress: &mut dyn FnMut(u64, u64),
) -> (ReadCounts, DecodeStats) {
    let n = opts.workers.max(2);
    let demand = &opts.demand;
    let pages = opts.pages.as_deref();
    let keep = opts.keep;
    let total = reader.len();
    let position = AtomicU64::new(0);
    let share = DecoderConfig {
        max_flows: (config.max_flows / n).max(1),
        ..config
    };
    std::thread::scope(|s| {
        let (found_tx, found_rx) = sync_channel::<Found>(QUEUED * n);
        let mut job_txs = Vec::with_capacity(n);
        let mut spent_txs = Vec::with_capacity(n);
        for w in 0..n {
            let (tx, rx) = sync_channel::<Batch<'_>>(QUEUED);
            job_txs.push(tx);
            let (spent_tx, spent_rx) = channel::<Vec<Observation>>();
            spent_txs.push(spent_tx);
            let found_tx = found_tx.clone();
            let demand = demand.clone();
            let ends = Ends {
                jobs: rx,
                found: found_tx,
                spent: spent_rx,
            };
            std::thread::Builder::new()
                .name(format!("decode-{w}"))
                .spawn_scoped(s, move || work(w, share, demand, keep, ends))
                .expect("spawning a decode worker");
        }
        drop(found_tx);
        let position = &position;
        let read = std::thread::Builder::new()
            .name("read".into())
            .spawn_scoped(s, move || read(reader, job_txs, position, pages))
            .expect("spawning the capture reader");
        let stats = merge(n, found_rx, &spent_txs, keep, each, &mut || {
            progress(position.load(Ordering::Relaxed), total)
        });
        let counts = match read.join() {
            Ok(c) => c,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (counts, stats)
    })
}

/// The reader: frames to their workers, the one sweep clock, a batch to every worker every
/// [`BATCH`] frames (so that every worker's progress is known to the merge).
fn read<'d>(
    mut reader: PcapReader<'d>,
    txs: Vec<SyncSender<Batch<'d>>>,
    position: &AtomicU64,
    pages: Option<&MappedFile>,
) -> ReadCounts {
    let n = txs.len();
    let mut jobs: Vec<Vec<Job<'d>>> = (0..n).map(|_| Vec::with_capacity(BATCH)).collect();
    let mut counts = ReadCounts {
        packets: 0,
        skipped_bytes: 0,
        errors: 0,
        first_error: None,
    };
    let mut seq = 0u64;
    let mut last_sweep = 0.0f64;
    let mut open = true;
    let mut flushed: VecDeque<u64> = VecDeque::new();
    let flush = |jobs: &mut Vec<Vec<Job<'d>>>, below: u64| -> bool {
        for (tx, j) in txs.iter().zip(jobs.iter_mut()) {
            let batch = Batch {
                jobs: std::mem::replace(j, Vec::with_capacity(BATCH)),
                below,
            };
            if tx.send(batch).is_err() {
                // A worker is gone (it panicked): the merge will say so.
                return false;
            }
        }
        true
    };
    while let Some(p) = reader.next_packet() {
        match p {
            Ok(pkt) => {
                let w = worker_of(pkt.linktype, pkt.data, n);
                jobs[w].push(Job::Frame {
                    seq,
                    ts: pkt.ts,
                    linktype: pkt.linktype,
                    data: pkt.data,
                });
                if pkt.ts - last_sweep > SWEEP_INTERVAL {
                    last_sweep = pkt.ts;
                    for j in jobs.iter_mut() {
                        j.push(Job::Sweep { seq, now: pkt.ts });
                    }
                }
            }
            Err(e) => {
                counts.errors += 1;
                tracing::warn!("{e}");
                counts.first_error.get_or_insert_with(|| e.to_string());
            }
        }
        seq += 1;
        if seq % BATCH as u64 == 0 {
            position.store(reader.position(), Ordering::Relaxed);
            if !flush(&mut jobs, seq) {
                open = false;
                break;
            }
            // A worker is at most QUEUED batches behind, plus the one it is decoding: the
            // frames before that are decoded, and nothing refers to them any more.
            flushed.push_back(reader.position());
            if flushed.len() > QUEUED + 2 {
                if let (Some(p), Some(pages)) = (flushed.pop_front(), pages) {
                    pages.release_before(p as usize);
                }
            }
        }
    }
    if open {
        flush(&mut jobs, seq);
    }
    position.store(reader.position(), Ordering::Relaxed);
    counts.packets = reader.packets();
    counts.skipped_bytes = reader.skipped_bytes();
    counts
}

/// A worker's channels: frames in, what it found out, and its observation vectors back from
/// the merge once handed on (so that they are freed, or reused, by the thread that made them:
/// freeing on another thread costs an allocator far more).
struct Ends<'d> {
    jobs: Receiver<Batch<'d>>,
    found: SyncSender<Found>,
    spent: Receiver<Vec<Observation>>,
}

/// Observation vectors kept for reuse by a worker.
const POOL: usize = 4096;

/// A worker: its own flow engine over its share of the flows.
fn work(
    worker: usize,
    config: DecoderConfig,
    demand: Arc<Demand>,
    keep: Option<&(dyn Fn(&Observation) -> bool + Sync)>,
    ends: Ends<'_>,
) {
    let Ends { jobs, found, spent } = ends;
    let mut decoder = Decoder::new(config).demanding(demand).with_external_clock();
    let mut obs = Vec::new();
    let mut marks = CloseMarks::new();
    let mut pool: Vec<Vec<Observation>> = Vec::new();
    for batch in jobs {
        for mut v in spent.try_iter() {
            if pool.len() < POOL {
                v.clear();
                pool.push(v);
            }
        }
        let mut groups = Vec::new();
        let mut jobs = batch.jobs.into_iter().peekable();
        while let Some(job) = jobs.next() {
            if let Some(Job::Frame { data, .. }) = jobs.peek() {
                prefetch(data);
            }
            match job {
                Job::Frame {
                    seq,
                    ts,
                    linktype,
                    data,
                } => {
                    decoder.packet(ts, linktype, data, &mut obs);
                    if keep.is_some() {
                        obs.retain(|o| passes(keep, o));
                    }
                    if !obs.is_empty() {
                        groups.push(Group {
                            order: Order { seq, close: None },
                            worker,
                            obs: std::mem::replace(&mut obs, pool.pop().unwrap_or_default()),
                        });
                    }
                }
                Job::Sweep { seq, now } => {
                    decoder.sweep_at(now, &mut obs, &mut marks);
                    keep_marked(keep, &mut obs, &mut marks);
                    closed(worker, seq, &mut obs, &mut marks, &mut groups);
                }
            }
        }
        let msg = Found {
            worker,
            below: batch.below,
            groups,
            stats: None,
        };
        if found.send(msg).is_err() {
            return;
        }
    }
    let mut groups = Vec::new();
    decoder.finish_marked(&mut obs, &mut marks);
    keep_marked(keep, &mut obs, &mut marks);
    closed(worker, u64::MAX, &mut obs, &mut marks, &mut groups);
    let _ = found.send(Found {
        worker,
        below: u64::MAX,
        groups,
        stats: Some(decoder.stats().clone()),
    });
}

/// Ask the CPU to start loading the start of the next frame while this one is decoded: the
/// reader touched it last, on another core, so without this the worker's first read of every
/// frame waits for it.
#[inline]
fn prefetch(data: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in data.chunks(64).take(2) {
            // SAFETY: a prefetch is a hint: it reads nothing into the program and cannot
            // fault; the address is inside a live slice.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

fn is_mac_oui(o: &Observation) -> bool {
    o.field == "oui" && o.proto == "mac"
}

/// Whether a worker hands `o` on: what `keep` keeps, and every `mac.oui` whatever `keep` says
/// (the merge decides which worker's report of an (address, MAC) pair is the first, and
/// counts the others as one engine would not have made them, before asking `keep`).
fn passes(keep: Option<&(dyn Fn(&Observation) -> bool + Sync)>, o: &Observation) -> bool {
    keep.is_none_or(|keep| is_mac_oui(o) || keep(o))
}

/// Drop what `keep` refuses from closed flows' observations, moving the marks with them.
fn keep_marked(
    keep: Option<&(dyn Fn(&Observation) -> bool + Sync)>,
    obs: &mut Vec<Observation>,
    marks: &mut CloseMarks,
) {
    if keep.is_none() {
        return;
    }
    let mut kept = 0;
    let mut start = 0;
    for (_, end) in marks.iter_mut() {
        for i in start..*end {
            if passes(keep, &obs[i]) {
                obs.swap(kept, i);
                kept += 1;
            }
        }
        start = *end;
        *end = kept;
    }
    obs.truncate(kept);
}

/// Split what closing flows emitted into one group per flow.
fn closed(
    worker: usize,
    seq: u64,
    obs: &mut Vec<Observation>,
    marks: &mut CloseMarks,
    groups: &mut Vec<Group>,
) {
    let mut drained = obs.drain(..);
    let mut start = 0;
    for (order, end) in marks.drain(..) {
        let flow: Vec<Observation> = drained.by_ref().take(end - start).collect();
        start = end;
        if !flow.is_empty() {
            groups.push(Group {
                order: Order {
                    seq,
                    close: Some(order),
                },
                worker,
                obs: flow,
            });
        }
    }
}

/// The merge: groups leave in [`Order`] once no worker can still send an earlier one.
fn merge(
    n: usize,
    found: Receiver<Found>,
    spent: &[Sender<Vec<Observation>>],
    keep: Option<&(dyn Fn(&Observation) -> bool + Sync)>,
    each: &mut dyn FnMut(&[Observation]),
    tick: &mut dyn FnMut(),
) -> DecodeStats {
    let mut queues: Vec<VecDeque<Group>> = (0..n).map(|_| VecDeque::new()).collect();
    let mut below = vec![0u64; n];
    let mut done = vec![false; n];
    let mut stats = DecodeStats::default();
    let mut macs: FxHashSet<(IpAddr, [u8; 6])> = FxHashSet::default();
    let mut dropped = 0u64;
    for msg in found {
        let w = msg.worker;
        below[w] = msg.below;
        queues[w].extend(msg.groups);
        if let Some(s) = msg.stats {
            stats.absorb(&s);
            done[w] = true;
        }
        tick();
        while let Some(mut g) = next_ready(&mut queues, &below, &done) {
            let before = g.obs.len();
            g.obs.retain(|o| first_mac(o, &mut macs));
            dropped += (before - g.obs.len()) as u64;
            if let Some(keep) = keep {
                g.obs.retain(|o| !is_mac_oui(o) || keep(o));
            }
            if !g.obs.is_empty() {
                each(&g.obs);
            }
            // Back to the worker that made it; a worker that is gone drops it here.
            let _ = spent[g.worker].send(g.obs);
        }
    }
    if let Some(w) = (0..n).find(|w| !done[*w]) {
        // A worker ended without its counters: it panicked. Say so as one engine would have.
        panic!("decode worker {w} failed");
    }
    stats.observations = stats.observations.saturating_sub(dropped);
    stats
}

/// The earliest queued group, if no worker can still send one before it: every other worker
/// has a later group queued, or has finished, or has reported past its frame.
fn next_ready(queues: &mut [VecDeque<Group>], below: &[u64], done: &[bool]) -> Option<Group> {
    let first = (0..queues.len())
        .filter(|w| !queues[*w].is_empty())
        .min_by(|a, b| queues[*a][0].order.cmp(&queues[*b][0].order))?;
    let seq = queues[first][0].order.seq;
    let safe =
        (0..queues.len()).all(|w| w == first || !queues[w].is_empty() || done[w] || below[w] > seq);
    if safe {
        queues[first].pop_front()
    } else {
        None
    }
}

/// Whether `o` may pass: anything but a `mac.oui` of an (address, MAC) pair already reported
/// (or one past the bound), as one engine's memory of pairs decides.
fn first_mac(o: &Observation, seen: &mut FxHashSet<(IpAddr, [u8; 6])>) -> bool {
    if !is_mac_oui(o) {
        return true;
    }
    let Some(flow) = o.flow else { return true };
    let end = match o.dir {
        Direction::ToServer => (flow.client.ip(), flow.client_mac),
        Direction::ToClient => (flow.server.ip(), flow.server_mac),
    };
    let (ip, Some(mac)) = end else { return true };
    seen.len() < MAX_MACS && seen.insert((ip, mac))
}
