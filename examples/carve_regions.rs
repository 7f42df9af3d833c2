//! Prints the carved regions of a blob: `cargo run --example carve_regions -- FILE`
fn main() {
    for p in std::env::args().skip(1) {
        let Ok(b) = std::fs::read(&p) else { continue };
        for r in banwatch::sources::offline::files::carve::regions(&b) {
            println!(
                "{p}: {:#x}..{:#x} {} ({} bytes)",
                r.offset,
                r.end,
                r.ext,
                r.end - r.offset
            );
        }
    }
}
