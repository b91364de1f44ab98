# shellcheck shell=bash disable=SC2034  # PEER_* and STARTED_* are this library's outputs
# bench/lib.sh - helpers the benchmark scripts source: start every contender, wait for it, measure
# its CPU, stop it. Bash only, for scripts (no job control); `set -euo pipefail` safe.
#
# Environment (all optional):
#   RUN_DIR        where configs, logs and nginx prefixes go (default: a new /tmp/pixd-run.*)
#   AVATARS        the avatar folder start_peer serves (make_avatars fills one)
#   PIXD           the pixd binary (default: <source>/build/pixd)
#   PIXD_THREADS   pixd --threads (default 1)      PIXD_ARGS  extra pixd arguments
#   NGINX_WORKERS  nginx worker_processes (default 1)
#   PIN_CPU        when set, servers start under `taskset -c $PIN_CPU`
#
# Every server starts as the leader of its own process group (setsid), so its workers share its
# pgid: stop_all kills whole groups and cpu_ticks sums the CPU of every process in the group.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(dirname "$BENCH_DIR")
PEERS_DIR=$BENCH_DIR/peers
PY=/usr/bin/python3
PIXD=${PIXD:-$SRC_DIR/build/pixd}
# ALL_PEERS: every contender start_peer knows, in the order the original charts listed them.
ALL_PEERS=(flask gunicorn2 gunicorn3 fastapi fastapi2 aiohttp aiohttp2 starlette nginx nginx-tls pixd pixd-tls)
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
# DIR/cert.pem, its key in DIR/key.pem (the same kind for nginx-tls and pixd-tls).
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$1/key.pem" -out "$1/cert.pem" 2>"$1/openssl.log"
}

# start_nginx CONF PORT ROOT: nginx from bench/nginx/CONF (a template) on 127.0.0.1:PORT serving
# ROOT, under the private prefix $RUN_DIR/nginx-PORT; sets STARTED_PID. A TLS template gets a
# fresh self-signed P-256 certificate. STARTED_LOG is nginx's error log.
start_nginx() {
  local conf=$1 port=$2 root=$3
  local prefix=$RUN_DIR/nginx-$port
  mkdir -p "$prefix"
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" -e "s|@ROOT@|$root|g" \
      -e "s|@WORKERS@|${NGINX_WORKERS:-1}|g" "$BENCH_DIR/nginx/$conf" >"$prefix/nginx.conf"
  if grep -q ssl_certificate "$prefix/nginx.conf"; then
    make_cert "$prefix"
  fi
  start_group "$prefix/stderr.log" nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
  STARTED_LOG=$prefix/error.log
}

# start_peer NAME PORT: starts contender NAME (one of ALL_PEERS) on 127.0.0.1:PORT serving
# $AVATARS; sets PEER_PID (its process group), PEER_URL and PEER_LOG. Returns 2 for an unknown
# name.
start_peer() {
  local name=$1 port=$2
  local log=$RUN_DIR/$name-$port.log
  : "${AVATARS:?start_peer needs AVATARS}"
  PEER_URL=http://127.0.0.1:$port
  local uvicorn=(env AVATAR_DIR="$AVATARS" "$PY" -m uvicorn --app-dir "$PEERS_DIR"
                 --host 127.0.0.1 --port "$port" --no-access-log --log-level warning)
  local gunicorn=(env AVATAR_DIR="$AVATARS" gunicorn --chdir "$PEERS_DIR" -b "127.0.0.1:$port"
                  --log-level warning)
  # The /magic/imageurl origin (origin.conf.in) is on loopback, which pixd refuses to fetch
  # from unless allowed.
  # shellcheck disable=SC2206 # PIXD_ARGS is a list of words
  local pixd=("$PIXD" --avatars "$AVATARS" --threads "${PIXD_THREADS:-1}" --fetch-allow 127.0.0.0/8 ${PIXD_ARGS:-})
  case "$name" in
    flask)     start_group "$log" "$PY" "$PEERS_DIR/flask_app.py" --port "$port" --avatars "$AVATARS" ;;
    gunicorn2) start_group "$log" "${gunicorn[@]}" -w 2 flask_app:app ;;
    gunicorn3) start_group "$log" "${gunicorn[@]}" -w 3 flask_app:app ;;
    fastapi)   start_group "$log" "${uvicorn[@]}" fastapi_app:app ;;
    fastapi2)  start_group "$log" "${uvicorn[@]}" --workers 2 fastapi_app:app ;;
    aiohttp)   start_group "$log" "$PY" "$PEERS_DIR/aiohttp_app.py" --port "$port" --avatars "$AVATARS" ;;
    aiohttp2)  start_group "$log" "${gunicorn[@]}" -k aiohttp.GunicornWebWorker -w 2 aiohttp_app:app ;;
    starlette) start_group "$log" "${uvicorn[@]}" --workers 2 starlette_app:app ;;
    nginx)     start_nginx avatars.conf.in "$port" "$AVATARS" ;;
    nginx-tls) start_nginx avatars-tls.conf.in "$port" "$AVATARS"; PEER_URL=https://127.0.0.1:$port ;;
    pixd)      start_group "$log" "${pixd[@]}" --listen "127.0.0.1:$port" ;;
    pixd-tls)  # https on PORT (its plain listener, on a port of its own, goes unused).
               local dir=$RUN_DIR/pixd-tls-$port
               mkdir -p "$dir"
               make_cert "$dir"
               start_group "$log" "${pixd[@]}" --listen "127.0.0.1:$(free_port)" --tls-listen "127.0.0.1:$port" \
                 --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem"
               PEER_URL=https://127.0.0.1:$port ;;
    *) echo "start_peer: unknown contender '$name' (known: ${ALL_PEERS[*]})" >&2; return 2 ;;
  esac
  PEER_PID=$STARTED_PID
  PEER_LOG=$STARTED_LOG
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

# cpu_ticks PGID: CPU time (user + system, clock ticks, see `getconf CLK_TCK`) used so far by
# every live process of group PGID, all threads included, plus the children they reaped.
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
