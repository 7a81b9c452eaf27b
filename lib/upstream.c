/* upstream: see upstream.h.
 *
 * One loop on one thread: take queued work, let curl move bytes, wake the readers of
 * objects that received data (once per pass, not once per piece), finish the transfers
 * curl reports done, fail those past their first-byte deadline, drop parked clients that
 * hung up, then sleep in curl_multi_poll until a socket, the hangup watcher, a wakeup or
 * the next deadline. Curl handles never leave this thread.
 *
 * Lock order: queue lock alone; object locks are taken without the queue lock. */
#include "upstream.h"

#include "judge.h"
#include "publish.h"
#include "pinned.h"
#include "resphead.h"
#include "log.h"
#include "metrics.h"
#include "origintls.h"
#include "peerhop.h"
#include "live.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum job_kind { JOB_SUBMIT, JOB_CANCEL, JOB_UNPAUSE };

struct job {
    enum job_kind kind;
    struct sf_obj *obj; /* a reference */
    struct sf_fetch_spec *spec;
    struct job *next;
};

/* What the fetcher derives from one config snapshot: the rules a response head is judged
 * by and how TLS to the upstream is set up. Built when a fetch pinned to a snapshot the
 * fetcher has not seen starts; kept while a transfer uses it. (F) all fields. */
struct up_conf {
    unsigned refs;               /* the fetcher's newest, and each transfer's */
    struct sf_snap *snap;        /* pinned */
    const struct sf_config *cfg; /* &snap->cfg */
    struct sf_cache_rules rules;
    struct sf_judge_cfg judge; /* with rules */
    struct sf_publisher publisher;
    struct sf_origin_tls tls; /* upstream_tls.*, for the upstream's fetches */
};

/* A running transfer. (F) all fields. */
struct xfer {
    struct sf_upstream *up;
    struct up_conf *conf; /* the settings of the config its request arrived under */
    struct sf_obj *obj;   /* the fetch's reference */
    struct sf_fetch_spec *spec;
    CURL *easy;
    struct curl_slist *fields;
    struct sf_resphead head; /* the response head being received */
    bool headers_done;
    const char *bad_head; /* why the origin's head was refused (then: 502), or NULL */
    bool cancel;          /* abort at the next callback */
    bool paused;          /* receiving is paused until the reader catches up */
    bool discard;         /* the body is not the response served: drop it */
    bool store_for_get;   /* once complete, store the response for GETs (judge.h) */
    bool forbidden;       /* a forward-proxy destination resolved to a refused address */
    bool connected;       /* the connection to the server is up (libcurl's prerequest) */
    const char *refused;  /* why a cluster peer's answer is not taken (peerhop.h), or NULL */
    bool refused_down;    /* with refused: the peer is to be marked down too */
    bool dirty;           /* received data since the last wake pass */
    struct xfer *dirty_next;
    struct xfer *prev, *next;
    /* Before the response head: when the transfer fails for want of it. Until connected,
     * connect + first byte; while the request content is sent, the last progress +
     * upstream_idle (an origin that stops reading); once the request is sent, + first_byte
     * (RFC-wise: from the request to its response). */
    uint64_t first_byte_deadline_ms;
    uint64_t last_byte_ms; /* when the headers or the last body bytes arrived */
    int64_t request_time_s;
    uint64_t start_us; /* sf_mono_us when the transfer started */
    char *renamed_url; /* the URL fetched, when upstream_tls.sni renamed it; owned */
    char errbuf[CURL_ERROR_SIZE];
    /* A cluster peer's answer whose body is being proven (peerhop.h), or NULL. */
    struct sf_peerbody *peer_body;
};

struct sf_upstream {
    struct sf_cache *cache;
    struct sf_hangup *hangup;
    CURLM *multi;
    pthread_t thread;
    struct sf_mutex qlock;
    struct job *queue_head, **queue_tail; /* (Q) */
    bool aborting;                        /* (Q) fail everything from now on */
    bool stopping;                        /* (Q) leave the loop */
    struct xfer xfers;                    /* (F) sentinel */
    struct xfer *dirty;                   /* (F) */
    struct sf_ratelimit rl_connect, rl_timeout, rl_truncated, rl_multi;
    struct up_conf *conf;               /* (F) the newest config's */
    const _Atomic uint16_t *self_ports; /* (C) set before the first fetch */
};

void sf_upstream_set_self_ports(struct sf_upstream *up, const _Atomic uint16_t *self_ports)
{
    up->self_ports = self_ports;
}

/* ---- settings ---- */

static void conf_unref(struct up_conf *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    sf_origin_tls_clear(&c->tls);
    sf_snap_unref(c->snap);
    free(c);
}

/* The settings of snap, with one reference; NULL when the upstream URL cannot be taken
 * apart for TLS (checked at load: not expected). */
static struct up_conf *conf_new(struct sf_upstream *up, struct sf_snap *snap)
{
    struct up_conf *c = sf_xcalloc(1, sizeof *c);
    const struct sf_config *cfg = &snap->cfg;
    const char *why = NULL;
    if (!sf_origin_tls_init(&c->tls, cfg, &why)) {
        sf_log_error("upstream: %s", why);
        free(c);
        return NULL;
    }
    c->refs = 1;
    c->snap = sf_snap_ref(snap);
    c->cfg = cfg;
    c->rules = (struct sf_cache_rules){
        cfg->targeted.v,
        cfg->targeted.n,
        cfg->heuristic_percent,
        (int64_t)(cfg->heuristic_max_ms / 1000),
        cfg->stale_while_revalidate_ms ? (int64_t)(cfg->stale_while_revalidate_ms / 1000) : -1,
        cfg->stale_if_error_ms ? (int64_t)(cfg->stale_if_error_ms / 1000) : -1,
        cfg->store_server_errors};
    c->judge = (struct sf_judge_cfg){&c->rules, cfg->cache_max_object_bytes, cfg->strip_set_cookie,
                                     cfg->store_post_responses, sf_config_slice_bytes(cfg)};
    c->publisher = (struct sf_publisher){up->cache, &c->judge, cfg->hit_for_pass_ms};
    return c;
}

/* What a fetch pinned to snap runs with, with a reference (NULL: see conf_new). The
 * newest snapshot's settings are kept for the fetches that follow; a fetch that straddled
 * a reload (pinned before it, started after) gets its own. */
static struct up_conf *conf_for(struct sf_upstream *up, struct sf_snap *snap)
{
    if (up->conf->snap == snap) {
        up->conf->refs++;
        return up->conf;
    }
    struct up_conf *c = conf_new(up, snap);
    if (c != NULL && snap->gen > up->conf->snap->gen) {
        conf_unref(up->conf);
        up->conf = c;
        c->refs++;
    }
    return c;
}

void sf_fetch_spec_free(struct sf_fetch_spec *spec)
{
    if (spec == NULL)
        return;
    free(spec->method);
    free(spec->url);
    sf_hdrs_clear(&spec->hdrs);
    sf_reqbody_unref(spec->body);
    free(spec->get_key);
    free(spec->fallback_url);
    free(spec->peer_path);
    sf_obj_unref(spec->stale);
    sf_snap_unref(spec->snap);
    free(spec);
}

/* Interrupts the fetcher's poll. Should curl fail to, the fetcher still looks at its
 * queue within a second (enforce_deadlines' longest sleep). */
static void wake_fetcher(struct sf_upstream *up)
{
    CURLMcode mc = curl_multi_wakeup(up->multi);
    if (mc != CURLM_OK)
        sf_log_limited(&up->rl_multi, 10000, SF_LOG_ERROR, "upstream: curl_multi_wakeup: %s",
                       curl_multi_strerror(mc));
}

static void enqueue(struct sf_upstream *up, struct job *j)
{
    j->next = NULL;
    sf_mutex_lock(&up->qlock);
    *up->queue_tail = j;
    up->queue_tail = &j->next;
    sf_mutex_unlock(&up->qlock);
    wake_fetcher(up);
}

void sf_upstream_submit(struct sf_upstream *up, struct sf_obj *o, struct sf_fetch_spec **spec)
{
    struct job *j = sf_xcalloc(1, sizeof *j);
    j->kind = JOB_SUBMIT;
    j->obj = sf_obj_ref(o);
    j->spec = *spec;
    *spec = NULL;
    enqueue(up, j);
}

static void enqueue_for(struct sf_upstream *up, enum job_kind kind, struct sf_obj *o)
{
    struct job *j = sf_xcalloc(1, sizeof *j);
    j->kind = kind;
    j->obj = sf_obj_ref(o);
    enqueue(up, j);
}

void sf_upstream_cancel(struct sf_upstream *up, struct sf_obj *o)
{
    enqueue_for(up, JOB_CANCEL, o);
}

/* A flight the pinned-memory pass gave up (pinned.h). */
static void cancel_pinned(void *arg, struct sf_obj *o)
{
    sf_upstream_cancel(arg, o);
}

void sf_upstream_unpause(struct sf_upstream *up, struct sf_obj *o)
{
    enqueue_for(up, JOB_UNPAUSE, o);
}

void sf_upstream_abort_all(struct sf_upstream *up)
{
    sf_mutex_lock(&up->qlock);
    up->aborting = true;
    sf_mutex_unlock(&up->qlock);
    wake_fetcher(up);
}

/* ---- response head ---- */

/* Queues x's waiters for the wake pass at the end of this curl_multi_perform. */
static void mark_dirty(struct xfer *x)
{
    if (!x->dirty) {
        x->dirty = true;
        x->dirty_next = x->up->dirty;
        x->up->dirty = x;
    }
}

static void undirty(struct xfer *x)
{
    struct xfer **pp = &x->up->dirty;
    while (*pp != x)
        pp = &(*pp)->dirty_next;
    *pp = x->dirty_next;
    x->dirty = false;
}

/* What the judge needs to know of x's request. */
static struct sf_judged_request judged_request(const struct xfer *x)
{
    const struct sf_fetch_spec *spec = x->spec;
    return (struct sf_judged_request){
        spec->method, spec->url,         &spec->hdrs, x->obj->shared,   spec->get_key != NULL,
        spec->stale,  x->request_time_s, spec->slice, spec->slice_first};
}

/* Carries d out (publish.c) and goes on with x as it says. */
static void carry_out(struct xfer *x, struct sf_head_decision *d, int64_t now_s)
{
    struct sf_judged_request req = judged_request(x);
    x->headers_done = true;
    x->last_byte_ms = sf_now_ms();
    x->discard = d->use == SF_HEAD_STALE; /* the error's body is not what is served */
    x->store_for_get = d->store_for_get;
    /* For the access log; published (so read by waiters) with the head below. No head
     * came when the stored response stands in for an unreachable origin. */
    if (x->head.status > 0) {
        x->obj->upstream_status = (unsigned)x->head.status;
        x->obj->upstream_ttfb_us = (int64_t)(sf_mono_us() - x->start_us);
        sf_metrics_observe_us(&sf_metrics.upstream_first_byte_seconds, x->obj->upstream_ttfb_us);
    }
    if (sf_publish(&x->conf->publisher, x->obj, &req, x->spec->get_key, d, now_s))
        mark_dirty(x);
    else
        x->cancel = true;
}

/* The head is final: judge it (judge.c) and carry that out. */
static void publish(struct xfer *x)
{
    int64_t now_s = sf_wall_s();
    struct sf_head_decision d;
    struct sf_judged_request req = judged_request(x);
    sf_judge_head(&x->conf->judge, &req, x->head.status, &x->head.hdrs, now_s, &d);
    if (x->spec->fallback_url != NULL) {
        SF_PEER_COUNT(x->spec->peer_id, answered);
        if (!x->spec->store_peer_response)
            d.verdict.storable = false; /* cluster.store_on_edge off: only the owner keeps it */
    }
    carry_out(x, &d, now_s);
}

/* A 103 Early Hints (RFC 8297): its Link fields go on at once to the clients waiting for
 * the response head, as a 103 of sfproxy's own; nothing of it is stored. */
static void forward_hints(struct xfer *x)
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
    sf_obj_lock(x->obj);
    struct sf_waiter *gone = sf_obj_send_interim(x->obj, head, (size_t)(p - head));
    sf_obj_unlock(x->obj);
    sf_waiters_wake(gone);
    SF_COUNT(early_hints);
    free(head);
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;
    if (x->cancel)
        return 0;
    const char *why;
    switch (sf_resphead_line(&x->head, line, len, &why)) {
    case SF_RESPHEAD_MORE: return len;
    case SF_RESPHEAD_INTERIM:
        /* (A peer's 103 is not signed: it cannot be told from a forged one.) */
        if (x->head.status == 103 && !x->headers_done && x->spec->fallback_url == NULL)
            forward_hints(x);
        return len;
    case SF_RESPHEAD_FINAL:
        /* A peer's answer that is not its own, or says it is stopping: the next node. */
        if (!x->headers_done && x->spec->fallback_url != NULL)
            x->refused = sf_peerhop_answer(x->spec, x->obj, x->head.status, &x->head.hdrs,
                                           &x->peer_body, &x->refused_down);
        if (x->refused != NULL)
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

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
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
        o->upstream_paused = true;
        x->paused = true;
        sf_obj_unlock(o);
        return CURL_WRITEFUNC_PAUSE;
    }
    sf_obj_append(o, data, len);
    bool overflow =
        (!o->unjoinable || o->storable) && o->len > x->conf->cfg->cache_max_object_bytes;
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
        sf_cache_unlist(x->up->cache, o);
    }
    if (abandon) {
        x->cancel = true;
        return 0;
    }
    mark_dirty(x);
    sf_pinned_tick(x->up->cache, x->conf->cfg->cache_max_pinned_bytes, cancel_pinned, x->up);
    return len;
}

/* Feeds the client's content to curl as it arrives. */
static size_t on_read(char *dst, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t got;
    if (x->cancel)
        return CURL_READFUNC_ABORT;
    switch (sf_reqbody_read(x->spec->body, dst, size * n, &got)) {
    case SF_REQBODY_DATA:
        x->first_byte_deadline_ms = sf_now_ms() + x->conf->cfg->upstream_idle_timeout_ms;
        return got;
    case SF_REQBODY_EOF:
        /* The request is sent: the wait for its response head starts now. */
        x->first_byte_deadline_ms = sf_now_ms() + x->conf->cfg->first_byte_timeout_ms;
        return 0;
    case SF_REQBODY_WAIT:
        x->paused = true;           /* waiting for our client is not the origin's delay */
        return CURL_READFUNC_PAUSE; /* sf_upstream_unpause continues it */
    case SF_REQBODY_ABORTED:
        /* The client's side ended it (gone, over the limit, a broken chunked body): a
         * cancellation, not an origin failure to warn about. */
        x->cancel = true;
        break;
    }
    return CURL_READFUNC_ABORT;
}

/* ---- transfers ---- */

/* Appends a line to the fields curl sends; false when curl has no memory for it. */
static bool add_line(struct xfer *x, const char *line)
{
    struct curl_slist *more = curl_slist_append(x->fields, line);
    if (more == NULL)
        return false;
    x->fields = more;
    return true;
}

static bool add_field(struct xfer *x, const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = sf_xmalloc(len);
    /* "Name;" is curl's way to send a field with an empty value. */
    snprintf(line, len, *value ? "%s: %s" : "%s;", name, value);
    bool ok = add_line(x, line);
    free(line);
    return ok;
}

/* Connected, the request about to be sent: without content it is sent now, so the
 * first-byte clock starts; with content, the clock watches the upload's progress first. */
static int on_connected(void *arg, char *primary_ip, char *local_ip, int primary_port,
                        int local_port)
{
    struct xfer *x = arg;
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    const struct sf_config *cfg = x->conf->cfg;
    x->connected = true;
    x->first_byte_deadline_ms = sf_now_ms() + (x->spec->body != NULL ? cfg->upstream_idle_timeout_ms
                                                                     : cfg->first_byte_timeout_ms);
    return CURL_PREREQFUNC_OK;
}

/* Opens the socket of a forward-proxy fetch only toward an allowed address: the name was
 * checked when the request came, but a name may resolve anywhere (DNS rebinding). */
static curl_socket_t open_checked(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct xfer *x = arg;
    (void)purpose;
    uint16_t port = 0;
    if (a->family == AF_INET)
        port = ntohs(((const struct sockaddr_in *)(const void *)&a->addr)->sin_port);
    else if (a->family == AF_INET6)
        port = ntohs(((const struct sockaddr_in6 *)(const void *)&a->addr)->sin6_port);
    struct sf_dest_rules dest = {&x->conf->cfg->forward_allow, x->up->self_ports};
    if (x->up->self_ports == NULL ||
        !sf_dest_addr_ok(&dest, x->spec->dest_listed, &a->addr, port)) {
        x->forbidden = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* Sets x's easy handle up for its spec; false when curl refuses an option or has no
 * memory for the fields (the transfer must then fail, not go out without them). */
static bool setup_easy(struct xfer *x)
{
    const struct sf_config *cfg = x->conf->cfg;
    struct sf_fetch_spec *s = x->spec;
    CURL *e = x->easy;
    bool ok = true;
#define SET(option, value) (ok = ok && curl_easy_setopt(e, option, value) == CURLE_OK)
    if (s->forward)
        SET(CURLOPT_URL, s->url);
    else
        ok = sf_origin_tls_apply(&x->conf->tls, e, s->url, &x->renamed_url);
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROXY, ""); /* never an environment proxy */
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_PROTOCOLS_STR, s->forward ? "http" : "http,https");
    if (s->forward) {
        SET(CURLOPT_OPENSOCKETFUNCTION, open_checked);
        SET(CURLOPT_OPENSOCKETDATA, x);
    }
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        (long)(s->fallback_url != NULL ? s->peer_connect_timeout_ms : cfg->connect_timeout_ms));
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_PREREQFUNCTION, on_connected);
    SET(CURLOPT_PREREQDATA, x);
    if (strcmp(s->method, "HEAD") == 0)
        SET(CURLOPT_NOBODY, 1L); /* the front refuses a HEAD with content */
    else if (strcmp(s->method, "GET") != 0 || s->body != NULL)
        SET(CURLOPT_CUSTOMREQUEST, s->method); /* a GET with content stays GET */
    if (s->body != NULL) {
        /* Streamed content, framed by us: the length libmicrohttpd read it by (a check at
         * its end aborts the transfer if fewer bytes came), else chunked. */
        int64_t len = sf_reqbody_declared_len(s->body);
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (len < 0)
            ok = ok && add_field(x, "Transfer-Encoding", "chunked");
    }
    for (size_t i = 0; i < s->hdrs.n; i++)
        ok = ok && add_field(x, s->hdrs.v[i].name, s->hdrs.v[i].value);
    /* Send only what the client sent: remove what curl would add on its own. */
    static const char *const curl_adds[] = {"Accept", "Content-Type", "Expect"};
    for (size_t i = 0; i < 3; i++)
        if (sf_hdrs_get(&s->hdrs, curl_adds[i]) == NULL) {
            char off[32];
            snprintf(off, sizeof off, "%s:", curl_adds[i]);
            ok = ok && add_line(x, off);
        }
    SET(CURLOPT_HTTPHEADER, x->fields);
#undef SET
    return ok;
}

/* A submission that never became a transfer: its object fails, its uploader is let go,
 * and the fetch's reference and spec are released. */
static void fail_unstarted(struct sf_upstream *up, struct sf_obj *o, struct sf_fetch_spec *spec)
{
    if (spec->body != NULL)
        sf_reqbody_close(spec->body);
    sf_obj_lock(o);
    struct sf_waiter *wake = sf_obj_finish(o, SF_FAIL_CANCELLED);
    sf_obj_unlock(o);
    sf_waiters_wake(wake);
    if (o->shared)
        sf_cache_unlist(up->cache, o);
    sf_fetch_spec_free(spec);
    sf_obj_unref(o);
}

static void finish(struct xfer *x, enum sf_fail fail, const char *why);

static void start(struct sf_upstream *up, struct sf_obj *o, struct sf_fetch_spec *spec)
{
    struct xfer *x = sf_xcalloc(1, sizeof *x);
    x->up = up;
    x->obj = o;
    x->spec = spec;
    x->conf = conf_for(up, spec->snap);
    x->easy = x->conf != NULL ? curl_easy_init() : NULL;
    x->request_time_s = sf_wall_s();
    x->start_us = sf_mono_us();
    if (x->easy == NULL) {
        sf_log_error("upstream: cannot start a transfer for %s (%s)", spec->url,
                     x->conf != NULL ? "curl_easy_init failed" : "the upstream URL");
        conf_unref(x->conf);
        fail_unstarted(up, o, spec);
        free(x);
        return;
    }
    x->first_byte_deadline_ms =
        sf_now_ms() + x->conf->cfg->connect_timeout_ms + x->conf->cfg->first_byte_timeout_ms;
    bool ready = setup_easy(x);
    o->fetch = x;
    x->next = &up->xfers;
    x->prev = up->xfers.prev;
    up->xfers.prev->next = x;
    up->xfers.prev = x;
    SF_COUNT(upstream_requests);
    /* A transfer that cannot start fails now (502), not at the first-byte deadline. */
    if (!ready) {
        finish(x, SF_FAIL_CONNECT, "libcurl refused the transfer's options or fields");
        return;
    }
    CURLMcode mc = curl_multi_add_handle(up->multi, x->easy);
    if (mc != CURLM_OK)
        finish(x, SF_FAIL_CONNECT, curl_multi_strerror(mc));
}

static enum sf_fail classify(struct xfer *x, CURLcode rc)
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

static void count_failure(struct xfer *x, enum sf_fail fail, const char *why)
{
    struct sf_upstream *up = x->up;
    switch (fail) {
    case SF_FAIL_CONNECT:
        SF_COUNT(upstream_err_connect);
        sf_log_limited(&up->rl_connect, 10000, SF_LOG_WARN, "upstream: %s %s: %s (502)",
                       x->spec->method, x->spec->url, why);
        break;
    case SF_FAIL_TIMEOUT:
        SF_COUNT(upstream_err_timeout);
        sf_log_limited(&up->rl_timeout, 10000, SF_LOG_WARN, "upstream: %s %s: %s (504)",
                       x->spec->method, x->spec->url, why);
        break;
    case SF_FAIL_TRUNCATED:
        SF_COUNT(upstream_err_truncated);
        sf_log_limited(&up->rl_truncated, 10000, SF_LOG_WARN, "upstream: %s %s: body cut off: %s",
                       x->spec->method, x->spec->url, why);
        break;
    case SF_FAIL_CANCELLED: SF_COUNT(upstream_cancelled); break;
    case SF_FAIL_FORBIDDEN:
        SF_COUNT(forward_refused);
        sf_log_limited(&up->rl_connect, 10000, SF_LOG_WARN,
                       "forward proxy: %s resolves to an address not allowed (403)", x->spec->url);
        break;
    case SF_FAIL_NONE: break;
    }
}

/* Ends a transfer with fail (or success), settles the object in the cache and frees x. */
/* Takes x (its handle out of the multi) off the transfers and frees it; its spec and its
 * reference on its object are the caller's. */
static void xfer_free(struct xfer *x)
{
    x->prev->next = x->next;
    x->next->prev = x->prev;
    x->obj->fetch = NULL;
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->fields);
    free(x->renamed_url);
    conf_unref(x->conf);
    sf_hdrs_clear(&x->head.hdrs);
    sf_peerhop_body_free(x->peer_body);
    free(x);
}

/* x went to a cluster peer that failed: the peer is skipped for a while, and the same
 * fetch starts again at the next node in its key's order or at the upstream, its object
 * and clients unchanged (no head has reached them). */
static void fall_back(struct xfer *x, const char *why, bool mark_down)
{
    struct sf_upstream *up = x->up;
    struct sf_fetch_spec *spec = x->spec;
    struct sf_obj *o = x->obj;
    if (mark_down)
        atomic_store(spec->peer_down_until, sf_now_ms() + spec->peer_retry_ms);
    SF_COUNT(peer_fallbacks);
    SF_PEER_COUNT(spec->peer_id, failures);
    const char *failed = spec->peer_id;
    bool peer = sf_peerhop_next(spec);
    if (mark_down)
        sf_log_limited(&up->rl_connect, 10000, SF_LOG_WARN,
                       "cluster: peer %s failed (%s): %s %s, and skipping the peer for %llums",
                       failed, why, peer ? "asking" : "fetching from",
                       peer ? spec->peer_id : "the upstream",
                       (unsigned long long)spec->peer_retry_ms);
    else
        sf_log_limited(&up->rl_connect, 10000, SF_LOG_WARN,
                       "cluster: peer %s failed (%s): %s %s; it is not marked down", failed, why,
                       peer ? "asking" : "fetching from", peer ? spec->peer_id : "the upstream");
    if (x->dirty)
        undirty(x);
    CURLMcode mc = curl_multi_remove_handle(up->multi, x->easy);
    if (mc != CURLM_OK)
        sf_log_error("upstream: curl_multi_remove_handle: %s", curl_multi_strerror(mc));
    xfer_free(x);
    start(up, o, spec); /* the fetch's reference on o goes on */
}

static void finish(struct xfer *x, enum sf_fail fail, const char *why)
{
    struct sf_upstream *up = x->up;
    struct sf_obj *o = x->obj;
    if (x->spec->fallback_url != NULL && !x->headers_done && !x->cancel &&
        (x->refused != NULL ||
         ((fail == SF_FAIL_CONNECT || fail == SF_FAIL_TIMEOUT) && !x->connected))) {
        fall_back(x, x->refused != NULL ? x->refused : why, x->refused == NULL || x->refused_down);
        return;
    }
    if (x->dirty)
        undirty(x); /* finishing wakes everyone anyway */
    CURLMcode mc = curl_multi_remove_handle(up->multi, x->easy);
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
    sf_obj_lock(o);
    struct sf_waiter *wake = sf_obj_finish(o, fail);
    bool store = o->storable;
    unsigned served = o->clients_ever;
    sf_obj_unlock(o);
    if (o->shared)
        sf_metrics_observe_clients(served);
    sf_waiters_wake(wake);
    if (!o->shared && store && x->store_for_get && fail == SF_FAIL_NONE)
        sf_publish_for_get(&x->conf->publisher, o, x->spec->get_key); /* RFC 9110 §9.3.3 */
    if (o->shared) {
        uint64_t now = sf_now_ms();
        if (store) {
            sf_cache_store(up->cache, o, now);
            SF_COUNT(stores);
        } else if (fail != SF_FAIL_NONE || o->status >= 500) {
            sf_cache_unlist_keep_stale(up->cache, o); /* a failed refresh keeps the old */
        } else {
            sf_cache_unlist(up->cache, o);
        }
    }
    struct sf_fetch_spec *spec = x->spec;
    xfer_free(x);
    sf_fetch_spec_free(spec);
    sf_obj_unref(o);
}

static void run_jobs(struct sf_upstream *up, struct job *j, bool aborting)
{
    while (j != NULL) {
        struct job *next = j->next;
        struct sf_obj *o = j->obj;
        if (j->kind == JOB_SUBMIT && !aborting) {
            start(up, o, j->spec); /* the job's reference becomes the fetch's */
        } else if (j->kind == JOB_SUBMIT) {
            fail_unstarted(up, o, j->spec);
        } else if (j->kind == JOB_UNPAUSE) {
            struct xfer *x = o->fetch;
            if (x != NULL) {
                x->paused = false;
                x->last_byte_ms = sf_now_ms(); /* the idle clock restarts */
                if (!x->headers_done)          /* an upload waiting for its client goes on */
                    x->first_byte_deadline_ms =
                        sf_now_ms() + x->conf->cfg->upstream_idle_timeout_ms;
                CURLcode rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
                if (rc != CURLE_OK) /* a transfer that cannot go on must not hang */
                    finish(x, x->headers_done ? SF_FAIL_TRUNCATED : SF_FAIL_CONNECT,
                           curl_easy_strerror(rc));
            }
            sf_obj_unref(o);
        } else {
            sf_obj_lock(o);
            bool drop = sf_obj_drop_if_unwanted(o);
            sf_obj_unlock(o);
            struct xfer *x = o->fetch;
            if (drop && x != NULL) {
                x->cancel = true;
                finish(x, SF_FAIL_CANCELLED, "no client left");
            }
            sf_obj_unref(o);
        }
        free(j);
        j = next;
    }
}

static void wake_dirty(struct sf_upstream *up)
{
    while (up->dirty != NULL) {
        struct xfer *x = up->dirty;
        up->dirty = x->dirty_next;
        x->dirty = false;
        sf_obj_lock(x->obj);
        struct sf_waiter *wake = sf_obj_take_waiters(x->obj);
        sf_obj_unlock(x->obj);
        sf_waiters_wake(wake);
    }
}

static void reap_done(struct sf_upstream *up)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        CURLcode got = curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        SF_ASSERT(got == CURLE_OK && x != NULL); /* setup_easy set it, or it never started */
        CURLcode rc = msg->data.result;
        enum sf_fail fail = classify(x, rc);
        const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
        finish(x, fail, x->bad_head != NULL ? x->bad_head : why);
    }
}

/* Fails transfers past their deadlines: no headers by the first-byte deadline (504), or a
 * body that stalled for upstream_idle (truncated). Returns ms until the next deadline.
 * Our own clocks rather than curl's timeouts: CURLOPT_TIMEOUT_MS would cut a long stream,
 * and the low-speed limit would also cut a slow first byte. */
static long enforce_deadlines(struct sf_upstream *up)
{
    uint64_t now = sf_now_ms();
    long next = 1000;
    struct xfer *x = up->xfers.next;
    while (x != &up->xfers) {
        struct xfer *after = x->next;
        uint64_t due = x->headers_done ? x->last_byte_ms + x->conf->cfg->upstream_idle_timeout_ms
                                       : x->first_byte_deadline_ms;
        if (x->paused) {
            /* Waiting for our own reader is not an upstream stall. */
        } else if (now >= due && !x->headers_done)
            finish(x, SF_FAIL_TIMEOUT, "no response headers before the first-byte deadline");
        else if (now >= due)
            finish(x, SF_FAIL_TRUNCATED, "no body bytes for timeouts.upstream_idle");
        else if ((long)(due - now) < next)
            next = (long)(due - now);
        x = after;
    }
    return next;
}

static void *fetcher_main(void *arg)
{
    struct sf_upstream *up = arg;
    for (;;) {
        sf_mutex_lock(&up->qlock);
        struct job *jobs = up->queue_head;
        up->queue_head = NULL;
        up->queue_tail = &up->queue_head;
        bool aborting = up->aborting, stopping = up->stopping;
        sf_mutex_unlock(&up->qlock);
        run_jobs(up, jobs, aborting);
        if (aborting)
            while (up->xfers.next != &up->xfers)
                finish(up->xfers.next, SF_FAIL_CANCELLED, "shutting down");
        if (stopping)
            break;
        int running;
        CURLMcode mc = curl_multi_perform(up->multi, &running);
        if (mc != CURLM_OK)
            sf_log_limited(&up->rl_multi, 10000, SF_LOG_ERROR, "upstream: curl_multi_perform: %s",
                           curl_multi_strerror(mc));
        /* Finished transfers first: a reader woken in this pass then finds its object
         * complete (or failed) rather than one piece further, and gets its end at once.
         * (finish wakes before it stores: a client that asks again in between joins the
         * complete object, which serves it all the same.) */
        reap_done(up);
        wake_dirty(up);
        long timeout_ms = enforce_deadlines(up);
        sf_hangup_dispatch(up->hangup);
        sf_cache_expire(up->cache, sf_now_ms());
        sf_pinned_tick(up->cache, up->conf->cfg->cache_max_pinned_bytes, cancel_pinned, up);
        if (sf_pinned_over() && timeout_ms > SF_PINNED_PERIOD_MS)
            timeout_ms = SF_PINNED_PERIOD_MS; /* idle readers to shed soon */
        struct curl_waitfd extra = {sf_hangup_fd(up->hangup), CURL_WAIT_POLLIN, 0};
        mc = curl_multi_poll(up->multi, &extra, 1, (int)timeout_ms, NULL);
        if (mc != CURLM_OK) {
            sf_log_limited(&up->rl_multi, 10000, SF_LOG_ERROR, "upstream: curl_multi_poll: %s",
                           curl_multi_strerror(mc));
            poll(NULL, 0, 10); /* not a busy loop; the deadlines still hold */
        }
    }
    return NULL;
}

struct sf_upstream *sf_upstream_start(struct sf_snap *snap, struct sf_cache *cache,
                                      struct sf_hangup *hangup)
{
    struct sf_upstream *up = sf_xcalloc(1, sizeof *up);
    up->cache = cache;
    up->hangup = hangup;
    up->conf = conf_new(up, snap); /* also checks the upstream URL for TLS */
    if (up->conf == NULL) {
        free(up);
        return NULL;
    }
    up->multi = curl_multi_init();
    if (up->multi == NULL) {
        conf_unref(up->conf);
        free(up);
        return NULL;
    }
    if (curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, 256L) != CURLM_OK)
        sf_log_warn("upstream: libcurl refused CURLMOPT_MAXCONNECTS; its default applies");
    sf_mutex_init(&up->qlock);
    up->queue_tail = &up->queue_head;
    up->xfers.next = up->xfers.prev = &up->xfers;
    SF_PTOK(pthread_create(&up->thread, NULL, fetcher_main, up));
    return up;
}

void sf_upstream_stop(struct sf_upstream *up)
{
    if (up == NULL)
        return;
    sf_mutex_lock(&up->qlock);
    up->aborting = true;
    up->stopping = true;
    sf_mutex_unlock(&up->qlock);
    wake_fetcher(up);
    SF_PTOK(pthread_join(up->thread, NULL));
    /* Work queued after the last pass. */
    run_jobs(up, up->queue_head, true);
    CURLMcode mc = curl_multi_cleanup(up->multi);
    if (mc != CURLM_OK)
        sf_log_warn("upstream: curl_multi_cleanup: %s", curl_multi_strerror(mc));
    sf_mutex_destroy(&up->qlock);
    conf_unref(up->conf);
    free(up);
}
