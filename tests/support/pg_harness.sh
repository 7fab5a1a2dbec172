#!/bin/sh
# pg_harness.sh - a private PostgreSQL for one test: initdb in a temporary directory (run as the
# postgres user when the tests run as root), listening on a free loopback port with its unix socket
# in that directory, stopped and removed at the end, also when the test fails or is interrupted.
#
#   sh pg_harness.sh run CMD [ARG...]
#       starts PostgreSQL, runs CMD with the variables below in its environment and
#       ETUDE_SYNCD_BACKEND=postgresql (what the server tests read to pick the backend), stops
#       PostgreSQL, and exits with CMD's status.
#   . pg_harness.sh   (sourced, ETUDE_PG_SOURCED=1): pg_start / pg_newdb NAME / pg_sql DB SQL / pg_stop
#
# Variables: ETUDE_PG_HOST (the socket directory), ETUDE_PG_PORT, ETUDE_PG_USER, ETUDE_PG_BIN (the
# PostgreSQL programs; default the newest /usr/lib/postgresql/*/bin). A database for a server is
# made with pg_newdb, whose connection URI is postgresql:///NAME?host=...&port=...&user=...
# KEEP_TMP=1 keeps the directory (and stops the server all the same).
#
# The server tests' shell scripts source this file (ETUDE_PG_SOURCED=1) for two helpers that work
# with either backend, picked by ETUDE_SYNCD_BACKEND: syncd_db DIR NAME (a --db for a new server
# database) and syncd_sql DB SQL (one statement on it, rows as lines, fields joined by |).
: "${ETUDE_PG_BIN:=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
: "${ETUDE_PG_USER:=postgres}" "${ETUDE_PG_PORT:=}" "${ETUDE_PG_HOST:=}"
ETUDE_PG_DIR=

syncd_pg() { [ "${ETUDE_SYNCD_BACKEND:-}" = postgresql ]; }

syncd_db() {
    if syncd_pg; then pg_newdb "$2_$$"; else echo "$1/$2.db"; fi
}

syncd_sql() {
    if syncd_pg; then
        "$ETUDE_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"
    else
        sqlite3 "$1" "$2"
    fi
}

pg_as() { # run a PostgreSQL program as the cluster's owner
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_free_port() {
    node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

pg_start() {
    [ -x "$ETUDE_PG_BIN/initdb" ] || { echo "pg_harness: no initdb in '$ETUDE_PG_BIN' (install postgresql)" >&2; return 1; }
    ETUDE_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/etude-pg.XXXXXX") || return 1
    [ "$(id -u)" = 0 ] && chown postgres: "$ETUDE_PG_DIR"
    ETUDE_PG_HOST=$ETUDE_PG_DIR
    if ! pg_as "$ETUDE_PG_BIN/initdb" -D "$ETUDE_PG_DIR/data" -U "$ETUDE_PG_USER" -A trust -E UTF8 --locale=C \
        --no-sync >"$ETUDE_PG_DIR/initdb.log" 2>&1; then
        echo "pg_harness: initdb failed:" >&2
        tail -n 5 "$ETUDE_PG_DIR/initdb.log" >&2
        return 1
    fi
    # A free port can be taken between the look-up and the start: three tries.
    for try in 1 2 3; do
        ETUDE_PG_PORT=$(pg_free_port) || return 1
        # Durability is not under test here: no fsync, so a test's PostgreSQL starts and runs fast.
        if pg_as "$ETUDE_PG_BIN/pg_ctl" -D "$ETUDE_PG_DIR/data" -l "$ETUDE_PG_DIR/postgres.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $ETUDE_PG_PORT -k $ETUDE_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null 2>&1; then
            export ETUDE_PG_HOST ETUDE_PG_PORT ETUDE_PG_USER ETUDE_PG_BIN
            return 0
        fi
        grep -q 'could not bind\|already in use' "$ETUDE_PG_DIR/postgres.log" 2>/dev/null || break
    done
    echo "pg_harness: PostgreSQL did not start:" >&2
    tail -n 5 "$ETUDE_PG_DIR/postgres.log" >&2
    return 1
}

# pg_watch PID: when PID is gone, stop and remove this PostgreSQL: a harness killed outright (ctest's
# timeout kills with SIGKILL, which no trap sees) leaves nothing running. A process of its own
# session, checking once a second; it ends with PID.
pg_watch() {
    setsid sh -c '
        while kill -0 "$0" 2>/dev/null; do sleep 1; done
        if [ -f "$1/data/postmaster.pid" ]; then
            if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$2/pg_ctl" -D "$1/data" -m immediate -w -t 20 stop
            else "$2/pg_ctl" -D "$1/data" -m immediate -w -t 20 stop; fi
        fi
        [ "$3" = 1 ] || rm -rf "$1"' "$1" "$ETUDE_PG_DIR" "$ETUDE_PG_BIN" "${KEEP_TMP:-0}" </dev/null >/dev/null 2>&1 &
}

# pg_newdb NAME: creates database NAME and prints its connection URI.
pg_newdb() {
    "$ETUDE_PG_BIN/psql" -X -q -h "$ETUDE_PG_HOST" -p "$ETUDE_PG_PORT" -U "$ETUDE_PG_USER" -d postgres \
        -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$1\"" >/dev/null || return 1
    echo "postgresql:///$1?host=$ETUDE_PG_HOST&port=$ETUDE_PG_PORT&user=$ETUDE_PG_USER"
}

# pg_sql DB SQL: runs SQL in database DB; rows unaligned, fields separated by |.
pg_sql() {
    "$ETUDE_PG_BIN/psql" -X -q -At -h "$ETUDE_PG_HOST" -p "$ETUDE_PG_PORT" -U "$ETUDE_PG_USER" -d "$1" \
        -v ON_ERROR_STOP=1 -c "$2"
}

pg_stop() {
    [ -n "$ETUDE_PG_DIR" ] || return 0
    if [ -f "$ETUDE_PG_DIR/data/postmaster.pid" ]; then
        pg_as "$ETUDE_PG_BIN/pg_ctl" -D "$ETUDE_PG_DIR/data" -m immediate -w -t 20 stop >/dev/null 2>&1 ||
            kill -9 "$(head -n 1 "$ETUDE_PG_DIR/data/postmaster.pid")" 2>/dev/null
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $ETUDE_PG_DIR" >&2; else rm -rf "$ETUDE_PG_DIR"; fi
    ETUDE_PG_DIR=
}

if [ "${ETUDE_PG_SOURCED:-0}" != 1 ]; then
    [ "${1:-}" = run ] && [ $# -ge 2 ] || { echo "usage: pg_harness.sh run CMD [ARG...]" >&2; exit 2; }
    shift
    trap 'pg_stop' EXIT
    trap 'exit 1' INT TERM
    pg_start || exit 1
    pg_watch $$
    ETUDE_SYNCD_BACKEND=postgresql
    export ETUDE_SYNCD_BACKEND
    st=0
    "$@" || st=$?
    exit $st
fi
