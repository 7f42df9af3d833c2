//! Decoders: turn captured bytes into [`Observation`]s.
//!
//! Layout follows Suricata's `rust/src`: one module per protocol or format, each with its own
//! tests. The flow engine ([`flow`]) owns link/IP/TCP handling and reassembly and hands in-order
//! bytes of each direction to an application-layer parser implementing [`AppParser`]. Parsers
//! report facts through an [`Emitter`]; they never know about signatures, verdicts or alerts.

use crate::model::{Direction, Flow, Observation};

pub mod bytes;
pub mod demand;
pub mod dns;
pub mod events;
pub mod fields;
pub mod flow;
pub mod h264;
pub mod http;
pub mod identity;
pub(crate) mod ip;
pub(crate) mod link;
pub mod models;
pub mod mqtt;
pub mod multipart;
pub mod protocol;
pub mod quic;
pub mod registry;
pub mod rtp;
pub mod rtsp;
pub mod sdp;
pub(crate) mod tcp;
pub mod tls;

/// Longest value an observation carries; longer values are cut (with a `…` marker) so one
/// hostile field cannot blow up memory or the report.
pub const MAX_VALUE_LEN: usize = 512;

/// A typed decoder anomaly: a malformed or hostile part of a message that was skipped
/// (`protocol`, `what`), counted in the decoding statistics.
pub type Anomaly = (&'static str, &'static str);

/// Collects the observations of one packet or message, stamped with its time and flow.
pub struct Emitter<'a> {
    /// Capture (or arrival) time, Unix seconds.
    pub ts: f64,
    /// The flow the message belongs to, when there is one.
    pub flow: Option<Flow>,
    /// Where observations go.
    pub out: &'a mut Vec<Observation>,
    /// Anomalies seen while decoding this message; the flow engine counts them.
    pub anomalies: Vec<Anomaly>,
    /// What the consumers will read: decoders skip building what nobody reads.
    pub demand: &'a demand::Demand,
}

/// The demand of an emitter nobody narrowed: everything.
static EVERYTHING: demand::Demand = demand::Demand {
    json_key: None,
    fields: None,
};

impl<'a> Emitter<'a> {
    /// An emitter for one packet or message.
    pub fn new(ts: f64, flow: Option<Flow>, out: &'a mut Vec<Observation>) -> Self {
        Emitter {
            ts,
            flow,
            out,
            anomalies: Vec::new(),
            demand: &EVERYTHING,
        }
    }

    /// The same emitter, building only what `demand` asks for.
    pub fn demanding(mut self, demand: &'a demand::Demand) -> Self {
        self.demand = demand;
        self
    }

    /// Note an anomaly (`protocol`, `what`), e.g. `("http", "header_too_long")`.
    pub fn anomaly(&mut self, protocol: &'static str, what: &'static str) {
        if self.anomalies.len() < 64 {
            self.anomalies.push((protocol, what));
        }
    }

    /// Whether anyone reads `proto.field`: a decoder asks before it builds a costly value.
    pub fn wants(&self, proto: &str, field: &str) -> bool {
        self.demand.field(proto, field)
    }

    /// Record one fact, if anyone reads it ([`Emitter::wants`]; nothing is built otherwise).
    /// `proto.field` must be declared in [`fields`] (checked in debug builds). Values are cut
    /// at [`MAX_VALUE_LEN`] bytes on a char boundary.
    pub fn emit(
        &mut self,
        dir: Direction,
        proto: &'static str,
        field: &'static str,
        value: impl Into<String>,
    ) {
        debug_assert!(
            fields::is_declared(proto, field),
            "{proto}.{field} is emitted but not declared in decode::fields"
        );
        if !self.demand.field(proto, field) {
            return;
        }
        let mut value = value.into();
        if value.len() > MAX_VALUE_LEN {
            let mut cut = MAX_VALUE_LEN;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push('…');
        }
        self.out.push(Observation {
            ts: self.ts,
            proto,
            field,
            value,
            flow: self.flow,
            dir,
        });
    }
}

/// What a parser wants after a chunk of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Keep feeding this flow.
    Continue,
    /// Nothing more of interest will come from this flow (e.g. TLS after the ClientHello, a
    /// video stream): the engine stops buffering and parsing it, which is what keeps throughput
    /// high on camera networks where almost every byte is video.
    Done,
}

/// An application-layer parser for one flow. It is given the in-order bytes of each direction as
/// they are reassembled, in chunks of any size (a message may span several chunks; a chunk may
/// hold several messages). It keeps its own bounded buffer for partial messages.
pub trait AppParser: Send {
    /// Feed in-order bytes of `dir` (a chunk of any size); say whether more is wanted.
    fn feed(&mut self, dir: Direction, data: &[u8], em: &mut Emitter<'_>) -> Progress;

    /// `len` bytes of `dir` were lost (capture loss, a gap in reassembly). Parsers resync or give up.
    fn gap(&mut self, _dir: Direction, _len: u64, _em: &mut Emitter<'_>) -> Progress {
        Progress::Done
    }

    /// The flow ended (FIN/RST, timeout, end of capture): flush what is complete.
    fn close(&mut self, _em: &mut Emitter<'_>) {}
}

/// Lossy UTF-8 for values taken off the wire, with control characters replaced, so a value is
/// always printable in a terminal table and safe in JSON.
pub fn printable(bytes: &[u8]) -> String {
    // Most values on the wire are printable ASCII: one copy, no per-character pass.
    if bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return s.to_owned();
        }
    }
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}
