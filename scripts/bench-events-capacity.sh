#!/usr/bin/env bash
# Capacity of the service on event-stream feeds (MQTT: Frigate face results), against the read
# floor of the same subscriptions.
#   scripts/bench-events-capacity.sh [N=1000] [SECONDS=30] [RATE=0.2]
# Starts mosquitto on loopback and a publisher sending RATE face-recognition results a second on
# each of N camera topics (examples/mqtt_load), then measures, one after the other:
#   floor:   N bare MQTT subscribers in one process (examples/mqtt_load subscribe): what merely
#            receiving the messages costs
#   service: `banwatch serve` with N MQTT feeds, each camera a device at a school, so every
#            camera's results raise (then refresh) an alert in the SQLite store
# CPU = utime+stime over the run; memory = peak RSS (VmHWM). Reports CPU per feed and the
# ratio, feeds per core, memory per feed, and from the service's own histograms the time from a
# message arriving to its alert and to its being judged.
# Needs: mosquitto (Debian package).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}; SECS=${2:-30}; RATE=${3:-0.2}
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQ" ] || { echo "needs mosquitto: apt-get install -y mosquitto" >&2; exit 2; }
cargo build --release --example mqtt_load --bin banwatch >&2
LOAD=target/release/examples/mqtt_load
tmp=$(mktemp -d); trap 'kill $MP $PP 2>/dev/null || true; rm -rf "$tmp"' EXIT
TICK=$(getconf CLK_TCK)
ulimit -n "$(ulimit -Hn)"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
MPORT=$(port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\nmax_queued_messages 100000\n' "$MPORT" > "$tmp/mosquitto.conf"
"$MOSQ" -c "$tmp/mosquitto.conf" >/dev/null 2>&1 &
MP=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$MPORT") 2>/dev/null && break; sleep 0.1; done
# The publisher runs through both measurements (plus time to connect).
"$LOAD" publish "$MPORT" "$N" $((2 * SECS + 60)) "$RATE" 2>"$tmp/pub.err" &
PP=$!

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# floor: bare subscribers
"$LOAD" subscribe "$MPORT" "$N" "$SECS" > "$tmp/floor.json" &
FP=$!
sleep 5  # connected; count from here
c0=$(cpu_of $FP)
sleep $((SECS - 6))
c1=$(cpu_of $FP); fhwm=$(awk '/VmHWM/{print $2}' "/proc/$FP/status")
wait $FP || true
floor_cpu=$(echo "scale=3; ($c1 - $c0) / $TICK" | bc)
echo "floor:    {\"feeds\":$N,\"wall_s\":$((SECS - 6)),\"cpu_s\":$floor_cpu,\"peak_rss_kib\":$fhwm,\"run\":$(cat "$tmp/floor.json")}"

# the whole service
SP=$(port)
cfg="$tmp/banwatch.toml"
{
  echo "listen = \"127.0.0.1:$SP\""
  echo "state_dir = \"$tmp/state\""
  for i in $(seq 0 $((N-1))); do
    printf '[[site]]\nid = "school%d"\ntype = "school"\ncontractor = "bench"\n' "$i"
    printf '[[device]]\nid = "cam%d"\nsite = "school%d"\n' "$i" "$i"
    printf '[[feed]]\nid = "cam%d-mqtt"\ndevice = "cam%d"\nkind = "mqtt"\nhost = "127.0.0.1"\nport = %s\ntopics = ["frigate/cam%d/tracked_object_update"]\n' "$i" "$i" "$MPORT" "$i"
  done
} > "$cfg"
target/release/banwatch serve --config "$cfg" 2>"$tmp/serve.err" &
BP=$!
sleep 5
c0=$(cpu_of $BP)
sleep $((SECS - 6))
c1=$(cpu_of $BP); shwm=$(awk '/VmHWM/{print $2}' "/proc/$BP/status")
curl -s "http://127.0.0.1:$SP/metrics" > "$tmp/metrics.txt" || true
kill -TERM $BP; wait $BP 2>/dev/null || true
svc_cpu=$(echo "scale=3; ($c1 - $c0) / $TICK" | bc)
echo "service:  {\"feeds\":$N,\"wall_s\":$((SECS - 6)),\"cpu_s\":$svc_cpu,\"peak_rss_kib\":$shwm}"
echo "service log \"feed down\" lines: $(grep -c "feed down" "$tmp/serve.err" || true)"

python3 - "$tmp/metrics.txt" "$N" "$((SECS - 6))" "$svc_cpu" "$shwm" "$floor_cpu" "$fhwm" <<'PY'
import sys
text = open(sys.argv[1]).read(); n = int(sys.argv[2]); secs = float(sys.argv[3])
svc_cpu, svc_rss = float(sys.argv[4]), int(sys.argv[5]); floor_cpu, floor_rss = float(sys.argv[6]), int(sys.argv[7])
sys.path.insert(0, "scripts")
from prom_hist import hist as _hist, quantile as q
def hist(name):
    return _hist(text, name)
def total(prefix):
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(prefix))
up = total("banwatch_feed_up{"); msgs = total("banwatch_feed_messages_total{")
firing = total("banwatch_alerts_firing{")
for name, what in [("banwatch_event_to_alert_seconds", "message arrival to alert"), ("banwatch_event_processing_seconds", "message arrival to judged")]:
    p50, cnt = q(hist(name), 0.5); p99, _ = q(hist(name), 0.99)
    print(f"service {what}: p50 {p50*1e3:.2f} ms, p99 {p99*1e3:.2f} ms over {int(cnt)} samples (histogram interpolation)")
print(f"service: {int(up)} of {n} feeds up, {int(firing)} cameras alerting, {int(msgs)} messages")
ours = svc_cpu / secs / n; floor = floor_cpu / secs / n
if floor > 0 and ours > 0:
    print(f"per feed CPU: service {ours*100:.3f}% of a core, floor {floor*100:.3f}% -> ratio {ours/floor:.2f}x")
    print(f"feeds per core: service {1/ours:.0f}, floor {1/floor:.0f}")
else:
    print(f"per feed CPU: service {ours*100:.3f}% of a core, floor {floor*100:.3f}%: too little load for a ratio (more feeds, a higher rate, or longer)")
print(f"memory: service peak RSS {svc_rss/1024:.1f} MiB ({svc_rss/1024/n:.3f} MiB/feed), floor {floor_rss/1024:.1f} MiB ({floor_rss/1024/n:.3f} MiB/feed)")
PY
