/* clientview: see clientview.h. The fields to take out are collected first (a
 * libmicrohttpd response cannot be changed while its fields are walked), each removed by
 * its name and value as the walk found them, then the route's are added. */
#include "clientview.h"

#include "http.h"
#include "route.h"

bool sf_clientview_changes(const struct sf_route_def *route)
{
    return route != NULL && (route->client_cache_control != NULL || route->response_set.n > 0 ||
                             route->nresponse_remove > 0);
}

/* Whether route's client_cache_control replaces the response's: on what sfproxy shares,
 * and on one user's own response only when it keeps it one user's (private or no-store).
 * "public, max-age=300" on a private response with a Set-Cookie would let a shared cache
 * in front keep one user's answer for everyone. */
static bool replaces_cache_control(const struct sf_route_def *route, bool shared)
{
    const char *cc = route->client_cache_control;
    return cc != NULL &&
           (shared || sf_http_list_has(cc, "private") || sf_http_list_has(cc, "no-store"));
}

/* Whether the response field name goes before route's are added (cc: its Cache-Control is
 * replaced). */
static bool goes(const struct sf_route_def *route, bool cc, const char *name)
{
    if (cc && (sf_streq_ci(name, "Cache-Control") || sf_streq_ci(name, "Expires") ||
               sf_streq_ci(name, "Age") || sf_streq_ci(name, "Date")))
        return true;
    for (size_t i = 0; i < route->nresponse_remove; i++)
        if (sf_streq_ci(name, route->response_remove[i]))
            return true;
    /* "set" replaces: the field has the route's value only, not the origin's beside it. */
    return sf_hdrs_get(&route->response_set, name) != NULL;
}

struct doomed {
    const struct sf_route_def *route;
    bool cc; /* its Cache-Control is replaced */
    struct sf_hdrs found;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *name,
                               const char *value)
{
    struct doomed *d = cls;
    if (kind == MHD_HEADER_KIND && value != NULL && goes(d->route, d->cc, name))
        sf_hdrs_add(&d->found, name, value);
    return MHD_YES;
}

bool sf_clientview_apply(struct MHD_Response *resp, const struct sf_route_def *route, bool shared,
                         int64_t now_s)
{
    if (!sf_clientview_changes(route))
        return true;
    struct doomed d = {route, replaces_cache_control(route, shared), {0}};
    MHD_get_response_headers(resp, collect, &d);
    bool ok = true;
    for (size_t i = 0; ok && i < d.found.n; i++)
        ok = MHD_del_response_header(resp, d.found.v[i].name, d.found.v[i].value) == MHD_YES;
    sf_hdrs_clear(&d.found);
    if (ok && d.cc) {
        char date[40];
        sf_http_date_format(now_s, date, sizeof date);
        ok = MHD_add_response_header(resp, "Cache-Control", route->client_cache_control) ==
                 MHD_YES &&
             MHD_add_response_header(resp, "Date", date) == MHD_YES;
    }
    for (size_t i = 0; ok && i < route->response_set.n; i++)
        ok = MHD_add_response_header(resp, route->response_set.v[i].name,
                                     route->response_set.v[i].value) == MHD_YES;
    return ok;
}
