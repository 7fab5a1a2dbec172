#!/bin/sh
# server_web_session.sh - etude-syncd's dashboard over plain HTTP on loopback: the page and its
# assets with the security headers on every answer, the session cookie's flags, login CSRF by
# Origin, the CSRF token on /graphql and logout, logout revoking the session, session expiry, and
# login throttling shared with the GraphQL Login.
#   usage: ETUDE_SYNCD=... ETUDE_SOURCE_DIR=... server_web_session.sh [page|basics|limits]
#   (ctest runs the three parts as three tests, each a few seconds; no argument runs all)
#
# Each defence's check was run against the code with that defence removed (on 0fae006) and failed:
#  - headers: Content-Security-Policy not added -> "/: Content-Security-Policy is ''";
#  - CSRF on /graphql: the csrf_ok test dropped from etude_syncd_execute_req -> "graphql without
#    X-CSRF-Token not 403"; foreign_origin() not comparing Origin -> "login from another origin
#    not 403";
#  - logout: etude_syncd_web_logout() not revoking -> "old cookie after logout: GET /session not 401";
#  - expiry: auth_kind() ignoring access_expires -> "expired session: GET /session not 401";
#  - throttling: etude_syncd_web_login() calling the store without throttled_login() -> "429 after
#    3 failures".
here=$(dirname "$0")
. "$here/server_web_lib.sh"

CSP="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
# check_headers NAME WHAT: the four headers every answer carries.
check_headers() {
    [ "$(hdr "$1" Content-Security-Policy)" = "$CSP" ] || fail "$2: Content-Security-Policy is '$(hdr "$1" Content-Security-Policy)'"
    [ "$(hdr "$1" X-Content-Type-Options)" = nosniff ] || fail "$2: X-Content-Type-Options"
    [ "$(hdr "$1" Referrer-Policy)" = no-referrer ] || fail "$2: Referrer-Policy"
    [ "$(hdr "$1" X-Frame-Options)" = DENY ] || fail "$2: X-Frame-Options"
}

part=${1:-all}
if [ "$part" = all ] || [ "$part" = page ]; then
start

# ---- the page and its assets ----
[ "$(req page "$URL/")" = 200 ] || fail "GET /"
hdr page Content-Type | grep -q '^text/html' || fail "/: Content-Type $(hdr page Content-Type)"
check_headers page "/"
grep -qi '<html' "$T/page.b" || fail "/: not the page"
# The policy forbids inline script: every <script> of the page has a src.
if grep -io '<script[^>]*>' "$T/page.b" | grep -vqi 'src='; then fail "/: inline <script> in the page"; fi
for a in $(grep -o '/static/[A-Za-z0-9._-]*' "$T/page.b" | sort -u); do
    [ "$(req asset "$URL$a")" = 200 ] || fail "GET $a (named by the page)"
    check_headers asset "$a"
done
[ "$(req js "$URL/static/app.js")" = 200 ] || fail "GET /static/app.js"
hdr js Content-Type | grep -q 'javascript' || fail "/static/app.js: Content-Type $(hdr js Content-Type)"
check_headers js "/static/app.js"
[ "$(req nf "$URL/static/nope.js")" = 404 ] || fail "/static/nope.js not 404"
check_headers nf "404"
[ "$(req nf2 "$URL/static/../static/app.js")" = 404 ] || fail "/static/../ not 404"
[ "$(req nf3 "$URL/static/")" = 404 ] || fail "/static/ not 404"
[ "$(req post "$URL/" -X POST -d x)" = 405 ] || fail "POST / not 405"
for p in /healthz /metrics /graphql /events /session; do
    req other "$URL$p" >/dev/null
    check_headers other "$p"
done
ok "page, assets and security headers on every answer"
stop
fi
[ "$part" = page ] && exit 0
add_users
if [ "$part" != limits ]; then
start

# ---- logging in ----
[ "$(req bad1 -H 'Content-Type: application/json' --data-binary 'not json' "$URL/session")" = 400 ] || fail "bad JSON not 400"
bodyof bad1 | jstr error | grep -q '^body: ' || fail "bad JSON message: $(bodyof bad1)"
[ "$(req bad2 -H 'Content-Type: application/json' --data-binary '{"username":"alice","password":7}' "$URL/session")" = 400 ] || fail "numeric password not 400"
bodyof bad2 | jstr error | grep -q '^password: ' || fail "bad password message: $(bodyof bad2)"
[ "$(req bad3 -H 'Content-Type: text/plain' --data-binary "$(login_json alice "$PW_ALICE")" "$URL/session")" = 415 ] ||
    fail "text/plain login not 415 (a cross-site form could send it)"
[ "$(req wrong -H 'Content-Type: application/json' --data-binary "$(login_json alice nope)" "$URL/session")" = 401 ] || fail "wrong password not 401"
bodyof wrong | jstr error | grep -q 'wrong password' || fail "wrong password message: $(bodyof wrong)"
[ -z "$(hdr wrong Set-Cookie)" ] || fail "a cookie for a failed login"
# Login CSRF: a page of another origin cannot log the browser in.
[ "$(req evil -H 'Content-Type: application/json' -H 'Origin: http://evil.example' --data-binary "$(login_json alice "$PW_ALICE")" "$URL/session")" = 403 ] ||
    fail "login from another origin not 403"
[ -z "$(hdr evil Set-Cookie)" ] || fail "login from another origin set a cookie"
[ "$(req evil2 -H 'Content-Type: application/json' -H 'Origin: null' --data-binary "$(login_json alice "$PW_ALICE")" "$URL/session")" = 403 ] ||
    fail "login from an opaque origin (Origin: null) not 403"
[ "$(req same -H 'Content-Type: application/json' -H "Origin: http://$ADDR" --data-binary "$(login_json alice "$PW_ALICE")" "$URL/session")" = 200 ] ||
    fail "login from this server's own origin refused"
[ "$(req proxied -H 'Content-Type: application/json' -H "Origin: https://$ADDR" --data-binary "$(login_json alice "$PW_ALICE")" "$URL/session")" = 200 ] ||
    fail "login from https:// of this Host (a TLS proxy in front) refused"
web_login l1 alice "$PW_ALICE"
sc=$(hdr l1 Set-Cookie)
echo "$sc" | grep -q '; HttpOnly' || fail "cookie not HttpOnly: $sc"
echo "$sc" | grep -q '; SameSite=Strict' || fail "cookie not SameSite=Strict: $sc"
echo "$sc" | grep -q '; Path=/;' || fail "cookie Path: $sc"
echo "$sc" | grep -q '; Max-Age=43200' || fail "cookie Max-Age (default --session-ttl 43200): $sc"
if echo "$sc" | grep -q Secure; then fail "Secure cookie over plain HTTP: $sc"; fi
[ "$(bodyof l1 | jstr name)" = alice ] || fail "login body: $(bodyof l1)"
bodyof l1 | grep -q '"admin":false'  || fail "alice is not an admin: $(bodyof l1)"
bodyof l1 | jstr expiresAt | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' || fail "expiresAt: $(bodyof l1)"
[ ${#CSRF} -ge 40 ] || fail "csrfToken: '$CSRF'"
# Only a hash of the cookie is stored.
want=$(printf '%s' "$COOKIE" | sha256sum | cut -c1-64 | tr a-f A-F)
if syncd_pg; then
    hex="upper(encode(access_hash, 'hex'))"
    clear="strpos($hex, upper(encode(convert_to('$COOKIE', 'UTF8'), 'hex'))) > 0 OR strpos(value, '$COOKIE') > 0 OR strpos(value, '$CSRF') > 0"
else
    hex="hex(access_hash)"
    clear="instr(hex(access_hash), hex('$COOKIE')) OR instr(value, '$COOKIE') OR instr(value, '$CSRF')"
fi
[ "$(syncd_sql "$DB" "SELECT count(*) FROM sessions WHERE kind=1 AND $hex='$want'")" = 1 ] || fail "no session row with the cookie's SHA-256"
[ "$(syncd_sql "$DB" "SELECT count(*) FROM sessions, meta WHERE $clear")" = 0 ] ||
    fail "the cookie or the CSRF token stored in the clear"
ok "login: cookie flags, login CSRF by Origin, bad bodies named, hash stored"

# ---- the session ----
[ "$(req s1 -H "Cookie: etude_session=$COOKIE" "$URL/session")" = 200 ] || fail "GET /session with the cookie"
[ "$(bodyof s1 | jstr name)" = alice ] || fail "GET /session body: $(bodyof s1)"
[ "$(bodyof s1 | jstr csrfToken)" = "$CSRF" ] || fail "GET /session csrfToken differs from the login's"
[ "$(req s2 "$URL/session")" = 401 ] || fail "GET /session without a cookie not 401"
bodyof s2 | jstr error >/dev/null || fail "401 body: $(bodyof s2)"
[ "$(req s3 -H 'Cookie: etude_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' "$URL/session")" = 401 ] || fail "forged cookie not 401"
[ "$(req s4 -H "Cookie: theme=dark; etude_session=$COOKIE; x=1" "$URL/session")" = 200 ] || fail "cookie among others"
# The CSRF key is the database's: the same token after a restart.
stop
start
[ "$(req s5 -H "Cookie: etude_session=$COOKIE" "$URL/session")" = 200 ] || fail "session lost over a restart"
[ "$(bodyof s5 | jstr csrfToken)" = "$CSRF" ] || fail "csrfToken changed over a restart"
ok "GET /session; session and CSRF token survive a restart"

# ---- CSRF on /graphql ----
C="Cookie: etude_session=$COOKIE"
[ "$(gql g1 SyncMetadata '{}' -H "$C")" = 403 ] || fail "graphql without X-CSRF-Token not 403: $(bodyof g1)"
[ "$(bodyof g1 | jcode)" = CSRF ] || fail "code: $(bodyof g1)"
check_headers g1 "/graphql 403"
[ "$(gql g2 SyncMetadata '{}' -H "$C" -H "X-CSRF-Token: ${CSRF}x")" = 403 ] || fail "graphql with a wrong X-CSRF-Token not 403"
[ "$(gql g2b SyncMetadata '{}' -H "$C" -H "X-CSRF-Token: $(echo "$CSRF" | tr 'A-Za-z' 'B-ZAb-za')")" = 403 ] || fail "same-length wrong token not 403"
[ "$(gql g3 SyncMetadata '{}' -H "$C" -H "X-CSRF-Token: $CSRF")" = 200 ] || fail "graphql with the right token: $(bodyof g3)"
[ "$(bodyof g3 | jstr name)" = alice ] || fail "syncMetadata by cookie: $(bodyof g3)"
[ "$(gql g4 SyncMetadata '{}' -H "$C" -H "X-CSRF-Token: $CSRF" -H 'Origin: http://evil.example')" = 403 ] || fail "right token from another origin not 403"
# A dashboard session reads only: everything else needs a device's token.
[ "$(gql g5 SyncChanges '{}' -H "$C" -H "X-CSRF-Token: $CSRF")" = 401 ] || fail "SyncChanges by cookie not 401"
[ "$(gql g6 Logout '{}' -H "$C" -H "X-CSRF-Token: $CSRF")" = 401 ] || fail "Logout by cookie not 401"
# The two kinds of token never stand in for each other.
[ "$(gql g7 SyncMetadata '{}' -H "Authorization: Bearer $COOKIE")" = 401 ] || fail "cookie value accepted as a Bearer token"
tok=$(bearer_login alice "$PW_ALICE")
[ "$(req g8 -H "Cookie: etude_session=$tok" "$URL/session")" = 401 ] || fail "access token accepted as a cookie"
[ "$(gql g9 SyncMetadata '{}' -H "Authorization: Bearer $tok")" = 200 ] || fail "Bearer SyncMetadata"
ok "CSRF on /graphql: refused without or with a wrong token or origin, accepted with the right one"

# ---- logout ----
[ "$(req o1 -X POST -H "$C" "$URL/session/logout")" = 403 ] || fail "logout without X-CSRF-Token not 403"
[ "$(req o2 -X POST -H "$C" -H "X-CSRF-Token: nope" "$URL/session/logout")" = 403 ] || fail "logout with a wrong token not 403"
[ "$(req o3 -H "$C" "$URL/session/logout")" = 405 ] || fail "GET /session/logout not 405"
[ "$(req s6 -H "$C" "$URL/session")" = 200 ] || fail "refused logouts ended the session"
[ "$(req o4 -X POST -H "$C" -H "X-CSRF-Token: $CSRF" "$URL/session/logout")" = 200 ] || fail "logout: $(bodyof o4)"
hdr o4 Set-Cookie | grep -q '^etude_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0' || fail "logout Set-Cookie: $(hdr o4 Set-Cookie)"
[ "$(req s7 -H "$C" "$URL/session")" = 401 ] || fail "old cookie after logout: GET /session not 401"
[ "$(gql g10 SyncMetadata '{}' -H "$C" -H "X-CSRF-Token: $CSRF")" = 401 ] || fail "old cookie after logout: /graphql not 401"
[ "$(req e1 --max-time 5 -H "$C" "$URL/events")" = 401 ] || fail "old cookie after logout: /events not 401"
[ "$(gql g11 SyncMetadata '{}' -H "Authorization: Bearer $tok")" = 200 ] || fail "logout ended the device's session too"
ok "logout: CSRF required, revokes the session everywhere, clears the cookie"
stop
fi
[ "$part" = basics ] && exit 0

# ---- expiry ----
start --session-ttl 2
web_login x1 alice "$PW_ALICE"
hdr x1 Set-Cookie | grep -q '; Max-Age=2' || fail "Max-Age with --session-ttl 2: $(hdr x1 Set-Cookie)"
[ "$(req x2 -H "Cookie: etude_session=$COOKIE" "$URL/session")" = 200 ] || fail "fresh session"
sleep 3
[ "$(req x3 -H "Cookie: etude_session=$COOKIE" "$URL/session")" = 401 ] || fail "expired session: GET /session not 401"
bodyof x3 | jstr error | grep -q expired || fail "expired message: $(bodyof x3)"
[ "$(gql x4 SyncMetadata '{}' -H "Cookie: etude_session=$COOKIE" -H "X-CSRF-Token: $CSRF")" = 401 ] || fail "expired session: /graphql not 401"
ok "session expiry (--session-ttl 2)"
stop

# ---- throttling shared with the GraphQL Login ----
start --login-failures-per-user 3 --login-window 60
for i in 1 2 3; do
    [ "$(req t$i -H 'Content-Type: application/json' --data-binary "$(login_json alice wrong$i)" "$URL/session")" = 401 ] || fail "failure $i not 401"
done
[ "$(req t4 -H 'Content-Type: application/json' --data-binary "$(login_json alice "$PW_ALICE")" "$URL/session")" = 429 ] || fail "429 after 3 failures: $(bodyof t4)"
ra=$(hdr t4 Retry-After)
[ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 60 ] || fail "Retry-After '$ra'"
[ "$(gql t5 Login "$(login_json alice "$PW_ALICE")")" = 429 ] ||
    fail "GraphQL Login not throttled by the web login's failures: $(bodyof t5)"
[ "$(bodyof t5 | jcode)" = RATE_LIMITED ] || fail "code: $(bodyof t5)"
# And the other way round: failed GraphQL logins throttle the web login.
for i in 1 2 3; do
    gql u$i Login '{"username":"bob","password":"wrong"}' >/dev/null
done
[ "$(req u4 -H 'Content-Type: application/json' --data-binary "$(login_json bob "$PW_BOB")" "$URL/session")" = 429 ] ||
    fail "web login not throttled by GraphQL Login failures: $(bodyof u4)"
[ -n "$(hdr u4 Retry-After)" ] || fail "no Retry-After"
ok "login throttling shared between POST /session and Login (429 + Retry-After)"
stop
