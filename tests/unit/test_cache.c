/* Unit tests for lib/cache.c: lookups of every kind, storing, LRU eviction by bytes,
 * expiry and hit-for-pass markers, with the clock as a number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/cache.h"

#include <stdio.h>
#include <string.h>

/* Completes a flight with a body of n bytes, fresh for 5 s, as the fetcher would. */
static void complete(struct sf_obj *o, size_t n)
{
    static char body[1 << 16];
    struct sf_hdrs h = {0};
    struct sf_verdict v = {.shareable = true, .storable = true, .fresh_s = 5};
    sf_hdrs_add(&h, "Cache-Control", "max-age=5");
    sf_obj_lock(o);
    sf_obj_publish(o, 200, &h, (int64_t)n, &v, 0);
    sf_obj_append(o, body, n);
    sf_obj_finish(o, SF_FAIL_NONE);
    sf_obj_unlock(o);
}

static void test_miss_join_hit(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20, NULL);
    struct sf_obj *a, *b, *h;
    assert_int_equal(sf_cache_lookup(c, "k", 0, NULL, &a, NULL), SF_LOOKUP_MISS);
    assert_int_equal(sf_cache_lookup(c, "k", 0, NULL, &b, NULL), SF_LOOKUP_JOIN);
    assert_ptr_equal(a, b);
    struct sf_cache_stats st;
    sf_cache_get_stats(c, &st);
    assert_int_equal(st.flights, 1);
    complete(a, 1000);
    sf_cache_store(c, a, 0);
    assert_int_equal(sf_cache_lookup(c, "k", 4999, NULL, &h, NULL), SF_LOOKUP_HIT);
    assert_ptr_equal(h, a);
    sf_cache_get_stats(c, &st);
    assert_int_equal(st.objects, 1);
    assert_int_equal(st.flights, 0);
    assert_true(st.bytes >= 1000);
    sf_obj_unref(a), sf_obj_unref(b), sf_obj_unref(h);
    sf_cache_free(c);
}

static void test_expired_object_is_replaced(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20, NULL);
    struct sf_obj *a, *b;
    sf_cache_lookup(c, "k", 0, NULL, &a, NULL);
    complete(a, 10);
    sf_cache_store(c, a, 0);
    assert_int_equal(sf_cache_lookup(c, "k", 5000, NULL, &b, NULL), SF_LOOKUP_MISS);
    assert_ptr_not_equal(a, b);
    assert_false(a->listed);
    sf_obj_unref(a), sf_obj_unref(b);
    sf_cache_free(c);
}

static void test_lru_evicts_by_bytes(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(100000, NULL);
    struct sf_obj *o[5], *h;
    char key[8];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "k%d", i);
        sf_cache_lookup(c, key, 0, NULL, &o[i], NULL);
        complete(o[i], 30000);
        sf_cache_store(c, o[i], 0);
        if (i == 2) { /* touch k0 so k1 is the least recently used */
            assert_int_equal(sf_cache_lookup(c, "k0", 1, NULL, &h, NULL), SF_LOOKUP_HIT);
            sf_obj_unref(h);
        }
    }
    struct sf_cache_stats st;
    sf_cache_get_stats(c, &st);
    assert_true(st.bytes <= 100000);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(sf_cache_lookup(c, "k1", 2, NULL, &h, NULL), SF_LOOKUP_MISS);
    sf_obj_unref(h);
    assert_int_equal(sf_cache_lookup(c, "k0", 2, NULL, &h, NULL), SF_LOOKUP_HIT);
    sf_obj_unref(h);
    for (int i = 0; i < 4; i++)
        sf_obj_unref(o[i]);
    sf_cache_free(c);
}

static void test_object_bigger_than_cache_not_kept(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1000, NULL);
    struct sf_obj *a, *b;
    sf_cache_lookup(c, "k", 0, NULL, &a, NULL);
    complete(a, 5000);
    sf_cache_store(c, a, 0);
    assert_int_equal(sf_cache_lookup(c, "k", 1, NULL, &b, NULL), SF_LOOKUP_MISS);
    sf_obj_unref(a), sf_obj_unref(b);
    sf_cache_free(c);
}

static void test_hit_for_pass(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20, NULL);
    struct sf_obj *a, *b;
    sf_cache_lookup(c, "k", 0, NULL, &a, NULL);
    sf_cache_mark_pass(c, a, 3000);
    assert_false(a->listed);
    assert_int_equal(sf_cache_lookup(c, "k", 2999, NULL, &b, NULL), SF_LOOKUP_PASS);
    assert_null(b);
    assert_int_equal(sf_cache_lookup(c, "k", 3000, NULL, &b, NULL), SF_LOOKUP_MISS);
    sf_obj_unref(a), sf_obj_unref(b);
    sf_cache_free(c);
}

static void test_unlist_only_if_listed(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20, NULL);
    struct sf_obj *a, *b;
    sf_cache_lookup(c, "k", 0, NULL, &a, NULL);
    sf_cache_unlist(c, a);
    sf_cache_unlist(c, a); /* harmless twice */
    assert_int_equal(sf_cache_lookup(c, "k", 0, NULL, &b, NULL), SF_LOOKUP_MISS);
    sf_cache_unlist(c, a); /* must not remove b */
    assert_true(b->listed);
    sf_obj_unref(a), sf_obj_unref(b);
    sf_cache_free(c);
}

static void test_many_keys_grow_table(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20, NULL);
    char key[16];
    for (int i = 0; i < 5000; i++) {
        struct sf_obj *o;
        snprintf(key, sizeof key, "key%d", i);
        assert_int_equal(sf_cache_lookup(c, key, 0, NULL, &o, NULL), SF_LOOKUP_MISS);
        sf_obj_unref(o);
    }
    for (int i = 0; i < 5000; i++) {
        struct sf_obj *o;
        snprintf(key, sizeof key, "key%d", i);
        assert_int_equal(sf_cache_lookup(c, key, 0, NULL, &o, NULL), SF_LOOKUP_JOIN);
        sf_obj_unref(o);
    }
    sf_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_miss_join_hit),
        cmocka_unit_test(test_expired_object_is_replaced),
        cmocka_unit_test(test_lru_evicts_by_bytes),
        cmocka_unit_test(test_object_bigger_than_cache_not_kept),
        cmocka_unit_test(test_hit_for_pass),
        cmocka_unit_test(test_unlist_only_if_listed),
        cmocka_unit_test(test_many_keys_grow_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
