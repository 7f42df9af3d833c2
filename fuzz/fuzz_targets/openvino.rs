#![no_main]
//! The OpenVINO IR parser, its graph reader and the IR → ONNX converter over arbitrary bytes
//! (the first half as the `.xml`, the rest as its `.bin`): a clear error, never a panic or a
//! huge allocation.
use banwatch::decode::models::ModelFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::openvino::parse(data);
    let _ = banwatch::decode::models::openvino::graph::read(data);
    let (xml, bin) = data.split_at(data.len() / 2);
    let bin = bin.to_vec();
    let _ = banwatch::detect::fingerprint::probe::convert::to_onnx(
        ModelFormat::Openvino,
        xml,
        &move |_| Some(bin.clone()),
    );
});
