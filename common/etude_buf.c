/* etude_buf.c - growing text buffers and bounded whole-stream reads (etude_buf.h). */
#include "etude_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etude_error.h"

/* Make room for need bytes plus the NUL. */
static int grow(etude_buf_t *b, size_t need)
{
    if (b->oom)
        return -1;
    if (need < b->n || need + 1 < need) { /* overflow */
        b->oom = 1;
        return -1;
    }
    if (need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void etude_buf_put(etude_buf_t *b, const void *s, size_t n)
{
    if (grow(b, b->n + n) != 0)
        return;
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void etude_buf_puts(etude_buf_t *b, const char *s)
{
    etude_buf_put(b, s, strlen(s));
}

void etude_buf_putc(etude_buf_t *b, char c)
{
    etude_buf_put(b, &c, 1);
}

void etude_buf_printf(etude_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (grow(b, b->n + (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

char *etude_buf_take(etude_buf_t *b)
{
    char *p = NULL;
    if (b->oom)
        free(b->p);
    else
        p = b->p ? b->p : calloc(1, 1);
    *b = (etude_buf_t){0};
    return p;
}

void etude_buf_free(etude_buf_t *b)
{
    free(b->p);
    *b = (etude_buf_t){0};
}

int etude_read_stream(FILE *f, size_t max, char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    if (max > SIZE_MAX / 4)
        max = SIZE_MAX / 4;
    etude_buf_t b = {0};
    for (;;) {
        /* room for a chunk; reading up to max + 1 bytes tells a stream of max bytes from a longer one */
        size_t want = b.n < 4096 ? 4096 : b.n;
        if (want > max + 1 - b.n)
            want = max + 1 - b.n;
        if (grow(&b, b.n + want) != 0)
            return ETUDE_ENOMEM;
        size_t got = fread(b.p + b.n, 1, want, f);
        b.n += got;
        b.p[b.n] = 0;
        if (b.n > max) {
            etude_buf_free(&b);
            return ETUDE_ELIMIT;
        }
        if (got < want) {
            if (ferror(f)) {
                int e = errno;
                etude_buf_free(&b);
                errno = e;
                return ETUDE_EIO;
            }
            break;
        }
    }
    if (len)
        *len = b.n;
    *out = etude_buf_take(&b);
    return *out ? 0 : ETUDE_ENOMEM;
}

int etude_read_file(const char *path, size_t max, const char *what, char **out, size_t *len, char *err,
                    size_t errsize)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    int rc = f ? etude_read_stream(f, max, out, len) : ETUDE_EIO;
    int e = errno;
    if (f)
        fclose(f);
    if (rc && err && errsize) {
        if (rc == ETUDE_ELIMIT)
            snprintf(err, errsize, "%s: too large for a %s (over %zu MiB)", path, what, max >> 20);
        else if (rc == ETUDE_EIO)
            snprintf(err, errsize, "%s: cannot read: %s", path, strerror(e));
        else
            snprintf(err, errsize, "%s: %s", path, etude_strerror(rc));
    }
    errno = e;
    return rc;
}
