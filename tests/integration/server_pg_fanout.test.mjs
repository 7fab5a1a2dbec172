// server_pg_fanout.test.mjs - several etude-syncd processes on one PostgreSQL database act as one
// server for the devices' event streams, the login throttle and the health check:
// - an upload through process B reaches an /events stream on process A as a `changes` event naming
//   the uploading device and B's cursor; a status report through B reaches A as a `status` event;
//   another user's stream on A hears nothing of either;
// - when A's listening connection is ended (pg_terminate_backend), A reconnects, wakes its open
//   streams with a `changes` event at the latest cursor, and hears B's next upload again;
// - failed logins counted through A refuse the next login through B with 429 and Retry-After;
// - the counters' table stays bounded: each failure written deletes up to 32 rows whose window
//   has ended (rows an attacker cycling names left behind);
// - /healthz answers 200 while PostgreSQL is up and 503 (JSON body) once it is stopped, and the
//   processes still end cleanly on SIGTERM.
//   run under tests/support/pg_harness.sh (ETUDE_SYNCD_BACKEND=postgresql)
//
// Checked on main before this change (992caec): the stream on A got no `changes` event within its
// deadline, the throttle case got 200 INVALID_CREDENTIALS through B instead of 429 (and there was
// no login_throttle table to bound), and /healthz answered 200 with PostgreSQL stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, gql, login, entity, batch, sql, sleep, request, openEvents, PG, SRC } from './server_lib.mjs';

const skip = !PG && 'needs ETUDE_SYNCD_BACKEND=postgresql';
const goals = (n) => Array.from({ length: n }, () => entity('goal', { k: randomUUID() }));
const upload = (srv, tok, b) => gql(srv, 'UploadBatch', { batch: b }, { token: tok });

// An event matching pred within ms, or null.
async function within(stream, pred, ms) {
  let timer;
  const t = new Promise((r) => { timer = setTimeout(() => r(null), ms); });
  const ev = await Promise.race([stream.next(pred), t]);
  clearTimeout(timer);
  return ev;
}

const reportDoc = readFileSync(join(SRC, 'sync/schema/operations/ReportSyncStatus.graphql'), 'utf8');
const report = (srv, tok, deviceId) => gql(srv, 'ReportSyncStatus', {
  status: { deviceId, name: null, lastSyncAt: new Date().toISOString(), pending: 0, conflicts: 0, deadLetters: [] },
}, { token: tok, query: reportDoc });

let A, B;
test.before(async () => {
  if (!PG) return;
  A = await startServer({ users: { ann: 'ann-pw', bob: 'bob-pw' }, args: ['--login-failures-per-user', '3', '--login-failures-per-ip', '100', '--login-window', '60'] });
  B = await startServer({ dir: A.dir, args: ['--login-failures-per-user', '3', '--login-failures-per-ip', '100', '--login-window', '60'] });
});
test.after(async () => {
  if (B) await B.stop({ keep: true });
  if (A) await A.stop();
});

test('an upload and a status report through one process reach streams on the other', { skip }, async () => {
  assert.equal(B.db, A.db);
  const ann = (await login(A, 'ann', 'ann-pw')).accessToken;
  const bob = (await login(A, 'bob', 'bob-pw')).accessToken;
  const onA = openEvents(A, ann, 'phone');
  const bobOnA = openEvents(A, bob, 'tablet');
  try {
    assert.ok(await within(onA, (e) => e.event === 'ready', 5000), 'no ready event on A');
    assert.ok(await within(bobOnA, (e) => e.event === 'ready', 5000), 'no ready event for bob on A');
    const r = await upload(B, ann, batch(goals(3), { deviceId: 'laptop' }));
    const res = r.json?.data?.uploadBatch;
    assert.equal(res?.accepted?.length, 3, r.text);
    const ev = await within(onA, (e) => e.event === 'changes', 5000);
    assert.ok(ev, 'the upload through B did not reach the stream on A');
    const data = JSON.parse(ev.data);
    assert.equal(data.deviceId, 'laptop');
    assert.equal(data.count, 3);
    const meta = await gql(A, 'SyncMetadata', {}, { token: ann });
    assert.equal(data.cursor, meta.json.data.syncMetadata.latestCursor, meta.text);
    assert.equal(Number(ev.id), 3);

    const st = await report(B, ann, 'laptop');
    assert.equal(st.json?.data?.reportSyncStatus, true, st.text);
    const sev = await within(onA, (e) => e.event === 'status', 5000);
    assert.ok(sev, 'the status report through B did not reach the stream on A');
    assert.equal(JSON.parse(sev.data).deviceId, 'laptop');

    // A stream of the uploading device itself (on A) hears nothing of its own upload through B.
    const laptopOnA = openEvents(A, ann, 'laptop');
    try {
      assert.ok(await within(laptopOnA, (e) => e.event === 'ready', 5000));
      await upload(B, ann, batch(goals(1), { deviceId: 'laptop' }));
      assert.ok(await within(onA, (e) => e.event === 'changes' && Number(e.id) === 4, 5000), 'second upload not heard on A');
      assert.equal(laptopOnA.events.filter((e) => e.event !== 'ready').length, 0, JSON.stringify(laptopOnA.events));
    } finally { laptopOnA.close(); }
    // Bob heard nothing of ann's uploads and report (the events above came after both reached A).
    assert.deepEqual(bobOnA.events.map((e) => e.event), ['ready'], JSON.stringify(bobOnA.events));
  } finally {
    onA.close();
    bobOnA.close();
  }
});

test('a lost listening connection: reconnected, open streams woken, next upload heard', { skip }, async () => {
  const ann = (await login(A, 'ann', 'ann-pw')).accessToken;
  const onA = openEvents(A, ann, 'phone');
  try {
    assert.ok(await within(onA, (e) => e.event === 'ready', 5000));
    const before = sql(A.db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'etude-syncd listener'");
    assert.equal(before, '2', 'one listener per process');
    // End both listeners' connections, then upload through B while A may still be reconnecting.
    const ended = sql(A.db, "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
      + " WHERE application_name = 'etude-syncd listener') t");
    assert.equal(ended, '2');
    const meta0 = await gql(A, 'SyncMetadata', {}, { token: ann });
    const latest0 = meta0.json.data.syncMetadata.latestCursor;
    // The wake-up: a `changes` event at the latest cursor, from no device.
    const wake = await within(onA, (e) => e.event === 'changes' && JSON.parse(e.data).deviceId === '', 10000);
    assert.ok(wake, `no wake-up after the listener was lost: ${JSON.stringify(onA.events)}\n${A.log()}`);
    assert.equal(JSON.parse(wake.data).cursor, latest0);
    assert.match(A.log(), /connection lost; reconnecting/);
    // Both listen again; an upload through B reaches A.
    for (let i = 0; i < 100; i++) {
      if (sql(A.db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'etude-syncd listener'") === '2') break;
      await sleep(100);
    }
    const r = await upload(B, ann, batch(goals(2), { deviceId: 'desk' }));
    assert.equal(r.json?.data?.uploadBatch?.accepted?.length, 2, r.text);
    const ev = await within(onA, (e) => e.event === 'changes' && JSON.parse(e.data).deviceId === 'desk', 5000);
    assert.ok(ev, 'the upload after the reconnect did not reach A');
    assert.equal(JSON.parse(ev.data).count, 2);
  } finally {
    onA.close();
  }
});

test('failed logins through one process refuse the next try through the other (429, Retry-After)', { skip }, async () => {
  for (let i = 0; i < 3; i++) {
    const r = await gql(A, 'Login', { username: 'bob', password: 'wrong' });
    assert.equal(r.json?.errors?.[0]?.extensions?.code, 'INVALID_CREDENTIALS', r.text);
  }
  const r = await gql(B, 'Login', { username: 'bob', password: 'bob-pw' });
  assert.equal(r.status, 429, r.text);
  const wait = Number(r.headers['retry-after']);
  assert.ok(wait >= 1 && wait <= 60, `Retry-After ${r.headers['retry-after']}`);
  assert.equal(r.json?.errors?.[0]?.extensions?.code, 'RATE_LIMITED');
  // One row per key (user and address), in the shared table.
  assert.equal(sql(A.db, 'SELECT count(*) FROM login_throttle'), '2');
  // Another user is not affected, through either process.
  assert.ok((await login(B, 'ann', 'ann-pw')).accessToken);
});

test('the counters table stays bounded: each failure written purges rows whose window has ended', { skip }, async () => {
  // Rows an attacker cycling user names left behind, their windows long over (unix ms 1000).
  sql(A.db, "INSERT INTO login_throttle(key, window_start, failures) SELECT 'old-' || g, 1000, 1 FROM generate_series(1, 80) g");
  const rows = () => Number(sql(A.db, 'SELECT count(*) FROM login_throttle'));
  const before = rows();
  // A failed login writes two counters (a new name's row, the address's existing one), and each
  // write deletes up to 32 ended rows.
  await gql(A, 'Login', { username: 'late-1', password: 'x' });
  assert.equal(rows(), before - 64 + 1);
  await gql(B, 'Login', { username: 'late-2', password: 'x' });
  assert.equal(sql(A.db, "SELECT count(*) FROM login_throttle WHERE key LIKE 'old-%'"), '0');
  assert.equal(rows(), before - 80 + 2);
});

test('/healthz: 200 with PostgreSQL up, 503 once it is stopped; SIGTERM still prompt', { skip }, async () => {
  for (const s of [A, B]) {
    const r = await request(`${s.url}/healthz`);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).status, 'ok');
  }
  const dir = process.env.ETUDE_PG_HOST;
  const ctl = [join(process.env.ETUDE_PG_BIN, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', '-w', '-t', '20', 'stop'];
  const stop = process.getuid() === 0 ? spawnSync('runuser', ['-u', 'postgres', '--', ...ctl]) : spawnSync(ctl[0], ctl.slice(1));
  assert.equal(stop.status, 0, String(stop.stderr));
  // The answer is cached for at most a second.
  for (const s of [A, B]) {
    let r;
    for (let i = 0; i < 30; i++) {
      r = await request(`${s.url}/healthz`);
      if (r.status === 503) break;
      await sleep(100);
    }
    assert.equal(r.status, 503, String(r.body));
    assert.match(r.headers['content-type'], /^application\/json/);
    const body = JSON.parse(r.body);
    assert.equal(body.status, 'unavailable');
    assert.match(body.reason, /database/);
  }
  // Both processes end on SIGTERM with the database gone (the listener is backing off).
  const [eb, ea] = await Promise.all([B.stop({ keep: true }), A.stop()]);
  B = A = null;
  assert.deepEqual(ea, { code: 0, signal: null }, 'A on SIGTERM');
  assert.deepEqual(eb, { code: 0, signal: null }, 'B on SIGTERM');
});
