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
    return sf_keyed_hash(s, len);
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

static uint64_t hash_url(const char *key)
{
    return sf_table_hash_bytes(key, url_length(key));
}

struct sf_cache *sf_cache_new(uint64_t max_bytes)
{
    struct sf_cache *c = sf_xcalloc(1, sizeof *c);
    sf_mutex_init(&c->lock);
    c->nbuckets = 1024;
    c->buckets = sf_xcalloc(c->nbuckets, sizeof *c->buckets);
    c->by_url = sf_xcalloc(c->nbuckets, sizeof *c->by_url);
    c->lru.lru_next = c->lru.lru_prev = &c->lru;
    c->pass.next = c->pass.prev = &c->pass;
    atomic_init(&c->next_expiry_ms, UINT64_MAX);
    c->max_bytes = max_bytes;
    sf_varindex_init(&c->variants, SF_VARINDEX_DEFAULT_MAX);
    return c;
}

void sf_cache_set_max_variants(struct sf_cache *c, size_t max_variants)
{
    sf_mutex_lock(&c->lock);
    sf_varindex_set_max(&c->variants, max_variants);
    sf_mutex_unlock(&c->lock);
}

void sf_cache_set_max_bytes(struct sf_cache *c, uint64_t max_bytes)
{
    sf_mutex_lock(&c->lock);
    c->max_bytes = max_bytes;
    sf_table_fit(c);
    sf_mutex_unlock(&c->lock);
}

struct sf_entry **sf_table_slot(struct sf_cache *c, const char *key)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_entry **pp = &c->buckets[hash_key(key) & (c->nbuckets - 1)];
    while (*pp != NULL && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->hnext;
    return pp;
}

size_t sf_table_longest_chain(const struct sf_cache *c)
{
    sf_mutex_assert_held(&c->lock);
    size_t longest = 0;
    for (size_t i = 0; i < c->nbuckets; i++) {
        size_t n = 0;
        for (const struct sf_entry *e = c->buckets[i]; e != NULL; e = e->hnext)
            n++;
        longest = n > longest ? n : longest;
    }
    return longest;
}

void sf_table_grow(struct sf_cache *c)
{
    size_t n = c->nbuckets * 2;
    struct sf_entry **b = sf_xcalloc(n, sizeof *b), **u = sf_xcalloc(n, sizeof *u);
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (struct sf_entry *e = c->buckets[i], *next; e != NULL; e = next) {
            next = e->hnext;
            size_t j = hash_key(e->key) & (n - 1);
            e->hnext = b[j];
            b[j] = e;
        }
        for (struct sf_entry *e = c->by_url[i], *next; e != NULL; e = next) {
            next = e->unext;
            size_t j = hash_url(e->key) & (n - 1);
            e->unext = u[j];
            u[j] = e;
        }
    }
    free(c->buckets);
    free(c->by_url);
    c->buckets = b;
    c->by_url = u;
    c->nbuckets = n;
}

static void lru_unlink(struct sf_entry *e)
{
    e->lru_prev->lru_next = e->lru_next;
    e->lru_next->lru_prev = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct sf_cache *c, struct sf_entry *e)
{
    e->lru_next = c->lru.lru_next;
    e->lru_prev = &c->lru;
    c->lru.lru_next->lru_prev = e;
    c->lru.lru_next = e;
}

void sf_table_touch(struct sf_cache *c, struct sf_entry *e)
{
    lru_unlink(e);
    lru_push_front(c, e);
    sf_varindex_touch(&c->variants, e);
}

/* Table lock held. Publishes when the oldest hit-for-pass marker expires. */
void sf_table_note_expiry(struct sf_cache *c)
{
    sf_mutex_assert_held(&c->lock);
    struct pass_link *oldest = c->pass.next;
    atomic_store(&c->next_expiry_ms,
                 oldest != &c->pass ? marker_of_pass(oldest)->expires_ms : UINT64_MAX);
}

/* Table lock held. Counts e, now charged and on the LRU, as what its role says. */
void sf_table_charge(struct sf_cache *c, struct sf_entry *e, size_t bytes)
{
    sf_mutex_assert_held(&c->lock);
    e->charge = bytes;
    c->bytes += bytes;
    if (e->role == SF_ENTRY_RESPONSE) {
        c->stored++;
        sf_varindex_add(&c->variants, e, sf_hdrs_get(&sf_table_obj(e)->hdrs, "Content-Language"));
    } else if (e->role == SF_ENTRY_VARY)
        c->markers++;
    else if (e->role == SF_ENTRY_PASS)
        c->pass_markers++;
    else if (e->role == SF_ENTRY_SLICED)
        c->sliced_markers++;
    lru_push_front(c, e);
}

/* Removes the entry at *pp from the table. Returns it, for the caller to release after
 * unlocking (release: the last unref frees, and freeing is not table work). An object's
 * role becomes UNLISTED; a marker keeps its role until it is freed. */
struct sf_entry *sf_table_unlist(struct sf_cache *c, struct sf_entry **pp)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_entry *e = *pp;
    *pp = e->hnext;
    e->hnext = NULL;
    struct sf_entry **up = &c->by_url[hash_url(e->key) & (c->nbuckets - 1)];
    while (*up != e)
        up = &(*up)->unext;
    *up = e->unext;
    e->unext = NULL;
    sf_varindex_remove(&c->variants, e);
    c->count--;
    switch (e->role) {
    case SF_ENTRY_FLIGHT: c->flights--; break;
    case SF_ENTRY_RESPONSE: c->stored--; break;
    case SF_ENTRY_VARY: c->markers--; break;
    case SF_ENTRY_SLICED: c->sliced_markers--; break;
    case SF_ENTRY_PASS: {
        struct marker *m = sf_table_marker(e);
        m->pass.prev->next = m->pass.next;
        m->pass.next->prev = m->pass.prev;
        c->pass_markers--;
        sf_table_note_expiry(c);
        break;
    }
    case SF_ENTRY_UNLISTED: SF_ASSERT(!"an unlisted entry in the table");
    }
    if (e->role != SF_ENTRY_FLIGHT) {
        lru_unlink(e);
        c->bytes -= e->charge;
    }
    if (is_object(e))
        e->role = SF_ENTRY_UNLISTED;
    return e;
}

/* Lets go of what unlist_at returned (NULL is fine); no table lock held. */
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
void sf_table_list(struct sf_cache *c, struct sf_entry **pp, struct sf_entry *e,
                   enum sf_entry_role role)
{
    sf_mutex_assert_held(&c->lock);
    e->role = role;
    if (is_object(e))
        e->key = sf_table_obj(e)->key;
    e->hnext = *pp;
    *pp = e;
    struct sf_entry **up = &c->by_url[hash_url(e->key) & (c->nbuckets - 1)];
    e->unext = *up;
    *up = e;
    c->count++;
    if (role == SF_ENTRY_FLIGHT)
        c->flights++;
}

/* Table lock held. Lists a new marker under key, charged like a small response; the
 * table may grow first. */
struct marker *sf_table_list_marker(struct sf_cache *c, const char *key, enum sf_entry_role role)
{
    sf_mutex_assert_held(&c->lock);
    if (c->count >= c->nbuckets)
        sf_table_grow(c);
    size_t key_len = strlen(key);
    struct marker *m = sf_xcalloc(1, sizeof *m + key_len + 1);
    memcpy(m->key, key, key_len + 1);
    m->e.key = m->key;
    sf_table_list(c, sf_table_slot(c, key), &m->e, role);
    return m;
}

/* Evicts from the LRU tail until bytes fit; collects what to release in *drop. */
static size_t evict_to_fit(struct sf_cache *c, struct sf_entry **drop, size_t max_drop)
{
    sf_mutex_assert_held(&c->lock);
    size_t n = 0;
    struct sf_entry *extra;
    while (n < max_drop && (extra = sf_varindex_over(&c->variants)) != NULL) {
        drop[n++] = sf_table_unlist(c, sf_table_slot(c, extra->key)); /* cache.max_variants */
        sf_varindex_evicted(&c->variants);
    }
    while (c->bytes > c->max_bytes && c->lru.lru_prev != &c->lru && n < max_drop) {
        struct sf_entry *victim = c->lru.lru_prev;
        drop[n++] = sf_table_unlist(c, sf_table_slot(c, victim->key));
        c->evictions++;
    }
    return n;
}

/* Table lock held (dropped and taken again meanwhile). Evicts until the charged bytes fit,
 * releasing what was evicted outside the lock. */
void sf_table_fit(struct sf_cache *c)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_entry *drop[64];
    size_t ndrop;
    do {
        ndrop = evict_to_fit(c, drop, 64);
        sf_mutex_unlock(&c->lock);
        for (size_t i = 0; i < ndrop; i++)
            sf_table_release(drop[i]);
        sf_mutex_lock(&c->lock);
    } while (ndrop == 64);
}

void sf_cache_expire(struct sf_cache *c, uint64_t now_ms)
{
    if (atomic_load_explicit(&c->next_expiry_ms, memory_order_relaxed) > now_ms)
        return; /* the common case: nothing due, no lock */
    struct sf_entry *drop[64];
    size_t n = 0;
    sf_mutex_lock(&c->lock);
    while (n < 64 && c->pass.next != &c->pass && marker_of_pass(c->pass.next)->expires_ms <= now_ms)
        drop[n++] = sf_table_unlist(c, sf_table_slot(c, marker_of_pass(c->pass.next)->key));
    sf_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n; i++)
        sf_table_release(drop[i]);
}

void sf_cache_get_stats(struct sf_cache *c, struct sf_cache_stats *st)
{
    sf_mutex_lock(&c->lock);
    st->objects = c->stored;
    st->vary_markers = c->markers;
    st->pass_markers = c->pass_markers;
    st->sliced = c->sliced_markers;
    st->bytes = c->bytes;
    st->flights = c->flights;
    st->evictions = c->evictions;
    st->variants = c->variants.variants;
    st->variant_evictions = c->variants.evictions;
    sf_mutex_unlock(&c->lock);
}

void sf_cache_free(struct sf_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        while (c->buckets[i] != NULL) {
            sf_mutex_lock(&c->lock);
            struct sf_entry *e = sf_table_unlist(c, &c->buckets[i]);
            sf_mutex_unlock(&c->lock);
            sf_table_release(e);
        }
    }
    sf_varindex_clear(&c->variants);
    free(c->buckets);
    free(c->by_url);
    sf_mutex_destroy(&c->lock);
    free(c);
}
