#!/usr/bin/env bash
# Capacity of the RTSP tap against plain GStreamer ingest of the same streams.
#   scripts/bench-rtsp-capacity.sh [N=8] [SECONDS=30] [RATE=5] [metadata]
# With `metadata` the cameras serve the ONVIF metadata track alone (no video to encode), which
# is how many cameras one machine can simulate: the metadata-tapped capacity.
# Starts N loopback RTSP cameras (H.264 320x240@10 + ONVIF metadata track, RATE docs/s) in a
# separate process, then measures, one after the other on the same streams:
#   banwatch: N RTSP feeds (examples/rtsp_capacity ingest: the real taps, default template)
#   bare:     gst-launch-1.0 with N x `rtspsrc protocols=tcp ! fakesink` (both tracks)
#   service:  `banwatch serve` with the same N feeds, each camera a device at a school, so
#             every camera's face-recognition results raise an alert
# CPU = utime+stime of the ingest process over the run; memory = peak RSS (VmHWM). Reports
# per-feed CPU and memory, the CPU ratio, feeds per core, event-to-observation latency (per
# document, send time to observation), and from the service's own histograms the time from a
# message arriving to its alert and to its being judged (every message).
# Needs: gstreamer1.0-tools gstreamer1.0-plugins-{base,good,ugly} libgstrtspserver-1.0-0.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-8}; SECS=${2:-30}; RATE=${3:-5}; CAMS=${4:-}
ulimit -n "$(ulimit -Hn)"
command -v gst-launch-1.0 >/dev/null || { echo "needs gst-launch-1.0: apt-get install -y gstreamer1.0-tools" >&2; exit 2; }
cargo build --release --example rtsp_capacity --bin banwatch >&2
BIN=target/release/examples/rtsp_capacity
tmp=$(mktemp -d); trap 'kill $SRV 2>/dev/null || true; rm -rf "$tmp"' EXIT
TICK=$(getconf CLK_TCK)

"$BIN" serve "$N" "$RATE" "$tmp/sent.log" $CAMS > "$tmp/port" 2>/dev/null &
SRV=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
PORT=$(head -1 "$tmp/port")

# banwatch taps
out=$("$BIN" ingest "$PORT" "$N" "$SECS" "$tmp/sent.log" 2>"$tmp/ingest.err")
grep -v GLib "$tmp/ingest.err" >&2 || true
echo "banwatch: $out"

# bare gst-launch on the same mounts
args=()
for i in $(seq 0 $((N-1))); do
  args+=(rtspsrc "location=rtsp://127.0.0.1:$PORT/cam$i" protocols=tcp latency=200 name="s$i"
         "s$i." ! fakesink sync=false async=false "s$i." ! fakesink sync=false async=false)
done
gst-launch-1.0 -q "${args[@]}" >/dev/null 2>"$tmp/bare.err" &
GP=$!
sleep "$SECS"
if [ -r "/proc/$GP/stat" ]; then
  read -r ut st < <(awk '{print $14, $15}' "/proc/$GP/stat")
  hwm=$(awk '/VmHWM/{print $2}' "/proc/$GP/status")
  # SIGINT asks gst-launch for an end-of-stream, which a thousand sources may never all
  # deliver: give it ten seconds, then kill it.
  kill -INT $GP
  for _ in $(seq 10); do [ -r "/proc/$GP/stat" ] || break; sleep 1; done
  kill -KILL $GP 2>/dev/null || true
  wait $GP 2>/dev/null || true
  bare_cpu=$(echo "scale=3; ($ut + $st) / $TICK" | bc)
  echo "bare:     {\"feeds\":$N,\"wall_s\":$SECS,\"cpu_s\":$bare_cpu,\"peak_rss_kib\":$hwm}"
else
  # One gst-launch with N rtspsrc elements has limits of its own; report and go on.
  wait $GP 2>/dev/null || true
  echo "bare:     gst-launch-1.0 with $N rtspsrc ended early: $(grep -v GLib "$tmp/bare.err" | tail -1)"
  bare_cpu=0; hwm=0
fi

# the whole service on the same mounts
cfg="$tmp/banwatch.toml"
SP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
  echo "listen = \"127.0.0.1:$SP\""
  echo "state_dir = \"$tmp/state\""
  for i in $(seq 0 $((N-1))); do
    printf '[[site]]\nid = "school%d"\ntype = "school"\ncontractor = "bench"\n' "$i"
    printf '[[device]]\nid = "cam%d"\nsite = "school%d"\n' "$i" "$i"
    printf '[[feed]]\nid = "cam%d-rtsp"\ndevice = "cam%d"\nkind = "rtsp"\nurl = "rtsp://127.0.0.1:%s/cam%d"\n' "$i" "$i" "$PORT" "$i"
  done
} > "$cfg"
target/release/banwatch serve --config "$cfg" 2>"$tmp/serve.err" &
BP=$!
sleep "$SECS"
read -r ut st < <(awk '{print $14, $15}' "/proc/$BP/stat")
shwm=$(awk '/VmHWM/{print $2}' "/proc/$BP/status")
curl -s "http://127.0.0.1:$SP/metrics" > "$tmp/metrics.txt" || true
kill -TERM $BP; wait $BP 2>/dev/null || true
svc_cpu=$(echo "scale=3; ($ut + $st) / $TICK" | bc)
echo "service:  {\"feeds\":$N,\"wall_s\":$SECS,\"cpu_s\":$svc_cpu,\"peak_rss_kib\":$shwm}"

python3 - "$tmp/metrics.txt" "$N" "$SECS" "$svc_cpu" "$shwm" <<'PY'
import sys
text = open(sys.argv[1]).read(); n = int(sys.argv[2]); secs = float(sys.argv[3])
sys.path.insert(0, "scripts")
from prom_hist import hist as _hist, quantile as q
def hist(name):
    return _hist(text, name)
firing = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith("banwatch_alerts_firing{"))
for name, what in [("banwatch_event_to_alert_seconds", "message arrival to alert"), ("banwatch_event_processing_seconds", "message arrival to judged")]:
    b = hist(name)
    p50, cnt = q(b, 0.5); p99, _ = q(b, 0.99)
    print(f"service {what}: p50 {p50*1e3:.2f} ms, p99 {p99*1e3:.2f} ms over {int(cnt)} samples (histogram interpolation)")
print(f"service: {int(firing)} of {n} cameras alerting; CPU {float(sys.argv[4])/secs/n*100:.2f}% of a core per feed; peak RSS {int(sys.argv[5])/1024:.1f} MiB ({int(sys.argv[5])/1024/n:.2f} MiB/feed)")
PY

[ "$bare_cpu" = 0 ] && exit 0
python3 - "$out" "$N" "$SECS" "$bare_cpu" "$hwm" <<'PY'
import json, sys
b = json.loads(sys.argv[1]); n = int(sys.argv[2]); secs = float(sys.argv[3])
bare_cpu = float(sys.argv[4]); bare_rss = int(sys.argv[5])
ours_core = b["cpu_s"] / b["wall_s"] / n          # cores per feed
bare_core = bare_cpu / secs / n
print(f"per feed  CPU: banwatch {ours_core*100:.2f}% of a core, bare {bare_core*100:.2f}%  -> ratio {ours_core/bare_core:.2f}x (target <= 1.2x)")
print(f"feeds per core: banwatch {1/ours_core:.0f}, bare {1/bare_core:.0f}")
print(f"memory: banwatch peak RSS {b['peak_rss_kib']/1024:.1f} MiB total ({b['peak_rss_kib']/1024/n:.2f} MiB/feed incl. runtime), bare {bare_rss/1024:.1f} MiB ({bare_rss/1024/n:.2f} MiB/feed)")
print(f"event-to-observation latency: p50 {b['latency_p50_ms']:.1f} ms, p99 {b['latency_p99_ms']:.1f} ms over {b['latency_samples']} documents (target p99 <= 1000 ms)")
print("event-to-alert = event-to-observation + the service's arrival-to-alert above")
PY
