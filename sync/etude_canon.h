/* etude_canon.h - canonical JSON text and its SHA-256 checksum, the basis of entity checksums and
 * duplicate detection.
 *
 * The canonical form: no insignificant whitespace, object members sorted by key (bytewise, UTF-8),
 * strings escaped minimally (\" \\ \b \f \n \r \t, other control characters as \u00xx, everything
 * else as UTF-8), integral numbers of magnitude below 2^53 written as integers, other numbers with
 * the fewest significant digits (15 to 17) that read back to the same double, so canonical(canonical(x)) == canonical(x).
 *
 * Threads: [any]; no shared state.
 */
#ifndef ETUDE_CANON_H
#define ETUDE_CANON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* [any] Canonicalise the JSON text json. On success returns 0 and *out, a malloc'd string the
 * caller frees with free(). Returns -2 (ETUDE_STORE_EINVAL) for text that is not JSON, -1 when
 * out of memory. */
int etude_canon_json(const char *json, char **out);

/* [any] SHA-256 of the n bytes at s, as 64 lowercase hex characters and a NUL. */
void etude_canon_sha256_hex(const char *s, size_t n, char out[65]);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_CANON_H */
