/* Unit tests for lib/route.c: the first fitting route wins in declared order; hosts
 * (exact, wildcard, port, case, absolute-form), path prefixes nested and exact, patterns,
 * methods, header and query conditions; the index agrees with trying every route in order
 * and tries few routes when it can exclude the rest; explain's reasons; the path as routes
 * see it; strip_prefix; hidden routes; patterns on several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/route.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
    return s != NULL ? sf_xstrdup(s) : NULL;
}

/* Adds a route: name, host, path_prefix, path_exact, path_regex (each may be NULL). */
static struct sf_route_def *add(struct sf_routes *rs, const char *name, const char *host,
                                const char *prefix, const char *exact, const char *regex)
{
    struct sf_route_def *r = sf_routes_add(rs);
    assert_non_null(r);
    r->name = sf_xstrdup(name);
    r->match.host = dup_or_null(host);
    r->match.path_prefix = dup_or_null(prefix);
    r->match.path_exact = dup_or_null(exact);
    if (regex != NULL) {
        char err[128];
        size_t at;
        r->match.path_regex = sf_xstrdup(regex);
        assert_true(sf_route_compile(regex, &r->match._path_code, err, sizeof err, &at));
    }
    return r;
}

static void set_methods(struct sf_route_def *r, const char *a, const char *b)
{
    r->match.methods = sf_xcalloc(2, sizeof *r->match.methods);
    r->match.methods[r->match.nmethods++] = sf_xstrdup(a);
    if (b != NULL)
        r->match.methods[r->match.nmethods++] = sf_xstrdup(b);
}

/* Request fields as "Name: value" lines, for sf_fields. */
static char *get_field(void *ctx, const char *name)
{
    const char *const *lines = ctx;
    for (size_t i = 0; lines != NULL && lines[i] != NULL; i++) {
        size_t n = strlen(name);
        if (strncasecmp(lines[i], name, n) == 0 && lines[i][n] == ':')
            return sf_xstrdup(lines[i] + n + 2);
    }
    return NULL;
}

/* The name of the route a request takes ("-" for none), checked against explain's. */
static const char *route_of(const struct sf_routes *rs, const char *method, const char *host,
                            const char *target, const char *const *fields)
{
    struct sf_fields f = {get_field, (void *)fields};
    struct sf_route_req req = {method, host, target, &f};
    const struct sf_route_def *r = sf_routes_match(rs, &req, NULL);
    char **why = sf_xcalloc(sf_routes_count(rs) + 1, sizeof *why);
    const struct sf_route_def *slow = sf_routes_explain(rs, &req, why);
    for (size_t i = 0; i < sf_routes_count(rs); i++)
        free(why[i]);
    free(why);
    if (r != slow)
        fail_msg("%s %s %s: the index chose %s, trying every route in order %s", method,
                 host ? host : "-", target, r ? r->name : "-", slow ? slow->name : "-");
    return r != NULL ? r->name : "-";
}

#define ROUTE(rs, m, h, t, expect) assert_string_equal(route_of(rs, m, h, t, NULL), expect)

static void test_first_fitting_wins(void **state)
{
    (void)state;
    struct sf_routes *rs = sf_routes_new();
    add(rs, "packages", NULL, NULL, NULL, "^/debian/(pool/|dists/.*/by-hash/)");
    add(rs, "indexes", NULL, "/debian/dists/", NULL, NULL);
    struct sf_route_def *api = add(rs, "api", "api.example.com", "/v1/", NULL, NULL);
    set_methods(api, "GET", "HEAD");
    add(rs, "account", NULL, "/account/", NULL, NULL);
    add(rs, "static", NULL, NULL, NULL, "\\.(css|js|png|woff2)$");
    add(rs, "home", NULL, NULL, "/", NULL);
    add(rs, "sites", "*.example.com", NULL, NULL, NULL);
    sf_routes_index(rs);
    ROUTE(rs, "GET", "mirror", "/debian/pool/main/h/hello/hello_2.10.deb", "packages");
    ROUTE(rs, "GET", "mirror", "/debian/dists/bookworm/main/by-hash/SHA256/ab", "packages");
    ROUTE(rs, "GET", "mirror", "/debian/dists/bookworm/InRelease", "indexes");
    ROUTE(rs, "GET", "api.example.com", "/v1/users?id=3", "api");
    ROUTE(rs, "GET", "API.Example.COM:8080", "/v1/users", "api");
    ROUTE(rs, "GET", "api.example.com.", "/v1/users", "api");
    ROUTE(rs, "POST", "api.example.com", "/v1/users", "sites"); /* not api's method */
    ROUTE(rs, "GET", "other.example", "/v1/users", "-");
    ROUTE(rs, "GET", "x", "/account/settings", "account");
    ROUTE(rs, "GET", "x", "/account/app.js", "account"); /* declared before static */
    ROUTE(rs, "GET", "x", "/app.js?v=3", "static");      /* the query is not the path */
    ROUTE(rs, "GET", "x", "/app.js.map", "-");
    ROUTE(rs, "GET", "x", "/", "home");
    ROUTE(rs, "GET", "x", "/?q=1", "home");
    ROUTE(rs, "GET", "www.example.com", "/about", "sites");
    ROUTE(rs, "GET", "a.b.example.com", "/about", "sites");
    ROUTE(rs, "GET", "example.com", "/about", "-"); /* "*.example.com" wants a label more */
    ROUTE(rs, "GET", "badexample.com", "/about", "-");
    ROUTE(rs, "GET", NULL, "/about", "-");
    /* Absolute-form (a forward proxy's request): its host counts, not the Host field. */
    ROUTE(rs, "GET", "x", "http://api.example.com/v1/users", "api");
    ROUTE(rs, "GET", "api.example.com", "http://www.example.com/v1/", "sites");
    ROUTE(rs, "GET", "x", "http://mirror:8080/debian/dists/sid/Release", "indexes");
    /* Paths as the origin reads them: escapes of plain characters, dot segments. */
    ROUTE(rs, "GET", "x", "/%61ccount/x", "account");
    ROUTE(rs, "GET", "x", "/public/../account/x", "account");
    ROUTE(rs, "GET", "x", "/account", "-");
    sf_routes_free(rs);
}

static void test_nested_prefixes(void **state)
{
    (void)state;
    struct sf_routes *rs = sf_routes_new();
    add(rs, "deep", NULL, "/a/b/c/", NULL, NULL);
    add(rs, "ab-regex", NULL, "/a/b/", NULL, "\\.json$");
    add(rs, "a", NULL, "/a/", NULL, NULL);
    add(rs, "ab", NULL, "/a/b/", NULL, NULL); /* after "/a/": taken only when "a" is not */
    add(rs, "abd", NULL, "/a/bd", NULL, NULL);
    add(rs, "exact", NULL, NULL, "/z", NULL);
    add(rs, "az", NULL, "/az", NULL, NULL);
    sf_routes_index(rs);
    ROUTE(rs, "GET", "h", "/a/b/c/d", "deep");
    ROUTE(rs, "GET", "h", "/a/b/x.json", "ab-regex");
    ROUTE(rs, "GET", "h", "/a/b/x.xml", "a");
    ROUTE(rs, "GET", "h", "/a/bd", "a");
    ROUTE(rs, "GET", "h", "/a", "-");
    ROUTE(rs, "GET", "h", "/az/q", "az");
    ROUTE(rs, "GET", "h", "/a0", "-"); /* sorts between "/a/..." and "/az" */
    ROUTE(rs, "GET", "h", "/z", "exact");
    ROUTE(rs, "GET", "h", "/z/", "-");
    ROUTE(rs, "GET", "h", "/", "-");
    sf_routes_free(rs);
}

static void test_conditions(void **state)
{
    (void)state;
    struct sf_routes *rs = sf_routes_new();
    struct sf_route_def *beta = add(rs, "beta", NULL, "/app/", NULL, NULL);
    beta->match.headers = sf_xcalloc(1, sizeof *beta->match.headers);
    beta->match.headers[0] = (struct sf_route_header){sf_xstrdup("X-Beta"), true, NULL, NULL};
    beta->match.nheaders = 1;
    struct sf_route_def *bots = add(rs, "bots", NULL, "/app/", NULL, NULL);
    bots->match.headers = sf_xcalloc(1, sizeof *bots->match.headers);
    bots->match.headers[0] =
        (struct sf_route_header){sf_xstrdup("User-Agent"), true, sf_xstrdup("(?i)bot"), NULL};
    char err[64];
    size_t at;
    assert_true(sf_route_compile("(?i)bot", &bots->match.headers[0]._code, err, sizeof err, &at));
    bots->match.nheaders = 1;
    struct sf_route_def *debug = add(rs, "debug", NULL, "/app/", NULL, NULL);
    debug->match.query = sf_xcalloc(1, sizeof *debug->match.query);
    debug->match.query[debug->match.nquery++] = sf_xstrdup("debug");
    struct sf_route_def *anon = add(rs, "anonymous", NULL, "/app/", NULL, NULL);
    anon->match.headers = sf_xcalloc(1, sizeof *anon->match.headers);
    anon->match.headers[0] = (struct sf_route_header){sf_xstrdup("Cookie"), false, NULL, NULL};
    anon->match.nheaders = 1;
    sf_routes_index(rs);
    const char *const with_beta[] = {"X-Beta: 1", NULL};
    const char *const googlebot[] = {"User-Agent: Googlebot/2.1", "Cookie: a=1", NULL};
    const char *const browser[] = {"User-Agent: Firefox", "Cookie: a=1", NULL};
    const char *const nothing[] = {NULL};
    assert_string_equal(route_of(rs, "GET", "h", "/app/x", with_beta), "beta");
    assert_string_equal(route_of(rs, "GET", "h", "/app/x", googlebot), "bots");
    assert_string_equal(route_of(rs, "GET", "h", "/app/x?a=1&debug", browser), "debug");
    assert_string_equal(route_of(rs, "GET", "h", "/app/x?debug=1", browser), "debug");
    assert_string_equal(route_of(rs, "GET", "h", "/app/x?nodebug=1", browser), "-");
    assert_string_equal(route_of(rs, "GET", "h", "/app/x", nothing), "anonymous");
    assert_string_equal(route_of(rs, "GET", "h", "/app/x", NULL), "anonymous");
    sf_routes_free(rs);
}

/* 100 routes, 20 of them patterns, each under a prefix or a host of its own: a request
 * tries only what its host and path leave, and the index agrees with trying every route. */
static void test_index_tries_few(void **state)
{
    (void)state;
    struct sf_routes *rs = sf_routes_new();
    char name[32], text[64];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "r%d", i);
        if (i % 5 == 0) {
            snprintf(text, sizeof text, "^/p%d/.*\\.(png|css)$", i);
            struct sf_route_def *r = add(rs, name, NULL, NULL, NULL, text);
            free(r->match.path_prefix);
            snprintf(text, sizeof text, "/p%d/", i);
            r->match.path_prefix = sf_xstrdup(text);
        } else if (i % 5 == 1) {
            snprintf(text, sizeof text, "h%d.example.com", i);
            add(rs, name, text, NULL, NULL, NULL);
        } else {
            snprintf(text, sizeof text, "/p%d/", i);
            add(rs, name, NULL, text, NULL, NULL);
        }
    }
    sf_routes_index(rs);
    size_t tried;
    struct sf_route_req req = {"GET", "www", "/p50/a.png", NULL};
    const struct sf_route_def *r = sf_routes_match(rs, &req, &tried);
    assert_string_equal(r->name, "r50");
    assert_int_equal(tried, 1);
    req.target = "/p50/a.txt"; /* the pattern fails: nothing else is tried */
    assert_null(sf_routes_match(rs, &req, &tried));
    assert_int_equal(tried, 1);
    req.host = "h31.example.com";
    req.target = "/p52/x";
    r = sf_routes_match(rs, &req, &tried);
    assert_string_equal(r->name, "r31");
    assert_int_equal(tried, 1);
    req.target = "/nothing";
    req.host = "www";
    assert_null(sf_routes_match(rs, &req, &tried));
    assert_int_equal(tried, 0);
    /* Every request of a table: the same route as trying all in order. */
    const char *hosts[] = {"www", "h1.example.com", "h96.example.com", NULL};
    for (int i = 0; i < 110; i += 3) {
        for (size_t h = 0; h < 4; h++) {
            snprintf(text, sizeof text, "/p%d/f%s", i, i % 2 ? ".png" : "");
            route_of(rs, "GET", hosts[h], text, NULL);
        }
    }
    sf_routes_free(rs);
}

static void test_explain(void **state)
{
    (void)state;
    struct sf_routes *rs = sf_routes_new();
    add(rs, "packages", NULL, NULL, NULL, "^/debian/pool/");
    struct sf_route_def *api = add(rs, "api", "api.example.com", "/v1/", NULL, NULL);
    set_methods(api, "GET", NULL);
    add(rs, "exact", NULL, NULL, "/v1/x", NULL);
    add(rs, "v1", NULL, "/v1/", NULL, NULL);
    add(rs, "late", NULL, "/", NULL, NULL);
    sf_routes_index(rs);
    struct sf_route_req req = {"POST", "api.example.com", "/v1/users", NULL};
    char *why[5];
    const struct sf_route_def *r = sf_routes_explain(rs, &req, why);
    assert_string_equal(r->name, "v1");
    assert_string_equal(why[0], "path \"/v1/users\" does not match path_regex \"^/debian/pool/\"");
    assert_string_equal(why[1], "method POST is not listed in methods");
    assert_string_equal(why[2], "path \"/v1/users\" is not path_exact \"/v1/x\"");
    assert_null(why[3]);
    assert_null(why[4]);
    for (size_t i = 0; i < 3; i++)
        free(why[i]);
    req.host = "www";
    req.target = "http://other/x";
    assert_string_equal(sf_routes_explain(rs, &req, why)->name, "late");
    assert_string_equal(why[1], "host \"other\" is not api.example.com");
    assert_string_equal(why[3], "path \"/x\" does not start with path_prefix \"/v1/\"");
    for (size_t i = 0; i < 4; i++)
        free(why[i]);
    sf_routes_free(rs);
}

static void test_paths(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"/", "/"},
        {"/a/b?x=1", "/a/b"},
        {"", "/"},
        {"http://h:80", "/"},
        {"http://h/x/y?q", "/x/y"},
        {"/%61%7E%2d", "/a~-"},
        {"/%2f%2F%zz%4", "/%2F%2F%zz%4"},
        {"/a/./b/../c", "/a/c"},
        {"/a/b/..", "/a/"},
        {"/../../x", "/x"},
        {"/a/.", "/a/"},
        {"/a/%2e%2E/b", "/b"},
        {"/a//b", "/a/b"},
        {"//account///x/", "/account/x/"},
        {"/a/..//b", "/b"},
        {"http://h//x", "/x"},
        {"/.hidden/..x", "/.hidden/..x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = sf_route_path(cases[i][0]);
        if (strcmp(p, cases[i][1]) != 0)
            fail_msg("\"%s\": expected \"%s\", got \"%s\"", cases[i][0], cases[i][1], p);
        free(p);
    }
}

static void test_strip_prefix(void **state)
{
    (void)state;
    struct sf_routes *rs = sf_routes_new();
    struct sf_route_def *a = add(rs, "a", NULL, "/v1/", NULL, NULL);
    struct sf_route_def *b = add(rs, "b", NULL, "/api", NULL, NULL);
    a->strip_prefix = b->strip_prefix = true;
    static const char *const cases[][3] = {
        {"a", "/v1/users?id=%41&x", "/users?id=%41&x"},
        {"a", "/v1/", "/"},
        {"a", "/v1/%75sers", "/users"},
        {"b", "/api/x", "/x"},
        {"b", "/api", "/"},
        {"b", "/apix", "/x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = sf_route_upstream_target(cases[i][0][0] == 'a' ? a : b, cases[i][1]);
        if (strcmp(t, cases[i][2]) != 0)
            fail_msg("%s: expected \"%s\", got \"%s\"", cases[i][1], cases[i][2], t);
        free(t);
    }
    a->strip_prefix = false;
    char *t = sf_route_upstream_target(a, "/v1/%75sers?q");
    assert_string_equal(t, "/v1/%75sers?q"); /* without strip_prefix: as received */
    free(t);
    sf_routes_free(rs);
}

static void test_hidden(void **state)
{
    (void)state;
    struct sf_routes *rs = sf_routes_new();
    add(rs, "site", "*.example.com", "/a/", NULL, NULL);
    add(rs, "one-host", "www.example.com", "/a/b/", NULL, NULL);   /* hidden by site */
    add(rs, "other-host", "www.example.org", "/a/b/", NULL, NULL); /* not */
    add(rs, "sub", "*.x.example.com", "/a/", NULL, NULL);          /* hidden by site */
    add(rs, "regex", NULL, "/b/", NULL, "x$");
    add(rs, "b", NULL, "/b/", NULL, NULL); /* a pattern before hides nothing */
    add(rs, "bx", NULL, NULL, "/b/x", NULL);
    add(rs, "all", NULL, NULL, NULL, NULL);
    add(rs, "after-all", "h", NULL, "/", NULL);
    long expect[] = {-1, 0, -1, 0, -1, -1, 5, -1, 7};
    for (size_t i = 0; i < 9; i++)
        if (sf_routes_shadowed_by(rs, i) != expect[i])
            fail_msg("route %zu: expected hidden by %ld, got %ld", i, expect[i],
                     sf_routes_shadowed_by(rs, i));
    sf_routes_free(rs);
}

static void test_bad_pattern(void **state)
{
    (void)state;
    char err[256];
    size_t at = 0;
    void *code = NULL;
    assert_false(sf_route_compile("\\.(css|js$", &code, err, sizeof err, &at));
    assert_string_equal(err, "missing closing parenthesis");
    assert_int_equal(at, 10);
    assert_null(code);
    printf("PCRE2 JIT %s\n", sf_route_jit_available() ? "available" : "not available");
}

/* The compiled pattern is shared; each thread matches with its own match data. */
struct worker {
    const void *code;
    int matched;
};

static void *match_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 20000; i++) {
        char path[64];
        snprintf(path, sizeof path, "/static/f%d.%s", i, i % 2 ? "css" : "txt");
        w->matched += sf_route_regex_match(w->code, path, strlen(path));
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    char err[64];
    size_t at;
    void *code;
    assert_true(sf_route_compile("\\.(css|js)$", &code, err, sizeof err, &at));
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){code, 0};
        assert_int_equal(pthread_create(&t[i], NULL, match_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].matched, 10000);
    }
    /* A pattern that backtracks without end stops at the match limit: no match. */
    void *slow;
    assert_true(sf_route_compile("^(a+)+$", &slow, err, sizeof err, &at));
    char subject[64];
    memset(subject, 'a', 40);
    strcpy(subject + 40, "b");
    assert_false(sf_route_regex_match(slow, subject, strlen(subject)));
    /* Freed through a route, which owns what it holds. */
    struct sf_routes *rs = sf_routes_new();
    struct sf_route_def *r = sf_routes_add(rs);
    r->name = sf_xstrdup("x");
    r->match._path_code = code;
    r = sf_routes_add(rs);
    r->name = sf_xstrdup("y");
    r->match._path_code = slow;
    sf_routes_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_fitting_wins),
        cmocka_unit_test(test_nested_prefixes),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_index_tries_few),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_strip_prefix),
        cmocka_unit_test(test_hidden),
        cmocka_unit_test(test_bad_pattern),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
