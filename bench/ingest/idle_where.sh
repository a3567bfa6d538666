#!/bin/bash
# Where the CPUs go idle during an ingest (a load is CPU-bound only if they do not): starts BIN
# on a fresh data dir, runs ingest.js with CONNS connections, records sched_switch on all CPUs
# with user stacks for SECONDS once the load is AFTER seconds in, and prints idle_where.py's
# table. User stacks are unwound with DWARF (perf's default frame pointers stop at glibc).
#   bench/ingest/idle_where.sh build/kiln 1000000 2 [AFTER=12] [SECONDS=3]
set -e
BIN=$1; N=$2; C=${3:-2}; AFTER=${4:-12}; SECS=${5:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/kiln-idle.XXXXXX)
"$BIN" --port 0 --port-file "$D.port" --data "$D" --log-level warn &
SP=$!
while [ ! -s "$D.port" ]; do sleep 0.1; done
(sleep "$AFTER"; perf record -q -a -e sched:sched_switch --call-graph dwarf,8192 -o "$D.perf" \
    -- sleep "$SECS" > /dev/null 2>&1) &
RP=$!
node "$HERE/ingest.js" --url "http://127.0.0.1:$(cat "$D.port")" --pid $SP --n "$N" --batch 2000 \
     --connections "$C" | grep '^| [0-9]'
wait $RP
kill $SP
wait $SP 2>/dev/null || true
perf script -F comm,tid,cpu,time,trace,ip,sym -i "$D.perf" 2>/dev/null | python3 "$HERE/idle_where.py"
rm -rf "$D" "$D.port" "$D.perf"
