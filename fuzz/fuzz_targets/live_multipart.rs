//! The event-stream multipart splitter, fed in random-sized chunks: bounded, no panic.
#![no_main]
use banwatch::taps::http_stream::{MultipartSplitter, MAX_PART};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cut, rest) = data.split_at(data.len().min(1));
    let step = usize::from(cut.first().copied().unwrap_or(7)).max(1);
    let mut s = MultipartSplitter::new("myboundary");
    for chunk in rest.chunks(step) {
        s.push(chunk);
        while s.next_part().is_some() {}
        assert!(s.buffered() <= MAX_PART + 64 * 1024 + step);
    }
});
