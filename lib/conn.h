/* conn: client connections as sfproxy sees them, beneath libmicrohttpd.
 *
 * Every byte a client sends passes through a strict scanner (h1scan) before
 * libmicrohttpd parses it: this module defines recv(), which libmicrohttpd calls through
 * the dynamic linker, and feeds what it returns for a registered client socket to that
 * connection's scanner. libmicrohttpd 0.9.75 is lenient where requests are smuggled (it
 * glues an obs-fold line into the field name, accepts whitespace before the colon and
 * bare LF, lets Transfer-Encoding override Content-Length), and its parsed fields no
 * longer show what was sent; the scanner's verdict does. The front refuses a request the
 * scanner did not accept, before anything is forwarded.
 *
 * The interposition itself is interpose.c's; this module installs its hooks.
 *
 * Also here: the exact connection count behind connection_limit, a watchdog thread that
 * closes a connection whose request head does not arrive whole within
 * timeouts.request_head (trickling bytes does not extend it), and the one way to write to
 * a client's socket behind libmicrohttpd's back (sf_conn_write_interim).
 *
 * Threads: a connection's scanner is written by recv on the libmicrohttpd worker that owns
 * the connection and read by the same worker's callbacks; the watchdog reads only atomics,
 * and shuts a socket down only under the registry lock, which sf_conns_close also takes
 * before the socket is closed. One registry per process (recv is process-wide). */
#ifndef SF_CONN_H
#define SF_CONN_H

#include "base.h"

#include <microhttpd.h>

struct sf_access_log;
struct sf_config;
struct sf_conns;
struct sf_conn;

/* The registry, with the limits of cfg (sf_conns_set_limits). Starts the watchdog. NULL,
 * with errbuf written, when recv is not interposed (then nothing could be checked, and
 * sfproxy must not run). */
struct sf_conns *sf_conns_new(const struct sf_config *cfg, char *errbuf, size_t errlen);
/* Whether the TLS listener's reads can be checked: GnuTLS's gnutls_record_recv is
 * interposed like recv. False, with errbuf written, when not (then no TLS listener). */
bool sf_conns_tls_checked(char *errbuf, size_t errlen);
/* Whether c came in on the TLS listener (NULL: no). Nothing may be written to its socket
 * but through libmicrohttpd: no 100 probe, no 103. */
bool sf_conn_is_tls(const struct sf_conn *c);

/* What a write behind libmicrohttpd's back did. */
enum sf_conn_wrote {
    SF_CONN_WROTE_ALL,    /* every byte */
    SF_CONN_WROTE_NONE,   /* nothing: the socket was full, or it is a TLS connection's */
    SF_CONN_WROTE_PART,   /* only a part: what the client reads next is broken */
    SF_CONN_WROTE_FAILED, /* nothing: the socket failed (the client is gone) */
};
/* Writes len bytes of an interim response (a 100, a 103) or of a refused head's answer to
 * the client on socket fd, behind libmicrohttpd's back: without blocking, without
 * SIGPIPE, and never into a TLS stream it knows of (a registered connection of the TLS
 * listener gets NONE: raw bytes would break its records; a descriptor the registry cannot
 * hold is not looked up, so callers check for TLS themselves too). The caller makes sure that nothing else writes to
 * the socket meanwhile and that it stays open: its connection is suspended (the caller
 * holds the lock of the place it is parked on), or this is the worker that owns it while
 * libmicrohttpd is reading. Any thread. */
enum sf_conn_wrote sf_conn_write_interim(int fd, const char *buf, size_t len);

/* cfg's connection_limit and timeouts, from now on (connections over a lowered limit
 * stay; new ones are refused until the count is below it): timeouts.request_head bounds
 * how long a request head may take to arrive; timeouts.client_idle, connect and first_byte
 * how long the end of a client that shut its sending side is held back while its request
 * is answered (conn.c, hold_eof). Any thread; cfg is not kept. */
void sf_conns_set_limits(struct sf_conns *cs, const struct sf_config *cfg);
/* Where a head refused before libmicrohttpd parsed it is logged (NULL: nowhere), for
 * connections of the public listener. Before the listeners start. */
void sf_conns_set_access_log(struct sf_conns *cs, struct sf_access_log *log);
/* Stops the watchdog and frees cs; every connection must have been closed, and every
 * thread that may call recv (libmicrohttpd's, the fetcher's libcurl) stopped. */
void sf_conns_free(struct sf_conns *cs);

/* The accept policy of the public listener: reserves a place for a new connection, or
 * returns false when connection_limit are open. Exact under concurrent accepts. Runs on:
 * the accepting libmicrohttpd worker, which calls sf_conns_open next unless libmicrohttpd
 * itself drops the socket (then the place is given back on that worker's next admit). */
bool sf_conns_admit(struct sf_conns *cs);
/* A new connection on socket fd (counted: it went through sf_conns_admit). Returns it, to
 * keep as libmicrohttpd's socket context. */
struct sf_conn *sf_conns_open(struct sf_conns *cs, int fd, bool counted, bool tls);
/* The connection is closing (its socket not yet closed): unregisters and frees it. */
void sf_conns_close(struct sf_conns *cs, struct sf_conn *c);

/* Counts a new request on c (libmicrohttpd saw its request line); returns its index on
 * the connection, for the calls below. */
uint64_t sf_conn_next_request(struct sf_conn *c);
/* libmicrohttpd finished request k (its response was sent whole: answered; or it ended);
 * requests end in order. A refused head pipelined behind it is answered now. Runs on:
 * the worker that owns c, in libmicrohttpd's request-completed callback. */
void sf_conn_request_done(struct sf_conn *c, bool answered);
/* libmicrohttpd called the access handler for c's current request: progress, so a held
 * end's clock starts again (each park of a request is bounded on its own). Runs on: the
 * worker that owns c. */
void sf_conn_progress(struct sf_conn *c);
/* Whether request k's chunked body broke its framing (then the connection is being shut
 * down, and whatever was decoded of the body must not be forwarded as complete). */
bool sf_conn_body_bad(const struct sf_conn *c, uint64_t k);

/* ---- the libmicrohttpd side, for the listeners (front.c, admin.c) ---- */

/* libmicrohttpd's connection notification, for a listener: registers the socket before
 * its first byte is read (*socket_ctx becomes its struct sf_conn) and unregisters it before
 * it closes. counted: the listener admits through sf_conns_admit; tls: it is the HTTPS
 * listener. */
void sf_conns_notify(struct sf_conns *cs, struct MHD_Connection *mc, void **socket_ctx,
                     enum MHD_ConnectionNotificationCode code, bool counted, bool tls);
/* The struct sf_conn of a libmicrohttpd connection; NULL if it was never registered. */
struct sf_conn *sf_conn_of(struct MHD_Connection *mc);
/* 0 when request k's head was received whole and well-formed; else the status to refuse
 * it with (400, 431, 501, 505) and *why, a sentence for the client. A connection that was
 * never registered (c NULL) is refused: its bytes were not checked. */
unsigned sf_conn_head_verdict(const struct sf_conn *c, uint64_t k, const char **why);

#endif
