#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run.sh BUILD_DIR SECONDS -- runs every *_fuzz executable under BUILD_DIR for SECONDS each.
#
# Each fuzzer starts from a temporary copy of tests/fuzz/corpus/<name>/, so new inputs never
# land in the repository, and uses tests/fuzz/<name>.dict when it exists. A crash input is kept
# in a temporary directory whose path is printed. Exits 1 if any fuzzer fails or none is found
# (configure with -DCMAKE_C_COMPILER=clang -DSL_FUZZ=ON to build them).
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build_dir=$1
seconds=$2
case $seconds in
'' | *[!0-9]*)
    echo "$0: SECONDS must be a whole number, got '$seconds'" >&2
    exit 2
    ;;
esac
fuzz_src=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/sl-fuzz.XXXXXX")
keep_work=0
# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
    if [ "$keep_work" -eq 0 ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

fuzzers=$(find "$build_dir" -type f -name '*_fuzz' -perm -u+x | sort)
if [ -z "$fuzzers" ]; then
    echo "$0: no *_fuzz executable under $build_dir" >&2
    exit 1
fi

failed=0
for exe in $fuzzers; do
    name=$(basename "$exe" _fuzz)
    corpus=$work/$name/corpus
    artifacts=$work/$name/artifacts
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$fuzz_src/corpus/$name" ]; then
        cp -R "$fuzz_src/corpus/$name/." "$corpus/"
    fi
    set -- -max_total_time="$seconds" -artifact_prefix="$artifacts/" -print_final_stats=1
    if [ -f "$fuzz_src/$name.dict" ]; then
        set -- "$@" -dict="$fuzz_src/$name.dict"
    fi

    echo "== $name: ${seconds}s"
    if "$exe" "$@" "$corpus" >"$work/$name/log" 2>&1; then
        grep -E '^(stat::number_of_executed_units|Done )' "$work/$name/log" || true
    else
        failed=1
        keep_work=1
        tail -n 40 "$work/$name/log" >&2
        echo "$name failed; its log and crash inputs are in $work/$name" >&2
    fi
done
exit "$failed"
