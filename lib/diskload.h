/* diskload: how the disk tier comes back after a start: its checkpoint (the index and the
 * purges as they were at a write head, written whole to <path>/index.ckpt) and the scan of
 * the records written after it. docs/disk.md, "Start-up and the checkpoint", is the design.
 *
 * Thread: sf_diskload_run at open, before the writer starts; sf_diskload_save on the
 * writer thread, with the store's lock held around the copy it takes of the index (the
 * caller's choice: it passes what it may read). */
#ifndef SF_DISKLOAD_H
#define SF_DISKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sf_diskindex;
struct sf_diskpurge;

/* The log inside the store file. */
struct sf_disklog {
    int fd;               /* the store file, open for reading (and writing) */
    uint64_t base;        /* the log's first byte in the file (after the superblock) */
    uint64_t size;        /* the log's bytes: a position's offset is base + pos % size */
    uint64_t store_id;    /* the superblock's random id: a checkpoint of another store is refused */
    uint64_t sum_seed;    /* the superblock's secret seed of the records' checksums (diskrec.h) */
    uint8_t hash_key[16]; /* the superblock's SipHash key: key hashes, URL hashes (diskurls.h) */
};

struct sf_diskload_result {
    uint64_t head;        /* where the writer goes on: past the last sound record */
    bool from_checkpoint; /* a checkpoint was loaded (else the whole log was scanned) */
    uint64_t scanned;     /* records indexed by the scan */
    uint64_t tombstones;  /* purges found by the scan */
    uint64_t damaged;     /* records passed over as damaged */
    uint64_t evict_tail;  /* a full index gave up the records below it (0: none): the
                           * running process's (index.tail, the checkpoint's index tail)
                           * or the load's own; the store's tail is at least this */
    uint64_t evictions;   /* times a full index made the oldest go (as the writer does) */
    bool tail_clamped;    /* the saved tail was past the head (a power cut lost writes, or
                           * index.tail was damaged): every record given up, and the
                           * tail must be saved again at the head before the writer runs */
    uint64_t ms;          /* how long it took */
    char note[160];       /* why a checkpoint was not used, for the log ("" if it was) */
};

/* Fills x and p (empty on entry) from dir's checkpoint when it is of this log and sound,
 * then scans the log from its head; without one, scans the whole log. False only on an
 * I/O error reading the store or its index.tail (err says what); a damaged or missing checkpoint is a full
 * scan, and damaged records are passed over (counted). */
bool sf_diskload_run(const char *dir, const struct sf_disklog *log, struct sf_diskindex *x,
                     struct sf_diskpurge *p, struct sf_diskload_result *out, char *err,
                     size_t err_len);

/* Writes x and p as the checkpoint at head: a temporary file, fdatasync, rename, so a
 * crash leaves the old or the new one whole. index_tail is the store's tail (a full index
 * may have moved it past the log's own): no entry below it is saved, and the load gives
 * up the records below it as the running process had. False with err on an I/O error. */
bool sf_diskload_save(const char *dir, const struct sf_disklog *log, uint64_t head,
                      uint64_t index_tail, const struct sf_diskindex *x,
                      const struct sf_diskpurge *p, char *err, size_t err_len);

#endif
