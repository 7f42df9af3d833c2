//! The flow engine's counters.

use std::collections::BTreeMap;

/// Counters of one decoding run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames seen.
    pub packets: u64,
    /// Bytes of those frames.
    pub bytes: u64,
    /// Frames or headers that could not be parsed (truncated, malformed).
    pub malformed: u64,
    /// Frames of a link type the engine does not read.
    pub unsupported_linktype: u64,
    /// Frames that carry no IP (ARP, LLDP...).
    pub non_ip: u64,
    /// Non-first IP fragments (not reassembled).
    pub fragments: u64,
    /// TCP flows tracked.
    pub flows: u64,
    /// Flows given up after their parser was done or none claimed them.
    pub flows_bypassed: u64,
    /// Flows evicted because the table was full.
    pub flows_evicted: u64,
    /// Holes in reassembled streams (capture loss).
    pub gaps: u64,
    /// Observations emitted.
    pub observations: u64,
    /// Typed decoder anomalies, by (protocol, what).
    pub anomalies: BTreeMap<(&'static str, &'static str), u64>,
}

impl DecodeStats {
    /// What a report counts as errors: packets that could not be decoded.
    pub fn errors(&self) -> u64 {
        self.malformed + self.unsupported_linktype
    }

    /// Add another run's counters (a worker's, when flows are spread over several).
    pub fn absorb(&mut self, o: &DecodeStats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.malformed += o.malformed;
        self.unsupported_linktype += o.unsupported_linktype;
        self.non_ip += o.non_ip;
        self.fragments += o.fragments;
        self.flows += o.flows;
        self.flows_bypassed += o.flows_bypassed;
        self.flows_evicted += o.flows_evicted;
        self.gaps += o.gaps;
        self.observations += o.observations;
        for (k, n) in &o.anomalies {
            *self.anomalies.entry(*k).or_insert(0) += n;
        }
    }
}
