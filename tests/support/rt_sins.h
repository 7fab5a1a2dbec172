/* rt_sins.h - calls the audio thread must never make, made on purpose, for the tests that prove the
 * audio-thread interposer (rt_interpose.c) catches each kind.
 *
 * Threads: etude_rt_sins_prepare() [control] once, before any etude_rt_sin(); etude_rt_sin() on the
 * thread under test (the point is that it breaks the [audio] rules).
 */
#ifndef ETUDE_RT_SINS_H
#define ETUDE_RT_SINS_H

/* [control] Open, map and initialise what the sins use (a FILE on /dev/null, a mapping, a
 * semaphore, C11 and POSIX locks), so that etude_rt_sin() commits only its own kind. 0 or -1. */
int etude_rt_sins_prepare(void);

/* [audio on purpose] Commit the sin named kind once: malloc, calloc, realloc, free, mutex, write,
 * sleep, open, clocklock, condclock, semclock, rwtimedrd, rwtimedwr, rwclockrd, rwclockwr, mtx,
 * futex, fopen64, fputc, fgets, mremap, madvise. Every call returns at once (timeouts in the past,
 * locks free). Returns 0, or -1 for an unknown kind. */
int etude_rt_sin(const char *kind);

/* [any] The index of kind in etude_rt_sin_kinds, or -1. */
int etude_rt_sin_known(const char *kind);

/* The kinds above, NULL-terminated, with the name the interposer reports for each. */
extern const char *const etude_rt_sin_kinds[];
extern const char *const etude_rt_sin_functions[];

#endif
