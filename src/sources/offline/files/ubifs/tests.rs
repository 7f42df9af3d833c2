//! UBI and UBIFS images built by the real tools (`mkfs.ubifs`, `ubinize` from mtd-utils), and
//! hostile variants of them.

use super::*;
use crate::sources::offline::files::ubi::{crc32_raw, is_ubi, ubi_extent, ubi_volumes};
use std::path::Path;
use std::process::Command;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The regular files of the test tree, by path.
fn make_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut files = BTreeMap::new();
    files.insert("/a.bin".to_string(), rng.bytes(100 * 1024));
    let mut model = Vec::new();
    while model.len() < 20 * 1024 {
        model.extend_from_slice(b"onnx-model-layer-weights ");
        model.extend_from_slice(&rng.bytes(7));
    }
    files.insert("/sub/dir/model.onnx".to_string(), model);
    files.insert("/empty.txt".to_string(), Vec::new());
    files.insert("/sub/small.txt".to_string(), b"hello ubifs\n".to_vec());
    for (p, d) in &files {
        let full = dir.join(&p[1..]);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, d).unwrap();
    }
    std::os::unix::fs::symlink("a.bin", dir.join("link")).unwrap();
    std::fs::create_dir_all(dir.join("emptydir")).unwrap();
    files
}

fn run(cmd: &mut Command) -> bool {
    match cmd.output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            println!("{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
            false
        }
        Err(e) => panic!("cannot run {cmd:?}: {e}"),
    }
}

/// Builds a UBIFS image with `compr`; None if this mkfs.ubifs refuses it.
fn mkfs(tmp: &Path, root: &Path, compr: &str) -> Option<Vec<u8>> {
    let out = tmp.join(format!("fs-{compr}.ubifs"));
    let ok = run(Command::new("mkfs.ubifs")
        .arg("-r")
        .arg(root)
        .args(["-m", "2048", "-e", "126976", "-c", "200", "-x", compr, "-o"])
        .arg(&out));
    ok.then(|| std::fs::read(&out).unwrap())
}

fn all_files(img: &[u8]) -> (BTreeMap<String, Vec<u8>>, Option<String>) {
    let mut got = BTreeMap::new();
    let err = ubifs_each(img, 1000, 1 << 24, &mut |path, size, read| {
        let data = read().unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(data.len() as u64, size, "{path}");
        assert!(got.insert(path.to_string(), data).is_none(), "{path} twice");
    });
    (got, err)
}

fn check_same(got: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (p, d) in want {
        assert!(got[p] == *d, "{p} differs");
    }
}

#[test]
fn ubifs_all_compressors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let want = make_tree(&root);
    for compr in ["lzo", "zlib", "none", "zstd", "favor_lzo"] {
        let Some(img) = mkfs(tmp.path(), &root, compr) else {
            println!("note: mkfs.ubifs refused -x {compr}: variant skipped");
            continue;
        };
        assert!(is_ubifs(&img), "{compr}");
        assert!(!is_ubi(&img));
        let (got, err) = all_files(&img);
        assert_eq!(err, None, "{compr}");
        check_same(&got, &want);
        let types = compr_types(&img);
        println!("{compr}: data node compression types {types:?}");
        let expect = match compr {
            "lzo" | "favor_lzo" => 1,
            "zlib" => 2,
            "zstd" => 3,
            _ => 0,
        };
        assert!(types.contains(&expect), "{compr}: {types:?}");
    }
}

/// The compression types used by the data nodes of an image.
fn compr_types(img: &[u8]) -> std::collections::BTreeSet<u16> {
    let mut notes = Notes::default();
    let fs = Fs::open(img, &mut notes).unwrap();
    let leaves = fs.walk_index(&fs.master().unwrap(), 1 << 20).unwrap();
    leaves
        .data
        .values()
        .map(|(_, raw)| le16(raw, 44).unwrap())
        .collect()
}

#[test]
fn ubifs_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    make_tree(&root);
    let img = mkfs(tmp.path(), &root, "lzo").unwrap();
    let mut n = 0;
    let err = ubifs_each(&img, 2, 1000, &mut |path, _, read| {
        n += 1;
        if path == "/a.bin" {
            assert!(read().is_err());
        }
    });
    assert_eq!(n, 2);
    assert!(err.unwrap().contains("more than 2 files"));
}

#[test]
fn ubifs_fallback_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let want = make_tree(&root);
    let mut img = mkfs(tmp.path(), &root, "zlib").unwrap();
    // Destroy both master LEBs: the index root is lost.
    let leb = 126976;
    img[leb..3 * leb].fill(0xff);
    let (got, err) = all_files(&img);
    assert!(err.unwrap().contains("linear scan"));
    check_same(&got, &want);
}

fn ubinize(tmp: &Path, fs_img: &Path, raw: &Path) -> Vec<u8> {
    let ini = tmp.join("ubi.ini");
    std::fs::write(
        &ini,
        format!(
            "[rootfs]\nmode=ubi\nimage={}\nvol_id=0\nvol_type=dynamic\nvol_name=rootfs\nvol_size=8MiB\n\n\
             [blob]\nmode=ubi\nimage={}\nvol_id=1\nvol_type=static\nvol_name=blob\n",
            fs_img.display(),
            raw.display()
        ),
    )
    .unwrap();
    let out = tmp.join("ubi.img");
    assert!(run(Command::new("ubinize")
        .arg("-o")
        .arg(&out)
        .args(["-m", "2048", "-p", "128KiB", "-s", "512"])
        .arg(&ini)));
    std::fs::read(out).unwrap()
}

fn make_ubi(tmp: &Path) -> (Vec<u8>, BTreeMap<String, Vec<u8>>) {
    let root = tmp.join("root");
    let want = make_tree(&root);
    mkfs(tmp, &root, "lzo").unwrap();
    let img = ubinize(tmp, &tmp.join("fs-lzo.ubifs"), &root.join("a.bin"));
    (img, want)
}

#[test]
fn ubifs_journal_replay() {
    /// A UBIFS node with a valid header and CRC, padded to 8 bytes.
    fn node(ty: u8, sqnum: u64, body: &[u8]) -> Vec<u8> {
        let mut n = vec![0u8; 24];
        n[..4].copy_from_slice(&UBIFS_NODE_MAGIC.to_le_bytes());
        n[8..16].copy_from_slice(&sqnum.to_le_bytes());
        n[16..20].copy_from_slice(&(24 + body.len() as u32).to_le_bytes());
        n[20] = ty;
        n.extend_from_slice(body);
        let crc = crc32_raw(&n[8..]);
        n[4..8].copy_from_slice(&crc.to_le_bytes());
        n.resize(n.len().next_multiple_of(8), 0);
        n
    }
    fn key(inum: u32, ty: u32, low: u32) -> Vec<u8> {
        let mut k = inum.to_le_bytes().to_vec();
        k.extend_from_slice(&((ty << 29) | low).to_le_bytes());
        k.resize(16, 0);
        k
    }
    fn dent(parent: u32, hash: u32, inum: u64, name: &[u8]) -> Vec<u8> {
        let mut d = key(parent, 2, hash);
        d.extend_from_slice(&inum.to_le_bytes());
        d.extend_from_slice(&[0, UBIFS_ITYPE_REG]);
        d.extend_from_slice(&(name.len() as u16).to_le_bytes());
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(name);
        d.push(0);
        d
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let mut want = make_tree(&root);
    let mut img = mkfs(tmp.path(), &root, "lzo").unwrap();
    let leb = 126976;
    let cs = u64::from_le_bytes(img[3 * leb + 8..3 * leb + 16].try_into().unwrap());
    let bud = img.len() / leb;
    img.resize(img.len() + leb, 0xff);
    let mut ino = key(1000, 0, 0);
    ino.resize(136, 0);
    ino[24..32].copy_from_slice(&5u64.to_le_bytes());
    ino[68..72].copy_from_slice(&1u32.to_le_bytes());
    ino[80..84].copy_from_slice(&0o100644u32.to_le_bytes());
    let mut data = key(1000, 1, 0);
    data.extend_from_slice(&5u32.to_le_bytes());
    data.extend_from_slice(&[0; 4]);
    data.extend_from_slice(b"hello");
    let mut nodes = node(UBIFS_INO_NODE, cs + 2, &ino);
    nodes.extend(node(UBIFS_DATA_NODE, cs + 3, &data));
    nodes.extend(node(
        UBIFS_DENT_NODE,
        cs + 4,
        &dent(1, 123, 1000, b"journal.txt"),
    ));
    nodes.extend(node(
        UBIFS_DENT_NODE,
        cs + 5,
        &dent(1, 456, 0, b"empty.txt"),
    ));
    // A stale node from before the commit must not be applied.
    nodes.extend(node(
        UBIFS_DENT_NODE,
        cs - 1,
        &dent(1, 789, 1000, b"stale.txt"),
    ));
    img[bud * leb..bud * leb + nodes.len()].copy_from_slice(&nodes);
    let mut r = (bud as u32).to_le_bytes().to_vec();
    r.extend_from_slice(&[0; 4]);
    r.extend_from_slice(&1u32.to_le_bytes());
    r.resize(40, 0);
    let r = node(UBIFS_REF_NODE, cs + 1, &r);
    img[3 * leb + 32..3 * leb + 32 + r.len()].copy_from_slice(&r);
    let (got, err) = all_files(&img);
    assert_eq!(err, None);
    want.remove("/empty.txt");
    want.insert("/journal.txt".into(), b"hello".to_vec());
    check_same(&got, &want);
}

#[test]
fn ubi_image_volumes() {
    let tmp = tempfile::tempdir().unwrap();
    let (img, want) = make_ubi(tmp.path());
    assert!(is_ubi(&img));
    assert!(!is_ubifs(&img));
    let (vols, err) = ubi_volumes(&img, 64 << 20);
    assert_eq!(err, None);
    let names: Vec<_> = vols.iter().map(|v| (v.id, v.name.as_str())).collect();
    assert_eq!(names, [(0, "rootfs"), (1, "blob")]);
    assert!(is_ubifs(&vols[0].data));
    let (got, err) = all_files(&vols[0].data);
    assert_eq!(err, None);
    check_same(&got, &want);
    assert_eq!(
        vols[1].data, want["/a.bin"],
        "static volume holds exactly a.bin"
    );
    // Per-volume limit.
    let (vols, err) = ubi_volumes(&img, 50 * 1024);
    assert!(vols.is_empty());
    assert!(err.unwrap().contains("larger than"));
}

#[test]
fn ubi_extent_in_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let (img, _) = make_ubi(tmp.path());
    let mut blob = vec![0x5au8; 4096];
    blob.extend_from_slice(&img);
    blob.extend_from_slice(&[0xa5; 10000]);
    assert_eq!(ubi_extent(&blob, 4096), Some(4096 + img.len()));
    assert_eq!(ubi_extent(&blob, 0), None);
    assert_eq!(ubi_extent(&img, 0), Some(img.len()));
    // One PEB only: the blob's end.
    assert_eq!(ubi_extent(&img[..128 * 1024], 0), Some(128 * 1024));
}

/// Runs every entry point on `b`, reading every file.
fn exercise(b: &[u8]) {
    let _ = is_ubi(b);
    let _ = ubi_extent(b, 0);
    let (vols, _) = ubi_volumes(b, 16 << 20);
    for v in vols.iter().filter(|v| is_ubifs(&v.data)) {
        exercise_fs(&v.data);
    }
    if is_ubifs(b) {
        exercise_fs(b);
    }
}

fn exercise_fs(b: &[u8]) {
    let _ = ubifs_each(b, 100, 1 << 20, &mut |_, _, read| {
        let _ = read();
    });
}

#[test]
fn hostile_truncations() {
    let tmp = tempfile::tempdir().unwrap();
    let (img, _) = make_ubi(tmp.path());
    let fs = std::fs::read(tmp.path().join("fs-lzo.ubifs")).unwrap();
    for cut in [
        0,
        1,
        4,
        63,
        64,
        100,
        511,
        512,
        600,
        2048,
        4000,
        70000,
        131072,
        131073,
        300000,
        img.len() - 1,
    ] {
        exercise(&img[..cut.min(img.len())]);
    }
    for cut in [
        0,
        8,
        23,
        24,
        100,
        4096,
        126976,
        126976 * 2 + 7,
        126976 * 3,
        400000,
        fs.len() - 1,
    ] {
        exercise(&fs[..cut.min(fs.len())]);
    }
}

#[test]
fn hostile_flips() {
    let tmp = tempfile::tempdir().unwrap();
    let (img, _) = make_ubi(tmp.path());
    let fs = std::fs::read(tmp.path().join("fs-lzo.ubifs")).unwrap();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    // The fuzz target `containers` covers the rest; this keeps one fast, fixed-seed check.
    for i in 0..400 {
        let (src, hot) = if i % 2 == 0 {
            (&fs, 3 * 126976)
        } else {
            (&img, 4 * 131072)
        };
        let mut b = src.clone();
        for _ in 0..1 + rng.next() % 8 {
            // Mostly in headers and metadata, sometimes anywhere.
            let range = if rng.next() % 4 == 0 {
                b.len()
            } else {
                hot.min(b.len())
            };
            let pos = (rng.next() % range as u64) as usize;
            b[pos] ^= 1 << (rng.next() % 8);
        }
        exercise(&b);
    }
}

/// Data nodes with flipped payloads but fixed CRCs, so the decompressors see hostile input.
#[test]
fn hostile_compressed_payloads() {
    let mut rng = Rng(99);
    for _ in 0..3000 {
        let n = (rng.next() % 200) as usize;
        let src = rng.bytes(n);
        let _ = crate::sources::offline::files::lzo::decompress(&src, UBIFS_BLOCK_SIZE);
        let _ = zstd_decompress(&src, UBIFS_BLOCK_SIZE);
        let _ = read_capped(
            flate2::read::DeflateDecoder::new(&src[..]),
            UBIFS_BLOCK_SIZE,
        );
    }
    // Long zero runs must not overflow or loop.
    let mut z = vec![0u8; 100_000];
    z[0] = 0x20;
    assert!(crate::sources::offline::files::lzo::decompress(&z, 4096).is_err());
    assert!(crate::sources::offline::files::lzo::decompress(&[], 4096).is_err());
}

#[test]
fn hostile_headers() {
    // EC header claiming huge offsets.
    let mut h = vec![0u8; 4096];
    h[..4].copy_from_slice(b"UBI#");
    h[4] = 1;
    h[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
    h[20..24].copy_from_slice(&(u32::MAX - 3).to_be_bytes());
    let crc = crc32_raw(&h[..60]);
    h[60..64].copy_from_slice(&crc.to_be_bytes());
    let mut blob = h.clone();
    blob.extend_from_slice(&h);
    exercise(&h);
    exercise(&blob);
    assert_eq!(ubi_extent(&blob, 0), Some(blob.len()));
    // A valid VID header for a LEB with a huge lnum.
    let mut p = vec![0xffu8; 8192];
    p[..64].copy_from_slice(&h[..64]);
    p[16..20].copy_from_slice(&64u32.to_be_bytes());
    p[20..24].copy_from_slice(&128u32.to_be_bytes());
    let crc = crc32_raw(&p[..60]);
    p[60..64].copy_from_slice(&crc.to_be_bytes());
    let v = &mut p[64..128];
    v.fill(0);
    v[..4].copy_from_slice(b"UBI!");
    v[4] = 1;
    v[5] = 1;
    v[12..16].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
    let crc = crc32_raw(&v[..60]);
    v[60..64].copy_from_slice(&crc.to_be_bytes());
    let (vols, err) = ubi_volumes(&p, 1 << 20);
    assert!(vols.is_empty() && err.unwrap().contains("larger than"));
    // UBIFS superblock with a bogus LEB size.
    let mut s = vec![0u8; 4096];
    s[..4].copy_from_slice(&UBIFS_NODE_MAGIC.to_le_bytes());
    s[16..20].copy_from_slice(&4096u32.to_le_bytes());
    s[20] = UBIFS_SB_NODE;
    s[36..40].copy_from_slice(&u32::MAX.to_le_bytes());
    let crc = crc32_raw(&s[8..]);
    s[4..8].copy_from_slice(&crc.to_le_bytes());
    assert!(is_ubifs(&s));
    assert!(ubifs_each(&s, 10, 10, &mut |_, _, _| panic!()).is_some());
}
