// server_restore.test.mjs - etude-syncd against a restored database, clocks and token refresh races:
// cursors carry the server epoch and the tag of the batch that assigned their sequence, every
// /graphql answer carries extensions.serverTimeMs, timestamps far ahead are refused per entity,
// a refresh token used twice at once gives both callers the same new pair, database files are 0600.
//
// Each test below was run against the etude-syncd of fd82c7f (ETUDE_SYNCD pointing at a build of
// that commit) and failed there as its comment says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFileSync, statSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, gql, login, entity, batch, request, sleep, sql, BIN, PG, pgBackup, pgRestore } from './server_lib.mjs';

const code = (r) => r.json?.errors?.[0]?.extensions?.code;
const upload = (srv, tok, ents, opts) => gql(srv, 'UploadBatch', { batch: batch(ents, opts) }, { token: tok });
const changes = (srv, tok, since, limit = 100) => gql(srv, 'SyncChanges', { since, limit }, { token: tok });
const goals = (n) => Array.from({ length: n }, () => entity('goal', { k: randomUUID() }));

async function pullAll(srv, tok) {
  let since = null;
  const ids = [];
  for (;;) {
    const p = (await changes(srv, tok, since)).json.data.syncChanges;
    ids.push(...p.changes.map((c) => c.id));
    since = p.cursor;
    if (!p.hasMore) return { ids, cursor: since };
  }
}

// Fails on fd82c7f: the response has no "extensions" at all.
test('every /graphql JSON answer carries extensions.serverTimeMs', async () => {
  const srv = await startServer({ users: { ann: 'ann-pw' } });
  try {
    const near = (r, what) => {
      const t = r.json?.extensions?.serverTimeMs;
      assert.ok(Number.isInteger(t), `${what}: ${r.text}`);
      assert.ok(Math.abs(t - Date.now()) < 60000, `${what}: ${t}`);
    };
    const ok = await gql(srv, 'Login', { username: 'ann', password: 'ann-pw' });
    near(ok, 'login');
    const tok = ok.json.data.login.accessToken;
    near(await gql(srv, 'Login', { username: 'ann', password: 'wrong' }), 'field error');
    near(await gql(srv, 'SyncMetadata', {}), '401');
    near(await gql(srv, 'SyncMetadata', {}, { token: tok }), 'metadata');
    near(await gql(srv, 'SyncChanges', { since: null, limit: 5 }, { token: tok, acceptGzip: true }), 'changes');
    near(await upload(srv, tok, goals(2)), 'upload');
    near(await gql(srv, 'SyncMetadata', {}, { raw: '{not json' }), '400');
    near(await gql(srv, 'SyncMetadata', {}, { raw: '{}', headers: { 'content-type': 'text/plain' } }), '415');
    near(await gql(srv, 'SyncMetadata', {}, { token: tok, accept: 'application/json' }), 'application/json');
  } finally { await srv.stop(); }
});

// Fails on fd82c7f: the cursor ahead of the restored sequence gets an empty page and no error, so
// the device believes it is in sync while the server lost its changes.
test('a restored database: cursors ahead, reassigned or of another epoch are INVALID_CURSOR', async () => {
  const srv = await startServer({ users: { ann: 'ann-pw' } });
  const { dir, db } = srv;
  let s2;
  try {
    let tok = (await login(srv, 'ann', 'ann-pw')).accessToken;
    await upload(srv, tok, goals(3));
    const before = await pullAll(srv, tok); // cursor at sequence 3, inside the backup
    assert.equal(before.ids.length, 3);
    await srv.stop({ keep: true });
    let backup = join(dir, 'backup.db');
    if (PG) backup = pgBackup(db, `${db.match(/\/\/\/(\w+)/)[1]}_backup`);
    else copyFileSync(db, backup);

    s2 = await startServer({ dir });
    tok = (await login(s2, 'ann', 'ann-pw')).accessToken;
    await upload(s2, tok, goals(3));
    const after = await pullAll(s2, tok); // cursor at sequence 6, lost by the restore
    assert.equal(after.ids.length, 6);
    await s2.stop({ keep: true });

    // The operator restores the backup (without new-epoch, to show the automatic detection).
    if (PG) {
      pgRestore(backup, db);
    } else {
      copyFileSync(backup, db);
      for (const x of ['-wal', '-shm']) rmSync(db + x, { force: true });
    }
    s2 = await startServer({ dir });
    tok = (await login(s2, 'ann', 'ann-pw')).accessToken;
    let r = await changes(s2, tok, after.cursor);
    assert.equal(code(r), 'INVALID_CURSOR', r.text);
    assert.equal(r.json.data.syncChanges, null);
    assert.match(r.json.errors[0].message, /ahead/);
    // A cursor from before the backup still works.
    r = await changes(s2, tok, before.cursor);
    assert.deepEqual(r.json.data.syncChanges.changes, []);
    // New changes reuse sequences 4..7: the lost cursor's sequence exists again, but was assigned
    // by another batch, and is still refused.
    await upload(s2, tok, goals(4));
    r = await changes(s2, tok, after.cursor);
    assert.equal(code(r), 'INVALID_CURSOR', r.text);
    assert.match(r.json.errors[0].message, /assigned differently/);
    const good = (await changes(s2, tok, before.cursor)).json.data.syncChanges;
    assert.equal(good.changes.length, 4);
    await s2.stop({ keep: true });

    // The documented procedure: new-epoch after the restore; every earlier cursor is refused.
    const ne = spawnSync(BIN, ['db', 'new-epoch', '--db', db], { encoding: 'utf8' });
    assert.equal(ne.status, 0, ne.stderr);
    assert.match(ne.stderr, /new epoch [0-9a-f]{16}/);
    s2 = await startServer({ dir });
    tok = (await login(s2, 'ann', 'ann-pw')).accessToken;
    for (const c of [before.cursor, good.cursor]) {
      r = await changes(s2, tok, c);
      assert.equal(code(r), 'INVALID_CURSOR', r.text);
      assert.match(r.json.errors[0].message, /another server epoch/);
    }
    // A full pull from the beginning works and its cursor is valid.
    const full = await pullAll(s2, tok);
    assert.equal(full.ids.length, 7);
    assert.deepEqual((await changes(s2, tok, full.cursor)).json.data.syncChanges.changes, []);
    const meta = (await gql(s2, 'SyncMetadata', {}, { token: tok })).json.data.syncMetadata;
    assert.equal(meta.latestCursor, full.cursor);
  } finally {
    if (s2) await s2.stop();
    else await srv.stop();
  }
});

test('db new-epoch: a missing database or a bad flag is one line and status 2', () => {
  let r = spawnSync(BIN, ['db', 'new-epoch', '--db', '/nonexistent-dir/x.db'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^etude-syncd: db new-epoch: --db \/nonexistent-dir\/x\.db: No such file/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  r = spawnSync(BIN, ['db', 'new-epoch', '--bogus'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /'--bogus'/);
  r = spawnSync(BIN, ['db', 'rewind'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
});

// Fails on fd82c7f: the entity stamped 11 minutes ahead is accepted.
test('timestamps more than 10 minutes ahead of the server clock are rejected per entity', async () => {
  const srv = await startServer({ users: { ann: 'ann-pw' } });
  try {
    const tok = (await login(srv, 'ann', 'ann-pw')).accessToken;
    const at = (ms) => new Date(Date.now() + ms).toISOString();
    const ok = entity('goal', { k: 1 }, { createdAt: at(0), updatedAt: at(5 * 60000) });
    const ahead = entity('goal', { k: 2 }, { createdAt: at(0), updatedAt: at(11 * 60000) });
    const made = entity('goal', { k: 3 }, { createdAt: at(3 * 3600000), updatedAt: at(3 * 3600000) });
    const del = entity('goal', { k: 4 }, { deletedAt: at(20 * 60000) });
    const res = (await upload(srv, tok, [ok, ahead, made, del])).json.data.uploadBatch;
    assert.deepEqual(res.accepted.map((a) => a.id), [ok.id]);
    assert.deepEqual(res.rejected.map((x) => [x.index, x.id, x.field]),
      [[1, ahead.id, 'updatedAt'], [2, made.id, 'createdAt'], [3, del.id, 'deletedAt']]);
    assert.match(res.rejected[0].reason, /ahead of the clock/);
  } finally { await srv.stop(); }
  // The server's own clock decides: one an hour behind refuses what is "now" for the device.
  process.env.ETUDE_TEST_CLOCK_SKEW_MS = String(-3600000);
  const slow = await startServer({ users: { ann: 'ann-pw' } });
  delete process.env.ETUDE_TEST_CLOCK_SKEW_MS;
  try {
    const r = await gql(slow, 'Login', { username: 'ann', password: 'ann-pw' });
    assert.ok(Math.abs(r.json.extensions.serverTimeMs - (Date.now() - 3600000)) < 60000);
    const res = (await upload(slow, r.json.data.login.accessToken, goals(1))).json.data.uploadBatch;
    assert.equal(res.rejected[0]?.field, 'createdAt');
  } finally { await slow.stop(); }
});

// Fails on fd82c7f: one of the two concurrent refreshes gets INVALID_REFRESH_TOKEN.
test('two concurrent refreshes of one token both succeed with the same pair; reuse after the grace window fails', async () => {
  const srv = await startServer({ users: { ann: 'ann-pw' } });
  try {
    for (let round = 0; round < 5; round++) {
      const s = await login(srv, 'ann', 'ann-pw');
      const [a, b] = await Promise.all([0, 1].map(() => gql(srv, 'RefreshToken', { refreshToken: s.refreshToken })));
      assert.equal(a.json.data?.refreshToken?.user.name, 'ann', a.text);
      assert.equal(b.json.data?.refreshToken?.user.name, 'ann', b.text);
      assert.deepEqual(a.json.data.refreshToken, b.json.data.refreshToken);
      const meta = await gql(srv, 'SyncMetadata', {}, { token: b.json.data.refreshToken.accessToken });
      assert.equal(meta.status, 200);
    }
  } finally { await srv.stop(); }
  const short = await startServer({ users: { ann: 'ann-pw' }, args: ['--refresh-grace', '2'] });
  try {
    const srv = short;
    const s = await login(srv, 'ann', 'ann-pw');
    const n = (await gql(srv, 'RefreshToken', { refreshToken: s.refreshToken })).json.data.refreshToken;
    await sleep(2500);
    const late = await gql(srv, 'RefreshToken', { refreshToken: s.refreshToken });
    assert.equal(code(late), 'INVALID_REFRESH_TOKEN');
    // The pair handed out stays valid.
    assert.equal((await gql(srv, 'SyncMetadata', {}, { token: n.accessToken })).status, 200);
  } finally { await short.stop(); }
});

// Fails on fd82c7f: the database is created 0644 (umask 022).
test('database files are created 0600', { skip: PG && 'SQLite files only (PostgreSQL keeps its own files)' }, async () => {
  const srv = await startServer({ users: { ann: 'ann-pw' } });
  try {
    const tok = (await login(srv, 'ann', 'ann-pw')).accessToken;
    await upload(srv, tok, goals(1));
    for (const f of [srv.db, `${srv.db}-wal`, `${srv.db}-shm`]) {
      assert.ok(existsSync(f), f);
      assert.equal((statSync(f).mode & 0o777).toString(8), '600', f);
    }
    assert.equal((await request(`${srv.url}/healthz`)).status, 200);
  } finally { await srv.stop(); }
});

// Session rows do not pile up: one whose tokens both expired more than a day ago is removed at the
// next login (or refresh) of any user; a live one, and one expired less than a day ago, stay.
// Fails on 1e0acbd, where every session row ever made stayed (3 rows after the last login, not 2).
test('sessions dead for more than a day are purged at a login; live ones stay', async () => {
  let srv = await startServer({ users: { ann: 'ann-pw' }, args: ['--token-ttl', '30', '--refresh-ttl', '60'] });
  const { dir } = srv;
  try {
    await login(srv, 'ann', 'ann-pw'); // both tokens dead a minute from now
    await srv.stop({ keep: true });
    srv = await startServer({ dir });
    const live = await login(srv, 'ann', 'ann-pw'); // the default refresh lifetime: days
    await srv.stop({ keep: true });
    const ids = () => sql(srv.db, 'SELECT id FROM sessions ORDER BY id').split('\n').filter(Boolean).map(Number);
    const [dead, kept] = ids();
    assert.equal(ids().length, 2);
    // A day and a half later by this server's clock.
    process.env.ETUDE_TEST_CLOCK_SKEW_MS = String(36 * 3600000);
    try {
      srv = await startServer({ dir });
    } finally {
      delete process.env.ETUDE_TEST_CLOCK_SKEW_MS;
    }
    await login(srv, 'ann', 'ann-pw');
    const after = ids();
    assert.equal(after.length, 2, `rows after the login: ${after}`);
    assert.ok(!after.includes(dead), 'the dead session is gone');
    assert.ok(after.includes(kept), 'the live session stays');
    // and the live one still works: its refresh token rotates (that row then waits out its grace)
    const r = await gql(srv, 'RefreshToken', { refreshToken: live.refreshToken });
    assert.equal(r.json.data?.refreshToken?.user.name, 'ann', r.text);
  } finally { await srv.stop(); }
});
