/* bench_http.h - what the HTTP load generators of tests/bench share: a libcurl body sink into an
 * etude_buf_t, a monotonic clock in seconds, and reading a trusted GraphQL document. Header-only
 * (static functions): each bench is one program. */
#ifndef ETUDE_BENCH_HTTP_H
#define ETUDE_BENCH_HTTP_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "etude_buf.h"

/* CURLOPT_WRITEFUNCTION with an etude_buf_t as CURLOPT_WRITEDATA (0 when out of memory: libcurl
 * then fails the transfer). */
static size_t bench_on_data(char *d, size_t sz, size_t nm, void *u)
{
    etude_buf_t *b = u;
    etude_buf_put(b, d, sz * nm);
    return b->oom ? 0 : sz * nm;
}

/* Seconds on the monotonic clock. */
static double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* DIR/NAME.graphql (exits with status 2 and a line naming it when it cannot be read). */
static char *bench_read_doc(const char *prog, const char *dir, const char *name)
{
    char path[1024], err[1200];
    snprintf(path, sizeof path, "%s/%s.graphql", dir, name);
    char *s = NULL;
    if (etude_read_file(path, (size_t)1 << 20, "GraphQL document", &s, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        exit(2);
    }
    return s;
}

#endif
