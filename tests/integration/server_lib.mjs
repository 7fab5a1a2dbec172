// server_lib.mjs - test harness for etude-syncd: starts a real server on a free loopback port in its own
// temp dir, speaks GraphQL over HTTP to it, and stops it whatever happens.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';

export const BIN = process.env.ETUDE_SYNCD;
export const SRC = process.env.ETUDE_SOURCE_DIR;
if (!BIN || !SRC) throw new Error('set ETUDE_SYNCD (the binary) and ETUDE_SOURCE_DIR (the checkout)');

// The store's backend under test: ETUDE_SYNCD_BACKEND=postgresql (set by tests/support/pg_harness.sh
// with ETUDE_PG_HOST/PORT/USER of its private PostgreSQL) gives each server a new database of that
// cluster; anything else, a SQLite file in the server's temp dir.
export const BACKEND = process.env.ETUDE_SYNCD_BACKEND === 'postgresql' ? 'postgresql' : 'sqlite';
export const PG = BACKEND === 'postgresql';
const pgBin = (p) => (process.env.ETUDE_PG_BIN ? join(process.env.ETUDE_PG_BIN, p) : p);
if (PG && !(process.env.ETUDE_PG_HOST && process.env.ETUDE_PG_PORT)) throw new Error('ETUDE_SYNCD_BACKEND=postgresql needs tests/support/pg_harness.sh');
let dbCount = 0;
const dbOfDir = new Map();

// The --db of a server in dir: dir/syncd.db, or a new PostgreSQL database (the same one for the same dir).
export function newDatabase(dir) {
  if (!PG) return join(dir, 'syncd.db');
  if (dbOfDir.has(dir)) return dbOfDir.get(dir);
  const name = `etude_${process.pid}_${++dbCount}`;
  const { ETUDE_PG_HOST: host, ETUDE_PG_PORT: port, ETUDE_PG_USER: user = 'postgres' } = process.env;
  const r = spawnSync(pgBin('psql'), ['-X', '-q', '-h', host, '-p', port, '-U', user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1',
    '-c', `CREATE DATABASE ${name}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`CREATE DATABASE ${name}: ${r.stderr}`);
  const uri = `postgresql:///${name}?host=${host}&port=${port}&user=${user}`;
  dbOfDir.set(dir, uri);
  return uri;
}

const pgName = (uri) => new URL(uri.replace(/^postgres(ql)?:/, 'http:').replace('///', '//x/')).pathname.slice(1);
function pgAdmin(query) {
  const { ETUDE_PG_HOST: host, ETUDE_PG_PORT: port, ETUDE_PG_USER: user = 'postgres' } = process.env;
  const r = spawnSync(pgBin('psql'), ['-X', '-q', '-h', host, '-p', port, '-U', user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1',
    '-c', query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${query}: ${r.stderr}`);
}
// PostgreSQL's file copy of a stopped server's database: a backup named name (returns its URI),
// and the restore of one over another (the target is dropped and made again from the backup).
export function pgBackup(uri, name) {
  pgAdmin(`CREATE DATABASE ${name} TEMPLATE ${pgName(uri)}`);
  return uri.replace(`///${pgName(uri)}?`, `///${name}?`);
}
export function pgRestore(backupUri, uri) {
  pgAdmin(`DROP DATABASE ${pgName(uri)} WITH (FORCE)`);
  pgAdmin(`CREATE DATABASE ${pgName(uri)} TEMPLATE ${pgName(backupUri)}`);
}

export const docs = {};
for (const n of ['Login', 'Logout', 'RefreshToken', 'SyncChanges', 'SyncMetadata', 'UploadBatch'])
  docs[n] = readFileSync(join(SRC, 'sync/schema/operations', `${n}.graphql`), 'utf8');
export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

const live = new Set();
function killAll() { for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } } }
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(1); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

// Starts etude-syncd with users {name: password}; returns {url, addr, dir, db, proc, stop(), log()}.
export async function startServer({ users = {}, args = [], dir } = {}) {
  dir = dir ?? mkdtempSync(join(tmpdir(), 'etude-syncd-test-'));
  const db = newDatabase(dir);
  for (const [name, pw] of Object.entries(users)) {
    const r = spawnSync(BIN, ['user', 'add', name, '--password-stdin', '--db', db], { input: `${pw}\n` });
    if (r.status !== 0) throw new Error(`user add ${name}: ${r.stderr}`);
  }
  const ready = join(dir, `ready-${Date.now()}-${Math.random()}`);
  let stderr = '';
  const proc = spawn(BIN, ['--listen', '127.0.0.1:0', '--db', db, '--ready-file', ready, '--exit-with-parent', ...args],
    { stdio: ['ignore', 'inherit', 'pipe'] });
  proc.stderr.on('data', (d) => { stderr += d; });
  live.add(proc);
  const exited = new Promise((res) => proc.on('exit', (code, signal) => { live.delete(proc); res({ code, signal }); }));
  for (let i = 0; !existsSync(ready); i++) {
    if (proc.exitCode !== null || i > 600) {
      proc.kill('SIGKILL');
      throw new Error(`etude-syncd did not start: ${stderr}`);
    }
    await sleep(50);
  }
  const addr = readFileSync(ready, 'utf8').trim();
  const s = {
    addr, dir, db, proc, exited, url: `http://${addr}`,
    log: () => stderr,
    async stop({ keep = false } = {}) {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const r = await exited;
      if (!keep) rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
  return s;
}

// Raw HTTP request: returns {status, headers, body (Buffer)}.
export function request(url, { method = 'GET', headers = {}, body, agentOpts } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method, headers, agent: false, ...agentOpts }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${agentOpts?.timeout} ms`)));
    if (body !== undefined) req.end(body); else req.end();
  });
}

// One GraphQL-over-HTTP call. opts: token, accept, gzip (compress body), acceptGzip, hashOnly, raw (body), headers.
export async function gql(server, op, variables, opts = {}) {
  const headers = {
    'content-type': 'application/json',
    accept: opts.accept ?? 'application/graphql-response+json',
    ...(opts.headers ?? {}),
  };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.acceptGzip) headers['accept-encoding'] = 'gzip';
  let payload = opts.raw;
  if (payload === undefined) {
    const env = { operationName: op, variables };
    if (opts.hashOnly) env.extensions = { persistedQuery: { version: 1, sha256Hash: sha256(docs[op]) } };
    else env.query = opts.query ?? docs[op];
    payload = JSON.stringify(env);
  }
  let body = Buffer.from(payload);
  if (opts.gzip) { body = zlib.gzipSync(body); headers['content-encoding'] = 'gzip'; }
  const agentOpts = {};
  if (opts.localAddress) agentOpts.localAddress = opts.localAddress;
  if (opts.timeout) agentOpts.timeout = opts.timeout;
  const res = await request(`${server.url}/graphql`, { method: 'POST', headers, body, agentOpts });
  let text = res.body;
  if (res.headers['content-encoding'] === 'gzip') text = zlib.gunzipSync(text);
  text = text.toString('utf8');
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

export async function login(server, username, password) {
  const r = await gql(server, 'Login', { username, password });
  if (r.status !== 200 || !r.json?.data?.login) throw new Error(`login ${username}: ${r.status} ${r.text}`);
  return r.json.data.login;
}

// Canonical JSON as the server computes it: object keys sorted by byte order, no whitespace.
export function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function entity(type, data, extra = {}) {
  const now = new Date().toISOString();
  return {
    id: randomUUID(), localId: null, entityType: type, createdAt: now, updatedAt: now, deletedAt: null,
    baseVersion: 0, checksum: sha256(canonical(data)), data, ...extra,
  };
}

let seqCounter = 0;
export function batch(entities, { deviceId = 'dev-a', batchId = randomUUID(), mutationSeq } = {}) {
  return { batchId, deviceId, mutationSeq: mutationSeq ?? ++seqCounter, entities };
}

// Reads Server-Sent Events: returns {events (array), next(pred) promise, close()}.
export function openEvents(server, token, deviceId) {
  const u = new URL(`${server.url}/events${deviceId ? `?deviceId=${encodeURIComponent(deviceId)}` : ''}`);
  const events = [];
  const waiters = [];
  let buf = '';
  let req;
  const done = new Promise((resolve, reject) => {
    req = http.request(u, { headers: token ? { authorization: `Bearer ${token}` } : {}, agent: false }, (res) => {
      if (res.statusCode !== 200) { resolve({ status: res.statusCode }); res.resume(); return; }
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { event: 'message', data: '' };
          let hasField = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const m = /^([a-z]+): ?(.*)$/.exec(line);
            if (!m) continue;
            hasField = true;
            if (m[1] === 'data') ev.data += m[2]; else ev[m[1]] = m[2];
          }
          if (!hasField) continue;
          events.push(ev);
          for (const w of [...waiters]) if (w.pred(ev)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(ev); }
        }
      });
      res.on('end', () => resolve({ status: 200, ended: true }));
      res.on('error', () => resolve({ status: 200, ended: true }));
    });
    req.on('error', reject);
    req.end();
  });
  return {
    events, done,
    next(pred = () => true) {
      const have = events.find(pred);
      if (have) return Promise.resolve(have);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    close() { req.destroy(); },
  };
}

// One SQL statement on a server's database (sqlite3 or psql): rows as lines, fields joined by |.
export function sql(db, query) {
  const r = PG
    ? spawnSync(pgBin('psql'), ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', query], { encoding: 'utf8' })
    : spawnSync('sqlite3', [db, query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${PG ? 'psql' : 'sqlite3'}: ${r.stderr}`);
  return r.stdout.trim();
}
export const sqlite = sql;
