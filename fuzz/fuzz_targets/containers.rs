#![no_main]
//! The firmware containers (ar, CPIO newc, uImage headers, ext2/3/4, Android sparse, cramfs,
//! romfs, JFFS2, FIT, UBI, UBIFS and RPM images, odc CPIO, 7z, xz/LZMA/bzip2/zstd/LZ4/LZO and
//! lzop streams)
//! over arbitrary bytes: a clear error, never a panic or an unbounded expansion.
use banwatch::sources::offline::files::containers::{self, Kind};
use banwatch::sources::offline::files::{fit, jffs2, lzo, lzop, sevenz, ubi, ubifs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = containers::kind(data);
    let _ = containers::uimage(data);
    let _ = containers::cpio_members(data, 1000);
    let _ = containers::ar_each(data, 1000, &mut |_, _, r| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(r, 1 << 20), &mut sink);
    });
    let _ = containers::ext4_each(data.to_vec(), 100, &mut |_, _, read| {
        let _ = read();
    });
    let _ = containers::sparse_expand(data, 64 << 20);
    let _ = containers::rpm_payload(data);
    let _ = containers::romfs_each(data, 100, &mut |_, _| {});
    let _ = containers::cramfs_each(data, 100, &mut |_, _, read| {
        let _ = read();
    });
    let _ = jffs2::each(data, 100, 16 << 20, &mut |_, _, read| {
        let _ = read();
    });
    let _ = jffs2::extent(data, 0);
    let (images, _) = fit::images(data);
    for i in images {
        assert!(i.data.len() <= data.len());
    }
    let _ = ubi::ubi_extent(data, 0);
    let _ = ubi::ubi_volumes(data, 16 << 20);
    let _ = ubifs::ubifs_each(data, 100, 16 << 20, &mut |_, _, read| {
        let _ = read();
    });
    let _ = sevenz::each(data, 100, 16 << 20, &mut |_, _, read| {
        let _ = read();
    });
    let (out, _) = lzop::decompress(data, 16 << 20);
    assert!(out.len() <= 16 << 20);
    if let Ok(out) = lzo::decompress(data, 1 << 20) {
        assert!(out.len() <= 1 << 20);
    }
    for k in [Kind::Xz, Kind::Lzma, Kind::Bzip2, Kind::Zstd, Kind::Lz4] {
        let (out, _) = containers::inflate(k, data, 16 << 20);
        assert!(out.len() <= 16 << 20);
    }
});
