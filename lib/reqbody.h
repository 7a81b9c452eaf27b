/* reqbody: a bounded pipe that streams a client's request content to its upstream
 * transfer. The front writes what libmicrohttpd hands it; the fetcher's read callback
 * takes it out. When the pipe is full the writer parks (its connection suspended) until
 * the reader makes room; when it is empty the reader pauses the transfer until the writer
 * adds more or finishes. Refcounted: one reference for the request, one for the fetch.
 * Lock order: reqbody lock -> libmicrohttpd's locks; never held with an object lock. */
#ifndef SF_REQBODY_H
#define SF_REQBODY_H

#include "park.h"

struct sf_reqbody;

/* A pipe that holds at most window bytes; declared_len is the client's Content-Length, or
 * -1 for chunked content. */
struct sf_reqbody *sf_reqbody_new(size_t window, int64_t declared_len);
struct sf_reqbody *sf_reqbody_ref(struct sf_reqbody *b);
void sf_reqbody_unref(struct sf_reqbody *b);
int64_t sf_reqbody_declared_len(const struct sf_reqbody *b);

enum sf_reqbody_write {
    SF_REQBODY_TOOK,   /* *len bytes were taken (maybe fewer than offered: see parked) */
    SF_REQBODY_CLOSED, /* the transfer has ended: nothing more is wanted, drop the rest */
};

/* Offers len bytes. Sets *taken; if the pipe filled before all were taken, w is parked
 * and *parked set: the caller's suspend_fn runs under the pipe lock, so the wake cannot
 * come first. If parking is closed (shutdown) the pipe closes instead (the body would have
 * a hole: its transfer aborts) and the write reports SF_REQBODY_CLOSED.
 * *reader_waiting says the transfer is paused for data: call sf_upstream_unpause.
 * Runs on: a libmicrohttpd worker. */
enum sf_reqbody_write sf_reqbody_write(struct sf_reqbody *b, const char *data, size_t len,
                                       size_t *taken, struct sf_waiter *w,
                                       void (*suspend_fn)(struct sf_waiter *w), bool *parked,
                                       bool *reader_waiting);
/* The client sent all its content. Returns whether the reader is paused waiting for it. */
bool sf_reqbody_finish(struct sf_reqbody *b);

enum sf_reqbody_read {
    SF_REQBODY_DATA,    /* bytes were copied */
    SF_REQBODY_EOF,     /* all the content has been read */
    SF_REQBODY_WAIT,    /* nothing yet: pause the transfer until sf_upstream_unpause */
    SF_REQBODY_ABORTED, /* the client's content will not be complete: abort the transfer */
};

/* Copies up to max bytes into dst and sets *n. Wakes a parked writer when there is room
 * again. Runs on: the fetcher thread. */
enum sf_reqbody_read sf_reqbody_read(struct sf_reqbody *b, char *dst, size_t max, size_t *n);
/* No more content will pass: the transfer ended (from the fetcher), or the client's
 * content went over the limit (from the front). A parked writer is woken, later writes get
 * SF_REQBODY_CLOSED, and a reader that has not seen the end gets SF_REQBODY_ABORTED. */
void sf_reqbody_close(struct sf_reqbody *b);

#endif
