#![no_main]
//! The HDF5 reader over arbitrary bytes: the walk, every attribute and every dataset's contents
//! read: a clear error or a note, never a panic, a loop or a huge allocation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = banwatch::decode::models::hdf5::Hdf5::open(data) {
        let mut notes = Vec::new();
        if let Ok(objects) = f.objects(&mut notes) {
            for d in objects.iter().filter_map(|o| o.dataset.as_ref()) {
                let _ = f.read_f32(d);
            }
        }
    }
});
