#![no_main]
//! Walking and carving an arbitrary "firmware" file (archives inside, bounded expansion).
use banwatch::sources::offline::files::{walk, Carve, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("banwatch-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join("fw.bin");
    if std::fs::write(&p, data).is_err() {
        return;
    }
    let limits = Limits { max_total: 64 << 20, max_file: 16 << 20, ..Limits::default() };
    let _ = walk(&p, &limits, &mut |f| {
        // As the scan does: traffic is read, models parsed, anything else carved.
        if let Some(t) = banwatch::sources::offline::traffic_format(f.bytes) {
            let _ = (t.read)(f.bytes, &f.path, &Default::default(), &mut |_| {}, &mut |_, _| {});
            return Carve::No;
        }
        match banwatch::decode::models::sniff_and_parse(&f.path, f.bytes, f.sibling) {
            Some(Ok(_)) => Carve::No,
            _ => Carve::Yes,
        }
    });
});
