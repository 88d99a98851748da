#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite: the Swift tests, then
# the web client's browser tests against the built server.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"

./ops/install-deps.sh

swift build --build-tests
# The crash, serve and load tests drive the real `chatflow` binary as a child process.
export CHATFLOW_BINARY="$(swift build --show-bin-path)/chatflow"
swift test --skip-build "$@"
./ops/browser-test.sh
