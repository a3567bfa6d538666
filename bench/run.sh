#!/bin/sh
# `make bench`: every benchmark, quick sizes, one after another (docs/benchmarks.md has the full
# runs and how each number there was produced). Usage: sh bench/run.sh [BUILD_DIR]
set -e
B=${1:-build}
echo "== HTTP transport";        sh bench/http/run.sh "$B" 5
echo "== Analysis";              sh bench/analysis/run.sh "$B"
echo "== WebAssembly engine";    sh bench/wasm/run.sh "$B" --quick
echo "== UDFs in searches";      "$B/bench/udf/bench_udf" "$B/udfs" 200000 5
echo "== _bulk ingest";          node bench/ingest/ingest.js --bin "$B/kiln" --quick --connections 1,2
if [ -f bench/out/products-50000-42.docs.ndjson ]; then
  echo "== Search (in-process)"
  "$B/bench/search/bench_search" bench/out/products-50000-42.docs.ndjson --runs 3
fi
