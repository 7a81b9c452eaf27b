/* fetchconf: see fetchconf.h. */
#include "fetchconf.h"

#include "log.h"
#include "pool.h"

#include <stdlib.h>

void sf_fetchconf_unref(struct sf_fetchconf *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    sf_origin_tls_clear(&c->tls);
    for (size_t i = 0; i < c->npools; i++) {
        for (size_t s = 0; s < c->pools[i].def->nservers; s++)
            sf_origin_tls_clear(&c->pools[i].tls[s]);
        free(c->pools[i].tls);
        sf_pool_unref(c->pools[i].pool);
    }
    free(c->pools);
    free(c->routes);
    sf_snap_unref(c->snap);
    free(c);
}

const struct sf_fetchrule *sf_fetchconf_rule(const struct sf_fetchconf *c,
                                             const struct sf_route_def *route)
{
    if (route == NULL)
        return &c->top;
    /* The route is of the snapshot the fetch pinned, which c was built from. */
    SF_ASSERT(route->index < c->nroutes && c->routes[route->index].route == route);
    return &c->routes[route->index];
}

const struct sf_fetchpool *sf_fetchconf_pool(const struct sf_fetchconf *c,
                                             const struct sf_route_settings *set)
{
    int i = set->upstream != NULL ? set->upstream_pool : c->cfg->upstream_pool;
    if (i < 0)
        return NULL;
    SF_ASSERT((size_t)i < c->npools);
    return &c->pools[i];
}

/* Binds cfg's pools (pool.h) and sets their servers' TLS up; false (why set) when a server's
 * URL cannot be taken apart for it. */
static bool bind_pools(struct sf_fetchconf *c, struct sf_pools *pools, const char **why)
{
    const struct sf_config *cfg = c->cfg;
    c->npools = cfg->upstreams.n;
    c->pools = c->npools ? sf_xcalloc(c->npools, sizeof *c->pools) : NULL;
    bool ok = true;
    for (size_t i = 0; i < c->npools; i++) {
        struct sf_fetchpool *fp = &c->pools[i];
        fp->def = &cfg->upstreams.v[i];
        fp->pool = sf_pools_bind(pools, cfg, i);
        fp->tls = sf_xcalloc(fp->def->nservers, sizeof *fp->tls);
        for (size_t s = 0; s < fp->def->nservers; s++)
            ok =
                ok && sf_origin_tls_init(&fp->tls[s], fp->def->servers[s].url, fp->def->tls_ca_file,
                                         fp->def->tls_verify, fp->def->tls_sni, why);
    }
    return ok;
}

struct sf_fetchconf *sf_fetchconf_new(struct sf_cache *cache, struct sf_snap *snap,
                                      struct sf_pools *pools)
{
    struct sf_fetchconf *c = sf_xcalloc(1, sizeof *c);
    const struct sf_config *cfg = &snap->cfg;
    const char *why = NULL;
    c->refs = 1;
    c->snap = sf_snap_ref(snap);
    c->cfg = cfg;
    if (!sf_origin_tls_init(&c->tls, cfg->upstream_pool < 0 ? cfg->upstream : NULL,
                            cfg->upstream_ca_file, cfg->upstream_verify, cfg->upstream_sni, &why) ||
        !bind_pools(c, pools, &why)) {
        sf_log_error("upstream: %s", why);
        sf_fetchconf_unref(c);
        return NULL;
    }
    sf_fetchrule_top_settings(cfg, &c->top_set);
    sf_fetchrule_init(&c->top, cfg, NULL, &c->top_set, cache);
    c->nroutes = sf_routes_count(cfg->routes);
    c->routes = c->nroutes ? sf_xcalloc(c->nroutes, sizeof *c->routes) : NULL;
    for (size_t i = 0; i < c->nroutes; i++) {
        const struct sf_route_def *r = sf_routes_at(cfg->routes, i);
        SF_ASSERT(r->index == i);
        sf_fetchrule_init(&c->routes[i], cfg, r, &r->set, cache);
    }
    return c;
}
