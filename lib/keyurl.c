/* keyurl: see keyurl.h. The forward mapping is the request path's own (sf_routes_match,
 * sf_route_upstream_target, sf_http_join_url, sf_cachekey_query: outbound.c builds a
 * GET's key from the same calls), so a URL computed here is the one a GET's object is
 * listed under, not a copy of the rule that could drift from it. The reverse mapping
 * (an upstream URL back to a client's target) undoes sf_http_join_url and strip_prefix;
 * a stripped path is the normalised one, which the route matches a GET on anyway. Pure. */
#include "keyurl.h"

#include "cachekey.h"
#include "route.h"

#include <stdlib.h>
#include <string.h>

/* (C) all of it: made by a worker, then read-only. */
struct sf_keymap {
    struct sf_keyurl_cfg cfg; /* borrowed: the pinned snapshot's */
    char *target;             /* the request's target, as received */
    char *url;                /* what it fetched */
    const char *base;         /* where from (borrowed); NULL: forward proxy */
    const struct sf_route_def *route;
    char *host;            /* its Host; NULL: none */
    struct sf_hdrs fields; /* its fields, which a GET's route may be chosen by */
};

char *sf_keyurl_get(const struct sf_keyurl_cfg *cfg, const char *host,
                    const struct sf_fields *fields, const char *target, bool key_query)
{
    struct sf_route_req rr = {"GET", host, target, fields};
    const struct sf_route_def *route = sf_routes_match(cfg->routes, &rr, NULL);
    char *url = NULL;
    if (target[0] == '/') {
        const char *base =
            route != NULL && route->set.upstream != NULL ? route->set.upstream : cfg->upstream;
        if (base == NULL)
            return NULL;
        char *sent = route != NULL ? sf_route_upstream_target(route, target) : sf_xstrdup(target);
        url = sf_http_join_url(base, sent);
        free(sent);
    } else if (strncmp(target, "http://", 7) == 0) {
        url = sf_xstrdup(target); /* a forward proxy's: fetched as its URL says */
    } else {
        return NULL;
    }
    if (!key_query || route == NULL)
        return url;
    char *keyed = sf_cachekey_query(url, &route->key);
    free(url);
    return keyed;
}

char *sf_keyurl_target(const char *url, const char *base, const struct sf_route_def *route)
{
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--; /* as sf_http_join_url joins */
    if (strncmp(url, base, blen) != 0 || strchr("/?", url[blen]) == NULL)
        return NULL; /* elsewhere, or "http://up/ab" under "http://up/a" (a NUL end is fine) */
    const char *rest = url + blen;
    const char *prefix = route != NULL && route->strip_prefix ? route->match.path_prefix : NULL;
    size_t plen = prefix != NULL ? strlen(prefix) : 0;
    if (plen > 0 && prefix[plen - 1] == '/')
        plen--;                  /* "/v1/" and "/users" make "/v1/users" */
    bool slash = rest[0] != '/'; /* "" or "?q": the path "/" */
    char *target = sf_xmalloc(plen + slash + strlen(rest) + 1);
    memcpy(target, prefix != NULL ? prefix : "", plen);
    strcpy(target + plen, slash ? "/" : "");
    strcat(target, rest);
    return target;
}

static char *map_field(void *ctx, const char *name)
{
    return sf_hdrs_join(ctx, name);
}

struct sf_keymap *sf_keymap_new(const struct sf_keyurl_cfg *cfg, const char *target,
                                const char *url, const char *base, const struct sf_route_def *route,
                                const char *host, struct sf_hdrs *fields)
{
    struct sf_keymap *m = sf_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m->target = sf_xstrdup(target);
    m->url = sf_xstrdup(url);
    m->base = base;
    m->route = route;
    m->host = sf_xstrdup_opt(host);
    m->fields = *fields;
    *fields = (struct sf_hdrs){0};
    return m;
}

void sf_keymap_free(struct sf_keymap *m)
{
    if (m == NULL)
        return;
    free(m->target);
    free(m->url);
    free(m->host);
    sf_hdrs_clear(&m->fields);
    free(m);
}

char *sf_keymap_url(const struct sf_keymap *m, const char *url)
{
    char *target;
    if (strcmp(url, m->url) == 0)
        target = sf_xstrdup(m->target); /* exact: not the normalised path a strip left */
    else if (m->base == NULL)
        target = sf_xstrdup(url); /* a forward proxy's target is its URL */
    else
        target = sf_keyurl_target(url, m->base, m->route);
    if (target == NULL)
        return NULL;
    struct sf_fields fields = {map_field, (void *)&m->fields};
    char *keyed = sf_keyurl_get(&m->cfg, m->host, &fields, target, true);
    free(target);
    return keyed;
}
