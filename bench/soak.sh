#!/usr/bin/env bash
# bench/soak.sh - one pixd under steady mixed load, well-formed and hostile, for a long time: does
# it keep answering right, stay up, and hold its memory, descriptors and buffers flat?
#
#   bench/soak.sh DURATION [--out DIR]          DURATION: 60s, 30m, 1h, 1m30s or seconds (>= 30 s)
#   PIXD_BUILD=build-bench bench/soak.sh 30m    use DIR/pixd and DIR/pixload as they are
#
# Installs what is missing (scripts/install-deps.sh bench), builds pixd and pixload (Release, in
# build-bench/; with PIXD_BUILD=DIR set, uses DIR's binaries), generates the images
# (bench/make_avatars.py), starts a local nginx origin for /magic/imageurl and one pixd
# (--threads 2, --max-body-mb 2, --header-timeout 2, --body-timeout 2, loopback fetches
# allowed), then for DURATION, all at once, at fixed rates (open loop, so a slow pixd shows as
# latency and failures, not as less load):
#   pixload   avatars, keep-alive              -R 300  (/1000../1004, /-1 37 KB, an unknown user)
#   pixload   avatars, a connection per request -R 300 (--no-keepalive)
#   pixload   POST /magic/base64                -R 10  (299x168 JPEG, --base64-image)
#   pixload   POST /magic/multipart             -R 10
#   pixload   POST /magic/imageurl              -R 10  (the image from the local origin)
#   driver    what pixload cannot send, -R 20 (bench/soak_driver.py drive): malformed request
#             lines and heads (400, 405, 417, 505), oversize heads (431), bad JSON, base64 and
#             multipart bodies (400, 415), Content-Length over --max-body-mb (413), heads and
#             bodies that stall (408), clients that send half a head or half a body and vanish
#             (FIN, or RST with SO_LINGER 0), clients that leave while their /magic job runs,
#             pipelined bursts of 8-32 requests, Expect: 100-continue, heads in pieces.
#   sampler   every second: /status (connections.open, memory.read_buffers, memory.bodies,
#             jobs.*), VmRSS, threads and open fds from /proc -> samples.csv
# Every pixload request must answer 200 and every driver case its expected status. After the
# load, an idle pause (IDLE_S, 6 s: longer than pixd's head and body timeouts), then pixd is
# stopped with SIGTERM and must exit 0.
#
# Fails (exit 1, the reasons listed last) on:
#   - any unexpected answer: a pixload failure of any kind (status, timeout, read, connect...)
#     or a driver case answered with another status than expected (or not at all);
#   - pixd exiting during the run, a non-zero exit on SIGTERM, a sanitizer report in its log,
#     /status not answering within 5 s;
#   - growth after the warm-up. Warm-up: the first 20 % of the load, at least 10 s. The median of
#     the last 10 % of the load (at least 5 s) against the median of the 10 % right after the
#     warm-up; it fails above:
#       RSS               +16 MiB and +20 % (both)
#       open fds          +64
#       open connections  +64
#       read buffers      +4 MiB and +50 % (both)
#       bodies in memory  +4 MiB and +50 % (both)
#       queued jobs       +16
#   - not idle at the end (the last sample of the idle pause): open connections > 1 (the
#     sampler's own), read buffers > 64 KiB, bodies > 0, queued or running jobs > 0, open fds
#     more than 8 above those before the load (the sampler starts 3 s early; avatars of 16 KiB
#     or more cached meanwhile keep a memfd each).
#
# Results in DIR (default /tmp/pixd-bench/soak-<time>, or $OUT): summary.md (also printed) and
# summary.json, soak.png (RSS, fds, connections, buffers over time), samples.csv, driver.json,
# json/ (pixload --json-out), logs/ (pixload, driver, pixd, build).
#
# Environment: PIXD_THREADS (2), PIXD_ARGS (more pixd options), AV_RATE (300), AV_CLOSE_RATE
# (300), MAGIC_RATE (10, each endpoint), DRIVER_RATE (20), MAX_BODY_MB (2), IDLE_S (6).
# The machine's two cores are shared by pixd, nginx, five pixloads and the driver: the rates are
# kept modest so that the run measures pixd's steadiness, not its saturation.
set -euo pipefail

usage() { sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; $d'; }
duration='' out=''
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "soak.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$duration" ] || { echo "soak.sh: one DURATION only" >&2; exit 2; }; duration=$1 ;;
  esac
  shift
done
[ -n "$duration" ] || { echo "usage: bench/soak.sh DURATION [--out DIR]  (see --help)" >&2; exit 2; }

# secs DURATION: whole seconds of 90, 60s, 30m, 1h, 1m30s.
secs() {
  local d=$1 total=0 n u
  [[ "$d" =~ ^[0-9]+$ ]] && { echo "$d"; return 0; }
  [[ "$d" =~ ^([0-9]+[hms])+$ ]] || return 1
  while [[ "$d" =~ ^([0-9]+)([hms])(.*)$ ]]; do
    n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]} d=${BASH_REMATCH[3]}
    case "$u" in h) total=$((total + n * 3600)) ;; m) total=$((total + n * 60)) ;; s) total=$((total + n)) ;; esac
  done
  echo "$total"
}
SECS=$(secs "$duration") || { echo "soak.sh: cannot read duration '$duration' (60s, 30m, 1h, 1m30s)" >&2; exit 2; }
[ "$SECS" -ge 30 ] || { echo "soak.sh: DURATION must be at least 30 s (warm-up 10 s, two 5 s windows)" >&2; exit 2; }

AV_RATE=${AV_RATE:-300} AV_CLOSE_RATE=${AV_CLOSE_RATE:-300} MAGIC_RATE=${MAGIC_RATE:-10}
DRIVER_RATE=${DRIVER_RATE:-20} MAX_BODY_MB=${MAX_BODY_MB:-2} IDLE_S=${IDLE_S:-6} PRE_S=3

SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${out:-${OUT:-/tmp/pixd-bench/soak-$(date +%Y%m%d-%H%M%S)}}
mkdir -p "$OUT"/{json,logs,run}
OUT=$(cd "$OUT" && pwd)
case "$OUT/" in "$SRC"/src/*) echo "soak.sh: results do not go inside src/ (--out)" >&2; exit 2 ;; esac
# The origin nginx drops to an unprivileged user when started as root: it must reach the images.
chmod 755 "$OUT"
RUN_DIR=$OUT/run
exec > >(tee -a "$OUT/logs/soak.txt") 2>&1
echo "bench/soak.sh: $SECS s of load; results in $OUT"

"$SRC/scripts/install-deps.sh" bench || echo "soak.sh: warning: installing packages failed" >&2
if [ -n "${PIXD_BUILD:-}" ]; then
  BUILD=$(cd "$PIXD_BUILD" && pwd)
else
  BUILD=$SRC/build-bench
  echo "building pixd and pixload (Release) in $BUILD"
  { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release && cmake --build "$BUILD" -j2 --target pixd pixload; } \
    >"$OUT/logs/cmake.txt" 2>&1 || { echo "soak.sh: the build failed, see $OUT/logs/cmake.txt" >&2; exit 1; }
fi
PIXD=$BUILD/pixd PIXLOAD=$BUILD/pixload
for b in "$PIXD" "$PIXLOAD"; do
  [ -x "$b" ] || { echo "soak.sh: $b does not exist" >&2; exit 1; }
done

# shellcheck source=SCRIPTDIR/lib.sh
. "$SRC/bench/lib.sh"
DRIVER=$BENCH_DIR/soak_driver.py
LOAD_PIDS=() SAMPLER_PID=''
# shellcheck disable=SC2317  # cleanup runs from the EXIT trap
cleanup() {
  local p
  for p in "${LOAD_PIDS[@]}" $SAMPLER_PID; do kill "$p" 2>/dev/null || true; done
  stop_all
}
trap cleanup EXIT

# The images: the avatar folder pixd serves is also the origin's root; 3.jpeg (299x168, 10 KB)
# is what the /magic requests convert.
IMAGES=$OUT/images
make_avatars "$IMAGES"
IMG=$IMAGES/3.jpeg
cat >"$RUN_DIR/avatars.json" <<'JSON'
{"defaults": {"expect_status": "200"},
 "requests": [
  {"path": "/1000", "weight": 2}, {"path": "/1001"}, {"path": "/1002"}, {"path": "/1003"},
  {"path": "/1004"}, {"path": "/-1", "name": "/-1 (37 KB)"}, {"path": "/nobody", "name": "unknown user"}
 ]}
JSON

origin_port=$(free_port)
start_nginx origin.conf.in "$origin_port" "$IMAGES"
ORIGIN=http://127.0.0.1:$origin_port
wait_ready "$ORIGIN/3.jpeg" "$STARTED_PID"

port=$(free_port)
AVATARS=$IMAGES CORES=${PIXD_THREADS:-2} \
  PIXD_ARGS="--max-body-mb $MAX_BODY_MB --header-timeout 2 --body-timeout 2 ${PIXD_ARGS:-}" \
  start_peer pixd "$port"
PIXD_PID=$PEER_PID PIXD_LOG=$PEER_LOG URL=$PEER_URL
wait_ready "$URL/status" "$PIXD_PID"
echo "pixd $("$PIXD" --version 2>&1 | head -1) on $URL (pid $PIXD_PID), origin $ORIGIN"

# pixd_gone: whether pixd has exited (a zombie until this shell reaps it).
pixd_gone() {
  local st
  st=$(awk '{ print $3 }' "/proc/$PIXD_PID/stat" 2>/dev/null) || return 0
  [ "$st" = Z ]
}

# load NAME PIXLOAD-ARGS...: one pixload in the background for the whole run.
LOAD_NAMES=()
load() {
  local name=$1; shift
  "$PIXLOAD" -q --threads 1 -t "${SECS}s" --timeout 10s --expect-status 200 \
    --json-out "$OUT/json/$name.json" "$@" >"$OUT/logs/$name.txt" 2>&1 &
  LOAD_PIDS+=($!) LOAD_NAMES+=("$name")
}

# The sampler starts PRE_S seconds before the load (negative t_s: pixd idle, the descriptors it
# holds on its own).
T0=$(awk -v n="$EPOCHREALTIME" -v p="$PRE_S" 'BEGIN { printf "%.6f", n + p }')
"$PY" "$DRIVER" sample "$URL" --pid "$PIXD_PID" --t0 "$T0" --out "$OUT/samples.csv" \
  2>"$OUT/logs/sampler.txt" &
SAMPLER_PID=$!
sleep "$PRE_S"
load avatars-keepalive -c 8 -R "$AV_RATE" --scenario "$RUN_DIR/avatars.json" "$URL/"
load avatars-close -c 16 -R "$AV_CLOSE_RATE" --no-keepalive --scenario "$RUN_DIR/avatars.json" "$URL/"
load magic-base64 -c 4 -R "$MAGIC_RATE" --base64-image "$IMG" "$URL/magic/base64"
load magic-multipart -c 4 -R "$MAGIC_RATE" --multipart "image=@$IMG;type=image/jpeg" "$URL/magic/multipart"
load magic-imageurl -c 4 -R "$MAGIC_RATE" --image-url "$ORIGIN/3.jpeg" "$URL/magic/imageurl"
"$PY" "$DRIVER" drive "$URL" --duration "$SECS" --rate "$DRIVER_RATE" --image "$IMG" \
  --image-url "$ORIGIN/3.jpeg" --max-body-mb "$MAX_BODY_MB" --out "$OUT/driver.json" \
  >"$OUT/logs/driver.txt" 2>&1 &
DRIVER_PID=$!
LOAD_PIDS+=("$DRIVER_PID") LOAD_NAMES+=(driver)

# Watch until the load is over (a line from the latest sample every tenth of the run, at least
# every 10 s); stop the load early if pixd dies.
FAILS=() crashed=0 step=$(( SECS / 10 > 10 ? SECS / 10 : 10 )) next=$step
while :; do
  running=0
  for p in "${LOAD_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && running=1; done
  [ "$running" = 0 ] && break
  now=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", b - a }')
  if pixd_gone; then
    crashed=1 rc=0
    wait "$PIXD_PID" || rc=$?
    sig=''
    [ "$rc" -le 128 ] || sig=", signal $((rc - 128))"
    FAILS+=("pixd exited during the load (status $rc$sig) at $now s; see $PIXD_LOG")
    echo "soak.sh: ${FAILS[-1]}; stopping the load" >&2
    # pixload writes its report on SIGINT (as on Ctrl-C), the driver on SIGTERM.
    for p in "${LOAD_PIDS[@]}"; do
      if [ "$p" = "$DRIVER_PID" ]; then kill -TERM "$p"; else kill -INT "$p"; fi 2>/dev/null || true
    done
    break
  fi
  if [ "$now" -ge "$next" ]; then
    next=$((next + step))
    tail -1 "$OUT/samples.csv" | awk -F, '$3 ~ /^[0-9]/ {
      printf "  %5.0f s  RSS %.1f MiB, fds %d, connections %s, read buffers %.0f KiB, bodies %.0f KiB, jobs queued %s, /status %s ms\n",
        $2, $3 / 1024, $4, $6, $9 / 1024, $10 / 1024, $11, $16 }'
  fi
  sleep 1
done
for i in "${!LOAD_PIDS[@]}"; do
  rc=0
  wait "${LOAD_PIDS[$i]}" || rc=$?
  [ "$rc" = 0 ] || [ "$crashed" = 1 ] || FAILS+=("${LOAD_NAMES[$i]} exited with status $rc (see $OUT/logs/${LOAD_NAMES[$i]}.txt)")
done
LOAD_PIDS=()

# Idle: every client is gone; the sampler keeps going so that the last samples show the rest.
if [ "$crashed" = 0 ]; then
  sleep "$IDLE_S"
fi
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" || true
SAMPLER_PID=''
if [ "$crashed" = 0 ]; then
  if pixd_gone; then
    rc=0
    wait "$PIXD_PID" || rc=$?
    FAILS+=("pixd exited after the load, before SIGTERM (status $rc); see $PIXD_LOG")
  else
    kill -TERM "$PIXD_PID"
    rc=0
    for _ in $(seq 100); do pixd_gone && break; sleep 0.1; done
    pixd_gone || { FAILS+=("pixd did not exit within 10 s of SIGTERM"); kill -KILL "$PIXD_PID"; }
    wait "$PIXD_PID" || rc=$?
    [ "$rc" = 0 ] || FAILS+=("pixd exited with status $rc on SIGTERM; see $PIXD_LOG")
  fi
fi
cp "$PIXD_LOG" "$OUT/logs/pixd.txt"
if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$PIXD_LOG"; then
  FAILS+=("a sanitizer report in pixd's log ($OUT/logs/pixd.txt)")
fi

echo
judge=(--samples "$OUT/samples.csv" --duration "$SECS" --driver "$OUT/driver.json" --out "$OUT")
for n in "${LOAD_NAMES[@]}"; do
  [ "$n" = driver ] || judge+=(--pixload "$n=$OUT/json/$n.json")
done
for f in "${FAILS[@]}"; do judge+=(--fail "$f"); done
verdict=0
"$PY" "$DRIVER" judge "${judge[@]}" || verdict=$?

warm=$(awk -v s="$SECS" 'BEGIN { w = 0.2 * s; print (w < 10 ? 10 : w) }')
win=$(awk -v s="$SECS" 'BEGIN { w = 0.1 * s; print (w < 5 ? 5 : w) }')
if command -v gnuplot >/dev/null; then
  gnuplot -e "csv='$OUT/samples.csv'; png='$OUT/soak.png'; warm=$warm; win=$win; load=$SECS" \
    "$BENCH_DIR/soak_plot.gp" 2>"$OUT/logs/gnuplot.txt" || echo "soak.sh: warning: the chart failed, see $OUT/logs/gnuplot.txt" >&2
else
  echo "soak.sh: warning: gnuplot is missing (scripts/install-deps.sh bench): no chart" >&2
fi
echo
echo "results: $OUT (summary.md, soak.png, samples.csv)"
exit "$verdict"
