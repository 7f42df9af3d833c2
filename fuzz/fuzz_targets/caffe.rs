#![no_main]
//! The Caffe model parsers (prototxt and caffemodel), the caffemodel network reader and the
//! Caffe → ONNX converter over arbitrary bytes: a clear error, never a panic or a huge
//! allocation.
use banwatch::decode::models::ModelFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::caffe::parse(data);
    let _ = banwatch::detect::fingerprint::probe::convert::to_onnx(ModelFormat::Caffe, data, &|_| None);
});
