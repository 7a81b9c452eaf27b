/* admin: the admin listener: GET /_sfproxy/stats, GET /metrics (Prometheus), GET
 * /_sfproxy/health, GET /_sfproxy/explain (adminexplain.c), POST /_sfproxy/purge, POST
 * /_sfproxy/upstreams/NAME/SERVER?state=drain|up (adminpool.c) (and, with --test-clock
 * only, POST /_sfproxy/clock). Its own small
 * libmicrohttpd daemon (a thread per connection), apart from the public listener so that a flood there
 * never locks the operator out, with its own connection limit (refusing past it at once),
 * the client idle timeout, and the same strict request check as the public listener
 * (conn.h). With admin.token, a purge or a drain needs "Authorization: Bearer TOKEN", and so do
 * stats, metrics and explain from off loopback; health never does (load balancers ask it).
 *
 * Threads: each connection's own thread runs its callbacks here (a purge waiting on its
 * peers holds up only itself); the cache, the counters and the live config it reads have
 * locks or atomics of their own, and nothing here is shared between callbacks else. */
#include "admin.h"

#include "adminexplain.h"
#include "adminpool.h"
#include "disktier.h"
#include "keyurl.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "peers.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sf_admin {
    struct sf_live *live; /* the config in force: each request reads the one current */
    struct sf_cache *cache;
    struct sf_pools *pools; /* the upstream pools: stats, metrics, drains */
    struct sf_conns *conns;
    struct sf_listener_slot slot; /* cur NULL: admin.listen is off */
    atomic_bool draining;         /* shutdown has begun: health says 503 */
};

/* The admin listener's own limit: past it a connection is closed at once, as on the
 * public listener (libmicrohttpd's limit would leave it waiting in the backlog). */
static enum MHD_Result on_admin_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    struct sf_listener *l = cls;
    (void)addr;
    (void)len;
    return (unsigned)atomic_load(&l->open) < l->snap->cfg.admin_connection_limit ? MHD_YES : MHD_NO;
}

static void on_admin_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                                enum MHD_ConnectionNotificationCode code)
{
    struct sf_listener *l = cls;
    struct sf_admin *a = l->owner;
    sf_listener_count(l, code);
    sf_conns_notify(a->conns, conn, socket_ctx, code, false, false);
}

/* A response over json (taken over; NULL: none could be made); NULL when it cannot be made
 * whole. */
static struct MHD_Response *json_response(char *json)
{
    if (json == NULL)
        return NULL;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(json);
        return NULL;
    }
    if (MHD_add_response_header(resp, "Content-Type", "application/json") == MHD_YES)
        return resp;
    MHD_destroy_response(resp);
    return NULL;
}

/* A constant text response, with one field when name is not NULL; NULL when it cannot be
 * made whole. */
static struct MHD_Response *text_response(const char *text, const char *name, const char *value)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL || name == NULL || MHD_add_response_header(resp, name, value) == MHD_YES)
        return resp;
    MHD_destroy_response(resp);
    return NULL;
}

/* The cluster's other nodes and whether each is taking its keys now (none outside a
 * cluster). The ids point into the metrics table, which keeps them for good. */
static size_t peer_view(struct sf_admin *a, struct sf_peer_view *out)
{
    struct sf_snap *snap = sf_live_pin(a->live);
    const struct sf_config *cfg = &snap->cfg;
    size_t n = 0;
    uint64_t now = sf_now_ms();
    for (size_t i = 0; cfg->cluster_self != NULL && i < cfg->cluster_peers.n; i++) {
        const char *id = cfg->cluster_peers.v[i].id;
        struct sf_peer_metrics *pm = sf_metrics_peer(id);
        if (strcmp(id, cfg->cluster_self) == 0 || pm == NULL)
            continue;
        out[n++] = (struct sf_peer_view){pm->id, atomic_load(&snap->peer_down_until_ms[i]) <= now};
    }
    sf_snap_unref(snap);
    return n;
}

/* The Prometheus text exposition (format 0.0.4) of every number and histogram. */
static struct MHD_Response *metrics_response(struct sf_admin *a)
{
    struct sf_cache_stats cs;
    sf_cache_get_stats(a->cache, &cs);
    sf_disktier_fill_stats(&cs);
    struct sf_peer_view peers[SF_CLUSTER_MAX_PEERS];
    size_t npeers = peer_view(a, peers);
    char *text = sf_metrics_prometheus(&cs, peers, npeers);
    char *pools = sf_pools_prometheus(a->pools);
    if (pools[0] != '\0') {
        size_t n = strlen(text), m = strlen(pools);
        text = sf_xrealloc(text, n + m + 1);
        memcpy(text + n, pools, m + 1);
    }
    free(pools);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return NULL;
    }
    if (MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8") ==
        MHD_YES)
        return resp;
    MHD_destroy_response(resp);
    return NULL;
}

/* Queues resp on a connection of l (NULL: it could not be made, and the connection
 * closes). */
static enum MHD_Result queue(const struct sf_listener *l, struct MHD_Connection *conn,
                             unsigned status, struct MHD_Response *resp)
{
    if (resp != NULL && sf_listener_retired(l) && /* a reload moved it: reconnect */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    if (resp == NULL)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* POST /_sfproxy/clock?advance=SECONDS, with --test-clock only: moves sfproxy's clocks
 * forward, so that tests see responses expire without sleeping. */
static struct MHD_Response *advance_clock(struct MHD_Connection *conn, unsigned *status)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "advance");
    char *end = NULL;
    unsigned long long s = v != NULL && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    if (end == NULL || *end != '\0' || s > 86400ull * 365) {
        *status = MHD_HTTP_BAD_REQUEST;
        return json_response(sf_xstrdup("{\"error\": \"give advance=SECONDS\"}\n"));
    }
    sf_clock_advance(s * 1000u);
    sf_log_info("test clock: advanced %llu s", s);
    char text[64];
    snprintf(text, sizeof text, "{\"advanced_s\": %llu}\n", s);
    return json_response(sf_xstrdup(text));
}

static const char *const purge_args[] = {"url", "tag", "prefix", "soft", "host"};
#define PURGE_ARGS (sizeof purge_args / sizeof purge_args[0])

/* The URL a GET of url (a path; with a forward proxy, an absolute URL too) with Host host
 * (NULL: none) is stored under (keyurl.h: its route's upstream, strip_prefix and query
 * rule), or NULL when plain, the URL purged already, is that one (or, for a prefix,
 * covers it). A prefix is routed as a GET of it, its query left as given. An absolute URL
 * on a reverse proxy names the upstream's: purged as named. Caller frees. */
static char *routed_url(const struct sf_config *cfg, const char *url, const char *host, bool prefix,
                        const char *plain)
{
    if (url[0] != '/' && !(cfg->forward_proxy && strncmp(url, "http://", 7) == 0))
        return NULL;
    struct sf_keyurl_cfg kc = {cfg->routes, cfg->upstream};
    char *keyed = sf_keyurl_get(&kc, host, NULL, url, !prefix);
    bool covered = keyed != NULL &&
                   (prefix ? strncmp(keyed, plain, strlen(plain)) == 0 : strcmp(keyed, plain) == 0);
    if (covered) {
        free(keyed); /* the same URL, or (a prefix) under plain: purged with it */
        keyed = NULL;
    }
    return keyed;
}

/* The purge the request on conn asks for, carried out on cache: its JSON answer, with
 * *status 200, or an error document with 400. */
static json_t *purge_here(struct sf_cache *cache, const struct sf_config *cfg,
                          struct MHD_Connection *conn, unsigned *status)
{
    const char *v[PURGE_ARGS];
    for (size_t i = 0; i < PURGE_ARGS; i++)
        v[i] = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, purge_args[i]);
    const char *url = v[0], *tag = v[1], *prefix = v[2], *soft = v[3], *host = v[4];
    if ((url == NULL) == (tag == NULL) || (url != NULL && *url == '\0') ||
        (tag != NULL && *tag == '\0')) {
        *status = MHD_HTTP_BAD_REQUEST;
        return json_pack("{s:s}", "error", "give one of url=URL or tag=KEY");
    }
    char *target = url != NULL && url[0] == '/' && cfg->upstream != NULL
                       ? sf_http_join_url(cfg->upstream, url)
                       : sf_xstrdup(url != NULL ? url : tag);
    bool is_soft = soft != NULL && strcmp(soft, "0") != 0;
    bool by_prefix = prefix != NULL && strcmp(prefix, "0") != 0;
    /* The disk first, on disk before the purge answers: a restart does not bring it back,
     * and a disk fill racing it either stores before memory is purged below or sees the
     * purge counted and gives up what it read (disktier.h: sf_disktier_purge_gen). */
    bool on_disk = sf_disktier_purge(target, by_prefix, is_soft,
                                     tag != NULL ? cfg->surrogate_key_header : NULL, true);
    size_t n = sf_cache_purge(cache, target, by_prefix, is_soft,
                              tag != NULL ? cfg->surrogate_key_header : NULL);
    /* A routed GET is stored under its route's URL, which the plain one may not be. */
    char *routed = url != NULL ? routed_url(cfg, url, host, by_prefix, target) : NULL;
    if (routed != NULL) {
        on_disk = sf_disktier_purge(routed, by_prefix, is_soft, NULL, true) && on_disk;
        n += sf_cache_purge(cache, routed, by_prefix, is_soft, NULL);
    }
    SF_COUNT_N(purged, n);
    json_t *doc = json_pack("{s:s, s:s, s:I}", url != NULL ? "url" : "tag", target, "mode",
                            is_soft ? "soft" : "remove", "purged", (json_int_t)n);
    if (routed != NULL)
        json_object_set_new(doc, "routed_url", json_string(routed));
    /* With a disk tier, whether the purge is on disk (a restart cannot bring back what it
     * purged). Still a 200: memory is purged, and a cluster's peers are asked all the same
     * (docs/operating.md). */
    if (sf_disktier_on())
        json_object_set_new(doc, "disk", json_boolean(on_disk));
    free(routed);
    free(target);
    *status = MHD_HTTP_OK;
    return doc;
}

struct MHD_Response *sf_admin_purge_here(struct sf_cache *cache, const struct sf_config *cfg,
                                         struct MHD_Connection *conn, unsigned *status,
                                         uint64_t *body_bytes)
{
    json_t *doc = purge_here(cache, cfg, conn, status);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    *body_bytes = text != NULL ? strlen(text) : 0;
    return json_response(text);
}

/* The purge's own arguments, escaped again, as the query of the same purge at a peer. */
static char *purge_query(CURL *e, struct MHD_Connection *conn)
{
    char *q = sf_xstrdup("");
    for (size_t i = 0; i < PURGE_ARGS; i++) {
        const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, purge_args[i]);
        char *escaped = v != NULL ? curl_easy_escape(e, v, 0) : NULL;
        if (escaped == NULL)
            continue;
        char *longer = sf_xmalloc(strlen(q) + strlen(purge_args[i]) + strlen(escaped) + 3);
        sprintf(longer, "%s%s%s=%s", q, *q ? "&" : "", purge_args[i], escaped);
        curl_free(escaped);
        free(q);
        q = longer;
    }
    return q;
}

/* A peer's answer to the same purge: {"id", "purged"} or {"id", "error"}. */
static json_t *peer_purge_entry(const struct sf_peer *p, struct sf_peer_reply *reply, bool answered)
{
    json_t *entry = json_pack("{s:s}", "id", p->id);
    json_t *answer = answered && reply->status == 200 ? json_loads(reply->body, 0, NULL) : NULL;
    json_t *n = json_object_get(answer, "purged");
    if (json_is_integer(n)) {
        json_object_set(entry, "purged", n);
    } else {
        if (answered)
            snprintf(reply->why, sizeof reply->why, "answered %ld, not a purge count",
                     reply->status);
        json_object_set_new(entry, "error", json_string(reply->why));
    }
    json_decref(answer);
    return entry;
}

/* The same purge sent to every other peer at once, signed, within 5 s in all: their
 * entries, in the order of cluster.peers. */
static json_t *purge_at_peers(const struct sf_config *cfg, const char *target)
{
    const struct sf_peer *peers[SF_CLUSTER_MAX_PEERS];
    size_t n = 0;
    for (size_t i = 0; i < cfg->cluster_peers.n; i++)
        if (strcmp(cfg->cluster_peers.v[i].id, cfg->cluster_self) != 0)
            peers[n++] = &cfg->cluster_peers.v[i];
    struct sf_peer_reply *replies = sf_xcalloc(n > 0 ? n : 1, sizeof *replies);
    bool answered[SF_CLUSTER_MAX_PEERS];
    sf_peers_call_all(cfg, peers, n, "POST", target, 5000, replies, answered);
    json_t *list = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(list, peer_purge_entry(peers[k], &replies[k], answered[k]));
    free(replies);
    return list;
}

/* POST /_sfproxy/purge?url=U[&prefix=1][&soft=1] or ?tag=T[&soft=1]. U is the URL fetched
 * upstream, or a path, taken as relative to the configured upstream. In a cluster the same
 * purge goes to every peer (signed, all at once, each within cluster.peer_connect_timeout
 * to connect and 5 s in all), and the answer lists each peer's count or why it could not
 * be reached. */
static struct MHD_Response *purge(struct sf_admin *a, const struct sf_config *cfg,
                                  struct MHD_Connection *conn, unsigned *status)
{
    json_t *doc = purge_here(a->cache, cfg, conn, status);
    CURL *e = *status == MHD_HTTP_OK && cfg->cluster_self != NULL ? curl_easy_init() : NULL;
    if (e != NULL) {
        char *query = purge_query(e, conn);
        char *target = sf_xmalloc(strlen(query) + 32);
        sprintf(target, "/_sfproxy/purge?%s", query);
        json_object_set_new(doc, "peers", purge_at_peers(cfg, target));
        free(target);
        free(query);
        curl_easy_cleanup(e);
    }
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return json_response(text);
}

/* An admin request ended: its connection may see its client's end (conn.h). */
static void on_admin_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    struct sf_conn *wire = *con_cls != NULL ? sf_conn_of(conn) : NULL;
    if (wire != NULL)
        sf_conn_request_done(wire, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    *con_cls = NULL;
}

/* Compares without an early exit, so the time taken says nothing of where they differ. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

/* With admin.token set: what changes state (purge, the test clock) always needs it; the
 * reads (stats, metrics, explain) need it from off loopback. */
static bool admin_authorized(const struct sf_config *cfg, struct MHD_Connection *conn,
                             bool changing)
{
    const char *token = cfg->admin_token;
    if (token == NULL)
        return true;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    bool local = ci != NULL && sf_net_is_loopback(ci->client_addr);
    if (local && !changing)
        return true;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    return auth != NULL && strncmp(auth, "Bearer ", 7) == 0 && same_secret(auth + 7, token);
}

static enum MHD_Result on_admin(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
    struct sf_listener *l = cls;
    struct sf_admin *a = l->owner;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = a;
        struct sf_conn *wire = sf_conn_of(conn);
        const char *why;
        unsigned bad =
            sf_conn_head_verdict(wire, wire != NULL ? sf_conn_next_request(wire) : 0, &why);
        if (bad == 0)
            return MHD_YES;
        return queue(l, conn, bad, text_response(why, MHD_HTTP_HEADER_CONNECTION, "close"));
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* no admin request takes content: drop it */
        return MHD_YES;
    }
    struct MHD_Response *resp;
    unsigned status = MHD_HTTP_OK;
    if (strcmp(url, "/_sfproxy/health") == 0 && strcmp(method, "GET") == 0) {
        /* While serving 200; once shutdown has begun 503, so that a load balancer stops
         * sending before the drain ends. Open to all: it says nothing else. */
        bool draining = atomic_load(&a->draining);
        return queue(l, conn, draining ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
                     text_response(draining ? "draining\n" : "ok\n", NULL, NULL));
    }
    bool reading = strcmp(url, "/_sfproxy/stats") == 0 || strcmp(url, "/metrics") == 0 ||
                   strcmp(url, "/_sfproxy/explain") == 0;
    bool changing = !reading; /* purge, clock */
    struct sf_snap *snap = sf_live_pin(a->live);
    const struct sf_config *cfg = &snap->cfg;
    if (!admin_authorized(cfg, conn, changing)) {
        sf_snap_unref(snap);
        return queue(l, conn, MHD_HTTP_UNAUTHORIZED,
                     text_response("this needs the admin token: Authorization: Bearer TOKEN\n",
                                   "WWW-Authenticate", "Bearer realm=\"sfproxy admin\""));
    }
    if (strcmp(url, "/_sfproxy/stats") == 0 && strcmp(method, "GET") == 0) {
        struct sf_cache_stats cs;
        sf_cache_get_stats(a->cache, &cs);
        sf_disktier_fill_stats(&cs);
        struct sf_peer_view peers[SF_CLUSTER_MAX_PEERS];
        size_t npeers = peer_view(a, peers);
        resp = json_response(sf_metrics_json(&cs, peers, npeers, sf_pools_json(a->pools)));
    } else if (strcmp(url, "/metrics") == 0 && strcmp(method, "GET") == 0) {
        resp = metrics_response(a);
    } else if (strcmp(url, "/_sfproxy/explain") == 0 && strcmp(method, "GET") == 0) {
        resp = sf_admin_explain(a->cache, cfg, conn, &status);
    } else if (strcmp(url, "/_sfproxy/purge") == 0 && strcmp(method, "POST") == 0) {
        resp = purge(a, cfg, conn, &status);
    } else if (strncmp(url, SF_ADMINPOOL_PREFIX, strlen(SF_ADMINPOOL_PREFIX)) == 0 &&
               strcmp(method, "POST") == 0) {
        const char *state = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "state");
        resp = json_response(sf_adminpool_set_state(a->pools, url, state, &status));
    } else if (strcmp(url, "/_sfproxy/clock") == 0 && strcmp(method, "POST") == 0 &&
               cfg->test_clock) {
        resp = advance_clock(conn, &status);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        resp = text_response("not found; try GET /_sfproxy/stats, GET /metrics, GET "
                             "/_sfproxy/health, GET /_sfproxy/explain?url=URL, POST "
                             "/_sfproxy/purge?url=URL or POST "
                             "/_sfproxy/upstreams/NAME/SERVER?state=drain|up\n",
                             NULL, NULL);
    }
    sf_snap_unref(snap);
    return queue(l, conn, status, resp);
}

static const struct sf_listener_calls admin_calls = {on_admin_accept, on_admin, on_admin_completed,
                                                     on_admin_connection, NULL};

/* What cfg asks of the admin listener (listener.h): a thread per connection
 * (admin.connection_limit is small), so that a purge waiting on its peers holds up its own
 * connection, never the health checks a load balancer polls. */
static void admin_settings(const struct sf_config *cfg, struct sf_listener_settings *s)
{
    *s = (struct sf_listener_settings){
        .enabled = cfg->admin_enabled,
        .addr = cfg->admin_listen,
        .flags = MHD_USE_THREAD_PER_CONNECTION,
        .connection_limit = cfg->admin_connection_limit + 8,
        .idle_timeout_s = (unsigned)(cfg->client_idle_timeout_ms / 1000),
    };
}

bool sf_admin_prepare(struct sf_admin *a, struct sf_snap *snap, char *errbuf, size_t errlen)
{
    struct sf_listener_settings want;
    admin_settings(&snap->cfg, &want);
    if (sf_listener_prepare(&a->slot, a, snap, &want, &admin_calls))
        return true;
    snprintf(errbuf, errlen,
             "cannot listen on %s:%u for admin; is the port in use? change \"admin.listen\"",
             want.addr.host, want.addr.port);
    return false;
}

void sf_admin_commit(struct sf_admin *a, struct sf_listener **retired)
{
    sf_listener_commit(&a->slot, retired);
}

void sf_admin_abort(struct sf_admin *a)
{
    sf_listener_abort(&a->slot);
}

struct sf_admin *sf_admin_start(struct sf_live *live, struct sf_cache *cache,
                                struct sf_pools *pools, struct sf_conns *conns, char *errbuf,
                                size_t errlen)
{
    struct sf_admin *a = sf_xcalloc(1, sizeof *a);
    a->live = live;
    a->cache = cache;
    a->pools = pools;
    a->conns = conns;
    struct sf_snap *snap = sf_live_pin(live);
    bool ok = sf_admin_prepare(a, snap, errbuf, errlen);
    sf_snap_unref(snap);
    if (!ok) {
        free(a);
        return NULL;
    }
    struct sf_listener *none = NULL; /* nothing ran before */
    sf_admin_commit(a, &none);
    return a;
}

void sf_admin_draining(struct sf_admin *a)
{
    if (a != NULL)
        atomic_store(&a->draining, true);
}

uint16_t sf_admin_port(const struct sf_admin *a)
{
    return a != NULL && a->slot.cur != NULL ? a->slot.cur->port : 0;
}

void sf_admin_stop(struct sf_admin *a)
{
    if (a == NULL)
        return;
    sf_listener_stop(a->slot.cur);
    free(a);
}
