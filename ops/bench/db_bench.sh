#!/usr/bin/env bash
# Reference for ChatFlow's durable-append target (SPEC §6): RocksDB's own db_bench
#   fillseq --sync=1 --batch_size=64 --key_size=16 --value_size=200
# i.e. one thread writing pre-made 64-key batches, one WAL fsync per batch.
# Run it on the same disk as the ChatFlow data, back to back with
#   chatflow bench append --events 200000 --producers 64
#
# usage: ops/bench/db_bench.sh [--dir DIR] [--num N] [--runs R] [--json] [-- extra db_bench flags]
#   --dir DIR   where to create the temporary database (a fresh subdirectory, removed
#               afterwards). Default: $DB_BENCH_DIR, else the repository's .build/, else
#               $TMPDIR, else /tmp. Point it at the data directory's filesystem.
#   --num N     keys to write (default 300000)
#   --runs R    run R times, report each and the best (default 1)
#   --json      print one JSON object on stdout (progress goes to stderr)
# Installs Debian's rocksdb-tools (db_bench) when missing.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${DB_BENCH_DIR:-}
num=300000
runs=1
json=0
extra=()

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
    case $1 in
        --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
        --dir=*) dir=${1#--dir=}; shift ;;
        --num) num=${2:?--num needs a number}; shift 2 ;;
        --num=*) num=${1#--num=}; shift ;;
        --runs) runs=${2:?--runs needs a number}; shift 2 ;;
        --runs=*) runs=${1#--runs=}; shift ;;
        --json) json=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "db_bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ $num =~ ^[0-9]+$ && $num -gt 0 ]] || { echo "db_bench.sh: --num must be a positive whole number" >&2; exit 2; }
[[ $runs =~ ^[0-9]+$ && $runs -gt 0 ]] || { echo "db_bench.sh: --runs must be a positive whole number" >&2; exit 2; }

log() { echo "$@" >&2; }

if ! command -v db_bench >/dev/null 2>&1; then
    log "db_bench not found: installing rocksdb-tools"
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rocksdb-tools >&2
fi

if [[ -z $dir ]]; then
    if [[ -d $repo/.build ]]; then dir=$repo/.build; else dir=${TMPDIR:-/tmp}; fi
fi
mkdir -p "$dir"
work=$(mktemp -d "$dir/db_bench.XXXXXX")
pid=""
cleanup() {
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

version=$(db_bench --version 2>/dev/null | awk '/version/ {print $NF; exit}' || true)
fs=$(df -P "$work" | awk 'NR==2 {print $1 " mounted on " $6}')
log "db_bench ${version:-?}: fillseq --sync=1 --batch_size=64 --key_size=16 --value_size=200 --num=$num"
log "database in $work ($fs)"

results=()
for ((run = 1; run <= runs; run++)); do
    rm -rf "$work/db"
    # In the background so that a signal to this script stops db_bench too (cleanup).
    db_bench --benchmarks=fillseq --sync=1 --batch_size=64 --key_size=16 --value_size=200 \
        --num="$num" --threads=1 --db="$work/db" --wal_dir="$work/db" "${extra[@]}" >"$work/out" 2>&1 &
    pid=$!
    status=0; wait "$pid" || status=$?
    pid=""
    out=$(<"$work/out")
    [[ $status -eq 0 ]] || { log "$out"; log "db_bench failed (exit $status)"; exit 1; }
    # fillseq      :       7.667 micros/op 130431 ops/sec 2.300 seconds 300000 operations;   28.4 MB/s
    line=$(grep -E '^fillseq[[:space:]]+:' <<<"$out" | tail -1)
    ops=$(awk '{for (i = 1; i <= NF; i++) if ($i == "ops/sec") print $(i-1)}' <<<"$line")
    micros=$(awk '{for (i = 1; i <= NF; i++) if ($i == "micros/op") print $(i-1)}' <<<"$line")
    [[ -n $ops ]] || { log "$out"; log "could not find the fillseq result line"; exit 1; }
    results+=("$ops")
    log "run $run/$runs: $ops ops/s ($micros µs/op, $(( ops / 64 )) fsyncs/s)"
done

best=$(printf '%s\n' "${results[@]}" | sort -n | tail -1)
if [[ $json -eq 1 ]]; then
    printf '{"benchmark":"db_bench fillseq","db_bench_version":"%s","sync":true,"batch_size":64,"key_size":16,"value_size":200,"num":%s,"runs":[%s],"ops_per_sec":%s,"dir":"%s","filesystem":"%s","date":"%s"}\n' \
        "${version:-unknown}" "$num" "$(IFS=,; echo "${results[*]}")" "$best" "$dir" "$fs" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
else
    echo "db_bench fillseq --sync=1 --batch_size=64: $best ops/s$( [[ $runs -gt 1 ]] && echo " (best of $runs: ${results[*]})")"
fi
