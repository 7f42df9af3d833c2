//! STUB of the flow engine (the `net` branch owns the real one; the lead replaces this file at
//! merge). Same API, so the live capture tap compiles and runs; it extracts nothing.

use crate::model::Observation;

#[derive(Debug, Clone, Default)]
pub struct DecoderConfig {}

#[derive(Debug, Default)]
pub struct Decoder {
    packets: u64,
}

impl Decoder {
    pub fn new(_cfg: DecoderConfig) -> Decoder {
        Decoder::default()
    }

    /// Feed one captured packet (`linktype` as in pcap).
    pub fn packet(&mut self, _ts: f64, _linktype: u32, _data: &[u8], _out: &mut Vec<Observation>) {
        self.packets += 1;
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }
}
