/* h1scan: a strict, incremental scanner of the bytes a client sends on one HTTP/1.1
 * connection (RFC 9112). It sees every byte before libmicrohttpd parses it (conn.c feeds
 * it from recv) and decides, per request, whether the head is well-formed and its framing
 * unambiguous; it follows each message's body (Content-Length, or chunked) to find where
 * the next request starts. It is stricter than libmicrohttpd everywhere, so a stream it
 * accepts is framed the same way by both; anything else is refused before a byte of it is
 * forwarded. Pure: no I/O, no locks, no clock; one scanner per connection, fed in order. */
#ifndef SF_H1SCAN_H
#define SF_H1SCAN_H

#include "base.h"

/* What a request head costs in libmicrohttpd 0.9.75's per-connection memory pool, which
 * holds it until its response is sent (connection.c, memorypool.c): its bytes, a 64-byte
 * record (struct MHD_HTTP_Header, aligned) for each field line, each query parameter (each
 * '&'-separated part of the query, a trailing empty one aside) and each cookie of the first
 * Cookie line (at most its ';' and ',' plus one), and a copy of that line's value. Trailer
 * lines of a chunked body count on top of the head. A head over the budget is refused:
 * 414 while still in the request line, else 431. The budget, with SF_H1_READ_AHEAD and the
 * largest response head, is what fits in the pool sfproxy gives libmicrohttpd (mhdpool.h). */
#define SF_H1_HEAD_BUDGET (16u << 10)
#define SF_H1_RECORD_COST 64u
/* The most a read may bring beyond the message being scanned (what the client pipelined
 * behind it): libmicrohttpd keeps such bytes in the same pool while it answers. */
#define SF_H1_READ_AHEAD (4u << 10)

struct sf_h1scan {
    /* Outputs: read them after each sf_h1scan_feed. */
    uint64_t msg;           /* index of the request being scanned (0: the connection's first) */
    uint64_t heads_ok;      /* requests whose head was complete and well-formed */
    bool bad;               /* the stream broke the grammar; nothing after it is scanned */
    uint64_t bad_msg;       /* with bad: the request it belongs to (its head or its body) */
    bool bad_in_body;       /* with bad: the head was fine, its chunked body is not */
    unsigned bad_status;    /* with bad: 400, 431, 501 or 505 */
    const char *bad_reason; /* with bad: a static sentence for the client */
    bool in_head;           /* between the first byte of a head and its end */
    /* State: private. */
    int _state;
    size_t _cost, _tok_len, _val_len;   /* _cost: of the head so far, in pool bytes */
    size_t _seps;                       /* separators in the Cookie value being read */
    bool _query, _q_part, _cookie_seen; /* in the query; a part starts; a Cookie was read */
    int _field;                         /* which framing field the current line is */
    char _val[40]; /* its value, when it is one we read (overflow: _val_len > size) */
    bool _http10, _trailer;
    unsigned _cl_count, _te_count, _host_count;
    bool _te_chunked, _te_token;
    uint64_t _cl, _left;
    unsigned _hex_digits;
};

/* Ready for a connection's first request. */
void sf_h1scan_init(struct sf_h1scan *s);

/* Scans n more bytes of the stream. Returns how many were well-formed: n, or, once the
 * stream is bad, the offset of the first byte that is not (then s->bad is set, and every
 * later call returns 0). */
size_t sf_h1scan_feed(struct sf_h1scan *s, const char *p, size_t n);

/* How many bytes may be read from the client now, so that no more than SF_H1_READ_AHEAD of
 * them can lie beyond the message being scanned. */
size_t sf_h1scan_read_max(const struct sf_h1scan *s);

/* As sf_h1scan_feed, for bytes whose read could not be limited to sf_h1scan_read_max
 * (TLS records are read whole): scans no further than that read could have gone, and sets
 * *kept to how far that is; the bytes past it must not be used. */
size_t sf_h1scan_feed_capped(struct sf_h1scan *s, const char *p, size_t n, size_t *kept);

/* Whether the stream is between messages: every request it has seen is whole (its head
 * and its body), and nothing of the next has come. */
bool sf_h1scan_between(const struct sf_h1scan *s);

/* What the scanner says of request k of the connection: 0 when its head was complete
 * and well-formed; else the status to refuse it with, and *why a sentence for the client.
 * A request the scanner has not seen complete (libmicrohttpd saw a head where this
 * scanner did not) is refused too. */
unsigned sf_h1scan_verdict(const struct sf_h1scan *s, uint64_t k, const char **why);

#endif
