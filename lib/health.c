/* health: see health.h. A server's health is three parts kept apart, and usable() reads
 * them in one place:
 *
 * - Probes (HAProxy's rise/fall): a run of like results counts toward a flip; an unlike one
 *   restarts the run. HAProxy documents rise and fall as consecutive checks, and that is
 *   what this counts (its implementation is a hysteresis counter, where one good check
 *   between failures only delays the fall: we do not copy that). A server starts up unless
 *   conf says otherwise: HAProxy's default, and starting down would refuse a fresh
 *   process's (or reload's) traffic for rise x interval while every server is fine.
 *
 * - Passive marking (nginx's max_fails/fail_timeout): the times of the last max_fails
 *   failures are kept in a ring, so "max_fails within fail_timeout" is a true sliding
 *   window: the max_fails-th failure marks the server down when the oldest of the last
 *   max_fails is younger than fail_timeout. It then stays down for fail_timeout from that
 *   failure, after which it is tried again on probation, as nginx does (its fail count is
 *   still at max_fails then): the first failure marks it down again at once, the first
 *   success clears it. A success always resets the count, and a success during a
 *   passive-down (a request tried anyway because every server was down) ends it: the server
 *   has just answered. A failure while passively down does not push the end back, so the
 *   all-down fallback cannot keep a server down for ever.
 *
 *   With probes configured, a passive-down also ends when rise good probes in a row follow
 *   the mark (HAProxy's observe + on-error mark-down: the checks bring it back), whichever
 *   comes first. A failing application behind a passing /healthz is then re-marked by its
 *   traffic on its next max_fails failures, and a server that was only restarting comes
 *   back as soon as the probes see it, not fail_timeout later. A server the probes take
 *   down and then bring up starts passive counting afresh.
 *
 * - Drain (the operator's): a flag beside health, never part of it; lifting it does not
 *   make a failing server usable.
 *
 * Every transition is found by the call that makes it and returned once as an event bit;
 * a passive-down's expiry is found by whichever call first sees its time pass (tick()
 * exists so that the prober finds it without traffic). Lifetime: new/free by the pool;
 * locking: the caller's (health.h). */
#include "health.h"

#include "base.h"

#include <stdlib.h>

#define SF_HEALTH_MAGIC 0x5f4ea17bu

struct sf_health {
    unsigned magic; /* SF_HEALTH_MAGIC */
    struct sf_health_conf conf;
    bool drained;
    bool probes_up;
    unsigned run;           /* like probe results in a row toward a flip of probes_up */
    bool passive_down;      /* until until_ms */
    uint64_t until_ms;      /* end of the passive-down */
    bool probation;         /* a passive-down ran out: the next failure re-marks */
    unsigned ok_since_mark; /* good probes in a row since the passive mark */
    struct sf_health_counters counters;
    unsigned nfails;     /* failure times held in fails_ms (at most conf.max_fails) */
    unsigned next;       /* where the next failure time goes; when full, the oldest */
    uint64_t fails_ms[]; /* conf.max_fails entries: a ring */
};

struct sf_health *sf_health_new(const struct sf_health_conf *conf)
{
    /* A validated config gives both counts or neither, and a window with max_fails. */
    SF_ASSERT((conf->rise == 0) == (conf->fall == 0));
    SF_ASSERT(!conf->start_down || conf->rise > 0);
    SF_ASSERT(conf->max_fails == 0 || conf->fail_timeout_ms > 0);
    struct sf_health *h =
        sf_xcalloc(1, sizeof *h + (size_t)conf->max_fails * sizeof h->fails_ms[0]);
    h->magic = SF_HEALTH_MAGIC;
    h->conf = *conf;
    h->probes_up = !conf->start_down;
    return h;
}

void sf_health_free(struct sf_health *h)
{
    if (h == NULL)
        return;
    SF_CHECK_OBJ(h, SF_HEALTH_MAGIC);
    h->magic = 0;
    free(h);
}

static unsigned passive_clear(struct sf_health *h)
{
    bool was_down = h->passive_down;
    h->passive_down = false;
    h->probation = false;
    h->nfails = 0;
    return was_down ? SF_HEALTH_EV_PASSIVE_UP : 0;
}

/* A passive-down whose time has come ends here, and the server goes on probation. */
static unsigned expire(struct sf_health *h, uint64_t now_ms)
{
    if (!h->passive_down || now_ms < h->until_ms)
        return 0;
    h->passive_down = false;
    h->probation = true;
    return SF_HEALTH_EV_PASSIVE_UP;
}

static unsigned finish(struct sf_health *h, unsigned ev)
{
    h->counters.transitions += (uint64_t)__builtin_popcount(ev);
    return ev;
}

unsigned sf_health_reconf(struct sf_health **hp, const struct sf_health_conf *conf)
{
    struct sf_health *h = *hp;
    SF_CHECK_OBJ(h, SF_HEALTH_MAGIC);
    SF_ASSERT((conf->rise == 0) == (conf->fall == 0));
    SF_ASSERT(conf->max_fails == 0 || conf->fail_timeout_ms > 0);
    unsigned ev = 0;
    if (conf->rise != h->conf.rise || conf->fall != h->conf.fall) {
        h->run = 0;
        h->ok_since_mark = 0;
        if (conf->rise == 0 && !h->probes_up) {
            h->probes_up = true; /* no probe will ever bring it back: as if none were made */
            ev |= SF_HEALTH_EV_PROBES_UP;
        }
    }
    if (conf->max_fails != h->conf.max_fails) {
        if (conf->max_fails == 0)
            ev |= passive_clear(h);
        /* The ring is sized by max_fails: the failures counted so far are forgotten. */
        h = sf_xrealloc(h, sizeof *h + (size_t)conf->max_fails * sizeof h->fails_ms[0]);
        h->nfails = 0;
        h->next = 0;
    }
    bool start_down = h->conf.start_down; /* only ever read by new */
    h->conf = *conf;
    h->conf.start_down = start_down;
    *hp = h;
    return finish(h, ev);
}

unsigned sf_health_probe(struct sf_health *h, bool ok, uint64_t now_ms)
{
    SF_CHECK_OBJ(h, SF_HEALTH_MAGIC);
    SF_ASSERT(h->conf.rise > 0); /* the pool probes only servers configured for it */
    unsigned ev = expire(h, now_ms);
    if (!ok) {
        h->counters.probes_failed++;
        h->ok_since_mark = 0;
        h->run = h->probes_up ? h->run + 1 : 0;
        if (h->probes_up && h->run >= h->conf.fall) {
            h->probes_up = false;
            h->run = 0;
            ev |= SF_HEALTH_EV_PROBES_DOWN;
        }
        return finish(h, ev);
    }
    h->counters.probes_ok++;
    if (h->passive_down && ++h->ok_since_mark >= h->conf.rise)
        ev |= passive_clear(h);
    h->run = h->probes_up ? 0 : h->run + 1;
    if (!h->probes_up && h->run >= h->conf.rise) {
        h->probes_up = true;
        h->run = 0;
        ev |= passive_clear(h);
        ev |= SF_HEALTH_EV_PROBES_UP;
    }
    return finish(h, ev);
}

unsigned sf_health_passive(struct sf_health *h, bool failed, uint64_t now_ms)
{
    SF_CHECK_OBJ(h, SF_HEALTH_MAGIC);
    unsigned ev = expire(h, now_ms);
    if (failed)
        h->counters.passive_failures++;
    if (h->conf.max_fails == 0)
        return finish(h, ev);
    if (!failed)
        return finish(h, ev | passive_clear(h));
    if (h->passive_down)
        return finish(h, ev);
    unsigned max = h->conf.max_fails;
    h->fails_ms[h->next] = now_ms;
    h->next = (h->next + 1) % max;
    if (h->nfails < max)
        h->nfails++;
    /* When the ring is full, next indexes its oldest time. */
    bool window = h->nfails == max && now_ms - h->fails_ms[h->next] < h->conf.fail_timeout_ms;
    if (window || h->probation) {
        h->passive_down = true;
        h->until_ms = now_ms + h->conf.fail_timeout_ms;
        h->probation = false;
        h->nfails = 0;
        h->ok_since_mark = 0;
        ev |= SF_HEALTH_EV_PASSIVE_DOWN;
    }
    return finish(h, ev);
}

unsigned sf_health_set_drain(struct sf_health *h, bool drain, uint64_t now_ms)
{
    SF_CHECK_OBJ(h, SF_HEALTH_MAGIC);
    unsigned ev = expire(h, now_ms);
    if (drain != h->drained) {
        h->drained = drain;
        ev |= drain ? SF_HEALTH_EV_DRAIN : SF_HEALTH_EV_UNDRAIN;
    }
    return finish(h, ev);
}

unsigned sf_health_tick(struct sf_health *h, uint64_t now_ms)
{
    SF_CHECK_OBJ(h, SF_HEALTH_MAGIC);
    return finish(h, expire(h, now_ms));
}

bool sf_health_usable(const struct sf_health *h, uint64_t now_ms, enum sf_health_why *why,
                      uint64_t *until_ms)
{
    SF_CHECK_OBJ(h, SF_HEALTH_MAGIC);
    enum sf_health_why w = SF_HEALTH_UP;
    if (h->drained)
        w = SF_HEALTH_DRAINED;
    else if (!h->probes_up)
        w = SF_HEALTH_DOWN_PROBES;
    else if (h->passive_down && now_ms < h->until_ms)
        w = SF_HEALTH_DOWN_PASSIVE;
    if (why != NULL)
        *why = w;
    if (until_ms != NULL && w == SF_HEALTH_DOWN_PASSIVE)
        *until_ms = h->until_ms;
    return w == SF_HEALTH_UP;
}

struct sf_health_counters sf_health_counters(const struct sf_health *h)
{
    SF_CHECK_OBJ(h, SF_HEALTH_MAGIC);
    return h->counters;
}

const char *sf_health_why_name(enum sf_health_why why)
{
    switch (why) {
    case SF_HEALTH_UP: return "up";
    case SF_HEALTH_DRAINED: return "drained";
    case SF_HEALTH_DOWN_PROBES: return "down (probes)";
    case SF_HEALTH_DOWN_PASSIVE: return "down (passive)";
    }
    return "?";
}

const char *sf_health_event_name(unsigned event_bit)
{
    switch (event_bit) {
    case SF_HEALTH_EV_PASSIVE_UP: return "passive up";
    case SF_HEALTH_EV_PASSIVE_DOWN: return "passive down";
    case SF_HEALTH_EV_PROBES_DOWN: return "probes down";
    case SF_HEALTH_EV_PROBES_UP: return "probes up";
    case SF_HEALTH_EV_DRAIN: return "drain";
    case SF_HEALTH_EV_UNDRAIN: return "undrain";
    }
    return "?";
}
