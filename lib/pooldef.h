/* pooldef: copies and comparisons of one pool's definition (config-t.h's struct
 * sf_pool_def), for the registry (pool.c), which keeps each version's own copy so that a
 * version outlives the config it was made from. Pure. */
#ifndef SF_POOLDEF_H
#define SF_POOLDEF_H

#include "config-t.h"
#include "health.h"

/* A deep copy of src into *dst (owned: sf_pooldef_clear). */
void sf_pooldef_copy(struct sf_pool_def *dst, const struct sf_pool_def *src);
void sf_pooldef_clear(struct sf_pool_def *d);

/* Whether a and b are the same pool in every setting: then one version serves both. */
bool sf_pooldef_equal(const struct sf_pool_def *a, const struct sf_pool_def *b);

/* The health settings a server of d is kept under (health.h): probes only with a path. */
void sf_pooldef_health(const struct sf_pool_def *d, struct sf_health_conf *out);

/* d's balance as the config writes it: "round_robin", "least_conn", "hash". */
const char *sf_pooldef_balance_name(int balance);

#endif
