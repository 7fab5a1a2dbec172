# sync_lib.sh - shared harness for the sync end-to-end tests (sourced by tests/integration/sync_*.sh):
# a real etude-syncd on a free loopback port with a fresh database, "devices" as separate
# $ETUDE_HOME directories driven through the real `etude` command, and a cleanup trap that kills
# every process the test started, whatever happens.
# Needs: ETUDE_BIN (etude), ETUDE_SYNCD (etude-syncd), ETUDE_TESTS_DIR; sqlite3 and node on PATH.
set -u

: "${ETUDE_BIN:?set ETUDE_BIN}" "${ETUDE_SYNCD:?set ETUDE_SYNCD}" "${ETUDE_TESTS_DIR:?set ETUDE_TESTS_DIR}"
T=$(mktemp -d "${TMPDIR:-/tmp}/etude-sync-test-XXXXXX")
PIDS=""
PASSWORD="correct horse $$"

cleanup() {
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

# start_server [extra etude-syncd args...]: fresh db with user alice; sets SERVER_URL, SERVER_PID,
# SERVER_ADDR. A fixed --listen may be given via LISTEN (default 127.0.0.1:0).
SERVER_DB="$T/syncd.db"
start_server() {
    if [ ! -f "$SERVER_DB" ]; then
        printf '%s\n' "$PASSWORD" | "$ETUDE_SYNCD" user add alice --password-stdin --db "$SERVER_DB" >/dev/null 2>&1 ||
            fail "etude-syncd user add"
        printf '%s\n' "other $PASSWORD" | "$ETUDE_SYNCD" user add bob --password-stdin --db "$SERVER_DB" >/dev/null 2>&1 ||
            fail "etude-syncd user add bob"
    fi
    rm -f "$T/ready"
    "$ETUDE_SYNCD" --listen "${LISTEN:-127.0.0.1:0}" --db "$SERVER_DB" --ready-file "$T/ready" "$@" \
        >>"$T/syncd.log" 2>&1 &
    SERVER_PID=$!
    PIDS="$PIDS $SERVER_PID"
    i=0
    while [ ! -s "$T/ready" ]; do
        i=$((i + 1))
        kill -0 "$SERVER_PID" 2>/dev/null || fail "etude-syncd exited at start: $(tail -3 "$T/syncd.log")"
        [ $i -gt 600 ] && fail "etude-syncd did not start"
        sleep 0.05
    done
    SERVER_ADDR=$(cat "$T/ready")
    SCHEME=http
    SERVER_URL="$SCHEME://$SERVER_ADDR"
}

stop_server() {
    kill -9 "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
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
    printf '%s\n' "$PASSWORD" | dev "$1" sync login --server "${2:-$SERVER_URL}" --user alice --password-stdin
}

q() { sqlite3 -batch -noheader "$T/$1/etude.db" "$2"; }
sq() { sqlite3 -batch -noheader "$SERVER_DB" "$1"; }

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
    r=$(sq "PRAGMA integrity_check")
    [ "$r" = ok ] || fail "server db: integrity_check: $r"
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
