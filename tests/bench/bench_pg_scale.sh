#!/bin/sh
# bench_pg_scale.sh - etude-syncd on PostgreSQL with 1, 2 and 4 processes against one process on
# SQLite: USERS simulated users (one device each) sync through real etude-syncd processes on
# loopback, requests spread round-robin over the processes of a configuration by the load generator
# (tests/bench/bench_pg_scale.c). Prints entities stored per second and the p99 sync latency of
# each configuration and their ratios to the SQLite figure. Each configuration gets a fresh
# database (a new database of one private PostgreSQL, or a new SQLite file); after its run the
# entities are counted on the server (sqlite3 / psql) and must equal the entities sent, each user's
# change sequence must be 1..n without gaps, and every user must have synced. No timing is judged.
#
#   sh tests/support/pg_harness.sh run sh tests/bench/bench_pg_scale.sh ETUDE_SYNCD BENCH_PG_SCALE SOURCE_DIR
#   (run without pg_harness.sh, it starts one itself)
#
# Env: ETUDE_BENCH_PG_USERS (1000), ETUDE_BENCH_PG_SYNCS (syncs per user, 1),
# ETUDE_BENCH_PG_ENTITIES (entities per upload, 5), ETUDE_BENCH_PG_CONCURRENCY (users in flight, 64),
# ETUDE_BENCH_PG_PROCS (the PostgreSQL configurations, "1 2 4"), ETUDE_BENCH_PG_ROUNDS (1): more
# rounds run every configuration again (each on a fresh database), in reverse order every other
# round so that a drift in the machine's load favours none, and report the medians.
#
# Users: u1 is made by `etude-syncd user add` (which also creates the schema); u2..uN are inserted
# by SQL (once per backend; each PostgreSQL configuration starts from a CREATE DATABASE ... TEMPLATE
# copy of a database holding only those users) with argon2id hashes of libsodium's minimum cost,
# because the server hashes at the "interactive" cost (about 0.3 s here) with no option to lower it, which would make 1,000 users
# and their logins take minutes. Logins (the server's own argon2id check of those hashes) are
# setup and not timed; the syncs are.
set -eu
syncd=$1
bench=$2
src=$3
if [ -z "${ETUDE_PG_PORT:-}" ]; then
    exec sh "$src/tests/support/pg_harness.sh" run sh "$0" "$@"
fi
ETUDE_PG_SOURCED=1 . "$src/tests/support/pg_harness.sh"

USERS=${ETUDE_BENCH_PG_USERS:-1000}
SYNCS=${ETUDE_BENCH_PG_SYNCS:-1}
ENTITIES=${ETUDE_BENCH_PG_ENTITIES:-5}
CONC=${ETUDE_BENCH_PG_CONCURRENCY:-64}
PROCS=${ETUDE_BENCH_PG_PROCS:-1 2 4}
ROUNDS=${ETUDE_BENCH_PG_ROUNDS:-1}
PW='bench-pw'

dir=$(mktemp -d "${TMPDIR:-/tmp}/etude-pg-scale.XXXXXX")
pids=
stop_servers() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    pids=
}
cleanup() { stop_servers; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

# cpu PID...: their user+system CPU seconds so far (/proc/PID/stat fields 14 and 15, in clock ticks).
tck=$(getconf CLK_TCK)
# (The fields are counted after the command name in parentheses, which may hold spaces.)
cpu() {
    for p; do cat "/proc/$p/stat" 2>/dev/null; done |
        awk -v t="$tck" '{ sub(/.*\) /, ""); s += $12 + $13 } END { printf "%.2f", s / t }'
}
# pg_procs: the PostgreSQL server's processes (postmaster and its children: the backends serving
# the etude-syncd connections, the writers).
pg_procs() {
    pm=$(head -n 1 "$ETUDE_PG_HOST/data/postmaster.pid")
    cat /proc/[0-9]*/stat 2>/dev/null |
        awk -v pm="$pm" '{ pid = $1; sub(/.*\) /, ""); if (pid == pm || $2 == pm) printf "%s ", pid }'
}

fail() { echo "bench.pg_scale: FAIL: $*" >&2; exit 1; }

# Each worker holds one keep-alive connection to every process, so a process sees CONC
# connections from 127.0.0.1; the per-address cap (256 by default) is lifted only when that is more.
flags=
if [ "$CONC" -gt 250 ]; then flags="--max-connections-per-ip 0"; fi

sql() { # sql DB STATEMENT
    case $1 in
    postgresql:*) "$ETUDE_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2" ;;
    *) sqlite3 "$1" "$2" ;;
    esac
}

# users DB: u1 by the server's own `user add` (which creates the schema as well), u2..uUSERS by SQL.
users() {
    printf '%s\n' "$PW" | "$syncd" user add u1 --password-stdin --db "$1" 2>"$dir/useradd.log" ||
        { cat "$dir/useradd.log" >&2; fail "user add u1 --db $1"; }
    [ "$USERS" -gt 1 ] || return 0
    "$bench" users 2 "$USERS" "$PW" >"$dir/users.sql"
    case $1 in
    postgresql:*) "$ETUDE_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$dir/users.sql" >/dev/null ;;
    *) sqlite3 "$1" <"$dir/users.sql" ;;
    esac || fail "inserting users into $1"
}

# run LABEL DB NPROCS: NPROCS servers on the fresh database DB (its users made), the load, the checks.
run() {
    label=$1 db=$2 n=$3
    [ "$(sql "$db" "SELECT count(*) FROM users")" = "$USERS" ] || fail "$label: not $USERS users"
    urls=
    i=0
    while [ $i -lt "$n" ]; do
        i=$((i + 1))
        rm -f "$dir/ready.$i"
        # shellcheck disable=SC2086
        "$syncd" --listen 127.0.0.1:0 --db "$db" --ready-file "$dir/ready.$i" --exit-with-parent $flags \
            2>"$dir/log.$label.$i" &
        pids="$pids $!"
    done
    i=0
    for p in $pids; do
        i=$((i + 1))
        t=0
        while [ ! -f "$dir/ready.$i" ]; do
            t=$((t + 1))
            if [ $t -gt 600 ] || ! kill -0 "$p" 2>/dev/null; then
                cat "$dir/log.$label.$i" >&2
                fail "$label: server $i did not start"
            fi
            sleep 0.05
        done
        urls="$urls http://$(cat "$dir/ready.$i")/graphql"
    done
    pg0=0
    # shellcheck disable=SC2046
    [ "$label" = sqlite ] || pg0=$(cpu $(pg_procs))
    # shellcheck disable=SC2086
    s0=$(cpu $pids)
    st=0
    # shellcheck disable=SC2086
    "$bench" run "$label" "$src/sync/schema/operations" "$USERS" "$SYNCS" "$ENTITIES" "$CONC" "$PW" $urls \
        >"$dir/out" || st=$?
    # shellcheck disable=SC2086
    s1=$(cpu $pids)
    pg1=0
    # shellcheck disable=SC2046
    [ "$label" = sqlite ] || pg1=$(cpu $(pg_procs))
    grep -v '^RESULT \|^CPU ' "$dir/out" || true
    grep '^RESULT ' "$dir/out" >>"$dir/results" || true
    gen=$(awk '$1 == "CPU" { print $3 }' "$dir/out")
    awk -v g="$gen" -v s0="$s0" -v s1="$s1" -v p0="$pg0" -v p1="$pg1" -v l="$label" -v la="$(cut -d' ' -f1 /proc/loadavg)" \
        'BEGIN { printf "          CPU during logins and syncs: load generator %.1f s, etude-syncd %.1f s%s; load average %s\n",
                 g, s1 - s0, l == "sqlite" ? "" : sprintf(", PostgreSQL %.1f s", p1 - p0), la }'
    stop_servers
    [ $st = 0 ] || fail "$label: requests failed (see above); server log: $(tail -n 3 "$dir/log.$label.1")"
    # The figures count only what the server holds.
    want=$((USERS * SYNCS * ENTITIES))
    sent=$(awk '$1 == "RESULT" { print $5 }' "$dir/out")
    [ "$sent" = "$want" ] || fail "$label: the servers accepted $sent entities, $want were sent"
    # Entities held, users holding some, and users whose change sequence is not 1..n without gaps.
    got=$(sql "$db" "SELECT count(*), count(DISTINCT user_id), (SELECT count(*) FROM (SELECT user_id,
        count(*) AS k, min(server_seq) AS lo, max(server_seq) AS hi FROM entities GROUP BY user_id) t
        WHERE lo <> 1 OR hi <> k) FROM entities" | tr '|' ' ')
    # shellcheck disable=SC2086
    set -- $got
    stored=$1 synced=$2 gaps=$3
    [ "$stored" = "$want" ] || fail "$label: the database holds $stored entities, $want were sent and accepted"
    [ "$synced" = "$USERS" ] || fail "$label: only $synced of $USERS users have entities on the server"
    [ "$gaps" = 0 ] || fail "$label: $gaps users' change sequences are not 1..n without gaps"
    echo "          checked: $stored entities stored = sent, $synced users synced, change sequences gap-free"
}

began=$(date +%s)
cores=$(nproc)
echo "bench.pg_scale: $USERS users, $SYNCS sync(s) each of $ENTITIES entities (uploadBatch, then syncChanges"
echo "  until hasMore is false), $CONC users in flight, requests round-robin over a configuration's processes"
echo "  machine: $cores cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; the load generator,"
echo "  PostgreSQL and every etude-syncd share these cores, so more busy processes than cores cannot scale"
echo "  PostgreSQL $("$ETUDE_PG_BIN/postgres" --version | awk '{print $3}') (private cluster, fsync off, as the"
echo "  server tests run it); SQLite in WAL mode, synchronous=NORMAL"
echo "  server flags: defaults${flags:+ and $flags}. Login throttling counts failed logins only"
echo "  (10 per user, 30 per address in 300 s by default) and this run makes none, so its $USERS logins"
echo "  from 127.0.0.1 are not throttled; $CONC connections per process stay under the per-address cap (256)"
[ "$ROUNDS" = 1 ] || echo "  $ROUNDS rounds, every other one in reverse order; medians and their ratios at the end"
echo "  users: u1 by 'etude-syncd user add', the rest by SQL with minimum-cost argon2id hashes (setup)"

: >"$dir/results"
# The users are made once on PostgreSQL; each configuration's database is a copy of that one.
users "$(pg_newdb bench_users)"
configs=sqlite
for n in $PROCS; do configs="$configs pg-x$n"; done
r=0
while [ $r -lt "$ROUNDS" ]; do
    r=$((r + 1))
    order=$configs
    # shellcheck disable=SC2086
    [ $((r % 2)) = 1 ] || order=$(printf '%s\n' $configs | sed -n '1!G;h;$p' | tr '\n' ' ')
    [ "$ROUNDS" = 1 ] || echo "round $r of $ROUNDS: $order"
    for c in $order; do
        if [ "$c" = sqlite ]; then
            users "$dir/sqlite.$r.db"
            run sqlite "$dir/sqlite.$r.db" 1
        else
            n=${c#pg-x}
            name=bench_pg_x${n}_r$r
            pg_sql postgres "CREATE DATABASE $name TEMPLATE bench_users" || fail "CREATE DATABASE $name"
            run "$c" "postgresql:///$name?host=$ETUDE_PG_HOST&port=$ETUDE_PG_PORT&user=$ETUDE_PG_USER" "$n"
        fi
    done
done

# Per configuration the median over the rounds (the mean of the middle two of an even count).
awk -v cores="$cores" -v rounds="$ROUNDS" '
    function median(list,    v, m, i, j, t) {
        m = split(list, v, " ")
        for (i = 2; i <= m; i++)
            for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
    }
    $1 == "RESULT" { if (!($2 in rate)) order[++k] = $2; rate[$2] = rate[$2] " " $3; p99[$2] = p99[$2] " " $4 }
    END {
        if (rounds > 1)
            for (i = 1; i <= k; i++)
                printf "%-9s median of %d rounds: %.0f entities/s, sync latency p99 %.1f ms\n", order[i], rounds,
                    median(rate[order[i]]), median(p99[order[i]])
        rs = median(rate["sqlite"]); ps = median(p99["sqlite"])
        for (i = 1; i <= k; i++) {
            l = order[i]
            if (l == "sqlite") continue
            n = substr(l, 5)
            printf "pg x%s / sqlite: entities/s %.2fx, p99 %.2fx%s\n", n, median(rate[l]) / rs,
                median(p99[l]) / (ps > 0 ? ps : 1), (n + 0 > cores + 0) ? "  (more processes than the " cores " cores)" : ""
        }
    }' "$dir/results"
echo "PASS ($(($(date +%s) - began)) s in all, PostgreSQL's start not counted)"
