#!/usr/bin/env bash
# pixload against wrk: throughput, latency agreement, memory and ramp accuracy (issue 3's benchmark).
#
#   bench/pixload_vs_wrk.sh [--rounds N] [-d|--duration S] [-c|--connections N] [--aa]
#                           [--light-conns N] [--rss-conns N] [--ramp-users N] [--ramp-rate R]
#                           [--quiet-max S] [--retries N] [--disturbed PCT] [--busy-poll USEC]
#   PIXLOAD=build/pixload PIXD=build/pixd bench/pixload_vs_wrk.sh   results in $OUT
#
# Two targets, each pinned to core 1: nginx serving a 1 KiB file (bench/contenders/nginx,
# one worker, GET /1k) and pixd (--threads 1) serving the 1.5 KB avatar GET /thumb. Per round
# and target, the load generators run pinned to core 0 with the same settings, one after the
# other, A then B in odd rounds and B then A in even ones (slow drift hits both alike):
#   A: wrk -t 1 -c C -d S --latency URL
#   B: pixload --threads 1 -c C -t S --latency URL
# Reported per round and as medians: requests/s ratio B/A (target >= 1.0) and p50 ratio B/A
# (target within 5 %). Both p50s are read from the same "Latency Distribution" lines. With
# one core each, the generator or the server is saturated and requests queue: where they
# queue (in the server, or in the generator before it writes) decides the latency both tools
# see, so the table adds "in flight", average latency x requests/s (Little's law): the
# requests the server holds on average, out of C. Then the same pair at --light-conns (1)
# connections, where nothing queues: there the p50s compare the two tools' measurement alone.
# Then, against nginx: pixload's peak RSS (/usr/bin/time %M, VmHWM) at -c 2000 (target
# <= 64 MiB; wrk's beside it), and the ramp: `pixload -u 2000 -r 50 --csv`, whose history has
# one row per second of the run: users at second i vs min(50 i, 2000) (target +-5 %).
#
# --busy-poll USEC gives B `--busy-poll USEC` (pixload polls instead of sleeping when idle; the
# generator has core 0 to itself here). Without it B runs with pixload's default.
#
# --aa runs wrk as B too: both ratios must read ~1.00 (the harness's own bias); the RSS and
# ramp steps are skipped.
#
# Before each run the script waits (at most --quiet-max s) until both cores are < 10 % busy;
# a run during which work other than the server's and the generator's took more than
# --disturbed (5) % of either core is measured again, at most --retries (2) more times.
set -euo pipefail

rounds=5 secs=10 conns=100 light_conns=1 aa=0 rss_conns=2000 ramp_users=2000 ramp_rate=50 quiet_max=120
retries=2 disturbed_pct=5 busy_poll=''
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    -d|--duration) secs=${2%s}; shift ;;
    -c|--connections) conns=$2; shift ;;
    --aa) aa=1 ;;
    --light-conns) light_conns=$2; shift ;;
    --rss-conns) rss_conns=$2; shift ;;
    --ramp-users) ramp_users=$2; shift ;;
    --ramp-rate) ramp_rate=$2; shift ;;
    --quiet-max) quiet_max=$2; shift ;;
    --retries) retries=$2; shift ;;
    --disturbed) disturbed_pct=$2; shift ;;
    --busy-poll) busy_poll=$2; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; $d'; exit 0 ;;
    *) echo "pixload_vs_wrk.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

OUT=${OUT:-/tmp/pixd-bench/pixload-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/run" "$OUT/logs"
RUN_DIR=$OUT/run
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
trap stop_all EXIT
PIXLOAD=${PIXLOAD:-$SRC_DIR/build/pixload}
# The harness itself (curl, awk, cpu_ticks) stays off the servers' core.
taskset -cp 0 $$ >/dev/null
SERVER_CPU=1 LOAD_CPU=0

for bin in "$PIXLOAD" "$PIXD"; do
  [ -x "$bin" ] || { echo "pixload_vs_wrk.sh: $bin does not exist (build it or set PIXLOAD=/PIXD=)" >&2; exit 2; }
done
for tool in wrk nginx /usr/bin/time taskset; do
  command -v "$tool" >/dev/null || { echo "pixload_vs_wrk.sh: $tool is missing (scripts/install-deps.sh bench)" >&2; exit 2; }
done

AVATARS=$OUT/avatars
make_avatars "$AVATARS"
# The 1 KiB file nginx serves: JPEG magic, then fixed pseudo-random bytes.
"$PY" -c 'import random, sys; r = random.Random(1); sys.stdout.buffer.write(b"\xff\xd8\xff" + r.randbytes(1021))' \
  >"$AVATARS/1k.jpg"

declare -A URL PGID SIZE
# shellcheck disable=SC2034 # read by start_peer
PIN_CPU=$SERVER_CPU
start_peer nginx "$(free_port)"
URL[nginx]=$PEER_URL/1k PGID[nginx]=$PEER_PID SIZE[nginx]=1024
wait_ready "${URL[nginx]}" "$PEER_PID"
start_peer pixd "$(free_port)"
URL[pixd]=$PEER_URL/thumb PGID[pixd]=$PEER_PID SIZE[pixd]=$(stat -c %s "$AVATARS/thumb.jpg")
wait_ready "${URL[pixd]}" "$PEER_PID"
for t in nginx pixd; do
  got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "${URL[$t]}")
  [ "$got" = "200 ${SIZE[$t]}" ] || { echo "pixload_vs_wrk.sh: $t answers ${URL[$t]} with '$got', want '200 ${SIZE[$t]}'" >&2; exit 1; }
done

if [ "$aa" = 1 ]; then labels=(wrk wrk-B); else labels=(wrk pixload); fi


# gen_cmd LABEL URL CONNS SECS: the load generator's command line, in CMD.
gen_cmd() {
  local label=$1 url=$2 c=$3 dur=$4
  case "$label" in
    wrk|wrk-B) CMD=(wrk -t 1 -c "$c" -d "${dur}s" --latency "$url") ;;
    pixload)   CMD=("$PIXLOAD" --threads 1 ${busy_poll:+--busy-poll "$busy_poll"} -c "$c" -t "${dur}s" --latency "$url") ;;
  esac
}

# parse LOG: "requests rps p50_us avg_us errors" from wrk's or pixload's text (same layout).
parse() {
  awk 'function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /m$/) return v * 6e7; return v * 1e6 }
       / requests in / { n = $1 } /^Requests\/sec:/ { r = $2 }
       /^ +Latency +[0-9]/ && a == "" { a = us($2) }
       /^ +50% / && p == "" { p = us($2) }
       /Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
       /Non-2xx or 3xx responses:|Unexpected status responses:/ { e += $NF }
       END { print (n == "" ? 0 : n), (r == "" ? 0 : r), (p == "" ? 0 : p), (a == "" ? 0 : a), e + 0 }' "$1"
}

CSV=$OUT/runs.csv
echo "round,target,conns,tool,attempt,requests,req_per_s,p50_us,avg_us,errors,gen_cpu_s,gen_rss_kb,elapsed_s,server_ticks,core1_ticks,core0_ticks,disturbed,waited_s,idle_before,exit" >"$CSV"

# measure ROUND TARGET CONNS LABEL ATTEMPT: one run appended to $CSV; sets DISTURBED.
measure() {
  local round=$1 target=$2 c=$3 label=$4 attempt=$5
  local log=$OUT/logs/$round-$target-c$c-$label-$attempt.txt tm=$RUN_DIR/time.txt
  local rc=0 s0 s1 c0 c1 l0 l1 server elapsed cpu rss requests rps p50 avg errors
  wait_quiet "$quiet_max" 10 2
  gen_cmd "$label" "${URL[$target]}" "$c" "$secs"
  s0=$(cpu_ticks "${PGID[$target]}") c0=$(core_busy 1) l0=$(core_busy 0)
  taskset -c "$LOAD_CPU" /usr/bin/time -f '%e %U %S %M' -o "$tm" "${CMD[@]}" >"$log" 2>&1 || rc=$?
  s1=$(cpu_ticks "${PGID[$target]}") c1=$(core_busy 1) l1=$(core_busy 0)
  read -r elapsed cpu rss < <(awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$tm")
  read -r requests rps p50 avg errors < <(parse "$log")
  kill -0 "${PGID[$target]}" 2>/dev/null || { echo "pixload_vs_wrk.sh: $target died; see $RUN_DIR" >&2; exit 1; }
  server=$((s1 - s0))
  DISTURBED=$(awk -v srv="$server" -v c1="$((c1 - c0))" -v c0="$((l1 - l0))" -v gen="$cpu" -v e="$elapsed" \
                  -v hz="$HZ" -v pct="$disturbed_pct" 'BEGIN {
      lim = e * hz * pct / 100; if (lim < 3) lim = 3
      print (c1 - srv > lim || c0 - gen * hz > lim) ? 1 : 0 }')
  echo "$round,$target,$c,$label,$attempt,$requests,$rps,$p50,$avg,$errors,$cpu,$rss,$elapsed,$server,$((c1 - c0)),$((l1 - l0)),$DISTURBED,$WAITED,$IDLE,$rc" >>"$CSV"
  printf '  round %s %-5s -c %-4s %-7s %10s req/s  p50 %8s us  errors %-4s gen CPU %5ss RSS %6s KiB  waited %ss%s%s\n' \
    "$round" "$target" "$c" "$label" "$rps" "$p50" "$errors" "$cpu" "$rss" "$WAITED" \
    "$([ "$DISTURBED" = 0 ] || echo "  DISTURBED")" "$([ "$rc" = 0 ] || echo "  EXIT $rc, see $log")"
}

run() {
  local attempt
  for ((attempt = 1; ; attempt++)); do
    measure "$@" "$attempt"
    { [ "$DISTURBED" = 0 ] || [ "$attempt" -gt "$retries" ]; } && break
  done
}

conn_list=("$conns")
[ "$light_conns" -gt 0 ] && conn_list+=("$light_conns")
echo "pixload vs wrk: ${labels[*]}, $rounds rounds of ${secs}s at -c $conns; output $OUT; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 1; round <= rounds; round++)); do
  if ((round % 2)); then order=("${labels[0]}" "${labels[1]}"); else order=("${labels[1]}" "${labels[0]}"); fi
  for target in nginx pixd; do
    for c in "${conn_list[@]}"; do
      for label in "${order[@]}"; do run "$round" "$target" "$c" "$label"; done
    done
  done
done

RSS_CSV=$OUT/rss.csv
if [ "$aa" = 0 ]; then
  # Memory at many connections, against nginx (it takes 4096): both generators, same settings.
  echo "tool,connections,requests,req_per_s,errors,max_rss_kb,exit" >"$RSS_CSV"
  for label in pixload wrk; do
    wait_quiet "$quiet_max" 10 2
    gen_cmd "$label" "${URL[nginx]}" "$rss_conns" "$secs"
    log=$OUT/logs/rss-$label.txt rc=0
    taskset -c "$LOAD_CPU" /usr/bin/time -f '%M' -o "$RUN_DIR/rss.txt" "${CMD[@]}" >"$log" 2>&1 || rc=$?
    read -r requests rps _ _ errors < <(parse "$log")
    echo "$label,$rss_conns,$requests,$rps,$errors,$(tail -1 "$RUN_DIR/rss.txt"),$rc" >>"$RSS_CSV"
    echo "  RSS $label -c $rss_conns: $(tail -1 "$RUN_DIR/rss.txt") KiB, $rps req/s, errors $errors"
  done

  # The ramp: long enough to reach every user, plus two seconds at full strength.
  ramp_secs=$(( (ramp_users + ramp_rate - 1) / ramp_rate + 2 ))
  wait_quiet "$quiet_max" 10 2
  RAMP_CSV=$OUT/ramp
  taskset -c "$LOAD_CPU" "$PIXLOAD" -q --threads 1 -u "$ramp_users" -r "$ramp_rate" -t "${ramp_secs}s" \
    --csv "$RAMP_CSV" "${URL[nginx]}" >"$OUT/logs/ramp.txt" 2>&1
  echo "  ramp -u $ramp_users -r $ramp_rate: ${ramp_secs}s, history in ${RAMP_CSV}_stats_history.csv"
fi

if [ "$aa" = 1 ]; then
  report_args=(--aa)
else
  report_args=(--rss "$RSS_CSV" --ramp "${RAMP_CSV}_stats_history.csv" --ramp-users "$ramp_users" --ramp-rate "$ramp_rate")
fi
{
  echo "# pixload vs wrk"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(getconf _NPROCESSORS_ONLN) cores," \
       "Linux $(uname -r); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $("$PIXLOAD" --version), $(nginx -v 2>&1 | cut -d: -f2 | sed 's/^ //')."
  echo "Servers pinned to core $SERVER_CPU (nginx worker_processes 1 serving /1k, 1024 bytes; pixd --threads 1 serving"
  echo "/thumb, ${SIZE[pixd]} bytes), load generator on core $LOAD_CPU. $rounds rounds; in each, per target, A then B (odd rounds)"
  if [ "$aa" = 1 ]; then b_cmd="wrk -t 1 -c $conns -d ${secs}s --latency"; else b_cmd="pixload --threads 1 ${busy_poll:+--busy-poll $busy_poll }-c $conns -t ${secs}s --latency"; fi
  echo "or B then A (even rounds): A \`wrk -t 1 -c $conns -d ${secs}s --latency\`, B \`$b_cmd\`$([ "$light_conns" -gt 0 ] && echo ";" \
       "then both again at -c $light_conns")."
  echo
  "$PY" "$BENCH_DIR/pixload_vs_wrk_report.py" --runs "$CSV" --a "${labels[0]}" --b "${labels[1]}" "${report_args[@]}"
} >"$OUT/pixload.md"
echo
cat "$OUT/pixload.md"
echo
echo "written: $OUT/pixload.md, $CSV, logs in $OUT/logs"
