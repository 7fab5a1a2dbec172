// report_goals.js - random stores for report_goals.sh: charts.js (the dashboard's model) against
// libetude-app (the report's embedded goal progress, `etude goal progress --json` and
// `etude log summary`) on the same data.
//   node report_goals.js gen SEED NOW_MS > store.ndjson     an export file with random sessions and goals
//   node report_goals.js check CHARTS.js REPORT.html GOALS.json SUMMARY.txt
// The generator mixes what the matching rules tell apart: played and rendered sessions, titles,
// presets, file identities (the same path with another hash, another path with the same hash),
// goals by identity, by preset or material text (also text equal to a session's path), minutes
// goals per UTC day and ISO week with sessions on the period's first millisecond and the one
// before, and fractional seconds and tempos.
"use strict";
const fs = require("fs");
const crypto = require("crypto");

function canon(v) {
    if (Array.isArray(v))
        return "[" + v.map(canon).join(",") + "]";
    if (v && typeof v === "object")
        return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
    return JSON.stringify(v);
}

function gen(seed, now) {
    let s = Math.imul(seed, 2654435761) >>> 0;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
    for (let i = 0; i < 8; i++)
        rnd();
    const pick = (a) => a[Math.floor(rnd() * a.length)];
    const h1 = "a".repeat(64), h2 = "0123456789abcdef".repeat(4);
    const ids = [{ p: "/music/tune.mid", h: h1 }, { p: "/music/tune.mid", h: h2 }, { p: "/other/tune.mid", h: h1 }];
    const titles = ["Chorale", "Scales in D", "4 4/4 90", "/music/tune.mid", "tune"];
    const presets = [null, null, "chorale", "/music/tune.mid", "/other/tune.mid"];
    const day = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
    const monday = day - ((new Date(day).getUTCDay() + 6) % 7) * 86400000;
    const starts = [day, day - 1, monday, monday - 1];
    const lines = ['{"etudeExport":1,"schemaVersion":2}'];
    let n = 0;
    const entity = (type, at, data) => {
        n++;
        const id = "00000000-0000-4000-8000-" + String(n).padStart(12, "0");
        const iso = new Date(at).toISOString();
        const c = canon(data);
        lines.push(`{"id":"${id}","localId":${n},"remoteId":null,"entityType":"${type}","createdAt":"${iso}","updatedAt":"${iso}",` +
                   `"deletedAt":null,"syncStatus":"synced","syncVersion":1,"checksum":"${crypto.createHash("sha256").update(c).digest("hex")}","data":${c}}`);
    };
    const nsessions = 20 + Math.floor(rnd() * 30);
    for (let i = 0; i < nsessions; i++) {
        const at = rnd() < 0.3 ? pick(starts) : Math.max(0, now - 60000 - Math.floor(rnd() * 16 * 86400000));
        const bpm = 40 + Math.floor(rnd() * 1600) / 10;
        const d = {
            startedAt: new Date(at).toISOString(), endedAt: new Date(at).toISOString(),
            command: rnd() < 0.25 ? "render" : "play",
            material: pick(titles), preset: pick(presets),
            activeSeconds: Math.floor(rnd() * 1800000) / 1000,
            tempoMinBpm: bpm, tempoMaxBpm: rnd() < 0.3 ? bpm + 8 : bpm,
            timing: rnd() < 0.3 ? { mean_ms: Math.floor(rnd() * 400 - 200) / 10, notes: 1 + Math.floor(rnd() * 100),
                                    sd_ms: Math.floor(rnd() * 300) / 10, within_10ms: 0.5, within_25ms: 0.75 } : null,
        };
        if (rnd() < 0.5) {
            const id = pick(ids);
            d.materialPath = id.p;
            d.materialHash = id.h;
        }
        entity("practiceSession", at, d);
    }
    const ngoals = 6 + Math.floor(rnd() * 6);
    for (let i = 0; i < ngoals; i++) {
        const g = { kind: rnd() < 0.5 ? "minutes" : "tempo", target: 1 + Math.floor(rnd() * 2000) / 10 };
        if (g.kind === "minutes")
            g.period = pick(["day", "week"]);
        const how = Math.floor(rnd() * 4);
        if (how === 1 || how === 3)
            rnd() < 0.5 ? (g.preset = pick(presets.filter(Boolean))) : (g.material = pick(titles));
        if (how >= 2) {
            const id = pick(ids);
            g.materialPath = id.p;
            g.materialHash = id.h;
        }
        if (g.kind === "tempo" && how === 0)
            g.material = pick(titles);
        entity("goal", now - 86400000, g);
    }
    return lines.join("\n") + "\n";
}

function check(chartsPath, html, goalsPath, summaryPath) {
    const C = require(require("path").resolve(chartsPath));
    const page = fs.readFileSync(html, "utf8");
    const data = JSON.parse(page.match(/<script type="application\/json" id="etude-data">([\s\S]*?)<\/script>/)[1]);
    const cli = JSON.parse(fs.readFileSync(goalsPath, "utf8"));
    const summary = fs.readFileSync(summaryPath, "utf8");
    const now = Date.parse(data.generatedAt);
    const near = (a, b, tol) => Math.abs(a - b) <= tol;
    let failed = 0, checks = 0;
    const fail = (m) => { console.error("FAIL: " + m); failed = 1; };

    for (const g of data.goals) {
        const js = C.goalProgress(g.data, data.sessions, now), c = g.progress;
        const x = cli.find((y) => y.id === g.id);
        checks++;
        if (!x || !near(C.round(js.value, 2), c.value, 1e-9) || !near(js.ratio, c.ratio, 1e-9) || js.reached !== c.reached ||
            !near(x.value, c.value, 1e-9) || !near(x.ratio, c.ratio, 1e-9) || (js.since || null) !== (c.since || null))
            fail(`goal ${JSON.stringify(g.data)}: charts.js ${JSON.stringify(js)}, report ${JSON.stringify(c)}, goal progress ${JSON.stringify(x)}`);
    }
    // minutes per UTC day (run under TZ=UTC) and tempo per material, as `etude log summary` prints them
    const days = {};
    for (const m of summary.matchAll(/^ {2}(\d{4}-\d{2}-\d{2}) [A-Z][a-z]{2} +([0-9.]+) min +(\d+) sessions?/gm))
        days[m[1]] = [Number(m[2]), Number(m[3])];
    const js = C.minutesPerDay(data.sessions);
    checks++;
    if (js.length !== Object.keys(days).length)
        fail(`days: charts.js ${js.map((d) => d.key).join(" ")}, log summary ${Object.keys(days).join(" ")}`);
    for (const d of js)
        if (!days[d.key] || !near(days[d.key][0], d.minutes, 0.05 + 1e-9) || days[d.key][1] !== d.sessions)
            fail(`day ${d.key}: charts.js ${d.minutes} min, ${d.sessions} sessions; log summary ${JSON.stringify(days[d.key])}`);
    const tempo = [...summary.matchAll(/^ {2}(.*?) +(\S+) -> (\S+) bpm \(best (\S+)\), (\d+) sessions?, /gm)]
        .map((m) => [m[1], Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])]);
    const jt = C.tempoPerMaterial(data.sessions).map((m) => [m.name, m.firstBpm, m.lastBpm, m.bestBpm, m.sessions]);
    checks++;
    const g6 = (x) => Number(x.toPrecision(6)); // %g
    if (JSON.stringify(tempo) !== JSON.stringify(jt.map((t) => [t[0], g6(t[1]), g6(t[2]), g6(t[3]), t[4]])))
        fail(`tempo per material: charts.js ${JSON.stringify(jt)}, log summary ${JSON.stringify(tempo)}`);
    const head = summary.match(/^all practice: (\d+) sessions?, .*?(?:\((\d+) renders? not counted\))?$/m);
    const t = C.totals(data.sessions);
    checks++;
    if (!head || Number(head[1]) !== t.sessions || Number(head[2] || 0) !== t.renders)
        fail(`totals: charts.js ${JSON.stringify(t)}, log summary "${head && head[0]}"`);
    if (!failed)
        console.log(`report_goals: ${data.sessions.length} sessions, ${data.goals.length} goals: charts.js agrees (${checks} checks)`);
    process.exit(failed);
}

if (process.argv[2] === "gen")
    process.stdout.write(gen(Number(process.argv[3]), Number(process.argv[4])));
else if (process.argv[2] === "check")
    check(...process.argv.slice(3));
else {
    console.error("usage: report_goals.js gen SEED NOW_MS | check CHARTS.js REPORT.html GOALS.json SUMMARY.txt");
    process.exit(2);
}
