//! Writes a firmware-like raw blob of about N MB: pseudo-random bytes with the fixture models
//! (../shared/fixtures/models) embedded every few megabytes, for carving benchmarks.
//!
//!   cargo run --release --example gen_blob -- OUT.bin 500
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(out), mb) = (
        args.first(),
        args.get(1).map(|s| s.parse::<usize>()).transpose()?,
    ) else {
        anyhow::bail!("usage: gen_blob OUT.bin [MEGABYTES]");
    };
    let target = mb.unwrap_or(500) * 1_000_000;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/models");
    let mut models = Vec::new();
    for sub in [
        "face-recognition-embedding",
        "face-detection",
        "face-landmarks-alignment",
    ] {
        for e in walk(&dir.join(sub)) {
            if e.extension().is_some_and(|x| x == "onnx" || x == "tflite") {
                models.push(std::fs::read(&e)?);
            }
        }
    }
    anyhow::ensure!(
        !models.is_empty(),
        "no fixture models under {}",
        dir.display()
    );
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut written = 0;
    let mut embedded = 0;
    let chunk = 4 << 20;
    let mut buf = vec![0u8; chunk];
    while written < target {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        w.write_all(&buf)?;
        written += chunk;
        let m = &models[embedded % models.len()];
        w.write_all(m)?;
        written += m.len();
        embedded += 1;
    }
    w.flush()?;
    eprintln!("{out}: {written} bytes, {embedded} models embedded");
    Ok(())
}

fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
