/* diskindex: see diskindex.h. Open addressing with linear probing and backward-shift
 * deletion (no tombstones: a removed slot is empty, and the entries after it move back
 * toward their home), so every entry is reachable from its home slot without crossing an
 * empty one. That invariant is what lets one key's variants be found together, all in
 * the run that starts at their common home, and what lets an insert reuse a dead entry it
 * passes: the newcomer's own run reaches that slot.
 *
 * Entries below the log's tail are not removed when the log overwrites them (the writer
 * would have to read each overwritten header to know its key); they are dead, skipped by
 * lookups, reused by inserts, and removed by a sweep that advances a few slots per insert,
 * so the table's memory follows the live records within one lap of the log.
 *
 * The URL counts (diskurls.h) have as many slots as the table: they hold at most one hash
 * per entry, and the table is at most three quarters full, so adding to them never needs
 * memory the table did not get when it grew; they are rebuilt with it. */
#include "diskindex.h"

#include "base.h"
#include "diskurls.h"

#include <stdlib.h>
#include <string.h>

#define SF_DISKINDEX_MAGIC 0x5fd15c1du
#define MIN_SLOTS 64
#define SWEEP_PER_PUT 4
#define FULL_SWEEP 256

struct sf_diskindex {
    unsigned magic;                   /* SF_DISKINDEX_MAGIC */
    struct sf_diskindex_entry *slots; /* size 0: empty */
    size_t nslots;                    /* a power of two */
    size_t count;                     /* occupied slots, the dead included */
    size_t max_entries;               /* (C) */
    size_t sweep_at;                  /* the sweep's next slot */
    struct sf_diskurls *urls;         /* each entry's URL, counted; nslots slots */
};

static size_t home(const struct sf_diskindex *x, uint64_t key_hash)
{
    return (size_t)(sf_mix64(key_hash) & (x->nslots - 1));
}

static size_t next_slot(const struct sf_diskindex *x, size_t i)
{
    return (i + 1) & (x->nslots - 1);
}

static bool is_dead(const struct sf_diskindex_entry *e, uint64_t tail)
{
    return e->pos < tail;
}

/* The slots a table needs to hold n entries at most three quarters full. */
static size_t slots_for(size_t n)
{
    size_t s = MIN_SLOTS;
    while (s / 4 * 3 < n)
        s *= 2;
    return s;
}

uint32_t sf_diskindex_expires_s(int64_t expires_ms)
{
    if (expires_ms <= 0)
        return 0;
    if (expires_ms / 1000 >= UINT32_MAX)
        return UINT32_MAX;
    return expires_ms < 1000 ? 1 : (uint32_t)(expires_ms / 1000);
}

struct sf_diskindex *sf_diskindex_new(size_t max_entries)
{
    struct sf_diskindex *x = sf_xcalloc(1, sizeof *x);
    x->magic = SF_DISKINDEX_MAGIC;
    x->max_entries = max_entries > 0 ? max_entries : 1;
    x->nslots = MIN_SLOTS;
    x->slots = sf_xcalloc(x->nslots, sizeof *x->slots);
    x->urls = sf_diskurls_new(x->nslots / 4 * 3);
    SF_ASSERT(x->urls != NULL); /* 512 bytes: as sf_xcalloc, no memory here is fatal */
    return x;
}

void sf_diskindex_free(struct sf_diskindex *x)
{
    if (x == NULL)
        return;
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    free(x->slots);
    sf_diskurls_free(x->urls);
    x->magic = 0;
    free(x);
}

/* Empties slot i and moves back each later entry of the run that may go there: one whose
 * home is not cyclically within (i, j]. */
static void delete_at(struct sf_diskindex *x, size_t i)
{
    sf_diskurls_remove(x->urls, x->slots[i].url);
    size_t j = i;
    for (;;) {
        j = next_slot(x, j);
        if (x->slots[j].size == 0)
            break;
        size_t k = home(x, x->slots[j].key_hash);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            x->slots[i] = x->slots[j];
            i = j;
        }
    }
    memset(&x->slots[i], 0, sizeof x->slots[i]);
    x->count--;
}

/* Places e in the first empty slot of its run; the table has room, and so have its URL
 * counts (as many slots). */
static void place(struct sf_diskindex *x, const struct sf_diskindex_entry *e)
{
    size_t i = home(x, e->key_hash);
    while (x->slots[i].size != 0)
        i = next_slot(x, i);
    bool counted = sf_diskurls_add(x->urls, e->url);
    SF_ASSERT(counted);
    x->slots[i] = *e;
    x->count++;
}

/* Puts e in the occupied slot s (an older record of its key and variant, or a dead
 * entry), its URL counted in place of s's. */
static void overwrite(struct sf_diskindex *x, struct sf_diskindex_entry *s,
                      const struct sf_diskindex_entry *e)
{
    if (s->url != e->url) {
        /* The old one out first: the counts then hold fewer hashes than entries, so the
         * new one never needs them to grow (at three quarters full with every URL
         * distinct, the other order would). */
        sf_diskurls_remove(x->urls, s->url);
        bool counted = sf_diskurls_add(x->urls, e->url);
        SF_ASSERT(counted);
    }
    *s = *e;
}

/* Rebuilds the table with n slots, leaving the dead behind. False when there is no memory
 * for it. */
static bool resize(struct sf_diskindex *x, size_t n, uint64_t tail)
{
    struct sf_diskindex_entry *slots = calloc(n, sizeof *slots);
    struct sf_diskurls *urls = sf_diskurls_new(n / 4 * 3);
    if (slots == NULL || urls == NULL) {
        free(slots);
        sf_diskurls_free(urls);
        return false;
    }
    struct sf_diskindex_entry *old = x->slots;
    size_t old_n = x->nslots;
    sf_diskurls_free(x->urls);
    x->slots = slots, x->nslots = n, x->count = 0, x->sweep_at = 0, x->urls = urls;
    for (size_t i = 0; i < old_n; i++)
        if (old[i].size != 0 && !is_dead(&old[i], tail))
            place(x, &old[i]);
    free(old);
    return true;
}

/* Doubles the table. */
static bool grow(struct sf_diskindex *x, uint64_t tail)
{
    return resize(x, x->nslots * 2, tail);
}

bool sf_diskindex_reserve(struct sf_diskindex *x, size_t n, uint64_t tail)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    size_t want = slots_for(n < x->max_entries ? n : x->max_entries);
    return want <= x->nslots || resize(x, want, tail);
}

enum sf_diskindex_put sf_diskindex_put(struct sf_diskindex *x, const struct sf_diskindex_entry *e,
                                       uint64_t tail)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    SF_ASSERT(e->size != 0 && !is_dead(e, tail));
    sf_diskindex_sweep(x, tail, SWEEP_PER_PUT);
    /* The whole run first: the key's variant may sit past a dead entry we could reuse. */
    size_t dead = SIZE_MAX, i = home(x, e->key_hash);
    for (; x->slots[i].size != 0; i = next_slot(x, i)) {
        struct sf_diskindex_entry *s = &x->slots[i];
        if (s->key_hash == e->key_hash && s->variant == e->variant) {
            bool was_dead = is_dead(s, tail);
            overwrite(x, s, e);
            return was_dead ? SF_DISKINDEX_ADDED : SF_DISKINDEX_REPLACED;
        }
        if (dead == SIZE_MAX && is_dead(s, tail))
            dead = i;
    }
    if (dead != SIZE_MAX) {
        overwrite(x, &x->slots[dead], e);
        return SF_DISKINDEX_ADDED;
    }
    /* Full: a longer sweep may find dead entries elsewhere. (It adds nothing, so the key
     * is still absent, and place() finds the run's first empty slot as before.) */
    if (x->count >= x->max_entries)
        sf_diskindex_sweep(x, tail, FULL_SWEEP);
    if (x->count >= x->max_entries)
        return SF_DISKINDEX_FULL;
    if (x->count + 1 > x->nslots / 4 * 3) {
        if (x->nslots >= slots_for(x->max_entries) || !grow(x, tail))
            return SF_DISKINDEX_FULL;
    }
    place(x, e);
    return SF_DISKINDEX_ADDED;
}

bool sf_diskindex_get(const struct sf_diskindex *x, uint64_t key_hash, uint64_t variant,
                      uint64_t tail, struct sf_diskindex_entry *out)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    for (size_t i = home(x, key_hash); x->slots[i].size != 0; i = next_slot(x, i)) {
        const struct sf_diskindex_entry *s = &x->slots[i];
        if (s->key_hash == key_hash && s->variant == variant) {
            if (is_dead(s, tail))
                return false;
            *out = *s;
            return true;
        }
    }
    return false;
}

bool sf_diskindex_remove_at(struct sf_diskindex *x, uint64_t key_hash, uint64_t variant,
                            uint64_t pos)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    for (size_t i = home(x, key_hash); x->slots[i].size != 0; i = next_slot(x, i)) {
        const struct sf_diskindex_entry *s = &x->slots[i];
        if (s->key_hash == key_hash && s->variant == variant) {
            if (s->pos != pos)
                return false;
            delete_at(x, i);
            return true;
        }
    }
    return false;
}

size_t sf_diskindex_remove_key(struct sf_diskindex *x, uint64_t key_hash)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    size_t removed = 0, i = home(x, key_hash);
    /* A deletion moves later entries of the run back into slot i, never before it: look
     * at slot i again after each. */
    while (x->slots[i].size != 0) {
        if (x->slots[i].key_hash == key_hash) {
            delete_at(x, i);
            removed++;
        } else {
            i = next_slot(x, i);
        }
    }
    return removed;
}

size_t sf_diskindex_sweep(struct sf_diskindex *x, uint64_t tail, size_t max_slots)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    size_t removed = 0;
    for (size_t n = 0; n < max_slots; n++) {
        size_t i = x->sweep_at & (x->nslots - 1);
        if (x->slots[i].size != 0 && is_dead(&x->slots[i], tail)) {
            delete_at(x, i); /* slot i may hold a moved entry now: look again next step */
            removed++;
        } else {
            x->sweep_at = next_slot(x, i);
        }
    }
    return removed;
}

bool sf_diskindex_next(const struct sf_diskindex *x, size_t *cursor, uint64_t tail,
                       struct sf_diskindex_entry *out)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    for (size_t i = *cursor; i < x->nslots; i++) {
        if (x->slots[i].size != 0 && !is_dead(&x->slots[i], tail)) {
            *out = x->slots[i];
            *cursor = i + 1;
            return true;
        }
    }
    *cursor = x->nslots;
    return false;
}

uint32_t sf_diskindex_url_entries(const struct sf_diskindex *x, uint32_t url)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    return sf_diskurls_count(x->urls, url);
}

size_t sf_diskindex_slots(const struct sf_diskindex *x)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    return x->nslots;
}

size_t sf_diskindex_count(const struct sf_diskindex *x)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    return x->count;
}

size_t sf_diskindex_bytes(const struct sf_diskindex *x)
{
    SF_CHECK_OBJ(x, SF_DISKINDEX_MAGIC);
    return sizeof *x + x->nslots * sizeof *x->slots + sf_diskurls_bytes(x->urls);
}
