#![no_main]
//! The web-script model reader over arbitrary bytes: a clear error, never a panic or a huge allocation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::jsmodel::parse(data);
});
