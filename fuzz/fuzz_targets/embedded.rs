#![no_main]
//! Models embedded in source text (Python bytes literals, base64 strings) over arbitrary
//! bytes: a clear error, never a panic or a runaway decode.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::embedded::looks_like(data);
    let _ = banwatch::decode::models::embedded::parse(data);
});
