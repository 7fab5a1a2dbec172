// material_onsets.js - note onsets of two renders of the same MIDI file (etude and fluidsynth -F),
// compared on their log energy envelopes.
//   node material_onsets.js A.wav B.wav TOL_MS
// Candidate onsets are where either file's energy rises (see onsets()). Around each, the lag that
// best aligns the two envelopes (16-frame blocks, 20 ms before to 40 ms after, lags up to 5 ms) is
// found; where the shapes agree (correlation >= 0.9) the lag is the timing difference of that onset.
// Prints the counts, the mean and worst lag. Exit 0 only when at least 20 onsets and half the
// candidates align, and every aligned onset is within TOL_MS.
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
    if (id === 'data') data = b.subarray(off + 8, off + 8 + Math.min(len, b.length - off - 8));
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

const B = 64;
function onsets(w) {
  const nb = Math.floor(w.frames / B), e = new Float64Array(nb);
  let max = 0;
  for (let k = 0; k < nb; k++) {
    let s = 0;
    for (let i = k * B * w.ch; i < (k + 1) * B * w.ch; i++) s += w.x[i] * w.x[i];
    e[k] = s;
    if (s > max) max = s;
  }
  const floor = max * 1e-3, out = [];
  let last = -100;
  for (let k = 4; k + 1 < nb; k++) {
    const cur = (e[k] + e[k + 1]) / 2, prev = (e[k - 4] + e[k - 3] + e[k - 2] + e[k - 1]) / 4;
    if (cur > floor && cur >= 4 * prev && e[k] >= 2 * e[k - 1] && k - last >= 16) { out.push(k * B); last = k; }
  }
  return out;
}

// The lag (frames, B minus A) around time t that best aligns the two files' log energy envelopes
// (16-frame blocks, the window 20 ms before to 40 ms after t, lags up to 5 ms), and its correlation.
const EB = 16;
function envelope(w) {
  const nb = Math.floor(w.frames / EB), e = new Float64Array(nb);
  for (let k = 0; k < nb; k++) {
    let s = 0;
    for (let i = k * EB * w.ch; i < (k + 1) * EB * w.ch; i++) s += w.x[i] * w.x[i];
    e[k] = Math.log10(s + 1e-12);
  }
  return e;
}
function lagAt(ea, eb, t, rate) {
  const k0 = Math.floor((t - 0.020 * rate) / EB), k1 = Math.floor((t + 0.040 * rate) / EB);
  const maxLag = Math.ceil(0.005 * rate / EB);
  let best = -Infinity, bestLag = 0;
  for (let l = -maxLag; l <= maxLag; l++) {
    if (k0 + l < 0 || k0 < 0 || k1 + l >= eb.length || k1 >= ea.length) continue;
    let ma = 0, mb = 0, n = k1 - k0;
    for (let k = k0; k < k1; k++) { ma += ea[k]; mb += eb[k + l]; }
    ma /= n; mb /= n;
    let sab = 0, saa = 0, sbb = 0;
    for (let k = k0; k < k1; k++) { const x = ea[k] - ma, y = eb[k + l] - mb; sab += x * y; saa += x * x; sbb += y * y; }
    const c = sab / Math.sqrt(saa * sbb + 1e-30);
    if (c > best) { best = c; bestLag = l * EB; }
  }
  return { lag: bestLag, corr: best };
}


const [fa, fb, tolMs] = process.argv.slice(2);
const wa = readWav(fa), wb = readWav(fb);
if (wa.rate !== wb.rate) { console.log(`rates differ: ${wa.rate} and ${wb.rate}`); process.exit(1); }
const tol = Number(tolMs) * wa.rate / 1000;
const oa = onsets(wa), ob = onsets(wb), ea = envelope(wa), eb = envelope(wb);
// every onset either file shows, once (within 10 ms)
const cand = [...oa, ...ob].sort((x, y) => x - y).filter((t, i, v) => i === 0 || t - v[i - 1] > 0.010 * wa.rate);
let clear = 0, within = 0, worst = 0, sum = 0;
const bad = [];
for (const t of cand) {
  const r = lagAt(ea, eb, t, wa.rate);
  if (r.corr < 0.9) continue; /* no shared shape to align there */
  clear++;
  sum += r.lag;
  if (Math.abs(r.lag) <= tol) within++; else bad.push(`${(t / wa.rate).toFixed(3)}s:${(r.lag * 1000 / wa.rate).toFixed(2)}ms`);
  worst = Math.max(worst, Math.abs(r.lag));
}
console.log(`onsets ${oa.length} and ${ob.length}, ${cand.length} in all, ${clear} aligned (envelope correlation >= 0.9); ` +
            `within ${tolMs} ms: ${within}; mean lag ${(sum / Math.max(clear, 1) * 1000 / wa.rate).toFixed(3)} ms, ` +
            `worst ${(worst * 1000 / wa.rate).toFixed(3)} ms${bad.length ? '; off: ' + bad.slice(0, 10).join(' ') : ''}`);
process.exit(clear >= 20 && clear >= 0.5 * cand.length && within === clear ? 0 : 1);
