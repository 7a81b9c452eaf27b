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

/* A head longer than this is refused (431); libmicrohttpd's own buffer is smaller. */
#define SF_H1_HEAD_MAX (64u << 10)

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
    size_t _head_bytes, _tok_len, _val_len;
    int _field;    /* which framing field the current line is */
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

/* Whether the stream is between messages: every request it has seen is whole (its head
 * and its body), and nothing of the next has come. */
bool sf_h1scan_between(const struct sf_h1scan *s);

/* What the scanner says of request k of the connection: 0 when its head was complete
 * and well-formed; else the status to refuse it with, and *why a sentence for the client.
 * A request the scanner has not seen complete (libmicrohttpd saw a head where this
 * scanner did not) is refused too. */
unsigned sf_h1scan_verdict(const struct sf_h1scan *s, uint64_t k, const char **why);

#endif
