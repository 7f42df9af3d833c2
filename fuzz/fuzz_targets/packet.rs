#![no_main]
//! The whole decoding engine over arbitrary frames: the first byte picks the link type, the rest
//! is split into packets, so TCP reassembly and every application parser see hostile input.
use banwatch::decode::flow::{Decoder, DecoderConfig};
use libfuzzer_sys::fuzz_target;

const LINKTYPES: [u32; 8] = [1, 0, 101, 113, 276, 104, 108, 228];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let lt = LINKTYPES[usize::from(sel) % LINKTYPES.len()];
    let mut d = Decoder::new(DecoderConfig { max_flows: 64, ..DecoderConfig::default() });
    let mut out = Vec::new();
    for (i, pkt) in rest.split(|b| *b == 0xff).enumerate() {
        d.packet(i as f64, lt, pkt, &mut out);
    }
    d.finish(&mut out);
});
