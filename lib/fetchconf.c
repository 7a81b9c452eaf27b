/* fetchconf: see fetchconf.h. */
#include "fetchconf.h"

#include "log.h"

#include <stdlib.h>

void sf_fetchconf_unref(struct sf_fetchconf *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    sf_origin_tls_clear(&c->tls);
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

struct sf_fetchconf *sf_fetchconf_new(struct sf_cache *cache, struct sf_snap *snap)
{
    struct sf_fetchconf *c = sf_xcalloc(1, sizeof *c);
    const struct sf_config *cfg = &snap->cfg;
    const char *why = NULL;
    if (!sf_origin_tls_init(&c->tls, cfg->upstream_pool < 0 ? cfg->upstream : NULL,
                            cfg->upstream_ca_file, cfg->upstream_verify, cfg->upstream_sni, &why)) {
        sf_log_error("upstream: %s", why);
        free(c);
        return NULL;
    }
    c->refs = 1;
    c->snap = sf_snap_ref(snap);
    c->cfg = cfg;
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
