#!/usr/bin/env bash
# Fuzzes each libFuzzer target for SECONDS (default 600) and grows its committed corpus,
# tests/fuzz/corpus/<target>, with the inputs that reach new code.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. scripts/fuzz.sh 60 url date
# Each target runs on a scratch copy of its corpus, with its dictionary as in scripts/test.sh
# and a -max_len that keeps new inputs small; at the end only the inputs that add coverage
# are merged into the corpus (-merge=1), named by their hash.
# A crash, leak, timeout or out-of-memory stops the script before anything is merged: it
# prints the artifact's path (under $FUZZ_BUILD/fuzz-artifacts/). Fix the bug, then add the
# artifact to the corpus under a name that says what it is (corpus/<target>/crash-<what>) so
# the replay test keeps it fixed; never before, or every build's replay test fails.
# The last line is "N targets fuzzed, corpus files A -> B".
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
[ $# -gt 0 ] && shift
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac
build=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-2} # build jobs: the fuzzers themselves run one at a time

bash scripts/install-deps.sh build

# The same fuzz build as scripts/test.sh (PIXD_FUZZ instruments the libraries for coverage).
cmake -S . -B "$build" -DPIXD_WERROR=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=Debug -DPIXD_FUZZ=ON -DPIXD_SANITIZE=address,undefined >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.c; do t=$(basename "$src" .c); targets+=("${t#fuzz_}"); done
fi
mkdir -p "$build/fuzz-logs"
if ! cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}" >"$build/fuzz-logs/build.log" 2>&1; then
  grep -Ev '^\[|^-- ' "$build/fuzz-logs/build.log" | tail -40
  echo "fuzz build failed: $build" >&2
  exit 1
fi

# Small inputs reach the same code and keep the committed corpus small; the image decoder
# keeps libFuzzer's guess from its seeds (real images are larger).
max_len() {
  case "$1" in
    date) echo 64 ;;
    threshold) echo 256 ;;
    url) echo 512 ;;
    base64 | http_chunked) echo 1024 ;;
    http_* | multipart | magic_json) echo 4096 ;;
    *) echo 0 ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
files() { find "$1" -maxdepth 1 -type f | wc -l; }
before_all=0; after_all=0
for t in "${targets[@]}"; do
  fz="$build/tests/fuzz_$t" corpus="tests/fuzz/corpus/$t"
  [ -x "$fz" ] || { echo "no fuzz target $fz" >&2; exit 1; }
  mkdir -p "$corpus"
  art="$build/fuzz-artifacts/$t" work="$build/fuzz-work/$t" log="$build/fuzz-logs/$t.log"
  rm -rf "$work"; mkdir -p "$art" "$work" "$(dirname "$log")"
  cp -r "$corpus/." "$work/"
  dict=() # tests/fuzz/<target>.dict, else its family's (http_request -> http.dict)
  for d in "tests/fuzz/$t.dict" "tests/fuzz/${t%%_*}.dict"; do
    [ -f "$d" ] && { dict=(-dict="$d"); break; }
  done
  opts=(-max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048)
  n0=$(files "$corpus")
  echo "== fuzz_$t: ${secs}s, ${n0} corpus files, ${opts[0]}${dict:+ ${dict[0]}}"
  if ! "$fz" "$work" "${dict[@]}" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
       -artifact_prefix="$art/" >"$log" 2>&1; then
    echo "fuzz_$t FAILED: corpus left unchanged. Artifact(s):"
    grep -ho "Test unit written to .*" "$log" | sed 's/^Test unit written to /  /' || true
    grep -E "ERROR|check failed|runtime error" "$log" | head -5 | sed 's/^/  /'
    echo "  log: $log"
    echo "  reproduce: $fz <artifact>   (or the replay_$t binary of any build)"
    exit 1
  fi
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  "$fz" -merge=1 "${opts[@]}" "$corpus" "$work" >>"$log" 2>&1 ||
    { echo "fuzz_$t: merge failed, see $log" >&2; exit 1; }
  n1=$(files "$corpus")
  echo "fuzz_$t: ok, ${cov:-cov: ?} edges, corpus $n0 -> $n1 files ($(du -sk "$corpus" | cut -f1) KiB)"
  before_all=$((before_all + n0)); after_all=$((after_all + n1))
  rm -rf "$work"
done
echo "${#targets[@]} targets fuzzed, corpus files ${before_all} -> ${after_all}"
