// validate.mjs - checks every shipped operation document against sync/schema/sync.graphql with graphql-js,
// checks the SHA-256 manifest, and checks every root field of the schema has a shipped document.
import { readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { buildSchema, parse, validate, Kind } from 'graphql';

const root = process.argv[2];
if (!root) { console.error('usage: node validate.mjs SOURCE_ROOT'); process.exit(2); }
const dir = join(root, 'sync/schema');
let failed = 0;
const fail = (msg) => { console.error(`FAIL ${msg}`); failed++; };

const schema = buildSchema(readFileSync(join(dir, 'sync.graphql'), 'utf8'));
const files = readdirSync(join(dir, 'operations')).filter((f) => f.endsWith('.graphql')).sort();
if (files.length === 0) fail('sync/schema/operations: no documents');
const manifest = new Map();
for (const line of readFileSync(join(dir, 'operations.sha256'), 'utf8').split('\n')) {
  const m = /^([0-9a-f]{64})  operations\/(.+)$/.exec(line);
  if (m) manifest.set(m[2], m[1]);
}
const covered = new Set();
for (const f of files) {
  const text = readFileSync(join(dir, 'operations', f));
  const hash = createHash('sha256').update(text).digest('hex');
  if (manifest.get(f) !== hash) fail(`operations/${f}: manifest says ${manifest.get(f)}, file hashes to ${hash}`);
  let doc;
  try { doc = parse(text.toString('utf8')); } catch (e) { fail(`operations/${f}: ${e.message}`); continue; }
  const errors = validate(schema, doc);
  for (const e of errors) fail(`operations/${f}:${e.locations?.[0]?.line ?? 0}: ${e.message}`);
  const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (ops.length !== 1) fail(`operations/${f}: expected exactly one operation, found ${ops.length}`);
  const op = ops[0];
  if (op && op.name?.value !== f.replace(/\.graphql$/, '')) fail(`operations/${f}: operation name ${op.name?.value} differs from the file name`);
  for (const sel of op?.selectionSet.selections ?? []) covered.add(`${op.operation}.${sel.name.value}`);
  if (!errors.length) console.log(`ok operations/${f} (${hash.slice(0, 12)})`);
}
if (manifest.size !== files.length) fail(`operations.sha256 lists ${manifest.size} documents, operations/ has ${files.length}`);
for (const [kind, type] of [['query', schema.getQueryType()], ['mutation', schema.getMutationType()]])
  for (const name of Object.keys(type.getFields()))
    if (!covered.has(`${kind}.${name}`)) fail(`schema field ${kind} ${name} has no shipped document`);
if (failed) { console.error(`${failed} problem(s)`); process.exit(1); }
console.log(`all ${files.length} documents valid against sync.graphql`);
