/* ttl: see ttl.h. The order of the decision is the operator's word over the origin's only
 * where the operator said so: force_ttl first (Squid's override-expire, nginx's
 * proxy_ignore_headers Expires Cache-Control with proxy_cache_valid), then the origin's
 * explicit freshness (RFC 9111 §4.2.1), then the route's ttl (nginx's proxy_cache_valid,
 * Varnish's default_ttl: for what the origin left unsaid), then the heuristic (§4.2.2).
 * The ignore list only takes refusals away; it never adds freshness. Pure. */
#include "ttl.h"

#include "base.h"

#include <stdlib.h>

void sf_ttl_table_clear(struct sf_ttl_table *t)
{
    free(t->v);
    *t = (struct sf_ttl_table){-1, -1, NULL, 0};
}

void sf_ttl_rule_init(struct sf_ttl_rule *r)
{
    r->ttl = (struct sf_ttl_table){-1, -1, NULL, 0};
    r->force = (struct sf_ttl_table){-1, -1, NULL, 0};
    r->ignore = 0;
}

void sf_ttl_rule_clear(struct sf_ttl_rule *r)
{
    sf_ttl_table_clear(&r->ttl);
    sf_ttl_table_clear(&r->force);
    r->ignore = 0;
}

bool sf_ttl_table_given(const struct sf_ttl_table *t)
{
    return t->plain_s >= 0 || t->any_s >= 0 || t->n > 0;
}

void sf_ttl_table_set(struct sf_ttl_table *t, int status, int64_t s)
{
    if (status == 0) {
        t->any_s = s;
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].status == status) {
            t->v[i].s = s;
            return;
        }
    }
    t->v = sf_xrealloc(t->v, (t->n + 1) * sizeof *t->v);
    t->v[t->n++] = (struct sf_ttl_status){status, s};
}

bool sf_ttl_cacheable_by_default(int status)
{
    static const int codes[] = {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i] == status)
            return true;
    return false;
}

int64_t sf_ttl_table_lookup(const struct sf_ttl_table *t, int status)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].status == status)
            return t->v[i].s;
    if (t->any_s >= 0)
        return t->any_s;
    return t->plain_s >= 0 && sf_ttl_cacheable_by_default(status) ? t->plain_s : -1;
}

void sf_ttl_decide(const struct sf_ttl_origin *o, const struct sf_ttl_rule *rule,
                   struct sf_ttl_decision *d)
{
    unsigned ignore = rule != NULL ? rule->ignore : 0;
    d->ignored =
        ((o->no_cache ? SF_TTL_IGNORE_NO_CACHE : 0u) | (o->no_store ? SF_TTL_IGNORE_NO_STORE : 0u) |
         (o->private_ ? SF_TTL_IGNORE_PRIVATE : 0u) |
         (o->set_cookie ? SF_TTL_IGNORE_SET_COOKIE : 0u)) &
        ignore;
    d->no_cache = o->no_cache && !(ignore & SF_TTL_IGNORE_NO_CACHE);
    d->no_store = o->no_store && !(ignore & SF_TTL_IGNORE_NO_STORE);
    d->private_ = o->private_ && !(ignore & SF_TTL_IGNORE_PRIVATE);
    d->set_cookie = o->set_cookie && !(ignore & SF_TTL_IGNORE_SET_COOKIE);
    int64_t forced = rule != NULL ? sf_ttl_table_lookup(&rule->force, o->status) : -1;
    int64_t route = rule != NULL ? sf_ttl_table_lookup(&rule->ttl, o->status) : -1;
    if (forced >= 0) {
        d->lifetime_s = forced;
        d->source = SF_TTL_FORCE;
    } else if (o->explicit_s >= 0) {
        d->lifetime_s = o->explicit_s;
        d->source = SF_TTL_ORIGIN;
    } else if (route >= 0) {
        d->lifetime_s = route;
        d->source = SF_TTL_ROUTE;
    } else if (o->heuristic_s >= 0 && sf_ttl_cacheable_by_default(o->status)) {
        d->lifetime_s = o->heuristic_s;
        d->source = SF_TTL_HEURISTIC;
    } else {
        d->lifetime_s = -1;
        d->source = SF_TTL_NONE;
    }
}

const char *sf_ttl_source_name(enum sf_ttl_source s)
{
    switch (s) {
    case SF_TTL_NONE: return "none";
    case SF_TTL_ORIGIN: return "origin";
    case SF_TTL_ROUTE: return "route ttl";
    case SF_TTL_FORCE: return "force_ttl";
    case SF_TTL_HEURISTIC: return "heuristic";
    }
    return "none";
}

const char *sf_ttl_ignore_name(unsigned bit)
{
    switch (bit) {
    case SF_TTL_IGNORE_NO_CACHE: return "no-cache";
    case SF_TTL_IGNORE_NO_STORE: return "no-store";
    case SF_TTL_IGNORE_PRIVATE: return "private";
    case SF_TTL_IGNORE_SET_COOKIE: return "set-cookie";
    default: return NULL;
    }
}
