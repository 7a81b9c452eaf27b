/* cacheview: see cacheview.h. The view's type, and how the table fills one: the entry
 * under the key (a flight, a stored response, or one of the cache's markers), and, where
 * the key's responses vary or are kept in slices, the entries listed under its variants'
 * or slices' keys, found on the chain of the table's index by URL that the key's URL
 * hashes to (a variant's or a slice's key starts with the key, so shares its URL): the
 * walk a purge of one URL makes, never the whole table. Part of the table's private room
 * (table.h): sf_table_inspect runs under the table lock and copies; nothing it returns
 * points into the table. */
#include "cacheview.h"

#include "singleflight.h"
#include "table.h"
#include "variant.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sf_cache_view_clear(struct sf_cache_view *v)
{
    free(v->resp.key);
    free(v->pass_reason);
    free(v->vary_names);
    for (size_t i = 0; i < v->nvariants; i++)
        free(v->variants[i].key);
    free(v->variants);
    sf_slice_ref_clear(&v->slice);
    free(v->held);
    memset(v, 0, sizeof *v);
}

int64_t sf_cache_view_left_s(const struct sf_cache_view_resp *r)
{
    return r->fresh_s - r->age_s;
}

/* Table lock held. A copy of the stored response o (complete: its fields, length and
 * verdict no longer change) as lookups judge it at now_ms (cache.c's age). */
static void copy_response(const struct sf_table *t, const struct sf_obj *o, uint64_t now_ms,
                          struct sf_cache_view_resp *r)
{
    sf_mutex_assert_held(&t->lock);
    const struct sf_verdict *v = &o->verdict;
    uint64_t stored_ms = o->entry.stored_ms;
    r->key = sf_xstrdup(o->key);
    r->status = o->status;
    r->body_bytes = o->len;
    /* now_ms may have been read before the response was stored. */
    r->age_s = v->age_s + (int64_t)(now_ms > stored_ms ? (now_ms - stored_ms) / 1000 : 0);
    r->fresh_s = v->fresh_s;
    r->fresh_from = o->verdict.fresh_from; /* policy.c, from ttl.c's decision */
    r->invalidated = o->entry.invalidated;
    r->must_validate = v->must_validate;
    r->never_stale = v->never_stale;
    r->stale_while_revalidate_s = v->stale_while_revalidate_s;
    r->stale_if_error_s = v->stale_if_error_s;
}

/* Whether e's key is key (of klen bytes) followed by mark. */
static bool listed_under(const struct sf_entry *e, const char *key, size_t klen, const char *mark)
{
    return strncmp(e->key, key, klen) == 0 && strncmp(e->key + klen, mark, strlen(mark)) == 0;
}

/* Table lock held. The stored variants of key, from its URL's entries. */
static void add_variants(struct sf_table *t, const char *key, uint64_t now_ms,
                         struct sf_cache_view *out)
{
    size_t klen = strlen(key);
    struct sf_entry *chain =
        t->by_url[sf_table_hash_bytes(key, strcspn(key, "\n")) & (t->nbuckets - 1)];
    for (struct sf_entry *e = chain; e != NULL; e = e->unext) {
        if (e->role != SF_ENTRY_RESPONSE || !listed_under(e, key, klen, SF_VARIANT_MARK))
            continue;
        if (out->nvariants < SF_CACHE_VIEW_MAX_VARIANTS) {
            if (out->variants == NULL)
                out->variants = sf_xcalloc(SF_CACHE_VIEW_MAX_VARIANTS, sizeof *out->variants);
            copy_response(t, sf_table_obj(e), now_ms, &out->variants[out->nvariants++]);
        }
        out->variants_stored++;
    }
}

/* Table lock held. Which slices of size bytes the response under key has stored, from its
 * URL's entries (a slice's key: key, SF_SLICE_MARK, "SIZE/INDEX"; sf_slice_key). */
static void add_slices(struct sf_table *t, const char *key, struct sf_cache_view *out)
{
    size_t klen = strlen(key), mlen = strlen(SF_SLICE_MARK), cap = 0;
    uint64_t size = out->slice_bytes;
    out->slices = size > 0 ? (out->slice.total + size - 1) / size : 0;
    struct sf_entry *chain =
        t->by_url[sf_table_hash_bytes(key, strcspn(key, "\n")) & (t->nbuckets - 1)];
    for (struct sf_entry *e = chain; size > 0 && e != NULL; e = e->unext) {
        uint64_t esize, index;
        int end = 0;
        if (e->role != SF_ENTRY_RESPONSE || !listed_under(e, key, klen, SF_SLICE_MARK) ||
            sscanf(e->key + klen + mlen, "%" SCNu64 "/%" SCNu64 "%n", &esize, &index, &end) != 2 ||
            e->key[klen + mlen + (size_t)end] != '\0' || esize != size || index >= out->slices)
            continue; /* another entry of the URL, or a slice cut by another slice_bytes */
        if (out->nheld == cap) {
            cap = cap ? cap * 2 : 64;
            out->held = sf_xrealloc(out->held, cap * sizeof *out->held);
        }
        out->held[out->nheld++] = index;
    }
}

void sf_table_inspect(struct sf_table *t, const char *key, uint64_t slice_bytes, uint64_t now_ms,
                      struct sf_cache_view *out)
{
    sf_mutex_assert_held(&t->lock);
    struct sf_entry *e = *sf_table_slot(t, key);
    enum sf_entry_role role = e != NULL ? e->role : SF_ENTRY_UNLISTED;
    if (role == SF_ENTRY_RESPONSE) {
        out->kind = SF_CACHE_VIEW_RESPONSE;
        copy_response(t, sf_table_obj(e), now_ms, &out->resp);
    } else if (role == SF_ENTRY_FLIGHT) {
        const struct sf_obj *stale = sf_table_obj(e)->stale;
        out->kind = SF_CACHE_VIEW_FLIGHT;
        out->revalidating = stale != NULL;
        if (stale != NULL)
            copy_response(t, stale, now_ms, &out->resp);
    } else if (role == SF_ENTRY_PASS) {
        const struct marker *m = sf_table_marker(e);
        out->kind = SF_CACHE_VIEW_PASS;
        out->pass_reason = sf_xstrdup_opt(m->reason);
        out->pass_left_ms = m->expires_ms > now_ms ? (int64_t)(m->expires_ms - now_ms) : 0;
    } else if (role == SF_ENTRY_VARY) {
        out->kind = SF_CACHE_VIEW_VARY;
        out->vary_names = sf_xstrdup(sf_table_marker(e)->vary_names);
        add_variants(t, key, now_ms, out);
    } else if (role == SF_ENTRY_SLICED) {
        out->kind = SF_CACHE_VIEW_SLICED;
        sf_slice_ref_copy(&sf_table_marker(e)->slice, &out->slice);
        out->slice_bytes = slice_bytes;
        add_slices(t, key, out);
    }
}

static int by_index(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct sf_cache_view_resp *)a)->key,
                  ((const struct sf_cache_view_resp *)b)->key);
}

void sf_table_inspect_done(struct sf_cache_view *out)
{
    /* In a set order, for a person (and a test) to compare: the table's is its hash's. */
    if (out->nheld > 1)
        qsort(out->held, out->nheld, sizeof *out->held, by_index);
    if (out->nvariants > 1)
        qsort(out->variants, out->nvariants, sizeof *out->variants, by_key);
}
