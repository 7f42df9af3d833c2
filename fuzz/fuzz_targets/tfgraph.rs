#![no_main]
//! The TensorFlow GraphDef / SavedModel parser over arbitrary bytes: a clear error, never a panic
//! or a huge allocation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::tfgraph::looks_like(data);
    let _ = banwatch::decode::models::tfgraph::parse(data);
});
