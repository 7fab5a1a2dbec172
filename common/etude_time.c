/* etude_time.c - strict RFC 3339 UTC timestamps with milliseconds, and the wall/monotonic clocks. */
#include "etude_time.h"

#include "etude_error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

static int num(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int etude_time_parse_ms(const char *s, int64_t *unix_ms)
{
    int Y, M, D, h, mi, sec, ms;
    if (!s || strnlen(s, ETUDE_TIME_LEN) != ETUDE_TIME_LEN - 1)
        return ETUDE_EINVAL;
    if (num(s, 4, &Y) || s[4] != '-' || num(s + 5, 2, &M) || s[7] != '-' || num(s + 8, 2, &D) ||
        s[10] != 'T' || num(s + 11, 2, &h) || s[13] != ':' || num(s + 14, 2, &mi) || s[16] != ':' ||
        num(s + 17, 2, &sec) || s[19] != '.' || num(s + 20, 3, &ms) || s[23] != 'Z')
        return ETUDE_EINVAL;
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || mi > 59 || sec > 59)
        return ETUDE_EINVAL;
    if (unix_ms)
        *unix_ms = ((days_from_civil(Y, M, D) * 24 + h) * 60 + mi) * INT64_C(60000) + sec * 1000 + ms;
    return 0;
}

void etude_time_format_ms(int64_t t, char out[ETUDE_TIME_LEN])
{
    if (t < ETUDE_TIME_MIN_MS)
        t = ETUDE_TIME_MIN_MS;
    if (t > ETUDE_TIME_MAX_MS)
        t = ETUDE_TIME_MAX_MS;
    int64_t days = t / 86400000, rem = t % 86400000;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    int ms = (int)(rem % 1000), sec = (int)(rem / 1000 % 60), mi = (int)(rem / 60000 % 60), h = (int)(rem / 3600000);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, h, mi, sec, ms);
    memcpy(out, tmp, ETUDE_TIME_LEN - 1);
    out[ETUDE_TIME_LEN - 1] = 0;
}

int64_t etude_time_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t t = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    const char *skew = getenv("ETUDE_TEST_CLOCK_SKEW_MS");
    if (skew && *skew) {
        char *end;
        errno = 0;
        long long v = strtoll(skew, &end, 10);
        if (!*end && !errno && v > -ETUDE_TIME_MAX_MS && v < ETUDE_TIME_MAX_MS)
            t += v;
    }
    return t;
}

int64_t etude_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void etude_time_boot_id(char out[64])
{
    out[0] = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(out, 64, f))
            out[0] = 0;
        fclose(f);
    }
    out[strcspn(out, "\r\n")] = 0;
}

void etude_time_iso(int64_t epoch_us, char out[32])
{
    int64_t ms = epoch_us / 1000 - (epoch_us < 0 && epoch_us % 1000 ? 1 : 0); /* floor */
    etude_time_format_ms(ms, out);
}

void etude_time_now_iso(char out[32])
{
    etude_time_format_ms(etude_time_wall_ms(), out);
}

int etude_time_parse(const char *iso, int64_t *epoch_us)
{
    int64_t ms;
    int rc = etude_time_parse_ms(iso, &ms);
    if (!rc && epoch_us)
        *epoch_us = ms * 1000;
    return rc;
}
