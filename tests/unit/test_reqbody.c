/* Unit tests for lib/reqbody.c: the pipe between an uploading client and its transfer.
 * A body reaches the origin whole, or its transfer aborts: never a body with a hole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/park.h"
#include "../../lib/reqbody.h"

#include <string.h>

static int suspends;

static void count_suspend(struct sf_waiter *w)
{
    (void)w;
    suspends++;
}

static void noop_wake(struct sf_waiter *w)
{
    (void)w;
}

/* Offers data as the front does: what is not taken is offered again after a resume. */
static enum sf_reqbody_write offer(struct sf_reqbody *b, struct sf_waiter *w, const char *data,
                                   size_t len, size_t *taken, bool *parked)
{
    bool reader_waiting;
    return sf_reqbody_write(b, data, len, taken, w, count_suspend, parked, &reader_waiting);
}

static void test_whole_body_then_eof(void **state)
{
    (void)state;
    struct sf_reqbody *b = sf_reqbody_new(16, 10);
    struct sf_waiter w = {.wake = noop_wake, .fd = -1};
    size_t taken;
    bool parked;
    assert_int_equal(offer(b, &w, "0123456789", 10, &taken, &parked), SF_REQBODY_TOOK);
    assert_int_equal(taken, 10);
    assert_false(parked);
    char out[32];
    size_t n;
    assert_int_equal(sf_reqbody_read(b, out, sizeof out, &n), SF_REQBODY_DATA);
    assert_int_equal(n, 10);
    assert_memory_equal(out, "0123456789", 10);
    assert_int_equal(sf_reqbody_read(b, out, sizeof out, &n), SF_REQBODY_WAIT);
    sf_reqbody_finish(b);
    assert_int_equal(sf_reqbody_read(b, out, sizeof out, &n), SF_REQBODY_EOF);
    sf_reqbody_unref(b);
}

static void test_closed_pipe_never_reads_as_the_end(void **state)
{
    (void)state;
    struct sf_reqbody *b = sf_reqbody_new(16, -1);
    struct sf_waiter w = {.wake = noop_wake, .fd = -1};
    size_t taken;
    bool parked;
    assert_int_equal(offer(b, &w, "abcdef", 6, &taken, &parked), SF_REQBODY_TOOK);
    sf_reqbody_close(b); /* the transfer ended, or the client broke the framing */
    assert_int_equal(offer(b, &w, "ghi", 3, &taken, &parked), SF_REQBODY_CLOSED);
    sf_reqbody_finish(b);
    char out[32];
    size_t n;
    assert_int_equal(sf_reqbody_read(b, out, sizeof out, &n), SF_REQBODY_ABORTED);
    sf_reqbody_unref(b);
}

/* Last: it closes the process-wide parking gate. */
static void test_refused_park_aborts_instead_of_leaving_a_hole(void **state)
{
    (void)state;
    struct sf_reqbody *b = sf_reqbody_new(8, -1);
    struct sf_waiter w = {.wake = noop_wake, .fd = -1};
    size_t taken;
    bool parked;
    assert_int_equal(offer(b, &w, "123456", 6, &taken, &parked), SF_REQBODY_TOOK);
    sf_park_close(); /* shutting down: nothing may park */
    /* Only 2 of these fit; the writer cannot park for the rest. */
    assert_int_equal(offer(b, &w, "789abc", 6, &taken, &parked), SF_REQBODY_CLOSED);
    assert_false(parked);
    assert_int_equal(suspends, 0);
    /* The front drops the rest of the piece; the client may go on and finish. */
    assert_int_equal(offer(b, &w, "later", 5, &taken, &parked), SF_REQBODY_CLOSED);
    sf_reqbody_finish(b);
    /* The reader must never see an end: that would send "12345678" + nothing of "9abc". */
    char out[32];
    size_t n, total = 0;
    enum sf_reqbody_read st;
    while ((st = sf_reqbody_read(b, out, sizeof out, &n)) == SF_REQBODY_DATA)
        total += n;
    assert_int_equal(st, SF_REQBODY_ABORTED);
    assert_true(total <= 8);
    sf_reqbody_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_body_then_eof),
        cmocka_unit_test(test_closed_pipe_never_reads_as_the_end),
        cmocka_unit_test(test_refused_park_aborts_instead_of_leaving_a_hole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
