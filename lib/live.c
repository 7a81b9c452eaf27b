/* live: see live.h. The holder keeps one reference on the snapshot in force; pinning
 * reads the pointer and counts the new reference under the same lock, so a replace that
 * drops the holder's reference can never free a snapshot between the two. */
#include "live.h"

#include <stdlib.h>
#include <string.h>

struct sf_live {
    struct sf_mutex lock;
    struct sf_snap *cur; /* (L) with the holder's reference */
};

struct sf_snap *sf_snap_new(struct sf_config *cfg)
{
    struct sf_snap *s = sf_xcalloc(1, sizeof *s);
    atomic_init(&s->_refs, 1);
    s->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    return s;
}

struct sf_live *sf_live_new(struct sf_config *cfg)
{
    struct sf_live *live = sf_xcalloc(1, sizeof *live);
    sf_mutex_init(&live->lock);
    live->cur = sf_snap_new(cfg);
    live->cur->gen = 1;
    return live;
}

struct sf_snap *sf_live_pin(struct sf_live *live)
{
    sf_mutex_lock(&live->lock);
    struct sf_snap *s = sf_snap_ref(live->cur);
    sf_mutex_unlock(&live->lock);
    return s;
}

struct sf_snap *sf_snap_ref(struct sf_snap *s)
{
    atomic_fetch_add_explicit(&s->_refs, 1, memory_order_relaxed);
    return s;
}

void sf_snap_unref(struct sf_snap *s)
{
    if (s == NULL || atomic_fetch_sub_explicit(&s->_refs, 1, memory_order_acq_rel) != 1)
        return;
    sf_config_clear(&s->cfg);
    free(s);
}

unsigned sf_live_replace(struct sf_live *live, struct sf_snap **snap)
{
    sf_mutex_lock(&live->lock);
    struct sf_snap *old = live->cur;
    live->cur = *snap;
    *snap = NULL;
    live->cur->gen = old->gen + 1; /* no other thread has seen the new one yet */
    unsigned gen = live->cur->gen;
    sf_mutex_unlock(&live->lock);
    sf_snap_unref(old);
    return gen;
}

void sf_live_free(struct sf_live *live)
{
    if (live == NULL)
        return;
    sf_snap_unref(live->cur);
    sf_mutex_destroy(&live->lock);
    free(live);
}
