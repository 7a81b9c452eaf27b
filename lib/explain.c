/* explain: see explain.h. It walks the request path's decisions in the order the request
 * path will take them once routes are wired in: route (sf_routes_explain, which tries
 * every earlier route in full to say why each did not fit), upstream URL (the route's
 * upstream or the top level's, the target with strip_prefix applied), cache key
 * (cachekey.h, under the route's key rule). What is stored under the key comes in as the
 * cache's copy of it (cacheview.h) and goes out as JSON, with the answer a plain GET would
 * get, judged by policy.c's rules as cache.c's lookup judges it. Pure. */
#include "explain.h"

#include "cachekey.h"
#include "confdump.h"
#include "policy.h"
#include "route.h"
#include "variant.h"

#include <stdlib.h>
#include <string.h>

static char *get_field(void *ctx, const char *name)
{
    return ctx != NULL ? sf_hdrs_join(ctx, name) : NULL;
}

/* Where the request goes and who it claims to be for: its target, its Host, whether it
 * is a forward proxy's absolute-form request. host_buf holds a Host taken from the URL. */
static bool read_url(const struct sf_config *cfg, const struct sf_explain_req *req,
                     const char **target, const char **host, bool *forward, char *host_buf,
                     size_t size)
{
    const char *url = req->url;
    *forward = false;
    *host = req->host;
    *target = url;
    if (url[0] == '/')
        return true;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return false;
    const char *authority = strstr(url, "://") + 3;
    size_t alen = strcspn(authority, "/?");
    if (alen == 0 || alen >= size)
        return false;
    if (cfg->upstream == NULL) {
        *forward = true; /* its authority is its host (route.h) */
        return strncmp(url, "http://", 7) == 0;
    }
    memcpy(host_buf, authority, alen);
    host_buf[alen] = '\0';
    if (*host == NULL)
        *host = host_buf;
    *target = authority + alen; /* "/path?q", "?q" or "": made origin-form by the caller */
    return true;
}

static void add_reasons(json_t *out, const struct sf_routes *rs, char **why)
{
    json_t *list = json_array();
    for (size_t i = 0; i < sf_routes_count(rs); i++) {
        if (why[i] == NULL)
            continue;
        json_array_append_new(
            list, json_pack("{s:s, s:s}", "route", sf_routes_at(rs, i)->name, "why", why[i]));
        free(why[i]);
    }
    json_object_set_new(out, "not_matched", list);
}

json_t *sf_explain(const struct sf_config *cfg, const struct sf_explain_req *req, const char **why)
{
    const char *target, *host;
    char host_buf[256];
    bool forward;
    if (!read_url(cfg, req, &target, &host, &forward, host_buf, sizeof host_buf)) {
        *why = "the URL must be a path (\"/x?y\") or an absolute http:// or https:// URL";
        return NULL;
    }
    char *origin_target = NULL;
    if (!forward && target[0] != '/') {
        size_t n = strlen(target) + 2; /* "?q" alone, or nothing: the path is "/" */
        origin_target = sf_xmalloc(n);
        strcpy(origin_target, "/");
        strcat(origin_target, target);
        target = origin_target;
    }
    struct sf_fields fields = {get_field, (void *)req->fields};
    struct sf_route_req rr = {req->method, host, target, &fields};
    size_t n = sf_routes_count(cfg->routes);
    char **reasons = sf_xcalloc(n + 1, sizeof *reasons);
    const struct sf_route_def *route = sf_routes_explain(cfg->routes, &rr, reasons);
    const char *base =
        route != NULL && route->set.upstream != NULL ? route->set.upstream : cfg->upstream;
    char *url = NULL;
    if (forward) {
        url = sf_xstrdup(target);
    } else if (base != NULL) {
        char *sent = route != NULL ? sf_route_upstream_target(route, target) : sf_xstrdup(target);
        url = sf_http_join_url(base, sent);
        free(sent);
    }
    if (url == NULL) {
        for (size_t i = 0; i < n; i++)
            free(reasons[i]);
        free(reasons);
        free(origin_target);
        *why = "there is no upstream to send it to (no \"upstream\" at the top level or in the "
               "route)";
        return NULL;
    }
    json_t *out = json_object();
    json_object_set_new(out, "request",
                        json_pack("{s:s, s:s?, s:s, s:b}", "method", req->method, "host", host,
                                  "target", target, "forward_proxy", forward));
    json_object_set_new(out, "route", route != NULL ? json_string(route->name) : json_null());
    add_reasons(out, cfg->routes, reasons);
    free(reasons);
    if (route == NULL)
        json_object_set_new(out, "note",
                            json_string(n > 0 ? "no route matches: the top-level settings apply"
                                              : "no routes configured: the top-level settings "
                                                "apply"));
    json_object_set_new(out, "pass", json_boolean(route != NULL && route->pass));
    json_object_set_new(out, "upstream_url", json_string(url));
    int pool = forward                                        ? -1
               : route != NULL && route->set.upstream != NULL ? route->set.upstream_pool
                                                              : cfg->upstream_pool;
    if (pool >= 0) /* the URL is the pool's key_base: a server is chosen per fetch */
        json_object_set_new(out, "upstream_pool", json_string(cfg->upstreams.v[pool].name));
    bool keyed = (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0);
    struct sf_hdrs none = {0};
    const struct sf_hdrs *hdrs = req->fields != NULL ? req->fields : &none;
    const struct sf_key_rule *rule = route != NULL ? &route->key : NULL;
    char *key = NULL;
    if (keyed) {
        /* As outbound.c's route_key: a forward proxy's URL names its host already, so the
         * Host is keyed only when it is forwarded (preserve_host). */
        const char *key_host = forward && !cfg->preserve_host ? NULL : host;
        struct sf_key_request kr = {url, key_host, hdrs, cfg->preserve_host};
        key = sf_cachekey_build(&kr, rule);
    }
    json_object_set_new(out, "key", key != NULL ? json_string(key) : json_null());
    free(key);
    if (rule != NULL && rule->narrow_cookies) {
        char *cookie = sf_cachekey_cookies(hdrs, rule);
        json_object_set_new(out, "upstream_cookie", cookie ? json_string(cookie) : json_null());
        free(cookie);
    }
    if (route != NULL)
        json_object_set_new(out, "rules", sf_config_route_json(route));
    /* The admin listener's explain drops it: that one looks in the cache. */
    json_object_set_new(out, "offline",
                        json_string("decided from the config alone: nothing was fetched or "
                                    "looked up; GET /_sfproxy/explain?url=URL on the admin "
                                    "listener also says what is stored under the key"));
    free(url);
    free(origin_target);
    return out;
}

/* A JSON integer for a window of seconds, or null for none (-1). */
static json_t *window(int64_t s)
{
    return s >= 0 ? json_integer((json_int_t)s) : json_null();
}

/* What a GET without cache directives gets from the stored response r now, as cache.c's
 * lookup decides: a HIT while it is fresh and usable as it is; STALE (served while one
 * request refreshes it) within its stale-while-revalidate window; else a MISS, which
 * revalidates it or fetches it again. */
static const char *response_answer(const struct sf_cache_view_resp *r)
{
    static const struct sf_req_directives none = {false, false, false, -1, -1, -1};
    struct sf_verdict v = {
        .fresh_s = r->fresh_s, .must_validate = r->must_validate, .never_stale = r->never_stale};
    if (r->invalidated)
        return "MISS";
    if (sf_policy_acceptable(&v, r->age_s, &none))
        return "HIT";
    if (sf_policy_within_stale_window(&v, r->age_s, r->stale_while_revalidate_s))
        return "STALE";
    return "MISS";
}

/* A stored response's fields, added to obj. */
static void add_response(json_t *obj, const struct sf_cache_view_resp *r)
{
    json_object_set_new(obj, "status", json_integer(r->status));
    json_object_set_new(obj, "age_s", json_integer((json_int_t)r->age_s));
    json_object_set_new(obj, "fresh_s", json_integer((json_int_t)r->fresh_s));
    json_object_set_new(obj, "fresh_from", json_string(sf_ttl_source_name(r->fresh_from)));
    json_object_set_new(obj, "time_left_s", json_integer((json_int_t)sf_cache_view_left_s(r)));
    json_object_set_new(obj, "body_bytes", json_integer((json_int_t)r->body_bytes));
    json_object_set_new(obj, "invalidated", json_boolean(r->invalidated));
    json_object_set_new(obj, "must_validate", json_boolean(r->must_validate));
    json_object_set_new(obj, "stale_while_revalidate_s", window(r->stale_while_revalidate_s));
    json_object_set_new(obj, "stale_if_error_s", window(r->stale_if_error_s));
}

/* The field values a variant's key selects it by ("name=value" lines after
 * SF_VARIANT_MARK, or "name!" for a field the request did not have: null). */
static json_t *variant_fields(const char *key)
{
    json_t *fields = json_object();
    const char *p = strstr(key, SF_VARIANT_MARK);
    for (p = p != NULL ? p + strlen(SF_VARIANT_MARK) : ""; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        const char *eq = memchr(p, '=', n);
        size_t name_len = eq != NULL ? (size_t)(eq - p) : n > 0 ? n - 1 : 0; /* "name!" */
        char *name = sf_xstrndup(p, name_len);
        json_object_set_new(fields, name,
                            eq != NULL ? json_stringn(eq + 1, n - name_len - 1) : json_null());
        free(name);
        p += n + (p[n] == '\n');
    }
    return fields;
}

static json_t *variants(const struct sf_cache_view *v, const char *selected)
{
    json_t *list = json_array();
    for (size_t i = 0; i < v->nvariants; i++) {
        const struct sf_cache_view_resp *r = &v->variants[i];
        json_t *one = json_pack(
            "{s:s, s:o, s:b, s:s}", "key", r->key, "fields", variant_fields(r->key), "selected",
            selected != NULL && strcmp(selected, r->key) == 0, "answer", response_answer(r));
        add_response(one, r);
        json_array_append_new(list, one);
    }
    return list;
}

/* A list of names joined by ",", as a JSON array. */
static json_t *name_list(const char *names)
{
    json_t *list = json_array();
    for (const char *p = names; *p != '\0';) {
        size_t n = strcspn(p, ",");
        json_array_append_new(list, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return list;
}

/* The answer for the variant the request selects: its stored response's, else a MISS. */
static const char *vary_answer(const struct sf_cache_view *v, const char *selected)
{
    for (size_t i = 0; selected != NULL && i < v->nvariants; i++)
        if (strcmp(selected, v->variants[i].key) == 0)
            return response_answer(&v->variants[i]);
    return "MISS";
}

/* The stored slices' indexes as inclusive runs: [[0, 3], [7, 7]]. */
static json_t *slice_runs(const struct sf_cache_view *v)
{
    json_t *runs = json_array();
    for (size_t i = 0; i < v->nheld;) {
        size_t j = i;
        while (j + 1 < v->nheld && v->held[j + 1] == v->held[j] + 1)
            j++;
        json_array_append_new(runs,
                              json_pack("[I, I]", (json_int_t)v->held[i], (json_int_t)v->held[j]));
        i = j + 1;
    }
    return runs;
}

static json_t *sliced(const struct sf_cache_view *v)
{
    return json_pack("{s:s, s:s, s:I, s:s?, s:s?, s:I, s:I, s:I, s:o}", "kind", "sliced", "answer",
                     "SLICES", "total_bytes", (json_int_t)v->slice.total, "etag", v->slice.etag,
                     "last_modified", v->slice.last_modified, "slice_bytes",
                     (json_int_t)v->slice_bytes, "slices", (json_int_t)v->slices, "slices_stored",
                     (json_int_t)v->nheld, "stored_runs", slice_runs(v));
}

json_t *sf_explain_stored(const struct sf_cache_view *v, const char *selected)
{
    json_t *out;
    switch (v->kind) {
    case SF_CACHE_VIEW_RESPONSE:
        out = json_pack("{s:s, s:s}", "kind", "response", "answer", response_answer(&v->resp));
        add_response(out, &v->resp);
        return out;
    case SF_CACHE_VIEW_FLIGHT:
        out = json_pack(
            "{s:s, s:s}", "kind", "flight", "answer",
            v->revalidating && strcmp(response_answer(&v->resp), "STALE") == 0 ? "STALE" : "JOIN");
        if (v->revalidating) {
            json_t *old = json_object();
            add_response(old, &v->resp);
            json_object_set_new(out, "revalidates", old);
        }
        return out;
    case SF_CACHE_VIEW_PASS:
        return json_pack("{s:s, s:s, s:s?, s:I}", "kind", "hit_for_pass", "answer",
                         v->pass_left_ms > 0 ? "PASS" : "MISS", "reason", v->pass_reason,
                         "time_left_ms", (json_int_t)v->pass_left_ms);
    case SF_CACHE_VIEW_VARY:
        return json_pack("{s:s, s:s, s:o, s:I, s:o}", "kind", "vary", "answer",
                         vary_answer(v, selected), "vary", name_list(v->vary_names),
                         "variants_stored", (json_int_t)v->variants_stored, "variants",
                         variants(v, selected));
    case SF_CACHE_VIEW_SLICED: return sliced(v);
    case SF_CACHE_VIEW_NOTHING: break;
    }
    return json_pack("{s:s, s:s}", "kind", "nothing", "answer", "MISS");
}
