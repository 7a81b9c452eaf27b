/* Unit tests for lib/slicestore.c: which slices an only-if-cached request reads, and that
 * it finds them stored only when each is there, fresh enough and a slice of the marked
 * representation; looking never lists a flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/slicestore.h"
#include "../../lib/cache.h"
#include "../../lib/metrics.h"
#include "../../lib/singleflight.h"
#include "../../lib/slice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE 100 /* slice bytes */
#define TOTAL 250

static char v1[] = "\"v1\"";
static const struct sf_slice_ref ref = {TOTAL, v1, NULL};

/* Stores slice index of the representation under "k", with etag, fresh for 5 s. */
static void store_slice(struct sf_cache *c, uint64_t index, const char *etag)
{
    char *key = sf_slice_key("k", SIZE, index);
    struct sf_query q = {key, NULL, NULL, NULL};
    struct sf_obj *o;
    assert_int_equal(sf_cache_lookup(c, &q, 0, &o, NULL), SF_LOOKUP_MISS);
    uint64_t first = index * SIZE, last = first + SIZE - 1 < TOTAL ? first + SIZE - 1 : TOTAL - 1;
    char range[64];
    snprintf(range, sizeof range, "bytes %llu-%llu/%d", (unsigned long long)first,
             (unsigned long long)last, TOTAL);
    struct sf_hdrs h = {0};
    sf_hdrs_add(&h, "Content-Range", range);
    sf_hdrs_add(&h, "ETag", etag);
    struct sf_verdict v = {.shareable = true, .storable = true, .fresh_s = 5};
    static char body[SIZE];
    sf_obj_lock(o);
    sf_obj_publish(o, 206, &h, (int64_t)(last - first + 1), &v, 0);
    sf_obj_append(o, body, last - first + 1);
    sf_obj_finish(o, SF_FAIL_NONE);
    sf_obj_unlock(o);
    sf_cache_store(c, o, 0);
    sf_obj_unref(o);
    free(key);
}

static bool covers(struct sf_cache *c, const char *method, const char *range, const char *if_range,
                   uint64_t now_ms)
{
    struct sf_req_directives d = {
        .only_if_cached = true, .max_age_s = -1, .max_stale_s = -1, .min_fresh_s = -1};
    return sf_slicestore_covers(c, "k", SIZE, &ref, method, range, if_range, &d, now_ms);
}

static void test_only_the_slices_read_count(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20);
    assert_false(covers(c, "GET", NULL, NULL, 0));
    assert_false(covers(c, "HEAD", NULL, NULL, 0));
    store_slice(c, 1, "\"v1\"");
    assert_true(covers(c, "GET", "bytes=100-199", NULL, 0));
    assert_true(covers(c, "GET", "bytes=150-150", NULL, 0));
    assert_false(covers(c, "GET", "bytes=150-200", NULL, 0));     /* slice 2 too */
    assert_false(covers(c, "GET", "bytes=100-199", "\"v1\"", 0)); /* If-Range: the whole */
    assert_false(covers(c, "HEAD", NULL, NULL, 0));               /* slice 0 */
    store_slice(c, 0, "\"v1\"");
    assert_true(covers(c, "HEAD", NULL, NULL, 0));
    assert_false(covers(c, "GET", NULL, NULL, 0));
    store_slice(c, 2, "\"v1\"");
    assert_true(covers(c, "GET", NULL, NULL, 0));
    assert_true(covers(c, "GET", "bytes=-10", NULL, 0));
    assert_true(covers(c, "GET", "bytes=0-1, 200-201", NULL, 0));
    assert_false(covers(c, "GET", NULL, NULL, 6000)); /* expired: not acceptable */
    struct sf_cache_stats st;
    sf_cache_get_stats(c, &st);
    assert_int_equal(st.objects, 3);
    assert_int_equal(st.flights, 0); /* looking listed nothing */
    sf_cache_free(c);
}

static void test_a_slice_of_another_version_does_not_count(void **state)
{
    (void)state;
    struct sf_cache *c = sf_cache_new(1 << 20);
    store_slice(c, 0, "\"v1\"");
    store_slice(c, 1, "\"v2\"");
    assert_true(covers(c, "GET", "bytes=0-99", NULL, 0));
    assert_false(covers(c, "GET", "bytes=0-199", NULL, 0));
    sf_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_the_slices_read_count),
        cmocka_unit_test(test_a_slice_of_another_version_does_not_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
