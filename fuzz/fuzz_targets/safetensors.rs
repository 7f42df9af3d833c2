#![no_main]
//! The safetensors model parser over arbitrary bytes: a clear error, never a panic or a huge allocation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::safetensors::looks_like(data);
    let _ = banwatch::decode::models::safetensors::parse(data);
});
