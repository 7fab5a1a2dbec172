/* app.js - the dashboard: login, reads through the trusted GraphQL documents, live updates.
 *
 * The page is another client of etude-syncd (docs/dashboard.md): it logs in with POST /session
 * (an HttpOnly cookie it never sees, and a CSRF token it keeps in memory only), reads the user's
 * entities, device status and, for operators, the server's figures through the trusted documents
 * sent as persisted queries (their SHA-256, sync/schema/operations.sha256) with X-CSRF-Token, and
 * re-reads when /events says something changed. Charts and lists are drawn by charts.js. */
(function () {
    "use strict";
    var C = window.EtudeCharts;

    /* The SHA-256 of the trusted documents in sync/schema/operations (checked against
     * operations.sha256 by the test integration.report_web). */
    var DOCS = {
        DashboardEntities: "2d04ee22bc8657d7e7f7da949b820295b57d103125b207d2cc686f40809bbb9e",
        DeviceSyncStatus: "66adc13df2a84681c3fb77097c8ab510b96109a33a766492e2f4634bb29eb7f4",
        AdminMetrics: "f718031b1cc463215f338266e1b25585797f9f9777b6bd302a57ab8a1479a801"
    };
    /* A hint (not a secret) that this browser logged in: without it the page shows the login form
     * at once instead of asking GET /session, whose 401 a browser reports as a failed load. */
    var HINT = "etude.loggedIn";

    var $ = function (id) { return document.getElementById(id); };
    var state = { csrf: null, user: null, admin: false, events: null, loading: false, again: false,
                  timer: null, generation: 0, redraw: null, admin_redraw: null };

    function setState(s) {
        document.body.setAttribute("data-state", s);
    }

    function hint(on) {
        try {
            if (on)
                window.localStorage.setItem(HINT, "1");
            else
                window.localStorage.removeItem(HINT);
        } catch (e) { /* storage disabled: the page asks the server every time */ }
    }

    function hinted() {
        try {
            return window.localStorage.getItem(HINT) === "1";
        } catch (e) {
            return true;
        }
    }

    function AuthError(message) {
        this.message = message;
    }

    /* ---- login and logout --------------------------------------------------------------------- */

    function showLogin(message) {
        closeEvents();
        state.generation++;
        state.csrf = null;
        state.user = null;
        state.admin = false;
        $("boot").hidden = true;
        $("dashboard").hidden = true;
        $("who").hidden = true;
        $("admin").hidden = true;
        $("practice").textContent = "";
        $("devices").tBodies[0].textContent = "";
        $("user-name").textContent = "";
        $("login-view").hidden = false;
        $("password").value = "";
        $("login-error").textContent = message || "";
        setState("login");
        $("username").focus();
    }

    function enter(session) {
        state.csrf = session.csrfToken;
        state.user = session.user || {};
        state.admin = session.admin === true;
        hint(true);
        $("boot").hidden = true;
        $("login-view").hidden = true;
        $("login-error").textContent = "";
        $("user-name").textContent = state.user.name || "";
        $("who").hidden = false;
        $("dashboard").hidden = false;
        $("admin").hidden = !state.admin;
        openEvents();
        load();
    }

    function onLogin(ev) {
        ev.preventDefault();
        var form = $("login"), button = form.querySelector("button[type=submit]");
        var username = $("username").value, password = $("password").value;
        if (!username || !password) {
            $("login-error").textContent = "Enter your username and password.";
            (username ? $("password") : $("username")).focus();
            return;
        }
        button.disabled = true;
        $("login-error").textContent = "";
        setState("loading");
        fetch("/session", {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "Accept": "application/json" },
            body: JSON.stringify({ username: username, password: password })
        }).then(function (r) {
            return r.json().catch(function () { return {}; }).then(function (body) {
                button.disabled = false;
                if (r.status === 200 && body.csrfToken) {
                    $("password").value = "";
                    enter(body);
                    return;
                }
                var msg;
                if (r.status === 401)
                    msg = "Wrong username or password.";
                else if (r.status === 429)
                    msg = "Too many attempts: try again in " + (r.headers.get("Retry-After") || "a few") + " seconds.";
                else
                    msg = "Login failed (" + r.status + (body.error ? ": " + body.error : "") + ").";
                showLogin(msg);
                $("username").value = username;
                $("password").focus();
            });
        }).catch(function () {
            button.disabled = false;
            showLogin("The server cannot be reached.");
            $("username").value = username;
        });
    }

    function onLogout() {
        var csrf = state.csrf;
        closeEvents();
        hint(false);
        $("logout").disabled = true;
        fetch("/session/logout", {
            method: "POST",
            credentials: "same-origin",
            headers: { "X-CSRF-Token": csrf || "", "Content-Type": "application/json" },
            body: "{}"
        }).then(function (r) {
            $("logout").disabled = false;
            showLogin(r.status === 200 || r.status === 401 ? "" : "Logout failed (" + r.status + "); the session may still be open.");
        }).catch(function () {
            $("logout").disabled = false;
            showLogin("The server cannot be reached; the session may still be open.");
        });
    }

    /* ---- reads ---------------------------------------------------------------------------------- */

    function gql(name, variables) {
        return fetch("/graphql", {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": state.csrf || "" },
            body: JSON.stringify({ operationName: name, variables: variables || null,
                                   extensions: { persistedQuery: { version: 1, sha256Hash: DOCS[name] } } })
        }).then(function (r) {
            if (r.status === 401 || r.status === 403)
                throw new AuthError("Your session has ended: log in again.");
            return r.json().then(function (body) {
                if (!body || (!body.data && body.errors))
                    throw new Error(name + ": " + (body && body.errors && body.errors[0] ? body.errors[0].message : "HTTP " + r.status));
                return body;
            });
        });
    }

    /* Every current entity of one type, page after page. */
    function entities(type) {
        var all = [];
        function page(after, n) {
            return gql("DashboardEntities", { entityType: type, after: after, limit: null }).then(function (body) {
                var p = body.data && body.data.dashboardEntities;
                if (!p) {
                    var e = body.errors && body.errors[0];
                    throw new Error("DashboardEntities(" + type + "): " + (e ? e.message : "no data"));
                }
                all = all.concat(p.entities || []);
                if (p.next && n < 1000)
                    return page(p.next, n + 1);
                return all;
            });
        }
        return page(null, 0);
    }

    function load() {
        if (state.loading) {
            state.again = true;
            return;
        }
        state.loading = true;
        state.again = false;
        var gen = state.generation;
        setState("loading");
        $("status").textContent = "Loading…";
        var errors = [];
        function soft(p, what) {
            return p.catch(function (e) {
                if (e instanceof AuthError)
                    throw e;
                errors.push(what + ": " + e.message);
                return null;
            });
        }
        Promise.all([
            soft(entities("practiceSession"), "sessions"),
            soft(entities("logbookEntry"), "notes"),
            soft(entities("goal"), "goals"),
            soft(gql("DeviceSyncStatus"), "devices"),
            state.admin ? soft(gql("AdminMetrics", { minutes: 360 }), "server figures") : Promise.resolve(null)
        ]).then(function (res) {
            if (gen !== state.generation) {
                finish(); /* logged out meanwhile: drop what was read */
                return;
            }
            var now = Date.now();
            state.redraw = C.renderPractice($("practice"), { sessions: res[0] || [], notes: res[1] || [], goals: res[2] || [] }, now);
            drawDevices(res[3] && res[3].data ? res[3].data.deviceSyncStatus : null);
            if (state.admin)
                drawAdmin(res[4]);
            $("load-error").textContent = errors.length ? "Not everything could be read: " + errors.join("; ") : "";
            $("status").textContent = "Updated " + C.localDateTime(now) + ".";
            finish();
            setState("ready");
        }).catch(function (e) {
            finish();
            if (gen !== state.generation)
                return;
            if (e instanceof AuthError) {
                hint(false);
                showLogin(e.message);
            } else {
                $("load-error").textContent = "The dashboard could not be read: " + e.message;
                setState("ready");
            }
        });
    }

    /* A read ended: run the one asked for meanwhile (by an event, or by a new login while a read
     * of the session before was still running). */
    function finish() {
        state.loading = false;
        if (state.again && state.csrf)
            schedule();
    }

    function schedule() {
        if (state.timer)
            window.clearTimeout(state.timer);
        state.timer = window.setTimeout(function () {
            state.timer = null;
            load();
        }, 250);
    }

    /* ---- device status ------------------------------------------------------------------------ */

    function cell(tr, text, cls, label) {
        var td = C.h(document, "td", { class: cls || null, "data-label": label || null }, text);
        tr.appendChild(td);
        return td;
    }

    function drawDevices(list) {
        var body = $("devices").tBodies[0];
        body.textContent = "";
        if (!list || !list.length) {
            var tr = C.h(document, "tr", { class: "none" });
            var td = cell(tr, list ? "No device has reported its sync status yet." : "Not available.");
            td.setAttribute("colspan", "5");
            body.appendChild(tr);
            return;
        }
        list.forEach(function (d) {
            var tr = C.h(document, "tr", { class: "device", "data-device": d.deviceId });
            var th = C.h(document, "th", { scope: "row" }, d.name || d.deviceId);
            if (d.name)
                th.setAttribute("title", d.deviceId);
            tr.appendChild(th);
            var when = Date.parse(d.lastSyncAt);
            var td = cell(tr, "", "last-sync", "Last sync");
            td.appendChild(C.h(document, "time", { datetime: d.lastSyncAt }, isFinite(when) ? C.localDateTime(when) : d.lastSyncAt));
            cell(tr, String(d.pending), "pending" + (d.pending ? " warn" : ""), "Pending");
            cell(tr, String(d.conflicts), "conflicts" + (d.conflicts ? " warn" : ""), "Conflicts");
            var dl = d.deadLetters || [];
            td = cell(tr, "", "dead-letters" + (dl.length ? " warn" : ""), "Dead letters");
            td.setAttribute("data-count", String(dl.length));
            if (!dl.length) {
                td.textContent = "0";
            } else {
                var ul = C.h(document, "ul", { class: "plain" });
                dl.forEach(function (x) {
                    var li = C.h(document, "li", { class: "dead-letter", "data-id": x.id });
                    li.appendChild(C.h(document, "span", { class: "what" }, x.entityType + " " + String(x.id).slice(0, 8) + ": "));
                    li.appendChild(C.h(document, "span", { class: "reason" }, x.reason));
                    var at = x.at ? Date.parse(x.at) : NaN;
                    if (isFinite(at))
                        li.appendChild(C.h(document, "time", { datetime: x.at }, " (" + C.localDateTime(at) + ")"));
                    ul.appendChild(li);
                });
                td.appendChild(ul);
            }
            body.appendChild(tr);
        });
    }

    /* ---- the server's figures (operators) --------------------------------------------------- */

    function drawAdmin(body) {
        var pts = body && body.data ? body.data.adminMetrics : null;
        if (!pts) {
            /* not an operator after all (FORBIDDEN), or unavailable */
            $("admin").hidden = true;
            state.admin_redraw = null;
            return;
        }
        $("admin").hidden = false;
        var times = pts.map(function (p) { return Date.parse(p.at); });
        var col = function (k, f) {
            return pts.map(function (p) {
                var v = p[k];
                return v === null || v === undefined ? null : f ? f(v) : v;
            });
        };
        var legend = function (id) { return $(id).parentNode.querySelector(".legend"); };
        state.admin_redraw = function () {
            C.drawLines($("chart-requests"), times, [{ name: "requests", values: col("requests") },
                                                     { name: "errors", values: col("errors") }], "/min", legend("chart-requests"));
            C.drawLines($("chart-latency"), times, [{ name: "p50", values: col("latencyP50Ms") },
                                                    { name: "p99", values: col("latencyP99Ms") }], "ms", legend("chart-latency"));
            C.drawLines($("chart-sse"), times, [{ name: "streams", values: col("sseStreams") }], "open", legend("chart-sse"));
            C.drawLines($("chart-db"), times, [{ name: "database", values: col("dbBytes", function (v) { return v / 1048576; }) }],
                        "MB", legend("chart-db"));
            C.drawLines($("chart-traffic"), times, [{ name: "uploads", values: col("uploads") },
                                                    { name: "pulls", values: col("pulls") }], "/min", legend("chart-traffic"));
        };
        state.admin_redraw();
    }

    /* ---- live updates --------------------------------------------------------------------------- */

    function openEvents() {
        closeEvents();
        if (typeof window.EventSource !== "function")
            return;
        var es = new window.EventSource("/events");
        var ready = 0;
        state.events = es;
        es.addEventListener("ready", function () {
            if (ready++)
                schedule(); /* reconnected: changes may have been missed */
        });
        ["changes", "status", "message"].forEach(function (name) {
            es.addEventListener(name, schedule);
        });
        es.addEventListener("error", function () {
            if (state.events !== es || es.readyState !== window.EventSource.CLOSED)
                return; /* the browser reconnects by itself */
            /* refused (the session ended?): ask once, then try again later */
            state.events = null;
            window.setTimeout(function () {
                if (!state.csrf)
                    return;
                fetch("/session", { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
                    if (r.status === 401) {
                        hint(false);
                        showLogin("Your session has ended: log in again.");
                    } else if (state.csrf && !state.events) {
                        openEvents();
                    }
                }).catch(function () {
                    if (state.csrf && !state.events)
                        openEvents();
                });
            }, 5000);
        });
    }

    function closeEvents() {
        if (state.events) {
            state.events.close();
            state.events = null;
        }
        if (state.timer) {
            window.clearTimeout(state.timer);
            state.timer = null;
        }
    }

    /* ---- start ---------------------------------------------------------------------------------- */

    function start() {
        $("login").addEventListener("submit", onLogin);
        $("logout").addEventListener("click", onLogout);
        C.onResize(window, function () {
            if (state.redraw && !$("dashboard").hidden)
                state.redraw();
            if (state.admin_redraw && !$("admin").hidden)
                state.admin_redraw();
        });
        if (!hinted()) {
            showLogin("");
            return;
        }
        fetch("/session", { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
            if (r.status !== 200)
                throw new AuthError("");
            return r.json();
        }).then(function (body) {
            if (!body || !body.csrfToken)
                throw new AuthError("");
            enter(body);
        }).catch(function (e) {
            hint(false);
            showLogin(e instanceof AuthError ? "" : "The server cannot be reached.");
        });
    }

    if (document.readyState === "loading")
        document.addEventListener("DOMContentLoaded", start);
    else
        start();
})();
