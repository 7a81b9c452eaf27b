/* fetchrule: see fetchrule.h. */
#include "fetchrule.h"

#include "confroute.h"

#include <string.h>

/* A stale window in whole seconds as the rules take it; 0 (off) is none: -1. */
static int64_t window_s(uint64_t ms)
{
    return ms != 0 ? (int64_t)(ms / 1000) : -1;
}

void sf_fetchrule_top_settings(const struct sf_config *cfg, struct sf_route_settings *set)
{
    sf_confroute_top_settings(cfg, set); /* one table says which keys a route may set */
}

void sf_fetchrule_init(struct sf_fetchrule *fr, const struct sf_config *cfg,
                       const struct sf_route_def *route, const struct sf_route_settings *set,
                       struct sf_cache *cache)
{
    const struct sf_ttl_rule *ttl = route != NULL ? &route->cache : NULL;
    uint64_t slice_bytes = sf_config_slice_bytes(cfg); /* one size for every route */
    memset(fr, 0, sizeof *fr);
    fr->route = route;
    fr->set = set;
    fr->rules = (struct sf_cache_rules){cfg->targeted.v,
                                        cfg->targeted.n,
                                        set->heuristic_percent,
                                        (int64_t)(set->heuristic_max_ms / 1000),
                                        window_s(set->stale_while_revalidate_ms),
                                        window_s(set->stale_if_error_ms),
                                        set->store_server_errors,
                                        ttl};
    fr->judge = (struct sf_judge_cfg){
        &fr->rules, set->max_object_bytes,
        set->strip_set_cookie || (ttl != NULL && (ttl->ignore & SF_TTL_IGNORE_SET_COOKIE)),
        set->store_post_responses, set->max_object_bytes >= slice_bytes ? slice_bytes : 0};
    fr->publisher = (struct sf_publisher){cache, &fr->judge, set->hit_for_pass_ms};
}
