#!/usr/bin/env bash
# The HTTP/2 avatar benchmark over TLS: pixd against nginx (`ssl http2`) and h2o, each on one
# pinned core, loaded by h2load and by pixload --h2 at the same connections and streams; and what
# an idle HTTP/2 connection costs each server.
#
#   bench/h2.sh [--rounds N] [--duration S] [--conns N] [--streams N] [--no-idle]
#   PIXD=build/pixd PIXLOAD=build/pixload bench/h2.sh   results in $OUT (default /tmp/pixd-bench/h2-<time>)
#
# Files: the avatars of bench/make_avatars.py (as bench/avatars.sh): the 1.5 KB 40x40 thumbnail
# (/thumb) and the 37 KB 400x400 avatar (/-1), keep-alive. One self-signed P-256 certificate
# (lib.sh make_cert) in $OUT serves all servers; TLS 1.3.
# Servers, each pinned to core 1 with one event loop: pixd (--threads 1 --image-workers 1, https
# on --tls-listen), pixd2 (a second, identical pixd: the A/A), nginx (bench/nginx/avatars-h2.conf.in,
# worker_processes 1), h2o (bench/h2o/avatars.conf.in, num-threads 1). The load generators and
# this script run on core 0, one thread each:
#   h2load  -c $CONNS -m $STREAMS -D $DURATION -t 1 --tls13-ciphers=$H2LOAD_CIPHERS https://...
#   pixload --h2 -c $CONNS --max-streams $STREAMS -t $DURATION --threads 1 https://...
# h2load is told TLS_AES_256_GCM_SHA384, the suite pixload (OpenSSL's default order) and wrk
# negotiate, so both generators and every server do the same crypto (h2load alone would pick
# AES-128-GCM); H2LOAD_CIPHERS='' leaves h2load's default.
# Every answer is checked once first: curl --http2 (status 200, HTTP/2, the file's very bytes),
# h2load (ALPN h2, all 2xx, all bytes) and pixload --h2 (all 200, full length), 100 each.
# Per round and file every (server, generator) pair runs once for $DURATION s: pixd, nginx, h2o
# and pixd2 with h2load, and pixd, nginx and h2o with pixload, the order reversed every other
# round (A B ... then ... B A). Per run: requests/s and answers as the generator reports them;
# server CPU per request, the utime+stime delta of the server's process group (lib.sh cpu_ticks,
# /proc/PID/stat) over the answers the generator completed; generator CPU per request, the
# generator's own utime+stime (bash `times`) over the same answers; and the busy time of both
# cores. Task time on a core (user, system, steal: not irq and softirq, where loopback TCP's
# delivery runs) beyond the server's or the generator's CPU is foreign work: a run is marked
# "disturbed" when it exceeds $DISTURBED % of the run on either core (other engineers share the
# machine); it is not measured again.
# With -D/-t the requests still in flight at the end (up to CONNS x STREAMS = 1000) cost the
# server some CPU without being counted: at most 1000 of the 50,000+ answers of a 5 s run (2 %
# on the 37 KB avatar, well under 1 % on the thumbnail, for every server alike); h2.csv's
# server_requests column has the answers pixd itself counted (/status "requests") to see it.
# A pixload without --h2 (the feature is new) leaves the h2load runs only, with a warning.
# Ratios (h2_report.py): per round pixd/nginx, pixd/h2o and pixd/pixd2 (the A/A, must read
# ~1.00) of server CPU per request and of req/s, and pixload/h2load of req/s and generator CPU
# per request on the same server; each judged as the median of the per-round ratios, with their
# range, next to the A/A.
#
# Then, unless --no-idle, idle connections ($IDLE_CONNS, default 10,000) to a fresh instance of
# each server (pixd with --max-conns 20000, or 1.5 x IDLE_CONNS when the open-files hard limit is
# lower), one at a time, over h2c (prior knowledge, on the servers' plain ports) and over TLS:
# h2_report.py idle opens them (preface, SETTINGS, the ACK of the server's, then nothing) and
# reads the server's RSS before, with them, and after; bytes per connection = the difference over
# the connections established; pixd's /status gives its own count and read buffers.
#
# Environment (the options override): ROUNDS (3), DURATION (5 s), CONNS (100), STREAMS (10),
# GENS ("h2load pixload"), H2LOAD_CIPHERS (TLS_AES_256_GCM_SHA384), QUIET_MAX (10 s: longest
# wait for idle cores before each round and file), DISTURBED (5 %), IDLE (1), IDLE_CONNS
# (10000), IDLE_RUNS ("pixd:h2c pixd:tls nginx:h2c h2o:h2c nginx:tls h2o:tls"), IDLE_DEADLINE
# (60 s per set-up), PIXD, PIXLOAD, PIXD_ARGS (added to every pixd), OUT. The default run takes
# about 5 minutes (3 rounds x 2 files x 7 runs x 5 s, then about a minute of idle connections).
set -euo pipefail

rounds=${ROUNDS:-3} duration=${DURATION:-5} conns=${CONNS:-100} streams=${STREAMS:-10}
gens=${GENS:-h2load pixload} quiet_max=${QUIET_MAX:-10} disturbed_pct=${DISTURBED:-5}
do_idle=${IDLE:-1} idle_conns=${IDLE_CONNS:-10000} idle_deadline=${IDLE_DEADLINE:-60}
idle_runs=${IDLE_RUNS:-pixd:h2c pixd:tls nginx:h2c h2o:h2c nginx:tls h2o:tls}
h2load_ciphers=${H2LOAD_CIPHERS-TLS_AES_256_GCM_SHA384}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --conns) conns=$2; shift ;;
    --streams) streams=$2; shift ;;
    --no-idle) do_idle=0 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; $d'; exit 0 ;;
    *) echo "h2.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

OUT=${OUT:-/tmp/pixd-bench/h2-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/run" "$OUT/logs" "$OUT/json" "$OUT/idle"
RUN_DIR=$OUT/run
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
trap stop_all EXIT
# The harness itself (curl, awk, cpu_ticks, the idle client) stays off the servers' core.
taskset -cp 0 $$ >/dev/null
SERVER_CPU=1 LOAD_CPU=0
# shellcheck disable=SC2034 # read by start_group
PIN_CPU=$SERVER_CPU
PIXLOAD=${PIXLOAD:-$SRC_DIR/build/pixload}
REPORT=$BENCH_DIR/h2_report.py
T0=$SECONDS

for bin in "$PIXD" h2load nginx h2o openssl curl; do
  command -v "$bin" >/dev/null || { echo "h2.sh: $bin not found (build pixd, or scripts/install-deps.sh bench)" >&2; exit 2; }
done
if [[ " $gens " == *" pixload "* ]]; then
  if [ ! -x "$PIXLOAD" ]; then
    echo "h2.sh: $PIXLOAD does not exist (build it, set PIXLOAD=..., or GENS=h2load)" >&2; exit 2
  elif ! grep -q -- '--h2 ' <<<"$("$PIXLOAD" --help 2>&1)"; then  # not a pipe: grep -q would cut --help off (SIGPIPE)
    echo "h2.sh: warning: $PIXLOAD has no --h2 yet: measuring with h2load only" >&2
    gens=${gens//pixload/}
  fi
fi
read -ra GEN_LIST <<<"$gens"
[ ${#GEN_LIST[@]} -gt 0 ] || { echo "h2.sh: GENS names no generator" >&2; exit 2; }

AVATARS=$OUT/avatars
make_avatars "$AVATARS"
declare -A PATH_OF=([big]=/-1 [thumb]=/thumb) FILE_OF=([big]=-1.png [thumb]=thumb.jpg) SIZE_OF
SIZE_OF[big]=$(stat -c %s "$AVATARS/-1.png")
SIZE_OF[thumb]=$(stat -c %s "$AVATARS/thumb.jpg")
make_cert "$OUT"

# start_server KIND [PIXD_EXTRA...]: a fresh pixd, nginx or h2o on core 1; sets S_URL (https),
# S_H2C (cleartext, prior knowledge), S_STATUS (pixd's /status, else empty) and S_PGID.
start_server() {
  local kind=$1; shift
  local port plain prefix
  port=$(free_port) plain=$(free_port)
  while [ "$plain" = "$port" ]; do plain=$(free_port); done
  S_STATUS=''
  case "$kind" in
    pixd)
      # shellcheck disable=SC2086 # PIXD_ARGS is a list of words
      start_group "$RUN_DIR/pixd-$port.log" "$PIXD" --avatars "$AVATARS" --threads 1 --image-workers 1 \
        --listen "127.0.0.1:$plain" --tls-listen "127.0.0.1:$port" --tls-cert "$OUT/cert.pem" \
        --tls-key "$OUT/key.pem" ${PIXD_ARGS:-} "$@"
      S_STATUS=http://127.0.0.1:$plain/status ;;
    nginx|h2o)
      prefix=$RUN_DIR/$kind-$port
      mkdir -p "$prefix"
      cp "$OUT/cert.pem" "$OUT/key.pem" "$prefix/"
      local tmpl=$BENCH_DIR/nginx/avatars-h2.conf.in conf=$prefix/nginx.conf
      [ "$kind" = h2o ] && tmpl=$BENCH_DIR/h2o/avatars.conf.in conf=$prefix/h2o.conf
      sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" -e "s|@H2C_PORT@|$plain|g" \
          -e "s|@ROOT@|$AVATARS|g" -e "s|@WORKERS@|1|g" "$tmpl" >"$conf"
      if [ "$kind" = nginx ]; then
        start_group "$prefix/stderr.log" nginx -p "$prefix" -c "$conf" -e "$prefix/error.log"
      else
        start_group "$prefix/stderr.log" h2o -m worker -c "$conf"
      fi ;;
  esac
  S_URL=https://127.0.0.1:$port S_H2C=http://127.0.0.1:$plain S_PGID=$STARTED_PID
  wait_ready "$S_URL/thumb" "$S_PGID" || { echo "h2.sh: $kind did not start; see $STARTED_LOG" >&2; exit 1; }
}

h2load_cmd() { # h2load_cmd URL ARGS...: the h2load command line (one thread, the cipher)
  local url=$1; shift
  H2LOAD=(h2load -t 1 "$@")
  [ -n "$h2load_ciphers" ] && H2LOAD+=("--tls13-ciphers=$h2load_ciphers")
  H2LOAD+=("$url")
}

# parse_h2load LOG: "done failed req_per_s elapsed_s data_bytes protocol cipher". failed: the
# requests done without success (h2load's failed, errored and timed out: 4xx and 5xx too), plus
# the 3xx h2load counts as success. Its "status codes" and "data" also count the answers still
# in flight when -D ends (their heads and part of their bodies came), so they can exceed "done".
parse_h2load() {
  awk '/^finished in/ { t = $3; sub(/,$/, "", t)
                        if (t ~ /ms$/) { sub(/ms$/, "", t); t /= 1000 } else sub(/s$/, "", t); r = $4 }
       /^requests:/ { d = $6; ok = $8 } /^status codes:/ { bad = $5 }
       /^traffic:/ { for (i = 2; i <= NF; i++) if ($i == "data") { b = $(i - 1); gsub(/[()]/, "", b) } }
       /^Application protocol:/ { p = $3 } /^Cipher:/ { c = $2 }
       END { printf "%d %d %s %s %d %s %s\n", d, d - ok + bad, (r == "" ? 0 : r), (t == "" ? 0 : t), b, (p == "" ? "-" : p), (c == "" ? "-" : c) }' "$1"
}
# parse_pixload JSON: the same fields from pixload's --json-out
parse_pixload() {
  "$PY" -c 'import json, sys
try:
    j = json.load(open(sys.argv[1])); t = j["total"]
    print(t["requests"], t["failures"], t["requests_per_s"], j["duration_s"], t["content_bytes"], j.get("protocol", "-"), "-")
except Exception:
    print(0, 0, 0, 0, 0, "-", "-")' "$1"
}
# child_ticks FILE0 FILE1: CPU of the children this shell reaped between two `times` outputs.
child_ticks() {
  awk -v hz="$HZ" 'FNR == 2 {
     split($1, u, /[ms]/); split($2, k, /[ms]/); v = (u[1] * 60 + u[2] + k[1] * 60 + k[2]) * hz
     if (NR == FNR) a = v; else b = v }
   END {printf "%d", b - a + 0.5}' "$1" "$2"
}
# task_busy CPU: clock ticks one core spent on tasks (user, nice, system) or lost to the
# hypervisor (steal), without irq and softirq: loopback TCP delivers the answers in softirq, work
# of the run itself that must not read as foreign. Foreign = task_busy - the server's (or the
# generator's) ticks; it can read a few ticks below 0, as a process's stime holds the softirq
# work that ran in its context.
task_busy() {
  awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $9 }' /proc/stat
}
status_requests() { # pixd's own count of answers (-1 without a status URL)
  if [ -z "$1" ]; then echo -1; return; fi
  curl -s --max-time 5 "$1" | sed -n 's/.*"requests": \([0-9]*\).*/\1/p'
}

# ---- the servers, and every answer checked once ----
LABELS=(pixd nginx h2o pixd2)
declare -A URL PGID STATUS
for label in "${LABELS[@]}"; do
  kind=$label; [ "$label" = pixd2 ] && kind=pixd
  start_server "$kind"
  URL[$label]=$S_URL PGID[$label]=$S_PGID STATUS[$label]=$S_STATUS
done

echo "HTTP/2 benchmark: ${LABELS[*]} x ${GEN_LIST[*]}; $rounds rounds of ${duration}s, -c $conns, $streams streams;" \
     "output $OUT; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "checking every answer (curl --http2: 200 and the file's bytes; h2load: h2 by ALPN, all 2xx, all bytes$(
  [[ " ${GEN_LIST[*]} " == *" pixload "* ]] && echo "; pixload --h2: the same")):"
for label in "${LABELS[@]}"; do
  for f in thumb big; do
    url=${URL[$label]}${PATH_OF[$f]}
    got=$(curl -sk --http2 -o "$RUN_DIR/check.bin" -w '%{http_code} %{http_version}' "$url")
    if [ "$got" != "200 2" ] || ! cmp -s "$RUN_DIR/check.bin" "$AVATARS/${FILE_OF[$f]}"; then
      echo "h2.sh: $label answers ${PATH_OF[$f]} with '$got' and $(stat -c %s "$RUN_DIR/check.bin") bytes;" \
           "want '200 2' and the ${SIZE_OF[$f]} bytes of ${FILE_OF[$f]}" >&2
      exit 1
    fi
    h2load_cmd "$url" -n 100 -c 1 -m "$streams"
    "${H2LOAD[@]}" >"$OUT/logs/check-$label-$f-h2load.txt" 2>&1 || true
    read -r n failed _ _ bytes proto cipher < <(parse_h2load "$OUT/logs/check-$label-$f-h2load.txt")
    if [ "$n" != 100 ] || [ "$failed" != 0 ] || [ "$proto" != h2 ] || [ "$bytes" != $((100 * SIZE_OF[$f])) ]; then
      echo "h2load against $label ${PATH_OF[$f]}: $n answers, $failed failed, protocol $proto, $bytes bytes;" \
           "see $OUT/logs/check-$label-$f-h2load.txt" >&2
      exit 1
    fi
    line="h2load ok ($cipher)"
    if [[ " ${GEN_LIST[*]} " == *" pixload "* ]]; then
      rc=0
      "$PIXLOAD" -q --h2 --threads 1 -c 1 --max-streams "$streams" -n 100 --expect-status 200 \
        --expect-min-bytes "${SIZE_OF[$f]}" --json-out "$OUT/json/check-$label-$f.json" "$url" \
        >"$OUT/logs/check-$label-$f-pixload.txt" 2>&1 || rc=$?
      read -r n failed _ _ bytes proto _ < <(parse_pixload "$OUT/json/check-$label-$f.json")
      if [ "$rc" != 0 ] || [ "$n" != 100 ] || [ "$failed" != 0 ] || [ "$proto" != h2 ] || [ "$bytes" != $((100 * SIZE_OF[$f])) ]; then
        echo "pixload --h2 against $label ${PATH_OF[$f]}: exit $rc, $n answers, $failed failed, protocol $proto," \
             "$bytes bytes; see $OUT/logs/check-$label-$f-pixload.txt" >&2
        exit 1
      fi
      line+=", pixload ok"
    fi
    printf '  %-6s %-7s %6s bytes, %s\n' "$label" "${PATH_OF[$f]}" "${SIZE_OF[$f]}" "$line"
  done
done

# ---- the rounds ----
CSV=$OUT/h2.csv
echo "round,file,size,server,gen,order,requests,failed,req_per_s,elapsed_s,data_bytes,server_ticks,core1_ticks,gen_ticks,core0_ticks,foreign1,foreign0,disturbed,server_requests,protocol,cipher,exit" >"$CSV"

measure() { # measure ROUND FILE LABEL GEN ORDER
  local round=$1 f=$2 label=$3 gen=$4 order=$5
  local url=${URL[$label]}${PATH_OF[$f]} tag=$1-$2-$3-$4 rc=0 t0 t1 c0 c1 l0 l1 k0 k1 m0 m1 s0 s1 gticks
  local n failed rps el bytes proto cipher
  s0=$(status_requests "${STATUS[$label]}")
  if [ "$gen" = h2load ]; then
    h2load_cmd "$url" -c "$conns" -m "$streams" -D "$duration"
    CMD=("${H2LOAD[@]}")
  else
    CMD=("$PIXLOAD" -q --h2 --threads 1 -c "$conns" --max-streams "$streams" -t "${duration}s"
         --expect-status 200 --json-out "$OUT/json/$tag.json" "$url")
  fi
  t0=$(cpu_ticks "${PGID[$label]}") c0=$(core_busy 1) l0=$(core_busy 0) k0=$(task_busy 1) m0=$(task_busy 0)
  # `times` must run in this shell: its second line is the CPU of the children reaped so far.
  times >"$RUN_DIR/times.0"
  taskset -c "$LOAD_CPU" "${CMD[@]}" >"$OUT/logs/$tag.txt" 2>&1 || rc=$?
  times >"$RUN_DIR/times.1"
  t1=$(cpu_ticks "${PGID[$label]}") c1=$(core_busy 1) l1=$(core_busy 0) k1=$(task_busy 1) m1=$(task_busy 0)
  s1=$(status_requests "${STATUS[$label]}")
  kill -0 "${PGID[$label]}" 2>/dev/null || { echo "h2.sh: $label died; see $RUN_DIR" >&2; exit 1; }
  gticks=$(child_ticks "$RUN_DIR/times.0" "$RUN_DIR/times.1")
  if [ "$gen" = h2load ]; then
    read -r n failed rps el bytes proto cipher < <(parse_h2load "$OUT/logs/$tag.txt")
  else
    read -r n failed rps el bytes proto cipher < <(parse_pixload "$OUT/json/$tag.json")
  fi
  [ "$proto" = h2 ] || { [ "$rc" != 0 ] || rc=98; }
  local server=$((t1 - t0)) fc1=$(( (k1 - k0) - (t1 - t0) )) fc0=$(( (m1 - m0) - gticks )) sreq=-1
  [ "$s0" -ge 0 ] 2>/dev/null && [ -n "$s1" ] && sreq=$((s1 - s0 - 1))  # less the /status request itself
  DISTURBED=$(awk -v a="$fc1" -v b="$fc0" -v e="$el" -v hz="$HZ" -v pct="$disturbed_pct" 'BEGIN {
      lim = e * hz * pct / 100; if (lim < 3) lim = 3; print (a > lim || b > lim) ? 1 : 0 }')
  echo "$round,$f,${SIZE_OF[$f]},$label,$gen,$order,$n,$failed,$rps,$el,$bytes,$server,$((c1 - c0)),$gticks,$((l1 - l0)),$fc1,$fc0,$DISTURBED,$sreq,$proto,$cipher,$rc" >>"$CSV"
  printf '  round %s %-5s %-6s %-7s %9.0f req/s  failed %-4s server %6s us/req  generator %6s us/req  foreign ticks core1/core0 %s/%s%s%s\n' \
    "$round" "$f" "$label" "$gen" "$rps" "$failed" \
    "$(awk -v t="$server" -v n="$n" -v hz="$HZ" 'BEGIN {printf "%.1f", n ? t * 1e6 / hz / n : 0}')" \
    "$(awk -v t="$gticks" -v n="$n" -v hz="$HZ" 'BEGIN {printf "%.1f", n ? t * 1e6 / hz / n : 0}')" \
    "$fc1" "$fc0" "$([ "$DISTURBED" = 0 ] || echo "  DISTURBED")" "$([ "$rc" = 0 ] || echo "  EXIT $rc, see $OUT/logs/$tag.txt")"
}

# One round's sequence: each server with each generator, back to back (pixd2: h2load only).
SEQ=()
for label in "${LABELS[@]}"; do
  for gen in "${GEN_LIST[@]}"; do
    [ "$label" = pixd2 ] && [ "$gen" != h2load ] && [ "${#GEN_LIST[@]}" -gt 1 ] && continue
    SEQ+=("$label:$gen")
  done
done
for ((round = 1; round <= rounds; round++)); do
  order=("${SEQ[@]}")
  if ((round % 2 == 0)); then
    order=(); for ((i = ${#SEQ[@]} - 1; i >= 0; i--)); do order+=("${SEQ[$i]}"); done
  fi
  for f in thumb big; do
    wait_quiet "$quiet_max" 10 0
    i=0
    for run in "${order[@]}"; do
      measure "$round" "$f" "${run%%:*}" "${run##*:}" "$i"
      i=$((i + 1))
    done
  done
done
LOAD_S=$((SECONDS - T0))
stop_all

# ---- idle connections ----
if [ "$do_idle" = 1 ]; then
  hard=$(ulimit -Hn)
  max_conns=20000
  [ "$hard" != unlimited ] && [ "$hard" -lt 21000 ] && max_conns=$((idle_conns * 3 / 2))
  echo "idle HTTP/2 connections: $idle_conns to a fresh instance of each server (${idle_runs}); pixd --max-conns $max_conns"
  for spec in $idle_runs; do
    kind=${spec%%:*} mode=${spec##*:}
    extra=()
    [ "$kind" = pixd ] && extra=(--max-conns "$max_conns")
    start_server "$kind" "${extra[@]}"
    # Both paths served once, so that their first-use allocations are in the baseline.
    curl -sk --http2 -o /dev/null "$S_URL/thumb"
    curl -s --http2-prior-knowledge -o /dev/null "$S_H2C/thumb" || true
    if [ "$mode" = tls ]; then port=${S_URL##*:} tls=(--tls); else port=${S_H2C##*:} tls=(); fi
    printf '  %-5s %-3s ' "$kind" "$mode"
    taskset -c "$LOAD_CPU" "$PY" "$REPORT" idle 127.0.0.1 "$port" "$idle_conns" "$OUT/idle/$kind-$mode.json" \
      --pgid "$S_PGID" "${tls[@]}" --status "$S_STATUS" --settle 1 --deadline "$idle_deadline" \
      2>"$OUT/logs/idle-$kind-$mode.txt" || echo "failed; see $OUT/logs/idle-$kind-$mode.txt"
    stop_group "$S_PGID"
  done
fi

{
  echo "# HTTP/2 avatar benchmark over TLS: pixd, nginx, h2o"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(getconf _NPROCESSORS_ONLN) cores," \
       "Linux $(uname -r); pixd $("$PIXD" -V 2>&1 | head -1 | awk '{print $NF}'), $(nginx -v 2>&1 | cut -d: -f2 | sed 's/^ //')," \
       "$(h2o --version 2>&1 | head -1), $(h2load --version 2>&1 | head -1)$([ -x "$PIXLOAD" ] && echo ", pixload $("$PIXLOAD" -V 2>&1 | head -1 | awk '{print $NF}')"), $(openssl version | cut -d' ' -f1-2)."
  echo "Servers pinned to core $SERVER_CPU, one event loop each (pixd --threads 1 --image-workers 1; nginx worker_processes 1;" \
       "h2o num-threads 1), generators and harness on core $LOAD_CPU, one thread each. TLS 1.3, self-signed P-256 certificate;" \
       "h2load ${h2load_ciphers:+--tls13-ciphers=$h2load_ciphers }(pixload: OpenSSL's default, the same suite)."
  echo "$rounds rounds, order reversed every other round; per run \`h2load -c $conns -m $streams -D $duration\` or" \
       "\`pixload --h2 -c $conns --max-streams $streams -t ${duration}s\`, keep-alive. thumbnail: /thumb, ${SIZE_OF[thumb]} bytes;" \
       "37 KB avatar: /-1, ${SIZE_OF[big]} bytes. Set-up and load ${LOAD_S}s; whole run $((SECONDS - T0))s."
  echo
  "$PY" "$REPORT" report "$CSV" "$OUT/idle" "$HZ"
  echo "server CPU: utime+stime of the server's processes per answer the generator completed; core 1: all busy time of the" \
       "server's core (adds softirq and anything else that ran there); generator CPU: the generator's own utime+stime per answer;" \
       "CPU %: over the run's time (100 = one core; a generator near 100 was the limit); disturbed: foreign work above" \
       "$disturbed_pct % of the run on either core (task time beyond the server's or the generator's: irq and softirq left out)."
} >"$OUT/h2.md"
echo
cat "$OUT/h2.md"
echo
echo "written: $OUT/h2.md, $CSV, logs in $OUT/logs, pixload JSON in $OUT/json, idle connections in $OUT/idle"
