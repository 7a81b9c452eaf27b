/* front: the public listener (libmicrohttpd). Each request is looked up in the cache and
 * either served from a stored object, attached to a flight, or sent upstream privately;
 * waiting clients are suspended connections woken by the fetcher. Also the steps of an
 * orderly stop. The admin listener is admin.h's. */
#ifndef SF_FRONT_H
#define SF_FRONT_H

#include "accesslog.h"
#include "cache.h"
#include "config.h"
#include "conn.h"
#include "upstream.h"

struct sf_front;

/* What the front works with; each must outlive it. */
struct sf_front_parts {
    struct sf_cache *cache;
    struct sf_upstream *up;
    struct sf_hangup *hangup;
    struct sf_conns *conns;
    struct sf_access_log *access_log; /* NULL: none */
    uint16_t admin_port; /* the admin listener's (0: none): the forward proxy never fetches
                          * from it */
};

/* Binds and starts the public listener. cfg must outlive the front. On failure returns
 * NULL and writes why into errbuf. */
struct sf_front *sf_front_start(const struct sf_config *cfg, const struct sf_front_parts *parts,
                                char *errbuf, size_t errlen);

/* The bound port (useful with port 0); the HTTPS listener's. 0: that listener is off. */
uint16_t sf_front_port(const struct sf_front *f);
uint16_t sf_front_tls_port(const struct sf_front *f);

/* Stops accepting new connections; running ones go on. */
void sf_front_quiesce(struct sf_front *f);
/* Requests begun and not yet completed. */
int sf_front_active_requests(const struct sf_front *f);
/* From now on new requests are answered 503 and nothing new parks. */
void sf_front_close(struct sf_front *f);
/* Stops the listener (no connection may be parked any more) and frees f. */
void sf_front_stop(struct sf_front *f);

#endif
