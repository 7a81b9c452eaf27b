/* Unit tests for lib/diskobj.c: a stored response survives the trip through a record's
 * head field for field (its age carried on to the time it is read), a VARY record's names
 * and a SLICED record's representation come back, a tag purge reads a field of a head, and
 * a head that is cut short, has bytes left over, is of another version or kind, or lies
 * about a length is refused whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/diskobj.h"

#include <stdlib.h>
#include <string.h>

static void sample(struct sf_diskobj *o, bool varies)
{
    *o = (struct sf_diskobj){0};
    o->status = 203;
    sf_hdrs_add(&o->hdrs, "Content-Type", "text/plain");
    sf_hdrs_add(&o->hdrs, "Surrogate-Key", "a b");
    sf_hdrs_add(&o->hdrs, "surrogate-key", "c");
    sf_hdrs_add(&o->hdrs, "Empty", "");
    o->content_length = 11;
    o->verdict = (struct sf_verdict){.shareable = true,
                                     .storable = true,
                                     .fresh_s = 600,
                                     .age_s = 5,
                                     .never_stale = true,
                                     .must_validate = false,
                                     .heuristic = true,
                                     .fresh_from = SF_TTL_HEURISTIC,
                                     .ignored = 3,
                                     .stale_if_error_s = -1,
                                     .stale_while_revalidate_s = 30};
    o->response_time_s = 1765000000;
    if (varies) {
        o->vary_names = strdup("accept-encoding");
        o->variant = strdup("\nvary\naccept-encoding=gzip");
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    for (int varies = 0; varies < 2; varies++) {
        struct sf_diskobj o, back;
        sample(&o, varies);
        uint32_t len = 0;
        uint8_t *head = sf_diskobj_encode(&o, &len);
        assert_non_null(head);
        /* Read 100 s after its head came: 100 s older, and as if it came now. */
        assert_true(sf_diskobj_decode(head, len, o.response_time_s + 100, &back));
        assert_int_equal(back.status, 203);
        assert_int_equal(back.content_length, 11);
        assert_int_equal(back.hdrs.n, 4);
        for (size_t i = 0; i < 4; i++) {
            assert_string_equal(back.hdrs.v[i].name, o.hdrs.v[i].name);
            assert_string_equal(back.hdrs.v[i].value, o.hdrs.v[i].value);
        }
        assert_int_equal(back.verdict.fresh_s, 600);
        assert_int_equal(back.verdict.age_s, 105);
        assert_int_equal(back.response_time_s, o.response_time_s + 100);
        assert_true(back.verdict.shareable && back.verdict.storable);
        assert_true(back.verdict.never_stale);
        assert_false(back.verdict.must_validate);
        assert_true(back.verdict.heuristic);
        assert_int_equal(back.verdict.fresh_from, SF_TTL_HEURISTIC);
        assert_int_equal(back.verdict.ignored, 3);
        assert_int_equal(back.verdict.stale_if_error_s, -1);
        assert_int_equal(back.verdict.stale_while_revalidate_s, 30);
        assert_null(back.verdict.reason);
        if (varies) {
            assert_string_equal(back.vary_names, "accept-encoding");
            assert_string_equal(back.variant, o.variant);
        } else {
            assert_null(back.vary_names);
            assert_null(back.variant);
        }
        /* A clock that went back is no younger than it was. */
        struct sf_diskobj early;
        assert_true(sf_diskobj_decode(head, len, o.response_time_s - 50, &early));
        assert_int_equal(early.verdict.age_s, 5);
        assert_int_equal(early.response_time_s, o.response_time_s);
        sf_diskobj_clear(&early);
        sf_diskobj_clear(&back);
        sf_diskobj_clear(&o);
        free(head);
    }
}

static void test_every_cut_and_extra_byte(void **state)
{
    (void)state;
    struct sf_diskobj o, back;
    sample(&o, true);
    uint32_t len = 0;
    uint8_t *head = sf_diskobj_encode(&o, &len);
    for (uint32_t n = 0; n < len; n++)
        assert_false(sf_diskobj_decode(head, n, 0, &back));
    uint8_t *more = malloc(len + 1);
    memcpy(more, head, len);
    more[len] = 0;
    assert_false(sf_diskobj_decode(more, len + 1, 0, &back));
    assert_int_equal(back.hdrs.n, 0);
    assert_null(back.vary_names);
    free(more);
    free(head);
    sf_diskobj_clear(&o);
}

/* Every single byte changed: the head either decodes whole (a value changed) or not at all;
 * never a read past its end (ASan would say) and never half a response. */
static void test_every_byte_changed(void **state)
{
    (void)state;
    struct sf_diskobj o, back;
    sample(&o, true);
    uint32_t len = 0;
    uint8_t *head = sf_diskobj_encode(&o, &len);
    size_t refused = 0;
    for (uint32_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            head[i] ^= (uint8_t)(1u << bit);
            if (sf_diskobj_decode(head, len, 0, &back))
                sf_diskobj_clear(&back);
            else
                refused++;
            head[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* The magic, the version, the flags' unknown bits, every length: many are refused. */
    assert_true(refused > 100);
    free(head);
    sf_diskobj_clear(&o);
}

static void test_version_and_kind(void **state)
{
    (void)state;
    struct sf_diskobj o, back;
    sample(&o, false);
    uint32_t len = 0;
    uint8_t *head = sf_diskobj_encode(&o, &len);
    head[4] = SF_DISKOBJ_VERSION + 1;
    assert_false(sf_diskobj_decode(head, len, 0, &back));
    head[4] = SF_DISKOBJ_VERSION;
    assert_null(sf_diskobj_decode_vary(head, len)); /* a response is not a VARY record */
    uint32_t vlen = 0;
    uint8_t *vary = sf_diskobj_encode_vary("accept-language,cookie", &vlen);
    char *names = sf_diskobj_decode_vary(vary, vlen);
    assert_string_equal(names, "accept-language,cookie");
    free(names);
    assert_false(sf_diskobj_decode(vary, vlen, 0, &back)); /* nor the reverse */
    for (uint32_t n = 0; n < vlen; n++)
        assert_null(sf_diskobj_decode_vary(vary, n));
    free(vary);
    free(head);
    sf_diskobj_clear(&o);
}

static void test_sliced(void **state)
{
    (void)state;
    struct sf_slice_ref ref = {200000, strdup("\"b1\""), NULL}, back;
    uint32_t len = 0;
    uint8_t *head = sf_diskobj_encode_sliced(&ref, &len);
    assert_true(sf_diskobj_decode_sliced(head, len, &back));
    assert_true(sf_slice_ref_same(&ref, &back));
    assert_int_equal(back.total, 200000);
    assert_null(back.last_modified);
    sf_slice_ref_clear(&back);
    for (uint32_t n = 0; n < len; n++)
        assert_false(sf_diskobj_decode_sliced(head, n, &back));
    assert_null(sf_diskobj_decode_vary(head, len)); /* the VARY slot's other kind */
    struct sf_diskobj o;
    assert_false(sf_diskobj_decode(head, len, 0, &o));
    free(head);
    /* No validator, or two: not one sf_slice_ref_of makes. */
    struct sf_slice_ref none = {5, NULL, NULL};
    head = sf_diskobj_encode_sliced(&none, &len);
    assert_false(sf_diskobj_decode_sliced(head, len, &back));
    free(head);
    sf_slice_ref_clear(&ref);
}

static void test_field(void **state)
{
    (void)state;
    struct sf_diskobj o;
    sample(&o, false);
    uint32_t len = 0;
    uint8_t *head = sf_diskobj_encode(&o, &len);
    char buf[64];
    assert_string_equal(sf_diskobj_field(head, len, "SURROGATE-KEY", buf, sizeof buf), "a b, c");
    assert_string_equal(sf_diskobj_field(head, len, "empty", buf, sizeof buf), "");
    assert_null(sf_diskobj_field(head, len, "Cache-Tag", buf, sizeof buf));
    assert_string_equal(sf_diskobj_field(head, len, "Surrogate-Key", buf, 4), "a b");
    assert_null(sf_diskobj_field(head, len - 1, "Surrogate-Key", buf, sizeof buf));
    free(head);
    sf_diskobj_clear(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_cut_and_extra_byte),
        cmocka_unit_test(test_every_byte_changed),
        cmocka_unit_test(test_version_and_kind),
        cmocka_unit_test(test_sliced),
        cmocka_unit_test(test_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
