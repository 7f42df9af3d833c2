#![no_main]
//! The capture reader over arbitrary bytes, resynchronising after bad records: errors, never
//! panics, and it always ends (every call moves forward or stops).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = banwatch::sources::offline::pcap::PcapReader::new(data, "fuzz") else {
        return;
    };
    let mut last = r.position();
    let mut n = 0u64;
    while let Some(p) = r.next_packet() {
        n += 1;
        let _ = p;
        assert!(r.position() > last || r.position() as usize >= data.len());
        last = r.position();
        assert!(n <= data.len() as u64);
    }
    assert!(r.skipped_bytes() <= data.len() as u64);
});
