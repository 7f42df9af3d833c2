//! Tests of the capture reader: both formats, resynchronisation, truncation.

use super::*;

type Packets = Vec<(f64, u32, Vec<u8>)>;

fn read_all(bytes: &[u8]) -> (Packets, Vec<String>, u64) {
    let mut r = match PcapReader::new(bytes, "t") {
        Ok(r) => r,
        Err(e) => return (vec![], vec![e.to_string()], 0),
    };
    let mut out = vec![];
    let mut errs = vec![];
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => out.push((p.ts, p.linktype, p.data.to_vec())),
            Err(e) => errs.push(e.to_string()),
        }
    }
    (out, errs, r.skipped_bytes())
}

fn classic(le: bool, nanos: bool) -> Vec<u8> {
    let w = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut b = w(magic).to_vec();
    b.extend_from_slice(&[0, 2, 0, 4]);
    if le {
        b[4..8].copy_from_slice(&[2, 0, 4, 0]);
    }
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&w(65535));
    b.extend_from_slice(&w(1));
    for i in 0..3u32 {
        b.extend_from_slice(&w(100 + i));
        b.extend_from_slice(&w(500));
        b.extend_from_slice(&w(3));
        b.extend_from_slice(&w(3));
        b.extend_from_slice(&[i as u8; 3]);
    }
    b
}

#[test]
fn classic_both_endians_and_resolutions() {
    for (le, nanos) in [(true, false), (false, false), (true, true), (false, true)] {
        let (pk, errs, skipped) = read_all(&classic(le, nanos));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!((pk.len(), skipped), (3, 0));
        assert_eq!(pk[1].2, vec![1, 1, 1]);
        let want = 101.0 + if nanos { 500e-9 } else { 500e-6 };
        assert!((pk[1].0 - want).abs() < 1e-9, "{}", pk[1].0);
    }
}

#[test]
fn a_truncated_tail_is_an_error_and_headers_are_checked() {
    let mut b = classic(true, false);
    b.truncate(b.len() - 2);
    let (pk, errs, _) = read_all(&b);
    assert_eq!(pk.len(), 2);
    assert!(errs[0].contains("truncated packet"), "{errs:?}");
    let (_, errs, _) = read_all(b"hello world, not a capture");
    assert!(errs[0].contains("not a pcap"));
    let (_, errs, _) = read_all(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]);
    assert!(errs[0].contains("truncated file header"));
}

#[test]
fn an_absurd_record_is_skipped_and_reading_goes_on() {
    // The second record claims 300,000 bytes: skipped, the third is read.
    let mut b = classic(true, false);
    let second = 24 + 19;
    b[second + 8..second + 12].copy_from_slice(&300_000u32.to_le_bytes());
    let (pk, errs, skipped) = read_all(&b);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("300000") && errs[0].contains("skipped"),
        "{errs:?}"
    );
    assert_eq!(pk.len(), 2);
    assert_eq!(pk[1].2, vec![2, 2, 2]);
    assert_eq!(skipped, 19);
    // The first record absurd: the rest is still found.
    let mut b = classic(true, false);
    b[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let (pk, errs, skipped) = read_all(&b);
    assert_eq!((pk.len(), errs.len(), skipped), (2, 1, 19));
    // Nothing plausible after the bad record: stop, with everything after it skipped.
    let mut b = classic(true, false);
    b[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    b.truncate(24 + 19 + 5);
    let (pk, errs, skipped) = read_all(&b);
    assert_eq!((pk.len(), errs.len(), skipped), (0, 1, 24));
}

fn block(t: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let total = (12 + body.len() + pad) as u32;
    let mut b = t.to_le_bytes().to_vec();
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(body);
    b.extend(std::iter::repeat_n(0, pad));
    b.extend_from_slice(&total.to_le_bytes());
    b
}

fn epb(iface: u32, ts: u64, data: &[u8]) -> Vec<u8> {
    let mut epb = iface.to_le_bytes().to_vec();
    epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    epb.extend_from_slice(&(ts as u32).to_le_bytes());
    epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
    epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
    epb.extend_from_slice(data);
    block(6, &epb)
}

fn pcapng_head() -> Vec<u8> {
    let mut f = block(
        0x0a0d_0d0a,
        &[
            0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
    );
    // IDB: linktype 113, snaplen, option if_tsresol = 9 (nanoseconds).
    let mut idb = vec![113, 0, 0, 0, 0xff, 0xff, 0, 0];
    idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
    f.extend(block(1, &idb));
    f
}

#[test]
fn pcapng_with_tsresol_and_unknown_blocks() {
    let mut f = pcapng_head();
    f.extend(block(0x0bad, &[1, 2, 3, 4]));
    let ts: u64 = 1_700_000_000_123_456_789;
    f.extend(epb(0, ts, b"hello"));
    let (pk, errs, _) = read_all(&f);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(pk.len(), 1);
    assert_eq!(pk[0].1, 113);
    assert_eq!(pk[0].2, b"hello");
    assert!((pk[0].0 - 1_700_000_000.123_456).abs() < 1e-5);
}

#[test]
fn pcapng_bad_blocks_are_skipped() {
    let mut f = pcapng_head();
    let undeclared = epb(7, 1, b"lost!");
    let skipped_len = undeclared.len() as u64;
    f.extend(undeclared);
    f.extend(epb(0, 2, b"kept"));
    // A block whose length is garbage, then a good one.
    let mut broken = epb(0, 3, b"broken");
    broken[4..8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let broken_len = broken.len() as u64;
    f.extend(broken);
    f.extend(epb(0, 4, b"after"));
    let (pk, errs, skipped) = read_all(&f);
    let bodies: Vec<&[u8]> = pk.iter().map(|p| p.2.as_slice()).collect();
    assert_eq!(bodies, [&b"kept"[..], b"after"], "{errs:?}");
    assert!(errs[0].contains("undeclared interface 7"), "{errs:?}");
    assert!(errs[1].contains("bad block length"), "{errs:?}");
    assert_eq!(skipped, skipped_len + broken_len);
}

#[test]
fn is_capture_knows_all_magics() {
    assert!(is_capture(&[0xd4, 0xc3, 0xb2, 0xa1]));
    assert!(is_capture(&[0x0a, 0x0d, 0x0d, 0x0a]));
    assert!(!is_capture(b"PK\x03\x04"));
    assert!(!is_capture(&[0xd4]));
}
