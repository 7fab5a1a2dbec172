/* rt_interpose.c - an LD_PRELOAD library that catches the audio thread calling allocation, lock
 * and blocking system-call functions, for the audio-thread safety tests and for live checks.
 *
 * Every wrapped function asks etude_engine_in_audio() (looked up in the program at load time; the
 * program must export it: link with -rdynamic / ENABLE_EXPORTS) whether the calling thread is
 * inside etude_engine_process(). If so the call is a violation: it is counted in static atomics
 * (nothing is allocated) and then performed as usual. At exit the library prints one summary line
 * to stderr and, if there were violations, one line per function at fault and ends the process
 * with exit status 86 (ETUDE_RT_EXIT_CODE overrides). Violations are kept by call site, so the
 * report names the object and function each came from.
 *
 * Environment:
 *   ETUDE_RT_REQUIRE=1    exit 87 if etude_engine_in_audio was not found (the check would be void)
 *   ETUDE_RT_ABORT=1      abort() at the first violation, for a backtrace under gdb
 *   ETUDE_RT_EXIT_CODE=N  the exit status used when violations were seen (default 86)
 *   ETUDE_RT_QUIET=1      no summary line when there was no violation
 *   ETUDE_RT_SUPPRESS=OBJ:FUNC,...  do not fail for FUNC called from an object whose path contains
 *                         OBJ (a documented third-party problem); still reported as suppressed
 * See docs/sequencer.md for running it under jackd.
 */
#include <dlfcn.h>  /* dlopen is not wrapped: its $ORIGIN lookups depend on the caller */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* glibc's own allocator entry points: calling them needs no dlsym (which itself allocates). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

#define FUNCTIONS(X)                                                                               \
    X(malloc) X(calloc) X(realloc) X(reallocarray) X(free) X(posix_memalign) X(aligned_alloc)      \
    X(memalign) X(pthread_mutex_lock) X(pthread_mutex_timedlock) X(pthread_rwlock_rdlock)          \
    X(pthread_rwlock_wrlock) X(pthread_spin_lock) X(pthread_cond_wait) X(pthread_cond_timedwait)   \
    X(pthread_join) X(sem_wait) X(sem_timedwait) X(read) X(write) X(pread) X(pwrite) X(readv)      \
    X(writev) X(open) X(open64) X(openat) X(openat64) X(creat) X(close) X(fsync) X(fdatasync)      \
    X(nanosleep) X(clock_nanosleep) X(usleep) X(sleep) X(poll) X(ppoll) X(select) X(pselect)       \
    X(epoll_wait) X(recv) X(recvfrom) X(recvmsg) X(send) X(sendto) X(sendmsg) X(connect)           \
    X(accept) X(accept4) X(mmap) X(munmap) X(fopen) X(fclose) X(fread) X(fwrite) X(fflush)        \
    X(fputs) X(puts) X(printf) X(fprintf) X(vprintf) X(vfprintf) X(pthread_mutex_clocklock)     \
    X(pthread_cond_clockwait) X(sem_clockwait) X(pthread_rwlock_timedrdlock)                       \
    X(pthread_rwlock_timedwrlock) X(pthread_rwlock_clockrdlock) X(pthread_rwlock_clockwrlock)      \
    X(mtx_lock) X(mtx_timedlock) X(cnd_wait) X(cnd_timedwait) X(syscall_futex) X(fopen64)          \
    X(fputc) X(putc) X(fgetc) X(getc) X(fgets) X(mremap) X(madvise)

#define AS_ENUM(name) FN_##name,
#define AS_NAME(name) #name,
enum { FUNCTIONS(AS_ENUM) FN_COUNT };
static const char *const fn_names[] = {FUNCTIONS(AS_NAME)};

static int (*in_audio_fn)(void);  /* the engine's: inside etude_engine_process() */
static int (*in_jack_fn)(void);   /* the JACK driver's: inside any of its JACK-thread callbacks */
static int abort_on_violation;

/* Violations by call site (the return address into the caller), in a fixed table filled
 * lock-free; sites beyond it are counted per function only and can never be suppressed. */
#define MAX_SITES 128
static _Atomic(void *) site_addr[MAX_SITES];
static _Atomic int site_fn[MAX_SITES];
static _Atomic unsigned long site_count[MAX_SITES];
static _Atomic unsigned long overflow_count[FN_COUNT];

static void raw_write(const char *s)
{
    syscall(SYS_write, 2, s, strlen(s));
}

__attribute__((noinline)) static void violation(int fn, void *caller)
{
    if (abort_on_violation) {
        raw_write("rt-interpose: violation: ");
        raw_write(fn_names[fn]);
        raw_write(" called on the audio thread; aborting (ETUDE_RT_ABORT)\n");
        abort();
    }
    for (int i = 0; i < MAX_SITES; i++) {
        void *a = atomic_load_explicit(&site_addr[i], memory_order_acquire);
        if (!a) {
            void *none = NULL;
            if (atomic_compare_exchange_strong(&site_addr[i], &none, caller)) {
                atomic_store(&site_fn[i], fn);
                atomic_fetch_add(&site_count[i], 1);
                return;
            }
            a = none;
        }
        if (a == caller) {
            atomic_fetch_add_explicit(&site_count[i], 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&overflow_count[fn], 1, memory_order_relaxed);
}

#define CHECK(name)                                                                                \
    do {                                                                                           \
        if (in_audio_fn && (in_audio_fn() || (in_jack_fn && in_jack_fn())))                        \
            violation(FN_##name, __builtin_return_address(0));                                     \
    } while (0)

/* The next definition of a function, looked up once (at load, or at first use if a constructor of
 * another library calls it before ours ran). */
#define REAL(name)                                                                                 \
    static __typeof__(name) *real_##name;                                                          \
    if (!real_##name)                                                                              \
        real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);

/* ---- injection from the JACK thread (tests only)
 * ETUDE_RT_INJECT=KIND,... and ETUDE_RT_INJECT_AT=process|sync|timebase: the first time the JACK
 * driver's callback of that name runs, it commits each listed sin (tests/support/rt_sins.h) once.
 * The driver calls etude_rt_inject() through a weak reference, so only a program run with this
 * library preloaded does anything; the point is to prove the "in audio" flag covers that callback. */

#include "rt_sins.h"

static char inject_kinds[512], inject_at[32];
static atomic_int inject_done;

static void inject_init(void)
{
    const char *k = getenv("ETUDE_RT_INJECT"), *at = getenv("ETUDE_RT_INJECT_AT");
    if (!k || !*k)
        return;
    snprintf(inject_kinds, sizeof inject_kinds, "%s", k);
    snprintf(inject_at, sizeof inject_at, "%s", at && *at ? at : "process");
    if (etude_rt_sins_prepare()) {
        raw_write("rt-interpose: ETUDE_RT_INJECT: cannot prepare the sins\n");
        _exit(88);
    }
}

/* [audio] Called by the JACK driver at the start of each of its JACK-thread callbacks. */
EXPORT void etude_rt_inject(const char *where)
{
    if (!inject_kinds[0] || strcmp(where, inject_at) || atomic_exchange(&inject_done, 1))
        return;
    const char *k = inject_kinds;
    while (*k) {
        char one[32];
        size_t n = strcspn(k, ",");
        snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), k);
        if (etude_rt_sin(one)) {
            raw_write("rt-interpose: ETUDE_RT_INJECT: unknown kind\n");
            _exit(88);
        }
        k += n + (k[n] == ',');
    }
}

__attribute__((constructor)) static void rt_interpose_init(void)
{
    const char *a = getenv("ETUDE_RT_ABORT");
    abort_on_violation = a && *a == '1';
    /* optional: present in programs that link the JACK driver (etude play) */
    in_jack_fn = (int (*)(void))dlsym(RTLD_DEFAULT, "etude_jack_in_audio");
    in_audio_fn = (int (*)(void))dlsym(RTLD_DEFAULT, "etude_engine_in_audio");
    inject_init();
}

/* ETUDE_RT_SUPPRESS="OBJECT:FUNCTION,..." - is this (object file name, function) pair listed?
 * OBJECT matches as a substring of the caller's object path (e.g. "libgomp.so"). */
static int suppressed(const char *object, const char *fn)
{
    const char *list = getenv("ETUDE_RT_SUPPRESS");
    if (!list || !object)
        return 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        if (!colon)
            continue;
        *colon = 0;
        if (*item && strstr(object, item) && !strcmp(colon + 1, fn))
            return 1;
    }
    return 0;
}

__attribute__((destructor)) static void rt_interpose_report(void)
{
    char line[768];
    int (*probe)(void) = in_audio_fn;
    in_audio_fn = NULL; /* from here on our own calls are not checked */
    const char *req = getenv("ETUDE_RT_REQUIRE");
    const char *quiet = getenv("ETUDE_RT_QUIET");
    if (!probe) {
        raw_write("rt-interpose: NOT armed: etude_engine_in_audio not found in the program "
                  "(link it with -rdynamic)\n");
        if (req && *req == '1')
            _exit(87);
        return;
    }
    unsigned long bad = 0, quiet_ok = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < MAX_SITES; i++) {
            void *caller = atomic_load(&site_addr[i]);
            unsigned long n = atomic_load(&site_count[i]);
            if (!caller || !n)
                continue;
            const char *fn = fn_names[atomic_load(&site_fn[i])];
            Dl_info info;
            memset(&info, 0, sizeof info);
            dladdr(caller, &info);
            int sup = suppressed(info.dli_fname, fn);
            if (pass == 0) {
                if (sup)
                    quiet_ok += n;
                else
                    bad += n;
                continue;
            }
            snprintf(line, sizeof line, "rt-interpose: %s: %s called %lu times on the audio thread from %s (%s+0x%lx)\n",
                     sup ? "suppressed (ETUDE_RT_SUPPRESS)" : "violation", fn, n,
                     info.dli_fname ? info.dli_fname : "?", info.dli_sname ? info.dli_sname : "?",
                     (unsigned long)((char *)caller - (char *)(info.dli_saddr ? info.dli_saddr : info.dli_fbase)));
            raw_write(line);
        }
        for (int f = 0; f < FN_COUNT; f++) {
            unsigned long n = atomic_load(&overflow_count[f]);
            if (!n)
                continue;
            if (pass == 0) {
                bad += n;
                continue;
            }
            snprintf(line, sizeof line, "rt-interpose: violation: %s called %lu times on the audio thread "
                     "from call sites beyond the first %d\n", fn_names[f], n, MAX_SITES);
            raw_write(line);
        }
        if (pass == 0) {
            if (!bad && !quiet_ok && quiet && *quiet == '1')
                return;
            snprintf(line, sizeof line, "rt-interpose: armed, %lu violations on the audio thread%s\n", bad,
                     quiet_ok ? " (and suppressed calls, below)" : "");
            raw_write(line);
        }
    }
    if (bad) {
        const char *code = getenv("ETUDE_RT_EXIT_CODE");
        _exit(code && *code ? atoi(code) : 86);
    }
}

/* ---- allocation */

EXPORT void *malloc(size_t n)
{
    CHECK(malloc);
    return __libc_malloc(n);
}

EXPORT void *calloc(size_t n, size_t size)
{
    CHECK(calloc);
    return __libc_calloc(n, size);
}

EXPORT void *realloc(void *p, size_t n)
{
    CHECK(realloc);
    return __libc_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    CHECK(reallocarray);
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n * size);
}

EXPORT void free(void *p)
{
    CHECK(free);
    __libc_free(p);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    CHECK(posix_memalign);
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
    CHECK(aligned_alloc);
    return __libc_memalign(align, n);
}

EXPORT void *memalign(size_t align, size_t n)
{
    CHECK(memalign);
    return __libc_memalign(align, n);
}

/* ---- locks and waits */

EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    CHECK(pthread_mutex_lock);
    REAL(pthread_mutex_lock);
    return real_pthread_mutex_lock(m);
}

EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
    CHECK(pthread_mutex_timedlock);
    REAL(pthread_mutex_timedlock);
    return real_pthread_mutex_timedlock(m, t);
}

EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    CHECK(pthread_rwlock_rdlock);
    REAL(pthread_rwlock_rdlock);
    return real_pthread_rwlock_rdlock(l);
}

EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    CHECK(pthread_rwlock_wrlock);
    REAL(pthread_rwlock_wrlock);
    return real_pthread_rwlock_wrlock(l);
}

EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
    CHECK(pthread_spin_lock);
    REAL(pthread_spin_lock);
    return real_pthread_spin_lock(l);
}

/* pthread_cond_* exist in two versions; plain dlsym would return the old one. */
EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    CHECK(pthread_cond_wait);
    static __typeof__(pthread_cond_wait) *real;
    if (!real)
        real = (__typeof__(pthread_cond_wait) *)dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.3.2");
    return real(c, m);
}

EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t)
{
    CHECK(pthread_cond_timedwait);
    static __typeof__(pthread_cond_timedwait) *real;
    if (!real)
        real = (__typeof__(pthread_cond_timedwait) *)dlvsym(RTLD_NEXT, "pthread_cond_timedwait",
                                                             "GLIBC_2.3.2");
    return real(c, m, t);
}

EXPORT int pthread_join(pthread_t t, void **ret)
{
    CHECK(pthread_join);
    REAL(pthread_join);
    return real_pthread_join(t, ret);
}

EXPORT int sem_wait(sem_t *s)
{
    CHECK(sem_wait);
    REAL(sem_wait);
    return real_sem_wait(s);
}

EXPORT int sem_timedwait(sem_t *s, const struct timespec *t)
{
    CHECK(sem_timedwait);
    REAL(sem_timedwait);
    return real_sem_timedwait(s, t);
}

/* ---- file and socket I/O, sleeping, waiting */

EXPORT ssize_t read(int fd, void *b, size_t n)
{
    CHECK(read);
    REAL(read);
    return real_read(fd, b, n);
}

EXPORT ssize_t write(int fd, const void *b, size_t n)
{
    CHECK(write);
    REAL(write);
    return real_write(fd, b, n);
}

EXPORT ssize_t pread(int fd, void *b, size_t n, off_t off)
{
    CHECK(pread);
    REAL(pread);
    return real_pread(fd, b, n, off);
}

EXPORT ssize_t pwrite(int fd, const void *b, size_t n, off_t off)
{
    CHECK(pwrite);
    REAL(pwrite);
    return real_pwrite(fd, b, n, off);
}

EXPORT ssize_t readv(int fd, const struct iovec *v, int n)
{
    CHECK(readv);
    REAL(readv);
    return real_readv(fd, v, n);
}

EXPORT ssize_t writev(int fd, const struct iovec *v, int n)
{
    CHECK(writev);
    REAL(writev);
    return real_writev(fd, v, n);
}

static mode_t open_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
    CHECK(open);
    REAL(open);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return real_open(path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
    CHECK(open64);
    REAL(open64);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return real_open64(path, flags, mode);
}

EXPORT int openat(int dir, const char *path, int flags, ...)
{
    CHECK(openat);
    REAL(openat);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return real_openat(dir, path, flags, mode);
}

EXPORT int openat64(int dir, const char *path, int flags, ...)
{
    CHECK(openat64);
    REAL(openat64);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return real_openat64(dir, path, flags, mode);
}

EXPORT int creat(const char *path, mode_t mode)
{
    CHECK(creat);
    REAL(creat);
    return real_creat(path, mode);
}

EXPORT int close(int fd)
{
    CHECK(close);
    REAL(close);
    return real_close(fd);
}

EXPORT int fsync(int fd)
{
    CHECK(fsync);
    REAL(fsync);
    return real_fsync(fd);
}

EXPORT int fdatasync(int fd)
{
    CHECK(fdatasync);
    REAL(fdatasync);
    return real_fdatasync(fd);
}

EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
    CHECK(nanosleep);
    REAL(nanosleep);
    return real_nanosleep(req, rem);
}

EXPORT int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem)
{
    CHECK(clock_nanosleep);
    REAL(clock_nanosleep);
    return real_clock_nanosleep(clk, flags, req, rem);
}

EXPORT int usleep(useconds_t us)
{
    CHECK(usleep);
    REAL(usleep);
    return real_usleep(us);
}

EXPORT unsigned int sleep(unsigned int s)
{
    CHECK(sleep);
    REAL(sleep);
    return real_sleep(s);
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    CHECK(poll);
    REAL(poll);
    return real_poll(fds, n, timeout);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
    CHECK(ppoll);
    REAL(ppoll);
    return real_ppoll(fds, n, t, mask);
}

EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
    CHECK(select);
    REAL(select);
    return real_select(n, r, w, e, t);
}

EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *m)
{
    CHECK(pselect);
    REAL(pselect);
    return real_pselect(n, r, w, e, t, m);
}

EXPORT int epoll_wait(int ep, struct epoll_event *ev, int max, int timeout)
{
    CHECK(epoll_wait);
    REAL(epoll_wait);
    return real_epoll_wait(ep, ev, max, timeout);
}

EXPORT ssize_t recv(int fd, void *b, size_t n, int flags)
{
    CHECK(recv);
    REAL(recv);
    return real_recv(fd, b, n, flags);
}

EXPORT ssize_t recvfrom(int fd, void *b, size_t n, int flags, struct sockaddr *a, socklen_t *al)
{
    CHECK(recvfrom);
    REAL(recvfrom);
    return real_recvfrom(fd, b, n, flags, a, al);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
    CHECK(recvmsg);
    REAL(recvmsg);
    return real_recvmsg(fd, m, flags);
}

EXPORT ssize_t send(int fd, const void *b, size_t n, int flags)
{
    CHECK(send);
    REAL(send);
    return real_send(fd, b, n, flags);
}

EXPORT ssize_t sendto(int fd, const void *b, size_t n, int flags, const struct sockaddr *a, socklen_t al)
{
    CHECK(sendto);
    REAL(sendto);
    return real_sendto(fd, b, n, flags, a, al);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
    CHECK(sendmsg);
    REAL(sendmsg);
    return real_sendmsg(fd, m, flags);
}

EXPORT int connect(int fd, const struct sockaddr *a, socklen_t al)
{
    CHECK(connect);
    REAL(connect);
    return real_connect(fd, a, al);
}

EXPORT int accept(int fd, struct sockaddr *a, socklen_t *al)
{
    CHECK(accept);
    REAL(accept);
    return real_accept(fd, a, al);
}

EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *al, int flags)
{
    CHECK(accept4);
    REAL(accept4);
    return real_accept4(fd, a, al, flags);
}

EXPORT void *mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
    CHECK(mmap);
    REAL(mmap);
    return real_mmap(addr, n, prot, flags, fd, off);
}

EXPORT int munmap(void *addr, size_t n)
{
    CHECK(munmap);
    REAL(munmap);
    return real_munmap(addr, n);
}

/* ---- stdio (buffered I/O: may allocate, lock the stream and write) */

EXPORT FILE *fopen(const char *path, const char *mode)
{
    CHECK(fopen);
    REAL(fopen);
    return real_fopen(path, mode);
}

EXPORT int fclose(FILE *f)
{
    CHECK(fclose);
    REAL(fclose);
    return real_fclose(f);
}

EXPORT size_t fread(void *b, size_t size, size_t n, FILE *f)
{
    CHECK(fread);
    REAL(fread);
    return real_fread(b, size, n, f);
}

EXPORT size_t fwrite(const void *b, size_t size, size_t n, FILE *f)
{
    CHECK(fwrite);
    REAL(fwrite);
    return real_fwrite(b, size, n, f);
}

EXPORT int fflush(FILE *f)
{
    CHECK(fflush);
    REAL(fflush);
    return real_fflush(f);
}

EXPORT int fputs(const char *s, FILE *f)
{
    CHECK(fputs);
    REAL(fputs);
    return real_fputs(s, f);
}

EXPORT int puts(const char *s)
{
    CHECK(puts);
    REAL(puts);
    return real_puts(s);
}

EXPORT int vfprintf(FILE *f, const char *fmt, va_list ap)
{
    CHECK(vfprintf);
    REAL(vfprintf);
    return real_vfprintf(f, fmt, ap);
}

EXPORT int vprintf(const char *fmt, va_list ap)
{
    CHECK(vprintf);
    REAL(vfprintf);
    return real_vfprintf(stdout, fmt, ap);
}

EXPORT int fprintf(FILE *f, const char *fmt, ...)
{
    CHECK(fprintf);
    REAL(vfprintf);
    va_list ap;
    va_start(ap, fmt);
    int r = real_vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

EXPORT int printf(const char *fmt, ...)
{
    CHECK(printf);
    REAL(vfprintf);
    va_list ap;
    va_start(ap, fmt);
    int r = real_vfprintf(stdout, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- wave 2: clock-based and timed waits, C11 threads, raw futexes, more stdio, remapping */

EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *t)
{
    CHECK(pthread_mutex_clocklock);
    REAL(pthread_mutex_clocklock);
    return real_pthread_mutex_clocklock(m, clk, t);
}

EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                                  const struct timespec *t)
{
    CHECK(pthread_cond_clockwait);
    REAL(pthread_cond_clockwait);
    return real_pthread_cond_clockwait(c, m, clk, t);
}

EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *t)
{
    CHECK(sem_clockwait);
    REAL(sem_clockwait);
    return real_sem_clockwait(s, clk, t);
}

EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *t)
{
    CHECK(pthread_rwlock_timedrdlock);
    REAL(pthread_rwlock_timedrdlock);
    return real_pthread_rwlock_timedrdlock(l, t);
}

EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *t)
{
    CHECK(pthread_rwlock_timedwrlock);
    REAL(pthread_rwlock_timedwrlock);
    return real_pthread_rwlock_timedwrlock(l, t);
}

EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clk, const struct timespec *t)
{
    CHECK(pthread_rwlock_clockrdlock);
    REAL(pthread_rwlock_clockrdlock);
    return real_pthread_rwlock_clockrdlock(l, clk, t);
}

EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clk, const struct timespec *t)
{
    CHECK(pthread_rwlock_clockwrlock);
    REAL(pthread_rwlock_clockwrlock);
    return real_pthread_rwlock_clockwrlock(l, clk, t);
}

EXPORT int mtx_lock(mtx_t *m)
{
    CHECK(mtx_lock);
    REAL(mtx_lock);
    return real_mtx_lock(m);
}

EXPORT int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict t)
{
    CHECK(mtx_timedlock);
    REAL(mtx_timedlock);
    return real_mtx_timedlock(m, t);
}

EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
    CHECK(cnd_wait);
    REAL(cnd_wait);
    return real_cnd_wait(c, m);
}

EXPORT int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict t)
{
    CHECK(cnd_timedwait);
    REAL(cnd_timedwait);
    return real_cnd_timedwait(c, m, t);
}

/* syscall() itself is judged only for SYS_futex (how libraries wait and wake by hand); the
 * arguments are passed on as the six longs the kernel interface takes. */
EXPORT long syscall(long number, ...)
{
    if (number == SYS_futex)
        CHECK(syscall_futex);
    REAL(syscall);
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
    CHECK(fopen64);
    REAL(fopen64);
    return real_fopen64(path, mode);
}

EXPORT int fputc(int c, FILE *f)
{
    CHECK(fputc);
    REAL(fputc);
    return real_fputc(c, f);
}

EXPORT int putc(int c, FILE *f)
{
    CHECK(putc);
    REAL(putc);
    return real_putc(c, f);
}

EXPORT int fgetc(FILE *f)
{
    CHECK(fgetc);
    REAL(fgetc);
    return real_fgetc(f);
}

EXPORT int getc(FILE *f)
{
    CHECK(getc);
    REAL(getc);
    return real_getc(f);
}

EXPORT char *fgets(char *s, int n, FILE *f)
{
    CHECK(fgets);
    REAL(fgets);
    return real_fgets(s, n, f);
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    CHECK(mremap);
    REAL(mremap);
    void *to = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        to = va_arg(ap, void *);
        va_end(ap);
    }
    return real_mremap(old, old_len, new_len, flags, to);
}

EXPORT int madvise(void *addr, size_t n, int advice)
{
    CHECK(madvise);
    REAL(madvise);
    return real_madvise(addr, n, advice);
}
