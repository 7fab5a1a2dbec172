// server_sigterm.test.mjs - graceful shutdown of etude-syncd: on SIGTERM it stops accepting connections,
// ends event streams, lets the in-flight request finish and commit, closes the database and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { startServer, login, entity, batch, docs, request, openEvents, sqlite, sleep, PG } from './server_lib.mjs';

const inFlight = async (srv) => {
  const m = (await request(`${srv.url}/metrics`)).body.toString();
  return Number(/^etude_syncd_requests_in_flight (\d+)$/m.exec(m)[1]);
};

test('SIGTERM: in-flight upload completes, new connections refused, clean exit', async () => {
  const srv = await startServer({ users: { dana: 'dana-pw' } });
  let sock;
  let events;
  try {
    const tok = await login(srv, 'dana', 'dana-pw');
    events = openEvents(srv, tok.accessToken, 'watcher');
    await events.next((e) => e.event === 'ready');
    const e = entity('practiceSession', { minutes: 42, note: 'in flight at shutdown' });
    const body = Buffer.from(JSON.stringify({ query: docs.UploadBatch, variables: { batch: batch([e], { deviceId: 'slow' }) } }));
    const [port] = srv.addr.split(':').slice(-1);
    sock = net.connect(Number(port), '127.0.0.1');
    await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
    let reply = '';
    sock.on('data', (d) => { reply += d; });
    const closed = new Promise((res) => sock.on('close', res));
    // Headers and half of the body: the request is now in flight.
    const half = Math.floor(body.length / 2);
    sock.write(`POST /graphql HTTP/1.1\r\nHost: ${srv.addr}\r\nContent-Type: application/json\r\n` +
      `Accept: application/graphql-response+json\r\nAuthorization: Bearer ${tok.accessToken}\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    sock.write(body.subarray(0, half));
    // Wait (bounded) until the server counts it: the SSE stream, this upload and the metrics request.
    let n = 0;
    for (let i = 0; i < 400 && (n = await inFlight(srv)) < 3; i++) await sleep(25);
    assert.ok(n >= 3, `in-flight never reached 3 (last ${n})`);
    srv.proc.kill('SIGTERM');
    // The listening socket closes: new connections are refused (bounded wait for the signal to land).
    let refused = false;
    for (let i = 0; i < 400 && !refused; i++) {
      refused = await new Promise((res) => {
        const c = net.connect(Number(port), '127.0.0.1');
        c.once('connect', () => { c.destroy(); res(false); });
        c.once('error', () => res(true));
      });
      if (!refused) await sleep(25);
    }
    assert.ok(refused, 'still accepting connections after SIGTERM');
    // The event stream was ended by the server.
    assert.equal((await events.done).ended, true);
    assert.equal(srv.proc.exitCode, null, 'exited before the in-flight request finished');
    sock.end(body.subarray(half));
    await closed;
    const status = /^HTTP\/1\.1 (\d+)/.exec(reply);
    assert.ok(status, `no HTTP response: ${reply}`);
    assert.equal(status[1], '200', reply);
    const json = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
    assert.equal(json.data.uploadBatch.accepted[0].id, e.id);
    const r = await srv.exited;
    assert.deepEqual(r, { code: 0, signal: null }, srv.log());
    assert.match(srv.log(), /stopped cleanly/);
    // Committed and the database closed cleanly: SQLite checkpoints and removes the WAL on the last close.
    if (!PG) assert.equal(existsSync(`${srv.db}-wal`), false, 'WAL file left behind');
    assert.equal(sqlite(srv.db, `SELECT count(*) FROM entities WHERE id='${e.id}'`), '1');
    if (!PG) assert.equal(sqlite(srv.db, 'PRAGMA integrity_check'), 'ok');
  } finally {
    sock?.destroy();
    events?.close();
    await srv.stop();
  }
});
