/* dispatch: see dispatch.h. The steps of a request's life that every kind of request may
 * take: its head received and admitted, the cache looked up, a hit answered, a fetch of
 * its own, the wait for an object's head, the response delivered, and sfproxy's own
 * answers. Sliced reads (sliceread.c), content (upload.c) and peers' calls (peercall.c)
 * have files of their own; what the steps share is req.c's.
 *
 * Where a request goes and what is sent upstream is outbound.c's; how an object becomes a
 * response is respond.c's.
 *
 * Runs on: the connection's libmicrohttpd worker. Lock order: object lock ->
 * libmicrohttpd; no response is created, queued or destroyed under an object lock. */
#include "dispatch.h"

#include "cache.h"
#include "conn.h"
#include "diskhit.h"
#include "disktier.h"
#include "fetcher.h"
#include "fetchspec.h"
#include "keyurl.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "peercall.h"
#include "pinned.h"
#include "policy.h"
#include "req.h"
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- RECV ---- */

enum sf_req_step sf_dispatch_recv(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(NEW));
    const char *method = c->method, *version = c->version;
    struct MHD_Connection *conn = r->conn;
    r->http11 = strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->version, sizeof r->version, "%s", version);
    sf_access_request_id(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id"),
                         r->rid);
    const char *why;
    unsigned bad = sf_conn_head_verdict(r->wire, r->seq, &why);
    if (bad != 0)
        return sf_req_synth_bad(r, bad, why); /* nothing of it is forwarded; the connection
                                               * closes, and whatever followed is not read */
    /* The scanner accepted the head, so it is framed by one Content-Length line, or by
     * "Transfer-Encoding: chunked", or by neither; never both. */
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    bool chunked = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool content = chunked || (length != NULL && strtoull(length, NULL, 10) > 0);
    if (content && strcmp(method, "HEAD") == 0)
        return sf_req_synth_bad(r, MHD_HTTP_BAD_REQUEST, "a HEAD request cannot carry content\n");
    r->peer_call = sf_peercall_check(r, method, content);
    if (r->peer_call != SF_PEERCALL_NONE)
        return sf_req_yield(r, SF_REQ_PEER);
    /* A GET with "Content-Length: 0" still goes through the cache; any other method
     * forwards even an empty body's length. Content is decided on now, from the head. */
    if (content || (length != NULL && !safe)) {
        r->uploads = true;
        return SF_REQ_ADMIT;
    }
    return sf_req_yield(r, SF_REQ_ADMIT); /* respond on a later call, or keep-alive is lost */
}

/* ---- ADMIT ---- */

/* (sf_field_get) A field of the client's request, every line joined. */
static char *client_field(void *conn, const char *name)
{
    return sf_request_field(conn, name);
}

/* The config's route (route.h) r takes, or NULL: none matches (the top level's settings). */
static const struct sf_route_def *match_route(struct sf_req *r, const char *method)
{
    const struct sf_routes *routes = r->snap->cfg.routes;
    if (routes == NULL)
        return NULL;
    /* One Host line at most: the scanner refuses a second (h1scan.h). */
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
    struct sf_fields fields = {client_field, r->conn};
    struct sf_route_req rr = {method, host, r->target, &fields};
    return sf_routes_match(routes, &rr, NULL);
}

/* Sets r->route (the config's route it takes) and r->dest (where it is fetched upstream,
 * by that route) and returns true, or sets r->reject_status and reject_text and returns
 * false. Counts the request. */
static bool admit(struct sf_req *r, const char *method)
{
    SF_COUNT(requests[sf_metrics_method_class(method)]);
    r->admitted = true;
    if (strcmp(method, "CONNECT") == 0) {
        r->reject_status = MHD_HTTP_NOT_IMPLEMENTED;
        r->reject_text = "CONNECT tunnels are not supported\n";
    } else if (atomic_load(r->closing)) {
        r->reject_status = MHD_HTTP_SERVICE_UNAVAILABLE;
        r->reject_text = "shutting down\n";
        /* A peer's: its 503 is signed, so that the peer asks the next node at once. */
        r->dest.from_peer = sf_outbound_from_peer(&r->out, r->conn, method, r->target);
    } else {
        r->route = match_route(r, method);
        /* Max-Forwards: 0 on TRACE or OPTIONS ends here, whatever the target ("*" too). */
        r->reject_status = sf_outbound_final_answer(r->conn, method, &r->reject_text);
        if (r->reject_status == 0) {
            r->reject_status = sf_outbound_route(&r->out, r->conn, method, r->target, r->route,
                                                 &r->dest, &r->reject_text);
            r->route = r->dest.route; /* a peer's: the route its asker took (outbound.h) */
        }
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->w.fd = ci ? ci->connect_fd : -1;
    return r->reject_status == 0;
}

enum sf_req_step sf_dispatch_admit(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(RECV));
    const char *method = c->method;
    if (!admit(r, method))
        return sf_req_synth_rejected(r);
    if (r->uploads)
        return SF_REQ_CONTENT; /* it starts at once: its content streams upstream */
    if (sf_outbound_looped(&r->out, r->conn))
        return sf_req_synth_bad(r, 508,
                                "this request has passed through this sfproxy already (a "
                                "loop: CDN-Loop)\n");
    if (r->dest.peer_ranked_before) {
        /* The asking node's list and this one's disagree: on its own, never joined to a
         * flight here that may wait on the asker in turn (peerhop.h). */
        static struct sf_ratelimit lists_differ;
        SF_COUNT(peer_lists_disagree);
        sf_log_limited(&lists_differ, 10000, SF_LOG_WARN,
                       "cluster: a peer asked this node for a key its own cluster.peers "
                       "puts the asker ahead for: the nodes' peer lists differ; fetched "
                       "alone (give every node the same list)");
        return SF_REQ_PASS;
    }
    if (r->route != NULL && r->route->pass) {
        /* The operator's word: never stored, never collapsed. So nothing stored can
         * answer only-if-cached (RFC 9111 §5.2.1.7). */
        struct sf_req_directives d;
        if (sf_req_directives(r, &d) && d.only_if_cached) {
            r->xcache = "MISS"; /* as any only-if-cached request nothing stored answers */
            return sf_req_synth(r, MHD_HTTP_GATEWAY_TIMEOUT,
                                "only-if-cached: this route stores nothing (pass)\n", false);
        }
        return SF_REQ_PASS;
    }
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return SF_REQ_LOOKUP;
    return SF_REQ_PASS;
}

/* ---- LOOKUP, HIT ---- */

/* The cache key of r (a GET or HEAD): see sf_outbound_key. Caller frees. */
static char *request_key(struct sf_req *r)
{
    return sf_outbound_key(&r->out, r->conn, &r->dest);
}

/* The key a GET of r's target is stored under, for r a HEAD or POST whose response may
 * update or be that GET's: a GET may take another route than r (one whose methods leave
 * r's out), with its own upstream, strip_prefix and key rule, and then r's own key names
 * where GETs never look. Built as the GET's own is (sf_outbound_key) on the GET's route,
 * with the URL such a GET fetches (keyurl.h). NULL when a GET would store nothing: it
 * passes, or has nowhere to go. Caller frees. */
static char *get_key(struct sf_req *r)
{
    const struct sf_route_def *route = r->dest.from_peer ? r->route : match_route(r, "GET");
    if (route == r->route)
        return request_key(r);
    if (route != NULL && route->pass)
        return NULL;
    /* A GET route that narrows the Cookie keys on the cookies it lets through; this
     * request, on another route, sent the origin its whole Cookie: its response may be
     * personal in a way that key cannot tell, so it updates nothing. */
    if (route != NULL && route->key.narrow_cookies)
        return NULL;
    const struct sf_config *cfg = &r->snap->cfg;
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
    struct sf_fields fields = {client_field, r->conn};
    struct sf_keyurl_cfg kc = {cfg->routes, cfg->upstream};
    struct sf_dest get = r->dest;
    get.route = route;
    get.url =
        sf_keyurl_get(&kc, host, &fields, r->dest.forward ? r->dest.url : r->dest.path, false);
    char *key = get.url != NULL ? sf_outbound_key(&r->out, r->conn, &get) : NULL;
    free(get.url);
    return key;
}

static void submit_shared(struct sf_req *r, struct sf_obj *o)
{
    struct sf_fetch_spec *spec = sf_req_shared_spec(r, o);
    sf_upstream_submit(r->up, o, &spec);
}

/* Makes r read the sliced response ref describes (key and ref taken over), for SLICED. */
static void begin_slices(struct sf_req *r, char *key, struct sf_slice_ref *ref)
{
    sf_req_end_slices(r);
    r->slices = sf_xcalloc(1, sizeof *r->slices);
    r->slices->key = key;
    r->slices->ref = *ref;
}

enum sf_req_step sf_dispatch_lookup(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(ADMIT) | SF_REQ_BIT(SLICED) | SF_REQ_BIT(WAIT_HEAD) |
                       SF_REQ_BIT(DELIVER_SLICED));
    SF_ASSERT(r->obj == NULL);
    (void)c;
    struct sf_req_directives d;
    bool has_directives = sf_req_directives(r, &d);
    char *key = request_key(r);
    struct sf_shared_view view = {&r->out, r->conn, r->route};
    struct sf_fields fields = {sf_outbound_shared_field, &view};
    struct sf_slice_ref sliced = {0};
    struct sf_query q = {key, has_directives ? &d : NULL, &fields, r->no_slices ? NULL : &sliced};
    struct sf_obj *o;
    struct sf_obj *refresh;
    enum sf_lookup kind = sf_cache_lookup(r->cache, &q, sf_now_ms(), &o, &refresh);
    if (kind == SF_LOOKUP_SLICED) {
        begin_slices(r, key, &sliced);
        return SF_REQ_SLICED;
    }
    r->shares_head = kind == SF_LOOKUP_JOIN && o->head_shared;
    /* Nothing may be fetched for it: still, the disk tier may hold what it asks for. */
    struct sf_obj *disk =
        kind == SF_LOOKUP_NONE ? sf_diskhit_read(key, &fields, has_directives ? &d : NULL) : NULL;
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
        r->tier = "memory";
        r->found = o;
        return SF_REQ_HIT;
    case SF_LOOKUP_HIT:
        r->xcache = "HIT";
        r->tier = "memory";
        r->found = o;
        return SF_REQ_HIT;
    case SF_LOOKUP_PASS: return SF_REQ_PASS;
    case SF_LOOKUP_JOIN:
        if (!sf_req_attach(r, o, false, "COLLAPSED"))
            return SF_REQ_PASS;
        return SF_REQ_WAIT_HEAD;
    case SF_LOOKUP_NONE:
        if (disk != NULL) {
            sf_disktier_count_hit();
            r->xcache = "HIT";
            r->tier = "disk";
            r->found = disk;
            return SF_REQ_HIT;
        }
        if (has_directives && d.only_if_cached) {
            r->xcache = "MISS";
            return sf_req_synth(r, MHD_HTTP_GATEWAY_TIMEOUT,
                                "only-if-cached: no stored response fits this request\n", false);
        }
        return SF_REQ_PASS; /* no-store: its response is nobody else's */
    case SF_LOOKUP_MISS: break;
    case SF_LOOKUP_SLICED: SF_ASSERT(!"handled above");
    }
    /* Before the origin, the disk tier (diskhit.h): o is this request's to fill, or the
     * disk says its response is kept in slices. */
    bool submit;
    if (!r->no_slices && sf_diskhit_sliced(r->cache, o, &sliced, &submit)) {
        if (submit)
            submit_shared(r, o);         /* for those that joined it meanwhile */
        char *skey = sf_xstrdup(o->key); /* the URL's key: sliced, it does not vary */
        sf_obj_unref(o);
        begin_slices(r, skey, &sliced);
        return SF_REQ_SLICED;
    }
    struct sf_obj *stale = NULL;
    enum sf_diskhit dh = sf_diskhit_fill(r->cache, o, &fields, has_directives ? &d : NULL, &stale);
    if (dh == SF_DISKHIT_FILLED || dh == SF_DISKHIT_STALE) {
        sf_disktier_count_hit();
        r->tier = "disk";
        r->xcache = dh == SF_DISKHIT_FILLED ? "HIT" : "STALE";
        if (dh == SF_DISKHIT_FILLED) {
            r->found = o; /* complete and stored: served as a memory hit is */
            return SF_REQ_HIT;
        }
        /* Served now; refreshed in the background (RFC 5861 §3), as a memory copy is. */
        SF_COUNT(stale_while_revalidate);
        submit_shared(r, o);
        sf_obj_unref(o);
        r->found = stale;
        return SF_REQ_HIT;
    }
    bool attached = sf_req_attach(r, o, true, "MISS");
    SF_ASSERT(attached); /* a new flight, not yet submitted: nothing trims or drops it */
    submit_shared(r, o);
    return SF_REQ_WAIT_HEAD;
}

/* Serves a stored object (HIT, or STALE while it is refreshed), taking over the lookup's
 * reference. */
enum sf_req_step sf_dispatch_hit(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(LOOKUP));
    struct sf_obj *o = r->found;
    r->found = NULL;
    sf_req_count_outcome(r);
    if (sf_pinned_watch_hit(o, &r->w)) { /* charged if evicted while sent (pinned.h) */
        r->obj = sf_obj_ref(o);
        r->attached = true;
    }
    unsigned status;
    const char *peer = r->dest.from_peer ? r->snap->cfg.cluster_secret : NULL; /* respond.h */
    struct MHD_Response *resp =
        sf_respond_stored(o, r->conn, c->method, r->xcache, peer, &status, &r->body_bytes);
    return sf_req_respond_object(r, o, status, resp);
}

/* ---- PASS ---- */

/* Sends the request upstream on an object of its own (pass-through). */
enum sf_req_step sf_dispatch_pass(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(ADMIT) | SF_REQ_BIT(CONTENT) | SF_REQ_BIT(LOOKUP) |
                       SF_REQ_BIT(WAIT_HEAD));
    SF_ASSERT(r->obj == NULL);
    const char *method = c->method;
    struct sf_obj *o = sf_obj_new(NULL);
    bool attached = sf_req_attach(r, o, true, "PASS");
    SF_ASSERT(attached); /* nobody else has o: it cannot be trimmed or dropped yet */
    struct sf_fetch_spec *spec = sf_req_spec(r, method, false);
    /* Its response may update or be the stored GET: a HEAD's, a POST's when configured;
     * never on a pass route, which stores nothing. */
    const struct sf_route_def *route = r->route;
    bool store_post =
        route != NULL ? route->set.store_post_responses : r->snap->cfg.store_post_responses;
    if ((route == NULL || !route->pass) &&
        (strcmp(method, "HEAD") == 0 || (store_post && strcmp(method, "POST") == 0)))
        spec->get_key = get_key(r);
    /* What its response invalidates, a GET of the same target may be stored elsewhere. */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        spec->keymap = sf_outbound_keymap(&r->out, r->conn, &r->dest);
    sf_upstream_submit(r->up, o, &spec);
    if (r->from == SF_REQ_CONTENT)
        return sf_req_yield(r, SF_REQ_UPLOAD); /* its content comes with the next calls */
    return SF_REQ_WAIT_HEAD;
}

/* ---- WAIT_HEAD ---- */

/* Whether r selects the variant o's response is for (RFC 9111 §4.1); o's head is
 * published. */
static bool selects_variant(struct sf_req *r, const struct sf_obj *o)
{
    if (o->vary_names == NULL)
        return true;
    struct sf_shared_view view = {&r->out, r->conn, r->route};
    char *mine =
        sf_policy_variant(o->vary_names, &(struct sf_fields){sf_outbound_shared_field, &view});
    bool same = strcmp(mine, o->variant) == 0;
    free(mine);
    return same;
}

/* Whether r's own directives (none: yes) accept o, a response read from the disk tier for
 * a flight r joined (sf_policy_acceptable, at the age the disk gave it). */
static bool disk_copy_fits(struct sf_req *r, const struct sf_obj *o)
{
    struct sf_req_directives d;
    return !sf_req_directives(r, &d) || sf_policy_acceptable(&o->verdict, o->verdict.age_s, &d);
}

/* r leaves the flight it joined and looks its key up again (the cache knows more now),
 * once; a second time it goes upstream on its own. */
static enum sf_req_step look_again(struct sf_req *r)
{
    sf_req_detach(r);
    sf_req_end_slices(r);
    if (r->vary_redispatched)
        return SF_REQ_PASS;
    r->vary_redispatched = true;
    return SF_REQ_LOOKUP;
}

/* Parks until the object's headers exist, then decides how r is answered. Entered after
 * the object was found or made, and again each time libmicrohttpd resumes the
 * connection. */
enum sf_req_step sf_dispatch_wait_head(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(LOOKUP) | SF_REQ_BIT(PASS) | SF_REQ_BIT(UPLOAD) | SF_REQ_BIT(SLICED) |
                       SF_REQ_BIT(DELIVER_SLICED) | SF_REQ_BIT(WAIT_HEAD));
    (void)c;
    struct sf_obj *o = r->obj;
    sf_obj_lock(o);
    if (r->w.gone || r->w.shed) {
        sf_obj_unlock(o);
        return SF_REQ_CLOSE;
    }
    /* Nothing sent yet: the hangup watch may write a 100 (never into a TLS stream). */
    r->w.probe = r->http11 && !sf_conn_is_tls(r->wire);
    if (o->state == SF_OBJ_PENDING && !sf_obj_catch_up_interim(o, &r->w)) {
        sf_obj_unlock(o);
        return SF_REQ_CLOSE; /* its socket took part of a 103: the stream is broken */
    }
    if (o->state == SF_OBJ_PENDING && sf_obj_park(o, &r->w)) {
        MHD_suspend_connection(r->conn);
        sf_obj_unlock(o);
        return sf_req_yield(r, SF_REQ_WAIT_HEAD);
    }
    if (o->state == SF_OBJ_PENDING) {
        sf_obj_unlock(o);
        return sf_req_synth(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n", true);
    }
    bool leader = sf_obj_led_by(o, r);
    bool follower = o->shared && !leader;
    bool redispatch = o->pass && follower;
    enum sf_fail fail = o->fail;
    bool no_head = o->state == SF_OBJ_FAILED && fail != SF_FAIL_TRUNCATED;
    sf_obj_unlock(o);
    if (redispatch) {
        /* The response is one user's: this waiter goes upstream on its own. */
        sf_req_detach(r);
        sf_req_end_slices(r);
        return SF_REQ_PASS;
    }
    if (!leader && !no_head && o->from_disk && r->slices == NULL && !disk_copy_fits(r, o)) {
        /* It joined a flight the disk tier filled, checked against the leader's request
         * only: its own directives refuse it (RFC 9111 §5.2.1). Memory holds it now: a
         * lookup again revalidates it, or once more than that, the origin answers. (A
         * slice's reader may have sent part of its response: not for slices, whose
         * reader filled the flight after checking its own directives.) */
        return look_again(r);
    }
    if (follower && !no_head && !selects_variant(r, o)) {
        /* A variant for other request fields: look again, now that the cache knows what
         * responses vary on. Once only, should the origin keep changing its Vary. */
        SF_COUNT(vary_redispatches);
        return look_again(r);
    }
    if (no_head) {
        sf_req_count_outcome(r);
        if (fail == SF_FAIL_TIMEOUT)
            return sf_req_synth(r, MHD_HTTP_GATEWAY_TIMEOUT, "upstream timed out\n", false);
        if (fail == SF_FAIL_CANCELLED)
            return sf_req_synth(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n", true);
        if (fail == SF_FAIL_FORBIDDEN)
            return sf_req_synth(r, MHD_HTTP_FORBIDDEN,
                                "the destination resolves to an address that is not allowed "
                                "(forward_proxy.allow)\n",
                                false);
        return sf_req_synth(r, MHD_HTTP_BAD_GATEWAY, "upstream unreachable\n", false);
    }
    if (r->slices != NULL)
        return SF_REQ_DELIVER_SLICED;
    r->leads = leader;
    return SF_REQ_DELIVER;
}

/* ---- DELIVER, SYNTH, SENT ---- */

/* Answers r from its object as the body arrives; the leader also gets the fields that
 * were withheld from everyone else. */
enum sf_req_step sf_dispatch_deliver(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(WAIT_HEAD));
    const char *method = c->method;
    struct sf_obj *o = r->obj;
    if (o->revalidated)
        r->xcache = "REVALIDATED"; /* the stored response, confirmed by the origin */
    else if (o->served_stale)
        r->xcache = "STALE"; /* the stored response, standing in for a failed origin */
    else if (o->from_disk) {
        r->xcache = "HIT"; /* it joined a flight the disk tier filled (diskhit.h) */
        r->tier = "disk";
        sf_disktier_count_hit();
    }
    sf_req_count_outcome(r);
    bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (safe && !o->served_stale && sf_respond_unchanged_for(o, false, r->conn))
        /* A conditional request the response just received (or refreshed) satisfies:
         * 304, no body (a cluster peer revalidating its copy through its owner, a
         * browser's reload). */
        return sf_req_respond_object(r, o, MHD_HTTP_NOT_MODIFIED,
                                     sf_respond_unchanged(o, r->xcache));
    r->rd = (struct sf_reader){
        .obj = o, .w = &r->w, .conn = r->conn, .up = r->up, .done = sf_req_reader_done};
    r->rd.peer_secret = r->dest.from_peer ? r->snap->cfg.cluster_secret : NULL; /* respond.h */
    atomic_fetch_add(&r->refs, 1); /* until sf_req_reader_done */
    /* A stale response standing in for a failed origin is as old as the cache says. */
    unsigned status;
    /* (P), and r is attached: o has its flight. */
    const struct sf_hdrs *own = r->leads ? o->flight->own_hdrs : NULL;
    struct MHD_Response *resp =
        sf_respond_streamed(&r->rd, method, r->xcache, own, o->served_stale, &status);
    return sf_req_respond_object(r, o, status, resp);
}

/* An answer of sfproxy's own, as sf_req_synth set it. */
enum sf_req_step sf_dispatch_synth(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(RECV) | SF_REQ_BIT(ADMIT) | SF_REQ_BIT(CONTENT) | SF_REQ_BIT(LOOKUP) |
                       SF_REQ_BIT(UPLOAD) | SF_REQ_BIT(WAIT_HEAD));
    (void)c;
    if (r->admitted && !r->outcome_counted) {
        r->outcome_counted = true;
        SF_COUNT(refused); /* answered by sfproxy itself, not from a response */
    }
    r->body_bytes = strlen(r->synth_text);
    return sf_req_respond(r, r->synth_status,
                          sf_respond_text(r->synth_text, r->synth_status, r->xcache, r->synth_close,
                                          r->dest.from_peer));
}

enum sf_req_step sf_dispatch_sent(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(PEER) | SF_REQ_BIT(HIT) | SF_REQ_BIT(DELIVER) |
                       SF_REQ_BIT(DELIVER_SLICED) | SF_REQ_BIT(SYNTH) | SF_REQ_BIT(SENT));
    (void)c;
    return sf_req_yield(r, SF_REQ_SENT);
}
