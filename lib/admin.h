/* admin: the admin listener (stats, metrics, health, purge): see admin.c. */
#ifndef SF_ADMIN_H
#define SF_ADMIN_H

#include "cache.h"
#include "config.h"
#include "conn.h"
#include "listener.h"
#include "live.h"
#include "pool.h"

struct sf_admin;

/* Starts the admin side: its listener at admin.listen of the config in force (none when
 * it is off). Each request reads the config current when it is answered. live, cache,
 * pools (the upstream pools' registry: their stats, metrics and drains) and conns must
 * outlive it. On failure returns NULL and writes why into errbuf. */
struct sf_admin *sf_admin_start(struct sf_live *live, struct sf_cache *cache,
                                struct sf_pools *pools, struct sf_conns *conns, char *errbuf,
                                size_t errlen);
/* A reload of the admin listener, in the two steps of sf_front_prepare (front.h): a new
 * address, admin.connection_limit or timeouts.client_idle starts a successor (on the same
 * socket when only the settings changed); admin.listen null stops it at commit. */
bool sf_admin_prepare(struct sf_admin *a, struct sf_snap *snap, char *errbuf, size_t errlen);
void sf_admin_commit(struct sf_admin *a, struct sf_listener **retired);
void sf_admin_abort(struct sf_admin *a);
/* The purge a request on conn asks for (?url=...|tag=..., prefix, soft) carried out on
 * cache alone, for a cluster peer's signed purge on the public listener: its JSON answer
 * (NULL: it could not be made), *status and *body_bytes. */
struct MHD_Response *sf_admin_purge_here(struct sf_cache *cache, const struct sf_config *cfg,
                                         struct MHD_Connection *conn, unsigned *status,
                                         uint64_t *body_bytes);
/* Shutdown has begun: health answers 503 from now on. NULL is fine. */
void sf_admin_draining(struct sf_admin *a);
/* The bound port (useful with port 0); 0 for NULL or when it is off. */
uint16_t sf_admin_port(const struct sf_admin *a);
/* Stops the listener and frees a (NULL is fine). */
void sf_admin_stop(struct sf_admin *a);

#endif
