/* cache: see cache.h. The cache's life (new, free, its limits, expiry, stats) and what
 * lookups, stores, variants and purges mean live here; the table they work on (entries by
 * key and by URL, the byte-charged LRU, markers, eviction) is table.c's, embedded in the
 * cache as its private room: table.c never sees the cache. Where responses vary (RFC 9111 §4.1), a marker under the URL's key names
 * the request fields, and each variant is listed under the key plus what its request's
 * values of them were. Hit-for-pass markers (one user's response was here) are charged
 * and evicted like responses, and expire in order: whatever an attacker makes the origin
 * answer, markers stay within cache.max_bytes. */
#include "cache.h"

#include "evict.h"
#include "held.h"
#include "http.h"
#include "metrics.h"
#include "singleflight.h"
#include "slice.h"
#include "table.h"

#include <stdlib.h>

/* Lock order: the table's lock (c->t.lock) -> object lock. */
struct sf_cache {
    struct sf_table t; /* the cache's private room (table.h) */
};

struct sf_cache *sf_cache_new(uint64_t max_bytes)
{
    struct sf_cache *c = sf_xcalloc(1, sizeof *c);
    sf_table_init(&c->t, max_bytes);
    return c;
}

void sf_cache_free(struct sf_cache *c)
{
    if (c == NULL)
        return;
    sf_table_fini(&c->t);
    free(c);
}

void sf_cache_set_max_variants(struct sf_cache *c, size_t max_variants)
{
    sf_mutex_lock(&c->t.lock);
    sf_varindex_set_max(&c->t.variants, max_variants);
    sf_mutex_unlock(&c->t.lock);
}

void sf_cache_set_max_bytes(struct sf_cache *c, uint64_t max_bytes)
{
    sf_mutex_lock(&c->t.lock);
    c->t.max_bytes = max_bytes;
    sf_table_fit(&c->t);
    sf_mutex_unlock(&c->t.lock);
}

void sf_cache_expire(struct sf_cache *c, uint64_t now_ms)
{
    if (atomic_load_explicit(&c->t.next_expiry_ms, memory_order_relaxed) > now_ms)
        return; /* the common case: nothing due, no lock */
    struct sf_entry *drop[64];
    sf_mutex_lock(&c->t.lock);
    size_t n = sf_table_unlist_expired(&c->t, now_ms, drop, 64);
    sf_mutex_unlock(&c->t.lock);
    for (size_t i = 0; i < n; i++)
        sf_table_release(drop[i]);
}

void sf_cache_get_stats(struct sf_cache *c, struct sf_cache_stats *st)
{
    sf_mutex_lock(&c->t.lock);
    st->objects = c->t.stored;
    st->vary_markers = c->t.markers;
    st->pass_markers = c->t.pass_markers;
    st->sliced = c->t.sliced_markers;
    st->bytes = c->t.bytes;
    st->flights = c->t.flights;
    st->evictions = c->t.evictions;
    st->variants = c->t.variants.variants;
    st->variant_evictions = c->t.variants.evictions;
    st->evictions_small = c->t.evict.evicted_small;
    st->evictions_main = c->t.evict.evicted_main;
    st->promotions = c->t.evict.promoted;
    st->ghost_hits = c->t.evict.ghost_hits;
    st->small_bytes = c->t.evict.small_bytes;
    sf_mutex_unlock(&c->t.lock);
}

void sf_cache_inspect(struct sf_cache *c, const char *key, uint64_t slice_bytes, uint64_t now_ms,
                      struct sf_cache_view *out)
{
    sf_mutex_lock(&c->t.lock);
    sf_table_inspect(&c->t, key, slice_bytes, now_ms, out);
    sf_mutex_unlock(&c->t.lock);
    sf_table_inspect_done(out);
}

size_t sf_cache_longest_chain(struct sf_cache *c)
{
    sf_mutex_lock(&c->t.lock);
    size_t longest = sf_table_longest_chain(&c->t);
    sf_mutex_unlock(&c->t.lock);
    return longest;
}

#include <stdlib.h>
#include <string.h>

/* Table lock held. The stored response's age now, in whole seconds (§4.2.3). */
static int64_t age_now(const struct sf_cache *c, const struct sf_obj *o, uint64_t now_ms)
{
    sf_mutex_assert_held(&c->t.lock);
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
    sf_mutex_assert_held(&c->t.lock);
    struct sf_obj *stale = o->stale;
    o->stale = NULL;
    return stale;
}

/* Table lock held. Whether a flight has already failed, or its fetch is being given up
 * (sf_obj_drop_if_unwanted: it takes no reader) (lock order: table -> object). */
static bool flight_failed(const struct sf_cache *c, struct sf_obj *o)
{
    sf_mutex_assert_held(&c->t.lock);
    sf_obj_lock(o);
    bool failed = o->state == SF_OBJ_FAILED || o->dropped;
    sf_obj_unlock(o);
    return failed;
}

/* Table lock held. A new flight listed under key; the table may grow first. */
static struct sf_obj *list_flight(struct sf_cache *c, const char *key)
{
    sf_mutex_assert_held(&c->t.lock);
    if (c->t.count >= c->t.nbuckets)
        sf_table_grow(&c->t);
    struct sf_obj *o = sf_obj_new(key);
    sf_table_list(&c->t, sf_table_slot(&c->t, key), &o->entry, SF_ENTRY_FLIGHT);
    return o;
}

/* Table lock held. sf_cache_lookup for one key, listed at *pp (or not); *old receives
 * what the caller releases after unlocking. */
static enum sf_lookup lookup_key(struct sf_cache *c, const char *key, struct sf_entry **pp,
                                 uint64_t now_ms, const struct sf_req_directives *d,
                                 struct sf_slice_ref *sliced, struct sf_obj **out,
                                 struct sf_obj **refresh, struct sf_entry **old)
{
    sf_mutex_assert_held(&c->t.lock);
    static const struct sf_req_directives none = {false, false, false, -1, -1, -1};
    if (d == NULL)
        d = &none;
    /* XXX: an object stays stored (charged and on the LRU) until it is evicted or a lookup
     * replaces it; expiry does not free memory by itself. */
    struct sf_entry *e = *pp;
    enum sf_entry_role role = e != NULL ? e->role : SF_ENTRY_UNLISTED;
    struct sf_obj *o =
        role == SF_ENTRY_FLIGHT || role == SF_ENTRY_RESPONSE ? sf_table_obj(e) : NULL;
    bool shared_fetch_ok = !d->only_if_cached && !d->no_store;
    /* An only-if-cached request may read stored slices (slicestore.h): it fetches none. */
    bool slices_ok = sliced != NULL && (shared_fetch_ok || d->only_if_cached);
    if (role == SF_ENTRY_RESPONSE && !e->invalidated &&
        sf_policy_acceptable(&o->verdict, age_now(c, o, now_ms), d)) {
        sf_table_touch(&c->t, e);
        *out = sf_obj_ref(o);
        return SF_LOOKUP_HIT;
    }
    if (role == SF_ENTRY_SLICED && slices_ok) {
        sf_table_touch(&c->t, e);
        sf_slice_ref_copy(&sf_table_marker(e)->slice, sliced);
        *out = NULL;
        return SF_LOOKUP_SLICED;
    }
    if (!shared_fetch_ok) {
        *out = NULL;
        return SF_LOOKUP_NONE;
    }
    if (role == SF_ENTRY_PASS && sf_table_marker(e)->expires_ms > now_ms) {
        *out = NULL;
        return SF_LOOKUP_PASS;
    }
    if (role == SF_ENTRY_FLIGHT && o->stale != NULL && refresh != NULL &&
        (o->stale->vary_names == NULL || strstr(key, SF_VARIANT_MARK) != NULL) &&
        while_revalidate_ok(c, o->stale, d, now_ms)) {
        *out = sf_obj_ref(o->stale); /* its refresh is already on its way */
        return SF_LOOKUP_STALE;
    }
    if (role == SF_ENTRY_FLIGHT && !flight_failed(c, o)) {
        *out = sf_obj_ref(o);
        return SF_LOOKUP_JOIN;
    }
    /* A flight that failed before this request arrived (its fetcher has woken its clients
     * and not yet unlisted it), or is being given up, is not this request's failure: a new
     * flight replaces it, and takes over the expired response it was revalidating. */
    struct sf_obj *stale = role == SF_ENTRY_FLIGHT ? take_stale(c, o) : NULL;
    bool serve_stale =
        role == SF_ENTRY_RESPONSE && refresh != NULL && while_revalidate_ok(c, o, d, now_ms);
    if (e != NULL)
        *old = sf_table_unlist(&c->t, pp); /* a response not acceptable any more, or a marker */
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
 * else NULL: q's key itself. Sets *pp to the slot of the key to look up, and, when they
 * vary on Accept-Language, lang (size bytes) to the language q prefers most ("" if none). */
static char *select_variant(struct sf_cache *c, const struct sf_query *q, struct sf_entry ***pp,
                            char *lang, size_t size)
{
    sf_mutex_assert_held(&c->t.lock);
    lang[0] = '\0';
    *pp = sf_table_slot(&c->t, q->key);
    struct sf_entry *e = **pp;
    if (e == NULL || e->role != SF_ENTRY_VARY || q->fields == NULL)
        return NULL;
    char *names = sf_xstrdup(sf_table_marker(e)->vary_names);
    sf_table_touch(&c->t, e);
    sf_mutex_unlock(&c->t.lock);
    char *variant = sf_policy_variant(names, q->fields);
    char *vkey = variant_key(q->key, strlen(q->key), variant);
    if (sf_http_list_has(names, "accept-language")) {
        char *accept = q->fields->get(q->fields->ctx, "accept-language");
        if (!sf_policy_preferred_language(accept, lang, size))
            lang[0] = '\0';
        free(accept);
    }
    free(variant);
    free(names);
    sf_mutex_lock(&c->t.lock);
    *pp = sf_table_slot(&c->t, vkey); /* after relocking: the table may have grown meanwhile */
    return vkey;
}

/* Table lock held. Where responses vary on Accept-Language and nothing is listed for the
 * variant vkey a request selects: a stored variant of the same key (same credentials) that
 * differs from it in Accept-Language alone and whose Content-Language is lang, the
 * language the request prefers most, fresh enough for its directives d (RFC 9110 §12.5.4:
 * a stored "de" page for "en, de" serves "fr;q=0.5, de"). A reference, or NULL. */
static struct sf_obj *language_match(struct sf_cache *c, const char *key, const char *vkey,
                                     const char *lang, uint64_t now_ms,
                                     const struct sf_req_directives *d)
{
    sf_mutex_assert_held(&c->t.lock);
    static const struct sf_req_directives none = {false, false, false, -1, -1, -1};
    size_t klen = strlen(key), mlen = strlen(SF_VARIANT_MARK);
    uint64_t h;
    if (!sf_policy_language_hash(vkey, lang, &h))
        return NULL;
    /* Only the variants that could answer (varindex.h), not every variant of the URL. */
    for (struct sf_entry *e = sf_varindex_language_chain(&c->t.variants, h); e != NULL;
         e = e->var->lnext) {
        if (e->var->lhash != h || e->role != SF_ENTRY_RESPONSE || e->invalidated ||
            strncmp(e->key, key, klen) != 0 || strncmp(e->key + klen, SF_VARIANT_MARK, mlen) != 0 ||
            !sf_policy_same_variant_but(e->key + klen, vkey + klen, "accept-language"))
            continue;
        struct sf_obj *o = sf_table_obj(e);
        const char *language = sf_hdrs_get(&o->hdrs, "Content-Language");
        if (language != NULL && sf_streq_ci(language, lang) &&
            sf_policy_acceptable(&o->verdict, age_now(c, o, now_ms), d ? d : &none)) {
            sf_table_touch(&c->t, e);
            return sf_obj_ref(o);
        }
    }
    return NULL;
}

enum sf_lookup sf_cache_lookup(struct sf_cache *c, const struct sf_query *q, uint64_t now_ms,
                               struct sf_obj **out, struct sf_obj **refresh)
{
    struct sf_entry *old = NULL;
    if (refresh != NULL)
        *refresh = NULL;
    sf_mutex_lock(&c->t.lock);
    struct sf_entry **pp;
    char lang[40];
    char *vkey = select_variant(c, q, &pp, lang, sizeof lang);
    struct sf_obj *same_language =
        vkey != NULL && lang[0] != '\0' && *pp == NULL
            ? language_match(c, q->key, vkey, lang, now_ms, q->directives)
            : NULL;
    if (same_language != NULL) {
        sf_mutex_unlock(&c->t.lock);
        free(vkey);
        *out = same_language;
        return SF_LOOKUP_HIT;
    }
    enum sf_lookup kind = lookup_key(c, vkey ? vkey : q->key, pp, now_ms, q->directives, q->sliced,
                                     out, refresh, &old);
    struct sf_obj *listed = kind == SF_LOOKUP_MISS ? *out : refresh != NULL ? *refresh : NULL;
    if (listed != NULL)
        listed->head_shared = vkey != NULL || (listed->stale != NULL &&
                                               sf_hdrs_get(&listed->stale->hdrs, "Vary") == NULL);
    sf_mutex_unlock(&c->t.lock);
    sf_table_release(old);
    free(vkey);
    return kind;
}

struct sf_obj *sf_cache_stored(struct sf_cache *c, const struct sf_query *q)
{
    sf_mutex_lock(&c->t.lock);
    struct sf_entry **pp;
    char lang[40];
    char *vkey = select_variant(c, q, &pp, lang, sizeof lang);
    struct sf_entry *e = *pp;
    struct sf_obj *o =
        e != NULL && e->role == SF_ENTRY_RESPONSE ? sf_obj_ref(sf_table_obj(e)) : NULL;
    sf_mutex_unlock(&c->t.lock);
    free(vkey);
    return o;
}

bool sf_cache_replace(struct sf_cache *c, struct sf_obj *old, struct sf_obj *o)
{
    SF_CHECK_OBJ(old, SF_OBJ_MAGIC);
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_entry *drop = NULL;
    sf_mutex_lock(&c->t.lock);
    bool ok = old->entry.role == SF_ENTRY_RESPONSE;
    if (ok) {
        drop = sf_table_unlist(&c->t, sf_table_slot(&c->t, old->key));
        sf_table_list(&c->t, sf_table_slot(&c->t, o->key), &sf_obj_ref(o)->entry, SF_ENTRY_FLIGHT);
    }
    sf_mutex_unlock(&c->t.lock);
    sf_table_release(drop);
    return ok;
}

bool sf_cache_put(struct sf_cache *c, struct sf_obj *o)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    SF_ASSERT(o->shared);
    struct sf_entry *drop = NULL;
    sf_mutex_lock(&c->t.lock);
    struct sf_entry **pp = sf_table_slot(&c->t, o->key);
    bool ok = o->entry.role == SF_ENTRY_UNLISTED && (*pp == NULL || (*pp)->role != SF_ENTRY_FLIGHT);
    if (ok) {
        if (*pp != NULL)
            drop = sf_table_unlist(&c->t, pp);
        if (c->t.count >= c->t.nbuckets)
            sf_table_grow(&c->t);
        sf_table_list(&c->t, sf_table_slot(&c->t, o->key), &sf_obj_ref(o)->entry, SF_ENTRY_FLIGHT);
    }
    sf_mutex_unlock(&c->t.lock);
    sf_table_release(drop);
    return ok;
}

void sf_cache_invalidate(struct sf_cache *c, struct sf_obj *o)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    sf_mutex_lock(&c->t.lock);
    if (o->entry.role == SF_ENTRY_RESPONSE)
        o->entry.invalidated = true;
    sf_mutex_unlock(&c->t.lock);
}

/* Table lock held. Moves o, listed, to the key want (taken over), in place of what is
 * listed there; false, with o unlisted into *drop_self, when a flight is there already. */
static bool move_to(struct sf_cache *c, struct sf_obj *o, char *want, struct sf_entry **drop_other,
                    struct sf_entry **drop_self)
{
    sf_mutex_assert_held(&c->t.lock);
    struct sf_entry **pp = sf_table_slot(&c->t, want);
    if (*pp != NULL && (*pp)->role == SF_ENTRY_FLIGHT) {
        *drop_self = sf_table_unlist(
            &c->t, sf_table_slot(&c->t, o->key)); /* that variant has its own flight */
        free(want);
        return false;
    }
    if (*pp != NULL)
        *drop_other = sf_table_unlist(&c->t, pp); /* an older response, or a marker */
    struct sf_entry *self =
        sf_table_unlist(&c->t, sf_table_slot(&c->t, o->key)); /* the table's reference */
    free(o->key);
    o->key = want;
    sf_table_list(&c->t, sf_table_slot(&c->t, o->key), self, SF_ENTRY_FLIGHT);
    return true;
}

/* What marker m is charged, as a stored response is (charge_of): its allocation (the key
 * inline) as malloc holds it, strings_held (its own strings', sf_held_str), and its shares
 * of the table's buckets and of the eviction ghost. */
static size_t marker_charge(const struct marker *m, size_t strings_held)
{
    return sf_held_bytes(sizeof *m + strlen(m->key) + 1) + strings_held + sf_table_entry_share() +
           sf_evict_entry_share();
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
    sf_mutex_lock(&c->t.lock);
    bool listed = o->entry.role != SF_ENTRY_UNLISTED;
    if (listed && strcmp(want, o->key) != 0)
        move_to(c, o, want, &drop[0], &drop[1]);
    else
        free(want);
    if (o->vary_names != NULL) {
        struct sf_entry **mp = sf_table_slot(&c->t, primary);
        struct sf_entry *m = *mp;
        /* A flight under the request's key sets the marker itself once it has a head. */
        bool keep = m != NULL && (m->role == SF_ENTRY_VARY
                                      ? strcmp(sf_table_marker(m)->vary_names, o->vary_names) == 0
                                      : m->role == SF_ENTRY_FLIGHT);
        if (!keep && m != NULL)
            drop[2] = sf_table_unlist(&c->t, mp); /* a response that did not vary, or other names */
        if (!keep) {
            struct marker *vm = sf_table_list_marker(&c->t, primary, SF_ENTRY_VARY);
            vm->vary_names = sf_xstrdup(o->vary_names);
            sf_table_charge(&c->t, &vm->e, marker_charge(vm, sf_held_str(vm->vary_names)));
            sf_table_fit(&c->t);
        }
    }
    sf_mutex_unlock(&c->t.lock);
    for (size_t i = 0; i < 3; i++)
        sf_table_release(drop[i]);
    free(primary);
}

/* What o, complete, is charged when stored: what its allocations hold, as malloc rounds
 * them (its body's segments, fields, key, self), and its share of the table's buckets
 * and of the eviction ghost: what the process holds for it (docs/performance.md, "Memory
 * per stored response"). */
static size_t charge_of(struct sf_obj *o)
{
    sf_obj_lock(o);
    size_t bytes = sf_obj_held_bytes(o) + sf_table_entry_share() + sf_evict_entry_share();
    if (strstr(o->key, SF_VARIANT_MARK) != NULL) /* its place in the variant index */
        bytes += sf_held_bytes(sizeof(struct sf_vlink));
    sf_obj_unlock(o);
    return bytes;
}

bool sf_cache_store(struct sf_cache *c, struct sf_obj *o, uint64_t now_ms)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_entry *too_big = NULL;
    struct sf_obj *stale = NULL;
    size_t bytes = charge_of(o);
    sf_mutex_lock(&c->t.lock);
    bool flight = o->entry.role == SF_ENTRY_FLIGHT;
    if (o->entry.role != SF_ENTRY_UNLISTED)
        stale = take_stale(c, o);
    if (flight && bytes <= c->t.max_bytes) {
        c->t.flights--;
        o->entry.role = SF_ENTRY_RESPONSE;
        o->entry.stored_ms = now_ms;
        sf_table_charge(&c->t, &o->entry, bytes);
        sf_table_fit(&c->t);
    } else if (flight) {
        too_big =
            sf_table_unlist(&c->t, sf_table_slot(&c->t, o->key)); /* larger than the whole cache */
    }
    sf_mutex_unlock(&c->t.lock);
    sf_table_release(too_big);
    sf_obj_unref(stale);
    return flight;
}

bool sf_cache_give_stale(struct sf_cache *c, struct sf_obj *o, struct sf_obj *stale,
                         bool invalidated, uint64_t now_ms)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    SF_CHECK_OBJ(stale, SF_OBJ_MAGIC);
    size_t bytes = charge_of(stale);
    sf_mutex_lock(&c->t.lock);
    /* A response that varies stands in only for a flight of its own variant: under the
     * URL's bare key (after a restart memory has no vary marker yet) a stale-while-
     * revalidate lookup would serve it to every variant's request (lookup_key). */
    bool ok = o->entry.role == SF_ENTRY_FLIGHT && o->stale == NULL &&
              stale->entry.role == SF_ENTRY_UNLISTED &&
              (stale->vary_names == NULL || strstr(o->key, SF_VARIANT_MARK) != NULL);
    if (ok) {
        /* As if it had been stored at now_ms: its age (diskobj.h) is counted from then, and
         * a failed revalidation puts it back charged what it costs (unlist). */
        stale->entry.stored_ms = now_ms;
        stale->entry.ev.charge = bytes;
        stale->entry.invalidated = invalidated;
        o->stale = sf_obj_ref(stale);
    }
    sf_mutex_unlock(&c->t.lock);
    return ok;
}

/* Takes o out of the table if it is listed; with keep_stale, the stored response it was
 * revalidating (o->stale) goes back in its place, stored as before, when its key is free. */
static void unlist(struct sf_cache *c, struct sf_obj *o, bool keep_stale)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_entry *old = NULL;
    struct sf_obj *stale = NULL;
    sf_mutex_lock(&c->t.lock);
    if (o->entry.role != SF_ENTRY_UNLISTED) {
        stale = take_stale(c, o);
        old = sf_table_unlist(&c->t, sf_table_slot(&c->t, o->key));
        struct sf_entry **pp =
            keep_stale && stale != NULL ? sf_table_slot(&c->t, stale->key) : NULL;
        if (pp != NULL && *pp == NULL) {
            /* Back where it was, stored as before: charged, and new to the policy. */
            sf_table_list(&c->t, pp, &stale->entry, SF_ENTRY_RESPONSE);
            sf_table_charge(&c->t, &stale->entry, stale->entry.ev.charge);
            stale = NULL; /* the table's reference again */
            sf_table_fit(&c->t);
        }
    }
    sf_mutex_unlock(&c->t.lock);
    sf_table_release(old);
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

/* Replaces o, if it is still listed, by a new marker of role under its key: fill (with
 * arg) fills the marker in and charges it, under the table lock; then the table evicts to
 * fit. A stale response o held for revalidation is let go. */
static void replace_by_marker(struct sf_cache *c, struct sf_obj *o, enum sf_entry_role role,
                              void (*fill)(struct sf_cache *c, struct marker *m, const void *arg),
                              const void *arg)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    struct sf_entry *old = NULL;
    struct sf_obj *stale = NULL;
    sf_mutex_lock(&c->t.lock);
    if (o->entry.role != SF_ENTRY_UNLISTED) {
        stale = take_stale(c, o);
        old = sf_table_unlist(&c->t, sf_table_slot_of(&c->t, &o->entry));
        fill(c, sf_table_list_marker(&c->t, o->key, role), arg);
        sf_table_fit(&c->t);
    }
    sf_mutex_unlock(&c->t.lock);
    sf_table_release(old);
    sf_obj_unref(stale);
}

/* What a hit-for-pass marker is made of. */
struct pass_mark {
    uint64_t until_ms;
    const char *reason; /* why the response was not shareable, or NULL */
};

/* A hit-for-pass marker (*arg: struct pass_mark, its reason borrowed: always a static
 * sentence), last on the list of them. */
static void fill_pass(struct sf_cache *c, struct marker *m, const void *arg)
{
    const struct pass_mark *p = arg;
    m->expires_ms = p->until_ms;
    m->reason = p->reason; /* a static sentence (policy.h): borrowed, not copied */
    sf_table_charge(&c->t, &m->e, marker_charge(m, 0));
    m->pass.next = &c->t.pass; /* the newest: markers all live the same time */
    m->pass.prev = c->t.pass.prev;
    c->t.pass.prev->next = &m->pass;
    c->t.pass.prev = &m->pass;
    sf_table_note_expiry(&c->t);
}

void sf_cache_mark_pass(struct sf_cache *c, struct sf_obj *o, uint64_t until_ms)
{
    /* The reason is the published verdict's (o's head is out: its (P) fields are set), kept
     * for explain to say why the key is passed. */
    struct pass_mark p = {until_ms, o->verdict.reason};
    replace_by_marker(c, o, SF_ENTRY_PASS, fill_pass, &p);
}

/* A sliced marker for the representation *arg (struct sf_slice_ref, copied). */
static void fill_sliced(struct sf_cache *c, struct marker *m, const void *arg)
{
    const struct sf_slice_ref *ref = arg;
    sf_slice_ref_copy(ref, &m->slice);
    size_t fields = sf_held_str(m->slice.etag) + sf_held_str(m->slice.last_modified);
    sf_table_charge(&c->t, &m->e, marker_charge(m, fields));
}

void sf_cache_mark_sliced(struct sf_cache *c, struct sf_obj *o, const struct sf_slice_ref *ref)
{
    replace_by_marker(c, o, SF_ENTRY_SLICED, fill_sliced, ref);
}

void sf_cache_drop_sliced(struct sf_cache *c, const char *key, const struct sf_slice_ref *ref)
{
    struct sf_entry *old = NULL;
    sf_mutex_lock(&c->t.lock);
    struct sf_entry **pp = sf_table_slot(&c->t, key);
    if (*pp != NULL && (*pp)->role == SF_ENTRY_SLICED &&
        sf_slice_ref_same(&sf_table_marker(*pp)->slice, ref))
        old = sf_table_unlist(&c->t, pp);
    sf_mutex_unlock(&c->t.lock);
    sf_table_release(old);
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
    return v != NULL && sf_http_tags_have(v, tag);
}

/* Table lock held. Whether e is a stored response the purge selects. */
static bool purge_selects(const struct sf_cache *c, struct sf_entry *e, const char *url,
                          size_t url_len, bool prefix, const char *tag_header)
{
    sf_mutex_assert_held(&c->t.lock);
    return e->role == SF_ENTRY_RESPONSE &&
           (tag_header != NULL ? tag_matches(sf_table_obj(e), tag_header, url)
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
    sf_mutex_lock(&c->t.lock);
    if (!prefix && tag_header == NULL) {
        /* One URL: only the chain of the URL index it hashes to. */
        for (struct sf_entry *e =
                 c->t.by_url[sf_table_hash_bytes(url, url_len) & (c->t.nbuckets - 1)];
             e != NULL; e = e->unext)
            if (purge_selects(c, e, url, url_len, false, NULL))
                push(&hits, &count, &cap, e);
    } else {
        for (size_t i = 0; i < c->t.nbuckets; i++)
            for (struct sf_entry *e = c->t.buckets[i]; e != NULL; e = e->hnext)
                if (purge_selects(c, e, url, url_len, prefix, tag_header))
                    push(&hits, &count, &cap, e);
    }
    for (size_t i = 0; i < count; i++) {
        if (soft)
            hits[i]->invalidated = true;
        else
            sf_table_unlist(&c->t, sf_table_slot(&c->t, hits[i]->key)); /* released below */
    }
    sf_mutex_unlock(&c->t.lock);
    for (size_t i = 0; !soft && i < count; i++)
        sf_table_release(hits[i]);
    free(hits);
    return count;
}

void sf_cache_which_stored(struct sf_cache *c, struct sf_obj *const *objs, size_t n, bool *stored)
{
    sf_mutex_lock(&c->t.lock);
    for (size_t i = 0; i < n; i++)
        stored[i] = objs[i]->entry.role == SF_ENTRY_RESPONSE;
    sf_mutex_unlock(&c->t.lock);
}
