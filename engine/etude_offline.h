/* etude_offline.h - the offline driver: runs the engine period by period as fast as possible,
 * calling the same etude_engine_process() the JACK callback calls, with the control work
 * (sequencer tick, engine tick) between periods, as the live control thread would do it.
 *
 * Threads: [control]; the calling thread plays both roles, one after the other.
 */
#ifndef ETUDE_OFFLINE_H
#define ETUDE_OFFLINE_H

#include <stdint.h>

#include "etude_engine.h"
#include "etude_sequencer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Receives each rendered period. Return 0 to go on, non-zero to stop the run with that value. */
typedef int (*etude_offline_write_fn)(void *user, const float *const mix[2], uint32_t nframes);
/* Called now and then with frames done and the total (0 when not known). May be NULL. */
typedef void (*etude_offline_progress_fn)(void *user, uint64_t done, uint64_t total);

typedef struct etude_offline_config {
    uint32_t period;       /* frames per process() call, e.g. 256 */
    uint64_t total_frames; /* frames to render; 0 = until the sequencer is finished, plus tail */
    uint32_t tail_frames;  /* frames rendered after the material ends (lets the last sound ring) */
    etude_offline_write_fn write;
    etude_offline_progress_fn progress;
    void *user;
} etude_offline_config_t;

/* Render. seq may be NULL (then total_frames must be > 0). Returns 0, a negative ETUDE_E*, or the
 * non-zero value write() returned. */
int etude_offline_run(etude_engine_t *engine, etude_sequencer_t *seq, const etude_offline_config_t *cfg);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_OFFLINE_H */
