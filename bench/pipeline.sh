#!/usr/bin/env bash
# bench/pipeline.sh - pixd's image pipeline against Pillow's, in process, one core.
#
#   bench/pipeline.sh [FILE.jpg ...]
#
# Both sides do what one /magic request does to a JPEG body: decode from memory, convert('1'),
# save as JPEG. pixd: build/bench_pipeline. Pillow: Image.open(BytesIO).convert('1').save(...)
# under /usr/bin/python3, timed like timeit (warm-up, then a loop). Same files, same
# iteration counts, runs alternating A B A B, both pinned to one CPU; prints each side's
# median ms/image and the ratio. Default files: a generated photo-like 299x168 and 1920x1080
# JPEG (tests/conformance/genimages.py --bench).
#
# Environment: BUILD (default <source>/build), ROUNDS (default 7), PIN_CPU (default 0),
#              OUT (results directory, default a new /tmp/pixd-pipeline.*).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
ROUNDS=${ROUNDS:-7}
PIN_CPU=${PIN_CPU:-0}
OUT=${OUT:-$(mktemp -d /tmp/pixd-pipeline.XXXXXX)}
PY=/usr/bin/python3
BENCH=$BUILD/bench_pipeline
[ -x "$BENCH" ] || { echo "pipeline.sh: $BENCH not built" >&2; exit 1; }
mkdir -p "$OUT"

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <("$PY" "$SRC/tests/conformance/genimages.py" "$OUT/images" --bench)
fi

# Pillow's side: pillow.py FILE N prints pipeline_ms=... cpu_ms=...
cat >"$OUT/pillow.py" <<'PYTHON'
import io, sys, time
from PIL import Image
data = open(sys.argv[1], "rb").read()
n = int(sys.argv[2])
def run():
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("1").save(buf, format="JPEG")
run()  # warm-up, as bench_pipeline does
t0, c0 = time.perf_counter(), time.process_time()
for _ in range(n):
    run()
wall, cpu = (time.perf_counter() - t0) / n * 1e3, (time.process_time() - c0) / n * 1e3
print(f"pipeline_ms={wall:.4f} cpu_ms={cpu:.4f}")
PYTHON

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {print b / a}'; }
printf '%-24s %8s %8s %8s %8s %8s %8s %6s\n' file pixd_ms pil_ms ratio pixd_cpu pil_cpu ratio iters |
  tee "$OUT/summary.txt"
for f in "${files[@]}"; do
  # about a second of pixd work per run: enough to time, short enough to alternate often
  ms=$("$BENCH" "$f" -n 20 | field pipeline_ms)
  iters=$(awk -v ms="$ms" 'BEGIN {n = int(1000 / (ms > 0 ? ms : 1)); print n < 20 ? 20 : n}')
  : >"$OUT/pixd.txt"
  : >"$OUT/pillow.txt"
  for ((r = 0; r < ROUNDS; r++)); do
    taskset -c "$PIN_CPU" "$BENCH" "$f" -n "$iters" >>"$OUT/pixd.txt"
    taskset -c "$PIN_CPU" "$PY" "$OUT/pillow.py" "$f" "$iters" >>"$OUT/pillow.txt"
  done
  a=$(field pipeline_ms <"$OUT/pixd.txt" | median)
  b=$(field pipeline_ms <"$OUT/pillow.txt" | median)
  ac=$(field cpu_ms <"$OUT/pixd.txt" | median)
  bc=$(field cpu_ms <"$OUT/pillow.txt" | median)
  printf '%-24s %8.4f %8.4f %7.2fx %8.4f %8.4f %7.2fx %6d\n' "$(basename "$f")" "$a" "$b" "$(ratio "$a" "$b")" \
    "$ac" "$bc" "$(ratio "$ac" "$bc")" "$iters" | tee -a "$OUT/summary.txt"
done
echo "medians of $ROUNDS alternating runs on CPU $PIN_CPU; results in $OUT"
