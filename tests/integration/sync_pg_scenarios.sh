# The six sync scenarios (sync_s1_empty.sh ... sync_s6_logout.sh) one after the other on one
# PostgreSQL (a fresh database each), with the server side ETUDE_SYNC_TOPOLOGY picks (sync_lib.sh):
# two etude-syncd processes with devices spread over them, or the two behind haproxy. One entry per
# topology keeps CI time down: PostgreSQL starts once, not six times.
#   ETUDE_SYNC_TOPOLOGY=two sh tests/support/pg_harness.sh run bash tests/integration/sync_pg_scenarios.sh
# Fails when any scenario fails (its output is shown); prints each one's time.
set -u
: "${ETUDE_SYNC_TOPOLOGY:?set ETUDE_SYNC_TOPOLOGY (two or haproxy)}"
dir=$(dirname "$0")
failed=""
for s in s1_empty s2_upload s3_merge s4_conflict s5_duplicate s6_logout; do
    t0=$(date +%s%N)
    out=$(bash "$dir/sync_$s.sh" 2>&1)
    st=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    # The scenarios with two devices must have reached both processes (devices a and b directly,
    # or haproxy's round robin): else the topology was not what it claims (a one-device scenario,
    # s1, prints "N 0" in the two-process topology: the count tells the processes apart).
    both=1
    case $s in s3_* | s4_* | s5_*)
        printf '%s\n' "$out" | grep -q '^graphql requests per process: [1-9][0-9]* [1-9][0-9]*$' || both=0 ;;
    esac
    if [ $st = 0 ] && [ $both = 1 ] && printf '%s\n' "$out" | grep -qx PASS; then
        echo "PASS sync_$s ($ETUDE_SYNC_TOPOLOGY) $ms ms, $(printf '%s\n' "$out" | grep '^graphql requests per process')"
    else
        echo "FAIL sync_$s ($ETUDE_SYNC_TOPOLOGY) $ms ms, exit $st$([ $both = 0 ] && echo ", not both processes served"):"
        printf '%s\n' "$out" | sed 's/^/    /'
        failed="$failed $s"
    fi
done
[ -z "$failed" ] || { echo "FAIL:$failed"; exit 1; }
echo PASS
