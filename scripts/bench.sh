#!/usr/bin/env bash
# flinkdrop end-to-end benchmarks (issue 6), against the simulator on
# loopback. Prints a Markdown table; each figure is the median of N runs with
# the min–max beside it to show the noise.
#
#   scripts/bench.sh            # N=5
#   BENCH_RUNS=3 BENCH_IDLE_SECONDS=10 scripts/bench.sh
#
# Figures:
#  - upload throughput of `flinkdrop run --once` (one session of 8 files of
#    18 MB, sent one after the other, wall time minus the median start-up of
#    `run --once` on an empty inbox; it includes the re-check hash and the
#    complete call) against curl posting the same upload bodies, base64 made
#    in advance and streamed from disk (-T), with one token, one curl after
#    the other;
#  - peak RSS of `run --once` uploading 4 files of 18 MB at once (workers 4);
#  - time from the last byte a scanner writes to the report (stable_for 1s,
#    settle 2s, no fraud polling);
#  - start-up with a backlog of 10,000 files in 1,000 folders: time to the
#    first session taken and to all 1,000 (stable_for 0s, settle 0s);
#  - CPU of an idle daemon watching 1,000 folders (10,000 files that never
#    close: settle 24h) over BENCH_IDLE_SECONDS (default 30).
# Needs go, curl, base64, GNU date and /usr/bin/time; Linux (/proc).
set -euo pipefail

RUNS=${BENCH_RUNS:-5}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-30}
FILES=8
SIZE=$((18 * 1048576 - 4096)) # just under the 18 MB limit

cd "$(dirname "$0")/.."
W=$(mktemp -d "${TMPDIR:-/tmp}/flinkdrop-bench.XXXXXX")
SIM_PID=""
DAEMON_PID=""
cleanup() {
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }
# wait_for SECONDS COMMAND...: polls COMMAND until it succeeds; gives up
# (and the script fails) after SECONDS.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		if [ "$SECONDS" -ge "$end" ]; then
			echo "bench: timed out waiting for: $*" >&2
			exit 1
		fi
		sleep 0.01
	done
}
started() { grep -q '"flinkdrop started"' "$1"; }
taken_all() { [ "$(grep -c '"session taken"' "$1")" -ge 1000 ]; }
report_of() { compgen -G "$1" >/dev/null; }
now_ns() { date +%s%N; }
# ms_since START_NS [END_NS]
ms_between() { echo $(((${2} - ${1}) / 1000000)); }

# stats prints "median (min–max)" of the numbers on stdin.
stats() {
	sort -g | awk '{v[NR]=$1} END {
		if (NR == 0) { print "n/a"; exit }
		m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "%.4g (%.4g–%.4g)", m, v[1], v[NR] }'
}
median() {
	sort -g | awk '{v[NR]=$1} END { if (NR == 0) { print 0; exit }
		m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; print m }'
}

free_port() {
	# A port the kernel hands out now; the simulator binds it a moment later.
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free port found" >&2
	exit 1
}

log "building flinkdrop"
go build -o "$W/flinkdrop" ./cmd/flinkdrop
BIN=$W/flinkdrop

API_PORT=$(free_port)
FRAUD_PORT=$(free_port)
"$BIN" sim --dir "$W/sim" --addr "127.0.0.1:$API_PORT" --fraud-addr "127.0.0.1:$FRAUD_PORT" >"$W/sim.out" 2>&1 &
SIM_PID=$!
sim_up() { [ -s "$W/sim/client_secret.txt" ] && grep -q "running" "$W/sim.out"; }
wait_for 30 sim_up
UPLOAD_URL="https://127.0.0.1:$API_PORT/api/v1"
CA=$W/sim/ca.crt CERT=$W/sim/client.crt KEY=$W/sim/client.key
SECRET=$(cat "$W/sim/client_secret.txt")

# config NAME STABLE_FOR SETTLE WORKERS: writes $W/NAME/config.yaml over
# fresh folders in $W/NAME and prints its path.
config() {
	local d=$W/$1
	rm -rf "$d"
	mkdir -p "$d/inbox" "$d/outbox" "$d/archive" "$d/failed" "$d/state"
	cat >"$d/config.yaml" <<EOF
flinks:
  upload_url: "$UPLOAD_URL"
  client_id: sim-client
  client_secret_file: "$W/sim/client_secret.txt"
  tls:
    cert_file: "$CERT"
    key_file: "$KEY"
    ca_file: "$CA"
state_dir: "$d/state"
workers: $4
inboxes:
  - path: "$d/inbox"
    outbox: "$d/outbox"
    archive: "$d/archive"
    failed: "$d/failed"
    stable_for: $2
    settle: $3
log:
  level: info
  console: json
EOF
	echo "$d/config.yaml"
}

# ---- data ----
log "making $FILES files of $SIZE bytes and their upload bodies"
mkdir -p "$W/data" "$W/bodies"
for i in $(seq $FILES); do
	f=$W/data/statement-$i.pdf
	printf '%%PDF-1.4\n%%bench %d\n' "$i" >"$f"
	head -c $((SIZE - 64)) /dev/urandom >>"$f"
	truncate -s $SIZE "$f"
	{
		printf '{"Files":[{"FileName":"statement-%d.pdf","Content":"' "$i"
		base64 -w0 "$f"
		printf '"}]}'
	} >"$W/bodies/$i.json"
done
TOTAL_BYTES=$((FILES * SIZE))

# ---- 1. throughput ----
log "throughput: curl"
TOKEN=$(curl -sS --fail --cacert "$CA" --cert "$CERT" --key "$KEY" -u "sim-client:$SECRET" \
	-d grant_type=client_credentials -d scope=ocr.write "$UPLOAD_URL/token" |
	sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || { echo "bench: no token from the simulator" >&2; exit 1; }
: >"$W/curl.ms"
for _ in $(seq "$RUNS"); do
	t0=$(now_ns)
	for i in $(seq $FILES); do
		curl -sS --fail -o /dev/null --cacert "$CA" --cert "$CERT" --key "$KEY" \
			-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -H "Expect:" \
			-X POST -T "$W/bodies/$i.json" "$UPLOAD_URL/upload"
	done
	ms_between "$t0" "$(now_ns)" >>"$W/curl.ms"
done

log "throughput: flinkdrop run --once start-up"
CFG=$(config tput 0s 0s 1)
: >"$W/startup.ms"
for _ in $(seq "$RUNS"); do
	t0=$(now_ns)
	"$BIN" run --once --config "$CFG" 2>>"$W/tput.log"
	ms_between "$t0" "$(now_ns)" >>"$W/startup.ms"
done
STARTUP_MS=$(median <"$W/startup.ms")

log "throughput: flinkdrop run --once"
: >"$W/flinkdrop.ms"
for r in $(seq "$RUNS"); do
	rm -rf "$W/tput/archive"/* "$W/tput/outbox"/*
	mkdir -p "$W/tput/inbox/run$r"
	cp "$W/data"/*.pdf "$W/tput/inbox/run$r/"
	t0=$(now_ns)
	"$BIN" run --once --config "$CFG" 2>>"$W/tput.log"
	t1=$(now_ns)
	[ "$(find "$W/tput/outbox" -name '*.json' | wc -l)" = 1 ] || { echo "bench: flinkdrop run --once wrote no report" >&2; exit 1; }
	echo $(($(ms_between "$t0" "$t1") - ${STARTUP_MS%.*})) >>"$W/flinkdrop.ms"
done
mbps() { awk -v b=$TOTAL_BYTES '{ printf "%.1f\n", b / 1048576 / ($1 / 1000) }'; }
CURL_MBPS=$(mbps <"$W/curl.ms" | stats)
FD_MBPS=$(mbps <"$W/flinkdrop.ms" | stats)
# Ratio of the medians; the range pairs the runs in the order they ran.
RATIO_MED=$(awk -v a="$(median <"$W/flinkdrop.ms")" -v b="$(median <"$W/curl.ms")" 'BEGIN { printf "%.3f", a / b }')
RATIO_RANGE=$(paste "$W/flinkdrop.ms" "$W/curl.ms" | awk '{ printf "%.3f\n", $1 / $2 }' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }')
RATIO="$RATIO_MED ($RATIO_RANGE)"

# ---- 2. peak RSS ----
log "peak RSS: 4 files of 18 MB at once"
CFG=$(config rss 0s 0s 4)
: >"$W/rss.mb"
for r in $(seq "$RUNS"); do
	rm -rf "$W/rss/archive"/* "$W/rss/outbox"/*
	for i in 1 2 3 4; do
		mkdir -p "$W/rss/inbox/r$r-$i"
		cp "$W/data/statement-$i.pdf" "$W/rss/inbox/r$r-$i/"
	done
	/usr/bin/time -v "$BIN" run --once --config "$CFG" 2>"$W/rss.time"
	awk -F: '/Maximum resident set size/ { printf "%.1f\n", $2 / 1024 }' "$W/rss.time" >>"$W/rss.mb"
done
RSS=$(stats <"$W/rss.mb")

# ---- 3. last byte to report ----
log "last byte written to report (stable_for 1s, settle 2s)"
CFG=$(config lat 1s 2s 4)
: >"$W/lat.log"
"$BIN" run --config "$CFG" 2>"$W/lat.log" &
DAEMON_PID=$!
wait_for 30 started "$W/lat.log"
: >"$W/lat.ms"
for r in $(seq "$RUNS"); do
	mkdir "$W/lat/inbox/scan$r"
	cp "$W/data/statement-$r.pdf" "$W/lat/inbox/scan$r/page.pdf"
	t0=$(now_ns)
	wait_for 60 report_of "$W/lat/outbox/scan${r}__*.json"
	ms_between "$t0" "$(now_ns)" >>"$W/lat.ms"
done
kill "$DAEMON_PID"
wait "$DAEMON_PID" || true
DAEMON_PID=""
LAT=$(awk '{ printf "%.2f\n", $1 / 1000 }' "$W/lat.ms" | stats)

# ---- 4. start-up with a backlog, 5. idle CPU ----
log "making 1,000 folders of 10 files"
mkdir -p "$W/tree"
for f in $(seq -w 1000); do
	mkdir "$W/tree/client-$f"
	for i in $(seq 10); do
		printf '%%PDF-1.4\n%%backlog %s %d\n%%%%EOF\n' "$f" "$i" >"$W/tree/client-$f/page-$i.pdf"
	done
done
ts_ns() { date -d "$1" +%s%N; }
log "start-up with the backlog"
: >"$W/first.ms"
: >"$W/all.ms"
for _ in $(seq "$RUNS"); do
	CFG=$(config backlog 0s 0s 4)
	cp -r "$W/tree"/client-* "$W/backlog/inbox/"
	: >"$W/backlog.log"
	t0=$(now_ns)
	"$BIN" run --config "$CFG" 2>"$W/backlog.log" &
	DAEMON_PID=$!
	wait_for 300 taken_all "$W/backlog.log"
	kill "$DAEMON_PID"
	wait "$DAEMON_PID" || true
	DAEMON_PID=""
	first=$(grep -m1 '"session taken"' "$W/backlog.log" | sed 's/.*"time":"\([^"]*\)".*/\1/')
	all=$(grep '"session taken"' "$W/backlog.log" | sed -n 1000p | sed 's/.*"time":"\([^"]*\)".*/\1/')
	ms_between "$t0" "$(ts_ns "$first")" >>"$W/first.ms"
	ms_between "$t0" "$(ts_ns "$all")" >>"$W/all.ms"
done
FIRST=$(stats <"$W/first.ms")
ALL=$(stats <"$W/all.ms")

log "idle CPU over ${IDLE_SECONDS}s, watching 1,000 folders (settle 24h)"
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
: >"$W/idle.pct"
for _ in $(seq "$RUNS"); do
	CFG=$(config idle 0s 24h 4)
	cp -r "$W/tree"/client-* "$W/idle/inbox/"
	: >"$W/idle.log"
	"$BIN" run --config "$CFG" 2>"$W/idle.log" &
	DAEMON_PID=$!
	wait_for 30 started "$W/idle.log"
	sleep 5 # let the first scan and the watches settle before measuring
	c0=$(cpu_ticks "$DAEMON_PID")
	sleep "$IDLE_SECONDS"
	c1=$(cpu_ticks "$DAEMON_PID")
	kill "$DAEMON_PID"
	wait "$DAEMON_PID" || true
	DAEMON_PID=""
	awk -v d=$((c1 - c0)) -v t="$TCK" -v s="$IDLE_SECONDS" 'BEGIN { printf "%.3f\n", 100 * d / t / s }' >>"$W/idle.pct"
done
IDLE=$(stats <"$W/idle.pct")

cat <<EOF

flinkdrop benchmarks — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(go version | awk '{print $3}'), median (min–max) of $RUNS runs

| figure | result | goal |
|---|---|---|
| upload throughput, curl (MB/s, $FILES × 18 MB, one at a time) | $CURL_MBPS | — |
| upload throughput, flinkdrop run --once (MB/s, same files, one session) | $FD_MBPS | — |
| time ratio flinkdrop / curl | $RATIO | ≤ 1.3 |
| run --once start-up, empty inbox (ms, subtracted above) | $(stats <"$W/startup.ms") | — |
| peak RSS, 4 × 18 MB at once, workers 4 (MB) | $RSS | ≤ 80 |
| last byte written → report (s; stable_for 1s, settle 2s) | $LAT | ≤ 3 + 1 = 4 |
| backlog 10,000 files / 1,000 folders: first session taken (ms) | $FIRST | — |
| backlog: all 1,000 sessions taken (ms) | $ALL | — |
| idle CPU watching 1,000 folders over ${IDLE_SECONDS}s (% of one CPU) | $IDLE | — |
EOF
