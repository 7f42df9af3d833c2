#![no_main]
//! The pickle reader (raw, zlib, gzip and LZ4 joblib files) over arbitrary bytes: a clear
//! error, never a panic, a huge allocation or a runaway walk.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::joblib::looks_like(data);
    let _ = banwatch::decode::models::joblib::parse(data);
    // The walker on its own, where no compression or sniffing stands in front of it.
    let _ = banwatch::decode::models::pickle::walk(data, 4);
});
