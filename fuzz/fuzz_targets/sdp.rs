//! Fuzz the SDP parser.
#![no_main]

use banwatch::decode::{sdp, Emitter};
use banwatch::model::Direction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    let s = sdp::parse(data, Direction::ToClient, &mut em);
    for m in &s.media {
        let _ = (m.is_onvif_metadata(), m.is_gzip());
    }
});
