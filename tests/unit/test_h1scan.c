/* Unit tests for lib/h1scan.c: one row per rule of RFC 9112 the scanner enforces. Each
 * stream is fed whole and one byte at a time; both must give the same verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/h1scan.h"

#include <stdio.h>
#include <string.h>

struct row {
    const char *what;
    const char *stream;
    size_t len;
    unsigned status0;  /* verdict for request 0 */
    uint64_t heads_ok; /* complete, well-formed heads */
    bool body_bad;     /* a head was fine, its body is not */
};
/* The length from the literal itself, so a row may hold a NUL byte. */
#define R(what, stream, status0, heads_ok, body_bad)                                               \
    {                                                                                              \
        what, stream, sizeof(stream) - 1, status0, heads_ok, body_bad                              \
    }

#define H "Host: a\r\n"
/* One row per rule, laid out by hand. */
/* clang-format off */
static const struct row rows[] = {
    R("plain GET", "GET / HTTP/1.1\r\n" H "\r\n", 0, 1, false),
    R("two pipelined", "GET /a HTTP/1.1\r\n" H "\r\nGET /b HTTP/1.1\r\n" H "\r\n", 0, 2, false),
    R("empty line first (§2.2)", "\r\nGET / HTTP/1.1\r\n" H "\r\n", 0, 1, false),
    R("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 0, 1, false),
    R("HTTP/1.1 without Host (§3.2)", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400, 0, false),
    R("two Host fields", "GET / HTTP/1.1\r\n" H H "\r\n", 400, 0, false),
    R("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, 0, false),
    R("Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, 0, false),
    R("Host with port and IPv6", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 0, 1, false),
    R("HTTP/2.0 (505)", "GET / HTTP/2.0\r\n" H "\r\n", 505, 0, false),
    R("lower-case version", "GET / http/1.1\r\n" H "\r\n", 400, 0, false),
    R("no version", "GET /\r\n" H "\r\n", 400, 0, false),
    R("two spaces after method", "GET  / HTTP/1.1\r\n" H "\r\n", 400, 0, false),
    R("tab in target", "GET /a\tb HTTP/1.1\r\n" H "\r\n", 400, 0, false),
    R("control in target", "GET /a\x01 HTTP/1.1\r\n" H "\r\n", 400, 0, false),
    R("non-ASCII in target", "GET /\xc3\xa9 HTTP/1.1\r\n" H "\r\n", 400, 0, false),
    R("fragment in target", "GET /a#b HTTP/1.1\r\n" H "\r\n", 400, 0, false),
    R("bare LF ends a line (§2.2)", "GET / HTTP/1.1\n" H "\r\n", 400, 0, false),
    R("bare CR in a value", "GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", 400, 0, false),
    R("NUL in a value", "GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n", 400, 0, false),
    R("DEL in a value", "GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", 400, 0, false),
    R("obs-text in a value is fine", "GET / HTTP/1.1\r\n" H "X: caf\xc3\xa9\r\n\r\n", 0, 1, false),
    R("space before colon (§5.1)", "GET / HTTP/1.1\r\n" H "X : y\r\n\r\n", 400, 0, false),
    R("tab before colon", "GET / HTTP/1.1\r\n" H "Transfer-Encoding\t: chunked\r\n\r\n", 400, 0, false),
    R("obs-fold (§5.2)", "GET / HTTP/1.1\r\nHo: x\r\n st\r\n" H "\r\n", 400, 0, false),
    R("name not a token", "GET / HTTP/1.1\r\n" H "X(y): z\r\n\r\n", 400, 0, false),
    R("line without colon", "GET / HTTP/1.1\r\n" H "Xy\r\n\r\n", 400, 0, false),
    R("empty value is fine", "GET / HTTP/1.1\r\n" H "X:\r\n\r\n", 0, 1, false),
    /* Found by fuzz_h1scan: a name longer than the buffer kept for framing names. */
    R("a very long name", "GET / HTTP/1.1\r\n" H "X-A-Field-Name-Longer-Than-Forty-Bytes-In-All: v"
      "\r\nX-Another-Field-Name-Longer-Than-Forty-Bytes: w\r\n\r\n", 0, 1, false),
    R("Content-Length body", "POST / HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\nabc", 0, 1, false),
    R("body then next head", "POST / HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n" H "\r\n", 0, 2, false),
    R("CL with OWS", "POST / HTTP/1.1\r\n" H "Content-Length:  3 \r\n\r\nabc", 0, 1, false),
    R("CL and TE (§6.3)", "POST / HTTP/1.1\r\n" H "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, false),
    R("TE and CL", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, 0, false),
    R("two CL, equal", "POST / HTTP/1.1\r\n" H "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400, 0, false),
    R("two CL, differing", "POST / HTTP/1.1\r\n" H "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, 0, false),
    R("CL as a list", "POST / HTTP/1.1\r\n" H "Content-Length: 3, 3\r\n\r\n", 400, 0, false),
    R("CL with a sign", "POST / HTTP/1.1\r\n" H "Content-Length: +3\r\n\r\n", 400, 0, false),
    R("CL in hex", "POST / HTTP/1.1\r\n" H "Content-Length: 0x3\r\n\r\n", 400, 0, false),
    R("CL empty", "POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", 400, 0, false),
    R("CL too long", "POST / HTTP/1.1\r\n" H "Content-Length: 1234567890123456789\r\n\r\n", 400, 0, false),
    R("TE gzip (501)", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", 501, 0, false),
    R("TE list", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", 400, 0, false),
    R("TE Chunked (odd case)", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: Chunked\r\n\r\n", 501, 0, false),
    R("TE two lines", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, false),
    R("TE in HTTP/1.0 (§6.1)", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, false),
    R("TE with a quote", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: \"chunked\"\r\n\r\n", 400, 0, false),
    R("chunked body", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 1, false),
    R("chunked, ext and trailer", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", 0, 2, false),
    R("chunk too long for its size", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", 0, 1, true),
    R("chunk size with 0x", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 0, 1, true),
    R("chunk size bare LF", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 0, 1, true),
    R("chunk size too large", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", 0, 1, true),
    R("trailer folded", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0\r\nT: v\r\n w\r\n\r\n", 0, 1, true),
    R("smuggle after body", "POST / HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n", 0, 1, false),
};
/* clang-format on */

static void check_row(const struct row *r, bool bytewise)
{
    struct sf_h1scan s;
    sf_h1scan_init(&s);
    size_t n = r->len;
    if (bytewise)
        for (size_t i = 0; i < n; i++)
            sf_h1scan_feed(&s, r->stream + i, 1);
    else
        sf_h1scan_feed(&s, r->stream, n);
    const char *why = NULL;
    unsigned got = sf_h1scan_verdict(&s, 0, &why);
    if (got != r->status0 || s.heads_ok != r->heads_ok || (s.bad && s.bad_in_body) != r->body_bad)
        fail_msg("%s (%s): expected status %u, %llu heads, body_bad %d; got %u (%s), %llu, %d",
                 r->what, bytewise ? "bytewise" : "whole", r->status0,
                 (unsigned long long)r->heads_ok, r->body_bad, got, why ? why : "-",
                 (unsigned long long)s.heads_ok, s.bad && s.bad_in_body);
}

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        check_row(&rows[i], false);
        check_row(&rows[i], true);
    }
}

static void test_feed_stops_at_the_fault(void **state)
{
    (void)state;
    struct sf_h1scan s;
    sf_h1scan_init(&s);
    const char *in = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabcX\r\n";
    size_t n = sf_h1scan_feed(&s, in, strlen(in));
    assert_true(s.bad);
    assert_int_equal(n, strlen(in) - 3); /* "X" is where the chunk should have ended */
    assert_int_equal(sf_h1scan_feed(&s, "more", 4), 0);
}

static void test_in_head_and_later_requests(void **state)
{
    (void)state;
    struct sf_h1scan s;
    sf_h1scan_init(&s);
    assert_false(s.in_head);
    sf_h1scan_feed(&s, "GET / HT", 8);
    assert_true(s.in_head);
    sf_h1scan_feed(&s, "TP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nX : y\r\n\r\n", 45);
    assert_false(s.in_head);
    const char *why;
    assert_int_equal(sf_h1scan_verdict(&s, 0, &why), 0);
    assert_int_equal(sf_h1scan_verdict(&s, 1, &why), 400);
    assert_non_null(strstr(why, "colon"));
    /* A request the scanner never saw complete is refused, not waved through. */
    assert_int_equal(sf_h1scan_verdict(&s, 2, &why), 400);
}

static void test_head_too_large(void **state)
{
    (void)state;
    struct sf_h1scan s;
    sf_h1scan_init(&s);
    char line[1024];
    memset(line, 'a', sizeof line);
    sf_h1scan_feed(&s, "GET / HTTP/1.1\r\nX: ", 19);
    for (size_t i = 0; i < SF_H1_HEAD_BUDGET / sizeof line + 1; i++)
        sf_h1scan_feed(&s, line, sizeof line);
    const char *why;
    assert_int_equal(sf_h1scan_verdict(&s, 0, &why), 431);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_feed_stops_at_the_fault),
        cmocka_unit_test(test_in_head_and_later_requests),
        cmocka_unit_test(test_head_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
