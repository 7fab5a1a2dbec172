// instruments_wavtool.js - measurements on WAV files for the instruments render tests.
//   node instruments_wavtool.js info FILE                 -> "RATE CHANNELS FRAMES"
//   node instruments_wavtool.js onsets FILE THR QUIET     -> one frame per line: where |x| rises above
//                                                           THR after at least QUIET frames below it
//   node instruments_wavtool.js residual A B GAIN C       -> max |A - B - GAIN*C| over all samples
//   node instruments_wavtool.js peak FILE FROM_S TO_S     -> max |x| between two times (seconds)
// Reads RIFF/WAVE with 32-bit float or 16/24-bit PCM samples.
'use strict';
const fs = require('fs');

function readWav(path) {
  const b = fs.readFileSync(path);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error(`${path}: not a RIFF/WAVE file`);
  let off = 12, fmt = null, data = null;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4), len = b.readUInt32LE(off + 4);
    if (id === 'fmt ') fmt = { tag: b.readUInt16LE(off + 8), ch: b.readUInt16LE(off + 10), rate: b.readUInt32LE(off + 12), bits: b.readUInt16LE(off + 22) };
    if (id === 'data') data = b.subarray(off + 8, off + 8 + len);
    off += 8 + len + (len & 1);
  }
  if (!fmt || !data) throw new Error(`${path}: no fmt or data chunk`);
  const bytes = fmt.bits / 8, frames = Math.floor(data.length / (bytes * fmt.ch));
  const x = new Float64Array(frames * fmt.ch);
  for (let i = 0; i < frames * fmt.ch; i++) {
    const o = i * bytes;
    if (fmt.bits === 32 && (fmt.tag === 3 || fmt.tag === 0xfffe)) x[i] = data.readFloatLE(o);
    else if (fmt.bits === 16) x[i] = data.readInt16LE(o) / 32768;
    else if (fmt.bits === 24) x[i] = data.readIntLE(o, 3) / 8388608;
    else throw new Error(`${path}: unsupported sample format (${fmt.bits} bits, tag ${fmt.tag})`);
  }
  return { rate: fmt.rate, ch: fmt.ch, frames, x };
}

const [cmd, ...a] = process.argv.slice(2);
const w = readWav(a[0]);
const mono = (i) => { let m = 0; for (let c = 0; c < w.ch; c++) m = Math.max(m, Math.abs(w.x[i * w.ch + c])); return m; };
if (cmd === 'info') {
  console.log(`${w.rate} ${w.ch} ${w.frames}`);
} else if (cmd === 'onsets') {
  const thr = Number(a[1]), quietNeed = Number(a[2]);
  let quiet = quietNeed, out = [];
  for (let i = 0; i < w.frames; i++) {
    if (mono(i) > thr) { if (quiet >= quietNeed) out.push(i); quiet = 0; } else quiet++;
  }
  console.log(out.join('\n'));
} else if (cmd === 'residual') {
  const b = readWav(a[1]), g = Number(a[2]), c = readWav(a[3]);
  if (b.frames !== w.frames || c.frames !== w.frames) throw new Error('lengths differ');
  let m = 0;
  for (let i = 0; i < w.x.length; i++) m = Math.max(m, Math.abs(w.x[i] - b.x[i] - g * c.x[i]));
  console.log(m.toExponential(3));
} else if (cmd === 'peak') {
  const from = Math.floor(Number(a[1]) * w.rate), to = Math.min(w.frames, Math.floor(Number(a[2]) * w.rate));
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, mono(i));
  console.log(m.toExponential(3));
} else {
  throw new Error(`unknown command ${cmd}`);
}
