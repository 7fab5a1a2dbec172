# The six sync scenarios (sync_s1_empty.sh ... sync_s6_logout.sh) on one PostgreSQL (a fresh
# database each), with the server side ETUDE_SYNC_TOPOLOGY picks (sync_lib.sh): two etude-syncd
# processes with devices spread over them, or the two behind haproxy. One entry per topology keeps
# CI time down: PostgreSQL starts once, not six times, and the six run at once (each has its own
# database, processes, ports and devices), two at a time (ETUDE_SYNC_JOBS), s5 in the first pair:
# its check of the merged creation time fails when the device's first clock sample comes from a
# slow login (over about 2 s on a loaded machine: the client shifts anonymous data by that first
# offset, half the round trip off; the same happens on SQLite), so it runs while the load is least.
#   ETUDE_SYNC_TOPOLOGY=two sh tests/support/pg_harness.sh run bash tests/integration/sync_pg_scenarios.sh
# Fails when any scenario fails (its output is shown); prints each one's time.
set -u
: "${ETUDE_SYNC_TOPOLOGY:?set ETUDE_SYNC_TOPOLOGY (two or haproxy)}"
dir=$(dirname "$0")
out=$(mktemp -d "${TMPDIR:-/tmp}/etude-sync-pg-XXXXXX")
trap 'rm -rf "$out"' EXIT
jobs=${ETUDE_SYNC_JOBS:-2}
run() {
    t0=$(date +%s%N)
    bash "$dir/sync_$1.sh" >"$out/$1.log" 2>&1
    echo "$? $((($(date +%s%N) - t0) / 1000000))" >"$out/$1.st"
}
n=0
for s in s5_duplicate s1_empty s2_upload s3_merge s4_conflict s6_logout; do
    run $s &
    n=$((n + 1))
    [ $((n % jobs)) = 0 ] && wait
done
wait
failed=""
for s in s1_empty s2_upload s3_merge s4_conflict s5_duplicate s6_logout; do
    read -r st ms <"$out/$s.st" || { st=1 ms='?'; }
    # The scenarios with two devices must have reached both processes (devices a and b directly,
    # or haproxy's round robin): else the topology was not what it claims (a one-device scenario,
    # s1, prints "N 0" in the two-process topology: the count tells the processes apart).
    both=1
    case $s in s3_* | s4_* | s5_*)
        grep -q '^graphql requests per process: [1-9][0-9]* [1-9][0-9]*$' "$out/$s.log" || both=0 ;;
    esac
    if [ "$st" = 0 ] && [ $both = 1 ] && grep -qx PASS "$out/$s.log"; then
        echo "PASS sync_$s ($ETUDE_SYNC_TOPOLOGY) $ms ms, $(grep '^graphql requests per process' "$out/$s.log")"
    else
        echo "FAIL sync_$s ($ETUDE_SYNC_TOPOLOGY) $ms ms, exit $st$([ $both = 0 ] && echo ", not both processes served"):"
        sed 's/^/    /' "$out/$s.log"
        failed="$failed $s"
    fi
done
[ -z "$failed" ] || { echo "FAIL:$failed"; exit 1; }
echo PASS
