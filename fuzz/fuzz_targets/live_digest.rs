//! WWW-Authenticate Digest challenges from devices.
#![no_main]
use banwatch::taps::digest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Some(ch) = digest::parse_challenge(&s) {
        let _ = digest::authorization(&ch, "u", "p", "GET", "/", 1, "c");
    }
    let _ = digest::verify(&s, "r", "n", "u", "p", "GET");
});
