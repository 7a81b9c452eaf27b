/* diskindex: the disk tier's in-memory index: where in the cyclic log each stored response
 * is (pure; no I/O, no lock).
 *
 * A key (the record's key hash) may have several entries, one per variant. Positions are
 * the log's logical positions (see diskrec.h), and the caller passes the log's tail, the
 * lowest position not yet overwritten: an entry below it is dead, never returned, removed
 * by a bounded sweep at each insert or reused by one. So the log evicts by writing, and
 * the index follows without reading the disk.
 *
 * It also counts its entries per URL (diskurls.h: the record's key up to its first "\n",
 * hashed), so that whether it holds any record of a URL, whatever else the key holds, is
 * one lookup: kept with every insert, overwrite, removal and sweep, and rebuilt with the
 * table. Dead entries count until they are swept or reused (a URL the log overwrote may
 * read as held a while: a tombstone too many, never one too few).
 *
 * Memory: 40 bytes an entry slot and 8 bytes a URL slot, as many of each; the table
 * doubles while it is over three quarters full, up to the capacity max_entries needs, and
 * then refuses inserts (SF_DISKINDEX_FULL): bounded.
 *
 * Thread: not thread-safe; the store holds its lock around every call. */
#ifndef SF_DISKINDEX_H
#define SF_DISKINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sf_diskindex;

struct sf_diskindex_entry {
    uint64_t key_hash;
    uint64_t variant;   /* 0 for none */
    uint64_t pos;       /* the record's logical position */
    uint32_t size;      /* the record's bytes in the log; never 0 */
    uint32_t expires_s; /* unix seconds, 0 for none: expiry without a read */
    uint32_t url;       /* sf_diskurls_hash of the record's key: its URL */
};

/* An entry's expires_s of a record's expires_ms (0 or less: none): clamped to u32, and 1
 * for a time in 1970's first second (0 means none). The writer and the load agree. */
uint32_t sf_diskindex_expires_s(int64_t expires_ms);

enum sf_diskindex_put {
    SF_DISKINDEX_ADDED,
    SF_DISKINDEX_REPLACED, /* the key's variant was there: now the newer record */
    SF_DISKINDEX_FULL,     /* max_entries live entries, or no memory to grow: not added */
};

/* A new empty index that will hold at most max_entries (at least 1) entries. Caller
 * frees with sf_diskindex_free (NULL is fine). */
struct sf_diskindex *sf_diskindex_new(size_t max_entries);
void sf_diskindex_free(struct sf_diskindex *x);

/* Indexes e (copied), replacing the entry of the same key and variant. Entries below tail
 * are dead and make room. */
enum sf_diskindex_put sf_diskindex_put(struct sf_diskindex *x, const struct sf_diskindex_entry *e,
                                       uint64_t tail);

/* Makes room for n entries (at most max_entries) in one step, so that as many puts do not
 * double the table over and over (the checkpoint's load: most of its time was that).
 * Entries below tail are left behind. False when there is no memory (nothing changed). */
bool sf_diskindex_reserve(struct sf_diskindex *x, size_t n, uint64_t tail);

/* The entry of key_hash and variant into *out, if there is one at or above tail. */
bool sf_diskindex_get(const struct sf_diskindex *x, uint64_t key_hash, uint64_t variant,
                      uint64_t tail, struct sf_diskindex_entry *out);

/* Removes the entry of key_hash and variant, if it is the record at pos (a newer record
 * of the same key stays): the scan's or a read's verdict on one record. True if removed. */
bool sf_diskindex_remove_at(struct sf_diskindex *x, uint64_t key_hash, uint64_t variant,
                            uint64_t pos);

/* Removes every entry of key_hash, all its variants (a purge's tombstone); how many. */
size_t sf_diskindex_remove_key(struct sf_diskindex *x, uint64_t key_hash);

/* Examines up to max_slots slots from where the last sweep stopped, removing the dead
 * (below tail); how many it removed. sf_diskindex_put sweeps a few on its own. */
size_t sf_diskindex_sweep(struct sf_diskindex *x, uint64_t tail, size_t max_slots);

/* The next live entry at or after *cursor (start at 0) into *out, and *cursor past it;
 * false at the end. For the checkpoint: no put or remove between the calls. */
bool sf_diskindex_next(const struct sf_diskindex *x, size_t *cursor, uint64_t tail,
                       struct sf_diskindex_entry *out);

/* How many entries hold a record of url (sf_diskurls_hash), the dead not yet swept
 * included: 0 means the index holds no record of it under any key. */
uint32_t sf_diskindex_url_entries(const struct sf_diskindex *x, uint32_t url);

/* The table's slots (a sweep of twice as many examinations passes every one). */
size_t sf_diskindex_slots(const struct sf_diskindex *x);

/* Entries held, the dead not yet swept included; and the table's bytes (the URL counts'
 * included). */
size_t sf_diskindex_count(const struct sf_diskindex *x);
size_t sf_diskindex_bytes(const struct sf_diskindex *x);

#endif
