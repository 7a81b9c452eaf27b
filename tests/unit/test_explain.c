/* Unit tests for lib/explain.c's sf_explain_stored: what is stored under a key, from the
 * cache's copy of it (cacheview.h), as explain's JSON: the answer a plain GET would get
 * (judged as cache.c's lookup judges it), a response's numbers, each variant's selecting
 * fields, the stored slices as runs. (sf_explain itself: t71 and t74.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/explain.h"
#include "../../lib/variant.h"

#include <stdlib.h>
#include <string.h>

/* The JSON of v (selected: the variant key asked for, or NULL), compact and sorted. */
static char *stored_text(const struct sf_cache_view *v, const char *selected)
{
    json_t *j = sf_explain_stored(v, selected);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return text;
}

/* Strings a view owns are not const: these stand in for them. */
static char key_k[] = "k";
static char key_v0[] = "k" SF_VARIANT_MARK "accept-encoding!\naccept-language=de, en";
static char key_v1[] = "k" SF_VARIANT_MARK "accept-encoding=gzip\naccept-language!";
static char names[] = "accept-encoding,accept-language";
static char etag[] = "\"e\"";
static char set_cookie[] = "Set-Cookie";

static const char *answer_of(const struct sf_cache_view_resp *r)
{
    static char answer[16];
    struct sf_cache_view v = {.kind = SF_CACHE_VIEW_RESPONSE, .resp = *r};
    json_t *j = sf_explain_stored(&v, NULL);
    strcpy(answer, json_string_value(json_object_get(j, "answer")));
    json_decref(j);
    return answer;
}

static void test_a_response_and_its_answer(void **state)
{
    (void)state;
    struct sf_cache_view_resp r = {.key = key_k,
                                   .status = 200,
                                   .body_bytes = 7,
                                   .age_s = 10,
                                   .fresh_s = 60,
                                   .fresh_from = SF_TTL_FORCE,
                                   .stale_while_revalidate_s = 30,
                                   .stale_if_error_s = -1};
    struct sf_cache_view v = {.kind = SF_CACHE_VIEW_RESPONSE, .resp = r};
    char *text = stored_text(&v, NULL);
    assert_string_equal(text, "{\"age_s\":10,\"answer\":\"HIT\",\"body_bytes\":7,\"fresh_from\":"
                              "\"force_ttl\",\"fresh_s\":60,\"invalidated\":false,\"kind\":"
                              "\"response\",\"must_validate\":false,\"stale_if_error_s\":null,"
                              "\"stale_while_revalidate_s\":30,\"status\":200,\"time_left_s\":50}");
    free(text);
    r.age_s = 90; /* 30 s stale: within stale-while-revalidate */
    assert_string_equal(answer_of(&r), "STALE");
    r.age_s = 91;
    assert_string_equal(answer_of(&r), "MISS");
    r.age_s = 70;
    r.never_stale = true; /* must-revalidate: never served stale */
    assert_string_equal(answer_of(&r), "MISS");
    r.age_s = 10;
    r.invalidated = true;
    assert_string_equal(answer_of(&r), "MISS");
    r.invalidated = false;
    r.must_validate = true; /* no-cache: validated before every use */
    assert_string_equal(answer_of(&r), "MISS");
}

static void test_variants_and_their_fields(void **state)
{
    (void)state;
    struct sf_cache_view_resp vars[2] = {
        {.key = key_v0, .fresh_s = 5},
        {.key = key_v1, .fresh_s = 5, .age_s = 9},
    };
    struct sf_cache_view v = {.kind = SF_CACHE_VIEW_VARY,
                              .vary_names = names,
                              .variants = vars,
                              .nvariants = 2,
                              .variants_stored = 3};
    json_t *j = sf_explain_stored(&v, vars[1].key);
    char *fields0 =
        json_dumps(json_object_get(json_array_get(json_object_get(j, "variants"), 0), "fields"),
                   JSON_COMPACT | JSON_SORT_KEYS);
    char *fields1 =
        json_dumps(json_object_get(json_array_get(json_object_get(j, "variants"), 1), "fields"),
                   JSON_COMPACT | JSON_SORT_KEYS);
    char *vary = json_dumps(json_object_get(j, "vary"), JSON_COMPACT);
    assert_string_equal(fields0, "{\"accept-encoding\":null,\"accept-language\":\"de, en\"}");
    assert_string_equal(fields1, "{\"accept-encoding\":\"gzip\",\"accept-language\":null}");
    assert_string_equal(vary, "[\"accept-encoding\",\"accept-language\"]");
    assert_int_equal(json_integer_value(json_object_get(j, "variants_stored")), 3);
    assert_false(json_is_true(
        json_object_get(json_array_get(json_object_get(j, "variants"), 0), "selected")));
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(j, "variants"), 1), "selected")));
    /* The selected variant is stale: the request would miss. */
    assert_string_equal(json_string_value(json_object_get(j, "answer")), "MISS");
    free(fields0), free(fields1), free(vary);
    json_decref(j);
    j = sf_explain_stored(&v, vars[0].key);
    assert_string_equal(json_string_value(json_object_get(j, "answer")), "HIT");
    json_decref(j);
    j = sf_explain_stored(&v, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "answer")), "MISS");
    json_decref(j);
}

static void test_slices_pass_flight_nothing(void **state)
{
    (void)state;
    uint64_t held[] = {0, 3, 4, 5, 9};
    struct sf_cache_view v = {.kind = SF_CACHE_VIEW_SLICED,
                              .slice = {100000, etag, NULL},
                              .slice_bytes = 10000,
                              .slices = 10,
                              .held = held,
                              .nheld = 5};
    char *text = stored_text(&v, NULL);
    assert_string_equal(text, "{\"answer\":\"SLICES\",\"etag\":\"\\\"e\\\"\",\"kind\":\"sliced\","
                              "\"last_modified\":null,\"slice_bytes\":10000,\"slices\":10,"
                              "\"slices_stored\":5,\"stored_runs\":[[0,0],[3,5],[9,9]],"
                              "\"total_bytes\":100000}");
    free(text);
    struct sf_cache_view p = {
        .kind = SF_CACHE_VIEW_PASS, .pass_reason = set_cookie, .pass_left_ms = 1500};
    text = stored_text(&p, NULL);
    assert_string_equal(text, "{\"answer\":\"PASS\",\"kind\":\"hit_for_pass\",\"reason\":"
                              "\"Set-Cookie\",\"time_left_ms\":1500}");
    free(text);
    struct sf_cache_view f = {.kind = SF_CACHE_VIEW_FLIGHT};
    text = stored_text(&f, NULL);
    assert_string_equal(text, "{\"answer\":\"JOIN\",\"kind\":\"flight\"}");
    free(text);
    f.revalidating = true;
    f.resp = (struct sf_cache_view_resp){
        .key = key_k, .age_s = 20, .fresh_s = 10, .stale_while_revalidate_s = 60};
    json_t *j = sf_explain_stored(&f, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "answer")), "STALE");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "revalidates"), "time_left_s")), -10);
    json_decref(j);
    struct sf_cache_view none = {0};
    text = stored_text(&none, NULL);
    assert_string_equal(text, "{\"answer\":\"MISS\",\"kind\":\"nothing\"}");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_response_and_its_answer),
        cmocka_unit_test(test_variants_and_their_fields),
        cmocka_unit_test(test_slices_pass_flight_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
