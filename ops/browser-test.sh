#!/usr/bin/env bash
# Runs the web client's browser tests (Tests/Browser): two headless Chromium sessions, as
# alice and bob, against a real `chatflow serve` on a free loopback port with a fresh data
# directory. Screenshots go to .build/screenshots/ (desktop and phone are also copied to
# Tests/Browser/screenshots/ for the README).
#
#   ops/browser-test.sh                  # uses .build/debug/chatflow (run `swift build` first)
#   CHATFLOW_BINARY=/path/to/chatflow ops/browser-test.sh -k reaction   # extra args go to pytest
#
# Needs Debian's chromium and chromium-driver (installed by ops/install-deps.sh) and Python 3
# with venv; the Python packages go into .build/browser-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
export PATH="$PATH:/opt/swift/usr/bin"

# MARK: - Dependencies

# install-deps.sh installs the apt packages first and then insists on a Swift toolchain; a
# prebuilt binary needs none, so only the browser tools are required here.
if ! ./ops/install-deps.sh --test; then
    echo "note: ops/install-deps.sh failed; continuing with what is installed" >&2
fi
for tool in chromium chromedriver curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is missing (apt-get install chromium chromium-driver curl)" >&2
        exit 1
    fi
done

binary="${CHATFLOW_BINARY:-.build/debug/chatflow}"
if [[ ! -x "$binary" ]]; then
    echo "error: no chatflow binary at $binary; run 'swift build' or set CHATFLOW_BINARY" >&2
    exit 1
fi
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    if [[ -x /usr/bin/python3 ]]; then python=/usr/bin/python3; else python=python3; fi
fi
venv="$repo/.build/browser-venv"
requirements="$repo/Tests/Browser/requirements.txt"
stamp="$venv/.requirements.sha256"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating $venv"
    "$python" -m venv "$venv"
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
    echo "installing Python packages from Tests/Browser/requirements.txt"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" >"$stamp"
fi

# MARK: - Server

data="$(mktemp -d "${TMPDIR:-/tmp}/chatflow-browser.XXXXXX")"
log="$repo/.build/browser-test-server.log"
mkdir -p "$repo/.build/screenshots"
server=""

cleanup() {
    local status=$?
    if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$data"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The tests mint nothing themselves: the server makes its own secret in the fresh data dir.
unset CHATFLOW_JWT_SECRET CHATFLOW_JWT_ISSUER CHATFLOW_JWT_AUDIENCE CHATFLOW_DATA_DIR CHATFLOW_PUBLIC_DIR
export CHATFLOW_RATE_LIMIT=0
# Small, so that a test can put a quiet chat further behind than the server replays.
export CHATFLOW_WS_REPLAY_LIMIT=60

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A port found free can be taken before the server binds it; then try another.
started=""
for _ in 1 2 3; do
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    # The same server under another host name is another origin: test_cross_origin.py
    # loads its pages from there and calls the API at $url, as a client hosted elsewhere.
    export CHATFLOW_CORS_ORIGINS="http://localhost:$port"
    "$binary" serve --data-dir "$data" --host 127.0.0.1 --port "$port" \
        --public-dir "$repo/Sources/ChatFlowServer/Web" >"$log" 2>&1 &
    server=$!
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        if curl -fsS "$url/healthz" >/dev/null 2>&1; then started=yes; break; fi
        if ! kill -0 "$server" 2>/dev/null; then break; fi
        sleep 0.2
    done
    [[ -n "$started" ]] && break
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
done
if [[ -z "$started" ]]; then
    echo "error: chatflow serve did not become healthy; its log:" >&2
    tail -n 40 "$log" >&2
    exit 1
fi
# Healthy, then ready (projections caught up), within the same kind of deadline.
deadline=$((SECONDS + 30))
until curl -fsS "$url/readyz" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then echo "error: $url/readyz never answered 200" >&2; exit 1; fi
    sleep 0.2
done

export CHATFLOW_URL="$url"
CHATFLOW_TOKEN_ALICE="$("$binary" token --data-dir "$data" --user alice --ttl 2h)"
CHATFLOW_TOKEN_BOB="$("$binary" token --data-dir "$data" --user bob --ttl 2h)"
export CHATFLOW_TOKEN_ALICE CHATFLOW_TOKEN_BOB
export CHATFLOW_SCREENSHOTS="$repo/.build/screenshots"
export PYTHONDONTWRITEBYTECODE=1

# MARK: - Tests

echo "server: $url (data in $data, log in ${log#"$repo"/})"
status=0
"$venv/bin/python" -m pytest "$repo/Tests/Browser" "$@" || status=$?
if ((status != 0)); then
    echo "browser tests failed; failure screenshots and console logs: .build/screenshots/failures/" >&2
    echo "last lines of the server log:" >&2
    tail -n 20 "$log" >&2
fi
exit "$status"
