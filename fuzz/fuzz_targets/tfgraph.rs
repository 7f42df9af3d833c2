#![no_main]
//! The TensorFlow GraphDef / SavedModel parser, and the whole-graph reader the probe's
//! converter uses (nodes, attributes, constant tensors), over arbitrary bytes: a clear error,
//! never a panic or a huge allocation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::tfgraph::looks_like(data);
    let _ = banwatch::decode::models::tfgraph::parse(data);
    let _ = banwatch::decode::models::tfgraph::nodes::read(data);
});
