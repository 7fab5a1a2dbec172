// seed.mjs - writes an `etude import` NDJSON file of practice sessions shaped as the session
// recorder writes them (app/etude_recorder.c), dated relative to today (UTC) so that the
// dashboard's recent days and weeks hold them. The data is canonical JSON (RFC 8785: sorted keys,
// ES number form) and its checksum the SHA-256 of that text, as the store computes them.
//   usage: node seed.mjs alice|bob OUT.ndjson
import { createHash, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const [who, out] = process.argv.slice(2);
if (!out || !['alice', 'bob'].includes(who)) {
  console.error('usage: node seed.mjs alice|bob OUT.ndjson');
  process.exit(2);
}

// Canonical JSON for the values used here (objects, arrays, strings, integers, short decimals).
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

const DAY = 86400000;
const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
const iso = (ms) => new Date(Math.round(ms)).toISOString();

// daysAgo, hour (UTC), material, bpm, seconds, command, timing mean (ms) or null
function session(daysAgo, hour, material, bpm, seconds, command, meanMs) {
  const start = today - daysAgo * DAY + hour * 3600000;
  const timing = meanMs === null ? null
    : { mean_ms: meanMs, notes: 40, sd_ms: 9.5, within_10ms: 0.5, within_25ms: 0.875 };
  return {
    activeSeconds: seconds,
    bars: Math.round((seconds * bpm) / 240),
    command,
    endReason: command === 'render' ? 'end' : 'stop',
    endedAt: iso(start + seconds * 1000),
    interrupted: false,
    loops: 0,
    material,
    notes: timing ? 40 : null,
    preset: null,
    rate: 48000,
    segments: 1,
    startedAt: iso(start),
    tempoMaxBpm: bpm,
    tempoMinBpm: bpm,
    tempoTime: [{ bpm, seconds }],
    timing,
    voices: [],
    xruns: 0,
  };
}

const sets = {
  alice: [
    // ten minutes that ended five minutes ago (today, unless the test runs just after midnight)
    session(0, (Date.now() - today) / 3600000 - 0.25, 'Chorale in G', 84, 600, 'play', null),
    session(1, 18, 'Chorale in G', 80, 1200, 'play', 8),
    session(2, 9, 'Chorale in G', 92, 1800, 'render', null), // a render: never practice
    session(3, 7.5, 'Chorale in G', 72, 900, 'play', null),
    session(9, 19, 'Etude in D', 96, 1500, 'play', 14.5),
  ],
  bob: [session(1, 12, 'Sonata kept by bob', 60, 600, 'play', null)],
};

const lines = ['{"etudeExport":1,"schemaVersion":1}'];
for (const data of sets[who]) {
  const text = canon(data);
  lines.push(canon({
    checksum: createHash('sha256').update(text).digest('hex'),
    createdAt: data.endedAt,
    data,
    deletedAt: null,
    entityType: 'practiceSession',
    id: randomUUID(),
    remoteId: null,
    syncStatus: 'pending',
    syncVersion: 0,
    updatedAt: data.endedAt,
  }));
}
writeFileSync(out, `${lines.join('\n')}\n`);
