#!/usr/bin/env bash
# Installs what is missing, builds in release mode and starts ChatFlow on the embedded
# RocksDB store, printing the URL and a ready-to-use token. Ctrl-C stops it cleanly.
#
# Settings come from the environment (see ops/chatflow.env.example): CHATFLOW_DATA_DIR
# (default ./data), CHATFLOW_HOST (127.0.0.1), CHATFLOW_PORT (8080), CHATFLOW_JWT_SECRET, ...
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"

./ops/install-deps.sh

echo "building (release)..."
swift build -c release --product chatflow
binary="$(swift build -c release --show-bin-path)/chatflow"

export CHATFLOW_DATA_DIR="${CHATFLOW_DATA_DIR:-./data}"
host="${CHATFLOW_HOST:-127.0.0.1}"
port="${CHATFLOW_PORT:-8080}"
[[ -d public ]] && export CHATFLOW_PUBLIC_DIR="${CHATFLOW_PUBLIC_DIR:-$PWD/public}"

"$binary" serve &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM

# Wait for the server to answer before printing how to reach it.
up=""
for _ in $(seq 1 300); do
    if curl -fsS "http://$host:$port/healthz" >/dev/null 2>&1; then up=1; break; fi
    if ! kill -0 $server 2>/dev/null; then wait $server; exit $?; fi
    sleep 0.1
done
if [[ -z "$up" ]]; then
    echo "error: the server did not answer on http://$host:$port/healthz within 30 s; see its log above" >&2
    kill -TERM $server 2>/dev/null; wait $server
    exit 1
fi

token="$("$binary" token --user alice --ttl 7d)"
cat <<INFO

ChatFlow is running at http://$host:$port  (data in $CHATFLOW_DATA_DIR)

  token for user 'alice' (7 days):
    $token

  try:
    curl -s -X POST http://$host:$port/chats -H "Authorization: Bearer $token" \\
         -H 'Content-Type: application/json' -d '{"name":"general","isPrivate":false}'
    more tokens:  $binary token --user bob
    API:          http://$host:$port/openapi.yaml

Press Ctrl-C to stop.
INFO
wait $server
