/* Unit tests for lib/ttl.c and its use in sf_policy_judge: the freshness of a response
 * under a route's cache rule, one row per case of the table: origin silent / explicit /
 * no-store (and no-cache, private, Set-Cookie) × no rule / ttl / force_ttl / ignore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/policy.h"
#include "../../lib/ttl.h"

#include <string.h>

#define NOW 1000000000

enum rule_kind { NO_RULE, TTL_300, FORCE_1000, TTL_PER_STATUS, TTL_ANY_30 };

struct ttl_case {
    const char *name;
    int status;
    const char *cache_control;            /* NULL: none */
    const char *extra_name, *extra_value; /* one more field, or NULL */
    enum rule_kind rule;
    unsigned ignore;
    bool shareable, storable;
    int64_t fresh_s;
    enum sf_ttl_source from;
    unsigned ignored;
};

#define NOTHING NULL, NULL
static const struct ttl_case cases[] = {
    /* The origin says nothing at all. */
    {"silent, no rule", 200, NULL, NOTHING, NO_RULE, 0, true, false, 0, SF_TTL_NONE, 0},
    {"silent, ttl", 200, NULL, NOTHING, TTL_300, 0, true, true, 300, SF_TTL_ROUTE, 0},
    {"silent, force_ttl", 200, NULL, NOTHING, FORCE_1000, 0, true, true, 1000, SF_TTL_FORCE, 0},
    {"silent 302, plain ttl", 302, NULL, NOTHING, TTL_300, 0, true, false, 0, SF_TTL_NONE, 0},
    {"silent 302, ttl any", 302, NULL, NOTHING, TTL_ANY_30, 0, true, true, 30, SF_TTL_ROUTE, 0},
    {"silent 404, per status", 404, NULL, NOTHING, TTL_PER_STATUS, 0, true, true, 60, SF_TTL_ROUTE,
     0},
    {"silent 200, per status", 200, NULL, NOTHING, TTL_PER_STATUS, 0, true, true, 5, SF_TTL_ROUTE,
     0},
    {"silent 410, per status lists no 410", 410, NULL, NOTHING, TTL_PER_STATUS, 0, true, false, 0,
     SF_TTL_NONE, 0},
    {"silent 500, ttl any", 500, NULL, NOTHING, TTL_ANY_30, 0, true, true, 30, SF_TTL_ROUTE, 0},
    /* Last-Modified: the route's ttl replaces the heuristic; without one, the heuristic. */
    {"Last-Modified, no rule", 200, NULL, "Last-Modified", "Sun, 09 Sep 2001 01:30:00 GMT", NO_RULE,
     0, true, true, 100, SF_TTL_HEURISTIC, 0},
    {"Last-Modified, ttl", 200, NULL, "Last-Modified", "Sun, 09 Sep 2001 01:30:00 GMT", TTL_300, 0,
     true, true, 300, SF_TTL_ROUTE, 0},
    /* The origin gives freshness: ttl does not apply, force_ttl does. */
    {"explicit, no rule", 200, "max-age=60", NOTHING, NO_RULE, 0, true, true, 60, SF_TTL_ORIGIN, 0},
    {"explicit, ttl", 200, "max-age=60", NOTHING, TTL_300, 0, true, true, 60, SF_TTL_ORIGIN, 0},
    {"explicit, force_ttl", 200, "max-age=60", NOTHING, FORCE_1000, 0, true, true, 1000,
     SF_TTL_FORCE, 0},
    {"Expires, force_ttl", 200, NULL, "Expires", "Sun, 09 Sep 2001 01:47:40 GMT", FORCE_1000, 0,
     true, true, 1000, SF_TTL_FORCE, 0},
    {"max-age=0, ttl", 200, "max-age=0", NOTHING, TTL_300, 0, true, false, 0, SF_TTL_ORIGIN, 0},
    /* Refusals: they hold unless ignored; ignoring adds no freshness by itself. */
    {"no-store, ttl", 200, "no-store", NOTHING, TTL_300, 0, false, false, 0, SF_TTL_NONE, 0},
    {"no-store, force_ttl", 200, "no-store, max-age=60", NOTHING, FORCE_1000, 0, false, false, 0,
     SF_TTL_NONE, 0},
    {"no-store, ttl, ignore no-store", 200, "no-store", NOTHING, TTL_300, SF_TTL_IGNORE_NO_STORE,
     true, true, 300, SF_TTL_ROUTE, SF_TTL_IGNORE_NO_STORE},
    {"no-store, no rule time, ignore no-store", 200, "no-store", NOTHING, NO_RULE,
     SF_TTL_IGNORE_NO_STORE, true, false, 0, SF_TTL_NONE, SF_TTL_IGNORE_NO_STORE},
    {"no-store max-age, force, ignore", 200, "no-store, max-age=60", NOTHING, FORCE_1000,
     SF_TTL_IGNORE_NO_STORE, true, true, 1000, SF_TTL_FORCE, SF_TTL_IGNORE_NO_STORE},
    {"no-cache without validator, ttl", 200, "no-cache", NOTHING, TTL_300, 0, true, false, 300,
     SF_TTL_ROUTE, 0},
    {"no-cache, ttl, ignore no-cache", 200, "no-cache", NOTHING, TTL_300, SF_TTL_IGNORE_NO_CACHE,
     true, true, 300, SF_TTL_ROUTE, SF_TTL_IGNORE_NO_CACHE},
    {"private, ttl", 200, "private", NOTHING, TTL_300, 0, false, false, 0, SF_TTL_NONE, 0},
    {"private, ttl, ignore private", 200, "private", NOTHING, TTL_300, SF_TTL_IGNORE_PRIVATE, true,
     true, 300, SF_TTL_ROUTE, SF_TTL_IGNORE_PRIVATE},
    {"Set-Cookie, ttl", 200, NULL, "Set-Cookie", "id=1", TTL_300, 0, false, false, 0, SF_TTL_NONE,
     0},
    {"Set-Cookie, ttl, ignore set-cookie", 200, NULL, "Set-Cookie", "id=1", TTL_300,
     SF_TTL_IGNORE_SET_COOKIE, true, true, 300, SF_TTL_ROUTE, SF_TTL_IGNORE_SET_COOKIE},
    /* An ignore list names what to disregard; a directive the response lacks is not
     * reported as ignored. */
    {"ignore all, origin silent", 200, NULL, NOTHING, TTL_300,
     SF_TTL_IGNORE_NO_CACHE | SF_TTL_IGNORE_NO_STORE | SF_TTL_IGNORE_PRIVATE |
         SF_TTL_IGNORE_SET_COOKIE,
     true, true, 300, SF_TTL_ROUTE, 0},
};

static void rule_of(enum rule_kind k, unsigned ignore, struct sf_ttl_rule *r)
{
    sf_ttl_rule_init(r);
    r->ignore = ignore;
    if (k == TTL_300)
        r->ttl.plain_s = 300;
    else if (k == FORCE_1000)
        r->force.plain_s = 1000;
    else if (k == TTL_ANY_30)
        sf_ttl_table_set(&r->ttl, 0, 30);
    if (k == TTL_PER_STATUS) {
        sf_ttl_table_set(&r->ttl, 200, 5);
        sf_ttl_table_set(&r->ttl, 404, 60);
    }
}

static void test_table(void **state)
{
    (void)state;
    static const struct sf_targeted targets[] = {{"CDN-Cache-Control", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct ttl_case *c = &cases[i];
        struct sf_ttl_rule rule;
        rule_of(c->rule, c->ignore, &rule);
        struct sf_cache_rules rules = {targets, 1, 10, 3600, -1, -1, true, &rule};
        struct sf_hdrs h = {0};
        sf_hdrs_add(&h, "Date", "Sun, 09 Sep 2001 01:46:40 GMT"); /* NOW */
        if (c->cache_control != NULL)
            sf_hdrs_add(&h, "Cache-Control", c->cache_control);
        if (c->extra_name != NULL)
            sf_hdrs_add(&h, c->extra_name, c->extra_value);
        struct sf_resp_facts facts = {c->status, &h, false, NOW, NOW, &rules};
        struct sf_verdict v;
        sf_policy_judge(&facts, &v);
        if (v.shareable != c->shareable || v.storable != c->storable ||
            (c->shareable && (v.fresh_s != c->fresh_s || v.fresh_from != c->from)) ||
            v.ignored != c->ignored)
            fail_msg("%s: expected shareable %d storable %d fresh %lld from %s ignored %u; got "
                     "%d %d %lld %s %u (%s)",
                     c->name, c->shareable, c->storable, (long long)c->fresh_s,
                     sf_ttl_source_name(c->from), c->ignored, v.shareable, v.storable,
                     (long long)v.fresh_s, sf_ttl_source_name(v.fresh_from), v.ignored,
                     v.reason ? v.reason : "-");
        if (c->ignore & SF_TTL_IGNORE_NO_CACHE)
            assert_false(v.must_validate);
        sf_hdrs_clear(&h);
        sf_ttl_rule_clear(&rule);
    }
}

/* No rule and an empty rule decide as RFC 9111 alone: the same verdict as rules without a
 * ttl pointer, for every case of the table. */
static void test_no_rule_is_today(void **state)
{
    (void)state;
    static const struct sf_targeted targets[] = {{"CDN-Cache-Control", false}};
    struct sf_ttl_rule empty;
    sf_ttl_rule_init(&empty);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct ttl_case *c = &cases[i];
        struct sf_cache_rules bare = {targets, 1, 10, 3600, -1, -1, true, NULL};
        struct sf_cache_rules with = bare;
        with.ttl = &empty;
        struct sf_hdrs h = {0};
        sf_hdrs_add(&h, "Date", "Sun, 09 Sep 2001 01:46:40 GMT");
        if (c->cache_control != NULL)
            sf_hdrs_add(&h, "Cache-Control", c->cache_control);
        if (c->extra_name != NULL)
            sf_hdrs_add(&h, c->extra_name, c->extra_value);
        struct sf_resp_facts a = {c->status, &h, false, NOW, NOW, &bare}, b = a;
        b.rules = &with;
        struct sf_verdict va, vb;
        sf_policy_judge(&a, &va);
        sf_policy_judge(&b, &vb);
        if (va.shareable != vb.shareable || va.storable != vb.storable ||
            va.fresh_s != vb.fresh_s || va.fresh_from != vb.fresh_from ||
            va.heuristic != vb.heuristic || va.must_validate != vb.must_validate ||
            va.reason != vb.reason)
            fail_msg("%s: an empty rule changed the verdict", c->name);
        sf_hdrs_clear(&h);
    }
}

static void test_tables(void **state)
{
    (void)state;
    struct sf_ttl_table t = {-1, -1, NULL, 0};
    assert_false(sf_ttl_table_given(&t));
    assert_int_equal(sf_ttl_table_lookup(&t, 200), -1);
    t.plain_s = 10;
    assert_int_equal(sf_ttl_table_lookup(&t, 200), 10);
    assert_int_equal(sf_ttl_table_lookup(&t, 404), 10);
    assert_int_equal(sf_ttl_table_lookup(&t, 302), -1); /* not heuristically cacheable */
    assert_int_equal(sf_ttl_table_lookup(&t, 206), -1);
    sf_ttl_table_set(&t, 404, 7);
    sf_ttl_table_set(&t, 404, 8); /* the last one given */
    assert_int_equal(sf_ttl_table_lookup(&t, 404), 8);
    sf_ttl_table_set(&t, 0, 3);
    assert_int_equal(sf_ttl_table_lookup(&t, 302), 3);
    assert_int_equal(sf_ttl_table_lookup(&t, 200), 3); /* "any" before the plain duration */
    sf_ttl_table_clear(&t);
    assert_false(sf_ttl_table_given(&t));
    /* RFC 9110 §15.1's list, and nothing else below 600. */
    int n = 0;
    for (int s = 100; s < 600; s++)
        n += sf_ttl_cacheable_by_default(s);
    assert_int_equal(n, 11);
    assert_true(sf_ttl_cacheable_by_default(308) && sf_ttl_cacheable_by_default(501));
    assert_string_equal(sf_ttl_ignore_name(SF_TTL_IGNORE_SET_COOKIE), "set-cookie");
    assert_null(sf_ttl_ignore_name(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_no_rule_is_today),
        cmocka_unit_test(test_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
