// report_model.js - checks a report written by `etude report` with the charts' own model
// (web/assets/charts.js under node): the embedded data, the script and style inlined byte for byte,
// the CSP hashes, and the figures the charts draw against what the test expects.
//   usage: node report_model.js REPORT.html CHARTS.js CSS EXPECT.json
// EXPECT.json: {days: {KEY: minutes}, weeks: {KEY: minutes}, renders: N, played: N, minutes: M,
//   tempo: {NAME: [first, last, best, sessions]}, timing: [ms...], goals: {ID: value},
//   summaryDays: {KEY: minutes} (from `etude log summary`, UTC days; compared when TZ is UTC),
//   goalCli: [{id, value, ratio}] (from `etude goal progress --json`), sessions: N, notes: [text...],
//   since: DATE|null}
// Days are in the local time zone: run it with TZ set.
"use strict";
const fs = require("fs");
const crypto = require("crypto");
const [html, chartsPath, cssPath, expectPath] = process.argv.slice(2);
const C = require(require("path").resolve(chartsPath));
const page = fs.readFileSync(html, "utf8");
const want = JSON.parse(fs.readFileSync(expectPath, "utf8"));
let failed = 0;
function fail(msg) {
    console.error("FAIL: " + msg);
    failed = 1;
}
function near(a, b) {
    return typeof a === "number" && typeof b === "number" && Math.abs(a - b) < 1e-6;
}
function same(what, got, exp) {
    const g = JSON.stringify(got), e = JSON.stringify(exp);
    if (g !== e)
        fail(`${what}: got ${g}, want ${e}`);
}

// the page: report mode, the data script, the inlined charts.js and app.css, the CSP hashes
if (!/<body data-mode="report"/.test(page))
    fail("no <body data-mode=\"report\">");
const m = page.match(/<script type="application\/json" id="etude-data">([\s\S]*?)<\/script>/);
if (!m)
    throw new Error("no etude-data script");
if (/</.test(m[1]))
    fail("a '<' inside the data script (it must be written \\u003c)");
const data = JSON.parse(m[1]);
const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((x) => x[1]);
if (scripts.length !== 1 || scripts[0] !== fs.readFileSync(chartsPath, "utf8"))
    fail("the inlined script is not web/assets/charts.js byte for byte");
const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((x) => x[1]);
if (styles.length !== 1 || styles[0] !== fs.readFileSync(cssPath, "utf8"))
    fail("the inlined style is not web/assets/app.css byte for byte");
const b64 = (s) => crypto.createHash("sha256").update(s, "utf8").digest("base64");
const csp = (page.match(/http-equiv="Content-Security-Policy" content="([^"]*)"/) || [])[1] || "";
if (scripts.length && !csp.includes(`script-src 'sha256-${b64(scripts[0])}'`))
    fail("the CSP does not allow the inlined script by its hash: " + csp);
if (styles.length && !csp.includes(`style-src 'sha256-${b64(styles[0])}'`))
    fail("the CSP does not allow the inlined style by its hash: " + csp);
if (/\son[a-z]+=|\sstyle=/.test(page.replace(m[1], "").replace(scripts[0] || "", "").replace(styles[0] || "", "")))
    fail("an inline event handler or style attribute in the page");

same("since", data.since, want.since);
same("sessions", data.sessions.length, want.sessions);
same("notes", data.notes.map((n) => n.data.text).sort(), want.notes.slice().sort());

// the model the charts draw
const now = Date.parse(data.generatedAt);
const obj = (list) => Object.fromEntries(list.map((x) => [x.key, C.round(x.minutes, 6)]));
same("minutes per day", obj(C.minutesPerDay(data.sessions)), want.days);
same("minutes per week", obj(C.minutesPerWeek(data.sessions)), want.weeks);
const t = C.totals(data.sessions);
same("played sessions", t.sessions, want.played);
same("played minutes", C.round(t.minutes, 6), want.minutes);
same("renders listed apart", C.renders(data.sessions).length, want.renders);
same("renders counted", t.renders, want.renders);
const tempo = Object.fromEntries(C.tempoPerMaterial(data.sessions).map((x) => [x.name, [x.firstBpm, x.lastBpm, x.bestBpm, x.sessions]]));
same("tempo per material", tempo, want.tempo);
same("timing trend", C.timingTrend(data.sessions).map((p) => p.ms), want.timing);
if (process.env.TZ === "UTC" && want.summaryDays)
    same("minutes per day against etude log summary", obj(C.minutesPerDay(data.sessions)), want.summaryDays);

// goal progress: the one embedded (libetude-app, over the whole store), `etude goal progress` and
// the value the test worked out are equal; without --since, the one charts.js computes from the
// embedded sessions (as the dashboard does) is equal too. With --since the report holds only the
// span's sessions, and a tempo goal's best may lie before it: the page shows the embedded progress.
for (const g of data.goals) {
    const c = g.progress || {};
    if (want.goals[g.id] === undefined || !near(c.value, want.goals[g.id]))
        fail(`goal ${g.id} (${C.goalText(g.data)}): the report holds ${JSON.stringify(c)}, want value ${want.goals[g.id]}`);
    const cli = (want.goalCli || []).find((x) => x.id === g.id);
    if (!cli || !near(cli.value, c.value) || !near(cli.ratio, c.ratio))
        fail(`goal ${g.id}: etude goal progress says ${JSON.stringify(cli)}, the report ${JSON.stringify(c)}`);
    if (data.since === null) {
        const js = C.goalProgress(g.data, data.sessions, now);
        if (!near(C.round(js.value, 2), c.value) || !near(js.ratio, c.ratio) || js.reached !== c.reached ||
            (js.since || null) !== (c.since || null))
            fail(`goal ${g.id}: charts.js computes ${JSON.stringify(js)} but the report holds ${JSON.stringify(c)}`);
    }
}
same("goals", data.goals.length, Object.keys(want.goals).length);
if (!failed)
    console.log(`report_model (TZ=${process.env.TZ}): ok, ${data.sessions.length} sessions, ${data.goals.length} goals`);
process.exit(failed);
