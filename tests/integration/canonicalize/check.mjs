// check.mjs - the reference side of integration.canon_property: canonicalises every input line
// (after the seed line) with the npm package canonicalize (an independent RFC 8785
// implementation, pinned in package-lock.json) and requires byte equality with etude's output.
//   usage: node check.mjs INPUTS CANON
import { readFileSync } from 'node:fs';
import canonicalize from 'canonicalize';

const [inputs, canon] = process.argv.slice(2);
const ins = readFileSync(inputs, 'utf8').split('\n');
const outs = readFileSync(canon, 'utf8').split('\n');
const seed = ins.shift();
let fails = 0, n = 0;
for (let i = 0; i < ins.length && ins[i] !== ''; i++, n++) {
  const want = canonicalize(JSON.parse(ins[i]));
  if (want !== outs[i]) {
    fails++;
    console.error(`FAIL (seed ${seed}, case ${i}): etude and canonicalize differ\n  input:        ${ins[i]}\n  etude:        ${outs[i]}\n  canonicalize: ${want}`);
    if (fails > 5) break;
  }
}
if (fails) {
  console.error(`canon_property: ${fails} mismatch(es) with canonicalize; replay with ETUDE_CANON_SEED=${seed}`);
  process.exit(1);
}
console.log(`canon_property: ${n} cases, etude and canonicalize (RFC 8785) agree byte for byte`);
