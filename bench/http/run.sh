#!/bin/sh
# GET / over loopback with keep-alive, 1 and 2 client connections, against build/kiln.
# usage: bench/http/run.sh [BUILD_DIR] [SECONDS]
set -eu
BUILD=${1:-build}
SECS=${2:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$OUT"' EXIT
cc -O2 -Wall -pthread -D_GNU_SOURCE -o "$OUT/bench_http" "$ROOT/bench/http/bench_http.c"
"$ROOT/$BUILD/kiln" --port 0 --port-file "$OUT/port" --data "$OUT/data" --log-level warn &
PID=$!
i=0
while [ ! -s "$OUT/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(cat "$OUT/port")
echo "kiln pid $PID on port $PORT, $(nproc) cores"
for c in 1 2; do "$OUT/bench_http" "$PORT" "$c" "$SECS" /; done
