#![no_main]
//! The tfjs model parser, graph reader and TF.js → ONNX converter over arbitrary bytes (the
//! bytes are also their own weight shard): a clear error, never a panic or a huge allocation.
use banwatch::decode::models::ModelFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::tfjs::parse(data);
    let shard = data.to_vec();
    let _ = banwatch::detect::fingerprint::probe::convert::to_onnx(
        ModelFormat::Tfjs,
        data,
        &move |_| Some(shard.clone()),
    );
});
