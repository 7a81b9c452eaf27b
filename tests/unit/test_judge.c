/* What an origin's response head means for its flight (lib/judge.c), one row per rule: the
 * request (method, shared or private, its fields), the stored response it revalidates (if
 * any: its fields, body size and how old it is), the head received, and what the fetcher
 * is told to do: publish the response received, the stored one refreshed by a 304, or the
 * stored one instead of an error; with which status, body length, verdict, fields (for
 * everyone, and for the leader alone), variant and invalidations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/judge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1000000000
#define URL "http://origin.test/a/b"
#define NO (-2) /* in an expected length or age: not checked */

struct stored {
    int status; /* 0: no stored response */
    const char *fields[8];
    size_t len;
    int64_t age_s; /* how old it is now */
};

struct row {
    const char *rule;
    const char *method;
    bool shared;
    bool has_get_key;
    const char *req[6]; /* request fields sent upstream: name, value pairs */
    struct stored stale;
    int status;           /* of the head received */
    const char *head[12]; /* its fields */
    /* Expected. */
    enum sf_head_use use;
    int out_status;
    int64_t length;
    bool shareable, storable;
    const char *has[4];   /* fields published (for everyone) */
    const char *lacks[6]; /* fields not published for everyone */
    const char *own;      /* a field for the leader alone, or NULL */
    const char *variant;  /* a substring of the variant, or NULL for none */
    const char *invalidated[3];
    bool update_stored_get;
};

/* One row per rule, laid out by hand. */
/* clang-format off */
static const struct row rows[] = {
    {"§3 a fresh 200 to a shared GET: published as received, stored", "GET", true, false,
     {NULL}, {0}, 200, {"Cache-Control", "max-age=60", "Content-Length", "5"},
     SF_HEAD_RECEIVED, 200, 5, true, true, {"Cache-Control"}, {"Content-Length"}, NULL, NULL,
     {NULL}, false},
    {"RFC 9110 §7.6.1 hop-by-hop fields, and those Connection names, are not passed on", "GET",
     true, false, {NULL}, {0}, 200,
     {"Cache-Control", "max-age=60", "Connection", "X-Hop", "X-Hop", "1", "Keep-Alive", "5",
      "Transfer-Encoding", "chunked"},
     SF_HEAD_RECEIVED, 200, -1, true, true, {"Cache-Control"},
     {"Connection", "X-Hop", "Keep-Alive", "Transfer-Encoding"}, NULL, NULL, {NULL}, false},
    {"RFC 9213 §3.1 CDN-Cache-Control is for every CDN tier: forwarded unchanged", "GET", true,
     false, {NULL}, {0}, 200, {"CDN-Cache-Control", "max-age=60"}, SF_HEAD_RECEIVED, 200, -1,
     true, true, {"CDN-Cache-Control"}, {NULL}, NULL, NULL, {NULL}, false},
    {"RFC 9213 §2.1 a deployment's own targeted field (strip) is not passed on", "GET", true,
     false, {NULL}, {0}, 200, {"Sfproxy-Cache-Control", "max-age=60", "Cache-Control",
     "no-store"}, SF_HEAD_RECEIVED, 200, -1, true, true, {"Cache-Control"},
     {"Sfproxy-Cache-Control"}, NULL, NULL, {NULL}, false},
    {"RFC 9213 §2.1 an invalid targeted field is ignored: the next one, then Cache-Control",
     "GET", true, false, {NULL}, {0}, 200, {"Sfproxy-Cache-Control", "max-age = 60",
     "CDN-Cache-Control", "max-age=\"60\"", "Cache-Control", "no-store"}, SF_HEAD_RECEIVED, 200,
     -1, false, false, {"CDN-Cache-Control", "Cache-Control"}, {"Sfproxy-Cache-Control"}, NULL,
     NULL, {NULL}, false},
    {"§5.2.2.7 private=\"X-User\": the field is the leader's, the rest is shared", "GET", true,
     false, {NULL}, {0}, 200,
     {"Cache-Control", "max-age=60, private=\"X-User\"", "X-User", "alice"}, SF_HEAD_RECEIVED,
     200, -1, true, true, {"Cache-Control"}, {"X-User"}, "X-User", NULL, {NULL}, false},
    {"a private fetch keeps every field for its one client", "GET", false, false, {NULL}, {0},
     200, {"Cache-Control", "max-age=60, private=\"X-User\"", "X-User", "alice"},
     SF_HEAD_RECEIVED, 200, -1, true, true, {"X-User"}, {NULL}, NULL, NULL, {NULL}, false},
    {"sfproxy: Set-Cookie makes a response one user's", "GET", true, false, {NULL}, {0}, 200,
     {"Cache-Control", "max-age=60", "Set-Cookie", "a=1"}, SF_HEAD_RECEIVED, 200, -1, false,
     false, {"Set-Cookie"}, {NULL}, NULL, NULL, {NULL}, false},
    {"§3.5 a response to a request with Authorization is not stored on max-age alone", "GET",
     true, false, {"Authorization", "Bearer x"}, {0}, 200, {"Cache-Control", "max-age=60"},
     SF_HEAD_RECEIVED, 200, -1, true, false, {NULL}, {NULL}, NULL, NULL, {NULL}, false},
    {"cache.max_object_bytes: a larger body is shared but not stored", "GET", true, false,
     {NULL}, {0}, 200, {"Cache-Control", "max-age=60", "Content-Length", "2000"},
     SF_HEAD_RECEIVED, 200, 2000, true, false, {NULL}, {NULL}, NULL, NULL, {NULL}, false},
    {"RFC 9112 §6.3 a 204 has no body, whatever its Content-Length", "GET", true, false,
     {NULL}, {0}, 204, {"Cache-Control", "max-age=60", "Content-Length", "7"},
     SF_HEAD_RECEIVED, 204, 0, true, true, {NULL}, {NULL}, NULL, NULL, {NULL}, false},
    {"RFC 9110 §9.3.2 a HEAD's Content-Length is the GET's body length", "HEAD", false, true,
     {NULL}, {0}, 200, {"Cache-Control", "max-age=60", "Content-Length", "7"},
     SF_HEAD_RECEIVED, 200, 7, true, true, {NULL}, {NULL}, NULL, NULL, {NULL}, true},
    {"§4.3.5 only a 200 to a HEAD may update the stored GET", "HEAD", false, true, {NULL},
     {0}, 404, {"Cache-Control", "max-age=60"}, SF_HEAD_RECEIVED, 404, -1, true, true, {NULL},
     {NULL}, NULL, NULL, {NULL}, false},

    /* §4.1 Vary. */
    {"§4.1 a shared response that varies selects its request's variant", "GET", true, false,
     {"Accept-Encoding", "gzip"}, {0}, 200, {"Cache-Control", "max-age=60", "Vary",
                                             "Accept-Encoding"},
     SF_HEAD_RECEIVED, 200, -1, true, true, {"Vary"}, {NULL}, NULL, "accept-encoding=gzip",
     {NULL}, false},
    {"§4.1 the variant reads the client's fields only, never the proxy's Via", "GET", true,
     false, {"Via", "1.1 sfproxy"}, {0}, 200, {"Cache-Control", "max-age=60", "Vary", "Via"},
     SF_HEAD_RECEIVED, 200, -1, true, true, {"Vary"}, {NULL}, NULL, "via!", {NULL}, false},
    {"a response that is not shared needs no variant", "GET", true, false,
     {"Accept-Encoding", "gzip"}, {0}, 200, {"Cache-Control", "private", "Vary",
                                             "Accept-Encoding"},
     SF_HEAD_RECEIVED, 200, -1, false, false, {NULL}, {NULL}, NULL, NULL, {NULL}, false},

    /* §4.3 validation. */
    {"§4.3.4 a 304 refreshes the stored response: its status, body and merged fields", "GET",
     true, false, {NULL},
     {200, {"Cache-Control", "max-age=10", "ETag", "\"v1\"", "X-Old", "kept"}, 40, 30}, 304,
     {"Cache-Control", "max-age=100", "ETag", "\"v1\""}, SF_HEAD_REFRESHED, 200, 40, true, true,
     {"X-Old", "Cache-Control"}, {NULL}, NULL, NULL, {NULL}, false},
    {"§4.3.3 a 200 to a revalidation replaces the stored response", "GET", true, false, {NULL},
     {200, {"Cache-Control", "max-age=10", "ETag", "\"v1\""}, 40, 30}, 200,
     {"Cache-Control", "max-age=100", "ETag", "\"v2\"", "Content-Length", "3"},
     SF_HEAD_RECEIVED, 200, 3, true, true, {"ETag"}, {NULL}, NULL, NULL, {NULL}, false},
    {"a 304 without a stored response is passed on as it is", "GET", false, false, {NULL},
     {0}, 304, {"ETag", "\"v1\""}, SF_HEAD_RECEIVED, 304, 0, true, false, {"ETag"},
     {NULL}, NULL, NULL, {NULL}, false},

    /* RFC 5861 §4 stale-if-error. */
    {"RFC 5861 §4 a 5xx within stale-if-error: the stored response instead", "GET", true,
     false, {NULL}, {200, {"Cache-Control", "max-age=10, stale-if-error=100"}, 40, 30}, 503,
     {"Retry-After", "5"}, SF_HEAD_STALE, 200, 40, true, true, {"Cache-Control"},
     {"Retry-After"}, NULL, NULL, {NULL}, false},
    {"RFC 5861 §4 past the stale-if-error window the error is passed on", "GET", true, false,
     {NULL}, {200, {"Cache-Control", "max-age=10, stale-if-error=5"}, 40, 30}, 503,
     {"Retry-After", "5"}, SF_HEAD_RECEIVED, 503, -1, true, false, {"Retry-After"}, {NULL},
     NULL, NULL, {NULL}, false},
    {"§4.2.4 must-revalidate forbids stale-if-error", "GET", true, false, {NULL},
     {200, {"Cache-Control", "max-age=10, must-revalidate, stale-if-error=100"}, 40, 30}, 500,
     {NULL}, SF_HEAD_RECEIVED, 500, -1, true, false, {NULL}, {NULL}, NULL, NULL, {NULL}, false},
    {"§4.3.3 a 5xx with max-age while revalidating does not replace what is stored", "GET",
     true, false, {NULL}, {200, {"Cache-Control", "max-age=10"}, 40, 30}, 503,
     {"Cache-Control", "max-age=60"}, SF_HEAD_RECEIVED, 503, -1, true, false,
     {"Cache-Control"}, {NULL}, NULL, NULL, {NULL}, false},
    {"§3 the same 5xx for a key with nothing stored is stored (negative caching)", "GET", true,
     false, {NULL}, {0}, 503, {"Cache-Control", "max-age=60"}, SF_HEAD_RECEIVED, 503, -1, true,
     true, {"Cache-Control"}, {NULL}, NULL, NULL, {NULL}, false},
    {"a stored 503 (negative caching) stands in for the origin's 500 within stale-if-error",
     "GET", true, false, {NULL},
     {503, {"Cache-Control", "max-age=10, stale-if-error=100", "Retry-After", "9"}, 0, 30}, 500,
     {NULL}, SF_HEAD_STALE, 503, 0, true, true, {"Retry-After"}, {NULL}, NULL, NULL, {NULL},
     false},
    {"§4.2.4 ...but never past its proxy-revalidate", "GET", true, false, {NULL},
     {503, {"Cache-Control", "max-age=10, proxy-revalidate, stale-if-error=100"}, 0, 30}, 500,
     {NULL}, SF_HEAD_RECEIVED, 500, -1, true, false, {NULL}, {NULL}, NULL, NULL, {NULL}, false},
    {"§4.2.4 ...nor past its s-maxage", "GET", true, false, {NULL},
     {503, {"Cache-Control", "s-maxage=10, stale-if-error=100"}, 0, 30}, 502, {NULL},
     SF_HEAD_RECEIVED, 502, -1, true, false, {NULL}, {NULL}, NULL, NULL, {NULL}, false},
    {"§4.2.4 ...nor past its no-cache", "GET", true, false, {NULL},
     {503, {"Cache-Control", "no-cache, stale-if-error=100", "ETag", "\"e\""}, 0, 30}, 504,
     {NULL}, SF_HEAD_RECEIVED, 504, -1, true, false, {NULL}, {NULL}, NULL, NULL, {NULL}, false},
    {"RFC 5861 §4 a 4xx is an answer, not an error to hide", "GET", true, false, {NULL},
     {200, {"Cache-Control", "max-age=10, stale-if-error=100"}, 40, 30}, 404, {NULL},
     SF_HEAD_RECEIVED, 404, -1, true, false, {NULL}, {NULL}, NULL, NULL, {NULL}, false},

    /* §4.4 invalidation. */
    {"§4.4 a 2xx to POST invalidates its target and same-origin Location", "POST", false,
     false, {NULL}, {0}, 201,
     {"Location", "/a/new", "Content-Location", "http://elsewhere.test/x"}, SF_HEAD_RECEIVED,
     201, -1, true, false, {"Location"}, {NULL}, NULL, NULL,
     {URL, "http://origin.test/a/new", NULL}, false},
    {"§4.4 a 3xx to DELETE invalidates its target and Content-Location", "DELETE", false,
     false, {NULL}, {0}, 303, {"Content-Location", "http://origin.test/a/c"}, SF_HEAD_RECEIVED, 303, -1, true,
     false, {NULL}, {NULL}, NULL, NULL, {URL, "http://origin.test/a/c", NULL}, false},
    {"§4.4 an error to an unsafe method invalidates nothing", "POST", false, false, {NULL},
     {0}, 500, {"Location", "/a/new"}, SF_HEAD_RECEIVED, 500, -1, true, false, {NULL}, {NULL},
     NULL, NULL, {NULL}, false},
    {"§4.4 safe methods invalidate nothing", "OPTIONS", false, false, {NULL}, {0}, 200,
     {"Location", "/a/new"}, SF_HEAD_RECEIVED, 200, -1, true, false, {NULL}, {NULL}, NULL,
     NULL, {NULL}, false},
};
/* clang-format on */

static const struct sf_targeted targets[] = {{"Sfproxy-Cache-Control", true},
                                             {"CDN-Cache-Control", false}};
static const struct sf_cache_rules cache_rules = {targets, 2, 10, 86400, -1, -1, true, NULL};
static const struct sf_judge_cfg cfg = {&cache_rules, 1000, false, true, 100};

static void add_pairs(struct sf_hdrs *h, const char *const *pairs, size_t max)
{
    for (size_t i = 0; i + 1 < max && pairs[i] != NULL; i += 2)
        sf_hdrs_add(h, pairs[i], pairs[i + 1]);
}

/* The stored response of s, complete, received s->age_s seconds before NOW. */
static struct sf_obj *stored_response(const struct stored *s)
{
    static char body[4096];
    struct sf_obj *o = sf_obj_new("k");
    struct sf_hdrs h = {0};
    add_pairs(&h, s->fields, 8);
    int64_t at = NOW - s->age_s;
    struct sf_verdict v;
    struct sf_resp_facts facts = {s->status, &h, false, at, at, &cache_rules};
    sf_policy_judge(&facts, &v);
    sf_obj_lock(o);
    sf_obj_publish(o, s->status, &h, (int64_t)s->len, &v, at);
    sf_obj_append(o, body, s->len);
    sf_obj_finish(o, SF_FAIL_NONE);
    sf_obj_unlock(o);
    return o;
}

static void check_row(const struct row *r)
{
    struct sf_hdrs req_fields = {0}, head = {0};
    add_pairs(&req_fields, r->req, 6);
    add_pairs(&head, r->head, 12);
    struct sf_obj *stale = r->stale.status ? stored_response(&r->stale) : NULL;
    struct sf_judged_request req = {r->method, URL, &req_fields, r->shared, r->has_get_key,
                                    stale,     NOW, false,       0};
    struct sf_head_decision d;
    sf_judge_head(&cfg, &req, r->status, &head, NOW, &d);
    print_message("%s\n", r->rule);
    assert_int_equal(head.n, 0); /* consumed */
    assert_int_equal(d.use, r->use);
    assert_int_equal(d.status, r->out_status);
    if (r->length != NO)
        assert_int_equal(d.length, r->length);
    assert_int_equal(d.verdict.shareable, r->shareable);
    assert_int_equal(d.verdict.storable, r->storable);
    for (size_t i = 0; i < 4 && r->has[i] != NULL; i++)
        assert_non_null(sf_hdrs_get(&d.fields, r->has[i]));
    for (size_t i = 0; i < 6 && r->lacks[i] != NULL; i++)
        assert_null(sf_hdrs_get(&d.fields, r->lacks[i]));
    if (r->own != NULL)
        assert_non_null(sf_hdrs_get(&d.own, r->own));
    else
        assert_int_equal(d.own.n, 0);
    if (r->variant != NULL) {
        assert_non_null(d.variant);
        assert_non_null(strstr(d.variant, r->variant));
    } else {
        assert_null(d.variant);
    }
    for (size_t i = 0; i < SF_JUDGE_INVALIDATE_MAX; i++) {
        if (r->invalidated[i] == NULL) {
            assert_null(d.invalidate[i]);
        } else {
            assert_non_null(d.invalidate[i]);
            assert_string_equal(d.invalidate[i], r->invalidated[i]);
        }
    }
    assert_int_equal(d.update_stored_get, r->update_stored_get);
    if (d.use == SF_HEAD_STALE) /* sent with the age it has now (RFC 9111 §4.2.3) */
        assert_int_equal(d.verdict.age_s, r->stale.age_s);
    sf_head_decision_clear(&d);
    sf_hdrs_clear(&req_fields);
    sf_obj_unref(stale);
}

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        check_row(&rows[i]);
}

static void test_failure_serves_stale_only_within_its_window(void **state)
{
    (void)state;
    struct sf_hdrs none = {0};
    struct stored within = {200, {"Cache-Control", "max-age=10, stale-if-error=100"}, 40, 30};
    struct stored past = {200, {"Cache-Control", "max-age=10, stale-if-error=10"}, 40, 30};
    struct sf_obj *a = stored_response(&within), *b = stored_response(&past);
    struct sf_judged_request req = {"GET", URL, &none, true, false, a, NOW, false, 0};
    struct sf_head_decision d;
    assert_true(sf_judge_failure(&req, NOW, &d));
    assert_int_equal(d.use, SF_HEAD_STALE);
    assert_int_equal(d.status, 200);
    assert_int_equal(d.length, 40);
    assert_int_equal(d.verdict.age_s, 30);
    sf_head_decision_clear(&d);
    req.stale = b;
    assert_false(sf_judge_failure(&req, NOW, &d));
    req.stale = NULL;
    assert_false(sf_judge_failure(&req, NOW, &d));
    sf_obj_unref(a);
    sf_obj_unref(b);
}

/* RFC 9111 §4.3.5: a HEAD's 200 updates the stored GET it describes, else makes it stale.
 * head holds the forwardable fields, as in production (no Content-Length: its length comes
 * apart); a HEAD without validators never matches, and a no-store request updates nothing. */
static void test_head_updates_the_stored_get_it_describes(void **state)
{
    (void)state;
    struct sf_hdrs none = {0}, no_store = {0};
    sf_hdrs_add(&no_store, "Cache-Control", "no-cache, no-store");
    struct stored get = {
        200,
        {"Cache-Control", "max-age=10", "ETag", "\"v1\"", "X-A", "1", "Content-Type", "text/plain"},
        40,
        30};
    struct sf_obj *stored = stored_response(&get);
    struct {
        const char *head[6];
        int64_t length;
        bool no_store;
        enum sf_head_update use;
    } cases[] = {
        {{"ETag", "\"v1\"", "Cache-Control", "max-age=100"}, -1, false, SF_HEAD_UPDATE_FIELDS},
        {{"ETag", "\"v1\"", "Cache-Control", "max-age=100"}, 40, false, SF_HEAD_UPDATE_FIELDS},
        {{"ETag", "\"v2\"", "Cache-Control", "max-age=100"}, -1, false, SF_HEAD_UPDATE_STALE},
        {{"ETag", "\"v1\""}, 41, false, SF_HEAD_UPDATE_STALE}, /* another length */
        {{"ETag", "\"v1\"", "Cache-Control", "no-store"}, -1, false, SF_HEAD_UPDATE_STALE},
        /* Nothing to tell representations apart by: never the same one. */
        {{"Cache-Control", "max-age=100", "Link", "<//evil/x.js>; rel=preload"},
         -1,
         false,
         SF_HEAD_UPDATE_STALE},
        {{"Cache-Control", "max-age=100"}, 999999, false, SF_HEAD_UPDATE_STALE},
        /* The stored body is read by its Content-Type: another one is another response. */
        {{"ETag", "\"v1\"", "Content-Type", "text/html"}, -1, false, SF_HEAD_UPDATE_STALE},
        {{"ETag", "\"v1\"", "Content-Type", "text/plain"}, -1, false, SF_HEAD_UPDATE_FIELDS},
        /* RFC 9111 §5.2.1.5: no part of a no-store request's response is stored. */
        {{"ETag", "\"v1\"", "Cache-Control", "max-age=100"}, -1, true, SF_HEAD_UPDATE_NONE},
        {{"ETag", "\"v2\""}, -1, true, SF_HEAD_UPDATE_STALE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sf_judged_request req = {
            "HEAD", URL, cases[i].no_store ? &no_store : &none, false, true, NULL, NOW, false, 0};
        struct sf_hdrs head = {0}, merged;
        struct sf_verdict v;
        add_pairs(&head, cases[i].head, 6);
        enum sf_head_update use =
            sf_judge_head_update(&cfg, &req, stored, &head, cases[i].length, NOW, &merged, &v);
        if (use != cases[i].use)
            fail_msg("case %zu: expected %d, got %d", i, (int)cases[i].use, (int)use);
        if (use == SF_HEAD_UPDATE_FIELDS) {
            assert_string_equal(sf_hdrs_get(&merged, "X-A"), "1");
            assert_string_equal(sf_hdrs_get(&merged, "Content-Type"), "text/plain");
        } else {
            assert_int_equal(merged.n, 0);
        }
        if (use == SF_HEAD_UPDATE_FIELDS && sf_hdrs_get(&head, "Cache-Control") != NULL) {
            assert_string_equal(sf_hdrs_get(&merged, "Cache-Control"), "max-age=100");
            assert_int_equal(v.fresh_s, 100);
        }
        sf_hdrs_clear(&merged);
        sf_hdrs_clear(&head);
    }
    sf_hdrs_clear(&no_store);
    sf_obj_unref(stored);
}

/* cache.strip_set_cookie: a shared response is shared as if the origin had sent none. */
static void test_strip_set_cookie(void **state)
{
    (void)state;
    struct sf_judge_cfg strip = cfg;
    strip.strip_set_cookie = true;
    struct sf_hdrs none = {0}, head = {0};
    sf_hdrs_add(&head, "Cache-Control", "max-age=60");
    sf_hdrs_add(&head, "Set-Cookie", "a=1");
    struct sf_judged_request req = {"GET", URL, &none, true, false, NULL, NOW, false, 0};
    struct sf_head_decision d;
    sf_judge_head(&strip, &req, 200, &head, NOW, &d);
    assert_true(d.verdict.shareable);
    assert_true(d.verdict.storable);
    assert_null(sf_hdrs_get(&d.fields, "Set-Cookie"));
    sf_head_decision_clear(&d);
}

/* RFC 9110 §9.3.3 (cache.store_post_responses): a POST's response is stored for GETs of
 * its URL only with explicit freshness and a Content-Location that is its target URI. */
static void test_post_responses_for_get(void **state)
{
    (void)state;
    static const struct {
        const char *head[6];
        bool has_get_key, stored;
    } cases[] = {
        {{"Cache-Control", "max-age=60", "Content-Location", "/a/b"}, true, true},
        {{"Cache-Control", "max-age=60", "Content-Location", URL}, true, true},
        {{"Cache-Control", "max-age=60", "Content-Location", "/a/c"}, true, false},
        {{"Cache-Control", "max-age=60"}, true, false},
        {{"Content-Location", "/a/b", "Last-Modified", "Sun, 09 Sep 2001 01:46:40 GMT"},
         true,
         false}, /* heuristic freshness is not explicit */
        {{"Cache-Control", "max-age=60, private", "Content-Location", "/a/b"}, true, false},
        {{"Cache-Control", "max-age=60", "Content-Location", "/a/b"}, false, false},
    };
    struct sf_hdrs none = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sf_hdrs head = {0};
        for (size_t k = 0; k < 6 && cases[i].head[k] != NULL; k += 2)
            sf_hdrs_add(&head, cases[i].head[k], cases[i].head[k + 1]);
        struct sf_judged_request req = {"POST", URL, &none, false, cases[i].has_get_key,
                                        NULL,   NOW, false, 0};
        struct sf_head_decision d;
        sf_judge_head(&cfg, &req, 200, &head, NOW, &d);
        if (d.store_for_get != cases[i].stored)
            fail_msg("case %zu: store_for_get %d", i, d.store_for_get);
        sf_head_decision_clear(&d);
    }
    struct sf_judge_cfg off = cfg;
    off.store_post_responses = false;
    struct sf_hdrs head = {0};
    sf_hdrs_add(&head, "Cache-Control", "max-age=60");
    sf_hdrs_add(&head, "Content-Location", "/a/b");
    struct sf_judged_request req = {"POST", URL, &none, false, true, NULL, NOW, false, 0};
    struct sf_head_decision d;
    sf_judge_head(&off, &req, 200, &head, NOW, &d);
    assert_false(d.store_for_get); /* off by default */
    sf_head_decision_clear(&d);
}

static void test_bodiless_responses(void **state)
{
    (void)state;
    assert_true(sf_judge_bodiless("HEAD", 200));
    assert_true(sf_judge_bodiless("GET", 204));
    assert_true(sf_judge_bodiless("GET", 304));
    assert_true(sf_judge_bodiless("GET", 103));
    assert_false(sf_judge_bodiless("GET", 200));
    assert_false(sf_judge_bodiless("POST", 500));
}

/* Responses too large to store (max_object_bytes 1000 here) are kept in slices (slice
 * bytes 100) when they may be: and a slice fetch's 206 is stored as that slice only when it
 * holds the bytes asked for (RFC 9111 §3.3), judged by the rules of its 200. */
static void test_slices(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bool shared, slice;
        int status;
        const char *head[10];
        bool sliced, storable, shareable;
    } cases[] = {
        {"a large 200 with a strong ETag, Accept-Ranges",
         true,
         false,
         200,
         {"Content-Length", "5000", "Cache-Control", "max-age=60", "ETag", "\"v\"", "Accept-Ranges",
          "bytes"},
         true,
         false,
         true},
        {"no Accept-Ranges: its Ranges may be ignored",
         true,
         false,
         200,
         {"Content-Length", "5000", "Cache-Control", "max-age=60", "ETag", "\"v\""},
         false,
         false,
         true},
        {"Accept-Ranges: none",
         true,
         false,
         200,
         {"Content-Length", "5000", "Cache-Control", "max-age=60", "ETag", "\"v\"", "Accept-Ranges",
          "none"},
         false,
         false,
         true},
        {"a weak ETag",
         true,
         false,
         200,
         {"Content-Length", "5000", "Cache-Control", "max-age=60", "ETag", "W/\"v\"",
          "Accept-Ranges", "bytes"},
         false,
         false,
         true},
        {"Vary",
         true,
         false,
         200,
         {"Content-Length", "5000", "Cache-Control", "max-age=60", "ETag", "\"v\"", "Accept-Ranges",
          "bytes", "Vary", "Accept"},
         false,
         false,
         true},
        {"no-store",
         true,
         false,
         200,
         {"Content-Length", "5000", "Cache-Control", "no-store", "ETag", "\"v\"", "Accept-Ranges",
          "bytes"},
         false,
         false,
         false},
        {"small enough to store whole",
         true,
         false,
         200,
         {"Content-Length", "500", "Cache-Control", "max-age=60", "ETag", "\"v\"", "Accept-Ranges",
          "bytes"},
         false,
         true,
         true},
        {"unknown length",
         true,
         false,
         200,
         {"Cache-Control", "max-age=60", "ETag", "\"v\"", "Accept-Ranges", "bytes"},
         false,
         true,
         true},
        {"a private fetch",
         false,
         false,
         200,
         {"Content-Length", "5000", "Cache-Control", "max-age=60", "ETag", "\"v\"", "Accept-Ranges",
          "bytes"},
         false,
         false,
         true},
        {"a slice: the 206 it asked for",
         true,
         true,
         206,
         {"Content-Length", "100", "Content-Range", "bytes 100-199/5000", "Cache-Control",
          "max-age=60", "ETag", "\"v\""},
         false,
         true,
         true},
        {"a slice: heuristic freshness, as its 200's",
         true,
         true,
         206,
         {"Content-Length", "100", "Content-Range", "bytes 100-199/5000", "Last-Modified",
          "Sun, 06 Nov 1994 08:49:37 GMT"},
         false,
         true,
         true},
        {"a slice: other bytes than asked",
         true,
         true,
         206,
         {"Content-Length", "100", "Content-Range", "bytes 0-99/5000", "Cache-Control",
          "max-age=60"},
         false,
         false,
         true},
        {"a slice: a 200 (the Range ignored), small enough to store",
         true,
         true,
         200,
         {"Content-Length", "100", "Cache-Control", "max-age=60", "ETag", "\"v\""},
         false,
         false,
         true},
        {"a slice: private",
         true,
         true,
         206,
         {"Content-Length", "100", "Content-Range", "bytes 100-199/5000", "Cache-Control",
          "private, max-age=60"},
         false,
         false,
         false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sf_hdrs none = {0}, head = {0};
        for (size_t k = 0; k + 1 < 10 && cases[i].head[k] != NULL; k += 2)
            sf_hdrs_add(&head, cases[i].head[k], cases[i].head[k + 1]);
        struct sf_judged_request req = {
            "GET", URL, &none, cases[i].shared, false, NULL, NOW, cases[i].slice, 100};
        struct sf_head_decision d;
        sf_judge_head(&cfg, &req, cases[i].status, &head, NOW, &d);
        print_message("%s\n", cases[i].name);
        assert_int_equal(d.sliced, cases[i].sliced);
        assert_int_equal(d.verdict.storable, cases[i].storable);
        assert_int_equal(d.verdict.shareable, cases[i].shareable);
        assert_int_equal(d.status, cases[i].status);
        if (d.sliced) {
            assert_int_equal(d.slice.total, 5000);
            assert_string_equal(d.slice.etag, "\"v\"");
        }
        sf_head_decision_clear(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_failure_serves_stale_only_within_its_window),
        cmocka_unit_test(test_head_updates_the_stored_get_it_describes),
        cmocka_unit_test(test_strip_set_cookie),
        cmocka_unit_test(test_post_responses_for_get),
        cmocka_unit_test(test_bodiless_responses),
        cmocka_unit_test(test_slices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
