/* conn: see conn.h.
 *
 * The registry is an array of connection pointers indexed by socket descriptor, sized to
 * the open-files limit, so recv finds a connection with one load and no lock. A
 * connection is registered in libmicrohttpd's "connection started" notification (before
 * its first read) and unregistered in "connection closed" (before its socket is closed),
 * both on the worker that owns it; recv for it runs on that worker too, so it never
 * meets a freed connection.
 *
 * The watchdog, on its own thread, reads what it watches without the registry lock: a
 * connection's head and bad-since times live beside its pointer, in an array by
 * descriptor that lives as long as the registry (struct conn_clock), so a scan never
 * touches a connection's memory, and accepts and closes never wait for a scan. Only to
 * cut a connection does it take the lock, and looks again under it: unregistering takes
 * the same lock before the socket is closed, and registering resets the descriptor's
 * clock under it, so it never shuts down a descriptor that was closed and reused, nor
 * judges a new connection by its predecessor's times.
 *
 * A bad request head is answered here, with its status and a sentence saying why, when
 * every earlier request of the connection is done: libmicrohttpd then gets a reset
 * instead of the head, so its own parser never reads what ours refused (it garbles its
 * answer to some of them). A bad head behind a request still being answered (pipelined)
 * is answered here too, once that request is done; libmicrohttpd is given its bytes only
 * up to the fault, so it never holds the whole of a head it could choke on (one over the
 * budget can overflow its pool: mhdpool.h). A chunked
 * body that breaks its framing shuts the socket down at once and hides the rest from
 * libmicrohttpd, so nothing decoded past the fault is used. A connection that stays bad
 * for a second (libmicrohttpd waiting for more of a head it reads differently) is shut
 * down by the watchdog.
 *
 * A client may shut its sending side once its request is sent and still read the answer
 * (RFC 9112 §9.6). libmicrohttpd closes a connection the moment a read returns the end,
 * even with the response still to come (a resumed connection is polled for reading), so
 * while a whole request is being answered, recv reports the end as "nothing yet"; it
 * reports it for real once the answer is done, or once it has been held back for longer
 * than the connection's timeouts allow (hold_eof).
 *
 * On the HTTPS listener recv carries TLS records and passes them through; GnuTLS's
 * gnutls_record_recv, which libmicrohttpd calls for the plaintext, is interposed the same
 * way and feeds the same scanner, and a refused head is answered with gnutls_record_send.
 * There the end of the stream is not held back. */
#include "conn.h"

#include "accesslog.h"
#include "config.h"
#include "h1scan.h"
#include "http.h"
#include "interpose.h"
#include "log.h"
#include "metrics.h"
#include "netacl.h"
#include "route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define SF_CONN_MAGIC 0x5fc0aa11u
#define BAD_GRACE_MS 1000

/* What the watchdog watches of a connection: one per descriptor, beside the registry's
 * pointer, so that it is read without the registry lock. Reset under the lock when a
 * connection registers on the descriptor. */
struct conn_clock {
    atomic_uint_fast64_t head_since_ms; /* (W) 0: no head pending */
    atomic_uint_fast64_t bad_since_ms;  /* (W) 0: not bad */
    atomic_bool cut;                    /* (R) the watchdog shut it down */
};

struct sf_conn {
    unsigned magic;
    int fd;                             /* (C) */
    bool counted;                       /* (C) went through sf_conns_admit */
    bool tls;                           /* (C) its bytes are TLS records: scanned decrypted */
    struct gnutls_session_int *session; /* (W) with tls: its GnuTLS session, once read from */
    bool poisoned;                      /* (W) the body broke its framing: reads fail */
    uint64_t close_after;               /* (W) with tls: bytes were dropped (0: none); end it
                                         * once this many requests are done */
    uint64_t requests;                  /* (W) request lines libmicrohttpd has seen */
    uint64_t done;                      /* (W) requests libmicrohttpd has finished answering */
    uint64_t eof_since_ms;              /* (W) when the end was first held back for the
                                         * request being answered (0: it was not) */
    struct sf_h1scan scan;              /* (W) */
    struct conn_clock *clock;           /* (C) its descriptor's in the registry, or own */
    struct conn_clock own;              /* the clock of one not registered (fd over cap) */
};
/* (C) constant, (W) the owning worker thread only, (R) written under the registry lock. */

struct sf_conns {
    struct sf_mutex lock;
    _Atomic(struct sf_conn *) *by_fd; /* (C) array; entries written under lock */
    struct conn_clock *clocks;        /* (C) array, by descriptor as by_fd */
    size_t cap;                       /* (C) */
    atomic_size_t high;               /* 1 + the highest fd registered (written under lock) */
    atomic_uint limit;                /* connection_limit: a reload may change it */
    atomic_uint count;                /* counted connections open or admitted */
    _Atomic uint64_t head_timeout_ms; /* timeouts.request_head: a reload may change it */
    _Atomic uint64_t eof_hold_ms;     /* hold_eof's bound: a reload may change it */
    struct sf_access_log *access_log; /* (C) refused heads of counted connections */
    pthread_t watchdog;
    pthread_cond_t stop_cv;
    bool stopping; /* (L) */
};

static _Atomic(struct sf_conns *) registry;
/* An admitted connection this worker has not yet seen opened (see sf_conns_admit). */
static _Thread_local bool admitted_unopened;

/* The connection registered on fd in cs (NULL: none). */
static struct sf_conn *conn_on(struct sf_conns *cs, int fd)
{
    if (cs == NULL || fd < 0 || (size_t)fd >= cs->cap)
        return NULL;
    return atomic_load_explicit(&cs->by_fd[fd], memory_order_acquire);
}

enum sf_conn_wrote sf_conn_write_interim(int fd, const char *buf, size_t len)
{
    /* The callers know a TLS connection already (sf_conn_is_tls); this is the one place
     * where it cannot be forgotten. fd's connection is open (the caller's contract), so
     * the one registered on it is alive. */
    struct sf_conn *c = conn_on(atomic_load_explicit(&registry, memory_order_acquire), fd);
    if (c != NULL && c->tls)
        return SF_CONN_WROTE_NONE;
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == (ssize_t)len)
        return SF_CONN_WROTE_ALL;
    if (n >= 0)
        return SF_CONN_WROTE_PART;
    return errno == EAGAIN || errno == EWOULDBLOCK ? SF_CONN_WROTE_NONE : SF_CONN_WROTE_FAILED;
}

static const char *status_text(unsigned status)
{
    switch (status) {
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Bad Request";
    }
}

/* The access log line of a head refused before libmicrohttpd parsed it: no method or
 * target (nothing of it is trusted), its status and the reason sent. */
static void log_refused(struct sf_access_log *log, const struct sf_conn *c, const char *rid,
                        bool sent)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char client[INET6_ADDRSTRLEN] = "unknown";
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0)
        sf_net_addr_text((struct sockaddr *)&ss, client, sizeof client);
    uint64_t since = atomic_load_explicit(&c->clock->head_since_ms, memory_order_relaxed);
    uint64_t now = sf_now_ms();
    int64_t took_us = since != 0 && now > since ? (int64_t)(now - since) * 1000 : 0;
    struct sf_access_entry e = {
        .client = client,
        .time_s = sf_wall_s(),
        .status = c->scan.bad_status,
        .body_bytes = sent ? strlen(c->scan.bad_reason) : 0,
        .request_id = rid,
        .first_byte_us = took_us,
        .duration_us = took_us,
        .upstream_ttfb_us = -1,
        .completed = sent,
    };
    sf_access_log_write(log, &e);
}

/* Answers a refused head on c's socket and ends the connection. Nothing else is being
 * written to it: every earlier response is done and libmicrohttpd is reading. What the
 * client sent beyond the head is read and dropped first, so that closing does not turn
 * into a reset that could destroy the answer before the client reads it. */
static void answer_bad_head(struct sf_conn *c)
{
    const struct sf_h1scan *s = &c->scan;
    char date[32], resp[640], rid[SF_REQUEST_ID_MAX];
    sf_access_request_id(NULL, rid); /* the head is not trusted for its X-Request-Id */
    sf_http_date_format(sf_wall_s(), date, sizeof date);
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %u %s\r\nDate: %s\r\nConnection: close\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\nVia: 1.1 sfproxy\r\n"
                     "X-Request-Id: %s\r\nContent-Length: %zu\r\n\r\n%s",
                     s->bad_status, status_text(s->bad_status), date, rid, strlen(s->bad_reason),
                     s->bad_reason);
    bool sent = n > 0 && (size_t)n < sizeof resp &&
                (c->tls ? sf_interpose_tls_send(c->session, resp, (size_t)n) == n
                        : sf_conn_write_interim(c->fd, resp, (size_t)n) == SF_CONN_WROTE_ALL);
    struct sf_conns *cs = atomic_load(&registry);
    if (c->counted && cs != NULL && cs->access_log != NULL)
        log_refused(cs->access_log, c, rid, sent);
    char sink[4096];
    for (int i = 0; i < 16 && sf_interpose_recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
        ;
    shutdown(c->fd, SHUT_WR);
    SF_COUNT(bad_requests);
}

/* Feeds what c's client sent to its scanner; returns what libmicrohttpd may see of it. */
static ssize_t scan_received(struct sf_conn *c, const char *buf, ssize_t n)
{
    /* After bytes were dropped, nothing more may join what was kept: read only once every
     * whole request kept is answered, this is the partial one, and the connection ends. */
    if (c->poisoned || c->close_after != 0) {
        errno = ECONNRESET;
        return -1;
    }
    struct sf_h1scan *s = &c->scan;
    size_t kept = (size_t)n;
    size_t ok = c->tls ? sf_h1scan_feed_capped(s, buf, (size_t)n, &kept)
                       : sf_h1scan_feed(s, buf, (size_t)n);
    if (kept < (size_t)n && !s->bad) {
        /* More was pipelined over TLS than the pool holds beside an answer (its record
         * could not be read in part): the rest is dropped, and the connection ends once
         * what was kept is answered; the client sends the rest again (RFC 9112 §9.3.2). */
        c->close_after = s->msg;
        n = (ssize_t)kept;
    }
    /* The clock only when a head starts (the common read is one whole head: no store). */
    uint64_t since = atomic_load_explicit(&c->clock->head_since_ms, memory_order_relaxed);
    if (s->in_head && since == 0)
        atomic_store_explicit(&c->clock->head_since_ms, sf_now_ms(), memory_order_relaxed);
    else if (!s->in_head && since != 0)
        atomic_store_explicit(&c->clock->head_since_ms, 0, memory_order_relaxed);
    if (!s->bad)
        return n;
    uint64_t now = sf_now_ms();
    if (!s->bad_in_body && c->done < s->bad_msg) {
        /* Pipelined behind a response still to be sent: sf_conn_request_done answers. */
        if (ok > 0)
            return (ssize_t)ok;
        errno = EAGAIN;
        return -1;
    }
    if (atomic_load_explicit(&c->clock->bad_since_ms, memory_order_relaxed) == 0)
        atomic_store_explicit(&c->clock->bad_since_ms, now, memory_order_relaxed);
    if (!s->bad_in_body) {
        answer_bad_head(c);
        c->poisoned = true;
        errno = ECONNRESET;
        return -1;
    }
    /* A body that broke its framing: libmicrohttpd sees nothing past the fault, and the
     * connection ends; the front aborts the upstream request. */
    c->poisoned = true;
    shutdown(c->fd, SHUT_RDWR);
    SF_COUNT(bad_requests);
    if (ok > 0)
        return (ssize_t)ok;
    errno = ECONNRESET;
    return -1;
}

/* The client shut its sending side (recv returned 0). Whether to hide it for now: a whole
 * request is being answered. libmicrohttpd asks once each time it resumes a connection
 * parked before its response; should it ever ask in a loop, the end is reported anyway
 * once it has been held back for cs->eof_hold_ms (see eof_hold_ms) with no call of the
 * access handler in between (sf_conn_progress: a request that parks several times in a
 * row, a variant then a pass, is bounded wait by wait). */
static bool hold_eof(struct sf_conns *cs, struct sf_conn *c)
{
    if (c->requests <= c->done || !sf_h1scan_between(&c->scan))
        return false;
    uint64_t now = sf_now_ms();
    if (c->eof_since_ms == 0)
        c->eof_since_ms = now;
    return now - c->eof_since_ms < atomic_load_explicit(&cs->eof_hold_ms, memory_order_relaxed);
}

/* libmicrohttpd's reads (interpose.h): a registered plain connection's bytes go through its
 * scanner. */
static ssize_t conn_recv(int fd, void *buf, size_t len, int flags)
{
    struct sf_conns *cs = atomic_load_explicit(&registry, memory_order_acquire);
    struct sf_conn *c = (flags & MSG_PEEK) ? NULL : conn_on(cs, fd);
    /* No more than the pool can hold beside the answer (mhdpool.h). Over TLS the records
     * are read whole, and libmicrohttpd reads on only when it got all it asked for. */
    if (c != NULL && !c->tls && len > sf_h1scan_read_max(&c->scan))
        len = sf_h1scan_read_max(&c->scan);
    ssize_t n = sf_interpose_recv(fd, buf, len, flags);
    if (n < 0 || c == NULL)
        return n;
    if (c->tls)
        return n; /* TLS records: their plaintext is scanned in conn_tls_recv */
    if (n == 0 && hold_eof(cs, c)) {
        errno = EAGAIN;
        return -1;
    }
    return n > 0 ? scan_received(c, buf, n) : 0;
}

/* libmicrohttpd's TLS listener reads its plaintext here: the same checks as on a plain
 * connection. A client that shuts its sending side is not held back here: over TLS that
 * is the end of the connection. */
static ssize_t conn_tls_recv(struct gnutls_session_int *session, void *data, size_t size)
{
    ssize_t n = sf_interpose_tls_recv(session, data, size);
    if (n <= 0)
        return n;
    struct sf_conns *cs = atomic_load_explicit(&registry, memory_order_acquire);
    struct sf_conn *c = conn_on(cs, sf_interpose_tls_fd(session));
    if (c == NULL || !c->tls)
        return n;
    c->session = session;
    ssize_t ok = scan_received(c, data, n);
    return ok >= 0 ? ok : SF_TLS_E_PULL_ERROR;
}

static const struct sf_interpose_hooks hooks = {conn_recv, conn_tls_recv};

bool sf_conns_tls_checked(char *errbuf, size_t errlen)
{
    return sf_interpose_tls_ok(errbuf, errlen);
}

bool sf_conn_is_tls(const struct sf_conn *c)
{
    return c != NULL && c->tls;
}

/* How long ago t was at now (0 when t is 0: never, or later than now: it was set after
 * now was read). */
static uint64_t age_ms(uint64_t t, uint64_t now)
{
    return t != 0 && now > t ? now - t : 0;
}

/* Whether the connection whose clock k is must be cut at now: its head is overdue (*slow),
 * or it has been bad for the grace. */
static bool overdue(struct conn_clock *k, uint64_t now, uint64_t head_timeout_ms, bool *slow)
{
    uint64_t head = atomic_load_explicit(&k->head_since_ms, memory_order_relaxed);
    uint64_t bad = atomic_load_explicit(&k->bad_since_ms, memory_order_relaxed);
    *slow = head != 0 && age_ms(head, now) >= head_timeout_ms;
    return *slow || (bad != 0 && age_ms(bad, now) >= BAD_GRACE_MS);
}

/* Cuts the connection on fd if it is overdue, looking again under the registry lock: it
 * may have closed, and another connection registered on the descriptor (with a fresh
 * clock), since the scan saw it. Runs on: the watchdog thread. */
static void cut_if_overdue(struct sf_conns *cs, size_t fd)
{
    sf_mutex_lock(&cs->lock);
    struct sf_conn *c = atomic_load_explicit(&cs->by_fd[fd], memory_order_relaxed);
    bool slow = false;
    if (c != NULL && !atomic_load(&c->clock->cut) &&
        overdue(c->clock, sf_now_ms(), atomic_load(&cs->head_timeout_ms), &slow)) {
        atomic_store(&c->clock->cut, true);
        shutdown(c->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
        if (slow)
            SF_COUNT(request_head_timeouts);
    }
    sf_mutex_unlock(&cs->lock);
}

/* One look at every registered descriptor, without the registry lock (accepts and closes
 * go on meanwhile): only an overdue one is looked at again under it. Runs on: the
 * watchdog thread. */
static void scan(struct sf_conns *cs)
{
    uint64_t now = sf_now_ms();
    uint64_t head_timeout_ms = atomic_load(&cs->head_timeout_ms);
    size_t high = atomic_load_explicit(&cs->high, memory_order_acquire);
    for (size_t fd = 0; fd < high; fd++) {
        struct conn_clock *k = &cs->clocks[fd];
        bool slow;
        if (atomic_load_explicit(&cs->by_fd[fd], memory_order_relaxed) != NULL &&
            !atomic_load_explicit(&k->cut, memory_order_relaxed) &&
            overdue(k, now, head_timeout_ms, &slow))
            cut_if_overdue(cs, fd);
    }
}

static void *watchdog_main(void *arg)
{
    struct sf_conns *cs = arg;
    sf_mutex_lock(&cs->lock);
    while (!cs->stopping) {
        sf_mutex_unlock(&cs->lock);
        scan(cs);
        uint64_t timeout_ms = atomic_load(&cs->head_timeout_ms);
        uint64_t tick_ms = timeout_ms / 4 < 250 ? timeout_ms / 4 : 250;
        if (tick_ms < 10)
            tick_ms = 10;
        sf_mutex_lock(&cs->lock);
        if (!cs->stopping)
            sf_cond_wait_ms(&cs->stop_cv, &cs->lock, tick_ms);
    }
    sf_mutex_unlock(&cs->lock);
    return NULL;
}

struct sf_conns *sf_conns_new(const struct sf_config *cfg, char *errbuf, size_t errlen)
{
    if (!sf_interpose_recv_ok(errbuf, errlen))
        return NULL;
    struct rlimit rl;
    struct sf_conns *cs = sf_xcalloc(1, sizeof *cs);
    /* Room for every descriptor the hard limit allows, so that a reload raising
     * connection_limit (and the soft limit with it) needs no bigger table; pages never
     * touched cost no memory. */
    rlim_t most = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_max : RLIM_INFINITY;
    cs->cap = most != RLIM_INFINITY && most < (1u << 20) ? (size_t)most : (1u << 20);
    cs->by_fd = sf_xcalloc(cs->cap, sizeof *cs->by_fd);
    cs->clocks = sf_xcalloc(cs->cap, sizeof *cs->clocks);
    sf_conns_set_limits(cs, cfg);
    sf_mutex_init(&cs->lock);
    sf_cond_init(&cs->stop_cv);
    struct sf_conns *none = NULL;
    SF_ASSERT(atomic_compare_exchange_strong(&registry, &none, cs)); /* one per process */
    sf_interpose_install(&hooks);
    SF_PTOK(pthread_create(&cs->watchdog, NULL, watchdog_main, cs));
    return cs;
}

/* How long the end of a client that shut its sending side may be held back for one
 * request (hold_eof): what libmicrohttpd allows a connection that makes no progress
 * (timeouts.client_idle; a held-back end is no progress, so a libmicrohttpd that asked in
 * a loop would close the connection then itself), plus one more wait for a response head
 * (timeouts.connect and first_byte, the longest of the top level's and the routes'):
 * after its end was first held back, a request may park again for a new fetch (a pass
 * re-dispatched, a variant looked up again). */
static uint64_t eof_hold_ms(const struct sf_config *cfg)
{
    uint64_t first_byte = cfg->first_byte_timeout_ms; /* the longest a request may wait */
    for (size_t i = 0; i < sf_routes_count(cfg->routes); i++) {
        const struct sf_route_def *r = sf_routes_at(cfg->routes, i);
        if (r->set.first_byte_timeout_ms > first_byte)
            first_byte = r->set.first_byte_timeout_ms;
    }
    return cfg->client_idle_timeout_ms + cfg->connect_timeout_ms + first_byte;
}

void sf_conns_set_limits(struct sf_conns *cs, const struct sf_config *cfg)
{
    atomic_store(&cs->limit, cfg->connection_limit);
    atomic_store(&cs->head_timeout_ms, cfg->request_head_timeout_ms);
    atomic_store(&cs->eof_hold_ms, eof_hold_ms(cfg));
}

void sf_conns_set_access_log(struct sf_conns *cs, struct sf_access_log *log)
{
    cs->access_log = log;
}

void sf_conns_free(struct sf_conns *cs)
{
    if (cs == NULL)
        return;
    sf_mutex_lock(&cs->lock);
    cs->stopping = true;
    SF_PTOK(pthread_cond_signal(&cs->stop_cv));
    sf_mutex_unlock(&cs->lock);
    SF_PTOK(pthread_join(cs->watchdog, NULL));
    for (size_t fd = 0; fd < atomic_load(&cs->high); fd++)
        SF_ASSERT(atomic_load(&cs->by_fd[fd]) == NULL);
    sf_interpose_install(NULL);
    atomic_store(&registry, NULL);
    SF_PTOK(pthread_cond_destroy(&cs->stop_cv));
    sf_mutex_destroy(&cs->lock);
    free(cs->clocks);
    free(cs->by_fd);
    free(cs);
}

bool sf_conns_admit(struct sf_conns *cs)
{
    /* libmicrohttpd drops a socket between its accept policy and "connection started"
     * only when it runs out of memory; the place reserved for it is given back here. */
    if (admitted_unopened)
        atomic_fetch_sub(&cs->count, 1);
    admitted_unopened = false;
    if (atomic_fetch_add(&cs->count, 1) >= atomic_load_explicit(&cs->limit, memory_order_relaxed)) {
        atomic_fetch_sub(&cs->count, 1);
        return false;
    }
    admitted_unopened = true;
    return true;
}

struct sf_conn *sf_conns_open(struct sf_conns *cs, int fd, bool counted, bool tls)
{
    if (counted)
        admitted_unopened = false;
    struct sf_conn *c = sf_xcalloc(1, sizeof *c);
    c->magic = SF_CONN_MAGIC;
    c->fd = fd;
    c->counted = counted;
    c->tls = tls;
    sf_h1scan_init(&c->scan);
    /* The first head is due from the accept on, bytes or not (nginx's
     * client_header_timeout); later ones from their first byte. */
    uint64_t now = sf_now_ms();
    c->clock = &c->own;
    if (fd >= 0 && (size_t)fd < cs->cap) {
        sf_mutex_lock(&cs->lock);
        c->clock = &cs->clocks[fd];
        atomic_store(&c->clock->head_since_ms, now);
        atomic_store(&c->clock->bad_since_ms, 0);
        atomic_store(&c->clock->cut, false);
        atomic_store_explicit(&cs->by_fd[fd], c, memory_order_release);
        if ((size_t)fd + 1 > atomic_load(&cs->high))
            atomic_store_explicit(&cs->high, (size_t)fd + 1, memory_order_release);
        sf_mutex_unlock(&cs->lock);
    } else {
        atomic_init(&c->own.head_since_ms, now);
    }
    if (counted)
        atomic_fetch_add(&sf_metrics.connections_now, 1);
    return c;
}

void sf_conns_close(struct sf_conns *cs, struct sf_conn *c)
{
    if (c == NULL)
        return;
    SF_CHECK_OBJ(c, SF_CONN_MAGIC);
    if (c->fd >= 0 && (size_t)c->fd < cs->cap) {
        sf_mutex_lock(&cs->lock);
        SF_ASSERT(atomic_load(&cs->by_fd[c->fd]) == c);
        atomic_store_explicit(&cs->by_fd[c->fd], NULL, memory_order_release);
        sf_mutex_unlock(&cs->lock);
    }
    if (c->counted) {
        atomic_fetch_sub(&cs->count, 1);
        atomic_fetch_sub(&sf_metrics.connections_now, 1);
    }
    c->magic = 0;
    free(c);
}

uint64_t sf_conn_next_request(struct sf_conn *c)
{
    SF_CHECK_OBJ(c, SF_CONN_MAGIC);
    return c->requests++;
}

void sf_conn_progress(struct sf_conn *c)
{
    SF_CHECK_OBJ(c, SF_CONN_MAGIC);
    c->eof_since_ms = 0; /* each wait is bounded on its own (hold_eof) */
}

void sf_conn_request_done(struct sf_conn *c, bool answered)
{
    SF_CHECK_OBJ(c, SF_CONN_MAGIC);
    c->done++;
    c->eof_since_ms = 0; /* the next request's answer may hold the end back afresh */
    /* A bad head pipelined behind this request is now the current one: its grace starts
     * (the watchdog never cuts a response to an earlier, good request), and when this
     * request's response was sent whole, nothing else is being written: answer it. */
    if (c->scan.bad && !c->scan.bad_in_body && c->done == c->scan.bad_msg &&
        atomic_load_explicit(&c->clock->bad_since_ms, memory_order_relaxed) == 0) {
        atomic_store_explicit(&c->clock->bad_since_ms, sf_now_ms(), memory_order_relaxed);
        if (answered && !c->poisoned && (!c->tls || c->session != NULL)) {
            answer_bad_head(c);
            c->poisoned = true;
        }
    }
    if (c->close_after != 0 && c->done >= c->close_after) {
        c->poisoned = true;
        shutdown(c->fd, SHUT_RDWR); /* every answer is sent; libmicrohttpd sees the end */
    }
}

/* 0 when request k's head was received whole and well-formed; else the status to refuse
 * it with (400, 431, 501, 505) and *why, a sentence for the client. */
static unsigned conn_verdict(const struct sf_conn *c, uint64_t k, const char **why)
{
    SF_CHECK_OBJ(c, SF_CONN_MAGIC);
    return sf_h1scan_verdict(&c->scan, k, why);
}

bool sf_conn_body_bad(const struct sf_conn *c, uint64_t k)
{
    SF_CHECK_OBJ(c, SF_CONN_MAGIC);
    return c->scan.bad && c->scan.bad_in_body && c->scan.bad_msg == k;
}

/* ---- the libmicrohttpd side ---- */

void sf_conns_notify(struct sf_conns *cs, struct MHD_Connection *mc, void **socket_ctx,
                     enum MHD_ConnectionNotificationCode code, bool counted, bool tls)
{
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        sf_conns_close(cs, *socket_ctx);
        *socket_ctx = NULL;
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    *socket_ctx = sf_conns_open(cs, ci != NULL ? ci->connect_fd : -1, counted, tls);
}

struct sf_conn *sf_conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

unsigned sf_conn_head_verdict(const struct sf_conn *c, uint64_t k, const char **why)
{
    if (c == NULL) {
        *why = "the request was not seen by the checker\n"; /* never expected: fail closed */
        return MHD_HTTP_BAD_REQUEST;
    }
    return conn_verdict(c, k, why);
}
