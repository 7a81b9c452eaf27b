/* cache: see cache.h.
 *
 * A chained hash table (FNV-1a, doubling at load 1) holds one reference on every listed
 * object; a second chaining of the same objects by the URL part of their keys lets a purge
 * or an invalidation of one URL visit only that URL's objects (credentials, variants).
 * Stored objects are also on an LRU list: a hit moves the object to the front, and storing
 * evicts from the back until the charged bytes fit. An object is charged its segments, its
 * header fields and its key. Expired objects are replaced by the next lookup, and evicted
 * by size like the rest. Where responses vary (RFC 9111 §4.1), a marker under the URL's
 * key names the request fields, and each variant is listed under the key plus what its
 * request's values of them were; markers are charged and evicted like responses.
 * Hit-for-pass markers (one user's response was here) are charged and on the LRU too, and
 * also on a list of their own, oldest first: they all live cache.hit_for_pass, so the
 * list is in expiry order and sf_cache_expire frees them from its head. Whatever an
 * attacker makes the origin answer, markers stay within cache.max_bytes. */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

/* A hit-for-pass marker's place on the list of them, oldest first. */
struct pass_link {
    struct pass_link *prev, *next;
};

/* cache.c's own entries: no mutex, no segments; owned by the table. */
struct marker {
    struct sf_entry e;     /* role SF_ENTRY_PASS or SF_ENTRY_VARY */
    struct pass_link pass; /* PASS: on the table's list of them */
    uint64_t expires_ms;   /* PASS: monotonic end */
    char *vary_names;      /* VARY: what the key's responses vary on */
    char key[];
};

struct sf_cache {
    struct sf_mutex lock;
    struct sf_entry **buckets; /* (L) */
    struct sf_entry **by_url;  /* (L) the same entries by the URL part of their keys */
    size_t nbuckets, count;    /* (L) */
    struct sf_entry lru;       /* (L) sentinel: lru.lru_next is the most recent */
    uint64_t max_bytes;        /* (C) */
    uint64_t bytes;            /* (L) */
    uint64_t stored, markers, flights, evictions; /* (L) */
    uint64_t pass_markers;                        /* (L) */
    struct pass_link pass; /* (L) sentinel of the hit-for-pass markers, oldest first */
    atomic_uint_fast64_t next_expiry_ms; /* the oldest marker's expiry; UINT64_MAX: none */
};

static bool is_object(const struct sf_entry *e)
{
    return e->role == SF_ENTRY_FLIGHT || e->role == SF_ENTRY_RESPONSE ||
           e->role == SF_ENTRY_UNLISTED;
}

static struct sf_obj *obj_of(struct sf_entry *e)
{
    SF_ASSERT(is_object(e));
    struct sf_obj *o = (struct sf_obj *)(void *)((char *)e - offsetof(struct sf_obj, entry));
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    return o;
}

static struct marker *marker_of(struct sf_entry *e)
{
    SF_ASSERT(e->role == SF_ENTRY_PASS || e->role == SF_ENTRY_VARY);
    return (struct marker *)(void *)e;
}

static struct marker *marker_of_pass(struct pass_link *l)
{
    return (struct marker *)(void *)((char *)l - offsetof(struct marker, pass));
}

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t hash_key(const char *key)
{
    return hash_bytes(key, strlen(key));
}

/* A key is a URL, then "\n" and credential and variant parts (sf_policy_key). */
static size_t url_length(const char *key)
{
    return strcspn(key, "\n");
}

static uint64_t hash_url(const char *key)
{
    return hash_bytes(key, url_length(key));
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
    return c;
}

static struct sf_entry **slot_of(struct sf_cache *c, const char *key)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_entry **pp = &c->buckets[hash_key(key) & (c->nbuckets - 1)];
    while (*pp != NULL && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->hnext;
    return pp;
}

static void grow(struct sf_cache *c)
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

static void lru_touch(struct sf_cache *c, struct sf_entry *e)
{
    lru_unlink(e);
    lru_push_front(c, e);
}

/* Table lock held. Publishes when the oldest hit-for-pass marker expires. */
static void note_next_expiry(struct sf_cache *c)
{
    sf_mutex_assert_held(&c->lock);
    struct pass_link *oldest = c->pass.next;
    atomic_store(&c->next_expiry_ms,
                 oldest != &c->pass ? marker_of_pass(oldest)->expires_ms : UINT64_MAX);
}

/* Table lock held. Counts e, now charged and on the LRU, as what its role says. */
static void charge(struct sf_cache *c, struct sf_entry *e, size_t bytes)
{
    sf_mutex_assert_held(&c->lock);
    e->charge = bytes;
    c->bytes += bytes;
    if (e->role == SF_ENTRY_RESPONSE)
        c->stored++;
    else if (e->role == SF_ENTRY_VARY)
        c->markers++;
    else if (e->role == SF_ENTRY_PASS)
        c->pass_markers++;
    lru_push_front(c, e);
}

/* Removes the entry at *pp from the table. Returns it, for the caller to release after
 * unlocking (release: the last unref frees, and freeing is not table work). An object's
 * role becomes UNLISTED; a marker keeps its role until it is freed. */
static struct sf_entry *unlist_at(struct sf_cache *c, struct sf_entry **pp)
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
    c->count--;
    switch (e->role) {
    case SF_ENTRY_FLIGHT: c->flights--; break;
    case SF_ENTRY_RESPONSE: c->stored--; break;
    case SF_ENTRY_VARY: c->markers--; break;
    case SF_ENTRY_PASS: {
        struct marker *m = marker_of(e);
        m->pass.prev->next = m->pass.next;
        m->pass.next->prev = m->pass.prev;
        c->pass_markers--;
        note_next_expiry(c);
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
static void release(struct sf_entry *e)
{
    if (e == NULL)
        return;
    if (is_object(e)) {
        sf_obj_unref(obj_of(e)); /* the table's reference */
        return;
    }
    struct marker *m = marker_of(e);
    free(m->vary_names);
    free(m);
}

/* Table lock held. Lists e with role under its key (an object's own; whose slot is pp). */
static void list_at(struct sf_cache *c, struct sf_entry **pp, struct sf_entry *e,
                    enum sf_entry_role role)
{
    sf_mutex_assert_held(&c->lock);
    e->role = role;
    if (is_object(e))
        e->key = obj_of(e)->key;
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
static struct marker *list_marker(struct sf_cache *c, const char *key, enum sf_entry_role role)
{
    sf_mutex_assert_held(&c->lock);
    if (c->count >= c->nbuckets)
        grow(c);
    size_t key_len = strlen(key);
    struct marker *m = sf_xcalloc(1, sizeof *m + key_len + 1);
    memcpy(m->key, key, key_len + 1);
    m->e.key = m->key;
    list_at(c, slot_of(c, key), &m->e, role);
    return m;
}

/* Table lock held. The stored response's age now, in whole seconds (§4.2.3). */
static int64_t age_now(const struct sf_cache *c, const struct sf_obj *o, uint64_t now_ms)
{
    sf_mutex_assert_held(&c->lock);
    return o->verdict.age_s + (int64_t)((now_ms - o->entry.stored_ms) / 1000);
}

/* Table lock held. Whether stale, a response that was stored, may be served while it is
 * revalidated (RFC 5861 §3) to a request with directives d: within its
 * window, never past must-revalidate or an invalidation, and only if d does not limit
 * staleness (sf_policy_stale_allowed). */
static bool while_revalidate_ok(const struct sf_cache *c, const struct sf_obj *stale,
                                const struct sf_req_directives *d, uint64_t now_ms)
{
    const struct sf_verdict *v = &stale->verdict;
    int64_t age = age_now(c, stale, now_ms);
    return !stale->entry.invalidated &&
           sf_policy_within_stale_window(v, age, v->stale_while_revalidate_s) &&
           sf_policy_stale_allowed(d, v, age);
}

/* Table lock held. Hands back the stale response a flight held for revalidation. */
static struct sf_obj *take_stale(const struct sf_cache *c, struct sf_obj *o)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_obj *stale = o->stale;
    o->stale = NULL;
    return stale;
}

/* Table lock held. Whether a flight has already failed (lock order: table -> object). */
static bool flight_failed(const struct sf_cache *c, struct sf_obj *o)
{
    sf_mutex_assert_held(&c->lock);
    sf_obj_lock(o);
    bool failed = o->state == SF_OBJ_FAILED;
    sf_obj_unlock(o);
    return failed;
}

/* Table lock held. A new flight listed under key; the table may grow first. */
static struct sf_obj *list_flight(struct sf_cache *c, const char *key)
{
    sf_mutex_assert_held(&c->lock);
    if (c->count >= c->nbuckets)
        grow(c);
    struct sf_obj *o = sf_obj_new(key);
    list_at(c, slot_of(c, key), &o->entry, SF_ENTRY_FLIGHT);
    return o;
}

/* Table lock held. sf_cache_lookup for one key, listed at *pp (or not); *old receives
 * what the caller releases after unlocking. */
static enum sf_lookup lookup_key(struct sf_cache *c, const char *key, struct sf_entry **pp,
                                 uint64_t now_ms, const struct sf_req_directives *d,
                                 struct sf_obj **out, struct sf_obj **refresh,
                                 struct sf_entry **old)
{
    sf_mutex_assert_held(&c->lock);
    static const struct sf_req_directives none = {false, false, false, -1, -1, -1};
    if (d == NULL)
        d = &none;
    /* XXX: an object stays stored (charged and on the LRU) until it is evicted or a lookup
     * replaces it; expiry does not free memory by itself. */
    struct sf_entry *e = *pp;
    enum sf_entry_role role = e != NULL ? e->role : SF_ENTRY_UNLISTED;
    struct sf_obj *o = e != NULL && is_object(e) ? obj_of(e) : NULL;
    bool shared_fetch_ok = !d->only_if_cached && !d->no_store;
    if (role == SF_ENTRY_RESPONSE && !e->invalidated &&
        sf_policy_acceptable(&o->verdict, age_now(c, o, now_ms), d)) {
        lru_touch(c, e);
        *out = sf_obj_ref(o);
        return SF_LOOKUP_HIT;
    }
    if (!shared_fetch_ok) {
        *out = NULL;
        return SF_LOOKUP_NONE;
    }
    if (role == SF_ENTRY_PASS && marker_of(e)->expires_ms > now_ms) {
        *out = NULL;
        return SF_LOOKUP_PASS;
    }
    if (role == SF_ENTRY_FLIGHT && o->stale != NULL && refresh != NULL &&
        while_revalidate_ok(c, o->stale, d, now_ms)) {
        *out = sf_obj_ref(o->stale); /* its refresh is already on its way */
        return SF_LOOKUP_STALE;
    }
    if (role == SF_ENTRY_FLIGHT && !flight_failed(c, o)) {
        *out = sf_obj_ref(o);
        return SF_LOOKUP_JOIN;
    }
    /* A flight that failed before this request arrived (its fetcher has woken its clients
     * and not yet unlisted it) is not this request's failure: a new flight replaces it,
     * and takes over the expired response it was revalidating. */
    struct sf_obj *stale = role == SF_ENTRY_FLIGHT ? take_stale(c, o) : NULL;
    bool serve_stale =
        role == SF_ENTRY_RESPONSE && refresh != NULL && while_revalidate_ok(c, o, d, now_ms);
    if (e != NULL)
        *old = unlist_at(c, pp); /* a response not acceptable any more, or a marker */
    if (role == SF_ENTRY_RESPONSE) {
        stale = o; /* the table's reference: the new flight may revalidate it */
        *old = NULL;
    }
    struct sf_obj *flight = list_flight(c, key);
    flight->stale = stale;
    if (!serve_stale) {
        *out = sf_obj_ref(flight);
        return SF_LOOKUP_MISS;
    }
    *out = sf_obj_ref(stale);
    *refresh = sf_obj_ref(flight);
    return SF_LOOKUP_STALE;
}

/* key followed by variant. Caller frees. */
static char *variant_key(const char *key, size_t key_len, const char *variant)
{
    char *out = sf_xmalloc(key_len + strlen(variant) + 1);
    memcpy(out, key, key_len);
    strcpy(out + key_len, variant);
    return out;
}

/* Table lock held on entry and on return, dropped meanwhile to read the request's fields:
 * where responses for q's key vary, the key of the variant q selects (caller frees);
 * else NULL: q's key itself. Sets *pp to the slot of the key to look up. */
static char *select_variant(struct sf_cache *c, const struct sf_query *q, struct sf_entry ***pp)
{
    sf_mutex_assert_held(&c->lock);
    *pp = slot_of(c, q->key);
    struct sf_entry *e = **pp;
    if (e == NULL || e->role != SF_ENTRY_VARY || q->fields == NULL)
        return NULL;
    char *names = sf_xstrdup(marker_of(e)->vary_names);
    lru_touch(c, e);
    sf_mutex_unlock(&c->lock);
    char *variant = sf_policy_variant(names, q->fields);
    char *vkey = variant_key(q->key, strlen(q->key), variant);
    free(variant);
    free(names);
    sf_mutex_lock(&c->lock);
    *pp = slot_of(c, vkey); /* after relocking: the table may have grown meanwhile */
    return vkey;
}

enum sf_lookup sf_cache_lookup(struct sf_cache *c, const struct sf_query *q, uint64_t now_ms,
                               struct sf_obj **out, struct sf_obj **refresh)
{
    struct sf_entry *old = NULL;
    if (refresh != NULL)
        *refresh = NULL;
    sf_mutex_lock(&c->lock);
    struct sf_entry **pp;
    char *vkey = select_variant(c, q, &pp);
    enum sf_lookup kind =
        lookup_key(c, vkey ? vkey : q->key, pp, now_ms, q->directives, out, refresh, &old);
    sf_mutex_unlock(&c->lock);
    release(old);
    free(vkey);
    return kind;
}

struct sf_obj *sf_cache_stored(struct sf_cache *c, const struct sf_query *q)
{
    sf_mutex_lock(&c->lock);
    struct sf_entry **pp;
    char *vkey = select_variant(c, q, &pp);
    struct sf_entry *e = *pp;
    struct sf_obj *o = e != NULL && e->role == SF_ENTRY_RESPONSE ? sf_obj_ref(obj_of(e)) : NULL;
    sf_mutex_unlock(&c->lock);
    free(vkey);
    return o;
}

bool sf_cache_replace(struct sf_cache *c, struct sf_obj *old, struct sf_obj *o)
{
    SF_CHECK_OBJ(old, SF_OBJ_MAGIC);
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_entry *drop = NULL;
    sf_mutex_lock(&c->lock);
    bool ok = old->entry.role == SF_ENTRY_RESPONSE;
    if (ok) {
        drop = unlist_at(c, slot_of(c, old->key));
        list_at(c, slot_of(c, o->key), &sf_obj_ref(o)->entry, SF_ENTRY_FLIGHT);
    }
    sf_mutex_unlock(&c->lock);
    release(drop);
    return ok;
}

bool sf_cache_put(struct sf_cache *c, struct sf_obj *o)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    SF_ASSERT(o->shared);
    struct sf_entry *drop = NULL;
    sf_mutex_lock(&c->lock);
    struct sf_entry **pp = slot_of(c, o->key);
    bool ok = o->entry.role == SF_ENTRY_UNLISTED && (*pp == NULL || (*pp)->role != SF_ENTRY_FLIGHT);
    if (ok) {
        if (*pp != NULL)
            drop = unlist_at(c, pp);
        if (c->count >= c->nbuckets)
            grow(c);
        list_at(c, slot_of(c, o->key), &sf_obj_ref(o)->entry, SF_ENTRY_FLIGHT);
    }
    sf_mutex_unlock(&c->lock);
    release(drop);
    return ok;
}

void sf_cache_invalidate(struct sf_cache *c, struct sf_obj *o)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    sf_mutex_lock(&c->lock);
    if (o->entry.role == SF_ENTRY_RESPONSE)
        o->entry.invalidated = true;
    sf_mutex_unlock(&c->lock);
}

/* Evicts from the LRU tail until bytes fit; collects what to release in *drop. */
static size_t evict_to_fit(struct sf_cache *c, struct sf_entry **drop, size_t max_drop)
{
    sf_mutex_assert_held(&c->lock);
    size_t n = 0;
    while (c->bytes > c->max_bytes && c->lru.lru_prev != &c->lru && n < max_drop) {
        struct sf_entry *victim = c->lru.lru_prev;
        drop[n++] = unlist_at(c, slot_of(c, victim->key));
        c->evictions++;
    }
    return n;
}

/* Table lock held (dropped and taken again meanwhile). Evicts until the charged bytes fit,
 * releasing what was evicted outside the lock. */
static void fit(struct sf_cache *c)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_entry *drop[64];
    size_t ndrop;
    do {
        ndrop = evict_to_fit(c, drop, 64);
        sf_mutex_unlock(&c->lock);
        for (size_t i = 0; i < ndrop; i++)
            release(drop[i]);
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
        drop[n++] = unlist_at(c, slot_of(c, marker_of_pass(c->pass.next)->key));
    sf_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n; i++)
        release(drop[i]);
}

/* Table lock held. Moves o, listed, to the key want (taken over), in place of what is
 * listed there; false, with o unlisted into *drop_self, when a flight is there already. */
static bool move_to(struct sf_cache *c, struct sf_obj *o, char *want, struct sf_entry **drop_other,
                    struct sf_entry **drop_self)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_entry **pp = slot_of(c, want);
    if (*pp != NULL && (*pp)->role == SF_ENTRY_FLIGHT) {
        *drop_self = unlist_at(c, slot_of(c, o->key)); /* that variant has its own flight */
        free(want);
        return false;
    }
    if (*pp != NULL)
        *drop_other = unlist_at(c, pp);                       /* an older response, or a marker */
    struct sf_entry *self = unlist_at(c, slot_of(c, o->key)); /* the table's reference */
    free(o->key);
    o->key = want;
    list_at(c, slot_of(c, o->key), self, SF_ENTRY_FLIGHT);
    return true;
}

void sf_cache_settle_variant(struct sf_cache *c, struct sf_obj *o)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    /* The fetcher may read o->key without the table lock: only it changes the key. */
    const char *mark = strstr(o->key, SF_VARIANT_MARK);
    if (mark == NULL && o->variant == NULL)
        return; /* the common case: it does not vary, and is listed under its own key */
    size_t primary_len = mark != NULL ? (size_t)(mark - o->key) : strlen(o->key);
    char *primary = variant_key(o->key, primary_len, "");
    char *want = variant_key(o->key, primary_len, o->variant ? o->variant : "");
    struct sf_entry *drop[3] = {NULL, NULL, NULL};
    sf_mutex_lock(&c->lock);
    bool listed = o->entry.role != SF_ENTRY_UNLISTED;
    if (listed && strcmp(want, o->key) != 0)
        move_to(c, o, want, &drop[0], &drop[1]);
    else
        free(want);
    if (o->vary_names != NULL) {
        struct sf_entry **mp = slot_of(c, primary);
        struct sf_entry *m = *mp;
        /* A flight under the request's key sets the marker itself once it has a head. */
        bool keep = m != NULL &&
                    (m->role == SF_ENTRY_VARY ? strcmp(marker_of(m)->vary_names, o->vary_names) == 0
                                              : m->role == SF_ENTRY_FLIGHT);
        if (!keep && m != NULL)
            drop[2] = unlist_at(c, mp); /* a response that did not vary, or other names */
        if (!keep) {
            struct marker *vm = list_marker(c, primary, SF_ENTRY_VARY);
            vm->vary_names = sf_xstrdup(o->vary_names);
            charge(c, &vm->e, sizeof *vm + strlen(primary) + strlen(o->vary_names));
            fit(c);
        }
    }
    sf_mutex_unlock(&c->lock);
    for (size_t i = 0; i < 3; i++)
        release(drop[i]);
    free(primary);
}

void sf_cache_store(struct sf_cache *c, struct sf_obj *o, uint64_t now_ms)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_entry *too_big = NULL;
    struct sf_obj *stale = NULL;
    sf_obj_lock(o);
    size_t bytes = o->mem_bytes + sf_hdrs_bytes(&o->hdrs) + strlen(o->key) + sizeof *o;
    sf_obj_unlock(o);
    sf_mutex_lock(&c->lock);
    bool flight = o->entry.role == SF_ENTRY_FLIGHT;
    if (o->entry.role != SF_ENTRY_UNLISTED)
        stale = take_stale(c, o);
    if (flight && bytes <= c->max_bytes) {
        c->flights--;
        o->entry.role = SF_ENTRY_RESPONSE;
        o->entry.stored_ms = now_ms;
        charge(c, &o->entry, bytes);
        fit(c);
    } else if (flight) {
        too_big = unlist_at(c, slot_of(c, o->key)); /* larger than the whole cache */
    }
    sf_mutex_unlock(&c->lock);
    release(too_big);
    sf_obj_unref(stale);
}

/* Takes o out of the table if it is listed; with keep_stale, the stored response it was
 * revalidating (o->stale) goes back in its place, stored as before, when its key is free. */
static void unlist(struct sf_cache *c, struct sf_obj *o, bool keep_stale)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_entry *old = NULL;
    struct sf_obj *stale = NULL;
    sf_mutex_lock(&c->lock);
    if (o->entry.role != SF_ENTRY_UNLISTED) {
        stale = take_stale(c, o);
        old = unlist_at(c, slot_of(c, o->key));
        struct sf_entry **pp = keep_stale && stale != NULL ? slot_of(c, stale->key) : NULL;
        if (pp != NULL && *pp == NULL) {
            /* Back where it was, stored as before: charged, on the LRU, as old. */
            list_at(c, pp, &stale->entry, SF_ENTRY_RESPONSE);
            charge(c, &stale->entry, stale->entry.charge);
            stale = NULL; /* the table's reference again */
            fit(c);
        }
    }
    sf_mutex_unlock(&c->lock);
    release(old);
    sf_obj_unref(stale);
}

void sf_cache_unlist(struct sf_cache *c, struct sf_obj *o)
{
    unlist(c, o, false);
}

void sf_cache_unlist_keep_stale(struct sf_cache *c, struct sf_obj *o)
{
    unlist(c, o, true);
}

void sf_cache_mark_pass(struct sf_cache *c, struct sf_obj *o, uint64_t until_ms)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_entry *old = NULL;
    struct sf_obj *stale = NULL;
    sf_mutex_lock(&c->lock);
    if (o->entry.role != SF_ENTRY_UNLISTED) {
        stale = take_stale(c, o);
        old = unlist_at(c, slot_of(c, o->key));
        struct marker *m = list_marker(c, o->key, SF_ENTRY_PASS);
        m->expires_ms = until_ms;
        charge(c, &m->e, sizeof *m + strlen(m->key));
        m->pass.next = &c->pass; /* the newest: markers all live the same time */
        m->pass.prev = c->pass.prev;
        c->pass.prev->next = &m->pass;
        c->pass.prev = &m->pass;
        note_next_expiry(c);
        fit(c);
    }
    sf_mutex_unlock(&c->lock);
    release(old);
    sf_obj_unref(stale);
}

/* Whether a stored object's key names url (exactly, or as a prefix), credentials aside:
 * a key is the URL, then "\n" and credential parts. */
static bool key_matches(const char *key, const char *url, size_t url_len, bool prefix)
{
    if (strncmp(key, url, url_len) != 0)
        return false;
    return prefix || key[url_len] == '\0' || key[url_len] == '\n';
}

static bool tag_matches(struct sf_obj *o, const char *tag_header, const char *tag)
{
    /* Stored objects are complete: their fields no longer change. */
    const char *v = sf_hdrs_get(&o->hdrs, tag_header);
    if (v == NULL)
        return false;
    /* Surrogate keys are separated by spaces; accept commas too. */
    size_t tlen = strlen(tag);
    for (const char *p = v; *p != '\0';) {
        p += strspn(p, " ,\t");
        size_t n = strcspn(p, " ,\t");
        if (n == tlen && strncmp(p, tag, n) == 0)
            return true;
        p += n;
    }
    return false;
}

/* Table lock held. Whether e is a stored response the purge selects. */
static bool purge_selects(const struct sf_cache *c, struct sf_entry *e, const char *url,
                          size_t url_len, bool prefix, const char *tag_header)
{
    sf_mutex_assert_held(&c->lock);
    return e->role == SF_ENTRY_RESPONSE &&
           (tag_header != NULL ? tag_matches(obj_of(e), tag_header, url)
                               : key_matches(e->key, url, url_len, prefix));
}

/* Appends e to *list (of *n, room for *cap). */
static void push(struct sf_entry ***list, size_t *n, size_t *cap, struct sf_entry *e)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *list = sf_xrealloc(*list, *cap * sizeof **list);
    }
    (*list)[(*n)++] = e;
}

size_t sf_cache_purge(struct sf_cache *c, const char *url, bool prefix, bool soft,
                      const char *tag_header)
{
    struct sf_entry **hits = NULL;
    size_t count = 0, cap = 0, url_len = strlen(url);
    sf_mutex_lock(&c->lock);
    if (!prefix && tag_header == NULL) {
        /* One URL: only the chain of the URL index it hashes to. */
        for (struct sf_entry *e = c->by_url[hash_bytes(url, url_len) & (c->nbuckets - 1)];
             e != NULL; e = e->unext)
            if (purge_selects(c, e, url, url_len, false, NULL))
                push(&hits, &count, &cap, e);
    } else {
        for (size_t i = 0; i < c->nbuckets; i++)
            for (struct sf_entry *e = c->buckets[i]; e != NULL; e = e->hnext)
                if (purge_selects(c, e, url, url_len, prefix, tag_header))
                    push(&hits, &count, &cap, e);
    }
    for (size_t i = 0; i < count; i++) {
        if (soft)
            hits[i]->invalidated = true;
        else
            unlist_at(c, slot_of(c, hits[i]->key)); /* released below */
    }
    sf_mutex_unlock(&c->lock);
    for (size_t i = 0; !soft && i < count; i++)
        release(hits[i]);
    free(hits);
    return count;
}

void sf_cache_get_stats(struct sf_cache *c, struct sf_cache_stats *st)
{
    sf_mutex_lock(&c->lock);
    st->objects = c->stored;
    st->vary_markers = c->markers;
    st->pass_markers = c->pass_markers;
    st->bytes = c->bytes;
    st->flights = c->flights;
    st->evictions = c->evictions;
    sf_mutex_unlock(&c->lock);
}

void sf_cache_free(struct sf_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        while (c->buckets[i] != NULL) {
            sf_mutex_lock(&c->lock);
            struct sf_entry *e = unlist_at(c, &c->buckets[i]);
            sf_mutex_unlock(&c->lock);
            release(e);
        }
    }
    free(c->buckets);
    free(c->by_url);
    sf_mutex_destroy(&c->lock);
    free(c);
}
