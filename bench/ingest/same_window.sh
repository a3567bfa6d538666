#!/bin/bash
# A/B on a shared, noisy machine: two builds ingest N documents at the same time (each its own
# server and client), so both see the same load; prints thread_cpu.sh's output for each.
#   bench/ingest/same_window.sh /tmp/before/build/kiln build/kiln 400000
set -e
A=$1; B=$2; N=$3
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d /tmp/kiln-same-window.XXXXXX)
echo "start $(date -u +%FT%TZ), load$(uptime | sed 's/.*average//')"
"$HERE/thread_cpu.sh" "$A" "$N" > "$OUT/a" 2>&1 &
P=$!
# B starts once A's client has the dataset: two clients must not both generate its cache file
F="$HERE/../out/products-$N-42.docs.ndjson"
while [ ! -f "$F" ]; do sleep 1; done
"$HERE/thread_cpu.sh" "$B" "$N" > "$OUT/b" 2>&1
wait $P
echo "end $(date -u +%FT%TZ), load$(uptime | sed 's/.*average//')"
echo "== A: $A"; cat "$OUT/a"
echo "== B: $B"; cat "$OUT/b"
rm -rf "$OUT"
