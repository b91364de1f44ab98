#!/usr/bin/env bash
# bench/render_vs_pillow.sh - a cold avatar render, pixd's against Pillow's, in process, one core.
#
#   bench/render_vs_pillow.sh [FILE.jpg ...]
#
# Both sides turn a JPEG's bytes into a SIZE x SIZE JPEG at QUALITY, as an avatar request that
# misses the cache does: pixd's build/render_bench (img_decode_pixels with min_side SIZE,
# img_square, img_encode), and Pillow's
#   im = Image.open(f); im.draft('RGB', (SIZE, SIZE)); im.thumbnail((SIZE, SIZE))
#   im.save(buf, 'JPEG', quality=QUALITY)
# under /usr/bin/python3 (Debian's python3-pil). Same file, same iteration count (about a second
# of pixd work), runs alternating A B A B pinned to one CPU; prints each side's median time per
# render (wall and process CPU), the ratios (Pillow / pixd: above 1 means pixd is faster) and
# pixd's phases. Default files: 400x400 photo-like JPEGs (bench/make_avatars.py's photo_like)
# at qualities 75 and 90, and make_avatars' default avatar (its quality chosen for ~37 KB).
#
# Environment: BUILD (default <source>/build), ROUNDS (default 7), PIN_CPU (default 1),
#              SIZE (default 80), QUALITY (default 85), OUT (default a new /tmp/pixd-render.*).
# Both sides inherit the environment: GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304:\
# glibc.malloc.trim_threshold=8388608 shows what page faults cost a progressive JPEG (libjpeg
# zeroes a whole-image coefficient buffer that malloc maps afresh for every render; decision 008).
# The "pixd phases" are wall time; compare CPU columns when the machine is shared.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
ROUNDS=${ROUNDS:-7}
PIN_CPU=${PIN_CPU:-1}
SIZE=${SIZE:-80}
QUALITY=${QUALITY:-85}
OUT=${OUT:-$(mktemp -d /tmp/pixd-render.XXXXXX)}
PY=/usr/bin/python3
BENCH=$BUILD/render_bench
[ -x "$BENCH" ] || { echo "render_vs_pillow.sh: $BENCH not built" >&2; exit 1; }
mkdir -p "$OUT"

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <("$PY" - "$SRC/bench" "$OUT/images" <<'PYTHON'
import io, os, sys
sys.path.insert(0, sys.argv[1])
import make_avatars
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
photo = make_avatars.photo_like(400, 400, seed=1)
made = {f"photo400_q{q}.jpg": None for q in (75, 90)}
for name in made:
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=int(name[-6:-4]))
    made[name] = buf.getvalue()
made["avatar400_37k.jpg"] = make_avatars.jpeg_near(photo, 37 * 1024)
for name, data in made.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    print(os.path.join(out, name))
PYTHON
  )
fi

# Pillow's side: pillow.py FILE SIZE QUALITY N prints ns_per_render=... cpu_ns_per_render=...
cat >"$OUT/pillow.py" <<'PYTHON'
import io, sys, time
from PIL import Image
data = open(sys.argv[1], "rb").read()
size, quality, n = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def render():
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (size, size))
    im.thumbnail((size, size))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
render()  # warm-up, as render_bench does
t0, c0 = time.perf_counter_ns(), time.process_time_ns()
for _ in range(n):
    render()
print(f"ns_per_render={(time.perf_counter_ns() - t0) // n} cpu_ns_per_render={(time.process_time_ns() - c0) // n}")
PYTHON

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
field() { sed -n "s/\(^\|.* \)$1=\([0-9.]*\).*/\2/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {print b / a}'; }
us() { awk -v ns="$1" 'BEGIN {printf "%.0f", ns / 1000}'; }

printf '%-22s %9s %9s %7s %9s %9s %7s %6s  %s\n' file pixd_us pil_us ratio pixd_cpu pil_cpu ratio iters \
  "pixd phases us (decode resize encode)" | tee "$OUT/summary.txt"
for f in "${files[@]}"; do
  ns=$(taskset -c "$PIN_CPU" "$BENCH" "$f" "$SIZE" jpeg 20 "$QUALITY" | field ns_per_render)
  iters=$(awk -v ns="$ns" 'BEGIN {n = int(1e9 / (ns > 0 ? ns : 1)); print n < 20 ? 20 : n}')
  : >"$OUT/pixd.txt"
  : >"$OUT/pillow.txt"
  for ((r = 0; r < ROUNDS; r++)); do
    taskset -c "$PIN_CPU" "$BENCH" "$f" "$SIZE" jpeg "$iters" "$QUALITY" >>"$OUT/pixd.txt"
    taskset -c "$PIN_CPU" "$PY" "$OUT/pillow.py" "$f" "$SIZE" "$QUALITY" "$iters" >>"$OUT/pillow.txt"
  done
  a=$(field ns_per_render <"$OUT/pixd.txt" | median)
  b=$(field ns_per_render <"$OUT/pillow.txt" | median)
  ac=$(field cpu_ns_per_render <"$OUT/pixd.txt" | median)
  bc=$(field cpu_ns_per_render <"$OUT/pillow.txt" | median)
  phases="$(us "$(field decode_ns <"$OUT/pixd.txt" | median)") $(us "$(field resize_ns <"$OUT/pixd.txt" | median)")"
  phases="$phases $(us "$(field encode_ns <"$OUT/pixd.txt" | median)")"
  printf '%-22s %9s %9s %6.2fx %9s %9s %6.2fx %6d  %s\n' "$(basename "$f")" "$(us "$a")" "$(us "$b")" \
    "$(ratio "$a" "$b")" "$(us "$ac")" "$(us "$bc")" "$(ratio "$ac" "$bc")" "$iters" "$phases" |
    tee -a "$OUT/summary.txt"
done
echo "${SIZE}x${SIZE} JPEG at quality $QUALITY; medians of $ROUNDS alternating runs on CPU $PIN_CPU; results in $OUT"
