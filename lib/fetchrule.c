/* fetchrule: see fetchrule.h. */
#include "fetchrule.h"

#include <string.h>

/* A stale window in whole seconds as the rules take it; 0 (off) is none: -1. */
static int64_t window_s(uint64_t ms)
{
    return ms != 0 ? (int64_t)(ms / 1000) : -1;
}

void sf_fetchrule_top_settings(const struct sf_config *cfg, struct sf_route_settings *set)
{
    memset(set, 0, sizeof *set);
    set->first_byte_timeout_ms = cfg->first_byte_timeout_ms;
    set->upstream_idle_timeout_ms = cfg->upstream_idle_timeout_ms;
    set->hit_for_pass_ms = cfg->hit_for_pass_ms;
    set->max_object_bytes = cfg->cache_max_object_bytes;
    set->heuristic_max_ms = cfg->heuristic_max_ms;
    set->stale_if_error_ms = cfg->stale_if_error_ms;
    set->stale_while_revalidate_ms = cfg->stale_while_revalidate_ms;
    set->heuristic_percent = cfg->heuristic_percent;
    set->strip_set_cookie = cfg->strip_set_cookie;
    set->store_server_errors = cfg->store_server_errors;
    set->store_post_responses = cfg->store_post_responses;
    set->normalize_accept_encoding = cfg->normalize_accept_encoding;
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
