# sync_lib.sh - shared harness for the sync end-to-end tests (sourced by tests/integration/sync_*.sh):
# a real etude-syncd on a free loopback port with a fresh database, "devices" as separate
# $ETUDE_HOME directories driven through the real `etude` command, and a cleanup trap that kills
# every process the test started, whatever happens.
# Needs: ETUDE_BIN (etude), ETUDE_SYNCD (etude-syncd), ETUDE_TESTS_DIR; sqlite3 and node on PATH.
#
# ETUDE_SYNC_TOPOLOGY picks the server side (unset: one etude-syncd on a SQLite file):
#   two      two etude-syncd processes on one PostgreSQL database (a fresh one of the cluster that
#            tests/support/pg_harness.sh started: run the script as `sh pg_harness.sh run bash
#            SCRIPT`); devices are spread over them by name: a, c, e... use process 1, b, d...
#            process 2 (device_url).
#   haproxy  the same two processes behind Debian's haproxy, run with the very docs/haproxy.cfg;
#            every device uses haproxy's port. start_server returns once haproxy's health checks
#            see both processes up.
# sq (the server's SQL) then runs on PostgreSQL through psql; stop_server kills every etude-syncd
# (haproxy stays: the server is gone behind it), and start_server starts them again on their ports.
set -u

: "${ETUDE_BIN:?set ETUDE_BIN}" "${ETUDE_SYNCD:?set ETUDE_SYNCD}" "${ETUDE_TESTS_DIR:?set ETUDE_TESTS_DIR}"
T=$(mktemp -d "${TMPDIR:-/tmp}/etude-sync-test-XXXXXX")
PIDS=""
PASSWORD="correct horse $$"

TOPOLOGY=${ETUDE_SYNC_TOPOLOGY:-}
case "$TOPOLOGY" in
"" | single) TOPOLOGY= ;;
two | haproxy)
    [ -n "${ETUDE_PG_HOST:-}" ] && [ -n "${ETUDE_PG_PORT:-}" ] ||
        { echo "FAIL: ETUDE_SYNC_TOPOLOGY=$TOPOLOGY needs the PostgreSQL of tests/support/pg_harness.sh run" >&2; exit 1; }
    # shellcheck disable=SC2034 # both read by pg_harness.sh (sourced mode; syncd_sql's backend)
    ETUDE_PG_SOURCED=1
    . "$ETUDE_TESTS_DIR/support/pg_harness.sh"
    # shellcheck disable=SC2034
    ETUDE_SYNCD_BACKEND=postgresql
    ;;
*) echo "FAIL: ETUDE_SYNC_TOPOLOGY: unknown topology '$TOPOLOGY' (two, haproxy)" >&2; exit 1 ;;
esac

# per_process: how many /graphql requests each live etude-syncd process answered (its /metrics),
# as "graphql requests per process: N M" (sync_pg_scenarios.sh checks both served).
per_process() {
    list=
    for a in $BACKEND_ADDR $SERVER_ADDR2; do
        n=$(curl -sS --max-time 2 "http://$a/metrics" 2>/dev/null |
            awk '/^etude_syncd_http_requests_total\{path="\/graphql"/ { n += $2 } /^etude_syncd_/ { up = 1 }
                 END { print up ? n + 0 : "-" }') # "-": the process is not running
        list="$list ${n:--}"
    done
    echo "graphql requests per process:$list"
}

cleanup() {
    [ -n "$TOPOLOGY" ] && [ -n "$BACKEND_ADDR" ] && per_process
    for p in $PIDS; do
        kill -CONT "$p" 2>/dev/null
        kill -9 "$p" 2>/dev/null
    done
    for p in $PIDS; do
        wait "$p" 2>/dev/null
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $*" >&2
    [ -f "$T/syncd.log" ] && tail -5 "$T/syncd.log" >&2
    exit 1
}

say() { echo "-- $*"; }

# start_server [extra etude-syncd args...]: fresh db with users alice and bob; sets SERVER_URL,
# SERVER_PID, SERVER_ADDR. A fixed --listen may be given via LISTEN (default 127.0.0.1:0).
# Two processes: SERVER_PID/SERVER_ADDR are process 1's, SERVER_PID2/SERVER_ADDR2 process 2's (a
# second start_server reuses both ports); through haproxy, SERVER_ADDR/SERVER_URL are haproxy's.
SERVER_DB="$T/syncd.db"
SERVER_DB_MADE=
SERVER_PID='' SERVER_PID2='' SERVER_ADDR2='' HAPROXY_PID='' HAPROXY_ADDR='' HAPROXY_STATS='' BACKEND_ADDR=
add_users() {
    printf '%s\n' "$PASSWORD" | "$ETUDE_SYNCD" user add alice --password-stdin --db "$SERVER_DB" >/dev/null 2>&1 ||
        fail "etude-syncd user add"
    printf '%s\n' "other $PASSWORD" | "$ETUDE_SYNCD" user add bob --password-stdin --db "$SERVER_DB" >/dev/null 2>&1 ||
        fail "etude-syncd user add bob"
}

# launch_syncd N LISTEN [args...]: one etude-syncd process, started; sets SYNCD_PID.
# wait_syncd N PID: until it serves; sets SYNCD_ADDR.
launch_syncd() {
    n=$1 l=$2
    shift 2
    rm -f "$T/ready$n"
    "$ETUDE_SYNCD" --listen "$l" --db "$SERVER_DB" --ready-file "$T/ready$n" "$@" >>"$T/syncd.log" 2>&1 &
    SYNCD_PID=$!
    PIDS="$PIDS $SYNCD_PID"
}
wait_syncd() {
    i=0
    while [ ! -s "$T/ready$1" ]; do
        i=$((i + 1))
        kill -0 "$2" 2>/dev/null || fail "etude-syncd $1 exited at start: $(tail -3 "$T/syncd.log")"
        [ $i -gt 600 ] && fail "etude-syncd $1 did not start"
        sleep 0.05
    done
    SYNCD_ADDR=$(cat "$T/ready$1")
}
start_syncd() {
    launch_syncd "$@"
    wait_syncd "$1" "$SYNCD_PID"
}

# haproxy_backends: the status (UP, DOWN, ...) of each server of backend etude_graphql, as haproxy's
# stats page gives it in CSV ("s1 UP").
haproxy_backends() {
    curl -sS --max-time 2 "http://$HAPROXY_STATS/;csv" 2>/dev/null |
        awk -F, '$1 == "etude_graphql" && $2 != "FRONTEND" && $2 != "BACKEND" { print $2, $18 }'
}

# haproxy_wait_up [N]: until haproxy's checks see N (default 2) servers up, at most 15 s.
haproxy_wait_up() {
    i=0
    while [ "$(haproxy_backends | grep -c ' UP$')" -lt "${1:-2}" ]; do
        i=$((i + 1))
        [ $i -gt 300 ] && fail "haproxy does not see ${1:-2} backends up: $(haproxy_backends | tr '\n' ' ')"
        sleep 0.05
    done
}

# start_haproxy: docs/haproxy.cfg, as the docs show it, with addresses from the environment.
start_haproxy() {
    command -v "${HAPROXY:-/usr/sbin/haproxy}" >/dev/null || fail "no haproxy (Debian package haproxy)"
    for _ in 1 2 3; do
        # Random ports (a port taken meanwhile fails the bind, and the next try takes others).
        HAPROXY_ADDR=127.0.0.1:$((20000 + RANDOM % 20000)) HAPROXY_STATS=127.0.0.1:$((40000 + RANDOM % 20000))
        ETUDE_HAPROXY_LISTEN=$HAPROXY_ADDR ETUDE_HAPROXY_STATS=$HAPROXY_STATS \
            ETUDE_SYNCD_1=$BACKEND_ADDR ETUDE_SYNCD_2=$SERVER_ADDR2 \
            "${HAPROXY:-/usr/sbin/haproxy}" -db -f "$ETUDE_TESTS_DIR/../docs/haproxy.cfg" >>"$T/haproxy.log" 2>&1 &
        HAPROXY_PID=$!
        PIDS="$PIDS $HAPROXY_PID"
        i=0
        while ! curl -sS --max-time 1 -o /dev/null "http://$HAPROXY_STATS/" 2>/dev/null; do
            i=$((i + 1))
            kill -0 "$HAPROXY_PID" 2>/dev/null || break
            [ $i -gt 200 ] && fail "haproxy did not start: $(tail -3 "$T/haproxy.log")"
            sleep 0.05
        done
        kill -0 "$HAPROXY_PID" 2>/dev/null && return 0
        grep -q 'cannot bind\|Address already in use' "$T/haproxy.log" || break
    done
    fail "haproxy exited at start: $(tail -5 "$T/haproxy.log")"
}

start_server() {
    if [ -z "$SERVER_DB_MADE" ]; then
        [ -n "$TOPOLOGY" ] && { SERVER_DB=$(pg_newdb "sync_$$") || fail "pg_newdb"; }
        [ -n "$TOPOLOGY" ] || [ ! -f "$SERVER_DB" ] && add_users
        SERVER_DB_MADE=1
    fi
    if [ -z "$TOPOLOGY" ]; then
        start_syncd "" "${LISTEN:-127.0.0.1:0}" "$@"
        SERVER_PID=$SYNCD_PID SERVER_ADDR=$SYNCD_ADDR
    else
        # Behind haproxy every client has haproxy's address: the per-address limits are haproxy's
        # (docs/server.md, "Behind haproxy"), and these flags are the ones the docs give.
        [ "$TOPOLOGY" = haproxy ] && set -- --max-connections-per-ip 0 --login-failures-per-ip 0 "$@"
        # A process still running is left as it is (only a dead one comes back); both start at once.
        s1='' s2=
        if [ -z "$SERVER_PID" ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
            launch_syncd 1 "${BACKEND_ADDR:-${LISTEN:-127.0.0.1:0}}" "$@"
            SERVER_PID=$SYNCD_PID s1=1
        fi
        if [ -z "$SERVER_PID2" ] || ! kill -0 "$SERVER_PID2" 2>/dev/null; then
            launch_syncd 2 "${SERVER_ADDR2:-127.0.0.1:0}" "$@"
            SERVER_PID2=$SYNCD_PID s2=1
        fi
        [ -n "$s1" ] && { wait_syncd 1 "$SERVER_PID"; BACKEND_ADDR=$SYNCD_ADDR; }
        [ -n "$s2" ] && { wait_syncd 2 "$SERVER_PID2"; SERVER_ADDR2=$SYNCD_ADDR; }
        SERVER_ADDR=$BACKEND_ADDR
        if [ "$TOPOLOGY" = haproxy ]; then
            [ -n "$HAPROXY_PID" ] && kill -0 "$HAPROXY_PID" 2>/dev/null || start_haproxy
            haproxy_wait_up 2
            SERVER_ADDR=$HAPROXY_ADDR
        fi
    fi
    SCHEME=http
    SERVER_URL="$SCHEME://$SERVER_ADDR"
}

stop_server() {
    for p in $SERVER_PID $SERVER_PID2; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}

# device_url NAME: the server URL device NAME uses: process 1 or 2 by its name's first letter
# (a, c, e...: 1; b, d, f...: 2), or haproxy's.
device_url() {
    if [ "$TOPOLOGY" = two ] && [ $(($(printf '%d' "'$1") % 2)) = 0 ]; then
        echo "$SCHEME://$SERVER_ADDR2"
    else
        echo "$SERVER_URL"
    fi
}

# dev NAME ARGS...: run etude for device NAME.
dev() {
    d=$1
    shift
    mkdir -p "$T/$d"
    ETUDE_HOME="$T/$d" "$ETUDE_BIN" "$@"
}

# settings NAME JSON: write the device's sync.json.
settings() {
    mkdir -p "$T/$1"
    printf '%s\n' "$2" >"$T/$1/sync.json"
}

# login NAME [URL]: log device NAME in as alice.
login() {
    printf '%s\n' "$PASSWORD" | dev "$1" sync login --server "${2:-$(device_url "$1")}" --user alice --password-stdin
}

q() { sqlite3 -batch -noheader "$T/$1/etude.db" "$2"; }
if [ -n "$TOPOLOGY" ]; then
    sq() { syncd_sql "$SERVER_DB" "$1"; }
else
    sq() { sqlite3 -batch -noheader "$SERVER_DB" "$1"; }
fi

# live_set NAME: "id checksum" of every live entity, sorted; tombstones as "id deleted".
live_set() {
    q "$1" "SELECT id || ' ' || CASE WHEN deleted_at IS NULL THEN checksum ELSE 'deleted' END FROM entities ORDER BY id"
}
server_set() {
    sq "SELECT id || ' ' || CASE WHEN deleted_at IS NULL THEN checksum ELSE 'deleted' END FROM entities ORDER BY id"
}

# converged A B...: every device and the server hold the same set; nothing queued.
converged() {
    s=$(server_set)
    for d in "$@"; do
        l=$(live_set "$d")
        [ "$l" = "$s" ] || {
            echo "server:" >&2
            echo "$s" >&2
            echo "$d:" >&2
            echo "$l" >&2
            fail "device $d does not hold the server's set"
        }
        p=$(q "$d" "SELECT count(*) FROM outbox")
        [ "$p" = 0 ] || fail "device $d still has $p queued change(s)"
    done
}

integrity() {
    for d in "$@"; do
        r=$(q "$d" "PRAGMA integrity_check")
        [ "$r" = ok ] || fail "device $d: integrity_check: $r"
    done
    server_integrity
}

# server_integrity: SQLite's integrity_check; on PostgreSQL amcheck's bt_index_check of every
# index of the schema (the unique ones included: no two rows under one key), and each user's
# sequence at least the highest server_seq of its entities.
server_integrity() {
    if [ -z "$TOPOLOGY" ]; then
        r=$(sq "PRAGMA integrity_check")
        [ "$r" = ok ] || fail "server db: integrity_check: $r"
        return
    fi
    sq "CREATE EXTENSION IF NOT EXISTS amcheck" >/dev/null || fail "server db: no amcheck"
    r=$(sq "SELECT count(*) FROM (SELECT bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam
            WHERE n.nspname = 'public' AND a.amname = 'btree') x") || fail "server db: bt_index_check failed"
    [ "$r" -gt 5 ] || fail "server db: only $r indexes checked"
    r=$(sq "SELECT count(*) FROM users u WHERE u.seq < (SELECT coalesce(max(server_seq), 0) FROM entities e WHERE e.user_id = u.id)")
    [ "$r" = 0 ] || fail "server db: $r user(s) with entities past their sequence"
}

# canon_session JSON-FIELDS: an NDJSON import line for a pending practiceSession with that data.
# data must already be canonical (sorted keys, no spaces).
import_entity() {
    # import_entity DEVICE TYPE ID DATA CREATED UPDATED
    sum=$(printf '%s' "$4" | sha256sum | cut -d' ' -f1)
    {
        echo '{"etudeExport":1,"schemaVersion":1}'
        printf '{"id":"%s","remoteId":null,"entityType":"%s","createdAt":"%s","updatedAt":"%s","deletedAt":null,"syncStatus":"pending","syncVersion":0,"checksum":"%s","data":%s}\n' \
            "$3" "$2" "$5" "$6" "$sum" "$4"
    } >"$T/import.ndjson"
    dev "$1" import "$T/import.ndjson" >/dev/null || fail "import into $1"
}

uuid() { cat /proc/sys/kernel/random/uuid; }

# import_notes DEVICE PREFIX N: N new logbook notes in one import; their ids go to $T/created.
import_notes() {
    now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
    echo '{"etudeExport":1,"schemaVersion":1}' >"$T/notes.ndjson"
    k=0
    while [ $k -lt "$3" ]; do
        k=$((k + 1))
        nid=$(uuid)
        data="{\"text\":\"$2 note $k\"}"
        sum=$(printf '%s' "$data" | sha256sum | cut -d' ' -f1)
        printf '{"id":"%s","remoteId":null,"entityType":"logbookEntry","createdAt":"%s","updatedAt":"%s","deletedAt":null,"syncStatus":"pending","syncVersion":0,"checksum":"%s","data":%s}\n' \
            "$nid" "$now" "$now" "$sum" "$data" >>"$T/notes.ndjson"
        echo "$nid" >>"$T/created"
    done
    dev "$1" import "$T/notes.ndjson" >/dev/null || fail "import notes into $1"
}

# Needs an etude-syncd that sends serverTimeMs and answers INVALID_CURSOR: skipped (77) otherwise.
server_has_clock() {
    [ -n "$(q "$1" "SELECT value FROM sync_meta WHERE key='clock_offset_ms'")" ] || {
        echo "SKIP: this etude-syncd sends no extensions.serverTimeMs (older server)"
        exit 77
    }
}
