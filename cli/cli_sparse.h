/* cli_sparse.h - libsndfile virtual I/O over a file descriptor that leaves silence as holes: every
 * 4096-byte block of zeros written past the end of what the file holds is skipped instead of
 * written, so a click track's silence costs neither copying nor disk. Reading the file gives the
 * same bytes as a plain write would have (holes read as zeros; cli_sparse_finish() sets the length).
 *
 * Threads: [control], one file per cli_sparse_t.
 */
#ifndef CLI_SPARSE_H
#define CLI_SPARSE_H

#include <sndfile.h>

typedef struct cli_sparse {
    int fd;
    sf_count_t pos; /* where the next read or write goes */
    sf_count_t end; /* the file's length as libsndfile sees it (written or skipped) */
    int error;      /* errno of the first failed write, or 0 */
} cli_sparse_t;

/* The callbacks for sf_open_virtual(io, mode, info, s). Static; never freed. */
SF_VIRTUAL_IO *cli_sparse_io(void);

/* Start on fd (a regular file, at any length; it is neither closed nor truncated here). 0 or -1. */
int cli_sparse_init(cli_sparse_t *s, int fd);

/* After sf_close(): give the file its full length (a trailing hole). 0, or -1 with errno set (also
 * when a write failed earlier). The caller closes fd. */
int cli_sparse_finish(cli_sparse_t *s);

#endif
