/* disktier: the disk tier (docs/disk.md) as the rest of sfproxy uses it: one store per
 * process (diskstore.h), opened at start before the listeners and closed at the end, and
 * the calls into it: a stored response written (a reference to the object queued, its
 * head encoded by diskobj.h), a purge or invalidation passed on, a key's record read back
 * for a memory miss (its VARY record first where the key's responses vary), stats, and
 * which tier holds a key. Filling a flight from what was read is diskhit.c's: this module
 * knows objects, not the cache.
 *
 * Every call but start, stop and check is a no-op (or ABSENT) while the tier is off: no
 * cache.disk, or a disk error turned the store off.
 *
 * Threads: sf_disktier_start, _stop and _check on the main thread (start before any
 * other thread uses the tier, stop after they all stopped); the rest on any thread. */
#ifndef SF_DISKTIER_H
#define SF_DISKTIER_H

#include "diskobj.h"
#include "diskstore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sf_cache_stats; /* metrics.h */
struct sf_config;
struct sf_fields; /* variant.h */
struct sf_obj;

/* Opens the store cfg->disk_path names (nothing when it names none). False with the
 * store's message in err (the path, what failed and what to do) when it cannot: the
 * caller does not start. */
bool sf_disktier_start(const struct sf_config *cfg, char *err, size_t err_len);
/* Writes what is queued and a checkpoint, and closes the store. */
void sf_disktier_stop(void);
/* Whether a store is open (cheap: asked on every miss). One a disk error turned off
 * stays open, and answers every read ABSENT. */
bool sf_disktier_on(void);

/* --check-config: whether cfg->disk_path is a directory sfproxy can write (or one it can
 * make: its parent is writable) and its file system has room for cfg->disk_max_bytes,
 * less what a store file already there takes. False with what is wrong in err. True when
 * cfg has no disk tier. */
bool sf_disktier_check(const struct sf_config *cfg, char *err, size_t err_len);

/* Queues o for the disk: a complete shared response just stored in memory (RFC 9111 §3),
 * or its refresh (a 304's, a HEAD's update) that replaced the one stored. Where its key's
 * responses vary, the VARY record naming what they vary on is written (again) too. Never
 * written: a response from a cluster peer (unproven, peerhop.h), one that is not shared
 * or whose body's start was freed. Runs on: the fetcher thread (it may read o->key). */
void sf_disktier_put(struct sf_obj *o);

/* Writes that the response under key (a flight's, just marked sliced: publish.c) is kept in
 * slices of the representation ref (the memory cache's sliced marker, cache.h), so that
 * after a restart its requests read the slices on disk (sf_disktier_sliced) rather than
 * fetch it whole again. Runs on: the fetcher thread. */
void sf_disktier_put_sliced(const char *key, const struct sf_slice_ref *ref);
/* Forgets that the response under key is kept in slices (the representation changed:
 * sliceread.c): a "does not vary" record in its VARY slot, when a SLICED record is there.
 * Runs on: any thread. */
void sf_disktier_drop_sliced(const char *key);
/* Forgets the record of key (one that does not vary: a slice's), found not to be what it
 * should (a slice of another representation), so that the next read of key misses. */
void sf_disktier_forget(const char *key);
/* Whether the disk says the response under key is kept in slices: true with the
 * representation in *out (owned: sf_slice_ref_clear). */
bool sf_disktier_sliced(const char *key, struct sf_slice_ref *out);

/* A purge (admin.c: wait, so that it is on disk before the purge answers) or an RFC 9111
 * §4.4 invalidation (publish.c: soft, no wait), as sf_cache_purge takes them: url, or
 * every URL it prefixes, or with tag_header every response whose tag_header field lists
 * url as a token. False when the store refused it (it is off after a disk error, or the
 * rule is too long to persist): it may come back after a restart. True with no store. */
bool sf_disktier_purge(const char *url, bool prefix, bool soft, const char *tag_header, bool wait);
/* How many purges and invalidations the store has applied (its rules hide what they
 * purge from every read that starts after: diskpurge.h); counted after each is applied.
 * A disk fill (diskhit.c) takes it before its read and checks it before and after it
 * stores: a purge that raced the fill moved it, and the fill gives up what it read, so
 * that a purge that has answered is never undone by a read that began before it. */
uint64_t sf_disktier_purge_gen(void);

/* An RFC 9111 §4.4 invalidation of url by an unsafe request's response (publish.c): a soft
 * purge, not waited for, made only where the disk may hold the URL: in_memory (the memory
 * cache held a response of it), or the store holds a record of the URL under any key
 * (sf_diskstore_holds_url: its own, one with credentials, sf_policy_key, or a route's key
 * fields, cachekey.h; any variant), so that after a restart, with memory empty, every
 * disk copy of it is invalidated too. Not for URLs the disk holds nothing of: any client
 * can send unsafe requests to URLs without end, and each tombstone would take log space
 * from what is cached and memory for its rule (diskpurge.h). */
void sf_disktier_invalidate(const char *url, bool in_memory);

/* A response read back from the disk: its head decoded, its body in the store's buffer. */
struct sf_disktier_hit {
    struct sf_diskobj obj;
    const uint8_t *body;
    uint32_t body_len;
    bool invalidated;            /* a soft purge came after it: usable only after validation */
    struct sf_diskstore_hit rec; /* owns body */
};

/* What the disk holds for key (a cache key; its variant part, if it has one, is the
 * variant looked up) and the request whose fields select among responses that vary,
 * read at now_s (diskobj.h: the age it has now). FOUND: *out holds it (free with
 * sf_disktier_hit_free). A record whose head does not decode is dropped (forgotten) and
 * DAMAGED. */
enum sf_diskstore_get sf_disktier_read(const char *key, const struct sf_fields *fields,
                                       int64_t now_s, struct sf_disktier_hit *out);
void sf_disktier_hit_free(struct sf_disktier_hit *h);

/* A request answered with a response from the disk (disk_hits). */
void sf_disktier_count_hit(void);

/* The store's stats, and disk_hits; false (and zeros) when no store was opened. */
bool sf_disktier_stats(struct sf_diskstore_stats *st, uint64_t *disk_hits);
/* The same into cs's disk_* (metrics.h), for the stats and /metrics. */
void sf_disktier_fill_stats(struct sf_cache_stats *cs);

/* Whether the disk holds a record for key (its variant part, if any, names the variant;
 * else the key's only response, or its VARY record), for explain. */
bool sf_disktier_holds(const char *key);

#endif
