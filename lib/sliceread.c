/* sliceread: see sliceread.h. A sliced response is answered from its slices one at a
 * time: the request attaches to the slice that holds the byte it reads next (stored, in
 * flight, or a new flight fetching that slice's bytes alone), checks each slice's head
 * against the representation the response describes (RFC 9111 §3.4), and fetches the
 * next slice ahead while it reads one. Slices that do not fit the representation make the
 * key be served whole again.
 *
 * Runs on: the connection's libmicrohttpd worker: the steps in the access handler, the
 * reader's advance in libmicrohttpd's content reader. */
#include "sliceread.h"

#include "cache.h"
#include "config.h"
#include "diskhit.h"
#include "disktier.h"
#include "fetcher.h"
#include "fetchspec.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "slicestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Starts the fetch of o, a new flight for slice index of r's sliced response: its own
 * bytes only (a Range of sfproxy's, which the origin's 206 must match, slice.h). */
static void submit_slice(struct sf_req *r, struct sf_obj *o, uint64_t index)
{
    struct sf_fetch_spec *spec = sf_req_shared_spec(r, o);
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
    sf_upstream_submit(r->up, o, &spec);
}

/* Attaches r to slice index of its sliced response: stored (fresh, or stale while it is
 * refreshed), in flight, or a new flight. False when the cache will not share it (a
 * slice's response was one user's, or the request's directives forbid a shared fetch):
 * r then reads no object. r's X-Cache is the first slice's. */
static bool open_slice(struct sf_req *r, uint64_t index)
{
    struct sf_req_directives d;
    bool has_directives = sf_req_directives(r, &d);
    char *key = sf_slice_key(r->slices->key, r->slices->size, index);
    struct sf_query q = {key, has_directives ? &d : NULL, NULL, NULL};
    struct sf_obj *o, *refresh;
    enum sf_lookup kind = sf_cache_lookup(r->cache, &q, sf_now_ms(), &o, &refresh);
    free(key);
    const char *xcache = r->xcache;
    bool ok = false;
    bool from_disk = false;
    switch (kind) {
    case SF_LOOKUP_STALE:
        if (refresh != NULL) {
            SF_COUNT(stale_while_revalidate);
            submit_slice(r, refresh, index);
            sf_obj_unref(refresh);
        }
        ok = sf_req_attach(r, o, false, "STALE");
        break;
    case SF_LOOKUP_HIT: ok = sf_req_attach(r, o, false, "HIT"); break;
    case SF_LOOKUP_JOIN: ok = sf_req_attach(r, o, false, "COLLAPSED"); break;
    case SF_LOOKUP_MISS:
        /* A slice the disk tier holds (diskhit.h) fills the flight before any fetch. */
        if (sf_diskhit_fill(r->cache, o, NULL, has_directives ? &d : NULL, NULL) ==
            SF_DISKHIT_FILLED) {
            sf_disktier_count_hit();
            r->tier = "disk";
            from_disk = true;
            ok = sf_req_attach(r, o, false, "HIT");
            break;
        }
        ok = sf_req_attach(r, o, true, "MISS");
        if (ok)
            submit_slice(r, o, index);
        break;
    case SF_LOOKUP_PASS:
    case SF_LOOKUP_NONE:
    case SF_LOOKUP_SLICED: break;
    }
    if (r->step == SF_REQ_SENT)
        r->xcache = xcache; /* the response's head said what the first slice was */
    if (index != r->slices->index)
        r->slices->refetched = false;
    r->slices->index = index;
    r->slices->stored = kind == SF_LOOKUP_HIT || kind == SF_LOOKUP_STALE || from_disk;
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
    if (o->from_disk)
        sf_disktier_forget(o->key); /* or the refetch reads that record again */
    sf_cache_unlist(r->cache, o);
    return SLICE_REFETCH;
}

/* The slices r reads are not of one representation: its key is served whole again. */
static void slices_changed(struct sf_req *r)
{
    sf_log_debug("slices of %s changed: the next request fetches it whole", r->slices->key);
    sf_cache_drop_sliced(r->cache, r->slices->key, &r->slices->ref);
    sf_disktier_drop_sliced(r->slices->key); /* or after a restart every request is cut */
}

/* Starts reading r's sliced response (the representation LOOKUP found, r->slices) at
 * the slice that holds the first byte it asks for. */
enum sf_req_step sf_sliceread_open(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(LOOKUP));
    const char *method = c->method;
    struct sf_slicing *s = r->slices;
    s->size = sf_config_slice_bytes(&r->snap->cfg);
    struct sf_ranges ranges;
    uint64_t first = 0;
    if (s->size > 0 && strcmp(method, "GET") == 0 &&
        sf_http_ranges_parse(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Range"),
                             s->ref.total, &ranges) == SF_RANGE_ONE)
        first = ranges.first[0];
    struct sf_req_directives d;
    s->cached_only = sf_req_directives(r, &d) && d.only_if_cached;
    if (s->cached_only &&
        !sf_slicestore_covers(r->cache, s->key, s->size, &s->ref, method,
                              MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Range"),
                              MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-Range"), &d,
                              sf_now_ms()))
        s->size = 0; /* a slice it needs is not stored: 504, as for a whole key */
    if (s->size == 0 || !open_slice(r, first / s->size)) {
        /* Slices turned off by a reload, or not to be shared: the whole response. */
        sf_req_detach(r);
        sf_req_end_slices(r);
        r->no_slices = true;
        return SF_REQ_LOOKUP;
    }
    return SF_REQ_WAIT_HEAD;
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
    if (sf_cache_lookup(r->cache, &q, sf_now_ms(), &o, NULL) == SF_LOOKUP_MISS &&
        sf_diskhit_fill(r->cache, o, NULL, NULL, NULL) != SF_DISKHIT_FILLED) /* the disk's first */
        submit_slice(r, o, index);
    sf_obj_unref(o);
    free(key);
}

/* rd's advance for a sliced response (sf_reader): moves to the slice that holds byte at,
 * and checks each slice once its head is there. */
static bool slice_advance(struct sf_reader *rd, uint64_t at)
{
    struct sf_req *r = (struct sf_req *)((char *)rd - offsetof(struct sf_req, rd));
    uint64_t first, last;
    sf_slice_bytes(r->slices->index, r->slices->size, r->slices->ref.total, &first, &last);
    if (at < first || at > last) {
        sf_req_detach(r);
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
        sf_req_detach(r);
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

/* Answers r from its first slice, published: the response's head from its fields, the
 * body read across the slices by slice_advance. */
enum sf_req_step sf_sliceread_deliver(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(WAIT_HEAD));
    const char *method = c->method;
    switch (check_slice(r)) {
    case SLICE_FITS: break;
    case SLICE_REFETCH:
        sf_req_detach(r);
        if (open_slice(r, r->slices->index))
            return SF_REQ_WAIT_HEAD;
        /* fall through */
    case SLICE_CHANGED:
        slices_changed(r);
        sf_req_detach(r);
        sf_req_end_slices(r);
        r->no_slices = true;
        return SF_REQ_LOOKUP;
    }
    struct sf_obj *o = r->obj;
    sf_req_count_outcome(r);
    bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (safe && sf_respond_unchanged_for(o, true, r->conn))
        return sf_req_respond_object(r, o, MHD_HTTP_NOT_MODIFIED,
                                     sf_respond_unchanged(o, r->xcache));
    uint64_t first, last;
    sf_slice_bytes(r->slices->index, r->slices->size, r->slices->ref.total, &first, &last);
    r->rd = (struct sf_reader){.obj = o,
                               .w = &r->w,
                               .conn = r->conn,
                               .up = r->up,
                               .base = first,
                               .advance = slice_advance,
                               .done = sf_req_reader_done};
    r->rd.peer_secret = r->dest.from_peer ? r->snap->cfg.cluster_secret : NULL; /* respond.h */
    atomic_fetch_add(&r->refs, 1); /* until sf_req_reader_done */
    unsigned status;
    struct MHD_Response *resp =
        sf_respond_sliced(&r->rd, method, r->xcache, r->slices->ref.total, &status);
    if (resp != NULL && strcmp(method, "GET") == 0)
        read_ahead(r);
    return sf_req_respond_object(r, o, status, resp);
}
