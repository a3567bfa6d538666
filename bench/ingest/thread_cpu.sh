#!/bin/bash
# Per-thread CPU of the server over one ingest run: starts BIN on a fresh data dir, runs
# ingest.js against it (1 connection unless a third argument says otherwise), then prints each
# server thread's CPU seconds (utime + stime) and minor page faults from /proc, and the total.
# The applier of a one-connection load is the busiest MHD-worker thread; the refresher (seals)
# and the merger are the kiln threads after the two node workers.
#   bench/ingest/thread_cpu.sh build/kiln 200000 [connections]
set -e
BIN=$1; N=$2; C=${3:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/kiln-thread-cpu.XXXXXX)
"$BIN" --port 0 --port-file "$D.port" --data "$D" --log-level warn &
SP=$!
while [ ! -s "$D.port" ]; do sleep 0.1; done
node "$HERE/ingest.js" --url "http://127.0.0.1:$(cat "$D.port")" --pid $SP --n "$N" --batch 2000 \
     --connections "$C" | grep '^| [0-9]'
TCK=$(getconf CLK_TCK)
for t in /proc/$SP/task/*; do
    read -r line < "$t/stat"
    set -- $(echo "$line" | sed 's/.*) //') # fields from 3 (state) on: minflt is 10, utime 14
    echo "$(basename "$t") $(cat "$t/comm") $((${12} + ${13})) ${8}"
done | awk -v tck="$TCK" '$3 > 0 { printf "thread %s %-12s %6.2f s CPU %8d minor faults\n", $1, $2, $3 / tck, $4; t += $3 }
                          END { printf "total %.2f s CPU\n", t / tck }'
kill $SP
wait $SP 2>/dev/null || true
rm -rf "$D" "$D.port"
