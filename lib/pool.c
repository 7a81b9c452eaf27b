/* pool: the registry of upstream pools (pool.h).
 *
 * Three kinds of things, all under the registry's one mutex:
 *   struct server   a server's lasting state, keyed by (pool name, URL): its health
 *                   (health.h), the operator's drain (inside it), its running transfers and
 *                   numbers, and its probe schedule. Refcounted by the versions that list it
 *                   and the probes in flight; forgotten (never found again) at the apply
 *                   that leaves it out, freed when the last of them goes. "current" marks the
 *                   servers of the current pools: only they are probed, shown and drained.
 *   struct sf_pool  a version: a private copy of one pool's def (pooldef.h), its balance
 *                   state (balance.h), and its servers in the def's order. Refcounted by the
 *                   registry (while current) and by the config snapshots bound to it.
 *   struct sf_pools the list of servers and the current versions, in the config's order.
 *
 * One version serves every config whose def of the pool is equal in every setting
 * (sf_pooldef_equal), not only in its servers: a fetch reads its retries, Host and TLS from
 * sf_pool_def, and a version kept across a reload that changed them would hand out stale
 * ones. A new version costs only a fresh round robin position.
 *
 * Choices: the usable set is each server's health at now_ms (drained or down: not usable).
 * Each version caches it, with the registry's generation (moved by every health event:
 * every change of usability is one, health.h) and the earliest passive-down end among its
 * servers (when one becomes usable again with no event); reading 64 servers' health per
 * choice cost about 150 ns (a round robin choice among 64 took 320 ns with it, 150 ns
 * without; test_pool --bench prints them). The
 * running counts least_conn needs are the servers' own (shared by all versions), copied
 * into an array for the choice.
 *
 * Every health event becomes one log line, written after the mutex is released: events are
 * collected into a struct notes under it (names copied) and logged after.
 *
 * Lock order: the registry's lock is a leaf; nothing else is taken under it (health.c and
 * balance.c are pure). (L) protected by lock  (C) constant after creation. */
#include "pool.h"

#include "balance.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "pooldef.h"
#include "poolview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SF_POOLS_MAGIC 0x9001515au
#define SF_POOL_MAGIC 0x9001ef01u
#define SERVER_MAGIC 0x90015e7au

struct server {
    unsigned magic;                /* SERVER_MAGIC */
    struct sf_pools *ps;           /* (C) */
    struct server *next;           /* (L) the registry's list */
    unsigned refs;                 /* (L) versions that list it, probes in flight */
    char *pool, *url;              /* (C) its key */
    char *name;                    /* (L) its name in the newest def that listed it */
    const struct sf_pool_def *def; /* (L) its current pool's def; NULL: not current */
    bool was_current;              /* (L) during sf_pools_apply only */
    /* (L) Not current after an apply: never found again, so a server added back by a
     * later reload starts afresh; versions that hold it (fetches under an older config)
     * still count on it until they let go. */
    bool gone;
    unsigned weight;             /* (L) in the current pool, for the stats */
    bool backup;                 /* (L) */
    struct sf_health *health;    /* (L) */
    struct sf_health_conf hconf; /* (L) what health runs under */
    bool probing;                /* (L) a probe of it is in flight */
    uint64_t next_probe_ms;      /* (L) */
    unsigned active;             /* (L) transfers running on it */
    uint64_t requests, failures, ttfb_us_sum, ttfb_count; /* (L) */
};

struct sf_pool {
    unsigned magic;         /* SF_POOL_MAGIC */
    struct sf_pools *ps;    /* (C) */
    unsigned refs;          /* (L) */
    struct sf_pool_def def; /* (C) owned copy */
    struct sf_balance *bal; /* (L) round robin's weights move with each choice */
    struct server *srv[SF_BALANCE_MAX_SERVERS]; /* (C) by index in def.servers */
    /* (L) The usable set as last computed: good while the registry's gen is usable_gen and
     * now is in [usable_from_ms, usable_until_ms) (the earliest passive-down end). */
    sf_balance_set usable;
    uint64_t usable_gen, usable_from_ms, usable_until_ms;
};

struct sf_pools {
    unsigned magic; /* SF_POOLS_MAGIC */
    struct sf_mutex lock;
    struct server *servers;   /* (L) */
    struct sf_pool **current; /* (L) the current versions, in the config's order */
    size_t ncurrent;          /* (L) */
    uint64_t gen;             /* (L) moves at every health event: cached usable sets expire */
};

/* ---- the log lines of health events ---- */

struct note {
    char *pool, *server;
    unsigned ev;
    enum sf_health_why why; /* the state after */
    struct sf_health_conf conf;
};

struct notes {
    struct note *v;
    size_t n, cap;
};

/* Records ev (a call's events on s) to be logged once the lock is released. */
static void note_add(struct notes *ns, const struct server *s, unsigned ev, uint64_t now_ms)
{
    if (ev == 0)
        return;
    s->ps->gen++; /* every change of usability is an event (health.h) */
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 4;
        ns->v = sf_xrealloc(ns->v, ns->cap * sizeof *ns->v);
    }
    struct note *n = &ns->v[ns->n++];
    n->pool = sf_xstrdup(s->pool);
    n->server = sf_xstrdup(s->name);
    n->ev = ev;
    sf_health_usable(s->health, now_ms, &n->why, NULL);
    n->conf = s->hconf;
}

static void fmt_ms(char *buf, size_t len, uint64_t ms)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/* "up", or "still drained" when the event's own change left it unusable for another
 * reason. */
static const char *after(const struct note *n, char *buf, size_t len)
{
    if (n->why == SF_HEALTH_UP)
        return "up";
    snprintf(buf, len, "still %s", sf_health_why_name(n->why));
    return buf;
}

static const char *plural(unsigned n)
{
    return n == 1 ? "" : "s";
}

static void note_log(const struct note *n, unsigned bit)
{
    char state[48], window[24];
    const char *p = n->pool, *s = n->server;
    fmt_ms(window, sizeof window, n->conf.fail_timeout_ms);
    switch (bit) {
    case SF_HEALTH_EV_PASSIVE_UP:
        sf_log_info("upstream %s: server %s %s (passive: the mark of its failures is over)", p, s,
                    after(n, state, sizeof state));
        break;
    case SF_HEALTH_EV_PASSIVE_DOWN:
        sf_log_warn("upstream %s: server %s down (passive: %u failure%s within %s; skipped for %s)",
                    p, s, n->conf.max_fails, plural(n->conf.max_fails), window, window);
        break;
    case SF_HEALTH_EV_PROBES_DOWN:
        sf_log_warn("upstream %s: server %s down (probes: %u failed check%s)", p, s, n->conf.fall,
                    plural(n->conf.fall));
        break;
    case SF_HEALTH_EV_PROBES_UP:
        if (n->conf.rise == 0)
            sf_log_info("upstream %s: server %s %s (probes: no longer configured)", p, s,
                        after(n, state, sizeof state));
        else
            sf_log_info("upstream %s: server %s %s (probes: %u good check%s)", p, s,
                        after(n, state, sizeof state), n->conf.rise, plural(n->conf.rise));
        break;
    case SF_HEALTH_EV_DRAIN:
        sf_log_info("upstream %s: server %s drained (admin: no new fetches; running ones finish)",
                    p, s);
        break;
    case SF_HEALTH_EV_UNDRAIN:
        sf_log_info("upstream %s: server %s %s (admin: drain lifted)", p, s,
                    after(n, state, sizeof state));
        break;
    }
}

/* The events of one call worth a line each. A passive mark's end that came with the
 * probes' "up" (which ends it) or with a new mark (a failure just after it ran out) is
 * part of that change, and one line says it; the counters still count both. */
static unsigned lines_of(unsigned ev)
{
    if (ev & (SF_HEALTH_EV_PROBES_UP | SF_HEALTH_EV_PASSIVE_DOWN))
        ev &= ~SF_HEALTH_EV_PASSIVE_UP;
    return ev;
}

/* Logs every note, each event bit as one line in bit order (health.h), and frees them.
 * Called with the lock released. */
static void notes_flush(struct notes *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        for (unsigned ev = lines_of(ns->v[i].ev); ev != 0; ev &= ev - 1)
            note_log(&ns->v[i], ev & -ev);
        free(ns->v[i].pool);
        free(ns->v[i].server);
    }
    free(ns->v);
    *ns = (struct notes){0};
}

/* ---- servers and versions ---- */

/* XXX: a walk of every server. Only apply and bind look (a kept pool's version is reused
 * with none), so a reload of a few hundred servers costs well under a millisecond; an
 * index by pool would be the next step for thousands. */
static struct server *server_find(struct sf_pools *ps, const char *pool, const char *url)
{
    sf_mutex_assert_held(&ps->lock);
    for (struct server *s = ps->servers; s != NULL; s = s->next)
        if (!s->gone && strcmp(s->pool, pool) == 0 && strcmp(s->url, url) == 0)
            return s;
    return NULL;
}

/* The state of server i of def, found or made (up, undrained), with a reference. */
static struct server *server_get(struct sf_pools *ps, const struct sf_pool_def *def, size_t i)
{
    const struct sf_pool_server_def *sd = &def->servers[i];
    struct server *s = server_find(ps, def->name, sd->url);
    if (s == NULL) {
        s = sf_xcalloc(1, sizeof *s);
        s->magic = SERVER_MAGIC;
        s->ps = ps;
        s->pool = sf_xstrdup(def->name);
        s->url = sf_xstrdup(sd->url);
        s->name = sf_xstrdup(sd->name);
        s->weight = sd->weight;
        s->backup = sd->backup;
        sf_pooldef_health(def, &s->hconf);
        s->health = sf_health_new(&s->hconf);
        s->next = ps->servers;
        ps->servers = s;
    }
    s->refs++;
    return s;
}

static void server_unref(struct server *s)
{
    sf_mutex_assert_held(&s->ps->lock);
    SF_CHECK_OBJ(s, SERVER_MAGIC);
    SF_ASSERT(s->refs > 0);
    if (--s->refs > 0)
        return;
    SF_ASSERT(s->def == NULL && s->active == 0); /* a current server is held by its pool */
    struct server **pp = &s->ps->servers;
    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    sf_health_free(s->health);
    free(s->pool);
    free(s->url);
    free(s->name);
    s->magic = 0;
    free(s);
}

static struct sf_pool *version_new(struct sf_pools *ps, const struct sf_pool_def *def)
{
    sf_mutex_assert_held(&ps->lock);
    SF_ASSERT(def->nservers >= 1 && def->nservers <= SF_BALANCE_MAX_SERVERS);
    struct sf_pool *p = sf_xcalloc(1, sizeof *p);
    p->magic = SF_POOL_MAGIC;
    p->ps = ps;
    p->refs = 1;
    sf_pooldef_copy(&p->def, def);
    struct sf_balance_server bs[SF_BALANCE_MAX_SERVERS];
    for (size_t i = 0; i < def->nservers; i++) {
        /* Scored by URL: a reload that keeps a server keeps its hash keys (balance.h). */
        bs[i] = (struct sf_balance_server){p->def.servers[i].url, p->def.servers[i].weight,
                                           p->def.servers[i].backup};
        p->srv[i] = server_get(ps, &p->def, i);
    }
    p->bal = sf_balance_new((enum sf_balance_method)def->balance, bs, def->nservers);
    return p;
}

static void version_unref(struct sf_pool *p)
{
    sf_mutex_assert_held(&p->ps->lock);
    SF_ASSERT(p->refs > 0);
    if (--p->refs > 0)
        return;
    for (size_t i = 0; i < p->def.nservers; i++)
        server_unref(p->srv[i]);
    sf_balance_free(p->bal);
    sf_pooldef_clear(&p->def);
    p->magic = 0;
    free(p);
}

struct sf_pools *sf_pools_new(void)
{
    struct sf_pools *ps = sf_xcalloc(1, sizeof *ps);
    ps->magic = SF_POOLS_MAGIC;
    ps->gen = 1; /* a new version's usable_gen 0 is stale */
    sf_mutex_init(&ps->lock);
    return ps;
}

void sf_pools_free(struct sf_pools *ps)
{
    if (ps == NULL)
        return;
    SF_CHECK_OBJ(ps, SF_POOLS_MAGIC);
    sf_mutex_lock(&ps->lock);
    for (struct server *s = ps->servers; s != NULL; s = s->next)
        s->def = NULL;
    for (size_t i = 0; i < ps->ncurrent; i++)
        version_unref(ps->current[i]);
    SF_ASSERT(ps->servers == NULL); /* pool.h: every version was released first */
    free(ps->current);
    sf_mutex_unlock(&ps->lock);
    sf_mutex_destroy(&ps->lock);
    ps->magic = 0;
    free(ps);
}

/* A current server's settings become those of p's def, its pool in the config applied. */
static void server_adopt(struct server *s, struct sf_pool *p, size_t i, struct notes *ns,
                         uint64_t now_ms)
{
    const struct sf_pool_server_def *sd = &p->def.servers[i];
    s->def = &p->def;
    if (strcmp(s->name, sd->name) != 0) {
        free(s->name);
        s->name = sf_xstrdup(sd->name);
    }
    s->weight = sd->weight;
    s->backup = sd->backup;
    struct sf_health_conf c;
    sf_pooldef_health(&p->def, &c);
    if (memcmp(&c, &s->hconf, sizeof c) != 0) {
        s->hconf = c;
        note_add(ns, s, sf_health_reconf(&s->health, &c), now_ms);
    }
    if (!s->was_current)
        s->next_probe_ms = 0; /* newly current: probed at once */
}

void sf_pools_apply(struct sf_pools *ps, const struct sf_config *cfg)
{
    SF_CHECK_OBJ(ps, SF_POOLS_MAGIC);
    uint64_t now = sf_now_ms();
    struct notes ns = {0};
    size_t n = cfg->upstreams.n;
    struct sf_pool **next = sf_xcalloc(n > 0 ? n : 1, sizeof *next);
    sf_mutex_lock(&ps->lock);
    for (size_t i = 0; i < n; i++) {
        const struct sf_pool_def *def = &cfg->upstreams.v[i];
        for (size_t k = 0; k < ps->ncurrent && next[i] == NULL; k++) {
            struct sf_pool *c = ps->current[k];
            if (c != NULL && sf_pooldef_equal(&c->def, def)) {
                next[i] = c; /* its reference moves to the new list */
                ps->current[k] = NULL;
            }
        }
        if (next[i] == NULL)
            next[i] = version_new(ps, def);
    }
    /* Current flags first, so that what the old versions release below is no longer
     * current when its last reference goes. A server listed twice in one pool (the same
     * URL) takes the later's settings. */
    for (struct server *s = ps->servers; s != NULL; s = s->next) {
        s->was_current = s->def != NULL;
        s->def = NULL;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < next[i]->def.nservers; j++)
            server_adopt(next[i]->srv[j], next[i], j, &ns, now);
    for (struct server *s = ps->servers; s != NULL; s = s->next)
        s->gone = s->gone || s->def == NULL;
    for (size_t k = 0; k < ps->ncurrent; k++)
        if (ps->current[k] != NULL)
            version_unref(ps->current[k]);
    free(ps->current);
    ps->current = next;
    ps->ncurrent = n;
    sf_mutex_unlock(&ps->lock);
    notes_flush(&ns);
}

struct sf_pool *sf_pools_bind(struct sf_pools *ps, const struct sf_config *cfg, size_t i)
{
    SF_CHECK_OBJ(ps, SF_POOLS_MAGIC);
    SF_ASSERT(i < cfg->upstreams.n);
    const struct sf_pool_def *def = &cfg->upstreams.v[i];
    sf_mutex_lock(&ps->lock);
    struct sf_pool *p = NULL;
    for (size_t k = 0; k < ps->ncurrent && p == NULL; k++)
        if (sf_pooldef_equal(&ps->current[k]->def, def)) {
            p = ps->current[k];
            p->refs++;
        }
    if (p == NULL)
        p = version_new(ps, def); /* a config older (or newer) than the one applied */
    sf_mutex_unlock(&ps->lock);
    return p;
}

void sf_pool_unref(struct sf_pool *p)
{
    if (p == NULL)
        return;
    SF_CHECK_OBJ(p, SF_POOL_MAGIC);
    struct sf_pools *ps = p->ps;
    sf_mutex_lock(&ps->lock);
    version_unref(p);
    sf_mutex_unlock(&ps->lock);
}

const struct sf_pool_def *sf_pool_def(const struct sf_pool *p)
{
    SF_CHECK_OBJ(p, SF_POOL_MAGIC);
    return &p->def;
}

/* ---- choices and outcomes ---- */

/* p's usable servers at now_ms: the cached set while no event happened and no
 * passive-down ran out since it was computed, else computed again. */
static sf_balance_set usable_at(struct sf_pool *p, uint64_t now_ms)
{
    sf_mutex_assert_held(&p->ps->lock);
    if (p->usable_gen == p->ps->gen && now_ms >= p->usable_from_ms && now_ms < p->usable_until_ms)
        return p->usable;
    sf_balance_set usable = 0;
    uint64_t until = UINT64_MAX;
    for (size_t i = 0; i < p->def.nservers; i++) {
        enum sf_health_why why;
        uint64_t end = UINT64_MAX;
        if (sf_health_usable(p->srv[i]->health, now_ms, &why, &end))
            usable |= SF_BALANCE_BIT(i);
        else if (why == SF_HEALTH_DOWN_PASSIVE && end < until)
            until = end;
    }
    p->usable = usable;
    p->usable_gen = p->ps->gen;
    p->usable_from_ms = now_ms;
    p->usable_until_ms = until;
    return usable;
}

int sf_pool_choose(struct sf_pool *p, sf_balance_set tried, const char *key, uint64_t now_ms)
{
    SF_CHECK_OBJ(p, SF_POOL_MAGIC);
    struct sf_pools *ps = p->ps;
    unsigned active[SF_BALANCE_MAX_SERVERS];
    bool counts = p->def.balance == SF_BALANCE_LEAST_CONN;
    sf_mutex_lock(&ps->lock);
    sf_balance_set usable = usable_at(p, now_ms);
    for (size_t i = 0; counts && i < p->def.nservers; i++)
        active[i] = p->srv[i]->active;
    int i =
        sf_balance_choose(p->bal, usable, tried, counts ? active : NULL, key != NULL ? key : "");
    if (i >= 0) {
        p->srv[i]->active++;
        p->srv[i]->requests++;
    }
    sf_mutex_unlock(&ps->lock);
    return i;
}

void sf_pool_done(struct sf_pool *p, int i, enum sf_pool_outcome outcome, int64_t ttfb_us,
                  uint64_t now_ms)
{
    SF_CHECK_OBJ(p, SF_POOL_MAGIC);
    SF_ASSERT(i >= 0 && (size_t)i < p->def.nservers);
    struct sf_pools *ps = p->ps;
    struct notes ns = {0};
    sf_mutex_lock(&ps->lock);
    struct server *s = p->srv[i];
    SF_ASSERT(s->active > 0); /* every done follows its choose */
    s->active--;
    unsigned ev = 0;
    if (outcome == SF_POOL_OK) {
        s->ttfb_us_sum += ttfb_us > 0 ? (uint64_t)ttfb_us : 0;
        s->ttfb_count++;
        ev = sf_health_passive(s->health, false, now_ms);
    } else if (outcome == SF_POOL_FAILED) {
        s->failures++;
        ev = sf_health_passive(s->health, true, now_ms);
    }
    note_add(&ns, s, ev, now_ms);
    sf_mutex_unlock(&ps->lock);
    notes_flush(&ns);
}

/* Server name of the current pool named pool, or NULL. */
static struct server *current_server(struct sf_pools *ps, const char *pool, const char *name)
{
    sf_mutex_assert_held(&ps->lock);
    for (size_t k = 0; k < ps->ncurrent; k++) {
        struct sf_pool *p = ps->current[k];
        if (strcmp(p->def.name, pool) != 0)
            continue;
        for (size_t i = 0; i < p->def.nservers; i++)
            if (strcmp(p->def.servers[i].name, name) == 0)
                return p->srv[i];
    }
    return NULL;
}

int sf_pools_set_drain(struct sf_pools *ps, const char *pool, const char *server, bool drain)
{
    SF_CHECK_OBJ(ps, SF_POOLS_MAGIC);
    uint64_t now = sf_now_ms();
    struct notes ns = {0};
    sf_mutex_lock(&ps->lock);
    struct server *s = current_server(ps, pool, server);
    if (s != NULL)
        note_add(&ns, s, sf_health_set_drain(s->health, drain, now), now);
    sf_mutex_unlock(&ps->lock);
    notes_flush(&ns);
    return s != NULL ? 0 : 404;
}

/* ---- active probes ---- */

static struct sf_pool_probe *probe_new(struct server *s)
{
    const struct sf_pool_def *d = s->def;
    struct sf_pool_probe *pr = sf_xcalloc(1, sizeof *pr);
    pr->url = sf_http_join_url(s->url, d->health_path);
    pr->host = sf_xstrdup_opt(d->host);
    pr->timeout_ms = d->health_timeout_ms;
    SF_ASSERT(d->nhealth_status <= SF_POOL_MAX_STATUSES);
    memcpy(pr->status, d->health_status, d->nhealth_status * sizeof pr->status[0]);
    pr->nstatus = d->nhealth_status;
    pr->tls.ca_file = sf_xstrdup_opt(d->tls_ca_file);
    pr->tls.sni = sf_xstrdup_opt(d->tls_sni);
    pr->tls.verify = d->tls_verify;
    pr->_server = s;
    s->refs++;
    s->probing = true;
    return pr;
}

size_t sf_pools_due_probes(struct sf_pools *ps, uint64_t now_ms, struct sf_pool_probe **out,
                           size_t max, uint64_t *next_ms)
{
    SF_CHECK_OBJ(ps, SF_POOLS_MAGIC);
    struct notes ns = {0};
    size_t n = 0;
    uint64_t next = UINT64_MAX;
    sf_mutex_lock(&ps->lock);
    for (struct server *s = ps->servers; s != NULL; s = s->next) {
        if (s->def == NULL)
            continue;
        note_add(&ns, s, sf_health_tick(s->health, now_ms), now_ms);
        enum sf_health_why why;
        uint64_t until = 0;
        if (!sf_health_usable(s->health, now_ms, &why, &until) && why == SF_HEALTH_DOWN_PASSIVE &&
            until < next)
            next = until; /* its end is logged on time */
        if (s->def->health_path == NULL || s->probing)
            continue; /* a probe in flight: its result asks again */
        if (s->next_probe_ms <= now_ms && n < max) {
            out[n++] = probe_new(s);
            s->next_probe_ms = now_ms + s->def->health_interval_ms;
        }
        if (s->next_probe_ms < next)
            next = s->next_probe_ms;
    }
    sf_mutex_unlock(&ps->lock);
    notes_flush(&ns);
    *next_ms = next;
    return n;
}

/* The probe's hold on its server ends; with a result, the result is counted first. */
static void probe_end(struct sf_pool_probe *pr, const bool *ok, uint64_t now_ms)
{
    struct server *s = pr->_server;
    if (s != NULL) {
        SF_CHECK_OBJ(s, SERVER_MAGIC);
        struct sf_pools *ps = s->ps;
        struct notes ns = {0};
        sf_mutex_lock(&ps->lock);
        s->probing = false;
        /* A reload may have ended its probes (or its pool) while this one ran. */
        if (ok != NULL && s->def != NULL && s->hconf.rise > 0)
            note_add(&ns, s, sf_health_probe(s->health, *ok, now_ms), now_ms);
        server_unref(s);
        sf_mutex_unlock(&ps->lock);
        notes_flush(&ns);
    }
    free(pr->url);
    free(pr->host);
    free(pr->tls.ca_file);
    free(pr->tls.sni);
    free(pr);
}

void sf_pools_probe_done(struct sf_pools *ps, struct sf_pool_probe *probe, bool ok, uint64_t now_ms)
{
    SF_CHECK_OBJ(ps, SF_POOLS_MAGIC);
    SF_ASSERT(probe->_server != NULL && ((struct server *)probe->_server)->ps == ps);
    probe_end(probe, &ok, now_ms);
}

void sf_pool_probe_free(struct sf_pool_probe *probe)
{
    if (probe != NULL)
        probe_end(probe, NULL, 0);
}

/* ---- what is shown ---- */

static void view_of(const struct server *s, const struct sf_pool *p, uint64_t now_ms,
                    struct sf_pool_server_view *v)
{
    struct sf_health_counters hc = sf_health_counters(s->health);
    memset(v, 0, sizeof *v);
    snprintf(v->pool, sizeof v->pool, "%s", s->pool);
    v->balance = sf_pooldef_balance_name(p->def.balance);
    v->name = sf_xstrdup(s->name);
    v->url = sf_xstrdup(s->url);
    sf_health_usable(s->health, now_ms, &v->why, NULL);
    v->weight = s->weight;
    v->backup = s->backup;
    v->active = s->active;
    v->requests = s->requests;
    v->failures = s->failures;
    v->probes_ok = hc.probes_ok;
    v->probes_failed = hc.probes_failed;
    v->transitions = hc.transitions;
    v->ttfb_us_sum = s->ttfb_us_sum;
    v->ttfb_count = s->ttfb_count;
}

/* Every current server's numbers, in the config's order. Caller frees (sf_poolview_free). */
static struct sf_pool_server_view *views(struct sf_pools *ps, size_t *count)
{
    SF_CHECK_OBJ(ps, SF_POOLS_MAGIC);
    uint64_t now = sf_now_ms();
    sf_mutex_lock(&ps->lock);
    size_t n = 0;
    for (size_t k = 0; k < ps->ncurrent; k++)
        n += ps->current[k]->def.nservers;
    struct sf_pool_server_view *v = sf_xcalloc(n > 0 ? n : 1, sizeof *v);
    n = 0;
    for (size_t k = 0; k < ps->ncurrent; k++)
        for (size_t i = 0; i < ps->current[k]->def.nservers; i++)
            view_of(ps->current[k]->srv[i], ps->current[k], now, &v[n++]);
    sf_mutex_unlock(&ps->lock);
    *count = n;
    return v;
}

json_t *sf_pools_json(struct sf_pools *ps)
{
    size_t n;
    struct sf_pool_server_view *v = views(ps, &n);
    json_t *doc = sf_poolview_json(v, n);
    sf_poolview_free(v, n);
    return doc;
}

json_t *sf_pools_server_json(struct sf_pools *ps, const char *pool, const char *server)
{
    size_t n;
    struct sf_pool_server_view *v = views(ps, &n);
    json_t *doc = NULL;
    for (size_t i = 0; i < n && doc == NULL; i++)
        if (strcmp(v[i].pool, pool) == 0 && strcmp(v[i].name, server) == 0)
            doc = sf_poolview_server_json(&v[i]);
    sf_poolview_free(v, n);
    return doc;
}

char *sf_pools_prometheus(struct sf_pools *ps)
{
    size_t n;
    struct sf_pool_server_view *v = views(ps, &n);
    char *text = sf_poolview_prometheus(v, n);
    sf_poolview_free(v, n);
    return text;
}
