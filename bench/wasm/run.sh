#!/bin/sh
# Runs the wasm engine benchmarks: sh bench/wasm/run.sh [BUILD_DIR] [--quick | --t0]
# (--t0: only the tier-0 time to first call, best of 15 per variant)
set -e
B=${1:-build}
exec "$B/bench/wasm/bench_wasm" "$B/bench/wasm/lev.wasm" "$B/bench/wasm/lev.js" $2
