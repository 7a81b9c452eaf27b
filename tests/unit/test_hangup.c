/* Unit tests for lib/hangup.c: parked clients that hang up are dropped, whether parked on
 * an object or on their upload's pipe; one that only shuts its sending side stays parked
 * (and, when nothing was sent it yet, is written a 100 Continue it must skip), and is
 * dropped when it then goes for good. Also the 103s an object writes to its parked
 * clients: after the object lock, and still watched after. And when a watch is armed:
 * SF_HANGUP_ARM_MS after its waiter parks, never for one woken before, with the fetcher
 * woken for it when it sleeps unaware. Driven with a socketpair for the client's
 * connection, as the fetcher drives it. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/hangup.h"
#include "../../lib/reqbody.h"
#include "../../lib/singleflight.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Every send of this binary comes here first (an executable's definition wins): it counts
 * the writes made while the lock of locked_obj is held by the writing thread. */
static struct sf_obj *locked_obj;
static int sends, sends_under_lock;

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    static ssize_t (*real)(int, const void *, size_t, int);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "send");
    sends++;
    if (locked_obj != NULL && sf_mutex_held(&locked_obj->lock))
        sends_under_lock++;
    return real(fd, buf, len, flags);
}

static int woken;

static void count_wake(struct sf_waiter *w)
{
    (void)w;
    woken++;
}

struct client {
    int ours, theirs; /* sfproxy's end of the connection, and the client's */
    struct sf_waiter w;
};

/* A connection: sfproxy's end and the client's. */
static void connect_pair(struct client *cl)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    cl->ours = fds[0];
    cl->theirs = fds[1];
}

/* A client of watcher h, connected. */
static void client_of(struct sf_hangup *h, struct client *cl, bool probe)
{
    connect_pair(cl);
    memset(&cl->w, 0, sizeof cl->w);
    cl->w.wake = count_wake;
    cl->w.hangup = h;
    cl->w.fd = cl->ours;
    cl->w.probe = probe;
}

static void park(struct sf_hangup *h, struct sf_obj *o, struct client *cl, bool probe)
{
    client_of(h, cl, probe);
    sf_obj_lock(o);
    assert_true(sf_obj_park(o, &cl->w));
    sf_obj_unlock(o);
}

/* The fetcher's step before it sleeps, once every watch queued so far is due. */
static void arm_due(struct sf_hangup *h)
{
    assert_int_equal(sf_hangup_before_sleep(h, sf_now_ms() + SF_HANGUP_ARM_MS), -1);
    sf_hangup_after_sleep(h);
}

/* Whether fd is in h's epoll set (armed once, it stays). */
static bool in_set(struct sf_hangup *h, int fd)
{
    struct epoll_event ev = {.events = EPOLLONESHOT};
    if (epoll_ctl(sf_hangup_fd(h), EPOLL_CTL_MOD, fd, &ev) == 0)
        return true;
    assert_int_equal(errno, ENOENT);
    return false;
}

static void test_hangup_drops_a_parked_client(void **state)
{
    (void)state;
    struct sf_hangup *h = sf_hangup_new();
    struct sf_obj *o = sf_obj_new("k");
    struct client a, b;
    park(h, o, &a, false);
    park(h, o, &b, false);
    arm_due(h);
    woken = 0;
    assert_int_equal(sf_hangup_dispatch(h), 0); /* nothing happened */
    close(a.theirs);                            /* a's client goes */
    assert_int_equal(sf_hangup_dispatch(h), 1);
    assert_int_equal(woken, 1);
    assert_true(a.w.gone);
    assert_false(b.w.gone);
    assert_true(b.w.parked);
    sf_obj_lock(o);
    sf_waiters_wake(sf_obj_finish(o, SF_FAIL_CANCELLED));
    sf_obj_unlock(o);
    close(a.ours), close(b.ours), close(b.theirs);
    sf_obj_unref(o);
    sf_hangup_free(h);
}

static void test_half_close_is_not_a_hangup(void **state)
{
    (void)state;
    struct sf_hangup *h = sf_hangup_new();
    struct sf_obj *o = sf_obj_new("k");
    struct client a;
    park(h, o, &a, true); /* nothing sent for its request yet: it may be written a 100 */
    arm_due(h);
    woken = 0;
    shutdown(a.theirs, SHUT_WR); /* the client is done sending, and still reads */
    assert_int_equal(sf_hangup_dispatch(h), 0);
    assert_int_equal(woken, 0);
    assert_true(a.w.parked && a.w.half_closed && !a.w.gone);
    char buf[64] = {0};
    ssize_t n = recv(a.theirs, buf, sizeof buf - 1, MSG_DONTWAIT);
    assert_int_equal(n, 25);
    assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    assert_int_equal(sf_hangup_dispatch(h), 0); /* the half-close is not seen twice */
    close(a.theirs);                            /* now it goes for good */
    assert_int_equal(sf_hangup_dispatch(h), 1);
    assert_true(a.w.gone);
    assert_int_equal(woken, 1);
    close(a.ours);
    sf_obj_lock(o);
    sf_waiters_wake(sf_obj_finish(o, SF_FAIL_CANCELLED));
    sf_obj_unlock(o);
    sf_obj_unref(o);
    sf_hangup_free(h);
}

static void test_a_woken_waiter_is_not_dropped_later(void **state)
{
    (void)state;
    struct sf_hangup *h = sf_hangup_new();
    struct sf_obj *o = sf_obj_new("k");
    struct client a;
    park(h, o, &a, false);
    arm_due(h);
    woken = 0;
    sf_obj_lock(o);
    sf_waiters_wake(sf_obj_take_waiters(o)); /* woken for data: its watch is retired */
    sf_obj_unlock(o);
    assert_int_equal(woken, 1);
    close(a.theirs);
    assert_int_equal(sf_hangup_dispatch(h), 0); /* the late event names a retired slot */
    assert_int_equal(woken, 1);
    assert_false(a.w.gone);
    close(a.ours);
    sf_obj_lock(o);
    sf_obj_finish(o, SF_FAIL_CANCELLED);
    sf_obj_unlock(o);
    sf_obj_unref(o);
    sf_hangup_free(h);
}

static void suspend_nothing(struct sf_waiter *w)
{
    (void)w;
}

/* An uploader parked on its full pipe whose client goes: it is woken, gone, and the pipe
 * closes, so the transfer aborts instead of sending a body without its end. */
static void test_a_parked_uploader_that_hangs_up_is_dropped(void **state)
{
    (void)state;
    struct sf_hangup *h = sf_hangup_new();
    struct sf_reqbody *b = sf_reqbody_new(8, 100);
    struct client a;
    client_of(h, &a, false);
    size_t taken;
    bool parked, reader_waiting;
    assert_int_equal(sf_reqbody_write(b, "0123456789abcdef", 16, &taken, &a.w, suspend_nothing,
                                      &parked, &reader_waiting),
                     SF_REQBODY_TOOK);
    assert_true(parked);
    assert_int_equal(taken, 8);
    arm_due(h);
    woken = 0;
    assert_int_equal(sf_hangup_dispatch(h), 0);
    close(a.theirs);
    assert_int_equal(sf_hangup_dispatch(h), 1);
    assert_int_equal(woken, 1);
    assert_true(a.w.gone);
    char buf[16];
    size_t n;
    assert_int_equal(sf_reqbody_read(b, buf, sizeof buf, &n), SF_REQBODY_ABORTED);
    close(a.ours);
    sf_reqbody_unref(b);
    sf_hangup_free(h);
}

static void test_103s_are_written_after_the_object_lock(void **state)
{
    (void)state;
    static const char hints[] = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n";
    struct sf_hangup *h = sf_hangup_new();
    struct sf_obj *o = sf_obj_new("k");
    struct client a, b, c;
    client_of(h, &a, true);
    client_of(h, &b, true);
    client_of(h, &c, true);
    a.w.hints = b.w.hints = true; /* c will not share the response: no hints for it */
    sf_obj_lock(o);
    assert_true(sf_obj_park(o, &a.w) && sf_obj_park(o, &b.w) && sf_obj_park(o, &c.w));
    sf_obj_unlock(o);
    close(b.theirs); /* b's client is gone: the write fails */
    locked_obj = o;
    sends = sends_under_lock = woken = 0;
    sf_waiters_wake(sf_obj_send_interim(o, hints, strlen(hints)));
    assert_int_equal(sends, 2);
    assert_int_equal(sends_under_lock, 0);
    locked_obj = NULL;
    assert_int_equal(woken, 1);
    assert_true(b.w.gone);
    assert_true(a.w.parked && !a.w.gone && c.w.parked);
    char buf[128] = {0};
    assert_int_equal(recv(a.theirs, buf, sizeof buf - 1, MSG_DONTWAIT), strlen(hints));
    assert_string_equal(buf, hints);
    assert_int_equal(recv(c.theirs, buf, sizeof buf, MSG_DONTWAIT), -1);
    /* Parked again, a is watched again: its hangup is seen. */
    arm_due(h);
    close(a.theirs);
    assert_int_equal(sf_hangup_dispatch(h), 1);
    assert_true(a.w.gone);
    assert_int_equal(woken, 2);
    sf_obj_lock(o);
    sf_waiters_wake(sf_obj_finish(o, SF_FAIL_CANCELLED));
    sf_obj_unlock(o);
    close(a.ours), close(b.ours), close(c.ours), close(c.theirs);
    sf_obj_unref(o);
    sf_hangup_free(h);
}

/* A client that hangs up before its watch is armed is seen when it is: not before. */
static void test_a_watch_is_armed_when_due(void **state)
{
    (void)state;
    struct sf_hangup *h = sf_hangup_new();
    struct sf_obj *o = sf_obj_new("k");
    struct client a;
    park(h, o, &a, false);
    uint64_t now = sf_now_ms();
    close(a.theirs); /* at once */
    long next = sf_hangup_before_sleep(h, now);
    sf_hangup_after_sleep(h);
    assert_true(next > 0 && next <= SF_HANGUP_ARM_MS);
    assert_false(in_set(h, a.ours));
    woken = 0;
    assert_int_equal(sf_hangup_dispatch(h), 0); /* not watched yet */
    assert_true(a.w.parked);
    assert_int_equal(sf_hangup_before_sleep(h, now + SF_HANGUP_ARM_MS), -1);
    sf_hangup_after_sleep(h);
    assert_int_equal(sf_hangup_dispatch(h), 1);
    assert_true(a.w.gone);
    assert_int_equal(woken, 1);
    close(a.ours);
    sf_obj_lock(o);
    sf_obj_finish(o, SF_FAIL_CANCELLED);
    sf_obj_unlock(o);
    sf_obj_unref(o);
    sf_hangup_free(h);
}

/* A waiter woken before its watch was due costs no system call, and no sleep bound. */
static void test_a_waiter_woken_first_is_never_armed(void **state)
{
    (void)state;
    struct sf_hangup *h = sf_hangup_new();
    struct sf_obj *o = sf_obj_new("k");
    struct client a, b;
    park(h, o, &a, false);
    park(h, o, &b, false);
    sf_obj_lock(o);
    sf_waiters_wake(sf_obj_take_waiters(o));
    sf_obj_unlock(o);
    assert_int_equal(sf_hangup_before_sleep(h, sf_now_ms()), -1); /* both forgotten */
    sf_hangup_after_sleep(h);
    assert_int_equal(sf_hangup_before_sleep(h, sf_now_ms() + SF_HANGUP_ARM_MS), -1);
    sf_hangup_after_sleep(h);
    assert_false(in_set(h, a.ours));
    assert_false(in_set(h, b.ours));
    close(a.ours), close(a.theirs), close(b.ours), close(b.theirs);
    sf_obj_lock(o);
    sf_obj_finish(o, SF_FAIL_CANCELLED);
    sf_obj_unlock(o);
    sf_obj_unref(o);
    sf_hangup_free(h);
}

static int wakes;

static void count_wakes(void *arg)
{
    assert_ptr_equal(arg, &wakes);
    wakes++;
}

/* A watch queued while the fetcher sleeps with none due wakes it, once; one queued while
 * it is awake, or behind another, does not. */
static void test_the_fetcher_is_woken_for_a_watch(void **state)
{
    (void)state;
    struct sf_hangup *h = sf_hangup_new();
    struct sf_obj *o = sf_obj_new("k");
    struct client a, b, c;
    sf_hangup_set_waker(h, count_wakes, &wakes);
    wakes = 0;
    park(h, o, &a, false); /* awake: it looks at the queue before it sleeps */
    assert_int_equal(wakes, 0);
    arm_due(h);
    assert_int_equal(sf_hangup_before_sleep(h, sf_now_ms()), -1); /* asleep, nothing due */
    park(h, o, &b, false);
    assert_int_equal(wakes, 1);
    park(h, o, &c, false); /* due after b: the sleep that b's due ends covers it */
    assert_int_equal(wakes, 1);
    sf_hangup_after_sleep(h);
    long next = sf_hangup_before_sleep(h, sf_now_ms());
    assert_true(next >= 0 && next <= SF_HANGUP_ARM_MS);
    sf_hangup_after_sleep(h);
    arm_due(h);
    assert_true(in_set(h, a.ours) && in_set(h, b.ours) && in_set(h, c.ours));
    sf_hangup_set_waker(h, NULL, NULL);
    sf_obj_lock(o);
    sf_waiters_wake(sf_obj_finish(o, SF_FAIL_CANCELLED));
    sf_obj_unlock(o);
    close(a.ours), close(a.theirs), close(b.ours), close(b.theirs);
    close(c.ours), close(c.theirs);
    sf_obj_unref(o);
    sf_hangup_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hangup_drops_a_parked_client),
        cmocka_unit_test(test_half_close_is_not_a_hangup),
        cmocka_unit_test(test_a_woken_waiter_is_not_dropped_later),
        cmocka_unit_test(test_a_parked_uploader_that_hangs_up_is_dropped),
        cmocka_unit_test(test_103s_are_written_after_the_object_lock),
        cmocka_unit_test(test_a_watch_is_armed_when_due),
        cmocka_unit_test(test_a_waiter_woken_first_is_never_armed),
        cmocka_unit_test(test_the_fetcher_is_woken_for_a_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
