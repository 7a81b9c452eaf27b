/* req: one client request of the public listener (struct sf_req, libmicrohttpd's
 * per-request pointer), and what several of its steps (reqsteps.h) do with it: its
 * references, the object it is attached to, the fetch it sends upstream, and the response
 * it queues. Private to the front's files.
 *
 * A request is created in the URI log callback (front.c, so that the raw target is kept)
 * and freed when both libmicrohttpd's completion callback and its response's free
 * callback have let go (refs). Parking and waking follow singleflight.c: parking under the
 * object lock, together with the suspend; waking off the list under the lock, the resume
 * after it, by whoever took the waiter off.
 *
 * Runs on: the connection's libmicrohttpd worker, all of it. Lock order: object lock ->
 * libmicrohttpd; no response is created, queued or destroyed under an object lock. */
#ifndef SF_REQ_H
#define SF_REQ_H

#include "accesslog.h"
#include "outbound.h"
#include "reqsteps.h"
#include "respond.h"
#include "singleflight.h"
#include "slice.h"

#include <microhttpd.h>

#define SF_REQ_MAGIC 0x5f4e9e51u

/* A response read from slices (slice.h): the request's obj is slice index of the
 * representation ref describes. Allocated for such a request only (parked clients cost
 * what struct sf_req costs). */
struct sf_route_def;

struct sf_slicing {
    char *key;               /* the request's key, the slices' keys derive from */
    struct sf_slice_ref ref; /* owned */
    uint64_t size;           /* their size */
    uint64_t index;
    bool stored;      /* obj was a stored response when it was looked up */
    bool checked;     /* obj's head was seen to be that slice */
    bool refetched;   /* a stored one that was not that slice was dropped */
    bool cached_only; /* only-if-cached: every slice read is stored, none is fetched */
};

/* A cluster peer's own call on the public listener (peercall.h). */
enum sf_peercall { SF_PEERCALL_NONE, SF_PEERCALL_PURGE, SF_PEERCALL_HEALTH };

struct sf_req {
    unsigned magic;
    atomic_uint refs; /* libmicrohttpd's request + one while a streamed response exists */
    /* What its steps work with, from the front it came in on (which outlives it). */
    struct sf_cache *cache;
    struct sf_upstream *up;
    const atomic_bool *closing;   /* the front answers new requests 503 (sf_front_close) */
    const atomic_bool *draining;  /* the front has begun to stop (peers' health checks) */
    struct sf_listener *listener; /* the one its connection came in on */
    struct sf_snap *snap;         /* the config it arrived under (pinned) */
    struct sf_outbound out;       /* where it goes, and what is sent, under snap */
    struct MHD_Connection *conn;
    struct sf_conn *wire; /* the connection's scanned bytes; NULL if it was never seen */
    uint64_t seq;         /* which request of its connection this is */
    char *target;         /* raw request target, as sent (in r's block, after r: front.c) */
    const struct sf_route_def *route; /* the config's route it takes (route.h), in snap's
                                       * config; NULL: none matched, the top level's */
    struct sf_dest dest;              /* where it goes upstream; url NULL until admitted */
    enum sf_req_step step;            /* the step running, or the one the next call resumes at */
    enum sf_req_step from;            /* the step that ran before it (SF_REQ_NEW: none) */
    const char *xcache;               /* HIT, MISS, COLLAPSED or PASS */
    const char *tier;                 /* a HIT's: "memory" or "disk"; NULL otherwise */
    struct sf_obj *obj;     /* the object read from, with a reference; NULL before dispatch */
    struct sf_obj *found;   /* LOOKUP -> HIT: the stored object, with the lookup's reference */
    bool attached;          /* counted in obj->clients */
    bool leads;             /* WAIT_HEAD -> DELIVER: it leads obj's flight (gets its own fields) */
    bool vary_redispatched; /* left a flight for another variant once already */
    bool shares_head;       /* the flight it joins says its joiners share its head */
    bool no_slices;         /* slices did not fit: fetched whole, its sliced marker dropped */
    bool http11;            /* an HTTP/1.1 request (it may be sent a 100 interim) */
    bool admitted;          /* counted in requests[] (by method) */
    bool outcome_counted;   /* counted once more: by X-Cache, refused or unanswered */
    struct sf_slicing *slices;  /* a response read from slices, or NULL (most requests) */
    enum sf_peercall peer_call; /* a cluster peer's */
    unsigned reject_status;     /* answer this once the content has ended (0: none) */
    const char *reject_text;
    struct sf_waiter w;
    struct sf_reader rd;       /* reads obj for the response, once it is streamed */
    struct sf_reqbody *upload; /* streamed content, a reference; NULL without content */
    uint64_t upload_bytes;     /* content received so far */
    bool uploads;              /* forwarded with its content (CONTENT, UPLOAD) */
    bool synth_close;          /* -> SYNTH: its answer (sf_req_synth) */
    unsigned synth_status;
    const char *synth_text;
    /* For its access log line. */
    bool led;               /* its request caused the upstream fetch of obj */
    unsigned status;        /* the status queued */
    uint64_t start_us;      /* when its request line had arrived (sf_mono_us) */
    uint64_t first_byte_us; /* when its response head was queued; 0: none was */
    uint64_t body_bytes;    /* body of a response made whole (text, stored); see rd.sent */
    char method[16];        /* cut to fit; "" until on_request has seen it */
    char version[12];
    char rid[SF_REQUEST_ID_MAX]; /* sent upstream and back to the client */
};

/* ---- steps ---- */

/* A step's verdict: hand the call back to libmicrohttpd (MHD_YES); its next call runs
 * resume. */
static inline enum sf_req_step sf_req_yield(struct sf_req *r, enum sf_req_step resume)
{
    r->from = r->step;
    r->step = resume;
    return SF_REQ_YIELD;
}

#define SF_REQ_BIT(name) (1u << SF_REQ_##name)
/* A step's entry check: the step before it (r->from) is one of mask's (SF_REQ_BIT |...). */
#define SF_REQ_FROM(r, mask) SF_ASSERT((((mask) >> (r)->from) & 1u) != 0)

/* ---- references ---- */

/* Drops a reference to r; the last frees it. */
void sf_req_unref(struct sf_req *r);
/* A response reader's done (struct sf_reader): drops the reference its response held. */
void sf_req_reader_done(struct sf_reader *rd);

/* ---- the object it reads ---- */

/* Attaches r to o (taking over the caller's reference) as a reader from the start; r leads
 * o's flight with leader. False, with o released, when o's first bytes are gone (it grew
 * past the object limit just as r looked it up) or its fetch is being given up (its last
 * client left just before): r must fetch on its own. */
bool sf_req_attach(struct sf_req *r, struct sf_obj *o, bool leader, const char *xcache);
/* Drops r's attachment to its object; cancels a fetch that nobody needs any more. */
void sf_req_detach(struct sf_req *r);
/* Lets go of r's slices, if it reads any; r reads no object. */
void sf_req_end_slices(struct sf_req *r);

/* ---- what it sends upstream ---- */

/* The request's cache directives (RFC 9111 §5.2.1, §5.4); false when it has none. On a
 * route with cache.ignore_request_directives, only only-if-cached and no-store count. */
bool sf_req_directives(struct sf_req *r, struct sf_req_directives *d);
/* What r sends upstream, with its request id. */
struct sf_fetch_spec *sf_req_spec(struct sf_req *r, const char *method, bool shared);
/* The fetch of o, a new shared flight: GET even for a HEAD, so that the response can
 * serve (and be stored for) both, and conditional when it revalidates a stale response. */
struct sf_fetch_spec *sf_req_shared_spec(struct sf_req *r, struct sf_obj *o);

/* ---- its response ---- */

/* Counts how a request was answered, once, when its response is queued. */
void sf_req_count_outcome(struct sf_req *r);
/* Queues resp (with r's request id) as r's response: -> SENT; NULL (it could not be made)
 * or refused by libmicrohttpd: -> CLOSE. */
enum sf_req_step sf_req_respond(struct sf_req *r, unsigned status, struct MHD_Response *resp);
/* As sf_req_respond, for a response made from object o (a stored or fetched response,
 * not sfproxy's own answer): r's route first changes what the client receives
 * (clientview.h), unless r is a cluster peer's request. o's head is published (its pass
 * flag is set for good), and resp, when not NULL, holds o. */
enum sf_req_step sf_req_respond_object(struct sf_req *r, const struct sf_obj *o, unsigned status,
                                       struct MHD_Response *resp);
/* -> SYNTH, to answer with text (close: the connection closes after it). */
enum sf_req_step sf_req_synth(struct sf_req *r, unsigned status, const char *text, bool close);
/* -> SYNTH for a bad request (counted), the connection closed after the answer. */
enum sf_req_step sf_req_synth_bad(struct sf_req *r, unsigned status, const char *text);
/* -> SYNTH with r's reject_status and reject_text. */
enum sf_req_step sf_req_synth_rejected(struct sf_req *r);

#endif
