/* diskurls: see diskurls.h. Open addressing with linear probing and backward-shift
 * deletion, as diskindex.c: a slot whose count is 0 is empty, and every hash held is
 * reachable from its home slot without crossing an empty one. */
#include "diskurls.h"

#include "base.h"
#include "siphash.h"

#include <stdlib.h>
#include <string.h>

#define SF_DISKURLS_MAGIC 0x5fd1a7e1u
#define MIN_SLOTS 64

struct slot {
    uint32_t url;
    uint32_t n; /* holders; 0: the slot is empty */
};

struct sf_diskurls {
    unsigned magic;     /* SF_DISKURLS_MAGIC */
    struct slot *slots; /* nslots of them */
    size_t nslots;      /* a power of two */
    size_t used;        /* slots holding a hash */
};

uint32_t sf_diskurls_hash(const uint8_t hash_key[16], const void *key, size_t key_len)
{
    const char *nl = memchr(key, '\n', key_len);
    size_t len = nl != NULL ? (size_t)(nl - (const char *)key) : key_len;
    return (uint32_t)sf_siphash(hash_key, key, len);
}

/* The slots a table needs to hold n hashes at most three quarters full. */
static size_t slots_for(size_t n)
{
    size_t s = MIN_SLOTS;
    while (s / 4 * 3 < n)
        s *= 2;
    return s;
}

static size_t home(size_t nslots, uint32_t url)
{
    return (size_t)(sf_mix64(url) & (nslots - 1));
}

struct sf_diskurls *sf_diskurls_new(size_t n)
{
    size_t nslots = slots_for(n);
    struct slot *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return NULL;
    struct sf_diskurls *u = sf_xcalloc(1, sizeof *u);
    u->magic = SF_DISKURLS_MAGIC;
    u->slots = slots;
    u->nslots = nslots;
    return u;
}

void sf_diskurls_free(struct sf_diskurls *u)
{
    if (u == NULL)
        return;
    SF_CHECK_OBJ(u, SF_DISKURLS_MAGIC);
    free(u->slots);
    u->magic = 0;
    free(u);
}

/* The slot holding url, or the empty slot ending its run. */
static size_t find(const struct sf_diskurls *u, uint32_t url)
{
    size_t i = home(u->nslots, url);
    while (u->slots[i].n != 0 && u->slots[i].url != url)
        i = (i + 1) & (u->nslots - 1);
    return i;
}

static bool grow(struct sf_diskurls *u)
{
    size_t n = u->nslots * 2;
    struct slot *slots = calloc(n, sizeof *slots);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < u->nslots; i++) {
        if (u->slots[i].n == 0)
            continue;
        size_t j = home(n, u->slots[i].url);
        while (slots[j].n != 0)
            j = (j + 1) & (n - 1);
        slots[j] = u->slots[i];
    }
    free(u->slots);
    u->slots = slots;
    u->nslots = n;
    return true;
}

bool sf_diskurls_add(struct sf_diskurls *u, uint32_t url)
{
    SF_CHECK_OBJ(u, SF_DISKURLS_MAGIC);
    size_t i = find(u, url);
    if (u->slots[i].n != 0) {
        SF_ASSERT(u->slots[i].n < UINT32_MAX); /* holders are index entries: far fewer */
        u->slots[i].n++;
        return true;
    }
    if (u->used + 1 > u->nslots / 4 * 3) {
        if (!grow(u))
            return false;
        i = find(u, url);
    }
    u->slots[i] = (struct slot){url, 1};
    u->used++;
    return true;
}

void sf_diskurls_remove(struct sf_diskurls *u, uint32_t url)
{
    SF_CHECK_OBJ(u, SF_DISKURLS_MAGIC);
    size_t i = find(u, url);
    SF_ASSERT(u->slots[i].n != 0);
    if (--u->slots[i].n != 0)
        return;
    /* Backward shift: each later entry of the run that may move into i does. */
    size_t mask = u->nslots - 1;
    for (size_t j = (i + 1) & mask; u->slots[j].n != 0; j = (j + 1) & mask) {
        size_t k = home(u->nslots, u->slots[j].url);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            u->slots[i] = u->slots[j];
            i = j;
        }
    }
    u->slots[i] = (struct slot){0, 0};
    u->used--;
}

uint32_t sf_diskurls_count(const struct sf_diskurls *u, uint32_t url)
{
    SF_CHECK_OBJ(u, SF_DISKURLS_MAGIC);
    return u->slots[find(u, url)].n;
}

size_t sf_diskurls_size(const struct sf_diskurls *u)
{
    SF_CHECK_OBJ(u, SF_DISKURLS_MAGIC);
    return u->used;
}

size_t sf_diskurls_bytes(const struct sf_diskurls *u)
{
    SF_CHECK_OBJ(u, SF_DISKURLS_MAGIC);
    return sizeof *u + u->nslots * sizeof *u->slots;
}
