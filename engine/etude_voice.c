/* etude_voice.c - the voice pool: control-side lifecycle (add, dispose, mix parameters, reaping
 * released voices) and the audio side's activation, fade, render and mix (see docs/engine.md,
 * "Voices"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "etude_engine_internal.h"

int vp_init(etude_engine_t *e)
{
    e->vs = calloc(e->v_cap, sizeof *e->vs);
    e->rt_list = calloc(e->v_cap, sizeof *e->rt_list);
    e->fade_tab = calloc(e->cfg.fade_frames, sizeof *e->fade_tab);
    if (!e->vs || !e->rt_list || !e->fade_tab)
        return ETUDE_ENOMEM;
    for (uint32_t i = 0; i < e->v_cap; i++) {
        struct voice_slot *v = &e->vs[i];
        atomic_init(&v->state, sw_make(1, ETUDE_VOICE_FREE));
        v->buf[0] = calloc((size_t)e->cfg.max_period * 2, sizeof(float));
        if (!v->buf[0])
            return ETUDE_ENOMEM;
        v->buf[1] = v->buf[0] + e->cfg.max_period;
    }
    /* Raised cosine from just under 1 to exactly 0 at the last frame. */
    uint32_t f = e->cfg.fade_frames;
    for (uint32_t k = 0; k < f; k++)
        e->fade_tab[k] = (float)(0.5 * (1.0 + cos(M_PI * (double)(k + 1) / (double)f)));
    e->fade_tab[f - 1] = 0.0f;
    return ETUDE_OK;
}

void vp_fini(etude_engine_t *e)
{
    if (e->vs) {
        for (uint32_t i = 0; i < e->v_cap; i++) {
            struct voice_slot *v = &e->vs[i];
            uint64_t w = atomic_load(&v->state);
            if (SW_ST(w) != ETUDE_VOICE_FREE && v->cls && v->cls->dispose)
                v->cls->dispose(v->self);
            free(v->buf[0]);
        }
    }
    free(e->vs);
    free(e->rt_list);
    free(e->fade_tab);
}

/* ------------------------------------------------------------------------------------------ */
/* control side */

static void push_cmd_locked(etude_engine_t *e, uint32_t type, uint32_t slot)
{
    struct cmd c = {type, slot};
    /* Cannot fail: at most two commands (activate, dispose) per voice slot are ever in flight. */
    bool ok = etude_ring_push(&e->cmd, &c);
    (void)ok;
}

int etude_voice_add(etude_engine_t *e, const etude_voice_class_t *cls, void *self, const char *name,
                    etude_voice_id_t *out)
{
    if (!e || !cls || !cls->render)
        return ETUDE_EINVAL;
    pthread_mutex_lock(&e->ctl_lock);
    uint32_t i;
    for (i = 0; i < e->v_cap; i++) {
        struct voice_slot *v = &e->vs[i];
        if (!v->claimed && SW_ST(atomic_load(&v->state)) == ETUDE_VOICE_FREE)
            break;
    }
    if (i == e->v_cap) {
        pthread_mutex_unlock(&e->ctl_lock);
        return ETUDE_EFULL;
    }
    struct voice_slot *v = &e->vs[i];
    v->claimed = 1;
    pthread_mutex_unlock(&e->ctl_lock);

    /* prepare may load files for a long time: it runs without the lock, the slot is claimed. */
    int r = cls->prepare ? cls->prepare(self, e->cfg.sample_rate, e->cfg.max_period) : 0;
    pthread_mutex_lock(&e->ctl_lock);
    if (r < 0) {
        v->claimed = 0;
        pthread_mutex_unlock(&e->ctl_lock);
        return r;
    }
    v->cls = cls;
    v->self = self;
    snprintf(v->name, sizeof v->name, "%s", name ? name : "");
    atomic_store(&v->gain_bits, float_bits(1.0f));
    atomic_store(&v->pan_bits, float_bits(0.0f));
    atomic_store(&v->mute, 0);
    atomic_store(&v->solo, 0);
    uint32_t gen = SW_GEN(atomic_load(&v->state));
    atomic_store_explicit(&v->state, sw_make(gen, ETUDE_VOICE_PREPARED), memory_order_release);
    v->claimed = 0;
    atomic_fetch_add(&e->v_in_use, 1);
    push_cmd_locked(e, CMD_ACTIVATE, i);
    char nm[64];
    memcpy(nm, v->name, sizeof nm);
    pthread_mutex_unlock(&e->ctl_lock);
    if (out)
        *out = ((uint64_t)gen << 32) | i;
    nt_voice(e, "added", nm, cls->kind, NULL);
    return ETUDE_OK;
}

int etude_voice_dispose(etude_engine_t *e, etude_voice_id_t id)
{
    struct voice_slot *v;
    if (!e)
        return ETUDE_EINVAL;
    pthread_mutex_lock(&e->ctl_lock);
    int r = vp_live(e, id, &v);
    if (r) {
        pthread_mutex_unlock(&e->ctl_lock);
        return r;
    }
    uint64_t w = atomic_load(&v->state);
    for (;;) {
        uint32_t st = SW_ST(w);
        if (SW_GEN(w) != ETUDE_ID_GEN(id) || (st != ETUDE_VOICE_PREPARED && st != ETUDE_VOICE_ACTIVE)) {
            pthread_mutex_unlock(&e->ctl_lock);
            return st == ETUDE_VOICE_DISPOSING ? ETUDE_EDISPOSED : ETUDE_ESTALE;
        }
        /* CAS: the audio thread may be moving PREPARED -> ACTIVE at the same time. */
        if (atomic_compare_exchange_weak(&v->state, &w, sw_make(SW_GEN(w), ETUDE_VOICE_DISPOSING)))
            break;
    }
    push_cmd_locked(e, CMD_DISPOSE, ETUDE_ID_SLOT(id));
    pthread_mutex_unlock(&e->ctl_lock);
    /* Events scheduled after this point are refused (EDISPOSED); one whose schedule raced this
     * (checked the voice before the CAS above, published after the scan below passed its slot) is
     * dropped when the audio side takes it in. */
    etude_event_cancel_voice(e, id, NULL);
    return ETUDE_OK;
}

static int set_param(etude_engine_t *e, etude_voice_id_t id, int which, float f, int b)
{
    struct voice_slot *v;
    if (!e)
        return ETUDE_EINVAL;
    /* Under the lock: tick() cannot free the slot (and add() reuse it) between check and store. */
    pthread_mutex_lock(&e->ctl_lock);
    int r = vp_live(e, id, &v);
    if (r) {
        pthread_mutex_unlock(&e->ctl_lock);
        return r;
    }
    char val[48];
    switch (which) {
    case 0:
        atomic_store(&v->gain_bits, float_bits(f));
        snprintf(val, sizeof val, "%.6g", (double)f);
        break;
    case 1:
        atomic_store(&v->pan_bits, float_bits(f));
        snprintf(val, sizeof val, "%.6g", (double)f);
        break;
    case 2:
        atomic_store(&v->mute, b);
        snprintf(val, sizeof val, "%s", b ? "true" : "false");
        break;
    default:
        atomic_store(&v->solo, b);
        snprintf(val, sizeof val, "%s", b ? "true" : "false");
        break;
    }
    char nm[64], kind[64];
    memcpy(nm, v->name, sizeof nm);
    snprintf(kind, sizeof kind, "%s", v->cls && v->cls->kind ? v->cls->kind : "");
    pthread_mutex_unlock(&e->ctl_lock);
    static const char *names[] = {"gain", "pan", "mute", "solo"};
    nt_voice(e, names[which], nm, kind, val);
    return ETUDE_OK;
}

int etude_voice_set_gain(etude_engine_t *e, etude_voice_id_t voice, float gain)
{
    if (!(gain >= 0.0f) || !isfinite(gain))
        return ETUDE_EINVAL;
    return set_param(e, voice, 0, gain, 0);
}

int etude_voice_set_pan(etude_engine_t *e, etude_voice_id_t voice, float pan)
{
    if (!(pan >= -1.0f && pan <= 1.0f))
        return ETUDE_EINVAL;
    return set_param(e, voice, 1, pan, 0);
}

int etude_voice_set_mute(etude_engine_t *e, etude_voice_id_t voice, bool mute)
{
    return set_param(e, voice, 2, 0.0f, mute);
}

int etude_voice_set_solo(etude_engine_t *e, etude_voice_id_t voice, bool solo)
{
    return set_param(e, voice, 3, 0.0f, solo);
}

int etude_voice_info(const etude_engine_t *ce, etude_voice_id_t id, etude_voice_info_t *out)
{
    etude_engine_t *e = (etude_engine_t *)ce;
    struct voice_slot *v;
    uint32_t st;
    if (!e || !out)
        return ETUDE_EINVAL;
    pthread_mutex_lock(&e->ctl_lock);
    int r = vp_lookup(e, id, &v, &st);
    if (r == 0) {
        memset(out, 0, sizeof *out);
        out->id = id;
        out->slot = ETUDE_ID_SLOT(id);
        out->state = (int)st;
        memcpy(out->name, v->name, sizeof out->name);
        out->kind = v->cls ? v->cls->kind : NULL;
        out->gain = bits_float(atomic_load(&v->gain_bits));
        out->pan = bits_float(atomic_load(&v->pan_bits));
        out->mute = atomic_load(&v->mute) != 0;
        out->solo = atomic_load(&v->solo) != 0;
        out->self = v->self;
    }
    pthread_mutex_unlock(&e->ctl_lock);
    return r;
}

size_t etude_engine_voices(const etude_engine_t *ce, etude_voice_id_t *out, size_t max)
{
    etude_engine_t *e = (etude_engine_t *)ce;
    size_t n = 0;
    if (!e)
        return 0;
    pthread_mutex_lock(&e->ctl_lock);
    for (uint32_t i = 0; i < e->v_cap; i++) {
        uint64_t w = atomic_load(&e->vs[i].state);
        uint32_t st = SW_ST(w);
        if (st != ETUDE_VOICE_PREPARED && st != ETUDE_VOICE_ACTIVE)
            continue;
        if (out && n < max)
            out[n] = ((uint64_t)SW_GEN(w) << 32) | i;
        n++;
    }
    pthread_mutex_unlock(&e->ctl_lock);
    return n;
}

int vp_reap(etude_engine_t *e)
{
    int freed = 0;
    uint32_t slot;
    while (etude_ring_pop(&e->released, &slot)) {
        struct voice_slot *v = &e->vs[slot];
        pthread_mutex_lock(&e->ctl_lock);
        const etude_voice_class_t *cls = v->cls;
        void *self = v->self;
        char nm[64], kind[64];
        memcpy(nm, v->name, sizeof nm);
        snprintf(kind, sizeof kind, "%s", cls->kind ? cls->kind : "");
        pthread_mutex_unlock(&e->ctl_lock);
        if (cls->dispose)
            cls->dispose(self);
        pthread_mutex_lock(&e->ctl_lock);
        uint64_t w = atomic_load(&v->state);
        v->cls = NULL;
        v->self = NULL;
        v->name[0] = 0;
        atomic_store_explicit(&v->state, sw_make(gen_next(SW_GEN(w)), ETUDE_VOICE_FREE),
                              memory_order_release);
        atomic_fetch_sub(&e->v_in_use, 1);
        pthread_mutex_unlock(&e->ctl_lock);
        nt_voice(e, "disposed", nm, kind, NULL);
        freed++;
    }
    return freed;
}

/* ------------------------------------------------------------------------------------------ */
/* audio side */

static bool any_solo(etude_engine_t *e)
{
    for (uint32_t k = 0; k < e->rt_list_n; k++)
        if (atomic_load_explicit(&e->vs[e->rt_list[k]].solo, memory_order_relaxed))
            return true;
    return false;
}

static float gate_of(struct voice_slot *v, bool solo_any)
{
    if (atomic_load_explicit(&v->mute, memory_order_relaxed))
        return 0.0f;
    if (solo_any && !atomic_load_explicit(&v->solo, memory_order_relaxed))
        return 0.0f;
    return 1.0f;
}

static void rt_list_remove(etude_engine_t *e, struct voice_slot *v)
{
    uint32_t pos = (uint32_t)v->rt_list_pos;
    uint32_t last = e->rt_list[--e->rt_list_n];
    e->rt_list[pos] = last;
    e->vs[last].rt_list_pos = (int)pos;
}

static void voice_released(etude_engine_t *e, uint32_t slot)
{
    struct voice_slot *v = &e->vs[slot];
    uint64_t w = atomic_load_explicit(&v->state, memory_order_relaxed);
    atomic_store_explicit(&v->state, sw_make(SW_GEN(w), ETUDE_VOICE_RELEASED), memory_order_release);
    /* Cannot fail: each slot is in this ring at most once. */
    bool ok = etude_ring_push(&e->released, &slot);
    (void)ok;
}

void vp_rt_commands(etude_engine_t *e)
{
    struct cmd c;
    bool activated = false;
    while (etude_ring_pop(&e->cmd, &c)) {
        struct voice_slot *v = &e->vs[c.slot];
        if (c.type == CMD_ACTIVATE) {
            bool solo_any = any_solo(e);
            activated = true;
            v->rt_new = 1;
            v->rt_on = 1;
            v->rt_fading = 0;
            v->rt_live = 1;
            v->rt_fade_pos = 0;
            v->rt_gain = bits_float(atomic_load_explicit(&v->gain_bits, memory_order_relaxed));
            v->rt_pan = bits_float(atomic_load_explicit(&v->pan_bits, memory_order_relaxed));
            v->rt_gate = gate_of(v, solo_any);
            v->rt_list_pos = (int)e->rt_list_n;
            e->rt_list[e->rt_list_n++] = c.slot;
            uint64_t w = atomic_load_explicit(&v->state, memory_order_acquire);
            if (SW_ST(w) == ETUDE_VOICE_PREPARED)
                atomic_compare_exchange_strong(&v->state, &w, sw_make(SW_GEN(w), ETUDE_VOICE_ACTIVE));
            atomic_fetch_add_explicit(&e->v_active, 1, memory_order_relaxed);
        } else if (c.type == CMD_DISPOSE) {
            if (v->rt_on && !v->rt_fading) {
                v->rt_fading = 1;
                v->rt_live = 0;
                v->rt_fade_pos = 0;
                if (v->cls->release)
                    v->cls->release(v->self);
            }
        }
    }
    if (!activated)
        return;
    /* A voice activated in the same batch as a soloed one must start silent, not fade out over its
     * first period: settle the new voices' gates once every activation of the batch is known. */
    bool solo_any = any_solo(e);
    for (uint32_t k = 0; k < e->rt_list_n; k++) {
        struct voice_slot *v = &e->vs[e->rt_list[k]];
        if (v->rt_new) {
            v->rt_gate = gate_of(v, solo_any);
            v->rt_new = 0;
        }
    }
}

/* Zero every rendering voice's buffers for the chunk (once: render() adds into them). */
void vp_rt_clear(etude_engine_t *e, uint32_t n)
{
    for (uint32_t k = 0; k < e->rt_list_n; k++) {
        struct voice_slot *v = &e->vs[e->rt_list[k]];
        memset(v->buf[0], 0, n * sizeof(float));
        memset(v->buf[1], 0, n * sizeof(float));
    }
}

void vp_rt_render(etude_engine_t *e, uint32_t a, uint32_t b, uint64_t start)
{
    e->rt_frame = start + a;
    for (uint32_t k = 0; k < e->rt_list_n; k++) {
        struct voice_slot *v = &e->vs[e->rt_list[k]];
        float *out[2] = {v->buf[0] + a, v->buf[1] + a};
        v->cls->render(v->self, out, b - a);
    }
}

/* Whether a voice's chunk is all zeros (either sign): adding it would leave the mix as it is (the
 * mix starts at +0 and sums of finite values never make it -0). One pass of loads and ORs. */
static bool steady_silent(const float *L, const float *R, uint32_t n)
{
    uint32_t acc = 0;
    for (int c = 0; c < (L == R ? 1 : 2); c++) {
        const float *x = c ? R : L;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t a;
            memcpy(&a, &x[i], sizeof a);
            acc |= a & 0x7fffffffu;
        }
    }
    return acc == 0;
}

/* Apply gain (smoothed over the chunk), the dispose fade, pan and mute/solo; sum into the mix. */
void vp_rt_mix(etude_engine_t *e, uint32_t n, float *const mix[2], float *const *voice_out, uint32_t off)
{
    bool solo_any = any_solo(e);
    float inv = 1.0f / (float)n;
    for (uint32_t k = 0; k < e->rt_list_n;) {
        uint32_t slot = e->rt_list[k];
        struct voice_slot *v = &e->vs[slot];
        float g0 = v->rt_gain, g1 = bits_float(atomic_load_explicit(&v->gain_bits, memory_order_relaxed));
        float p0 = v->rt_pan, p1 = bits_float(atomic_load_explicit(&v->pan_bits, memory_order_relaxed));
        float m0 = v->rt_gate, m1 = gate_of(v, solo_any);
        float *vo = voice_out ? voice_out[slot] : NULL;
        const float *L = v->buf[0], *R = v->cls->mono ? v->buf[0] : v->buf[1];
        float *ml = mix[0] + off, *mr = mix[1] + off;
        uint32_t fpos = v->rt_fade_pos, flen = e->cfg.fade_frames;
        if (!vo && !v->rt_fading && g0 == g1 && p0 == p1 && m0 == m1) {
            /* Steady gain, pan and gate: the per-frame values below are constants (x0 + 0 * t), so
             * they are computed once with the same operations, and the sums stay bit-identical.
             * A chunk the voice left silent adds only zeros to the mix and is skipped: a click
             * costs the mix only where it sounds. */
            if (steady_silent(L, R, n))
                goto mixed;
            float g = g0 + (g1 - g0), p = p0 + (p1 - p0), m = m0 + (m1 - m0);
            float pl = p > 0.0f ? 1.0f - p : 1.0f, pr = p < 0.0f ? 1.0f + p : 1.0f;
            for (uint32_t i = 0; i < n; i++) {
                float l = L[i] * g, r = R[i] * g;
                ml[i] += l * pl * m;
                mr[i] += r * pr * m;
            }
            goto mixed;
        }
        for (uint32_t i = 0; i < n; i++) {
            float t = (float)(i + 1) * inv;
            float g = g0 + (g1 - g0) * t;
            if (v->rt_fading)
                g *= fpos + i < flen ? e->fade_tab[fpos + i] : 0.0f;
            float p = p0 + (p1 - p0) * t;
            float m = m0 + (m1 - m0) * t;
            /* Linear balance: the centre passes both sides at unity. */
            float pl = p > 0.0f ? 1.0f - p : 1.0f, pr = p < 0.0f ? 1.0f + p : 1.0f;
            float l = L[i] * g, r = R[i] * g;
            if (vo)
                vo[off + i] = v->cls->mono ? l : 0.5f * (l + r);
            ml[i] += l * pl * m;
            mr[i] += r * pr * m;
        }
    mixed:
        v->rt_gain = g1;
        v->rt_pan = p1;
        v->rt_gate = m1;
        if (v->rt_fading) {
            v->rt_fade_pos = fpos + n;
            if (v->rt_fade_pos >= flen) {
                v->rt_on = 0;
                v->rt_live = 0;
                rt_list_remove(e, v);
                atomic_fetch_sub_explicit(&e->v_active, 1, memory_order_relaxed);
                voice_released(e, slot);
                continue; /* slot k now holds another voice */
            }
        }
        k++;
    }
}

/* Dispatch one event the audio thread has taken out of the wheel or the heap. One CAS takes the
 * slot from PENDING straight to FREE under the next generation: it decides a cancel racing this
 * dispatch exactly once (a later cancel with the old handle answers EDONE), and no producer can
 * reach the slot before slot_flush() puts it back on the free list, so the event stays readable
 * here until then. */
