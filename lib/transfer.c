/* transfer: see transfer.h.
 *
 * A transfer is set up on a fresh easy handle (xfersend.c), fed by curl's callbacks
 * (sf_xfer_on_header and sf_xfer_on_body here, the send side's there), and ended by
 * finish, which settles its object, or by restart, which starts the same fetch again on a
 * new transfer: at the next cluster node (fall_back) or the next server of its pool
 * (xferpool.c). It touches the loop only through its struct sf_transfers. Runs on: the fetcher
 * thread, every function here.
 *
 * Lock order: an object's lock alone, never across a call into the cache or publish.c
 * (which take the table's lock first: table, then object). */
#include "transfer.h"
#include "transfer-t.h"

#include "disktier.h"
#include "fetchspec.h"
#include "log.h"
#include "metrics.h"
#include "peerhop.h"
#include "reqbody.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- settings ---- */

/* What a fetch pinned to snap runs with, with a reference (NULL: see sf_fetchconf_new). The
 * newest snapshot's settings are kept for the fetches that follow; a fetch that straddled
 * a reload (pinned before it, started after) gets its own. */
static struct sf_fetchconf *conf_for(struct sf_transfers *t, struct sf_snap *snap)
{
    if (t->conf->snap == snap) {
        t->conf->refs++;
        return t->conf;
    }
    struct sf_fetchconf *c = sf_fetchconf_new(t->cache, snap, t->pools);
    if (c != NULL && snap->gen > t->conf->snap->gen) {
        sf_fetchconf_unref(t->conf);
        t->conf = c;
        c->refs++;
    }
    return c;
}

struct sf_transfers *sf_transfers_new(struct sf_snap *snap, struct sf_cache *cache,
                                      struct sf_pools *pools, CURLM *multi,
                                      sf_pinned_cancel_cb *cancel, void *cancel_arg)
{
    struct sf_fetchconf *conf = sf_fetchconf_new(cache, snap, pools); /* checks the URL for TLS */
    if (conf == NULL)
        return NULL;
    struct sf_transfers *t = sf_xcalloc(1, sizeof *t);
    t->cache = cache;
    t->pools = pools;
    t->multi = multi;
    t->cancel = cancel;
    t->cancel_arg = cancel_arg;
    t->conf = conf;
    t->all.next = t->all.prev = &t->all;
    return t;
}

void sf_transfers_set_self_ports(struct sf_transfers *t, const _Atomic uint16_t *self_ports)
{
    t->self_ports = self_ports;
}

void sf_transfers_free(struct sf_transfers *t)
{
    if (t == NULL)
        return;
    SF_ASSERT(t->all.next == &t->all);
    sf_fetchconf_unref(t->conf);
    free(t);
}

const struct sf_config *sf_transfers_config(const struct sf_transfers *t)
{
    return t->conf->cfg;
}

/* ---- response head ---- */

/* Queues x's waiters for the wake pass at the end of this curl_multi_perform. */
static void mark_dirty(struct sf_transfer *x)
{
    if (!x->dirty) {
        x->dirty = true;
        x->dirty_next = x->t->dirty;
        x->t->dirty = x;
    }
}

static void undirty(struct sf_transfer *x)
{
    struct sf_transfer **pp = &x->t->dirty;
    while (*pp != x)
        pp = &(*pp)->dirty_next;
    *pp = x->dirty_next;
    x->dirty = false;
}

/* What the judge needs to know of x's request. */
static struct sf_judged_request judged_request(const struct sf_transfer *x)
{
    const struct sf_fetch_spec *spec = x->spec;
    return (struct sf_judged_request){
        spec->method, spec->url,         &spec->hdrs, x->obj->shared,   spec->get_key != NULL,
        spec->stale,  x->request_time_s, spec->slice, spec->slice_first};
}

/* Carries d out (publish.c) and goes on with x as it says. */
static void carry_out(struct sf_transfer *x, struct sf_head_decision *d, int64_t now_s)
{
    struct sf_judged_request req = judged_request(x);
    x->headers_done = true;
    x->last_byte_ms = sf_now_ms();
    x->discard = d->use == SF_HEAD_STALE; /* the error's body is not what is served */
    x->store_for_get = d->store_for_get;
    /* For the access log; published (so read by waiters) with the head below. No head
     * came when the stored response stands in for an unreachable origin. */
    if (x->head.status > 0) {
        struct sf_flight *f = x->obj->flight; /* (its fetch runs: it has one) */
        f->upstream_status = (unsigned)x->head.status;
        /* From the fetch's start: on a pool, its first attempt's. */
        uint64_t from = x->pool != NULL ? x->spec->att.start_us : x->start_us;
        f->upstream_ttfb_us = (int64_t)(sf_mono_us() - from);
        sf_metrics_observe_us(&sf_metrics.upstream_first_byte_seconds, f->upstream_ttfb_us);
    }
    sf_xfer_pool_note(x);
    if (sf_publish(&x->rule->publisher, x->obj, &req, x->spec, d, now_s))
        mark_dirty(x);
    else
        x->cancel = true;
}

/* The head is final: judge it (judge.c) and carry that out. */
static void publish(struct sf_transfer *x)
{
    int64_t now_s = sf_wall_s();
    struct sf_head_decision d;
    struct sf_judged_request req = judged_request(x);
    sf_judge_head(&x->rule->judge, &req, x->head.status, &x->head.hdrs, now_s, &d);
    if (x->spec->fallback_url != NULL) {
        SF_PEER_COUNT(x->spec->peer_id, answered);
        if (!x->spec->store_peer_response)
            d.verdict.storable = false; /* cluster.store_on_edge off: only the owner keeps it */
    }
    carry_out(x, &d, now_s);
}

/* A 103 Early Hints (RFC 8297): its Link fields go on at once to the clients waiting for
 * the response head, as a 103 of sfproxy's own; nothing of it is stored. */
static void forward_hints(struct sf_transfer *x)
{
    const struct sf_hdrs *h = &x->head.hdrs;
    size_t len = 32;
    for (size_t i = 0; i < h->n; i++)
        if (sf_streq_ci(h->v[i].name, "Link"))
            len += strlen(h->v[i].value) + 8;
    if (len == 32)
        return;
    char *head = sf_xmalloc(len);
    char *p = stpcpy(head, "HTTP/1.1 103 Early Hints\r\n");
    for (size_t i = 0; i < h->n; i++)
        if (sf_streq_ci(h->v[i].name, "Link"))
            p += sprintf(p, "Link: %s\r\n", h->v[i].value);
    p = stpcpy(p, "\r\n");
    sf_waiters_wake(sf_obj_send_interim(x->obj, head, (size_t)(p - head)));
    SF_COUNT(early_hints);
    free(head);
}

size_t sf_xfer_on_header(char *line, size_t size, size_t n, void *arg)
{
    struct sf_transfer *x = arg;
    size_t len = size * n;
    if (x->cancel)
        return 0;
    const char *why;
    switch (sf_resphead_line(&x->head, line, len, &why)) {
    case SF_RESPHEAD_MORE: return len;
    case SF_RESPHEAD_INTERIM:
        /* (A peer's 103 is not signed: it cannot be told from a forged one.) */
        if (x->head.status == 103 && !x->headers_done && x->spec->fallback_url == NULL &&
            !sf_xfer_pool_may_move(x))
            forward_hints(x);
        return len;
    case SF_RESPHEAD_FINAL:
        /* A peer's answer that is not its own, or says it is stopping: the next node. */
        if (!x->headers_done && x->spec->fallback_url != NULL)
            x->refused = sf_peerhop_answer(x->spec, x->obj, x->head.status, &x->head.hdrs,
                                           &x->peer_body, &x->refused_down);
        if (x->refused != NULL)
            return 0;
        /* A status the pool retries on another server, which is chosen: not this one. */
        if (!x->headers_done && sf_xfer_pool_refuse_head(x))
            return 0;
        if (!x->headers_done) /* (trailers end with a blank line too) */
            publish(x);
        return x->cancel ? 0 : len;
    case SF_RESPHEAD_BAD: break;
    }
    /* Refused: the transfer aborts, every waiter gets 502 and nothing is stored. */
    x->bad_head = why;
    return 0;
}

size_t sf_xfer_on_body(char *data, size_t size, size_t n, void *arg)
{
    struct sf_transfer *x = arg;
    struct sf_obj *o = x->obj;
    size_t len = size * n;
    if (x->cancel || !x->headers_done)
        return 0;
    if (x->discard)
        return len; /* the error body behind a stale response */
    if (!sf_peerhop_body_fits(x->spec, x->peer_body, len))
        return 0; /* past what the peer signed: cut (classify), never taken */
    sf_obj_lock(o);
    if (sf_obj_should_pause(o)) {
        /* Its one reader is far behind: hold the rest upstream, not in memory. curl
         * delivers these bytes again once unpaused. */
        o->flight->upstream_paused = true;
        x->paused = true;
        sf_obj_unlock(o);
        return CURL_WRITEFUNC_PAUSE;
    }
    sf_obj_append(o, data, len);
    bool overflow = (!o->unjoinable || o->storable) && o->len > x->rule->set->max_object_bytes;
    if (overflow) {
        o->storable = false;
        sf_obj_close_joins(o);
    }
    bool abandon = sf_obj_drop_if_unwanted(o);
    sf_obj_unlock(o);
    sf_peerhop_body(x->peer_body, data, len); /* (after the pause: paused bytes come again) */
    SF_COUNT_N(bytes_from_upstream, len);
    sf_pinned_grew(len);
    x->last_byte_ms = sf_now_ms();
    if (overflow) {
        /* Past the object limit this is a pass: new requests start their own fetch, and
         * the bytes every reader has passed are freed. */
        sf_cache_unlist(x->t->cache, o);
    }
    if (abandon) {
        x->cancel = true;
        return 0;
    }
    mark_dirty(x);
    sf_pinned_tick(x->t->cache, x->conf->cfg->cache_max_pinned_bytes, x->t->cancel,
                   x->t->cancel_arg);
    return len;
}

/* ---- transfers ---- */

/* A submission that never became a transfer: its object fails, its uploader is let go,
 * and the fetch's reference and spec are released. */
void sf_transfer_fail_unstarted(struct sf_transfers *t, struct sf_obj *o,
                                struct sf_fetch_spec *spec)
{
    if (spec->body != NULL)
        sf_reqbody_close(spec->body);
    sf_obj_lock(o);
    struct sf_waiter *wake = sf_obj_finish(o, SF_FAIL_CANCELLED);
    sf_obj_unlock(o);
    sf_waiters_wake(wake);
    if (o->shared)
        sf_cache_unlist(t->cache, o);
    sf_fetch_spec_free(spec);
    sf_obj_unref(o);
}

static void finish(struct sf_transfer *x, enum sf_fail fail, const char *why);

/* Starts spec's fetch into o on a new transfer, with conf (a reference, taken over; NULL:
 * the upstream URL could not be set up). A fetch that restarts keeps the conf it ran with:
 * the server its retry goes to was chosen from that conf's pool version. */
static void start_on(struct sf_transfers *t, struct sf_obj *o, struct sf_fetch_spec *spec,
                     struct sf_fetchconf *conf)
{
    struct sf_transfer *x = sf_xcalloc(1, sizeof *x);
    x->t = t;
    x->obj = o;
    x->spec = spec;
    x->conf = conf;
    x->easy = x->conf != NULL ? curl_easy_init() : NULL;
    x->request_time_s = sf_wall_s();
    x->start_us = sf_mono_us();
    if (x->easy == NULL) {
        sf_log_error("upstream: cannot start a transfer for %s (%s)", spec->url,
                     x->conf != NULL ? "curl_easy_init failed" : "the upstream URL");
        if (x->conf != NULL)
            sf_xfer_pool_abandon(x->conf, spec); /* a retry's server: chosen, never tried */
        sf_fetchconf_unref(x->conf);
        sf_transfer_fail_unstarted(t, o, spec);
        free(x);
        return;
    }
    x->rule = sf_fetchconf_rule(x->conf, spec->route);
    x->first_byte_deadline_ms =
        sf_now_ms() + x->conf->cfg->connect_timeout_ms + x->rule->set->first_byte_timeout_ms;
    sf_xfer_pool_begin(x); /* (the server, before the handle is set up for it) */
    bool ready = sf_xfer_setup(x);
    sf_obj_set_fetch(o, x);
    x->next = &t->all;
    x->prev = t->all.prev;
    t->all.prev->next = x;
    t->all.prev = x;
    SF_COUNT(upstream_requests);
    /* A transfer that cannot start fails now (502), not at the first-byte deadline. */
    if (!ready) {
        finish(x, SF_FAIL_CONNECT, "libcurl refused the transfer's options or fields");
        return;
    }
    CURLMcode mc = curl_multi_add_handle(t->multi, x->easy);
    if (mc != CURLM_OK)
        finish(x, SF_FAIL_CONNECT, curl_multi_strerror(mc));
}

void sf_transfer_start(struct sf_transfers *t, struct sf_obj *o, struct sf_fetch_spec *spec)
{
    start_on(t, o, spec, conf_for(t, spec->snap));
}

static enum sf_fail classify(struct sf_transfer *x, CURLcode rc)
{
    if (x->cancel)
        return SF_FAIL_CANCELLED;
    if (rc == CURLE_OK && x->headers_done) {
        int64_t want = x->obj->content_length;
        size_t got;
        sf_obj_lock(x->obj);
        got = x->obj->len;
        sf_obj_unlock(x->obj);
        bool bodiless = sf_judge_bodiless(x->spec->method, x->head.status);
        if (want >= 0 && !bodiless && got < (uint64_t)want)
            return SF_FAIL_TRUNCATED;
        /* A peer's body that is not the one it signed fails as a cut one. */
        bool proven = x->discard || sf_peerhop_body_end(x->spec, x->peer_body, &x->head.hdrs);
        return proven ? SF_FAIL_NONE : SF_FAIL_TRUNCATED;
    }
    if (x->headers_done)
        return SF_FAIL_TRUNCATED;
    if (x->bad_head != NULL)
        return SF_FAIL_CONNECT; /* garbage before the headers: 502 */
    if (x->forbidden)
        return SF_FAIL_FORBIDDEN;
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return SF_FAIL_TIMEOUT;
    return SF_FAIL_CONNECT;
}

static void count_failure(struct sf_transfer *x, enum sf_fail fail, const char *why)
{
    struct sf_transfers *t = x->t;
    switch (fail) {
    case SF_FAIL_CONNECT:
        SF_COUNT(upstream_err_connect);
        sf_log_limited(&t->rl_connect, 10000, SF_LOG_WARN, "upstream: %s %s: %s (502)",
                       x->spec->method, x->spec->url, why);
        break;
    case SF_FAIL_TIMEOUT:
        SF_COUNT(upstream_err_timeout);
        sf_log_limited(&t->rl_timeout, 10000, SF_LOG_WARN, "upstream: %s %s: %s (504)",
                       x->spec->method, x->spec->url, why);
        break;
    case SF_FAIL_TRUNCATED:
        SF_COUNT(upstream_err_truncated);
        sf_log_limited(&t->rl_truncated, 10000, SF_LOG_WARN, "upstream: %s %s: body cut off: %s",
                       x->spec->method, x->spec->url, why);
        break;
    case SF_FAIL_CANCELLED: SF_COUNT(upstream_cancelled); break;
    case SF_FAIL_FORBIDDEN:
        SF_COUNT(forward_refused);
        sf_log_limited(&t->rl_connect, 10000, SF_LOG_WARN,
                       "forward proxy: %s resolves to an address not allowed (403)", x->spec->url);
        break;
    case SF_FAIL_NONE: break;
    }
}

/* Takes x (its handle out of the multi) off the transfers and frees it; its spec and its
 * reference on its object are the caller's. */
static void xfer_free(struct sf_transfer *x)
{
    x->prev->next = x->next;
    x->next->prev = x->prev;
    sf_obj_set_fetch(x->obj, NULL); /* its flight may go: the object keeps its response */
    curl_easy_cleanup(x->easy);
    free(x->fields); /* one block (xfersend.c), not curl_slist_append's */
    free(x->renamed_url);
    free(x->server_url);
    sf_fetchconf_unref(x->conf);
    sf_resphead_clear(&x->head);
    sf_peerhop_body_free(x->peer_body);
    free(x);
}

/* x's fetch starts again on a new transfer (to the next cluster node, or the next server of
 * its pool), its object and clients unchanged: no head has reached them. */
static void restart(struct sf_transfer *x)
{
    struct sf_transfers *t = x->t;
    struct sf_fetch_spec *spec = x->spec;
    struct sf_obj *o = x->obj;
    if (x->dirty)
        undirty(x);
    CURLMcode mc = curl_multi_remove_handle(t->multi, x->easy);
    if (mc != CURLM_OK)
        sf_log_error("upstream: curl_multi_remove_handle: %s", curl_multi_strerror(mc));
    struct sf_fetchconf *conf = x->conf;
    conf->refs++; /* past xfer_free, which drops x's */
    xfer_free(x);
    start_on(t, o, spec, conf); /* the fetch's reference on o goes on */
}

/* x went to a cluster peer that failed: the peer is skipped for a while, and the same
 * fetch starts again at the next node in its key's order or at the upstream, its object
 * and clients unchanged (no head has reached them). */
static void fall_back(struct sf_transfer *x, const char *why, bool mark_down)
{
    struct sf_transfers *t = x->t;
    struct sf_fetch_spec *spec = x->spec;
    if (mark_down)
        atomic_store(spec->peer_down_until, sf_now_ms() + spec->peer_retry_ms);
    SF_COUNT(peer_fallbacks);
    SF_PEER_COUNT(spec->peer_id, failures);
    const char *failed = spec->peer_id;
    bool peer = sf_peerhop_next(spec);
    if (mark_down)
        sf_log_limited(&t->rl_connect, 10000, SF_LOG_WARN,
                       "cluster: peer %s failed (%s): %s %s, and skipping the peer for %llums",
                       failed, why, peer ? "asking" : "fetching from",
                       peer ? spec->peer_id : "the upstream",
                       (unsigned long long)spec->peer_retry_ms);
    else
        sf_log_limited(&t->rl_connect, 10000, SF_LOG_WARN,
                       "cluster: peer %s failed (%s): %s %s; it is not marked down", failed, why,
                       peer ? "asking" : "fetching from", peer ? spec->peer_id : "the upstream");
    restart(x);
}

static void finish(struct sf_transfer *x, enum sf_fail fail, const char *why)
{
    struct sf_transfers *t = x->t;
    struct sf_obj *o = x->obj;
    if (x->spec->fallback_url != NULL && !x->headers_done && !x->cancel &&
        (x->refused != NULL ||
         ((fail == SF_FAIL_CONNECT || fail == SF_FAIL_TIMEOUT) && !x->connected))) {
        fall_back(x, x->refused != NULL ? x->refused : why, x->refused == NULL || x->refused_down);
        return;
    }
    if (sf_xfer_pool_end(x, fail, why) >= 0) {
        SF_COUNT(upstream_retries);
        restart(x); /* the next server of the pool: spec->att says which */
        return;
    }
    if (x->dirty)
        undirty(x); /* finishing wakes everyone anyway */
    CURLMcode mc = curl_multi_remove_handle(t->multi, x->easy);
    if (mc != CURLM_OK) /* the handle is cleaned up all the same */
        sf_log_error("upstream: curl_multi_remove_handle: %s", curl_multi_strerror(mc));
    if (x->spec->body != NULL)
        sf_reqbody_close(x->spec->body); /* a parked uploader must not wait for us */
    if (x->discard && fail != SF_FAIL_CANCELLED)
        fail = SF_FAIL_NONE; /* the stale response served is whole, whatever the error did */
    count_failure(x, fail, why);
    struct sf_judged_request req = judged_request(x);
    struct sf_head_decision d;
    int64_t now_s = sf_wall_s();
    if ((fail == SF_FAIL_CONNECT || fail == SF_FAIL_TIMEOUT) && sf_judge_failure(&req, now_s, &d)) {
        carry_out(x, &d, now_s); /* the stale response instead (RFC 5861 §4) */
        if (x->dirty)
            undirty(x); /* finishing wakes everyone anyway */
        fail = SF_FAIL_NONE;
    }
    if (!x->headers_done)
        sf_xfer_pool_note(x); /* (published with the failure instead) */
    sf_obj_lock(o);
    struct sf_waiter *wake = sf_obj_finish(o, fail);
    bool store = o->storable;
    unsigned served = o->clients_ever;
    sf_obj_unlock(o);
    if (o->shared)
        sf_metrics_observe_clients(served);
    sf_waiters_wake(wake);
    if (!o->shared && store && x->store_for_get && fail == SF_FAIL_NONE)
        sf_publish_for_get(&x->rule->publisher, o, x->spec->get_key); /* RFC 9110 §9.3.3 */
    if (o->shared) {
        uint64_t now = sf_now_ms();
        if (store) {
            if (sf_cache_store(t->cache, o, now))
                sf_disktier_put(o); /* the disk tier too (disktier.h) */
            SF_COUNT(stores);
        } else if (fail != SF_FAIL_NONE || o->status >= 500) {
            sf_cache_unlist_keep_stale(t->cache, o); /* a failed refresh keeps the old */
        } else {
            sf_cache_unlist(t->cache, o);
        }
    }
    struct sf_fetch_spec *spec = x->spec;
    xfer_free(x);
    sf_fetch_spec_free(spec);
    sf_obj_unref(o);
}

void sf_transfer_unpause(struct sf_transfers *t, struct sf_obj *o)
{
    (void)t;
    struct sf_transfer *x = sf_obj_fetch(o);
    if (x == NULL)
        return;
    x->paused = false;
    x->last_byte_ms = sf_now_ms(); /* the idle clock restarts */
    if (!x->headers_done)          /* an upload waiting for its client goes on */
        x->first_byte_deadline_ms = sf_now_ms() + x->rule->set->upstream_idle_timeout_ms;
    CURLcode rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
    if (rc != CURLE_OK) /* a transfer that cannot go on must not hang */
        finish(x, x->headers_done ? SF_FAIL_TRUNCATED : SF_FAIL_CONNECT, curl_easy_strerror(rc));
}

void sf_transfer_cancel_unwanted(struct sf_transfers *t, struct sf_obj *o)
{
    (void)t;
    sf_obj_lock(o);
    bool drop = sf_obj_drop_if_unwanted(o);
    sf_obj_unlock(o);
    struct sf_transfer *x = sf_obj_fetch(o);
    if (drop && x != NULL) {
        x->cancel = true;
        finish(x, SF_FAIL_CANCELLED, "no client left");
    }
}

void sf_transfer_done(struct sf_transfers *t, CURL *easy, CURLcode rc)
{
    (void)t;
    struct sf_transfer *x = NULL;
    CURLcode got = curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    SF_ASSERT(got == CURLE_OK && x != NULL); /* setup_easy set it, or it never started */
    enum sf_fail fail = classify(x, rc);
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
    finish(x, fail, x->bad_head != NULL ? x->bad_head : why);
}

void sf_transfers_wake(struct sf_transfers *t)
{
    while (t->dirty != NULL) {
        struct sf_transfer *x = t->dirty;
        t->dirty = x->dirty_next;
        x->dirty = false;
        sf_obj_lock(x->obj);
        struct sf_waiter *wake = sf_obj_take_waiters(x->obj);
        sf_obj_unlock(x->obj);
        sf_waiters_wake(wake);
    }
}

/* Fails transfers past their deadlines: no headers by the first-byte deadline (504), or a
 * body that stalled for upstream_idle (truncated). Returns ms until the next deadline.
 * Our own clocks rather than curl's timeouts: CURLOPT_TIMEOUT_MS would cut a long stream,
 * and the low-speed limit would also cut a slow first byte. */
long sf_transfers_enforce_deadlines(struct sf_transfers *t)
{
    uint64_t now = sf_now_ms();
    long next = 1000;
    struct sf_transfer *x = t->all.next;
    while (x != &t->all) {
        struct sf_transfer *after = x->next;
        uint64_t due = x->headers_done ? x->last_byte_ms + x->rule->set->upstream_idle_timeout_ms
                                       : x->first_byte_deadline_ms;
        if (x->paused) {
            /* Waiting for our own reader is not an upstream stall. */
        } else if (now >= due && !x->headers_done) {
            x->budget_out = x->capped; /* (a pool fetch's, spent by the servers before) */
            finish(x, SF_FAIL_TIMEOUT, "no response headers before the first-byte deadline");
        } else if (now >= due)
            finish(x, SF_FAIL_TRUNCATED, "no body bytes for timeouts.upstream_idle");
        else if ((long)(due - now) < next)
            next = (long)(due - now);
        x = after;
    }
    return next;
}

struct sf_transfer *sf_transfers_first(struct sf_transfers *t)
{
    return t->all.next != &t->all ? t->all.next : NULL;
}

void sf_transfer_cancel(struct sf_transfer *x, const char *why)
{
    finish(x, SF_FAIL_CANCELLED, why);
}
