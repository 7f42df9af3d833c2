#!/usr/bin/env bash
# Unpacks the ONNX Runtime shared library from the `onnxruntime` wheel on PyPI into
# .deps/onnxruntime/, for ort's load-dynamic (scripts/env.sh exports ORT_DYLIB_PATH).
# The version matches the ort crate's API level (ort 2.0.0-rc.15 targets ONNX Runtime 1.31).
# Idempotent: does nothing when the library is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ver=1.31.1
dest=.deps/onnxruntime
lib="$dest/libonnxruntime.so.$ver"
[ -f "$lib" ] && { echo "$lib"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=python3
command -v "$py" >/dev/null || { echo "fetch-onnxruntime: python3 not found" >&2; exit 1; }
echo "fetch-onnxruntime: downloading the onnxruntime==$ver wheel from PyPI" >&2
"$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.11 --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$tmp" "onnxruntime==$ver"
whl=$(ls "$tmp"/onnxruntime-*.whl | head -n1)
"$py" - "$whl" "$tmp/x" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = [n for n in z.namelist() if "/capi/libonnxruntime.so" in n]
    if not names:
        sys.exit("fetch-onnxruntime: no libonnxruntime.so in " + sys.argv[1])
    for n in names:
        z.extract(n, sys.argv[2])
PY
mkdir -p "$dest"
so=$(ls "$tmp"/x/onnxruntime/capi/libonnxruntime.so* | sort | tail -n1)
cp "$so" "$lib.part" && mv "$lib.part" "$lib"
echo "$lib"
