#![no_main]
//! The Torch 7 (`.t7`) parser over arbitrary bytes: a clear error, never a panic, a stack
//! overflow or a huge allocation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::torch7::looks_like(data);
    let _ = banwatch::decode::models::torch7::parse(data);
});
