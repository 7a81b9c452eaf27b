/* Unit tests for lib/policy.c's helpers: keys, age arithmetic, request directives, rules,
 * Vary, forwarding, HEAD updates and withheld fields. The RFC's rules themselves, one row
 * per requirement, are in test_rfc9111.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/policy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The key of url with credential lines given as name, value, name, value, ..., NULL. */
static char *key_of(const char *url, ...)
{
    struct sf_hdrs h = {0};
    va_list ap;
    va_start(ap, url);
    for (const char *name = va_arg(ap, const char *); name != NULL; name = va_arg(ap, const char *))
        sf_hdrs_add(&h, name, va_arg(ap, const char *));
    va_end(ap);
    char *key = sf_policy_key(url, &h);
    sf_hdrs_clear(&h);
    return key;
}

static void test_key(void **state)
{
    (void)state;
    char *keys[] = {
        key_of("http://o/x?a=1", NULL),
        key_of("http://o/x?a=1", "Authorization", "Bearer u1", NULL),
        key_of("http://o/x?a=1", "Authorization", "Bearer u2", NULL),
        key_of("http://o/x?a=1", "Cookie", "id=1", NULL),
        key_of("http://o/x?a=2", NULL),
        /* Every line counts, in order: a second Cookie line, or the same values in another
         * order or joined into one line, is another key. */
        key_of("http://o/x?a=1", "Cookie", "id=1", "Cookie", "id=2", NULL),
        key_of("http://o/x?a=1", "Cookie", "id=2", "Cookie", "id=1", NULL),
        key_of("http://o/x?a=1", "Cookie", "id=1, id=2", NULL),
        key_of("http://o/x?a=1", "Cookie", "id=1; id=2", NULL),
        key_of("http://o/x?a=1", "Authorization", "Bearer u1", "Authorization", "Bearer u2", NULL),
        key_of("http://o/x?a=1", "Cookie", "id=1", "Authorization", "Bearer u1", NULL),
        key_of("http://o/x?a=1", "Authorization", "Bearer u1", "Cookie", "id=1", NULL),
    };
    size_t n = sizeof keys / sizeof keys[0];
    assert_string_equal(keys[0], "http://o/x?a=1");
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(keys[i], keys[j]) == 0)
                fail_msg("keys %zu and %zu are equal: %s", i, j, keys[i]);
    /* Names are case-insensitive: the same lines are the same key. */
    char *same = key_of("http://o/x?a=1", "COOKIE", "id=1", NULL);
    assert_string_equal(same, keys[3]);
    free(same);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
}

#define NOW 1000000000

static void test_response_delay_adds_to_age(void **state)
{
    (void)state;
    struct sf_hdrs h = {0};
    sf_hdrs_add(&h, "Cache-Control", "max-age=60");
    sf_hdrs_add(&h, "Age", "5");
    struct sf_resp_facts facts = {200, &h, false, NOW - 3, NOW, NULL};
    struct sf_verdict v;
    sf_policy_judge(&facts, &v);
    assert_int_equal(v.age_s, 8); /* corrected_age_value = age_value + response_delay */
    sf_hdrs_clear(&h);
    assert_int_equal(sf_policy_current_age(8, NOW, NOW + 10), 18);
    assert_int_equal(sf_policy_current_age(8, NOW, NOW - 10), 8);
}

struct accept_case {
    const char *name;
    const char *cache_control, *pragma;
    int64_t fresh_s, age_s;
    bool never_stale;
    bool acceptable;
};

static const struct accept_case accept_cases[] = {
    {"fresh, no directives", NULL, NULL, 60, 10, false, true},
    {"stale, no directives", NULL, NULL, 60, 60, false, false},
    {"no-cache", "no-cache", NULL, 60, 0, false, false},
    {"Pragma no-cache without Cache-Control", NULL, "no-cache", 60, 0, false, false},
    {"Pragma ignored beside Cache-Control", "max-age=100", "no-cache", 60, 0, false, true},
    {"max-age older", "max-age=5", NULL, 60, 10, false, false},
    {"max-age younger", "max-age=20", NULL, 60, 10, false, true},
    {"min-fresh met", "min-fresh=30", NULL, 60, 10, false, true},
    {"min-fresh unmet", "min-fresh=55", NULL, 60, 10, false, false},
    {"max-stale any", "max-stale", NULL, 60, 600, false, true},
    {"max-stale within", "max-stale=30", NULL, 60, 80, false, true},
    {"max-stale beyond", "max-stale=10", NULL, 60, 80, false, false},
    {"max-stale vs must-revalidate", "max-stale", NULL, 60, 80, true, false},
    {"only-if-cached fresh", "only-if-cached", NULL, 60, 10, false, true},
};

static void test_request_directives(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof accept_cases / sizeof accept_cases[0]; i++) {
        const struct accept_case *c = &accept_cases[i];
        struct sf_req_directives d;
        struct sf_verdict v = {.shareable = true,
                               .storable = true,
                               .fresh_s = c->fresh_s,
                               .never_stale = c->never_stale};
        sf_policy_request_directives(c->cache_control, c->pragma, &d);
        if (sf_policy_acceptable(&v, c->age_s, &d) != c->acceptable)
            fail_msg("%s: expected acceptable=%d", c->name, c->acceptable);
    }
    struct sf_req_directives d;
    sf_policy_request_directives("no-store, only-if-cached", NULL, &d);
    assert_true(d.no_store && d.only_if_cached);
}

static void test_heuristic_and_targeted_rules(void **state)
{
    (void)state;
    static const struct sf_targeted targets[] = {{"CDN-Cache-Control", false}};
    struct sf_cache_rules rules = {targets, 1, 10, 3600, -1, -1, true, NULL};
    struct sf_verdict v;
    struct sf_hdrs h = {0};
    /* Last-Modified 1000 s before Date: 10% gives 100 s. */
    sf_hdrs_add(&h, "Date", "Sun, 09 Sep 2001 01:46:40 GMT");
    sf_hdrs_add(&h, "Last-Modified", "Sun, 09 Sep 2001 01:30:00 GMT");
    struct sf_resp_facts facts = {200, &h, false, NOW, NOW, &rules};
    sf_policy_judge(&facts, &v);
    assert_true(v.storable && v.heuristic);
    assert_int_equal(v.fresh_s, 100);
    /* Capped. */
    rules.heuristic_max_s = 50;
    sf_policy_judge(&facts, &v);
    assert_int_equal(v.fresh_s, 50);
    /* Not without rules, not for a status that is not heuristically cacheable. */
    facts.rules = NULL;
    sf_policy_judge(&facts, &v);
    assert_false(v.storable);
    facts.rules = &rules;
    facts.status = 302;
    sf_policy_judge(&facts, &v);
    assert_false(v.storable);
    sf_hdrs_clear(&h);

    /* The targeted field replaces Cache-Control, both ways. */
    facts.status = 200;
    sf_hdrs_add(&h, "Cache-Control", "no-store");
    sf_hdrs_add(&h, "CDN-Cache-Control", "max-age=60");
    sf_policy_judge(&facts, &v);
    assert_true(v.shareable && v.storable && !v.heuristic);
    assert_int_equal(v.fresh_s, 60);
    sf_hdrs_clear(&h);
    sf_hdrs_add(&h, "Cache-Control", "max-age=60");
    sf_hdrs_add(&h, "CDN-Cache-Control", "private");
    sf_policy_judge(&facts, &v);
    assert_false(v.shareable);
    sf_hdrs_clear(&h);
}

static void test_vary_names(void **state)
{
    (void)state;
    static const char *const names_cases[][2] = {
        {"Accept-Encoding", "accept-encoding"},
        {"User-Agent, accept-encoding", "accept-encoding,user-agent"},
        {" Accept ,ACCEPT,,accept-language ", "accept,accept-language"},
        {"accept, *", "*"},
        {",*,*", "*"}, /* found by fuzz_keys: each star leaked a copy (the ASan run fails) */
        {"", NULL},
        {" , ", NULL},
    };
    for (size_t i = 0; i < sizeof names_cases / sizeof names_cases[0]; i++) {
        char *names = sf_policy_vary_names(names_cases[i][0]);
        if (names_cases[i][1] == NULL)
            assert_null(names);
        else
            assert_string_equal(names, names_cases[i][1]);
        free(names);
    }
    assert_null(sf_policy_vary_names(NULL));
}

/* A request made of "name: value" pairs, for sf_policy_variant. */
static char *pair_field(void *ctx, const char *name)
{
    const char *const *pairs = ctx;
    for (size_t i = 0; pairs[i] != NULL; i += 2)
        if (strcasecmp(pairs[i], name) == 0)
            return strdup(pairs[i + 1]);
    return NULL;
}

static char *variant_of(const char *names, const char *const *pairs)
{
    return sf_policy_variant(names, &(struct sf_fields){pair_field, (void *)pairs});
}

/* §4.1: values compared after combining and normalising whitespace; absent differs from
 * empty; quoted strings keep their spaces. */
static void test_variant_normalisation(void **state)
{
    (void)state;
    static const struct {
        const char *a[5], *b[5];
        bool same;
    } pairs_cases[] = {
        {{"Accept-Encoding", "gzip, br", NULL}, {"accept-encoding", "gzip,br", NULL}, true},
        {{"Accept-Encoding", "  gzip ,  br  ", NULL}, {"Accept-Encoding", "gzip, br", NULL}, true},
        {{"Accept-Encoding", "gzip\t deflate", NULL},
         {"Accept-Encoding", "gzip deflate", NULL},
         true},
        {{"Accept-Encoding", "gzip", NULL}, {"Accept-Encoding", "br", NULL}, false},
        {{"Accept-Encoding", "", NULL}, {NULL}, false},
        {{"Accept-Encoding", "GZIP", NULL}, {"Accept-Encoding", "gzip", NULL}, false},
        {{"Accept-Encoding", "x=\"a  b\"", NULL}, {"Accept-Encoding", "x=\"a b\"", NULL}, false},
        {{"Accept-Encoding", "gzip", "X-Other", "1", NULL},
         {"Accept-Encoding", "gzip", NULL},
         true},
    };
    for (size_t i = 0; i < sizeof pairs_cases / sizeof pairs_cases[0]; i++) {
        char *a = variant_of("accept-encoding", pairs_cases[i].a);
        char *b = variant_of("accept-encoding", pairs_cases[i].b);
        if (pairs_cases[i].same != (strcmp(a, b) == 0))
            fail_msg("case %zu: \"%s\" vs \"%s\"", i, a, b);
        free(a), free(b);
    }
    char *two =
        variant_of("accept,accept-encoding", (const char *const[]){"Accept-Encoding", "br", NULL});
    assert_string_equal(two, SF_VARIANT_MARK "accept!\naccept-encoding=br");
    free(two);
}

/* RFC 9110 §12.5.4: Accept-Language is compared as the language ranges it names: case,
 * list order and whitespace do not matter, weights do. */
static void test_accept_language_variants(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        bool same;
    } cases[] = {
        {"en, de", "de,en", true},
        {"EN-us, de", "de, en-US", true},
        {"en;q=0.8, de", "de, en; q=0.80", true},
        {"en;q=1.0, de", "de, en", true},
        {"en, en;q=0.5", "en", true}, /* a range given twice counts once */
        {"en;q=0.5, de", "en, de;q=0.5", false},
        {"en", "de", false},
        {"en", "en, *;q=0", false},
        {"en;q=2", "en", false}, /* not a qvalue: compared as text */
        {"en;q=0.5000", "en;q=0.5", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *a = variant_of("accept-language",
                             (const char *const[]){"Accept-Language", cases[i].a, NULL});
        char *b = variant_of("accept-language",
                             (const char *const[]){"Accept-Language", cases[i].b, NULL});
        if (cases[i].same != (strcmp(a, b) == 0))
            fail_msg("\"%s\" vs \"%s\": \"%s\" vs \"%s\"", cases[i].a, cases[i].b, a, b);
        free(a), free(b);
    }
    char *one = variant_of("accept-language",
                           (const char *const[]){"Accept-Language", "fr;q=0.5, DE", NULL});
    assert_string_equal(one, SF_VARIANT_MARK "accept-language=de,fr;q=0.5");
    free(one);
}

/* The language a request prefers most, and variants that differ in one field only. */
static void test_preferred_language(void **state)
{
    (void)state;
    static const struct {
        const char *accept, *want;
    } cases[] = {
        {"fr;q=0.5, de", "de"},
        {"en, de", "en"},
        {"de;q=0.5, en;q=0.5", "de"},
        {"*, fr;q=0.1", "fr"},
        {"EN-us", "en-us"},
        {"fr;q=0", NULL},
        {"*", NULL},
        {"en;q=x", NULL},
        {NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char lang[40];
        bool found = sf_policy_preferred_language(cases[i].accept, lang, sizeof lang);
        if (found != (cases[i].want != NULL) || (found && strcmp(lang, cases[i].want) != 0))
            fail_msg("%s: %s", cases[i].accept ? cases[i].accept : "(none)", found ? lang : "none");
    }
    const char *a = SF_VARIANT_MARK "accept-encoding=gzip\naccept-language=en,de";
    assert_true(sf_policy_same_variant_but(
        a, SF_VARIANT_MARK "accept-encoding=gzip\naccept-language=de", "accept-language"));
    assert_true(sf_policy_same_variant_but(
        a, SF_VARIANT_MARK "accept-encoding=gzip\naccept-language!", "accept-language"));
    assert_false(sf_policy_same_variant_but(
        a, SF_VARIANT_MARK "accept-encoding=br\naccept-language=en,de", "accept-language"));
    assert_false(
        sf_policy_same_variant_but(a, SF_VARIANT_MARK "accept-encoding=gzip", "accept-encoding"));
    /* The language hash: alike exactly where the language match may look. */
    uint64_t h1, h2, h3, h4, h5;
    assert_true(sf_policy_language_hash(
        "u" SF_VARIANT_MARK "accept-encoding=gzip\naccept-language=en,de", "DE", &h1));
    assert_true(sf_policy_language_hash(
        "u" SF_VARIANT_MARK "accept-encoding=gzip\naccept-language!", "de", &h2));
    assert_true(sf_policy_language_hash(
        "u" SF_VARIANT_MARK "accept-encoding=br\naccept-language=en,de", "de", &h3));
    assert_true(sf_policy_language_hash(
        "u" SF_VARIANT_MARK "accept-encoding=gzip\naccept-language=en,de", "en", &h4));
    assert_true(sf_policy_language_hash(
        "v" SF_VARIANT_MARK "accept-encoding=gzip\naccept-language=en,de", "de", &h5));
    assert_true(h1 == h2);
    assert_true(h1 != h3 && h1 != h4 && h1 != h5);
    assert_false(sf_policy_language_hash("u" SF_VARIANT_MARK "accept-encoding=gzip", "de", &h1));
    assert_false(sf_policy_language_hash("u", "de", &h1));
    assert_false(sf_policy_language_hash("u" SF_VARIANT_MARK "accept-language=de", NULL, &h1));
}

static struct sf_hdrs fields_of(const char *const *pairs)
{
    struct sf_hdrs h = {0};
    for (size_t i = 0; pairs[i] != NULL; i += 2)
        sf_hdrs_add(&h, pairs[i], pairs[i + 1]);
    return h;
}

/* §4.3.5: a HEAD's 200 updates a stored GET only when the validators and length it
 * carries agree with it. */
static void test_head_matches(void **state)
{
    (void)state;
    static const struct {
        const char *head[7];
        int64_t length;
        bool same;
    } head_cases[] = {
        {{"ETag", "\"a\"", NULL}, 10, true},
        {{"ETag", "\"a\"", NULL}, -1, true},
        {{"ETag", "\"b\"", NULL}, -1, false},
        {{"Last-Modified", "Sun, 09 Sep 2001 01:46:40 GMT", NULL}, -1, true},
        {{"Last-Modified", "Sun, 09 Sep 2001 01:46:41 GMT", NULL}, -1, false},
        {{"ETag", "\"a\"", NULL}, 11, false},
        {{"ETag", "\"a\"", NULL}, 999999, false},
        /* Without a validator nothing says it is the stored representation. */
        {{"X-Other", "1", NULL}, -1, false},
        {{"X-Other", "1", NULL}, 10, false},
        {{"ETag", "\"a\"", "Content-Type", "text/html", NULL}, -1, false},
        {{"ETag", "\"a\"", "Content-Type", "text/plain", NULL}, -1, true},
        {{"ETag", "\"a\"", "Content-Encoding", "gzip", NULL}, -1, false},
    };
    struct sf_hdrs stored = fields_of((const char *const[]){"ETag", "\"a\"", "Last-Modified",
                                                            "Sun, 09 Sep 2001 01:46:40 GMT",
                                                            "Content-Type", "text/plain", NULL});
    for (size_t i = 0; i < sizeof head_cases / sizeof head_cases[0]; i++) {
        struct sf_hdrs head = fields_of(head_cases[i].head);
        if (sf_policy_head_matches(&stored, 10, &head, head_cases[i].length) != head_cases[i].same)
            fail_msg("case %zu", i);
        sf_hdrs_clear(&head);
    }
    struct sf_hdrs bare = {0}, etag = fields_of((const char *const[]){"ETag", "\"a\"", NULL});
    assert_false(sf_policy_head_matches(&bare, 10, &etag, -1)); /* stored has no ETag */
    sf_hdrs_clear(&etag);
    sf_hdrs_clear(&stored);
}

/* §5.2.2.7 and §5.2.2.4: the fields a qualified private or no-cache names are withheld;
 * the rest is judged as a shareable, storable response. */
static void test_withhold_fields(void **state)
{
    (void)state;
    struct sf_hdrs h = fields_of((const char *const[]){
        "Cache-Control", "private=\"Set-Cookie\", no-cache=\"X-Token\", max-age=60", "Set-Cookie",
        "s=1", "X-Token", "t", "Set-Cookie", "s=2", "X-Kept", "k", NULL});
    struct sf_hdrs own = {0};
    sf_policy_withhold_fields(&h, NULL, &own);
    assert_int_equal(own.n, 3);
    assert_null(sf_hdrs_get(&h, "Set-Cookie"));
    assert_null(sf_hdrs_get(&h, "X-Token"));
    assert_string_equal(sf_hdrs_get(&h, "X-Kept"), "k");
    struct sf_resp_facts f = {200, &h, false, NOW, NOW, NULL};
    struct sf_verdict v;
    sf_policy_judge(&f, &v);
    assert_true(v.shareable);
    assert_true(v.storable);
    assert_int_equal(v.fresh_s, 60);
    sf_hdrs_clear(&h);
    sf_hdrs_clear(&own);
}

/* cache.normalize_accept_encoding: which of br, gzip and zstd the client accepts, in one
 * order, else nothing. */
static void test_normalized_encoding(void **state)
{
    (void)state;
    static const char *const enc[][2] = {
        {"gzip, deflate, br", "br, gzip"},
        {"br;q=1.0, gzip;q=0.8", "br, gzip"},
        {"zstd, GZIP, br", "br, gzip, zstd"},
        {"GZIP", "gzip"},
        {"x-gzip", "gzip"},
        {"*", "br, gzip, zstd"},
        {"gzip;q=0", NULL},
        {"gzip; q=0.000, br", "br"},
        {"br;q=0, zstd", "zstd"},
        {"identity", NULL},
        {"deflate", NULL},
        {"", NULL},
        {"gzipx, deflate", NULL},
        {"gzip;q=0.001", "gzip"},
    };
    for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
        const char *got = sf_policy_normalized_encoding(enc[i][0]);
        if ((got == NULL) != (enc[i][1] == NULL) || (got && strcmp(got, enc[i][1]) != 0))
            fail_msg("\"%s\": got %s", enc[i][0], got ? got : "none");
    }
    assert_null(sf_policy_normalized_encoding(NULL));
}

static void test_forwarded_fields(void **state)
{
    (void)state;
    assert_true(sf_policy_forwarded("Accept-Encoding", NULL, true));
    assert_false(sf_policy_forwarded("Host", NULL, false));
    assert_false(sf_policy_forwarded("Via", NULL, false));
    assert_false(sf_policy_forwarded("TE", NULL, false));
    assert_false(sf_policy_forwarded("X-Hop", "close, X-Hop", false));
    assert_false(sf_policy_forwarded("If-None-Match", NULL, true));
    assert_true(sf_policy_forwarded("If-None-Match", NULL, false));
    assert_false(sf_policy_forwarded("range", NULL, true));
}

/* Identity fields (any mix of "-" and "_") only from a trusted proxy; names with "_" only
 * with forward_underscore_fields, and never when they spell a field sfproxy acts on. */
static void test_client_fields(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bool untrusted, trusted, untrusted_us, trusted_us; /* us: underscores forwarded */
    } rows[] = {
        {"Accept-Language", true, true, true, true},
        {"X-Forwarded-Host", false, true, false, true},
        {"x-forwarded-HOST", false, true, false, true},
        {"X_Forwarded_Host", false, false, false, false},
        {"X-Forwarded_Host", false, false, false, false},
        {"X_Forwarded_Port", false, false, false, false},
        {"X_Forwarded_Prefix", false, false, false, false},
        {"X_Original_URL", false, false, false, false},
        {"X_Rewrite_URL", false, false, false, false},
        {"X_HTTP_Method_Override", false, false, false, false},
        {"X_Host", false, false, false, false},
        {"X-Forwarded-Ssl", false, true, false, true},
        {"Front-End-Https", false, true, false, true},
        {"X-Original-URI", false, true, false, true},
        {"X-Forwarded-Uri", false, true, false, true},
        {"X-Forwarded-Path", false, true, false, true},
        {"X-Envoy-Original-Path", false, true, false, true},
        {"X-Middleware-Subrequest", false, true, false, true},
        {"X-Url-Scheme", false, true, false, true},
        {"X-Forwarded-Protocol", false, true, false, true},
        {"Client-IP", false, true, false, true},
        {"X-Cluster-Client-IP", false, true, false, true},
        {"X_Middleware_Subrequest", false, false, false, false},
        {"My_Field", false, false, true, true},
        {"_", false, false, true, true},
        {"Max_Forwards", false, false, false, false},
        {"Accept_Encoding", false, false, false, false},
        {"Sfproxy_Peer", false, false, false, false},
        {"X_Request_Id", false, false, false, false},
        {"If_None_Match", false, false, false, false},
        {"Transfer_Encoding", false, false, false, false},
        {"Content_Length", false, false, false, false},
        {"Cookie_", false, false, true, true},
        {"X-Forwarded-Hosts", true, true, true, true},
        {"X-Forwarded", false, true, false, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool got[4] = {sf_policy_client_field(rows[i].name, false, false),
                       sf_policy_client_field(rows[i].name, true, false),
                       sf_policy_client_field(rows[i].name, false, true),
                       sf_policy_client_field(rows[i].name, true, true)};
        bool want[4] = {rows[i].untrusted, rows[i].trusted, rows[i].untrusted_us,
                        rows[i].trusted_us};
        for (int k = 0; k < 4; k++)
            if (got[k] != want[k])
                fail_msg("%s (trusted %d, underscores %d): got %d", rows[i].name, k & 1, k >> 1,
                         got[k]);
    }
    assert_true(sf_policy_identity_field("X_FORWARDED_FOR"));
    assert_false(sf_policy_identity_field("X-Forwarded-For-Real"));
}

/* RFC 9110 §7.6.2: Max-Forwards on TRACE and OPTIONS. */
static void test_max_forwards(void **state)
{
    (void)state;
    static const struct {
        const char *method, *value;
        unsigned status;
        const char *next;
    } rows[] = {
        {"TRACE", NULL, 0, ""},
        {"TRACE", "0", 501, ""},
        {"TRACE", "000", 501, ""},
        {"OPTIONS", "0", 200, ""},
        {"OPTIONS", "1", 0, "0"},
        {"OPTIONS", "3", 0, "2"},
        {"TRACE", "10", 0, "9"},
        {"TRACE", "99999999999999999999999", 0, "18446744073709551614"},
        {"TRACE", "", 400, ""},
        {"TRACE", "-1", 400, ""},
        {"OPTIONS", "3, 3", 400, ""},
        {"OPTIONS", "0x1", 400, ""},
        {"GET", "0", 0, ""},
        {"GET", "abc", 0, ""},
        {"POST", "5", 0, ""},
        {"trace", "0", 0, ""}, /* methods are case-sensitive (RFC 9110 §9.1) */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char next[24];
        const char *why;
        unsigned st = sf_policy_max_forwards(rows[i].method, rows[i].value, next, &why);
        if (st != rows[i].status || strcmp(next, rows[i].next) != 0)
            fail_msg("%s Max-Forwards %s: got %u \"%s\", want %u \"%s\"", rows[i].method,
                     rows[i].value ? rows[i].value : "(none)", st, next, rows[i].status,
                     rows[i].next);
        if ((st >= 400) != (why[0] != '\0' && st != 200))
            fail_msg("%s Max-Forwards %s: a refusal says why", rows[i].method,
                     rows[i].value ? rows[i].value : "(none)");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_response_delay_adds_to_age),
        cmocka_unit_test(test_request_directives),
        cmocka_unit_test(test_heuristic_and_targeted_rules),
        cmocka_unit_test(test_vary_names),
        cmocka_unit_test(test_variant_normalisation),
        cmocka_unit_test(test_accept_language_variants),
        cmocka_unit_test(test_preferred_language),
        cmocka_unit_test(test_forwarded_fields),
        cmocka_unit_test(test_normalized_encoding),
        cmocka_unit_test(test_head_matches),
        cmocka_unit_test(test_withhold_fields),
        cmocka_unit_test(test_client_fields),
        cmocka_unit_test(test_max_forwards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
