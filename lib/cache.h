/* cache: the table of entries by key, and the memory-bounded store of responses (evicted
 * by S3-FIFO, evict.h).
 * A key maps to at most one entry (entry.h says what each is): a flight in progress or a
 * stored response (objects), or one of the cache's own small markers (hit-for-pass,
 * vary, sliced). Lookups on every thread (a MISS lists a new flight, in place of an expired
 * entry); stores, replacements and markers from the fetcher (a response complete, a HEAD's
 * or POST's update: publish.c, transfer.c); unlists from the fetcher (a transfer's end,
 * expired markers, a flight the pinned budget gives up), from a worker that finds a stored
 * slice that does not fit its response or slices of another representation (sliceread.c), from
 * the admin listener (purges) and from a reload (a smaller cache.max_bytes evicts at once).
 * Lock order: table lock -> object lock. */
#ifndef SF_CACHE_H
#define SF_CACHE_H

#include "base.h"

struct sf_cache;
struct sf_cache_stats; /* metrics.h */
struct sf_cache_view;  /* cacheview.h */
struct sf_fields;
struct sf_obj;
struct sf_req_directives;
struct sf_slice_ref;

struct sf_cache *sf_cache_new(uint64_t max_bytes);
/* A reload's cache.max_bytes: a smaller one evicts (evict.h's choice) responses and
 * markers down to it now. Any thread. */
void sf_cache_set_max_bytes(struct sf_cache *c, uint64_t max_bytes);
/* cache.max_variants: how many stored variants (RFC 9111 §4.1) one URL keeps; storing one
 * more evicts its least recently used one (varindex.h). A lower bound applies to a URL at
 * its next stored variant. Any thread. */
void sf_cache_set_max_variants(struct sf_cache *c, size_t max_variants);
/* Unlists and releases every object. No other thread may use the cache any more. */
void sf_cache_free(struct sf_cache *c);

enum sf_lookup {
    SF_LOOKUP_HIT,    /* a fresh stored response */
    SF_LOOKUP_JOIN,   /* a flight in progress: attach to it */
    SF_LOOKUP_PASS,   /* the key is marked hit-for-pass: fetch privately */
    SF_LOOKUP_MISS,   /* nothing usable: a new flight was listed, the caller leads it */
    SF_LOOKUP_NONE,   /* nothing usable, and the request forbids a shared fetch
                     * (only-if-cached, no-store): nothing was listed */
    SF_LOOKUP_STALE,  /* serve *out, a stale response, while it is refreshed (RFC 5861 §3);
                      * if *refresh is set, the caller must submit that new flight */
    SF_LOOKUP_SLICED, /* the response is kept in slices: q->sliced says of what (slice.h) */
};

/* What a lookup is for: a request's key (sf_policy_key), its cache directives (NULL:
 * none) and a way to read its fields, which selects among responses that vary (NULL:
 * none; then a URL whose responses vary is a MISS). */
struct sf_query {
    const char *key;
    const struct sf_req_directives *directives;
    const struct sf_fields *fields;
    /* Where a SLICED lookup copies the representation to (its strings the caller's); NULL:
     * the caller does not read slices, and a sliced marker is replaced by a new flight,
     * as an expired marker is (a MISS). */
    struct sf_slice_ref *sliced;
};

/* Looks q up at now_ms. Where responses for the key vary (RFC 9111 §4.1), the lookup is
 * for the variant q's fields select. A stored response is a HIT only if it is acceptable
 * to q's directives (sf_policy_acceptable). With refresh non-NULL, a stale response
 * within its stale-while-revalidate window may be a STALE answer. For HIT, JOIN and MISS,
 * *out holds a reference the caller gives back with sf_obj_unref; for PASS it is NULL. A
 * MISS lists a new object for the key, replacing an expired marker or stored response;
 * the latter is handed to the new object as its stale response (o->stale), for
 * revalidation. */
enum sf_lookup sf_cache_lookup(struct sf_cache *c, const struct sf_query *q, uint64_t now_ms,
                               struct sf_obj **out, struct sf_obj **refresh);

/* Lists o, a shared flight whose response head was just published, under the key of
 * what it turned out to be (fetcher only): if it varies (o->variant), the variant of its
 * request's key, with a marker under that key naming what responses vary on; if not,
 * the request's key itself. When another flight is already listed there, o is unlisted
 * instead: it serves the clients attached to it and is not stored. */
void sf_cache_settle_variant(struct sf_cache *c, struct sf_obj *o);

/* The stored response q selects, fresh or not: a reference, or NULL when there is none. */
struct sf_obj *sf_cache_stored(struct sf_cache *c, const struct sf_query *q);
/* Lists o, a complete response with old's key, in place of old if old is still stored
 * (then true: the caller stores o with sf_cache_store). The table takes a reference of
 * its own on o. */
bool sf_cache_replace(struct sf_cache *c, struct sf_obj *old, struct sf_obj *o);
/* Lists o, a complete shared response, under its key in place of whatever is there (a
 * stored response or a marker), unless a flight is (then false, and nothing changes).
 * True: the caller stores o with sf_cache_store. The table takes a reference of its own. */
bool sf_cache_put(struct sf_cache *c, struct sf_obj *o);
/* Marks o, if it is still stored, as usable only after validation (RFC 9111 §4.4). */
void sf_cache_invalidate(struct sf_cache *c, struct sf_obj *o);

/* Keeps a complete object, stored at now_ms (its verdict says for how long it is fresh),
 * evicting what the policy picks (evict.h) to stay under the byte limit. If o is no longer
 * listed (purged or replaced), nothing happens. Returns whether o was listed (then it is
 * stored, or, larger than the whole cache, unlisted): the disk tier writes it then
 * (disktier.h). */
bool sf_cache_store(struct sf_cache *c, struct sf_obj *o, uint64_t now_ms);
/* Gives o, a flight a MISS just listed that revalidates nothing, stale as the response it
 * revalidates (o->stale, as a lookup that found an expired stored response does): a
 * complete response read back from the disk tier (diskhit.h), not listed, treated as if
 * stored at now_ms; invalidated: a soft purge came after it. False, with nothing done,
 * when o is no longer such a flight, or when stale varies and o's key names no variant
 * (a stale-while-revalidate lookup under it would serve it to every variant). Any thread:
 * the one leading o, before it submits. */
bool sf_cache_give_stale(struct sf_cache *c, struct sf_obj *o, struct sf_obj *stale,
                         bool invalidated, uint64_t now_ms);
/* Takes o out of the table if it is still listed. */
void sf_cache_unlist(struct sf_cache *c, struct sf_obj *o);
/* The same for a flight whose revalidation of a stored response (o->stale) failed or got
 * a server error: that response goes back where it was, stored as before, if nothing
 * else took its key meanwhile (RFC 9111 §4.3.3: a cache that gets a 5xx while validating
 * may act as if the origin had not answered). It is still stale: the next request
 * revalidates it again, or, within its windows, is served it stale. */
void sf_cache_unlist_keep_stale(struct sf_cache *c, struct sf_obj *o);
/* Replaces o (if listed), a flight for a response too large to store, by a sliced marker:
 * from now on the key's response is read from slices of the representation ref
 * describes (copied), and o streams on to the clients attached to it. */
void sf_cache_mark_sliced(struct sf_cache *c, struct sf_obj *o, const struct sf_slice_ref *ref);
/* Removes the sliced marker under key, if that is what is listed there and it is still
 * for the representation ref (a slice of another one came: the response changed). */
void sf_cache_drop_sliced(struct sf_cache *c, const char *key, const struct sf_slice_ref *ref);
/* Replaces o (if listed) by a hit-for-pass marker until until_ms, which keeps why o's
 * published head could not be shared (its verdict's reason, for explain). Markers are
 * charged to the byte limit and evicted like responses. */
void sf_cache_mark_pass(struct sf_cache *c, struct sf_obj *o, uint64_t until_ms);
/* Frees the hit-for-pass markers that expired by now_ms (at most 64 a call). Cheap when
 * none has: no lock. Any thread; the fetcher calls it on every pass. */
void sf_cache_expire(struct sf_cache *c, uint64_t now_ms);

/* Removes (or, soft, marks as needing validation, RFC 9111 §4.4) every stored response
 * whose URL is url — every credential variant of it — or, with prefix, whose URL starts
 * with url; with tag_header, instead every one whose tag_header field lists url as a
 * token (a surrogate key). Flights in progress are left alone. Returns how many. One URL
 * costs what its objects are; a prefix or a tag walks the whole table. */
size_t sf_cache_purge(struct sf_cache *c, const char *url, bool prefix, bool soft,
                      const char *tag_header);

void sf_cache_get_stats(struct sf_cache *c, struct sf_cache_stats *st);
/* What is listed under key now_ms, copied into out (cacheview.h; empty on entry, the
 * caller clears it): a stored response with its age and freshness, a flight, a marker
 * (hit-for-pass with its reason; vary with the stored variants; sliced with which slices
 * of slice_bytes are stored). Read-only: nothing is touched, counted by the policy or
 * expired. One hold of the table lock (a varying or sliced key walks its URL's entries);
 * for explain, not the request path. Any thread. */
void sf_cache_inspect(struct sf_cache *c, const char *key, uint64_t slice_bytes, uint64_t now_ms,
                      struct sf_cache_view *out);
/* How many entries the longest chain of the table's buckets holds: how well keys spread
 * (a flood of keys crafted to collide would make it long). One hold of the table lock. */
size_t sf_cache_longest_chain(struct sf_cache *c);
/* Whether each of objs[0..n) is stored now (a response charged to cache.max_bytes), in
 * stored[]: one hold of the table lock for all (pinned.h). */
void sf_cache_which_stored(struct sf_cache *c, struct sf_obj *const *objs, size_t n, bool *stored);

#endif
