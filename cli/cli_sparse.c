/* cli_sparse.c - libsndfile virtual I/O that leaves silence as holes (see cli_sparse.h). */
#include "cli_sparse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 4096

static sf_count_t v_filelen(void *user)
{
    return ((cli_sparse_t *)user)->end;
}

static sf_count_t v_seek(sf_count_t offset, int whence, void *user)
{
    cli_sparse_t *s = user;
    sf_count_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->end : 0;
    if (base + offset < 0)
        return -1;
    s->pos = base + offset;
    return s->pos;
}

static sf_count_t v_read(void *ptr, sf_count_t count, void *user)
{
    cli_sparse_t *s = user;
    if (s->pos >= s->end || count <= 0)
        return 0;
    if (count > s->end - s->pos)
        count = s->end - s->pos;
    sf_count_t got = 0;
    while (got < count) {
        ssize_t n = pread(s->fd, (char *)ptr + got, (size_t)(count - got), s->pos + got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += n;
    }
    memset((char *)ptr + got, 0, (size_t)(count - got)); /* a trailing hole not yet given its length */
    s->pos += count;
    return count;
}

static bool all_zero(const unsigned char *p)
{
    static const unsigned char zeros[BLOCK];
    return memcmp(p, zeros, BLOCK) == 0;
}

static bool put(cli_sparse_t *s, const unsigned char *p, size_t n, sf_count_t at)
{
    while (n) {
        ssize_t w = pwrite(s->fd, p, n, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->error = w < 0 ? errno : EIO;
            return false;
        }
        p += w;
        n -= (size_t)w;
        at += w;
    }
    return true;
}

static sf_count_t v_write(const void *ptr, sf_count_t count, void *user)
{
    cli_sparse_t *s = user;
    const unsigned char *p = ptr;
    sf_count_t done = 0, run = 0; /* run: bytes from done on waiting to be written in one call */
    while (done + run < count) {
        sf_count_t off = s->pos + done + run;
        sf_count_t blk = BLOCK - off % BLOCK;
        if (blk > count - done - run)
            blk = count - done - run;
        /* a whole block of zeros beyond everything the file holds: leave it a hole */
        if (blk == BLOCK && off >= s->end && all_zero(p + done + run)) {
            if (run && !put(s, p + done, (size_t)run, s->pos + done))
                break;
            done += run + blk;
            run = 0;
            if (s->pos + done > s->end)
                s->end = s->pos + done;
            continue;
        }
        run += blk;
    }
    if (run && put(s, p + done, (size_t)run, s->pos + done))
        done += run;
    s->pos += done;
    if (s->pos > s->end)
        s->end = s->pos;
    return done;
}

static sf_count_t v_tell(void *user)
{
    return ((cli_sparse_t *)user)->pos;
}

SF_VIRTUAL_IO *cli_sparse_io(void)
{
    static SF_VIRTUAL_IO io = {v_filelen, v_seek, v_read, v_write, v_tell};
    return &io;
}

int cli_sparse_init(cli_sparse_t *s, int fd)
{
    struct stat st;
    memset(s, 0, sizeof *s);
    s->fd = fd;
    if (fstat(fd, &st) != 0)
        return -1;
    s->end = st.st_size;
    return 0;
}

int cli_sparse_finish(cli_sparse_t *s)
{
    if (s->error) {
        errno = s->error;
        return -1;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0)
        return -1;
    if (st.st_size < s->end && ftruncate(s->fd, s->end) != 0)
        return -1;
    return 0;
}
