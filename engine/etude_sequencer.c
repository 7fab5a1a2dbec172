/* etude_sequencer.c - the lookahead clock: expands sources' material into the event table a
 * lookahead window ahead of the audio, through a piecewise mapping from engine frames to material
 * positions (one piece per start, locate or loop pass). */
#include "etude_sequencer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SEQ_MAX_VOICES 16 /* voices remembered per source for ALL_NOTES_OFF */

typedef struct seq_source {
    uint32_t id; /* also the tag of every event it schedules */
    const etude_source_class_t *cls;
    void *self;
    etude_voice_id_t voice;
    bool removed; /* self destroyed; the record stays until its ALL_NOTES_OFF is sent */
    /* Expansion progress in the current segment: every event before next is scheduled, and the
     * first skip events at next too (a full table can stop a source between equal positions). */
    uint64_t next;
    uint32_t skip;
    /* Voices its events went to, for ALL_NOTES_OFF. */
    etude_voice_id_t voices[SEQ_MAX_VOICES];
    uint32_t nvoices;
    /* An ALL_NOTES_OFF still to be scheduled at aoff_frame, from voices[aoff_next] on. */
    bool aoff_pending;
    uint32_t aoff_next;
    uint64_t aoff_frame;
} seq_source_t;

/* One piece of the mapping: from engine frame `frame` on, position = pos + (f - frame). */
typedef struct seq_seg {
    uint64_t frame;
    uint64_t pos;
    bool jump; /* starts a new loop pass */
} seq_seg_t;

struct etude_sequencer {
    etude_engine_t *engine;
    uint32_t lookahead;
    seq_source_t **src;
    size_t nsrc, srccap;
    bool rolling;
    uint64_t stop_pos;
    uint64_t loop_a, loop_b; /* loop_b == 0: no loop */
    uint64_t loops;
    /* While rolling: segments by frame; segs[0] covers etude_engine_now() (or lies ahead of it
     * after a delayed start); the last one is where expansion goes on. */
    seq_seg_t *segs;
    size_t nsegs, segcap;
};

static atomic_uint_fast32_t next_source_id = 1; /* process-wide, so tags differ between sequencers */

int etude_sequencer_create(etude_engine_t *engine, uint32_t lookahead_frames, etude_sequencer_t **out)
{
    if (!engine || !out || lookahead_frames == 0)
        return ETUDE_EINVAL;
    etude_sequencer_t *seq = calloc(1, sizeof *seq);
    if (!seq)
        return ETUDE_ENOMEM;
    seq->segcap = 8;
    seq->segs = calloc(seq->segcap, sizeof *seq->segs);
    if (!seq->segs) {
        free(seq);
        return ETUDE_ENOMEM;
    }
    seq->engine = engine;
    seq->lookahead = lookahead_frames;
    *out = seq;
    return ETUDE_OK;
}

static void remember_voice(seq_source_t *s, etude_voice_id_t v)
{
    if (!v)
        return;
    for (uint32_t i = 0; i < s->nvoices; i++)
        if (s->voices[i] == v)
            return;
    if (s->nvoices < SEQ_MAX_VOICES)
        s->voices[s->nvoices++] = v;
}

/* Schedules the pending ALL_NOTES_OFF of every source. ETUDE_EFULL leaves the rest pending. */
static int flush_notes_off(etude_sequencer_t *seq)
{
    uint64_t now = etude_engine_now(seq->engine);
    for (size_t i = 0; i < seq->nsrc; i++) {
        seq_source_t *s = seq->src[i];
        if (!s->aoff_pending)
            continue;
        for (; s->aoff_next < s->nvoices; s->aoff_next++) {
            etude_event_t ev;
            memset(&ev, 0, sizeof ev);
            ev.frame = s->aoff_frame > now ? s->aoff_frame : now;
            ev.voice = s->voices[s->aoff_next];
            ev.kind = ETUDE_EV_ALL_NOTES_OFF;
            ev.tag = s->id;
            int rc = etude_event_schedule(seq->engine, &ev, NULL);
            if (rc == ETUDE_EFULL)
                return rc;
            /* ETUDE_ESTALE / ETUDE_EDISPOSED: the voice is gone, nothing left to silence. */
        }
        s->aoff_pending = false;
        s->aoff_next = 0;
    }
    return ETUDE_OK;
}

static void request_notes_off(seq_source_t *s, uint64_t frame)
{
    s->aoff_pending = true;
    s->aoff_next = 0;
    s->aoff_frame = frame;
}

/* Cancels everything the sources scheduled ahead, including notes-off not yet sent. A removed
 * source has nothing ahead but its final notes-off, which stays. */
static void cancel_ahead(etude_sequencer_t *seq)
{
    for (size_t i = 0; i < seq->nsrc; i++) {
        if (seq->src[i]->removed)
            continue;
        etude_event_cancel_tag(seq->engine, seq->src[i]->id, NULL);
        seq->src[i]->aoff_pending = false;
    }
}

static void source_free(seq_source_t *s)
{
    if (!s->removed && s->cls->destroy)
        s->cls->destroy(s->self);
    free(s);
}

static void purge_removed(etude_sequencer_t *seq)
{
    size_t k = 0;
    for (size_t i = 0; i < seq->nsrc; i++) {
        seq_source_t *s = seq->src[i];
        if (s->removed && !s->aoff_pending)
            free(s);
        else
            seq->src[k++] = s;
    }
    seq->nsrc = k;
}

static int push_seg(etude_sequencer_t *seq, uint64_t frame, uint64_t pos, bool jump)
{
    if (seq->nsegs == seq->segcap) {
        seq_seg_t *n = realloc(seq->segs, 2 * seq->segcap * sizeof *n);
        if (!n)
            return ETUDE_ENOMEM;
        seq->segs = n;
        seq->segcap *= 2;
    }
    seq->segs[seq->nsegs++] = (seq_seg_t){frame, pos, jump};
    return ETUDE_OK;
}

/* Drops the segments the audio has left behind, counting loop passes it completed. */
static void advance(etude_sequencer_t *seq, uint64_t now)
{
    size_t k = 0;
    while (k + 1 < seq->nsegs && seq->segs[k + 1].frame <= now) {
        if (seq->segs[k + 1].jump)
            seq->loops++;
        k++;
    }
    if (k) {
        memmove(seq->segs, seq->segs + k, (seq->nsegs - k) * sizeof *seq->segs);
        seq->nsegs -= k;
    }
}

static uint64_t position_at(const etude_sequencer_t *seq, uint64_t frame)
{
    if (!seq->rolling || seq->nsegs == 0)
        return seq->stop_pos;
    const seq_seg_t *g = &seq->segs[0];
    for (size_t i = 1; i < seq->nsegs && seq->segs[i].frame <= frame; i++)
        g = &seq->segs[i];
    return frame > g->frame ? g->pos + (frame - g->frame) : g->pos;
}

/* Restarts the plan at (frame, pos): one segment, every source expanding from pos. */
static void replan(etude_sequencer_t *seq, uint64_t frame, uint64_t pos)
{
    seq->nsegs = 0;
    push_seg(seq, frame, pos, false); /* cannot fail: segcap >= 1 */
    for (size_t i = 0; i < seq->nsrc; i++) {
        seq->src[i]->next = pos;
        seq->src[i]->skip = 0;
    }
}

typedef struct emit_ctx {
    etude_sequencer_t *seq;
    seq_source_t *src;
    const seq_seg_t *seg;
    uint64_t from, to;
    uint32_t skip;     /* events at `from` already scheduled by an earlier, interrupted expand */
    uint64_t cur_pos;  /* position of the last event seen, and how many were seen there */
    uint32_t cur_count;
    bool have_cur;
    bool full;
} emit_ctx_t;

static int emit(void *ctx, uint64_t pos, const etude_event_t *ev)
{
    emit_ctx_t *c = ctx;
    if (!ev || pos < c->from || pos >= c->to)
        return ETUDE_EINVAL;
    if (!c->have_cur || pos != c->cur_pos) {
        if (c->have_cur && pos < c->cur_pos)
            return ETUDE_EINVAL; /* sources emit in position order */
        c->have_cur = true;
        c->cur_pos = pos;
        c->cur_count = 0;
    }
    if (pos == c->from && c->cur_count < c->skip) {
        c->cur_count++;
        return ETUDE_OK;
    }
    etude_event_t e = *ev;
    e.frame = c->seg->frame + (pos - c->seg->pos);
    if (!e.voice)
        e.voice = c->src->voice;
    e.tag = c->src->id;
    int rc = etude_event_schedule(c->seq->engine, &e, NULL);
    if (rc == ETUDE_EFULL) {
        c->full = true;
        return rc;
    }
    if (rc == ETUDE_ESTALE || rc == ETUDE_EDISPOSED) {
        /* The target voice went away: the event has nowhere to go (the engine would drop it too). */
        c->cur_count++;
        return ETUDE_OK;
    }
    if (rc < 0)
        return rc;
    remember_voice(c->src, e.voice);
    c->cur_count++;
    return ETUDE_OK;
}

static int expand_source(etude_sequencer_t *seq, seq_source_t *s, const seq_seg_t *seg, uint64_t to)
{
    if (s->removed || s->next >= to)
        return ETUDE_OK;
    emit_ctx_t c = {.seq = seq, .src = s, .seg = seg, .from = s->next, .to = to, .skip = s->skip};
    int rc = s->cls->expand(s->self, s->next, to, emit, &c);
    if (c.full) {
        /* Resume exactly here next tick: nothing before cur_pos is missing, and cur_count events
         * at cur_pos are already in the table. */
        s->next = c.cur_pos;
        s->skip = c.cur_count;
        return ETUDE_EFULL;
    }
    if (rc < 0)
        return rc;
    s->next = to;
    s->skip = 0;
    return ETUDE_OK;
}

int etude_sequencer_tick(etude_sequencer_t *seq)
{
    if (!seq)
        return ETUDE_EINVAL;
    uint64_t now = etude_engine_now(seq->engine);
    int rc = flush_notes_off(seq);
    purge_removed(seq);
    if (rc < 0 || !seq->rolling)
        return rc;
    advance(seq, now);
    uint64_t target_frame = now + seq->lookahead;
    for (;;) {
        seq_seg_t seg = seq->segs[seq->nsegs - 1];
        if (target_frame <= seg.frame)
            return ETUDE_OK;
        uint64_t end = (seq->loop_b && seg.pos < seq->loop_b) ? seq->loop_b : UINT64_MAX;
        uint64_t span = target_frame - seg.frame;
        uint64_t to = end - seg.pos > span ? seg.pos + span : end;
        for (size_t i = 0; i < seq->nsrc; i++) {
            rc = expand_source(seq, seq->src[i], &seg, to);
            if (rc < 0)
                return rc;
        }
        if (to != end || end == UINT64_MAX)
            return ETUDE_OK;
        /* Every source reached the loop end inside the window: plan the jump. Notes still sounding
         * at the jump are silenced there, before the next pass's first events (same frame, earlier
         * schedule order). */
        uint64_t jump = seg.frame + (end - seg.pos);
        for (size_t i = 0; i < seq->nsrc; i++) {
            if (!seq->src[i]->removed)
                request_notes_off(seq->src[i], jump);
            seq->src[i]->next = seq->loop_a;
            seq->src[i]->skip = 0;
        }
        rc = push_seg(seq, jump, seq->loop_a, true);
        if (rc < 0)
            return rc;
        rc = flush_notes_off(seq);
        if (rc < 0)
            return rc;
    }
}

/* A tick after a transport change: a full table is not the change's failure, the rest follows on
 * the next tick. */
static int tick_soft(etude_sequencer_t *seq)
{
    int rc = etude_sequencer_tick(seq);
    return rc == ETUDE_EFULL ? ETUDE_OK : rc;
}

void etude_sequencer_destroy(etude_sequencer_t *seq)
{
    if (!seq)
        return;
    etude_sequencer_stop(seq);
    for (size_t i = 0; i < seq->nsrc; i++)
        source_free(seq->src[i]);
    free(seq->src);
    free(seq->segs);
    free(seq);
}

int etude_sequencer_add_source(etude_sequencer_t *seq, const etude_source_class_t *cls, void *self,
                               etude_voice_id_t voice, uint32_t *id)
{
    if (!seq || !cls || !cls->expand)
        return ETUDE_EINVAL;
    if (seq->nsrc == seq->srccap) {
        size_t cap = seq->srccap ? 2 * seq->srccap : 4;
        seq_source_t **n = realloc(seq->src, cap * sizeof *n);
        if (!n)
            return ETUDE_ENOMEM;
        seq->src = n;
        seq->srccap = cap;
    }
    seq_source_t *s = calloc(1, sizeof *s);
    if (!s)
        return ETUDE_ENOMEM;
    uint32_t sid;
    do
        sid = (uint32_t)atomic_fetch_add(&next_source_id, 1);
    while (sid == 0);
    s->id = sid;
    s->cls = cls;
    s->self = self;
    s->voice = voice;
    remember_voice(s, voice);
    if (seq->rolling) {
        /* Joins the plan where the audio is: from the current segment's position at now. */
        uint64_t now = etude_engine_now(seq->engine);
        advance(seq, now);
        seq_seg_t *last = &seq->segs[seq->nsegs - 1];
        /* When a loop jump is planned ahead, last starts after now: the source joins at the jump. */
        s->next = now > last->frame ? last->pos + (now - last->frame) : last->pos;
    } else {
        s->next = seq->stop_pos;
    }
    seq->src[seq->nsrc++] = s;
    if (id)
        *id = sid;
    return ETUDE_OK;
}

int etude_sequencer_remove_source(etude_sequencer_t *seq, uint32_t id)
{
    if (!seq)
        return ETUDE_EINVAL;
    for (size_t i = 0; i < seq->nsrc; i++) {
        seq_source_t *s = seq->src[i];
        if (s->id != id || s->removed)
            continue;
        etude_event_cancel_tag(seq->engine, s->id, NULL);
        if (s->cls->destroy)
            s->cls->destroy(s->self);
        s->self = NULL;
        s->removed = true;
        request_notes_off(s, etude_engine_now(seq->engine));
        flush_notes_off(seq); /* on ETUDE_EFULL the record waits for the next tick */
        purge_removed(seq);
        return ETUDE_OK;
    }
    return ETUDE_EINVAL;
}

int etude_sequencer_start(etude_sequencer_t *seq, uint64_t at_frame)
{
    if (!seq)
        return ETUDE_EINVAL;
    if (seq->rolling)
        return ETUDE_ESTATE;
    uint64_t now = etude_engine_now(seq->engine);
    seq->rolling = true;
    replan(seq, at_frame > now ? at_frame : now, seq->stop_pos);
    return tick_soft(seq);
}

int etude_sequencer_stop(etude_sequencer_t *seq)
{
    if (!seq)
        return ETUDE_EINVAL;
    if (!seq->rolling)
        return ETUDE_OK;
    uint64_t now = etude_engine_now(seq->engine);
    advance(seq, now);
    seq->stop_pos = position_at(seq, now);
    seq->rolling = false;
    seq->nsegs = 0;
    cancel_ahead(seq);
    for (size_t i = 0; i < seq->nsrc; i++)
        request_notes_off(seq->src[i], now);
    int rc = flush_notes_off(seq);
    return rc == ETUDE_EFULL ? ETUDE_OK : rc; /* the rest goes out with the next tick */
}

/* Cancels the plan ahead and expands again from `pos` at now (or at the delayed start). */
static int restart_at(etude_sequencer_t *seq, bool pos_given, uint64_t pos, bool notes_off)
{
    uint64_t now = etude_engine_now(seq->engine);
    advance(seq, now);
    uint64_t frame = seq->segs[0].frame > now ? seq->segs[0].frame : now;
    if (!pos_given)
        pos = position_at(seq, now);
    cancel_ahead(seq);
    if (notes_off)
        for (size_t i = 0; i < seq->nsrc; i++)
            if (!seq->src[i]->removed)
                request_notes_off(seq->src[i], now);
    replan(seq, frame, pos);
    return tick_soft(seq);
}

int etude_sequencer_locate(etude_sequencer_t *seq, uint64_t pos)
{
    if (!seq)
        return ETUDE_EINVAL;
    if (!seq->rolling) {
        seq->stop_pos = pos;
        return ETUDE_OK;
    }
    return restart_at(seq, true, pos, true);
}

int etude_sequencer_set_loop(etude_sequencer_t *seq, uint64_t a, uint64_t b)
{
    if (!seq || (b != 0 && a >= b))
        return ETUDE_EINVAL;
    seq->loop_a = b ? a : 0;
    seq->loop_b = b;
    if (!seq->rolling)
        return ETUDE_OK;
    /* Notes sounding now keep sounding: their note-offs are expanded again from now. */
    return restart_at(seq, false, 0, false);
}

uint64_t etude_sequencer_loops(etude_sequencer_t *seq)
{
    if (!seq)
        return 0;
    if (seq->rolling)
        advance(seq, etude_engine_now(seq->engine));
    return seq->loops;
}

int etude_sequencer_invalidate(etude_sequencer_t *seq)
{
    if (!seq)
        return ETUDE_EINVAL;
    if (!seq->rolling)
        return ETUDE_OK;
    return restart_at(seq, false, 0, true);
}

bool etude_sequencer_rolling(const etude_sequencer_t *seq)
{
    return seq && seq->rolling;
}

uint64_t etude_sequencer_position(const etude_sequencer_t *seq)
{
    if (!seq)
        return 0;
    return position_at(seq, etude_engine_now(seq->engine));
}

uint64_t etude_sequencer_length(const etude_sequencer_t *seq)
{
    if (!seq)
        return 0;
    uint64_t len = 0;
    for (size_t i = 0; i < seq->nsrc; i++) {
        const seq_source_t *s = seq->src[i];
        if (s->removed)
            continue;
        uint64_t l = s->cls->length ? s->cls->length(s->self) : UINT64_MAX;
        if (l > len)
            len = l;
    }
    return len;
}

bool etude_sequencer_finished(const etude_sequencer_t *seq)
{
    if (!seq || !seq->rolling)
        return false;
    uint64_t pos = etude_sequencer_position(seq);
    if (seq->loop_b && pos < seq->loop_b)
        return false;
    uint64_t len = etude_sequencer_length(seq);
    return len != UINT64_MAX && pos >= len;
}
