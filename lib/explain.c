/* explain: see explain.h. It walks the request path's decisions in the order the request
 * path will take them once routes are wired in: route (sf_routes_explain, which tries
 * every earlier route in full to say why each did not fit), upstream URL (the route's
 * upstream or the top level's, the target with strip_prefix applied), cache key
 * (cachekey.h, under the route's key rule). Pure. */
#include "explain.h"

#include "cachekey.h"
#include "confdump.h"
#include "route.h"

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
    bool keyed = (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0);
    struct sf_hdrs none = {0};
    const struct sf_hdrs *hdrs = req->fields != NULL ? req->fields : &none;
    const struct sf_key_rule *rule = route != NULL ? &route->key : NULL;
    char *key = NULL;
    if (keyed) {
        struct sf_key_request kr = {url, host, hdrs, cfg->preserve_host};
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
    /* XXX: drop once front.c takes routes (issue 20's next step). */
    json_object_set_new(out, "offline",
                        json_string("decided from the config alone: nothing was fetched or "
                                    "looked up; a running sfproxy loads and checks routes but "
                                    "does not apply them to requests yet"));
    free(url);
    free(origin_target);
    return out;
}
