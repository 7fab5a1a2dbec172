/* etude_time.h - the one timestamp format of etude (RFC 3339, UTC, milliseconds: exactly
 * YYYY-MM-DDTHH:MM:SS.mmmZ) and the clocks that stamp it.
 *
 * The format is strict on purpose: 24 characters, a capital T and Z, exactly three fraction
 * digits, no offset other than Z, no whitespace, real calendar dates (leap years by the Gregorian
 * rule), hours 00-23, minutes and seconds 00-59 (no leap second), years 1970 to 9999
 * (unix ms ETUDE_TIME_MIN_MS..ETUDE_TIME_MAX_MS). Text in this form compares like the instants it
 * names, so it sorts correctly as a string.
 *
 * Test knob: the environment variable ETUDE_TEST_CLOCK_SKEW_MS (a signed integer of milliseconds)
 * is added to the wall clock by etude_time_wall_ms() and everything built on it, read on every
 * call, so tests can run a device or a server whose clock is off. It is meant for tests only;
 * unset (or not an integer) means no skew. The monotonic clock is never skewed.
 *
 * Threads: [any]; no shared state (getenv only). Errors are the ETUDE_E* codes of etude_error.h.
 */
#ifndef ETUDE_TIME_H
#define ETUDE_TIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Characters of a timestamp, NUL included. */
#define ETUDE_TIME_LEN 25
/* 1970-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z as unix milliseconds. */
#define ETUDE_TIME_MIN_MS INT64_C(0)
#define ETUDE_TIME_MAX_MS INT64_C(253402300799999)

/* [any] Parse a timestamp in the strict form above into unix milliseconds (*unix_ms may be
 * NULL to only check). 0, or ETUDE_EINVAL for anything else (s NULL included). */
int etude_time_parse_ms(const char *s, int64_t *unix_ms);

/* [any] Format unix milliseconds as a timestamp into out (ETUDE_TIME_LEN bytes). Values outside
 * ETUDE_TIME_MIN_MS..ETUDE_TIME_MAX_MS are clamped to that range, so the text always parses. */
void etude_time_format_ms(int64_t unix_ms, char out[ETUDE_TIME_LEN]);

/* [any] Wall-clock time in unix milliseconds (CLOCK_REALTIME plus ETUDE_TEST_CLOCK_SKEW_MS). */
int64_t etude_time_wall_ms(void);

/* [any] Monotonic milliseconds (CLOCK_MONOTONIC): for deadlines and intervals, never stored. */
int64_t etude_time_mono_ms(void);

/* [any] This boot's id (Linux: /proc/sys/kernel/random/boot_id) into out, "" when unknown.
 * CLOCK_MONOTONIC is system-wide but restarts at boot: a stored monotonic time means something
 * only together with the boot it was read in. */
void etude_time_boot_id(char out[64]);

/* The microsecond forms the store and the command line use (same format, same strictness). */

/* [any] Format microseconds since the epoch (truncated to ms; clamped as above) into out. */
void etude_time_iso(int64_t epoch_us, char out[32]);
/* [any] The current wall-clock time (etude_time_wall_ms()) formatted into out. */
void etude_time_now_iso(char out[32]);
/* [any] Parse the strict form into microseconds since the epoch (NULL: only check); 0 or
 * ETUDE_EINVAL. */
int etude_time_parse(const char *iso, int64_t *epoch_us);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_TIME_H */
