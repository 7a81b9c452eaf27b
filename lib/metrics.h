/* metrics: process-wide atomic counters and gauges, and the JSON document the admin
 * endpoint serves. Counters only feed stats; no decision reads them. */
#ifndef SF_METRICS_H
#define SF_METRICS_H

#include "base.h"
#include "metrics-t.h"

/* What the cache reports (sf_cache_get_stats). */
struct sf_cache_stats {
    uint64_t objects;      /* stored responses */
    uint64_t vary_markers; /* keys whose responses vary, each listing its variants */
    uint64_t pass_markers; /* keys in hit-for-pass */
    uint64_t sliced;       /* keys whose responses are kept in slices */
    uint64_t bytes;        /* bytes they are charged */
    uint64_t flights;      /* listed objects not yet complete */
    uint64_t evictions;
    uint64_t variants;          /* stored responses that are variants (RFC 9111 §4.1) */
    uint64_t variant_evictions; /* variants evicted by cache.max_variants */
    /* The eviction policy's (evict.h): evictions from small and from main (together
     * evictions), moves from small to main, ghost hits, and the bytes in small. */
    uint64_t evictions_small, evictions_main, promotions, ghost_hits, small_bytes;
    /* The disk tier's (disktier.h fills them; diskstore.h says what each is), reported
     * only when a store was opened (disk_open). */
    bool disk_open;
    uint64_t disk_state, disk_hits, disk_bytes_used, disk_log_bytes, disk_records, disk_index_bytes,
        disk_writes, disk_write_bytes, disk_writes_queued, disk_queued_bytes, disk_writes_dropped,
        disk_reads, disk_checksum_failures, disk_purged, disk_errors, disk_checkpoints,
        disk_load_ms, disk_load_scanned, disk_reads_queued, disk_index_evictions, disk_purge_rules,
        disk_purge_collapses;
};

/* A histogram of fixed buckets (sf_metrics_observe_*): each observation is three relaxed
 * atomic additions, no lock. buckets[i] counts the observations in bucket i alone (the
 * exposition adds them up); the last is +Inf. sum is in microseconds for the seconds
 * histograms, in units for the count ones. */
#define SF_BUCKETS_MAX 16
struct sf_histogram {
    sf_counter buckets[SF_BUCKETS_MAX];
    sf_counter count, sum;
};

enum sf_method_class {
    SF_M_GET,
    SF_M_HEAD,
    SF_M_POST,
    SF_M_PUT,
    SF_M_DELETE,
    SF_M_PATCH,
    SF_M_OPTIONS,
    SF_M_OTHER,
    SF_M_COUNT
};

struct sf_metrics {
    sf_counter requests[SF_M_COUNT];
    sf_counter hits, misses, collapsed, passes, revalidated, stale;
    sf_counter refused;                /* admitted, then answered by sfproxy itself (4xx/5xx) */
    sf_counter unanswered;             /* admitted, then ended before any response */
    sf_counter revalidations_304;      /* stale responses refreshed by the origin's 304 */
    sf_counter revalidations_200;      /* stale responses the origin replaced */
    sf_counter stale_if_error;         /* flights answered with a stale response on error */
    sf_counter stale_while_revalidate; /* background refreshes started for stale hits */
    sf_counter bad_requests;           /* answered 4xx by sfproxy itself, or cut mid-body */
    sf_counter request_head_timeouts;  /* connections cut: no whole head in timeouts.request_head */
    sf_counter upstream_requests;
    sf_counter upstream_err_connect; /* 502 */
    sf_counter upstream_err_timeout; /* 504 */
    sf_counter upstream_err_truncated;
    sf_counter upstream_cancelled; /* abandoned: nobody wanted the response */
    sf_counter upstream_retries;   /* pool fetches sent again to another server (issue 21) */
    sf_counter bytes_from_upstream, bytes_to_clients;
    sf_counter client_hangups;      /* parked clients that hung up */
    sf_counter client_half_closes;  /* parked clients that shut their sending side */
    sf_counter connections_refused; /* over the connection limit */
    sf_counter forward_refused;     /* forward-proxy requests refused by client or destination */
    sf_counter stores;              /* responses put in the cache */
    sf_counter invalidations;       /* stored responses invalidated by unsafe requests */
    sf_counter purged;              /* stored responses removed or marked by purges */
    sf_counter head_updates;        /* stored GET responses updated by a HEAD's 200 */
    sf_counter early_hints;         /* origins' 103s passed on to waiting clients */
    sf_counter vary_redispatches;   /* waiters whose flight's response was another variant */
    sf_counter slice_fetches;       /* slices fetched from the origin (slice.h) */
    sf_counter statuses[5];         /* responses queued, by status class 1xx..5xx */
    sf_counter access_log_lines;    /* access log lines written */
    sf_counter access_log_dropped;  /* access log lines dropped: the writer was behind, or failed */
    sf_counter peer_fallbacks;      /* cluster fetches that left a failed peer for the next */
    sf_counter peer_lists_disagree; /* peers' requests from a node ranked ahead of this one */
    sf_counter peer_routes_unknown; /* peers' requests naming a route this node lacks */
    sf_counter peer_bad_answers;    /* peers' answers not signed for their request: dropped */
    sf_counter peer_bad_bodies;     /* peers' answer bodies not the ones signed: cut, not kept */
    sf_counter peer_replays;        /* signed peer requests seen before: a client's */
    sf_counter peer_replay_full;    /* signed peer requests with no room in the replay set */
    sf_counter reloads_ok;          /* SIGHUP reloads that took (or found nothing changed) */
    sf_counter reloads_failed;      /* SIGHUP reloads that left the running config in force */
    sf_counter pinned_bytes;        /* a gauge: what readers pin outside the cache (pinned.h) */
    sf_counter pinned_shed_readers; /* readers shed to keep that under cache.max_pinned_bytes */
    sf_counter pinned_shed_objects; /* the objects they pinned */
    atomic_int_fast64_t connections_now;
    struct sf_histogram request_seconds[SF_OUT_COUNT]; /* request line to response end */
    struct sf_histogram collapsed_wait_seconds;        /* a COLLAPSED client's wait for its head */
    struct sf_histogram upstream_first_byte_seconds;   /* a fetch's start to the origin's head */
    struct sf_histogram flight_clients;                /* clients one shared fetch served */
};

extern struct sf_metrics sf_metrics;

#define SF_COUNT(field) atomic_fetch_add_explicit(&sf_metrics.field, 1, memory_order_relaxed)
#define SF_COUNT_N(field, n) atomic_fetch_add_explicit(&sf_metrics.field, (n), memory_order_relaxed)

enum sf_method_class sf_metrics_method_class(const char *method);
/* The outcome an X-Cache value (NULL: none) names. */
enum sf_outcome sf_metrics_outcome(const char *xcache);
/* Counts a response of this status by its class. */
void sf_metrics_count_status(unsigned status);

/* Observes how long something took (microseconds) in a seconds histogram, or a count in
 * flight_clients. Any thread. */
void sf_metrics_observe_us(struct sf_histogram *h, int64_t us);
void sf_metrics_observe_clients(uint64_t clients);

/* The stats document, as a JSON string the caller frees. */
/* A cluster peer's numbers, by its id; kept across reloads, for at most
 * SF_METRICS_PEERS ids. */
#define SF_METRICS_PEERS 64
struct sf_peer_metrics {
    char id[64];
    sf_counter sent;     /* fetches of its keys sent to it */
    sf_counter answered; /* of those, answered: origin fetches this node did not make */
    sf_counter failures; /* not reached, stopping or unsigned: asked elsewhere instead */
    sf_counter received; /* its signed requests received here */
};
/* id's numbers, added on first use; NULL when the table is full. Any thread. */
struct sf_peer_metrics *sf_metrics_peer(const char *id);
#define SF_PEER_COUNT(id, field)                                                                   \
    do {                                                                                           \
        struct sf_peer_metrics *pm_ = sf_metrics_peer(id);                                         \
        if (pm_ != NULL)                                                                           \
            atomic_fetch_add_explicit(&pm_->field, 1, memory_order_relaxed);                       \
    } while (0)

/* The cluster's peers as the documents show them (none: not in a cluster). */
struct sf_peer_view {
    const char *id;
    bool up;
};

/* upstreams (taken over; NULL: none) becomes the document's "upstreams" (pool.h's
 * sf_pools_json). */
struct json_t; /* jansson's json_t, named so that this header does not pull jansson.h in */
char *sf_metrics_json(const struct sf_cache_stats *cache, const struct sf_peer_view *peers,
                      size_t npeers, struct json_t *upstreams);
/* The same numbers and the histograms in the Prometheus text exposition format (0.0.4),
 * as a string the caller frees. */
char *sf_metrics_prometheus(const struct sf_cache_stats *cache, const struct sf_peer_view *peers,
                            size_t npeers);

#endif
