#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite: the Swift tests, then
# the web client's browser tests against the built server.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"

./ops/install-deps.sh --test

swift build --build-tests
# The crash, serve and load tests drive the real `chatflow` binary as a child process.
export CHATFLOW_BINARY="$(swift build --show-bin-path)/chatflow"
# One test at a time: many tests start a real server, and on a 2-core machine the other
# tests' synchronous RocksDB work would hold the few threads of the task pool their server
# needs (an upgrade once waited over 10 s). Serial takes ~85 s here instead of ~45 s.
swift test --skip-build --no-parallel "$@"
./ops/browser-test.sh
