#![no_main]
//! The cascade model parser over arbitrary bytes: a clear error, never a panic or a huge allocation.
//! The whole-cascade reader too, and a cascade it accepts is evaluated on one small picture (a
//! tree that loops, a feature outside the window or an index out of range would panic there).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = banwatch::decode::models::cascade::parse(data);
    if let Ok(c) = banwatch::decode::models::cascade::read(data) {
        use banwatch::detect::fingerprint::probe::cascade::eval;
        let g = eval::Gray {
            width: 48,
            height: 40,
            pixels: (0..48 * 40).map(|i| (i * 97 % 256) as u8).collect(),
        };
        let _ = eval::detect(&c, &g, &mut eval::Budget::new(2_000_000));
    }
});
