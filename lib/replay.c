/* replay: see replay.h. */
#include "replay.h"

#include <stdlib.h>

#define SF_REPLAY_MAGIC 0x7e91a5c3u

/* An entry is free when its window has ended (until_s < now), or was never used (0). */
struct entry {
    uint64_t tag;
    int64_t until_s;
};

struct sf_replay {
    unsigned magic;
    struct sf_mutex lock;
    size_t nbuckets;                         /* (C) */
    struct entry (*buckets)[SF_REPLAY_WAYS]; /* (L) */
};

struct sf_replay *sf_replay_new(size_t capacity)
{
    struct sf_replay *rs = sf_xcalloc(1, sizeof *rs);
    rs->magic = SF_REPLAY_MAGIC;
    sf_mutex_init(&rs->lock);
    rs->nbuckets = (capacity + SF_REPLAY_WAYS - 1) / SF_REPLAY_WAYS;
    if (rs->nbuckets < 2)
        rs->nbuckets = 2;
    rs->buckets = sf_xcalloc(rs->nbuckets, sizeof *rs->buckets);
    return rs;
}

void sf_replay_free(struct sf_replay *rs)
{
    if (rs == NULL)
        return;
    SF_CHECK_OBJ(rs, SF_REPLAY_MAGIC);
    sf_mutex_destroy(&rs->lock);
    free(rs->buckets);
    rs->magic = 0;
    free(rs);
}

/* The second bucket of a tag: from its other bits, mixed (splitmix64's finaliser). */
static size_t second_bucket(uint64_t tag, size_t n)
{
    uint64_t h = tag ^ (tag >> 31);
    h *= 0x94d049bb133111ebull;
    h ^= h >> 29;
    return (size_t)(h % n);
}

/* In bucket b: whether tag is live there, and its number of free entries (*free_at one). */
static bool look(struct entry *b, uint64_t tag, int64_t now_s, size_t *nfree, size_t *free_at)
{
    *nfree = 0;
    for (size_t i = 0; i < SF_REPLAY_WAYS; i++) {
        if (b[i].until_s >= now_s && b[i].until_s != 0) {
            if (b[i].tag == tag)
                return true;
        } else {
            if (*nfree == 0)
                *free_at = i;
            (*nfree)++;
        }
    }
    return false;
}

enum sf_replay_verdict sf_replay_admit(struct sf_replay *rs, uint64_t tag, int64_t until_s,
                                       int64_t now_s)
{
    SF_CHECK_OBJ(rs, SF_REPLAY_MAGIC);
    struct entry *b1 = rs->buckets[tag % rs->nbuckets];
    struct entry *b2 = rs->buckets[second_bucket(tag, rs->nbuckets)];
    size_t free1 = 0, free2 = 0, at1 = 0, at2 = 0;
    enum sf_replay_verdict v = SF_REPLAY_FRESH;
    sf_mutex_lock(&rs->lock);
    bool seen = look(b1, tag, now_s, &free1, &at1) || look(b2, tag, now_s, &free2, &at2);
    if (seen) {
        v = SF_REPLAY_SEEN;
    } else if (free1 == 0 && free2 == 0) {
        v = SF_REPLAY_FULL; /* forgetting a live one would let it be replayed */
    } else {
        struct entry *e = free1 >= free2 ? &b1[at1] : &b2[at2];
        *e = (struct entry){tag, until_s > 0 ? until_s : 1};
    }
    sf_mutex_unlock(&rs->lock);
    return v;
}
