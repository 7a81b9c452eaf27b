/* An origin's response head read line by line (lib/resphead.c), one row per rule: the
 * lines as curl hands them over, and how the head ends: final with its status and fields,
 * or refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/resphead.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct row {
    const char *rule;
    const char *lines[8];       /* each with its line end */
    enum sf_resphead_step last; /* what the last line gives */
    int status;                 /* of the final head */
    const char *field, *value;  /* a field of the final head, or NULL */
};

/* One row per rule, laid out by hand. */
/* clang-format off */
static const struct row rows[] = {
    {"RFC 9112 §2.1 a final head", {"HTTP/1.1 200 OK\r\n", "A: 1\r\n", "\r\n"},
     SF_RESPHEAD_FINAL, 200, "A", "1"},
    {"§2.2 a bare LF ends a line too", {"HTTP/1.1 200 OK\n", "A: 1\n", "\n"},
     SF_RESPHEAD_FINAL, 200, "A", "1"},
    {"§5.1 whitespace around the value is not part of it",
     {"HTTP/1.1 200 OK\r\n", "A: \t x y \t\r\n", "\r\n"}, SF_RESPHEAD_FINAL, 200, "A", "x y"},
    {"§5.2 obs-fold: the continuation joins with one space",
     {"HTTP/1.1 200 OK\r\n", "A: x\r\n", " \t y\r\n", "\r\n"}, SF_RESPHEAD_FINAL, 200, "A",
     "x y"},
    {"RFC 9110 §15.2 an interim head is dropped; the final one starts over",
     {"HTTP/1.1 103 Early Hints\r\n", "Link: </a>\r\n", "\r\n", "HTTP/1.1 204 No\r\n",
      "B: 2\r\n", "\r\n"},
     SF_RESPHEAD_FINAL, 204, "B", "2"},
    {"§5.2 a fold with no field before it", {"HTTP/1.1 200 OK\r\n", " x\r\n"}, SF_RESPHEAD_BAD,
     200, NULL, NULL},
    {"§5.1 whitespace before the colon", {"HTTP/1.1 200 OK\r\n", "A : 1\r\n"}, SF_RESPHEAD_BAD,
     200, NULL, NULL},
    {"§2.2 a bare CR inside a line", {"HTTP/1.1 200 OK\r\n", "A: 1\r2\r\n"}, SF_RESPHEAD_BAD,
     200, NULL, NULL},
    {"§4 a status outside 100-599", {"HTTP/1.1 600 Odd\r\n"}, SF_RESPHEAD_BAD, 0, NULL, NULL},
    {"§6.3 Content-Length with Transfer-Encoding",
     {"HTTP/1.1 200 OK\r\n", "Content-Length: 3\r\n", "Transfer-Encoding: chunked\r\n",
      "\r\n"},
     SF_RESPHEAD_BAD, 200, NULL, NULL},
    {"§6.3 two different Content-Lengths",
     {"HTTP/1.1 200 OK\r\n", "Content-Length: 3\r\n", "Content-Length: 4\r\n", "\r\n"},
     SF_RESPHEAD_BAD, 200, NULL, NULL},
    {"a field line before any status line", {"A: 1\r\n"}, SF_RESPHEAD_BAD, 0, NULL, NULL},
};
/* clang-format on */

static enum sf_resphead_step feed(struct sf_resphead *h, const char *const *lines, size_t max,
                                  const char **why)
{
    enum sf_resphead_step step = SF_RESPHEAD_MORE;
    for (size_t i = 0;
         i < max && lines[i] != NULL && (step == SF_RESPHEAD_MORE || step == SF_RESPHEAD_INTERIM);
         i++)
        step = sf_resphead_line(h, lines[i], strlen(lines[i]), why);
    return step;
}

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        struct sf_resphead h = {0};
        const char *why;
        print_message("%s\n", r->rule);
        assert_int_equal(feed(&h, r->lines, 8, &why), r->last);
        if (r->last == SF_RESPHEAD_BAD)
            assert_non_null(why);
        else
            assert_int_equal(h.status, r->status);
        if (r->field != NULL)
            assert_string_equal(sf_hdrs_get(&h.hdrs, r->field), r->value);
        sf_resphead_clear(&h);
    }
}

/* The limits: 100 fields pass, the 101st is refused; so is a head past 16 KiB. */
static void test_limits(void **state)
{
    (void)state;
    struct sf_resphead h = {0};
    const char *why;
    char line[64];
    assert_int_equal(sf_resphead_line(&h, "HTTP/1.1 200 OK\r\n", 17, &why), SF_RESPHEAD_MORE);
    for (int i = 0; i < SF_RESPHEAD_FIELDS_MAX; i++) {
        int n = snprintf(line, sizeof line, "F%d: v\r\n", i);
        assert_int_equal(sf_resphead_line(&h, line, (size_t)n, &why), SF_RESPHEAD_MORE);
    }
    assert_int_equal(sf_resphead_line(&h, "\r\n", 2, &why), SF_RESPHEAD_FINAL);
    assert_int_equal(sf_resphead_line(&h, "HTTP/1.1 200 OK\r\n", 17, &why), SF_RESPHEAD_MORE);
    for (int i = 0; i < SF_RESPHEAD_FIELDS_MAX; i++) {
        int n = snprintf(line, sizeof line, "F%d: v\r\n", i);
        sf_resphead_line(&h, line, (size_t)n, &why);
    }
    assert_int_equal(sf_resphead_line(&h, "X: 1\r\n", 6, &why), SF_RESPHEAD_BAD);
    sf_resphead_clear(&h);

    struct sf_resphead big = {0};
    char *value = malloc(SF_RESPHEAD_BYTES_MAX + 16);
    memset(value, 'a', SF_RESPHEAD_BYTES_MAX + 16);
    memcpy(value, "Big: ", 5);
    memcpy(value + SF_RESPHEAD_BYTES_MAX + 14, "\r\n", 2);
    assert_int_equal(sf_resphead_line(&big, "HTTP/1.1 200 OK\r\n", 17, &why), SF_RESPHEAD_MORE);
    assert_int_equal(sf_resphead_line(&big, value, SF_RESPHEAD_BYTES_MAX + 16, &why),
                     SF_RESPHEAD_BAD);
    free(value);
    sf_resphead_clear(&big);
}

/* A head's fields come packed, in one block (issue 23: not one a field); trailer fields
 * after the final head, which curl ends with no blank line, are there at once. */
static void test_one_block_and_trailers(void **state)
{
    (void)state;
    struct sf_resphead h = {0};
    const char *why;
    const char *lines[] = {"HTTP/1.1 103 Early Hints\r\n",
                           "Link: </a>\r\n",
                           "\r\n",
                           "HTTP/1.1 200 OK\r\n",
                           "A: 1\r\n",
                           "B: x\r\n",
                           "  y \r\n",
                           "Transfer-Encoding: chunked\r\n",
                           "\r\n"};
    enum sf_resphead_step step = SF_RESPHEAD_MORE;
    for (size_t i = 0; i < 3; i++)
        step = sf_resphead_line(&h, lines[i], strlen(lines[i]), &why);
    assert_int_equal(step, SF_RESPHEAD_INTERIM);
    assert_true(sf_hdrs_is_packed(&h.hdrs));
    assert_string_equal(sf_hdrs_get(&h.hdrs, "Link"), "</a>");
    for (size_t i = 3; i < sizeof lines / sizeof lines[0]; i++)
        step = sf_resphead_line(&h, lines[i], strlen(lines[i]), &why);
    assert_int_equal(step, SF_RESPHEAD_FINAL);
    assert_true(sf_hdrs_is_packed(&h.hdrs));
    assert_int_equal(h.hdrs.n, 3);
    assert_null(sf_hdrs_get(&h.hdrs, "Link"));
    assert_string_equal(h.hdrs.v[1].name, "B");
    assert_string_equal(h.hdrs.v[1].value, "x y");
    assert_int_equal(sf_hdrs_bytes(&h.hdrs), 3 * sizeof *h.hdrs.v + strlen("A1B") + strlen("x y") +
                                                 strlen("Transfer-Encoding") + strlen("chunked") +
                                                 6);
    /* The caller takes the head's fields over; trailers follow. */
    struct sf_hdrs taken = h.hdrs;
    memset(&h.hdrs, 0, sizeof h.hdrs);
    assert_int_equal(sf_resphead_line(&h, "T: 1\r\n", 6, &why), SF_RESPHEAD_MORE);
    assert_string_equal(sf_hdrs_get(&h.hdrs, "T"), "1");
    assert_int_equal(sf_resphead_line(&h, " 2\r\n", 4, &why), SF_RESPHEAD_MORE);
    assert_string_equal(sf_hdrs_get(&h.hdrs, "T"), "1 2");
    assert_int_equal(h.hdrs.n, 1);
    sf_hdrs_clear(&taken);
    sf_resphead_clear(&h);
    assert_null(h.text);

    /* A head past the inline room moves to the heap whole, a fold across the move too. */
    char line[64];
    assert_int_equal(sf_resphead_line(&h, "HTTP/1.1 200 OK\r\n", 17, &why), SF_RESPHEAD_MORE);
    for (int i = 0; i < 40; i++) {
        int n = snprintf(line, sizeof line, "Field-%02d: value-%02d\r\n", i, i);
        assert_int_equal(sf_resphead_line(&h, line, (size_t)n, &why), SF_RESPHEAD_MORE);
        if (i == 15)
            assert_int_equal(sf_resphead_line(&h, " more\r\n", 7, &why), SF_RESPHEAD_MORE);
    }
    assert_non_null(h.text);
    assert_int_equal(sf_resphead_line(&h, "\r\n", 2, &why), SF_RESPHEAD_FINAL);
    assert_int_equal(h.hdrs.n, 40);
    assert_string_equal(sf_hdrs_get(&h.hdrs, "Field-00"), "value-00");
    assert_string_equal(sf_hdrs_get(&h.hdrs, "Field-15"), "value-15 more");
    assert_string_equal(sf_hdrs_get(&h.hdrs, "Field-39"), "value-39");
    sf_resphead_clear(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_one_block_and_trailers),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
