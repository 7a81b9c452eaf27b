/* table: see table.h. */
#include "table.h"

#include "metrics.h"
#include "singleflight.h"
#include "siphash.h"

#include <stdlib.h>
#include <string.h>

/* Whether e is an object (a flight, a stored response, or unlisted), not a marker. */
static bool is_object(const struct sf_entry *e)
{
    return e->role == SF_ENTRY_FLIGHT || e->role == SF_ENTRY_RESPONSE ||
           e->role == SF_ENTRY_UNLISTED;
}

struct sf_obj *sf_table_obj(struct sf_entry *e)
{
    SF_ASSERT(is_object(e));
    struct sf_obj *o = (struct sf_obj *)(void *)((char *)e - offsetof(struct sf_obj, entry));
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    return o;
}

struct marker *sf_table_marker(struct sf_entry *e)
{
    SF_ASSERT(e->role == SF_ENTRY_PASS || e->role == SF_ENTRY_VARY || e->role == SF_ENTRY_SLICED);
    return (struct marker *)(void *)e;
}

static struct marker *marker_of_pass(struct pass_link *l)
{
    return (struct marker *)(void *)((char *)l - offsetof(struct marker, pass));
}

/* Clients choose the URLs hashed; an unkeyed hash would let them make thousands collide
 * into one chain, walked under the lock every worker needs (hash flooding). */
uint64_t sf_table_hash_bytes(const char *s, size_t len)
{
    uint64_t h = sf_keyed_hash(s, len);
    return h != 0 ? h : 1; /* what the eviction node keeps (evict.h), which list reuses */
}

static uint64_t hash_key(const char *key)
{
    return sf_table_hash_bytes(key, strlen(key));
}

/* A key is a URL, then "\n" and credential and variant parts (sf_policy_key). */
static size_t url_length(const char *key)
{
    return strcspn(key, "\n");
}

/* A listed entry's hashes, kept in its eviction node since sf_table_list (so computed once
 * a listing, not at each step: about 330 instructions each). A key without credential or
 * variant parts is its URL: one hash for both. */
static uint64_t entry_hash(const struct sf_entry *e)
{
    return e->ev.hash;
}

static uint64_t entry_url_hash(const struct sf_entry *e)
{
    size_t url_len = url_length(e->key);
    return e->key[url_len] == '\0' ? e->ev.hash : sf_table_hash_bytes(e->key, url_len);
}

size_t sf_table_entry_share(void)
{
    /* The table doubles when it has as many entries as buckets: an entry's share of the
     * two arrays is between 2 and 4 pointers, 3 on average. */
    return 3 * sizeof(struct sf_entry *);
}

void sf_table_init(struct sf_table *t, uint64_t max_bytes)
{
    sf_mutex_init(&t->lock);
    t->nbuckets = 1024;
    t->buckets = sf_xcalloc(t->nbuckets, sizeof *t->buckets);
    t->by_url = sf_xcalloc(t->nbuckets, sizeof *t->by_url);
    sf_evict_init(&t->evict);
    t->pass.next = t->pass.prev = &t->pass;
    atomic_init(&t->next_expiry_ms, UINT64_MAX);
    t->max_bytes = max_bytes;
    sf_varindex_init(&t->variants, SF_VARINDEX_DEFAULT_MAX);
}

void sf_table_fini(struct sf_table *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        while (t->buckets[i] != NULL) {
            sf_mutex_lock(&t->lock);
            struct sf_entry *e = sf_table_unlist(t, &t->buckets[i]);
            sf_mutex_unlock(&t->lock);
            sf_table_release(e);
        }
    }
    sf_varindex_clear(&t->variants);
    sf_evict_fini(&t->evict);
    free(t->buckets);
    free(t->by_url);
    sf_mutex_destroy(&t->lock);
}

struct sf_entry **sf_table_slot(struct sf_table *t, const char *key)
{
    sf_mutex_assert_held(&t->lock);
    struct sf_entry **pp = &t->buckets[hash_key(key) & (t->nbuckets - 1)];
    while (*pp != NULL && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->hnext;
    return pp;
}

struct sf_entry **sf_table_slot_of(struct sf_table *t, const struct sf_entry *e)
{
    sf_mutex_assert_held(&t->lock);
    struct sf_entry **pp = &t->buckets[entry_hash(e) & (t->nbuckets - 1)];
    while (*pp != e) {
        SF_ASSERT(*pp != NULL); /* e is listed */
        pp = &(*pp)->hnext;
    }
    return pp;
}

size_t sf_table_longest_chain(const struct sf_table *t)
{
    sf_mutex_assert_held(&t->lock);
    size_t longest = 0;
    for (size_t i = 0; i < t->nbuckets; i++) {
        size_t n = 0;
        for (const struct sf_entry *e = t->buckets[i]; e != NULL; e = e->hnext)
            n++;
        longest = n > longest ? n : longest;
    }
    return longest;
}

void sf_table_grow(struct sf_table *t)
{
    size_t n = t->nbuckets * 2;
    struct sf_entry **b = sf_xcalloc(n, sizeof *b), **u = sf_xcalloc(n, sizeof *u);
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (struct sf_entry *e = t->buckets[i], *next; e != NULL; e = next) {
            next = e->hnext;
            size_t j = entry_hash(e) & (n - 1);
            e->hnext = b[j];
            b[j] = e;
        }
        for (struct sf_entry *e = t->by_url[i], *next; e != NULL; e = next) {
            next = e->unext;
            size_t j = entry_url_hash(e) & (n - 1);
            e->unext = u[j];
            u[j] = e;
        }
    }
    free(t->buckets);
    free(t->by_url);
    t->buckets = b;
    t->by_url = u;
    t->nbuckets = n;
}

/* A hit: the policy counts it (no list move, evict.h); a variant also moves to the front
 * of its URL's (varindex.h). */
void sf_table_touch(struct sf_table *t, struct sf_entry *e)
{
    sf_mutex_assert_held(&t->lock); /* the count below is no atomic */
    sf_evict_hit(&e->ev);
    sf_varindex_touch(&t->variants, e);
}

/* Table lock held. Publishes when the oldest hit-for-pass marker expires. */
void sf_table_note_expiry(struct sf_table *t)
{
    sf_mutex_assert_held(&t->lock);
    struct pass_link *oldest = t->pass.next;
    atomic_store(&t->next_expiry_ms,
                 oldest != &t->pass ? marker_of_pass(oldest)->expires_ms : UINT64_MAX);
}

/* Table lock held. Counts e, now charged and in the policy, as what its role says. */
void sf_table_charge(struct sf_table *t, struct sf_entry *e, size_t bytes)
{
    sf_mutex_assert_held(&t->lock);
    t->bytes += bytes;
    if (e->role == SF_ENTRY_RESPONSE) {
        t->stored++;
        sf_varindex_add(&t->variants, e, sf_hdrs_get(&sf_table_obj(e)->hdrs, "Content-Language"));
    } else if (e->role == SF_ENTRY_VARY)
        t->markers++;
    else if (e->role == SF_ENTRY_PASS)
        t->pass_markers++;
    else if (e->role == SF_ENTRY_SLICED)
        t->sliced_markers++;
    sf_evict_insert(&t->evict, &e->ev, entry_hash(e), bytes); /* charged once: asserted */
}

/* Removes the entry at *pp from the table. Returns it, for the caller to release after
 * unlocking (release: the last unref frees, and freeing is not table work). An object's
 * role becomes UNLISTED; a marker keeps its role until it is freed. */
struct sf_entry *sf_table_unlist(struct sf_table *t, struct sf_entry **pp)
{
    sf_mutex_assert_held(&t->lock);
    struct sf_entry *e = *pp;
    *pp = e->hnext;
    e->hnext = NULL;
    struct sf_entry **up = &t->by_url[entry_url_hash(e) & (t->nbuckets - 1)];
    while (*up != e)
        up = &(*up)->unext;
    *up = e->unext;
    e->unext = NULL;
    sf_varindex_remove(&t->variants, e);
    t->count--;
    switch (e->role) {
    case SF_ENTRY_FLIGHT: t->flights--; break;
    case SF_ENTRY_RESPONSE: t->stored--; break;
    case SF_ENTRY_VARY: t->markers--; break;
    case SF_ENTRY_SLICED: t->sliced_markers--; break;
    case SF_ENTRY_PASS: {
        struct marker *m = sf_table_marker(e);
        m->pass.prev->next = m->pass.next;
        m->pass.next->prev = m->pass.prev;
        t->pass_markers--;
        sf_table_note_expiry(t);
        break;
    }
    case SF_ENTRY_UNLISTED: SF_ASSERT(!"an unlisted entry in the table");
    }
    if (e->role != SF_ENTRY_FLIGHT) {
        t->bytes -= e->ev.charge;
        if (e->role == SF_ENTRY_RESPONSE) /* (the ghost keeps a refreshed key's standing) */
            sf_evict_retire(&t->evict, &e->ev);
        else
            sf_evict_remove(&t->evict, &e->ev); /* asserts it was in */
    }
    if (is_object(e))
        e->role = SF_ENTRY_UNLISTED;
    return e;
}

/* Lets go of what sf_table_unlist returned (NULL is fine); no table lock held. */
void sf_table_release(struct sf_entry *e)
{
    if (e == NULL)
        return;
    if (is_object(e)) {
        sf_obj_unref(sf_table_obj(e)); /* the table's reference */
        return;
    }
    struct marker *m = sf_table_marker(e);
    free(m->vary_names);
    sf_slice_ref_clear(&m->slice);
    free(m);
}

/* Table lock held. Lists e with role under its key (an object's own; whose slot is pp). */
void sf_table_list(struct sf_table *t, struct sf_entry **pp, struct sf_entry *e,
                   enum sf_entry_role role)
{
    sf_mutex_assert_held(&t->lock);
    e->role = role;
    if (is_object(e))
        e->key = sf_table_obj(e)->key;
    e->hnext = *pp;
    *pp = e;
    e->ev.hash = hash_key(e->key);
    struct sf_entry **up = &t->by_url[entry_url_hash(e) & (t->nbuckets - 1)];
    e->unext = *up;
    *up = e;
    t->count++;
    if (role == SF_ENTRY_FLIGHT)
        t->flights++;
}

/* Table lock held. Lists a new marker under key, charged like a small response; the
 * table may grow first. */
struct marker *sf_table_list_marker(struct sf_table *t, const char *key, enum sf_entry_role role)
{
    sf_mutex_assert_held(&t->lock);
    if (t->count >= t->nbuckets)
        sf_table_grow(t);
    size_t key_len = strlen(key);
    struct marker *m = sf_xcalloc(1, sizeof *m + key_len + 1);
    memcpy(m->key, key, key_len + 1);
    m->e.key = m->key;
    sf_table_list(t, sf_table_slot(t, key), &m->e, role);
    return m;
}

/* Evicts what the policy picks until bytes fit; collects what to release in *drop. */
static size_t evict_to_fit(struct sf_table *t, struct sf_entry **drop, size_t max_drop)
{
    sf_mutex_assert_held(&t->lock);
    size_t n = 0;
    struct sf_entry *extra;
    while (n < max_drop && (extra = sf_varindex_over(&t->variants)) != NULL) {
        drop[n++] = sf_table_unlist(t, sf_table_slot(t, extra->key)); /* cache.max_variants */
        sf_varindex_evicted(&t->variants);
    }
    while (t->bytes > t->max_bytes && n < max_drop) {
        struct sf_evict_node *v = sf_evict_victim(&t->evict, t->max_bytes);
        if (v == NULL)
            break;
        struct sf_entry *victim =
            (struct sf_entry *)(void *)((char *)v - offsetof(struct sf_entry, ev));
        drop[n++] = sf_table_unlist(t, sf_table_slot(t, victim->key)); /* leaves the policy */
        t->evictions++;
    }
    SF_DEBUG_ASSERT(t->evict.small_bytes + t->evict.main_bytes == t->bytes);
    return n;
}

/* Table lock held (dropped and taken again meanwhile). Evicts until the charged bytes fit,
 * releasing what was evicted outside the lock. */
void sf_table_fit(struct sf_table *t)
{
    sf_mutex_assert_held(&t->lock);
    struct sf_entry *drop[64];
    size_t ndrop;
    do {
        ndrop = evict_to_fit(t, drop, 64);
        sf_mutex_unlock(&t->lock);
        for (size_t i = 0; i < ndrop; i++)
            sf_table_release(drop[i]);
        sf_mutex_lock(&t->lock);
    } while (ndrop == 64);
}

size_t sf_table_unlist_expired(struct sf_table *t, uint64_t now_ms, struct sf_entry **drop,
                               size_t max_drop)
{
    sf_mutex_assert_held(&t->lock);
    size_t n = 0;
    while (n < max_drop && t->pass.next != &t->pass &&
           marker_of_pass(t->pass.next)->expires_ms <= now_ms)
        drop[n++] = sf_table_unlist(t, sf_table_slot_of(t, &marker_of_pass(t->pass.next)->e));
    return n;
}
