#!/usr/bin/env bash
# Carving throughput: banwatch (walk + carve + parse + classify) against yara with equivalent
# magic-byte rules (scripts/carve.yar), Debian's binwalk 2 and binwalk 3 (the Rust rewrite,
# installed from crates.io into .deps/binwalk3 when missing) signature scans, on the same
# generated firmware-like blob, one core each. Prints the ratios.
#   scripts/compare-carve.sh [MEGABYTES]     (default 500)
set -euo pipefail
cd "$(dirname "$0")/.."
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
