#![no_main]
//! The onnx model parser and the probe's folding of constant DequantizeLinear nodes over
//! arbitrary bytes: a clear error, never a panic or a huge allocation.
use banwatch::decode::models::ModelFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::onnx::parse(data);
    let _ = banwatch::detect::fingerprint::probe::convert::to_onnx(ModelFormat::Onnx, data, &|_| None);
});
