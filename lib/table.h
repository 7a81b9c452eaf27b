/* table: the cache's table, private to cache.c (which owns one and takes its lock),
 * table.c and cacheview.c (its read-only copy of one key's entries). Entries (entry.h) by
 * key in a chained hash table (keyed SipHash, doubling at load 1), and the same entries chained by the URL
 * part of their keys, so that what concerns one URL (a purge, an invalidation, a variant
 * in another language) visits only that URL's entries; stored responses and markers
 * charged by bytes and evicted by S3-FIFO (evict.h: a hit only counts; one-hit wonders and
 * scans leave from a small FIFO without pushing out what is asked again); hit-for-pass markers also on a list of their own, oldest first (they
 * all live cache.hit_for_pass, so the list is in expiry order); stored variants also in
 * varindex.h's index (by URL, for cache.max_variants, and by language). The table holds one
 * reference on every listed object and owns its markers. Every function here runs under
 * the table lock unless it says otherwise. */
#ifndef SF_TABLE_H
#define SF_TABLE_H

#include "base.h"
#include "entry.h"
#include "evict.h"
#include "slice.h"
#include "varindex.h"

struct sf_cache_view;
struct sf_obj;

/* A hit-for-pass marker's place on the list of them, oldest first. */
struct pass_link {
    struct pass_link *prev, *next;
};

/* The cache's own entries: no mutex, no segments; owned by the table. */
struct marker {
    struct sf_entry e;         /* role SF_ENTRY_PASS, SF_ENTRY_VARY or SF_ENTRY_SLICED */
    struct pass_link pass;     /* PASS: on the table's list of them */
    uint64_t expires_ms;       /* PASS: monotonic end */
    const char *reason;        /* PASS: why the response was not shareable (a verdict's static
                         * sentence, policy.h: not owned); may be NULL */
    char *vary_names;          /* VARY: what the key's responses vary on */
    struct sf_slice_ref slice; /* SLICED: the representation its slices must be of */
    char key[];
};

/* The table: one in each cache (cache.c), which takes its lock around these calls.
 * (L) protected by lock. */
struct sf_table {
    struct sf_mutex lock;
    struct sf_entry **buckets; /* (L) */
    struct sf_entry **by_url;  /* (L) the same entries by the URL part of their keys */
    size_t nbuckets, count;    /* (L) */
    struct sf_evict evict;     /* (L) what is charged, in the eviction policy (evict.h) */
    uint64_t max_bytes;        /* (L) */
    uint64_t bytes;            /* (L) */
    uint64_t stored, markers, flights, evictions; /* (L) */
    uint64_t sliced_markers;                      /* (L) */
    uint64_t pass_markers;                        /* (L) */
    struct pass_link pass; /* (L) sentinel of the hit-for-pass markers, oldest first */
    atomic_uint_fast64_t next_expiry_ms; /* the oldest marker's expiry; UINT64_MAX: none */
    struct sf_varindex variants;         /* (L) stored variants by URL and by language */
};

/* An empty table whose responses and markers may be charged max_bytes; t's memory is the
 * caller's. Fini unlists and releases every entry and frees what init took; no other
 * thread may use t any more (it takes the lock only to keep the assertions true). */
void sf_table_init(struct sf_table *t, uint64_t max_bytes);
void sf_table_fini(struct sf_table *t);

/* The object e is the entry of, or the marker e is; checked. Any lock. */
struct sf_obj *sf_table_obj(struct sf_entry *e) SF_NONNULL_RESULT;
struct marker *sf_table_marker(struct sf_entry *e) SF_NONNULL_RESULT;

/* Each entry's share of the table's two bucket arrays (by key, by URL: a pointer each per
 * bucket, between one and two buckets an entry as the table doubles), charged with a stored
 * response so that the charge is what the cache holds (about 24 bytes). */
size_t sf_table_entry_share(void);

/* SipHash-2-4 of len bytes under the process's secret key (sf_keyed_hash): what a key's URL part (up to its first "\n", sf_policy_key) is listed
 * by in the buckets by URL. */
uint64_t sf_table_hash_bytes(const char *s, size_t len);

/* Where key is (or would be) listed: the slot holding its entry, or the empty one. */
struct sf_entry **sf_table_slot(struct sf_table *t, const char *key);
/* The slot holding e, which is listed: by the hash kept when it was listed. */
struct sf_entry **sf_table_slot_of(struct sf_table *t, const struct sf_entry *e);
/* How many entries the longest chain of buckets by key holds (how well keys spread). */
size_t sf_table_longest_chain(const struct sf_table *t);
/* Doubles the buckets; slots found before are no longer valid. */
void sf_table_grow(struct sf_table *t);
/* e (charged) was asked for: the policy counts it, and a variant is its URL's newest. */
void sf_table_touch(struct sf_table *t, struct sf_entry *e);

/* Table lock held. Publishes when the oldest hit-for-pass marker expires. */
void sf_table_note_expiry(struct sf_table *t);

/* Table lock held. Counts e, now charged and in the policy, as what its role says. */
void sf_table_charge(struct sf_table *t, struct sf_entry *e, size_t bytes);

/* Removes the entry at *pp from the table. Returns it, for the caller to release after
 * unlocking (release: the last unref frees, and freeing is not table work). An object's
 * role becomes UNLISTED; a marker keeps its role until it is freed. */
struct sf_entry *sf_table_unlist(struct sf_table *t, struct sf_entry **pp);

/* Lets go of what sf_table_unlist returned (NULL is fine); no table lock held. */
void sf_table_release(struct sf_entry *e);

/* Table lock held. Lists e with role under its key (an object's own; whose slot is pp). */
void sf_table_list(struct sf_table *t, struct sf_entry **pp, struct sf_entry *e,
                   enum sf_entry_role role);

/* Table lock held. Lists a new marker under key, charged like a small response; the
 * table may grow first. */
struct marker *sf_table_list_marker(struct sf_table *t, const char *key, enum sf_entry_role role);

/* Table lock held. Unlists the hit-for-pass markers expired by now_ms, oldest first, at
 * most max_drop of them, into drop (for sf_table_release after unlocking); returns how
 * many. */
size_t sf_table_unlist_expired(struct sf_table *t, uint64_t now_ms, struct sf_entry **drop,
                               size_t max_drop);

/* Table lock held (dropped and taken again meanwhile). Evicts until the charged bytes fit,
 * releasing what was evicted outside the lock. */
void sf_table_fit(struct sf_table *t);

/* Table lock held. Copies what is listed under key into out (cacheview.h: zeroed by the
 * caller) as lookups would judge it at now_ms; when it is kept in slices, which slices of
 * slice_bytes are stored. Walks the key's URL's entries for variants and slices
 * (cacheview.c). */
void sf_table_inspect(struct sf_table *t, const char *key, uint64_t slice_bytes, uint64_t now_ms,
                      struct sf_cache_view *out);
/* No lock held: what sf_table_inspect leaves to do outside the lock (sorting). */
void sf_table_inspect_done(struct sf_cache_view *out);

#endif
