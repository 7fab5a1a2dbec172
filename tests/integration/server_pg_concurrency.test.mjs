// server_pg_concurrency.test.mjs - two etude-syncd processes on one PostgreSQL database serve one
// user correctly: concurrent uploads through both give the user a gap-free, strictly increasing
// change sequence (each batch's sequences contiguous), the same batch id sent to both at once is
// applied once (the other answer is the replay of the first), and a token issued by one process is
// valid on the other, whose pages and cursors agree; a refresh token rotated by both at once gives
// both callers the same pair. An upload that the database ends with a deadlock is run again and
// applied once.
//   run under tests/support/pg_harness.sh (ETUDE_SYNCD_BACKEND=postgresql)
//
// Checked against a mutant of the store without the user's counter row lock (SELECT ... FOR NO
// KEY UPDATE) and without the retry of a batch that another process committed meanwhile: the same
// batch id sent to both processes then fails one of the two with INTERNAL_SERVER_ERROR. The deadlock
// test fails with TX_ATTEMPTS 1 (no retry): the upload answers INTERNAL_SERVER_ERROR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startServer, gql, login, entity, batch, sql, sleep, PG } from './server_lib.mjs';

const goals = (n) => Array.from({ length: n }, () => entity('goal', { k: randomUUID() }));
const upload = (srv, tok, b) => gql(srv, 'UploadBatch', { batch: b }, { token: tok });

test('two processes, one PostgreSQL: sequences gap-free, batch ids applied once, tokens shared', { skip: !PG && 'needs ETUDE_SYNCD_BACKEND=postgresql' }, async () => {
  const s1 = await startServer({ users: { ann: 'ann-pw', bob: 'bob-pw' } });
  let s2;
  try {
    s2 = await startServer({ dir: s1.dir });
    assert.equal(s2.db, s1.db);
    const both = [s1, s2];
    const tok = (await login(s1, 'ann', 'ann-pw')).accessToken;
    const tokBob = (await login(s2, 'bob', 'bob-pw')).accessToken;
    // A token from one process works on the other.
    const meta2 = await gql(s2, 'SyncMetadata', {}, { token: tok });
    assert.equal(meta2.json?.data?.syncMetadata?.user?.name, 'ann', meta2.text);

    // 40 batches of 5 from 20 devices, all in flight at once, alternating between the processes,
    // with bob's uploads interleaved (his sequence is his own).
    const BATCHES = 40, SIZE = 5;
    const sent = [];
    for (let i = 0; i < BATCHES; i++) {
      const b = batch(goals(SIZE), { deviceId: `dev-${i % 20}`, mutationSeq: 1 + Math.floor(i / 20) });
      sent.push(b);
    }
    // Same device's second batch must come after its first: send in two waves of 20 devices.
    for (const wave of [sent.slice(0, 20), sent.slice(20)]) {
      const rs = await Promise.all([
        ...wave.map((b, i) => upload(both[i % 2], tok, b)),
        ...wave.slice(0, 6).map((_, i) => upload(both[(i + 1) % 2], tokBob, batch(goals(2), { deviceId: `bob-${i}` }))),
      ]);
      for (const r of rs) {
        const res = r.json?.data?.uploadBatch;
        assert.ok(res, r.text);
        assert.equal(res.accepted.length, res.batchId && sent.some((b) => b.batchId === res.batchId) ? SIZE : 2, r.text);
        assert.equal(res.replayed, false);
      }
    }
    const N = BATCHES * SIZE;
    const uid = sql(s1.db, "SELECT id FROM users WHERE name='ann'");
    const seqs = sql(s1.db, `SELECT server_seq FROM entities WHERE user_id=${uid} ORDER BY server_seq`).split('\n').map(Number);
    assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => i + 1), 'ann\'s sequence is not 1..N');
    assert.equal(Number(sql(s1.db, `SELECT seq FROM users WHERE id=${uid}`)), N);
    // Each batch holds one contiguous run, and the runs tile 1..N.
    const runs = sql(s1.db, `SELECT first_seq, last_seq FROM batches WHERE user_id=${uid} ORDER BY first_seq`)
      .split('\n').map((l) => l.split('|').map(Number));
    assert.equal(runs.length, BATCHES);
    let next = 1;
    for (const [f, l] of runs) {
      assert.equal(f, next);
      assert.equal(l - f + 1, SIZE);
      next = l + 1;
    }
    assert.equal(sql(s1.db, "SELECT seq FROM users WHERE name='bob'"), '24');

    // The same batch id to both processes at once, ten times: applied once, the other a replay.
    for (let round = 0; round < 10; round++) {
      const b = batch(goals(3), { deviceId: 'twin', mutationSeq: round + 1 });
      const [a, c] = await Promise.all([upload(s1, tok, b), upload(s2, tok, b)]);
      const ra = a.json?.data?.uploadBatch, rc = c.json?.data?.uploadBatch;
      assert.ok(ra && rc, `${a.text}\n${c.text}`);
      assert.deepEqual([ra.replayed, rc.replayed].sort(), [false, true]);
      assert.deepEqual(ra.accepted, rc.accepted);
    }
    assert.equal(Number(sql(s1.db, `SELECT seq FROM users WHERE id=${uid}`)), N + 30);
    assert.equal(Number(sql(s1.db, `SELECT count(*) FROM entities WHERE user_id=${uid}`)), N + 30);

    // Pages through either process agree; a cursor from one is valid on the other.
    const pull = async (first, second) => {
      const ids = [];
      let since = null, k = 0;
      for (;;) {
        const p = (await gql(k++ % 2 ? second : first, 'SyncChanges', { since, limit: 37 }, { token: tok })).json.data.syncChanges;
        ids.push(...p.changes.map((x) => x.id));
        since = p.cursor;
        if (!p.hasMore) return { ids, since };
      }
    };
    const p1 = await pull(s1, s2), p2 = await pull(s2, s1);
    assert.equal(p1.ids.length, N + 30);
    assert.deepEqual(p1.ids, p2.ids);
    assert.equal(p1.since, p2.since);

    // One refresh token rotated through both processes at once: both get the same new pair.
    for (let round = 0; round < 3; round++) {
      const s = await login(s1, 'ann', 'ann-pw');
      const [a, b] = await Promise.all([s1, s2].map((srv) => gql(srv, 'RefreshToken', { refreshToken: s.refreshToken })));
      assert.ok(a.json?.data?.refreshToken && b.json?.data?.refreshToken, `${a.text}\n${b.text}`);
      assert.deepEqual(a.json.data.refreshToken, b.json.data.refreshToken);
    }
  } finally {
    if (s2) await s2.stop({ keep: true });
    await s1.stop();
  }
});

test('an upload the database ends with a deadlock is tried again and applied once', { skip: !PG && 'needs ETUDE_SYNCD_BACKEND=postgresql' }, async () => {
  const srv = await startServer({ users: { ann: 'ann-pw' } });
  let psql;
  try {
    const tok = (await login(srv, 'ann', 'ann-pw')).accessToken;
    const uid = sql(srv.db, "SELECT id FROM users WHERE name='ann'");
    // Another session holds the device's row (not committed; its foreign key takes a key-share
    // lock on ann's row, which the upload's lock does not wait for), so the upload, which holds
    // ann's counter row, waits for it at the end; then that session asks for ann's counter row: a
    // deadlock, which PostgreSQL resolves by ending the upload's transaction (the one that waited
    // longest notices it after deadlock_timeout, 1 s).
    const bin = process.env.ETUDE_PG_BIN ? join(process.env.ETUDE_PG_BIN, 'psql') : 'psql';
    psql = spawn(bin, ['-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', srv.db], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    psql.stdout.on('data', (d) => { out += d; });
    psql.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((r) => psql.on('exit', r));
    psql.stdin.write(`BEGIN; INSERT INTO devices(user_id, device_id, last_seq) VALUES(${uid}, 'dl-dev', 0); SELECT 'held';\n`);
    for (let i = 0; !out.includes('held'); i++) {
      assert.ok(i < 100, `psql: ${out}`);
      await sleep(50);
    }
    const b = batch(goals(3), { deviceId: 'dl-dev', mutationSeq: 1 });
    const pending = gql(srv, 'UploadBatch', { batch: b }, { token: tok });
    await sleep(300); // the upload is waiting for the device's row
    psql.stdin.write(`SELECT seq FROM users WHERE id=${uid} FOR UPDATE; SELECT pg_sleep(0.3); COMMIT;\n`);
    psql.stdin.end();
    const r = await pending;
    await exited;
    const res = r.json?.data?.uploadBatch;
    assert.ok(res, r.text);
    assert.equal(res.accepted.length, 3);
    assert.equal(res.replayed, false);
    assert.match(srv.log() + out, /uploadBatch: attempt 1 of 5 ended by the database \(.*deadlock.*\); trying again/);
    assert.equal(sql(srv.db, `SELECT seq FROM users WHERE id=${uid}`), '3');
    assert.equal(sql(srv.db, `SELECT last_seq FROM devices WHERE user_id=${uid} AND device_id='dl-dev'`), '1');
    // The replay answers the same.
    const again = (await gql(srv, 'UploadBatch', { batch: b }, { token: tok })).json.data.uploadBatch;
    assert.equal(again.replayed, true);
    assert.deepEqual(again.accepted, res.accepted);
  } finally {
    psql?.kill();
    await srv.stop();
  }
});
