/* balance: which server of an upstream pool one fetch goes to (issue 21, first piece).
 * Pure: no threads, no I/O, no clock, no config. The caller says which servers are usable
 * (up and not drained: the health module's verdict), which it already tried for this fetch
 * and, for least_conn, how many transfers each has running; this module only chooses.
 *
 * Methods, as nginx's and HAProxy's:
 *   SF_BALANCE_ROUND_ROBIN  smooth weighted round robin (nginx's ngx_http_upstream_round_robin):
 *                           each candidate's current weight grows by its weight, the largest
 *                           is chosen and loses the candidates' total; weights 5,1,1 give
 *                           a,a,b,a,c,a,a, never a burst of one server.
 *   SF_BALANCE_LEAST_CONN   the fewest running transfers relative to weight; ties broken by
 *                           the smooth round robin among the tied.
 *   SF_BALANCE_HASH         weighted rendezvous hashing on the cache key (as cluster.h's):
 *                           a key always goes to the same server, removing one of N equal
 *                           servers moves only its keys, and a retry takes the next server
 *                           in that key's order. Scores hash the server's id (its URL), not
 *                           its index, so a reload that keeps a server keeps its keys.
 *
 * Which servers are candidates: the usable primaries not yet tried; when no primary is
 * usable, the usable backups not yet tried; when no server at all is usable, every primary
 * not yet tried (nginx's behaviour: try rather than refuse; the health verdict may be
 * stale). When usable servers exist but all were tried, there is no candidate: the fetch
 * has had its chances and fails (a server known to be down is not a retry worth making).
 *
 * Thread-safety: round_robin and least_conn keep one current weight per server, shared by
 * every fetch of the pool. The CALLER serialises sf_balance_choose on one pool (pool.c
 * makes every choice under its registry's mutex). Atomics would not help: one choice reads and
 * writes
 * every candidate's weight together, and a half-applied round breaks its exactness. hash
 * choices read only constant fields. */
#ifndef SF_BALANCE_H
#define SF_BALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SF_BALANCE_MAX_SERVERS 64

enum sf_balance_method {
    SF_BALANCE_ROUND_ROBIN,
    SF_BALANCE_LEAST_CONN,
    SF_BALANCE_HASH,
};

/* One server as configured. id is only read during sf_balance_new (not kept). */
struct sf_balance_server {
    const char *id;  /* unique in the pool and stable across reloads: its URL */
    unsigned weight; /* 1 or more */
    bool backup;     /* used only when no primary is usable */
};

/* A set of servers by index: bit i is server i. */
typedef uint64_t sf_balance_set;
#define SF_BALANCE_BIT(i) ((sf_balance_set)1 << (i))

struct sf_balance;

/* A pool of n servers (1 to SF_BALANCE_MAX_SERVERS, at least one primary, each weight
 * at least 1: the config validates this, so it is asserted here). Owned by the caller;
 * sf_balance_free ends it (NULL is fine). */
struct sf_balance *sf_balance_new(enum sf_balance_method method,
                                  const struct sf_balance_server *servers, size_t n);
void sf_balance_free(struct sf_balance *b);

/* The server for one attempt of a fetch: usable is the health verdict, tried the servers
 * this fetch already tried (0 for its first attempt), active (least_conn only, else may be
 * NULL) the running transfers per server, key (hash only, else may be NULL) the cache key.
 * Returns the server's index, or -1 when no candidate is left (see above). round_robin
 * and least_conn advance the pool's shared state: see Thread-safety above. */
int sf_balance_choose(struct sf_balance *b, sf_balance_set usable, sf_balance_set tried,
                      const unsigned *active, const char *key);

#endif
