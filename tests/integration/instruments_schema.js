// instruments_schema.js - validate preset files against presets/preset.schema.json with ajv
// (JSON Schema 2020-12). Prints one line per file; exits 1 if a file's result is not the expected one.
//   node instruments_schema.js SCHEMA valid FILE...      every FILE must validate
//   node instruments_schema.js SCHEMA invalid FILE...    every FILE must be refused
'use strict';
const fs = require('fs');
const Ajv2020 = require('ajv/dist/2020').default;
const [schemaPath, want, ...files] = process.argv.slice(2);
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
let bad = 0;
for (const f of files) {
  const ok = validate(JSON.parse(fs.readFileSync(f, 'utf8')));
  const why = ok ? '' : ' ' + ajv.errorsText(validate.errors, { separator: '; ' }).slice(0, 300);
  const good = (want === 'valid') === ok;
  if (!good) bad++;
  console.log(`${good ? 'ok' : 'FAIL'} ${f}: ${ok ? 'valid' : 'invalid'}${why}`);
}
process.exit(bad ? 1 : 0);
