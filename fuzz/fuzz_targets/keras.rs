#![no_main]
//! The keras model parser, and the reader of a Lambda layer's marshalled Python code (the
//! bytes given base64-encoded, as Keras stores them), over arbitrary bytes: a clear error,
//! never a panic or a huge allocation.
use base64::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::keras::parse(data);
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let _ = banwatch::decode::models::pyfunc::read(&text);
});
