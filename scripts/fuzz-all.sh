#!/usr/bin/env bash
# Every fuzz target in turn, MINUTES each (default 10), each from a seed corpus of real inputs
# (the sample capture's records, the model fixtures, the fuzz regression cases). Crashes are
# kept under fuzz/artifacts/<target>/; a table of runs, corpus size and crashes is printed and
# written to fuzz/last-run.txt. Not part of CI (it takes MINUTES x 25).
#   bash scripts/fuzz-all.sh [MINUTES] [TARGET...]
# Needs a nightly toolchain and cargo-fuzz; both are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
shift || true
source scripts/env.sh
command -v rustup >/dev/null || { echo "rustup is needed (scripts/setup.sh test installs it)"; exit 2; }
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

shared=../shared
seed() { # seed TARGET FILE...: copy existing files into the target's corpus
  local dir="fuzz/corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$dir/" 2>/dev/null || true; done
}
models="$shared/fixtures/models"
seed pcap samples/housing-estate.pcap
seed carve samples/housing-estate.pcap $(find "$models" -type f -size -2M 2>/dev/null | head -20)
seed sniff $(find "$models" -type f -size -2M 2>/dev/null | head -40) "$shared"/cases/fuzz/*
for fmt in onnx tflite caffe ncnn openvino keras pytorch tfjs dlib cascade; do
  seed "$fmt" $(find "$models" "$shared/cases/fuzz" -type f -size -4M 2>/dev/null | grep -i "$fmt" | head -20)
done
seed tflite $(find "$models" -name '*.tflite' -size -4M 2>/dev/null | head -10)
# HDF5: Keras files written by h5py (scripts/gen-keras-h5.py), the small ones.
h5=$(mktemp -d)
.deps/venv/bin/python scripts/gen-keras-h5.py "$h5" && seed hdf5 $(find "$h5" -name '*.h5' -size -2M) && seed keras $(find "$h5" -name '*.h5' -size -2M)
rm -rf "$h5"
seed cascade $(find "$models" -name '*.xml' -size -4M 2>/dev/null | head -10)
seed ncnn $(find "$models" -name '*.param' 2>/dev/null | head -10)
seed dlib $(find "$models" -name '*.dat' -size -4M 2>/dev/null | head -10)
seed pytorch $(find "$models" -name '*.pt' -size -4M 2>/dev/null | head -10)
seed pickle tests/data/pickle/*
seed numpy tests/data/pickle/*.npy

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
report=fuzz/last-run.txt
printf '%-20s %8s %8s %8s\n' target minutes corpus crashes | tee "$report"
status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  before=$(ls "fuzz/artifacts/$t" | wc -l)
  cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- \
    -max_total_time=$((minutes * 60)) -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    > "fuzz/artifacts/$t.log" 2>&1 || status=1
  after=$(ls "fuzz/artifacts/$t" | wc -l)
  printf '%-20s %8s %8s %8s\n' "$t" "$minutes" "$(ls "fuzz/corpus/$t" | wc -l)" "$((after - before))" | tee -a "$report"
done
exit $status
