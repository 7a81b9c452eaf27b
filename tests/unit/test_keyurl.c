/* Unit tests for lib/keyurl.c: the URL a GET of a target is stored under (its route's
 * upstream, strip_prefix and query rule, or the top level's upstream; a forward proxy's
 * absolute target; method, host and header conditions seen as a GET's); an upstream URL
 * back to the client's target (strip_prefix put back, a base with a path, URLs not under
 * the base); a keymap's mapping of its own URL and of a Location, as invalidation uses
 * it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/keyurl.h"
#include "../../lib/route.h"

#include <stdlib.h>
#include <string.h>

#define TOP "http://top:8080"

static char *dup_or_null(const char *s)
{
    return s != NULL ? sf_xstrdup(s) : NULL;
}

/* Adds a route: name, host and path_prefix (may be NULL), its upstream (NULL: the top
 * level's), strip_prefix. */
static struct sf_route_def *add(struct sf_routes *rs, const char *name, const char *host,
                                const char *prefix, const char *upstream, bool strip)
{
    struct sf_route_def *r = sf_routes_add(rs);
    assert_non_null(r);
    r->name = sf_xstrdup(name);
    r->match.host = dup_or_null(host);
    r->match.path_prefix = dup_or_null(prefix);
    r->set.upstream = dup_or_null(upstream);
    r->strip_prefix = strip;
    return r;
}

static char **list(const char *a, const char *b)
{
    char **v = sf_xcalloc(2, sizeof *v);
    v[0] = sf_xstrdup(a);
    v[1] = dup_or_null(b);
    return v;
}

/* The routes of the cases: the "api" (GET and HEAD only, its own upstream,
 * strip_prefix), query rules, a host route, a route chosen by a header. */
static struct sf_routes *routes(void)
{
    struct sf_routes *rs = sf_routes_new();
    struct sf_route_def *api = add(rs, "api", NULL, "/v1/", "http://10.0.0.5:9000", true);
    api->match.methods = list("GET", "HEAD");
    api->match.nmethods = 2;
    add(rs, "none", NULL, "/q/", NULL, false)->key.query = SF_KEY_QUERY_NONE;
    struct sf_route_def *drop = add(rs, "drop", NULL, "/d/", NULL, false);
    drop->key.query = SF_KEY_QUERY_DROP;
    drop->key.params = list("utm_*", NULL);
    drop->key.nparams = 1;
    add(rs, "sorted", NULL, "/s/", "http://sorted/base/", false)->key.sort_query = true;
    add(rs, "site", "h.example", "/h/", "http://site", true);
    struct sf_route_def *beta = add(rs, "beta", NULL, "/b/", "http://beta", false);
    beta->match.headers = sf_xcalloc(1, sizeof *beta->match.headers);
    beta->match.headers[0].name = sf_xstrdup("X-Beta");
    beta->match.headers[0].present = true;
    beta->match.nheaders = 1;
    sf_routes_index(rs);
    return rs;
}

static char *lines_field(void *ctx, const char *name)
{
    return sf_hdrs_join(ctx, name);
}

/* Checks the key URL of a GET of target (NULL expected: none). */
static void expect_get(const struct sf_keyurl_cfg *cfg, const char *host,
                       const struct sf_hdrs *fields, const char *target, bool key_query,
                       const char *want)
{
    struct sf_fields f = {lines_field, (void *)fields};
    char *got = sf_keyurl_get(cfg, host, fields != NULL ? &f : NULL, target, key_query);
    if (want == NULL && got != NULL)
        fail_msg("GET %s: expected none, got %s", target, got);
    if (want != NULL && (got == NULL || strcmp(got, want) != 0))
        fail_msg("GET %s: expected %s, got %s", target, want, got ? got : "(none)");
    free(got);
}

static void test_get_key_urls(void **state)
{
    (void)state;
    struct sf_routes *rs = routes();
    struct sf_keyurl_cfg cfg = {rs, TOP};
    /* The route's upstream and strip_prefix: a POST to it takes no route, a GET does. */
    expect_get(&cfg, NULL, NULL, "/v1/users?id=3", true, "http://10.0.0.5:9000/users?id=3");
    expect_get(&cfg, NULL, NULL, "/v1/%61/../users", true, "http://10.0.0.5:9000/users");
    /* The query as the key keeps it; with key_query false, as given (a prefix purge). */
    expect_get(&cfg, NULL, NULL, "/q/x?a=1", true, TOP "/q/x");
    expect_get(&cfg, NULL, NULL, "/q/x?a=1", false, TOP "/q/x?a=1");
    expect_get(&cfg, NULL, NULL, "/d/x?a=1&utm_source=m&b=2", true, TOP "/d/x?a=1&b=2");
    expect_get(&cfg, NULL, NULL, "/s/x?b=1&a=2", true, "http://sorted/base/s/x?a=2&b=1");
    /* A host route only for its host; a header route only with its field. */
    expect_get(&cfg, "h.example:80", NULL, "/h/z", true, "http://site/z");
    expect_get(&cfg, NULL, NULL, "/h/z", true, TOP "/h/z");
    struct sf_hdrs beta = {0};
    sf_hdrs_add(&beta, "x-beta", "1");
    expect_get(&cfg, NULL, &beta, "/b/y", true, "http://beta/b/y");
    expect_get(&cfg, NULL, NULL, "/b/y", true, TOP "/b/y");
    sf_hdrs_clear(&beta);
    /* No route: the top level's upstream; none at all: nowhere. */
    expect_get(&cfg, NULL, NULL, "/plain?z=1", true, TOP "/plain?z=1");
    struct sf_keyurl_cfg bare = {rs, NULL};
    expect_get(&bare, NULL, NULL, "/plain", true, NULL);
    expect_get(&bare, NULL, NULL, "/v1/users", true, "http://10.0.0.5:9000/users");
    /* A forward proxy's absolute target: its URL, its query under the route's rule. */
    expect_get(&bare, NULL, NULL, "http://o.example/q/x?a=1", true, "http://o.example/q/x");
    expect_get(&bare, NULL, NULL, "ftp://o.example/x", true, NULL);
    struct sf_keyurl_cfg none = {NULL, TOP};
    expect_get(&none, NULL, NULL, "/q/x?a=1", true, TOP "/q/x?a=1");
    sf_routes_free(rs);
}

static void expect_target(const char *url, const char *base, const struct sf_route_def *r,
                          const char *want)
{
    char *got = sf_keyurl_target(url, base, r);
    if (want == NULL && got != NULL)
        fail_msg("%s under %s: expected none, got %s", url, base, got);
    if (want != NULL && (got == NULL || strcmp(got, want) != 0))
        fail_msg("%s under %s: expected %s, got %s", url, base, want, got ? got : "(none)");
    free(got);
}

static void test_targets_of_upstream_urls(void **state)
{
    (void)state;
    struct sf_routes *rs = routes();
    const struct sf_route_def *api = sf_routes_at(rs, 0), *none = sf_routes_at(rs, 1);
    expect_target(TOP "/v1/users/7?x=1", TOP, NULL, "/v1/users/7?x=1");
    expect_target(TOP "/v1/users/7", TOP "/", NULL, "/v1/users/7"); /* joined without it */
    expect_target(TOP, TOP, NULL, "/");
    expect_target(TOP "?a=1", TOP, NULL, "/?a=1");
    expect_target("http://top:80801/x", TOP, NULL, NULL); /* another port */
    expect_target("http://other/x", TOP, NULL, NULL);
    expect_target("http://up/app/x", "http://up/app", NULL, "/x");
    expect_target("http://up/apple/x", "http://up/app", NULL, NULL);
    /* strip_prefix put back; a route that does not strip leaves the path. */
    expect_target("http://10.0.0.5:9000/users/7", "http://10.0.0.5:9000", api, "/v1/users/7");
    expect_target("http://10.0.0.5:9000/", "http://10.0.0.5:9000", api, "/v1/");
    expect_target("http://10.0.0.5:9000?a=1", "http://10.0.0.5:9000", api, "/v1/?a=1");
    expect_target(TOP "/q/x", TOP, none, "/q/x");
    sf_routes_free(rs);
}

/* A keymap for a request to target fetched as url from base by route r. */
static struct sf_keymap *map_of(const struct sf_keyurl_cfg *cfg, const char *target,
                                const char *url, const char *base, const struct sf_route_def *r,
                                const char *host)
{
    struct sf_hdrs fields = {0};
    sf_hdrs_add(&fields, "Content-Type", "text/plain");
    struct sf_keymap *m = sf_keymap_new(cfg, target, url, base, r, host, &fields);
    assert_int_equal(fields.n, 0); /* taken over */
    return m;
}

static void expect_mapped(const struct sf_keymap *m, const char *url, const char *want)
{
    char *got = sf_keymap_url(m, url);
    if (want == NULL && got != NULL)
        fail_msg("%s: expected none, got %s", url, got);
    if (want != NULL && (got == NULL || strcmp(got, want) != 0))
        fail_msg("%s: expected %s, got %s", url, want, got ? got : "(none)");
    free(got);
}

static void test_keymaps(void **state)
{
    (void)state;
    struct sf_routes *rs = routes();
    struct sf_keyurl_cfg cfg = {rs, TOP};
    /* The case: a POST to /v1/users takes no route; a GET of it, of its Location,
     * is stored under the api route's upstream. */
    struct sf_keymap *m = map_of(&cfg, "/v1/users", TOP "/v1/users", TOP, NULL, NULL);
    expect_mapped(m, TOP "/v1/users", "http://10.0.0.5:9000/users");
    expect_mapped(m, TOP "/v1/users/7", "http://10.0.0.5:9000/users/7");
    expect_mapped(m, TOP "/q/x?a=1", TOP "/q/x");
    expect_mapped(m, "http://elsewhere/v1/users", NULL);
    sf_keymap_free(m);
    /* A request through a stripping route: its own target as received (not normalised),
     * its Location (in the upstream's space) back under the prefix. */
    const struct sf_route_def *site = sf_routes_at(rs, 4);
    m = map_of(&cfg, "/h/%61?b=1&a=2", "http://site/a?b=1&a=2", "http://site", site, "h.example");
    expect_mapped(m, "http://site/a?b=1&a=2", "http://site/a?b=1&a=2");
    expect_mapped(m, "http://site/new", "http://site/new");
    sf_keymap_free(m);
    /* Without its Host, a GET of the same target would take another route. */
    m = map_of(&cfg, "/h/a", TOP "/h/a", TOP, NULL, NULL);
    expect_mapped(m, TOP "/h/a", TOP "/h/a");
    sf_keymap_free(m);
    /* A forward proxy's request: a URL is its own target. */
    struct sf_keyurl_cfg bare = {rs, NULL};
    m = map_of(&bare, "http://o.example/q/x?a=1", "http://o.example/q/x?a=1", NULL, NULL, NULL);
    expect_mapped(m, "http://o.example/q/x?a=1", "http://o.example/q/x");
    expect_mapped(m, "http://o.example/s/y?b=1&a=2", "http://o.example/s/y?a=2&b=1");
    sf_keymap_free(m);
    sf_keymap_free(NULL);
    sf_routes_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_key_urls),
        cmocka_unit_test(test_targets_of_upstream_urls),
        cmocka_unit_test(test_keymaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
