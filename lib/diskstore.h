/* diskstore: the disk tier's store: one preallocated file holding a cyclic log of records
 * (diskrec.h), its in-memory index (diskindex.h), the purges that reach it (diskpurge.h),
 * the writer thread that owns its writes, and its checkpoint and start-up scan
 * (diskload.h). docs/disk.md is the design; this is its interface.
 *
 * What is stored is the caller's: a record holds a cache key, a head (bytes the caller
 * encodes: diskobj.h) and a body. The store checks every byte it returns against the
 * record's checksums, and never returns a record under another key (a hash collision is
 * ABSENT).
 *
 * Threads: sf_diskstore_open and _close on the main thread; every other call on any
 * thread. The writer thread is the store's own. A disk error (ENOSPC, EROFS, EIO) turns
 * the store off: one log line, state OFF, every later call ABSENT or dropped; the memory
 * cache goes on without it. */
#ifndef SF_DISKSTORE_H
#define SF_DISKSTORE_H

#include "diskpurge.h"
#include "diskrec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sf_diskstore;

struct sf_diskstore_conf {
    const char *path;         /* the directory: <path>/store, <path>/index.ckpt, <path>/lock */
    uint64_t max_bytes;       /* the store file's size (the log is that less its superblock) */
    uint64_t queue_bytes;     /* records waiting for the writer, at most this many bytes */
    uint32_t purge_rules_max; /* soft purge rules, and hard ones, held at most (0: 65,536):
                               * past it they collapse into one (docs/disk.md) */
};

/* Variants (RFC 9111 §4.1) of one key share its key hash; the variant field tells them
 * apart. NONE: the key's only response. VARY: the record that names what the key's
 * responses vary on (its head; the caller's encoding). Any other value:
 * sf_diskstore_variant() of the variant's own text. */
#define SF_DISKSTORE_VARIANT_NONE 0u
#define SF_DISKSTORE_VARIANT_VARY 1u

/* Opens (creating and preallocating when absent) the store under conf->path, takes its
 * lock, loads its checkpoint and scans the records written after it (diskload.h), and
 * starts the writer. NULL with a message in err (the path, what failed and what to do:
 * "cache.disk.path /x is in use by another sfproxy (pid 12); give each its own") when it
 * cannot; the caller decides whether that stops the start. An I/O error while reading the
 * log (the scan) is not that: the store opens OFF (logged once, stats' on false), as a
 * disk error later would turn it, and the memory cache goes on. */
struct sf_diskstore *sf_diskstore_open(const struct sf_diskstore_conf *conf, char *err,
                                       size_t err_len);
/* Writes what is queued, a last checkpoint, stops the writer and closes. NULL is fine. */
void sf_diskstore_close(struct sf_diskstore *s);

/* The hash a variant's text has in this store: never NONE or VARY. Stable across
 * restarts (the store's own SipHash key), unpredictable to clients. */
uint64_t sf_diskstore_variant(const struct sf_diskstore *s, const char *text, size_t len);

/* A response for the writer. The store copies key at once; head becomes the store's
 * (malloc'd, freed by it); the body is copied by copy_body on the writer thread, which
 * writes body_len bytes into out, and release(ctx) is called exactly once when the item is
 * written or dropped (ctx is typically a reference to the stored object). Until then
 * sf_diskstore_get may call copy_body on a reader's thread too, concurrently with the
 * writer's: ctx must stay immutable and complete. */
struct sf_diskstore_item {
    const char *key;
    size_t key_len;
    uint64_t variant;
    int64_t stored_ms;  /* unix ms */
    int64_t expires_ms; /* unix ms, 0 for none */
    uint8_t *head;
    uint32_t head_len;
    uint32_t body_len;
    void (*copy_body)(void *ctx, uint8_t *out, uint32_t body_len);
    void (*release)(void *ctx);
    void *ctx;
};

/* Queues item for the writer. False when the queue is full or the store is off: dropped
 * and counted (disk_writes_dropped), head freed and release called before this returns.
 * Never blocks on the disk. */
bool sf_diskstore_put(struct sf_diskstore *s, struct sf_diskstore_item *item);

/* A purge or an RFC 9111 §4.4 invalidation (soft), persisted as a tombstone (diskpurge.h)
 * written after everything queued before it and fdatasync'd. The rule applies to reads at
 * once (until its tombstone is written it hides every record it selects, whenever
 * written; then those written before it), so no read returns a purged record even while
 * the tombstone waits. With wait (an admin's purge), returns once the tombstone is on
 * disk: no record stored before it comes back after a crash either; without (an
 * invalidation on the fetcher thread), returns at once. Never dropped for a full queue.
 * False: the store is off, or the rule is too long to persist (its text over 16 KiB). */
bool sf_diskstore_purge(struct sf_diskstore *s, enum sf_diskpurge_kind kind, const char *text,
                        const char *tag_header, bool soft, bool wait);

/* A record read back, checked: key, head and body point into buf (owned). */
struct sf_diskstore_hit {
    uint8_t *buf;
    struct sf_diskrec_view rec;
    bool invalidated; /* a soft purge came after it: usable only after validation */
    bool queued;      /* built from the writer's queue, not yet on disk (rec.meta.pos is 0) */
};

enum sf_diskstore_get {
    SF_DISKSTORE_FOUND,   /* *out holds it; free with sf_diskstore_hit_free */
    SF_DISKSTORE_ABSENT,  /* no record of key and variant (or the store is off) */
    SF_DISKSTORE_DAMAGED, /* there was one, and it failed a check: dropped, counted */
    SF_DISKSTORE_PURGED,  /* there was one, and a purge came after it: dropped */
};

/* Reads the record of key and variant: the newest queued for the writer and not yet
 * written if there is one (built from its item: its head and copy_body, called on this
 * thread outside the store's lock; reads_queued counts them); else the index under the
 * store's lock, the pread and the checks outside it, then whether the log overwrote it meanwhile (ABSENT) and whether a
 * purge came after it (match: what purges compare, diskpurge.h). */
enum sf_diskstore_get sf_diskstore_get(struct sf_diskstore *s, const char *key, size_t key_len,
                                       uint64_t variant, const struct sf_diskstore_match *match,
                                       struct sf_diskstore_hit *out);
void sf_diskstore_hit_free(struct sf_diskstore_hit *h);

/* Drops the index entry of key and variant (the caller found its record unusable: a head
 * it cannot decode). */
void sf_diskstore_forget(struct sf_diskstore *s, const char *key, size_t key_len, uint64_t variant);

struct sf_diskstore_stats {
    bool on;                    /* false: a disk error turned it off */
    uint64_t bytes_used;        /* the log's bytes written (all of it after its first lap) */
    uint64_t log_bytes;         /* the log's size */
    uint64_t records;           /* index entries */
    uint64_t index_bytes;       /* the index's memory, the queue's URL counts' included */
    uint64_t writes;            /* records written */
    uint64_t write_bytes;       /* their bytes */
    uint64_t writes_queued;     /* waiting now */
    uint64_t queued_bytes;      /* the queued records' bytes (tombstones apart) */
    uint64_t writes_dropped;    /* queue full, index full, or off */
    uint64_t reads;             /* gets that found a record */
    uint64_t checksum_failures; /* records that failed a check on read or at the scan */
    uint64_t purged;            /* records a purge hid on read */
    uint64_t errors;            /* I/O errors (the first turns the store off) */
    uint64_t checkpoints;       /* written */
    uint64_t index_evictions;   /* times a full index made the oldest records go early */
    uint64_t load_ms;           /* the last open's checkpoint load and scan */
    uint64_t load_scanned;      /* records the scan indexed */
    uint64_t reads_queued;      /* of reads, those built from the queue (not yet written) */
    bool load_from_checkpoint;  /* the last open loaded a checkpoint (else scanned the log) */
    uint64_t purge_rules;       /* purge rules held (settled, and tombstones queued) */
    uint64_t purge_collapses;   /* times too many rules became one that selects everything */
};
void sf_diskstore_get_stats(struct sf_diskstore *s, struct sf_diskstore_stats *out);

/* For explain, and before an invalidation: whether key and variant have a live index entry
 * or a record queued for the writer, and its record's size. */
bool sf_diskstore_holds(struct sf_diskstore *s, const char *key, size_t key_len, uint64_t variant,
                        uint32_t *size);

/* Before an RFC 9111 §4.4 invalidation: whether the store may hold any record of url (a
 * record whose key, up to its first "\n", is url: whatever the key's other parts, any
 * variant), written or queued, without a disk read. False only when it holds none; true
 * may be a 32-bit hash collision, or a record the log overwrote and the index has not
 * swept yet (diskindex.h): a tombstone too many, never one too few. */
bool sf_diskstore_holds_url(struct sf_diskstore *s, const char *url, size_t len);

#endif
