//! Tests of the 7z reader: real archives made by 7z, and hostile headers.

use super::*;
use std::path::PathBuf;
use std::process::Command;

fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn bytes(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n).map(|_| rng(&mut seed) as u8).collect()
}

/// The test tree, written once; None when `7z` is missing.
fn tree(tag: &str) -> Option<PathBuf> {
    Command::new("7z").arg("i").output().ok()?;
    let dir = std::env::temp_dir().join(format!("sevenz-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("t/sub/dir")).ok()?;
    std::fs::write(dir.join("t/a.bin"), bytes(100_000, 1)).ok()?;
    std::fs::write(dir.join("t/sub/dir/model.onnx"), bytes(20_000, 2)).ok()?;
    std::fs::write(dir.join("t/empty.txt"), b"").ok()?;
    Some(dir)
}

fn make(dir: &std::path::Path, name: &str, opts: &[&str]) -> Vec<u8> {
    let out = dir.join(name);
    let st = Command::new("7z")
        .arg("a")
        .args(opts)
        .arg(&out)
        .arg(".")
        .current_dir(dir.join("t"))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    std::fs::read(out).unwrap()
}

type Seen = Vec<(String, u64, Result<Vec<u8>, String>)>;

fn read_all(b: &[u8], max: usize, max_file: u64) -> (Seen, Option<String>) {
    let mut seen = Vec::new();
    let err = each(b, max, max_file, &mut |name, size, read| {
        seen.push((name.to_string(), size, read()));
    });
    (seen, err)
}

#[test]
fn archives_of_each_method() {
    let Some(dir) = tree("m") else {
        eprintln!("7z missing: skipped");
        return;
    };
    let a = bytes(100_000, 1);
    let m = bytes(20_000, 2);
    let cases: [(&str, &[&str]); 7] = [
        ("default.7z", &[]),
        ("lzma.7z", &["-m0=lzma"]),
        ("bzip2.7z", &["-m0=bzip2"]),
        ("deflate.7z", &["-m0=deflate"]),
        ("copy.7z", &["-m0=copy"]),
        ("nonsolid.7z", &["-ms=off"]),
        ("plainhdr.7z", &["-mhc=off", "-m0=copy"]),
    ];
    for (name, opts) in cases {
        let b = make(&dir, name, opts);
        assert!(is_7z(&b));
        let (seen, err) = read_all(&b, 100, 1 << 20);
        assert_eq!(err, None, "{name}");
        let got: Vec<(&str, u64, bool)> = seen
            .iter()
            .map(|(n, s, r)| {
                let want: &[u8] = if n == "a.bin" { &a } else { &m };
                (n.as_str(), *s, r.as_deref() == Ok(want))
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a.bin", 100_000, true),
                ("sub/dir/model.onnx", 20_000, true)
            ],
            "{name}"
        );
        // Limits: one file only; a per-file cap between the two sizes.
        let (seen, err) = read_all(&b, 1, 1 << 20);
        assert_eq!(seen.len(), 1);
        assert!(err.unwrap().contains("more than 1"));
        let (seen, _) = read_all(&b, 100, 50_000);
        assert!(seen[0].2.is_err() && seen[0].1 == 100_000);
        if name == "nonsolid.7z" {
            assert_eq!(seen[1].2.as_deref(), Ok(&m[..]));
        }
        // Unread files are skipped over in solid blocks.
        let mut names = Vec::new();
        let err = each(&b, 100, 1 << 20, &mut |n, _, read| {
            if n.ends_with(".onnx") {
                assert_eq!(read().as_deref(), Ok(&m[..]));
            }
            names.push(n.to_string());
        });
        assert_eq!(err, None);
        assert_eq!(names.len(), 2);
    }
    let enc = make(&dir, "enc.7z", &["-pSECRET", "-mhe=off"]);
    let (seen, err) = read_all(&enc, 100, 1 << 20);
    assert!(seen.is_empty());
    assert!(err.unwrap().contains("encrypted"));
    let enc = make(&dir, "enchdr.7z", &["-pSECRET", "-mhe=on"]);
    let (seen, err) = read_all(&enc, 100, 1 << 20);
    assert!(seen.is_empty());
    assert!(err.unwrap().contains("encrypted"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_inputs() {
    let Some(dir) = tree("h") else {
        eprintln!("7z missing: skipped");
        return;
    };
    let t0 = std::time::Instant::now();
    for (name, opts) in [("h1.7z", &[][..]), ("h2.7z", &["-ms=off", "-mhc=off"][..])] {
        let b = make(&dir, name, opts);
        for n in (0..b.len()).step_by(31) {
            let _ = read_all(&b[..n], 100, 1 << 20);
        }
        let mut s = 99u64;
        for _ in 0..1000 {
            let mut g = b.clone();
            for _ in 0..1 + rng(&mut s) % 3 {
                // Mostly in the headers, where the interesting damage is.
                let bit = if rng(&mut s) % 2 == 0 {
                    (rng(&mut s) % (g.len() as u64 * 8)) as usize
                } else {
                    let tail = (g.len().min(400) * 8) as u64;
                    g.len() * 8 - 1 - (rng(&mut s) % tail) as usize
                };
                g[bit / 8] ^= 1 << (bit % 8);
            }
            let _ = read_all(&g, 100, 1 << 20);
            // Also with the signature header's CRCs made right again.
            fix_crcs(&mut g);
            let _ = read_all(&g, 100, 1 << 20);
        }
    }
    assert!(read_all(b"7z\xBC\xAF\x27\x1C", 10, 10).1.is_some());
    assert!(t0.elapsed().as_secs() < 60, "{:?}", t0.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Recomputes the end header CRC and the start header CRC, when the offsets allow.
fn fix_crcs(g: &mut [u8]) {
    let off = u64::from_le_bytes(g[12..20].try_into().unwrap());
    let size = u64::from_le_bytes(g[20..28].try_into().unwrap());
    if let Some(h) = 32u64
        .checked_add(off)
        .and_then(|s| Some((s, s.checked_add(size)?)))
        .and_then(|(s, e)| g.get(s as usize..e as usize))
    {
        let c = crc32fast::hash(h);
        g[28..32].copy_from_slice(&c.to_le_bytes());
    }
    let c = crc32fast::hash(&g[12..32]);
    g[8..12].copy_from_slice(&c.to_le_bytes());
}

/// A 7z number, in its shortest form only for values below 0x80 or as 9 bytes.
fn num(v: u64) -> Vec<u8> {
    if v < 0x80 {
        vec![v as u8]
    } else {
        let mut x = vec![0xFF];
        x.extend_from_slice(&v.to_le_bytes());
        x
    }
}

/// A hand-made archive: one COPY folder of `packed` bytes declared to unpack to `size`.
fn handmade(packed: &[u8], size: u64, num_files: u64) -> Vec<u8> {
    let mut h = vec![K_HEADER, K_MAIN_STREAMS_INFO, K_PACK_INFO, 0];
    h.extend(num(1));
    h.push(K_SIZE);
    h.extend(num(packed.len() as u64));
    h.extend([
        K_END,
        K_UNPACK_INFO,
        K_FOLDER,
        1,
        0,
        1,
        0x01,
        0x00,
        K_CODERS_UNPACK_SIZE,
    ]);
    h.extend(num(size));
    h.extend([K_END, K_SUBSTREAMS_INFO, K_END, K_END, K_FILES_INFO]);
    h.extend(num(num_files));
    h.extend([0x11, 9, 0]);
    h.extend("big\0".encode_utf16().flat_map(u16::to_le_bytes));
    h.extend([K_END, K_END]);
    let mut b = SIGNATURE.to_vec();
    b.extend([0, 4, 0, 0, 0, 0]);
    b.extend((packed.len() as u64).to_le_bytes());
    b.extend((h.len() as u64).to_le_bytes());
    b.extend(crc32fast::hash(&h).to_le_bytes());
    b.extend(packed);
    b.extend(&h);
    fix_crcs(&mut b);
    b
}

#[test]
fn absurd_sizes() {
    let ok = handmade(b"0123456789", 10, 1);
    let (seen, err) = read_all(&ok, 10, 100);
    assert_eq!(err, None);
    assert_eq!(seen, [("big".to_string(), 10, Ok(b"0123456789".to_vec()))]);
    let tb = handmade(b"0123456789", 1 << 40, 1);
    let (seen, err) = read_all(&tb, 10, 1 << 30);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, 1 << 40);
    assert!(seen[0].2.as_ref().unwrap_err().contains("over the limit"));
    assert_eq!(err, None);
    let (seen, err) = read_all(&tb, 10, u64::MAX);
    assert!(seen[0].2.is_err() && err.is_some());
    let many = handmade(b"0123456789", 10, 1 << 40);
    let (seen, err) = read_all(&many, 10, 100);
    assert!(seen.is_empty() && err.is_some());
}
