/* entry: what the cache table lists, and the part of it the cache owns. Every listed
 * thing says what it is (role): a flight being fetched or a stored response (both
 * objects, which embed their entry: struct sf_obj.entry), or one of the cache's markers,
 * which are small entries of their own (table.h: a hit-for-pass marker: one user's
 * response was here; a vary marker: the responses for this key vary, and are listed under
 * their variants' keys). Every field is the cache's (cache.c, table.c), under its table
 * lock. */
#ifndef SF_ENTRY_H
#define SF_ENTRY_H

#include "evict.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sf_entry_role {
    SF_ENTRY_UNLISTED, /* an object that is not in the table (any more) */
    SF_ENTRY_FLIGHT,   /* an object listed while it is fetched: requests join it */
    SF_ENTRY_RESPONSE, /* an object stored: complete, charged, in the eviction policy */
    SF_ENTRY_PASS,     /* a hit-for-pass marker (the cache's own) */
    SF_ENTRY_VARY,     /* a vary marker (the cache's own) */
    SF_ENTRY_SLICED,   /* a sliced marker (the cache's own): the key's response is kept
                        * in slices, each listed under a key of its own (slice.h) */
};

/* A stored variant's place in the variant index (varindex.h): its URL's group, its place
 * there (most recently used first), and its place in the language index (lindexed) under
 * lhash. Only a variant has one (allocated as it joins the index, freed as it leaves), so
 * the entry of a response that does not vary carries a pointer, not these 48 bytes. */
struct sf_vlink {
    struct sf_vgroup *group;
    struct sf_entry *prev, *next;
    struct sf_entry *lnext;
    uint64_t lhash;
    bool lindexed;
};

struct sf_entry {
    enum sf_entry_role role;
    bool invalidated;        /* a response usable only after validation */
    const char *key;         /* the key it is listed under (its owner's) */
    struct sf_entry *hnext;  /* hash chain */
    struct sf_entry *unext;  /* chain in the table's index by URL */
    struct sf_evict_node ev; /* responses and markers: charge, place (evict.h) */
    uint64_t stored_ms;      /* a response: monotonic time it was stored */
    struct sf_vlink *var;    /* a stored variant in the variant index, or NULL */
};

#endif
