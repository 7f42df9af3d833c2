#![no_main]
//! The capture reader over arbitrary bytes: errors, never panics or unbounded allocation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = banwatch::taps::pcap::PcapReader::from_reader(Box::new(std::io::Cursor::new(data.to_vec())), "fuzz") else {
        return;
    };
    let mut n = 0;
    while let Some(p) = r.next_packet() {
        n += 1;
        if p.is_err() || n > 10_000 {
            break;
        }
    }
});
