/* metrics: see metrics.h. Relaxed atomics: each number is exact on its own, and a
 * snapshot of several is only as consistent as the moment it was read. */
#include "metrics.h"

#include "park.h"

#include <jansson.h>
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

static void put(json_t *obj, const char *name, uint64_t value)
{
    json_object_set_new(obj, name, json_integer((json_int_t)value));
}

#define LOAD(field) atomic_load_explicit(&sf_metrics.field, memory_order_relaxed)

char *sf_metrics_json(const struct sf_cache_stats *cache)
{
    json_t *root = json_object(), *methods = json_object(), *errors = json_object(),
           *store = json_object();
    for (int i = 0; i < SF_M_COUNT; i++)
        put(methods, method_names[i], LOAD(requests[i]));
    json_object_set_new(root, "requests", methods);
    put(root, "hits", LOAD(hits));
    put(root, "misses", LOAD(misses));
    put(root, "collapsed", LOAD(collapsed));
    put(root, "passes", LOAD(passes));
    put(root, "revalidated", LOAD(revalidated));
    put(root, "stale", LOAD(stale));
    json_t *reval = json_object();
    put(reval, "not_modified", LOAD(revalidations_304));
    put(reval, "replaced", LOAD(revalidations_200));
    json_object_set_new(root, "revalidations", reval);
    json_t *stale = json_object();
    put(stale, "error", LOAD(stale_if_error));
    put(stale, "while_revalidate", LOAD(stale_while_revalidate));
    json_object_set_new(root, "stale_served", stale);
    put(root, "refused", LOAD(refused));
    put(root, "unanswered", LOAD(unanswered));
    put(root, "bad_requests", LOAD(bad_requests));
    put(root, "request_head_timeouts", LOAD(request_head_timeouts));
    put(root, "forward_refused", LOAD(forward_refused));
    put(root, "upstream_requests", LOAD(upstream_requests));
    put(errors, "connect", LOAD(upstream_err_connect));
    put(errors, "timeout", LOAD(upstream_err_timeout));
    put(errors, "truncated", LOAD(upstream_err_truncated));
    json_object_set_new(root, "upstream_errors", errors);
    put(root, "upstream_cancelled", LOAD(upstream_cancelled));
    put(root, "bytes_from_upstream", LOAD(bytes_from_upstream));
    put(root, "bytes_to_clients", LOAD(bytes_to_clients));
    put(root, "client_hangups", LOAD(client_hangups));
    put(root, "early_hints", LOAD(early_hints));
    put(root, "client_half_closes", LOAD(client_half_closes));
    put(root, "connections_refused", LOAD(connections_refused));
    put(root, "access_log_lines", LOAD(access_log_lines));
    put(root, "access_log_dropped", LOAD(access_log_dropped));
    put(root, "connections_now", (uint64_t)LOAD(connections_now));
    put(root, "waiters_now", (uint64_t)sf_park_count());
    put(root, "flights_now", cache->flights);
    put(store, "objects", cache->objects);
    put(store, "vary_markers", cache->vary_markers);
    put(store, "pass_markers", cache->pass_markers);
    put(store, "head_updates", LOAD(head_updates));
    put(store, "vary_redispatches", LOAD(vary_redispatches));
    put(store, "bytes", cache->bytes);
    put(store, "evictions", cache->evictions);
    put(store, "stores", LOAD(stores));
    put(store, "invalidations", LOAD(invalidations));
    put(store, "purged", LOAD(purged));
    json_object_set_new(root, "cache", store);
    char *out = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    return out;
}
