/* rt_sins.c - calls the audio thread must never make, made on purpose (see rt_sins.h). */
#include "rt_sins.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

const char *const etude_rt_sin_kinds[] = {
    "malloc", "calloc", "realloc", "free", "mutex", "write", "sleep", "open",
    "clocklock", "condclock", "semclock", "rwtimedrd", "rwtimedwr", "rwclockrd", "rwclockwr",
    "mtx", "futex", "fopen64", "fputc", "fgets", "mremap", "madvise", NULL};
const char *const etude_rt_sin_functions[] = {
    "malloc", "calloc", "realloc", "free", "pthread_mutex_lock", "write", "nanosleep", "open",
    "pthread_mutex_clocklock", "pthread_cond_clockwait", "sem_clockwait",
    "pthread_rwlock_timedrdlock", "pthread_rwlock_timedwrlock", "pthread_rwlock_clockrdlock",
    "pthread_rwlock_clockwrlock", "mtx_lock", "syscall_futex", "fopen64", "fputc", "fgets",
    "mremap", "madvise", NULL};

int etude_rt_sin_known(const char *kind)
{
    for (int i = 0; etude_rt_sin_kinds[i]; i++)
        if (!strcmp(etude_rt_sin_kinds[i], kind))
            return i;
    return -1;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static sem_t sem;
static mtx_t cmtx;
static FILE *devnull;
static void *map;
static size_t map_len;
static int futex_word;

int etude_rt_sins_prepare(void)
{
    if (devnull)
        return 0;
    if (sem_init(&sem, 0, 0) || mtx_init(&cmtx, mtx_plain) != thrd_success)
        return -1;
    devnull = fopen("/dev/null", "r+");
    map_len = (size_t)sysconf(_SC_PAGESIZE);
    map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return devnull && map != MAP_FAILED ? 0 : -1;
}

int etude_rt_sin(const char *kind)
{
    void *volatile p = NULL; /* volatile: the compiler may not elide an allocation */
    struct timespec past = {0, 0};
    char line[8];
    if (!strcmp(kind, "malloc")) {
        p = malloc(64);
        free(p); /* also a violation, but malloc is the one asked for */
    } else if (!strcmp(kind, "calloc")) {
        p = calloc(16, sizeof(float));
        free(p);
    } else if (!strcmp(kind, "realloc")) {
        static void *keep;
        static unsigned n;
        keep = realloc(keep, 16 + n++ % 7);
    } else if (!strcmp(kind, "free")) {
        free(p); /* free(NULL): a no-op, but still a call into the allocator */
    } else if (!strcmp(kind, "mutex")) {
        pthread_mutex_lock(&lock);
        pthread_mutex_unlock(&lock);
    } else if (!strcmp(kind, "write")) {
        if (write(2, "", 0) < 0)
            return 0;
    } else if (!strcmp(kind, "sleep")) {
        nanosleep(&past, NULL);
    } else if (!strcmp(kind, "open")) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0)
            close(fd);
    } else if (!strcmp(kind, "clocklock")) {
        if (pthread_mutex_clocklock(&lock, CLOCK_MONOTONIC, &past) == 0)
            pthread_mutex_unlock(&lock);
    } else if (!strcmp(kind, "condclock")) {
        pthread_mutex_lock(&lock); /* reported too; the clockwait is the one asked for */
        pthread_cond_clockwait(&cond, &lock, CLOCK_MONOTONIC, &past);
        pthread_mutex_unlock(&lock);
    } else if (!strcmp(kind, "semclock")) {
        sem_clockwait(&sem, CLOCK_MONOTONIC, &past);
    } else if (!strcmp(kind, "rwtimedrd")) {
        if (pthread_rwlock_timedrdlock(&rw, &past) == 0)
            pthread_rwlock_unlock(&rw);
    } else if (!strcmp(kind, "rwtimedwr")) {
        if (pthread_rwlock_timedwrlock(&rw, &past) == 0)
            pthread_rwlock_unlock(&rw);
    } else if (!strcmp(kind, "rwclockrd")) {
        if (pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &past) == 0)
            pthread_rwlock_unlock(&rw);
    } else if (!strcmp(kind, "rwclockwr")) {
        if (pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &past) == 0)
            pthread_rwlock_unlock(&rw);
    } else if (!strcmp(kind, "mtx")) {
        if (mtx_lock(&cmtx) == thrd_success)
            mtx_unlock(&cmtx);
    } else if (!strcmp(kind, "futex")) {
        syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    } else if (!strcmp(kind, "fopen64")) {
        FILE *f = fopen64("/dev/null", "r");
        if (f)
            fclose(f);
    } else if (!strcmp(kind, "fputc")) {
        if (devnull)
            fputc('x', devnull);
    } else if (!strcmp(kind, "fgets")) {
        if (devnull && fgets(line, sizeof line, devnull))
            return 0;
    } else if (!strcmp(kind, "mremap")) {
        if (map && map != MAP_FAILED) {
            void *m = mremap(map, map_len, map_len, 0);
            if (m != MAP_FAILED)
                map = m;
        }
    } else if (!strcmp(kind, "madvise")) {
        if (map && map != MAP_FAILED)
            madvise(map, map_len, MADV_NORMAL);
    } else {
        return -1;
    }
    return 0;
}
