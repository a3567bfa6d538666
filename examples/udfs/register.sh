#!/bin/sh
# Registers a UDF from its manifest: reads udf.json, embeds the module it names ("wasm", a
# path relative to the manifest) as base64 and PUTs it to /_udf/{name}/{version}.
#
#   examples/udfs/register.sh build/udfs/string_distance/udf.json [http://127.0.0.1:9200]
#
# KILN_URL sets the server when no second argument is given; KILN_API_KEY, when set, is sent
# as `Authorization: ApiKey ...` (servers started with --api-key). Needs jq, base64, curl.
set -eu
manifest=${1:?usage: register.sh path/to/udf.json [server-url]}
url=${2:-${KILN_URL:-http://127.0.0.1:9200}}
dir=$(dirname "$manifest")
name=$(jq -er .name "$manifest")
version=$(jq -er .version "$manifest")
module="$dir/$(jq -er .wasm "$manifest")"
[ -f "$module" ] || { echo "register.sh: $module not found (build it first: make kiln_udfs)" >&2; exit 1; }
b64=$(mktemp)
trap 'rm -f "$b64"' EXIT
base64 -w0 "$module" > "$b64"
set -- -sS -XPUT "$url/_udf/$name/$version" -H 'Content-Type: application/json'
if [ -n "${KILN_API_KEY:-}" ]; then
  set -- "$@" -H "Authorization: ApiKey $KILN_API_KEY"
fi
jq --rawfile b64 "$b64" '.wasm = $b64' "$manifest" | curl "$@" --data-binary @-
echo
