/* front: the public listener (libmicrohttpd). Each request is looked up in the cache and
 * either served from a stored object, attached to a flight, or sent upstream privately;
 * waiting clients are suspended connections woken by the fetcher. Also the steps of an
 * orderly stop. The admin listener is admin.h's. */
#ifndef SF_FRONT_H
#define SF_FRONT_H

#include "base.h"

struct sf_access_log;
struct sf_cache;
struct sf_conns;
struct sf_hangup;
struct sf_listener;
struct sf_live;
struct sf_snap;
struct sf_upstream;

struct sf_front;

/* What the front works with; each must outlive it. */
struct sf_front_parts {
    struct sf_cache *cache;
    struct sf_upstream *up;
    struct sf_hangup *hangup;
    struct sf_conns *conns;
    struct sf_access_log *access_log; /* lines only while access_log.path is set */
};

/* Binds and starts the public listeners (HTTP, HTTPS) of the config in force. Each request
 * then runs under the snapshot it pins when it arrives. live must outlive the front. On
 * failure returns NULL and writes why into errbuf. */
struct sf_front *sf_front_start(struct sf_live *live, const struct sf_front_parts *parts,
                                char *errbuf, size_t errlen);

/* A reload of the listeners, in two steps (listener.h). Prepare starts what snap's config
 * needs that the running listeners do not give: a listener on a new address, or one whose
 * libmicrohttpd settings (workers, connection_limit, timeouts.client_idle, the HTTPS
 * certificate and key) changed, on the same socket. False, with errbuf written, when one
 * cannot start: then none did. Commit lets the prepared ones take over, the ones they
 * replace retiring onto *retired; abort stops them. */
bool sf_front_prepare(struct sf_front *f, struct sf_snap *snap, char *errbuf, size_t errlen);
void sf_front_commit(struct sf_front *f, struct sf_listener **retired);
void sf_front_abort(struct sf_front *f);

/* The admin listener's port (0: none): the forward proxy never fetches from it. */
void sf_front_set_admin_port(struct sf_front *f, uint16_t port);

/* The bound port (useful with port 0); the HTTPS listener's. 0: that listener is off. */
uint16_t sf_front_port(const struct sf_front *f);
uint16_t sf_front_tls_port(const struct sf_front *f);

/* Stops accepting new connections; running ones go on. (Retired listeners accept none.) */
void sf_front_quiesce(struct sf_front *f);
/* Requests begun and not yet completed. */
int sf_front_active_requests(const struct sf_front *f);
/* From now on new requests are answered 503 and nothing new parks. */
void sf_front_close(struct sf_front *f);
/* Stops the listeners (no connection may be parked any more; retired ones must have been
 * reaped) and frees f. */
void sf_front_stop(struct sf_front *f);

#endif
