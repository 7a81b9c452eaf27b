/* Unit tests for lib/accesslog.c: the combined and JSON lines (fields, escaping, bounds),
 * request ids, and the writer: every line written or counted as dropped, never both and
 * never neither, and SIGUSR1's reopen moving to a new file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/accesslog.h"
#include "../../lib/metrics.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct sf_access_entry sample(void)
{
    return (struct sf_access_entry){
        .client = "127.0.0.1",
        .time_s = 1796053541, /* 2026-11-30T15:45:41Z */
        .method = "GET",
        .target = "/a?b=1",
        .version = "HTTP/1.1",
        .status = 200,
        .body_bytes = 1234,
        .referer = NULL,
        .user_agent = "curl/7.88.1",
        .cache = "MISS",
        .request_id = "abc-123",
        .first_byte_us = 12345,
        .duration_us = 1015000,
        .upstream_status = 200,
        .upstream_ttfb_us = 1002000,
        .completed = true,
    };
}

static char *line_of(enum sf_access_format f, const struct sf_access_entry *e)
{
    static char buf[SF_ACCESS_LINE_MAX + 1];
    size_t n = sf_access_format_line(f, e, buf);
    assert_true(n > 0 && n <= SF_ACCESS_LINE_MAX);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));
    buf[n] = '\0';
    return buf;
}

static void test_combined_line(void **state)
{
    (void)state;
    struct sf_access_entry e = sample();
    assert_string_equal(line_of(SF_ACCESS_COMBINED, &e),
                        "127.0.0.1 - - [30/Nov/2026:15:45:41 +0000] \"GET /a?b=1 HTTP/1.1\" 200 "
                        "1234 \"-\" \"curl/7.88.1\" cache=MISS rid=abc-123 first_byte=0.012 "
                        "duration=1.015 upstream_status=200 upstream_ttfb=1.002 completed=1 "
                        "route=- upstream_tries=- upstream_addr=- tier=-\n");
    /* A follower: no upstream fields; a client that left before any response: 499. */
    e.cache = "COLLAPSED", e.upstream_status = 0, e.upstream_ttfb_us = -1;
    e.status = 0, e.first_byte_us = -1, e.completed = false;
    assert_string_equal(line_of(SF_ACCESS_COMBINED, &e),
                        "127.0.0.1 - - [30/Nov/2026:15:45:41 +0000] \"GET /a?b=1 HTTP/1.1\" 499 "
                        "1234 \"-\" \"curl/7.88.1\" cache=COLLAPSED rid=abc-123 first_byte=- "
                        "duration=1.015 upstream_status=- upstream_ttfb=- completed=0 "
                        "route=- upstream_tries=- upstream_addr=- tier=-\n");
    /* A request that took a route: its name, after the fields before it (issue 20). */
    e.route = "api";
    const char *l = line_of(SF_ACCESS_COMBINED, &e);
    assert_non_null(strstr(l, " completed=0 route=api upstream_tries=- upstream_addr=- tier=-\n"));
    /* A fetch on an upstream pool: how many servers it tried, and which (issue 21). */
    e.upstream_tries = 2, e.upstream_addr = "10.0.0.5:9000,b\"x";
    l = line_of(SF_ACCESS_COMBINED, &e);
    /* (Last: fields added later go after the ones parsers already read.) */
    assert_non_null(
        strstr(l, " route=api upstream_tries=2 upstream_addr=10.0.0.5:9000,b\\x22x tier=-\n"));
    l = line_of(SF_ACCESS_JSON, &e);
    assert_non_null(strstr(l, ",\"upstream_tries\":2,\"upstream_addr\":\"10.0.0.5:9000,b\\\"x\","));
    assert_null(strstr(l, "tier")); /* not a hit: no tier */
    /* A hit read from the disk tier (issue 22): its tier, last. */
    e.tier = "disk";
    assert_non_null(strstr(line_of(SF_ACCESS_COMBINED, &e),
                           " upstream_addr=10.0.0.5:9000,b\\x22x tier=disk\n"));
    assert_non_null(strstr(line_of(SF_ACCESS_JSON, &e), ",\"route\":\"api\",\"tier\":\"disk\"}"));
}

static void test_combined_escapes_what_a_client_sent(void **state)
{
    (void)state;
    struct sf_access_entry e = sample();
    e.user_agent = "evil\" \\ \x01\xff";
    e.referer = "a\"b";
    char *l = line_of(SF_ACCESS_COMBINED, &e);
    /* As nginx's combined: '"' is \x22 and '\\' is \x5C, so a field never holds a '"'. */
    assert_non_null(strstr(l, "\"a\\x22b\" \"evil\\x22 \\x5C \\x01\\xFF\" cache=MISS"));
    static const char *const rows[][2] = {
        {"\"", "\\x22"}, {"\\", "\\x5C"}, {"\x7f", "\\x7F"},          {"\t", "\\x09"},
        {"a b", "a b"},  {"'", "'"},      {"\x80\x9f", "\\x80\\x9F"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        e.user_agent = rows[i][0];
        char want[64];
        snprintf(want, sizeof want, " \"%s\" cache=", rows[i][1]);
        if (strstr(line_of(SF_ACCESS_COMBINED, &e), want) == NULL)
            fail_msg("User-Agent row %zu: no %s in %s", i, want, line_of(SF_ACCESS_COMBINED, &e));
    }
}

static void test_json_line_is_json(void **state)
{
    (void)state;
    struct sf_access_entry e = sample();
    e.user_agent = "ua \"quoted\" \\ \x01 \xc3\xa9";
    json_error_t err;
    json_t *j = json_loads(line_of(SF_ACCESS_JSON, &e), 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "time")), "2026-11-30T15:45:41Z");
    assert_string_equal(json_string_value(json_object_get(j, "cache")), "MISS");
    assert_string_equal(json_string_value(json_object_get(j, "request_id")), "abc-123");
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes")), 1234);
    assert_int_equal(json_integer_value(json_object_get(j, "upstream_status")), 200);
    assert_true(json_real_value(json_object_get(j, "first_byte")) == 0.012);
    assert_true(json_real_value(json_object_get(j, "upstream_ttfb")) == 1.002);
    assert_true(json_is_true(json_object_get(j, "completed")));
    assert_null(json_object_get(j, "referer"));             /* absent fields are left out */
    assert_true(json_is_null(json_object_get(j, "route"))); /* but a route that is none: null */
    assert_string_equal(json_string_value(json_object_get(j, "user_agent")),
                        "ua \"quoted\" \\ \x01 \xc3\x83\xc2\xa9"); /* bytes as \u00HH */
    json_decref(j);
    e.route = "static.v2";
    j = json_loads(line_of(SF_ACCESS_JSON, &e), 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "route")), "static.v2");
    json_decref(j);
}

static void test_long_strings_are_cut_not_the_line(void **state)
{
    (void)state;
    static char target[20000], ua[20000];
    memset(target, '"', sizeof target - 1);
    memset(ua, 'u', sizeof ua - 1);
    struct sf_access_entry e = sample();
    e.target = target, e.user_agent = ua, e.referer = ua;
    for (int f = 0; f < 2; f++) {
        char *l = line_of((enum sf_access_format)f, &e);
        assert_non_null(
            strstr(l, f ? "\"completed\":true,\"route\":null}" : "completed=1 route=-"));
        assert_non_null(strstr(l, f ? "\"request_id\":\"abc-123\"" : " rid=abc-123 "));
        assert_true(strlen(l) < 4096 + 2 * 1024 + 600);
        if (f == SF_ACCESS_JSON) {
            json_t *j = json_loads(l, 0, NULL);
            assert_non_null(j); /* cut between escapes: still JSON */
            json_decref(j);
        }
    }
}

static void test_request_ids(void **state)
{
    (void)state;
    char id[SF_REQUEST_ID_MAX], other[SF_REQUEST_ID_MAX];
    sf_access_request_id("0f8fad5b-d9cb-469f-a165-70867728950e", id);
    assert_string_equal(id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    const char *refused[] = {
        "",        "has space",
        "quote\"", "new\nline",
        NULL,      "0123456789012345678901234567890123456789012345678901234567890123x"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        sf_access_request_id(refused[i], id);
        assert_int_equal(strlen(id), 32);
        assert_int_equal(strspn(id, "0123456789abcdef"), 32);
    }
    sf_access_request_id(NULL, other);
    assert_string_not_equal(id, other);
}

/* Reads fd to its end; returns how many lines it held, each of which must be JSON. */
static void *count_lines(void *arg)
{
    int fd = *(int *)arg;
    FILE *f = fdopen(fd, "r");
    char *line = NULL;
    size_t cap = 0;
    uintptr_t n = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        json_decref(j);
        n++;
    }
    free(line);
    fclose(f);
    return (void *)n;
}

static void test_a_writer_behind_drops_and_counts_lines(void **state)
{
    (void)state;
    /* A pipe nobody reads yet: the writer blocks once it is full, the buffer fills, and
     * the rest is dropped, while sf_access_log_write itself never waits. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
    uint64_t lines0 = atomic_load(&sf_metrics.access_log_lines);
    uint64_t dropped0 = atomic_load(&sf_metrics.access_log_dropped);
    struct sf_access_log *log = sf_access_log_open(path, SF_ACCESS_JSON, 65536);
    assert_non_null(log);
    close(p[1]); /* the log has its own */
    struct sf_access_entry e = sample();
    const unsigned total = 3000;
    for (unsigned i = 0; i < total; i++)
        sf_access_log_write(log, &e);
    uint64_t dropped = atomic_load(&sf_metrics.access_log_dropped) - dropped0;
    assert_true(dropped > 0);
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, count_lines, &p[0]), 0);
    sf_access_log_close(log, 10000);
    void *read_lines;
    pthread_join(reader, &read_lines);
    uint64_t written = atomic_load(&sf_metrics.access_log_lines) - lines0;
    assert_int_equal((uintptr_t)read_lines, written);
    assert_int_equal(written + (atomic_load(&sf_metrics.access_log_dropped) - dropped0), total);
}

/* How many lines path holds. */
static size_t lines_in(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = 0;
    for (int c; (c = fgetc(f)) != EOF;)
        n += c == '\n';
    fclose(f);
    return n;
}

static void test_reopen_moves_to_a_new_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sfproxy-access-XXXXXX";
    close(mkstemp(path));
    char rotated[64];
    snprintf(rotated, sizeof rotated, "%s.1", path);
    struct sf_access_log *log = sf_access_log_open(path, SF_ACCESS_COMBINED, 1 << 20);
    assert_non_null(log);
    struct sf_access_entry e = sample();
    for (int i = 0; i < 5; i++)
        sf_access_log_write(log, &e);
    for (int i = 0; i < 500 && lines_in(path) < 5; i++)
        usleep(2000);
    assert_int_equal(rename(path, rotated), 0); /* logrotate's move */
    sf_access_log_reopen(log);
    for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
        usleep(2000);
    for (int i = 0; i < 3; i++)
        sf_access_log_write(log, &e);
    sf_access_log_close(log, 5000);
    assert_int_equal(lines_in(rotated), 5);
    assert_int_equal(lines_in(path), 3);
    unlink(path);
    unlink(rotated);
}

/* A log that was off (access_log.path null) and is turned on by a reload writes every
 * line from then on to the new file, those taken with the move too. */
static void test_a_reload_turns_the_log_on(void **state)
{
    (void)state;
    char path[] = "/tmp/sfproxy-access-XXXXXX";
    close(mkstemp(path));
    struct sf_access_log *log = sf_access_log_open(NULL, SF_ACCESS_COMBINED, 1 << 20);
    assert_non_null(log);
    struct sf_access_entry e = sample();
    sf_access_log_write(log, &e); /* off: not taken */
    assert_false(sf_access_log_on(log));
    assert_true(sf_access_log_reconfigure(log, path, true, SF_ACCESS_JSON));
    assert_true(sf_access_log_on(log));
    for (int i = 0; i < 3; i++)
        sf_access_log_write(log, &e);
    sf_access_log_close(log, 5000);
    assert_int_equal(lines_in(path), 3);
    unlink(path);
}

/* A reload that moves the log to another file in another format: the lines queued before
 * it are the old file's, in the old format; those after, the new file's, in the new one,
 * however long the writer takes to look (it moved everything it took, after-lines too, to
 * the old file; a line formatted as the format changed went in the old format to the new
 * file). */
static void test_a_reload_moves_the_log_at_its_moment(void **state)
{
    (void)state;
    char first[] = "/tmp/sfproxy-access-XXXXXX", second[] = "/tmp/sfproxy-access-XXXXXX";
    close(mkstemp(first));
    close(mkstemp(second));
    struct sf_access_log *log = sf_access_log_open(first, SF_ACCESS_COMBINED, 1 << 20);
    assert_non_null(log);
    struct sf_access_entry e = sample();
    for (int i = 0; i < 2; i++)
        sf_access_log_write(log, &e);
    assert_true(sf_access_log_reconfigure(log, second, true, SF_ACCESS_JSON));
    for (int i = 0; i < 3; i++)
        sf_access_log_write(log, &e);
    sf_access_log_close(log, 5000);
    assert_int_equal(lines_in(first), 2);
    assert_int_equal(lines_in(second), 3);
    char text[4096];
    FILE *f = fopen(first, "r");
    assert_non_null(fgets(text, sizeof text, f));
    fclose(f);
    assert_true(text[0] != '{'); /* combined */
    f = fopen(second, "r");
    assert_non_null(fgets(text, sizeof text, f));
    fclose(f);
    assert_true(text[0] == '{'); /* JSON */
    unlink(first);
    unlink(second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combined_line),
        cmocka_unit_test(test_combined_escapes_what_a_client_sent),
        cmocka_unit_test(test_json_line_is_json),
        cmocka_unit_test(test_long_strings_are_cut_not_the_line),
        cmocka_unit_test(test_request_ids),
        cmocka_unit_test(test_a_writer_behind_drops_and_counts_lines),
        cmocka_unit_test(test_reopen_moves_to_a_new_file),
        cmocka_unit_test(test_a_reload_turns_the_log_on),
        cmocka_unit_test(test_a_reload_moves_the_log_at_its_moment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
