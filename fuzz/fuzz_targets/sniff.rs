#![no_main]
//! Format recognition plus whichever parser it picks, then the structural classifier on what
//! it read: shapes are numbers from the file, and no product or sum of them may overflow.
use banwatch::detect::fingerprint::{classify_named, FingerprintOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Ok(info)) = banwatch::decode::models::sniff_and_parse("fuzz.bin", data, &|_| None) {
        let opts = FingerprintOptions::default().with_catalog(false);
        let _ = classify_named(&info, "", "fuzz.bin", &opts);
    }
});
