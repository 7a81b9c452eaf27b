/* fetcher: the fetcher thread (its API is named sf_upstream_). It owns the curl multi handle
 * and every easy handle; other threads hand it work through a locked queue and
 * curl_multi_wakeup(). Its transfers (transfer.c) fill objects (publish, append, finish);
 * the loop wakes their parked readers once per pass, enforces the transfers' deadlines,
 * and polls the hangup watcher. */
#ifndef SF_FETCHER_H
#define SF_FETCHER_H

#include "cache.h"
#include "config.h"
#include "hangup.h"
#include "live.h"
#include "netacl.h"
#include "reqbody.h"

/* What to send upstream. Owned by whoever holds it; sf_upstream_submit takes it over. */
/* The field sfproxy's own 503 carries while it shuts down, so that a cluster peer that
 * asked for a key fetches it elsewhere at once. */
#define SF_DRAINING_FIELD "Sfproxy-Draining"

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
    struct sf_snap *snap; /* the config the request arrived under (pinned): its settings */
    /* The stored response a shared fetch revalidates (a reference, or NULL): the flight's
     * stale as the lookup that listed it left it, taken by the leader on the thread of
     * that lookup, so that the fetcher never reads the flight's (T) field, which a later
     * lookup may take over once the flight fails or is given up. */
    struct sf_obj *stale;
    /* A fetch sent to a cluster peer (peerhop.h): fallback_url is the upstream's URL,
     * fetched instead should neither the peer nor any node after it in the key's order
     * (peer_rank is the peer's place there, peer_path the target sent) be reached before
     * this one's turn; a peer not reached is marked down in *peer_down_until for
     * peer_retry_ms; connecting to it may take at most peer_connect_timeout_ms. NULL: not a
     * peer fetch. */
    char *fallback_url;
    char *peer_path;
    size_t peer_rank;
    _Atomic uint64_t *peer_down_until;
    uint64_t peer_retry_ms, peer_connect_timeout_ms;
    bool store_peer_response; /* cluster.store_on_edge: keep what the peer sent here too */
    const char *peer_id;      /* the peer's id, for its numbers (in snap's config) */
    bool slice;               /* a slice of a response kept in slices (slice.h); its Range */
    uint64_t slice_first;     /* (in hdrs) starts at this byte */
    bool forward;             /* a forward-proxy fetch: the address connected to is checked */
    bool dest_listed;         /* with forward: forward_proxy.allow names the host */
};

void sf_fetch_spec_free(struct sf_fetch_spec *spec);

struct sf_upstream;

/* Starts the fetcher thread; snap is the config at start (checked here for the upstream's
 * TLS). Each fetch then runs with the settings of the snapshot its spec pinned. cache and
 * hangup must outlive it. NULL on failure. */
struct sf_upstream *sf_upstream_start(struct sf_snap *snap, struct sf_cache *cache,
                                      struct sf_hangup *hangup);

/* sfproxy's own listening ports, which forward-proxy fetches never connect to
 * (SF_SELF_PORTS of them; they must outlive up). Before any fetch. */
void sf_upstream_set_self_ports(struct sf_upstream *up, const _Atomic uint16_t *self_ports);

/* Fetches spec into o, which must be PENDING. Takes over *spec and a reference on o. If
 * the fetcher is shutting down, o fails at once (SF_FAIL_CANCELLED). Any thread. */
void sf_upstream_submit(struct sf_upstream *up, struct sf_obj *o, struct sf_fetch_spec **spec);

/* Asks the fetcher to drop o's transfer if, when it looks, no client is attached and the
 * response is not worth finishing. Any thread. */
void sf_upstream_cancel(struct sf_upstream *up, struct sf_obj *o);

/* The request content of o's transfer has more bytes (or its end) for a paused read.
 * Any thread. */
void sf_upstream_unpause(struct sf_upstream *up, struct sf_obj *o);

/* Fails every transfer (waking every waiter) and every later submission. Any thread. */
void sf_upstream_abort_all(struct sf_upstream *up);

/* Stops the thread and frees everything. Transfers still running are failed first. */
void sf_upstream_stop(struct sf_upstream *up);

#endif
