#!/usr/bin/env bash
# /magic throughput against what the image pipeline alone allows on the same cores (issue 4).
#
#   bench/magic_capacity.sh [--rounds N] [-d|--duration S] [-u|--users N] [--image FILE]
#   PIXD=build/pixd BUILD=build bench/magic_capacity.sh      results in $OUT
#
# Per round, in alternating order (A B, then B A):
#   A  the pipeline: two build/bench_pipeline processes at once, one pinned to each core,
#      decode -> convert('1') -> JPEG of FILE in a loop; their images/s summed are "what the
#      two cores can do" with no HTTP, JSON, base64 or threads at all;
#   B  pixd --threads 2 (image pool at its default) on both cores with pixload beside it,
#      unpinned, -u N users at once for S seconds on POST /magic/base64 then /magic/multipart
#      with FILE (the suite's setting: the load generator shares the two cores).
# Reported per endpoint, medians over the rounds: pixd's requests/s, its ratio to the
# pipeline's images/s of the same round (target >= 0.90), pixd's CPU time per request against
# the pipeline's CPU time per image (the difference is what HTTP, JSON, base64 and the hand-off
# to the image threads cost), the load generator's CPU share, p50 and p99.
# PIXD_THREADS (default 2) and PIXD_ARGS change pixd's settings (for example PIXD_ARGS="--image-workers 0"
# to compare inline image work).
set -euo pipefail

rounds=5 secs=8 users=200 image=
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    -d|--duration) secs=${2%s}; shift ;;
    -u|--users) users=$2; shift ;;
    --image) image=$2; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; $d'; exit 0 ;;
    *) echo "magic_capacity.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

OUT=${OUT:-/tmp/pixd-bench/capacity-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/run" "$OUT/json"
RUN_DIR=$OUT/run
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
trap stop_all EXIT
BUILD=${BUILD:-$SRC_DIR/build}
PIXLOAD=${PIXLOAD:-$BUILD/pixload}
for b in "$PIXD" "$PIXLOAD" "$BUILD/bench_pipeline"; do
  [ -x "$b" ] || { echo "magic_capacity.sh: $b not built" >&2; exit 1; }
done
if [ -z "$image" ]; then
  image=$SRC_DIR/../shared/data/3.jpeg
  [ -f "$image" ] || image=$("$PY" "$SRC_DIR/tests/conformance/genimages.py" "$OUT/images" --bench | head -1)
fi
CSV=$OUT/rounds.csv
echo "round,endpoint,rps,pipeline_ips,server_us_per_req,pipeline_us_per_img,loadgen_cpu_pct,p50_us,p99_us" >"$CSV"

# pipeline: prints "images_per_s us_per_image" for both cores together.
pipeline() {
  local n=$((secs * 2000)) c
  for c in 0 1; do
    taskset -c "$c" "$BUILD/bench_pipeline" "$image" -n "$n" >"$RUN_DIR/pipe$c.txt" &
  done
  wait
  cat "$RUN_DIR"/pipe0.txt "$RUN_DIR"/pipe1.txt | "$PY" -c '
import re, sys
ips = [float(m) for m in re.findall(r"images_per_s=([0-9.]+)", sys.stdin.read())]
print(sum(ips), 1e6 / (sum(ips) / len(ips)))'
}

# server ROUND: runs both endpoints against a fresh pixd; appends "endpoint rps us/req lg% p50 p99".
server() {
  local r=$1 port ep t0 t1 lg
  port=$(free_port)
  AVATARS=$RUN_DIR CORES=${PIXD_THREADS:-2} start_peer pixd "$port"
  wait_ready "$PEER_URL/status" "$PEER_PID"
  for ep in base64 multipart; do
    local body=(--base64-image "$image")
    [ "$ep" = multipart ] && body=(--multipart "image=@$image;type=image/jpeg")
    t0=$(cpu_ticks "$PEER_PID")
    /usr/bin/time -f '%U %S' -o "$RUN_DIR/lg.txt" "$PIXLOAD" -u "$users" -r "$users" -t "${secs}s" \
      --timeout 60s --expect-status 200 "${body[@]}" --json-out "$OUT/json/r$r-$ep.json" \
      "$PEER_URL/magic/$ep" >/dev/null
    t1=$(cpu_ticks "$PEER_PID")
    lg=$(awk '{print $1 + $2}' "$RUN_DIR/lg.txt")
    "$PY" - "$OUT/json/r$r-$ep.json" "$ep" "$((t1 - t0))" "$HZ" "$lg" <<'PYTHON'
import json, sys
j = json.load(open(sys.argv[1])); t = j["total"]
ticks, hz, lg = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
assert t["failures"] == 0, "failed requests"
p = t["latency_us"]["percentiles"]
print(sys.argv[2], t["requests_per_s"], ticks / hz * 1e6 / t["requests"],
      100 * lg / j["duration_s"], p["50"], p["99"])
PYTHON
  done
  stop_all
}

for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then
    pipe=$(pipeline); srv=$(server "$r")
  else
    srv=$(server "$r"); pipe=$(pipeline)
  fi
  read -r ips us_img <<<"$pipe"
  while read -r ep rps us lg p50 p99; do
    echo "$r,$ep,$rps,$ips,$us,$us_img,$lg,$p50,$p99" >>"$CSV"
  done <<<"$srv"
  echo "round $r: pipeline $ips images/s; $(tr '\n' ';' <<<"$srv")" >&2
done

"$PY" - "$CSV" <<'PYTHON' | tee "$OUT/summary.md"
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| endpoint | pixd req/s | pipeline images/s | ratio (rounds) | pixd CPU/request | pipeline CPU/image | load gen CPU | p50 | p99 |")
print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
for ep in ("base64", "multipart"):
    rs = [r for r in rows if r["endpoint"] == ep]
    f = lambda k: [float(r[k]) for r in rs]
    ratios = [float(r["rps"]) / float(r["pipeline_ips"]) for r in rs]
    print(f"| /magic/{ep} | {st.median(f('rps')):,.0f} | {st.median(f('pipeline_ips')):,.0f} | "
          f"{st.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | {st.median(f('server_us_per_req')):.0f} us | "
          f"{st.median(f('pipeline_us_per_img')):.0f} us | {st.median(f('loadgen_cpu_pct')):.0f} % | "
          f"{st.median(f('p50_us')) / 1000:.1f} ms | {st.median(f('p99_us')) / 1000:.1f} ms |")
PYTHON
