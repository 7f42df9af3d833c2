//! Fuzz the rtsp flow parser as a two-way conversation in chunks, with an occasional gap
//! (`common/conversation.rs`).
#![no_main]

#[path = "common/conversation.rs"]
mod conversation;

use banwatch::decode::{rtsp::RtspParser, Emitter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    conversation::run(&mut RtspParser::new(), data, &mut em);
});
