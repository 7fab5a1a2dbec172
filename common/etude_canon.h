/* etude_canon.h - canonical JSON (RFC 8785, the JSON Canonicalization Scheme) and the SHA-256
 * checksum of entity data: the one form client and server hash, compare and store.
 *
 * The canonical form is exactly RFC 8785:
 *   - no insignificant whitespace;
 *   - object members sorted by their keys as arrays of UTF-16 code units (so U+10000 and above,
 *     written as surrogate pairs, sort before U+E000..U+FFFF, unlike a bytewise UTF-8 sort);
 *   - strings escaped as ECMAScript's JSON.stringify does: \" \\ \b \f \n \r \t, other control
 *     characters below U+0020 as \u00xx (lowercase hex), everything else as UTF-8 bytes;
 *   - numbers as ECMAScript's Number::toString writes an IEEE 754 double: the shortest digits
 *     that read back to the same double, plain notation from 1e-6 up to (not including) 1e21,
 *     exponent form otherwise ("1e+21", "1e-7", "1.5e+300"), -0 written as 0.
 * Refused (ETUDE_EINVAL): text that is not strict RFC 8259 JSON (leading zeros, "1.", raw control
 * characters in strings, lone surrogate escapes, invalid UTF-8, trailing garbage), NaN and
 * Infinity (also numbers that overflow a double, such as 1e400), duplicate keys, nesting deeper
 * than ETUDE_CANON_MAX_DEPTH, strings containing U+0000 (C strings cannot carry it) and number
 * literals longer than 63 characters (cJSON reads no more; any double fits in 25).
 *
 * Numbers are IEEE doubles, as in RFC 8785: 9007199254740993 reads as 9007199254740992 and is
 * written so. cJSON's valueint (which saturates at INT_MAX) is never used.
 *
 * Threads: [any]; no shared state. Errors are the ETUDE_E* codes of etude_error.h.
 */
#ifndef ETUDE_CANON_H
#define ETUDE_CANON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Deepest nesting of arrays and objects accepted (the top-level value is depth 1). */
#define ETUDE_CANON_MAX_DEPTH 64
/* Bytes needed for etude_canon_number()'s output, NUL included ("-1.2345678901234567e-308"). */
#define ETUDE_CANON_NUMBER_LEN 32

/* [any] Canonicalise the JSON text json (NUL-terminated, UTF-8). On success returns 0 and *out,
 * a malloc'd NUL-terminated string the caller frees with free(). ETUDE_EINVAL for text refused
 * above, ETUDE_ENOMEM when out of memory; *out is NULL on any error. */
int etude_canon_json(const char *json, char **out);

/* [any] Canonical text of an in-memory cJSON value (strings must be valid UTF-8, numbers finite).
 * 0 and *out (malloc'd, caller frees with free()), or ETUDE_EINVAL / ETUDE_ENOMEM and *out NULL.
 * v stays owned by the caller and is not modified. */
int etude_canon_cjson(const cJSON *v, char **out);

/* [any] JSON text of v for the wire and for files, in place of cJSON_PrintUnformatted(): cJSON
 * prints numbers with 15 digits whenever those land within DBL_EPSILON of the value, so
 * 0.30000000000000004 becomes 0.3 and 9007199254740993 becomes 9.00719925474099e+15, and a
 * checksum computed before printing no longer matches after parsing. This writer keeps member
 * order and writes numbers and strings as the canonical form does (exact), non-finite numbers as
 * null, cJSON raw items verbatim; it does not sort or validate. Returns a malloc'd string the
 * caller frees with free(), or NULL when out of memory. */
char *etude_canon_print(const cJSON *v);

/* [any] Write d as ECMAScript's Number::toString does into buf (ETUDE_CANON_NUMBER_LEN bytes).
 * Returns the length written, or ETUDE_EINVAL for NaN and infinities (buf then holds ""). */
int etude_canon_number(double d, char buf[ETUDE_CANON_NUMBER_LEN]);

/* [any] SHA-256 (libsodium) of the n bytes at data, as 64 lowercase hex characters and a NUL. */
void etude_sha256_hex(const void *data, size_t n, char hex[65]);

/* [any] The entity checksum both sides compute: SHA-256 hex of the canonical text of v.
 * canon_out NULL: the text is freed here; otherwise *canon_out receives it (caller frees with
 * free()). 0, ETUDE_EINVAL (v cannot be canonicalised) or ETUDE_ENOMEM. A NULL v is the JSON
 * null (a tombstone's data), whose canonical text is "null". */
int etude_canon_checksum(const cJSON *v, char hex[65], char **canon_out);

/* [any] The older name of etude_sha256_hex(), kept for its callers. */
static inline void etude_canon_sha256_hex(const char *s, size_t n, char out[65])
{
    etude_sha256_hex(s, n, out);
}

/* [any] Nonzero when the n bytes at s are well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates U+D800..U+DFFF, nothing above U+10FFFF, no truncated sequence). NUL bytes count as
 * valid here; the JSON checks refuse them separately. */
int etude_utf8_valid(const char *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_CANON_H */
