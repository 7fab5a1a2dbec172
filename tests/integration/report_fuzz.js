// report_fuzz.js - charts.js's model on entities of any shape (a server or a store holding what an
// older or newer etude wrote): no exception, and the figures agree with each other (the days and
// the weeks sum to the played total, renders and played sessions to the dated ones, keys are
// dates and weeks start on Mondays). Run with TZ set to a zone with daylight saving.
//   usage: node report_fuzz.js CHARTS.js [ROUNDS]
"use strict";
const C = require(require("path").resolve(process.argv[2]));
const rounds = Number(process.argv[3] || 300);
let s = 12345;
const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const junk = () => pick([null, undefined, true, 0, -1, 1e308, NaN, "", "x", "render", "play", [], {}, [1, 2], { notes: "5" },
                         "2026-03-29T01:30:00.000Z", "2026-10-25T00:59:59.999Z", "not a date", 12.5, "12.5"]);
const time = () => pick([new Date(Date.UTC(2026, 2, 29, Math.floor(rnd() * 48) - 12, Math.floor(rnd() * 60))).toISOString(),
                         new Date(Date.UTC(2026, 9, 25, Math.floor(rnd() * 48) - 12)).toISOString(),
                         new Date(Date.UTC(2026, 11, 31, 23, 59, 59, 999)).toISOString(), junk()]);
let checks = 0;
for (let r = 0; r < rounds; r++) {
    const ents = [];
    for (let i = 0, n = Math.floor(rnd() * 20); i < n; i++) {
        const d = rnd() < 0.1 ? junk() : {
            startedAt: time(), command: rnd() < 0.7 ? pick(["play", "render"]) : junk(),
            material: rnd() < 0.7 ? pick(["A", "B", ""]) : junk(), preset: rnd() < 0.5 ? pick(["p", null]) : junk(),
            activeSeconds: rnd() < 0.8 ? rnd() * 3000 : junk(), tempoMaxBpm: rnd() < 0.8 ? 40 + rnd() * 200 : junk(),
            tempoMinBpm: junk(), timing: rnd() < 0.5 ? { notes: rnd() < 0.8 ? 1 + Math.floor(rnd() * 50) : junk(), mean_ms: junk(), sd_ms: rnd() * 30 } : junk(),
            materialPath: rnd() < 0.3 ? "/f" : undefined, materialHash: rnd() < 0.3 ? "a".repeat(64) : undefined,
        };
        ents.push(rnd() < 0.05 ? junk() : { id: String(i), createdAt: time(), updatedAt: time(), data: d });
    }
    const safe = ents.filter((e) => e && typeof e === "object" && !Array.isArray(e));
    const days = C.minutesPerDay(safe), weeks = C.minutesPerWeek(safe), t = C.totals(safe);
    const sum = (a) => a.reduce((x, y) => x + y.minutes, 0);
    const fail = (m) => { console.error(`FAIL (round ${r}): ${m}\n${JSON.stringify(safe)}`); process.exit(1); };
    if (Math.abs(sum(days) - t.minutes) > 1e-6 || Math.abs(sum(weeks) - t.minutes) > 1e-6)
        fail(`days ${sum(days)}, weeks ${sum(weeks)}, total ${t.minutes}`);
    if (days.reduce((x, y) => x + y.sessions, 0) !== t.sessions || t.sessions + t.renders !== C.sessionRows(safe).length)
        fail("session counts disagree");
    if (C.renders(safe).length !== t.renders)
        fail("renders disagree");
    if (C.tempoPerMaterial(safe).reduce((x, m) => x + m.sessions, 0) !== t.sessions)
        fail("tempo sessions disagree");
    for (const d of days)
        if (!/^\d{4}-\d{2}-\d{2}$/.test(d.key))
            fail(`day key ${d.key}`);
    for (const w of weeks) {
        const p = w.key.split("-").map(Number);
        if (new Date(p[0], p[1] - 1, p[2], 12).getDay() !== 1)
            fail(`week key ${w.key} is not a Monday`);
    }
    const trend = C.timingTrend(safe);
    if (trend.some((p) => !Number.isFinite(p.ms) || !(p.notes > 0)))
        fail("timing trend point without figures");
    C.timingPerDay(safe);
    for (let g = 0; g < 4; g++) {
        const goal = { kind: pick(["minutes", "tempo", junk()]), target: pick([10, 0, junk()]), period: pick(["day", "week", junk()]),
                       material: pick(["A", junk()]), materialPath: pick(["/f", undefined]), materialHash: pick(["a".repeat(64), "A", undefined]) };
        const p = C.goalProgress(goal, safe, Date.UTC(2026, 2, 29, 12));
        if (!Number.isFinite(p.value) || !Number.isFinite(p.ratio))
            fail(`goal progress ${JSON.stringify(p)} for ${JSON.stringify(goal)}`);
        C.goalText(goal);
    }
    checks++;
}
console.log(`report_fuzz (TZ=${process.env.TZ}): ${checks} rounds ok`);
