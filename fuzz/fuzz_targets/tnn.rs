#![no_main]
//! The TNN `.tnnproto` reader and the opaque-format recognisers (HEF, MNN, Paddle, Paddle
//! Lite, CoreML, Axera, TNN weights) over arbitrary bytes: a clear error, never a panic.
use banwatch::decode::models::{opaque, tnn, ModelFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tnn::looks_like(data);
    let _ = tnn::parse(data);
    let _ = opaque::looks_like_hef(data);
    let _ = opaque::looks_like_tnnmodel(data);
    for name in ["m.mnn", "m.pdmodel", "m.nb", "m.mlmodel", "m.axmodel"] {
        let _ = opaque::looks_like_mnn(data, name);
        let _ = opaque::looks_like_paddle(data, name);
        let _ = opaque::looks_like_paddle_lite(data, name);
        let _ = opaque::looks_like_coreml(data, name);
        let _ = opaque::looks_like_axmodel(data, name);
    }
    let _ = opaque::parse(data, ModelFormat::Hef);
    let _ = opaque::parse(data, ModelFormat::Mnn);
});
