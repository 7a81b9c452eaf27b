/* fetchconf: see fetchconf.h. */
#include "fetchconf.h"

#include "log.h"

#include <stdlib.h>

void sf_fetchconf_unref(struct sf_fetchconf *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    sf_origin_tls_clear(&c->tls);
    sf_snap_unref(c->snap);
    free(c);
}

struct sf_fetchconf *sf_fetchconf_new(struct sf_cache *cache, struct sf_snap *snap)
{
    struct sf_fetchconf *c = sf_xcalloc(1, sizeof *c);
    const struct sf_config *cfg = &snap->cfg;
    const char *why = NULL;
    if (!sf_origin_tls_init(&c->tls, cfg, &why)) {
        sf_log_error("upstream: %s", why);
        free(c);
        return NULL;
    }
    c->refs = 1;
    c->snap = sf_snap_ref(snap);
    c->cfg = cfg;
    c->rules = (struct sf_cache_rules){
        cfg->targeted.v,
        cfg->targeted.n,
        cfg->heuristic_percent,
        (int64_t)(cfg->heuristic_max_ms / 1000),
        cfg->stale_while_revalidate_ms ? (int64_t)(cfg->stale_while_revalidate_ms / 1000) : -1,
        cfg->stale_if_error_ms ? (int64_t)(cfg->stale_if_error_ms / 1000) : -1,
        cfg->store_server_errors,
        NULL}; /* a route's rule is chosen per request (route.h), not per snapshot */
    c->judge = (struct sf_judge_cfg){&c->rules, cfg->cache_max_object_bytes, cfg->strip_set_cookie,
                                     cfg->store_post_responses, sf_config_slice_bytes(cfg)};
    c->publisher = (struct sf_publisher){cache, &c->judge, cfg->hit_for_pass_ms};
    return c;
}
