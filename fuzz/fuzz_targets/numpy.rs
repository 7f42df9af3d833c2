#![no_main]
//! The numpy model parser over arbitrary bytes: a clear error, never a panic or a huge allocation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::numpy::looks_like(data);
    let _ = banwatch::decode::models::numpy::parse(data);
});
