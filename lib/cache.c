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

struct sf_cache {
    struct sf_mutex lock;
    struct sf_obj **buckets; /* (L) */
    struct sf_obj **by_url;  /* (L) the same objects by the URL part of their keys (nbuckets) */
    size_t nbuckets, count;  /* (L) */
    struct sf_obj lru;       /* (L) sentinel: lru.lru_next is the most recent */
    uint64_t max_bytes;      /* (C) */
    uint64_t bytes;          /* (L) */
    uint64_t stored, markers, flights, evictions; /* (L) */
    uint64_t pass_markers;                        /* (L) */
    struct sf_obj pass;      /* (L) sentinel of the hit-for-pass markers, oldest first */
    atomic_uint_fast64_t next_expiry_ms; /* the oldest marker's expiry; UINT64_MAX: none */
    struct sf_hangup *hangup;            /* (C) handed to new objects */
};

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

struct sf_cache *sf_cache_new(uint64_t max_bytes, struct sf_hangup *hangup)
{
    struct sf_cache *c = sf_xcalloc(1, sizeof *c);
    sf_mutex_init(&c->lock);
    c->nbuckets = 1024;
    c->buckets = sf_xcalloc(c->nbuckets, sizeof *c->buckets);
    c->by_url = sf_xcalloc(c->nbuckets, sizeof *c->by_url);
    c->lru.lru_next = c->lru.lru_prev = &c->lru;
    c->pass.pass_next = c->pass.pass_prev = &c->pass;
    atomic_init(&c->next_expiry_ms, UINT64_MAX);
    c->max_bytes = max_bytes;
    c->hangup = hangup;
    return c;
}

static struct sf_obj **slot_of(struct sf_cache *c, const char *key)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_obj **pp = &c->buckets[hash_key(key) & (c->nbuckets - 1)];
    while (*pp != NULL && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->hnext;
    return pp;
}

static void grow(struct sf_cache *c)
{
    size_t n = c->nbuckets * 2;
    struct sf_obj **b = sf_xcalloc(n, sizeof *b), **u = sf_xcalloc(n, sizeof *u);
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (struct sf_obj *o = c->buckets[i], *next; o != NULL; o = next) {
            next = o->hnext;
            size_t j = hash_key(o->key) & (n - 1);
            o->hnext = b[j];
            b[j] = o;
        }
        for (struct sf_obj *o = c->by_url[i], *next; o != NULL; o = next) {
            next = o->unext;
            size_t j = hash_url(o->key) & (n - 1);
            o->unext = u[j];
            u[j] = o;
        }
    }
    free(c->buckets);
    free(c->by_url);
    c->buckets = b;
    c->by_url = u;
    c->nbuckets = n;
}

static void lru_unlink(struct sf_obj *o)
{
    o->lru_prev->lru_next = o->lru_next;
    o->lru_next->lru_prev = o->lru_prev;
    o->lru_prev = o->lru_next = NULL;
}

static void lru_push_front(struct sf_cache *c, struct sf_obj *o)
{
    o->lru_next = c->lru.lru_next;
    o->lru_prev = &c->lru;
    c->lru.lru_next->lru_prev = o;
    c->lru.lru_next = o;
}

/* Table lock held. Publishes when the oldest hit-for-pass marker expires. */
static void note_next_expiry(struct sf_cache *c)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_obj *oldest = c->pass.pass_next;
    atomic_store(&c->next_expiry_ms, oldest != &c->pass ? oldest->expires_ms : UINT64_MAX);
}

/* Removes the object at *pp from the table. Returns the table's reference, which the
 * caller drops after unlocking (the last unref frees, and freeing is not table work). */
static struct sf_obj *unlist_at(struct sf_cache *c, struct sf_obj **pp)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_obj *o = *pp;
    *pp = o->hnext;
    o->hnext = NULL;
    struct sf_obj **up = &c->by_url[hash_url(o->key) & (c->nbuckets - 1)];
    while (*up != o)
        up = &(*up)->unext;
    *up = o->unext;
    o->unext = NULL;
    o->listed = false;
    c->count--;
    if (o->hfp) {
        o->pass_prev->pass_next = o->pass_next;
        o->pass_next->pass_prev = o->pass_prev;
        o->pass_prev = o->pass_next = NULL;
        note_next_expiry(c);
    }
    if (o->stored) {
        lru_unlink(o);
        o->stored = false;
        c->bytes -= o->charge;
        if (o->vary_marker)
            c->markers--;
        else if (o->hfp)
            c->pass_markers--;
        else
            c->stored--;
    } else if (!o->hfp) {
        c->flights--;
    }
    return o;
}

static void list_new(struct sf_cache *c, struct sf_obj **pp, struct sf_obj *o)
{
    sf_mutex_assert_held(&c->lock);
    o->hnext = *pp;
    *pp = o;
    struct sf_obj **up = &c->by_url[hash_url(o->key) & (c->nbuckets - 1)];
    o->unext = *up;
    *up = o;
    o->listed = true;
    c->count++;
    if (!o->hfp)
        c->flights++;
}

/* Table lock held. The stored response's age now, in whole seconds (§4.2.3). */
static int64_t age_now(const struct sf_obj *o, uint64_t now_ms)
{
    return o->verdict.age_s + (int64_t)((now_ms - o->stored_ms) / 1000);
}

/* Table lock held. Whether stale, a response that was stored, may be served while it is
 * revalidated (RFC 5861 §3): to a request without cache directives, within its window,
 * and never past must-revalidate or an invalidation. */
static bool while_revalidate_ok(const struct sf_obj *stale, bool plain_request, uint64_t now_ms)
{
    const struct sf_verdict *v = &stale->verdict;
    return plain_request && !stale->invalidated &&
           sf_policy_within_stale_window(v, age_now(stale, now_ms), v->stale_while_revalidate_s);
}

/* Table lock held. Hands back the stale response a flight held for revalidation. */
static struct sf_obj *take_stale(struct sf_obj *o)
{
    struct sf_obj *stale = o->stale;
    o->stale = NULL;
    return stale;
}

/* Table lock held. Whether o is a response in the LRU (not a vary marker). */
static bool is_response(const struct sf_obj *o)
{
    return o->stored && !o->vary_marker && !o->hfp;
}

/* Table lock held. Whether o is a flight: neither stored nor a marker. */
static bool is_flight(const struct sf_obj *o)
{
    return !o->stored && !o->hfp;
}

/* Table lock held. Whether a flight has already failed (lock order: table -> object). */
static bool flight_failed(struct sf_obj *o)
{
    sf_obj_lock(o);
    bool failed = o->state == SF_OBJ_FAILED;
    sf_obj_unlock(o);
    return failed;
}

static void lru_touch(struct sf_cache *c, struct sf_obj *o)
{
    lru_unlink(o);
    lru_push_front(c, o);
}

/* Table lock held. sf_cache_lookup for one key, whose slot is pp; *old receives a
 * reference the caller drops after unlocking. */
static enum sf_lookup lookup_key(struct sf_cache *c, const char *key, struct sf_obj **pp,
                                 uint64_t now_ms, const struct sf_req_directives *d,
                                 struct sf_obj **out, struct sf_obj **refresh,
                                 struct sf_obj **old)
{
    sf_mutex_assert_held(&c->lock);
    static const struct sf_req_directives none = {false, false, false, -1, -1, -1};
    bool plain = d == NULL;
    if (d == NULL)
        d = &none;
    /* XXX: an object stays stored (charged and on the LRU) until it is evicted or a lookup
     * replaces it; expiry does not free memory by itself. */
    struct sf_obj *o = *pp;
    bool shared_fetch_ok = !d->only_if_cached && !d->no_store;
    if (o != NULL && is_response(o) && !o->invalidated &&
        sf_policy_acceptable(&o->verdict, age_now(o, now_ms), d)) {
        lru_touch(c, o);
        *out = sf_obj_ref(o);
        return SF_LOOKUP_HIT;
    }
    if (!shared_fetch_ok) {
        *out = NULL;
        return SF_LOOKUP_NONE;
    }
    if (o != NULL && o->hfp && o->expires_ms > now_ms) {
        *out = NULL;
        return SF_LOOKUP_PASS;
    }
    if (o != NULL && is_flight(o) && o->stale != NULL && refresh != NULL &&
        while_revalidate_ok(o->stale, plain, now_ms)) {
        *out = sf_obj_ref(o->stale); /* its refresh is already on its way */
        return SF_LOOKUP_STALE;
    }
    if (o != NULL && is_flight(o) && !flight_failed(o)) {
        *out = sf_obj_ref(o);
        return SF_LOOKUP_JOIN;
    }
    /* A flight that failed before this request arrived (its fetcher has woken its clients
     * and not yet unlisted it) is not this request's failure: a new flight replaces it,
     * and takes over the expired response it was revalidating. */
    struct sf_obj *failed_stale = o != NULL && is_flight(o) ? take_stale(o) : NULL;
    bool expired_response = o != NULL && is_response(o);
    bool serve_stale = expired_response && refresh != NULL && while_revalidate_ok(o, plain, now_ms);
    if (o != NULL)
        *old = unlist_at(c, pp); /* a response not acceptable any more, or a marker */
    if (c->count >= c->nbuckets)
        grow(c);
    o = sf_obj_new(key, c->hangup);
    if (expired_response) {
        o->stale = *old; /* the table's reference: the new flight may revalidate it */
        *old = NULL;
    } else {
        o->stale = failed_stale;
    }
    list_new(c, slot_of(c, key), o);
    if (!serve_stale) {
        *out = sf_obj_ref(o);
        return SF_LOOKUP_MISS;
    }
    *out = sf_obj_ref(o->stale);
    *refresh = sf_obj_ref(o);
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
static char *select_variant(struct sf_cache *c, const struct sf_query *q, struct sf_obj ***pp)
{
    sf_mutex_assert_held(&c->lock);
    *pp = slot_of(c, q->key);
    struct sf_obj *o = **pp;
    if (o == NULL || !o->vary_marker || q->fields == NULL)
        return NULL;
    char *names = sf_xstrdup(o->vary_names);
    lru_touch(c, o);
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
    struct sf_obj *old = NULL;
    if (refresh != NULL)
        *refresh = NULL;
    sf_mutex_lock(&c->lock);
    struct sf_obj **pp;
    char *vkey = select_variant(c, q, &pp);
    enum sf_lookup kind =
        lookup_key(c, vkey ? vkey : q->key, pp, now_ms, q->directives, out, refresh, &old);
    sf_mutex_unlock(&c->lock);
    sf_obj_unref(old);
    free(vkey);
    return kind;
}

struct sf_obj *sf_cache_stored(struct sf_cache *c, const struct sf_query *q)
{
    sf_mutex_lock(&c->lock);
    struct sf_obj **pp;
    char *vkey = select_variant(c, q, &pp);
    struct sf_obj *o = *pp;
    o = o != NULL && is_response(o) ? sf_obj_ref(o) : NULL;
    sf_mutex_unlock(&c->lock);
    free(vkey);
    return o;
}

bool sf_cache_replace(struct sf_cache *c, struct sf_obj *old, struct sf_obj *o)
{
    SF_CHECK_OBJ(old, SF_OBJ_MAGIC);
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_obj *drop = NULL;
    sf_mutex_lock(&c->lock);
    bool ok = old->listed && is_response(old);
    if (ok) {
        drop = unlist_at(c, slot_of(c, old->key));
        list_new(c, slot_of(c, o->key), sf_obj_ref(o));
    }
    sf_mutex_unlock(&c->lock);
    sf_obj_unref(drop);
    return ok;
}

void sf_cache_invalidate(struct sf_cache *c, struct sf_obj *o)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    sf_mutex_lock(&c->lock);
    if (o->listed && is_response(o))
        o->invalidated = true;
    sf_mutex_unlock(&c->lock);
}

/* Evicts from the LRU tail until bytes fit; collects the table's references in *drop. */
static size_t evict_to_fit(struct sf_cache *c, struct sf_obj **drop, size_t max_drop)
{
    sf_mutex_assert_held(&c->lock);
    size_t n = 0;
    while (c->bytes > c->max_bytes && c->lru.lru_prev != &c->lru && n < max_drop) {
        struct sf_obj *victim = c->lru.lru_prev;
        drop[n++] = unlist_at(c, slot_of(c, victim->key));
        c->evictions++;
    }
    return n;
}

/* Table lock held (dropped and taken again meanwhile). Evicts until the charged bytes fit,
 * releasing the table's references outside the lock. */
static void fit(struct sf_cache *c)
{
    sf_mutex_assert_held(&c->lock);
    struct sf_obj *drop[64];
    size_t ndrop;
    do {
        ndrop = evict_to_fit(c, drop, 64);
        sf_mutex_unlock(&c->lock);
        for (size_t i = 0; i < ndrop; i++)
            sf_obj_unref(drop[i]);
        sf_mutex_lock(&c->lock);
    } while (ndrop == 64);
}

/* Table lock held. Lists a new vary marker under key, charged like a small response. */
static void list_marker(struct sf_cache *c, const char *key, const char *names)
{
    sf_mutex_assert_held(&c->lock);
    if (c->count >= c->nbuckets)
        grow(c);
    struct sf_obj *m = sf_obj_new(key, NULL);
    m->vary_marker = true;
    m->vary_names = sf_xstrdup(names);
    list_new(c, slot_of(c, key), m);
    c->flights--; /* list_new counted it as one */
    m->stored = true;
    m->charge = sizeof *m + strlen(key) + strlen(names);
    c->bytes += m->charge;
    c->markers++;
    lru_push_front(c, m);
}

void sf_cache_expire(struct sf_cache *c, uint64_t now_ms)
{
    if (atomic_load_explicit(&c->next_expiry_ms, memory_order_relaxed) > now_ms)
        return; /* the common case: nothing due, no lock */
    struct sf_obj *drop[64];
    size_t n = 0;
    sf_mutex_lock(&c->lock);
    while (n < 64 && c->pass.pass_next != &c->pass && c->pass.pass_next->expires_ms <= now_ms)
        drop[n++] = unlist_at(c, slot_of(c, c->pass.pass_next->key));
    sf_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n; i++)
        sf_obj_unref(drop[i]);
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
    struct sf_obj *drop[2] = {NULL, NULL};
    sf_mutex_lock(&c->lock);
    if (o->listed && strcmp(want, o->key) != 0) {
        struct sf_obj **pp = slot_of(c, want);
        if (*pp != NULL && is_flight(*pp)) {
            drop[0] = unlist_at(c, slot_of(c, o->key)); /* that variant has its own flight */
        } else {
            if (*pp != NULL)
                drop[0] = unlist_at(c, pp); /* an older response, or a marker */
            struct sf_obj *self = unlist_at(c, slot_of(c, o->key)); /* the table's reference */
            free(o->key);
            o->key = want;
            want = NULL;
            list_new(c, slot_of(c, o->key), self);
        }
    }
    if (o->vary_names != NULL) {
        struct sf_obj **mp = slot_of(c, primary);
        struct sf_obj *m = *mp;
        /* A flight under the request's key sets the marker itself once it has a head. */
        bool keep = m != NULL && (m->vary_marker ? strcmp(m->vary_names, o->vary_names) == 0
                                                 : is_flight(m));
        if (!keep && m != NULL)
            drop[1] = unlist_at(c, mp); /* a response that did not vary, or other names */
        if (!keep) {
            list_marker(c, primary, o->vary_names);
            fit(c);
        }
    }
    sf_mutex_unlock(&c->lock);
    sf_obj_unref(drop[0]);
    sf_obj_unref(drop[1]);
    free(want);
    free(primary);
}

void sf_cache_store(struct sf_cache *c, struct sf_obj *o, uint64_t now_ms)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_obj *too_big = NULL, *stale = NULL;
    sf_obj_lock(o);
    size_t charge = o->mem_bytes + sf_hdrs_bytes(&o->hdrs) + strlen(o->key) + sizeof *o;
    sf_obj_unlock(o);
    sf_mutex_lock(&c->lock);
    if (o->listed)
        stale = take_stale(o);
    if (o->listed && !o->stored && charge <= c->max_bytes) {
        o->stored = true;
        o->charge = charge;
        o->stored_ms = now_ms;
        c->flights--;
        c->stored++;
        c->bytes += charge;
        lru_push_front(c, o);
        fit(c);
    } else if (o->listed && !o->stored) {
        too_big = unlist_at(c, slot_of(c, o->key)); /* larger than the whole cache */
    }
    sf_mutex_unlock(&c->lock);
    sf_obj_unref(too_big);
    sf_obj_unref(stale);
}

/* Takes o out of the table if it is listed; with keep_stale, the stored response it was
 * revalidating (o->stale) goes back in its place, stored as before, when its key is free. */
static void unlist(struct sf_cache *c, struct sf_obj *o, bool keep_stale)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_obj *old = NULL, *stale = NULL;
    sf_mutex_lock(&c->lock);
    if (o->listed) {
        stale = take_stale(o);
        old = unlist_at(c, slot_of(c, o->key));
        struct sf_obj **pp = keep_stale && stale != NULL ? slot_of(c, stale->key) : NULL;
        if (pp != NULL && *pp == NULL) {
            /* Back where it was, stored as before: charged, on the LRU, as old. */
            list_new(c, pp, stale);
            stale->stored = true;
            c->flights--;
            c->stored++;
            c->bytes += stale->charge;
            lru_push_front(c, stale);
            stale = NULL; /* the table's reference again */
            fit(c);
        }
    }
    sf_mutex_unlock(&c->lock);
    sf_obj_unref(old);
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
    struct sf_obj *old = NULL, *stale = NULL;
    sf_mutex_lock(&c->lock);
    if (o->listed) {
        struct sf_obj **pp = slot_of(c, o->key);
        stale = take_stale(o);
        old = unlist_at(c, pp);
        struct sf_obj *marker = sf_obj_new(o->key, NULL);
        marker->hfp = true;
        marker->expires_ms = until_ms;
        list_new(c, slot_of(c, o->key), marker);
        marker->stored = true;
        marker->charge = sizeof *marker + strlen(marker->key);
        c->bytes += marker->charge;
        c->pass_markers++;
        lru_push_front(c, marker);
        marker->pass_next = &c->pass; /* the newest: markers all live the same time */
        marker->pass_prev = c->pass.pass_prev;
        c->pass.pass_prev->pass_next = marker;
        c->pass.pass_prev = marker;
        note_next_expiry(c);
        fit(c);
    }
    sf_mutex_unlock(&c->lock);
    sf_obj_unref(old);
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

/* Table lock held. Whether o is a stored response the purge selects. */
static bool purge_selects(struct sf_obj *o, const char *url, size_t url_len, bool prefix,
                          const char *tag_header)
{
    return is_response(o) && (tag_header != NULL ? tag_matches(o, tag_header, url)
                                                 : key_matches(o->key, url, url_len, prefix));
}

/* Table lock held. Appends o to *list (of *n, room for *cap). */
static void push(struct sf_obj ***list, size_t *n, size_t *cap, struct sf_obj *o)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *list = sf_xrealloc(*list, *cap * sizeof **list);
    }
    (*list)[(*n)++] = o;
}

size_t sf_cache_purge(struct sf_cache *c, const char *url, bool prefix, bool soft,
                      const char *tag_header)
{
    struct sf_obj **hits = NULL;
    size_t count = 0, cap = 0, url_len = strlen(url);
    sf_mutex_lock(&c->lock);
    if (!prefix && tag_header == NULL) {
        /* One URL: only the chain of the URL index it hashes to. */
        for (struct sf_obj *o = c->by_url[hash_bytes(url, url_len) & (c->nbuckets - 1)];
             o != NULL; o = o->unext)
            if (purge_selects(o, url, url_len, false, NULL))
                push(&hits, &count, &cap, o);
    } else {
        for (size_t i = 0; i < c->nbuckets; i++)
            for (struct sf_obj *o = c->buckets[i]; o != NULL; o = o->hnext)
                if (purge_selects(o, url, url_len, prefix, tag_header))
                    push(&hits, &count, &cap, o);
    }
    for (size_t i = 0; i < count; i++) {
        if (soft)
            hits[i]->invalidated = true;
        else
            hits[i] = unlist_at(c, slot_of(c, hits[i]->key)); /* now the table's reference */
    }
    sf_mutex_unlock(&c->lock);
    for (size_t i = 0; !soft && i < count; i++)
        sf_obj_unref(hits[i]);
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
            struct sf_obj *o = unlist_at(c, &c->buckets[i]);
            sf_mutex_unlock(&c->lock);
            sf_obj_unref(o);
        }
    }
    free(c->buckets);
    free(c->by_url);
    sf_mutex_destroy(&c->lock);
    free(c);
}
