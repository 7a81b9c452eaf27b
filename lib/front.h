/* front: the libmicrohttpd side. Each request is looked up in the cache and either served
 * from a stored object, attached to a flight, or sent upstream privately; waiting clients
 * are suspended connections woken by the fetcher. Also the admin listener with the stats
 * endpoint, and the steps of an orderly stop. */
#ifndef SF_FRONT_H
#define SF_FRONT_H

#include "cache.h"
#include "config.h"
#include "conn.h"
#include "upstream.h"

struct sf_front;

/* Binds and starts both listeners. cfg, cache, up, hangup and conns must outlive the
 * front. On failure returns NULL and writes why into errbuf. */
struct sf_front *sf_front_start(const struct sf_config *cfg, struct sf_cache *cache,
                                struct sf_upstream *up, struct sf_hangup *hangup,
                                struct sf_conns *conns, char *errbuf, size_t errlen);

/* The bound ports (useful with port 0). admin is 0 when disabled. */
void sf_front_ports(const struct sf_front *f, uint16_t *port, uint16_t *admin);

/* Stops accepting new connections; running ones go on. */
void sf_front_quiesce(struct sf_front *f);
/* Requests begun and not yet completed. */
int sf_front_active_requests(const struct sf_front *f);
/* From now on new requests are answered 503 and nothing new parks. */
void sf_front_close(struct sf_front *f);
/* Stops both daemons (no connection may be parked any more) and frees f. */
void sf_front_stop(struct sf_front *f);

#endif
