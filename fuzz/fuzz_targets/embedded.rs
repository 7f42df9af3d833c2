#![no_main]
//! Models embedded in source text (Python bytes literals, base64 strings) over arbitrary
//! bytes: a clear error, never a panic or a runaway decode. The sniffer's own entry point runs
//! too, so that the nesting it follows is fuzzed with it.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use banwatch::decode::models::embedded;
    let any = |b: &[u8]| b.len() > 16;
    let _ = embedded::looks_like(data, &any);
    let _ = embedded::inner_file(data, &any);
    let _ = banwatch::decode::models::sniff_and_parse("model.py", data, &|_| None);
});
