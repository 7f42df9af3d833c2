#!/usr/bin/env bash
# A flash dump as a reader of a camera's NAND/NOR chip gives it: partitions built by the real
# tools on 128 KiB erase-block boundaries, between erased flash (0xFF) and pseudo-random regions
# (fixed seed), each partition holding the fixture models, some of them nested a second time:
#   uImage ! LZMA ! CPIO newc          (a U-Boot ramdisk)
#   squashfs (xz)                       with a .tar.gz of models inside
#   UBI ! UBIFS (zlib)                  with a 7z of models inside
#   JFFS2 (big-endian, LZO)
#   ext4                                with a Debian package of models inside
#   FIT ! zstd ! CPIO
# Writes OUT and OUT.expected: one line per buried model, "<partition offset hex> <file name>".
#   scripts/gen-nested-firmware.sh OUT [MEGABYTES]     (default 300)
# Needs: mkimage, mksquashfs, mkfs.ubifs, ubinize, mkfs.jffs2, mkfs.ext4, dpkg-deb, 7z, cpio,
# zstd, xz, dtc (scripts/setup.sh test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
mb=${2:-300}
models=../shared/fixtures/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The models: every ONNX and TFLite fixture under 20 MB, named by package and file.
mkdir -p "$tmp/rootfs/opt/models" "$tmp/inner"
while IFS= read -r f; do
  name="$(basename "$(dirname "$f")" | tr -c 'A-Za-z0-9._\n-' _)__$(basename "$f")"
  cp "$f" "$tmp/rootfs/opt/models/$name"
  cp "$f" "$tmp/inner/nested__$name"
done < <(find "$models" -type f \( -name '*.onnx' -o -name '*.tflite' \) -size -20M | sort)
printf 'mode=count\n' > "$tmp/rootfs/etc.conf"

cd "$tmp"
# Second-level containers holding the models again.
tar -czf inner.tar.gz -C inner .
7z a -bd -y inner.7z ./inner/* >/dev/null
mkdir -p pkg/DEBIAN pkg/usr/share/models && cp inner/* pkg/usr/share/models/
printf 'Package: cam-models\nVersion: 1.0\nArchitecture: all\nMaintainer: Test <test@example.org>\nDescription: models\n' > pkg/DEBIAN/control
dpkg-deb --root-owner-group -Zxz --build pkg inner.deb >/dev/null

# Partitions.
(cd rootfs && find . | cpio -o -H newc --quiet) > rootfs.cpio
xz --format=lzma -k -f rootfs.cpio
mkimage -A arm -O linux -T ramdisk -C lzma -n rootfs -d rootfs.cpio.lzma p1.uimage >/dev/null
mkdir -p sq && cp -r rootfs/. sq/ && cp inner.tar.gz sq/opt/
mksquashfs sq p2.squashfs -comp xz -noappend -quiet >/dev/null
mkdir -p ub && cp -r rootfs/. ub/ && cp inner.7z ub/opt/
mkfs.ubifs -r ub -m 2048 -e 126976 -c 2000 -x zlib -o ub.ubifs
printf '[rootfs]\nmode=ubi\nimage=ub.ubifs\nvol_id=0\nvol_type=dynamic\nvol_name=rootfs\n' > ubi.ini
ubinize -o p3.ubi -m 2048 -p 128KiB -s 512 ubi.ini >/dev/null 2>&1
mkfs.jffs2 -b -r rootfs -o p4.jffs2 -e 0x20000 -p -x zlib -x rtime -X lzo
mkdir -p ex && cp -r rootfs/. ex/ && cp inner.deb ex/opt/
mkfs.ext4 -q -F -b 4096 -d ex p5.ext4 96M
zstd -q -f rootfs.cpio -o rootfs.cpio.zst
printf '/dts-v1/;\n/ {\n description = "cam";\n #address-cells = <1>;\n images {\n  blob-1 {\n   data = /incbin/("rootfs.cpio.zst");\n   type = "firmware"; arch = "arm"; compression = "none";\n  };\n };\n configurations {\n  default = "conf-1";\n  conf-1 { firmware = "blob-1"; };\n };\n};\n' > cam.its
mkimage -f cam.its p6.itb >/dev/null
cd - >/dev/null

python3 - "$tmp" "$out" "$mb" <<'EOF'
import os, random, sys
tmp, out, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(20261130)
block = 128 * 1024
models = sorted(os.listdir(os.path.join(tmp, "rootfs/opt/models")))
inner = sorted(os.listdir(os.path.join(tmp, "inner")))
# Which partitions hold a second copy of the models, nested one level further.
parts = [("p1.uimage", False), ("p2.squashfs", True), ("p3.ubi", True),
         ("p4.jffs2", False), ("p5.ext4", True), ("p6.itb", False)]
target = mb * 1_000_000
gap = max(block, (target - sum(os.path.getsize(os.path.join(tmp, p)) for p, _ in parts)) // (len(parts) + 1))
expected = []
with open(out, "wb") as f:
    def filler(n):
        # Half erased flash, half noise, as dumps look between partitions.
        f.write(b"\xff" * (n // 2))
        f.write(rng.randbytes(n - n // 2))
    for name, nested in parts:
        filler(gap)
        pad = (-f.tell()) % block
        f.write(b"\xff" * pad)
        at = f.tell()
        with open(os.path.join(tmp, name), "rb") as p:
            f.write(p.read())
        expected += [f"{at:#x} {m}" for m in models]
        if nested:
            expected += [f"{at:#x} {m}" for m in inner]
    filler(max(0, target - f.tell()))
with open(out + ".expected", "w") as e:
    e.write("\n".join(expected) + "\n")
print(f"{out}: {os.path.getsize(out)} bytes, {len(expected)} models buried in {len(parts)} partitions")
EOF
