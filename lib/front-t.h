/* front-t: struct sf_front, the public listener's state, for the files of the front that
 * read it: front.c, which owns it (its listeners and its life), and the request's steps
 * (reqsteps.h), which read the cache, the fetcher and the stop flags through a request's
 * r->front. Nothing outside the front includes this; front.h is the front's contract. */
#ifndef SF_FRONT_T_H
#define SF_FRONT_T_H

#include "listener.h"
#include "outbound.h"

struct sf_access_log;
struct sf_cache;
struct sf_conns;
struct sf_hangup;
struct sf_live;
struct sf_upstream;

struct sf_front {
    struct sf_live *live; /* the config in force; each request pins its own */
    struct sf_cache *cache;
    struct sf_upstream *up;
    struct sf_hangup *hangup;
    struct sf_conns *conns;
    struct sf_access_log *access_log; /* lines only while access_log.path is set */
    char loop_token[SF_LOOP_TOKEN_SIZE];
    _Atomic uint16_t self_ports[SF_SELF_PORTS]; /* HTTP, HTTPS, admin (outbound.h) */
    struct sf_listener_slot slots[2]; /* HTTP, HTTPS; with a reload prepared, successors */
    atomic_bool draining;             /* stopping has begun (peers' health checks say so) */
    atomic_bool closing;
    atomic_int active;
};

#endif
