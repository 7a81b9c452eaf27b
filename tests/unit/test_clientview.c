/* Unit tests for lib/clientview.c: a route's client_cache_control replaces the
 * Cache-Control of a libmicrohttpd response (and its Age, Expires and Date go, the Date
 * remade for now); response_headers.remove takes every line of a field out, .set puts its
 * value in place of the origin's; a route without any of it, or no route, changes
 * nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/clientview.h"
#include "../../lib/route.h"

#include <stdlib.h>
#include <string.h>

/* A response with the fields an origin's response stored by sfproxy may have. */
static struct MHD_Response *origin_response(void)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    assert_non_null(resp);
    static const char *const fields[][2] = {
        {"Content-Type", "text/css"},
        {"Cache-Control", "max-age=86400"},
        {"Date", "Sun, 06 Dec 2026 10:00:00 GMT"},
        {"Expires", "Mon, 07 Dec 2026 10:00:00 GMT"},
        {"Age", "3600"},
        {"X-Secret", "a"},
        {"x-secret", "b"},
        {"X-Frame-Options", "SAMEORIGIN"},
        {"Server", "origin/1.0"},
        {"X-Cache", "HIT"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        assert_int_equal(MHD_add_response_header(resp, fields[i][0], fields[i][1]), MHD_YES);
    return resp;
}

struct count {
    const char *name;
    int n;
};

static enum MHD_Result count_field(void *cls, enum MHD_ValueKind kind, const char *name,
                                   const char *value)
{
    struct count *c = cls;
    (void)kind;
    (void)value;
    c->n += strcasecmp(name, c->name) == 0;
    return MHD_YES;
}

/* How many lines of the field resp has. */
static int lines(struct MHD_Response *resp, const char *name)
{
    struct count c = {name, 0};
    MHD_get_response_headers(resp, count_field, &c);
    return c.n;
}

static void test_nothing_to_change(void **state)
{
    (void)state;
    struct sf_route_def plain = {0};
    assert_false(sf_clientview_changes(NULL));
    assert_false(sf_clientview_changes(&plain));
    struct MHD_Response *resp = origin_response();
    int before = MHD_get_response_headers(resp, NULL, NULL);
    assert_true(sf_clientview_apply(resp, NULL, true, 0));
    assert_true(sf_clientview_apply(resp, &plain, true, 0));
    assert_int_equal(MHD_get_response_headers(resp, NULL, NULL), before);
    assert_string_equal(MHD_get_response_header(resp, "Cache-Control"), "max-age=86400");
    MHD_destroy_response(resp);
}

static void test_client_cache_control(void **state)
{
    (void)state;
    struct sf_route_def r = {0};
    char ccc[] = "public, max-age=300";
    r.client_cache_control = ccc;
    assert_true(sf_clientview_changes(&r));
    struct MHD_Response *resp = origin_response();
    assert_true(sf_clientview_apply(resp, &r, true, 1796053541)); /* 2026-11-30T15:45:41Z */
    assert_int_equal(lines(resp, "Cache-Control"), 1);
    assert_string_equal(MHD_get_response_header(resp, "Cache-Control"), "public, max-age=300");
    /* The client's lifetime counts from now: no Age or Expires, and the Date of sending. */
    assert_int_equal(lines(resp, "Age"), 0);
    assert_int_equal(lines(resp, "Expires"), 0);
    assert_int_equal(lines(resp, "Date"), 1);
    assert_string_equal(MHD_get_response_header(resp, "Date"), "Mon, 30 Nov 2026 15:45:41 GMT");
    /* The rest as it was. */
    assert_int_equal(lines(resp, "X-Secret"), 2);
    assert_string_equal(MHD_get_response_header(resp, "X-Cache"), "HIT");
    MHD_destroy_response(resp);
}

/* On a response sfproxy does not share (a pass, one user's), a route's Cache-Control
 * replaces the origin's only when it keeps the response one user's. */
static void test_client_cache_control_on_what_is_not_shared(void **state)
{
    (void)state;
    struct sf_route_def r = {0};
    char lax[] = "public, max-age=300", strict[] = "private, no-store";
    r.client_cache_control = lax;
    struct MHD_Response *resp = origin_response();
    assert_true(sf_clientview_apply(resp, &r, false, 1796053541));
    assert_string_equal(MHD_get_response_header(resp, "Cache-Control"), "max-age=86400");
    assert_int_equal(lines(resp, "Age"), 1); /* the origin's, untouched */
    MHD_destroy_response(resp);
    r.client_cache_control = strict;
    resp = origin_response();
    assert_true(sf_clientview_apply(resp, &r, false, 1796053541));
    assert_string_equal(MHD_get_response_header(resp, "Cache-Control"), "private, no-store");
    MHD_destroy_response(resp);
}

static void test_response_headers(void **state)
{
    (void)state;
    struct sf_route_def r = {0};
    char secret[] = "x-secret", server[] = "Server";
    char *remove[] = {secret, server};
    r.response_remove = remove;
    r.nresponse_remove = 2;
    sf_hdrs_add(&r.response_set, "X-Frame-Options", "DENY");
    sf_hdrs_add(&r.response_set, "X-Route", "static");
    assert_true(sf_clientview_changes(&r));
    struct MHD_Response *resp = origin_response();
    assert_true(sf_clientview_apply(resp, &r, true, 0));
    assert_int_equal(lines(resp, "X-Secret"), 0); /* every line, any case */
    assert_int_equal(lines(resp, "Server"), 0);
    assert_int_equal(lines(resp, "X-Frame-Options"), 1); /* set replaces */
    assert_string_equal(MHD_get_response_header(resp, "X-Frame-Options"), "DENY");
    assert_string_equal(MHD_get_response_header(resp, "X-Route"), "static");
    /* Without client_cache_control, the freshness fields stay the origin's. */
    assert_string_equal(MHD_get_response_header(resp, "Cache-Control"), "max-age=86400");
    assert_string_equal(MHD_get_response_header(resp, "Age"), "3600");
    assert_string_equal(MHD_get_response_header(resp, "Date"), "Sun, 06 Dec 2026 10:00:00 GMT");
    MHD_destroy_response(resp);
    sf_hdrs_clear(&r.response_set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_to_change),
        cmocka_unit_test(test_client_cache_control),
        cmocka_unit_test(test_client_cache_control_on_what_is_not_shared),
        cmocka_unit_test(test_response_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
