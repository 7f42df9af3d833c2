#![no_main]
//! Format recognition plus whichever parser it picks.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::sniff_and_parse("fuzz.bin", data, &|_| None);
});
