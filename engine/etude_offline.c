/* etude_offline.c - the offline driver: sequencer tick, process, engine tick and write, period
 * after period, on the calling thread. */
#include "etude_offline.h"

#include <stdlib.h>

/* How often progress is reported: every 1/100 of a known total, else every this many frames. */
#define PROGRESS_UNKNOWN_STEP 48000u

int etude_offline_run(etude_engine_t *engine, etude_sequencer_t *seq, const etude_offline_config_t *cfg)
{
    if (!engine || !cfg || cfg->period == 0 || (!seq && cfg->total_frames == 0))
        return ETUDE_EINVAL;
    float *buf = calloc(2 * (size_t)cfg->period, sizeof *buf);
    if (!buf)
        return ETUDE_ENOMEM;
    float *const mix[2] = {buf, buf + cfg->period};

    int rc = ETUDE_OK;
    if (seq && !etude_sequencer_rolling(seq) && cfg->total_frames == 0)
        rc = etude_sequencer_start(seq, 0);
    const uint64_t start = etude_engine_now(engine);
    uint64_t end = cfg->total_frames ? start + cfg->total_frames : UINT64_MAX;
    uint64_t total = cfg->total_frames;
    if (!total && seq) {
        uint64_t len = etude_sequencer_length(seq), pos = etude_sequencer_position(seq);
        if (len != UINT64_MAX)
            total = (len > pos ? len - pos : 0) + cfg->tail_frames;
    }
    uint64_t last_report = 0;
    bool reported = false;

    while (rc >= 0) {
        if (seq) {
            rc = etude_sequencer_tick(seq);
            if (rc == ETUDE_EFULL)
                rc = ETUDE_OK; /* retried next tick, as the table drains */
            if (rc < 0)
                break;
        }
        uint64_t now = etude_engine_now(engine);
        uint32_t n = cfg->period;
        if (end == UINT64_MAX) {
            uint64_t pos = etude_sequencer_position(seq), len = etude_sequencer_length(seq);
            if (!etude_sequencer_rolling(seq)) {
                end = now + cfg->tail_frames; /* stopped from outside (e.g. by write()) */
            } else if (etude_sequencer_finished(seq)) {
                /* The material ended (pos - len) frames ago: the tail counts from there. */
                uint64_t over = pos - len, done = now - start;
                end = now - (over < done ? over : done) + cfg->tail_frames;
            } else if (len != UINT64_MAX && pos < len && len - pos < n) {
                n = (uint32_t)(len - pos); /* end the period exactly at the material's end */
            }
        }
        if (now >= end)
            break;
        if (end != UINT64_MAX && end - now < n)
            n = (uint32_t)(end - now);

        etude_engine_process(engine, n, mix, NULL);
        rc = etude_engine_tick(engine);
        if (rc < 0)
            break;
        rc = ETUDE_OK;
        if (cfg->write) {
            int w = cfg->write(cfg->user, (const float *const *)mix, n);
            if (w) {
                rc = w;
                break;
            }
        }
        if (cfg->progress) {
            uint64_t done = etude_engine_now(engine) - start;
            uint64_t step = total ? (total / 100 ? total / 100 : 1) : PROGRESS_UNKNOWN_STEP;
            if (!reported || done - last_report >= step) {
                cfg->progress(cfg->user, done, total);
                last_report = done;
                reported = true;
            }
        }
    }
    if (rc >= 0 && cfg->progress) {
        uint64_t done = etude_engine_now(engine) - start;
        cfg->progress(cfg->user, done, total ? done : 0);
    }
    free(buf);
    return rc;
}
