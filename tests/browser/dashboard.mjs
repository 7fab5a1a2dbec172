// dashboard.mjs - the dashboard served by etude-syncd and the offline report, in Debian's
// chromium driven by playwright-core. Started by dashboard.sh, which sets up the server, the
// users and the devices' data; this file only looks through the browser (and, for the dead
// cookie, through plain HTTP from node). Every check that fails is listed at the end; waiting for
// the page is bounded (ETUDE_BROWSER_WAIT_MS per wait, a watchdog on the whole run).
//
// Checked to fail: on 2c75d91 (no status report from the sync client yet), on the two device-row
// checks; with the status report merged and charts.js changed to count renders as practice and to
// set text through innerHTML, on 10 checks (the days' and weeks' minutes in the dashboard and in
// the report, the note's markup, the renders list).
//
// Env: ETUDE_READY (the server's ready file), ETUDE_ALICE_PW, ETUDE_BOB_PW, ETUDE_NOTE (alice's note), ETUDE_GO, ETUDE_ALICE and
// ETUDE_BOB (what each device holds: {deviceId, entities:[{id, entityType, data}]}), ETUDE_REPORT
// (alice's `etude report` file), ETUDE_ALICE_HOME and ETUDE_BIN (for the live update),
// ETUDE_TESTS_DIR, ETUDE_SCREENSHOT_DIR.
import { chromium, firefox } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) { console.error(`FAIL: set ${k}`); process.exit(1); }
  return v;
};
let URL_ = null; // http://ADDR:PORT once the server's ready file (ETUDE_READY) names it
const SHOTS = env('ETUDE_SCREENSHOT_DIR');
const NOTE = env('ETUDE_NOTE');
const WAIT = Number(process.env.ETUDE_BROWSER_WAIT_MS || 20000);
const load = (f) => {
  const j = JSON.parse(readFileSync(f, 'utf8'));
  for (const e of j.entities) e.data = typeof e.data === 'string' ? JSON.parse(e.data) : e.data;
  return j;
};
// dashboard.sh starts this file as soon as the server answers, so that Chromium starts and the
// login page is checked while the devices still sync; it creates ETUDE_GO when their data is in.
const GO = env('ETUDE_GO');
let alice = null;
let bob = null;
async function waitForServer() {
  const file = env('ETUDE_READY');
  for (let i = 0; ; i++) {
    const addr = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    if (/^127\.0\.0\.1:\d+$/.test(addr)) { URL_ = `http://${addr}`; return; }
    if (i > 1200) throw new Error(`${file} named no loopback address within 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
async function waitForData() {
  for (let i = 0; !existsSync(GO); i++) {
    if (i > 1200) throw new Error(`${GO} did not appear within 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  alice = load(env('ETUDE_ALICE'));
  bob = load(env('ETUDE_BOB'));
}
const DOCS = join(env('ETUDE_TESTS_DIR'), '..', 'sync', 'schema', 'operations');

const watchdog = setTimeout(() => {
  console.error('FAIL: dashboard.mjs still running after 100 s');
  process.exit(1);
}, 100000);

const failures = [];
let checks = 0;
function check(ok, what) {
  checks++;
  if (!ok) {
    failures.push(what);
    console.error(`not ok: ${what}`);
  }
  return ok;
}
class Stop extends Error {}
const must = (ok, what) => { if (!check(ok, what)) throw new Stop(what); };

const T0 = Date.now();
const phase = (what) => console.log(`${((Date.now() - T0) / 1000).toFixed(1)} s: ${what}`);
const shots = [];
const FIREFOX = process.env.ETUDE_TEST_BROWSER === 'firefox';
async function shot(page, name, opts = {}) {
  // Firefox over WebDriver BiDi: the screenshot's own injected style is a CSP violation that
  // Firefox reports on the page (Chromium's screenshot does not go through the page); the
  // screenshots come from the Chromium run.
  if (FIREFOX) return;
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true, caret: 'initial', ...opts });
  shots.push(path);
}

// The console: no errors and no page errors anywhere. The one error a browser logs by itself
// for a designed answer is "Failed to load resource: ... 401" for the session probe (GET /session
// before login, POST /session with a wrong password): DASHBOARD.md has /session answer 401 there.
const consoleErrors = [];
function watch(page, label) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const at = m.location()?.url || '';
    if (/status of 401/.test(m.text()) && at === `${URL_}/session`) return;
    consoleErrors.push(`${label}: console error: ${m.text()} (${at})`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${label}: page error: ${e.message}`));
}

// ---- what the charts must show, worked out from the device's own store ----
const sessionsOf = (who) => who.entities.filter((e) => e.entityType === 'practiceSession').map((e) => e.data);
const played = (who) => sessionsOf(who).filter((s) => s.command !== 'render');
const dayKey = (s) => s.startedAt.slice(0, 10);
function weekKey(s) {
  const d = new Date(`${dayKey(s)}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}
function minutesBy(who, key) {
  const m = new Map();
  for (const s of played(who)) m.set(key(s), (m.get(key(s)) || 0) + s.activeSeconds / 60);
  return m;
}
// A chart may round minutes to one decimal.
const near = (a, b, tol = 0.051) => Number.isFinite(a) && Math.abs(a - b) <= tol;

async function bars(page, sel) {
  return page.$$eval(`${sel} rect.bar`, (rs) => rs.map((r) => ({
    key: r.getAttribute('data-key'),
    minutes: Number(r.getAttribute('data-minutes')),
    width: Number(r.getAttribute('width')),
    height: Number(r.getAttribute('height')),
  })));
}

async function checkBars(page, label, sel, want) {
  const got = await bars(page, sel);
  check(got.length > 0, `${label}: ${sel} draws rect.bar`);
  const byKey = new Map(got.map((b) => [b.key, b]));
  for (const [key, minutes] of want) {
    const b = byKey.get(key);
    if (!check(b, `${label}: ${sel} has a bar for ${key} (bars: ${got.map((x) => x.key).join(' ')})`)) continue;
    check(near(b.minutes, minutes), `${label}: ${sel} ${key}: data-minutes ${b.minutes}, want ${minutes.toFixed(3)}`);
    if (minutes >= 0.05)
      check(b.width > 0 && b.height > 0, `${label}: ${sel} ${key}: drawn with width ${b.width}, height ${b.height}`);
  }
  for (const b of got)
    if (!want.has(b.key))
      check(near(b.minutes, 0), `${label}: ${sel} ${b.key}: ${b.minutes} minutes where nothing was played (renders never count)`);
}

async function checkCharts(page, label, who) {
  await checkBars(page, label, '#chart-days', minutesBy(who, dayKey));
  await checkBars(page, label, '#chart-weeks', minutesBy(who, weekKey));

  const series = await page.$$eval('#chart-tempo path.series', (ps) =>
    ps.map((p) => ({ material: p.getAttribute('data-material'), d: p.getAttribute('d') || '' })));
  const points = await page.$$eval('#chart-tempo circle.point', (cs) =>
    cs.map((c) => ({ material: c.getAttribute('data-material'), bpm: Number(c.getAttribute('data-bpm')) })));
  for (const m of new Set(played(who).map((s) => s.material)))
    check(series.some((p) => p.material === m && p.d.trim() !== ''), `${label}: #chart-tempo draws a series for "${m}"`);
  for (const s of played(who)) {
    // every seeded and live session plays one tempo (tempoMinBpm == tempoMaxBpm)
    const i = points.findIndex((p) => p.material === s.material && near(p.bpm, s.tempoMaxBpm, 0.01));
    check(i >= 0, `${label}: #chart-tempo has a point for "${s.material}" at ${s.tempoMaxBpm} bpm`);
    if (i >= 0) points.splice(i, 1);
  }

  // Every session with MIDI timing played 5 to 20 ms late on average: its mean offset and its
  // mean absolute offset are the same number.
  const timed = played(who).filter((s) => s.timing && s.timing.notes > 0).map((s) => Math.abs(s.timing.mean_ms));
  const ms = await page.$$eval('#chart-timing circle.point', (cs) => cs.map((c) => Number(c.getAttribute('data-ms'))));
  check(ms.length === timed.length, `${label}: #chart-timing has ${ms.length} points, want ${timed.length} (sessions with MIDI played)`);
  for (const t of timed)
    check(ms.some((x) => near(x, t)), `${label}: #chart-timing has a point at ${t} ms (points: ${ms.join(' ')})`);
}

// ---- plain HTTP from node, for the cookie after logout ----
async function http(method, path, { cookie, csrf, body } = {}) {
  const headers = {};
  if (cookie) headers.Cookie = `etude_session=${cookie}`;
  if (csrf) headers['X-CSRF-Token'] = csrf;
  if (body) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${URL_}${path}`, { method, headers, body: body && JSON.stringify(body), redirect: 'manual' });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}
const dashboardRead = {
  query: readFileSync(join(DOCS, 'DashboardEntities.graphql'), 'utf8'),
  variables: { entityType: 'logbookEntry', limit: 50 },
};

const state = (page) => page.evaluate(() => document.body.dataset.state);
const waitState = (page, s) => page.waitForFunction((want) => document.body.dataset.state === want, s, { timeout: WAIT });
const noHorizontalScroll = (page) => page.evaluate(() => ({
  scroll: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
  width: document.documentElement.clientWidth,
}));
const focused = (page) => page.evaluate(() => {
  const a = document.activeElement;
  if (!a || a === document.body) return 'body';
  const inLogin = !!a.closest('form#login');
  const submit = inLogin && ((a.tagName === 'BUTTON' && (a.type || 'submit') === 'submit') || (a.tagName === 'INPUT' && a.type === 'submit'));
  return submit ? 'submit' : (a.id ? `#${a.id}` : a.tagName.toLowerCase());
});

// ETUDE_TEST_BROWSER=firefox runs the same checks in Debian's firefox-esr, driven over WebDriver
// BiDi (playwright-core's "moz-firefox" channel: stock Firefox, nothing downloaded).
const browser = FIREFOX
  ? await firefox.launch({
    channel: 'moz-firefox',
    executablePath: process.env.ETUDE_FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
    timeout: 30000,
  })
  : await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
browser.on('disconnected', () => { if (!done) { console.error('FAIL: chromium went away'); process.exit(1); } });
let done = false;

// On a freshly loaded login page: Tab to Username, type, Tab, type the password, Tab to the button,
// back to Password, Enter.
async function login(page, user, password, label) {
  // Keys go to the window in front: Firefox neither activates buttons nor shows :focus-visible
  // in a window behind another context's (a trusted Enter reaches the button but clicks nothing).
  await page.bringToFront();
  // A click on the page's top corner (the header: nothing focusable) gives the page the focus:
  // synthesised Tabs can otherwise leave Firefox's focus in the browser's own window, where
  // keys still reach the page but activate nothing and :focus-visible never matches.
  await page.mouse.click(2, 2);
  const order = [];
  // The keyboard: Tab reaches Username, Password and the button, in that order.
  for (let i = 0; i < 12 && order[order.length - 1] !== '#username'; i++) {
    await page.keyboard.press('Tab');
    order.push(await focused(page));
  }
  must(order[order.length - 1] === '#username', `${label}: Tab reaches #username (focus went ${order.join(' ')})`);
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  check(await focused(page) === '#password', `${label}: Tab from Username goes to Password (got ${await focused(page)})`);
  await page.keyboard.type(password);
  await page.keyboard.press('Tab');
  check(await focused(page) === 'submit', `${label}: Tab from Password goes to the form's button (got ${await focused(page)})`);
  // Visible focus: the button focused from the keyboard is drawn differently from the same button
  // without focus (outline, shadow or border).
  const ring = (el) => {
    const c = getComputedStyle(el || document.activeElement);
    return `${c.outlineStyle} ${c.outlineWidth} ${c.outlineColor} | ${c.boxShadow} | ${c.borderColor}`;
  };
  const withFocus = await page.evaluate(ring, null);
  await page.keyboard.press('Shift+Tab');
  const without = await page.$eval('form#login [type=submit]', ring);
  check(withFocus !== without, `${label}: the focused button shows its focus (${withFocus} vs ${without})`);
  await page.keyboard.press('Enter');
}

let aliceSession = null;
try {
  phase('chromium started');
  // ---------------- alice, at desktop width ----------------
  const ctxA = await browser.newContext({ timezoneId: 'UTC', viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  const a = await ctxA.newPage();
  watch(a, 'alice');
  // bob's fresh context and the report's, made while the devices still sync (a context's first
  // page costs a second or so on a busy machine).
  const ctxB = await browser.newContext({ timezoneId: 'UTC', viewport: { width: 375, height: 812 }, locale: 'en-GB' });
  const b = await ctxB.newPage();
  watch(b, 'bob');
  const ctxR = await browser.newContext({ timezoneId: 'UTC', viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  const p = await ctxR.newPage();
  watch(p, 'report');
  const remote = [];
  p.on('request', (q) => { if (!/^(file|data|blob):/.test(q.url())) remote.push(q.url()); });
  await waitForServer();
  phase(`etude-syncd at ${URL_}`);
  a.on('response', async (r) => {
    if (r.url() === `${URL_}/session` && r.request().method() === 'POST' && r.status() === 200)
      aliceSession = await r.json().catch(() => null);
  });
  const page0 = await a.goto(`${URL_}/`, { timeout: WAIT });
  // The page runs under the server's Content-Security-Policy (so "no console errors" also means
  // no CSP violation: Chromium reports each one as a console error).
  const csp = page0 ? (await page0.allHeaders())['content-security-policy'] || '' : '';
  check(/script-src 'self'/.test(csp) && !/unsafe-inline|unsafe-eval/.test(csp), `GET / carries the CSP (${csp})`);
  await waitState(a, 'login');
  check(await a.locator('label[for=username]').textContent().then((t) => t.trim()) === 'Username', 'login: the Username label');
  check(await a.locator('label[for=password]').textContent().then((t) => t.trim()) === 'Password', 'login: the Password label');
  check(await a.getAttribute('#password', 'type') === 'password', 'login: the password field hides what is typed');
  await shot(a, 'login');

  // A wrong password: an error in #login-error, still the login form.
  await login(a, 'alice', 'wrong', 'alice, wrong password');
  await a.waitForFunction(() => (document.querySelector('#login-error')?.textContent || '').trim() !== '', null, { timeout: WAIT })
    .catch(() => {});
  check((await a.locator('#login-error').textContent().catch(() => '') || '').trim() !== '', 'wrong password: #login-error says why');
  check(await a.locator('#login-error').getAttribute('role').catch(() => null) === 'alert', '#login-error has role="alert"');
  check(await state(a) === 'login', 'wrong password: still the login form');
  await waitForData();
  phase('the devices have synced');

  // The real password, typed into the same form, and Enter.
  await a.fill('#username', '');
  await a.fill('#password', '');
  await a.focus('#username');
  await a.keyboard.type('alice');
  await a.keyboard.press('Tab');
  await a.keyboard.type(env('ETUDE_ALICE_PW'));
  await a.keyboard.press('Enter');
  await waitState(a, 'ready');
  phase('alice logged in, the dashboard drawn');
  check(((await a.textContent('#user-name')) || '').trim() === 'alice', '#user-name says alice');

  // The cookie as the browser holds it.
  const cookies = await ctxA.cookies(URL_);
  const ck = cookies.find((c) => c.name === 'etude_session');
  must(ck, `the browser holds an etude_session cookie (has: ${cookies.map((c) => c.name).join(' ')})`);
  check(ck.httpOnly, 'etude_session is HttpOnly');
  check(ck.sameSite === 'Strict', `etude_session is SameSite=Strict (${ck.sameSite})`);
  check(ck.expires > Date.now() / 1000, 'etude_session has an expiry');
  check(!(await a.evaluate(() => document.cookie)).includes('etude_session'), 'the page script cannot read the cookie');
  must(aliceSession && aliceSession.csrfToken, 'POST /session answered the csrfToken');

  // The note, with its text as typed (markup shown as text, never parsed).
  const notes = await a.$$eval('#notes li.note', (ls) => ls.map((l) => l.textContent));
  check(notes.some((t) => t.includes(NOTE)), `#notes shows alice's note as text (notes: ${JSON.stringify(notes)})`);
  check(await a.$$eval('#notes b', (bs) => bs.length) === 0, "the note's markup stays text (no <b> element in #notes)");
  // The sessions: every played material listed; the renders apart.
  const sessions = await a.$$eval('#sessions li.session', (ls) => ls.map((l) => l.textContent));
  for (const m of new Set(played(alice).map((s) => s.material)))
    check(sessions.some((t) => t.includes(m)), `#sessions lists a session of "${m}"`);
  const renders = (await a.textContent('#renders').catch(() => null)) || '';
  for (const s of sessionsOf(alice).filter((x) => x.command === 'render'))
    check(renders.includes(s.material), `#renders lists the render of "${s.material}"`);
  await checkCharts(a, 'dashboard', alice);
  // Goals.
  const goals = await a.$$eval('#goals li.goal', (ls) => ls.map((l) => ({ p: Number(l.getAttribute('data-progress')), t: l.textContent.trim() })));
  const nGoals = alice.entities.filter((e) => e.entityType === 'goal').length;
  check(goals.length === nGoals, `#goals has ${goals.length} li.goal, want ${nGoals}`);
  for (const g of goals) check(Number.isFinite(g.p) && g.p >= 0 && g.p <= 1 && g.t !== '', `goal "${g.t}": data-progress ${g.p} in 0..1`);
  // The one goal, 30 minutes a UTC day of any material: today's played minutes / 30.
  const today = new Date().toISOString().slice(0, 10);
  const want = Math.min(1, (minutesBy(alice, dayKey).get(today) || 0) / 30);
  check(goals.length === 1 && near(goals[0].p, want, 0.01), `the goal's data-progress ${goals[0]?.p}, want ${want.toFixed(4)}`);
  // The device that synced.
  const rows = await a.$$eval('#devices tr.device', (rs) => rs.map((r) => ({ id: r.getAttribute('data-device'), cells: r.cells.length, text: r.textContent })));
  const row = rows.find((r) => r.id === alice.deviceId);
  check(row, `#devices has a row for alice's device ${alice.deviceId} (rows: ${rows.map((r) => r.id).join(' ')})`);
  if (row) check(row.cells >= 5, `the device row has name, last sync, pending, conflicts, dead letters (${row.cells} cells)`);
  if (row) check(alice.deadLetters.length === 0 && !/oversized/.test(row.text), `alice's device row shows no dead letter (${row.text})`);
  // Nothing of bob's.
  const bodyA = await a.textContent('body');
  check(!bodyA.includes('bob keeps this note') && !bodyA.includes('Sonata kept by bob'), "alice's dashboard shows nothing of bob's");
  check(!rows.some((r) => r.id === bob.deviceId), "alice's dashboard has no row for bob's device");
  // The admin's figures.
  check(await a.locator('#admin').isVisible(), 'alice (admin) sees #admin');
  for (const id of ['chart-requests', 'chart-latency', 'chart-sse', 'chart-db', 'chart-traffic']) {
    const ds = await a.$$eval(`#admin #${id} path.series`, (ps) => ps.map((p) => p.getAttribute('d') || ''));
    check(ds.length > 0 && ds.every((d) => /\d/.test(d)), `#${id} draws its series (${ds.length} path.series)`);
  }
  await shot(a, 'dashboard-alice');
  phase('alice checked');

  // Phone width: nothing wider than the screen.
  // (the page redraws its charts a moment after a resize: give it up to 3 s to fit)
  await a.setViewportSize({ width: 375, height: 812 });
  await a.waitForFunction(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) <=
    document.documentElement.clientWidth, null, { timeout: 3000 }).catch(() => {});
  const w = await noHorizontalScroll(a);
  check(w.scroll <= w.width, `alice at 375 px: no horizontal scrolling (content ${w.scroll} px wide in ${w.width})`);
  await a.setViewportSize({ width: 1280, height: 900 });

  phase('phone width checked');
  // A live update: a note written and synced on the device shows up without a reload.
  let navigations = 0;
  a.on('framenavigated', (f) => { if (f === a.mainFrame()) navigations++; });
  const LIVE = `arrived live ${process.pid}`;
  const run = (args) => spawnSync(env('ETUDE_BIN'), args, { env: { ...process.env, ETUDE_HOME: env('ETUDE_ALICE_HOME') }, encoding: 'utf8', timeout: 20000 });
  let r = run(['log', 'note', LIVE]);
  must(r.status === 0, `etude log note: ${r.stderr}`);
  r = run(['sync', 'now']);
  must(r.status === 0, `etude sync now: ${r.stderr}`);
  const live = await a.waitForFunction((t) => [...document.querySelectorAll('#notes li.note')].some((l) => l.textContent.includes(t)),
    LIVE, { timeout: WAIT }).then(() => true, () => false);
  check(live && navigations === 0, `a note synced from the device appears live through /events (seen: ${live}, reloads: ${navigations})`);

  phase('live update checked');
  // The cookie works from outside the browser too (so the checks after logout can fail).
  const before = await http('GET', '/session', { cookie: ck.value });
  check(before.status === 200 && before.json?.user?.name === 'alice', `GET /session with alice's cookie: ${before.status}`);
  const readBefore = await http('POST', '/graphql', { cookie: ck.value, csrf: aliceSession.csrfToken, body: dashboardRead });
  check(readBefore.status === 200 && Array.isArray(readBefore.json?.data?.dashboardEntities?.entities),
    `DashboardEntities with alice's cookie: ${readBefore.status} ${readBefore.text.slice(0, 200)}`);

  // Logout, then the old cookie is dead everywhere.
  // from the keyboard: a real button takes focus and answers Enter
  await a.bringToFront();
  await a.mouse.click(2, 2);
  await a.focus('#logout');
  check(await focused(a) === '#logout', `#logout takes keyboard focus (got ${await focused(a)})`);
  await a.keyboard.press('Enter');
  await waitState(a, 'login');
  check(!(await ctxA.cookies(URL_)).some((c) => c.name === 'etude_session' && c.value), 'logout clears the cookie in the browser');
  const after = await http('GET', '/session', { cookie: ck.value });
  check(after.status === 401, `GET /session with the cookie after logout: ${after.status}, want 401`);
  const readAfter = await http('POST', '/graphql', { cookie: ck.value, csrf: aliceSession.csrfToken, body: dashboardRead });
  check(readAfter.status === 401, `POST /graphql DashboardEntities with the cookie after logout: ${readAfter.status}, want 401`);
  check(!/left hand cleaner/.test(readAfter.text), 'nothing of alice comes back after logout');
  await a.reload({ timeout: WAIT });
  await waitState(a, 'login');
  check(!((await a.textContent('body')) || '').includes(NOTE), 'after logout and a reload the page shows none of the data');
  await ctxA.close();

  phase('logout checked');
  // ---------------- bob, on a phone-sized screen, a fresh context ----------------
  await b.goto(`${URL_}/`, { timeout: WAIT });
  await waitState(b, 'login');
  let wb = await noHorizontalScroll(b);
  check(wb.scroll <= wb.width, `the login page at 375 px: no horizontal scrolling (${wb.scroll} in ${wb.width})`);
  await login(b, 'bob', env('ETUDE_BOB_PW'), 'bob');
  await waitState(b, 'ready');
  check(((await b.textContent('#user-name')) || '').trim() === 'bob', '#user-name says bob');
  const bodyB = await b.textContent('body');
  check(bodyB.includes('bob keeps this note to himself'), "bob sees his own note");
  for (const s of [NOTE, 'left hand cleaner', 'Chorale in G', 'Etude in D', '16 4/4 120', 'arrived live'])
    check(!bodyB.includes(s), `bob's dashboard shows nothing of alice's: "${s}"`);
  const devB = await b.$$eval('#devices tr.device', (rs) => rs.map((r) => r.getAttribute('data-device')));
  check(!devB.includes(alice.deviceId), "bob's dashboard has no row for alice's device");
  check(devB.includes(bob.deviceId), `bob's dashboard has a row for his device (rows: ${devB.join(' ')})`);
  // bob's device gave up on his oversized note: the row names the dead letter with its reason.
  const rowB = (await b.$$eval('#devices tr.device', (rs) => rs.map((r) => ({ id: r.getAttribute('data-device'), text: r.textContent }))))
    .find((r) => r.id === bob.deviceId);
  for (const d of bob.deadLetters)
    check(rowB && rowB.text.includes(d.reason), `bob's device row shows the dead letter's reason "${d.reason}" (row: ${rowB?.text})`);
  await checkCharts(b, 'bob', bob);
  check(!(await b.locator('#admin').isVisible()), 'bob (no admin) does not see #admin');
  check(await b.$$eval('#admin path.series', (ps) => ps.length) === 0, "bob's page draws no admin series");
  wb = await noHorizontalScroll(b);
  check(wb.scroll <= wb.width, `bob's dashboard at 375 px: no horizontal scrolling (${wb.scroll} in ${wb.width})`);
  await shot(b, 'dashboard-bob-375');
  await ctxB.close();

  phase('bob checked');
  // ---------------- the offline report, as a file:// page ----------------
  await p.goto(`file://${env('ETUDE_REPORT')}`, { timeout: WAIT });
  check(await p.evaluate(() => document.body.dataset.mode) === 'report', 'the report: <body data-mode="report">');
  await p.waitForSelector('#chart-days rect.bar', { timeout: WAIT }).catch(() => {});
  await checkCharts(p, 'report', alice);
  check(remote.length === 0, `the report loads nothing from anywhere (asked for: ${remote.join(' ')})`);
  check(await p.$$eval('#admin, #devices tr.device, form#login', (xs) => xs.filter((x) => !x.hidden).length) === 0,
    'the report has no login, no devices, no admin');
  await shot(p, 'report');
  await ctxR.close();
  phase('report checked');
} catch (e) {
  if (!(e instanceof Stop)) {
    failures.push(`${e.name}: ${e.message.split('\n')[0]}`);
    console.error(`not ok: ${e.stack}`);
  }
} finally {
  done = true;
  await browser.close().catch(() => {});
  clearTimeout(watchdog);
}

for (const c of consoleErrors) check(false, c);
check(consoleErrors.length === 0, 'no console errors and no page errors');
for (const s of shots) console.log(`screenshot: ${s}`);
if (failures.length) {
  console.error(`dashboard.mjs: ${failures.length} of ${checks} checks failed:`);
  for (const f of failures) console.error(`  - ${f}`);
  process.exit(1);
}
console.log(`dashboard.mjs: all ${checks} checks passed`);
