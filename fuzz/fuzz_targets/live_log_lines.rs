//! Zeek JSON and Suricata EVE log lines.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::sources::offline::logs::zeek::decode_line(data);
    let _ = banwatch::sources::offline::logs::eve::decode_line(data);
});
