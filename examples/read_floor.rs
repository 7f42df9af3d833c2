//! The floor a capture scan cannot beat: map the file and walk its records with banwatch's own
//! pcap reader, reading one byte of every 64-byte line of each packet (summed, so the walk is
//! not optimised away: every cache line of the file is brought in) and
//! decoding nothing.
//!
//!   cargo run --release --example read_floor -- CAPTURE.pcap
fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: read_floor CAPTURE"))?;
    let file = std::fs::File::open(&path)?;
    // SAFETY: the file is only read; a concurrent truncation would fault, as for any mmap reader.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    let mut r = banwatch::sources::offline::pcap::PcapReader::new(&map, &path)?;
    let (mut packets, mut sum) = (0u64, 0u64);
    while let Some(p) = r.next_packet() {
        let p = p?;
        packets += 1;
        sum = p
            .data
            .iter()
            .step_by(64)
            .fold(sum, |s, b| s.wrapping_add(u64::from(*b)));
    }
    println!("{packets} packets, checksum {sum}");
    Ok(())
}
