//! The multipart splitter as live event streams use it (restartable, parts completed by their
//! Content-Length), fed in random-sized chunks: bounded, no panic.
#![no_main]
use banwatch::decode::multipart::MultipartSplitter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cut, rest) = data.split_at(data.len().min(1));
    let step = usize::from(cut.first().copied().unwrap_or(7)).max(1);
    let mut s = MultipartSplitter::new("myboundary").restartable().with_max_part(64 * 1024);
    for chunk in rest.chunks(step) {
        s.feed(chunk, &mut |_| {});
        s.flush_complete(&mut |_| {});
        assert!(s.buffered() <= 64 * 1024 + 16 * 1024 + step + 64);
    }
});
