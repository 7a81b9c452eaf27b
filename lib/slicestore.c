/* slicestore: see slicestore.h. */
#include "slicestore.h"

#include "cache.h"
#include "singleflight.h"
#include "slice.h"

#include <stdlib.h>
#include <string.h>

/* Whether slice index is stored, acceptable to d (only-if-cached), and a slice of ref. */
static bool slice_stored(struct sf_cache *c, const char *key, uint64_t size,
                         const struct sf_slice_ref *ref, uint64_t index,
                         const struct sf_req_directives *d, uint64_t now_ms)
{
    char *skey = sf_slice_key(key, size, index);
    struct sf_query q = {skey, d, NULL, NULL};
    struct sf_obj *o = NULL;
    bool ok = sf_cache_lookup(c, &q, now_ms, &o, NULL) == SF_LOOKUP_HIT &&
              sf_slice_fits(ref, size, index, o->status, &o->hdrs, o->content_length);
    sf_obj_unref(o); /* a stored response is complete: its head no longer changes */
    free(skey);
    return ok;
}

bool sf_slicestore_covers(struct sf_cache *c, const char *key, uint64_t size,
                          const struct sf_slice_ref *ref, const char *method, const char *range,
                          const char *if_range, const struct sf_req_directives *d, uint64_t now_ms)
{
    if (size == 0 || ref->total == 0)
        return false;
    struct sf_req_directives cached_only = *d;
    cached_only.only_if_cached = true; /* whatever d says, the lookups never list a flight */
    uint64_t first = 0, last = ref->total - 1;
    struct sf_ranges ranges;
    if (strcmp(method, "HEAD") == 0)
        last = 0;
    else if (if_range == NULL && sf_http_ranges_parse(range, ref->total, &ranges) == SF_RANGE_ONE)
        first = ranges.first[0], last = ranges.last[0];
    for (uint64_t i = first / size; i <= last / size; i++)
        if (!slice_stored(c, key, size, ref, i, &cached_only, now_ms))
            return false;
    return true;
}
