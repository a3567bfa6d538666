#!/bin/bash
# The kiln binary: --version/--help, a bad flag, config file + flags, serving GET / on a free
# port, and a clean exit (status 0) on SIGTERM.  usage: test_main.sh path/to/kiln
set -u
KILN=$1
T=$(mktemp -d)
PID=
fail() { echo "FAIL: $*"; cat "$T/log" 2>/dev/null; [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; exit 1; }

"$KILN" --version | grep -q '^kiln ' || fail "--version"
"$KILN" serve --help | grep -q -- '--max-body' || fail "--help"
"$KILN" --port nope >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad flag must exit 2"

printf 'port: 1\nlog-level: debug\nmax_body: 1kb\n' >"$T/conf"
"$KILN" serve --config "$T/conf" --port 0 --port-file "$T/port" --data "$T/data" 2>"$T/log" &
PID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
PORT=$(cat "$T/port" 2>/dev/null) || fail "no port file"
[ "$PORT" -gt 1 ] || fail "port $PORT"

exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect"
printf 'GET /?pretty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
RESP=$(cat <&3)
exec 3<&-
echo "$RESP" | head -1 | grep -q '200' || fail "GET / status: $RESP"
echo "$RESP" | grep -q '"number" : "2.11.0"' || fail "GET / body: $RESP"

exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect"
printf 'POST /x/_doc HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n' >&3
RESP=$(cat <&3)
exec 3<&-
echo "$RESP" | head -1 | grep -q '413' || fail "max_body from the config file: $RESP"

kill -TERM "$PID"
wait "$PID"
RC=$?
PID=
[ $RC -eq 0 ] || fail "exit status $RC after SIGTERM"
grep -q 'INFO  \[main\] stopped' "$T/log" || fail "no 'stopped' log line"
grep -q 'DEBUG \[http\] GET /?pretty -> 200' "$T/log" || fail "log level from the config file"
rm -rf "$T"
echo "ok"
