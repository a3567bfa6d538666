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
# Real prose: the licence texts Debian ships, one paragraph per line (0.3 MB, repeated 8 times
# so a pass lasts long enough to time).
if [ ! -s "$OUT/licenses-paragraphs.txt" ] && [ -d /usr/share/common-licenses ]; then
  for i in 1 2 3 4 5 6 7 8; do
    for f in /usr/share/common-licenses/*; do [ -f "$f" ] && cat "$f"; done
  done | awk 'NF { p = p (p == "" ? "" : " ") $0; next } { if (p != "") print p; p = "" }
              END { if (p != "") print p }' > "$OUT/licenses-paragraphs.txt"
fi
FILES=""
for f in "$OUT/debian-descriptions.txt" "$OUT/licenses-paragraphs.txt"; do
  [ -s "$f" ] && FILES="$FILES $f"
done
"$BIN" --mb 4 $FILES
