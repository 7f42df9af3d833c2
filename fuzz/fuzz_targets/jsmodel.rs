#![no_main]
//! The web-script model reader, the clmtrackr model reader and its converter, and the BBF
//! cascade reader over arbitrary bytes, and a cascade that reads evaluated on one probe
//! picture: a clear error, never a panic or a huge allocation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::jsmodel::parse(data);
    if banwatch::decode::models::clm::read(data).is_ok() {
        let _ = banwatch::detect::fingerprint::probe::convert::clm::convert(data);
    }
    if let Ok(c) = banwatch::decode::models::cascade::bbf::read(data) {
        use banwatch::detect::fingerprint::probe::cascade::{bbf, scenes};
        let mut budget = 2_000_000u64;
        if let Some(scene) = scenes::battery().first() {
            let _ = bbf::detect_objects(&c, &scene.image, &mut budget);
        }
    }
});
