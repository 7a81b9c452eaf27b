/* Unit tests for lib/diskpurge.c: which records a purge rule hides (only those written
 * before its tombstone; a hard purge over a soft one), URL, prefix and tag rules, pending
 * rules and their settling, retiring below the log's tail, the checkpoint's walk, the
 * tombstone key's encoding (and the keys it refuses), thousands of URL rules, and the
 * bound's collapse of one softness's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/diskpurge.h"
#include "../../lib/http.h"

#include <stdio.h>
#include <string.h>

static struct sf_diskstore_match url_match(const char *url)
{
    return (struct sf_diskstore_match){.url = url, .url_len = strlen(url)};
}

static enum sf_diskpurge_hit check_url(const struct sf_diskpurge *p, uint64_t pos, const char *url)
{
    struct sf_diskstore_match m = url_match(url);
    return sf_diskpurge_check(p, pos, &m, NULL, 0);
}

static void add(struct sf_diskpurge *p, enum sf_diskpurge_kind kind, const char *text,
                const char *tag_header, bool soft, uint64_t pos)
{
    struct sf_diskpurge_rule r = {
        .pos = pos, .kind = kind, .soft = soft, .text = text, .tag_header = tag_header};
    sf_diskpurge_add(p, &r);
}

static void test_url_rule_hides_older_records_only(void **state)
{
    (void)state;
    struct sf_diskpurge *p = sf_diskpurge_new();
    assert_int_equal(check_url(p, 5, "http://o/a"), SF_DISKPURGE_NONE);
    add(p, SF_DISKPURGE_URL, "http://o/a", NULL, false, 100);
    assert_int_equal(check_url(p, 50, "http://o/a"), SF_DISKPURGE_REMOVED);
    assert_int_equal(check_url(p, 100, "http://o/a"), SF_DISKPURGE_NONE); /* itself */
    assert_int_equal(check_url(p, 150, "http://o/a"), SF_DISKPURGE_NONE); /* stored after */
    assert_int_equal(check_url(p, 50, "http://o/ab"), SF_DISKPURGE_NONE); /* not a prefix rule */
    assert_int_equal(check_url(p, 50, "http://o/"), SF_DISKPURGE_NONE);
    assert_int_equal(sf_diskpurge_count(p), 1);
    sf_diskpurge_free(p);
    sf_diskpurge_free(NULL);
}

static void test_hard_wins_over_soft_and_newest_counts(void **state)
{
    (void)state;
    struct sf_diskpurge *p = sf_diskpurge_new();
    add(p, SF_DISKPURGE_URL, "http://o/a", NULL, false, 100);
    add(p, SF_DISKPURGE_URL, "http://o/a", NULL, true, 200);
    assert_int_equal(check_url(p, 50, "http://o/a"), SF_DISKPURGE_REMOVED);
    assert_int_equal(check_url(p, 150, "http://o/a"), SF_DISKPURGE_INVALIDATED);
    assert_int_equal(check_url(p, 250, "http://o/a"), SF_DISKPURGE_NONE);
    /* An older rule added later (the full scan meets them out of order) keeps the newer. */
    add(p, SF_DISKPURGE_URL, "http://o/a", NULL, false, 300);
    add(p, SF_DISKPURGE_URL, "http://o/a", NULL, false, 250);
    assert_int_equal(check_url(p, 280, "http://o/a"), SF_DISKPURGE_REMOVED);
    assert_int_equal(check_url(p, 150, "http://o/a"), SF_DISKPURGE_REMOVED);
    assert_int_equal(sf_diskpurge_count(p), 2); /* one hard, one soft */
    sf_diskpurge_free(p);
}

static void test_prefix_rule(void **state)
{
    (void)state;
    struct sf_diskpurge *p = sf_diskpurge_new();
    add(p, SF_DISKPURGE_PREFIX, "http://o/img/", NULL, true, 100);
    assert_int_equal(check_url(p, 10, "http://o/img/a.png"), SF_DISKPURGE_INVALIDATED);
    assert_int_equal(check_url(p, 10, "http://o/img/"), SF_DISKPURGE_INVALIDATED);
    assert_int_equal(check_url(p, 10, "http://o/img"), SF_DISKPURGE_NONE);
    assert_int_equal(check_url(p, 10, "http://o/css/a"), SF_DISKPURGE_NONE);
    assert_int_equal(check_url(p, 110, "http://o/img/a.png"), SF_DISKPURGE_NONE);
    /* A hard URL rule after a soft prefix rule: removed. */
    add(p, SF_DISKPURGE_URL, "http://o/img/a.png", NULL, false, 120);
    assert_int_equal(check_url(p, 10, "http://o/img/a.png"), SF_DISKPURGE_REMOVED);
    sf_diskpurge_free(p);
}

struct fake_head {
    const char *field;
    const char *value;
    int calls;
};

/* The caller's reading of a head: here, one field named by the test. */
static const char *tag_values(void *ctx, const uint8_t *head, uint32_t head_len,
                              const char *tag_header)
{
    (void)head, (void)head_len;
    struct fake_head *h = ctx;
    h->calls++;
    return strcmp(tag_header, h->field) == 0 ? h->value : NULL;
}

static enum sf_diskpurge_hit check_tags(const struct sf_diskpurge *p, uint64_t pos,
                                        struct fake_head *h)
{
    struct sf_diskstore_match m = {
        .url = "http://o/x", .url_len = 10, .tag_values = tag_values, .ctx = h};
    return sf_diskpurge_check(p, pos, &m, (const uint8_t *)"", 0);
}

static void test_tag_rule(void **state)
{
    (void)state;
    struct sf_diskpurge *p = sf_diskpurge_new();
    add(p, SF_DISKPURGE_TAG, "blue", "Surrogate-Key", false, 100);
    struct fake_head h = {.field = "Surrogate-Key", .value = "red blue,green"};
    assert_int_equal(check_tags(p, 10, &h), SF_DISKPURGE_REMOVED);
    h.value = "red bluegreen";
    assert_int_equal(check_tags(p, 10, &h), SF_DISKPURGE_NONE);
    h.value = "blue";
    assert_int_equal(check_tags(p, 100, &h), SF_DISKPURGE_NONE);
    h.field = "X-Tags"; /* the rule's field is not there */
    assert_int_equal(check_tags(p, 10, &h), SF_DISKPURGE_NONE);
    /* No way to read the head: a tag rule selects nothing. */
    assert_int_equal(check_url(p, 10, "http://o/x"), SF_DISKPURGE_NONE);
    /* The head is not read for a record the rule could not select. */
    h.calls = 0;
    assert_int_equal(check_tags(p, 500, &h), SF_DISKPURGE_NONE);
    assert_int_equal(h.calls, 0);
    sf_diskpurge_free(p);
}

static void test_tags_have(void **state)
{
    (void)state;
    assert_true(sf_http_tags_have("a b c", "b"));
    assert_true(sf_http_tags_have("a,b", "b"));
    assert_true(sf_http_tags_have(" \tb ", "b"));
    assert_false(sf_http_tags_have("ab", "b"));
    assert_false(sf_http_tags_have("B", "b"));
    assert_false(sf_http_tags_have("", "b"));
}

static void test_pending_then_settled(void **state)
{
    (void)state;
    struct sf_diskpurge *p = sf_diskpurge_new();
    struct sf_diskpurge_rule r = {
        .pos = SF_DISKPURGE_PENDING, .kind = SF_DISKPURGE_URL, .text = "http://o/a"};
    sf_diskpurge_add(p, &r);
    /* Before its tombstone is written it hides every record, even one written later. */
    assert_int_equal(check_url(p, 1u << 30, "http://o/a"), SF_DISKPURGE_REMOVED);
    assert_int_equal(sf_diskpurge_count(p), 1);
    /* Neither retired nor walked for the checkpoint. */
    assert_int_equal(sf_diskpurge_retire(p, UINT64_MAX - 1), 0);
    size_t cur = 0;
    struct sf_diskpurge_rule out;
    assert_false(sf_diskpurge_next(p, &cur, &out));
    assert_int_equal(check_url(p, 7, "http://o/a"), SF_DISKPURGE_REMOVED);
    sf_diskpurge_settle(p, &r, 500);
    assert_int_equal(check_url(p, 400, "http://o/a"), SF_DISKPURGE_REMOVED);
    assert_int_equal(check_url(p, 600, "http://o/a"), SF_DISKPURGE_NONE);
    assert_int_equal(sf_diskpurge_count(p), 1);
    cur = 0;
    assert_true(sf_diskpurge_next(p, &cur, &out));
    assert_int_equal(out.pos, 500);
    assert_false(sf_diskpurge_next(p, &cur, &out));
    /* Two pending: the first settled, the second still hides everything. */
    sf_diskpurge_add(p, &r);
    sf_diskpurge_add(p, &r);
    sf_diskpurge_settle(p, &r, 700);
    assert_int_equal(check_url(p, 800, "http://o/a"), SF_DISKPURGE_REMOVED);
    sf_diskpurge_settle(p, &r, 900);
    assert_int_equal(check_url(p, 800, "http://o/a"), SF_DISKPURGE_REMOVED);
    assert_int_equal(check_url(p, 950, "http://o/a"), SF_DISKPURGE_NONE);
    sf_diskpurge_free(p);
}

static void test_retire_and_next(void **state)
{
    (void)state;
    struct sf_diskpurge *p = sf_diskpurge_new();
    add(p, SF_DISKPURGE_URL, "http://o/a", NULL, false, 100);
    add(p, SF_DISKPURGE_URL, "http://o/b", NULL, true, 300);
    add(p, SF_DISKPURGE_PREFIX, "http://o/c", NULL, false, 150);
    add(p, SF_DISKPURGE_TAG, "t", "Surrogate-Key", true, 400);
    assert_int_equal(sf_diskpurge_count(p), 4);
    size_t cur = 0, n = 0;
    struct sf_diskpurge_rule out;
    bool seen_tag = false;
    while (sf_diskpurge_next(p, &cur, &out)) {
        n++;
        if (out.kind == SF_DISKPURGE_TAG) {
            seen_tag = true;
            assert_string_equal(out.text, "t");
            assert_string_equal(out.tag_header, "Surrogate-Key");
            assert_true(out.soft);
            assert_int_equal(out.pos, 400);
        }
    }
    assert_int_equal(n, 4);
    assert_true(seen_tag);
    /* The tail passes 100 and 150: every record they hid is overwritten. */
    assert_int_equal(sf_diskpurge_retire(p, 200), 2);
    assert_int_equal(sf_diskpurge_count(p), 2);
    assert_int_equal(check_url(p, 250, "http://o/b"), SF_DISKPURGE_INVALIDATED);
    assert_int_equal(check_url(p, 250, "http://o/c/x"), SF_DISKPURGE_NONE);
    cur = 0, n = 0;
    while (sf_diskpurge_next(p, &cur, &out))
        n++;
    assert_int_equal(n, 2);
    assert_int_equal(sf_diskpurge_retire(p, 1000), 2);
    assert_int_equal(sf_diskpurge_count(p), 0);
    sf_diskpurge_free(p);
}

static void test_many_url_rules(void **state)
{
    (void)state;
    struct sf_diskpurge *p = sf_diskpurge_new();
    char url[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(url, sizeof url, "http://o/%d", i);
        add(p, SF_DISKPURGE_URL, url, NULL, false, (uint64_t)(i + 1) * 10);
    }
    assert_int_equal(sf_diskpurge_count(p), 10000);
    assert_int_equal(sf_diskpurge_retire(p, 50000), 4999); /* rules at 10 .. 49990 */
    for (int i = 0; i < 10000; i++) {
        snprintf(url, sizeof url, "http://o/%d", i);
        assert_int_equal(check_url(p, 0, url),
                         i >= 4999 ? SF_DISKPURGE_REMOVED : SF_DISKPURGE_NONE);
    }
    sf_diskpurge_free(p);
}

static void round_trip(const struct sf_diskpurge_rule *r)
{
    uint8_t key[256];
    char scratch[256];
    size_t n = sf_diskpurge_encode(r, key, sizeof key);
    assert_true(n > 0);
    assert_int_equal(sf_diskpurge_encode(r, key, n - 1), 0); /* does not fit */
    struct sf_diskpurge_rule out;
    assert_true(sf_diskpurge_decode(key, n, 4242, scratch, sizeof scratch, &out));
    assert_int_equal(out.pos, 4242);
    assert_int_equal(out.kind, r->kind);
    assert_int_equal(out.soft, r->soft);
    assert_string_equal(out.text, r->text);
    if (r->kind == SF_DISKPURGE_TAG)
        assert_string_equal(out.tag_header, r->tag_header);
    else
        assert_null(out.tag_header);
    /* Every shorter key, and a longer one, is refused: the lengths must add up. */
    for (size_t i = 0; i < n; i++)
        assert_false(sf_diskpurge_decode(key, i, 1, scratch, sizeof scratch, &out));
    key[n] = 'x';
    assert_false(sf_diskpurge_decode(key, n + 1, 1, scratch, sizeof scratch, &out));
    /* Scratch too small for the strings. */
    assert_false(sf_diskpurge_decode(key, n, 1, scratch, n - 12, &out));
}

static void test_encoding(void **state)
{
    (void)state;
    struct sf_diskpurge_rule url = {.kind = SF_DISKPURGE_URL, .text = "http://o/a?b"};
    struct sf_diskpurge_rule pre = {.kind = SF_DISKPURGE_PREFIX, .soft = true, .text = "http://"};
    struct sf_diskpurge_rule tag = {
        .kind = SF_DISKPURGE_TAG, .text = "blue", .tag_header = "Surrogate-Key"};
    struct sf_diskpurge_rule empty = {.kind = SF_DISKPURGE_PREFIX, .text = ""};
    round_trip(&url);
    round_trip(&pre);
    round_trip(&tag);
    round_trip(&empty);

    uint8_t key[64], bad[64];
    char scratch[64];
    struct sf_diskpurge_rule out;
    size_t n = sf_diskpurge_encode(&tag, key, sizeof key);
    assert_true(sf_diskpurge_decode(key, n, 1, scratch, sizeof scratch, &out));
    const struct {
        size_t at;
        uint8_t v;
    } flips[] = {
        {0, 2},    /* a version this one does not read */
        {1, 3},    /* no such kind */
        {2, 2},    /* soft is 0 or 1 */
        {3, 1},    /* reserved */
        {1, 0},    /* a URL rule with a tag field */
        {12, 0},   /* a NUL in the text */
        {16, 0},   /* a NUL in the field's name */
        {4, 5},    /* the text's length */
        {8, 0},    /* the field's length */
        {11, 0x80} /* a length past the key */
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(bad, key, n);
        bad[flips[i].at] = flips[i].v;
        assert_false(sf_diskpurge_decode(bad, n, 1, scratch, sizeof scratch, &out));
    }
    /* A tag rule without a field name. */
    n = sf_diskpurge_encode(&url, key, sizeof key);
    key[1] = SF_DISKPURGE_TAG;
    assert_false(sf_diskpurge_decode(key, n, 1, scratch, sizeof scratch, &out));
}

/* The bound's collapse: the settled rules of one softness go (the other's stay, and so do
 * pending ones, which settle still finds), and the counts follow; the caller's catch-all
 * (PREFIX "") then selects what they did. */
static void test_collapse(void **state)
{
    (void)state;
    struct sf_diskpurge *p = sf_diskpurge_new();
    char url[64];
    for (int i = 0; i < 100; i++) {
        snprintf(url, sizeof url, "http://o/%d", i);
        add(p, SF_DISKPURGE_URL, url, NULL, true, 1000 + (uint64_t)i);
    }
    add(p, SF_DISKPURGE_URL, "http://o/5", NULL, false, 500); /* hard: stays */
    add(p, SF_DISKPURGE_PREFIX, "http://o/p", NULL, true, 600);
    add(p, SF_DISKPURGE_URL, "http://o/q", NULL, true, SF_DISKPURGE_PENDING);
    assert_int_equal(sf_diskpurge_count_of(p, true), 102);
    assert_int_equal(sf_diskpurge_count_of(p, false), 1);
    assert_int_equal(sf_diskpurge_collapse(p, true), 101);
    assert_int_equal(sf_diskpurge_count_of(p, true), 1); /* the pending one */
    assert_int_equal(sf_diskpurge_count_of(p, false), 1);
    assert_int_equal(sf_diskpurge_count(p), 2);
    assert_int_equal(check_url(p, 10, "http://o/7"), SF_DISKPURGE_NONE);
    assert_int_equal(check_url(p, 10, "http://o/5"), SF_DISKPURGE_REMOVED);
    assert_int_equal(check_url(p, 10, "http://o/q"), SF_DISKPURGE_INVALIDATED);
    add(p, SF_DISKPURGE_PREFIX, "", NULL, true, 2000); /* the caller's catch-all */
    assert_int_equal(check_url(p, 1050, "http://o/7"), SF_DISKPURGE_INVALIDATED);
    assert_int_equal(check_url(p, 10, "http://x/"), SF_DISKPURGE_INVALIDATED);
    assert_int_equal(check_url(p, 2000, "http://x/"), SF_DISKPURGE_NONE);
    struct sf_diskpurge_rule q = {.kind = SF_DISKPURGE_URL, .soft = true, .text = "http://o/q"};
    sf_diskpurge_settle(p, &q, 1900);
    assert_int_equal(sf_diskpurge_count_of(p, true), 2);
    assert_int_equal(sf_diskpurge_retire(p, 3000), 3);
    assert_int_equal(sf_diskpurge_count_of(p, true), 0);
    assert_int_equal(sf_diskpurge_count_of(p, false), 0);
    sf_diskpurge_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_rule_hides_older_records_only),
        cmocka_unit_test(test_hard_wins_over_soft_and_newest_counts),
        cmocka_unit_test(test_prefix_rule),
        cmocka_unit_test(test_tag_rule),
        cmocka_unit_test(test_tags_have),
        cmocka_unit_test(test_pending_then_settled),
        cmocka_unit_test(test_retire_and_next),
        cmocka_unit_test(test_many_url_rules),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_collapse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
