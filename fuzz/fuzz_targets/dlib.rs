#![no_main]
//! The dlib model parser, chain reader and dlib → ONNX converter over arbitrary bytes: a clear
//! error, never a panic or a huge allocation.
use banwatch::decode::models::ModelFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::dlib::parse(data);
    let _ = banwatch::detect::fingerprint::probe::convert::to_onnx(ModelFormat::Dlib, data, &|_| None);
});
