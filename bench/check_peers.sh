#!/usr/bin/env bash
# Starts every contender in turn on a free port and checks its answers (bench/check_peer.py with
# the checks its folder declares, see docs/contenders.md); bench/run --verify does the same inside
# the suite, with a report.
#   bench/check_peers.sh [NAME...]        (default: every folder of bench/contenders)
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
ORIGIN=http://127.0.0.1:$origin_port

names=("$@")
[ ${#names[@]} -eq 0 ] && mapfile -t names < <(contender_sh names)
failed=() skipped=()
for name in "${names[@]}"; do
  if [[ "$name" == pixd* ]] && [ ! -x "$PIXD" ]; then
    echo "== $name: skipped ($PIXD does not exist yet)"
    skipped+=("$name")
    continue
  fi
  echo "== $name"
  if start_peer "$name" "$(free_port)" && wait_ready "$PEER_URL$C_READY" "$PEER_PID" 30 &&
     "$PY" "$BENCH_DIR/check_peer.py" "$PEER_URL" "$AVATARS" "${C_CHECKS[@]}"; then
    :
  else
    echo "   failed; log: $PEER_LOG"
    failed+=("$name")
  fi
  [ -z "${PEER_PID:-}" ] || stop_group "$PEER_PID"
done

echo "checked: ${names[*]}; skipped: ${skipped[*]:-none}; failed: ${failed[*]:-none}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "logs kept in $RUN_DIR" >&2
  exit 1
fi
stop_all
[ "${KEEP:-0}" = 1 ] || rm -rf "$RUN_DIR"
