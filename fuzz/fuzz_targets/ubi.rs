#![no_main]
//! UBI images and UBIFS volumes past their CRCs: the input's UBI headers (every 64-byte EC and
//! VID header, at the offsets the first EC header names) and UBIFS nodes (every 8-aligned node
//! header) get correct CRCs before parsing, so the fuzzer reaches the volume table, the index
//! walk, the journal and the decompressors instead of stopping at a checksum.
use banwatch::sources::offline::files::{ubi, ubifs};
use libfuzzer_sys::fuzz_target;

fn crc(b: &[u8]) -> u32 {
    !crc32fast::hash(b)
}

fn fix_ubi(d: &mut [u8]) {
    let (Some(vid), Some(_)) = (d.get(16..20), d.get(20..24)) else {
        return;
    };
    let vid = u32::from_be_bytes([vid[0], vid[1], vid[2], vid[3]]) as usize;
    // PEBs of 2 KiB upwards: fix headers at every power-of-two stride the input could use.
    for peb in [2048usize, 4096, 16384, 65536, 131072] {
        let mut at = 0;
        while at + 64 <= d.len() {
            if d[at..].starts_with(b"UBI#") {
                let c = crc(&d[at..at + 60]);
                d[at + 60..at + 64].copy_from_slice(&c.to_be_bytes());
            }
            let v = at + vid;
            if v + 64 <= d.len() && d[v..].starts_with(b"UBI!") {
                let c = crc(&d[v..v + 60]);
                d[v + 60..v + 64].copy_from_slice(&c.to_be_bytes());
            }
            at += peb;
        }
    }
    // Volume-table records (172 bytes, CRC over the first 168) wherever they may sit.
    let mut at = 0;
    while at + 172 <= d.len() {
        if d[at..at + 4] != *b"UBI#" && d[at..at + 4] != *b"UBI!" && d[at + 12] == 0 && d[at + 14] < 2 {
            let c = crc(&d[at..at + 168]);
            d[at + 168..at + 172].copy_from_slice(&c.to_be_bytes());
        }
        at += 172;
    }
}

fn fix_ubifs(d: &mut [u8]) {
    let mut at = 0;
    while at + 24 <= d.len() {
        if d[at..at + 4] == 0x0610_1831u32.to_le_bytes() {
            let len = u32::from_le_bytes([d[at + 16], d[at + 17], d[at + 18], d[at + 19]]) as usize;
            if len >= 24 && at + len <= d.len() {
                let c = crc(&d[at + 8..at + len]);
                d[at + 4..at + 8].copy_from_slice(&c.to_le_bytes());
            }
        }
        at += 8;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut d = data.to_vec();
    fix_ubifs(&mut d);
    let _ = ubifs::ubifs_each(&d, 100, 16 << 20, &mut |_, _, read| {
        let _ = read();
    });
    fix_ubi(&mut d);
    let _ = ubi::ubi_extent(&d, 0);
    let (volumes, _) = ubi::ubi_volumes(&d, 16 << 20);
    for v in volumes {
        let _ = ubifs::ubifs_each(&v.data, 100, 16 << 20, &mut |_, _, read| {
            let _ = read();
        });
    }
});
