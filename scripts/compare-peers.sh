#!/usr/bin/env bash
# Times `banwatch scan` against tshark, ndpiReader and the read floor (examples/read_floor.rs:
# the file mapped and its records walked, nothing decoded) on the same capture, each pinned to
# one core, and prints the throughput ratios; then banwatch again on two cores (two decode
# workers) and its speed-up over one.
#   scripts/compare-peers.sh [MEGABYTES]            camera video with events (default 500 MB)
#   scripts/compare-peers.sh realistic [FLOWS]      many short flows: DNS, TLS, REST and MQTT
#                                                   JSON, RTSP, some video (default 100000)
# The capture is generated (examples/gen_capture.rs, fixed seed) into bench-data/ and reused.
# Wall time and peak memory come from GNU time; each tool runs three times, the fastest counts.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = realistic ]; then
  flows=${2:-100000}
  cap=bench-data/realistic-${flows}.pcap
  gen=(realistic "$cap" "$flows")
else
  mb=${1:-500}
  cap=bench-data/camera-vlan-${mb}MB.pcap
  gen=(bulk "$cap" "$mb")
fi
bash scripts/setup.sh bench
source scripts/env.sh
cargo build --release --locked --quiet --bin banwatch --example gen_capture --example read_floor
mkdir -p bench-data
if [ ! -s "$cap" ]; then
  ./target/release/examples/gen_capture "${gen[@]}"
fi
bytes=$(stat -c %s "$cap")
pkts=$(capinfos -c -M "$cap" 2>/dev/null | awk '/Number of packets/ {print $NF}')

# tshark: the same application fields banwatch extracts (DNS names, TLS SNI, HTTP requests and
# headers, MQTT topics, RTSP requests), printed as fields.
tshark_filter='dns.qry.name or tls.handshake.extensions_server_name or http.request or http.response or mqtt.topic or rtsp.request'
run() { # name, cores (taskset list), command...
  local name=$1 cpus=$2; shift 2
  local best=""
  for _ in 1 2 3; do
    # banwatch exits 1 when it finds violations; GNU time then adds a line before its numbers.
    /usr/bin/time -f "%e %M" -o bench-data/time.txt taskset -c "$cpus" "$@" >/dev/null 2>bench-data/$name.err || true
    read -r secs kb < <(tail -n 1 bench-data/time.txt)
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < ${best%% *})}"; then best="$secs $kb"; fi
  done
  echo "$best"
}
bw=$(run banwatch 0 ./target/release/banwatch scan "$cap" --format json --workers 1)
bw2=$(run banwatch2 0,1 ./target/release/banwatch scan "$cap" --format json --workers 2)
ts=$(run tshark 0 tshark -n -r "$cap" -Y "$tshark_filter" -T fields -e dns.qry.name -e tls.handshake.extensions_server_name -e http.host -e http.request.uri -e mqtt.topic -e rtsp.request)
nd=$(run ndpiReader 0 ndpiReader -i "$cap" -q)
fl=$(run floor 0 ./target/release/examples/read_floor "$cap")

mbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
printf '\ncapture: %s (%s bytes, %s packets), one core each\n' "$cap" "$bytes" "${pkts:-?}"
printf '%-12s %9s %10s %10s\n' tool seconds "MB/s" "peak MiB"
for pair in "banwatch:$bw" "tshark:$ts" "ndpiReader:$nd" "read-floor:$fl" "banwatch-2c:$bw2"; do
  name=${pair%%:*}; v=${pair#*:}; s=${v%% *}; kb=${v##* }
  printf '%-12s %9s %10s %10s\n' "$name" "$s" "$(mbps "$s")" "$((kb / 1024))"
done
bws=${bw%% *}; tss=${ts%% *}; nds=${nd%% *}; fls=${fl%% *}; bw2s=${bw2%% *}
awk -v b="$bws" -v t="$tss" -v n="$nds" -v f="$fls" -v b2="$bw2s" 'BEGIN {
  printf "\nbanwatch vs tshark:     %.1fx faster\n", t / b
  printf "banwatch vs ndpiReader: %.1fx faster\n", n / b
  printf "banwatch vs read floor: %.1fx the floor\x27s time\n", b / (f > 0 ? f : 0.01)
  printf "banwatch on two cores:  %.2fx its one-core speed\n", b / (b2 > 0 ? b2 : 0.01) }'
