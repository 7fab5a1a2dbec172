/* etude_buf.h - the byte buffers every part of etude builds text in and reads files into: a
 * growing, always NUL-terminated buffer, and a bounded whole-stream read.
 *
 * Threads: [any]; a buffer belongs to one thread at a time. Errors are the ETUDE_E* codes of
 * etude_error.h. Not for the audio thread (these allocate).
 */
#ifndef ETUDE_BUF_H
#define ETUDE_BUF_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A growing buffer. Start from {0}. p is NUL-terminated after every successful put (NULL while
 * nothing was put). An allocation failure sets oom, frees nothing and makes later puts no-ops, so a
 * writer checks once at the end (etude_buf_take). */
typedef struct etude_buf {
    char *p;
    size_t n;   /* bytes held, the NUL not counted */
    size_t cap; /* bytes allocated */
    int oom;
} etude_buf_t;

/* [any] Append n bytes of s (which may hold NULs). */
void etude_buf_put(etude_buf_t *b, const void *s, size_t n);
/* [any] Append the C string s. */
void etude_buf_puts(etude_buf_t *b, const char *s);
/* [any] Append one byte. */
void etude_buf_putc(etude_buf_t *b, char c);
/* [any] Append printf-formatted text. */
void etude_buf_printf(etude_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* [any] The text built, NUL-terminated ("" when nothing was put), handed to the caller, who frees
 * it; NULL (and the buffer freed) if an allocation failed on the way. *b is left empty. */
char *etude_buf_take(etude_buf_t *b);
/* [any] Free what b holds and leave it empty. */
void etude_buf_free(etude_buf_t *b);

/* [any] Read f to its end into a new NUL-terminated buffer (*out, freed by the caller; *len its
 * length without the NUL). At most max bytes: a longer stream gives ETUDE_ELIMIT. ETUDE_EIO on a
 * read error (errno as fread left it), ETUDE_ENOMEM. On an error *out is NULL. f stays open. */
int etude_read_stream(FILE *f, size_t max, char **out, size_t *len);

/* [any] The whole file at path, as etude_read_stream (at most max bytes). On failure err gets one
 * line naming the file: "PATH: cannot read: REASON" (ETUDE_EIO, also when it cannot be opened) or
 * "PATH: too large for a WHAT (over N MiB)" (ETUDE_ELIMIT; what e.g. "preset"). */
int etude_read_file(const char *path, size_t max, const char *what, char **out, size_t *len, char *err,
                    size_t errsize);

#ifdef __cplusplus
}
#endif

#endif
