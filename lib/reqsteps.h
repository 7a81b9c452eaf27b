/* reqsteps: a client request's life, step by step. Read this first: the list below is the
 * one place where the whole life is told; each step is one function, in the file named.
 *
 * libmicrohttpd calls the front's access handler (on_request, front.c) several times for
 * one request: when its head has arrived, once per piece of content, at the content's end,
 * and again each time its parked (suspended) connection is resumed. Each call runs the
 * request's steps from r->step, one after another, in one loop (front.c), until a step
 * hands the call back with a verdict: YIELD (libmicrohttpd is told MHD_YES; its next call
 * resumes at the step the yield names, sf_req_yield in req.h) or CLOSE (MHD_NO: the
 * connection closes). A step returns the next step; no step calls another, and each
 * asserts which steps it may be entered from (SF_REQ_FROM, req.h). A step that queues a
 * response goes to SENT, or to CLOSE when it could not be made or queued. Varnish's
 * cache_req_fsm.c has this shape.
 *
 * A request's life, in order (-> the steps it may go to; "yield X": on the next call):
 *
 *  RECV      (the head's call) Tells the request apart: a head the connection's scanner
 *            refused, or a HEAD with content, is answered at once -> SYNTH. A cluster
 *            peer's signed purge or health check -> yield PEER. A request with content
 *            -> ADMIT now, so that its content can stream upstream as it arrives; any
 *            other -> yield ADMIT (a response queued on the head's call loses keep-alive).
 *  PEER      A peer's purge (on this node's cache alone) or health check, answered
 *            -> SENT.
 *  ADMIT     Counted by method; takes its route (route.h), which decides where it is
 *            fetched and its key; refused (CONNECT, shutting down, Max-Forwards 0, an
 *            unroutable target, only-if-cached on a pass route) -> SYNTH; with content -> CONTENT; a loop (CDN-Loop)
 *            -> SYNTH; a peer's request its sender should have served, a pass route's,
 *            or any method but GET and HEAD -> PASS; GET and HEAD -> LOOKUP.
 *  CONTENT   Content larger than allowed -> SYNTH; else the pipe the content will stream
 *            through upstream (reqbody.h) -> PASS.
 *  LOOKUP    The cache (cache.h) says: stored, fresh or stale (its refresh submitted in
 *            the background) -> HIT; kept in slices -> SLICED; in flight -> joined
 *            (COLLAPSED) -> WAIT_HEAD; nothing, a new flight led by this request, its
 *            fetch submitted (MISS) -> WAIT_HEAD; not to be shared, or a flight that
 *            could not be joined -> PASS; nothing, and only-if-cached -> SYNTH (504).
 *  HIT       The stored response -> SENT.
 *  PASS      An object of its own, fetched for it alone; with content (from CONTENT)
 *            -> yield UPLOAD, else -> WAIT_HEAD.
 *  UPLOAD    (content's calls) Each piece goes into the pipe (parking while it is full)
 *            -> yield UPLOAD; at its end: refused or not what the head announced
 *            -> SYNTH, else -> WAIT_HEAD.
 *  SLICED    A response read across slices (slice.h), from the slice that holds its first
 *            byte: that slice joined or fetched -> WAIT_HEAD; slices off or not shared
 *            -> LOOKUP for the whole response.
 *  WAIT_HEAD Parked until its object's head is published (-> yield WAIT_HEAD; the
 *            fetcher resumes it); the client left, or a 103 broke its stream -> CLOSE.
 *            Then: the response is one user's and this request only joined it -> PASS;
 *            it is another variant (Vary) -> LOOKUP once, then PASS; no head (failed,
 *            timed out, refused, stopping) -> SYNTH; sliced -> DELIVER_SLICED; else
 *            -> DELIVER.
 *  DELIVER   The object's response, streamed as its body arrives (or a 304) -> SENT.
 *  DELIVER_SLICED  Its slice checked against the representation: a stored slice that
 *            does not fit dropped and fetched again, once -> WAIT_HEAD; slices of another
 *            representation -> LOOKUP whole; else the response, read on across the
 *            slices -> SENT.
 *  SYNTH     An answer of sfproxy's own (refusals, failures): short text -> SENT.
 *  SENT      Its response is queued: libmicrohttpd sends it, and the calls left have
 *            nothing to do -> yield SENT. On completion front.c accounts and frees it.
 *
 * Runs on: a libmicrohttpd worker, the connection's (every step). */
#ifndef SF_REQSTEPS_H
#define SF_REQSTEPS_H

#include <stddef.h>

/* The steps, in the order above, each with its function (file). */
#define SF_REQ_STEPS(X)                                                                            \
    X(RECV, sf_dispatch_recv)               /* dispatch.c */                                       \
    X(PEER, sf_peercall_answer)             /* peercall.c */                                       \
    X(ADMIT, sf_dispatch_admit)             /* dispatch.c */                                       \
    X(CONTENT, sf_upload_begin)             /* upload.c */                                         \
    X(LOOKUP, sf_dispatch_lookup)           /* dispatch.c */                                       \
    X(HIT, sf_dispatch_hit)                 /* dispatch.c */                                       \
    X(PASS, sf_dispatch_pass)               /* dispatch.c */                                       \
    X(UPLOAD, sf_upload_take)               /* upload.c */                                         \
    X(SLICED, sf_sliceread_open)            /* sliceread.c */                                      \
    X(WAIT_HEAD, sf_dispatch_wait_head)     /* dispatch.c */                                       \
    X(DELIVER, sf_dispatch_deliver)         /* dispatch.c */                                       \
    X(DELIVER_SLICED, sf_sliceread_deliver) /* sliceread.c */                                      \
    X(SYNTH, sf_dispatch_synth)             /* dispatch.c */                                       \
    X(SENT, sf_dispatch_sent)               /* dispatch.c */

enum sf_req_step {
#define SF_REQ_STEP_ENUM(name, fn) SF_REQ_##name,
    SF_REQ_STEPS(SF_REQ_STEP_ENUM)
#undef SF_REQ_STEP_ENUM
        SF_REQ_YIELD, /* verdict: return MHD_YES; the next call resumes at r->step */
    SF_REQ_CLOSE,     /* verdict: return MHD_NO; libmicrohttpd closes the connection */
    SF_REQ_NEW,       /* not a step: where r->from points before the first step ran */
};

/* What one call of libmicrohttpd's access handler brought. */
struct sf_req_call {
    const char *method;       /* libmicrohttpd's (the request's copy is cut to fit) */
    const char *version;      /* "HTTP/1.1" or "HTTP/1.0" */
    const char *upload_data;  /* this call's piece of content: *upload_data_size bytes */
    size_t *upload_data_size; /* the step sets it to what it did not take (offered again) */
};

struct sf_req;

/* A step: runs on r at r->step and returns the next step, or a verdict. */
typedef enum sf_req_step sf_req_step_fn(struct sf_req *r, const struct sf_req_call *c);

#define SF_REQ_STEP_DECLARE(name, fn) sf_req_step_fn fn;
SF_REQ_STEPS(SF_REQ_STEP_DECLARE)
#undef SF_REQ_STEP_DECLARE

#endif
