/* Unit tests for lib/conn.c, driven through the interposed recv() as libmicrohttpd drives
 * it, with a socketpair for each client connection: the end of a client that shut its
 * sending side is held back for a time, however often it is asked for; the head watchdog
 * cuts a connection whose head is overdue and judges a reused descriptor by its new
 * connection's clock; and what sf_conn_write_interim reports for each way a write goes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/config.h"
#include "../../lib/conn.h"
#include "../../lib/metrics.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

/* The registry with the default config but for timeouts.request_head. */
static struct sf_conns *registry(uint64_t head_timeout_ms)
{
    struct sf_config cfg;
    sf_config_defaults(&cfg);
    cfg.request_head_timeout_ms = head_timeout_ms;
    char err[256];
    struct sf_conns *cs = sf_conns_new(&cfg, err, sizeof err);
    assert_non_null(cs);
    sf_config_clear(&cfg);
    return cs;
}

struct pair {
    int ours, theirs; /* sfproxy's end of the connection, and the client's */
};

static void connect_pair(struct pair *p)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    p->ours = fds[0];
    p->theirs = fds[1];
}

static void close_pair(struct pair *p)
{
    close(p->ours);
    close(p->theirs);
}

/* Whether the client's end sees its connection ended (shut down), waiting up to 5 s. */
static bool sees_end(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char c;
    return poll(&pfd, 1, 5000) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* The default config holds an end back for timeouts.client_idle + connect + first_byte. */
#define HOLD_MS (60000 + 2000 + 30000)

static void test_a_held_end_is_bounded_by_time_not_by_calls(void **state)
{
    (void)state;
    struct sf_conns *cs = registry(10000);
    struct pair p;
    connect_pair(&p);
    struct sf_conn *c = sf_conns_open(cs, p.ours, false, false);
    /* Two requests, pipelined, and the client shuts its sending side (RFC 9112 §9.6). */
    static const char two[] = REQUEST REQUEST;
    assert_int_equal(send(p.theirs, two, sizeof two - 1, 0), (ssize_t)sizeof two - 1);
    shutdown(p.theirs, SHUT_WR);
    char buf[256];
    assert_int_equal(recv(p.ours, buf, sizeof buf, 0), (ssize_t)sizeof two - 1);
    assert_int_equal(sf_conn_next_request(c), 0);
    assert_int_equal(sf_conn_next_request(c), 1);
    /* libmicrohttpd may ask any number of times while the answers are due. */
    int held = 0;
    for (int i = 0; i < 200000; i++)
        held += recv(p.ours, buf, sizeof buf, 0) == -1 && errno == EAGAIN;
    assert_int_equal(held, 200000);
    sf_clock_advance(HOLD_MS - 12000);
    assert_int_equal(recv(p.ours, buf, sizeof buf, 0), -1);
    /* The first answer is sent: the second request's answer may hold the end afresh. */
    sf_conn_request_done(c, true);
    assert_int_equal(recv(p.ours, buf, sizeof buf, 0), -1);
    sf_clock_advance(HOLD_MS - 12000);
    assert_int_equal(recv(p.ours, buf, sizeof buf, 0), -1);
    assert_int_equal(errno, EAGAIN);
    /* Past the bound the end is reported, though the answer is still due. */
    sf_clock_advance(13000);
    assert_int_equal(recv(p.ours, buf, sizeof buf, 0), 0);
    /* The access handler was called (a resume: the request parks again for another
     * fetch): its next wait is bounded afresh. */
    sf_conn_progress(c);
    assert_int_equal(recv(p.ours, buf, sizeof buf, 0), -1);
    assert_int_equal(errno, EAGAIN);
    sf_clock_advance(HOLD_MS - 12000);
    assert_int_equal(recv(p.ours, buf, sizeof buf, 0), -1);
    sf_clock_advance(13000);
    assert_int_equal(recv(p.ours, buf, sizeof buf, 0), 0);
    sf_conn_request_done(c, true);
    assert_int_equal(recv(p.ours, buf, sizeof buf, 0), 0);
    sf_conns_close(cs, c);
    close_pair(&p);
    sf_conns_free(cs);
}

static void test_the_watchdog_cuts_overdue_heads_by_their_own_clock(void **state)
{
    (void)state;
    struct sf_conns *cs = registry(10000);
    uint64_t timeouts = atomic_load(&sf_metrics.request_head_timeouts);
    struct pair slow, reused, done;
    connect_pair(&slow);
    connect_pair(&reused);
    connect_pair(&done);
    struct sf_conn *s = sf_conns_open(cs, slow.ours, false, false);
    struct sf_conn *d = sf_conns_open(cs, done.ours, false, false);
    char buf[256];
    assert_int_equal(send(done.theirs, REQUEST, strlen(REQUEST), 0), (ssize_t)strlen(REQUEST));
    assert_int_equal(recv(done.ours, buf, sizeof buf, 0), (ssize_t)strlen(REQUEST));
    /* A connection on reused's descriptor closes, and a new one registers on it later. */
    struct sf_conn *old = sf_conns_open(cs, reused.ours, false, false);
    sf_clock_advance(6000);
    sf_conns_close(cs, old);
    struct sf_conn *r = sf_conns_open(cs, reused.ours, false, false);
    assert_int_equal(send(slow.theirs, "GET / HT", 8, 0), 8); /* a head, trickled */
    assert_int_equal(recv(slow.ours, buf, sizeof buf, 0), 8);
    sf_clock_advance(6000);
    /* slow's head is 12 s old; the new connection on reused's descriptor has waited 6 s
     * for its first head (its predecessor would be 12 s); done's head came whole. */
    assert_true(sees_end(slow.theirs));
    assert_int_equal(atomic_load(&sf_metrics.request_head_timeouts), timeouts + 1);
    char c;
    assert_int_equal(recv(reused.theirs, &c, 1, MSG_DONTWAIT), -1); /* the scan that cut */
    assert_int_equal(recv(done.theirs, &c, 1, MSG_DONTWAIT), -1);   /* slow saw both */
    sf_clock_advance(6000);
    assert_true(sees_end(reused.theirs)); /* its own 12 s */
    assert_int_equal(atomic_load(&sf_metrics.request_head_timeouts), timeouts + 2);
    sf_conns_close(cs, s);
    sf_conns_close(cs, r);
    sf_conns_close(cs, d);
    close_pair(&slow);
    close_pair(&reused);
    close_pair(&done);
    sf_conns_free(cs);
}

static void test_interim_writes_say_what_reached_the_socket(void **state)
{
    (void)state;
    struct sf_conns *cs = registry(10000);
    static const char hundred[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct pair plain, tls, full, gone;
    connect_pair(&plain);
    connect_pair(&tls);
    connect_pair(&full);
    connect_pair(&gone);
    struct sf_conn *p = sf_conns_open(cs, plain.ours, false, false);
    struct sf_conn *t = sf_conns_open(cs, tls.ours, false, true);
    char buf[64] = {0};
    assert_int_equal(sf_conn_write_interim(plain.ours, hundred, strlen(hundred)),
                     SF_CONN_WROTE_ALL);
    assert_int_equal(recv(plain.theirs, buf, sizeof buf - 1, MSG_DONTWAIT), strlen(hundred));
    assert_string_equal(buf, hundred);
    /* Never raw bytes into a TLS stream. */
    assert_int_equal(sf_conn_write_interim(tls.ours, hundred, strlen(hundred)), SF_CONN_WROTE_NONE);
    assert_int_equal(recv(tls.theirs, buf, sizeof buf, MSG_DONTWAIT), -1);
    /* A socket that takes part of a large write, then nothing at all. */
    int small = 4096;
    assert_int_equal(setsockopt(full.ours, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    static char big[1 << 20];
    assert_int_equal(sf_conn_write_interim(full.ours, big, sizeof big), SF_CONN_WROTE_PART);
    while (send(full.ours, "x", 1, MSG_DONTWAIT) == 1)
        ;
    assert_int_equal(sf_conn_write_interim(full.ours, hundred, strlen(hundred)),
                     SF_CONN_WROTE_NONE);
    /* A client that went: no SIGPIPE, and it says so. */
    close(gone.theirs);
    assert_int_equal(sf_conn_write_interim(gone.ours, hundred, strlen(hundred)),
                     SF_CONN_WROTE_FAILED);
    close(gone.ours);
    sf_conns_close(cs, p);
    sf_conns_close(cs, t);
    close_pair(&plain);
    close_pair(&tls);
    close_pair(&full);
    sf_conns_free(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_held_end_is_bounded_by_time_not_by_calls),
        cmocka_unit_test(test_the_watchdog_cuts_overdue_heads_by_their_own_clock),
        cmocka_unit_test(test_interim_writes_say_what_reached_the_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
