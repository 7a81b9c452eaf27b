/* respond: turning a stored or streaming object into a libmicrohttpd response. A stored
 * response is served zero-copy from its segments (or as a 304, or one byte range); a
 * response still arriving is read by a struct sf_reader, which parks its client when it
 * has caught up with the fetcher. The callers (the request's steps, reqsteps.h) queue what
 * these build.
 *
 * Every function here returns NULL when a response or one of its fields cannot be made
 * (out of memory, or a field libmicrohttpd refuses): the caller then closes the
 * connection, rather than send a response with fields missing. */
#ifndef SF_RESPOND_H
#define SF_RESPOND_H

#include "base.h"

#include <microhttpd.h>

struct sf_hdrs;
struct sf_obj;
struct sf_peerproof;
struct sf_upstream;
struct sf_waiter;

/* Lets the fetch that fills o go on after a read freed room in it (a fetch paused for its
 * slowest reader): the fetcher's sf_upstream_unpause, given to respond once at start
 * (sf_respond_set_unpause), so that respond does not depend on the fetcher. Called with no
 * lock held, on libmicrohttpd's workers. */
typedef void sf_respond_unpause_cb(struct sf_upstream *up, struct sf_obj *o);

/* Sets the unpause callback every reader calls with its up. Once, before the first
 * response (no lock: it is read by the workers started after it). */
void sf_respond_set_unpause(sf_respond_unpause_cb *unpause);

/* A client reading an object's body as it arrives. Embedded in the request it belongs to,
 * which fills it before sf_respond_streamed and keeps it until done is called. */
struct sf_reader {
    struct sf_obj *obj;          /* what is read; the request holds a reference */
    struct sf_waiter *w;         /* the client's place on obj's lists (attached) */
    struct MHD_Connection *conn; /* suspended while the reader is parked */
    struct sf_upstream *up;      /* given to the unpause callback when this reader frees room
                                  * in a paused fetch (sf_respond_set_unpause) */
    size_t seg_hint;             /* where the last read found its segment */
    uint64_t first, count;       /* the bytes sent: count from first (set by
                                  * sf_respond_streamed; UINT64_MAX: to the end) */
    uint64_t sent;               /* body bytes handed to libmicrohttpd so far */
    /* A response read from several objects (slices, slice.h): base is the byte of the
     * response's whole body obj's first byte is; advance, when not NULL, is called before
     * each read of byte at (of the whole body), with no lock held, to move obj, base and
     * seg_hint to the object that holds it (false: end the response with an error). */
    uint64_t base;
    bool (*advance)(struct sf_reader *rd, uint64_t at);
    /* Called once libmicrohttpd is done with the response (its free callback). */
    void (*done)(struct sf_reader *rd);
    /* A cluster peer's request: its body goes with a proof (peerauth.h) signed with this
     * secret (the request's config's); NULL for everyone else. */
    const char *peer_secret;
    struct sf_peerproof *_proof; /* respond.c's */
    struct sf_obj *_held;        /* respond.c's: a reference while a whole body is sent */
};

/* A short text/plain answer of sfproxy's own; xcache may be NULL (no X-Cache). A 503 says
 * when to retry, and that sfproxy is shutting down (SF_DRAINING_FIELD: a cluster peer
 * that asked fetches elsewhere); with close the connection ends after it; with peer (a
 * cluster peer's request) its body's proof goes in the head (peerauth.h). */
struct MHD_Response *sf_respond_text(const char *text, unsigned status, const char *xcache,
                                     bool close, bool peer);

/* Whether the request on conn is conditional and o's 200 (with slice: the 200 o is a
 * slice of) satisfies it (RFC 9110 §13.1:
 * its If-None-Match names o's entity tag, weakly, or its If-Modified-Since is not older);
 * then sf_respond_unchanged is the 304 to send, with o's fields that a 304 carries (the
 * caller keeps its reference on o). */
bool sf_respond_unchanged_for(const struct sf_obj *o, bool slice, struct MHD_Connection *conn);
struct MHD_Response *sf_respond_unchanged(struct sf_obj *o, const char *xcache);

/* A stored object o (complete) as the answer to a request with conn's fields: 304 to a
 * conditional request it satisfies (RFC 9110 §13.1), 206 with one byte range of a GET's
 * stored 200 (§14.2; 416 when no byte of the range exists), otherwise all of it. Takes
 * over a reference to o (released with the response); sets *status and *body_bytes (its
 * body's length). With peer_secret (a cluster peer's request: its config's secret;
 * otherwise NULL), its body goes with its proof (peerauth.h): in the head for a small one,
 * in a trailer (chunked) for one too large to hash before the head is sent. */
struct MHD_Response *sf_respond_stored(struct sf_obj *o, struct MHD_Connection *conn,
                                       const char *method, const char *xcache,
                                       const char *peer_secret, unsigned *status,
                                       uint64_t *body_bytes);

/* rd's object, published, read as its body arrives, with the stored fields (and own,
 * when not NULL: the fields withheld from all but the leader). with_age: a stale
 * response standing in for a failed origin, sent with the age the cache computes rather
 * than the stored Age. A GET's one byte range of a 200 whose length is known is answered
 * 206 from the live body, its bytes sent as soon as they arrive (416 when none of them
 * exists); without a known length, the whole response. rd->done is called when the
 * response is destroyed (also when NULL is returned). Sets *status. */
struct MHD_Response *sf_respond_streamed(struct sf_reader *rd, const char *method,
                                         const char *xcache, const struct sf_hdrs *own,
                                         bool with_age, unsigned *status);

/* rd's object, a published slice (slice.h) that fits, read as the first of the slices of
 * a 200 of total bytes: a GET's one byte range of it is answered 206 (416 when none of
 * its bytes exists), anything else gets all of it; rd->advance moves across the slices.
 * Fields: the slice's, less its Content-Range, with the Age the cache computes. rd->done
 * is called when the response is destroyed (also when NULL is returned). Sets *status. */
struct MHD_Response *sf_respond_sliced(struct sf_reader *rd, const char *method, const char *xcache,
                                       uint64_t total, unsigned *status);

#endif
