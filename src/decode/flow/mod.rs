//! The decoding engine: frames → IP → UDP/TCP → per-flow reassembly → application parsers.
//!
//! Camera networks are almost all video. The engine is built so that video costs little: UDP that
//! is not DNS or a tunnel is dropped after its header, and a TCP flow whose parser says
//! [`Progress::Done`] (TLS after the ClientHello, RTSP after PLAY) or that no parser claims is
//! bypassed: its later packets cost one hash lookup. Memory is bounded by the flow-table size
//! and the per-direction reassembly bounds.

use super::ip::{self, IpSkip, ACK, FIN, RST, SYN};
use super::link::{self, IpVersion, LinkSkip};
use super::registry::{self, FlowStart};
use super::tcp::{Chunk, Stream, StreamLimits};
use super::{dns, AppParser, Emitter, Progress};
use crate::model::{Direction, Flow, Observation, Transport};
use rustc_hash::{FxHashMap, FxHashSet};
use std::net::{IpAddr, SocketAddr};

mod shard;
mod stats;
pub use shard::{worker_of, CloseMarks, CloseOrder, SWEEP_INTERVAL};
pub use stats::DecodeStats;

/// Bounds and timeouts of the flow engine.
#[derive(Debug, Clone, Copy)]
pub struct DecoderConfig {
    /// Most flows tracked at once; beyond it the idlest are evicted.
    pub max_flows: usize,
    /// Seconds of capture time after which an idle flow is closed.
    pub idle_timeout: f64,
    /// Per-direction reassembly bounds.
    pub stream: StreamLimits,
    /// Bytes of a flow's first data kept while deciding its protocol.
    pub sniff_bytes: usize,
    /// Client-to-server payload bytes after which a TLS session counts as an upload
    /// (`tls.sni_upload`, once per session).
    pub upload_bytes: u64,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_flows: 100_000,
            idle_timeout: 300.0,
            stream: StreamLimits::default(),
            sniff_bytes: 64,
            upload_bytes: 64 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    a: SocketAddr,
    b: SocketAddr,
}

impl Key {
    fn new(x: SocketAddr, y: SocketAddr) -> Key {
        if x <= y {
            Key { a: x, b: y }
        } else {
            Key { a: y, b: x }
        }
    }
}

enum State {
    /// Protocol not decided yet: the first bytes of each direction, bounded.
    Sniffing([Vec<u8>; 2]),
    Parsing(Box<dyn AppParser>),
    Bypassed,
}

struct TcpFlow {
    flow: Flow,
    last_ts: f64,
    streams: [Stream; 2],
    state: State,
    fin: [bool; 2],
    /// Client-to-server payload bytes seen (retransmissions included).
    sent: u64,
    /// The TLS server name, once the ClientHello showed it.
    sni: Option<String>,
    /// `tls.sni_upload` was emitted.
    upload_reported: bool,
}

impl TcpFlow {
    /// Emit `tls.sni_upload` once the client has sent `cfg.upload_bytes` in a TLS session
    /// with a server name: data going up, as a device sharing it does, not a page being read.
    fn upload(&mut self, ts: f64, cfg: &DecoderConfig, out: &mut Vec<Observation>) -> bool {
        if self.upload_reported || self.sent < cfg.upload_bytes {
            return false;
        }
        let Some(sni) = &self.sni else {
            return false;
        };
        self.upload_reported = true;
        out.push(Observation {
            ts,
            proto: "tls",
            field: "sni_upload",
            value: sni.clone(),
            flow: Some(self.flow),
            dir: Direction::ToServer,
        });
        true
    }
}

fn idx(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// Most (address, MAC) pairs remembered for `mac.oui` (one observation each).
pub const MAX_MACS: usize = 65_536;

/// The flow engine: frames in, observations out.
pub struct Decoder {
    cfg: DecoderConfig,
    tcp: FxHashMap<Key, TcpFlow>,
    stats: DecodeStats,
    last_sweep: f64,
    now: f64,
    macs: FxHashSet<(IpAddr, [u8; 6])>,
    quic: super::quic::Initials,
    demand: std::sync::Arc<super::demand::Demand>,
    /// Idle flows are swept only when [`Decoder::sweep_at`] says (a worker among several,
    /// whose reader keeps the one clock).
    external_clock: bool,
}

/// Addresses and MACs of one packet.
#[derive(Clone, Copy)]
struct Hop {
    src: IpAddr,
    dst: IpAddr,
    src_mac: Option<[u8; 6]>,
    dst_mac: Option<[u8; 6]>,
}

impl Decoder {
    /// An engine with `cfg`.
    pub fn new(cfg: DecoderConfig) -> Decoder {
        Decoder {
            cfg,
            tcp: FxHashMap::default(),
            stats: DecodeStats::default(),
            last_sweep: 0.0,
            now: 0.0,
            macs: FxHashSet::default(),
            quic: super::quic::Initials::default(),
            demand: Default::default(),
            external_clock: false,
        }
    }

    /// The same engine as one worker among several: idle flows are closed when the reader
    /// calls [`Decoder::sweep_at`] (at the packets where a single engine would have swept),
    /// not by this engine's own clock, which sees only its share of the packets.
    pub fn with_external_clock(mut self) -> Decoder {
        self.external_clock = true;
        self
    }

    /// The same engine, building only the observations `demand` asks for (see
    /// [`super::demand`]); without it, everything.
    pub fn demanding(mut self, demand: std::sync::Arc<super::demand::Demand>) -> Decoder {
        self.demand = demand;
        self
    }

    /// `mac.oui` once per (address, MAC) of a flow's ends: universally administered unicast
    /// MACs only (a locally administered or group address names no vendor).
    fn macs(&mut self, ts: f64, flow: Flow, out: &mut Vec<Observation>) {
        for (ip, mac, dir) in [
            (flow.client.ip(), flow.client_mac, Direction::ToServer),
            (flow.server.ip(), flow.server_mac, Direction::ToClient),
        ] {
            let Some(mac) = mac else { continue };
            let Some(oui) = super::link::oui(mac) else {
                continue;
            };
            if self.macs.len() >= MAX_MACS || !self.macs.insert((ip, mac)) {
                continue;
            }
            Emitter::new(ts, Some(flow), out).emit(dir, "mac", "oui", oui);
            self.stats.observations += 1;
        }
    }

    fn count(stats: &mut DecodeStats, anomalies: Vec<super::Anomaly>) {
        for a in anomalies {
            *stats.anomalies.entry(a).or_insert(0) += 1;
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Decode one captured frame; observations are appended to `out`.
    pub fn packet(&mut self, ts: f64, linktype: u32, data: &[u8], out: &mut Vec<Observation>) {
        self.stats.packets += 1;
        self.stats.bytes += data.len() as u64;
        self.now = ts;
        match link::decode(linktype, data) {
            Ok(f) => {
                let hop_macs = (f.src_mac, f.dst_mac);
                self.ip(ts, f.ip, f.payload, hop_macs, 0, out);
            }
            Err(LinkSkip::UnsupportedLinktype(_)) => self.stats.unsupported_linktype += 1,
            Err(LinkSkip::NotIp) => self.stats.non_ip += 1,
            Err(LinkSkip::Truncated) => self.stats.malformed += 1,
        }
        if (!self.external_clock && ts - self.last_sweep > SWEEP_INTERVAL)
            || self.tcp.len() > self.cfg.max_flows
        {
            self.sweep(out, None);
        }
    }

    fn ip(
        &mut self,
        ts: f64,
        version: IpVersion,
        data: &[u8],
        macs: (Option<[u8; 6]>, Option<[u8; 6]>),
        depth: u8,
        out: &mut Vec<Observation>,
    ) {
        let pkt = match ip::decode(version, data) {
            Ok(p) => p,
            Err(IpSkip::LaterFragment) => {
                self.stats.fragments += 1;
                return;
            }
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        let hop = Hop {
            src: pkt.src,
            dst: pkt.dst,
            src_mac: macs.0,
            dst_mac: macs.1,
        };
        match pkt.proto {
            6 => match ip::tcp(pkt.payload) {
                Ok(t) => self.tcp_segment(ts, hop, t, out),
                Err(_) => self.stats.malformed += 1,
            },
            17 => match ip::udp(pkt.payload) {
                Ok(u) => self.udp(ts, hop, u, depth, out),
                Err(_) => self.stats.malformed += 1,
            },
            _ => {}
        }
    }

    fn udp(&mut self, ts: f64, hop: Hop, u: ip::Udp<'_>, depth: u8, out: &mut Vec<Observation>) {
        let dns_port = |p: u16| matches!(p, 53 | 5353 | 5355);
        if dns_port(u.dport) || dns_port(u.sport) {
            // The side on the DNS port is the server (for mDNS both are 5353: the sender asks).
            let to_server = dns_port(u.dport) && !(dns_port(u.sport) && u.sport != 5353);
            let (client, server, dir) = if to_server {
                (
                    SocketAddr::new(hop.src, u.sport),
                    SocketAddr::new(hop.dst, u.dport),
                    Direction::ToServer,
                )
            } else {
                (
                    SocketAddr::new(hop.dst, u.dport),
                    SocketAddr::new(hop.src, u.sport),
                    Direction::ToClient,
                )
            };
            let (client_mac, server_mac) = if to_server {
                (hop.src_mac, hop.dst_mac)
            } else {
                (hop.dst_mac, hop.src_mac)
            };
            let flow = Flow {
                transport: Transport::Udp,
                client,
                server,
                client_mac,
                server_mac,
            };
            self.macs(ts, flow, out);
            let before = out.len();
            let mut em = Emitter::new(ts, Some(flow), out);
            let ok = dns::parse_udp(u.payload, dir, &mut em);
            let anomalies = std::mem::take(&mut em.anomalies);
            if !ok {
                self.stats.malformed += 1;
            }
            Self::count(&mut self.stats, anomalies);
            self.stats.observations += (out.len() - before) as u64;
            return;
        }
        if super::quic::is_initial(u.payload) {
            self.quic_initial(ts, hop, u, out);
            return;
        }
        if depth >= 2 {
            return;
        }
        if u.dport == 4789 {
            // VXLAN: 8-byte header, then an Ethernet frame.
            if let Some(inner) = u.payload.get(8..) {
                match link::ethernet(inner) {
                    Ok(f) => self.ip(ts, f.ip, f.payload, (f.src_mac, f.dst_mac), depth + 1, out),
                    Err(LinkSkip::NotIp) => self.stats.non_ip += 1,
                    Err(_) => self.stats.malformed += 1,
                }
            }
        } else if u.dport == 3544 || u.sport == 3544 {
            // Teredo: optional authentication and origin indications, then IPv6.
            let mut p = u.payload;
            if p.starts_with(&[0, 1]) {
                let id = usize::from(*p.get(2).unwrap_or(&0));
                let au = usize::from(*p.get(3).unwrap_or(&0));
                p = p.get(4 + id + au + 9..).unwrap_or(&[]);
            }
            if p.starts_with(&[0, 0]) {
                p = p.get(8..).unwrap_or(&[]);
            }
            if p.first().is_some_and(|b| b >> 4 == 6) {
                self.ip(ts, IpVersion::V6, p, (None, None), depth + 1, out);
            }
        }
    }

    /// A datagram that starts with a QUIC Initial packet: its sender is the client.
    fn quic_initial(&mut self, ts: f64, hop: Hop, u: ip::Udp<'_>, out: &mut Vec<Observation>) {
        use super::quic::Skip;
        let flow = Flow {
            transport: Transport::Udp,
            client: SocketAddr::new(hop.src, u.sport),
            server: SocketAddr::new(hop.dst, u.dport),
            client_mac: hop.src_mac,
            server_mac: hop.dst_mac,
        };
        let before = out.len();
        let mut em = Emitter::new(ts, Some(flow), out);
        let skip = self
            .quic
            .datagram(flow.client, flow.server, u.payload, &mut em)
            .err();
        let mut anomalies = std::mem::take(&mut em.anomalies);
        match skip {
            Some(Skip::Malformed) => anomalies.push(("quic", "malformed_initial")),
            Some(Skip::TooLong) => anomalies.push(("quic", "crypto_too_long")),
            // A server's Initial or another UDP protocol that looks like one: not an anomaly.
            Some(Skip::NotClientInitial | Skip::Undecryptable) | None => {}
        }
        Self::count(&mut self.stats, anomalies);
        if out.len() > before {
            self.macs(ts, flow, out);
        }
        self.stats.observations += (out.len() - before) as u64;
    }

    fn tcp_segment(&mut self, ts: f64, hop: Hop, t: ip::Tcp<'_>, out: &mut Vec<Observation>) {
        let src = SocketAddr::new(hop.src, t.sport);
        let dst = SocketAddr::new(hop.dst, t.dport);
        let key = Key::new(src, dst);
        let cfg = self.cfg;
        if !self.tcp.contains_key(&key) {
            // A reset, or a segment that opens nothing and carries nothing (the last ACK of a
            // flow already closed, a keep-alive), starts no flow: a flow is picked up at its
            // SYN or at its first data.
            if t.flags & RST != 0 || (t.flags & SYN == 0 && t.payload.is_empty()) {
                return;
            }
            // Client: the SYN sender; the SYN-ACK receiver; else by service port.
            let src_is_client = if t.flags & SYN != 0 {
                t.flags & ACK == 0
            } else if registry::service_port(t.dport) != registry::service_port(t.sport) {
                registry::service_port(t.dport)
            } else {
                t.sport > t.dport
            };
            let flow = if src_is_client {
                Flow {
                    transport: Transport::Tcp,
                    client: src,
                    server: dst,
                    client_mac: hop.src_mac,
                    server_mac: hop.dst_mac,
                }
            } else {
                Flow {
                    transport: Transport::Tcp,
                    client: dst,
                    server: src,
                    client_mac: hop.dst_mac,
                    server_mac: hop.src_mac,
                }
            };
            self.stats.flows += 1;
            self.macs(ts, flow, out);
            self.tcp.insert(
                key,
                TcpFlow {
                    flow,
                    last_ts: ts,
                    streams: [Stream::default(), Stream::default()],
                    state: State::Sniffing([Vec::new(), Vec::new()]),
                    fin: [false, false],
                    sent: 0,
                    sni: None,
                    upload_reported: false,
                },
            );
        }
        let Some(f) = self.tcp.get_mut(&key) else {
            return;
        };
        f.last_ts = ts;
        let dir = if src == f.flow.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if dir == Direction::ToServer {
            f.sent = f.sent.saturating_add(t.payload.len() as u64);
        }
        if matches!(f.state, State::Bypassed) {
            if f.upload(ts, &cfg, out) {
                self.stats.observations += 1;
            }
            if t.flags & (RST | FIN) != 0 {
                self.tcp.remove(&key);
            }
            return;
        }
        let d = idx(dir);
        if t.flags & SYN != 0 {
            f.streams[d].syn(t.seq);
        }
        let before = out.len();
        let flow = f.flow;
        let (streams, state) = (&mut f.streams, &mut f.state);
        let mut gaps = 0;
        let anomalies = {
            let mut em = Emitter::new(ts, Some(flow), out).demanding(&self.demand);
            let mut deliver = |c: Chunk<'_>| {
                deliver_chunk(state, dir, c, &flow, &cfg, &mut em, &mut gaps);
            };
            // SYN data starts after the SYN's own sequence number.
            let seq = if t.flags & SYN != 0 {
                t.seq.wrapping_add(1)
            } else {
                t.seq
            };
            streams[d].segment(seq, t.payload, &cfg.stream, &mut deliver);
            em.anomalies
        };
        if f.sni.is_none() {
            if let Some(o) = out[before..]
                .iter()
                .find(|o| o.proto == "tls" && o.field == "sni")
            {
                f.sni = Some(o.value.clone());
            }
        }
        f.upload(ts, &cfg, out);
        self.stats.gaps += gaps;
        Self::count(&mut self.stats, anomalies);
        self.stats.observations += (out.len() - before) as u64;
        let bypassed = matches!(f.state, State::Bypassed);
        if bypassed {
            self.stats.flows_bypassed += 1;
            // Free reassembly memory; keep the entry so later packets are skipped cheaply.
            f.streams = [Stream::default(), Stream::default()];
        }
        if t.flags & FIN != 0 {
            f.fin[d] = true;
        }
        if t.flags & RST != 0 || (f.fin[0] && f.fin[1]) {
            if let Some(f) = self.tcp.remove(&key) {
                self.close(f, out);
            }
        }
    }

    fn close(&mut self, mut f: TcpFlow, out: &mut Vec<Observation>) {
        let before = out.len();
        let flow = f.flow;
        let cfg = self.cfg;
        let mut gaps = 0;
        let anomalies = {
            let mut em = Emitter::new(f.last_ts, Some(flow), out).demanding(&self.demand);
            for (i, dir) in [Direction::ToServer, Direction::ToClient]
                .into_iter()
                .enumerate()
            {
                let state = &mut f.state;
                let mut deliver =
                    |c: Chunk<'_>| deliver_chunk(state, dir, c, &flow, &cfg, &mut em, &mut gaps);
                f.streams[i].flush(&mut deliver);
            }
            // A flow that ended while still being sniffed gets one last decision.
            if let State::Sniffing(bufs) = &mut f.state {
                let first = if bufs[0].is_empty() { 1 } else { 0 };
                let data = std::mem::take(&mut bufs[first]);
                if let Ok(p) = registry::decide(&FlowStart {
                    data: &data,
                    client_port: flow.client.port(),
                    server_port: flow.server.port(),
                    final_look: true,
                }) {
                    let mut parser = (p.parser)();
                    let dir = if first == 0 {
                        Direction::ToServer
                    } else {
                        Direction::ToClient
                    };
                    parser.feed(dir, &data, &mut em);
                    let other = std::mem::take(&mut bufs[1 - first]);
                    if !other.is_empty() {
                        parser.feed(dir.reverse(), &other, &mut em);
                    }
                    f.state = State::Parsing(parser);
                }
            }
            if let State::Parsing(p) = &mut f.state {
                p.close(&mut em);
            }
            em.anomalies
        };
        self.stats.gaps += gaps;
        Self::count(&mut self.stats, anomalies);
        self.stats.observations += (out.len() - before) as u64;
    }

    /// Close idle flows, and the idlest ones if the table is over its bound.
    fn sweep(&mut self, out: &mut Vec<Observation>, marks: Option<&mut CloseMarks>) {
        self.last_sweep = self.now;
        let deadline = self.now - self.cfg.idle_timeout;
        let mut idle: Vec<Key> = self
            .tcp
            .iter()
            .filter(|(_, f)| f.last_ts < deadline)
            .map(|(k, _)| *k)
            .collect();
        if self.tcp.len() - idle.len() > self.cfg.max_flows {
            let mut by_age: Vec<(f64, Key)> =
                self.tcp.iter().map(|(k, f)| (f.last_ts, *k)).collect();
            by_age.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            let excess = self.tcp.len() - self.cfg.max_flows * 9 / 10;
            idle = by_age.into_iter().take(excess).map(|(_, k)| k).collect();
            self.stats.flows_evicted += idle.len() as u64;
        }
        self.close_in_order(idle, out, marks);
    }

    /// Close the flows of `keys` in [`CloseOrder`], marking where each one's observations end.
    fn close_in_order(
        &mut self,
        keys: Vec<Key>,
        out: &mut Vec<Observation>,
        mut marks: Option<&mut CloseMarks>,
    ) {
        let mut order: Vec<CloseOrder> = keys
            .into_iter()
            .filter_map(|key| {
                let last_ts = self.tcp.get(&key)?.last_ts;
                Some(CloseOrder { last_ts, key })
            })
            .collect();
        order.sort_unstable();
        for o in order {
            if let Some(f) = self.tcp.remove(&o.key) {
                self.close(f, out);
                if let Some(m) = marks.as_deref_mut() {
                    m.push((o, out.len()));
                }
            }
        }
    }

    /// Sweep as a single engine would after the packet at `now` (see
    /// [`Decoder::with_external_clock`]); each closed flow is marked in `marks`.
    pub fn sweep_at(&mut self, now: f64, out: &mut Vec<Observation>, marks: &mut CloseMarks) {
        self.now = now;
        self.sweep(out, Some(marks));
    }

    /// End of input: close every flow, flushing what parsers hold.
    pub fn finish(&mut self, out: &mut Vec<Observation>) {
        let keys: Vec<Key> = self.tcp.keys().copied().collect();
        self.close_in_order(keys, out, None);
    }

    /// [`Decoder::finish`], marking each closed flow in `marks`.
    pub fn finish_marked(&mut self, out: &mut Vec<Observation>, marks: &mut CloseMarks) {
        let keys: Vec<Key> = self.tcp.keys().copied().collect();
        self.close_in_order(keys, out, Some(marks));
    }
}

/// Hand one reassembled chunk to the flow's parser, deciding the protocol first if needed.
fn deliver_chunk(
    state: &mut State,
    dir: Direction,
    chunk: Chunk<'_>,
    flow: &Flow,
    cfg: &DecoderConfig,
    em: &mut Emitter<'_>,
    gaps: &mut u64,
) {
    match chunk {
        Chunk::Gap(n) => {
            *gaps += 1;
            match state {
                State::Parsing(p) => {
                    if p.gap(dir, n, em) == Progress::Done {
                        *state = State::Bypassed;
                    }
                }
                // A gap before the protocol is known: give up on the flow.
                State::Sniffing(_) => *state = State::Bypassed,
                State::Bypassed => {}
            }
        }
        Chunk::Data(data) => match state {
            State::Bypassed => {}
            State::Parsing(p) => {
                if p.feed(dir, data, em) == Progress::Done {
                    *state = State::Bypassed;
                }
            }
            State::Sniffing(bufs) => {
                let i = idx(dir);
                let take = data
                    .len()
                    .min(cfg.sniff_bytes.saturating_sub(bufs[i].len()));
                bufs[i].extend_from_slice(&data[..take]);
                let full = bufs[i].len() >= cfg.sniff_bytes;
                let decided = registry::decide(&FlowStart {
                    data: &bufs[i],
                    client_port: flow.client.port(),
                    server_port: flow.server.port(),
                    final_look: full,
                });
                match decided {
                    Ok(p) => {
                        let mut parser = (p.parser)();
                        // Replay what the other direction already sent, then this one in full.
                        let other = std::mem::take(&mut bufs[1 - i]);
                        let mine_before = bufs[i].len() - take;
                        let prefix = std::mem::take(&mut bufs[i]);
                        let mut progress = Progress::Continue;
                        if !other.is_empty() {
                            progress = parser.feed(dir.reverse(), &other, em);
                        }
                        if progress == Progress::Continue && mine_before > 0 {
                            progress = parser.feed(dir, &prefix[..mine_before], em);
                        }
                        if progress == Progress::Continue {
                            progress = parser.feed(dir, data, em);
                        }
                        *state = if progress == Progress::Done {
                            State::Bypassed
                        } else {
                            State::Parsing(parser)
                        };
                    }
                    Err(true) => {}
                    Err(false) => *state = State::Bypassed,
                }
            }
        },
    }
}

#[cfg(test)]
mod tests;
