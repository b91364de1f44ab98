#!/usr/bin/env bash
# Two pixd builds against each other: server CPU per request, paired round by round.
#
#   bench/builds.sh BASE_PIXD [--rounds N] [--aa]       PIXD=build/pixd (the build under test)
#
# A change must not cost speed. Per round, both builds serve the same avatar folder one after
# the other (A B, then B A the next round, so drift hits both alike), each in four runs:
#   avatars keep-alive   wrk -t 1 -c 100 -d 5s on /-1 (37 KB)      server pinned to core 1,
#   avatars, close       ab -n 20000 -c 100 on /-1                  load generator on core 0
#   /magic/base64        pixload -u 50 -t 10s, a 640x480 JPEG       pixd --threads 2, unpinned
#   /magic/multipart     the same as a form upload
# and records the server's CPU ticks (utime+stime of its process group) per request. The
# report gives, per run kind, the ratio B/A (the build under test over the base) of each round
# and their median. --aa measures the base against itself: its spread is the noise to read the
# real comparison against (run it in the same sitting). ab's runs leave TIME_WAIT sockets that
# slow the next run a little; the alternating order spreads that over both builds.
set -euo pipefail

base=${1:?usage: bench/builds.sh BASE_PIXD [--rounds N] [--aa]}
shift
rounds=5 aa=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --aa) aa=1 ;;
    *) echo "builds.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

OUT=${OUT:-/tmp/pixd-bench/builds-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/run" "$OUT/logs"
RUN_DIR=$OUT/run
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
trap stop_all EXIT
taskset -cp 0 $$ >/dev/null
BUILD=${BUILD:-$SRC_DIR/build}
PIXLOAD=${PIXLOAD:-$BUILD/pixload}
NEW=$PIXD
[ "$aa" = 1 ] && NEW=$base
for b in "$base" "$NEW" "$PIXLOAD"; do [ -x "$b" ] || { echo "builds.sh: $b not built" >&2; exit 1; }; done

AVATARS=$OUT/avatars
make_avatars "$AVATARS"
IMAGE=$OUT/photo.jpg
"$PY" -c 'import sys; from PIL import Image, ImageDraw
im = Image.new("RGB", (640, 480), (90, 140, 200)); d = ImageDraw.Draw(im)
for i in range(0, 640, 8): d.line((i, 0, 640 - i, 480), fill=(i % 256, 255 - i % 256, 60))
im.save(sys.argv[1], quality=90)' "$IMAGE"

CSV=$OUT/builds.csv
echo "round,build,kind,requests,server_ticks" >"$CSV"

# one BUILD_LABEL BINARY ROUND: the four runs against a fresh pixd from BINARY.
one() {
  local label=$1 bin=$2 round=$3 port t0 t1 n kind
  for kind in keepalive close base64 multipart; do
    port=$(free_port)
    case "$kind" in
      keepalive | close) PIXD=$bin PIN_CPU=1 start_peer pixd "$port" ;;
      *) PIXD=$bin PIN_CPU='' start_peer pixd2 "$port" ;;
    esac
    wait_ready "$PEER_URL/status" "$PEER_PID"
    wait_quiet 30 10 1
    local log=$OUT/logs/$round-$label-$kind.txt
    t0=$(cpu_ticks "$PEER_PID")
    case "$kind" in
      keepalive)
        taskset -c 0 wrk -t 1 -c 100 -d 5s "$PEER_URL/-1" >"$log" 2>&1
        n=$(awk '/ requests in / {print $1}' "$log") ;;
      close)
        taskset -c 0 ab -n 20000 -c 100 "$PEER_URL/-1" >"$log" 2>&1
        n=$(awk '/^Complete requests:/ {print $3}' "$log") ;;
      base64 | multipart)
        local body=(--base64-image "$IMAGE")
        [ "$kind" = multipart ] && body=(--multipart "image=@$IMAGE;type=image/jpeg")
        "$PIXLOAD" -u 50 -r 50 -t 10s --expect-status 200 "${body[@]}" --json-out "$log.json" \
          "$PEER_URL/magic/$kind" >"$log" 2>&1
        n=$("$PY" -c 'import json, sys; t = json.load(open(sys.argv[1]))["total"]
assert t["failures"] == 0, "failed requests"; print(t["requests"])' "$log.json") ;;
    esac
    t1=$(cpu_ticks "$PEER_PID")
    echo "$round,$label,$kind,$n,$((t1 - t0))" >>"$CSV"
    printf '  round %s %-4s %-9s %7s requests %6.1f us/request\n' "$round" "$label" "$kind" "$n" \
      "$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$HZ" 'BEGIN {print n ? t * 1e6 / hz / n : 0}')"
    stop_all
  done
}

echo "builds: A = $base, B = $NEW; $rounds rounds; output $OUT"
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then one A "$base" "$r"; one B "$NEW" "$r"; else one B "$NEW" "$r"; one A "$base" "$r"; fi
done

"$PY" - "$CSV" "$aa" <<'PYTHON' | tee "$OUT/summary.md"
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cpu = {(r["round"], r["build"], r["kind"]): int(r["server_ticks"]) / int(r["requests"]) for r in rows}
print("A/A: the base against itself" if sys.argv[2] == "1" else "B/A: the build under test over the base")
print("| run | CPU per request, B/A per round | median | min-max |")
print("|---|---|---:|---|")
for kind in ("keepalive", "close", "base64", "multipart"):
    ratios = [cpu[(rd, "B", kind)] / cpu[(rd, "A", kind)] for (rd, b, k) in cpu if b == "A" and k == kind]
    print(f"| {kind} | {' '.join(f'{x:.3f}' for x in ratios)} | {st.median(ratios):.3f} | "
          f"{min(ratios):.3f}-{max(ratios):.3f} |")
PYTHON
