/* diskstorei: the disk store's insides, shared by its two files and nothing else:
 * diskstore.c (open, close, reads, stats) and diskwriter.c (the queue and the writer
 * thread). Everyone else uses diskstore.h.
 *
 * Lock order: lock is a leaf (no other lock is taken under it, no I/O is done under it,
 * no caller's callback is called under it).
 * (C) constant after open  (L) under lock  (W) the writer thread only  (A) atomic */
#ifndef SF_DISKSTOREI_H
#define SF_DISKSTOREI_H

#include "base.h"
#include "diskload.h"
#include "diskpurge.h"
#include "handoff.h"

struct sf_diskurls;

#define SF_DISKSTORE_MAGIC 0x5fd1557eu
#define SF_DISKSTORE_SUPER 4096u /* the superblock's bytes, before the log */
#define SF_DISKSTORE_DEFERRED 64 /* removals a checkpoint's save may defer */
/* The queued records' map, chains by key hash: a bucket per this many bytes the queue may
 * hold (a full 64 MiB queue of 1 KiB records: chains of about 4, where a fixed 1,024
 * buckets made 64 for every memory miss to walk under the store's lock), at least
 * SF_DISKSTORE_QBUCKETS_MIN, a power of two. */
#define SF_DISKSTORE_QBUCKET_BYTES 4096u
#define SF_DISKSTORE_QBUCKETS_MIN 1024u
#define SF_DISKSTORE_QBUCKETS_MAX (1u << 20)
/* Slots one step of an index eviction's sweep examines under the lock (diskwriter.c,
 * index_put): a step holds request threads tens of microseconds, and they get the lock
 * between steps (handoff.h). scripts/diskevictbench.c measures it. */
#define SF_DISKSTORE_EVICT_SWEEP 4096u
#define SF_DISKSTORE_TOMB_MAX 1024 /* queued tombstones past which no-wait purges collapse */

/* What waits for the writer: a record to store, or a purge's tombstone. */
struct sf_diskstore_qitem {
    struct sf_diskstore_qitem *next, *prev;     /* (L) the queue */
    struct sf_diskstore_qitem *t_next, *t_prev; /* (L) a tombstone: the queued tombstones */
    /* A record is also in the queued map (by key hash, newest first) from put until the
     * writer has written or dropped it, so reads find it meanwhile; readers copying it pin
     * it, and the writer waits for them before it releases the object. */
    struct sf_diskstore_qitem *map_next; /* (L) */
    bool mapped;                         /* (L) in the map */
    unsigned readers;                    /* (L) gets copying it now */
    size_t rec_size; /* its bytes in the log, as counted against the queue's bound */
    bool tombstone;
    /* A record: as sf_diskstore_item says; key is the queue's own copy. */
    char *key;
    uint32_t key_len;
    uint64_t key_hash;
    uint32_t url; /* sf_diskurls_hash of key (a record's) */
    uint64_t variant;
    int64_t stored_ms;
    int64_t expires_ms;
    uint8_t *head;
    uint32_t head_len;
    uint32_t body_len;
    void (*copy_body)(void *ctx, uint8_t *out, uint32_t body_len);
    void (*release)(void *ctx);
    void *ctx;
    /* A tombstone: its rule (strings owned), and the purge's number for its waiter. */
    struct sf_diskpurge_rule rule;
    uint64_t seq;
    bool waited;        /* (L) a purge waits for it: never coalesced, fdatasync'd once written */
    bool collapse;      /* (L) a collapse's: the rules it replaced are in no checkpoint */
    unsigned coalesced; /* (L) identical no-wait purges folded into it (coalesce()) */
};

struct sf_diskstore_counters {
    atomic_uint_fast64_t writes, write_bytes, writes_dropped, reads, checksum_failures, purged,
        errors, checkpoints, load_ms, load_scanned, index_evictions, reads_queued, purge_collapses;
};

struct sf_diskstore {
    unsigned magic;              /* SF_DISKSTORE_MAGIC */
    char *path;                  /* (C) the directory */
    int lock_fd;                 /* (C) <path>/lock, flocked */
    struct sf_disklog log;       /* (C) its hash_key: the superblock's SipHash key */
    uint64_t queue_max;          /* (C) the queue's bound in bytes */
    uint64_t purge_max;          /* (C) the bound on soft rules, and on hard ones */
    bool created;                /* (C) open created the store: nothing to load */
    bool load_from_checkpoint;   /* (C) open loaded a checkpoint (then scanned after it) */
    struct sf_mutex lock;        /* protects the (L) fields */
    struct sf_handoff handoff;   /* request threads lock through it: the writer's eviction
                                  * steps let them in (handoff.h) */
    pthread_cond_t work_cv;      /* (L) the writer waits on it for work */
    pthread_cond_t done_cv;      /* (L) purges wait on it for their tombstone */
    struct sf_diskindex *index;  /* (L); the writer reads it without the lock while saving */
    struct sf_diskpurge *purges; /* (L) */
    struct sf_diskstore_qitem *q_first, *q_last; /* (L) the queue, oldest first */
    struct sf_diskstore_qitem **q_map; /* (L) records not yet written, q_mask + 1 chains */
    size_t q_mask;                     /* (C) */
    struct sf_diskurls *q_urls;        /* (L) the URLs of the records in q_map, counted: grows
                                 * under the lock, bounded by the queue (a URL per queued
                                 * record); in the stats' index_bytes */
    pthread_cond_t unpin_cv;           /* (L) the last reader unpinned */
    uint64_t q_bytes; /* (L) the queued records' bytes, against queue_max (not tombstones) */
    uint64_t q_count; /* (L) the queued items, records and tombstones */
    struct sf_diskstore_qitem *t_first, *t_last; /* (L) the queued tombstones, oldest first */
    uint64_t t_count;           /* (L) tombstones queued (not in q_bytes: stores' bound) */
    unsigned collapses_pending; /* (L) collapse tombstones queued or being written */
    uint64_t purge_seq;         /* (L) the last purge's number */
    uint64_t purge_done;        /* (L) every purge up to it has its tombstone on disk */
    bool stopping;              /* (L) close asked the writer to drain and stop */
    bool writing;               /* (L) the writer holds an item it took from the queue */
    bool saving;                /* (L) the writer is writing the checkpoint from the index */
    struct {
        uint64_t key_hash, variant, pos;
    } deferred[SF_DISKSTORE_DEFERRED]; /* (L) removals that wait for the save to end */
    size_t n_deferred;                 /* (L) */
    atomic_bool on;                    /* (A) false once a disk error turned the store off */
    _Atomic uint64_t tail;     /* (A) lowest position not overwritten; moved before a write */
    _Atomic uint64_t written;  /* (A) every record below it is in the file */
    uint64_t head;             /* (W) the next record's position (set by open before the writer) */
    uint8_t *rec_buf;          /* (W) the encoding buffer, reused */
    size_t rec_cap;            /* (W) */
    uint8_t *body_buf;         /* (W) the body copied by copy_body, reused */
    size_t body_cap;           /* (W) */
    uint64_t ckpt_bytes;       /* (W) bytes written since the last checkpoint */
    uint64_t ckpt_ms;          /* (W) when the last checkpoint was written (sf_now_ms) */
    uint64_t ckpt_every_bytes; /* (C) a checkpoint every so many bytes written */
    pthread_t writer;          /* (C) */
    bool writer_started;       /* (C) */
    struct sf_diskstore_counters st;
};

/* diskwriter.c: starts the writer thread; drains the queue, writes a last checkpoint and
 * joins it. Runs on: the main thread (open, close). */
void sf_diskwriter_start(struct sf_diskstore *s);
void sf_diskwriter_stop(struct sf_diskstore *s);

/* diskwriter.c: the newest queued record of key_hash and variant, or NULL; _pin also pins
 * it (its key, head and object stay until sf_diskwriter_unpin). Lock held. */
struct sf_diskstore_qitem *sf_diskwriter_find(struct sf_diskstore *s, uint64_t key_hash,
                                              uint64_t variant);
struct sf_diskstore_qitem *sf_diskwriter_pin(struct sf_diskstore *s, uint64_t key_hash,
                                             uint64_t variant);
/* Gives back a pin. Lock held: a read checks the purge rules in the same critical section,
 * since once q is unpinned the writer may write it and a tombstone after it. */
void sf_diskwriter_unpin(struct sf_diskstore *s, struct sf_diskstore_qitem *q);

/* diskstore.c: turns the store off after a disk error (what failed, and why: strerror's
 * text or a longer message): one log line, counted; waiters woken. Any thread; no lock
 * held. */
void sf_diskstore_turn_off(struct sf_diskstore *s, const char *what, const char *why);
/* The key hash of key in this store. */
uint64_t sf_diskstore_key_hash(const struct sf_diskstore *s, const void *key, size_t len);
/* Removes the index entry of key_hash and variant if it is the record at pos, or, while
 * the writer saves a checkpoint from the index, once it is done (past
 * SF_DISKSTORE_DEFERRED such, the entry stays: the next read finds the record unusable
 * again). Lock held. */
void sf_diskstore_index_remove(struct sf_diskstore *s, uint64_t key_hash, uint64_t variant,
                               uint64_t pos);
/* pread of len bytes at off, retried until all or the file's end (*got says how many).
 * False on an I/O error (errno says which). */
bool sf_diskstore_pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got);

#endif
