#!/usr/bin/env bash
# Installs the system packages ChatFlow builds and tests against, if any is missing.
# Safe to run repeatedly; waits for another apt/dpkg run to finish instead of failing.
set -euo pipefail

# What building and running the server needs; with --test, also what the test suite
# needs (db_bench for the append reference, a browser and Python for the web client's tests).
packages=(librocksdb-dev libsnappy-dev pkg-config curl ca-certificates)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(rocksdb-tools chromium chromium-driver fonts-noto-color-emoji python3-venv python3-pip)
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "error: installing packages needs root: run this as root, or install sudo, or install them yourself: ${missing[*]}" >&2
            exit 1
        fi
        sudo_cmd=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
    "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        echo "note: swift is at /opt/swift/usr/bin; add it to PATH" >&2
    else
        echo "error: the Swift 6.3 toolchain is required (swift not found on PATH)" >&2
        exit 1
    fi
fi
