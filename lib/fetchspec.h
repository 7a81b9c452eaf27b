/* fetchspec: what one fetch sends upstream, and where from: the request (method, URL,
 * fields, streamed content), the config it runs under, the stored response it
 * revalidates, and, for a cluster peer's hop, where it falls back to. Built by outbound.c
 * and peerhop.c on libmicrohttpd's workers, taken over by the fetcher (sf_upstream_submit),
 * read by its transfer (transfer.c). A type of its own so that the modules that build a
 * spec do not include the fetcher. */
#ifndef SF_FETCHSPEC_H
#define SF_FETCHSPEC_H

#include "attempt.h"
#include "http.h"

struct sf_keymap;
struct sf_obj;
struct sf_reqbody;
struct sf_route_def;
struct sf_snap;

/* What to send upstream. Owned by whoever holds it; sf_upstream_submit takes it over. */
struct sf_fetch_spec {
    char *method;
    char *url;
    struct sf_hdrs hdrs;     /* end-to-end request fields to send (no Host, no hop-by-hop) */
    struct sf_reqbody *body; /* the client's content, streamed (a reference), or NULL */
    /* The cache key a GET of this URL with this request's credentials has, for a HEAD
     * sent on its own (its 200 may update the stored GET, RFC 9111 §4.3.5) and, with
     * cache.store_post_responses, for a POST (its response may be stored there, RFC 9110
     * §9.3.3); else NULL. */
    char *get_key;
    /* For a request other than GET and HEAD on a config with routes: where a GET of its
     * target, or of a Location its response names, is stored (keyurl.h), so that what the
     * response invalidates (RFC 9111 §4.4) reaches objects a route keys otherwise; NULL:
     * the URLs themselves. Borrows from snap. */
    struct sf_keymap *keymap;
    struct sf_snap *snap; /* the config the request arrived under (pinned): its settings */
    /* The config's route the request took (route.h; in snap's config, so pinned with it);
     * NULL: none, the top level's settings apply. */
    const struct sf_route_def *route;
    /* The stored response a shared fetch revalidates (a reference, or NULL): the flight's
     * stale as the lookup that listed it left it, taken by the leader on the thread of
     * that lookup, so that the fetcher never reads the flight's (T) field, which a later
     * lookup may take over once the flight fails or is given up. */
    struct sf_obj *stale;
    /* A fetch sent to a cluster peer (peerhop.h): fallback_url is the upstream's URL,
     * fetched instead should neither the peer nor any node after it in the key's order
     * (peer_rank is the peer's place there, peer_path the target sent, with s->route's
     * name and peer_host under its signature) be reached before
     * this one's turn; a peer not reached is marked down in *peer_down_until for
     * peer_retry_ms; connecting to it may take at most peer_connect_timeout_ms. NULL: not a
     * peer fetch. */
    char *fallback_url;
    char *peer_path;
    char *peer_host; /* the client's Host, which the peer keys as this node does (owned) */
    size_t peer_rank;
    _Atomic uint64_t *peer_down_until;
    uint64_t peer_retry_ms, peer_connect_timeout_ms;
    bool store_peer_response; /* cluster.store_on_edge: keep what the peer sent here too */
    const char *peer_id;      /* the peer's id, for its numbers (in snap's config) */
    bool slice;               /* a slice of a response kept in slices (slice.h); its Range */
    uint64_t slice_first;     /* (in hdrs) starts at this byte */
    bool forward;             /* a forward-proxy fetch: the address connected to is checked */
    bool dest_listed;         /* with forward: forward_proxy.allow names the host */
    /* On an upstream pool (attempt.h): the servers this fetch has tried. Zeroed by whoever
     * builds the spec; the fetcher's from then on. */
    struct sf_attempts att;
};

/* Frees spec and what it holds (its strings, fields, and its references on body, stale and
 * snap). NULL is fine. Any thread. */
void sf_fetch_spec_free(struct sf_fetch_spec *spec);

#endif
