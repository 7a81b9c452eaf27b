/* mhdpool: the memory pool libmicrohttpd 0.9.75 gives each client connection
 * (MHD_OPTION_CONNECTION_MEMORY_LIMIT), and why it is this size.
 *
 * One pool holds, from a request's first byte until its response is sent, the request
 * head's bytes and its records (h1scan.h says what a head costs), whatever the client
 * sent behind the request in the same read, and then the head of the response
 * libmicrohttpd builds, and the copy of an iovec body's array. When they do not fit,
 * libmicrohttpd closes the connection without an answer, after sfproxy has forwarded the
 * request. So the pool is sized for the worst case of each: a head at the scanner's
 * budget, a full read-ahead (conn.c reads no more than that beyond a message), the
 * largest response head an origin may send (resphead.h) with the fields sfproxy adds, and
 * an iovec of 128 stored segments.
 *
 * Over 32 KiB libmicrohttpd maps its pools with mmap instead of malloc, so a connection
 * that never sends a byte costs no page of it; once a connection has been answered,
 * libmicrohttpd zeroes the whole pool for the next request, and all of it stays
 * resident while the connection is kept alive (docs/security.md has the measurements). */
#ifndef SF_MHDPOOL_H
#define SF_MHDPOOL_H

#include "h1scan.h"
#include "resphead.h"

#define SF_MHD_POOL_BYTES (40u << 10)

/* The fields sfproxy adds to an origin's head or builds itself (Via, X-Cache, Age,
 * X-Request-Id of up to 64 bytes, Connection, Content-Length, Content-Range, Date,
 * Retry-After, libmicrohttpd's longer status line), with room to spare. */
#define SF_MHD_OWN_FIELDS_MAX 1024u
/* libmicrohttpd copies an iovec response's array into the pool: 16 bytes a segment. */
#define SF_MHD_IOV_RESERVE (128u * 16u)
/* The pool's alignment rounds the read buffer up; the Date check wants a byte more. */
#define SF_MHD_SLACK 64u

_Static_assert(SF_H1_HEAD_BUDGET + SF_H1_READ_AHEAD + SF_RESPHEAD_BYTES_MAX +
                       SF_MHD_OWN_FIELDS_MAX + SF_MHD_IOV_RESERVE + SF_MHD_SLACK <=
                   SF_MHD_POOL_BYTES,
               "a request head at the budget and the largest response head must fit the pool");

#endif
