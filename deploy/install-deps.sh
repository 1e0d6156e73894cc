#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install what Sluice needs to build and test on Debian 12 (bookworm): the C libraries, the
# compilers (gcc, and clang for the fuzz build), Redis, PostgreSQL 15, curl, openssl, nghttp,
# promtool (from the prometheus package, to check the /metrics text) and Node.js with npm. Safe to run again: when every package is already installed it makes no apt
# call at all. It never starts a service. Runs as root, or through sudo when not root.
# Usage: deploy/install-deps.sh [--build-only | --bench]
#   --build-only  install only BUILD_PACKAGES, the packages CMake needs to build the three
#                 binaries. deploy/Dockerfile uses it, so the image builds with the same list.
#   --bench       install BENCH_PACKAGES too, for bench/run (the nginx baseline).
set -euo pipefail

# What `cmake` and the compiler need for sluice-gateway, sluice-coordinator and sluice-mock.
BUILD_PACKAGES=(
    build-essential cmake pkg-config
    libh2o-dev libuv1-dev libssl-dev libcurl4-openssl-dev libhiredis-dev libpq-dev
    libmsgpack-dev libcjson-dev libyaml-dev
)

# What the tests, the quick start and the fuzz build need on top.
TEST_PACKAGES=(
    redis-server postgresql-15
    curl openssl nghttp2-client ca-certificates
    wrk  # the bench.guard test (bench/run with MIN_RATIO)
    prometheus  # for promtool; apt also enables the Prometheus server service (port 9090)
    clang libclang-rt-14-dev
)

# What bench/run needs on top of the test packages. Debian's nginx packages start the system
# service on install unless policy-rc.d forbids it; bench/run starts its own nginx and never
# uses that service.
BENCH_PACKAGES=(nginx-light)

case "${1:-}" in
--build-only)
    PACKAGES=("${BUILD_PACKAGES[@]}")
    ;;
--bench)
    PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${BENCH_PACKAGES[@]}")
    ;;
"")
    PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}")
    ;;
*)
    echo "install-deps: unknown option '$1' (usage: install-deps.sh [--build-only | --bench])" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" -eq 0 ]; then
    AS_ROOT=()
elif command -v sudo >/dev/null 2>&1; then
    AS_ROOT=(sudo)
else
    echo "install-deps: run as root or install sudo" >&2
    exit 1
fi

# Node.js: any node already on PATH is kept (the tests run on Node 18 and 20). Otherwise Debian's
# nodejs (Node 18) is installed. npm comes with the nodesource build but not with Debian's nodejs.
# A --build-only install needs no Node.
if [ "${1:-}" = --build-only ]; then
    :
elif ! command -v node >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(npm)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
"${AS_ROOT[@]}" apt-get update -q
"${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
