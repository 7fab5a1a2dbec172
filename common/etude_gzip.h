/* etude_gzip.h - gzip (RFC 1952) compression of request and response bodies, and decompression
 * with a cap on the output, so a small hostile body cannot inflate into gigabytes.
 *
 * Threads: [any]; no shared state. Errors are the ETUDE_E* codes of etude_error.h.
 */
#ifndef ETUDE_GZIP_H
#define ETUDE_GZIP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* [any] Compress the len bytes at in into one gzip member (zlib level 6). 0 and *out (malloc'd,
 * caller frees with free()) with *out_len bytes, or ETUDE_ENOMEM / ETUDE_EINVAL (zlib refused);
 * *out is NULL on error. */
int etude_gzip(const void *in, size_t len, char **out, size_t *out_len);

/* [any] Decompress exactly one gzip member of len bytes, producing at most max bytes. 0 and *out
 * (malloc'd, NUL-terminated for convenience, caller frees with free()) with *out_len bytes;
 * ETUDE_ELIMIT when the output would exceed max; ETUDE_EPARSE for a corrupt or truncated stream
 * or bytes after the member; ETUDE_ENOMEM. *out is NULL on error. */
int etude_gunzip(const void *in, size_t len, size_t max, char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_GZIP_H */
