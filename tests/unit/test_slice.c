/* Unit tests for lib/slice.c (and Content-Range in lib/http.c): which responses may be
 * kept in slices, the slices' bytes and keys, and which partial responses combine (RFC 9111
 * §3.3, §3.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/slice.h"

#include <stdlib.h>
#include <string.h>

static struct sf_hdrs fields(const char *const *pairs)
{
    struct sf_hdrs h = {0};
    for (size_t i = 0; pairs[i] != NULL; i += 2)
        sf_hdrs_add(&h, pairs[i], pairs[i + 1]);
    return h;
}

static void test_content_range(void **state)
{
    (void)state;
    uint64_t a, b, n;
    assert_true(sf_http_content_range_parse("bytes 0-9/100", &a, &b, &n));
    assert_true(a == 0 && b == 9 && n == 100);
    assert_true(sf_http_content_range_parse("BYTES 99-99/100", &a, &b, &n));
    assert_true(a == 99 && b == 99 && n == 100);
    static const char *const bad[] = {"bytes */100",    "bytes 0-9/*",
                                      "bytes 9-0/100",  "bytes 0-100/100",
                                      "bytes 0-9/100 ", "bytes  0-9/100",
                                      "bytes=0-9/100",  "items 0-9/100",
                                      "bytes 0-9",      "",
                                      "bytes -1-9/100", "bytes 0-99999999999999999999/1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sf_http_content_range_parse(bad[i], &a, &b, &n))
            fail_msg("accepted: \"%s\"", bad[i]);
    assert_false(sf_http_content_range_parse(NULL, &a, &b, &n));
}

static void test_slice_bytes_and_keys(void **state)
{
    (void)state;
    uint64_t a, b;
    assert_true(sf_slice_bytes(0, 100, 250, &a, &b) && a == 0 && b == 99);
    assert_true(sf_slice_bytes(2, 100, 250, &a, &b) && a == 200 && b == 249);
    assert_false(sf_slice_bytes(3, 100, 250, &a, &b));
    assert_true(sf_slice_bytes(1, 100, 200, &a, &b) && a == 100 && b == 199);
    assert_false(sf_slice_bytes(2, 100, 200, &a, &b));
    assert_false(sf_slice_bytes(0, 0, 200, &a, &b));
    char *k = sf_slice_key("http://o/v\nauthorization:x", 1048576, 12);
    assert_string_equal(k, "http://o/v\nauthorization:x" SF_SLICE_MARK "1048576/12");
    free(k);
}

/* RFC 9110 §8.8.1: only a strong validator tells one version's slices from another's. */
static void test_the_validator_slices_are_combined_by(void **state)
{
    (void)state;
    static const struct {
        const char *pairs[7];
        bool ok;
        const char *etag, *modified;
    } rows[] = {
        {{"ETag", "\"v1\"", NULL}, true, "\"v1\"", NULL},
        {{"ETag", "W/\"v1\"", NULL}, false, NULL, NULL},
        {{"ETag", "W/\"v1\"", "Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT", "Date",
          "Mon, 07 Nov 1994 08:49:37 GMT", NULL},
         false,
         NULL,
         NULL}, /* a weak tag: its Last-Modified says no more */
        {{"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT", "Date", "Sun, 06 Nov 1994 08:50:37 GMT",
          NULL},
         true,
         NULL,
         "Sun, 06 Nov 1994 08:49:37 GMT"}, /* 60 s before its Date: strong */
        {{"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT", "Date", "Sun, 06 Nov 1994 08:50:36 GMT",
          NULL},
         false,
         NULL,
         NULL}, /* 59 s: it may change again within the same second */
        {{"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT", NULL}, false, NULL, NULL},
        {{"Content-Type", "video/mp4", NULL}, false, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct sf_hdrs h = fields(rows[i].pairs);
        struct sf_slice_ref ref;
        bool ok = sf_slice_ref_of(&h, 5000, &ref);
        if (ok != rows[i].ok)
            fail_msg("row %zu: %d", i, ok);
        if (ok) {
            assert_int_equal(ref.total, 5000);
            if (rows[i].etag)
                assert_string_equal(ref.etag, rows[i].etag);
            else
                assert_null(ref.etag);
            if (rows[i].modified)
                assert_string_equal(ref.last_modified, rows[i].modified);
            else
                assert_null(ref.last_modified);
        }
        sf_slice_ref_clear(&ref);
        sf_hdrs_clear(&h);
    }
}

/* RFC 9111 §3.4: a stored part combines with others only as the same representation. */
static void test_which_partial_responses_fit(void **state)
{
    (void)state;
    struct sf_slice_ref ref = {250, strdup("\"v1\""), NULL};
    static const struct {
        int status;
        const char *pairs[5];
        uint64_t index;
        bool fits;
    } rows[] = {
        {206, {"Content-Range", "bytes 100-199/250", "ETag", "\"v1\""}, 1, true},
        {206, {"Content-Range", "bytes 200-249/250", "ETag", "\"v1\""}, 2, true},
        {206, {"Content-Range", "bytes 100-199/250", "ETag", "\"v2\""}, 1, false},
        {206, {"Content-Range", "bytes 100-199/250", "ETag", "W/\"v1\""}, 1, false},
        {206, {"Content-Range", "bytes 100-199/250"}, 1, false},
        {206, {"Content-Range", "bytes 100-199/300", "ETag", "\"v1\""}, 1, false},
        {206, {"Content-Range", "bytes 100-149/250", "ETag", "\"v1\""}, 1, false},
        {206, {"Content-Range", "bytes 0-99/250", "ETag", "\"v1\""}, 1, false},
        {200, {"ETag", "\"v1\""}, 0, false},
        {206, {"Content-Range", "bytes 300-349/350", "ETag", "\"v1\""}, 3, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct sf_hdrs h = fields(rows[i].pairs);
        int64_t length = rows[i].index == 2 ? 50 : 100;
        if (sf_slice_fits(&ref, 100, rows[i].index, rows[i].status, &h, length) != rows[i].fits)
            fail_msg("row %zu", i);
        sf_hdrs_clear(&h);
    }
    /* A body that is not as long as its Content-Range says (or of unknown length). */
    struct sf_hdrs lying =
        fields((const char *const[]){"Content-Range", "bytes 100-199/250", "ETag", "\"v1\"", NULL});
    assert_true(sf_slice_fits(&ref, 100, 1, 206, &lying, 100));
    assert_false(sf_slice_fits(&ref, 100, 1, 206, &lying, 50));
    assert_false(sf_slice_fits(&ref, 100, 1, 206, &lying, -1));
    sf_hdrs_clear(&lying);
    struct sf_slice_ref by_date = {250, NULL, strdup("Sun, 06 Nov 1994 08:49:37 GMT")};
    struct sf_hdrs h = fields((const char *const[]){
        "Content-Range", "bytes 0-99/250", "Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT", NULL});
    assert_true(sf_slice_fits(&by_date, 100, 0, 206, &h, 100));
    sf_hdrs_add(&h, "ETag", "\"new\"");
    assert_false(sf_slice_fits(&by_date, 100, 0, 206, &h, 100)); /* it has an ETag now */
    sf_hdrs_clear(&h);
    struct sf_slice_ref copy;
    sf_slice_ref_copy(&ref, &copy);
    assert_true(sf_slice_ref_same(&ref, &copy));
    assert_false(sf_slice_ref_same(&ref, &by_date));
    copy.total++;
    assert_false(sf_slice_ref_same(&ref, &copy));
    sf_slice_ref_clear(&copy);
    sf_slice_ref_clear(&ref);
    sf_slice_ref_clear(&by_date);
}

static void test_partial_responses_a_slice_fetch_may_store(void **state)
{
    (void)state;
    struct sf_hdrs h = fields((const char *const[]){"Content-Range", "bytes 100-199/250", NULL});
    assert_true(sf_slice_partial_ok(&h, 100, 100));
    assert_false(sf_slice_partial_ok(&h, 0, 100));  /* other bytes than asked */
    assert_false(sf_slice_partial_ok(&h, 100, 99)); /* a body its range does not span */
    assert_false(sf_slice_partial_ok(&h, 100, -1));
    sf_hdrs_clear(&h);
    struct sf_hdrs none = {0};
    assert_false(sf_slice_partial_ok(&none, 0, 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_range),
        cmocka_unit_test(test_slice_bytes_and_keys),
        cmocka_unit_test(test_the_validator_slices_are_combined_by),
        cmocka_unit_test(test_which_partial_responses_fit),
        cmocka_unit_test(test_partial_responses_a_slice_fetch_may_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
