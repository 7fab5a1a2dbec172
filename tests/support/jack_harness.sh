# jack_harness.sh - sourced by etude's live tests: a private jackd (dummy driver) per test, under a
# unique server name, and cleanup of it and of every process the test started, even on failure.
#
#   jack_start PERIOD [RATE]   start jackd (synchronous mode -S unless $JACKD_OPTS says otherwise:
#                              the graph then runs every cycle however loaded the machine is), wait
#                              until jack_lsp answers; exports JACK_DEFAULT_SERVER
#   jack_bg NAME CMD...        run CMD in the background (output in $T/NAME.out / .err), pid in
#                              $NAME_pid via jack_pid NAME; killed at exit if still running
#   jack_wait NAME SECONDS     the exit status of background job NAME, failing if it runs on longer
#   jack_stop                  stop jackd now (the "server goes away" case)
#   fail MESSAGE               print "FAIL: MESSAGE" and exit 1 (cleanup runs)
# $T is a fresh temp directory, removed at exit unless ETUDE_TEST_KEEP=1.

T=$(mktemp -d "${TMPDIR:-/tmp}/etude-jack-test.XXXXXX")
JACK_PIDS=""
JACKD_PID=""
JACK_SERVERS=""
export JACK_NO_AUDIO_RESERVATION=1
export JACK_NO_START_SERVER=1

jack_cleanup() {
    rc=$?
    for p in $JACK_PIDS; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $JACK_PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$p" 2>/dev/null
    done
    if [ -n "$JACKD_PID" ]; then
        kill -TERM "$JACKD_PID" 2>/dev/null
        i=0
        while kill -0 "$JACKD_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$JACKD_PID" 2>/dev/null
        wait "$JACKD_PID" 2>/dev/null
    fi
    # a server that went away under its clients leaves their semaphores behind
    for name in $JACK_SERVERS; do
        rm -f /dev/shm/jack_sem.*_"$name"_* 2>/dev/null
    done
    if [ "$rc" != 0 ] || [ "${ETUDE_TEST_VERBOSE:-0}" = 1 ]; then
        for f in "$T"/*.out "$T"/*.err; do
            [ -s "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }
        done
    fi
    [ "${ETUDE_TEST_KEEP:-0}" = 1 ] && echo "kept $T" || rm -rf "$T"
    exit $rc
}
trap jack_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

jack_start() {
    period=$1
    rate=${2:-48000}
    # Stable per test, start and build tree, so concurrent tests never share a name, and a stale
    # registry entry left by a server that was killed (JACK reclaims entries only by name, and
    # holds 8) is reused instead of filling the registry.
    JACK_STARTS=$((${JACK_STARTS:-0} + 1))
    tag=$(printf '%s' "${ETUDE_BIN:-etude}" | cksum | cut -d' ' -f1)
    JACK_DEFAULT_SERVER="etude-$(basename "$0" .sh)-$JACK_STARTS-$tag"
    export JACK_DEFAULT_SERVER
    JACK_SERVERS="$JACK_SERVERS $JACK_DEFAULT_SERVER"
    jackd --no-realtime ${JACKD_OPTS--S} -n "$JACK_DEFAULT_SERVER" -d dummy -r "$rate" -p "$period" \
        >"$T/jackd.out" 2>"$T/jackd.err" &
    JACKD_PID=$!
    i=0
    until jack_lsp >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 100 ] && fail "jackd ($JACK_DEFAULT_SERVER) did not answer within 10 s"
        kill -0 "$JACKD_PID" 2>/dev/null || fail "jackd exited at start"
        sleep 0.1
    done
}

jack_stop() {
    kill -TERM "$JACKD_PID" 2>/dev/null
    wait "$JACKD_PID" 2>/dev/null
    JACKD_PID=""
}

jack_bg() {
    name=$1
    shift
    "$@" >"$T/$name.out" 2>"$T/$name.err" &
    eval "${name}_pid=$!"
    JACK_PIDS="$JACK_PIDS $!"
}

jack_pid() {
    eval "echo \$${1}_pid"
}

# A bounded `wait`: an exited child stays a zombie until waited for, and kill -0 still finds a
# zombie, so the state letter in /proc/PID/stat tells whether it has exited.
jack_wait() {
    pid=$(jack_pid "$1")
    n=0
    max=$(awk "BEGIN{print int($2*20)}")
    while [ -d "/proc/$pid" ] && [ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)" != Z ]; do
        n=$((n + 1))
        [ $n -gt "$max" ] && fail "$1 (pid $pid) still running after $2 s"
        sleep 0.05
    done
    wait "$pid"
}

# wait_for SECONDS CMD...: retry CMD every 50 ms until it succeeds
wait_for() {
    limit=$1
    shift
    n=0
    max=$(awk "BEGIN{print int($limit*20)}")
    until "$@" >/dev/null 2>&1; do
        n=$((n + 1))
        [ $n -gt "$max" ] && return 1
        sleep 0.05
    done
    return 0
}
