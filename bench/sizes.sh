#!/usr/bin/env bash
# Sized avatars: pixd's cached variants against resizing on every request.
#
#   bench/sizes.sh [--rounds N] [--duration S] [--conns N] [--quiet-max S] [--retries N]
#                  [--disturbed PCT] [--servers "pixd-thumb pixd ..."] [--no-flood]
#   PIXD=build/pixd bench/sizes.sh            results in $OUT (default /tmp/pixd-bench/sizes-<time>)
#
# GET /-1?s=80 (the 37 KB 400x400 avatar of bench/make_avatars.py as an 80x80 JPEG) from:
#   pixd        cached variant: rendered once on the image pool, then answered from memory
#   pixd-thumb  pixd's /t80: an 80x80 file holding the very bytes of pixd's variant, served as
#               an ordinary avatar (the yardstick: a cached variant should cost within 1.1x)
#   pixd-cold   pixd with --variant-cache-mb 0, loaded over $COLD_CONNS (1) connection: renders
#               on every request (pixd's engine alone). Over more connections the same URL's
#               requests arriving during a render wait for it and share it (single-flight), so
#               a render would serve many requests; /metrics shows renders per request.
#   nginx       image_filter resize 80 80 on every request (bench/nginx/image_filter.conf.in)
#   pillow      a Libravatar-style Flask + Pillow app resizing on every request, under gunicorn
#               (bench/peers/libravatar_app.py)
# Each server is pinned to core 1: pixd --threads 1 --image-workers 1 (one event loop and one
# image thread, the same single core), nginx worker_processes 1, gunicorn 1 worker. gunicorn
# runs the gthread worker (--threads $GTHREADS, default 2): the sync worker closes the
# connection after every answer (no keep-alive) and is meant to sit behind a buffering proxy;
# gthread keeps connections alive. The work is CPU-bound on one core, so more threads only add
# GIL switches: 2 lets one thread read and write sockets while the other is inside Pillow
# (which releases the GIL while it decodes, resizes and encodes), the same shape as pixd's one
# event loop and one image thread (1, 2 and 4 measured alike here, within the noise).
# Keep-alive is on for all (pixload's default; nginx and pixd keep idle connections 75 s,
# gunicorn --keep-alive 75). The load generator (pixload, one thread, $CONNS connections,
# closed loop) and this script run on core 0. Every server's answer is checked once first:
# 200, image/jpeg, a body Pillow decodes to 80x80.
# Per round every server is measured once for $DURATION s, the order reversed every other
# round (A B ... then ... B A); the table gives medians and min-max over the rounds. Server CPU
# per request: the utime+stime delta of the server's whole process group (lib.sh cpu_ticks)
# over the requests pixload completed; "core 1 busy" also holds the loopback softirq work.
# pixd's renders per request come from its /metrics (pixd_variant_renders_total).
#
# Then the random-size flood (unless --no-flood), per round alone and with the flood, order
# alternating, against the cached pixd. On 127.0.0.1, two measured clients (pixload, open loop,
# latency counted from each request's intended send time): "normal", other users' avatars at
# $NORMAL_RATE req/s over $NORMAL_CONNS connections (user 1000's /1000?s=80 and the original
# /-1, half each), and "same", the flooded picture's own /-1?s=80 at $SAME_RATE req/s over
# $SAME_CONNS connections. On 127.0.0.2 the flood (sizes_report.py flood, $FLOOD_CONNS
# keep-alive connections) asks /-1?s=<random 1..2048> as fast as it can, ignoring 429s. pixd
# bounds renders per client address (--renders-per-client, default 8): the table counts what
# each client got, the flood's 200s, 429s and 503s, and pixd's renders and 429s (/metrics).
# The measured clients share core 0 with the flood client (all three are the load generator).
#
# Environment (the options override): ROUNDS (3), DURATION (5 s), CONNS (100), COLD_CONNS (1),
# GTHREADS (2), NORMAL_RATE (5000), NORMAL_CONNS (50), SAME_RATE (500), SAME_CONNS (50),
# FLOOD_CONNS (16), SERVERS (all), QUIET_MAX (5 s: longest wait for idle cores before a run), RETRIES (0: runs
# measured again while disturbed), DISTURBED (5 %), PIXD, PIXLOAD, PIXD_ARGS (added to both
# pixd), OUT. A default run takes 2-4 minutes (longer while the machine is busy).
set -euo pipefail

rounds=${ROUNDS:-3} duration=${DURATION:-5} conns=${CONNS:-100} quiet_max=${QUIET_MAX:-5}
retries=${RETRIES:-0} disturbed_pct=${DISTURBED:-5} flood=1 servers=${SERVERS:-}
gthreads=${GTHREADS:-2} normal_rate=${NORMAL_RATE:-5000} normal_conns=${NORMAL_CONNS:-50}
flood_conns=${FLOOD_CONNS:-16} cold_conns=${COLD_CONNS:-1} same_rate=${SAME_RATE:-500} same_conns=${SAME_CONNS:-50}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --conns) conns=$2; shift ;;
    --quiet-max) quiet_max=$2; shift ;;
    --retries) retries=$2; shift ;;
    --disturbed) disturbed_pct=$2; shift ;;
    --servers) servers=$2; shift ;;
    --no-flood) flood=0 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; $d'; exit 0 ;;
    *) echo "sizes.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

OUT=${OUT:-/tmp/pixd-bench/sizes-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/run" "$OUT/logs" "$OUT/json"
RUN_DIR=$OUT/run
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
trap stop_all EXIT
taskset -cp 0 $$ >/dev/null
SERVER_CPU=1 LOAD_CPU=0
PIXLOAD=${PIXLOAD:-$SRC_DIR/build/pixload}
REPORT=$BENCH_DIR/sizes_report.py
for bin in "$PIXD" "$PIXLOAD"; do
  [ -x "$bin" ] || { echo "sizes.sh: $bin does not exist (build it, or set PIXD=... PIXLOAD=...)" >&2; exit 2; }
done

AVATARS=$OUT/avatars
make_avatars "$AVATARS"

# The servers, all pinned to core 1.
declare -A URL PGID
# shellcheck disable=SC2034 # read by start_peer / start_nginx
PIN_CPU=$SERVER_CPU NGINX_WORKERS=1
base_args=${PIXD_ARGS:-}
start() { # start LABEL: starts the server LABEL, sets URL[LABEL] and PGID[LABEL]
  local label=$1 port
  port=$(free_port)
  case "$label" in
    pixd)      PIXD_ARGS="$base_args --image-workers 1" start_peer pixd "$port" ;;
    pixd-cold) PIXD_ARGS="$base_args --image-workers 1 --variant-cache-mb 0" start_peer pixd "$port" ;;
    nginx)     start_nginx image_filter.conf.in "$port" "$AVATARS"
               PEER_PID=$STARTED_PID PEER_URL=http://127.0.0.1:$port ;;
    pillow)    start_group "$RUN_DIR/pillow-$port.log" env AVATAR_DIR="$AVATARS" "$PY" -m gunicorn \
                 --chdir "$PEERS_DIR" -b "127.0.0.1:$port" -k gthread -w 1 --threads "$gthreads" \
                 --keep-alive 75 --log-level warning libravatar_app:app
               PEER_PID=$STARTED_PID PEER_URL=http://127.0.0.1:$port ;;
  esac
  wait_ready "$PEER_URL/-1" "$PEER_PID"
  URL[$label]=$PEER_URL PGID[$label]=$PEER_PID
}
for label in pixd pixd-cold nginx pillow; do start "$label"; done

# /t80: pixd's own 80x80 variant stored as an ordinary avatar (written before anyone asks).
curl -sf -o "$AVATARS/.t80.tmp" "${URL[pixd]}/-1?s=80"
mv "$AVATARS/.t80.tmp" "$AVATARS/t80.jpg"
chmod 644 "$AVATARS/t80.jpg"
URL[pixd-thumb]=${URL[pixd]} PGID[pixd-thumb]=${PGID[pixd]}
declare -A PATH_OF=([pixd]='/-1?s=80' [pixd-thumb]=/t80 [pixd-cold]='/-1?s=80' [nginx]='/-1?s=80' [pillow]='/-1?s=80')
LABELS=(pixd-thumb pixd pixd-cold nginx pillow)
if [ -n "$servers" ]; then
  want=" $servers " LABELS=()
  for label in pixd-thumb pixd pixd-cold nginx pillow; do [[ $want == *" $label "* ]] && LABELS+=("$label"); done
  [ ${#LABELS[@]} -gt 0 ] || { echo "sizes.sh: --servers names none of pixd-thumb pixd pixd-cold nginx pillow" >&2; exit 2; }
fi

echo "sizes benchmark: ${LABELS[*]}; $rounds rounds of ${duration}s; output $OUT; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "checking every answer (200, image/jpeg, decodes to 80x80):"
for label in "${LABELS[@]}"; do
  got=$("$PY" "$REPORT" check "${URL[$label]}${PATH_OF[$label]}" 80) || exit 1
  read -r nbytes dims <<<"$got"
  printf '  %-10s %s -> %s bytes, %s\n' "$label" "${PATH_OF[$label]}" "$nbytes" "$dims"
done

# renders URL: pixd's pixd_variant_renders_total and pixd_variant_renders_refused_total.
metrics() {
  curl -sf "$1/metrics" | awk '$1 == "pixd_variant_renders_total" {r = $2}
    $1 == "pixd_variant_renders_refused_total" {f = $2} END {print r + 0, f + 0}'
}
# child_ticks FILE0 FILE1: CPU of the children this shell reaped between two `times` outputs.
child_ticks() {
  awk -v hz="$HZ" 'FNR == 2 {
     split($1, u, /[ms]/); split($2, k, /[ms]/); v = (u[1] * 60 + u[2] + k[1] * 60 + k[2]) * hz
     if (NR == FNR) a = v; else b = v }
   END {printf "%d", b - a + 0.5}' "$1" "$2"
}
# pixload_figures JSON: "requests failures req_per_s elapsed content_bytes p50_us p99_us"
pixload_figures() {
  "$PY" -c 'import json, sys
try:
    j = json.load(open(sys.argv[1])); t = j["total"]; p = t["latency_us"]["percentiles"]
    print(t["requests"], t["failures"], t["requests_per_s"], j["duration_s"], t["content_bytes"], p.get("50", 0), p.get("99", 0))
except Exception:
    print(0, 0, 0, 0, 0, 0, 0)' "$1"
}

CSV=$OUT/sizes.csv
echo "round,server,url,attempt,requests,failures,req_per_s,elapsed_s,content_bytes,p50_us,p99_us,server_ticks,core1_ticks,load_ticks,core0_ticks,disturbed,renders,waited_s,idle_before,exit" >"$CSV"

measure() { # measure ROUND LABEL ATTEMPT; sets DISTURBED
  local round=$1 label=$2 attempt=$3
  local url=${URL[$label]}${PATH_OF[$label]} tag=$round-$label-$attempt
  local rc=0 t0 t1 c0 c1 l0 l1 m0=() m1=() renders=-1 load n f rps el cb p50 p99 c=$conns
  [ "$label" = pixd-cold ] && c=$cold_conns
  wait_quiet "$quiet_max" 10 0
  [[ $label == pixd* ]] && read -ra m0 < <(metrics "${URL[$label]}")
  t0=$(cpu_ticks "${PGID[$label]}") c0=$(core_busy 1) l0=$(core_busy 0)
  times >"$RUN_DIR/times.0"
  taskset -c "$LOAD_CPU" "$PIXLOAD" -q --threads 1 -c "$c" -t "${duration}s" --expect-status 200 \
    --json-out "$OUT/json/$tag.json" "$url" >"$OUT/logs/$tag.txt" 2>&1 || rc=$?
  times >"$RUN_DIR/times.1"
  t1=$(cpu_ticks "${PGID[$label]}") c1=$(core_busy 1) l1=$(core_busy 0)
  [[ $label == pixd* ]] && read -ra m1 < <(metrics "${URL[$label]}") && renders=$((m1[0] - m0[0]))
  kill -0 "${PGID[$label]}" 2>/dev/null || { echo "sizes.sh: $label died; see $RUN_DIR" >&2; exit 1; }
  load=$(child_ticks "$RUN_DIR/times.0" "$RUN_DIR/times.1")
  read -r n f rps el cb p50 p99 < <(pixload_figures "$OUT/json/$tag.json")
  local server=$((t1 - t0)) fc1=$(( (c1 - c0) - (t1 - t0) )) fc0=$(( (l1 - l0) - load ))
  DISTURBED=$(awk -v a="$fc1" -v b="$fc0" -v e="$el" -v hz="$HZ" -v pct="$disturbed_pct" 'BEGIN {
      lim = e * hz * pct / 100; if (lim < 3) lim = 3; print (a > lim || b > lim) ? 1 : 0 }')
  echo "$round,$label,${PATH_OF[$label]},$attempt,$n,$f,$rps,$el,$cb,$p50,$p99,$server,$((c1 - c0)),$load,$((l1 - l0)),$DISTURBED,$renders,$WAITED,$IDLE,$rc" >>"$CSV"
  printf '  round %s %-10s %9.0f req/s  failed %-4s %8s us/req (server)  renders %-7s idle %s%%, foreign ticks core1/core0 %s/%s%s%s\n' \
    "$round" "$label" "$rps" "$f" \
    "$(awk -v t="$server" -v n="$n" -v hz="$HZ" 'BEGIN {printf "%.1f", n ? t * 1e6 / hz / n : 0}')" \
    "$([ "$renders" = -1 ] && echo - || echo "$renders")" "$IDLE" "$fc1" "$fc0" \
    "$([ "$DISTURBED" = 0 ] || echo "  DISTURBED")" "$([ "$rc" = 0 ] || echo "  EXIT $rc, see $OUT/logs/$tag.txt")"
}

for ((round = 1; round <= rounds; round++)); do
  order=("${LABELS[@]}")
  if ((round % 2 == 0)); then
    order=(); for ((i = ${#LABELS[@]} - 1; i >= 0; i--)); do order+=("${LABELS[$i]}"); done
  fi
  for label in "${order[@]}"; do
    for ((attempt = 1; ; attempt++)); do
      measure "$round" "$label" "$attempt"
      { [ "$DISTURBED" = 0 ] || [ "$attempt" -gt "$retries" ]; } && break
    done
  done
done

FCSV=$OUT/sizes_flood.csv
if [ "$flood" = 1 ]; then
  echo "round,mode,client,offered,requests,failures,req_per_s,p50_us,p99_us,max_us,flood_status,flood_errors,flood_answers,renders,refused,server_ticks,elapsed_s,exit" >"$FCSV"
  # The other users' avatars: user 1000's 80x80 variant (another picture) and the original.
  cat >"$RUN_DIR/normal.json" <<'EOF2'
{"requests": [{"name": "/1000?s=80", "path": "/1000?s=80"}, {"name": "/-1", "path": "/-1"}]}
EOF2
  "$PY" "$REPORT" check "${URL[pixd]}/1000?s=80" 80 >/dev/null
  echo "random sizes: on 127.0.0.1 other users' avatars at ${normal_rate}/s and the flooded picture's /-1?s=80 at ${same_rate}/s," \
       "alone and beside a client on 127.0.0.2 asking /-1?s=<random 1..2048> on $flood_conns connections"
  # pl_figures JSON: "requests failures req_per_s p50_us p99_us max_us"
  pl_figures() {
    "$PY" -c 'import json, sys
try:
    t = json.load(open(sys.argv[1]))["total"]; l = t["latency_us"]
    print(t["requests"], t["failures"], t["requests_per_s"], l["percentiles"].get("50", 0), l["percentiles"].get("99", 0), l["max"])
except Exception:
    print(0, 0, 0, 0, 0, 0)' "$1"
  }
  flood_run() { # flood_run ROUND MODE
    local round=$1 mode=$2 tag=$1-$2 rc=0 t0 t1 s0 s1 m0=() m1=() st="" ferr="" fans="" fpid="" npid client
    local secs=${duration%.*}
    wait_quiet "$quiet_max" 10 0
    read -ra m0 < <(metrics "${URL[pixd]}")
    t0=$(cpu_ticks "${PGID[pixd]}") s0=$(date +%s.%N)
    if [ "$mode" = flood ]; then
      # Runs a little longer than the measured clients on both sides: the whole window is flooded.
      taskset -c "$LOAD_CPU" "$PY" "$REPORT" flood "${URL[pixd]}/-1?s=" "$(awk -v d="$duration" 'BEGIN {print d + 1}')" \
        "$OUT/json/flood-$tag.json" --conns "$flood_conns" --source 127.0.0.2 >"$OUT/logs/flood-$tag.txt" 2>&1 &
      fpid=$!
      sleep 0.5
    fi
    taskset -c "$LOAD_CPU" "$PIXLOAD" -q --threads 1 -c "$normal_conns" -R "$normal_rate" -t "${duration}s" \
      --expect-status 200 --scenario "$RUN_DIR/normal.json" --json-out "$OUT/json/normal-$tag.json" \
      "${URL[pixd]}/" >"$OUT/logs/normal-$tag.txt" 2>&1 &
    npid=$!
    taskset -c "$LOAD_CPU" "$PIXLOAD" -q --threads 1 -c "$same_conns" -R "$same_rate" -t "${duration}s" \
      --expect-status 200 --json-out "$OUT/json/same-$tag.json" "${URL[pixd]}/-1?s=80" >"$OUT/logs/same-$tag.txt" 2>&1 || rc=$?
    wait "$npid" || rc=$((rc ? rc : 97))
    if [ -n "$fpid" ]; then wait "$fpid" || rc=$((rc ? rc : 98)); fi
    t1=$(cpu_ticks "${PGID[pixd]}") s1=$(date +%s.%N)
    read -ra m1 < <(metrics "${URL[pixd]}")
    kill -0 "${PGID[pixd]}" 2>/dev/null || { echo "sizes.sh: pixd died; see $RUN_DIR" >&2; exit 1; }
    if [ "$mode" = flood ]; then
      read -r st ferr fans < <("$PY" -c 'import json, sys; j = json.load(open(sys.argv[1]))
print(json.dumps(j["status"], separators=(",", ":")), j["errors"]["connect"] + j["errors"]["io"], j["answers"])' \
        "$OUT/json/flood-$tag.json")
    fi
    local tail
    tail="\"${st//\"/\"\"}\",$ferr,$fans,$((m1[0] - m0[0])),$((m1[1] - m0[1])),$((t1 - t0)),$(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.2f", b - a}'),$rc"
    local -a fig
    for client in normal same; do
      read -ra fig < <(pl_figures "$OUT/json/$client-$tag.json")
      local rate=$normal_rate; [ "$client" = same ] && rate=$same_rate
      echo "$round,$mode,$client,$((rate * secs)),${fig[0]},${fig[1]},${fig[2]},${fig[3]},${fig[4]},${fig[5]},$tail" >>"$FCSV"
      printf '  round %s %-5s %-6s %6s answered (%s failed), %5.0f req/s, p50 %6s us, p99 %8s us, max %8s us\n' \
        "$round" "$mode" "$client" "${fig[0]}" "${fig[1]}" "${fig[2]}" "${fig[3]}" "${fig[4]}" "${fig[5]}"
    done
    printf '  round %s %-5s random client: %s; pixd renders %s, 429s %s%s\n' "$round" "$mode" "${st:-–}" \
      "$((m1[0] - m0[0]))" "$((m1[1] - m0[1]))" "$([ "$rc" = 0 ] || echo "  EXIT $rc, see $OUT/logs")"
  }
  for ((round = 1; round <= rounds; round++)); do
    if ((round % 2)); then modes=(alone flood); else modes=(flood alone); fi
    for mode in "${modes[@]}"; do flood_run "$round" "$mode"; done
  done
fi

{
  echo "# Sized avatars: cached variants against per-request resizing"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(getconf _NPROCESSORS_ONLN) cores," \
       "Linux $(uname -r); $("$PIXD" --version), $(nginx -v 2>&1 | cut -d: -f2 | sed 's/^ //') with libgd $(dpkg-query -W -f '${Version}' libgd3 2>/dev/null || echo '?')," \
       "$("$PY" -c 'import PIL, flask, gunicorn, sys; print(f"Python {sys.version.split()[0]}, Pillow {PIL.__version__}, Flask {flask.__version__}, gunicorn {gunicorn.__version__}")')."
  echo
  echo "\`GET /-1?s=80\`: the $(stat -c %s "$AVATARS/-1.png")-byte 400x400 JPEG avatar as an 80x80 JPEG (quality 80 everywhere)."
  echo "Servers pinned to core $SERVER_CPU: pixd \`--threads 1 --image-workers 1\`; nginx \`worker_processes 1\`;"
  echo "gunicorn \`-k gthread -w 1 --threads $gthreads\` (the sync worker has no keep-alive). Keep-alive on for all."
  echo "Load: \`pixload --threads 1 -c $conns -t ${duration}s\` on core $LOAD_CPU (pixd-cold: \`-c $cold_conns\`, so that every request renders);"
  echo "$rounds round(s), the order reversed every other round;"
  echo "each server's answer checked first (200, image/jpeg, decodes to 80x80). Medians over rounds (min–max)."
  echo "Server CPU: utime+stime of the server's processes per completed request; core 1 busy adds the kernel's loopback work."
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). Runs marked disturbed: other work took more than ${disturbed_pct} % of a core (a shared machine)."
  echo
  COLD_CONNS=$cold_conns GTHREADS=$gthreads "$PY" "$REPORT" report "$CSV" "$FCSV" "$HZ"
} >"$OUT/sizes.md"
echo
cat "$OUT/sizes.md"
echo "written: $OUT/sizes.md, $CSV$([ "$flood" = 0 ] || echo ", $FCSV"), pixload JSON in $OUT/json, logs in $OUT/logs"
