// server_pg_concurrency.test.mjs - two etude-syncd processes on one PostgreSQL database serve one
// user correctly: concurrent uploads through both give the user a gap-free, strictly increasing
// change sequence (each batch's sequences contiguous), the same batch id sent to both at once is
// applied once (the other answer is the replay of the first), and a token issued by one process is
// valid on the other, whose pages and cursors agree.
//   run under tests/support/pg_harness.sh (ETUDE_SYNCD_BACKEND=postgresql)
//
// Checked against a mutant of the store without the user's counter row lock (SELECT ... FOR
// UPDATE) and without the retry of a batch that another process committed meanwhile: the same
// batch id sent to both processes then fails one of the two with INTERNAL_SERVER_ERROR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startServer, gql, login, entity, batch, sql, PG } from './server_lib.mjs';

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
  } finally {
    if (s2) await s2.stop({ keep: true });
    await s1.stop();
  }
});
