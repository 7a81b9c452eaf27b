/* Unit tests for lib/cachekey.c: without a route the key is the one sfproxy has always
 * built (a table of requests against the keys sf_outbound_key gives them today); the
 * query kept, dropped and sorted; cookies narrowed; header fields and the Host added;
 * Authorization in every key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/cachekey.h"
#include "../../lib/policy.h"

#include <stdlib.h>
#include <string.h>

/* A request: url, host (or NULL), preserve_host, then field name, value pairs, NULL. */
static char *key_of(const struct sf_key_rule *rule, const char *url, const char *host,
                    int preserve_host, ...)
{
    struct sf_hdrs h = {0};
    va_list ap;
    va_start(ap, preserve_host);
    for (const char *name = va_arg(ap, const char *); name != NULL; name = va_arg(ap, const char *))
        sf_hdrs_add(&h, name, va_arg(ap, const char *));
    va_end(ap);
    struct sf_key_request r = {url, host, &h, preserve_host != 0};
    char *key = sf_cachekey_build(&r, rule);
    sf_hdrs_clear(&h);
    return key;
}

/* What sf_outbound_key builds today (lib/outbound.c): the Host when preserve_host, then
 * every credential line in the order sent, through sf_policy_key. */
static char *todays_key(const char *url, const char *host, bool preserve_host,
                        const struct sf_hdrs *h)
{
    struct sf_hdrs credentials = {0};
    if (preserve_host && host != NULL)
        sf_hdrs_add(&credentials, "Host", host);
    for (size_t i = 0; i < h->n; i++)
        if (sf_policy_is_credential(h->v[i].name))
            sf_hdrs_add(&credentials, h->v[i].name, h->v[i].value);
    char *key = sf_policy_key(url, &credentials);
    sf_hdrs_clear(&credentials);
    return key;
}

struct today_case {
    const char *url, *host;
    bool preserve_host;
    const char *fields[8]; /* name, value, ..., NULL */
    const char *expect;
};

static const struct today_case today[] = {
    {"http://o/x", "a.example", false, {NULL}, "http://o/x"},
    {"http://o/x?b=2&a=1&utm_source=z",
     "a.example",
     false,
     {NULL},
     "http://o/x?b=2&a=1&utm_source=z"},
    {"http://o/x", "a.example", true, {NULL}, "http://o/x\nhost:a.example"},
    {"http://o/x", NULL, true, {NULL}, "http://o/x"},
    {"http://o/x",
     "h",
     false,
     {"Accept", "*/*", "Authorization", "Bearer t", NULL},
     "http://o/x\nauthorization:Bearer t"},
    {"http://o/x",
     "h",
     false,
     {"Cookie", "a=1; b=2", "Cookie", "c=3", NULL},
     "http://o/x\ncookie:a=1; b=2\ncookie:c=3"},
    {"http://o/x",
     "h",
     true,
     {"COOKIE", "a=1", "Authorization", "Basic x", NULL},
     "http://o/x\nhost:h\ncookie:a=1\nauthorization:Basic x"},
    {"http://site.example/p?q", NULL, false, {"X-Ab", "1", NULL}, "http://site.example/p?q"},
};

static void test_no_route_is_todays_key(void **state)
{
    (void)state;
    struct sf_key_rule defaults = {0}; /* a route with no "key" block and no host match */
    for (size_t i = 0; i < sizeof today / sizeof today[0]; i++) {
        const struct today_case *c = &today[i];
        struct sf_hdrs h = {0};
        for (size_t j = 0; c->fields[j] != NULL; j += 2)
            sf_hdrs_add(&h, c->fields[j], c->fields[j + 1]);
        struct sf_key_request r = {c->url, c->host, &h, c->preserve_host};
        char *now = sf_cachekey_build(&r, NULL);
        char *with_route = sf_cachekey_build(&r, &defaults);
        char *before = todays_key(c->url, c->host, c->preserve_host, &h);
        if (strcmp(now, c->expect) != 0 || strcmp(before, c->expect) != 0 ||
            strcmp(with_route, c->expect) != 0)
            fail_msg("case %zu: expected %s; got %s (no route), %s (default route), %s (today)", i,
                     c->expect, now, with_route, before);
        free(now);
        free(with_route);
        free(before);
        sf_hdrs_clear(&h);
    }
}

struct query_case {
    enum sf_key_query query;
    const char *params[4];
    bool sort;
    const char *url, *expect;
};

static const struct query_case queries[] = {
    {SF_KEY_QUERY_ALL, {NULL}, false, "http://o/x?b=2&a=1", "http://o/x?b=2&a=1"},
    {SF_KEY_QUERY_NONE, {NULL}, false, "http://o/x?b=2&a=1", "http://o/x"},
    {SF_KEY_QUERY_NONE, {NULL}, false, "http://o/x", "http://o/x"},
    {SF_KEY_QUERY_DROP,
     {"utm_*", "fbclid", NULL},
     false,
     "http://o/x?utm_source=a&id=7&fbclid=z&utm_=1&fbclid2=3",
     "http://o/x?id=7&fbclid2=3"},
    {SF_KEY_QUERY_DROP, {"utm_*", NULL}, false, "http://o/x?utm_source=a", "http://o/x"},
    {SF_KEY_QUERY_KEEP,
     {"id", "page", NULL},
     false,
     "http://o/x?page=2&x=1&id=7&idx=8",
     "http://o/x?page=2&id=7"},
    {SF_KEY_QUERY_KEEP, {"*", NULL}, false, "http://o/x?a&b=", "http://o/x?a&b="},
    /* Sorted by name, stable among equal names, percent-encoding as sent. */
    {SF_KEY_QUERY_ALL,
     {NULL},
     true,
     "http://o/x?b=2&a=2&a=1&%41=3&ab=0",
     "http://o/x?%41=3&a=2&a=1&ab=0&b=2"},
    {SF_KEY_QUERY_DROP, {"t", NULL}, true, "http://o/x?z=1&&t=9&c", "http://o/x?c&z=1"},
    {SF_KEY_QUERY_ALL, {NULL}, true, "http://o/x?", "http://o/x"},
};

static void test_query(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        const struct query_case *c = &queries[i];
        struct sf_key_rule rule = {.query = c->query, .sort_query = c->sort};
        rule.params = (char **)c->params;
        while (c->params[rule.nparams] != NULL)
            rule.nparams++;
        char *got = sf_cachekey_query(c->url, &rule);
        if (strcmp(got, c->expect) != 0)
            fail_msg("case %zu (%s): expected %s, got %s", i, c->url, c->expect, got);
        free(got);
    }
}

static void test_cookies(void **state)
{
    (void)state;
    char n1[] = "ab", n2[] = "lang";
    char *names[] = {n1, n2};
    struct sf_key_rule rule = {.narrow_cookies = true, .cookies = names, .ncookies = 2};
    struct sf_hdrs h = {0};
    sf_hdrs_add(&h, "Cookie", "session=s3cr3t; ab=B ;_ga=GA1.2");
    sf_hdrs_add(&h, "Accept", "*/*");
    sf_hdrs_add(&h, "cookie", "lang=fr;abc=1");
    char *narrowed = sf_cachekey_cookies(&h, &rule);
    assert_string_equal(narrowed, "ab=B; lang=fr");
    free(narrowed);
    /* The key holds the narrowed Cookie, never the session. */
    struct sf_key_request r = {"http://o/x", "h", &h, false};
    char *key = sf_cachekey_build(&r, &rule);
    assert_string_equal(key, "http://o/x\ncookie:ab=B; lang=fr");
    free(key);
    sf_hdrs_clear(&h);
    /* Two users with the same A/B bucket share; another bucket does not. */
    char *a = key_of(&rule, "http://o/x", "h", false, "Cookie", "session=1; ab=A", NULL);
    char *b = key_of(&rule, "http://o/x", "h", false, "Cookie", "ab=A; session=2", NULL);
    char *c = key_of(&rule, "http://o/x", "h", false, "Cookie", "ab=B; session=2", NULL);
    char *none = key_of(&rule, "http://o/x", "h", false, "Cookie", "session=2", NULL);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_equal(none, "http://o/x");
    free(a);
    free(b);
    free(c);
    free(none);
    /* Pairs sent with a bare ";" come out joined by "; ": longer than they came (found by
     * fuzz_route: the buffer was sized for the input's length). */
    char many[400] = "", want[600] = "";
    for (int i = 0; i < 40; i++) {
        strcat(many, i ? ";ab=1" : "ab=1");
        strcat(want, i ? "; ab=1" : "ab=1");
    }
    sf_hdrs_add(&h, "Cookie", many);
    narrowed = sf_cachekey_cookies(&h, &rule);
    assert_string_equal(narrowed, want);
    free(narrowed);
    sf_hdrs_clear(&h);
    /* "cookies": [] sends and keys no cookie at all. */
    struct sf_key_rule no_cookies = {.narrow_cookies = true};
    sf_hdrs_add(&h, "Cookie", "session=1");
    assert_null(sf_cachekey_cookies(&h, &no_cookies));
    sf_hdrs_clear(&h);
}

static void test_authorization_host_and_headers(void **state)
{
    (void)state;
    char f1[] = "X-Ab-Bucket", f2[] = "Accept-Language";
    char *fields[] = {f1, f2};
    struct sf_key_rule rule = {.query = SF_KEY_QUERY_NONE,
                               .narrow_cookies = true,
                               .headers = fields,
                               .nheaders = 2,
                               .host = true};
    /* Authorization stays whatever the rule says about cookies and the query. */
    char *k1 = key_of(&rule, "http://o/x?a=1", "Site.example", false, "Authorization", "Bearer 1",
                      "Cookie", "s=1", "X-AB-Bucket", "b", NULL);
    assert_string_equal(k1,
                        "http://o/x\nhost:Site.example\nauthorization:Bearer 1\n+x-ab-bucket:b");
    char *k2 = key_of(&rule, "http://o/x", "Site.example", false, "Authorization", "Bearer 2",
                      "X-AB-Bucket", "b", NULL);
    assert_string_not_equal(k1, k2);
    /* An empty value is not an absent field. */
    char *empty = key_of(&rule, "http://o/x", NULL, false, "Accept-Language", "", NULL);
    char *absent = key_of(&rule, "http://o/x", NULL, false, NULL);
    assert_string_equal(empty, "http://o/x\n+accept-language:");
    assert_string_equal(absent, "http://o/x");
    /* Two values of one field are joined, as a request's field is read. */
    char *two = key_of(&rule, "http://o/x", NULL, false, "Accept-Language", "fr", "Accept-Language",
                       "de", NULL);
    assert_string_equal(two, "http://o/x\n+accept-language:fr, de");
    free(k1);
    free(k2);
    free(empty);
    free(absent);
    free(two);
    /* A route that matched on the host keys it; with preserve_host it is there once. */
    struct sf_key_rule host_only = {.host = true};
    char *h1 = key_of(&host_only, "http://o/x", "a.example", true, NULL);
    assert_string_equal(h1, "http://o/x\nhost:a.example");
    free(h1);
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(sf_cachekey_glob("utm_*", "utm_source", 10));
    assert_true(sf_cachekey_glob("utm_*", "utm_", 4));
    assert_false(sf_cachekey_glob("utm_*", "utm", 3));
    assert_true(sf_cachekey_glob("*", "", 0));
    assert_true(sf_cachekey_glob("id", "id=3", 2));
    assert_false(sf_cachekey_glob("id", "idx", 3));
    assert_false(sf_cachekey_glob("ID", "id", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_route_is_todays_key),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_cookies),
        cmocka_unit_test(test_authorization_host_and_headers),
        cmocka_unit_test(test_glob),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
