#!/usr/bin/env bash
# Runs every test: installs what is missing, then
#   1. a -Werror build and the whole ctest suite (unit, integration, fuzz seeds);
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. each libFuzzer target for a short smoke run (clang).
# Exit status is non-zero if any step fails.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
packaging/install-deps.sh --test || exit 1
jobs=$(nproc)
status=0

step() { printf '\n=== %s ===\n' "$*"; }

step "build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j"$jobs" || exit 1
step "tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600) || status=1

step "build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DWHARF_SANITIZE=ON >/dev/null &&
	cmake --build build-asan -j"$jobs" || exit 1
step "tests under ASan + UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure -j"$jobs" --timeout 900) || status=1

step "fuzz smoke (libFuzzer)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWHARF_FUZZ=ON -DWHARF_SANITIZE=ON >/dev/null &&
	cmake --build build-fuzz -j"$jobs" --target $(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//') || exit 1
(cd build-fuzz && ctest -L fuzz --output-on-failure) || status=1

step "result"
[ $status -eq 0 ] && echo "all test steps passed" || echo "some test step FAILED"
exit $status
