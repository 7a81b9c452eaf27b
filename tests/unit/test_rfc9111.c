/* The rules of RFC 9111 (and RFC 5861, RFC 9213) that bind a shared cache, one row per
 * requirement, run against lib/policy.c. A row gives the response's status and fields, the
 * request's, the clock, and what must follow: whether the response may be shared with the
 * other waiters of its flight, whether it is stored, its freshness lifetime and age, and,
 * some seconds later, whether a stored response is reused as it is, must be validated
 * first, or may be served stale while it is revalidated. "@+N" / "@-N" in a field value
 * stand for the HTTP-date N seconds after / before the response arrived. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1000000000
#define ANY (-2) /* an expectation that does not apply to the row */

enum reuse { NOT_STORED, REUSE, VALIDATE };

struct rule {
    const char *rule; /* the section and what it says */
    int status;
    const char *resp[10];   /* response fields: name, value pairs, NULL-terminated */
    const char *req_cc;     /* the later request's Cache-Control, or NULL */
    const char *req_pragma; /* its Pragma, or NULL */
    bool authorization;     /* the request that brought the response had Authorization */
    int64_t delay_s;        /* how long the response took to arrive */
    int64_t later_s;        /* when the later request comes, after the response arrived */
    bool shareable, stored;
    int64_t fresh_s, age_s; /* ANY: not checked */
    enum reuse reuse;       /* for the later request */
    int swr;                /* 1/0: within its stale-while-revalidate window then; ANY */
};

/* One row per rule, laid out by hand. */
/* clang-format off */
static const struct rule rules[] = {
    /* §3: storing. */
    {"§3 a final, understood response with max-age is stored", 200,
     {"Cache-Control", "max-age=60"}, NULL, NULL, false, 0, 10, true, true, 60, 0, REUSE, ANY},
    {"§3 + §5.2.2.5 no-store: not stored, not used for any other request", 200,
     {"Cache-Control", "no-store, max-age=60"}, NULL, NULL, false, 0, 0, false, false, ANY,
     ANY, NOT_STORED, ANY},
    {"§3 + §5.2.2.7 private: a shared cache must not store it", 200,
     {"Cache-Control", "private, max-age=60"}, NULL, NULL, false, 0, 0, false, false, ANY, ANY,
     NOT_STORED, ANY},
    {"§3.5 Authorization: not stored on max-age alone", 200, {"Cache-Control", "max-age=60"},
     NULL, NULL, true, 0, 0, true, false, 60, 0, NOT_STORED, ANY},
    {"§3.5 Authorization: public allows it", 200, {"Cache-Control", "public, max-age=60"},
     NULL, NULL, true, 0, 10, true, true, 60, 0, REUSE, ANY},
    {"§3.5 Authorization: must-revalidate allows it", 200,
     {"Cache-Control", "must-revalidate, max-age=60"}, NULL, NULL, true, 0, 10, true, true, 60,
     0, REUSE, ANY},
    {"§3.5 Authorization: s-maxage allows it", 200, {"Cache-Control", "s-maxage=60"}, NULL,
     NULL, true, 0, 10, true, true, 60, 0, REUSE, ANY},
    {"§3.3/§3.4 a 206 is never stored as a complete response", 206,
     {"Cache-Control", "max-age=60"}, NULL, NULL, false, 0, 0, true, false, 60, 0, NOT_STORED,
     ANY},
    {"§3 a 500 with explicit freshness is stored (cache.store_server_errors)", 500,
     {"Cache-Control", "max-age=60"}, NULL, NULL, false, 0, 10, true, true, 60, 0, REUSE, ANY},
    {"§3 a 503 with Expires is stored: negative caching the origin asked for", 503,
     {"Date", "@0", "Expires", "@+30"}, NULL, NULL, false, 0, 10, true, true, 30, 0, REUSE,
     ANY},
    {"§3 a 503 without explicit freshness is not (no heuristic for it, §4.2.2)", 503,
     {"Date", "@0", "Last-Modified", "@-1000"}, NULL, NULL, false, 0, 0, true, false, ANY, ANY,
     NOT_STORED, ANY},
    {"§3 a status sfproxy does not know, with explicit freshness, is stored", 599,
     {"Cache-Control", "max-age=60"}, NULL, NULL, false, 0, 10, true, true, 60, 0, REUSE, ANY},
    {"§3 so is a 299 and a 499", 499, {"Cache-Control", "s-maxage=60"}, NULL, NULL, false, 0,
     10, true, true, 60, 0, REUSE, ANY},
    {"§3 an unknown status without explicit freshness is not", 299, {"Date", "@0",
     "Last-Modified", "@-1000"}, NULL, NULL, false, 0, 0, true, false, ANY, ANY, NOT_STORED,
     ANY},
    {"§4.3.4 a 304 is never stored as a response of its own", 304,
     {"Cache-Control", "max-age=60"}, NULL, NULL, false, 0, 0, true, false, 60, 0, NOT_STORED,
     ANY},
    {"§3 a 302 with explicit freshness is stored", 302,
     {"Cache-Control", "max-age=60", "Location", "/x"}, NULL, NULL, false, 0, 10, true, true,
     60, 0, REUSE, ANY},
    {"§4.2.2 a 302 is not heuristically cacheable: no explicit freshness, not stored", 302,
     {"Date", "@0", "Last-Modified", "@-1000", "Location", "/x"}, NULL, NULL, false, 0, 0,
     true, false, ANY, ANY, NOT_STORED, ANY},
    {"§3 + RFC 9110 §15.1: 404 is cacheable by default", 404, {"Cache-Control", "max-age=60"},
     NULL, NULL, false, 0, 10, true, true, 60, 0, REUSE, ANY},
    {"§3 without freshness or validator there is nothing to store (shared, not stored)", 200,
     {NULL}, NULL, NULL, false, 0, 0, true, false, ANY, ANY, NOT_STORED, ANY},
    {"sfproxy: Set-Cookie is one user's (cache.strip_set_cookie changes it)", 200,
     {"Cache-Control", "max-age=60", "Set-Cookie", "a=1"}, NULL, NULL, false, 0, 0, false,
     false, ANY, ANY, NOT_STORED, ANY},

    /* §4.1: Vary. */
    {"§4.1 Vary: * always fails to match: never shared", 200,
     {"Cache-Control", "max-age=60", "Vary", "*"}, NULL, NULL, false, 0, 0, false, false, ANY,
     ANY, NOT_STORED, ANY},
    {"§4.1 a * among Vary's names fails to match too", 200,
     {"Cache-Control", "max-age=60", "Vary", "Accept, *"}, NULL, NULL, false, 0, 0, false,
     false, ANY, ANY, NOT_STORED, ANY},
    {"§4.1 Vary with field names: stored as a variant", 200,
     {"Cache-Control", "max-age=60", "Vary", "Accept-Language"}, NULL, NULL, false, 0, 10,
     true, true, 60, 0, REUSE, ANY},

    /* §4.2.1: freshness lifetime. */
    {"§4.2.1 s-maxage over max-age for a shared cache", 200,
     {"Cache-Control", "max-age=60, s-maxage=30"}, NULL, NULL, false, 0, 0, true, true, 30, 0,
     REUSE, ANY},
    {"§4.2.1 max-age over Expires", 200,
     {"Cache-Control", "max-age=60", "Date", "@0", "Expires", "@-100"}, NULL, NULL, false, 0, 0,
     true, true, 60, 0, REUSE, ANY},
    {"§5.3 s-maxage: a shared cache ignores Expires", 200,
     {"Cache-Control", "s-maxage=30", "Date", "@0", "Expires", "@+1000"}, NULL, NULL, false, 0,
     0, true, true, 30, 0, REUSE, ANY},
    {"§4.2.1 Expires minus Date", 200, {"Date", "@0", "Expires", "@+100"}, NULL, NULL, false, 0,
     99, true, true, 100, 0, REUSE, ANY},
    {"§5.3 an invalid Expires (\"0\") means already expired", 200, {"Expires", "0"}, NULL, NULL,
     false, 0, 0, true, false, 0, 0, NOT_STORED, ANY},
    {"§4.2.1 Expires at its Date is stale on arrival, both in our future", 200,
     {"Date", "@+100", "Expires", "@+100"}, NULL, NULL, false, 0, 0, true, false, 0, 0,
     NOT_STORED, ANY},
    {"§4.2.1 Expires minus Date on the origin's clock, however fast it is", 200,
     {"Date", "@+100", "Expires", "@+160"}, NULL, NULL, false, 0, 10, true, true, 60, 0, REUSE,
     ANY},
    {"§4.2.1 an Age larger than Expires minus Date is stale on arrival", 200,
     {"Date", "@0", "Expires", "@+60", "Age", "100"}, NULL, NULL, false, 0, 0, true, false, 60,
     100, NOT_STORED, ANY},
    {"§5.3 more than one Expires line is invalid: already expired", 200,
     {"Date", "@0", "Expires", "@+100", "Expires", "@+100"}, NULL, NULL, false, 0, 0, true,
     false, 0, 0, NOT_STORED, ANY},
    {"§5.3 an Expires with a doubled space is invalid", 200,
     {"Expires", "Sun,  06 Nov 2094 08:49:37 GMT"}, NULL, NULL, false, 0, 0, true, false, 0, 0,
     NOT_STORED, ANY},
    {"§4.2.1 duplicate directives: the first occurrence is used", 200,
     {"Cache-Control", "max-age=10", "Cache-Control", "max-age=20"}, NULL, NULL, false, 0, 0,
     true, true, 10, 0, REUSE, ANY},
    {"§4.2.1 an invalid max-age makes the response stale", 200, {"Cache-Control", "max-age=1x"},
     NULL, NULL, false, 0, 0, true, false, 0, 0, NOT_STORED, ANY},
    {"§1.2.2 a delta-seconds above 2^31 is taken as 2^31", 200,
     {"Cache-Control", "max-age=99999999999999999999"}, NULL, NULL, false, 0, 0, true, true,
     2147483648LL, 0, REUSE, ANY},
    {"§5.2 directive names are case-insensitive", 200, {"Cache-Control", "MAX-AGE=60"}, NULL,
     NULL, false, 0, 0, true, true, 60, 0, REUSE, ANY},
    {"§5.2 arguments are accepted in quoted-string form too", 200,
     {"Cache-Control", "max-age=\"60\""}, NULL, NULL, false, 0, 0, true, true, 60, 0, REUSE,
     ANY},
    {"§5.2.3 unknown directives are ignored", 200,
     {"Cache-Control", "x-ext, max-age=60, foo=\"a, b\""}, NULL, NULL, false, 0, 0, true, true,
     60, 0, REUSE, ANY},
    {"RFC 9213: CDN-Cache-Control takes precedence over Cache-Control", 200,
     {"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"}, NULL, NULL, false, 0, 0,
     true, true, 60, 0, REUSE, ANY},
    {"RFC 9213 §2.1 a valid targeted field: Expires no longer counts either", 200,
     {"CDN-Cache-Control", "must-revalidate", "Date", "@0", "Expires", "@+100"}, NULL, NULL,
     false, 0, 0, true, false, ANY, ANY, NOT_STORED, ANY},
    {"RFC 9213 §2.1 one that does not parse is ignored: Cache-Control applies", 200,
     {"CDN-Cache-Control", "max-age=\"5\"", "Cache-Control", "max-age=60"}, NULL, NULL, false,
     0, 0, true, true, 60, 0, REUSE, ANY},
    {"RFC 9213 §2.1 so is an empty one", 200,
     {"CDN-Cache-Control", "", "Cache-Control", "max-age=60"}, NULL, NULL, false, 0, 0, true,
     true, 60, 0, REUSE, ANY},

    /* §4.2.2: heuristic freshness (rules: 10% of the Last-Modified age, at most 1 h). */
    {"§4.2.2 heuristic freshness: a fraction of the time since Last-Modified", 200,
     {"Date", "@0", "Last-Modified", "@-1000"}, NULL, NULL, false, 0, 50, true, true, 100, 0,
     REUSE, ANY},
    {"§4.2.2 heuristics never override an explicit lifetime", 200,
     {"Cache-Control", "max-age=5", "Date", "@0", "Last-Modified", "@-1000"}, NULL, NULL, false,
     0, 0, true, true, 5, 0, REUSE, ANY},
    {"§4.2.2 only for statuses cacheable by default", 500,
     {"Date", "@0", "Last-Modified", "@-1000"}, NULL, NULL, false, 0, 0, true, false, ANY, ANY,
     NOT_STORED, ANY},

    /* §4.2.3 and §5.1: age. */
    {"§4.2.3 apparent age: response time minus Date", 200,
     {"Cache-Control", "max-age=60", "Date", "@-30"}, NULL, NULL, false, 0, 0, true, true, 60,
     30, REUSE, ANY},
    {"§4.2.3 a Date in the future gives no apparent age", 200,
     {"Cache-Control", "max-age=60", "Date", "@+100"}, NULL, NULL, false, 0, 0, true, true, 60,
     0, REUSE, ANY},
    {"§4.2.3 corrected age value: Age plus the response delay, when larger", 200,
     {"Cache-Control", "max-age=60", "Date", "@-10", "Age", "40"}, NULL, NULL, false, 3, 0,
     true, true, 60, 43, REUSE, ANY},
    {"§4.2.3 resident time adds to age: stale after the lifetime", 200,
     {"Cache-Control", "max-age=60", "Age", "20"}, NULL, NULL, false, 0, 41, true, true, 60, 20,
     VALIDATE, ANY},
    {"§5.1 an Age that is not a number is ignored", 200, {"Cache-Control", "max-age=60", "Age",
     "abc"}, NULL, NULL, false, 0, 0, true, true, 60, 0, REUSE, ANY},
    {"§5.1 an Age that is not an integer is ignored, not read as 7200", 200,
     {"Cache-Control", "max-age=60", "Age", "7200.0"}, NULL, NULL, false, 0, 0, true, true, 60,
     0, REUSE, ANY},
    {"§5.1 a negative Age is ignored", 200, {"Cache-Control", "max-age=60", "Age", "-1"}, NULL,
     NULL, false, 0, 0, true, true, 60, 0, REUSE, ANY},
    {"§5.1 an Age in exponent form is ignored, not read as 1", 200,
     {"Cache-Control", "max-age=60", "Age", "1e3"}, NULL, NULL, false, 0, 0, true, true, 60, 0,
     REUSE, ANY},
    {"§5.1 an Age list: its first member", 200, {"Cache-Control", "max-age=60", "Age",
     "5, 10"}, NULL, NULL, false, 0, 0, true, true, 60, 5, REUSE, ANY},
    {"§1.2.2 a huge Age saturates at 2^31: stale", 200,
     {"Cache-Control", "max-age=60", "Age", "99999999999999999999"}, NULL, NULL, false, 0, 0,
     true, false, 60, 2147483648, NOT_STORED, ANY},
    {"§4.2.3 a response older than its lifetime on arrival is not stored", 200,
     {"Cache-Control", "max-age=60", "Age", "100"}, NULL, NULL, false, 0, 0, true, false, 60,
     100, NOT_STORED, ANY},
    {"§4.3 stale on arrival but with a validator: stored, validated before use", 200,
     {"Cache-Control", "max-age=60", "Age", "100", "ETag", "\"v1\""}, NULL, NULL, false, 0, 0,
     true, true, 60, 100, VALIDATE, ANY},
    {"RFC 5861 §3 stale on arrival within its stale-while-revalidate window: stored", 200,
     {"Cache-Control", "max-age=1, stale-while-revalidate=60", "Date", "@-1"}, NULL, NULL,
     false, 0, 0, true, true, 1, 1, VALIDATE, 1},
    {"RFC 5861 §4 stale on arrival within its stale-if-error window: stored", 200,
     {"Cache-Control", "max-age=60, stale-if-error=100", "Age", "100"}, NULL, NULL, false, 0,
     0, true, true, 60, 100, VALIDATE, ANY},
    {"RFC 5861 stale on arrival beyond its windows: not stored", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=10", "Age", "100"}, NULL, NULL,
     false, 0, 0, true, false, 60, 100, NOT_STORED, ANY},
    {"§4.2.4 must-revalidate: a window does not keep a stale arrival", 200,
     {"Cache-Control", "max-age=60, must-revalidate, stale-if-error=1000", "Age", "100"}, NULL,
     NULL, false, 0, 0, true, false, 60, 100, NOT_STORED, ANY},

    /* §4 and §4.2.4: reuse, validation, stale. */
    {"§4 a stale response is not reused without validation", 200,
     {"Cache-Control", "max-age=60"}, NULL, NULL, false, 0, 61, true, true, 60, 0, VALIDATE,
     ANY},
    {"§5.2.1.4 request no-cache: validate first", 200, {"Cache-Control", "max-age=60"},
     "no-cache", NULL, false, 0, 1, true, true, 60, 0, VALIDATE, ANY},
    {"§5.4 Pragma: no-cache without Cache-Control: validate first", 200,
     {"Cache-Control", "max-age=60"}, NULL, "no-cache", false, 0, 1, true, true, 60, 0,
     VALIDATE, ANY},
    {"§5.4 Pragma is ignored when the request has Cache-Control", 200,
     {"Cache-Control", "max-age=60"}, "max-age=100", "no-cache", false, 0, 1, true, true, 60,
     0, REUSE, ANY},
    {"§5.2.1.1 request max-age: an older response is not reused", 200,
     {"Cache-Control", "max-age=60"}, "max-age=10", NULL, false, 0, 30, true, true, 60, 0,
     VALIDATE, ANY},
    {"§5.2.1.3 min-fresh: not reused with less freshness left", 200,
     {"Cache-Control", "max-age=60"}, "min-fresh=20", NULL, false, 0, 50, true, true, 60, 0,
     VALIDATE, ANY},
    {"§5.2.1.2 max-stale=N: stale by up to N is acceptable", 200,
     {"Cache-Control", "max-age=60"}, "max-stale=20", NULL, false, 0, 70, true, true, 60, 0,
     REUSE, ANY},
    {"§5.2.1.2 max-stale=N: not beyond N", 200, {"Cache-Control", "max-age=60"},
     "max-stale=20", NULL, false, 0, 90, true, true, 60, 0, VALIDATE, ANY},
    {"§5.2.1.2 max-stale without a value: any staleness", 200, {"Cache-Control", "max-age=60"},
     "max-stale", NULL, false, 0, 100000, true, true, 60, 0, REUSE, ANY},
    {"§5.2.2.2 must-revalidate: never served stale, even to max-stale", 200,
     {"Cache-Control", "max-age=60, must-revalidate"}, "max-stale", NULL, false, 0, 70, true,
     true, 60, 0, VALIDATE, 0},
    {"§5.2.2.8 proxy-revalidate binds a shared cache the same way", 200,
     {"Cache-Control", "max-age=60, proxy-revalidate, stale-while-revalidate=100"}, "max-stale",
     NULL, false, 0, 70, true, true, 60, 0, VALIDATE, 0},
    {"§5.2.2.10 s-maxage implies proxy-revalidate", 200, {"Cache-Control", "s-maxage=60"},
     "max-stale", NULL, false, 0, 70, true, true, 60, 0, VALIDATE, 0},
    {"§5.2.2.4 no-cache: stored (with a validator), validated before every use", 200,
     {"Cache-Control", "no-cache, max-age=60", "ETag", "\"v\""}, NULL, NULL, false, 0, 0, true,
     true, 60, 0, VALIDATE, 0},
    {"§5.2.2.4 no-cache without a validator: shared, not stored", 200,
     {"Cache-Control", "no-cache"}, NULL, NULL, false, 0, 0, true, false, ANY, ANY, NOT_STORED,
     ANY},
    {"§5.2.2.3 must-understand: no-store ignored for a status sfproxy understands", 200,
     {"Cache-Control", "max-age=60, must-understand, no-store"}, NULL, NULL, false, 0, 10, true,
     true, 60, 0, REUSE, ANY},
    {"§5.2.2.3 must-understand, status not understood: no-store still holds", 299,
     {"Cache-Control", "max-age=60, must-understand, no-store"}, NULL, NULL, false, 0, 0, false,
     false, ANY, ANY, NOT_STORED, ANY},
    {"§5.2.2.3 must-understand: not stored for a status it does not", 299,
     {"Cache-Control", "max-age=60, must-understand"}, NULL, NULL, false, 0, 0, true, false,
     ANY, ANY, NOT_STORED, ANY},
    {"RFC 5861 §3 stale-while-revalidate: within the window", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=30"}, NULL, NULL, false, 0, 80,
     true, true, 60, 0, VALIDATE, 1},
    {"§5.2 request directives sfproxy does not know do not stop stale-while-revalidate", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=30"}, "nothing-to-see-here", NULL,
     false, 0, 80, true, true, 60, 0, VALIDATE, 1},
    {"§5.4 nor does a Pragma other than no-cache", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=30"}, NULL, "x-foo", false, 0, 80,
     true, true, 60, 0, VALIDATE, 1},
    {"§5.2.1.4 no-cache in the request stops it", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=30"}, "no-cache", NULL, false, 0,
     80, true, true, 60, 0, VALIDATE, 0},
    {"§5.4 so does Pragma: no-cache alone", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=30"}, NULL, "no-cache", false, 0,
     80, true, true, 60, 0, VALIDATE, 0},
    {"§5.2.1.1 a request max-age the response is older than stops it", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=30"}, "max-age=70", NULL, false, 0,
     80, true, true, 60, 0, VALIDATE, 0},
    {"§5.2.1.3 min-fresh stops it", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=30"}, "min-fresh=1", NULL, false, 0,
     80, true, true, 60, 0, VALIDATE, 0},
    {"§5.2.1.2 a max-stale smaller than its staleness stops it; a larger one does not", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=30"}, "max-stale=10", NULL, false,
     0, 80, true, true, 60, 0, VALIDATE, 0},
    {"§5.2.1.2 (a max-stale it is within is served from the store outright)", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=30"}, "max-stale=30", NULL, false,
     0, 80, true, true, 60, 0, REUSE, 1},
    {"RFC 5861 §3 stale-while-revalidate: not past it", 200,
     {"Cache-Control", "max-age=60, stale-while-revalidate=30"}, NULL, NULL, false, 0, 91,
     true, true, 60, 0, VALIDATE, 0},
};
/* clang-format on */

/* value, or for "@+N" / "@-N" the HTTP-date N seconds from NOW, written into buf. */
static const char *expand(const char *value, char *buf, size_t size)
{
    if (value == NULL || value[0] != '@')
        return value;
    sf_http_date_format(NOW + strtoll(value + 1, NULL, 10), buf, size);
    return buf;
}

static void add_field(struct sf_hdrs *h, const char *name, const char *value)
{
    char date[64];
    sf_hdrs_add(h, name, expand(value, date, sizeof date));
}

/* The later request's directives. */
static void directives_of(const struct rule *r, struct sf_req_directives *d)
{
    *d = (struct sf_req_directives){false, false, false, -1, -1, -1};
    if (r->req_cc != NULL || r->req_pragma != NULL)
        sf_policy_request_directives(r->req_cc, r->req_pragma, d);
}

static enum reuse reuse_of(const struct rule *r, const struct sf_verdict *v)
{
    struct sf_req_directives d;
    directives_of(r, &d);
    if (!v->storable)
        return NOT_STORED;
    return sf_policy_acceptable(v, v->age_s + r->later_s, &d) ? REUSE : VALIDATE;
}

/* Whether the later request may be served the stored response stale while it is
 * revalidated (RFC 5861 §3). */
static int swr_of(const struct rule *r, const struct sf_verdict *v)
{
    struct sf_req_directives d;
    directives_of(r, &d);
    int64_t age = v->age_s + r->later_s;
    return sf_policy_within_stale_window(v, age, v->stale_while_revalidate_s) &&
           sf_policy_stale_allowed(&d, v, age);
}

static void test_rules(void **state)
{
    (void)state;
    static const char *const reuse_names[] = {"not stored", "reuse", "validate"};
    static const struct sf_targeted targets[] = {{"CDN-Cache-Control", false}};
    const struct sf_cache_rules cache_rules = {targets, 1, 10, 3600, -1, -1, true, NULL};
    int failed = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const struct rule *r = &rules[i];
        struct sf_hdrs h = {0};
        for (size_t j = 0; r->resp[j] != NULL; j += 2)
            add_field(&h, r->resp[j], r->resp[j + 1]);
        struct sf_resp_facts facts = {r->status,        &h,  r->authorization,
                                      NOW - r->delay_s, NOW, &cache_rules};
        struct sf_verdict v;
        sf_policy_judge(&facts, &v);
        enum reuse reuse = reuse_of(r, &v);
        int swr = swr_of(r, &v);
        if (v.shareable != r->shareable || v.storable != r->stored ||
            (r->fresh_s != ANY && v.fresh_s != r->fresh_s) ||
            (r->age_s != ANY && v.age_s != r->age_s) || reuse != r->reuse ||
            (r->swr != ANY && swr != r->swr)) {
            print_error("%s:\n  expected shareable=%d stored=%d fresh=%lld age=%lld %s swr=%d\n"
                        "  got      shareable=%d stored=%d fresh=%lld age=%lld %s swr=%d (%s)\n",
                        r->rule, r->shareable, r->stored, (long long)r->fresh_s,
                        (long long)r->age_s, reuse_names[r->reuse], r->swr, v.shareable, v.storable,
                        (long long)v.fresh_s, (long long)v.age_s, reuse_names[reuse], swr,
                        v.reason ? v.reason : "-");
            failed++;
        }
        sf_hdrs_clear(&h);
    }
    assert_int_equal(failed, 0);
}

/* §4.3.2: a client's conditional request against a stored 200. */
static void test_conditional_requests(void **state)
{
    (void)state;
    static const struct {
        const char *rule, *etag, *last_modified, *date, *inm, *ims;
        bool not_modified;
    } conds[] = {
        {"If-None-Match names the ETag", "\"a\"", NULL, NULL, "\"x\", \"a\"", NULL, true},
        {"weak comparison (RFC 9110 §13.1.2)", "W/\"a\"", NULL, NULL, "\"a\"", NULL, true},
        {"If-None-Match: * matches any", "\"a\"", NULL, NULL, "*", NULL, true},
        {"another ETag", "\"a\"", NULL, NULL, "\"b\"", NULL, false},
        {"If-None-Match wins over If-Modified-Since", "\"a\"", "@-100", NULL, "\"b\"", "@0", false},
        {"If-Modified-Since at or after Last-Modified", NULL, "@-100", NULL, NULL, "@-100", true},
        {"If-Modified-Since before Last-Modified", NULL, "@-100", NULL, NULL, "@-101", false},
        {"without Last-Modified, the stored Date (SHOULD)", NULL, NULL, "@-50", NULL, "@-10", true},
        {"without Last-Modified, a Date after it", NULL, NULL, "@-5", NULL, "@-10", false},
        {"an invalid date never matches", NULL, "@-100", NULL, NULL, "yesterday", false},
    };
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
        struct sf_hdrs h = {0};
        char ims[64];
        if (conds[i].etag)
            add_field(&h, "ETag", conds[i].etag);
        if (conds[i].last_modified)
            add_field(&h, "Last-Modified", conds[i].last_modified);
        if (conds[i].date)
            add_field(&h, "Date", conds[i].date);
        bool got = sf_policy_not_modified(&h, conds[i].inm, expand(conds[i].ims, ims, sizeof ims));
        if (got != conds[i].not_modified)
            fail_msg("§4.3.2 %s: expected %d", conds[i].rule, conds[i].not_modified);
        sf_hdrs_clear(&h);
    }
}

/* §3.2 and §4.3.4: a 304's fields replace the stored ones, except Content-Length; the
 * stored Age does not outlive the validation (§4.2.3). */
static void test_refresh_fields(void **state)
{
    (void)state;
    struct sf_hdrs stored = {0}, fresh = {0}, out = {0};
    sf_hdrs_add(&stored, "Cache-Control", "max-age=10");
    sf_hdrs_add(&stored, "X-A", "1");
    sf_hdrs_add(&stored, "X-A", "2");
    sf_hdrs_add(&stored, "Content-Length", "100");
    sf_hdrs_add(&stored, "Age", "50");
    sf_hdrs_add(&fresh, "x-a", "3");
    sf_hdrs_add(&fresh, "Cache-Control", "max-age=20");
    sf_hdrs_add(&fresh, "Content-Length", "0");
    sf_policy_refresh_fields(&stored, &fresh, &out);
    char *xa = sf_hdrs_join(&out, "X-A");
    assert_string_equal(xa, "3");
    free(xa);
    assert_string_equal(sf_hdrs_get(&out, "Cache-Control"), "max-age=20");
    assert_string_equal(sf_hdrs_get(&out, "Content-Length"), "100");
    assert_null(sf_hdrs_get(&out, "Age")); /* the old response's age is not the new one's */
    sf_hdrs_clear(&stored), sf_hdrs_clear(&fresh), sf_hdrs_clear(&out);
    /* A 304 whose fields would take the head past what an origin's may be (16 KiB, 100
     * fields) leaves the stored fields as they were: such a head could not be sent. */
    char value[1001];
    memset(value, 'v', 1000);
    value[1000] = '\0';
    char name[16];
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof name, "X-S%d", i);
        sf_hdrs_add(&stored, name, value);
        snprintf(name, sizeof name, "X-F%d", i);
        sf_hdrs_add(&fresh, name, value);
    }
    sf_hdrs_add(&fresh, "Cache-Control", "max-age=20");
    sf_policy_refresh_fields(&stored, &fresh, &out);
    assert_int_equal(out.n, stored.n);
    assert_null(sf_hdrs_get(&out, "Cache-Control"));
    sf_hdrs_clear(&out);
    sf_hdrs_remove(&fresh, "X-F8"); /* 17 fields of 1,000 bytes fit */
    sf_hdrs_remove(&stored, "X-S8");
    sf_policy_refresh_fields(&stored, &fresh, &out);
    assert_int_equal(out.n, stored.n + fresh.n);
    sf_hdrs_clear(&stored), sf_hdrs_clear(&fresh), sf_hdrs_clear(&out);
    for (int i = 0; i < 101; i++) {
        snprintf(name, sizeof name, "X-%d", i);
        sf_hdrs_add(i < 60 ? &stored : &fresh, name, "v");
    }
    sf_policy_refresh_fields(&stored, &fresh, &out);
    assert_int_equal(out.n, 60);
    sf_hdrs_clear(&stored), sf_hdrs_clear(&fresh), sf_hdrs_clear(&out);
}

/* §4.4: what an unsafe request's response invalidates besides its target. */
static void test_invalidation_urls(void **state)
{
    (void)state;
    static const char *const inv[][3] = {
        {"http://o:9/p/q", "/r?x=1", "http://o:9/r?x=1"},
        {"http://o:9/p/q", "http://o:9/r", "http://o:9/r"},
        {"http://o:9/p/q", "http://o:9", "http://o:9"},
        {"http://o:9/p/q", "http://o:8/r", NULL},  /* another port: another origin */
        {"http://o:9/p/q", "http://o:90/r", NULL}, /* not a prefix match of the port */
        {"http://o:9/p/q", "https://o:9/r", NULL}, /* another scheme */
        {"http://o:9/p/q", "http://evil/r", NULL}, /* another host: MUST NOT */
        {"http://o:9/p/q", "//evil/r", NULL},      /* scheme-relative: another host */
        {"http://o:9/p/q", "r", "http://o:9/p/r"}, /* relative: resolved (RFC 3986 §5.2) */
        /* RFC 3986 §5.4's examples, against http://a/b/c/d;p?q. */
        {"http://a/b/c/d;p?q", "g", "http://a/b/c/g"},
        {"http://a/b/c/d;p?q", "./g", "http://a/b/c/g"},
        {"http://a/b/c/d;p?q", "g/", "http://a/b/c/g/"},
        {"http://a/b/c/d;p?q", "/g", "http://a/g"},
        {"http://a/b/c/d;p?q", "?y", "http://a/b/c/d;p?y"},
        {"http://a/b/c/d;p?q", "g?y", "http://a/b/c/g?y"},
        {"http://a/b/c/d;p?q", "#s", "http://a/b/c/d;p?q"},
        {"http://a/b/c/d;p?q", "g#s", "http://a/b/c/g"},
        {"http://a/b/c/d;p?q", ";x", "http://a/b/c/;x"},
        {"http://a/b/c/d;p?q", "", "http://a/b/c/d;p?q"},
        {"http://a/b/c/d;p?q", ".", "http://a/b/c/"},
        {"http://a/b/c/d;p?q", "..", "http://a/b/"},
        {"http://a/b/c/d;p?q", "../g", "http://a/b/g"},
        {"http://a/b/c/d;p?q", "../..", "http://a/"},
        {"http://a/b/c/d;p?q", "../../../g", "http://a/g"},
        {"http://a/b/c/d;p?q", "/./g", "http://a/g"},
        {"http://a/b/c/d;p?q", "/../g", "http://a/g"},
        {"http://a/b/c/d;p?q", "g.", "http://a/b/c/g."},
        {"http://a/b/c/d;p?q", "..g", "http://a/b/c/..g"},
        {"http://a/b/c/d;p?q", "./g/.", "http://a/b/c/g/"},
        {"http://a/b/c/d;p?q", "g/../h", "http://a/b/c/h"},
        {"http://a/b/c/d;p?q", "g;x=1/../y", "http://a/b/c/y"},
        {"http://a/b/c/d;p?q", "g?y/./x", "http://a/b/c/g?y/./x"},
        {"http://a", "g", "http://a/g"},
    };
    for (size_t i = 0; i < sizeof inv / sizeof inv[0]; i++) {
        char *url = sf_policy_invalidation_url(inv[i][0], inv[i][1]);
        if ((url == NULL) != (inv[i][2] == NULL) || (url && strcmp(url, inv[i][2]) != 0))
            fail_msg("§4.4 %s from %s: expected %s, got %s", inv[i][1], inv[i][0],
                     inv[i][2] ? inv[i][2] : "nothing", url ? url : "nothing");
        free(url);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_conditional_requests),
        cmocka_unit_test(test_refresh_fields),
        cmocka_unit_test(test_invalidation_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
