# One canonical form and one set of entity checks, client and server (libetude-common):
#  1. a real etude-syncd refuses, per entity and with the field and reason, every class of bad
#     entity clients refuse (impossible date, +01:00 offset, no milliseconds, updatedAt before
#     createdAt, deletedAt before createdAt, invalid UTF-8, more than 10 minutes ahead of the
#     server's clock), while the good entities of the same batch are accepted;
#  2. values the old client and server wrote differently (1e15, 1.5e15, 0.1234567890123456,
#     720/97, 2^53, 1e21, 1e-7) upload from one device and sync to another through the real
#     `etude` command, with nothing dead-lettered and the same checksums everywhere.
# Checked against fd82c7f (before libetude-common): part 1 failed at once ("impossible date
# accepted": the old server took all seven bad entities), and part 2 failed twice over: the goal
# with the hard numbers could not be imported (the store re-printed its data with cJSON, which
# writes 9007199254740992 as 9.00719925474099e+15), and without it the goals 1e15, 720/97 and
# 1.5e15 were dead-lettered ("checksum: does not match the SHA-256 of the canonical data").
. "$(dirname "$0")/sync_lib.sh"
start_server

say "1. etude-syncd refuses bad entities one by one, with the field and the reason"
cat >"$T/bad.mjs" <<'EOF'
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const { gql, login, sha256, docs } = await import(pathToFileURL(`${process.env.ETUDE_TESTS_DIR}/integration/server_lib.mjs`));
const [url, password] = process.argv.slice(2);
const server = { url };
const alice = await login(server, 'alice', password);
const iso = (ms) => new Date(ms).toISOString();
const now = Date.now();
const good = iso(now - 60000);
const data = { n: 1, text: 'a note' };
const sum = sha256(JSON.stringify(data)); // its keys are in canonical order already
function ent(extra, d = data) {
  return { id: randomUUID(), localId: null, entityType: 'logbookEntry', createdAt: good, updatedAt: good,
    deletedAt: null, baseVersion: 0, checksum: sum, data: d, ...extra };
}
const cases = [
  ['impossible date', ent({ createdAt: '2026-02-30T10:00:00.000Z', updatedAt: '2026-02-30T10:00:00.000Z' }), 'createdAt', /must be a UTC time/],
  ['+01:00 offset', ent({ updatedAt: good.replace('Z', '+01:00') }), 'updatedAt', /must be a UTC time/],
  ['no milliseconds', ent({ updatedAt: good.replace(/\.\d\d\dZ$/, 'Z') }), 'updatedAt', /must be a UTC time/],
  ['updatedAt before createdAt', ent({ updatedAt: iso(now - 120000) }), 'updatedAt', /^before createdAt$/],
  ['deletedAt before createdAt', ent({ deletedAt: iso(now - 120000) }), 'deletedAt', /^before createdAt$/],
  ['invalid UTF-8', ent({}, { n: 1, text: 'INVALID_UTF8' }), 'data.text', /not valid UTF-8/],
  ['> 10 min ahead', ent({ createdAt: iso(now + 3600000), updatedAt: iso(now + 3600000) }), 'createdAt', /ahead of the clock/],
];
const data2 = { n: 2, text: 'a note' };
const fine = [ent({}), ent({ updatedAt: iso(now + 5 * 60000), checksum: sha256(JSON.stringify(data2)) }, data2)]; // 5 min ahead: tolerated
const batch = { batchId: randomUUID(), deviceId: 'dev-raw', mutationSeq: 1, entities: [...cases.map((c) => c[1]), ...fine] };
const text = JSON.stringify({ query: docs.UploadBatch, operationName: 'UploadBatch', variables: { batch } });
// Invalid UTF-8 cannot come from JSON.stringify: splice raw bytes (a truncated sequence, a
// surrogate) into the body.
const [head, tail] = text.split('INVALID_UTF8');
const raw = Buffer.concat([Buffer.from(head), Buffer.from([0x63, 0x61, 0x66, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from(tail)]);
const res = await gql(server, 'UploadBatch', null, { token: alice.accessToken, raw });
assert.ok(res.json?.data?.uploadBatch, res.text);
const { accepted, rejected } = res.json.data.uploadBatch;
for (const [i, [what, e, field, reason]] of cases.entries()) {
  const r = rejected.find((x) => x.index === i);
  assert.ok(r, `${what} accepted: ${res.text}`);
  assert.equal(r.id, e.id, what);
  assert.equal(r.field, field, `${what}: ${JSON.stringify(r)}`);
  assert.match(r.reason, reason, `${what}: ${JSON.stringify(r)}`);
  console.log(`refused ${what}: ${r.field}: ${r.reason}`);
}
assert.equal(rejected.length, cases.length, JSON.stringify(rejected));
assert.deepEqual(accepted.map((a) => a.id).sort(), fine.map((e) => e.id).sort());
EOF
node "$T/bad.mjs" "$SERVER_URL" "$PASSWORD" || fail "bad entities (see above)"
[ "$(sq "SELECT count(*) FROM entities")" = 2 ] || fail "the server stored $(sq "SELECT count(*) FROM entities") entities, expected the 2 good ones"

say "2. hard numbers sync between devices without dead letters"
now=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%S.000Z)
hard='{"big":1000000000000000,"bigger":1500000000000000,"digits":0.1234567890123456,"e21":1e+21,"kind":"minutes","n53":9007199254740992,"n53m1":9007199254740991,"period":"day","point3":0.30000000000000004,"ratio":7.422680412371134,"target":30,"tiny":1e-7}'
hid=$(uuid)
import_entity a goal "$hid" "$hard" "$now" "$now"
dev a goal add minutes 1e15 --per week >/dev/null || fail "goal add 1e15"
dev a goal add tempo "$(awk 'BEGIN { printf "%.17g", 720 / 97 }')" --material scales >/dev/null || fail "goal add 720/97"
dev a goal add tempo 1.5e15 --material arpeggios >/dev/null || fail "goal add 1.5e15"
login a >/dev/null || fail "login a"
dev a sync now >"$T/sync-a" 2>&1 || fail "sync a: $(cat "$T/sync-a")"
[ "$(q a "SELECT count(*) FROM dead_letter")" = 0 ] || fail "dead letters on a: $(q a "SELECT * FROM dead_letter")"
login b >/dev/null || fail "login b"
dev b sync now >"$T/sync-b" 2>&1 || fail "sync b: $(cat "$T/sync-b")"
dev a sync now >/dev/null 2>&1 || fail "sync a again"
[ "$(q b "SELECT count(*) FROM dead_letter")" = 0 ] || fail "dead letters on b"
converged a b
[ "$(q b "SELECT data FROM entities WHERE id='$hid'")" = "$hard" ] || fail "b holds $(q b "SELECT data FROM entities WHERE id='$hid'")"
[ "$(sq "SELECT data FROM entities WHERE id='$hid'")" = "$hard" ] || fail "the server holds $(sq "SELECT data FROM entities WHERE id='$hid'")"
for v in 1000000000000000 7.422680412371134 1500000000000000; do
    [ "$(q b "SELECT count(*) FROM entities WHERE entity_type='goal' AND data LIKE '%\"target\":$v%'")" = 1 ] ||
        fail "goal with target $v missing on b: $(q b "SELECT data FROM entities")"
done
integrity a b
echo PASS
