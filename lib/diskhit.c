/* diskhit: see diskhit.h. What the fetcher does for a response from the origin
 * (publish.c: the head, then settled in the cache; transfer.c: the body, complete,
 * stored), done here at once for a response read back from the disk, on the thread that
 * leads the flight: it was listed by this thread's lookup and not submitted, so no
 * fetcher will ever touch it, and the (P) fields are written once under its lock as
 * sf_obj_publish requires. Lock order as in singleflight.h: the cache's calls take the
 * table lock with no object lock held. */
#include "diskhit.h"

#include "cache.h"
#include "disktier.h"
#include "log.h"
#include "singleflight.h"
#include "slice.h"

#include <stdlib.h>
#include <string.h>

/* Gives o (PENDING, nobody fetches it) the response d and body, complete. Returns the
 * clients parked on it, for sf_waiters_wake once the cache knows its key. */
static void fill(struct sf_obj *o, struct sf_diskobj *d, const uint8_t *body, uint32_t body_len)
{
    sf_obj_lock(o);
    SF_ASSERT(o->state == SF_OBJ_PENDING);
    o->from_disk = true;
    o->vary_names = d->vary_names;
    o->variant = d->variant;
    d->vary_names = d->variant = NULL;
    sf_obj_publish(o, d->status, &d->hdrs, d->content_length, &d->verdict, d->response_time_s);
    sf_obj_append(o, (const char *)body, body_len);
    sf_obj_unlock(o);
}

/* A complete object of the disk's response, under key (its variant's, where it varies),
 * not listed: the response a flight revalidates, or one served as it is. */
static struct sf_obj *stale_obj(const char *key, struct sf_disktier_hit *h)
{
    size_t klen = strlen(key);
    bool bare = h->obj.variant != NULL && strstr(key, SF_VARIANT_MARK) == NULL;
    char *vkey = sf_xmalloc(klen + (bare ? strlen(h->obj.variant) : 0) + 1);
    memcpy(vkey, key, klen + 1);
    if (bare)
        strcpy(vkey + klen, h->obj.variant);
    struct sf_obj *s = sf_obj_new(vkey);
    free(vkey);
    fill(s, &h->obj, h->body, h->body_len);
    sf_obj_lock(s);
    sf_obj_finish(s, SF_FAIL_NONE); /* nobody is attached: no waiter to wake */
    sf_obj_unlock(s);
    return s;
}

struct sf_obj *sf_diskhit_read(const char *key, const struct sf_fields *fields,
                               const struct sf_req_directives *d)
{
    static const struct sf_req_directives none = {false, false, false, -1, -1, -1};
    if (!sf_disktier_on())
        return NULL;
    struct sf_disktier_hit h;
    if (sf_disktier_read(key, fields, sf_wall_s(), &h) != SF_DISKSTORE_FOUND)
        return NULL;
    struct sf_obj *o = NULL;
    if (!h.invalidated && sf_policy_acceptable(&h.obj.verdict, h.obj.verdict.age_s, d ? d : &none))
        o = stale_obj(key, &h); /* complete, listed nowhere: what the stale path makes too */
    sf_disktier_hit_free(&h);
    return o;
}

bool sf_diskhit_sliced(struct sf_cache *c, struct sf_obj *o, struct sf_slice_ref *ref, bool *submit)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    *submit = false;
    if (o->stale != NULL || !sf_disktier_on() || !sf_disktier_sliced(o->key, ref))
        return false;
    sf_cache_mark_sliced(c, o, ref);
    sf_obj_lock(o);
    /* Nobody joined: it is dropped (no reader may attach from now on: one that looked it
     * up fetches on its own, singleflight.h) and ends unfetched. */
    bool joined = sf_obj_clients(o) > 0;
    o->dropped = !joined;
    struct sf_waiter *wake = joined ? NULL : sf_obj_finish(o, SF_FAIL_CANCELLED);
    sf_obj_unlock(o);
    sf_waiters_wake(wake);
    *submit = joined;
    return true;
}

/* Whether the disk's stale response h may answer a request with directives d (NULL:
 * none) at once while it is revalidated (RFC 5861 §3), as lookup_key's would. */
static bool while_revalidate_ok(const struct sf_disktier_hit *h, const struct sf_req_directives *d)
{
    const struct sf_verdict *v = &h->obj.verdict;
    return !h->invalidated &&
           sf_policy_within_stale_window(v, v->age_s, v->stale_while_revalidate_s) &&
           sf_policy_stale_allowed(d, v, v->age_s);
}

enum sf_diskhit sf_diskhit_fill(struct sf_cache *c, struct sf_obj *o,
                                const struct sf_fields *fields, const struct sf_req_directives *d,
                                struct sf_obj **serve)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    static const struct sf_req_directives none = {false, false, false, -1, -1, -1};
    if (o->stale != NULL || !sf_disktier_on()) /* (T): this lookup's thread may read it */
        return SF_DISKHIT_NONE;
    struct sf_disktier_hit h;
    /* A purge counted after this read began may not hide what it read (disktier.h). */
    uint64_t gen = sf_disktier_purge_gen();
    /* Nothing fetches o yet, and only its fetcher changes its key: read without the lock. */
    enum sf_diskstore_get g = sf_disktier_read(o->key, fields, sf_wall_s(), &h);
    if (g != SF_DISKSTORE_FOUND)
        return SF_DISKHIT_NONE;
    if (sf_disktier_purge_gen() != gen) {
        sf_disktier_hit_free(&h); /* o is still this request's: fetched from the origin */
        return SF_DISKHIT_NONE;
    }
    if (h.invalidated ||
        !sf_policy_acceptable(&h.obj.verdict, h.obj.verdict.age_s, d ? d : &none)) {
        struct sf_obj *stale = stale_obj(o->key, &h);
        bool given = sf_cache_give_stale(c, o, stale, h.invalidated, sf_now_ms());
        bool now = given && serve != NULL && while_revalidate_ok(&h, d);
        if (now)
            *serve = stale; /* the reference stale_obj made */
        else
            sf_obj_unref(stale);
        sf_disktier_hit_free(&h);
        return now ? SF_DISKHIT_STALE : given ? SF_DISKHIT_REVALIDATE : SF_DISKHIT_NONE;
    }
    fill(o, &h.obj, h.body, h.body_len);
    sf_disktier_hit_free(&h);
    sf_cache_settle_variant(c, o); /* under its variant's key, with the vary marker */
    sf_obj_lock(o);
    struct sf_waiter *wake = sf_obj_finish(o, SF_FAIL_NONE);
    sf_obj_unlock(o);
    sf_waiters_wake(wake);
    sf_cache_store(c, o, sf_now_ms());
    /* A purge that came between the check above and the store may have purged memory before
     * o was stored there: o leaves the cache (this request, which began before that purge
     * answered, is still served it). One counted after the store purges memory after it. */
    if (sf_disktier_purge_gen() != gen)
        sf_cache_unlist(c, o);
    return SF_DISKHIT_FILLED;
}
