// bench_sync_load_hold.mjs - the hostile half of bench_sync_load: holds IDLE idle TCP connections
// and SSE event streams of one user open against etude-syncd on loopback, and asks /healthz every
// 250 ms the whole time. Stops by itself after MAX_SECONDS, or on SIGTERM; then writes a JSON
// summary to OUT. Writes READY once everything is open.
//
// usage: node bench_sync_load_hold.mjs URL USER PASSWORD IDLE SSE READY OUT MAX_SECONDS
import net from 'node:net';
import http from 'node:http';
import { writeFileSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const [url, user, password, idleN, sseN, readyFile, outFile, maxSeconds] = process.argv.slice(2);
const u = new URL(url);
const host = u.hostname;
const port = Number(u.port);
const here = dirname(fileURLToPath(import.meta.url));
const loginDoc = readFileSync(join(here, '../../sync/schema/operations/Login.graphql'), 'utf8');

const idle = [];
const streams = [];
let events = 0;
const health = { ok: 0, failed: 0, maxMs: 0, samples: [] };
let stopping = false;

function post(path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', accept: 'application/json' } }, (res) => {
      let t = '';
      res.on('data', (d) => { t += d; });
      res.on('end', () => resolve(JSON.parse(t)));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function openIdle(localAddress) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress });
    s.open = false;
    s.on('connect', () => { s.open = true; resolve(); });
    s.on('error', () => resolve());
    s.on('close', () => { s.open = false; resolve(); });
    idle.push(s);
  });
}

function openStream(token, i) {
  return new Promise((resolve) => {
    const req = http.request({ host, port, path: `/events?deviceId=hold-${i}`, agent: false,
      localAddress: `127.0.0.${10 + (i % 8)}`, headers: { authorization: `Bearer ${token}` } }, (res) => {
      req.open = res.statusCode === 200;
      res.setEncoding('utf8');
      res.on('data', (d) => {
        for (const line of d.split('\n')) if (line.startsWith('event: ')) { events++; if (line === 'event: ready') resolve(); }
      });
      res.on('end', () => { req.open = false; resolve(); });
      res.on('error', () => { req.open = false; resolve(); });
      if (res.statusCode !== 200) resolve();
    });
    req.on('error', () => { req.open = false; resolve(); });
    req.end();
    streams.push(req);
  });
}

function healthz() {
  const t0 = process.hrtime.bigint();
  const req = http.get({ host, port, path: '/healthz', agent: false, timeout: 5000 }, (res) => {
    res.resume();
    res.on('end', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (res.statusCode === 200) health.ok++; else health.failed++;
      health.maxMs = Math.max(health.maxMs, ms);
      health.samples.push(ms);
    });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => { health.failed++; });
}

function finish() {
  if (stopping) return;
  stopping = true;
  health.samples.sort((a, b) => a - b);
  const p = (q) => health.samples.length ? health.samples[Math.min(health.samples.length - 1, Math.floor(q * health.samples.length))] : null;
  writeFileSync(outFile, JSON.stringify({
    idleOpen: idle.filter((s) => s.open).length, idleWanted: Number(idleN),
    streamsOpen: streams.filter((s) => s.open).length, streamsWanted: Number(sseN), events,
    healthzOk: health.ok, healthzFailed: health.failed, healthzP50Ms: p(0.5), healthzMaxMs: health.maxMs,
  }));
  for (const s of idle) s.destroy();
  for (const s of streams) s.destroy();
  process.exit(0);
}
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
setTimeout(finish, Number(maxSeconds) * 1000).unref();

const r = await post('/graphql', { query: loginDoc, variables: { username: user, password } });
const token = r.data.login.accessToken;
// Spread over 127.0.0.2-9 so no single source port range runs out.
const jobs = [];
for (let i = 0; i < Number(idleN); i++) {
  jobs.push(openIdle(`127.0.0.${2 + (i % 8)}`));
  if (jobs.length % 200 === 0) await Promise.all(jobs.splice(0));
}
await Promise.all(jobs);
for (let i = 0; i < Number(sseN); i += 50)
  await Promise.all(Array.from({ length: Math.min(50, Number(sseN) - i) }, (_, k) => openStream(token, i + k)));
setInterval(healthz, 250);
writeFileSync(readyFile, `${idle.filter((s) => s.open).length} ${streams.filter((s) => s.open).length}\n`);
