/* Unit tests for lib/http.c: field lists, hop-by-hop, Cache-Control, HTTP dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/http.h"

#include <stdlib.h>
#include <string.h>

static void test_hdrs_get_and_join(void **state)
{
    (void)state;
    struct sf_hdrs h = {0};
    sf_hdrs_add(&h, "Cache-Control", "max-age=5");
    sf_hdrs_add(&h, "X-A", "1");
    sf_hdrs_add(&h, "cache-control", "public");
    assert_string_equal(sf_hdrs_get(&h, "CACHE-CONTROL"), "max-age=5");
    assert_null(sf_hdrs_get(&h, "X-B"));
    char *j = sf_hdrs_join(&h, "Cache-Control");
    assert_string_equal(j, "max-age=5, public");
    free(j);
    assert_null(sf_hdrs_join(&h, "Nope"));
    sf_hdrs_clear(&h);
    assert_int_equal(h.n, 0);
}

/* A field's name and value share one block: extending the last value, removing fields and
 * reserving room keep every other field's strings (ASan sees a stray free). */
static void test_hdrs_one_block_per_field(void **state)
{
    (void)state;
    struct sf_hdrs h = {0};
    sf_hdrs_reserve(&h, 16);
    assert_int_equal(h.cap, 16);
    sf_hdrs_addn(&h, "X-Folded", 8, "a", 1);
    sf_hdrs_extend_last(&h, "b c", 3);
    sf_hdrs_add(&h, "Empty", "");
    sf_hdrs_extend_last(&h, "x", 1);
    assert_string_equal(h.v[0].name, "X-Folded");
    assert_string_equal(h.v[0].value, "a b c");
    assert_string_equal(h.v[1].name, "Empty");
    assert_string_equal(h.v[1].value, " x");
    assert_ptr_equal(h.v[1].value, h.v[1].name + strlen("Empty") + 1);
    sf_hdrs_add(&h, "X-Folded", "again");
    assert_int_equal(sf_hdrs_remove(&h, "x-folded"), 2);
    assert_int_equal(h.n, 1);
    assert_string_equal(sf_hdrs_get(&h, "Empty"), " x");
    assert_int_equal(sf_hdrs_bytes(&h), 16 * sizeof *h.v + strlen("Empty") + strlen(" x") + 2);
    sf_hdrs_reserve(&h, 4); /* never shrinks */
    assert_int_equal(h.cap, 16);
    sf_hdrs_clear(&h);
    assert_int_equal(h.n, 0);
}

/* A stored head is packed into one block (hdrs.h): the same fields in the same order,
 * readable as before, one allocation for the slots and the text; a change copies it back
 * to the growing form first, and clear frees either (ASan sees a stray or missed free). */
static size_t count_one(size_t asked)
{
    (void)asked;
    return 1;
}

static void test_hdrs_packed(void **state)
{
    (void)state;
    struct sf_hdrs h = {0};
    sf_hdrs_pack(&h); /* empty: nothing to pack */
    assert_false(sf_hdrs_is_packed(&h));
    assert_null(h.v);
    sf_hdrs_add(&h, "Content-Type", "application/octet-stream");
    sf_hdrs_add(&h, "Cache-Control", "max-age=3600");
    sf_hdrs_add(&h, "Empty", "");
    size_t text = strlen("Content-Type") + strlen("application/octet-stream") + 2 +
                  strlen("Cache-Control") + strlen("max-age=3600") + 2 + strlen("Empty") + 2;
    assert_int_equal(sf_hdrs_bytes(&h), 8 * sizeof *h.v + text);
    assert_int_equal(sf_hdrs_held(&h, count_one), 4); /* the slots and a block a field */
    sf_hdrs_pack(&h);
    assert_true(sf_hdrs_is_packed(&h));
    assert_int_equal(h.n, 3);
    assert_int_equal(sf_hdrs_bytes(&h), 3 * sizeof *h.v + text);
    assert_int_equal(sf_hdrs_held(&h, count_one), 1);
    /* Slots first, then every field's text, in order, in the same block. */
    assert_ptr_equal(h.v[0].name, (char *)(h.v + 3));
    assert_ptr_equal(h.v[2].value + 1, (char *)(h.v + 3) + text);
    assert_string_equal(h.v[1].name, "Cache-Control");
    assert_string_equal(sf_hdrs_get(&h, "cache-control"), "max-age=3600");
    assert_string_equal(sf_hdrs_get(&h, "Empty"), "");
    char *j = sf_hdrs_join(&h, "Content-Type");
    assert_string_equal(j, "application/octet-stream");
    free(j);
    struct sf_hdr *block = h.v;
    sf_hdrs_pack(&h); /* already packed: it does not move */
    assert_ptr_equal(h.v, block);
    sf_hdrs_add(&h, "X-A", "1"); /* a change unpacks */
    assert_false(sf_hdrs_is_packed(&h));
    assert_int_equal(h.n, 4);
    assert_string_equal(h.v[0].value, "application/octet-stream");
    assert_string_equal(h.v[3].value, "1");
    sf_hdrs_pack(&h);
    /* A removal keeps it packed: compacted in place, its block shrunk to what it counts. */
    assert_int_equal(sf_hdrs_remove(&h, "Empty"), 1);
    assert_true(sf_hdrs_is_packed(&h));
    assert_int_equal(h.n, 3);
    assert_int_equal(sf_hdrs_bytes(&h), 3 * sizeof *h.v + text - strlen("Empty") - 2 + 6);
    assert_int_equal(sf_hdrs_held(&h, count_one), 1);
    assert_ptr_equal(h.v[0].name, (char *)(h.v + 3));
    assert_string_equal(h.v[0].value, "application/octet-stream");
    assert_string_equal(h.v[1].value, "max-age=3600");
    assert_string_equal(h.v[2].name, "X-A");
    assert_string_equal(h.v[2].value, "1");
    assert_ptr_equal(h.v[2].value + 2, (char *)h.v + sf_hdrs_bytes(&h));
    sf_hdrs_pack(&h);
    sf_hdrs_extend_last(&h, "2", 1);
    assert_string_equal(sf_hdrs_get(&h, "X-A"), "1 2");
    sf_hdrs_pack(&h);
    sf_hdrs_clear(&h);
    assert_int_equal(h.n, 0);
    assert_null(h.v);
}

static bool keep_none(const struct sf_hdr *f, void *arg)
{
    (void)f;
    (void)arg;
    return false;
}

/* A head gathered as text becomes one packed block; a field's list is borrowed when the
 * field occurs once, joined when more; a packed list filtered to nothing is empty. */
static void test_hdrs_pack_text_and_list(void **state)
{
    (void)state;
    static const char text[] = "Vary\0a\0Cache-Control\0max-age=1\0vary\0b\0";
    struct sf_hdrs h = {0};
    sf_hdrs_pack_text(&h, text, sizeof text - 1, 3);
    assert_true(sf_hdrs_is_packed(&h));
    assert_int_equal(h.n, 3);
    assert_int_equal(sf_hdrs_bytes(&h), 3 * sizeof *h.v + sizeof text - 1);
    assert_int_equal(sf_hdrs_held(&h, count_one), 1);
    char *joined;
    const char *cc = sf_hdrs_list(&h, "cache-control", &joined);
    assert_null(joined);
    assert_ptr_equal(cc, h.v[1].value);
    assert_string_equal(sf_hdrs_list(&h, "Vary", &joined), "a, b");
    assert_non_null(joined);
    free(joined);
    assert_null(sf_hdrs_list(&h, "Age", &joined));
    assert_null(joined);
    assert_int_equal(sf_hdrs_remove(&h, "Vary"), 2); /* the first field and the last */
    assert_true(sf_hdrs_is_packed(&h));
    assert_int_equal(h.n, 1);
    assert_string_equal(h.v[0].name, "Cache-Control");
    assert_string_equal(h.v[0].value, "max-age=1");
    assert_int_equal(sf_hdrs_bytes(&h), sizeof *h.v + strlen("Cache-Control") + 10 + 1);
    assert_int_equal(sf_hdrs_filter(&h, keep_none, NULL), 1);
    assert_int_equal(h.n, 0);
    assert_null(h.v);
    sf_hdrs_pack_text(&h, "", 0, 0);
    assert_null(h.v);
}

static void test_hop_by_hop(void **state)
{
    (void)state;
    assert_true(sf_http_is_hop_by_hop("Connection", NULL));
    assert_true(sf_http_is_hop_by_hop("transfer-encoding", NULL));
    assert_true(sf_http_is_hop_by_hop("Proxy-Authentication-Info", NULL)); /* RFC 9111 §3.1 */
    assert_true(sf_http_is_hop_by_hop("Keep-Alive", NULL));
    assert_true(sf_http_is_hop_by_hop("Proxy-Connection", NULL));
    assert_true(sf_http_is_hop_by_hop("X-Secret", "close, x-secret"));
    assert_false(sf_http_is_hop_by_hop("X-Secret", "close"));
    assert_false(sf_http_is_hop_by_hop("Cache-Control", "keep-alive"));
    /* Every fixed name, in any case; and names beside them that are not. */
    static const char *const hop[] = {"CONNECTION",
                                      "keep-alive",
                                      "Proxy-Connection",
                                      "proxy-AUTHENTICATE",
                                      "Proxy-Authorization",
                                      "proxy-authentication-info",
                                      "TE",
                                      "Trailer",
                                      "transfer-Encoding",
                                      "UPGRADE"};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (!sf_http_is_hop_by_hop(hop[i], NULL))
            fail_msg("%s: not hop-by-hop", hop[i]);
    static const char *const end_to_end[] = {
        "Content-Type", "Keep", "Proxy", "T",  "Trailers",   "Upgrade-Insecure-Requests",
        "Date",         "",     "@te",   "Tf", "Connections"};
    for (size_t i = 0; i < sizeof end_to_end / sizeof end_to_end[0]; i++)
        if (sf_http_is_hop_by_hop(end_to_end[i], NULL))
            fail_msg("%s: hop-by-hop", end_to_end[i]);
}

static void test_streq_ci(void **state)
{
    (void)state;
    assert_true(sf_streq_ci("Content-Length", "content-length"));
    assert_true(sf_streq_ci("ETAG", "etag"));
    assert_true(sf_streq_ci("", ""));
    assert_false(sf_streq_ci("a", ""));
    assert_false(sf_streq_ci("", "a"));
    assert_false(sf_streq_ci("Age", "Ag"));
    assert_false(sf_streq_ci("Ag", "Age"));
    /* Equal but for bit 0x20, and not letters: different names. */
    assert_false(sf_streq_ci("@", "`"));
    assert_false(sf_streq_ci("[x", "{x"));
    assert_false(sf_streq_ci("x[", "x{"));
    assert_false(sf_streq_ci("x-", "x\r"));
    assert_false(sf_streq_ci("\x80", "\xa0"));
    assert_true(sf_streq_ci("\xc0", "\xc0")); /* bytes over 127: only themselves */
    assert_false(sf_streq_ci("\xc0", "\xe0"));
}

static void test_list_has(void **state)
{
    (void)state;
    assert_true(sf_http_list_has("a, b ,C", "c"));
    assert_true(sf_http_list_has("*", "*"));
    assert_false(sf_http_list_has("accept-encoding", "*"));
    assert_false(sf_http_list_has("", "a"));
    assert_false(sf_http_list_has("ab", "a"));
}

static void test_cc_parse(void **state)
{
    (void)state;
    struct sf_cc cc;
    sf_http_cc_parse("public, Max-Age=60, s-maxage=\"30\", no-transform", &cc);
    assert_true(cc.public_);
    assert_int_equal(cc.max_age, 60);
    assert_int_equal(cc.s_maxage, 30);
    assert_true(cc.no_transform);
    assert_false(cc.private_);

    /* Qualified forms (RFC 9111 §5.2.2.4, §5.2.2.7) name fields instead of the whole
     * response; a comma inside the quotes does not end the directive. */
    sf_http_cc_parse("private=\"Set-Cookie\", no-cache", &cc);
    assert_false(cc.private_);
    assert_true(cc.private_fields);
    assert_true(cc.no_cache);
    sf_http_cc_parse("no-cache=\"Set-Cookie, X-A\", max-age=5", &cc);
    assert_false(cc.no_cache);
    assert_true(cc.no_cache_fields);
    assert_int_equal(cc.max_age, 5);
    sf_http_cc_parse("private=\"\", no-cache=token", &cc); /* no names: unqualified */
    assert_true(cc.private_);
    assert_true(cc.no_cache);
    assert_true(sf_http_cc_names_field("max-age=5, no-cache=\"Set-Cookie, X-A\"", "x-a"));
    assert_true(sf_http_cc_names_field("PRIVATE=\"x-b\"", "X-B"));
    assert_false(sf_http_cc_names_field("no-cache=\"Set-Cookie, X-A\"", "X"));
    assert_false(sf_http_cc_names_field("no-store=\"X-A\"", "X-A"));
    assert_false(sf_http_cc_names_field("private", "private"));
    assert_false(sf_http_cc_names_field(NULL, "X-A"));

    /* Duplicates: the first valid value wins. Invalid max-age means stale. */
    sf_http_cc_parse("max-age=10, max-age=20", &cc);
    assert_int_equal(cc.max_age, 10);
    sf_http_cc_parse("max-age=abc", &cc);
    assert_int_equal(cc.max_age, 0);
    sf_http_cc_parse("max-age=99999999999999999999", &cc);
    assert_int_equal(cc.max_age, 2147483648LL);
    sf_http_cc_parse("max-stale", &cc);
    assert_true(cc.max_stale_any);
    sf_http_cc_parse(NULL, &cc);
    assert_int_equal(cc.max_age, -1);
    assert_int_equal(cc.s_maxage, -1);
    sf_http_cc_parse("  NO-STORE ,,", &cc);
    assert_true(cc.no_store);
}

static void test_dates(void **state)
{
    (void)state;
    int64_t t;
    assert_true(sf_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t));
    assert_int_equal(t, 784111777);
    assert_true(sf_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t));
    assert_int_equal(t, 784111777);
    assert_true(sf_http_date_parse("Sun Nov  6 08:49:37 1994", &t));
    assert_int_equal(t, 784111777);
    assert_false(sf_http_date_parse("yesterday", &t));
    assert_false(sf_http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT", &t));
    assert_false(sf_http_date_parse("0", &t));
    /* RFC 9110 §5.6.7 exactly: only letter case is let go. */
    assert_true(sf_http_date_parse("sun, 06 nov 1994 08:49:37 gmt", &t));
    assert_int_equal(t, 784111777);
    assert_true(sf_http_date_parse("Sun Nov 16 08:49:37 1994", &t));
    static const char *const invalid[] = {
        "Sun,  06 Nov 1994 08:49:37 GMT", /* a doubled space */
        "Sun, 6 Nov 1994 08:49:37 GMT",   /* a one-digit day */
        "Sun, 06 Nov 1994 8:49:37 GMT",   /* a one-digit hour */
        "Sun, 06 Nov 1994 08:49:37 GMT ", /* something after it */
        "Sun, 06 Nov 1994 08:49:37 UTC",  /* not GMT */
        "Sun, 30 Feb 1994 08:49:37 GMT",  /* no such day */
        "Sun, 06 Nov 1994 24:00:00 GMT",  /* no such hour */
        "Sun, 06-Nov-94 08:49:37 GMT",    /* RFC 850 needs the long day name */
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994", /* asctime pads the day with a space */
        "Sun Nov  6 08:49:37 94",
        "Sun, 06 Nov 94 08:49:37 GMT",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        if (sf_http_date_parse(invalid[i], &t))
            fail_msg("accepted \"%s\"", invalid[i]);
    char buf[40];
    sf_http_date_format(784111777, buf, sizeof buf);
    assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
}

static void test_etag_weak_comparison(void **state)
{
    (void)state;
    assert_true(sf_http_etag_matches("\"a\"", "\"a\""));
    assert_true(sf_http_etag_matches("W/\"a\"", "\"a\""));
    assert_true(sf_http_etag_matches("\"x\", W/\"a\"", "W/\"a\""));
    assert_true(sf_http_etag_matches("*", "\"a\""));
    assert_true(sf_http_etag_matches("*", NULL));
    assert_false(sf_http_etag_matches("\"b\"", "\"a\""));
    assert_false(sf_http_etag_matches("\"a\"", NULL));
    assert_false(sf_http_etag_matches(NULL, "\"a\""));
}

/* RFC 9110 §14.1.2, §14.2: one byte range of a stored response. */
static void test_range_parse(void **state)
{
    (void)state;
    static const struct {
        const char *range;
        enum sf_range want;
        uint64_t first, last;
    } cases[] = {
        {"bytes=0-99", SF_RANGE_ONE, 0, 99},
        {"bytes=100-", SF_RANGE_ONE, 100, 999},
        {"bytes=-100", SF_RANGE_ONE, 900, 999},
        {"bytes=-5000", SF_RANGE_ONE, 0, 999},
        {"bytes=990-5000", SF_RANGE_ONE, 990, 999},
        {"Bytes = 5-5", SF_RANGE_ONE, 5, 5},
        {"bytes=1000-", SF_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", SF_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-1,5-6", SF_RANGE_MANY, 0, 0}, /* several: test_ranges_parse */
        {"bytes=5-1", SF_RANGE_NONE, 0, 0},
        {"bytes=-", SF_RANGE_NONE, 0, 0},
        {"bytes=a-b", SF_RANGE_NONE, 0, 0},
        {"items=0-1", SF_RANGE_NONE, 0, 0},
        {"bytes=99999999999999999999-", SF_RANGE_NONE, 0, 0},
        {NULL, SF_RANGE_NONE, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sf_ranges r;
        enum sf_range got = sf_http_ranges_parse(cases[i].range, 1000, &r);
        uint64_t first = r.n ? r.first[0] : 0, last = r.n ? r.last[0] : 0;
        if (got != cases[i].want ||
            (got == SF_RANGE_ONE && (first != cases[i].first || last != cases[i].last)))
            fail_msg("%s: got %d %llu-%llu", cases[i].range ? cases[i].range : "(none)", (int)got,
                     (unsigned long long)first, (unsigned long long)last);
    }
}

/* RFC 9110 §14.1.2, §14.2, §14.6: several byte ranges. */
static void test_ranges_parse(void **state)
{
    (void)state;
    static const struct {
        const char *range;
        enum sf_range want;
        size_t n;
        uint64_t first[3], last[3];
    } cases[] = {
        {"bytes=0-1,5-6", SF_RANGE_MANY, 2, {0, 5}, {1, 6}},
        {"bytes=500-899, -10 , 0-0", SF_RANGE_MANY, 3, {500, 990, 0}, {899, 999, 0}},
        {"bytes=2000-3000, 0-9", SF_RANGE_ONE, 1, {0}, {9}}, /* the unsatisfiable left out */
        {"bytes=2000-3000, 5000-", SF_RANGE_UNSATISFIABLE, 0, {0}, {0}},
        {"bytes=0-5,3-9", SF_RANGE_NONE, 0, {0}, {0}}, /* overlapping */
        {"bytes=0-9,-995", SF_RANGE_NONE, 0, {0}, {0}},
        {"bytes=0-1,,5-6", SF_RANGE_MANY, 2, {0, 5}, {1, 6}}, /* empty list elements */
        {"bytes=0-1,x", SF_RANGE_NONE, 0, {0}, {0}},
        {"bytes=,", SF_RANGE_NONE, 0, {0}, {0}},
        {"bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,"
         "30-30,32-32",
         SF_RANGE_NONE,
         0,
         {0},
         {0}}, /* more than SF_RANGES_MAX */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sf_ranges r;
        enum sf_range got = sf_http_ranges_parse(cases[i].range, 1000, &r);
        bool same = got == cases[i].want && r.n == cases[i].n;
        for (size_t k = 0; same && k < r.n; k++)
            same = r.first[k] == cases[i].first[k] && r.last[k] == cases[i].last[k];
        if (!same)
            fail_msg("%s: got %d with %zu ranges", cases[i].range, (int)got, r.n);
    }
}

static void test_response_head_checks(void **state)
{
    (void)state;
    int status = 0;
    assert_null(sf_http_check_status_line("HTTP/1.1 200 OK", 15, &status));
    assert_int_equal(status, 200);
    assert_null(sf_http_check_status_line("HTTP/1.0 599", 12, &status));
    static const char *const bad_status[] = {
        "HTTP/1.1 1000 Big", "HTTP/1.1 099 x", "HTTP/2 200 OK",    "HTTP/1.1 20 OK",
        "HTTP/1.1 2x0 OK",   "ICY 200 OK",     "HTTP/1.1 200 O\rK"};
    for (size_t i = 0; i < sizeof bad_status / sizeof bad_status[0]; i++)
        if (sf_http_check_status_line(bad_status[i], strlen(bad_status[i]), &status) == NULL)
            fail_msg("status line accepted: %s", bad_status[i]);

    assert_null(sf_http_check_field_line("X-A: b c", 8));
    assert_null(sf_http_check_field_line("X-A:", 4));
    assert_null(sf_http_check_field_line(" folded more", 12));
    static const char *const bad_field[] = {"X-A : b", "X-A",       ": b",
                                            "X(A): b", "X-A: a\rb", "X-A: a\x01"};
    for (size_t i = 0; i < sizeof bad_field / sizeof bad_field[0]; i++)
        if (sf_http_check_field_line(bad_field[i], strlen(bad_field[i])) == NULL)
            fail_msg("field line accepted: %s", bad_field[i]);
    assert_non_null(sf_http_check_field_line("X-A: a\0b", 8)); /* NUL inside */

    struct {
        const char *fields[3][2];
        bool ok;
        int64_t length;
    } framing[] = {
        {{{"Content-Length", "5"}}, true, 5},
        {{{"Content-Length", "5"}, {"content-length", "5 "}}, true, 5},
        {{{"Transfer-Encoding", "Chunked"}}, true, -1},
        {{{"X", "y"}}, true, -1},
        {{{"Content-Length", "5"}, {"Content-Length", "6"}}, false, 0},
        {{{"Content-Length", "5, 5"}}, false, 0},
        {{{"Content-Length", "-5"}}, false, 0},
        {{{"Content-Length", ""}}, false, 0},
        {{{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}, false, 0},
        /* sfproxy sends no TE: no coding but chunked (RFC 9112 §7.4), never decoded. */
        {{{"Transfer-Encoding", "gzip, chunked"}}, false, 0},
        {{{"Transfer-Encoding", "gzip, gzip, chunked"}}, false, 0}, /* the bomb's framing */
        {{{"Transfer-Encoding", "gzip"}}, false, 0},
        {{{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}}, false, 0},
        {{{"Transfer-Encoding", "x-gzip, chunked"}}, false, 0},
        {{{"Transfer-Encoding", "deflate, chunked"}}, false, 0},
        {{{"Transfer-Encoding", "br, chunked"}}, false, 0},
        {{{"Transfer-Encoding", "zstd, chunked"}}, false, 0},
        {{{"Transfer-Encoding", "compress, chunked"}}, false, 0},
        {{{"Transfer-Encoding", "identity, chunked"}}, false, 0}, /* gone since RFC 7230 */
        {{{"Transfer-Encoding", "identity"}}, false, 0},
        {{{"Transfer-Encoding", "chunked;x=1"}}, false, 0},
        {{{"Transfer-Encoding", " chunked , "}}, true, -1},
        {{{"Transfer-Encoding", "CHUNKED"}}, true, -1},
        {{{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}, false, 0},
        {{{"Transfer-Encoding", "chunked, gzip"}}, false, 0}, /* chunked not last */
        {{{"Transfer-Encoding", "x-unknown, chunked"}}, false, 0},
        {{{"Transfer-Encoding", "gzip;q=1"}}, false, 0},
        {{{"Transfer-Encoding", " , "}}, false, 0}, /* names no coding: no framing to trust */
        {{{"Content-Length", "5"}, {"Transfer-Encoding", "gzip"}}, false, 0},
    };
    for (size_t i = 0; i < sizeof framing / sizeof framing[0]; i++) {
        struct sf_hdrs h = {0};
        for (size_t j = 0; j < 3 && framing[i].fields[j][0] != NULL; j++)
            sf_hdrs_add(&h, framing[i].fields[j][0], framing[i].fields[j][1]);
        int64_t length;
        const char *why = sf_http_check_framing(&h, &length);
        if ((why == NULL) != framing[i].ok || (why == NULL && length != framing[i].length))
            fail_msg("framing row %zu: expected %s (%lld), got %s (%lld)", i,
                     framing[i].ok ? "ok" : "refused", (long long)framing[i].length,
                     why ? why : "ok", (long long)length);
        sf_hdrs_clear(&h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdrs_one_block_per_field),
        cmocka_unit_test(test_response_head_checks),
        cmocka_unit_test(test_range_parse),
        cmocka_unit_test(test_ranges_parse),
        cmocka_unit_test(test_hdrs_get_and_join),
        cmocka_unit_test(test_hdrs_packed),
        cmocka_unit_test(test_hdrs_pack_text_and_list),
        cmocka_unit_test(test_hop_by_hop),
        cmocka_unit_test(test_streq_ci),
        cmocka_unit_test(test_list_has),
        cmocka_unit_test(test_cc_parse),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_etag_weak_comparison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
