/* outbound: see outbound.h. Runs on libmicrohttpd's workers; ob is read-only (the self
 * ports are atomics). */
#include "outbound.h"

#include "cachekey.h"
#include "config.h"
#include "conn.h"
#include "fetchspec.h"
#include "keyurl.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "peerauth.h"
#include "peerhop.h"
#include "policy.h"
#include "reqbody.h"
#include "route.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void sf_outbound_loop_token(char token[SF_LOOP_TOKEN_SIZE])
{
    uint64_t id = 0;
    FILE *rnd = fopen("/dev/urandom", "rb");
    if (rnd == NULL || fread(&id, sizeof id, 1, rnd) != 1)
        id = (uint64_t)getpid() << 32 ^ sf_now_ms(); /* unique enough to spot a loop */
    if (rnd != NULL)
        fclose(rnd);
    snprintf(token, SF_LOOP_TOKEN_SIZE, "sfproxy-%016llx", (unsigned long long)id);
}

void sf_outbound_init(struct sf_outbound *ob, struct sf_snap *snap,
                      const _Atomic uint16_t *self_ports, const char *loop_token)
{
    const struct sf_config *cfg = &snap->cfg;
    *ob = (struct sf_outbound){
        cfg, {&cfg->forward_allow, self_ports}, loop_token, snap->peer_down_until_ms};
}

/* ---- the cluster ---- */

bool sf_outbound_from_peer(const struct sf_outbound *ob, struct MHD_Connection *conn,
                           const char *method, const char *target)
{
    return sf_peerauth_request(ob->cfg, conn, method, target, NULL);
}

/* ---- the fields sent ---- */

struct joined_field {
    const char *name;
    struct sf_hdrs found;
};

static enum MHD_Result collect_field(void *cls, enum MHD_ValueKind kind, const char *name,
                                     const char *value)
{
    struct joined_field *j = cls;
    (void)kind;
    if (sf_streq_ci(name, j->name))
        sf_hdrs_add(&j->found, name, value ? value : "");
    return MHD_YES;
}

char *sf_request_field(struct MHD_Connection *conn, const char *name)
{
    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name) == NULL)
        return NULL; /* the common case, without walking every field */
    struct joined_field j = {name, {0}};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_field, &j);
    char *joined = sf_hdrs_join(&j.found, name);
    sf_hdrs_clear(&j.found);
    return joined;
}

bool sf_outbound_looped(const struct sf_outbound *ob, struct MHD_Connection *conn)
{
    char *loop = sf_request_field(conn, "CDN-Loop");
    bool looped = loop != NULL && sf_http_list_has(loop, ob->loop_token);
    free(loop);
    return looped;
}

static enum MHD_Result collect_credential(void *cls, enum MHD_ValueKind kind, const char *name,
                                          const char *value)
{
    (void)kind;
    if (sf_policy_is_credential(name))
        sf_hdrs_add(cls, name, value ? value : "");
    return MHD_YES;
}

/* What a route's key is built from: the credential lines and the fields its rule names. */
struct keyed_fields {
    const struct sf_key_rule *rule;
    struct sf_hdrs found;
};

static enum MHD_Result collect_keyed(void *cls, enum MHD_ValueKind kind, const char *name,
                                     const char *value)
{
    struct keyed_fields *k = cls;
    (void)kind;
    bool keyed = sf_policy_is_credential(name);
    for (size_t i = 0; !keyed && i < k->rule->nheaders; i++)
        keyed = sf_streq_ci(name, k->rule->headers[i]);
    if (keyed)
        sf_hdrs_add(&k->found, name, value ? value : "");
    return MHD_YES;
}

/* The key under dest's route's key rule (cachekey.h). */
static char *route_key(const struct sf_outbound *ob, struct MHD_Connection *conn,
                       const struct sf_dest *dest)
{
    struct keyed_fields k = {&dest->route->key, {0}};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_keyed, &k);
    /* A forward proxy's URL names its host already; the Host field is keyed only when it
     * is forwarded (preserve_host), as without a route. */
    const char *host = dest->host;
    if (dest->forward && !ob->cfg->preserve_host)
        host = NULL;
    struct sf_key_request kr = {dest->url, host, &k.found, ob->cfg->preserve_host};
    char *key = sf_cachekey_build(&kr, &dest->route->key);
    sf_hdrs_clear(&k.found);
    return key;
}

char *sf_outbound_key(const struct sf_outbound *ob, struct MHD_Connection *conn,
                      const struct sf_dest *dest)
{
    if (dest->route != NULL)
        return route_key(ob, conn, dest);
    struct sf_hdrs credentials = {0};
    if (ob->cfg->preserve_host && dest->host != NULL)
        sf_hdrs_add(&credentials, "Host", dest->host);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_credential, &credentials);
    char *key = sf_policy_key(dest->url, &credentials);
    sf_hdrs_clear(&credentials);
    return key;
}

static enum MHD_Result collect_all(void *cls, enum MHD_ValueKind kind, const char *name,
                                   const char *value)
{
    (void)kind;
    sf_hdrs_add(cls, name, value ? value : "");
    return MHD_YES;
}

struct sf_keymap *sf_outbound_keymap(const struct sf_outbound *ob, struct MHD_Connection *conn,
                                     const struct sf_dest *dest)
{
    const struct sf_config *cfg = ob->cfg;
    if (sf_routes_count(cfg->routes) == 0)
        return NULL;
    /* Every field: a GET's route may be chosen by any (match.header). */
    struct sf_hdrs fields = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_all, &fields);
    const struct sf_route_def *r = dest->route;
    const char *base = dest->forward                          ? NULL
                       : r != NULL && r->set.upstream != NULL ? r->set.upstream
                                                              : cfg->upstream;
    struct sf_keyurl_cfg kc = {cfg->routes, cfg->upstream};
    struct sf_keymap *m =
        sf_keymap_new(&kc, dest->forward ? dest->url : dest->path, dest->url, base, r,
                      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host"), &fields);
    return m;
}

/* Whether a shared fetch on route (NULL: none) normalises Accept-Encoding. */
static bool normalizes_encoding(const struct sf_outbound *ob, const struct sf_route_def *route)
{
    return route != NULL ? route->set.normalize_accept_encoding
                         : ob->cfg->normalize_accept_encoding;
}

/* Whether route (NULL: none) sends only the cookies its key names. */
static bool narrows_cookies(const struct sf_route_def *route)
{
    return route != NULL && route->key.narrow_cookies;
}

static bool client_of(const struct sf_outbound *ob, struct MHD_Connection *conn, char *ip,
                      size_t size);
static char *sent_forwarding_field(const struct sf_outbound *ob, struct MHD_Connection *conn,
                                   const char *name);

char *sf_outbound_shared_field(void *view, const char *name)
{
    const struct sf_shared_view *v = view;
    const char *connection = MHD_lookup_connection_value(v->conn, MHD_HEADER_KIND, "Connection");
    char ip[INET6_ADDRSTRLEN];
    if (sf_streq_ci(name, "X-Forwarded-For") || sf_streq_ci(name, "X-Forwarded-Proto") ||
        sf_streq_ci(name, "Forwarded"))
        return sent_forwarding_field(v->ob, v->conn, name); /* sfproxy's, not the client's */
    if (!sf_policy_forwarded(name, connection, true) ||
        !sf_policy_client_field(name, client_of(v->ob, v->conn, ip, sizeof ip),
                                v->ob->cfg->underscore_fields))
        return NULL; /* not sent: it cannot select what the origin chose */
    struct joined_field j = {name, {0}};
    if (MHD_lookup_connection_value(v->conn, MHD_HEADER_KIND, name) != NULL)
        MHD_get_connection_values(v->conn, MHD_HEADER_KIND, collect_field, &j);
    char *value = sf_outbound_sent_value(v->ob->cfg, v->route, name, &j.found);
    sf_hdrs_clear(&j.found);
    return value;
}

char *sf_outbound_sent_value(const struct sf_config *cfg, const struct sf_route_def *route,
                             const char *name, const struct sf_hdrs *lines)
{
    if (narrows_cookies(route) && sf_streq_ci(name, "Cookie"))
        return sf_cachekey_cookies(lines, &route->key); /* as fetches send it */
    char *value = sf_hdrs_join(lines, name);
    bool normalizes =
        route != NULL ? route->set.normalize_accept_encoding : cfg->normalize_accept_encoding;
    if (normalizes && sf_streq_ci(name, "Accept-Encoding")) {
        const char *normal = sf_policy_normalized_encoding(value); /* as fetches send it */
        free(value);
        value = sf_xstrdup_opt(normal);
    }
    return value;
}

struct fields_ctx {
    struct sf_hdrs *out;
    const char *connection;
    bool shared;      /* a flight others may join: drop what is one client's own */
    bool trusted;     /* the client is a trusted proxy: keep its identity fields */
    bool underscores; /* forward_underscore_fields */
};

static enum MHD_Result copy_field(void *cls, enum MHD_ValueKind kind, const char *name,
                                  const char *value)
{
    struct fields_ctx *c = cls;
    (void)kind;
    if (sf_policy_forwarded(name, c->connection, c->shared) &&
        sf_policy_client_field(name, c->trusted, c->underscores))
        sf_hdrs_add(c->out, name, value ? value : "");
    return MHD_YES;
}

const struct sockaddr *sf_outbound_client_addr(struct MHD_Connection *conn, char *ip, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(ip, size, "unknown");
    if (ci == NULL)
        return NULL;
    sf_net_addr_text(ci->client_addr, ip, size);
    return ci->client_addr;
}

/* The client's address as text, and whether it is a trusted proxy (trusted_proxies). */
static bool client_of(const struct sf_outbound *ob, struct MHD_Connection *conn, char *ip,
                      size_t size)
{
    const struct sockaddr *sa = sf_outbound_client_addr(conn, ip, size);
    return sa != NULL && sf_acl_match_addr(&ob->cfg->trusted_proxies, sa, 0);
}

/* Moves every line of a field out of h, joined (NULL: none). Caller frees. */
static char *take_field(struct sf_hdrs *h, const char *name)
{
    char *v = sf_hdrs_join(h, name);
    sf_hdrs_remove(h, name);
    return v;
}

/* The fields that say who the client is: sfproxy's to write (docs/security.md); and with
 * preserve_host, host (the request's, sf_dest's) in place of the upstream's. */
static void add_forwarding(const struct sf_outbound *ob, struct MHD_Connection *conn,
                           struct sf_hdrs *h, const char *ip, const char *host)
{
    char *xff = take_field(h, "X-Forwarded-For");
    char *proto = take_field(h, "X-Forwarded-Proto");
    char *fwd = take_field(h, "Forwarded");
    const char *scheme = sf_conn_is_tls(sf_conn_of(conn)) ? "https" : "http";
    sf_policy_add_forwarding(h, ip, scheme, xff, proto, fwd, ob->cfg->forwarded_header);
    free(xff);
    free(proto);
    free(fwd);
    if (ob->cfg->preserve_host && host != NULL)
        sf_hdrs_add(h, "Host", host); /* curl sends it instead of the upstream's */
}

/* A request's fields as a shared fetch sends them, and of them name's lines joined (NULL:
 * none): for the fields sfproxy writes, which a response may vary on. Caller frees. */
static char *sent_forwarding_field(const struct sf_outbound *ob, struct MHD_Connection *conn,
                                   const char *name)
{
    char ip[INET6_ADDRSTRLEN];
    struct sf_hdrs h = {0};
    struct fields_ctx c = {&h, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection"),
                           true, client_of(ob, conn, ip, sizeof ip), ob->cfg->underscore_fields};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, copy_field, &c);
    /* (The Host is never one a response varies on: not forwarded as a field.) */
    add_forwarding(ob, conn, &h, ip, NULL);
    char *value = sf_hdrs_join(&h, name);
    sf_hdrs_clear(&h);
    return value;
}

/* RFC 9110 §7.6.2: a TRACE or OPTIONS goes on with one hop less in its Max-Forwards (a
 * zero or a malformed one never gets here: sf_outbound_final_answer). */
static void decrement_max_forwards(struct MHD_Connection *conn, const char *method,
                                   struct sf_hdrs *h)
{
    char next[24];
    const char *why;
    char *value = sf_request_field(conn, "Max-Forwards");
    if (sf_policy_max_forwards(method, value, next, &why) == 0 && next[0] != '\0' &&
        sf_hdrs_get(h, "Max-Forwards") != NULL) {
        sf_hdrs_remove(h, "Max-Forwards");
        sf_hdrs_add(h, "Max-Forwards", next);
    }
    free(value);
}

unsigned sf_outbound_final_answer(struct MHD_Connection *conn, const char *method, const char **why)
{
    char next[24];
    char *value = sf_request_field(conn, "Max-Forwards");
    unsigned status = sf_policy_max_forwards(method, value, next, why);
    free(value);
    return status;
}

/* Replaces a shared fetch's Accept-Encoding by its normalised form (none or gzip). */
static void normalize_encoding(struct sf_hdrs *h)
{
    char *sent = sf_hdrs_join(h, "Accept-Encoding");
    const char *normal = sf_policy_normalized_encoding(sent);
    free(sent);
    sf_hdrs_remove(h, "Accept-Encoding");
    if (normal != NULL)
        sf_hdrs_add(h, "Accept-Encoding", normal);
}

struct sf_fetch_spec *sf_outbound_spec(const struct sf_outbound *ob, struct MHD_Connection *conn,
                                       const char *method, const struct sf_dest *dest, bool shared,
                                       struct sf_reqbody *body)
{
    struct sf_fetch_spec *s = sf_xcalloc(1, sizeof *s);
    s->method = sf_xstrdup(method);
    s->url = sf_xstrdup(dest->url);
    char ip[INET6_ADDRSTRLEN];
    bool trusted = client_of(ob, conn, ip, sizeof ip);
    struct fields_ctx c = {&s->hdrs,
                           MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection"), shared,
                           trusted, ob->cfg->underscore_fields};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, copy_field, &c);
    add_forwarding(ob, conn, &s->hdrs, ip, dest->host);
    decrement_max_forwards(conn, method, &s->hdrs);
    if (shared && normalizes_encoding(ob, dest->route))
        normalize_encoding(&s->hdrs);
    if (narrows_cookies(dest->route)) {
        /* The origin sees only the cookies the key has: it cannot personalise a response
         * on one that every other holder of the key would then be served. */
        char *cookie = sf_cachekey_cookies(&s->hdrs, &dest->route->key);
        sf_hdrs_remove(&s->hdrs, "Cookie");
        if (cookie != NULL)
            sf_hdrs_add(&s->hdrs, "Cookie", cookie);
        free(cookie);
    }
    /* RFC 9110 §7.6.3: ours appended to every Via line the request came with, whole. */
    char *via = sf_request_field(conn, "Via");
    if (via == NULL) {
        sf_hdrs_add(&s->hdrs, "Via", SF_VIA_VALUE); /* the common case: no line to build */
    } else {
        size_t len = strlen(via) + 2 + sizeof SF_VIA_VALUE;
        char *line = sf_xmalloc(len);
        snprintf(line, len, "%s, %s", via, SF_VIA_VALUE);
        sf_hdrs_add(&s->hdrs, "Via", line);
        free(line);
        free(via);
    }
    /* RFC 8586: each intermediary appends its token; a request that comes back with ours
     * (a forward proxy fetching itself by another address) is refused. */
    sf_hdrs_add(&s->hdrs, "CDN-Loop", ob->loop_token);
    s->body = body ? sf_reqbody_ref(body) : NULL;
    s->forward = dest->forward;
    s->dest_listed = dest->dest_listed;
    s->route = dest->route;
    if (shared && dest->path != NULL && !dest->from_peer && ob->cfg->cluster_self != NULL)
        sf_peerhop_first(s, ob->cfg, ob->peer_down, dest->path, dest->host);
    return s;
}

/* ---- where it goes ---- */

/* An absolute-form target (forward proxy): who asks, and where to. Sets *dest and
 * returns 0, or returns the status to refuse with and sets *why. sfproxy is no open proxy:
 * only forward_proxy.clients may use it, only for what forward_proxy.allow lets through
 * (by name here, and again by address when the fetcher connects). */
static unsigned forward_target(const struct sf_outbound *ob, struct MHD_Connection *conn,
                               const char *target, struct sf_dest *dest, const char **why)
{
    const struct sf_config *cfg = ob->cfg;
    const char *authority = target + 7;
    size_t alen = strcspn(authority, "/?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char hostport[300], host[256];
    uint16_t port;
    if (!cfg->forward_proxy) {
        *why = "absolute-form targets are refused: forward_proxy is off in the config\n";
        return MHD_HTTP_BAD_REQUEST;
    }
    if (ci == NULL || !sf_acl_match_addr(&cfg->forward_clients, ci->client_addr, 0)) {
        *why = "this client may not use the forward proxy (forward_proxy.clients)\n";
        SF_COUNT(forward_refused);
        return MHD_HTTP_FORBIDDEN;
    }
    if (memchr(authority, '@', alen) != NULL) {
        /* Never turned into an Authorization field, nor passed on in the URL. */
        *why = "credentials in the target URL are refused; send an Authorization field\n";
        return MHD_HTTP_BAD_REQUEST;
    }
    if (alen == 0 || alen >= sizeof hostport) {
        *why = "the target URL has no host\n";
        return MHD_HTTP_BAD_REQUEST;
    }
    memcpy(hostport, authority, alen);
    hostport[alen] = '\0';
    if (!sf_net_split_hostport(hostport, host, sizeof host, &port) || host[0] == '\0') {
        *why = "the target URL's host or port is malformed\n";
        return MHD_HTTP_BAD_REQUEST;
    }
    if (!sf_dest_name_ok(&ob->dest, host, port ? port : 80, &dest->dest_listed)) {
        *why = "the destination is not allowed (forward_proxy.allow; loopback, private and "
               "link-local addresses and sfproxy itself must be listed to be reached)\n";
        SF_COUNT(forward_refused);
        return MHD_HTTP_FORBIDDEN;
    }
    dest->forward = true;
    dest->url = sf_xstrdup(target);
    return 0;
}

/* A cluster peer's request takes the route the asking node took, by name, and is for the
 * Host its client sent, both under the request's signature (cluster.h), whatever it would
 * match here: the hop's Host is this node's address, its method always GET, and it drops
 * or rewrites fields a route may match on, so matching again here could fetch another
 * route's upstream, and key it apart from the asker. Without a route field, none (the
 * asker took none). A name this node has no route of (the nodes' routes differ, in a
 * rolling reload) is answered 421 with SF_PEER_NO_ROUTE_FIELD, signed: the asker asks the
 * next node, and fetches it itself on its own turn (peerhop.h). */
static unsigned peer_route(const struct sf_outbound *ob, struct MHD_Connection *conn,
                           struct sf_dest *dest, const char **why)
{
    static struct sf_ratelimit unknown;
    const char *name = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, SF_PEER_ROUTE_FIELD);
    dest->host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, SF_PEER_HOST_FIELD);
    dest->route = name != NULL ? sf_routes_named(ob->cfg->routes, name) : NULL;
    if (name == NULL || dest->route != NULL)
        return 0;
    SF_COUNT(peer_routes_unknown);
    sf_log_limited(&unknown, 10000, SF_LOG_WARN,
                   "cluster: a peer asked for a request of route \"%s\", which this node's "
                   "config has not: sent back (give every node the same routes)",
                   name);
    *why = "this node has no route of the name the asking node took\n";
    return SF_PEER_NO_ROUTE_STATUS;
}

unsigned sf_outbound_route(const struct sf_outbound *ob, struct MHD_Connection *conn,
                           const char *method, const char *target, const struct sf_route_def *route,
                           struct sf_dest *dest, const char **why)
{
    const struct sf_config *cfg = ob->cfg;
    const char *t = target;
    dest->route = route;
    dest->host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    if (t[0] == '/') {
        /* A request whose peer field peercall.c checked already (it looked like a peer's own
         * call, a purge or a health check, and was not one) is a client's: a second check
         * would count a replay twice. Deciding that by the target alone let any client's
         * GET of a purge path be routed unchecked, answered unsigned by its owner, and the
         * owner marked down by the node that asked. */
        char sender[SF_PEER_ID_MAX];
        dest->from_peer =
            !dest->peer_checked && sf_peerauth_request(ob->cfg, conn, method, t, sender);
        unsigned refused = dest->from_peer ? peer_route(ob, conn, dest, why) : 0;
        if (refused != 0)
            return refused;
        route = dest->route;
        const char *base =
            route != NULL && route->set.upstream != NULL ? route->set.upstream : cfg->upstream;
        if (base == NULL) {
            *why = "this proxy has no upstream; send an absolute http:// URL\n";
            return MHD_HTTP_BAD_REQUEST;
        }
        if (route != NULL) {
            char *sent = sf_route_upstream_target(route, t); /* strip_prefix */
            dest->url = sf_http_join_url(base, sent);
            free(sent);
        } else {
            dest->url = sf_http_join_url(base, t);
        }
        dest->path = t; /* (the request's target, kept for its life) */
        /* Asked by a node this node's list puts before it for the key: the two lists
         * disagree (with one list, a node only asks one ranked before itself). Joining a
         * flight here that goes to a peer could close a circle of nodes each waiting on the
         * next: the request is fetched on its own instead (ADMIT, reqsteps.h). */
        dest->peer_ranked_before =
            dest->from_peer && sf_peerhop_ranks_before(ob->cfg, dest->url, sender);
        return 0;
    }
    if (strncmp(t, "http://", 7) == 0)
        return forward_target(ob, conn, target, dest, why);
    *why = strncmp(t, "https://", 8) == 0
               ? "only http:// targets can be proxied; use CONNECT-capable proxies for https\n"
               : "the request target must be a path starting with \"/\" or an http:// URL\n";
    return MHD_HTTP_BAD_REQUEST;
}
