//! Writes the demo site's traffic to a pcap file.
//!
//!   cargo run --release --example gen_capture -- sample OUT.pcap      # the shipped sample
//!   cargo run --release --example gen_capture -- bulk OUT.pcap 500    # ~500 MB for benchmarks
//!   cargo run --release --example gen_capture -- realistic OUT.pcap 100000   # 100 k short flows
use std::io::BufWriter;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, path) = match (args.first(), args.get(1)) {
        (Some(m), Some(p)) => (m.as_str(), p.as_str()),
        _ => anyhow::bail!("usage: gen_capture sample|bulk|realistic OUT.pcap [MEGABYTES|FLOWS]"),
    };
    let out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let w = match mode {
        "sample" => banwatch::sim::scenario::write_sample(out)?,
        "bulk" => {
            let mb: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(500);
            banwatch::sim::scenario::write_bulk(out, mb * 1_000_000)?
        }
        "realistic" => {
            let flows: u64 = args
                .get(2)
                .map(|s| s.parse())
                .transpose()?
                .unwrap_or(100_000);
            banwatch::sim::realistic::write_realistic(out, flows)?
        }
        other => anyhow::bail!("unknown mode {other:?}: sample, bulk or realistic"),
    };
    eprintln!("{path}: {} packets, {} bytes", w.packets, w.bytes);
    Ok(())
}
