/* pool: the upstream pools of the running process (issue 21): each configured pool's
 * servers, their health (health.h) and the operator's drain, the server each attempt of a
 * fetch goes to (balance.h), and what each server has done (requests, failures, probes,
 * time to first byte) for the stats and /metrics.
 *
 * Two layers:
 *   struct sf_pools  the registry, one per process (main owns it): every pool version in
 *                    use and the state of every server, keyed by (pool name, server URL),
 *                    so a reload that keeps a server keeps its health, drain and numbers.
 *   struct sf_pool   one version of a pool: a config's servers in its order, with its
 *                    balance state. A config snapshot's fetches use the versions bound to
 *                    it (fetchconf.h holds the references), so a fetch that straddles a
 *                    reload keeps the servers it started with.
 *
 * sf_pools_apply makes a config's pools the current ones (probed, shown, drained through
 * the admin endpoint); a server that left every current pool is forgotten there and then
 * (a later reload that adds it back makes a new one), though versions that fetches still
 * hold keep counting on its old state until they let go. Hash choices score a server by its URL
 * (balance.h), so a reload moves only the
 * keys of the servers that came or went.
 *
 * Threads: one mutex in the registry serialises everything below (the fetcher's choices
 * and outcomes, the prober's results, the admin's drains, the stats). Choices are a few
 * hundred nanoseconds under it; nothing blocks while holding it (state changes are logged
 * after it is released). */
#ifndef SF_POOL_H
#define SF_POOL_H

#include "balance.h"
#include "config-t.h"

#include <jansson.h>

struct sf_pools;
struct sf_pool;

struct sf_pools *sf_pools_new(void);
/* Frees the registry; every version must have been released. NULL is fine. */
void sf_pools_free(struct sf_pools *ps);

/* cfg's pools become the current ones: a pool or server of the same name and URL keeps its
 * state, a new server starts up (health.h: start_down false) and undrained. The health
 * settings of a kept server are cfg's from now on. Main thread: at start and on each
 * reload, before the snapshot is put in force. */
void sf_pools_apply(struct sf_pools *ps, const struct sf_config *cfg);

/* The version of cfg->upstreams.v[i], with a reference: the current one when its servers,
 * weights, backups and balance are cfg's, else a new one sharing the servers' state. Never
 * NULL. Any thread (fetchconf.c calls it on the fetcher thread). "Are cfg's" is every
 * setting of the def (pooldef.h's sf_pooldef_equal), not only those: sf_pool_def hands the
 * fetch its retries, Host and TLS, which a version made for other values would get wrong
 * (a new version costs only a fresh round robin position). */
struct sf_pool *sf_pools_bind(struct sf_pools *ps, const struct sf_config *cfg, size_t i);
void sf_pool_unref(struct sf_pool *p); /* NULL is fine */

/* What one pool version was made from (borrowed for as long as p is held). */
const struct sf_pool_def *sf_pool_def(const struct sf_pool *p);

/* The server for one attempt: tried is the servers this fetch already tried (bits by index
 * in sf_pool_def(p)->servers), key the cache key (hash) or NULL. Returns the server's
 * index, or -1 when none is left (balance.h says which are candidates). The chosen
 * server's running count goes up (least_conn) and its requests are counted: every choice
 * must be followed by one sf_pool_done. */
int sf_pool_choose(struct sf_pool *p, sf_balance_set tried, const char *key, uint64_t now_ms);

enum sf_pool_outcome {
    SF_POOL_OK,        /* a head came that the pool does not count as a failure */
    SF_POOL_FAILED,    /* refused, reset or timed out before a head, or a fail status */
    SF_POOL_CANCELLED, /* ended by our side (no client left, shutdown): neither */
};

/* The attempt on server i of p ended so; ttfb_us (>= 0 with SF_POOL_OK) is the time from
 * the attempt's start to its head. A failure may mark the server down (passive). */
void sf_pool_done(struct sf_pool *p, int i, enum sf_pool_outcome outcome, int64_t ttfb_us,
                  uint64_t now_ms);

/* The operator's drain (drain true) or its end, for server (its name) of the current pool
 * named pool. Returns 0, or 404 when there is no such pool or server. The state is kept
 * across reloads for as long as the server keeps its URL. Any thread. */
int sf_pools_set_drain(struct sf_pools *ps, const char *pool, const char *server, bool drain);

/* ---- active probes (prober.c) ---- */

/* One probe to make. Owned by the caller of sf_pools_due_probes (free with
 * sf_pool_probe_free); it holds the server's state alive. */
struct sf_pool_probe {
    char *url;  /* the server's URL + health path */
    char *host; /* the pool's "host", or NULL */
    uint64_t timeout_ms;
    unsigned status[SF_POOL_MAX_STATUSES]; /* statuses that pass; none: 200-399 */
    size_t nstatus;
    struct sf_tls_opts {
        char *ca_file, *sni;
        bool verify;
    } tls;
    void *_server; /* the registry's, for sf_pools_probe_done */
};

/* The probes due at now_ms among the current pools' servers (each server at most one at a
 * time, every health.interval), at most max of them, into out; returns how many. *next_ms
 * is set to when the next one is due (UINT64_MAX: none configured). Also reports passive
 * downs that ran out (health.h: sf_health_tick), each as its one log line. */
size_t sf_pools_due_probes(struct sf_pools *ps, uint64_t now_ms, struct sf_pool_probe **out,
                           size_t max, uint64_t *next_ms);

/* A probe's result: ok when a status that passes came within its timeout. Logs a state
 * change. Frees probe. */
void sf_pools_probe_done(struct sf_pools *ps, struct sf_pool_probe *probe, bool ok,
                         uint64_t now_ms);
void sf_pool_probe_free(struct sf_pool_probe *probe);

/* ---- what is shown ---- */

/* The current pools as JSON (stats "upstreams"): {"NAME": {"balance": ..., "servers":
 * {"SERVER": {"url", "state", "weight", "backup", "active", "requests", "failures",
 * "probes_ok", "probes_failed", "transitions", "ttfb_seconds_sum", "ttfb_count"}}}}. */
json_t *sf_pools_json(struct sf_pools *ps);

/* One current server's object as in sf_pools_json (the admin endpoint's answer), or NULL
 * when pool has no server of that name. Caller owns it. */
json_t *sf_pools_server_json(struct sf_pools *ps, const char *pool, const char *server);

/* The same as Prometheus families with labels upstream and server (text 0.0.4, HELP and
 * TYPE lines included; "" without pools). Caller frees. */
char *sf_pools_prometheus(struct sf_pools *ps);

#endif
