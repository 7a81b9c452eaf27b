/* metrics: see metrics.h. Relaxed atomics: each number is exact on its own, and a
 * snapshot of several is only as consistent as the moment it was read.
 *
 * One table says what each number is called in both documents: where it goes in the
 * stats JSON (a group and a key) and which Prometheus family and label it is. */
#include "metrics.h"

#include "textbuf.h"

#include "park.h"
#include "routestats.h"

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sf_metrics sf_metrics;

static const char *const method_names[SF_M_COUNT] = {"GET",    "HEAD",  "POST",    "PUT",
                                                     "DELETE", "PATCH", "OPTIONS", "other"};

enum sf_method_class sf_metrics_method_class(const char *method)
{
    for (int i = 0; i < SF_M_OTHER; i++)
        if (strcmp(method, method_names[i]) == 0)
            return (enum sf_method_class)i;
    return SF_M_OTHER;
}

enum sf_outcome sf_metrics_outcome(const char *xcache)
{
    for (int i = 0; xcache != NULL && i < SF_OUT_NONE; i++)
        if (strcmp(xcache, sf_metrics_outcome_name((enum sf_outcome)i)) == 0)
            return (enum sf_outcome)i;
    return SF_OUT_NONE;
}

void sf_metrics_count_status(unsigned status)
{
    if (status >= 100 && status < 600)
        SF_COUNT(statuses[status / 100 - 1]);
}

/* ---- histograms ---- */

/* Upper bounds: seconds (in microseconds), from a cache hit to a slow origin; clients per
 * flight, from one to a thundering herd. At most SF_BUCKETS_MAX - 1 each (+Inf). */
static const uint64_t seconds_bounds[] = {500,     1000,    2500,    5000,     10000,
                                          25000,   50000,   100000,  250000,   500000,
                                          1000000, 2500000, 5000000, 10000000, 30000000};
static const uint64_t clients_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000};
#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))

static void observe(struct sf_histogram *h, const uint64_t *bounds, size_t n, uint64_t v)
{
    size_t i = 0;
    while (i < n && v > bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

void sf_metrics_observe_us(struct sf_histogram *h, int64_t us)
{
    observe(h, seconds_bounds, NBOUNDS(seconds_bounds), us > 0 ? (uint64_t)us : 0);
}

void sf_metrics_observe_clients(uint64_t clients)
{
    observe(&sf_metrics.flight_clients, clients_bounds, NBOUNDS(clients_bounds), clients);
}

/* ---- the numbers, named ---- */

/* GAUGE_MS: a gauge the stats hold in milliseconds, exposed in seconds (base units). */
enum kind { COUNTER, GAUGE, GAUGE_MS };

struct family {
    const char *name; /* after "sfproxy_" */
    enum kind kind;
    const char *help;
};

static const struct family families[] = {
#define F_REQUESTS 0
    {"requests_total", COUNTER, "Requests admitted, by method."},
#define F_RESPONSES 1
    {"responses_total", COUNTER, "Responses by how they were answered (their X-Cache)."},
#define F_STATUSES 2
    {"responses_by_status_total", COUNTER, "Responses queued, by status class."},
#define F_REFUSED 3
    {"requests_refused_total", COUNTER, "Requests sfproxy answered itself with an error."},
#define F_UNANSWERED 4
    {"requests_unanswered_total", COUNTER, "Requests that ended before any response."},
#define F_BAD 5
    {"bad_requests_total", COUNTER, "Malformed or ambiguous requests refused."},
#define F_HEAD_TIMEOUTS 6
    {"request_head_timeouts_total", COUNTER, "Connections cut: no whole head in time."},
#define F_FORWARD_REFUSED 7
    {"forward_refused_total", COUNTER, "Forward-proxy requests refused."},
#define F_REVALIDATIONS 8
    {"revalidations_total", COUNTER, "Conditional requests for expired responses, by result."},
#define F_STALE 9
    {"stale_served_total", COUNTER, "Stale responses served, by reason."},
#define F_UPSTREAM 10
    {"upstream_requests_total", COUNTER, "Requests sent to the origin."},
#define F_UPSTREAM_ERRORS 11
    {"upstream_errors_total", COUNTER, "Failed upstream requests, by kind."},
#define F_CANCELLED 12
    {"upstream_cancelled_total", COUNTER, "Upstream requests abandoned: nobody wanted them."},
#define F_BYTES_IN 13
    {"upstream_received_bytes_total", COUNTER, "Body bytes received from the origin."},
#define F_BYTES_OUT 14
    {"client_sent_bytes_total", COUNTER, "Body bytes handed to client connections."},
#define F_HANGUPS 15
    {"client_hangups_total", COUNTER, "Parked clients that hung up."},
#define F_HALF_CLOSES 16
    {"client_half_closes_total", COUNTER, "Parked clients that shut their sending side."},
#define F_CONN_REFUSED 17
    {"connections_refused_total", COUNTER, "Connections closed at once: over the limit."},
#define F_HINTS 18
    {"early_hints_total", COUNTER, "Origins' 103 Early Hints passed on."},
#define F_LOG_LINES 19
    {"access_log_lines_total", COUNTER, "Access log lines written."},
#define F_LOG_DROPPED 20
    {"access_log_dropped_total", COUNTER, "Access log lines dropped."},
#define F_STORES 21
    {"cache_stores_total", COUNTER, "Responses stored."},
#define F_INVALIDATIONS 22
    {"cache_invalidations_total", COUNTER, "Stored responses invalidated by unsafe requests."},
#define F_PURGED 23
    {"cache_purged_total", COUNTER, "Stored responses removed or marked by purges."},
#define F_HEAD_UPDATES 24
    {"cache_head_updates_total", COUNTER, "Stored GET responses updated by a HEAD."},
#define F_VARY_REDISPATCHES 25
    {"cache_vary_redispatches_total", COUNTER, "Waiters whose flight was another variant."},
#define F_EVICTIONS 26
    {"cache_evictions_total", COUNTER, "Stored responses evicted to stay under the limit."},
#define F_CONNECTIONS 27
    {"connections", GAUGE, "Open client connections."},
#define F_WAITERS 28
    {"waiters", GAUGE, "Clients parked now."},
#define F_FLIGHTS 29
    {"flights", GAUGE, "Shared fetches in progress."},
#define F_OBJECTS 30
    {"cache_objects", GAUGE, "Stored responses."},
#define F_CACHE_BYTES 31
    {"cache_bytes", GAUGE, "Bytes the stored responses and markers are charged."},
#define F_VARY_MARKERS 32
    {"cache_vary_markers", GAUGE, "URLs whose responses vary."},
#define F_PASS_MARKERS 33
    {"cache_pass_markers", GAUGE, "Keys in hit-for-pass."},
#define F_RELOADS 34
    {"config_reloads_total", COUNTER, "Reloads of the config file (SIGHUP), by result."},
#define F_PEER_FALLBACKS 35
    {"cluster_peer_fallbacks_total", COUNTER,
     "Fetches that left a failed peer for the next node or the upstream."},
#define F_SLICED 36
    {"cache_sliced", GAUGE, "Keys whose responses are kept in slices (cache.slice_bytes)."},
#define F_SLICE_FETCHES 37
    {"cache_slice_fetches_total", COUNTER, "Slices fetched from the origin, a Range each."},
#define F_PEER_BAD_ANSWERS 38
    {"cluster_peer_bad_answers_total", COUNTER,
     "Peers' answers not signed with cluster.secret for their request: dropped."},
#define F_PEER_REPLAYS 39
    {"cluster_peer_replays_total", COUNTER,
     "Signed peer requests treated as a client's: seen before, or no room to remember them."},
#define F_VARIANTS 40
    {"cache_variants", GAUGE, "Stored responses that are variants of a URL that varies."},
#define F_VARIANT_EVICTIONS 41
    {"cache_variant_evictions_total", COUNTER,
     "Variants evicted to keep a URL within cache.max_variants."},
#define F_PINNED_BYTES 42
    {"pinned_bytes", GAUGE,
     "Body bytes clients pin outside the cache (evicted, unstored or in flight, still read)."},
#define F_PINNED_SHED 43
    {"pinned_shed_readers_total", COUNTER,
     "Slowest readers whose connections were closed to keep pinned_bytes under "
     "cache.max_pinned_bytes."},
#define F_PINNED_SHED_OBJECTS 44
    {"pinned_shed_objects_total", COUNTER, "Objects those readers pinned, let go."},
#define F_PEER_LISTS 45
    {"cluster_peer_lists_disagree_total", COUNTER,
     "Peers' requests from a node this node's list ranks ahead of it: fetched alone."},
#define F_PEER_BAD_BODIES 46
    {"cluster_peer_bad_bodies_total", COUNTER,
     "Peers' answer bodies not the ones they signed: cut, neither stored nor shared."},
#define F_PEER_ROUTES_UNKNOWN 47
    {"cluster_peer_routes_unknown_total", COUNTER,
     "Peers' requests for a route this node has no route of that name for: sent back."},
#define F_EVICTIONS_SMALL 48
    {"cache_evictions_small_total", COUNTER,
     "Evicted from the small queue: not asked for again since stored (keys to the ghost)."},
#define F_EVICTIONS_MAIN 49
    {"cache_evictions_main_total", COUNTER,
     "Evicted from the main queue: as a rule not asked for again since their last pass."},
#define F_PROMOTIONS 50
    {"cache_promotions_total", COUNTER,
     "Moved from the small queue to main on eviction's pass: asked for again there."},
#define F_GHOST_HITS 51
    {"cache_ghost_hits_total", COUNTER,
     "Stored straight into main: their key left the small queue shortly before."},
#define F_SMALL_BYTES 52
    {"cache_small_bytes", GAUGE, "Bytes charged in the small queue (the rest is main)."},
#define F_UPSTREAM_RETRIES 53
    {"upstream_retries_total", COUNTER,
     "Fetches sent again to another server of their pool before any response head."},
#define F_DISK_STATE 54
    {"disk_state", GAUGE, "1: the disk tier is on; 0: a disk error turned it off."},
#define F_DISK_HITS 55
    {"disk_hits_total", COUNTER, "Requests answered with a response read from the disk tier."},
#define F_DISK_BYTES 56
    {"disk_bytes_used", GAUGE,
     "Bytes of the disk tier's log in use (all of it once it has wrapped)."},
#define F_DISK_LOG_BYTES 57
    {"disk_log_bytes", GAUGE, "The disk tier's log size (cache.disk.max_bytes less its header)."},
#define F_DISK_RECORDS 58
    {"disk_records", GAUGE, "Records the disk tier's index holds (responses and vary lists)."},
#define F_DISK_INDEX_BYTES 59
    {"disk_index_bytes", GAUGE, "Memory of the disk tier's index."},
#define F_DISK_WRITES 60
    {"disk_writes_total", COUNTER, "Records written to the disk tier."},
#define F_DISK_WRITE_BYTES 61
    {"disk_write_bytes_total", COUNTER, "Bytes of the records written to the disk tier."},
#define F_DISK_QUEUED 62
    {"disk_writes_queued", GAUGE, "Records waiting for the disk tier's writer."},
#define F_DISK_QUEUED_BYTES 63
    {"disk_queued_bytes", GAUGE, "Bytes of the records waiting for the disk tier's writer."},
#define F_DISK_DROPPED 64
    {"disk_writes_dropped_total", COUNTER,
     "Records not written: the writer's queue or index was full, or the tier is off."},
#define F_DISK_READS 65
    {"disk_reads_total", COUNTER, "Disk tier reads that found a record."},
#define F_DISK_CHECKSUM 66
    {"disk_checksum_failures_total", COUNTER,
     "Records that failed a check (checksum, length, place) when read or scanned: dropped."},
#define F_DISK_PURGED 67
    {"disk_purged_total", COUNTER, "Records a purge hid when read."},
#define F_DISK_ERRORS 68
    {"disk_errors_total", COUNTER, "I/O errors of the disk tier (the first turns it off)."},
#define F_DISK_CHECKPOINTS 69
    {"disk_checkpoints_total", COUNTER, "Checkpoints of the disk tier's index written."},
#define F_DISK_LOAD_MS 70
    {"disk_load_seconds", GAUGE_MS,
     "How long the last start took to load the disk tier's checkpoint and scan its log."},
#define F_DISK_LOAD_SCANNED 71
    {"disk_load_scanned", GAUGE, "Records the last start's scan of the disk tier's log indexed."},
#define F_DISK_READS_QUEUED 72
    {"disk_reads_queued_total", COUNTER,
     "Disk tier reads answered from a record still waiting for the writer."},
#define F_DISK_INDEX_EVICTIONS 73
    {"disk_index_evictions_total", COUNTER,
     "Records the disk tier gave up early because its index was full (many small records)."},
#define F_DISK_PURGE_RULES 74
    {"disk_purge_rules", GAUGE, "Purges and invalidations the disk tier applies to its reads."},
#define F_DISK_PURGE_COLLAPSES 75
    {"disk_purge_collapses_total", COUNTER,
     "Times the disk tier's purge rules reached their bound and were made one rule."},
};

/* A counter of struct sf_metrics: where it is, and its names in both documents. */
struct counter {
    size_t off;        /* offsetof(struct sf_metrics, ...) */
    const char *group; /* its JSON object (NULL: the top) */
    const char *key;   /* its JSON name */
    int family;        /* F_... */
    const char *label; /* its Prometheus label, or NULL */
};

#define C(field) offsetof(struct sf_metrics, field)
static const struct counter counters[] = {
    {C(requests[SF_M_GET]), "requests", "GET", F_REQUESTS, "method=\"GET\""},
    {C(requests[SF_M_HEAD]), "requests", "HEAD", F_REQUESTS, "method=\"HEAD\""},
    {C(requests[SF_M_POST]), "requests", "POST", F_REQUESTS, "method=\"POST\""},
    {C(requests[SF_M_PUT]), "requests", "PUT", F_REQUESTS, "method=\"PUT\""},
    {C(requests[SF_M_DELETE]), "requests", "DELETE", F_REQUESTS, "method=\"DELETE\""},
    {C(requests[SF_M_PATCH]), "requests", "PATCH", F_REQUESTS, "method=\"PATCH\""},
    {C(requests[SF_M_OPTIONS]), "requests", "OPTIONS", F_REQUESTS, "method=\"OPTIONS\""},
    {C(requests[SF_M_OTHER]), "requests", "other", F_REQUESTS, "method=\"other\""},
    {C(hits), NULL, "hits", F_RESPONSES, "cache=\"HIT\""},
    {C(misses), NULL, "misses", F_RESPONSES, "cache=\"MISS\""},
    {C(collapsed), NULL, "collapsed", F_RESPONSES, "cache=\"COLLAPSED\""},
    {C(passes), NULL, "passes", F_RESPONSES, "cache=\"PASS\""},
    {C(revalidated), NULL, "revalidated", F_RESPONSES, "cache=\"REVALIDATED\""},
    {C(stale), NULL, "stale", F_RESPONSES, "cache=\"STALE\""},
    {C(statuses[0]), "statuses", "1xx", F_STATUSES, "class=\"1xx\""},
    {C(statuses[1]), "statuses", "2xx", F_STATUSES, "class=\"2xx\""},
    {C(statuses[2]), "statuses", "3xx", F_STATUSES, "class=\"3xx\""},
    {C(statuses[3]), "statuses", "4xx", F_STATUSES, "class=\"4xx\""},
    {C(statuses[4]), "statuses", "5xx", F_STATUSES, "class=\"5xx\""},
    {C(refused), NULL, "refused", F_REFUSED, NULL},
    {C(unanswered), NULL, "unanswered", F_UNANSWERED, NULL},
    {C(bad_requests), NULL, "bad_requests", F_BAD, NULL},
    {C(request_head_timeouts), NULL, "request_head_timeouts", F_HEAD_TIMEOUTS, NULL},
    {C(forward_refused), NULL, "forward_refused", F_FORWARD_REFUSED, NULL},
    {C(revalidations_304), "revalidations", "not_modified", F_REVALIDATIONS,
     "result=\"not_modified\""},
    {C(revalidations_200), "revalidations", "replaced", F_REVALIDATIONS, "result=\"replaced\""},
    {C(stale_if_error), "stale_served", "error", F_STALE, "reason=\"error\""},
    {C(stale_while_revalidate), "stale_served", "while_revalidate", F_STALE,
     "reason=\"while_revalidate\""},
    {C(upstream_requests), NULL, "upstream_requests", F_UPSTREAM, NULL},
    {C(upstream_err_connect), "upstream_errors", "connect", F_UPSTREAM_ERRORS, "kind=\"connect\""},
    {C(upstream_err_timeout), "upstream_errors", "timeout", F_UPSTREAM_ERRORS, "kind=\"timeout\""},
    {C(upstream_err_truncated), "upstream_errors", "truncated", F_UPSTREAM_ERRORS,
     "kind=\"truncated\""},
    {C(upstream_cancelled), NULL, "upstream_cancelled", F_CANCELLED, NULL},
    {C(upstream_retries), NULL, "upstream_retries", F_UPSTREAM_RETRIES, NULL},
    {C(bytes_from_upstream), NULL, "bytes_from_upstream", F_BYTES_IN, NULL},
    {C(bytes_to_clients), NULL, "bytes_to_clients", F_BYTES_OUT, NULL},
    {C(client_hangups), NULL, "client_hangups", F_HANGUPS, NULL},
    {C(client_half_closes), NULL, "client_half_closes", F_HALF_CLOSES, NULL},
    {C(connections_refused), NULL, "connections_refused", F_CONN_REFUSED, NULL},
    {C(early_hints), NULL, "early_hints", F_HINTS, NULL},
    {C(access_log_lines), NULL, "access_log_lines", F_LOG_LINES, NULL},
    {C(access_log_dropped), NULL, "access_log_dropped", F_LOG_DROPPED, NULL},
    {C(peer_fallbacks), "cluster", "peer_fallbacks", F_PEER_FALLBACKS, NULL},
    {C(peer_bad_answers), "cluster", "peer_bad_answers", F_PEER_BAD_ANSWERS, NULL},
    {C(peer_lists_disagree), "cluster", "peer_lists_disagree", F_PEER_LISTS, NULL},
    {C(peer_bad_bodies), "cluster", "peer_bad_bodies", F_PEER_BAD_BODIES, NULL},
    {C(peer_routes_unknown), "cluster", "peer_routes_unknown", F_PEER_ROUTES_UNKNOWN, NULL},
    {C(peer_replays), "cluster", "peer_replays", F_PEER_REPLAYS, "reason=\"seen\""},
    {C(peer_replay_full), "cluster", "peer_replay_full", F_PEER_REPLAYS, "reason=\"full\""},
    {C(reloads_ok), "reloads", "ok", F_RELOADS, "result=\"ok\""},
    {C(reloads_failed), "reloads", "failed", F_RELOADS, "result=\"failed\""},
    {C(stores), "cache", "stores", F_STORES, NULL},
    {C(invalidations), "cache", "invalidations", F_INVALIDATIONS, NULL},
    {C(purged), "cache", "purged", F_PURGED, NULL},
    {C(head_updates), "cache", "head_updates", F_HEAD_UPDATES, NULL},
    {C(vary_redispatches), "cache", "vary_redispatches", F_VARY_REDISPATCHES, NULL},
    {C(slice_fetches), "cache", "slice_fetches", F_SLICE_FETCHES, NULL},
    {C(pinned_bytes), "memory", "pinned_bytes", F_PINNED_BYTES, NULL},
    {C(pinned_shed_readers), "memory", "shed_readers", F_PINNED_SHED, NULL},
    {C(pinned_shed_objects), "memory", "shed_objects", F_PINNED_SHED_OBJECTS, NULL},
};
#define NCOUNTERS (sizeof counters / sizeof counters[0])

/* One number as read now, with its names. */
struct sample {
    const char *group, *key;
    int family;
    const char *label;
    uint64_t value;
};

#define NSAMPLES (NCOUNTERS + 48)

/* Reads every number once into out (NSAMPLES); returns how many. A sample added here
 * needs NSAMPLES raised: PUT checks before it writes. */
#define PUT(...)                                                                                   \
    do {                                                                                           \
        SF_ASSERT(n < NSAMPLES);                                                                   \
        out[n++] = __VA_ARGS__;                                                                    \
    } while (0)
/* The disk tier's numbers into out (room for 22). */
static size_t disk_samples(const struct sf_cache_stats *c, struct sample *out)
{
    const struct {
        const char *key;
        int family;
        uint64_t value;
    } d[] = {
        {"state", F_DISK_STATE, c->disk_state},
        {"hits", F_DISK_HITS, c->disk_hits},
        {"bytes_used", F_DISK_BYTES, c->disk_bytes_used},
        {"log_bytes", F_DISK_LOG_BYTES, c->disk_log_bytes},
        {"records", F_DISK_RECORDS, c->disk_records},
        {"index_bytes", F_DISK_INDEX_BYTES, c->disk_index_bytes},
        {"writes", F_DISK_WRITES, c->disk_writes},
        {"write_bytes", F_DISK_WRITE_BYTES, c->disk_write_bytes},
        {"writes_queued", F_DISK_QUEUED, c->disk_writes_queued},
        {"queued_bytes", F_DISK_QUEUED_BYTES, c->disk_queued_bytes},
        {"writes_dropped", F_DISK_DROPPED, c->disk_writes_dropped},
        {"reads", F_DISK_READS, c->disk_reads},
        {"checksum_failures", F_DISK_CHECKSUM, c->disk_checksum_failures},
        {"purged", F_DISK_PURGED, c->disk_purged},
        {"errors", F_DISK_ERRORS, c->disk_errors},
        {"checkpoints", F_DISK_CHECKPOINTS, c->disk_checkpoints},
        {"load_ms", F_DISK_LOAD_MS, c->disk_load_ms},
        {"load_scanned", F_DISK_LOAD_SCANNED, c->disk_load_scanned},
        {"reads_queued", F_DISK_READS_QUEUED, c->disk_reads_queued},
        {"index_evictions", F_DISK_INDEX_EVICTIONS, c->disk_index_evictions},
        {"purge_rules", F_DISK_PURGE_RULES, c->disk_purge_rules},
        {"purge_collapses", F_DISK_PURGE_COLLAPSES, c->disk_purge_collapses},
    };
    size_t n = sizeof d / sizeof d[0];
    for (size_t i = 0; i < n; i++)
        out[i] = (struct sample){"disk", d[i].key, d[i].family, NULL, d[i].value};
    return n;
}

static size_t snapshot(const struct sf_cache_stats *cache, struct sample *out)
{
    size_t n = 0;
    for (size_t i = 0; i < NCOUNTERS; i++) {
        const struct counter *c = &counters[i];
        const sf_counter *v =
            (const sf_counter *)(const void *)((const char *)&sf_metrics + c->off);
        PUT((struct sample){c->group, c->key, c->family, c->label,
                            atomic_load_explicit(v, memory_order_relaxed)});
    }
    int64_t conns = atomic_load_explicit(&sf_metrics.connections_now, memory_order_relaxed);
    int64_t parked = sf_park_count();
    PUT((struct sample){"cache", "evictions", F_EVICTIONS, NULL, cache->evictions});
    PUT((struct sample){NULL, "connections_now", F_CONNECTIONS, NULL,
                        conns > 0 ? (uint64_t)conns : 0});
    PUT((struct sample){NULL, "waiters_now", F_WAITERS, NULL, parked > 0 ? (uint64_t)parked : 0});
    PUT((struct sample){NULL, "flights_now", F_FLIGHTS, NULL, cache->flights});
    PUT((struct sample){"cache", "objects", F_OBJECTS, NULL, cache->objects});
    PUT((struct sample){"cache", "bytes", F_CACHE_BYTES, NULL, cache->bytes});
    PUT((struct sample){"cache", "vary_markers", F_VARY_MARKERS, NULL, cache->vary_markers});
    PUT((struct sample){"cache", "pass_markers", F_PASS_MARKERS, NULL, cache->pass_markers});
    PUT((struct sample){"cache", "sliced", F_SLICED, NULL, cache->sliced});
    PUT((struct sample){"cache", "variants", F_VARIANTS, NULL, cache->variants});
    PUT((struct sample){"cache", "variant_evictions", F_VARIANT_EVICTIONS, NULL,
                        cache->variant_evictions});
    PUT((struct sample){"cache", "evictions_small", F_EVICTIONS_SMALL, NULL,
                        cache->evictions_small});
    PUT((struct sample){"cache", "evictions_main", F_EVICTIONS_MAIN, NULL, cache->evictions_main});
    PUT((struct sample){"cache", "promotions", F_PROMOTIONS, NULL, cache->promotions});
    PUT((struct sample){"cache", "ghost_hits", F_GHOST_HITS, NULL, cache->ghost_hits});
    PUT((struct sample){"cache", "small_bytes", F_SMALL_BYTES, NULL, cache->small_bytes});
    if (cache->disk_open) {
        SF_ASSERT(n + 22 <= NSAMPLES); /* disk_samples' room */
        n += disk_samples(cache, out + n);
    }
    return n;
}

/* ---- cluster peers ---- */

static struct sf_peer_metrics peer_table[SF_METRICS_PEERS];
static atomic_size_t npeer_table;
static pthread_mutex_t peer_table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct sf_peer_metrics *find_peer(const char *id, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(peer_table[i].id, id) == 0)
            return &peer_table[i];
    return NULL;
}

struct sf_peer_metrics *sf_metrics_peer(const char *id)
{
    struct sf_peer_metrics *pm = find_peer(id, atomic_load(&npeer_table));
    if (pm != NULL || strlen(id) >= sizeof pm->id)
        return pm;
    SF_PTOK(pthread_mutex_lock(&peer_table_lock));
    size_t n = atomic_load(&npeer_table);
    pm = find_peer(id, n);
    if (pm == NULL && n < SF_METRICS_PEERS) {
        pm = &peer_table[n];
        memcpy(pm->id, id, strlen(id) + 1);
        atomic_store(&npeer_table, n + 1); /* the id is written before it can be found */
    }
    SF_PTOK(pthread_mutex_unlock(&peer_table_lock));
    return pm;
}

/* The numbers of each peer in view, with its state. */
static json_t *peers_json(const struct sf_peer_view *peers, size_t npeers)
{
    json_t *list = json_array();
    for (size_t i = 0; i < npeers; i++) {
        struct sf_peer_metrics *pm = sf_metrics_peer(peers[i].id);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "id", peers[i].id, "state",
                            peers[i].up ? "up" : "down", "sent",
                            (json_int_t)(pm ? atomic_load(&pm->sent) : 0), "answered",
                            (json_int_t)(pm ? atomic_load(&pm->answered) : 0), "failures",
                            (json_int_t)(pm ? atomic_load(&pm->failures) : 0), "received",
                            (json_int_t)(pm ? atomic_load(&pm->received) : 0)));
    }
    return list;
}

char *sf_metrics_json(const struct sf_cache_stats *cache, const struct sf_peer_view *peers,
                      size_t npeers, struct json_t *upstreams)
{
    struct sample s[NSAMPLES];
    size_t n = snapshot(cache, s);
    json_t *root = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *into = root;
        if (s[i].group != NULL) {
            into = json_object_get(root, s[i].group);
            if (into == NULL) {
                into = json_object();
                json_object_set_new(root, s[i].group, into);
            }
        }
        json_object_set_new(into, s[i].key, json_integer((json_int_t)s[i].value));
    }
    if (npeers > 0)
        json_object_set_new(json_object_get(root, "cluster"), "peers", peers_json(peers, npeers));
    json_object_set_new(root, "routes", sf_routestats_json());
    json_object_set_new(root, "upstreams", upstreams != NULL ? upstreams : json_object());
    char *out = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    return out;
}

/* ---- the Prometheus text format ---- */

static void family_head(struct sf_text *t, const char *name, const char *type, const char *help)
{
    sf_text_add(t, "# HELP sfproxy_%s %s\n# TYPE sfproxy_%s %s\n", name, help, name, type);
}

/* One histogram's series; label is "" or "name=\"value\"," (with its comma). */
static void histogram(struct sf_text *t, const char *name, const char *label,
                      const struct sf_histogram *h, const uint64_t *bounds, size_t nb, bool seconds)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= nb; i++) {
        cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i == nb)
            sf_text_add(t, "sfproxy_%s_bucket{%sle=\"+Inf\"} %llu\n", name, label,
                        (unsigned long long)cumulative);
        else if (seconds)
            sf_text_add(t, "sfproxy_%s_bucket{%sle=\"%g\"} %llu\n", name, label,
                        (double)bounds[i] / 1e6, (unsigned long long)cumulative);
        else
            sf_text_add(t, "sfproxy_%s_bucket{%sle=\"%llu\"} %llu\n", name, label,
                        (unsigned long long)bounds[i], (unsigned long long)cumulative);
    }
    uint64_t sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
    /* count is read after the buckets: a scrape never shows more in +Inf than in count by
     * more than the observations that landed in between. */
    uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
    char label_only[64] = "";
    if (label[0] != '\0')
        snprintf(label_only, sizeof label_only, "{%.*s}", (int)strlen(label) - 1, label);
    if (seconds)
        sf_text_add(t, "sfproxy_%s_sum%s %.6f\n", name, label_only, (double)sum / 1e6);
    else
        sf_text_add(t, "sfproxy_%s_sum%s %llu\n", name, label_only, (unsigned long long)sum);
    sf_text_add(t, "sfproxy_%s_count%s %llu\n", name, label_only, (unsigned long long)count);
}

/* Each peer's numbers, one family per number, labelled by peer. */
static void peers_text(struct sf_text *t, const struct sf_peer_view *peers, size_t npeers)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } numbers[] = {
        {"cluster_peer_sent_total", "Fetches of the peer's keys sent to it.",
         offsetof(struct sf_peer_metrics, sent)},
        {"cluster_peer_answered_total",
         "Of those, answered by the peer: origin fetches this node did not make.",
         offsetof(struct sf_peer_metrics, answered)},
        {"cluster_peer_failures_total",
         "Fetches of the peer's keys it failed: not reached, stopping or unsigned.",
         offsetof(struct sf_peer_metrics, failures)},
        {"cluster_peer_received_total", "The peer's signed requests received here.",
         offsetof(struct sf_peer_metrics, received)},
    };
    if (npeers == 0)
        return;
    family_head(t, "cluster_peer_up", "gauge",
                "Whether the peer is taking its keys (1) or skipped (0).");
    for (size_t i = 0; i < npeers; i++)
        sf_text_add(t, "sfproxy_cluster_peer_up{peer=\"%s\"} %d\n", peers[i].id,
                    peers[i].up ? 1 : 0);
    for (size_t k = 0; k < sizeof numbers / sizeof numbers[0]; k++) {
        family_head(t, numbers[k].name, "counter", numbers[k].help);
        for (size_t i = 0; i < npeers; i++) {
            struct sf_peer_metrics *pm = sf_metrics_peer(peers[i].id);
            const sf_counter *c =
                pm != NULL ? (const sf_counter *)((const char *)pm + numbers[k].off) : NULL;
            sf_text_add(t, "sfproxy_%s{peer=\"%s\"} %llu\n", numbers[k].name, peers[i].id,
                        (unsigned long long)(c != NULL ? atomic_load(c) : 0));
        }
    }
}

char *sf_metrics_prometheus(const struct sf_cache_stats *cache, const struct sf_peer_view *peers,
                            size_t npeers)
{
    struct sample s[NSAMPLES];
    size_t n = snapshot(cache, s);
    struct sf_text t = {sf_xmalloc(8192), 0, 8192};
    for (int f = 0; f < (int)(sizeof families / sizeof families[0]); f++) {
        family_head(&t, families[f].name, families[f].kind == COUNTER ? "counter" : "gauge",
                    families[f].help);
        for (size_t i = 0; i < n; i++) {
            if (s[i].family != f)
                continue;
            if (families[f].kind == GAUGE_MS)
                sf_text_add(&t, "sfproxy_%s %.3f\n", families[f].name, (double)s[i].value / 1e3);
            else if (s[i].label != NULL)
                sf_text_add(&t, "sfproxy_%s{%s} %llu\n", families[f].name, s[i].label,
                            (unsigned long long)s[i].value);
            else
                sf_text_add(&t, "sfproxy_%s %llu\n", families[f].name,
                            (unsigned long long)s[i].value);
        }
    }
    family_head(&t, "request_duration_seconds", "histogram",
                "From the request line to the end of its response, by how it was answered.");
    for (int o = 0; o < SF_OUT_COUNT; o++) {
        char label[40];
        snprintf(label, sizeof label, "cache=\"%s\",", sf_metrics_outcome_name((enum sf_outcome)o));
        histogram(&t, "request_duration_seconds", label, &sf_metrics.request_seconds[o],
                  seconds_bounds, NBOUNDS(seconds_bounds), true);
    }
    family_head(&t, "collapsed_wait_seconds", "histogram",
                "How long a client that joined a fetch waited for its response head.");
    histogram(&t, "collapsed_wait_seconds", "", &sf_metrics.collapsed_wait_seconds, seconds_bounds,
              NBOUNDS(seconds_bounds), true);
    family_head(&t, "upstream_first_byte_seconds", "histogram",
                "From an upstream request's start to the origin's response head.");
    histogram(&t, "upstream_first_byte_seconds", "", &sf_metrics.upstream_first_byte_seconds,
              seconds_bounds, NBOUNDS(seconds_bounds), true);
    family_head(&t, "flight_clients", "histogram",
                "Clients one shared upstream fetch served (the leader and its followers).");
    histogram(&t, "flight_clients", "", &sf_metrics.flight_clients, clients_bounds,
              NBOUNDS(clients_bounds), false);
    peers_text(&t, peers, npeers);
    char *routes = sf_routestats_prometheus();
    sf_text_add(&t, "%s", routes);
    free(routes);
    return t.s;
}
