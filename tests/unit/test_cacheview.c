/* Unit tests for lib/cacheview.c through sf_cache_inspect (cache.h): what the cache holds
 * under a key, copied out: nothing, a flight (and the stored response it refreshes), a
 * stored response with its age at a given clock, a hit-for-pass marker and its reason,
 * the stored variants of a key that varies, the stored slices of a sliced key. And that
 * inspecting touches nothing: the copy outlives the entry it was made of. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/cache.h"
#include "../../lib/cacheview.h"
#include "../../lib/metrics.h"
#include "../../lib/singleflight.h"
#include "../../lib/slice.h"
#include "../../lib/variant.h"

#include <stdlib.h>
#include <string.h>

static enum sf_lookup lookup(struct sf_cache *c, const char *key, uint64_t now_ms,
                             struct sf_obj **out)
{
    struct sf_query q = {key, NULL, NULL, NULL};
    return sf_cache_lookup(c, &q, now_ms, out, NULL);
}

/* A request whose only field is Accept-Language: ctx (NULL: none). */
static char *accept_language(void *ctx, const char *name)
{
    return ctx != NULL && strcmp(name, "accept-language") == 0 ? strdup(ctx) : NULL;
}

/* Publishes and completes a flight the way the fetcher does: status, a body of n bytes,
 * verdict v; with lang, it varies on Accept-Language and its request had that value. */
static void complete(struct sf_obj *o, int status, size_t n, const struct sf_verdict *v,
                     const char *lang)
{
    static char body[4096];
    struct sf_hdrs h = {0};
    sf_hdrs_add(&h, "Cache-Control", "max-age=5");
    sf_obj_lock(o);
    if (lang != NULL) {
        o->vary_names = sf_policy_vary_names("Accept-Language");
        o->variant =
            sf_policy_variant(o->vary_names, &(struct sf_fields){accept_language, (void *)lang});
    }
    sf_obj_publish(o, status, &h, (int64_t)n, v, 0);
    sf_obj_append(o, body, n);
    sf_obj_finish(o, SF_FAIL_NONE);
    sf_obj_unlock(o);
}

static const struct sf_verdict fresh5 = {.shareable = true,
                                         .storable = true,
                                         .fresh_s = 5,
                                         .age_s = 1,
                                         .fresh_from = SF_TTL_ORIGIN,
                                         .stale_if_error_s = -1,
                                         .stale_while_revalidate_s = 30};

/* A response stored under key at stored_ms. */
static void store(struct sf_cache *c, const char *key, size_t n, uint64_t stored_ms)
{
    struct sf_obj *o;
    assert_int_equal(lookup(c, key, stored_ms, &o), SF_LOOKUP_MISS);
    complete(o, 200, n, &fresh5, NULL);
    sf_cache_store(c, o, stored_ms);
    sf_obj_unref(o);
}

static void test_nothing_a_response_and_a_flight(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20);
    struct sf_cache_view v = {0};
    sf_cache_inspect(c, "http://o/a", 0, 0, &v);
    assert_int_equal(v.kind, SF_CACHE_VIEW_NOTHING);
    sf_cache_view_clear(&v);

    store(c, "http://o/a", 100, 1000);
    sf_cache_inspect(c, "http://o/a", 0, 3500, &v);
    assert_int_equal(v.kind, SF_CACHE_VIEW_RESPONSE);
    assert_string_equal(v.resp.key, "http://o/a");
    assert_int_equal(v.resp.status, 200);
    assert_int_equal(v.resp.body_bytes, 100);
    assert_int_equal(v.resp.age_s, 1 + 2); /* its initial age, plus 2.5 s stored */
    assert_int_equal(v.resp.fresh_s, 5);
    assert_int_equal(sf_cache_view_left_s(&v.resp), 2);
    assert_int_equal(v.resp.fresh_from, SF_TTL_ORIGIN);
    assert_int_equal(v.resp.stale_while_revalidate_s, 30);
    assert_int_equal(v.resp.stale_if_error_s, -1);
    assert_false(v.resp.invalidated);
    sf_cache_view_clear(&v);

    /* Expired at 9000: the next lookup lists a flight that refreshes it. */
    struct sf_obj *f;
    assert_int_equal(lookup(c, "http://o/a", 9000, &f), SF_LOOKUP_MISS);
    sf_cache_inspect(c, "http://o/a", 0, 9000, &v);
    assert_int_equal(v.kind, SF_CACHE_VIEW_FLIGHT);
    assert_true(v.revalidating);
    assert_int_equal(v.resp.age_s, 1 + 8);
    sf_cache_view_clear(&v);
    sf_cache_unlist(c, f);
    sf_obj_unref(f);

    /* A copy: it outlives the response it was made of. */
    store(c, "http://o/b", 10, 0);
    sf_cache_inspect(c, "http://o/b", 0, 0, &v);
    assert_int_equal(sf_cache_purge(c, "http://o/b", false, false, NULL), 1);
    assert_string_equal(v.resp.key, "http://o/b");
    sf_cache_view_clear(&v);
    sf_cache_free(c);
}

static void test_inspecting_changes_nothing(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20);
    store(c, "http://o/a", 100, 0);
    struct sf_cache_stats before, after;
    sf_cache_get_stats(c, &before);
    struct sf_cache_view v = {0};
    /* Long expired: a lookup would replace it by a flight; an inspection leaves it. */
    sf_cache_inspect(c, "http://o/a", 0, 100000, &v);
    assert_int_equal(v.kind, SF_CACHE_VIEW_RESPONSE);
    assert_true(sf_cache_view_left_s(&v.resp) < 0);
    sf_cache_view_clear(&v);
    sf_cache_get_stats(c, &after);
    assert_int_equal(after.objects, before.objects);
    assert_int_equal(after.flights, before.flights);
    sf_cache_inspect(c, "http://o/a", 0, 100000, &v);
    assert_int_equal(v.kind, SF_CACHE_VIEW_RESPONSE);
    sf_cache_view_clear(&v);
    sf_cache_free(c);
}

static void test_pass_marker_keeps_its_reason(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20);
    struct sf_obj *o;
    assert_int_equal(lookup(c, "http://o/p", 0, &o), SF_LOOKUP_MISS);
    struct sf_verdict v = {.shareable = false, .reason = "Cache-Control: private"};
    sf_obj_lock(o);
    sf_obj_publish(o, 200, &(struct sf_hdrs){0}, 0, &v, 0);
    sf_obj_unlock(o);
    sf_cache_mark_pass(c, o, 5000);
    sf_obj_unref(o);
    struct sf_cache_view view = {0};
    sf_cache_inspect(c, "http://o/p", 0, 2000, &view);
    assert_int_equal(view.kind, SF_CACHE_VIEW_PASS);
    assert_string_equal(view.pass_reason, "Cache-Control: private");
    assert_int_equal(view.pass_left_ms, 3000);
    sf_cache_view_clear(&view);
    sf_cache_inspect(c, "http://o/p", 0, 6000, &view);
    assert_int_equal(view.pass_left_ms, 0); /* expired, not yet freed */
    sf_cache_view_clear(&view);
    sf_cache_free(c);
}

/* Stores the variant of key a request with Accept-Language: lang selects. */
static void store_variant(struct sf_cache *c, const char *key, const char *lang)
{
    struct sf_obj *o;
    struct sf_fields f = {accept_language, (void *)lang};
    struct sf_query q = {key, NULL, &f, NULL};
    assert_int_equal(sf_cache_lookup(c, &q, 0, &o, NULL), SF_LOOKUP_MISS);
    complete(o, 200, 10, &fresh5, lang);
    sf_cache_settle_variant(c, o);
    sf_cache_store(c, o, 0);
    sf_obj_unref(o);
}

static void test_variants_of_a_key(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20);
    store_variant(c, "http://o/v", "en");
    store_variant(c, "http://o/v", "de");
    store_variant(c, "http://o/v\ncookie:a=1", "fr"); /* another user's: not listed */
    store(c, "http://o/v2", 10, 0);                   /* another URL */
    struct sf_cache_view v = {0};
    sf_cache_inspect(c, "http://o/v", 0, 0, &v);
    assert_int_equal(v.kind, SF_CACHE_VIEW_VARY);
    assert_string_equal(v.vary_names, "accept-language");
    assert_int_equal(v.variants_stored, 2);
    assert_int_equal(v.nvariants, 2);
    assert_string_equal(v.variants[0].key, "http://o/v" SF_VARIANT_MARK "accept-language=de");
    assert_string_equal(v.variants[1].key, "http://o/v" SF_VARIANT_MARK "accept-language=en");
    assert_int_equal(v.variants[1].body_bytes, 10);
    sf_cache_view_clear(&v);
    sf_cache_free(c);
}

/* Stores slice index of key, cut by size. */
static void store_slice(struct sf_cache *c, const char *key, uint64_t size, uint64_t index)
{
    char *k = sf_slice_key(key, size, index);
    store(c, k, 100, 0);
    free(k);
}

static void test_slices_of_a_sliced_key(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20);
    struct sf_obj *o;
    assert_int_equal(lookup(c, "http://o/big", 0, &o), SF_LOOKUP_MISS);
    struct sf_slice_ref ref = {100000, strdup("\"v1\""), NULL};
    sf_cache_mark_sliced(c, o, &ref);
    sf_obj_unref(o);
    for (uint64_t i = 3; i <= 5; i++)
        store_slice(c, "http://o/big", 16384, i);
    store_slice(c, "http://o/big", 16384, 0);
    store_slice(c, "http://o/big", 8192, 1);  /* cut by another slice_bytes */
    store_slice(c, "http://o/big", 16384, 9); /* past the end: not one of its slices */
    struct sf_cache_view v = {0};
    sf_cache_inspect(c, "http://o/big", 16384, 0, &v);
    assert_int_equal(v.kind, SF_CACHE_VIEW_SLICED);
    assert_int_equal(v.slice.total, 100000);
    assert_string_equal(v.slice.etag, "\"v1\"");
    assert_int_equal(v.slices, 7);
    assert_int_equal(v.nheld, 4);
    uint64_t want[] = {0, 3, 4, 5};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(v.held[i], want[i]);
    sf_cache_view_clear(&v);
    sf_slice_ref_clear(&ref);
    sf_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_a_response_and_a_flight),
        cmocka_unit_test(test_inspecting_changes_nothing),
        cmocka_unit_test(test_pass_marker_keeps_its_reason),
        cmocka_unit_test(test_variants_of_a_key),
        cmocka_unit_test(test_slices_of_a_sliced_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
