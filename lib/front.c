/* front: see front.h.
 *
 * A request's life (struct sf_req, libmicrohttpd's per-request pointer, created in the URI
 * log callback so the raw target is kept):
 *   NEW -> BODY (no content: the next call dispatches)
 *          -> dispatch: HIT (respond from the stored object) | attach to an object and
 *             WAIT_HEAD (parked until its headers are published) -> RESPONDING, where
 *             respond.c's reader copies what the object holds and parks when it has
 *             caught up.
 *   NEW -> UPLOAD (content: the private fetch starts at once and the content is streamed
 *          to it through a struct sf_reqbody, parking while the pipe is full) -> WAIT_HEAD
 *          once the client has sent it all.
 * Parking and waking follow singleflight.c: parking under the object lock, together with
 * the suspend; waking off the list under the lock, the resume after it, by whoever took
 * the waiter off. A request is freed when both libmicrohttpd's completion callback and
 * its response's free callback have let go (refs).
 *
 * Where a request goes and what is sent upstream is outbound.c's; how an object becomes a
 * response is respond.c's.
 *
 * Threads: libmicrohttpd's workers run every callback here; the fetcher only resumes
 * connections (wake_req). Lock order: object lock -> libmicrohttpd; no response is
 * created, queued or destroyed under an object lock. */
#include "front.h"

#include "accesslog.h"
#include "admin.h"
#include "cache.h"
#include "config.h"
#include "conn.h"
#include "fetcher.h"
#include "fetchspec.h"
#include "listener.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "mhdpool.h"
#include "outbound.h"
#include "peerauth.h"
#include "park.h"
#include "pinned.h"
#include "reqbody.h"
#include "respond.h"
#include "singleflight.h"
#include "slice.h"
#include "slicestore.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SF_REQ_MAGIC 0x5f4e9e51u
#define PEER_PURGE "/_sfproxy/purge?"  /* a peer's purge, on the public listener */
#define PEER_HEALTH "/_sfproxy/health" /* a peer's health check, there too */

struct sf_front {
    struct sf_live *live; /* the config in force; each request pins its own */
    struct sf_cache *cache;
    struct sf_upstream *up;
    struct sf_hangup *hangup;
    struct sf_conns *conns;
    struct sf_access_log *access_log; /* lines only while access_log.path is set */
    char loop_token[SF_LOOP_TOKEN_SIZE];
    _Atomic uint16_t self_ports[SF_SELF_PORTS]; /* HTTP, HTTPS, admin (outbound.h) */
    struct sf_listener_slot slots[2]; /* HTTP, HTTPS; with a reload prepared, successors */
    atomic_bool draining;             /* stopping has begun (peers' health checks say so) */
    atomic_bool closing;
    atomic_int active;
};

enum phase { PH_NEW, PH_BODY, PH_UPLOAD, PH_WAIT_HEAD, PH_RESPONDING };

#define UPLOAD_WINDOW (256u << 10)

/* A response read from slices (slice.h): the request's obj is slice index of the
 * representation ref describes. Allocated for such a request only (parked clients cost
 * what struct sf_req costs). */
struct slicing {
    char *key;               /* the request's key, the slices' keys derive from */
    struct sf_slice_ref ref; /* owned */
    uint64_t size;           /* their size */
    uint64_t index;
    bool stored;      /* obj was a stored response when it was looked up */
    bool checked;     /* obj's head was seen to be that slice */
    bool refetched;   /* a stored one that was not that slice was dropped */
    bool cached_only; /* only-if-cached: every slice read is stored, none is fetched */
};

static void free_slicing(struct slicing *s)
{
    if (s == NULL)
        return;
    free(s->key);
    sf_slice_ref_clear(&s->ref);
    free(s);
}

struct sf_req {
    unsigned magic;
    atomic_uint refs; /* libmicrohttpd's request + one while a streamed response exists */
    struct sf_front *front;
    struct sf_listener *listener; /* the one its connection came in on */
    struct sf_snap *snap;         /* the config it arrived under (pinned) */
    struct sf_outbound out;       /* where it goes, and what is sent, under snap */
    struct MHD_Connection *conn;
    struct sf_conn *wire;  /* the connection's scanned bytes; NULL if it was never seen */
    uint64_t seq;          /* which request of its connection this is */
    char *target;          /* raw request target, as sent */
    struct sf_route route; /* where it goes upstream; url NULL until admitted */
    enum phase phase;
    const char *xcache; /* HIT, MISS, COLLAPSED or PASS */
    struct sf_obj *obj; /* the object read from, with a reference; NULL before dispatch */
    bool attached;      /* counted in obj->clients */
    struct sf_waiter w;
    struct sf_reader rd;       /* reads obj for the response, once it is streamed */
    struct sf_reqbody *upload; /* streamed content, a reference; NULL without content */
    uint64_t upload_bytes;     /* content received so far */
    unsigned reject_status;    /* answer this once the content has ended (0: none) */
    const char *reject_text;
    bool vary_redispatched; /* left a flight for another variant once already */
    bool shares_head;       /* the flight it joins says its joiners share its head */
    struct slicing *slices; /* a response read from slices, or NULL (most requests) */
    bool no_slices;         /* slices did not fit: fetched whole, its sliced marker dropped */
    enum { PEER_NONE, PEER_PURGE_CALL, PEER_HEALTH_CALL } peer_call; /* a cluster peer's */
    bool http11;          /* an HTTP/1.1 request (it may be sent a 100 interim) */
    bool admitted;        /* counted in requests[] (by method) */
    bool outcome_counted; /* counted once more: by X-Cache, refused or unanswered */
    /* For its access log line. */
    bool led;               /* its request caused the upstream fetch of obj */
    uint64_t start_us;      /* when its request line had arrived (sf_mono_us) */
    uint64_t first_byte_us; /* when its response head was queued; 0: none was */
    unsigned status;        /* the status queued */
    uint64_t body_bytes;    /* body of a response made whole (text, stored); see rd.sent */
    char method[16];        /* cut to fit; "" until on_request has seen it */
    char version[12];
    char rid[SF_REQUEST_ID_MAX]; /* sent upstream and back to the client */
};

/* ---- small responses ---- */

/* Queues resp with r's request id (NULL: it could not be made, and the connection
 * closes). */
static enum MHD_Result queue(struct sf_req *r, unsigned status, struct MHD_Response *resp)
{
    bool ok = resp != NULL && MHD_add_response_header(resp, "X-Request-Id", r->rid) == MHD_YES;
    if (ok && sf_listener_retired(r->listener)) /* a reload moved the listener: reconnect */
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
    if (ok && (r->route.from_peer || r->peer_call != PEER_NONE)) /* last: it signs the rest */
        ok = sf_peerauth_sign_answer(&r->snap->cfg, r->conn, status, resp);
    if (resp != NULL && !ok) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    if (resp == NULL)
        return MHD_NO;
    r->status = status;
    r->first_byte_us = sf_mono_us();
    sf_metrics_count_status(status);
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->phase = PH_RESPONDING;
    return ret;
}

static enum MHD_Result respond_text(struct sf_req *r, unsigned status, const char *text, bool close)
{
    if (r->admitted && !r->outcome_counted) {
        r->outcome_counted = true;
        SF_COUNT(refused); /* answered by sfproxy itself, not from a response */
    }
    r->body_bytes = strlen(text);
    return queue(r, status, sf_respond_text(text, status, r->xcache, close, r->route.from_peer));
}

static enum MHD_Result respond_bad(struct sf_req *r, unsigned status, const char *text)
{
    SF_COUNT(bad_requests);
    return respond_text(r, status, text, true);
}

/* ---- requests ---- */

static void req_unref(struct sf_req *r)
{
    SF_CHECK_OBJ(r, SF_REQ_MAGIC);
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    SF_ASSERT(r->obj == NULL && !r->w.parked);
    free_slicing(r->slices);
    free(r->target);
    free(r->route.url);
    free(r->route.path);
    sf_snap_unref(r->snap);
    sf_reqbody_unref(r->upload);
    r->magic = 0;
    free(r);
}

/* Runs on: the fetcher thread, with no lock held. r may be freed once resumed. */
static void wake_req(struct sf_waiter *w)
{
    struct sf_req *r = (struct sf_req *)((char *)w - offsetof(struct sf_req, w));
    if (w->gone)
        SF_COUNT(client_hangups);
    MHD_resume_connection(r->conn);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct sf_listener *l = cls;
    struct sf_front *f = l->owner;
    struct sf_req *r = sf_xcalloc(1, sizeof *r);
    r->magic = SF_REQ_MAGIC;
    atomic_init(&r->refs, 1);
    r->front = f;
    r->listener = l;
    r->snap = sf_live_pin(f->live);
    sf_outbound_init(&r->out, r->snap, f->self_ports, f->loop_token);
    r->conn = conn;
    r->wire = sf_conn_of(conn);
    r->seq = r->wire != NULL ? sf_conn_next_request(r->wire) : 0;
    r->target = sf_xstrdup(uri); /* libmicrohttpd edits uri in place after this */
    r->w.wake = wake_req;
    r->w.hangup = f->hangup; /* watched while parked, on an object or its upload's pipe */
    r->w.fd = -1;
    r->start_us = sf_mono_us();
    atomic_fetch_add(&f->active, 1);
    return r;
}

/* Drops r's attachment to its object; cancels a fetch that nobody needs any more. */
static void detach(struct sf_req *r)
{
    struct sf_obj *o = r->obj;
    if (o == NULL)
        return;
    bool cancel = false, resume_fetch = false;
    if (r->attached) {
        sf_obj_lock(o);
        resume_fetch = sf_obj_detach(o, &r->w);
        if (o->leader == r)
            o->leader = NULL;
        /* The fetcher re-checks when it gets to it: a client may attach meanwhile. */
        cancel = o->clients == 0 && !sf_obj_worth_finishing(o) &&
                 (o->state == SF_OBJ_PENDING || o->state == SF_OBJ_STREAMING);
        sf_obj_unlock(o);
        r->attached = false;
    }
    if (cancel)
        sf_upstream_cancel(r->front->up, o);
    else if (resume_fetch)
        sf_upstream_unpause(r->front->up, o);
    r->obj = NULL;
    sf_obj_unref(o);
}

/* r's histograms, once it has ended. */
static void observe(const struct sf_req *r, uint64_t now_us)
{
    const char *xcache = r->first_byte_us != 0 ? r->xcache : NULL;
    enum sf_outcome outcome = sf_metrics_outcome(xcache);
    sf_metrics_observe_us(&sf_metrics.request_seconds[outcome], (int64_t)(now_us - r->start_us));
    if (outcome == SF_OUT_COLLAPSED)
        sf_metrics_observe_us(&sf_metrics.collapsed_wait_seconds,
                              (int64_t)(r->first_byte_us - r->start_us));
}

/* r's histograms and access log line, once it has ended (completed: its response was
 * sent whole). A request whose head never reached on_request has neither: the connection
 * was cut mid-head, or conn.c refused the head (and logged it) before libmicrohttpd
 * parsed it. */
static void account(struct sf_req *r, bool completed)
{
    if (r->method[0] == '\0')
        return;
    uint64_t now_us = sf_mono_us();
    observe(r, now_us);
    if (!sf_access_log_on(r->front->access_log))
        return;
    char client[INET6_ADDRSTRLEN];
    sf_outbound_client_addr(r->conn, client, sizeof client);
    const struct sf_obj *o = r->rd.obj; /* streamed from (the last slice read), or NULL */
    bool streamed = r->rd.done != NULL;
    bool head = strcmp(r->method, "HEAD") == 0;
    bool upstream = r->led && o != NULL && o->upstream_status != 0;
    struct sf_access_entry e = {
        .client = client,
        .time_s = sf_wall_s(),
        .method = r->method,
        .target = r->target,
        .version = r->version,
        .status = r->status,
        .body_bytes = head       ? 0
                      : streamed ? r->rd.sent
                                 : r->body_bytes,
        .referer = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Referer"),
        .user_agent = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "User-Agent"),
        .cache = r->first_byte_us != 0 ? r->xcache : NULL,
        .request_id = r->rid,
        .first_byte_us = r->first_byte_us != 0 ? (int64_t)(r->first_byte_us - r->start_us) : -1,
        .duration_us = (int64_t)(now_us - r->start_us),
        .upstream_status = upstream ? o->upstream_status : 0,
        .upstream_ttfb_us = upstream ? o->upstream_ttfb_us : -1,
        .completed = completed,
    };
    sf_access_log_write(r->front->access_log, &e);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sf_listener *l = cls;
    struct sf_front *f = l->owner;
    struct sf_req *r = *con_cls;
    (void)conn;
    if (r == NULL)
        return;
    if (r->wire != NULL)
        sf_conn_request_done(r->wire, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (r->admitted && !r->outcome_counted)
        SF_COUNT(unanswered); /* the client left, or the connection was cut, before */
    account(r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->status != 0);
    detach(r);
    *con_cls = NULL;
    atomic_fetch_sub(&f->active, 1);
    req_unref(r);
}

/* ---- responses from objects ---- */

static void reader_done(struct sf_reader *rd)
{
    req_unref((struct sf_req *)((char *)rd - offsetof(struct sf_req, rd)));
}

/* Counts how a request was answered, once, when its response is queued. */
static void count_outcome(struct sf_req *r)
{
    r->outcome_counted = true;
    if (strcmp(r->xcache, "REVALIDATED") == 0)
        SF_COUNT(revalidated);
    else if (strcmp(r->xcache, "STALE") == 0)
        SF_COUNT(stale);
    else if (strcmp(r->xcache, "MISS") == 0)
        SF_COUNT(misses);
    else if (strcmp(r->xcache, "COLLAPSED") == 0)
        SF_COUNT(collapsed);
    else if (strcmp(r->xcache, "PASS") == 0)
        SF_COUNT(passes);
    else
        SF_COUNT(hits);
}

/* Answers r from its object as the body arrives; the leader also gets the fields that
 * were withheld from everyone else. */
static enum MHD_Result respond_stream(struct sf_req *r, bool leader, const char *method)
{
    struct sf_obj *o = r->obj;
    if (o->revalidated)
        r->xcache = "REVALIDATED"; /* the stored response, confirmed by the origin */
    else if (o->served_stale)
        r->xcache = "STALE"; /* the stored response, standing in for a failed origin */
    count_outcome(r);
    bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (safe && !o->served_stale && sf_respond_unchanged_for(o, false, r->conn))
        /* A conditional request the response just received (or refreshed) satisfies:
         * 304, no body (a cluster peer revalidating its copy through its owner, a
         * browser's reload). */
        return queue(r, MHD_HTTP_NOT_MODIFIED, sf_respond_unchanged(o, r->xcache));
    r->rd = (struct sf_reader){
        .obj = o, .w = &r->w, .conn = r->conn, .up = r->front->up, .done = reader_done};
    r->rd.peer_secret = r->route.from_peer ? r->snap->cfg.cluster_secret : NULL; /* respond.h */
    atomic_fetch_add(&r->refs, 1); /* until reader_done */
    /* A stale response standing in for a failed origin is as old as the cache says. */
    unsigned status;
    struct MHD_Response *resp = sf_respond_streamed(
        &r->rd, method, r->xcache, leader ? &o->own_hdrs : NULL, o->served_stale, &status);
    return queue(r, status, resp);
}

/* Serves a stored object (HIT, or STALE while it is refreshed). Takes over the lookup's
 * reference. */
static enum MHD_Result respond_hit(struct sf_req *r, struct sf_obj *o, const char *method)
{
    count_outcome(r);
    if (sf_pinned_watch_hit(o, &r->w)) { /* charged if evicted while sent (pinned.h) */
        r->obj = sf_obj_ref(o);
        r->attached = true;
    }
    unsigned status;
    const char *peer = r->route.from_peer ? r->snap->cfg.cluster_secret : NULL; /* respond.h */
    struct MHD_Response *resp =
        sf_respond_stored(o, r->conn, method, r->xcache, peer, &status, &r->body_bytes);
    return queue(r, status, resp);
}

/* ---- dispatch ---- */

static enum MHD_Result wait_head(struct sf_req *r, const char *method);

/* Attaches r to o (taking over the caller's reference) as a reader from the start. False,
 * with o released, when o's first bytes are gone (it grew past the object limit just as
 * r looked it up) or its fetch is being given up (its last client left just before):
 * r must fetch on its own. */
static bool attach(struct sf_req *r, struct sf_obj *o, bool leader, const char *xcache)
{
    /* A 103 was built for the leader's request. A follower's final response may be
     * another variant (what it varies on is not known yet) unless the flight says its
     * joiners share its head (sf_obj.head_shared): only then may a follower have hints. */
    r->w.hints = leader || r->shares_head;
    r->shares_head = false;
    sf_obj_lock(o);
    bool ok = sf_obj_attach(o, &r->w);
    if (ok && leader)
        o->leader = r;
    sf_obj_unlock(o);
    if (!ok) {
        sf_obj_unref(o);
        return false;
    }
    r->obj = o;
    r->attached = true;
    r->xcache = xcache;
    r->led = leader;
    return true;
}

/* Makes the fetch conditional on the expired response's validators (RFC 9111 §4.3.1), so
 * that an unchanged response comes back as a 304 without its body. */
static void add_validators(struct sf_fetch_spec *spec, const struct sf_obj *stale)
{
    const char *etag = sf_hdrs_get(&stale->hdrs, "ETag");
    const char *modified = sf_hdrs_get(&stale->hdrs, "Last-Modified");
    if (etag != NULL)
        sf_hdrs_add(&spec->hdrs, "If-None-Match", etag);
    if (modified != NULL)
        sf_hdrs_add(&spec->hdrs, "If-Modified-Since", modified);
}

/* What r sends upstream, with its request id. */
static struct sf_fetch_spec *build_spec(struct sf_req *r, const char *method, bool shared)
{
    struct sf_fetch_spec *spec =
        sf_outbound_spec(&r->out, r->conn, method, &r->route, shared, r->upload);
    sf_hdrs_add(&spec->hdrs, "X-Request-Id", r->rid);
    spec->snap = sf_snap_ref(r->snap);
    return spec;
}

/* The fetch of a new shared flight: GET even for a HEAD, so that the response can serve
 * (and be stored for) both, and conditional when it revalidates a stale response. */
static struct sf_fetch_spec *shared_spec(struct sf_req *r, struct sf_obj *o)
{
    struct sf_fetch_spec *spec = build_spec(r, "GET", true);
    /* The lookup that listed o on this thread set its stale; nothing takes it back before
     * o's fetch has failed or been given up. */
    if (o->stale != NULL) {
        add_validators(spec, o->stale);
        spec->stale = sf_obj_ref(o->stale);
    }
    return spec;
}

static void submit_shared(struct sf_req *r, struct sf_obj *o)
{
    struct sf_fetch_spec *spec = shared_spec(r, o);
    sf_upstream_submit(r->front->up, o, &spec);
}

/* Starts the fetch of o, a new flight for slice index of r's sliced response: its own
 * bytes only (a Range of sfproxy's, which the origin's 206 must match, slice.h). */
static void submit_slice(struct sf_req *r, struct sf_obj *o, uint64_t index)
{
    struct sf_fetch_spec *spec = shared_spec(r, o);
    uint64_t first, last;
    bool exists = sf_slice_bytes(index, r->slices->size, r->slices->ref.total, &first, &last);
    SF_ASSERT(exists);
    char range[48];
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)first,
             (unsigned long long)last);
    sf_hdrs_add(&spec->hdrs, "Range", range);
    spec->slice = true;
    spec->slice_first = first;
    SF_COUNT(slice_fetches);
    sf_upstream_submit(r->front->up, o, &spec);
}

/* The cache key of r (a GET or HEAD): see sf_outbound_key. Caller frees. */
static char *request_key(struct sf_req *r)
{
    return sf_outbound_key(&r->out, r->conn, &r->route);
}

/* Sends the request upstream on an object of its own (pass-through). */
static void start_private(struct sf_req *r, const char *method)
{
    struct sf_front *f = r->front;
    struct sf_obj *o = sf_obj_new(NULL);
    bool attached = attach(r, o, true, "PASS");
    SF_ASSERT(attached); /* nobody else has o: it cannot be trimmed or dropped yet */
    struct sf_fetch_spec *spec = build_spec(r, method, false);
    if (strcmp(method, "HEAD") == 0 ||
        (strcmp(method, "POST") == 0 && r->snap->cfg.store_post_responses))
        spec->get_key = request_key(r); /* its response may update or be the stored GET */
    sf_upstream_submit(f->up, o, &spec);
}

static enum MHD_Result fetch_private(struct sf_req *r, const char *method)
{
    start_private(r, method);
    return wait_head(r, method);
}

/* The request's cache directives (RFC 9111 §5.2.1, §5.4); false when it has none. */
static bool request_directives(struct sf_req *r, struct sf_req_directives *d)
{
    char *cc = sf_request_field(r->conn, "Cache-Control");
    const char *pragma = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Pragma");
    if (cc == NULL && pragma == NULL)
        return false;
    sf_policy_request_directives(cc, pragma, d);
    free(cc);
    return true;
}

/* Whether r selects the variant o's response is for (RFC 9111 §4.1); o's head is
 * published. */
static bool selects_variant(struct sf_req *r, const struct sf_obj *o)
{
    if (o->vary_names == NULL)
        return true;
    struct sf_shared_view view = {&r->out, r->conn};
    char *mine =
        sf_policy_variant(o->vary_names, &(struct sf_fields){sf_outbound_shared_field, &view});
    bool same = strcmp(mine, o->variant) == 0;
    free(mine);
    return same;
}

static enum MHD_Result fetch_sliced(struct sf_req *r, const char *method, char *key,
                                    struct sf_slice_ref *ref);

static enum MHD_Result fetch_shared(struct sf_req *r, const char *method)
{
    struct sf_front *f = r->front;
    struct sf_req_directives d;
    bool has_directives = request_directives(r, &d);
    char *key = request_key(r);
    struct sf_shared_view view = {&r->out, r->conn};
    struct sf_fields fields = {sf_outbound_shared_field, &view};
    struct sf_slice_ref sliced = {0};
    struct sf_query q = {key, has_directives ? &d : NULL, &fields, r->no_slices ? NULL : &sliced};
    struct sf_obj *o;
    struct sf_obj *refresh;
    enum sf_lookup kind = sf_cache_lookup(f->cache, &q, sf_now_ms(), &o, &refresh);
    if (kind == SF_LOOKUP_SLICED)
        return fetch_sliced(r, method, key, &sliced);
    r->shares_head = kind == SF_LOOKUP_JOIN && o->head_shared;
    free(key);
    switch (kind) {
    case SF_LOOKUP_STALE:
        if (refresh != NULL) {
            /* Serve the stale response now; refresh it in the background (RFC 5861 §3). */
            SF_COUNT(stale_while_revalidate);
            submit_shared(r, refresh);
            sf_obj_unref(refresh);
        }
        r->xcache = "STALE";
        return respond_hit(r, o, method);
    case SF_LOOKUP_HIT: r->xcache = "HIT"; return respond_hit(r, o, method);
    case SF_LOOKUP_PASS: return fetch_private(r, method);
    case SF_LOOKUP_JOIN:
        if (!attach(r, o, false, "COLLAPSED"))
            return fetch_private(r, method);
        return wait_head(r, method);
    case SF_LOOKUP_NONE:
        if (has_directives && d.only_if_cached) {
            r->xcache = "MISS";
            return respond_text(r, MHD_HTTP_GATEWAY_TIMEOUT,
                                "only-if-cached: no stored response fits this request\n", false);
        }
        return fetch_private(r, method); /* no-store: its response is nobody else's */
    case SF_LOOKUP_MISS: break;
    case SF_LOOKUP_SLICED: SF_ASSERT(!"handled above");
    }
    bool attached = attach(r, o, true, "MISS");
    SF_ASSERT(attached); /* a new flight, not yet submitted: nothing trims or drops it */
    submit_shared(r, o);
    return wait_head(r, method);
}

/* ---- responses kept in slices (slice.h) ---- */

/* Lets go of r's slices, if it reads any; r reads no object. */
static void end_slices(struct sf_req *r)
{
    SF_ASSERT(r->obj == NULL);
    free_slicing(r->slices);
    r->slices = NULL;
}

/* Attaches r to slice index of its sliced response: stored (fresh, or stale while it is
 * refreshed), in flight, or a new flight. False when the cache will not share it (a
 * slice's response was one user's, or the request's directives forbid a shared fetch):
 * r then reads no object. r's X-Cache is the first slice's. */
static bool open_slice(struct sf_req *r, uint64_t index)
{
    struct sf_front *f = r->front;
    struct sf_req_directives d;
    bool has_directives = request_directives(r, &d);
    char *key = sf_slice_key(r->slices->key, r->slices->size, index);
    struct sf_query q = {key, has_directives ? &d : NULL, NULL, NULL};
    struct sf_obj *o, *refresh;
    enum sf_lookup kind = sf_cache_lookup(f->cache, &q, sf_now_ms(), &o, &refresh);
    free(key);
    const char *xcache = r->xcache;
    bool ok = false;
    switch (kind) {
    case SF_LOOKUP_STALE:
        if (refresh != NULL) {
            SF_COUNT(stale_while_revalidate);
            submit_slice(r, refresh, index);
            sf_obj_unref(refresh);
        }
        ok = attach(r, o, false, "STALE");
        break;
    case SF_LOOKUP_HIT: ok = attach(r, o, false, "HIT"); break;
    case SF_LOOKUP_JOIN: ok = attach(r, o, false, "COLLAPSED"); break;
    case SF_LOOKUP_MISS:
        ok = attach(r, o, true, "MISS");
        if (ok)
            submit_slice(r, o, index);
        break;
    case SF_LOOKUP_PASS:
    case SF_LOOKUP_NONE:
    case SF_LOOKUP_SLICED: break;
    }
    if (r->phase == PH_RESPONDING)
        r->xcache = xcache; /* the response's head said what the first slice was */
    if (index != r->slices->index)
        r->slices->refetched = false;
    r->slices->index = index;
    r->slices->stored = kind == SF_LOOKUP_HIT || kind == SF_LOOKUP_STALE;
    r->slices->checked = false;
    return ok;
}

enum slice_check { SLICE_FITS, SLICE_REFETCH, SLICE_CHANGED };

/* Whether r's object, a published slice, is the slice of the representation r reads
 * (RFC 9111 §3.4: only parts with the same strong validator combine). A stored one that
 * is not is dropped, once, to be fetched again; one fetched now that is not means the
 * representation changed (or the origin ignored the Range). */
static enum slice_check check_slice(struct sf_req *r)
{
    struct sf_obj *o = r->obj;
    if (sf_slice_fits(&r->slices->ref, r->slices->size, r->slices->index, o->status, &o->hdrs,
                      o->content_length)) {
        r->slices->checked = true;
        return SLICE_FITS;
    }
    if (!r->slices->stored || r->slices->refetched)
        return SLICE_CHANGED;
    r->slices->refetched = true;
    sf_cache_unlist(r->front->cache, o);
    return SLICE_REFETCH;
}

/* The slices r reads are not of one representation: its key is served whole again. */
static void slices_changed(struct sf_req *r)
{
    sf_log_debug("slices of %s changed: the next request fetches it whole", r->slices->key);
    sf_cache_drop_sliced(r->front->cache, r->slices->key, &r->slices->ref);
}

/* Starts reading r's sliced response (the representation ref describes; its key, both
 * taken over) at the slice that holds the first byte it asks for. */
static enum MHD_Result fetch_sliced(struct sf_req *r, const char *method, char *key,
                                    struct sf_slice_ref *ref)
{
    end_slices(r);
    r->slices = sf_xcalloc(1, sizeof *r->slices);
    r->slices->key = key;
    r->slices->ref = *ref;
    r->slices->size = sf_config_slice_bytes(&r->snap->cfg);
    struct sf_ranges ranges;
    uint64_t first = 0;
    if (r->slices->size > 0 && strcmp(method, "GET") == 0 &&
        sf_http_ranges_parse(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Range"),
                             ref->total, &ranges) == SF_RANGE_ONE)
        first = ranges.first[0];
    struct sf_req_directives d;
    r->slices->cached_only = request_directives(r, &d) && d.only_if_cached;
    if (r->slices->cached_only &&
        !sf_slicestore_covers(r->front->cache, key, r->slices->size, &r->slices->ref, method,
                              MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Range"),
                              MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-Range"), &d,
                              sf_now_ms()))
        r->slices->size = 0; /* a slice it needs is not stored: 504, as for a whole key */
    if (r->slices->size == 0 || !open_slice(r, first / r->slices->size)) {
        /* Slices turned off by a reload, or not to be shared: the whole response. */
        detach(r);
        end_slices(r);
        r->no_slices = true;
        return fetch_shared(r, method);
    }
    return wait_head(r, method);
}

/* Starts the fetch of the slice after r's, when r's response reaches into it and it is
 * neither stored nor in flight: read-ahead, so that a client reading on finds it coming
 * (one slice at most, fetched for the cache: nobody is attached to it). */
static void read_ahead(struct sf_req *r)
{
    uint64_t first, last;
    uint64_t index = r->slices->index + 1;
    if (r->rd.count == 0 || r->slices->cached_only ||
        !sf_slice_bytes(index, r->slices->size, r->slices->ref.total, &first, &last) ||
        first > r->rd.first + r->rd.count - 1)
        return;
    char *key = sf_slice_key(r->slices->key, r->slices->size, index);
    struct sf_query q = {key, NULL, NULL, NULL};
    struct sf_obj *o;
    if (sf_cache_lookup(r->front->cache, &q, sf_now_ms(), &o, NULL) == SF_LOOKUP_MISS)
        submit_slice(r, o, index);
    sf_obj_unref(o);
    free(key);
}

/* Answers r from its first slice, published: the response's head from its fields, the
 * body read across the slices by slice_advance. */
static bool slice_advance(struct sf_reader *rd, uint64_t at);

static enum MHD_Result respond_sliced(struct sf_req *r, const char *method)
{
    switch (check_slice(r)) {
    case SLICE_FITS: break;
    case SLICE_REFETCH:
        detach(r);
        if (open_slice(r, r->slices->index))
            return wait_head(r, method);
        /* fall through */
    case SLICE_CHANGED:
        slices_changed(r);
        detach(r);
        end_slices(r);
        r->no_slices = true;
        return fetch_shared(r, method);
    }
    struct sf_obj *o = r->obj;
    count_outcome(r);
    bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (safe && sf_respond_unchanged_for(o, true, r->conn))
        return queue(r, MHD_HTTP_NOT_MODIFIED, sf_respond_unchanged(o, r->xcache));
    uint64_t first, last;
    sf_slice_bytes(r->slices->index, r->slices->size, r->slices->ref.total, &first, &last);
    r->rd = (struct sf_reader){.obj = o,
                               .w = &r->w,
                               .conn = r->conn,
                               .up = r->front->up,
                               .base = first,
                               .advance = slice_advance,
                               .done = reader_done};
    r->rd.peer_secret = r->route.from_peer ? r->snap->cfg.cluster_secret : NULL; /* respond.h */
    atomic_fetch_add(&r->refs, 1); /* until reader_done */
    unsigned status;
    struct MHD_Response *resp =
        sf_respond_sliced(&r->rd, method, r->xcache, r->slices->ref.total, &status);
    if (resp != NULL && strcmp(method, "GET") == 0)
        read_ahead(r);
    return queue(r, status, resp);
}

/* rd's advance for a sliced response (sf_reader): moves to the slice that holds byte at,
 * and checks each slice once its head is there. */
static bool slice_advance(struct sf_reader *rd, uint64_t at)
{
    struct sf_req *r = (struct sf_req *)((char *)rd - offsetof(struct sf_req, rd));
    uint64_t first, last;
    sf_slice_bytes(r->slices->index, r->slices->size, r->slices->ref.total, &first, &last);
    if (at < first || at > last) {
        detach(r);
        bool opened = open_slice(r, at / r->slices->size);
        rd->obj = r->obj; /* NULL when not: nothing more is read */
        if (!opened)
            return false;
        sf_slice_bytes(r->slices->index, r->slices->size, r->slices->ref.total, &first, &last);
        rd->seg_hint = 0;
        read_ahead(r);
    }
    rd->base = first;
    if (r->slices->checked)
        return true;
    struct sf_obj *o = r->obj;
    sf_obj_lock(o);
    bool published = o->state == SF_OBJ_STREAMING || o->state == SF_OBJ_COMPLETE;
    sf_obj_unlock(o);
    if (!published)
        return true; /* the reader parks for its head, or ends with the failure */
    switch (check_slice(r)) {
    case SLICE_FITS: return true;
    case SLICE_REFETCH: {
        detach(r);
        bool opened = open_slice(r, r->slices->index);
        rd->obj = r->obj;
        rd->seg_hint = 0;
        if (opened)
            return true;
    }
        /* fall through */
    case SLICE_CHANGED: slices_changed(r); return false;
    }
    return false;
}

/* Parks until the object's headers exist, then answers from it. Called at dispatch and
 * again each time libmicrohttpd resumes the connection. */
static enum MHD_Result wait_head(struct sf_req *r, const char *method)
{
    struct sf_obj *o = r->obj;
    sf_obj_lock(o);
    if (r->w.gone || r->w.shed) {
        sf_obj_unlock(o);
        return MHD_NO;
    }
    /* Nothing sent yet: the hangup watch may write a 100 (never into a TLS stream). */
    r->w.probe = r->http11 && !sf_conn_is_tls(r->wire);
    if (o->state == SF_OBJ_PENDING && !sf_obj_catch_up_interim(o, &r->w)) {
        sf_obj_unlock(o);
        return MHD_NO; /* its socket took part of a 103: the stream is broken */
    }
    if (o->state == SF_OBJ_PENDING && sf_obj_park(o, &r->w)) {
        MHD_suspend_connection(r->conn);
        sf_obj_unlock(o);
        r->phase = PH_WAIT_HEAD;
        return MHD_YES;
    }
    if (o->state == SF_OBJ_PENDING) {
        sf_obj_unlock(o);
        return respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n", true);
    }
    bool leader = o->leader == r;
    bool follower = o->shared && !leader;
    bool redispatch = o->pass && follower;
    enum sf_fail fail = o->fail;
    bool no_head = o->state == SF_OBJ_FAILED && fail != SF_FAIL_TRUNCATED;
    sf_obj_unlock(o);
    if (redispatch) {
        /* The response is one user's: this waiter goes upstream on its own. */
        detach(r);
        end_slices(r);
        return fetch_private(r, method);
    }
    if (follower && !no_head && !selects_variant(r, o)) {
        /* A variant for other request fields: look again, now that the cache knows what
         * responses vary on. Once only, should the origin keep changing its Vary. */
        SF_COUNT(vary_redispatches);
        detach(r);
        end_slices(r);
        if (r->vary_redispatched)
            return fetch_private(r, method);
        r->vary_redispatched = true;
        return fetch_shared(r, method);
    }
    if (no_head) {
        count_outcome(r);
        if (fail == SF_FAIL_TIMEOUT)
            return respond_text(r, MHD_HTTP_GATEWAY_TIMEOUT, "upstream timed out\n", false);
        if (fail == SF_FAIL_CANCELLED)
            return respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n", true);
        if (fail == SF_FAIL_FORBIDDEN)
            return respond_text(r, MHD_HTTP_FORBIDDEN,
                                "the destination resolves to an address that is not allowed "
                                "(forward_proxy.allow)\n",
                                false);
        return respond_text(r, MHD_HTTP_BAD_GATEWAY, "upstream unreachable\n", false);
    }
    if (r->slices != NULL)
        return respond_sliced(r, method);
    return respond_stream(r, leader, method);
}

/* Sets r->route (where it is fetched upstream) and returns true, or sets r->reject_status
 * and reject_text and returns false. Counts the request. */
static bool admit(struct sf_req *r, const char *method)
{
    SF_COUNT(requests[sf_metrics_method_class(method)]);
    r->admitted = true;
    if (strcmp(method, "CONNECT") == 0) {
        r->reject_status = MHD_HTTP_NOT_IMPLEMENTED;
        r->reject_text = "CONNECT tunnels are not supported\n";
    } else if (atomic_load(&r->front->closing)) {
        r->reject_status = MHD_HTTP_SERVICE_UNAVAILABLE;
        r->reject_text = "shutting down\n";
        /* A peer's: its 503 is signed, so that the peer asks the next node at once. */
        r->route.from_peer = sf_outbound_from_peer(&r->out, r->conn, method, r->target);
    } else {
        /* Max-Forwards: 0 on TRACE or OPTIONS ends here, whatever the target ("*" too). */
        r->reject_status = sf_outbound_final_answer(r->conn, method, &r->reject_text);
        if (r->reject_status == 0)
            r->reject_status =
                sf_outbound_route(&r->out, r->conn, method, r->target, &r->route, &r->reject_text);
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->w.fd = ci ? ci->connect_fd : -1;
    return r->reject_status == 0;
}

static enum MHD_Result respond_rejected(struct sf_req *r)
{
    if (r->reject_status == MHD_HTTP_SERVICE_UNAVAILABLE)
        return respond_text(r, r->reject_status, r->reject_text, true);
    if (r->reject_status == MHD_HTTP_OK) /* an OPTIONS answered here; see begin_upload */
        return respond_text(r, r->reject_status, r->reject_text, r->phase == PH_UPLOAD);
    return respond_bad(r, r->reject_status, r->reject_text);
}

static enum MHD_Result dispatch(struct sf_req *r, const char *method)
{
    if (!admit(r, method))
        return respond_rejected(r);
    if (sf_outbound_looped(&r->out, r->conn))
        return respond_bad(r, 508,
                           "this request has passed through this sfproxy already (a "
                           "loop: CDN-Loop)\n");
    if (r->route.peer_ranked_before) {
        /* The asking node's list and this one's disagree: on its own, never joined to a
         * flight here that may wait on the asker in turn (peerhop.h). */
        static struct sf_ratelimit lists_differ;
        SF_COUNT(peer_lists_disagree);
        sf_log_limited(&lists_differ, 10000, SF_LOG_WARN,
                       "cluster: a peer asked this node for a key its own cluster.peers "
                       "puts the asker ahead for: the nodes' peer lists differ; fetched "
                       "alone (give every node the same list)");
        return fetch_private(r, method);
    }
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return fetch_shared(r, method);
    return fetch_private(r, method);
}

/* Whether r is a cluster peer's own call on the public listener, signed: a purge
 * (admin.c's fan-out) or a health check (peers.c's probe). Anything else at those paths,
 * or unsigned, is an ordinary request. */
static int peer_call(struct sf_req *r, const char *method, bool content)
{
    if (content || r->snap->cfg.cluster_self == NULL)
        return PEER_NONE;
    bool purge =
        strcmp(method, "POST") == 0 && strncmp(r->target, PEER_PURGE, strlen(PEER_PURGE)) == 0;
    bool health = strcmp(method, "GET") == 0 && strcmp(r->target, PEER_HEALTH) == 0;
    if (!purge && !health)
        return PEER_NONE;
    r->route.peer_checked = true; /* once: a second check would count a replay twice */
    if (!sf_outbound_from_peer(&r->out, r->conn, method, r->target))
        return PEER_NONE;
    return purge ? PEER_PURGE_CALL : PEER_HEALTH_CALL;
}

/* A peer's health check: 200 while this node serves, 503 (with SF_DRAINING_FIELD) once it
 * has begun to stop. */
static enum MHD_Result health_for_peer(struct sf_req *r)
{
    bool stopping = atomic_load(&r->front->draining);
    const char *text = stopping ? "draining\n" : "ok\n";
    unsigned status = stopping ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
    r->body_bytes = strlen(text);
    return queue(r, status, sf_respond_text(text, status, NULL, false, false));
}

/* A cluster peer's signed purge (admin.c sends it to every peer): carried out on this
 * node's cache alone, never sent on. */
static enum MHD_Result purge_for_peer(struct sf_req *r)
{
    unsigned status;
    struct MHD_Response *resp =
        sf_admin_purge_here(r->front->cache, &r->snap->cfg, r->conn, &status, &r->body_bytes);
    return queue(r, status, resp);
}

/* ---- request content ---- */

static void suspend_req(struct sf_waiter *w)
{
    struct sf_req *r = (struct sf_req *)((char *)w - offsetof(struct sf_req, w));
    MHD_suspend_connection(r->conn);
}

static void reject_too_big(struct sf_req *r)
{
    r->reject_status = MHD_HTTP_CONTENT_TOO_LARGE;
    r->reject_text = "request content is larger than max_request_body_bytes\n";
}

/* Content is coming: decide now whether it can be forwarded, and start the fetch so that
 * it streams upstream as it arrives. A refusal is answered at once, from the head: the
 * client need not send what is refused (and gets no 100 Continue), and the connection
 * closes after the answer. */
static enum MHD_Result begin_upload(struct sf_req *r, const char *method, const char *length)
{
    const struct sf_config *cfg = &r->snap->cfg;
    int64_t declared = -1;
    if (length != NULL) {
        char *end;
        long long n = strtoll(length, &end, 10);
        declared = *end == '\0' && n >= 0 ? n : -1;
    }
    r->phase = PH_UPLOAD;
    if (!admit(r, method))
        return respond_rejected(r);
    if (declared >= 0 && (uint64_t)declared > cfg->max_request_body_bytes) {
        reject_too_big(r);
        return respond_rejected(r);
    }
    r->upload = sf_reqbody_new(UPLOAD_WINDOW, declared);
    start_private(r, method);
    return MHD_YES;
}

/* Passes a piece of content on; may park the connection while the pipe is full. */
static void upload_piece(struct sf_req *r, const char *data, size_t *size)
{
    if (r->reject_status != 0 || r->upload == NULL) {
        *size = 0; /* refused past the limit mid-way: read and drop, then answer */
        return;
    }
    if (sf_conn_body_bad(r->wire, r->seq)) {
        /* The chunked framing broke (conn.h): the connection is ending; the upstream
         * request must not end as if the body were whole. */
        sf_reqbody_close(r->upload);
        *size = 0;
        return;
    }
    if (r->upload_bytes + *size > r->snap->cfg.max_request_body_bytes) {
        reject_too_big(r);
        sf_reqbody_close(r->upload); /* the transfer aborts: it would be incomplete */
        *size = 0;
        return;
    }
    size_t taken;
    bool parked, reader_waiting;
    enum sf_reqbody_write st = sf_reqbody_write(r->upload, data, *size, &taken, &r->w, suspend_req,
                                                &parked, &reader_waiting);
    if (reader_waiting)
        sf_upstream_unpause(r->front->up, r->obj);
    r->upload_bytes += taken;
    if (st == SF_REQBODY_CLOSED || !parked) {
        *size = 0; /* all taken, or the transfer ended and wants no more */
        return;
    }
    *size -= taken; /* the rest is offered again after the resume */
}

/* All content received: let the transfer see its end, then wait for the response. */
static enum MHD_Result end_upload(struct sf_req *r, const char *method)
{
    if (r->reject_status != 0) {
        detach(r); /* a transfer cut short by the limit has nobody left */
        return respond_rejected(r);
    }
    int64_t declared = sf_reqbody_declared_len(r->upload);
    if (sf_conn_body_bad(r->wire, r->seq) ||
        (declared >= 0 && r->upload_bytes != (uint64_t)declared)) {
        /* Not the body its head announced: abort upstream rather than end it. */
        sf_reqbody_close(r->upload);
        detach(r);
        return respond_bad(r, MHD_HTTP_BAD_REQUEST,
                           "the request content is not what its "
                           "head announced\n");
    }
    if (sf_reqbody_finish(r->upload))
        sf_upstream_unpause(r->front->up, r->obj);
    return wait_head(r, method);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct sf_req *r = *con_cls;
    (void)cls;
    SF_CHECK_OBJ(r, SF_REQ_MAGIC);
    SF_ASSERT(r->conn == conn);
    switch (r->phase) {
    case PH_NEW: {
        r->http11 = strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->version, sizeof r->version, "%s", version);
        sf_access_request_id(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id"),
                             r->rid);
        const char *why;
        unsigned bad = sf_conn_head_verdict(r->wire, r->seq, &why);
        if (bad != 0)
            return respond_bad(r, bad, why); /* nothing of it is forwarded; the connection
                                              * closes, and whatever followed is not read */
        /* The scanner accepted the head, so it is framed by one Content-Length line, or by
         * "Transfer-Encoding: chunked", or by neither; never both. */
        const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        bool chunked = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
        bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        bool content = chunked || (length != NULL && strtoull(length, NULL, 10) > 0);
        if (content && strcmp(method, "HEAD") == 0)
            return respond_bad(r, MHD_HTTP_BAD_REQUEST, "a HEAD request cannot carry content\n");
        r->peer_call = peer_call(r, method, content);
        if (r->peer_call != PEER_NONE) {
            r->phase = PH_BODY;
            return MHD_YES;
        }
        /* A GET with "Content-Length: 0" still goes through the cache; any other method
         * forwards even an empty body's length. */
        if (content || (length != NULL && !safe))
            return begin_upload(r, method, length);
        r->phase = PH_BODY;
        return MHD_YES; /* respond on a later call, or keep-alive is lost */
    }
    case PH_BODY:
        return r->peer_call == PEER_PURGE_CALL    ? purge_for_peer(r)
               : r->peer_call == PEER_HEALTH_CALL ? health_for_peer(r)
                                                  : dispatch(r, method);
    case PH_UPLOAD:
        if (*upload_data_size > 0) {
            upload_piece(r, upload_data, upload_data_size);
            return MHD_YES;
        }
        return end_upload(r, method);
    case PH_WAIT_HEAD:
        /* Resumed: the headers are here, or the client left, or we must re-dispatch. */
        return wait_head(r, method);
    case PH_RESPONDING: break;
    }
    (void)url;
    return MHD_YES;
}

/* ---- connections ---- */

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    struct sf_listener *l = cls;
    struct sf_front *f = l->owner;
    (void)addr;
    (void)len;
    if (!sf_conns_admit(f->conns)) {
        SF_COUNT(connections_refused);
        return MHD_NO; /* closed at once: the client sees the refusal now, not a hang */
    }
    return MHD_YES;
}

static void notify(struct sf_listener *l, struct MHD_Connection *conn, void **socket_ctx,
                   enum MHD_ConnectionNotificationCode code, bool tls)
{
    struct sf_front *f = l->owner;
    sf_listener_count(l, code);
    sf_conns_notify(f->conns, conn, socket_ctx, code, true, tls);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    notify(cls, conn, socket_ctx, code, false);
}

static void on_tls_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                              enum MHD_ConnectionNotificationCode code)
{
    notify(cls, conn, socket_ctx, code, true);
}

/* ---- listeners ---- */

static unsigned pool_size(const struct sf_config *cfg)
{
    if (cfg->workers > 0)
        return cfg->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

enum { SLOT_HTTP, SLOT_TLS }; /* f->slots, and their self_ports */

static const struct sf_listener_calls slot_calls[] = {
    [SLOT_HTTP] = {on_accept, on_request, on_completed, on_connection, on_uri},
    [SLOT_TLS] = {on_accept, on_request, on_completed, on_tls_connection, on_uri},
};

/* What cfg asks of the listener in slot (listener.h): a libmicrohttpd worker per core, in
 * poll mode, with suspend and resume (DESIGN.md says why). */
static void slot_settings(const struct sf_config *cfg, int slot, struct sf_listener_settings *s)
{
    bool tls = slot == SLOT_TLS;
    *s = (struct sf_listener_settings){
        .enabled = tls ? cfg->tls_enabled : cfg->listen_enabled,
        .addr = tls ? cfg->tls_listen : cfg->listen,
        .flags = MHD_ALLOW_SUSPEND_RESUME | (tls ? MHD_USE_TLS : 0),
        .threads = pool_size(cfg),
        /* Our own limit is enforced exactly in on_accept (sf_conns_admit). libmicrohttpd
         * splits its own among the workers; each gets room for all of ours, so it never
         * refuses first (one busy worker may hold most connections). */
        .connection_limit = cfg->connection_limit * pool_size(cfg) + 64,
        .idle_timeout_s = (unsigned)(cfg->client_idle_timeout_ms / 1000),
        .pool_bytes = SF_MHD_POOL_BYTES,
        .backlog = 4096,
        .tls_cert_pem = tls ? cfg->tls_cert_pem : NULL,
        .tls_key_pem = tls ? cfg->tls_key_pem : NULL,
    };
}

/* Prepares slot for snap's config (sf_listener_prepare). False when it cannot start;
 * errbuf says why. */
static bool prepare_slot(struct sf_front *f, struct sf_snap *snap, int slot, char *errbuf,
                         size_t errlen)
{
    struct sf_listener_settings want;
    slot_settings(&snap->cfg, slot, &want);
    if (sf_listener_prepare(&f->slots[slot], f, snap, &want, &slot_calls[slot]))
        return true;
    if (slot == SLOT_TLS)
        snprintf(errbuf, errlen,
                 "cannot listen for HTTPS on %s:%u: is the port in use, or are \"tls.cert\" "
                 "and \"tls.key\" not a certificate and its key? (libmicrohttpd says why "
                 "above)",
                 want.addr.host, want.addr.port);
    else
        snprintf(errbuf, errlen, "cannot listen on %s:%u; is the port in use? change \"listen\"",
                 want.addr.host, want.addr.port);
    return false;
}

bool sf_front_prepare(struct sf_front *f, struct sf_snap *snap, char *errbuf, size_t errlen)
{
    if (prepare_slot(f, snap, SLOT_HTTP, errbuf, errlen) &&
        prepare_slot(f, snap, SLOT_TLS, errbuf, errlen))
        return true;
    sf_front_abort(f);
    return false;
}

void sf_front_commit(struct sf_front *f, struct sf_listener **retired)
{
    for (int i = SLOT_HTTP; i <= SLOT_TLS; i++) {
        sf_listener_commit(&f->slots[i], retired);
        struct sf_listener *l = f->slots[i].cur;
        atomic_store(&f->self_ports[i], l != NULL ? l->port : 0);
    }
}

void sf_front_abort(struct sf_front *f)
{
    for (int i = SLOT_HTTP; i <= SLOT_TLS; i++)
        sf_listener_abort(&f->slots[i]);
}

/* ---- lifecycle ---- */

struct sf_front *sf_front_start(struct sf_live *live, const struct sf_front_parts *parts,
                                char *errbuf, size_t errlen)
{
    struct sf_front *f = sf_xcalloc(1, sizeof *f);
    f->live = live;
    f->cache = parts->cache;
    f->up = parts->up;
    f->hangup = parts->hangup;
    f->conns = parts->conns;
    f->access_log = parts->access_log;
    sf_outbound_loop_token(f->loop_token);
    sf_upstream_set_self_ports(f->up, f->self_ports);
    struct sf_snap *snap = sf_live_pin(live);
    bool ok = sf_front_prepare(f, snap, errbuf, errlen);
    sf_snap_unref(snap);
    if (!ok) {
        free(f);
        return NULL;
    }
    struct sf_listener *none = NULL; /* nothing runs yet that could retire */
    sf_front_commit(f, &none);
    return f;
}

void sf_front_set_admin_port(struct sf_front *f, uint16_t port)
{
    atomic_store(&f->self_ports[SLOT_TLS + 1], port);
}

uint16_t sf_front_port(const struct sf_front *f)
{
    return atomic_load(&f->self_ports[SLOT_HTTP]);
}

uint16_t sf_front_tls_port(const struct sf_front *f)
{
    return atomic_load(&f->self_ports[SLOT_TLS]);
}

void sf_front_quiesce(struct sf_front *f)
{
    atomic_store(&f->draining, true);
    for (int i = SLOT_HTTP; i <= SLOT_TLS; i++)
        if (f->slots[i].cur != NULL)
            sf_listener_quiesce(f->slots[i].cur);
}

int sf_front_active_requests(const struct sf_front *f)
{
    return atomic_load(&f->active);
}

void sf_front_close(struct sf_front *f)
{
    atomic_store(&f->closing, true);
    sf_park_close();
}

void sf_front_stop(struct sf_front *f)
{
    if (f == NULL)
        return;
    for (int i = SLOT_TLS; i >= SLOT_HTTP; i--)
        sf_listener_stop(f->slots[i].cur);
    free(f);
}
