/* etude_gzip.c - gzip and capped gunzip over zlib. */
#include "etude_gzip.h"

#include "etude_error.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* zlib counts in uInt: feed long inputs in slices. */
static void feed(z_stream *zs, const unsigned char **in, size_t *left)
{
    if (zs->avail_in == 0 && *left) {
        size_t n = *left > UINT_MAX ? UINT_MAX : *left;
        zs->next_in = (Bytef *)*in;
        zs->avail_in = (uInt)n;
        *in += n;
        *left -= n;
    }
}

int etude_gzip(const void *in, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return ETUDE_ENOMEM;
    size_t cap = (len > UINT_MAX / 2 ? len + len / 1000 + 1024 : deflateBound(&zs, (uLong)len)) + 32;
    char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&zs);
        return ETUDE_ENOMEM;
    }
    const unsigned char *p = in;
    size_t left = len, used = 0;
    int z;
    do {
        feed(&zs, &p, &left);
        if (used == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                deflateEnd(&zs);
                return ETUDE_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t room = cap - used > UINT_MAX ? UINT_MAX : cap - used;
        zs.next_out = (Bytef *)buf + used;
        zs.avail_out = (uInt)room;
        z = deflate(&zs, left || zs.avail_in > 0 ? Z_NO_FLUSH : Z_FINISH);
        used += room - zs.avail_out;
        if (z == Z_STREAM_ERROR) {
            free(buf);
            deflateEnd(&zs);
            return ETUDE_EINVAL;
        }
    } while (z != Z_STREAM_END);
    deflateEnd(&zs);
    *out = buf;
    *out_len = used;
    return 0;
}

int etude_gunzip(const void *in, size_t len, size_t max, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return ETUDE_ENOMEM;
    size_t cap = len < (SIZE_MAX - 1024) / 4 ? len * 4 + 1024 : SIZE_MAX / 2;
    if (cap > max + 1)
        cap = max + 1; /* room for one byte more than max: how an oversized body shows */
    char *buf = malloc(cap + 1);
    if (!buf) {
        inflateEnd(&zs);
        return ETUDE_ENOMEM;
    }
    const unsigned char *p = in;
    size_t left = len, used = 0;
    int rc = ETUDE_EPARSE;
    for (;;) {
        if (used == cap) {
            if (cap > max) {
                rc = ETUDE_ELIMIT;
                break;
            }
            size_t ncap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = ETUDE_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        feed(&zs, &p, &left);
        size_t room = cap - used > UINT_MAX ? UINT_MAX : cap - used;
        zs.next_out = (Bytef *)buf + used;
        zs.avail_out = (uInt)room;
        int z = inflate(&zs, Z_NO_FLUSH);
        used += room - zs.avail_out;
        if (z == Z_STREAM_END) {
            /* Bytes after the gzip member are not a body we understand. */
            rc = zs.avail_in == 0 && left == 0 ? 0 : ETUDE_EPARSE;
            if (rc == 0 && used > max)
                rc = ETUDE_ELIMIT;
            break;
        }
        if (z == Z_MEM_ERROR) {
            rc = ETUDE_ENOMEM;
            break;
        }
        if (z == Z_BUF_ERROR && zs.avail_in == 0 && left == 0 && zs.avail_out > 0)
            break; /* truncated stream */
        if (z != Z_OK && z != Z_BUF_ERROR)
            break;
    }
    inflateEnd(&zs);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[used] = '\0';
    *out = buf;
    *out_len = used;
    return 0;
}
