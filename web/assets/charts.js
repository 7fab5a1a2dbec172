/* charts.js - practice charts (SVG), shared by the dashboard and `etude report`.
 *
 * Two halves. The model: pure functions from the entities the recorder and the logbook write
 * (docs/logbook.md) to the figures drawn: practice minutes per day and per week (played sessions
 * only, days in the viewer's local time zone), renders apart, tempo per material, the timing trend
 * where MIDI was played, and goal progress computed exactly as app/etude_logbook.c does (UTC days
 * and ISO weeks, material identity). They run in a browser and under node (module.exports), so
 * tests check them against known data. The drawing: hand-written SVG (no library), geometry set
 * with attributes and colours with classes, so a Content-Security-Policy without 'unsafe-inline'
 * holds. An entity is {id, createdAt, updatedAt, data} as DashboardEntities returns it. */
(function (root) {
    "use strict";
    var C = {};

    /* ---- the model ------------------------------------------------------------------------- */

    function str(v) {
        return typeof v === "string" ? v : null;
    }
    function num(v) {
        return typeof v === "number" && isFinite(v) ? v : 0;
    }
    function pad(n) {
        return (n < 10 ? "0" : "") + n;
    }
    function round(x, digits) {
        var f = Math.pow(10, digits);
        return isFinite(x * f) ? Math.round(x * f) / f : x;
    }
    C.round = round;

    /* Played (practice) unless the command was a render, as etude_logbook_is_practice(). */
    C.isPractice = function (d) {
        return !(d && d.command === "render");
    };

    /* "YYYY-MM-DD" of unix ms in the local time zone (the viewer's; TZ under node). */
    C.localDay = function (ms) {
        var t = new Date(ms);
        return t.getFullYear() + "-" + pad(t.getMonth() + 1) + "-" + pad(t.getDate());
    };

    /* The local date of the Monday of the week holding ms. */
    C.localMonday = function (ms) {
        var t = new Date(ms);
        var m = new Date(t.getFullYear(), t.getMonth(), t.getDate() - ((t.getDay() + 6) % 7), 12);
        return C.localDay(m.getTime());
    };

    /* "YYYY-MM-DD HH:MM", local. */
    C.localDateTime = function (ms) {
        var t = new Date(ms);
        return C.localDay(ms) + " " + pad(t.getHours()) + ":" + pad(t.getMinutes());
    };

    /* The day after a "YYYY-MM-DD" key (step days later), as a key. */
    function addDays(key, step) {
        var p = key.split("-");
        return C.localDay(new Date(+p[0], +p[1] - 1, +p[2] + step, 12).getTime());
    }
    C.addDays = addDays;

    /* The sessions with a start time, oldest first (ties in the order given), as rows
     * {id, at (unix ms), started (ISO text), data}. */
    C.sessionRows = function (entities) {
        var rows = [];
        (entities || []).forEach(function (e, i) {
            var d = e && e.data;
            var s = d && str(d.startedAt);
            var at = s ? Date.parse(s) : NaN;
            if (s && s.length >= 10 && isFinite(at))
                rows.push({ id: e.id, at: at, started: s, data: d, i: i });
        });
        rows.sort(function (a, b) {
            return a.started < b.started ? -1 : a.started > b.started ? 1 : a.i - b.i;
        });
        return rows;
    };

    function buckets(entities, keyOf) {
        var map = {}, out = [];
        C.sessionRows(entities).forEach(function (r) {
            if (!C.isPractice(r.data))
                return;
            var k = keyOf(r.at);
            if (!map[k]) {
                map[k] = { key: k, minutes: 0, sessions: 0 };
                out.push(map[k]);
            }
            map[k].minutes += num(r.data.activeSeconds) / 60;
            map[k].sessions++;
        });
        out.sort(function (a, b) {
            return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
        });
        return out;
    }

    /* Played minutes per local day: [{key "YYYY-MM-DD", minutes, sessions}], oldest first. */
    C.minutesPerDay = function (entities) {
        return buckets(entities, C.localDay);
    };

    /* Played minutes per week (key: the Monday's local date). */
    C.minutesPerWeek = function (entities) {
        return buckets(entities, C.localMonday);
    };

    /* Totals of the played sessions and the renders left out. */
    C.totals = function (entities) {
        var t = { sessions: 0, minutes: 0, renders: 0, renderMinutes: 0 };
        C.sessionRows(entities).forEach(function (r) {
            var m = num(r.data.activeSeconds) / 60;
            if (C.isPractice(r.data)) {
                t.sessions++;
                t.minutes += m;
            } else {
                t.renders++;
                t.renderMinutes += m;
            }
        });
        return t;
    };

    /* The renders, newest first: rows as sessionRows gives them. */
    C.renders = function (entities) {
        return C.sessionRows(entities).filter(function (r) {
            return !C.isPractice(r.data);
        }).reverse();
    };

    /* A session's material as the summary keys it: its identity "path|hash", else its text. */
    C.materialKey = function (d) {
        var path = str(d.materialPath), hash = str(d.materialHash);
        if (path !== null && hash !== null)
            return path + "|" + hash;
        return str(d.material) || "";
    };

    /* The material's name as a session shows it: its title, else its preset, else "(no name)". */
    C.materialName = function (d) {
        var m = str(d.material);
        return m ? m : str(d.preset) !== null ? d.preset : "(no name)";
    };

    /* Tempo per material, in the order first practised: [{key, name, sessions, firstBpm, lastBpm,
     * bestBpm, points: [{id, at, bpm}]}]; bpm is the session's tempoMaxBpm. Played sessions only. */
    C.tempoPerMaterial = function (entities) {
        var map = {}, out = [];
        C.sessionRows(entities).forEach(function (r) {
            if (!C.isPractice(r.data))
                return;
            var k = C.materialKey(r.data), bpm = num(r.data.tempoMaxBpm);
            var m = map[k];
            if (!m) {
                m = map[k] = { key: k, name: C.materialName(r.data), sessions: 0, firstBpm: bpm, lastBpm: bpm,
                               bestBpm: 0, points: [] };
                out.push(m);
            }
            m.sessions++;
            m.lastBpm = bpm;
            if (bpm > m.bestBpm)
                m.bestBpm = bpm;
            m.points.push({ id: r.id, at: r.at, bpm: bpm, material: str(r.data.material) || m.name });
        });
        return out;
    };

    /* The session's timing figures when MIDI was played (notes > 0), else null. */
    C.accuracy = function (d) {
        var t = d && d.timing;
        if (!t || typeof t !== "object" || !(num(t.notes) > 0))
            return null;
        return { notes: num(t.notes), mean: num(t.mean_ms), sd: num(t.sd_ms), within25: num(t.within_25ms) };
    };

    /* Pool b into a (a copy is returned): means weighted by notes, the sd of the union, as
     * etude_logbook_accuracy_pool(). */
    C.pool = function (a, b) {
        var n = a.notes + b.notes;
        if (!(b.notes > 0) || !(n > 0))
            return { notes: a.notes, mean: a.mean, sd: a.sd, within25: a.within25 };
        var mean = (a.notes * a.mean + b.notes * b.mean) / n;
        var ex2 = (a.notes * (a.sd * a.sd + a.mean * a.mean) + b.notes * (b.sd * b.sd + b.mean * b.mean)) / n;
        var v = ex2 - mean * mean;
        return { notes: n, mean: mean, sd: v > 0 ? Math.sqrt(v) : 0,
                 within25: (a.notes * a.within25 + b.notes * b.within25) / n };
    };

    /* The timing trend: one point per played session with MIDI notes, oldest first:
     * [{id, at, day, ms (mean offset, positive: late), sd, notes, within25}]. */
    C.timingTrend = function (entities) {
        var out = [];
        C.sessionRows(entities).forEach(function (r) {
            var a = C.isPractice(r.data) ? C.accuracy(r.data) : null;
            if (a)
                out.push({ id: r.id, at: r.at, day: C.localDay(r.at), ms: a.mean, sd: a.sd, notes: a.notes,
                           within25: a.within25 });
        });
        return out;
    };

    /* The trend pooled per local day: [{key, notes, mean, sd, within25}]. */
    C.timingPerDay = function (entities) {
        var out = [], last = null;
        C.timingTrend(entities).forEach(function (p) {
            if (!last || last.key !== p.day) {
                last = { key: p.day, notes: 0, mean: 0, sd: 0, within25: 0 };
                out.push(last);
            }
            var q = C.pool(last, { notes: p.notes, mean: p.ms, sd: p.sd, within25: p.within25 });
            last.notes = q.notes;
            last.mean = q.mean;
            last.sd = q.sd;
            last.within25 = q.within25;
        });
        return out;
    };

    /* ---- goals: the rules of app/etude_logbook.c, to the letter ------------------------------ */

    function hashValid(s) {
        return typeof s === "string" && /^[0-9a-f]{64}$/.test(s);
    }

    /* The filter a goal describes (etude_logbook_filter_goal). */
    C.goalFilter = function (g) {
        var path = str(g.materialPath), hash = str(g.materialHash);
        var preset = str(g.preset), material = str(g.material);
        return {
            text: preset !== null ? preset : material,
            id: path !== null && hashValid(hash) && path.length < 4095 ? { path: path, hash: hash } : null
        };
    };

    /* Whether a session's data played what the filter names (etude_logbook_matches). */
    C.matches = function (f, d) {
        if (!f || (f.text === null && !f.id))
            return true;
        var sp = str(d.preset), sm = str(d.material);
        if (!f.id)
            return (sp !== null && sp === f.text) || (sm !== null && sm === f.text);
        var path = str(d.materialPath), hash = str(d.materialHash);
        if (path !== null && hash !== null)
            return path === f.id.path && hash === f.id.hash;
        return sp === f.id.path || sm === f.id.path;
    };

    /* The start (unix ms) of the UTC day, ISO week (Monday) or month holding nowMs. */
    C.periodStartUTC = function (period, nowMs) {
        var t = new Date(nowMs);
        var day = Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), period === "month" ? 1 : t.getUTCDate());
        if (period === "week")
            day -= ((t.getUTCDay() + 6) % 7) * 86400000;
        return day;
    };

    /* A goal's progress at nowMs over the sessions (etude_logbook_goal_progress and what
     * `etude goal progress --json` prints): a minutes goal sums the played minutes of matching
     * sessions since the start of this UTC day or ISO week; any other goal takes the highest
     * tempoMaxBpm of matching played sessions. {kind, target, value, ratio, reached, since?}. */
    C.goalProgress = function (g, entities, nowMs) {
        var kind = str(g.kind), target = num(g.target), minutes = kind === "minutes";
        var since = new Date(C.periodStartUTC(g.period === "week" ? "week" : "day", nowMs)).toISOString();
        var f = C.goalFilter(g), value = 0;
        if (kind !== null)
            (entities || []).forEach(function (e) {
                var d = e && e.data;
                if (!d || typeof d !== "object" || !C.isPractice(d) || !C.matches(f, d))
                    return;
                if (!minutes) {
                    if (num(d.tempoMaxBpm) > value)
                        value = num(d.tempoMaxBpm);
                } else if (str(d.startedAt) !== null && d.startedAt >= since) {
                    value += num(d.activeSeconds) / 60;
                }
            });
        var p = { kind: kind, target: target, value: value, ratio: target > 0 ? round(value / target, 3) : 0,
                  reached: value >= target };
        if (minutes)
            p.since = since;
        return p;
    };

    /* The goal in words, as `etude goal list` prints it. */
    C.goalText = function (g) {
        var target = num(g.target), preset = str(g.preset), material = str(g.material);
        if (g.kind === "minutes")
            return target + " minutes per " + (str(g.period) || "day") + (preset !== null ? " with " + preset : "");
        return target + " bpm with " + (preset !== null ? preset : material !== null ? material : "?");
    };

    /* Minutes as text: "40 s", "12.5 min", "1 h 05 min". */
    C.minutesText = function (m) {
        if (m < 1)
            return Math.round(m * 60) + " s";
        if (m >= 59.5)
            return Math.floor(Math.round(m) / 60) + " h " + pad(Math.round(m) % 60) + " min";
        return round(m, 1) + " min";
    };

    /* A figure for a data attribute: at most two decimals, no trailing zeros. */
    C.attrNumber = function (x) {
        return String(round(x, 2));
    };

    /* ---- drawing (browser only) ---------------------------------------------------------------- */

    var NS = "http://www.w3.org/2000/svg";
    var NCOLOURS = 8;

    function h(doc, name, attrs, text) {
        var e = doc.createElement(name);
        for (var k in attrs)
            if (Object.prototype.hasOwnProperty.call(attrs, k) && attrs[k] !== null && attrs[k] !== undefined)
                e.setAttribute(k, attrs[k]);
        if (text !== undefined && text !== null)
            e.textContent = text;
        return e;
    }
    C.h = h;

    function s(svg, name, attrs, text) {
        var e = svg.ownerDocument.createElementNS(NS, name);
        for (var k in attrs)
            if (Object.prototype.hasOwnProperty.call(attrs, k) && attrs[k] !== null && attrs[k] !== undefined)
                e.setAttribute(k, typeof attrs[k] === "number" ? String(round(attrs[k], 2)) : attrs[k]);
        if (text !== undefined && text !== null)
            e.textContent = text;
        svg.appendChild(e);
        return e;
    }

    function clear(node) {
        while (node.firstChild)
            node.removeChild(node.firstChild);
    }

    /* A chart: <div id=ID class="chart-box"> holding an empty <svg class="chart"> with its
     * accessible name, drawn into later (C.chartSvg gives the svg). */
    C.svg = function (doc, id, label) {
        var box = h(doc, "div", { id: id, class: "chart-box" });
        var e = doc.createElementNS(NS, "svg");
        e.setAttribute("class", "chart");
        e.setAttribute("role", "img");
        e.setAttribute("aria-label", label);
        box.appendChild(e);
        return box;
    };

    /* The <svg> of a chart box (or the svg itself). */
    C.chartSvg = function (el) {
        return el && el.namespaceURI === NS ? el : el.querySelector("svg");
    };

    /* Size the drawing to the width the svg is laid out at (1 unit = 1 CSS pixel). */
    function frame(svg, height) {
        svg = C.chartSvg(svg);
        var w = 0;
        try {
            w = Math.round(svg.getBoundingClientRect().width);
        } catch (e) {
            w = 0;
        }
        if (!(w > 0))
            w = 640;
        clear(svg);
        svg.setAttribute("viewBox", "0 0 " + w + " " + height);
        svg.setAttribute("height", String(height));
        var label = svg.getAttribute("aria-label");
        if (label)
            s(svg, "title", {}, label);
        var narrow = w < 480;
        return { w: w, h: height, l: narrow ? 38 : 48, r: 12, t: 24, b: 28, narrow: narrow };
    }

    function niceMax(v) {
        if (!(v > 0))
            return 1;
        var p = Math.pow(10, Math.floor(Math.log10(v))), n = v / p;
        return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * p;
    }

    function yAxis(svg, f, lo, hi, unit, y) {
        [lo, (lo + hi) / 2, hi].forEach(function (v) {
            var yy = y(v);
            s(svg, "line", { x1: f.l, x2: f.w - f.r, y1: yy, y2: yy, class: "gridline" });
            s(svg, "text", { x: f.l - 4, y: yy + 4, class: "tick", "text-anchor": "end" }, String(Number(v.toPrecision(3))));
        });
        s(svg, "text", { x: 2, y: 12, class: "unit" }, unit);
    }

    function xLabel(svg, f, x, text, anchor) {
        s(svg, "text", { x: x, y: f.h - 8, class: "tick", "text-anchor": anchor }, text);
    }

    function empty(svg, f, text) {
        s(svg, "text", { x: f.w / 2, y: f.h / 2, class: "empty", "text-anchor": "middle" }, text);
    }

    /* Bars on a continuous axis of days (step 1) or weeks (step 7): items [{key, minutes,
     * sessions}] sorted by key; one <rect class="bar" data-key data-minutes> per item. */
    C.drawBars = function (svg, items, step, what) {
        svg = C.chartSvg(svg);
        var f = frame(svg, 200);
        if (!items.length)
            return empty(svg, f, "No practice yet");
        var keys = [], k = items[0].key, last = items[items.length - 1].key;
        while (k <= last && keys.length < 4000) {
            keys.push(k);
            k = addDays(k, step);
        }
        var slot = (f.w - f.l - f.r) / keys.length, bw = Math.max(1, Math.min(slot * 0.8, 48));
        var max = niceMax(Math.max.apply(null, items.map(function (i) { return i.minutes; })));
        var y = function (v) { return f.h - f.b - (v / max) * (f.h - f.t - f.b); };
        yAxis(svg, f, 0, max, "min", y);
        var at = {};
        keys.forEach(function (key, i) { at[key] = i; });
        items.forEach(function (it) {
            var i = at[it.key] !== undefined ? at[it.key] : 0;
            var x = f.l + slot * i + (slot - bw) / 2, top = y(it.minutes);
            var r = s(svg, "rect", { x: x, y: top, width: bw, height: Math.max(0, f.h - f.b - top), class: "bar",
                                     "data-key": it.key, "data-minutes": C.attrNumber(it.minutes),
                                     "data-sessions": String(it.sessions) });
            s(r, "title", {}, (step === 7 ? "week of " : "") + it.key + ": " + C.minutesText(it.minutes) + ", " +
              it.sessions + (it.sessions === 1 ? " session" : " sessions"));
        });
        xLabel(svg, f, f.l, keys[0], "start");
        if (keys.length > 1)
            xLabel(svg, f, f.w - f.r, keys[keys.length - 1], "end");
        svg.setAttribute("aria-label", what + ": " + items.length + (step === 7 ? " weeks" : " days") +
                         " with practice, at most " + C.minutesText(max));
    };

    /* x of a time; a single time is centred in a span of 2 * half ms. */
    function timeScale(f, points, half) {
        var lo = Infinity, hi = -Infinity;
        points.forEach(function (p) {
            lo = Math.min(lo, p.at);
            hi = Math.max(hi, p.at);
        });
        if (!(hi > lo)) {
            lo -= half || 43200000;
            hi += half || 43200000;
        }
        var pad = 8;
        return { lo: lo, hi: hi, x: function (t) { return f.l + pad + (t - lo) / (hi - lo) * (f.w - f.l - f.r - 2 * pad); } };
    }

    /* Tempo per material: one <path class="series" data-material> per material and one
     * <circle class="point" data-material data-bpm> per session; legend items into legend (a <ul>). */
    C.drawTempo = function (svg, materials, legend) {
        svg = C.chartSvg(svg);
        var f = frame(svg, 220);
        if (legend)
            clear(legend);
        var all = [];
        materials.forEach(function (m) { all = all.concat(m.points); });
        if (!all.length)
            return empty(svg, f, "No practice yet");
        var lo = Infinity, hi = -Infinity;
        all.forEach(function (p) {
            lo = Math.min(lo, p.bpm);
            hi = Math.max(hi, p.bpm);
        });
        lo = Math.max(0, Math.floor((lo - 5) / 10) * 10);
        hi = Math.ceil((hi + 5) / 10) * 10;
        var tx = timeScale(f, all);
        var y = function (v) { return f.h - f.b - (v - lo) / (hi - lo) * (f.h - f.t - f.b); };
        yAxis(svg, f, lo, hi, "bpm", y);
        materials.forEach(function (m, i) {
            var c = " s" + (i % NCOLOURS), d = "";
            m.points.forEach(function (p, j) {
                d += (j ? " L" : "M") + round(tx.x(p.at), 2) + " " + round(y(p.bpm), 2);
            });
            s(svg, "path", { d: d, class: "series" + c, "data-material": m.name });
            m.points.forEach(function (p) {
                var pt = s(svg, "circle", { cx: tx.x(p.at), cy: y(p.bpm), r: 4, class: "point" + c,
                                            "data-material": p.material, "data-bpm": C.attrNumber(p.bpm) });
                s(pt, "title", {}, m.name + ": " + p.bpm + " bpm, " + C.localDateTime(p.at));
            });
            if (legend) {
                var li = h(legend.ownerDocument, "li", {});
                li.appendChild(h(legend.ownerDocument, "span", { class: "swatch" + c, "aria-hidden": "true" }));
                li.appendChild(legend.ownerDocument.createTextNode(m.name + ": " + m.firstBpm + " \u2192 " + m.lastBpm +
                    " bpm (best " + m.bestBpm + "), " + m.sessions + (m.sessions === 1 ? " session" : " sessions")));
                legend.appendChild(li);
            }
        });
        xLabel(svg, f, f.l, C.localDay(tx.lo), "start");
        xLabel(svg, f, f.w - f.r, C.localDay(tx.hi), "end");
        svg.setAttribute("aria-label", "Tempo per material: " + materials.length + " materials, " + all.length + " sessions");
    };

    /* The timing trend: a <circle class="point" data-ms> per session where MIDI was played (its
     * mean offset against the beat, ms, positive: late), its sd as a line, and a trend path. */
    C.drawTiming = function (svg, points) {
        svg = C.chartSvg(svg);
        var f = frame(svg, 200);
        if (!points.length)
            return empty(svg, f, "No MIDI played yet");
        var m = 0;
        points.forEach(function (p) { m = Math.max(m, Math.abs(p.ms) + p.sd); });
        m = niceMax(Math.max(m, 5));
        var tx = timeScale(f, points);
        var y = function (v) { return f.h - f.b - (v + m) / (2 * m) * (f.h - f.t - f.b); };
        yAxis(svg, f, -m, m, "ms", y);
        s(svg, "line", { x1: f.l, x2: f.w - f.r, y1: y(0), y2: y(0), class: "zero" });
        var d = "";
        points.forEach(function (p, j) {
            var x = tx.x(p.at);
            s(svg, "line", { x1: x, x2: x, y1: y(p.ms - p.sd), y2: y(p.ms + p.sd), class: "sd" });
            d += (j ? " L" : "M") + round(x, 2) + " " + round(y(p.ms), 2);
        });
        s(svg, "path", { d: d, class: "trend" });
        points.forEach(function (p) {
            var pt = s(svg, "circle", { cx: tx.x(p.at), cy: y(p.ms), r: 4, class: "point",
                                        "data-ms": C.attrNumber(p.ms), "data-sd": C.attrNumber(p.sd),
                                        "data-notes": String(p.notes) });
            s(pt, "title", {}, C.localDateTime(p.at) + ": mean " + (p.ms >= 0 ? "+" : "") + round(p.ms, 1) + " ms, sd " +
              round(p.sd, 1) + " ms, " + Math.round(p.within25 * 100) + "% within \u00b125 ms (" + p.notes + " notes)");
        });
        xLabel(svg, f, f.l, C.localDay(tx.lo), "start");
        xLabel(svg, f, f.w - f.r, C.localDay(tx.hi), "end");
        svg.setAttribute("aria-label", "Timing accuracy: " + points.length + " sessions with MIDI played");
    };

    /* Lines over time: times (unix ms) and series [{name, values (null: a gap)}]; one
     * <path class="series" data-series> per series. */
    C.drawLines = function (svg, times, series, unit, legend) {
        svg = C.chartSvg(svg);
        var f = frame(svg, 180);
        if (legend)
            clear(legend);
        var hi = 0, pts = times.map(function (t) { return { at: t }; });
        series.forEach(function (sr) {
            sr.values.forEach(function (v) {
                if (v !== null && v > hi)
                    hi = v;
            });
        });
        hi = niceMax(hi);
        if (!times.length)
            empty(svg, f, "No figures yet");
        var tx = timeScale(f, pts.length ? pts : [{ at: 0 }], 60000);
        var y = function (v) { return f.h - f.b - v / hi * (f.h - f.t - f.b); };
        yAxis(svg, f, 0, hi, unit, y);
        series.forEach(function (sr, i) {
            var c = " s" + (i % NCOLOURS), d = "", pen = false, ok = function (v) {
                return v !== null && v !== undefined && isFinite(v);
            };
            sr.values.forEach(function (v, j) {
                if (!ok(v)) {
                    pen = false;
                    return;
                }
                d += (pen ? " L" : (d ? " M" : "M")) + round(tx.x(times[j]), 2) + " " + round(y(v), 2);
                pen = true;
            });
            s(svg, "path", { d: d || "M0 0", class: "series" + c, "data-series": sr.name });
            /* a minute with no neighbour draws no line: mark it */
            sr.values.forEach(function (v, j) {
                if (ok(v) && !ok(sr.values[j - 1]) && !ok(sr.values[j + 1]))
                    s(svg, "circle", { cx: tx.x(times[j]), cy: y(v), r: 3, class: "dot" + c });
            });
            if (legend) {
                var li = h(legend.ownerDocument, "li", {});
                li.appendChild(h(legend.ownerDocument, "span", { class: "swatch" + c, "aria-hidden": "true" }));
                var lastv = null;
                sr.values.forEach(function (v) {
                    if (v !== null && v !== undefined)
                        lastv = v;
                });
                li.appendChild(legend.ownerDocument.createTextNode(sr.name + (lastv !== null ? ": " + round(lastv, 2) : "")));
                legend.appendChild(li);
            }
        });
        if (times.length) {
            var t0 = new Date(times[0]), t1 = new Date(times[times.length - 1]);
            xLabel(svg, f, f.l, pad(t0.getHours()) + ":" + pad(t0.getMinutes()), "start");
            xLabel(svg, f, f.w - f.r, pad(t1.getHours()) + ":" + pad(t1.getMinutes()), "end");
        }
    };

    /* ---- the practice views, shared by the dashboard and the report ---------------------------- */

    function section(doc, parent, id, title, cls) {
        var sec = h(doc, "section", { class: "card" + (cls ? " " + cls : ""), "aria-labelledby": id + "-h" });
        sec.appendChild(h(doc, "h2", { id: id + "-h" }, title));
        parent.appendChild(sec);
        return sec;
    }

    /* Build (or rebuild) the practice views into container from data {sessions, notes, goals,
     * generatedAt?}: the charts #chart-days, #chart-weeks, #chart-tempo, #chart-timing and the
     * lists #renders, #goals, #sessions, #notes. nowMs: the clock of goal progress. A goal carrying
     * progress (the report's, computed by libetude-app) is shown with it; else it is computed. */
    C.renderPractice = function (container, data, nowMs) {
        var doc = container.ownerDocument;
        var isObj = function (e) { return e && typeof e === "object" && e.data && typeof e.data === "object"; };
        var sessions = (data.sessions || []).filter(isObj), notes = (data.notes || []).filter(isObj);
        var goals = (data.goals || []).filter(isObj);
        clear(container);
        var t = C.totals(sessions);

        var sec = section(doc, container, "days", "Practice minutes per day", "wide");
        sec.appendChild(h(doc, "p", { class: "total" }, t.sessions + (t.sessions === 1 ? " session played, " : " sessions played, ") +
            C.minutesText(t.minutes) + (t.renders ? " (" + t.renders + (t.renders === 1 ? " render" : " renders") + " not counted)" : "")));
        var days = C.svg(doc, "chart-days", "Practice minutes per day");
        sec.appendChild(days);

        sec = section(doc, container, "weeks", "Practice minutes per week");
        var weeks = C.svg(doc, "chart-weeks", "Practice minutes per week");
        sec.appendChild(weeks);

        sec = section(doc, container, "tempo", "Tempo per material");
        var tempo = C.svg(doc, "chart-tempo", "Tempo per material");
        sec.appendChild(tempo);
        var legend = h(doc, "ul", { class: "legend" });
        sec.appendChild(legend);

        sec = section(doc, container, "timing", "Timing accuracy (MIDI played)");
        var timing = C.svg(doc, "chart-timing", "Timing accuracy");
        sec.appendChild(timing);
        sec.appendChild(h(doc, "p", { class: "hint" }, "Mean offset of the notes against the beat per session (positive: late), with its standard deviation."));

        sec = section(doc, container, "goals", "Goals");
        var gl = h(doc, "ul", { id: "goals", class: "plain" });
        sec.appendChild(gl);
        goals.forEach(function (g) {
            var d = g.data || {};
            var p = g.progress || C.goalProgress(d, sessions, nowMs);
            var target = num(d.target), ratio = num(p.ratio);
            var li = h(doc, "li", { class: "goal" + (p.reached ? " reached" : ""), "data-goal": g.id,
                                    "data-progress": String(Math.min(1, Math.max(0, ratio))), "data-ratio": String(ratio),
                                    "data-value": C.attrNumber(p.value) });
            li.appendChild(h(doc, "span", { class: "goal-text" }, C.goalText(d)));
            var unit = d.kind === "minutes" ? " min" : " bpm";
            var prog = h(doc, "progress", { max: "1", value: String(Math.min(1, ratio)) });
            prog.setAttribute("aria-label", C.goalText(d));
            li.appendChild(prog);
            li.appendChild(h(doc, "span", { class: "goal-value" }, round(num(p.value), 1) + unit + " of " + target + unit + ", " +
                Math.round(Math.min(1, ratio) * 100) + "%" + (p.reached ? ", reached" : "") +
                (d.kind === "minutes" ? (d.period === "week" ? " this week" : " today") + " (UTC)" : "")));
            gl.appendChild(li);
        });
        if (!goals.length)
            sec.appendChild(h(doc, "p", { class: "empty" }, "No goals yet (etude goal add \u2026)."));

        sec = section(doc, container, "recent", "Recent sessions");
        var sl = h(doc, "ul", { id: "sessions", class: "plain" });
        sec.appendChild(sl);
        var rows = C.sessionRows(sessions).reverse().slice(0, 50);
        rows.forEach(function (r) {
            var d = r.data, played = C.isPractice(d), min = num(d.activeSeconds) / 60;
            var li = h(doc, "li", { class: "session", "data-session": r.id, "data-kind": played ? "played" : "rendered",
                                    "data-minutes": C.attrNumber(min) });
            li.appendChild(h(doc, "span", { class: "what" }, C.materialName(d)));
            li.appendChild(h(doc, "time", { datetime: r.started }, C.localDateTime(r.at)));
            var tempoText = num(d.tempoMinBpm) === num(d.tempoMaxBpm) ? num(d.tempoMaxBpm) + " bpm"
                : num(d.tempoMinBpm) + "\u2013" + num(d.tempoMaxBpm) + " bpm";
            var a = C.accuracy(d);
            li.appendChild(h(doc, "span", { class: "detail" }, C.minutesText(min) + ", " + tempoText +
                (played ? "" : ", rendered (not practice)") +
                (a ? ", timing " + (a.mean >= 0 ? "+" : "") + round(a.mean, 1) + " ms" : "") +
                (d.interrupted === true ? ", interrupted" : "")));
            if (str(d.note))
                li.appendChild(h(doc, "span", { class: "session-note" }, d.note));
            sl.appendChild(li);
        });
        if (!rows.length)
            sec.appendChild(h(doc, "p", { class: "empty" }, "No sessions yet."));

        sec = section(doc, container, "renders-sec", "Renders (not practice)");
        var rl = h(doc, "ul", { id: "renders", class: "plain" });
        sec.appendChild(rl);
        var rend = C.renders(sessions);
        rend.slice(0, 50).forEach(function (r) {
            var li = h(doc, "li", { class: "render", "data-session": r.id,
                                    "data-minutes": C.attrNumber(num(r.data.activeSeconds) / 60) });
            li.appendChild(h(doc, "span", { class: "what" }, C.materialName(r.data)));
            li.appendChild(h(doc, "time", { datetime: r.started }, C.localDateTime(r.at)));
            li.appendChild(h(doc, "span", { class: "detail" }, C.minutesText(num(r.data.activeSeconds) / 60)));
            rl.appendChild(li);
        });
        if (!rend.length)
            sec.appendChild(h(doc, "p", { class: "empty" }, "No renders."));

        sec = section(doc, container, "notes-sec", "Logbook notes");
        var nl = h(doc, "ul", { id: "notes", class: "plain" });
        sec.appendChild(nl);
        var ns = notes.slice().sort(function (a, b) {
            return a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0;
        }).slice(0, 50);
        ns.forEach(function (n) {
            var d = n.data || {};
            var li = h(doc, "li", { class: "note", "data-note": n.id });
            var at = Date.parse(n.createdAt);
            if (isFinite(at))
                li.appendChild(h(doc, "time", { datetime: n.createdAt }, C.localDateTime(at)));
            li.appendChild(h(doc, "span", { class: "note-text" }, str(d.text) || ""));
            nl.appendChild(li);
        });
        if (!ns.length)
            sec.appendChild(h(doc, "p", { class: "empty" }, "No notes yet (etude log note \u2026)."));

        var draw = function () {
            C.drawBars(days, C.minutesPerDay(sessions), 1, "Practice minutes per day");
            C.drawBars(weeks, C.minutesPerWeek(sessions), 7, "Practice minutes per week");
            C.drawTempo(tempo, C.tempoPerMaterial(sessions), legend);
            C.drawTiming(timing, C.timingTrend(sessions));
        };
        draw();
        return draw;
    };

    /* Redraw on resize, at most every 200 ms: the charts are drawn at their laid-out width. */
    C.onResize = function (win, fn) {
        var timer = null;
        win.addEventListener("resize", function () {
            if (timer)
                win.clearTimeout(timer);
            timer = win.setTimeout(function () {
                timer = null;
                fn();
            }, 200);
        });
    };

    /* ---- the offline report: its data is in <script type="application/json" id="etude-data"> ---- */

    C.bootReport = function (doc, win) {
        var el = doc.getElementById("etude-data");
        var data = JSON.parse(el.textContent);
        var gen = Date.parse(data.generatedAt);
        var sub = doc.getElementById("report-span");
        if (sub)
            sub.textContent = (data.since ? "Sessions since " + data.since + " (UTC). " : "All sessions. ") +
                "Written " + (isFinite(gen) ? C.localDateTime(gen) : "?") + "; days in local time.";
        var redraw = C.renderPractice(doc.getElementById("practice"), data, isFinite(gen) ? gen : Date.now());
        C.onResize(win, redraw);
        doc.body.setAttribute("data-state", "ready");
    };

    if (typeof module !== "undefined" && module.exports)
        module.exports = C;
    if (root) {
        root.EtudeCharts = C;
        var doc = root.document;
        if (doc && doc.body && doc.body.getAttribute("data-mode") === "report")
            C.bootReport(doc, root);
    }
})(typeof window !== "undefined" ? window : null);
