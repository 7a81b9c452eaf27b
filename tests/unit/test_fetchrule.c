/* What a fetch reads of its route's settings (lib/fetchrule.c): the top level's values as
 * a route's, a route that gives nothing judged exactly as the top level, a route's own
 * values in the rules, judge and publisher, "ignore": ["set-cookie"] as strip_set_cookie,
 * no slices where the route's object limit is below the slice size; and a response judged
 * through a route's settings: its ttl, force_ttl and ignore, and where its freshness came
 * from kept on the object it is published on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/fetchrule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1000000000

/* Loads text as a config file (it must load). */
static void load_text(const char *text, struct sf_config *cfg)
{
    char path[] = "/tmp/sfproxy-test-fetchrule-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char err[512] = "";
    enum sf_err e = sf_config_load(path, cfg, err, sizeof err);
    unlink(path);
    if (e != SF_OK)
        fail_msg("the config did not load: %s", err);
}

static const char *const CONFIG =
    "{\"upstream\": \"http://origin.test\","
    " \"timeouts\": {\"first_byte\": \"7s\", \"upstream_idle\": \"8s\"},"
    " \"cache\": {\"hit_for_pass\": \"3s\", \"max_object_bytes\": \"2MiB\","
    "  \"slice_bytes\": \"1MiB\", \"heuristic_percent\": 20, \"heuristic_max\": \"2h\","
    "  \"strip_set_cookie\": false, \"store_server_errors\": false,"
    "  \"store_post_responses\": true, \"stale_if_error\": \"30s\","
    "  \"stale_while_revalidate\": \"0s\"},"
    " \"routes\": ["
    "  {\"name\": \"plain\", \"match\": {\"path_prefix\": \"/plain/\"}},"
    "  {\"name\": \"own\", \"match\": {\"path_prefix\": \"/own/\"},"
    "   \"timeouts\": {\"first_byte\": \"1s\", \"upstream_idle\": \"2s\"},"
    "   \"cache\": {\"ttl\": \"60s\", \"hit_for_pass\": \"9s\", \"max_object_bytes\": \"4KiB\","
    "    \"heuristic_percent\": 0, \"heuristic_max\": \"1h\", \"strip_set_cookie\": true,"
    "    \"store_server_errors\": true, \"store_post_responses\": false,"
    "    \"stale_if_error\": \"0s\", \"stale_while_revalidate\": \"10m\"}},"
    "  {\"name\": \"forced\", \"match\": {\"path_prefix\": \"/forced/\"},"
    "   \"cache\": {\"force_ttl\": {\"200\": \"5m\"}, \"ignore\": [\"set-cookie\", \"no-cache\"]}}"
    " ]}";

struct fixture {
    struct sf_config cfg;
    struct sf_route_settings top_set;
    struct sf_fetchrule top, plain, own, forced;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    load_text(CONFIG, &f->cfg);
    sf_fetchrule_top_settings(&f->cfg, &f->top_set);
    sf_fetchrule_init(&f->top, &f->cfg, NULL, &f->top_set, NULL);
    struct sf_fetchrule *rules[] = {&f->plain, &f->own, &f->forced};
    assert_int_equal(sf_routes_count(f->cfg.routes), 3);
    for (size_t i = 0; i < 3; i++) {
        const struct sf_route_def *r = sf_routes_at(f->cfg.routes, i);
        assert_int_equal(r->index, i);
        sf_fetchrule_init(rules[i], &f->cfg, r, &r->set, NULL);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sf_config_clear(&f->cfg);
    free(f);
    return 0;
}

static void test_top_level_values(void **state)
{
    struct fixture *f = *state;
    const struct sf_fetchrule *t = &f->top;
    assert_null(t->route);
    assert_ptr_equal(t->set, &f->top_set);
    assert_int_equal(t->set->first_byte_timeout_ms, 7000);
    assert_int_equal(t->set->upstream_idle_timeout_ms, 8000);
    assert_null(t->set->upstream);
    assert_int_equal(t->rules.heuristic_percent, 20);
    assert_int_equal(t->rules.heuristic_max_s, 7200);
    assert_int_equal(t->rules.stale_if_error_s, 30);
    assert_int_equal(t->rules.stale_while_revalidate_s, -1); /* 0: none */
    assert_false(t->rules.store_server_errors);
    assert_null(t->rules.ttl);
    assert_ptr_equal(t->judge.rules, &t->rules);
    assert_int_equal(t->judge.max_object_bytes, 2u << 20);
    assert_false(t->judge.strip_set_cookie);
    assert_true(t->judge.store_post_responses);
    assert_int_equal(t->judge.slice_bytes, 1u << 20);
    assert_ptr_equal(t->publisher.judge, &t->judge);
    assert_int_equal(t->publisher.hit_for_pass_ms, 3000);
}

/* A route that sets nothing runs with the top level's values in every part. */
static void test_a_route_that_sets_nothing_is_the_top_level(void **state)
{
    struct fixture *f = *state;
    const struct sf_fetchrule *t = &f->top, *p = &f->plain;
    assert_ptr_equal(p->route, sf_routes_at(f->cfg.routes, 0));
    assert_ptr_equal(p->set, &p->route->set);
    struct sf_route_settings a = *t->set, b = *p->set;
    b.given = a.given = 0;
    b.upstream = a.upstream = NULL;
    assert_memory_equal(&a, &b, sizeof a);
    struct sf_cache_rules ra = t->rules, rb = p->rules;
    assert_non_null(rb.ttl); /* the route's (empty) rule: the origin alone decides */
    assert_false(sf_ttl_table_given(&rb.ttl->ttl) || sf_ttl_table_given(&rb.ttl->force));
    rb.ttl = NULL;
    assert_memory_equal(&ra, &rb, sizeof ra);
    assert_int_equal(p->judge.max_object_bytes, t->judge.max_object_bytes);
    assert_int_equal(p->judge.strip_set_cookie, t->judge.strip_set_cookie);
    assert_int_equal(p->judge.store_post_responses, t->judge.store_post_responses);
    assert_int_equal(p->judge.slice_bytes, t->judge.slice_bytes);
    assert_int_equal(p->publisher.hit_for_pass_ms, t->publisher.hit_for_pass_ms);
}

static void test_a_route_s_own_values(void **state)
{
    struct fixture *f = *state;
    const struct sf_fetchrule *o = &f->own;
    assert_int_equal(o->set->first_byte_timeout_ms, 1000);
    assert_int_equal(o->set->upstream_idle_timeout_ms, 2000);
    assert_int_equal(o->rules.heuristic_percent, 0);
    assert_int_equal(o->rules.heuristic_max_s, 3600);
    assert_int_equal(o->rules.stale_if_error_s, -1);
    assert_int_equal(o->rules.stale_while_revalidate_s, 600);
    assert_true(o->rules.store_server_errors);
    assert_ptr_equal(o->rules.ttl, &o->route->cache);
    assert_int_equal(o->judge.max_object_bytes, 4096);
    assert_true(o->judge.strip_set_cookie);
    assert_false(o->judge.store_post_responses);
    /* 4 KiB objects: a slice of 1 MiB could never be stored. */
    assert_int_equal(o->judge.slice_bytes, 0);
    assert_int_equal(o->publisher.hit_for_pass_ms, 9000);
    /* "ignore": ["set-cookie"] strips it as strip_set_cookie does. */
    assert_true(f->forced.judge.strip_set_cookie);
    assert_false(f->top.judge.strip_set_cookie);
}

/* The verdict on a 200 with fields (name, value pairs, NULL-ended) through fr; the
 * fields published go to *out when out is not NULL. */
static void judge(const struct sf_fetchrule *fr, const char *const *fields, struct sf_verdict *v,
                  struct sf_hdrs *out)
{
    struct sf_hdrs head = {0}, none = {0};
    for (size_t i = 0; fields[i] != NULL; i += 2)
        sf_hdrs_add(&head, fields[i], fields[i + 1]);
    struct sf_judged_request req = {
        "GET", "http://origin.test/x", &none, true, false, NULL, NOW, false, 0};
    struct sf_head_decision d;
    sf_judge_head(&fr->judge, &req, 200, &head, NOW, &d);
    *v = d.verdict;
    if (out != NULL) {
        *out = d.fields;
        d.fields = (struct sf_hdrs){0};
    }
    sf_head_decision_clear(&d);
}

static void test_judged_through_a_route(void **state)
{
    struct fixture *f = *state;
    struct sf_verdict v;
    static const char *const silent[] = {"Date", "Sun, 09 Sep 2001 01:46:40 GMT", NULL};
    judge(&f->top, silent, &v, NULL);
    assert_false(v.storable); /* the origin says nothing: no lifetime at the top level */
    assert_int_equal(v.fresh_from, SF_TTL_NONE);
    judge(&f->plain, silent, &v, NULL);
    assert_false(v.storable);
    judge(&f->own, silent, &v, NULL);
    assert_true(v.storable);
    assert_int_equal(v.fresh_s, 60);
    assert_int_equal(v.fresh_from, SF_TTL_ROUTE);
    assert_int_equal(v.stale_while_revalidate_s, 600);

    static const char *const zero[] = {"Cache-Control", "max-age=0", NULL};
    judge(&f->forced, zero, &v, NULL);
    assert_true(v.storable);
    assert_int_equal(v.fresh_s, 300);
    assert_int_equal(v.fresh_from, SF_TTL_FORCE);
    judge(&f->own, zero, &v, NULL); /* a ttl does not override the origin's own lifetime */
    assert_int_equal(v.fresh_s, 0);
    assert_int_equal(v.fresh_from, SF_TTL_ORIGIN);

    static const char *const cookie[] = {"Cache-Control", "no-cache", "Set-Cookie", "a=1", NULL};
    struct sf_hdrs out;
    judge(&f->forced, cookie, &v, &out);
    assert_true(v.shareable);
    assert_true(v.storable);
    assert_false(v.must_validate);
    assert_null(sf_hdrs_get(&out, "Set-Cookie")); /* not stored, not served */
    sf_hdrs_clear(&out);
    judge(&f->top, cookie, &v, &out);
    assert_false(v.shareable);
    assert_non_null(sf_hdrs_get(&out, "Set-Cookie"));
    sf_hdrs_clear(&out);
}

/* A HEAD's 200 that updates the stored GET it describes (RFC 9111 §4.3.5) on a route that
 * ignores Set-Cookie: its cookie does not reach the stored fields (served to everyone). */
static void test_a_head_update_keeps_no_ignored_cookie(void **state)
{
    struct fixture *f = *state;
    struct sf_obj *stored = sf_obj_new("k");
    struct sf_hdrs fields = {0}, head = {0}, merged, none = {0};
    sf_hdrs_add(&fields, "ETag", "\"v1\"");
    struct sf_verdict v = {.shareable = true, .storable = true, .fresh_s = 60};
    sf_obj_lock(stored);
    sf_obj_publish(stored, 200, &fields, 3, &v, NOW);
    sf_obj_append(stored, "abc", 3);
    sf_obj_finish(stored, SF_FAIL_NONE);
    sf_obj_unlock(stored);
    sf_hdrs_add(&head, "ETag", "\"v1\"");
    sf_hdrs_add(&head, "Set-Cookie", "id=1");
    struct sf_judged_request req = {
        "HEAD", "http://origin.test/x", &none, false, true, NULL, NOW, false, 0};
    assert_int_equal(
        sf_judge_head_update(&f->forced.judge, &req, stored, &head, -1, NOW, &merged, &v),
        SF_HEAD_UPDATE_FIELDS);
    assert_null(sf_hdrs_get(&merged, "Set-Cookie"));
    assert_non_null(sf_hdrs_get(&merged, "ETag"));
    sf_hdrs_clear(&merged);
    /* Where cookies are not ignored, a HEAD that sets one describes one user's response. */
    assert_int_equal(sf_judge_head_update(&f->top.judge, &req, stored, &head, -1, NOW, &merged, &v),
                     SF_HEAD_UPDATE_STALE);
    sf_hdrs_clear(&merged);
    sf_hdrs_clear(&head);
    sf_obj_unref(stored);
}

/* The object a response is published on keeps where its freshness came from. */
static void test_the_object_keeps_fresh_from(void **state)
{
    struct fixture *f = *state;
    static const char *const silent[] = {NULL};
    struct sf_verdict v;
    judge(&f->own, silent, &v, NULL);
    struct sf_obj *o = sf_obj_new("k");
    struct sf_hdrs h = {0};
    sf_obj_lock(o);
    sf_obj_publish(o, 200, &h, 0, &v, NOW);
    sf_obj_unlock(o);
    assert_int_equal(o->verdict.fresh_from, SF_TTL_ROUTE);
    sf_obj_unref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_top_level_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_route_that_sets_nothing_is_the_top_level, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_route_s_own_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_judged_through_a_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_head_update_keeps_no_ignored_cookie, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_object_keeps_fresh_from, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
