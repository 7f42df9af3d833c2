//! Run OpenCV cascades on the probe's synthetic pictures and print what they fire on.
//!
//! `cargo run --release --example cascade_probe -- [--dump DIR] CASCADE.xml...`
//!
//! With `--dump`, also writes each picture as a grey PGM (`DIR/scene-N.pgm`) and, per cascade,
//! the windows accepted at scale one and the grouped detections over the whole pyramid
//! (`DIR/<cascade>.json`), for scripts/compare-cascade-opencv.py to check against OpenCV.
use banwatch::detect::fingerprint::probe::cascade::{comparison_record, run_cascade, scenes};

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let dump = match args.iter().position(|a| a == "--dump") {
        Some(i) => {
            let dir = args.get(i + 1).cloned();
            args.drain(i..(i + 2).min(args.len()));
            dir.map(std::path::PathBuf::from)
        }
        None => None,
    };
    let battery = scenes::battery();
    if let Some(dir) = &dump {
        std::fs::create_dir_all(dir)?;
        for (i, s) in battery.iter().enumerate() {
            std::fs::write(dir.join(format!("scene-{i}.pgm")), s.image.to_pgm())?;
        }
    }
    for path in &args {
        let bytes = std::fs::read(path)?;
        let c = match banwatch::decode::models::cascade::read(&bytes) {
            Ok(c) => c,
            Err(e) => {
                println!("{path}: {e}");
                continue;
            }
        };
        let report = run_cascade(&c)?;
        println!("{path}: {} ({:.0} ms)", report.summary(), report.millis);
        if let Some(dir) = &dump {
            let name = std::path::Path::new(path)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("cascade");
            std::fs::write(
                dir.join(format!("{name}.json")),
                serde_json::to_vec(&comparison_record(&c, battery, path, true))?,
            )?;
        }
    }
    Ok(())
}
