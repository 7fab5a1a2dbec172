// practice_timeline_mid.js - writes a Standard MIDI File whose bars tell themselves apart by onsets:
// format 0, 4/4 at BPM, BARS bars; bar k (1-based) has a short wood-block hit (channel 10) on each
// of its first ((k - 1) % 4) + 1 beats, so a render's onsets say which bars played, in which order.
//   node practice_timeline_mid.js OUT.mid BPM BARS
'use strict';
const fs = require('fs');
const [out, bpm, bars] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const ppq = 480, ev = [];
const vlq = (n) => { const b = [n & 0x7f]; while ((n >>= 7)) b.unshift((n & 0x7f) | 0x80); return b; };
let last = 0;
const at = (tick, bytes) => { ev.push(...vlq(tick - last), ...bytes); last = tick; };
const usq = Math.round(60e6 / bpm);
at(0, [0xff, 0x51, 0x03, (usq >> 16) & 0xff, (usq >> 8) & 0xff, usq & 0xff]);
at(0, [0xff, 0x58, 0x04, 4, 2, 24, 8]);
for (let k = 0; k < bars; k++)
  for (let b = 0; b <= k % 4; b++) {
    const t = (k * 4 + b) * ppq;
    at(t, [0x99, 76, 110]);
    at(t + 60, [0x89, 76, 0]);
  }
at(bars * 4 * ppq, [0xff, 0x2f, 0x00]);
const hdr = Buffer.from([0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, ppq >> 8, ppq & 0xff]);
const len = ev.length, trk = Buffer.from([0x4d, 0x54, 0x72, 0x6b, len >>> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff]);
fs.writeFileSync(out, Buffer.concat([hdr, trk, Buffer.from(ev)]));
