#![no_main]
//! The ncnn model parser and the NCNN → ONNX converter over arbitrary bytes (the first half as
//! the `.param`, the rest as its `.bin`): a clear error, never a panic or a huge allocation.
use banwatch::decode::models::ModelFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::ncnn::parse(data);
    let (param, bin) = data.split_at(data.len() / 2);
    let bin = bin.to_vec();
    let _ = banwatch::detect::fingerprint::probe::convert::to_onnx(
        ModelFormat::Ncnn,
        param,
        &move |_| Some(bin.clone()),
    );
});
