//! Fuzz the HTTP/2 flow parser past its preface, so that frames and HPACK are reached, as a
//! two-way conversation in chunks, with an occasional gap (`common/conversation.rs`).
#![no_main]

#[path = "common/conversation.rs"]
mod conversation;

use banwatch::decode::http::h2::{Http2Parser, PREFACE};
use banwatch::decode::{AppParser, Emitter};
use banwatch::model::Direction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    let mut p = Http2Parser::new(true);
    p.feed(Direction::ToServer, PREFACE, &mut em);
    conversation::run(&mut p, data, &mut em);
});
