#!/bin/sh
# Alternating ingest runs of several server binaries: the only fair comparison on a machine
# whose speed drifts between minutes (this VM's: ±15%). Each round runs every binary once, in
# order, on a fresh server and data dir; prints docs/s and the server's CPU seconds per run.
#   bench/ingest/alternate.sh N CONNS label:binary [label:binary ...]    (ROUNDS=3 by default)
# e.g. ROUNDS=3 bench/ingest/alternate.sh 1000000 2 old:/tmp/kiln-old new:build/kiln
set -e
N=$1; C=$2; shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
echo "label | connections | seconds | docs/s | server CPU s"
for i in $(seq "${ROUNDS:-3}"); do
  for spec in "$@"; do
    label=${spec%%:*}; bin=${spec#*:}
    row=$(node "$HERE/ingest.js" --bin "$bin" --n "$N" --batch 2000 --connections "$C" 2>/dev/null |
          grep '^| [0-9]' | cut -d'|' -f2-4,8)
    echo "$label |$row"
  done
done
