/* front: see front.h. libmicrohttpd's callbacks for the public listeners, the loop that
 * runs a request's steps, the request's beginning and end, and the listeners themselves.
 *
 * A request (struct sf_req, req.h) is created in the URI log callback, so that the raw
 * target is kept. Each call of the access handler then runs its steps (reqsteps.h: the
 * list of them, and the request's life in order) from where the last call left it, until
 * one hands the call back. When libmicrohttpd reports the request complete it is
 * accounted (histograms, access log), detached from its object and let go; it is freed
 * when its response's free callback has let go too.
 *
 * Threads: libmicrohttpd's workers run every callback here; the fetcher only resumes
 * connections (wake_req). Lock order: object lock -> libmicrohttpd; no response is
 * created, queued or destroyed under an object lock. */
#include "front.h"

#include "accesslog.h"
#include "conn.h"
#include "fetcher.h"
#include "listener.h"
#include "live.h"
#include "metrics.h"
#include "mhdpool.h"
#include "outbound.h"
#include "park.h"
#include "req.h"
#include "route.h"
#include "routestats.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* ---- a request's beginning and end ---- */

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
    /* The raw target lives right after r, in its block (libmicrohttpd edits uri in place
     * after this): one allocation a request, freed with r. */
    size_t target_len = strlen(uri);
    struct sf_req *r = sf_xcalloc(1, sizeof *r + target_len + 1);
    r->magic = SF_REQ_MAGIC;
    atomic_init(&r->refs, 1);
    r->cache = f->cache;
    r->up = f->up;
    r->closing = &f->closing;
    r->draining = &f->draining;
    r->listener = l;
    r->snap = sf_live_pin(f->live);
    sf_outbound_init(&r->out, r->snap, f->self_ports, f->loop_token);
    r->conn = conn;
    r->wire = sf_conn_of(conn);
    r->seq = r->wire != NULL ? sf_conn_next_request(r->wire) : 0;
    r->target = memcpy((char *)(r + 1), uri, target_len + 1);
    r->step = SF_REQ_RECV;
    r->from = SF_REQ_NEW;
    r->w.wake = wake_req;
    r->w.hangup = f->hangup; /* watched while parked, on an object or its upload's pipe */
    r->w.fd = -1;
    r->start_us = sf_mono_us();
    atomic_fetch_add(&f->active, 1);
    return r;
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
    if (r->route != NULL)
        sf_routestats_count(r->route->name, outcome);
}

/* The upstream fields of the flight r led, for its log line: the servers of a pool its
 * fetch tried also when none answered (then it read no object, and the flight it led
 * says), once its head or failure is published (a client that left first may end before
 * the fetch); the origin's status and time to it for a response it read. They are the
 * flight's (struct sf_flight), there while r is attached to it, as it is here: it is
 * accounted before it detaches (on_completed), and a sliced response's reader is attached
 * to the slice it read last. (A flight gone would give none.) up->addr is the caller's to
 * free. */
static void upstream_log(struct sf_req *r, struct sf_upstream_log *up)
{
    *up = (struct sf_upstream_log){.ttfb_us = -1};
    struct sf_obj *fetched = r->led ? (r->rd.obj != NULL ? r->rd.obj : r->obj) : NULL;
    if (fetched == NULL)
        return;
    sf_obj_lock(fetched);
    sf_obj_upstream_log(fetched, up);
    sf_obj_unlock(fetched);
    if (r->rd.obj == NULL) { /* it read no response (streamed from): none to time */
        up->status = 0;
        up->ttfb_us = -1;
    }
}

/* r's histograms and access log line, once it has ended (completed: its response was
 * sent whole). A request whose head never reached on_request has neither: the connection
 * was cut mid-head, or conn.c refused the head (and logged it) before libmicrohttpd
 * parsed it. */
static void account(struct sf_req *r, struct sf_front *f, bool completed)
{
    if (r->method[0] == '\0')
        return;
    uint64_t now_us = sf_mono_us();
    observe(r, now_us);
    if (!sf_access_log_on(f->access_log))
        return;
    char client[INET6_ADDRSTRLEN];
    sf_outbound_client_addr(r->conn, client, sizeof client);
    bool streamed = r->rd.done != NULL;
    bool head = strcmp(r->method, "HEAD") == 0;
    struct sf_upstream_log up;
    upstream_log(r, &up);
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
        .upstream_status = up.status,
        .upstream_ttfb_us = up.ttfb_us,
        .upstream_tries = up.tries,
        .upstream_addr = up.addr,
        .completed = completed,
        .route = r->route != NULL ? r->route->name : NULL,
        .tier = r->first_byte_us != 0 ? r->tier : NULL,
    };
    sf_access_log_write(f->access_log, &e);
    free(up.addr);
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
    account(r, f, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->status != 0);
    sf_req_detach(r);
    *con_cls = NULL;
    atomic_fetch_sub(&f->active, 1);
    sf_req_unref(r);
}

/* ---- the steps' loop ---- */

static sf_req_step_fn *const steps[] = {
#define SF_REQ_STEP_FN(name, fn) [SF_REQ_##name] = fn,
    SF_REQ_STEPS(SF_REQ_STEP_FN)
#undef SF_REQ_STEP_FN
};

/* libmicrohttpd's access handler: runs r's steps from r->step (reqsteps.h) until one
 * hands the call back. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct sf_req *r = *con_cls;
    (void)cls;
    (void)url;
    SF_CHECK_OBJ(r, SF_REQ_MAGIC);
    SF_ASSERT(r->conn == conn);
    if (r->wire != NULL)
        sf_conn_progress(r->wire); /* a half-closed client's held end: conn.h */
    const struct sf_req_call c = {method, version, upload_data, upload_data_size};
    for (unsigned n = 0;; n++) {
        /* A step goes back (to LOOKUP, PASS or WAIT_HEAD) at most once for each reason
         * (slices off, another variant, a pass, a slice refetched): a call runs a few. */
        SF_ASSERT(n < 64);
        SF_ASSERT((size_t)r->step < sizeof steps / sizeof steps[0]);
        enum sf_req_step next = steps[r->step](r, &c);
        if (next == SF_REQ_YIELD)
            return MHD_YES;
        if (next == SF_REQ_CLOSE)
            return MHD_NO;
        r->from = r->step;
        r->step = next;
    }
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
