#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run every test of the project on a Debian 12 machine, from a fresh clone:
#   1. install the Debian packages (deploy/install-deps.sh) and the Node test packages (npm ci),
#   2. build build/ (RelWithDebInfo) and run the whole ctest suite,
#   3. build build-asan/ with AddressSanitizer and UBSan and run the whole suite again,
#   4. search the whole output of both suites for every plaintext key the tests obtained,
#   5. build build-fuzz/ with clang and libFuzzer and run tests/fuzz/run.sh when it exists.
# Every stage runs even when an earlier one failed; the exit code is non-zero if any failed.
# SLUICE_FIXTURES and CI are passed on to the tests as the caller set them.
# Usage: tests/run-all.sh   (run as root or with sudo available; uses 2 parallel jobs)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
JOBS=2
FUZZ_SECONDS=20
START=$(date +%s)

declare -a STAGES=()
FAILED_STAGES=0
TESTS_TOTAL=0
TESTS_FAILED=0
TESTS_SKIPPED=0
# Every child's output, the ctest logs and the list of plaintext keys the tests obtained.
SLUICE_TEST_OUTPUT_DIR=$(mktemp -d /tmp/sluice-test-output.XXXXXX)
export SLUICE_TEST_OUTPUT_DIR
trap 'rm -rf "$SLUICE_TEST_OUTPUT_DIR"' EXIT

stage_result() {
    local name=$1 rc=$2
    if [ "$rc" -eq 0 ]; then
        STAGES+=("ok      $name")
    else
        STAGES+=("FAILED  $name (exit $rc)")
        FAILED_STAGES=$((FAILED_STAGES + 1))
    fi
}

banner() {
    echo
    echo "=== $* ($(($(date +%s) - START)) s) ==="
}

# Run ctest in build folder $1 and add its counts to the totals.
run_ctest() {
    local dir=$1 log rc
    log=$(mktemp)
    (cd "$dir" && ctest --output-on-failure -j"$JOBS") 2>&1 \
        | tee "$log" "$SLUICE_TEST_OUTPUT_DIR/ctest-$(basename "$dir").log"
    rc=${PIPESTATUS[0]}
    local line total failed skipped
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/')
        total=$(echo "$line" | sed -E 's/.*failed out of ([0-9]+).*/\1/')
        skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)$' "$log")
        TESTS_TOTAL=$((TESTS_TOTAL + total))
        TESTS_FAILED=$((TESTS_FAILED + failed))
        TESTS_SKIPPED=$((TESTS_SKIPPED + skipped))
    elif [ "$rc" -eq 0 ]; then
        rc=1
        echo "run-all: ctest in $dir printed no result line"
    fi
    rm -f "$log"
    return "$rc"
}

banner "install dependencies"
bash deploy/install-deps.sh
stage_result "install Debian packages" $?

(cd tests && npm ci --no-audit --no-fund)
stage_result "npm ci in tests/" $?

banner "build/ (RelWithDebInfo)"
if cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j"$JOBS"; then
    stage_result "build build/" 0
    banner "tests in build/"
    run_ctest build
    stage_result "ctest in build/" $?
else
    stage_result "build build/" 1
fi

banner "build-asan/ (AddressSanitizer + UBSan)"
if cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSL_SANITIZE=address,undefined \
    && cmake --build build-asan -j"$JOBS"; then
    stage_result "build build-asan/" 0
    banner "tests in build-asan/"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        run_ctest build-asan
    stage_result "ctest in build-asan/" $?
else
    stage_result "build build-asan/" 1
fi

# Fails when any plaintext key a test obtained appears in any output of the run: the ctest
# logs or the stdout and stderr of any gateway, coordinator or mock.
check_key_leaks() {
    local list=$SLUICE_TEST_OUTPUT_DIR/keys.list found
    if [ ! -s "$list" ]; then
        echo "run-all: no test recorded a key; the search has nothing to look for"
        return 1
    fi
    found=$(grep -rlF -f "$list" --exclude=keys.list "$SLUICE_TEST_OUTPUT_DIR")
    if [ -n "$found" ]; then
        echo "run-all: plaintext keys appear in:"
        echo "$found"
        return 1
    fi
    echo "run-all: none of $(sort -u "$list" | wc -l) plaintext keys appears in" \
        "$(find "$SLUICE_TEST_OUTPUT_DIR" -type f ! -name keys.list | wc -l) output files"
}

banner "plaintext keys in the test output"
check_key_leaks
stage_result "no plaintext key in any test output" $?

banner "build-fuzz/ (clang, libFuzzer)"
if CC=clang cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSL_FUZZ=ON && cmake --build build-fuzz -j"$JOBS"; then
    stage_result "build build-fuzz/" 0
    if [ -f tests/fuzz/run.sh ]; then
        banner "fuzz targets, ${FUZZ_SECONDS} s each"
        bash tests/fuzz/run.sh build-fuzz "$FUZZ_SECONDS"
        stage_result "tests/fuzz/run.sh" $?
    else
        STAGES+=("skipped tests/fuzz/run.sh (not present)")
    fi
else
    stage_result "build build-fuzz/" 1
fi

banner "summary"
for s in "${STAGES[@]}"; do
    echo "  $s"
done
echo "  ctest, both builds: $TESTS_TOTAL tests, $TESTS_FAILED failed, $TESTS_SKIPPED skipped"
echo "  time: $(($(date +%s) - START)) s"
PASSED=$((TESTS_TOTAL - TESTS_FAILED - TESTS_SKIPPED))
if [ "$FAILED_STAGES" -ne 0 ]; then
    echo "run-all: $FAILED_STAGES stage(s) failed"
fi
echo "run-all: $PASSED passed, $TESTS_FAILED failed, $TESTS_SKIPPED skipped"
[ "$FAILED_STAGES" -eq 0 ]
