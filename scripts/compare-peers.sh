#!/usr/bin/env bash
# Times `banwatch scan` against tshark and ndpiReader on the same large capture of mixed camera
# traffic, each pinned to one core, and prints the throughput ratios.
#   scripts/compare-peers.sh [MEGABYTES]     (default 500)
# The capture is generated (examples/gen_capture.rs) into bench-data/ and reused while its size
# matches. Wall time and peak memory come from GNU time; each tool runs three times, the fastest counts.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-500}
bash scripts/setup.sh bench
source scripts/env.sh
cargo build --release --locked --quiet --bin banwatch --example gen_capture
mkdir -p bench-data
cap=bench-data/camera-vlan-${mb}MB.pcap
if [ ! -s "$cap" ]; then
  ./target/release/examples/gen_capture bulk "$cap" "$mb"
fi
bytes=$(stat -c %s "$cap")
pkts=$(capinfos -c -M "$cap" 2>/dev/null | awk '/Number of packets/ {print $NF}')

# tshark: the same application fields banwatch extracts (DNS names, TLS SNI, HTTP requests and
# headers, MQTT topics, RTSP requests), printed as fields.
tshark_filter='dns.qry.name or tls.handshake.extensions_server_name or http.request or http.response or mqtt.topic or rtsp.request'
run() { # name, command...
  local name=$1; shift
  local best=""
  for _ in 1 2 3; do
    # banwatch exits 1 when it finds violations; GNU time then adds a line before its numbers.
    /usr/bin/time -f "%e %M" -o bench-data/time.txt taskset -c 0 "$@" >/dev/null 2>bench-data/$name.err || true
    read -r secs kb < <(tail -n 1 bench-data/time.txt)
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < ${best%% *})}"; then best="$secs $kb"; fi
  done
  echo "$best"
}
bw=$(run banwatch ./target/release/banwatch scan "$cap" --format json)
ts=$(run tshark tshark -n -r "$cap" -Y "$tshark_filter" -T fields -e dns.qry.name -e tls.handshake.extensions_server_name -e http.host -e http.request.uri -e mqtt.topic -e rtsp.request)
nd=$(run ndpiReader ndpiReader -i "$cap" -q)

mbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
printf '\ncapture: %s (%s bytes, %s packets), one core each\n' "$cap" "$bytes" "${pkts:-?}"
printf '%-12s %9s %10s %10s\n' tool seconds "MB/s" "peak MiB"
for pair in "banwatch:$bw" "tshark:$ts" "ndpiReader:$nd"; do
  name=${pair%%:*}; v=${pair#*:}; s=${v%% *}; kb=${v##* }
  printf '%-12s %9s %10s %10s\n' "$name" "$s" "$(mbps "$s")" "$((kb / 1024))"
done
bws=${bw%% *}; tss=${ts%% *}; nds=${nd%% *}
awk -v b="$bws" -v t="$tss" -v n="$nds" 'BEGIN {
  printf "\nbanwatch vs tshark:     %.1fx faster (target >= 5x)\n", t / b
  printf "banwatch vs ndpiReader: %.1fx faster (target >= 1x)\n", n / b }'
