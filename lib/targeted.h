/* targeted: RFC 9213 targeted cache-control fields (CDN-Cache-Control and the like). Their
 * value is a Structured Field Dictionary (RFC 8941 §3.2), read here strictly and turned
 * into the equivalent Cache-Control list, which http.c's Cache-Control parser then reads.
 * Pure. */
#ifndef SF_TARGETED_H
#define SF_TARGETED_H

#include "base.h"

/* A targeted field the cache obeys, in list order: the first with a valid, non-empty
 * value wins (RFC 9213 §2.1). strip: addressed to this cache alone, so not forwarded
 * downstream (a deployment's own field); otherwise it goes on to the next tier. */
struct sf_targeted {
    const char *name;
    bool strip;
};

/* value (all lines of the field, joined with ", ") as a Cache-Control list: the integer
 * directives (max-age, s-maxage, stale-while-revalidate, stale-if-error) as delta-seconds,
 * the boolean ones when true, private / no-cache with a string as their qualified forms;
 * parameters and directives sfproxy does not act on are left out. NULL when the value is
 * not a Dictionary, is empty, or gives a directive a value of another type (a string for
 * max-age, an integer for no-store, a decimal, an inner list...): the field is then
 * ignored as a whole (RFC 9213 §2.1). Caller frees. */
char *sf_targeted_cache_control(const char *value);

#endif
