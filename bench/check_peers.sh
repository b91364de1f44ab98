#!/usr/bin/env bash
# Starts every contender in turn on a free port and checks its answers (bench/check_peer.py):
# avatars for all, /magic/* for the Python peers and pixd, redirects and /status for pixd.
#   bench/check_peers.sh [NAME...]        (default: all of ALL_PEERS in bench/lib.sh)
# pixd is skipped while $PIXD (default build/pixd) does not exist. Exits 1 if a check failed,
# keeping the logs in $RUN_DIR; removes $RUN_DIR when all passed unless KEEP=1.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
trap stop_all EXIT

AVATARS=$RUN_DIR/avatars
make_avatars "$AVATARS"
origin_port=$(free_port)
start_nginx origin.conf.in "$origin_port" "$AVATARS"
wait_ready "http://127.0.0.1:$origin_port/3.jpeg" "$STARTED_PID"
origin=http://127.0.0.1:$origin_port

names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${ALL_PEERS[@]}")
failed=() skipped=()
for name in "${names[@]}"; do
  if [ "$name" = pixd ] && [ ! -x "$PIXD" ]; then
    echo "== pixd: skipped ($PIXD does not exist yet)"
    skipped+=(pixd)
    continue
  fi
  port=$(free_port)
  start_peer "$name" "$port"
  echo "== $name ($PEER_URL, log $PEER_LOG)"
  opts=()
  case "$name" in
    nginx|nginx-tls) opts=(--redirect) ;;
    pixd) opts=(--redirect --status --magic "$origin") ;;
    starlette) ;;
    *) opts=(--magic "$origin") ;;
  esac
  if wait_ready "$PEER_URL/-1" "$PEER_PID" 30 && "$PY" "$BENCH_DIR/check_peer.py" "$PEER_URL" "$AVATARS" "${opts[@]}"; then
    :
  else
    failed+=("$name")
  fi
  stop_group "$PEER_PID"
done

echo "checked: ${names[*]}; skipped: ${skipped[*]:-none}; failed: ${failed[*]:-none}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "logs kept in $RUN_DIR" >&2
  exit 1
fi
stop_all
[ "${KEEP:-0}" = 1 ] || rm -rf "$RUN_DIR"
