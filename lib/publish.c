/* publish: see publish.h. Lock order as in singleflight.h: the cache's calls take the
 * table lock with no object lock held; an object is filled under its own lock. */
#include "publish.h"

#include "cache.h"
#include "disktier.h"
#include "fetchspec.h"
#include "keyurl.h"
#include "log.h"
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

/* Copies a stale object's body into the object refreshed from it. Lock of o held; the
 * stale object is complete, so its bytes need no lock. */
static void copy_body(struct sf_obj *o, const struct sf_obj *stale)
{
    sf_mutex_assert_held(&o->lock);
    size_t left = stale->len;
    for (size_t i = 0; i < stale->nsegs && left > 0; i++) {
        size_t n = left < stale->segs[i]->cap ? left : stale->segs[i]->cap;
        sf_obj_append(o, stale->segs[i]->data, n);
        left -= n;
    }
}

/* Sets what o's response varies on (RFC 9111 §4.1) and the variant its request selects.
 * Takes over names and variant. Lock of o held, before it publishes. */
static void set_variant(struct sf_obj *o, char *names, char *variant)
{
    sf_mutex_assert_held(&o->lock);
    SF_ASSERT(o->state == SF_OBJ_PENDING);
    o->vary_names = names;
    o->variant = variant;
}

/* A new shared object under key with o's response (complete: its fields and body no
 * longer change) and verdict v, complete itself. */
static struct sf_obj *copy_of(const struct sf_obj *o, const char *key, struct sf_hdrs *fields,
                              const struct sf_verdict *v, int64_t now_s)
{
    struct sf_obj *copy = sf_obj_new(key); /* only the fetcher changes keys */
    sf_obj_lock(copy);
    set_variant(copy, sf_xstrdup_opt(o->vary_names), sf_xstrdup_opt(o->variant));
    sf_obj_publish(copy, o->status, fields, (int64_t)o->len, v, now_s);
    copy_body(copy, o);
    sf_obj_finish(copy, SF_FAIL_NONE); /* nobody is attached: no waiter to wake */
    sf_obj_unlock(copy);
    return copy;
}

/* A 200 to a HEAD sent on its own (fields head, its Content-Length head_length) updates
 * the stored GET response it describes with its fields, or invalidates that response when
 * it describes another (RFC 9111 §4.3.5). */
static void update_stored_get(const struct sf_publisher *p, const struct sf_judged_request *req,
                              const char *get_key, const struct sf_hdrs *head, int64_t head_length,
                              int64_t now_s)
{
    struct sf_query q = {get_key, NULL, &(struct sf_fields){sf_judge_sent_field, (void *)req->hdrs},
                         NULL};
    struct sf_obj *stored = sf_cache_stored(p->cache, &q);
    if (stored == NULL)
        return;
    /* Stored objects are complete: their fields and body no longer change. */
    struct sf_hdrs merged;
    struct sf_verdict v;
    enum sf_head_update use =
        sf_judge_head_update(p->judge, req, stored, head, head_length, now_s, &merged, &v);
    if (use == SF_HEAD_UPDATE_NONE) {
        sf_obj_unref(stored);
        return;
    }
    if (use == SF_HEAD_UPDATE_STALE) {
        /* The disk's copy too, or a restart (or an only-if-cached request, which reads the
         * disk on its memory miss) serves it as fresh: a soft purge of its URL, which may
         * invalidate the URL's other keys too (over-invalidation, never a wrong answer). */
        char *url = sf_xstrndup(get_key, strcspn(get_key, "\n"));
        sf_disktier_invalidate(url, true);
        free(url);
        sf_cache_invalidate(p->cache, stored);
        SF_COUNT(invalidations);
        sf_obj_unref(stored);
        return;
    }
    struct sf_obj *o = copy_of(stored, stored->key, &merged, &v, now_s);
    if (sf_cache_replace(p->cache, stored, o)) {
        if (sf_cache_store(p->cache, o, sf_now_ms()))
            sf_disktier_put(o); /* the update replaces the disk's copy too */
        SF_COUNT(head_updates);
    }
    sf_obj_unref(o);
    sf_obj_unref(stored);
}

void sf_publish_for_get(const struct sf_publisher *p, struct sf_obj *o, const char *key)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    if (sf_hdrs_get(&o->hdrs, "Vary") != NULL)
        return; /* which GETs it would serve is not known: a POST has no variant */
    struct sf_hdrs fields = {0};
    for (size_t i = 0; i < o->hdrs.n; i++)
        /* The POST's client keeps its cookie (a pass-through's response); the stored copy,
         * shared from now on, is stripped as a shared response is. */
        if (!p->judge->strip_set_cookie || !sf_streq_ci(o->hdrs.v[i].name, "Set-Cookie"))
            sf_hdrs_add(&fields, o->hdrs.v[i].name, o->hdrs.v[i].value);
    struct sf_obj *copy = copy_of(o, key, &fields, &o->verdict, o->response_time_s);
    if (sf_cache_put(p->cache, copy)) {
        if (sf_cache_store(p->cache, copy, sf_now_ms()))
            sf_disktier_put(copy);
        SF_COUNT(stores);
    }
    sf_obj_unref(copy);
}

/* Appends url (taken over; NULL: none) to urls (n of them) unless it is there already. */
static void add_once(char **urls, size_t *n, char *url)
{
    for (size_t i = 0; url != NULL && i < *n; i++)
        if (strcmp(urls[i], url) == 0) {
            free(url);
            return;
        }
    if (url != NULL)
        urls[(*n)++] = url;
}

/* Purges what a response to an unsafe request invalidates (RFC 9111 §4.4): each URL the
 * judge named, and with a keymap the URL a GET of it is stored under where that is
 * another (the GET's route has an upstream, a strip_prefix or a query rule of its own:
 * keyurl.h). Each once, so that nothing is counted twice. */
static void invalidate(const struct sf_publisher *p, const struct sf_head_decision *d,
                       const struct sf_keymap *map)
{
    char *urls[2 * SF_JUDGE_INVALIDATE_MAX];
    size_t n = 0;
    for (size_t i = 0; i < SF_JUDGE_INVALIDATE_MAX && d->invalidate[i] != NULL; i++) {
        add_once(urls, &n, sf_xstrdup(d->invalidate[i]));
        if (map != NULL)
            add_once(urls, &n, sf_keymap_url(map, d->invalidate[i]));
    }
    for (size_t i = 0; i < n; i++) {
        size_t in_memory = sf_cache_purge(p->cache, urls[i], false, true, NULL);
        SF_COUNT_N(invalidations, in_memory);
        sf_disktier_invalidate(urls[i], in_memory > 0);
        /* Again, after the disk: a disk fill that read before the disk's rule and stored
         * after the purge above is invalidated too (disktier.h: sf_disktier_purge_gen). */
        if (sf_disktier_on())
            sf_cache_purge(p->cache, urls[i], false, true, NULL);
        free(urls[i]);
    }
}

/* Tells the cache what a shared flight's published head turned out to be: one user's
 * (hit-for-pass), a response to keep in slices, or a response for its key or variant's
 * key. */
static void settle_in_cache(const struct sf_publisher *p, struct sf_obj *o,
                            const struct sf_head_decision *d)
{
    const struct sf_verdict *v = &d->verdict;
    if (v->reason != NULL)
        sf_log_debug("%s: %d %s: %s", v->shareable ? "not stored" : "pass", d->status, o->key,
                     v->reason);
    if (!v->shareable)
        sf_cache_mark_pass(p->cache, o, sf_now_ms() + p->hit_for_pass_ms);
    else if (d->sliced) {
        sf_cache_mark_sliced(p->cache, o, &d->slice); /* o streams on, to its own clients */
        sf_disktier_put_sliced(o->key, &d->slice);    /* for after a restart */
    } else
        sf_cache_settle_variant(p->cache, o);
}

static void count_use(const struct sf_head_decision *d, bool revalidating)
{
    if (d->use == SF_HEAD_STALE)
        SF_COUNT(stale_if_error);
    else if (d->use == SF_HEAD_REFRESHED)
        SF_COUNT(revalidations_304);
    else if (revalidating)
        SF_COUNT(revalidations_200);
}

bool sf_publish(const struct sf_publisher *p, struct sf_obj *o, const struct sf_judged_request *req,
                const struct sf_fetch_spec *spec, struct sf_head_decision *d, int64_t now_s)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    /* req->stale (the spec's reference to what o revalidates) is read-only here: lookups
     * may still serve it (stale-while-revalidate) until o is stored or unlisted. */
    count_use(d, req->stale != NULL);
    invalidate(p, d, spec->keymap);
    if (d->update_stored_get)
        update_stored_get(p, req, spec->get_key, &d->fields, d->length, now_s);

    sf_obj_lock(o);
    o->revalidated = d->use == SF_HEAD_REFRESHED;
    o->served_stale = d->use == SF_HEAD_STALE;
    if (d->own.n > 0) { /* rare (private="..."): a stored response keeps no empty list */
        struct sf_hdrs **own = &o->flight->own_hdrs; /* (its fetch runs: it has one) */
        *own = sf_xmalloc(sizeof **own);
        **own = d->own;
    } else {
        sf_hdrs_clear(&d->own); /* (room reserved, no field) */
    }
    d->own = (struct sf_hdrs){0};
    set_variant(o, d->vary_names, d->variant);
    d->vary_names = d->variant = NULL;
    sf_obj_publish(o, d->status, &d->fields, d->length, &d->verdict, now_s);
    if (d->store_for_get)
        o->storable = true; /* kept whole, to be stored for GETs once complete */
    if (d->use != SF_HEAD_RECEIVED) {
        SF_ASSERT(req->stale != NULL); /* the judge refreshes or serves only what it was given */
        copy_body(o, req->stale);      /* a 304 has no body (curl's own ends the transfer) */
    }
    bool abandon = d->use != SF_HEAD_STALE && sf_obj_drop_if_unwanted(o);
    sf_obj_unlock(o);
    if (o->shared && d->use != SF_HEAD_STALE)
        settle_in_cache(p, o, d);
    sf_head_decision_clear(d);
    return !abandon;
}
