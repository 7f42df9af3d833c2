#!/usr/bin/env bash
# Carving throughput: banwatch (walk + carve + parse + classify) against yara with equivalent
# magic-byte rules (scripts/carve.yar), Debian's binwalk 2 and binwalk 3 (the Rust rewrite,
# installed from crates.io into .deps/binwalk3 when missing) signature scans, on the same
# generated firmware-like blob, one core each. Prints the ratios.
#   scripts/compare-carve.sh [MEGABYTES]          (default 500)
#   scripts/compare-carve.sh nested [MEGABYTES]   a flash dump of nested partitions
#     (scripts/gen-nested-firmware.sh, default 300 MB): banwatch's scan against binwalk 3's
#     recursive extraction (-e -M) and unblob's, with their external extractors, and how many
#     of the buried models each one reaches.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = nested ]; then
  mb=${2:-300}
  bash scripts/setup.sh bench
  source scripts/env.sh
  cargo build --release --locked --quiet --bin banwatch
  mkdir -p bench-data
  dump=bench-data/nested-${mb}MB.bin
  [ -s "$dump" ] && [ -s "$dump.expected" ] || bash scripts/gen-nested-firmware.sh "$dump" "$mb"
  buried=$(wc -l < "$dump.expected")
  best() { # best of three wall seconds of "$@"
    local b=""
    for _ in 1 2 3; do
      /usr/bin/time -f "%e" -o bench-data/t.txt taskset -c 0 "$@" >/dev/null 2>&1 || true
      s=$(tail -n 1 bench-data/t.txt)
      if [ -z "$b" ] || awk "BEGIN{exit !($s < $b)}"; then b=$s; fi
    done
    echo "$b"
  }
  bw=$(best ./target/release/banwatch scan "$dump" --format json --probe off)
  ./target/release/banwatch scan "$dump" --format json --probe off > bench-data/nested.json 2>/dev/null || true
  found=$(python3 - "$dump.expected" <<'PY'
import json, sys
paths = [a["path"] for a in json.load(open("bench-data/nested.json"))["artifacts"]]
exp = [l.split() for l in open(sys.argv[1]) if l.strip()]
print(sum(any(("@" + o) in p and p.endswith("/" + n) for p in paths) for o, n in exp))
PY
)
  b3=.deps/binwalk3/bin/binwalk
  [ -x "$b3" ] || cargo install binwalk --locked --quiet --root .deps/binwalk3
  b3x() { rm -rf bench-data/bw3x && PATH="$PWD/.deps/bwtools/bin:$PATH" "$b3" --threads 1 --quiet -e -M -C bench-data/bw3x "$dump"; }
  export -f b3x; export b3 dump
  b3s=$(best bash -c b3x)
  b3x >/dev/null 2>&1 || true
  b3found=$(find bench-data/bw3x -type f \( -name '*.onnx' -o -name '*.tflite' \) | wc -l)
  # unblob (Python, slower): one run, its extractors on the same PATH.
  rm -rf bench-data/ubx
  /usr/bin/time -f "%e" -o bench-data/t.txt taskset -c 0 env PATH="$PWD/.deps/bwtools/bin:$PATH" \
    .deps/unblob/bin/unblob --process-num 1 -d 10 --log bench-data/unblob.log -e bench-data/ubx "$dump" >/dev/null 2>&1 || true
  ubs=$(tail -n 1 bench-data/t.txt)
  ubfound=$(find bench-data/ubx -type f \( -name '*.onnx' -o -name '*.tflite' \) | wc -l)
  printf '\ndump: %s (%s buried models), one core each\n' "$dump" "$buried"
  printf '%-18s %8.2f s  %3s of %s models reached\n' "banwatch scan" "$bw" "$found" "$buried"
  printf '%-18s %8.2f s  %3s of %s models extracted\n' "binwalk 3 -e -M" "$b3s" "$b3found" "$buried"
  printf '%-18s %8.2f s  %3s of %s models extracted (one run)\n' "unblob" "$ubs" "$ubfound" "$buried"
  awk -v b="$bw" -v w="$b3s" -v u="$ubs" 'BEGIN {
    printf "\nbanwatch vs binwalk 3 extraction: %.1fx\nbanwatch vs unblob: %.1fx\n", w / b, u / b }'
  exit 0
fi
mb=${1:-500}
bash scripts/setup.sh bench
source scripts/env.sh
cargo build --release --locked --quiet --bin banwatch --example gen_blob
mkdir -p bench-data
blob=bench-data/firmware-${mb}MB.bin
[ -s "$blob" ] || ./target/release/examples/gen_blob "$blob" "$mb"
bytes=$(stat -c %s "$blob")
t() { # best of three wall seconds
  local best=""
  for _ in 1 2 3; do
    /usr/bin/time -f "%e" -o bench-data/t.txt taskset -c 0 "$@" >bench-data/out.txt 2>/dev/null || true
    s=$(tail -n 1 bench-data/t.txt)
    if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; fi
  done
  echo "$best"
}
bw=$(t ./target/release/banwatch scan "$blob" --format json --probe off)
found=$(python3 -c "import json;print(len(json.load(open('bench-data/out.txt'))['artifacts']))" 2>/dev/null || echo "?")
./target/release/banwatch scan "$blob" --format json --probe off > bench-data/out.txt 2>/dev/null || true
found=$(python3 -c "import json;print(len(json.load(open('bench-data/out.txt'))['artifacts']))" 2>/dev/null || echo "?")
ya=$(t yara -s scripts/carve.yar "$blob")
bi=$(t binwalk --signature "$blob")
b3=.deps/binwalk3/bin/binwalk
[ -x "$b3" ] || cargo install binwalk --locked --quiet --root .deps/binwalk3
b3s=$(t "$b3" --threads 1 --quiet "$blob")
printf '\nblob: %s (%s bytes), one core each; banwatch found %s models\n' "$blob" "$bytes" "$found"
for pair in "banwatch:$bw" "yara:$ya" "binwalk:$bi" "binwalk3:$b3s"; do
  n=${pair%%:*}; s=${pair#*:}
  awk -v n="$n" -v s="$s" -v b="$bytes" 'BEGIN { printf "%-10s %8.2f s %9.1f MB/s\n", n, s, b / 1e6 / s }'
done
awk -v b="$bw" -v y="$ya" -v w="$bi" -v w3="$b3s" 'BEGIN {
  printf "\nbanwatch vs yara:      %.1fx (target >= 1x)\nbanwatch vs binwalk 2: %.1fx\nbanwatch vs binwalk 3: %.1fx (target >= 4x)\n", y / b, w / b, w3 / b }'
