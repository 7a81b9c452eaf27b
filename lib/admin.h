/* admin: the admin listener (stats, metrics, health, purge): see admin.c. */
#ifndef SF_ADMIN_H
#define SF_ADMIN_H

#include "cache.h"
#include "config.h"
#include "conn.h"

struct sf_admin;

/* Binds and starts the admin listener at cfg->admin_listen. cfg, cache and conns must
 * outlive it. On failure returns NULL and writes why into errbuf. */
struct sf_admin *sf_admin_start(const struct sf_config *cfg, struct sf_cache *cache,
                                struct sf_conns *conns, char *errbuf, size_t errlen);
/* Shutdown has begun: health answers 503 from now on. NULL is fine. */
void sf_admin_draining(struct sf_admin *a);
/* The bound port (useful with port 0); 0 for NULL. */
uint16_t sf_admin_port(const struct sf_admin *a);
/* Stops the listener and frees a (NULL is fine). */
void sf_admin_stop(struct sf_admin *a);

#endif
