//! Fuzz the HTTP/2 flow parser, past its preface so that frames and HPACK are reached: the
//! first byte picks the chunk size, the second the direction pattern; the rest is fed as a
//! two-way conversation, with an occasional gap.
#![no_main]

use banwatch::decode::http::h2::{Http2Parser, PREFACE};
use banwatch::decode::{AppParser, Emitter, Progress};
use banwatch::model::Direction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (Some(&size), Some(&pattern)) = (data.first(), data.get(1)) else {
        return;
    };
    let rest = data.get(2..).unwrap_or(&[]);
    let chunk = usize::from(size).max(1);
    let mut out = Vec::new();
    let mut em = Emitter::new(0.0, None, &mut out);
    let mut p = Http2Parser::new(true);
    p.feed(Direction::ToServer, PREFACE, &mut em);
    for (i, c) in rest.chunks(chunk).enumerate() {
        let dir = if (pattern >> (i % 8)) & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let r = if size == 255 && i == 3 {
            p.gap(dir, c.len() as u64, &mut em)
        } else {
            p.feed(dir, c, &mut em)
        };
        if r == Progress::Done {
            break;
        }
    }
    p.close(&mut em);
});
