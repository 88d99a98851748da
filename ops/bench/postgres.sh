#!/usr/bin/env bash
# Reference for ChatFlow's "messages posted" target (SPEC §6): PostgreSQL 15 inserting the
# same message rows, durably (fsync=on, synchronous_commit=on: a commit returns after its
# WAL is fsync'd, as a ChatFlow append does), into a table with a timeline index, a
# per-user index and a full-text GIN index. pgbench drives single-row INSERT transactions
# at several client counts; the figure is committed inserts per second.
#
# usage: ops/bench/postgres.sh [--duration S] [--clients "1 8 32"] [--preload N] [--dir DIR] [--json]
#   --duration S   seconds per client count (default 20; $PG_BENCH_DURATION)
#   --clients L    client counts to run, space or comma separated (default "1 8 32")
#   --preload N    rows inserted before measuring, so the indexes are not empty (default 100000)
#   --dir DIR      where the temporary cluster goes (a fresh subdirectory, removed on exit).
#                  Default: $PG_BENCH_DIR, else the repository's .build/, else $TMPDIR, else
#                  /tmp. Put it on the ChatFlow data directory's disk.
#   --json         print one JSON object on stdout (progress goes to stderr)
#
# Installs Debian's postgresql-15 when missing. The cluster listens on a Unix socket in the
# temporary directory only (no TCP), so it cannot clash with a system cluster. As root,
# PostgreSQL runs as the `postgres` system user (created when missing).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
duration=${PG_BENCH_DURATION:-20}
clients_list="1 8 32"
preload=100000
dir=${PG_BENCH_DIR:-}
json=0
chats=1000          # chats the messages are spread over
members=8           # authors per chat: user ids u<chat>-<0..7>, as chatflow bench's workload
pool=1024           # distinct message texts, drawn up front as chatflow's workload does

usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
    case $1 in
        --duration) duration=${2:?}; shift 2 ;;
        --duration=*) duration=${1#*=}; shift ;;
        --clients) clients_list=${2:?}; shift 2 ;;
        --clients=*) clients_list=${1#*=}; shift ;;
        --preload) preload=${2:?}; shift 2 ;;
        --preload=*) preload=${1#*=}; shift ;;
        --dir) dir=${2:?}; shift 2 ;;
        --dir=*) dir=${1#*=}; shift ;;
        --json) json=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "postgres.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
clients_list=${clients_list//,/ }
[[ $duration =~ ^[0-9]+$ && $duration -gt 0 ]] || { echo "postgres.sh: --duration must be a positive whole number of seconds" >&2; exit 2; }
[[ $preload =~ ^[0-9]+$ ]] || { echo "postgres.sh: --preload must be a whole number" >&2; exit 2; }
for c in $clients_list; do
    [[ $c =~ ^[0-9]+$ && $c -gt 0 && $c -le 200 ]] || { echo "postgres.sh: client counts must be 1-200 (got '$c')" >&2; exit 2; }
done

log() { echo "$@" >&2; }
sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"

bin=/usr/lib/postgresql/15/bin
if [[ ! -x $bin/initdb || ! -x $bin/pgbench ]]; then
    log "PostgreSQL 15 not found: installing postgresql-15"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 >&2
fi

# PostgreSQL refuses to run as root: use the postgres system user then.
if [[ $(id -u) -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
    fi
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

if [[ -z $dir ]]; then
    if [[ -d $repo/.build ]]; then dir=$repo/.build; else dir=${TMPDIR:-/tmp}; fi
fi
mkdir -p "$dir"
work=$(mktemp -d "$dir/pgbench.XXXXXX")
pgdata=$work/data
sock=$work/sock
port=5432   # only names the socket file inside $sock; nothing listens on TCP
pid=""

cleanup() {
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [[ -f $pgdata/postmaster.pid ]]; then
        as_pg "$bin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$sock"
[[ $(id -u) -ne 0 ]] || chown -R postgres:postgres "$work"
as_pg test -w "$work" || { log "postgres.sh: the postgres user cannot write to $work (a parent directory is not searchable?); use --dir"; exit 1; }

fs=$(df -P "$work" | awk 'NR==2 {print $1 " mounted on " $6}')
version=$("$bin/postgres" --version | awk '{print $3}')
log "PostgreSQL $version, cluster in $work ($fs)"

as_pg "$bin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >>"$pgdata/postgresql.conf" <<CONF
# postgres.sh: Unix socket only, durable commits, no checkpoint inside a measured run.
listen_addresses = ''
unix_socket_directories = '$sock'
port = $port
max_connections = 250
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 512MB
wal_buffers = 16MB
max_wal_size = 8GB
checkpoint_timeout = 30min
CONF
as_pg "$bin/pg_ctl" -D "$pgdata" -l "$work/postgres.log" -w -t 60 start >/dev/null

psql() { as_pg "$bin/psql" -h "$sock" -p "$port" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

# Message texts: the vocabulary and skew of Sources/ChatFlowCore/Workload/Vocabulary.swift
# (one word in twenty from the rare list, the common list skewed to its head), 100-200 bytes.
common="the to and a i you it is that of in for on we this be have are can just do not with
so but at was what it's me my if will all about get up out no there yes like they
ok okay know think now going one can't don't thanks sure time good today see here
would let's when how then should need did got back tomorrow meeting call later need
please could work check great new make still also want maybe really right after been
more some any look build deploy review issue fixed test tests release branch merge
main server client api latency cache queue database index query log logs error
errors crash restart config prod staging metrics dashboard alert page ticket sprint
standup lunch coffee weekend monday friday morning afternoon tonight soon done
working blocked ready shipped rollback hotfix patch version update upgrade docs
design spec draft feedback plan estimate team customer support question answer
thread channel message reply link file image screenshot video slides notes agenda"
rare="café résumé naïve façade jalapeño über coöperate déjà São Zürich Kraków Ærøskøbing
kubernetes terraform grafana prometheus rocksdb postgres hummingbird websocket
p99 throughput backpressure idempotency compaction tombstone snapshot checkpoint
PLT-3699 OPS-142 INC-2071 SEC-88 https://status.example.com/incidents/42
https://github.com/example/repo/pull/1187 v2.14.3 10.0.3.17 2026-11-25"
awk -v pool="$pool" -v common="$common" -v rare="$rare" 'BEGIN {
    srand(20261125)
    nc = split(common, c, /[ \n]+/); nr = split(rare, r, /[ \n]+/)
    for (i = 1; i <= pool; i++) {
        target = 100 + int(rand() * 101); text = ""
        while (length(text) < target) {
            if (int(rand() * 20) == 0) w = r[1 + int(rand() * nr)]
            else { a = int(rand() * nc); b = int(rand() * nc); w = c[1 + (a < b ? a : b)] }
            text = (text == "" ? w : text " " w)
        }
        print i "\t" text
    }
}' >"$work/contents.tsv"
chmod 0644 "$work/contents.tsv"

psql <<SQL
CREATE TABLE contents (id int PRIMARY KEY, content text NOT NULL);
\copy contents FROM '$work/contents.tsv'
-- The row of a ChatFlow Message. id is time-ordered, like a ULID.
CREATE TABLE messages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id      bigint NOT NULL,
    user_id      text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    content      text NOT NULL,
    message_type text NOT NULL DEFAULT 'text',
    edited_at    timestamptz,
    deleted      boolean NOT NULL DEFAULT false
);
CREATE INDEX messages_timeline ON messages (chat_id, created_at, id);
CREATE INDEX messages_user ON messages (user_id, created_at);
CREATE INDEX messages_search ON messages USING gin (to_tsvector('simple', content));
INSERT INTO messages (chat_id, user_id, created_at, content)
SELECT ch, 'u' || ch || '-' || (g % $members), now() - interval '1 second' * ($preload - g),
       (SELECT content FROM contents WHERE id = 1 + (g::bigint * 7919) % $pool)
FROM generate_series(1, $preload) AS g, LATERAL (SELECT 1 + (g::bigint * 104729) % $chats AS ch) AS x;
VACUUM ANALYZE;
CHECKPOINT;
SQL
avg=$(psql -Atc "SELECT round(avg(octet_length(content))) FROM contents")
log "messages table: $preload rows preloaded, contents ${avg} bytes on average; $duration s per client count"

cat >"$work/insert.sql" <<'PGB'
\set chat random(1, :chats)
\set member random(0, :members - 1)
\set c random(1, :pool)
INSERT INTO messages (chat_id, user_id, content) SELECT :chat, 'u' || :chat || '-' || :member, content FROM contents WHERE id = :c;
PGB
chmod 0644 "$work/insert.sql"

cores=$(nproc)
results=()
best_clients=0; best_rate=0
for clients in $clients_list; do
    threads=$(( clients < cores ? clients : cores ))
    before=$(psql -Atc "SELECT count(*) FROM messages")
    as_pg "$bin/pgbench" -h "$sock" -p "$port" -U postgres -n -M prepared -c "$clients" -j "$threads" \
        -T "$duration" -D chats="$chats" -D members="$members" -D pool="$pool" -f "$work/insert.sql" postgres \
        >"$work/pgbench.out" 2>&1 &
    pid=$!
    status=0; wait "$pid" || status=$?
    pid=""
    [[ $status -eq 0 ]] || { cat "$work/pgbench.out" >&2; log "pgbench failed (exit $status)"; exit 1; }
    after=$(psql -Atc "SELECT count(*) FROM messages")
    # tps = 2745.123456 (without initial connection time)
    rate=$(awk '/^tps = / {printf "%.0f", $3}' "$work/pgbench.out")
    latency=$(awk '/^latency average = / {print $4}' "$work/pgbench.out")
    failed=$(awk '/^number of failed transactions: / {print $5}' "$work/pgbench.out")
    [[ -n $rate ]] || { cat "$work/pgbench.out" >&2; log "could not read pgbench's tps"; exit 1; }
    log "$clients clients: $rate inserts/s (latency avg ${latency} ms, $(( after - before )) rows added, ${failed:-0} failed)"
    results+=("{\"clients\":$clients,\"inserts_per_sec\":$rate,\"latency_avg_ms\":${latency:-null},\"rows_added\":$(( after - before ))}")
    if (( rate > best_rate )); then best_rate=$rate; best_clients=$clients; fi
    psql -c "CHECKPOINT"
done

if [[ $json -eq 1 ]]; then
    printf '{"benchmark":"postgresql durable inserts","postgres_version":"%s","fsync":"on","synchronous_commit":"on","indexes":["primary key (id)","timeline (chat_id, created_at, id)","user (user_id, created_at)","gin to_tsvector(simple, content)"],"duration_s":%s,"preload_rows":%s,"content_bytes_avg":%s,"results":[%s],"best":{"clients":%s,"inserts_per_sec":%s},"dir":"%s","filesystem":"%s","date":"%s"}\n' \
        "$version" "$duration" "$preload" "$avg" "$(IFS=,; echo "${results[*]}")" "$best_clients" "$best_rate" \
        "$dir" "$fs" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
else
    echo "PostgreSQL $version durable inserts (timeline, user and full-text indexes), $duration s each:"
    for r in "${results[@]}"; do
        sed -E 's/.*"clients":([0-9]+),"inserts_per_sec":([0-9]+).*/  \1 clients: \2 inserts\/s/' <<<"$r"
    done
    echo "best: $best_rate inserts/s at $best_clients clients"
fi
