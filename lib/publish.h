/* publish: carries out on a flight what judge.c decided its origin's response head means.
 * It fills the object (status, fields, variant; the stored body for a 304 refresh or a
 * stale answer), tells the cache what the flight turned out to be (one user's:
 * hit-for-pass; or a response for its key or its variant's key), purges what the response
 * invalidates, and updates a stored GET from a HEAD's 200. No curl: the fetcher calls it
 * when a head is final, and only the fetcher (it fills objects and changes their keys). */
#ifndef SF_PUBLISH_H
#define SF_PUBLISH_H

#include "judge.h"

struct sf_cache;
struct sf_fetch_spec; /* fetchspec.h */

struct sf_publisher {
    struct sf_cache *cache;
    const struct sf_judge_cfg *judge;
    uint64_t hit_for_pass_ms; /* how long a hit-for-pass marker lives */
};

/* Carries d (from sf_judge_head or sf_judge_failure for req; consumed and cleared) out on
 * o, the flight req was fetched for, at now_s. spec: req's fetch, whose get_key (with
 * req->has_get_key) is the cache key of the GET a HEAD's 200 may update, and whose keymap
 * (may be NULL) says where a GET of each URL d invalidates is stored, purged as well.
 * Returns whether the flight's body is still wanted (false: nobody is attached and it
 * will not be stored; cancel the transfer). */
bool sf_publish(const struct sf_publisher *p, struct sf_obj *o, const struct sf_judged_request *req,
                const struct sf_fetch_spec *spec, struct sf_head_decision *d, int64_t now_s);

/* o, a POST's response now complete, that its decision said to store for GETs of its URL
 * (store_for_get): a copy of it is stored under key, unless a flight for that key is on
 * its way. Fetcher thread. */
void sf_publish_for_get(const struct sf_publisher *p, struct sf_obj *o, const char *key);

#endif
