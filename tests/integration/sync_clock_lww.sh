# A wrong clock neither wins nor loses last-write-wins: device a runs 6 h ahead
# (ETUDE_TEST_CLOCK_SKEW_MS); it learns the offset from etude-syncd's serverTimeMs and stamps
# corrected time, so b's later real edit wins the conflict, and the loser is listed by
# `sync conflicts --all`. A change queued with updatedAt in year 9999 does not win forever either.
# Fails on c276f6a (fd82c7f plus the skew knob in common/) against the etude-syncd that refuses times
# over 10 min ahead: a learns no offset, its edit is stamped 6 h ahead, refused and dead-lettered
# (checked: "the loser is not listed by conflicts --all: no conflicts"); against the older server
# that edit won last-write-wins, and the year-9999 change won forever.
. "$(dirname "$0")/sync_lib.sh"
start_server
AHEAD=21600000
x=$(uuid)
import_entity b logbookEntry "$x" '{"text":"v1"}' "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
login b >/dev/null || fail "login b"
ETUDE_TEST_CLOCK_SKEW_MS=$AHEAD login a >/dev/null || fail "login a"
server_has_clock a
[ "$(q a "SELECT json_extract(data,'\$.text') FROM entities WHERE id='$x'")" = v1 ] || fail "a did not pull x"
off=$(q a "SELECT value FROM sync_meta WHERE key='clock_offset_ms'")
[ -n "$off" ] && [ "$off" -lt -21500000 ] && [ "$off" -gt -21700000 ] || fail "a learned no offset near -6 h: '$off'"
# a edits first (in real time), b edits a second later and syncs first.
ETUDE_TEST_CLOCK_SKEW_MS=$AHEAD dev a log edit "$x" "from a" >/dev/null || fail "edit a"
sleep 1.2
dev b log edit "$x" "from b" >/dev/null || fail "edit b"
dev b sync now >/dev/null || fail "sync b"
ETUDE_TEST_CLOCK_SKEW_MS=$AHEAD dev a sync now >/dev/null || fail "sync a"
dev b sync now >/dev/null || fail "sync b 2"
for d in a b; do
    t=$(q $d "SELECT json_extract(data,'\$.text') FROM entities WHERE id='$x'")
    [ "$t" = "from b" ] || fail "$d holds '$t': the clock 6 h ahead won last-write-wins"
done
[ "$(sq "SELECT json_extract(data,'\$.text') FROM entities WHERE id='$x'")" = "from b" ] || fail "server"
ETUDE_TEST_CLOCK_SKEW_MS=$AHEAD dev a sync conflicts --all >"$T/c"
grep -q "$x" "$T/c" && grep -q "from a" "$T/c" && grep -q "kept remote" "$T/c" ||
    fail "the loser is not listed by conflicts --all: $(cat "$T/c")"
# Times on a are not in the future.
now_plus=$(date -u -d '+5 minutes' +%Y-%m-%dT%H:%M:%S.000Z)
[ "$(q a "SELECT count(*) FROM entities WHERE updated_at > '$now_plus' OR created_at > '$now_plus'")" = 0 ] ||
    fail "a stamped times in the future"

# A queued change whose updatedAt says year 9999: it goes up with the time it was queued, and a
# later real edit on b still wins.
y=$(uuid)
dev b log note "y1" >/dev/null
y=$(q b "SELECT id FROM entities WHERE json_extract(data,'\$.text')='y1'")
dev b sync now >/dev/null || fail "sync b y"
ETUDE_TEST_CLOCK_SKEW_MS=$AHEAD dev a sync now >/dev/null || fail "sync a y"
cy=$(q a "SELECT created_at FROM entities WHERE id='$y'")
import_entity a logbookEntry "$y" '{"text":"y far"}' "$cy" 9999-12-31T23:59:59.000Z
sleep 1.2
dev b log edit "$y" "y later" >/dev/null || fail "edit b y"
dev b sync now >/dev/null || fail "sync b y2"
ETUDE_TEST_CLOCK_SKEW_MS=$AHEAD dev a sync now >/dev/null || fail "sync a y2"
[ "$(q a "SELECT count(*) FROM dead_letter")" = 0 ] || fail "a's change was refused: $(q a "SELECT reason FROM dead_letter")"
[ "$(q a "SELECT json_extract(data,'\$.text') FROM entities WHERE id='$y'")" = "y later" ] ||
    fail "the 9999 stamp won: $(q a "SELECT data, updated_at FROM entities WHERE id='$y'")"
[ "$(sq "SELECT count(*) FROM entities WHERE updated_at > '$now_plus'")" = 0 ] || fail "the server stores a future time"
dev b sync now >/dev/null
converged a b
integrity a b
echo PASS
