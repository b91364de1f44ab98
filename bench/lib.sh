# shellcheck shell=bash disable=SC2034  # PEER_* and STARTED_* are this library's outputs
# bench/lib.sh - helpers the benchmark scripts source: start every contender, wait for it, measure
# its CPU, stop it. Bash only, for scripts (no job control); `set -euo pipefail` safe.
#
# Environment (all optional):
#   RUN_DIR        where configs, logs and nginx prefixes go (default: a new /tmp/pixd-run.*)
#   AVATARS        the avatar folder start_peer serves (make_avatars fills one)
#   PIXD           the pixd binary (default: <source>/build/pixd)
#   CONTENDERS_DIRS  more folders of contender folders, colon-separated (bench/contenders is
#                  always read; see docs/contenders.md)
#   CORES          start_peer: instead of the contender's declared cores (pixd's threads, nginx's
#                  workers)
#   PIXD_ARGS      extra pixd arguments (the pixd contenders add them)
#   ORIGIN         the /magic/imageurl origin URL ({origin})
#   NGINX_WORKERS  start_nginx's worker_processes (default 1)
#   PIN_CPU        when set, servers start under `taskset -c $PIN_CPU` (empty: not pinned);
#                  unset, a contender is pinned to its cores' CPUs
#   CGROUP_ROOT    a writable cgroup v2 folder: each contender gets a cgroup in it (peer_cpu_us)
#
# Every server starts as the leader of its own process group (setsid), so its workers share its
# pgid: stop_all kills whole groups and cpu_ticks sums the CPU of every process in the group.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(dirname "$BENCH_DIR")
PEERS_DIR=$BENCH_DIR/peers
PY=/usr/bin/python3
PIXD=${PIXD:-$SRC_DIR/build/pixd}
STARTED_PGIDS=()

if [ -z "${RUN_DIR:-}" ]; then
  RUN_DIR=$(mktemp -d /tmp/pixd-run.XXXXXX)
fi
# nginx workers drop to an unprivileged user when started as root: they must reach the files.
chmod 755 "$RUN_DIR"

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# make_avatars DIR [--image FILE]: the avatar folder (see bench/make_avatars.py).
make_avatars() {
  "$PY" "$BENCH_DIR/make_avatars.py" "$@"
}

# start_group LOG CMD...: runs CMD as a new process group (pinned when PIN_CPU is set), output to
# LOG; sets STARTED_PID and STARTED_LOG.
start_group() {
  local log=$1; shift
  local pin=()
  [ -n "${PIN_CPU:-}" ] && pin=(taskset -c "$PIN_CPU")
  # Not a group leader (no job control in scripts), so setsid execs in place: $! is the leader.
  setsid "${pin[@]}" "$@" >"$log" 2>&1 </dev/null &
  STARTED_PID=$!
  STARTED_LOG=$log
  STARTED_PGIDS+=("$STARTED_PID")
}

# make_cert DIR: a fresh self-signed P-256 certificate for localhost and 127.0.0.1 in
# DIR/cert.pem, its key in DIR/key.pem (the same kind for every TLS contender).
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$1/key.pem" -out "$1/cert.pem" 2>"$1/openssl.log"
}

# start_nginx CONF PORT ROOT: nginx from bench/nginx/CONF (a template: @PREFIX@, @PORT@, @ROOT@,
# @WORKERS@) on 127.0.0.1:PORT serving ROOT, under the private prefix $RUN_DIR/nginx-PORT (the
# /magic/imageurl origin, and bench/sizes.sh's image_filter); sets STARTED_PID and STARTED_LOG
# (nginx's error log).
start_nginx() {
  local conf=$1 port=$2 root=$3
  local prefix=$RUN_DIR/nginx-$port
  mkdir -p "$prefix"
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" -e "s|@ROOT@|$root|g" \
      -e "s|@WORKERS@|${NGINX_WORKERS:-1}|g" "$BENCH_DIR/nginx/$conf" >"$prefix/nginx.conf"
  start_group "$prefix/stderr.log" nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
  STARTED_LOG=$prefix/error.log
}

# contender_sh CMD ARGS...: bench/contenders.py CMD ARGS (names, list, show, target, record) over
# bench/contenders and CONTENDERS_DIRS.
contender_sh() {
  local cmd=$1 d; shift
  local dirs=()
  for d in ${CONTENDERS_DIRS:+${CONTENDERS_DIRS//:/ }}; do dirs+=(--dir "$d"); done
  "$PY" "$BENCH_DIR/contenders.py" "${dirs[@]}" "$cmd" "$@"
}

# start_peer NAME PORT: starts contender NAME (a folder of bench/contenders or of a folder in
# CONTENDERS_DIRS, see docs/contenders.md) on 127.0.0.1:PORT serving $AVATARS: renders it into a
# fresh $RUN_DIR/NAME-PORT, runs its setup there, then its start command under `sh -c` as a
# process group of its own, pinned to PIN_CPU when set (empty: not pinned), else to its cores'
# CPU list; in the cgroup CGROUP_ROOT/NAME-PORT when CGROUP_ROOT is set (bench/run). CORES
# overrides its declared cores ({cores}: pixd's threads, nginx's workers). Sets PEER_PID (its
# process group), PEER_URL, PEER_LOG, PEER_RUN, PEER_CGROUP and the C_* of contenders.py show
# (C_CHECKS: bench/check_peer.py's options). Returns 2 for an unknown or malformed contender, 1
# when its setup failed (PEER_LOG says why).
start_peer() {
  local name=$1 port=$2 shown cg=''
  : "${AVATARS:?start_peer needs AVATARS}"
  PEER_RUN=$RUN_DIR/$name-$port PEER_LOG=$RUN_DIR/$name-$port/stderr.log PEER_CGROUP='' PEER_PID='' PEER_URL=''
  [ -f "$RUN_DIR/cert.pem" ] || make_cert "$RUN_DIR"
  shown=$(contender_sh show "$name" --port "$port" --avatars "$AVATARS" --run "$PEER_RUN" \
            --cert "$RUN_DIR/cert.pem" --key "$RUN_DIR/key.pem" --origin "${ORIGIN:-}" --pixd "$PIXD" \
            ${CORES:+--cores "$CORES"}) || return 2
  eval "$shown"
  PEER_URL=$C_SCHEME://127.0.0.1:$port
  if [ -n "$C_SETUP" ] && ! (cd "$PEER_RUN" && sh -c "$C_SETUP") >"$PEER_RUN/setup.log" 2>&1; then
    PEER_LOG=$PEER_RUN/setup.log PEER_PID=''
    return 1
  fi
  if [ -n "${CGROUP_ROOT:-}" ]; then
    PEER_CGROUP=$CGROUP_ROOT/$name-$port
    mkdir "$PEER_CGROUP"
    # The shell joins the cgroup before it starts the server: every process it forks is in it.
    cg="echo \$\$ >$PEER_CGROUP/cgroup.procs && "
  fi
  PIN_CPU=${PIN_CPU-$C_CPUS} start_group "$PEER_LOG" sh -c "$cg$C_START"
  PEER_PID=$STARTED_PID
}

# wait_ready URL [PID [SECONDS]]: waits until URL answers any HTTP status (default 20 s); fails
# early when PID (a process group leader) has exited.
wait_ready() {
  local url=$1 pid=${2:-} secs=${3:-20} i
  for ((i = 0; i < secs * 10; i++)); do
    [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null)" != 000 ] && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "wait_ready: process $pid exited before $url answered" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "wait_ready: $url did not answer within ${secs}s" >&2
  return 1
}

# stop_group PGID: TERM to the whole group, KILL after 5 s, then reaps the leader.
stop_group() {
  local pg=$1 i
  kill -TERM -- "-$pg" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 -- "-$pg" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pg" 2>/dev/null || true
  wait "$pg" 2>/dev/null || true
}

# stop_all: stops every group this shell started (use as `trap stop_all EXIT`).
stop_all() {
  local pg
  for pg in "${STARTED_PGIDS[@]}"; do stop_group "$pg"; done
  STARTED_PGIDS=()
}

# core_busy CPU: busy clock ticks of one core so far (everything but idle and iowait).
core_busy() {
  awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

HZ=$(getconf CLK_TCK)

# wait_quiet MAX_S PCT PAUSE_S: waits until both cores are under PCT % busy over a second
# (other engineers share the machine), checking every PAUSE_S + 1 s, at most MAX_S (then a
# warning on stderr). Sets WAITED (seconds) and IDLE ("core0/core1" busy % last seen).
wait_quiet() {
  local max=$1 pct=$2 pause=$3 start=$SECONDS c0 c1 b0 b1
  while :; do
    c0=$(core_busy 0) c1=$(core_busy 1)
    sleep 1
    b0=$(( ($(core_busy 0) - c0) * 100 / HZ )) b1=$(( ($(core_busy 1) - c1) * 100 / HZ ))
    { [ "$b0" -lt "$pct" ] && [ "$b1" -lt "$pct" ]; } && break
    if [ $((SECONDS - start)) -ge "$max" ]; then
      echo "    warning: cores still busy (core0 $b0 %, core1 $b1 %) after ${max}s; running anyway" >&2
      break
    fi
    sleep "$pause"
  done
  WAITED=$((SECONDS - start)) IDLE="$b0/$b1"
}

# cpu_ticks PGID: CPU time (user + system, clock ticks, see `getconf CLK_TCK`) used so far by
# every live process of group PGID, all threads included, plus the children they reaped.
cpu_ticks() {
  local pg=$1 total=0 f line
  local -a s
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    # Fields after the ")" closing comm: s[0] is field 3 (state), so field N is s[N-3].
    read -ra s <<<"${line##*) }"
    [ "${s[2]}" = "$pg" ] || continue
    total=$((total + s[11] + s[12] + s[13] + s[14]))
  done
  echo "$total"
}

# peer_cpu_us: CPU time (µs) the contender start_peer started last has used so far: its cgroup's
# cpu.stat usage_usec (every process it ever had, exited ones included) when it has one, else
# cpu_ticks of its process group (live processes and the children they reaped).
peer_cpu_us() {
  if [ -n "$PEER_CGROUP" ]; then
    awk '$1 == "usage_usec" { print $2 }' "$PEER_CGROUP/cpu.stat"
  else
    echo $(($(cpu_ticks "$PEER_PID") * 1000000 / HZ))
  fi
}
