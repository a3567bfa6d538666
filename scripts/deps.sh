#!/bin/sh
# Installs what Kiln needs on Debian 12, only when something is missing.
# Package list with reasons: docs/dependencies.md.
set -e
PKGS="build-essential cmake pkg-config clang lld
libmicrohttpd-dev libjansson-dev libroaring-dev libutf8proc-dev libstemmer-dev
libzstd-dev liblz4-dev libxxhash-dev wabt tcc libtcc-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js may come from elsewhere than Debian (e.g. a newer build): only its commands matter.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "deps: installing$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
# JavaScript test tools (OpenSearch client, YAML, JSON Schema), pinned by package-lock.json.
if [ -f package.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
