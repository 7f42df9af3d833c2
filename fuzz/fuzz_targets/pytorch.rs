#![no_main]
//! The pytorch model parser, state-dict tensor reader and PyTorch → ONNX converter over
//! arbitrary bytes: a clear error, never a panic or a huge allocation.
use banwatch::decode::models::ModelFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::pytorch::parse(data);
    let _ = banwatch::detect::fingerprint::probe::convert::to_onnx(ModelFormat::Pytorch, data, &|_| None);
});
