/* Unit tests for lib/routestats.c: requests counted by route name and outcome, in the
 * stats JSON and the Prometheus text; names counted from several threads at once get one
 * series each, every count kept; past SF_ROUTESTATS_MAX names, the rest are counted under
 * SF_ROUTESTATS_OTHER. The table is the process's: the tests run in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/routestats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_int_t count_of(const char *route, const char *outcome)
{
    json_t *j = sf_routestats_json();
    json_t *n = json_object_get(json_object_get(j, route), outcome);
    json_int_t v = n != NULL ? json_integer_value(n) : -1;
    json_decref(j);
    return v;
}

static void test_empty_before_the_first_count(void **state)
{
    (void)state;
    json_t *j = sf_routestats_json();
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    char *text = sf_routestats_prometheus();
    assert_string_equal(text, "");
    free(text);
}

static void test_counts_by_name_and_outcome(void **state)
{
    (void)state;
    sf_routestats_count("api", SF_OUT_MISS);
    sf_routestats_count("api", SF_OUT_HIT);
    sf_routestats_count("api", SF_OUT_HIT);
    sf_routestats_count("account", SF_OUT_PASS);
    sf_routestats_count("account", SF_OUT_NONE);
    assert_int_equal(count_of("api", "HIT"), 2);
    assert_int_equal(count_of("api", "MISS"), 1);
    assert_int_equal(count_of("api", "PASS"), 0);
    assert_int_equal(count_of("account", "PASS"), 1);
    assert_int_equal(count_of("account", "none"), 1);
    char *text = sf_routestats_prometheus();
    assert_non_null(strstr(text, "# TYPE sfproxy_route_requests_total counter\n"));
    assert_non_null(
        strstr(text, "\nsfproxy_route_requests_total{route=\"api\",cache=\"HIT\"} 2\n"));
    assert_non_null(
        strstr(text, "\nsfproxy_route_requests_total{route=\"account\",cache=\"none\"} 1\n"));
    assert_non_null(
        strstr(text, "\nsfproxy_route_requests_total{route=\"api\",cache=\"STALE\"} 0\n"));
    /* Every outcome of every route: a family whose series never vanish. */
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "\nsfproxy_route_requests_total{")) != NULL; p++)
        n++;
    assert_int_equal(n, 2 * SF_OUT_COUNT);
    free(text);
}

#define THREADS 4
#define PER_THREAD 5000

static void *count_many(void *arg)
{
    (void)arg;
    char name[16];
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(name, sizeof name, "t%d", i % 20); /* 20 new names, raced for */
        sf_routestats_count(name, SF_OUT_HIT);
    }
    return NULL;
}

static void test_threads_racing_for_new_names(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, count_many, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    json_t *j = sf_routestats_json();
    assert_int_equal(json_object_size(j), 2 + 20); /* each name once */
    json_decref(j);
    for (int k = 0; k < 20; k++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", k);
        assert_int_equal(count_of(name, "HIT"), THREADS * PER_THREAD / 20);
    }
}

static void test_names_past_the_cap_share_one_series(void **state)
{
    (void)state;
    char name[16];
    for (int i = 0; i < SF_ROUTESTATS_MAX + 10; i++) {
        snprintf(name, sizeof name, "r%d", i);
        sf_routestats_count(name, SF_OUT_MISS);
    }
    json_t *j = sf_routestats_json();
    assert_int_equal(json_object_size(j), SF_ROUTESTATS_MAX + 1);
    json_decref(j);
    /* 22 names were taken before: the first SF_ROUTESTATS_MAX - 22 of these got one. */
    snprintf(name, sizeof name, "r%d", SF_ROUTESTATS_MAX - 23);
    assert_int_equal(count_of(name, "MISS"), 1);
    snprintf(name, sizeof name, "r%d", SF_ROUTESTATS_MAX - 22);
    assert_int_equal(count_of(name, "MISS"), -1);
    assert_int_equal(count_of(SF_ROUTESTATS_OTHER, "MISS"), 32);
    /* Names counted before keep their own series. */
    sf_routestats_count("api", SF_OUT_HIT);
    assert_int_equal(count_of("api", "HIT"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_before_the_first_count),
        cmocka_unit_test(test_counts_by_name_and_outcome),
        cmocka_unit_test(test_threads_racing_for_new_names),
        cmocka_unit_test(test_names_past_the_cap_share_one_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
