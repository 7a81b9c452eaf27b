/* outbound: what a client's request becomes upstream. Where it goes (the configured
 * upstream joined with an origin-form target, or, as a forward proxy, an absolute http://
 * target checked against who may use the proxy and where it may reach), and what is sent
 * (the method, the fields a proxy forwards, sfproxy's own Via, CDN-Loop and forwarding
 * fields, the content), and the request's side of the cache key (sf_outbound_key: which of
 * its fields are keyed, and as sent). What is stored and reused is policy.c's and
 * judge.c's. */
#ifndef SF_OUTBOUND_H
#define SF_OUTBOUND_H

#include "netacl.h"

#include <microhttpd.h>

struct sf_config;
struct sf_fetch_spec; /* fetchspec.h */
struct sf_hdrs;       /* http.h */
struct sf_keymap;     /* keyurl.h */
struct sf_route_def;  /* route.h */
struct sf_reqbody;
struct sf_snap;

/* What one request is routed and sent by: the config it arrived under and what the
 * listeners share. */
struct sf_outbound {
    const struct sf_config *cfg;
    struct sf_dest_rules dest;   /* where the forward proxy may fetch */
    const char *loop_token;      /* this instance's CDN-Loop token (RFC 8586) */
    _Atomic uint64_t *peer_down; /* the cluster peers' health (struct sf_snap) */
};

#define SF_LOOP_TOKEN_SIZE 32

/* Where one request goes. */
struct sf_dest {
    char *url;        /* what is fetched upstream (owned); NULL until routed */
    const char *path; /* the origin-form target as the client sent it, which a cluster peer is
                       * asked for (with the route's name and the Host: it takes the same
                       * route, cluster.h); NULL for forward. Borrowed: the target routed
                       * (sf_req.target), which lives as long as the request */
    const char *host; /* the Host the request is for (borrowed from the connection): its
                       * own, or a peer's client's (SF_PEER_HOST_FIELD, signed); NULL: none */
    const struct sf_route_def *route; /* the config's route it takes (route.h), whose
                                       * upstream, key and cookies apply; NULL: none */
    bool forward;                     /* an absolute-form target, fetched as a forward proxy */
    bool dest_listed;                 /* with forward: forward_proxy.allow names its host */
    bool from_peer;          /* a cluster peer's signed request: fetched here, never routed on */
    bool peer_checked;       /* set before routing: its peer field was checked already, and it is
                        * not a peer's (peercall.h) */
    bool peer_ranked_before; /* with from_peer: its sender comes before this node in the
                              * key's order by this node's list (the lists disagree) */
};

/* A new random CDN-Loop token for this instance, into token. */
void sf_outbound_loop_token(char token[SF_LOOP_TOKEN_SIZE]);

/* ob for a request under snap's config; self_ports (SF_SELF_PORTS) and loop_token are
 * shared and must outlive it, as snap must. */
void sf_outbound_init(struct sf_outbound *ob, struct sf_snap *snap,
                      const _Atomic uint16_t *self_ports, const char *loop_token);

/* Routes the raw request target of a request of method on conn, which takes route (NULL:
 * none; it must be of ob's config): fills *dest and returns 0, or returns the status to
 * refuse the request with and sets *why (a line of text). An origin-form target goes to
 * the route's upstream (else the top level's), with the route's strip_prefix applied
 * (sf_route_upstream_target); an absolute-form one (forward proxy) goes where its URL
 * says, whatever the route. A request signed by a cluster peer (Sfproxy-Peer) is marked
 * from_peer, and takes the route its signed SF_PEER_ROUTE_FIELD names instead of route
 * (none without one), for the Host its SF_PEER_HOST_FIELD says: a name this node has no
 * route of is refused with SF_PEER_NO_ROUTE_STATUS. */
unsigned sf_outbound_route(const struct sf_outbound *ob, struct MHD_Connection *conn,
                           const char *method, const char *target, const struct sf_route_def *route,
                           struct sf_dest *dest, const char **why);

/* Whether the request on conn is a cluster peer's: Sfproxy-Peer signed with
 * cluster.secret for this method and target and this node, within 30 s, and not seen
 * before (peerauth.h). An unsigned, badly signed or replayed one is an ordinary client's
 * field (and is never forwarded). Call it once per request: a second call sees a replay. */
bool sf_outbound_from_peer(const struct sf_outbound *ob, struct MHD_Connection *conn,
                           const char *method, const char *target);

/* Whether the request on conn has passed through this instance already (its CDN-Loop
 * names our token): a loop, to be refused. */
bool sf_outbound_looped(const struct sf_outbound *ob, struct MHD_Connection *conn);

/* The fetch of dest's URL for the request on conn, with method, the request's
 * forwardable fields and sfproxy's own; shared: a flight others may join (nothing that is
 * one client's own is sent, and Accept-Encoding is normalised when configured, by dest's
 * route or the top level). When dest's route names the cookies its key takes
 * (key.cookies), only those are sent, shared or not (sf_cachekey_cookies). In a
 * cluster, a shared fetch of a key another peer owns goes to that peer, signed, with the
 * next nodes in the key's order and then the upstream as its fallbacks (peerhop.h). body (may be NULL) gets a
 * reference of the spec's. Caller owns the result. */
struct sf_fetch_spec *sf_outbound_spec(const struct sf_outbound *ob, struct MHD_Connection *conn,
                                       const char *method, const struct sf_dest *dest, bool shared,
                                       struct sf_reqbody *body);

/* RFC 9110 §7.6.2: 0 when the request of method on conn goes upstream (a TRACE or OPTIONS
 * is then sent with one less in its Max-Forwards); else the status sfproxy answers it with
 * itself, with *why its text: a TRACE or OPTIONS with "Max-Forwards: 0" (501, 200), or a
 * Max-Forwards that is not a number on one (400). See sf_policy_max_forwards. */
unsigned sf_outbound_final_answer(struct MHD_Connection *conn, const char *method,
                                  const char **why);

/* The cache key of a GET or HEAD on conn, routed to dest: its URL, every credential line
 * as forwarded, and the Host when that is forwarded too (preserve_host). With a route,
 * its key rule's (sf_cachekey_build: the URL fetched, its query as the rule keeps it, the
 * Host when the route matches on it, the rule's header fields, the cookies it names);
 * without one, the key sfproxy has always built. Caller frees. */
char *sf_outbound_key(const struct sf_outbound *ob, struct MHD_Connection *conn,
                      const struct sf_dest *dest);

/* What the response to the request on conn, routed to dest, invalidates is also purged
 * where a GET of the same target (or of a Location it names) is stored (keyurl.h): a
 * keymap of its target, Host and fields, and where it was fetched; NULL when ob's config
 * has no routes (a GET is then stored under the URL the request fetches). It borrows from
 * ob's config snapshot. Caller frees (sf_keymap_free). */
struct sf_keymap *sf_outbound_keymap(const struct sf_outbound *ob, struct MHD_Connection *conn,
                                     const struct sf_dest *dest);

/* A request as a shared fetch sends its fields. */
struct sf_shared_view {
    const struct sf_outbound *ob;
    struct MHD_Connection *conn;
    const struct sf_route_def *route; /* the request's (dest->route); NULL: none */
};
/* (sf_field_get, with view: struct sf_shared_view *) A field of the request as a shared
 * fetch would send it upstream (Accept-Encoding normalised when configured; the Cookie
 * narrowed to the route's key.cookies; sfproxy's own
 * X-Forwarded-For, X-Forwarded-Proto and Forwarded; NULL for what is not sent, such as an
 * untrusted client's identity fields or a name with "_"): what selects among responses
 * that vary (RFC 9111 §4.1). Caller frees. */
char *sf_outbound_shared_field(void *view, const char *name);

/* A request field, given as its lines (every line named name, in order; none: absent), as
 * a shared fetch on route (NULL: none) under cfg sends it: the Cookie narrowed to the
 * route's key.cookies, Accept-Encoding normalised where the route (or, without one, the
 * top level) says so, other fields joined. sf_outbound_shared_field's value, from lines
 * instead of a connection, so that explain selects a variant as a request does. NULL when
 * nothing is sent. Caller frees. Pure. */
char *sf_outbound_sent_value(const struct sf_config *cfg, const struct sf_route_def *route,
                             const char *name, const struct sf_hdrs *lines);

/* The client's address, written as text into ip (size at least INET6_ADDRSTRLEN;
 * "unknown" when libmicrohttpd has none, then NULL is returned). */
const struct sockaddr *sf_outbound_client_addr(struct MHD_Connection *conn, char *ip, size_t size);

/* Every line of the request field name joined with ", "; NULL when absent. Caller frees. */
char *sf_request_field(struct MHD_Connection *conn, const char *name);

#endif
