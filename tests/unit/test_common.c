/* test_common.c - libetude-common: RFC 8785 canonical JSON (the RFC's number table and examples,
 * the hard numbers the old client and server copies disagreed on, UTF-16 key order, strictness),
 * UTF-8, strict RFC 3339 time and the clocks, UUIDs, the entity validators (every reason), the
 * duplicate rule, gzip.
 *
 * The old client copy (fd82c7f's sync/canon.c, run on the same inputs) fails these: 1e20 came out
 * as 1e+20, 1e-7 as 1e-07, 1e-6 as 1e-06, 5e-324 as 4.94065645841247e-324, the keys U+FB33 and
 * U+1F600 in bytewise order (RFC 8785 puts the emoji first), and "01" was accepted; the old
 * server copy (cJSON) wrote 1e15 as 1e+15 and 9007199254740992 as 9.00719925474099e+15. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <math.h>

#include "etude_buf.h"
#include "etude_canon.h"
#include "etude_entity.h"
#include "etude_error.h"
#include "etude_gzip.h"
#include "etude_time.h"
#include "etude_uuid.h"

/* ---- canonical JSON ---- */

static double from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* RFC 8785, Appendix B: IEEE 754 bit patterns and their ECMAScript text. */
static void test_rfc8785_number_table(void **state)
{
    (void)state;
    static const struct { uint64_t bits; const char *text; } table[] = {
        {0x0000000000000000ULL, "0"},
        {0x8000000000000000ULL, "0"},
        {0x0000000000000001ULL, "5e-324"},
        {0x8000000000000001ULL, "-5e-324"},
        {0x7fefffffffffffffULL, "1.7976931348623157e+308"},
        {0xffefffffffffffffULL, "-1.7976931348623157e+308"},
        {0x4340000000000000ULL, "9007199254740992"},
        {0xc340000000000000ULL, "-9007199254740992"},
        {0x4430000000000000ULL, "295147905179352830000"},
        {0x44b52d02c7e14af5ULL, "9.999999999999997e+22"},
        {0x44b52d02c7e14af6ULL, "1e+23"},
        {0x44b52d02c7e14af7ULL, "1.0000000000000001e+23"},
        {0x444b1ae4d6e2ef4eULL, "999999999999999700000"},
        {0x444b1ae4d6e2ef4fULL, "999999999999999900000"},
        {0x444b1ae4d6e2ef50ULL, "1e+21"},
        {0x3eb0c6f7a0b5ed8cULL, "9.999999999999997e-7"},
        {0x3eb0c6f7a0b5ed8dULL, "0.000001"},
        {0x41b3de4355555553ULL, "333333333.3333332"},
        {0x41b3de4355555554ULL, "333333333.33333325"},
        {0x41b3de4355555555ULL, "333333333.3333333"},
        {0x41b3de4355555556ULL, "333333333.3333334"},
        {0x41b3de4355555557ULL, "333333333.33333343"},
        {0xbecbf647612f3696ULL, "-0.0000033333333333333333"},
        {0x43143ff3c1cb0959ULL, "1424953923781206.2"},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        char buf[ETUDE_CANON_NUMBER_LEN];
        int n = etude_canon_number(from_bits(table[i].bits), buf);
        if (strcmp(buf, table[i].text))
            fail_msg("%016llx: got %s, RFC 8785 says %s", (unsigned long long)table[i].bits, buf, table[i].text);
        assert_int_equal(n, (int)strlen(table[i].text));
    }
    char buf[ETUDE_CANON_NUMBER_LEN];
    assert_int_equal(etude_canon_number(from_bits(0x7fffffffffffffffULL), buf), ETUDE_EINVAL); /* NaN */
    assert_string_equal(buf, "");
    assert_int_equal(etude_canon_number(from_bits(0x7ff0000000000000ULL), buf), ETUDE_EINVAL); /* Infinity */
    assert_int_equal(etude_canon_number(-INFINITY, buf), ETUDE_EINVAL);
}

static void expect_canon(const char *in, const char *want)
{
    char *out = NULL;
    int rc = etude_canon_json(in, &out);
    if (rc)
        fail_msg("%s: refused (%d), expected %s", in, rc, want);
    if (strcmp(out, want))
        fail_msg("%s: got %s, expected %s", in, out, want);
    /* the canonical form is its own canonical form */
    char *again = NULL;
    assert_int_equal(etude_canon_json(out, &again), 0);
    assert_string_equal(again, out);
    free(again);
    free(out);
}

static void expect_refused(const char *in)
{
    char *out = (char *)1;
    int rc = etude_canon_json(in, &out);
    if (rc != ETUDE_EINVAL)
        fail_msg("%s: expected ETUDE_EINVAL, got %d (%s)", in, rc, rc ? "" : out);
    assert_null(out);
}

/* The values that failed the checksum between the old client and server copies, and the edges
 * of ECMAScript's notation switch. */
static void test_hard_numbers(void **state)
{
    (void)state;
    expect_canon("1e15", "1000000000000000");
    expect_canon("1000000000000000", "1000000000000000");
    expect_canon("1.5e15", "1500000000000000");
    expect_canon("0.1234567890123456", "0.1234567890123456");
    char t[64];
    snprintf(t, sizeof t, "%.17g", 720.0 / 97.0);
    expect_canon(t, "7.422680412371134");
    expect_canon("9007199254740991", "9007199254740991");
    expect_canon("9007199254740992", "9007199254740992");
    expect_canon("9007199254740993", "9007199254740992"); /* read as the nearest double, as RFC 8785 does */
    expect_canon("-9007199254740991", "-9007199254740991");
    expect_canon("9007199254740994", "9007199254740994");
    expect_canon("1e21", "1e+21");
    expect_canon("1E+21", "1e+21");
    expect_canon("999999999999999999999", "1e+21");
    expect_canon("1e20", "100000000000000000000");
    expect_canon("1e-7", "1e-7");
    expect_canon("0.0000001", "1e-7");
    expect_canon("1e-6", "0.000001");
    expect_canon("-0", "0");
    expect_canon("-0.0e10", "0");
    expect_canon("5e-324", "5e-324");
    expect_canon("4.9406564584124654e-324", "5e-324");
    expect_canon("1.7976931348623157e308", "1.7976931348623157e+308");
    expect_canon("1.5e300", "1.5e+300");
    expect_canon("123e-20", "1.23e-18");
    expect_canon("4.50", "4.5");
    expect_canon("2e-3", "0.002");
    expect_canon("0.1", "0.1");
    expect_canon("0.30000000000000004", "0.30000000000000004");
    expect_canon("100", "100");
    expect_canon("-1.25", "-1.25");
    expect_refused("1e400"); /* Infinity as a double */
    expect_refused("-1e400");
    expect_refused("NaN");
    expect_refused("Infinity");
    /* In-memory values: valueint (saturated at INT_MAX) is never used. */
    cJSON *v = cJSON_CreateNumber(9007199254740991.0);
    char *out = NULL;
    assert_int_equal(etude_canon_cjson(v, &out), 0);
    assert_string_equal(out, "9007199254740991");
    free(out);
    cJSON_SetNumberValue(v, 4294967296.5);
    assert_int_equal(etude_canon_cjson(v, &out), 0);
    assert_string_equal(out, "4294967296.5");
    free(out);
    cJSON_SetNumberValue(v, NAN);
    assert_int_equal(etude_canon_cjson(v, &out), ETUDE_EINVAL);
    assert_null(out);
    cJSON_Delete(v);
}

/* RFC 8785 section 3.2.3 (sorting by UTF-16 code units) and 3.2.4 (the canonical example). */
static void test_rfc8785_examples(void **state)
{
    (void)state;
    expect_canon("{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\","
                 "\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\","
                 "\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}",
                 "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\",\"\xc3\xb6\":\"Latin Small Letter O "
                 "With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
                 "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
    expect_canon("{\n  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n"
                 "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
                 "  \"literals\": [null, true, false]\n}",
                 "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
                 "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
    /* A key beyond the BMP sorts before U+E000..U+FFFF (UTF-16), though its UTF-8 bytes are larger. */
    expect_canon("{\"\xef\xbf\xbd\":1,\"\xf0\x9f\x8e\xb5\":2,\"\xee\x80\x80\":3,\"z\":4,\"\xed\x9f\xbf\":5}",
                 "{\"z\":4,\"\xed\x9f\xbf\":5,\"\xf0\x9f\x8e\xb5\":2,\"\xee\x80\x80\":3,\"\xef\xbf\xbd\":1}");
    /* Prefixes sort first; case matters (A < a). */
    expect_canon("{\"ab\":1,\"a\":2,\"B\":3,\"\":4}", "{\"\":4,\"B\":3,\"a\":2,\"ab\":1}");
    /* Escapes: short forms, other controls as lowercase \u00xx, DEL, U+2028 and '/' raw. */
    expect_canon("[\"\\u0008\\u0009\\u000A\\u000C\\u000D\\u0001\\u001F\\u007F\\u2028\\/\"]",
                 "[\"\\b\\t\\n\\f\\r\\u0001\\u001f\x7f\xe2\x80\xa8/\"]");
    expect_canon(" [ ] ", "[]");
    expect_canon("{}", "{}");
    expect_canon("\"x\"", "\"x\"");
    expect_canon("[{\"b\":[{\"d\":1,\"c\":2}],\"a\":null}]", "[{\"a\":null,\"b\":[{\"c\":2,\"d\":1}]}]");
}

static void test_strict_json(void **state)
{
    (void)state;
    const char *bad[] = {
        "", " ", "01", "-01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}",
        "{a:1}", "'a'", "[1] x", "[1][2]", "tru", "nul", "[\"a\x01\"]", "[\"a\nb\"]", "\"\\ud800\"",
        "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\u0000\"", "\"\\x41\"", "\"\\u12G4\"", "\"abc", "[\"\xc0\x80\"]",
        "[\"\xed\xa0\x80\"]", "[\"\xe2\x82\"]", "[\"\x80\"]", "[\"\xf4\x90\x80\x80\"]", "{\"\xff\":1}",
        "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "[1\x0b]", "\xef\xbb\xbf{}",
        "1.00000000000000000000000000000000000000000000000000000000000000001"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_refused(bad[i]);
    char *out = (char *)1;
    assert_int_equal(etude_canon_json(NULL, &out), ETUDE_EINVAL);
    assert_null(out);
    /* Nesting: ETUDE_CANON_MAX_DEPTH levels pass, one more is refused. */
    char deep[2 * ETUDE_CANON_MAX_DEPTH + 8];
    memset(deep, '[', ETUDE_CANON_MAX_DEPTH);
    memset(deep + ETUDE_CANON_MAX_DEPTH, ']', ETUDE_CANON_MAX_DEPTH);
    deep[2 * ETUDE_CANON_MAX_DEPTH] = 0;
    assert_int_equal(etude_canon_json(deep, &out), 0);
    assert_string_equal(out, deep);
    free(out);
    char deeper[2 * ETUDE_CANON_MAX_DEPTH + 8];
    memset(deeper, '[', ETUDE_CANON_MAX_DEPTH + 1);
    memset(deeper + ETUDE_CANON_MAX_DEPTH + 1, ']', ETUDE_CANON_MAX_DEPTH + 1);
    deeper[2 * ETUDE_CANON_MAX_DEPTH + 2] = 0;
    expect_refused(deeper);
    /* A surrogate pair decodes to one supplementary character. */
    expect_canon("\"\\ud83c\\udfb5\"", "\"\xf0\x9f\x8e\xb5\"");
}

static void test_checksum(void **state)
{
    (void)state;
    char hex[65];
    etude_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    etude_canon_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cJSON *a = cJSON_Parse("{\"b\":1e15,\"a\":[720,97]}"), *b = cJSON_Parse("{ \"a\" : [ 7.2e2 , 97.0 ], \"b\" : 1000000000000000 }");
    char ha[65], hb[65], *canon = NULL;
    assert_int_equal(etude_canon_checksum(a, ha, &canon), 0);
    assert_string_equal(canon, "{\"a\":[720,97],\"b\":1000000000000000}");
    etude_sha256_hex(canon, strlen(canon), hex);
    assert_string_equal(ha, hex);
    free(canon);
    assert_int_equal(etude_canon_checksum(b, hb, NULL), 0);
    assert_string_equal(ha, hb);
    assert_int_equal(etude_canon_checksum(NULL, ha, &canon), 0); /* a tombstone's data */
    assert_string_equal(canon, "null");
    free(canon);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct { const char *s; int ok; } cases[] = {
        {"", 1}, {"plain", 1}, {"\xc3\xa9", 1}, {"\xe2\x82\xac", 1}, {"\xf0\x9f\x8e\xb5", 1}, {"\xf4\x8f\xbf\xbf", 1},
        {"\xef\xbf\xbf", 1}, {"\xed\x9f\xbf", 1}, {"\xee\x80\x80", 1},
        {"\xc0\x80", 0},             /* overlong NUL */
        {"\xc1\xbf", 0},             /* overlong */
        {"\xe0\x80\xaf", 0},         /* overlong '/' */
        {"\xe0\x9f\xbf", 0},         /* overlong */
        {"\xf0\x8f\xbf\xbf", 0},     /* overlong */
        {"\xed\xa0\x80", 0},         /* U+D800, a surrogate */
        {"\xed\xbf\xbf", 0},         /* U+DFFF */
        {"\xed\xa0\xbd\xed\xb8\x80", 0}, /* CESU-8 pair */
        {"\xf4\x90\x80\x80", 0},     /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 0}, {"\xff", 0}, {"\xfe", 0},
        {"\x80", 0},                 /* stray continuation */
        {"a\xc3", 0},                /* truncated */
        {"\xe2\x82", 0}, {"\xf0\x9f\x8e", 0}, {"\xe2\x28\xa1", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (etude_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
            fail_msg("case %zu: expected %s", i, cases[i].ok ? "valid" : "invalid");
}

/* ---- time ---- */

static void test_time_parse(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(etude_time_parse_ms("2026-01-31T12:00:00.000Z", &ms), 0);
    assert_int_equal(ms, 1769860800000);
    assert_int_equal(etude_time_parse_ms("1970-01-01T00:00:00.000Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(etude_time_parse_ms("9999-12-31T23:59:59.999Z", &ms), 0);
    assert_int_equal(ms, ETUDE_TIME_MAX_MS);
    /* leap days: every 4 years, not every 100, but every 400 */
    assert_int_equal(etude_time_parse_ms("2024-02-29T23:59:59.999Z", &ms), 0);
    assert_int_equal(ms, 1709251199999);
    assert_int_equal(etude_time_parse_ms("2000-02-29T00:00:00.000Z", NULL), 0);
    const char *bad[] = {
        "2026-02-30T00:00:00.000Z", "2023-02-29T00:00:00.000Z", "2100-02-29T00:00:00.000Z", "2026-04-31T00:00:00.000Z",
        "2026-13-01T00:00:00.000Z", "2026-00-10T00:00:00.000Z", "2026-01-00T00:00:00.000Z", "2026-01-32T00:00:00.000Z",
        "2026-01-01T24:00:00.000Z", "2026-01-01T23:60:00.000Z", "2026-12-31T23:59:60.000Z", /* no leap second */
        "2026-01-01T00:00:00Z",         /* missing milliseconds */
        "2026-01-01T00:00:00.00Z", "2026-01-01T00:00:00.0000Z", "2026-01-01T00:00:00.000",
        "2026-01-01T00:00:00.000+01:00", "2026-01-01T00:00:00.000+00:00", "2026-01-01T00:00:00.000-05:00",
        "2026-01-01t00:00:00.000Z", "2026-01-01T00:00:00.000z", "2026-01-01 00:00:00.000Z",
        " 2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z ", "2026-01-01T00:00:00.000Z\n",
        "1969-12-31T23:59:59.999Z", "+2026-01-01T00:00:00.000Z", "26-01-01T00:00:00.000Z", "2026-1-01T00:00:00.000Z",
        "2026-01-01T00:00:00,000Z", "2026-01-01T0a:00:00.000Z", "", "yesterday"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (etude_time_parse_ms(bad[i], &ms) != ETUDE_EINVAL)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(etude_time_parse_ms(NULL, &ms), ETUDE_EINVAL);
    int64_t us;
    assert_int_equal(etude_time_parse("2026-01-31T12:00:00.123Z", &us), 0);
    assert_int_equal(us, 1769860800123000);
    assert_int_equal(etude_time_parse("2026-02-30T00:00:00.000Z", &us), ETUDE_EINVAL);
}

static void test_time_format(void **state)
{
    (void)state;
    char t[ETUDE_TIME_LEN], iso[32];
    etude_time_format_ms(1769860800000, t);
    assert_string_equal(t, "2026-01-31T12:00:00.000Z");
    etude_time_format_ms(1709251199999, t);
    assert_string_equal(t, "2024-02-29T23:59:59.999Z");
    etude_time_format_ms(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
    etude_time_format_ms(-5, t); /* clamped */
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
    etude_time_format_ms(INT64_MAX, t);
    assert_string_equal(t, "9999-12-31T23:59:59.999Z");
    etude_time_iso(1769860800123999, iso);
    assert_string_equal(iso, "2026-01-31T12:00:00.123Z");
    /* every formatted value parses back to itself, across many dates */
    for (int64_t v = 0; v < ETUDE_TIME_MAX_MS; v += 86399999LL * 37 + 12345) {
        int64_t back;
        etude_time_format_ms(v, t);
        assert_int_equal(etude_time_parse_ms(t, &back), 0);
        assert_int_equal(back, v);
    }
}

static void test_clocks(void **state)
{
    (void)state;
    unsetenv("ETUDE_TEST_CLOCK_SKEW_MS");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t real = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t wall = etude_time_wall_ms();
    assert_true(wall >= real);
    /* The skew knob is read on every call and shifts the wall clock (not the monotonic one). */
    setenv("ETUDE_TEST_CLOCK_SKEW_MS", "-21600000", 1);
    int64_t skewed = etude_time_wall_ms();
    assert_true(skewed <= wall - 21600000 + 60000 && skewed >= wall - 21600000);
    char now[32];
    etude_time_now_iso(now);
    int64_t now_us;
    assert_int_equal(etude_time_parse(now, &now_us), 0);
    assert_true(now_us / 1000 <= etude_time_wall_ms() && now_us / 1000 >= skewed);
    setenv("ETUDE_TEST_CLOCK_SKEW_MS", "600001", 1);
    assert_true(etude_time_wall_ms() >= wall + 600001);
    setenv("ETUDE_TEST_CLOCK_SKEW_MS", "not a number", 1); /* ignored */
    assert_true(etude_time_wall_ms() < wall + 600001);
    unsetenv("ETUDE_TEST_CLOCK_SKEW_MS");
    int64_t m1 = etude_time_mono_ms(), m2 = etude_time_mono_ms();
    assert_true(m2 >= m1);
}

/* ---- UUID ---- */

static void test_uuid(void **state)
{
    (void)state;
    char a[ETUDE_UUID_LEN], b[ETUDE_UUID_LEN];
    etude_uuid_new(a);
    etude_uuid_new(b);
    assert_true(etude_uuid_valid(a));
    assert_true(etude_uuid_valid(b));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');                    /* version 4 */
    assert_non_null(strchr("89ab", a[19]));          /* RFC 4122 variant */
    assert_true(etude_uuid_valid("00000000-0000-0000-0000-000000000000"));
    const char *bad[] = {"0123456789ab-cdef-0123-456789abcdef", "01234567-89AB-4def-8123-456789abcdef",
                         "01234567-89ab-4def-8123-456789abcde", "01234567-89ab-4def-8123-456789abcdef0",
                         "{01234567-89ab-4def-8123-456789abcdef}", "0123456789ab4def8123456789abcdef",
                         " 01234567-89ab-4def-8123-456789abcdef", "01234567-89ab-4def-8123_456789abcdef",
                         "g1234567-89ab-4def-8123-456789abcdef", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (etude_uuid_valid(bad[i]))
            fail_msg("accepted %s", bad[i]);
    assert_false(etude_uuid_valid(NULL));
}

/* ---- entity validators ---- */

#define ID "6f1c2a9e-3b7d-4c1e-9a2b-5d8e7f6a1b2c"
#define T0 "2026-01-31T12:00:00.000Z"
#define T0_MS 1769860800000LL

/* Checks an entity and compares "field: reason" with want (NULL: must pass). */
static void check(const char *id, const char *type, const char *cr, const char *up, const char *del, const char *data,
                  int64_t now, const char *want)
{
    cJSON *d = data ? cJSON_Parse(data) : NULL;
    if (data && !d)
        fail_msg("test data does not parse: %s", data);
    etude_entity_view_t v = {id, type, cr, up, del, d};
    etude_entity_fault_t f;
    int rc = etude_entity_check(&v, now, &f);
    char got[256];
    snprintf(got, sizeof got, "%s: %s", f.field, f.reason);
    if (!want && rc)
        fail_msg("refused: %s (data %s)", got, data ? data : "(none)");
    if (want && rc != ETUDE_EINVAL)
        fail_msg("accepted, expected '%s' (data %s)", want, data ? data : "(none)");
    if (want && strncmp(got, want, strlen(want)))
        fail_msg("got '%s', expected '%s...'", got, want);
    cJSON_Delete(d);
}

static void test_entity_envelope(void **state)
{
    (void)state;
    check(ID, "goal", T0, T0, NULL, "{\"kind\":\"minutes\",\"target\":20}", 0, NULL);
    check(ID, "goal", T0, T0, NULL, "{\"kind\":\"minutes\",\"target\":20}", T0_MS, NULL);
    check("6F1C2A9E-3B7D-4C1E-9A2B-5D8E7F6A1B2C", "goal", T0, T0, NULL, "{}", 0, "id: must be a lowercase UUID");
    check(NULL, "goal", T0, T0, NULL, "{}", 0, "id: missing");
    check(ID, "note", T0, T0, NULL, "{}", 0, "entityType: unknown entity type");
    check(ID, NULL, T0, T0, NULL, "{}", 0, "entityType: missing");
    check(ID, "goal", "2026-02-30T00:00:00.000Z", T0, NULL, "{}", 0, "createdAt: must be a UTC time");
    check(ID, "goal", T0, "2026-01-31T13:00:00.000+01:00", NULL, "{}", 0, "updatedAt: must be a UTC time");
    check(ID, "goal", T0, "2026-01-31T12:00:00Z", NULL, "{}", 0, "updatedAt: must be a UTC time");
    check(ID, "goal", T0, NULL, NULL, "{}", 0, "updatedAt: missing");
    check(ID, "goal", T0, "2026-01-31T11:59:59.999Z", NULL, "{}", 0, "updatedAt: before createdAt");
    check(ID, "goal", T0, T0, "2026-01-31T11:00:00.000Z", NULL, 0, "deletedAt: before createdAt");
    check(ID, "goal", T0, T0, "2026-01-31 12:00:00.000Z", NULL, 0, "deletedAt: must be a UTC time");
    /* a tombstone needs no data, and its data is not checked */
    check(ID, "goal", T0, T0, T0, NULL, 0, NULL);
    check(ID, "goal", T0, T0, T0, "null", 0, NULL);
    /* ahead of the checker's clock: up to ten minutes accepted; now 0 skips the check */
    check(ID, "goal", T0, "2026-01-31T12:10:00.000Z", NULL, "{}", T0_MS, NULL);
    check(ID, "goal", T0, "2026-01-31T12:10:00.001Z", NULL, "{}", T0_MS, "updatedAt: 600 s ahead of the clock");
    check(ID, "goal", "2026-01-31T18:00:00.000Z", "2026-01-31T18:00:00.000Z", NULL, "{}", T0_MS,
          "createdAt: 21600 s ahead of the clock");
    check(ID, "goal", T0, T0, "2026-01-31T13:00:00.000Z", NULL, T0_MS, "deletedAt: 3600 s ahead");
    check(ID, "goal", "2026-01-31T18:00:00.000Z", "2026-01-31T18:00:00.000Z", NULL, "{}", 0, NULL);
    check(ID, "goal", "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z", NULL, "{}", T0_MS, "createdAt: ");
    /* data */
    check(ID, "goal", T0, T0, NULL, NULL, 0, "data: missing");
    check(ID, "goal", T0, T0, NULL, "[1]", 0, "data: must be a JSON object");
    check(ID, "goal", T0, T0, NULL, "\"x\"", 0, "data: must be a JSON object");
}

static void test_entity_data(void **state)
{
    (void)state;
    /* unknown fields are free; hard numbers are fine */
    check(ID, "goal", T0, T0, NULL, "{\"kind\":\"tempo\",\"target\":1e15,\"x\":[7.422680412371134,-0,{\"y\":null}]}", 0, NULL);
    check(ID, "goal", T0, T0, NULL, "{\"target\":0.1234567890123456,\"futureField\":{\"a\":[1,2,3]}}", 0, NULL);
    /* invalid UTF-8 (cJSON keeps the bytes as they are) in a value and in a key */
    check(ID, "logbookEntry", T0, T0, NULL, "{\"text\":\"caf\xc3\"}", 0, "data.text: not valid UTF-8");
    check(ID, "logbookEntry", T0, T0, NULL, "{\"text\":\"\xed\xa0\x80\"}", 0, "data.text: not valid UTF-8");
    check(ID, "logbookEntry", T0, T0, NULL, "{\"a\":{\"b\":[\"\xc0\xaf\"]}}", 0, "data.a: not valid UTF-8");
    check(ID, "logbookEntry", T0, T0, NULL, "{\"\xff\":1}", 0, "data: a key is not valid UTF-8");
    /* non-finite numbers (cJSON reads 1e400 as infinity) */
    check(ID, "goal", T0, T0, NULL, "{\"x\":1e400}", 0, "data.x: not a finite number");
    /* depth */
    char deep[256] = "{\"a\":";
    for (int i = 0; i < ETUDE_ENTITY_MAX_DEPTH - 1; i++)
        strcat(deep, "[");
    for (int i = 0; i < ETUDE_ENTITY_MAX_DEPTH - 1; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    check(ID, "goal", T0, T0, NULL, deep, 0, NULL);
    char deeper[256] = "{\"a\":[";
    for (int i = 0; i < ETUDE_ENTITY_MAX_DEPTH - 1; i++)
        strcat(deeper, "[");
    for (int i = 0; i < ETUDE_ENTITY_MAX_DEPTH - 1; i++)
        strcat(deeper, "]");
    strcat(deeper, "]}");
    check(ID, "goal", T0, T0, NULL, deeper, 0, "data.a: nested deeper than 16 levels");
    /* size */
    size_t big = ETUDE_ENTITY_MAX_DATA_BYTES;
    char *text = malloc(big + 64);
    strcpy(text, "{\"text\":\"");
    memset(text + 9, 'x', big - 11);
    strcpy(text + 9 + big - 11, "\"}");
    check(ID, "logbookEntry", T0, T0, NULL, text, 0, NULL); /* exactly the limit */
    strcpy(text + 9 + big - 11, "x\"}");
    check(ID, "logbookEntry", T0, T0, NULL, text, 0, "data: oversized: 65537 bytes");
    free(text);
    /* duplicate keys */
    check(ID, "goal", T0, T0, NULL, "{\"a\":1,\"a\":2}", 0, "data: cannot be canonicalised");
    /* known fields, by type */
    check(ID, "goal", T0, T0, NULL, "{\"target\":0}", 0, "data.target: must be a number > 0");
    check(ID, "goal", T0, T0, NULL, "{\"target\":-1e15}", 0, "data.target: must be a number > 0");
    check(ID, "goal", T0, T0, NULL, "{\"target\":\"20\"}", 0, "data.target: must be a number");
    check(ID, "goal", T0, T0, NULL, "{\"kind\":5}", 0, "data.kind: must be a string");
    check(ID, "logbookEntry", T0, T0, NULL, "{\"text\":\"hi\",\"sessionId\":\"abc\"}", 0, "data.sessionId: must be a lowercase UUID");
    check(ID, "practiceLog", T0, T0, NULL, "{\"index\":1.5}", 0, "data.index: must be an integer");
    check(ID, "practiceLog", T0, T0, NULL, "{\"index\":-1}", 0, "data.index: out of range");
    check(ID, "practiceLog", T0, T0, NULL, "{\"startBar\":9,\"endBar\":1,\"bars\":-8,\"bpm\":120,\"seconds\":2.5}", 0, NULL);
    check(ID, "practiceLog", T0, T0, NULL, "{\"bpm\":1e6}", 0, "data.bpm: out of range");
    check(ID, "practiceLog", T0, T0, NULL, "{\"startedAt\":\"2026-01-31T12:00:00Z\"}", 0, "data.startedAt: must be a UTC time");
    check(ID, "practiceSession", T0, T0, NULL,
          "{\"startedAt\":\"2026-01-31T11:00:00.000Z\",\"endedAt\":\"2026-01-31T11:30:00.000Z\",\"command\":\"play\","
          "\"preset\":null,\"material\":\"scales\",\"rate\":48000,\"activeSeconds\":1800,\"tempoMinBpm\":60,"
          "\"tempoMaxBpm\":120,\"tempoTime\":[{\"bpm\":60,\"seconds\":900}],\"voices\":[],\"bars\":200,\"segments\":3,"
          "\"loops\":0,\"xruns\":0,\"timing\":null,\"notes\":null,\"interrupted\":false,\"endReason\":\"end\"}",
          0, NULL);
    /* a wall clock stepped back during the session: kept, not refused */
    check(ID, "practiceSession", T0, T0, NULL,
          "{\"startedAt\":\"2026-01-31T11:30:00.000Z\",\"endedAt\":\"2026-01-31T11:00:00.000Z\",\"rate\":0}", 0, NULL);
    check(ID, "practiceSession", T0, T0, NULL, "{\"rate\":-1}", 0, "data.rate: out of range");
    check(ID, "practiceSession", T0, T0, NULL, "{\"rate\":1e8}", 0, "data.rate: out of range");
    check(ID, "practiceSession", T0, T0, NULL, "{\"xruns\":-1}", 0, "data.xruns: out of range");
    check(ID, "practiceSession", T0, T0, NULL, "{\"interrupted\":1}", 0, "data.interrupted: must be true or false");
    check(ID, "practiceSession", T0, T0, NULL, "{\"preset\":3}", 0, "data.preset: must be a string or null");
    check(ID, "practiceSession", T0, T0, NULL, "{\"timing\":[]}", 0, "data.timing: must be an object or null");
    /* material identity: a resolved path and a BLAKE2b-256 hash in lowercase hex, on sessions and goals */
#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    check(ID, "practiceSession", T0, T0, NULL, "{\"materialPath\":\"/m/tune.mid\",\"materialHash\":\"" H64 "\"}", 0, NULL);
    check(ID, "goal", T0, T0, NULL, "{\"kind\":\"tempo\",\"target\":90,\"materialPath\":\"/m/t.map\",\"materialHash\":\"" H64 "\"}",
          0, NULL);
    check(ID, "practiceSession", T0, T0, NULL, "{\"materialHash\":\"" H64 "0\"}", 0,
          "data.materialHash: must be 64 lowercase hex digits");
    check(ID, "goal", T0, T0, NULL, "{\"materialHash\":\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}",
          0, "data.materialHash: must be 64 lowercase hex digits");
    check(ID, "goal", T0, T0, NULL, "{\"materialHash\":null}", 0, "data.materialHash: must be 64 lowercase hex digits");
    check(ID, "practiceSession", T0, T0, NULL, "{\"materialPath\":7}", 0, "data.materialPath: must be a string");
#undef H64
    /* the same field names mean nothing for other types */
    check(ID, "goal", T0, T0, NULL, "{\"rate\":0,\"index\":-1}", 0, NULL);
    assert_true(etude_entity_type_known("practiceSession") && etude_entity_type_known("practiceLog") &&
                etude_entity_type_known("goal") && etude_entity_type_known("logbookEntry"));
    assert_false(etude_entity_type_known("Goal") || etude_entity_type_known("") || etude_entity_type_known(NULL));
}

static int same(const char *type, const char *a, const char *b)
{
    cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
    assert_non_null(x);
    assert_non_null(y);
    int r = etude_entity_same_thing(type, x, y);
    assert_int_equal(r, etude_entity_same_thing(type, y, x)); /* symmetric */
    cJSON_Delete(x);
    cJSON_Delete(y);
    return r;
}

#define SESSION(start, end, material, preset)                                                              \
    "{\"startedAt\":\"" start "\",\"endedAt\":\"" end "\",\"material\":\"" material "\",\"preset\":" preset \
    ",\"bars\":10}"

static void test_same_thing(void **state)
{
    (void)state;
    const char *s = SESSION("2026-01-31T12:00:00.000Z", "2026-01-31T12:30:00.000Z", "scales", "null");
    assert_true(same("practiceSession", s, s));
    /* recorded twice: starts 1.5 s apart, durations 0.8 s apart, other fields differ */
    assert_true(same("practiceSession", s,
                     "{\"startedAt\":\"2026-01-31T12:00:01.500Z\",\"endedAt\":\"2026-01-31T12:30:02.300Z\","
                     "\"material\":\"scales\",\"preset\":null,\"bars\":11,\"note\":\"device b\"}"));
    assert_true(same("practiceSession", s, SESSION("2026-01-31T12:00:02.000Z", "2026-01-31T12:30:03.000Z", "scales", "null")));
    assert_false(same("practiceSession", s, SESSION("2026-01-31T12:00:02.001Z", "2026-01-31T12:30:02.001Z", "scales", "null")));
    assert_false(same("practiceSession", s, SESSION("2026-01-31T12:00:00.000Z", "2026-01-31T12:30:01.001Z", "scales", "null")));
    assert_false(same("practiceSession", s, SESSION("2026-01-31T12:00:00.000Z", "2026-01-31T12:30:00.000Z", "arpeggios", "null")));
    assert_false(same("practiceSession", s, SESSION("2026-01-31T12:00:00.000Z", "2026-01-31T12:30:00.000Z", "scales", "\"p.json\"")));
    assert_true(same("practiceSession", SESSION("2026-01-31T12:00:00.000Z", "2026-01-31T12:30:00.000Z", "", "\"p.json\""),
                     SESSION("2026-01-31T12:00:00.000Z", "2026-01-31T12:30:00.000Z", "", "\"p.json\"")));
    /* without what the rule compares, nothing is a duplicate */
    assert_false(same("practiceSession", "{\"material\":\"scales\"}", "{\"material\":\"scales\"}"));
    /* notes, goals and logs are never duplicates, however equal */
    assert_false(same("logbookEntry", "{\"text\":\"practice slowly\"}", "{\"text\":\"practice slowly\"}"));
    assert_false(same("goal", "{\"kind\":\"minutes\",\"target\":20,\"period\":\"day\"}",
                      "{\"kind\":\"minutes\",\"target\":20,\"period\":\"day\"}"));
    assert_false(same("practiceLog", s, s));
    assert_false(same("unknown", s, s));
    assert_false(etude_entity_same_thing("practiceSession", NULL, NULL));
}

/* ---- gzip ---- */

static void test_gzip(void **state)
{
    (void)state;
    size_t n = 200000;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)("etude practice log "[i % 19] ^ (i % 7 == 0 ? (int)(i % 251) : 0));
    char *z = NULL, *back = NULL;
    size_t zn = 0, bn = 0;
    assert_int_equal(etude_gzip(in, n, &z, &zn), 0);
    assert_true(zn > 18 && zn < n);
    assert_int_equal((unsigned char)z[0], 0x1f);
    assert_int_equal((unsigned char)z[1], 0x8b);
    assert_int_equal(etude_gunzip(z, zn, n, &back, &bn), 0);
    assert_int_equal(bn, n);
    assert_memory_equal(back, in, n);
    assert_int_equal(back[bn], 0);
    free(back);
    /* one byte over the cap */
    assert_int_equal(etude_gunzip(z, zn, n - 1, &back, &bn), ETUDE_ELIMIT);
    assert_null(back);
    /* truncated, corrupt, trailing bytes */
    assert_int_equal(etude_gunzip(z, zn - 5, n, &back, &bn), ETUDE_EPARSE);
    assert_null(back);
    char *mod = malloc(zn + 3);
    memcpy(mod, z, zn);
    mod[zn / 2] ^= 0x55;
    assert_int_not_equal(etude_gunzip(mod, zn, n, &back, &bn), 0);
    assert_null(back);
    memcpy(mod, z, zn);
    memcpy(mod + zn, "xyz", 3);
    assert_int_equal(etude_gunzip(mod, zn + 3, n, &back, &bn), ETUDE_EPARSE);
    assert_int_equal(etude_gunzip("not gzip", 8, n, &back, &bn), ETUDE_EPARSE);
    free(mod);
    free(z);
    /* empty input round-trips */
    assert_int_equal(etude_gzip("", 0, &z, &zn), 0);
    assert_int_equal(etude_gunzip(z, zn, 10, &back, &bn), 0);
    assert_int_equal(bn, 0);
    free(back);
    free(z);
    /* a bomb: 50 MB of zeros compresses to ~50 kB; a 1 MB cap stops it without inflating it all */
    size_t zeros = 50u << 20;
    char *big = calloc(zeros, 1);
    assert_int_equal(etude_gzip(big, zeros, &z, &zn), 0);
    free(big);
    assert_int_equal(etude_gunzip(z, zn, 1u << 20, &back, &bn), ETUDE_ELIMIT);
    free(z);
    free(in);
}

/* The growing buffer: bytes (NULs included) and formatted text in order, always NUL-terminated,
 * handed over once; and the bounded stream read at, below and above its limit, across the read
 * chunk's size. */
static void test_buf(void **state)
{
    (void)state;
    etude_buf_t b = {0};
    char *t = etude_buf_take(&b);
    assert_non_null(t);
    assert_string_equal(t, "");
    free(t);
    etude_buf_puts(&b, "tempo ");
    etude_buf_printf(&b, "%d bpm, %s", 96, "4/4");
    etude_buf_putc(&b, '!');
    etude_buf_put(&b, "\0x", 2);
    assert_int_equal(b.n, strlen("tempo 96 bpm, 4/4!") + 2);
    assert_memory_equal(b.p, "tempo 96 bpm, 4/4!\0x", b.n + 1);
    for (int i = 0; i < 5000; i++) /* past several doublings */
        etude_buf_printf(&b, "%04d", i % 10000);
    assert_int_equal(b.n, strlen("tempo 96 bpm, 4/4!") + 2 + 20000);
    assert_memory_equal(b.p + b.n - 8, "49984999", 8);
    assert_int_equal(b.p[b.n], 0);
    t = etude_buf_take(&b);
    assert_non_null(t);
    assert_null(b.p);
    assert_int_equal(b.n, 0);
    free(t);

    size_t sizes[] = {0, 1, 4095, 4096, 4097, 8192, 12289};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        FILE *f = tmpfile();
        assert_non_null(f);
        for (size_t k = 0; k < n; k++)
            fputc(k % 7 == 3 ? 0 : 'a' + (int)(k % 26), f);
        for (int d = -1; d <= 1; d++) { /* the limit one below, at and above the length */
            if (d < 0 && n == 0)
                continue;
            rewind(f);
            char *out = (char *)1;
            size_t len = 99;
            int rc = etude_read_stream(f, n + (size_t)(long)d, &out, &len);
            if (d < 0) {
                assert_int_equal(rc, ETUDE_ELIMIT);
                assert_null(out);
                continue;
            }
            assert_int_equal(rc, 0);
            assert_int_equal(len, n);
            assert_int_equal(out[n], 0);
            for (size_t k = 0; k < n; k++)
                assert_int_equal((unsigned char)out[k], k % 7 == 3 ? 0 : 'a' + (int)(k % 26));
            free(out);
        }
        fclose(f);
    }
    /* a stream open for writing only: the read fails (EIO), nothing handed out */
    FILE *w = fopen("/dev/null", "w");
    assert_non_null(w);
    char *out = (char *)1;
    assert_int_equal(etude_read_stream(w, 100, &out, NULL), ETUDE_EIO);
    assert_null(out);
    fclose(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8785_number_table),
        cmocka_unit_test(test_hard_numbers),
        cmocka_unit_test(test_rfc8785_examples),
        cmocka_unit_test(test_strict_json),
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_entity_envelope),
        cmocka_unit_test(test_entity_data),
        cmocka_unit_test(test_same_thing),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
