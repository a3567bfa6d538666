#!/bin/sh
# Analysis throughput on generated product text and on real Debian package descriptions.
#   sh bench/analysis/run.sh [BUILD_DIR]     (default: build, a non-sanitized build)
set -e
BUILD=${1:-build}
OUT=bench/out
mkdir -p "$OUT"
cmake --build "$BUILD" --target bench_analysis -j2 >/dev/null
BIN=$(find "$BUILD" -name bench_analysis -type f -perm -u+x | head -1)
# Real text: every package description, one per line (about 35 MB on Debian 12 main).
if [ ! -s "$OUT/debian-descriptions.txt" ] && command -v apt-cache >/dev/null; then
  apt-cache dumpavail | awk '
    /^Description:/ { if (d != "") print d; d = substr($0, 14); next }
    /^ / && d != "" { d = d " " substr($0, 2); next }
    /^$/ { if (d != "") print d; d = "" }
    END { if (d != "") print d }' > "$OUT/debian-descriptions.txt"
fi
if [ -s "$OUT/debian-descriptions.txt" ]; then
  "$BIN" --mb 4 "$OUT/debian-descriptions.txt"
else
  "$BIN" --mb 4
fi
