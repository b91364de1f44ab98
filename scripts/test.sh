#!/usr/bin/env bash
# Runs every test: installs what is missing, builds (warnings are errors), runs the suite,
# then again under ASan+UBSan, then each libFuzzer target briefly. The last line is
# "N passed, N failed".
#   scripts/test.sh [--quick]   --quick: the plain build only (no sanitizers, no fuzzing)
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0; [ "${1:-}" = "--quick" ] && quick=1
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
jobs=$(nproc)

bash scripts/install-deps.sh test || { echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0
log=$(mktemp)
# Runs ctest in a build dir and adds its counts to the totals.
run_ctest() {
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure -j "$jobs" "$@") 2>&1 | tee "$log"
  local line; line=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$log" | tail -1)
  if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
  local bad total; bad=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + total - bad)); failed=$((failed + bad))
}
build() { # dir, cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DPIXD_WERROR=ON "$@" >/dev/null && cmake --build "$dir" -j "$jobs" 2>&1 | grep -Ev '^\[|^-- ' 
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed: $dir"; failed=$((failed + 1)); return 1; }
}

echo "== release build and tests"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPIXD_TEST_HOOKS=ON && run_ctest build

if [ $quick -eq 0 ]; then
  echo "== ASan+UBSan build and tests"
  # Leak checks stay on; the sanitizer must not be fooled by the Python test driver.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  build build-asan -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
        -DPIXD_SANITIZE=address,undefined -DPIXD_TEST_HOOKS=ON && run_ctest build-asan -LE conformance

  echo "== libFuzzer targets, ${FUZZ_SECONDS}s each"
  if build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
        -DPIXD_FUZZ=ON -DPIXD_SANITIZE=address,undefined; then
    for fz in build-fuzz/tests/fuzz_*; do
      [ -x "$fz" ] || continue
      name=$(basename "$fz"); target=${name#fuzz_}
      work=$(mktemp -d); cp -r "tests/fuzz/corpus/$target/." "$work/" 2>/dev/null
      dict=()  # tests/fuzz/<target>.dict, else the dictionary of its family (http_request -> http.dict)
      for d in "tests/fuzz/$target.dict" "tests/fuzz/${target%%_*}.dict"; do
        [ -f "$d" ] && { dict=(-dict="$d"); break; }
      done
      if "$fz" "$work" "${dict[@]}" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=0 \
           -artifact_prefix="$work/" >"$work.log" 2>&1; then
        echo "fuzz $target: ok ($(grep -c . <(ls "$work")) corpus files)"; passed=$((passed + 1))
      else
        echo "fuzz $target: FAILED"; tail -40 "$work.log"; failed=$((failed + 1))
      fi
      rm -rf "$work" "$work.log"
    done
  fi
fi
rm -f "$log"
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
