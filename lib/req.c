/* req: see req.h. What the request's steps share: its references and its memory, its
 * attachment to an object, the fetch specs it sends, and the responses it queues. No
 * step is here; nothing here calls one. */
#include "req.h"

#include "clientview.h"
#include "fetcher.h"
#include "fetchspec.h"
#include "listener.h"
#include "metrics.h"
#include "peerauth.h"
#include "policy.h"
#include "reqbody.h"
#include "route.h"

#include <stdlib.h>
#include <string.h>

/* ---- references ---- */

static void free_slicing(struct sf_slicing *s)
{
    if (s == NULL)
        return;
    free(s->key);
    sf_slice_ref_clear(&s->ref);
    free(s);
}

void sf_req_unref(struct sf_req *r)
{
    SF_CHECK_OBJ(r, SF_REQ_MAGIC);
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    SF_ASSERT(r->obj == NULL && !r->w.parked && r->found == NULL);
    free_slicing(r->slices);
    free(r->dest.url); /* (its target and dest.path live in r's own block: front.c) */
    sf_snap_unref(r->snap);
    sf_reqbody_unref(r->upload);
    r->magic = 0;
    free(r);
}

void sf_req_reader_done(struct sf_reader *rd)
{
    sf_req_unref((struct sf_req *)((char *)rd - offsetof(struct sf_req, rd)));
}

/* ---- the object it reads ---- */

bool sf_req_attach(struct sf_req *r, struct sf_obj *o, bool leader, const char *xcache)
{
    /* A 103 was built for the leader's request. A follower's final response may be
     * another variant (what it varies on is not known yet) unless the flight says its
     * joiners share its head (sf_obj.head_shared): only then may a follower have hints. */
    r->w.hints = leader || r->shares_head;
    r->shares_head = false;
    r->w.interim_seen = 0; /* another object's 103s are counted afresh (a redispatch) */
    sf_obj_lock(o);
    bool ok = sf_obj_attach(o, &r->w);
    if (ok && leader)
        sf_obj_set_leader(o, r);
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

void sf_req_detach(struct sf_req *r)
{
    struct sf_obj *o = r->obj;
    if (o == NULL)
        return;
    bool cancel = false, resume_fetch = false;
    if (r->attached) {
        sf_obj_lock(o);
        if (sf_obj_led_by(o, r))
            sf_obj_set_leader(o, NULL); /* before: its flight may go as it detaches */
        resume_fetch = sf_obj_detach(o, &r->w);
        /* The fetcher re-checks when it gets to it: a client may attach meanwhile. */
        cancel = sf_obj_clients(o) == 0 && !sf_obj_worth_finishing(o) &&
                 (o->state == SF_OBJ_PENDING || o->state == SF_OBJ_STREAMING);
        sf_obj_unlock(o);
        r->attached = false;
    }
    if (cancel)
        sf_upstream_cancel(r->up, o);
    else if (resume_fetch)
        sf_upstream_unpause(r->up, o);
    r->obj = NULL;
    sf_obj_unref(o);
}

void sf_req_end_slices(struct sf_req *r)
{
    SF_ASSERT(r->obj == NULL);
    free_slicing(r->slices);
    r->slices = NULL;
}

/* ---- what it sends upstream ---- */

bool sf_req_directives(struct sf_req *r, struct sf_req_directives *d)
{
    char *cc = sf_request_field(r->conn, "Cache-Control");
    const char *pragma = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Pragma");
    if (cc == NULL && pragma == NULL)
        return false;
    sf_policy_request_directives(cc, pragma, d);
    free(cc);
    if (r->route != NULL && r->route->ignore_request_directives) {
        /* The operator's word (Squid's ignore-reload, nginx's default): what is stored
         * answers as if the client had asked nothing. only-if-cached and no-store still
         * hold: neither makes the origin do more work. */
        d->no_cache = false;
        d->max_age_s = d->min_fresh_s = d->max_stale_s = -1;
    }
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

struct sf_fetch_spec *sf_req_spec(struct sf_req *r, const char *method, bool shared)
{
    struct sf_fetch_spec *spec =
        sf_outbound_spec(&r->out, r->conn, method, &r->dest, shared, r->upload);
    sf_hdrs_add(&spec->hdrs, "X-Request-Id", r->rid);
    spec->snap = sf_snap_ref(r->snap);
    spec->route = r->route;
    return spec;
}

struct sf_fetch_spec *sf_req_shared_spec(struct sf_req *r, struct sf_obj *o)
{
    struct sf_fetch_spec *spec = sf_req_spec(r, "GET", true);
    /* The lookup that listed o on this thread set its stale; nothing takes it back before
     * o's fetch has failed or been given up. */
    if (o->stale != NULL) {
        add_validators(spec, o->stale);
        spec->stale = sf_obj_ref(o->stale);
    }
    return spec;
}

/* ---- its response ---- */

void sf_req_count_outcome(struct sf_req *r)
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

enum sf_req_step sf_req_respond(struct sf_req *r, unsigned status, struct MHD_Response *resp)
{
    bool ok = resp != NULL && MHD_add_response_header(resp, "X-Request-Id", r->rid) == MHD_YES;
    if (ok && sf_listener_retired(r->listener)) /* a reload moved the listener: reconnect */
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
    if (ok && (r->dest.from_peer || r->peer_call != SF_PEERCALL_NONE)) /* last: signs the rest */
        ok = sf_peerauth_sign_answer(&r->snap->cfg, r->conn, status, resp);
    if (resp != NULL && !ok) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    if (resp == NULL)
        return SF_REQ_CLOSE;
    r->status = status;
    r->first_byte_us = sf_mono_us();
    sf_metrics_count_status(status);
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret == MHD_YES ? SF_REQ_SENT : SF_REQ_CLOSE;
}

enum sf_req_step sf_req_respond_object(struct sf_req *r, const struct sf_obj *o, unsigned status,
                                       struct MHD_Response *resp)
{
    if (resp == NULL || r->dest.from_peer)
        return sf_req_respond(r, status, resp);
    /* Shared: not a pass, and o's response not one user's (resp holds o). */
    bool shared = !o->pass && (r->xcache == NULL || strcmp(r->xcache, "PASS") != 0);
    if (!sf_clientview_apply(resp, r->route, shared, sf_wall_s())) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    return sf_req_respond(r, status, resp);
}

enum sf_req_step sf_req_synth(struct sf_req *r, unsigned status, const char *text, bool close)
{
    r->synth_status = status;
    r->synth_text = text;
    r->synth_close = close;
    return SF_REQ_SYNTH;
}

enum sf_req_step sf_req_synth_bad(struct sf_req *r, unsigned status, const char *text)
{
    SF_COUNT(bad_requests);
    return sf_req_synth(r, status, text, true);
}

enum sf_req_step sf_req_synth_rejected(struct sf_req *r)
{
    if (r->reject_status == MHD_HTTP_SERVICE_UNAVAILABLE)
        return sf_req_synth(r, r->reject_status, r->reject_text, true);
    if (r->reject_status == SF_PEER_NO_ROUTE_STATUS) /* a peer's, not a bad request */
        return sf_req_synth(r, r->reject_status, r->reject_text, false);
    if (r->reject_status == MHD_HTTP_OK) /* an OPTIONS answered here; closes if content comes */
        return sf_req_synth(r, r->reject_status, r->reject_text, r->uploads);
    return sf_req_synth_bad(r, r->reject_status, r->reject_text);
}
