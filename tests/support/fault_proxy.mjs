// fault_proxy.mjs - a fault-injecting HTTP proxy on loopback for the sync tests: each request takes
// the next fault from a schedule (refuse, drop, delay, 500, 429, trunc, pass), then everything
// passes. "drop" and "trunc" let the server apply the request and spoil only the answer, which is
// the hard case for a client (it must replay, not duplicate).
//
//   node fault_proxy.mjs --target HOST:PORT --ready FILE [--faults a,b,c] [--retry-after S]
//                        [--delay-ms MS] [--stats FILE]
// The ready file receives "127.0.0.1:PORT" once listening; the stats file, after every request,
// a JSON object counting the faults injected so far, with each request's fault and arrival time (ms).
import http from 'node:http';
import { writeFileSync, renameSync } from 'node:fs';

const opt = { faults: '', 'retry-after': '1', 'delay-ms': '1500' };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in opt) && !['target', 'ready', 'stats'].includes(k)) {
    console.error(`fault_proxy: unknown option --${k}`);
    process.exit(2);
  }
  opt[k] = process.argv[i + 1];
}
if (!opt.target || !opt.ready) {
  console.error('fault_proxy: --target HOST:PORT and --ready FILE are required');
  process.exit(2);
}
const KINDS = ['refuse', 'drop', 'delay', '500', '429', 'trunc', 'pass'];
const schedule = opt.faults.split(',').filter(Boolean);
for (const f of schedule) {
  if (!KINDS.includes(f)) {
    console.error(`fault_proxy: --faults: unknown fault '${f}' (known: ${KINDS.join(', ')})`);
    process.exit(2);
  }
}
const [thost, tport] = opt.target.split(':');
let next = 0;
const stats = { requests: 0, times: [] };
const note = (f) => {
  stats.requests++;
  stats.times.push([f, Date.now()]);
  stats[f] = (stats[f] ?? 0) + 1;
  if (opt.stats) {
    writeFileSync(`${opt.stats}.tmp`, JSON.stringify(stats));
    renameSync(`${opt.stats}.tmp`, opt.stats);
  }
};

function forward(req, body, done) {
  const headers = { ...req.headers };
  delete headers['accept-encoding']; // answers stay plain so they can be cut at a byte
  headers.host = opt.target;
  const up = http.request({ host: thost, port: Number(tport), method: req.method, path: req.url, headers }, (r) => {
    const parts = [];
    r.on('data', (c) => parts.push(c));
    r.on('end', () => {
      const h = { ...r.headers };
      delete h['transfer-encoding'];
      delete h.connection;
      done(r.statusCode, h, Buffer.concat(parts));
    });
  });
  up.on('error', () => done(502, { 'content-type': 'application/json' },
    Buffer.from('{"errors":[{"message":"proxy: upstream unreachable","extensions":{"code":"BAD_GATEWAY"}}]}')));
  up.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const f = next < schedule.length ? schedule[next++] : 'pass';
    note(f);
    if (f === 'refuse') {
      if (req.socket.resetAndDestroy) req.socket.resetAndDestroy();
      else req.socket.destroy();
      return;
    }
    if (f === '500') {
      res.writeHead(500, { 'content-type': 'application/json', connection: 'close' });
      res.end('{"errors":[{"message":"injected failure","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}');
      return;
    }
    if (f === '429') {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': opt['retry-after'], connection: 'close' });
      res.end('{"errors":[{"message":"slow down","extensions":{"code":"RATE_LIMITED"}}]}');
      return;
    }
    const go = () => forward(req, body, (status, headers, rbody) => {
      if (f === 'drop') {
        // The full length is announced, half is sent, then the connection dies.
        res.writeHead(status, { ...headers, 'content-length': rbody.length, connection: 'close' });
        res.write(rbody.subarray(0, rbody.length >> 1));
        setTimeout(() => res.socket && res.socket.destroy(), 20);
        return;
      }
      if (f === 'trunc') {
        const t = rbody.subarray(0, rbody.length >> 1);
        res.writeHead(status, { ...headers, 'content-length': t.length, connection: 'close' });
        res.end(t);
        return;
      }
      res.writeHead(status, { ...headers, 'content-length': rbody.length });
      res.end(rbody);
    });
    if (f === 'delay') setTimeout(go, Number(opt['delay-ms']));
    else go();
  });
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  writeFileSync(`${opt.ready}.tmp`, `127.0.0.1:${a.port}\n`);
  renameSync(`${opt.ready}.tmp`, opt.ready);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
