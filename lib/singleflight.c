/* singleflight: see singleflight.h.
 *
 * The fetcher is the only writer of an object's response (publish, append, finish); the
 * front's clients are its readers. Both sides meet under the object's lock, which guards
 * the state, the body length and the waiter list. A waiter is on the list only while its
 * connection is suspended: parking happens under the lock together with the suspend.
 * Waking takes it off the list under the lock and resumes it after unlocking (so that a
 * thousand resumes do not hold the lock): whoever takes a waiter off the list owns its
 * resume, and nobody else can reach it, so a resume never hits a connection that is not
 * suspended, and no connection is resumed twice.
 *
 * Segments grow geometrically (4 KiB, doubling up to 256 KiB), or are sized once from a
 * known Content-Length, so small objects waste little and big ones need few segments. */
#include "singleflight.h"

#include "conn.h"
#include "hangup.h"
#include "held.h"
#include "park.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

/* The flights of objects that have attached readers, or had and are still fetched (a
 * flight its clients left, filling the cache), for the pinned-memory pass: an object
 * joins at its first reader and leaves with its last one or, if its fetch still runs
 * then, at its end; so the list costs a lock per object, not per client. A listed object
 * is always referenced (by a reader, or by its transfer until it ends), and its flight is
 * not freed while it is listed (sf_obj_settle). Lock order: object lock ->
 * with_readers_lock. Whether o is listed is o->flight->with_readers (its own lock); the
 * links rl_prev and rl_next are the list lock's alone, since listing or unlisting a
 * flight writes its neighbours' too. */
static pthread_mutex_t with_readers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sf_flight with_readers = {.rl_prev = &with_readers, .rl_next = &with_readers};

#define SEG_MIN (4u << 10)
#define SEG_MAX (256u << 10)
#define SEG_FIRST_MAX (1u << 20)
/* A stored body's one segment is copied to its exact size when that frees this much. */
#define SEG_FIT_MIN 256u

/* Object lock held. Puts o on the list of objects with readers, or takes it off. */
static void list_with_readers(struct sf_obj *o, bool on)
{
    sf_mutex_assert_held(&o->lock);
    struct sf_flight *f = o->flight;
    SF_ASSERT(f->with_readers != on);
    f->with_readers = on;
    SF_PTOK(pthread_mutex_lock(&with_readers_lock));
    if (on) {
        f->rl_next = &with_readers;
        f->rl_prev = with_readers.rl_prev;
        with_readers.rl_prev->rl_next = f;
        with_readers.rl_prev = f;
    } else {
        f->rl_prev->rl_next = f->rl_next;
        f->rl_next->rl_prev = f->rl_prev;
        f->rl_prev = f->rl_next = NULL;
    }
    SF_PTOK(pthread_mutex_unlock(&with_readers_lock));
}

static struct sf_flight *flight_new(struct sf_obj *o)
{
    struct sf_flight *f = sf_xcalloc(1, sizeof *f);
    f->obj = o;
    f->upstream_ttfb_us = -1;
    return f;
}

static void flight_free(struct sf_flight *f)
{
    if (f == NULL)
        return;
    SF_ASSERT(f->waiters_first == NULL && f->readers_first == NULL && f->clients == 0);
    SF_ASSERT(f->fetch == NULL && !f->with_readers); /* off the list of flights with readers */
    free(f->seg_retired);
    if (f->own_hdrs != NULL)
        sf_hdrs_clear(f->own_hdrs);
    free(f->own_hdrs);
    free(f->interim);
    free(f->upstream_addr);
    free(f);
}

void sf_obj_settle(struct sf_obj *o)
{
    sf_mutex_assert_held(&o->lock);
    struct sf_flight *f = o->flight;
    bool running = o->state == SF_OBJ_PENDING || o->state == SF_OBJ_STREAMING;
    if (f == NULL || running || f->clients > 0 || f->fetch != NULL)
        return;
    /* Final, with no client: nobody is parked, leads or copies from a retired segment, and
     * it left the with-readers list as its last client detached or its fetch finished. */
    SF_ASSERT(f->leader == NULL && f->seg_retired == NULL);
    o->flight = NULL;
    flight_free(f);
}

struct sf_obj *sf_obj_new(const char *key)
{
    struct sf_obj *o = sf_xcalloc(1, sizeof *o);
    o->magic = SF_OBJ_MAGIC;
    atomic_init(&o->refs, 1);
    o->key = sf_xstrdup_opt(key);
    o->shared = key != NULL;
    sf_mutex_init(&o->lock);
    o->flight = flight_new(o);
    o->state = SF_OBJ_PENDING;
    o->content_length = -1;
    o->unjoinable = key == NULL; /* a private object has its one reader from the start */
    return o;
}

struct sf_obj *sf_obj_ref(struct sf_obj *o)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
    return o;
}

static void obj_destroy(struct sf_obj *o)
{
    SF_ASSERT(o->entry.role == SF_ENTRY_UNLISTED);
    flight_free(o->flight); /* (one whose object never finished: a test's, or shutdown's) */
    for (size_t i = 0; i < o->nsegs; i++)
        free(o->segs[i]);
    if (o->segs != &o->seg_one)
        free(o->segs);
    sf_hdrs_clear(&o->hdrs);
    sf_obj_unref(o->stale);
    sf_mutex_destroy(&o->lock);
    free(o->key);
    free(o->vary_names);
    free(o->variant);
    o->magic = 0;
    free(o);
}

void sf_obj_unref(struct sf_obj *o)
{
    if (o == NULL)
        return;
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
        obj_destroy(o); /* every holder has let go: nobody else can reach o */
}

void sf_obj_lock(struct sf_obj *o)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    sf_mutex_lock(&o->lock);
}

void sf_obj_unlock(struct sf_obj *o)
{
    sf_mutex_unlock(&o->lock);
}

/* Takes w off o's list and retires its hangup watch. The parking count still has it: it is
 * suspended until whoever unlinked it resumes it. */
static void unlink_waiter(struct sf_obj *o, struct sf_waiter *w)
{
    SF_ASSERT(w->parked);
    struct sf_flight *f = o->flight; /* w is parked on it: it has one */
    /* On o's list, not another's (a request's one waiter parks only on the object it
     * reads): the ends are o's. */
    SF_ASSERT(w->prev != NULL || f->waiters_first == w);
    SF_ASSERT(w->next != NULL || f->waiters_last == w);
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        f->waiters_first = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        f->waiters_last = w->prev;
    w->prev = w->next = NULL;
    w->parked = false;
    w->on_obj = false;
    w->progress_ms = sf_now_ms(); /* it was waiting for us, not idle, until now */
    sf_hangup_unwatch(w);
}

/* ---- the hangup watcher's way to a waiter parked on an object ---- */

static void place_ref(void *o)
{
    sf_obj_ref(o);
}

static void place_unref(void *o)
{
    sf_obj_unref(o);
}

static void place_lock(void *o)
{
    sf_obj_lock(o);
}

static void place_unlock(void *o)
{
    sf_obj_unlock(o);
}

static struct sf_waiter *drop_gone(void *place, struct sf_waiter *w)
{
    struct sf_obj *o = place;
    sf_mutex_assert_held(&o->lock);
    unlink_waiter(o, w);
    w->gone = true;
    return w; /* a list of one: next is NULL */
}

static const struct sf_place_ops obj_place = {place_ref, place_unref, place_lock, place_unlock,
                                              drop_gone};

/* Lock held. Puts w at the end of o's list, parked, its hangup watched. */
static void link_waiter(struct sf_obj *o, struct sf_waiter *w)
{
    struct sf_flight *f = o->flight; /* PENDING or STREAMING (sf_obj_park): it has one */
    w->prev = f->waiters_last;
    w->next = NULL;
    if (f->waiters_last != NULL)
        f->waiters_last->next = w;
    else
        f->waiters_first = w;
    f->waiters_last = w;
    w->parked = true;
    w->on_obj = true;
    sf_hangup_watch(w, o, &obj_place);
}

bool sf_obj_park(struct sf_obj *o, struct sf_waiter *w)
{
    sf_mutex_assert_held(&o->lock);
    SF_ASSERT(!w->parked);
    SF_ASSERT(o->state == SF_OBJ_PENDING || o->state == SF_OBJ_STREAMING);
    if (!sf_park_begin())
        return false;
    link_waiter(o, w);
    return true;
}

void sf_obj_unpark(struct sf_obj *o, struct sf_waiter *w)
{
    sf_mutex_assert_held(&o->lock);
    if (w->parked) {
        unlink_waiter(o, w);
        sf_park_end();
    }
}

/* Lock held. Whether w, parked on o or about to park, is owed o's latest interim head. */
static bool owed_interim(const struct sf_obj *o, const struct sf_waiter *w)
{
    const struct sf_flight *f = o->flight; /* PENDING: it has one */
    return w->probe && w->hints && w->fd >= 0 && f->interim != NULL &&
           w->interim_seen != f->interim_seq;
}

/* Writes head to w's client; false when its socket took only part, or failed. */
static bool interim_reached(const struct sf_waiter *w, const char *head, size_t len)
{
    enum sf_conn_wrote wrote = sf_conn_write_interim(w->fd, head, len);
    /* Sent whole, or nothing: the stream is intact either way. */
    return wrote == SF_CONN_WROTE_ALL || wrote == SF_CONN_WROTE_NONE;
}

/* Lock held. Puts w back on o's list, where sf_obj_send_interim took it from: parked as
 * before (its parking was never ended), its hangup watched again. */
static void relink_waiter(struct sf_obj *o, struct sf_waiter *w)
{
    sf_mutex_assert_held(&o->lock);
    link_waiter(o, w);
}

/* Collects under the lock and writes after it, as waking does: a waiter taken off the list
 * stays suspended, and whoever took it off alone may resume it, so while its head is
 * written without the lock nothing else writes to its socket or closes it. Under the lock
 * stay only the moves on and off the list and the hangup watch's re-arming (one
 * epoll_ctl a waiter, about a tenth of a send on loopback). */
struct sf_waiter *sf_obj_send_interim(struct sf_obj *o, const char *head, size_t len)
{
    struct sf_waiter *owed = NULL, **tail = &owed;
    sf_obj_lock(o);
    struct sf_flight *f = o->flight; /* its fetch runs (we are it): it has one */
    free(f->interim);
    f->interim = sf_xstrndup(head, len);
    f->interim_seq++;
    for (struct sf_waiter *w = f->waiters_first, *next; w != NULL; w = next) {
        next = w->next;
        if (!owed_interim(o, w))
            continue;
        w->interim_seen = f->interim_seq;
        unlink_waiter(o, w);
        *tail = w;
        tail = &w->next;
    }
    sf_obj_unlock(o);
    struct sf_waiter *reached = NULL, *broken = NULL;
    for (struct sf_waiter *w = owed, *next; w != NULL; w = next) {
        next = w->next;
        struct sf_waiter **to = interim_reached(w, head, len) ? &reached : &broken;
        w->next = *to;
        *to = w;
    }
    struct sf_waiter *wake = NULL;
    sf_obj_lock(o);
    for (struct sf_waiter *w = broken, *next; w != NULL; w = next) {
        next = w->next;
        w->gone = true; /* a part, or a broken socket: this connection is done */
        w->next = wake;
        wake = w;
    }
    /* The head may have come, or the reader been shed, meanwhile: then it wakes to see. */
    for (struct sf_waiter *w = reached, *next; w != NULL; w = next) {
        next = w->next;
        if (o->state == SF_OBJ_PENDING && !w->shed) {
            relink_waiter(o, w);
            continue;
        }
        w->next = wake;
        wake = w;
    }
    sf_obj_unlock(o);
    return wake;
}

bool sf_obj_catch_up_interim(struct sf_obj *o, struct sf_waiter *w)
{
    sf_mutex_assert_held(&o->lock);
    if (!owed_interim(o, w))
        return true;
    w->interim_seen = o->flight->interim_seq;
    /* Under the lock: w is about to park, and a 103 sent meanwhile must be neither missed
     * nor sent twice. One write, to its own client, on its own worker. */
    return interim_reached(w, o->flight->interim, strlen(o->flight->interim));
}

struct sf_waiter *sf_obj_take_waiters(struct sf_obj *o)
{
    sf_mutex_assert_held(&o->lock);
    struct sf_waiter *head = NULL, **tail = &head;
    while (o->flight != NULL && o->flight->waiters_first != NULL) {
        struct sf_waiter *w = o->flight->waiters_first;
        unlink_waiter(o, w);
        *tail = w;
        tail = &w->next;
    }
    return head;
}

void sf_obj_publish(struct sf_obj *o, int status, struct sf_hdrs *hdrs, int64_t content_length,
                    const struct sf_verdict *verdict, int64_t response_time_s)
{
    sf_mutex_assert_held(&o->lock);
    SF_ASSERT(o->state == SF_OBJ_PENDING);
    o->status = status;
    o->hdrs = *hdrs;
    memset(hdrs, 0, sizeof *hdrs);
    /* A shared head may be stored: one block (hdrs.h) rather than a table of slots and a
     * block a field. Packed here, before it is published: readers then read it without the
     * lock, so it must never move again. */
    if (o->shared)
        sf_hdrs_pack(&o->hdrs);
    o->content_length = content_length;
    o->verdict = *verdict;
    o->pass = !verdict->shareable;
    o->unjoinable |= o->pass; /* a hit-for-pass marker replaces it in the table */
    o->storable = o->shared && verdict->storable;
    o->response_time_s = response_time_s;
    o->state = SF_OBJ_STREAMING;
}

static size_t slowest_reader(const struct sf_obj *o)
{
    size_t min = o->len;
    for (const struct sf_waiter *w = o->flight->readers_first; w != NULL; w = w->rnext)
        if (w->pos < min)
            min = w->pos;
    return min;
}

/* Frees the segments every reader has passed, once nobody can need them again. */
static void trim(struct sf_obj *o)
{
    if (!o->unjoinable || o->storable)
        return;
    size_t min = slowest_reader(o);
    if (o->nsegs < 2)
        return; /* the last segment is still being filled (and the table is seg_one) */
    SF_ASSERT(o->segs != &o->seg_one);
    while (o->seg_first + 1 < o->nsegs) { /* the last segment is still being filled */
        struct sf_seg *s = o->segs[o->seg_first];
        if (s->off + s->cap > min)
            break;
        o->segs[o->seg_first++] = NULL;
        o->mem_bytes -= sizeof *s + s->cap;
        free(s);
    }
}

static size_t next_seg_cap(const struct sf_obj *o, size_t need)
{
    size_t cap;
    if (o->nsegs == 0 && o->content_length > 0)
        cap = (size_t)o->content_length < SEG_FIRST_MAX ? (size_t)o->content_length : SEG_FIRST_MAX;
    else if (o->nsegs == 0)
        cap = SEG_MIN;
    else
        cap = o->segs[o->nsegs - 1]->cap * 2;
    if (cap > SEG_MAX && !(o->nsegs == 0 && o->content_length > 0))
        cap = SEG_MAX;
    /* A body longer than its Content-Length goes on in ordinary segments. */
    if (cap < need && cap < SEG_MIN)
        cap = SEG_MIN;
    return cap;
}

/* Lock held. Room for one more segment: the first in the object itself, from the second
 * on an array on the heap (4, then doubling). */
static void grow_segs(struct sf_obj *o)
{
    if (o->segs_cap == 0) {
        o->segs = &o->seg_one;
        o->segs_cap = 1;
    } else if (o->segs == &o->seg_one) {
        o->segs = sf_xmalloc(4 * sizeof *o->segs);
        o->segs[0] = o->seg_one;
        o->segs_cap = 4;
    } else {
        o->segs_cap *= 2;
        o->segs = sf_xrealloc(o->segs, o->segs_cap * sizeof *o->segs);
    }
}

void sf_obj_append(struct sf_obj *o, const char *data, size_t len)
{
    sf_mutex_assert_held(&o->lock);
    SF_ASSERT(o->state == SF_OBJ_STREAMING);
    while (len > 0) {
        struct sf_seg *last = o->nsegs ? o->segs[o->nsegs - 1] : NULL;
        size_t room = last ? last->off + last->cap - o->len : 0;
        if (room == 0) {
            size_t cap = next_seg_cap(o, len);
            last = sf_xmalloc(sizeof *last + cap);
            last->off = o->len;
            last->cap = cap;
            if (o->nsegs == o->segs_cap)
                grow_segs(o);
            o->segs[o->nsegs++] = last;
            o->mem_bytes += sizeof *last + cap;
            room = cap;
        }
        size_t n = len < room ? len : room;
        memcpy(last->data + (o->len - last->off), data, n);
        o->len += n;
        data += n;
        len -= n;
    }
    trim(o);
}

/* Lock held, o about to be COMPLETE. Copies a stored body's one segment, larger than the
 * body, into one of its exact size. The old one is freed now if no reader is attached (a
 * reader takes a pointer under the lock and copies outside it), else when the last one
 * detaches; readers that come after see only the new one. */
static void fit_segment(struct sf_obj *o)
{
    struct sf_seg *old = o->nsegs == 1 ? o->segs[0] : NULL;
    struct sf_flight *f = o->flight; /* not final yet: it has one */
    if (old == NULL || !o->storable || old->cap - o->len < SEG_FIT_MIN || f->seg_retired != NULL)
        return;
    struct sf_seg *fit = sf_xmalloc(sizeof *fit + o->len);
    fit->off = 0;
    fit->cap = o->len;
    memcpy(fit->data, old->data, o->len);
    o->segs[0] = fit;
    o->mem_bytes -= old->cap - o->len;
    if (f->clients == 0)
        free(old);
    else
        f->seg_retired = old;
}

struct sf_waiter *sf_obj_finish(struct sf_obj *o, enum sf_fail fail)
{
    sf_mutex_assert_held(&o->lock);
    SF_ASSERT(o->state == SF_OBJ_PENDING || o->state == SF_OBJ_STREAMING);
    if (fail == SF_FAIL_NONE)
        fit_segment(o);
    o->fail = fail;
    if (o->flight->with_readers && o->flight->clients == 0)
        list_with_readers(o, false); /* a flight its clients left: its body is done */
    o->state = fail == SF_FAIL_NONE ? SF_OBJ_COMPLETE : SF_OBJ_FAILED;
    if (fail != SF_FAIL_NONE)
        o->storable = false;
    struct sf_waiter *wake = sf_obj_take_waiters(o);
    sf_obj_settle(o); /* nobody fetched it (the disk tier's), and nobody is attached */
    return wake;
}

size_t sf_obj_held_bytes(struct sf_obj *o)
{
    size_t held = sf_held_bytes(sizeof *o) + sf_hdrs_held(&o->hdrs, sf_held_bytes) +
                  sf_held_str(o->key) + sf_held_str(o->vary_names) + sf_held_str(o->variant);
    for (size_t i = o->seg_first; i < o->nsegs; i++)
        held += sf_held_bytes(sizeof *o->segs[i] + o->segs[i]->cap);
    if (o->segs != &o->seg_one && o->segs != NULL)
        held += sf_held_bytes(o->segs_cap * sizeof *o->segs);
    return held; /* not the flight: its fetch's and readers' until they are done */
}

size_t sf_obj_peek(struct sf_obj *o, size_t pos, size_t *seg_hint, const char **data)
{
    sf_mutex_assert_held(&o->lock);
    if (pos >= o->len)
        return 0;
    size_t i = *seg_hint < o->nsegs && *seg_hint >= o->seg_first ? *seg_hint : o->seg_first;
    if (o->segs[i]->off > pos)
        i = o->seg_first;
    SF_ASSERT(o->segs[i]->off <= pos); /* readers never ask for freed bytes */
    while (pos >= o->segs[i]->off + o->segs[i]->cap)
        i++;
    *seg_hint = i;
    const struct sf_seg *s = o->segs[i];
    size_t end = s->off + s->cap < o->len ? s->off + s->cap : o->len;
    *data = s->data + (pos - s->off);
    return end - pos;
}

struct sf_obj **sf_obj_with_readers(size_t *n)
{
    SF_PTOK(pthread_mutex_lock(&with_readers_lock));
    size_t count = 0, cap = 16;
    for (struct sf_flight *f = with_readers.rl_next; f != &with_readers; f = f->rl_next)
        count++;
    cap = count > 0 ? count : 1;
    struct sf_obj **out = sf_xmalloc(cap * sizeof *out);
    count = 0;
    for (struct sf_flight *f = with_readers.rl_next; f != &with_readers; f = f->rl_next)
        out[count++] = sf_obj_ref(f->obj); /* listed: a reader or its fetch holds a reference */
    SF_PTOK(pthread_mutex_unlock(&with_readers_lock));
    *n = count;
    return out;
}

struct sf_waiter *sf_obj_shed_readers(struct sf_obj *o, size_t *count)
{
    sf_mutex_assert_held(&o->lock);
    struct sf_waiter *wake = NULL;
    *count = 0;
    if (o->flight == NULL)
        return NULL; /* no reader attached */
    for (struct sf_waiter *w = o->flight->readers_first; w != NULL; w = w->rnext) {
        if (w->shed)
            continue;
        w->shed = true;
        (*count)++;
        if (w->on_obj) {
            unlink_waiter(o, w);
            w->next = wake;
            wake = w;
        } else if (w->fd >= 0) {
            /* Attached, so its request has not completed, and libmicrohttpd has not closed
             * the socket (it detaches first): the descriptor is still this client's. (One
             * parked on its upload's pipe is woken by the hangup watch this causes.) */
            shutdown(w->fd, SHUT_RDWR);
        }
    }
    return wake;
}

bool sf_obj_attach(struct sf_obj *o, struct sf_waiter *w)
{
    sf_mutex_assert_held(&o->lock);
    if (o->seg_first > 0 || o->dropped)
        return false;
    if (o->flight == NULL)
        o->flight = flight_new(o); /* a stored response, read again: settling freed it */
    struct sf_flight *f = o->flight;
    w->rprev = NULL; /* first: the list's order means nothing */
    w->rnext = f->readers_first;
    if (f->readers_first != NULL)
        f->readers_first->rprev = w;
    f->readers_first = w;
    w->pos = 0;
    w->progress_ms = sf_now_ms();
    if (!f->with_readers)
        list_with_readers(o, true);
    f->clients++;
    o->clients_ever++;
    return true;
}

/* Lock held. How far the slowest reader may lag before the fetch waits for it. */
static size_t lag_limit(const struct sf_obj *o)
{
    sf_mutex_assert_held(&o->lock);
    return o->flight->clients > 1 ? SF_OBJ_SHARED_LAG_MAX : SF_OBJ_LAG_MAX;
}

/* Lock held. Clears a pause the readers no longer need; true if it did. */
static bool may_resume(struct sf_obj *o)
{
    sf_mutex_assert_held(&o->lock);
    struct sf_flight *f = o->flight;
    if (!f->upstream_paused || (f->clients > 0 && o->len - slowest_reader(o) > lag_limit(o) / 2))
        return false;
    f->upstream_paused = false;
    return true;
}

bool sf_obj_detach(struct sf_obj *o, struct sf_waiter *w)
{
    sf_mutex_assert_held(&o->lock);
    sf_obj_unpark(o, w);
    struct sf_flight *f = o->flight;                      /* w is attached: it has one */
    SF_ASSERT(w->rprev != NULL || f->readers_first == w); /* attached to o, not another */
    if (w->rprev != NULL)
        w->rprev->rnext = w->rnext;
    else
        f->readers_first = w->rnext;
    if (w->rnext != NULL)
        w->rnext->rprev = w->rprev;
    w->rprev = w->rnext = NULL;
    f->clients--;
    if (f->clients == 0 && f->seg_retired != NULL) {
        free(f->seg_retired); /* nobody can be copying from it any more */
        f->seg_retired = NULL;
    }
    bool running = o->state == SF_OBJ_PENDING || o->state == SF_OBJ_STREAMING;
    if (f->clients == 0 && !running)
        list_with_readers(o, false); /* (a fetch still running stays listed until its end) */
    bool resume = may_resume(o);     /* it may have been the reader the fetch waited for */
    sf_obj_settle(o);
    return resume;
}

void sf_obj_close_joins(struct sf_obj *o)
{
    sf_mutex_assert_held(&o->lock);
    o->unjoinable = true;
}

bool sf_obj_may_pause(const struct sf_obj *o)
{
    sf_mutex_assert_held(&o->lock);
    return o->unjoinable && !o->storable;
}

bool sf_obj_should_pause(const struct sf_obj *o)
{
    return sf_obj_may_pause(o) && o->flight->clients > 0 &&
           o->len - slowest_reader(o) > lag_limit(o);
}

bool sf_obj_reader_at(struct sf_obj *o, struct sf_waiter *w, size_t pos)
{
    sf_mutex_assert_held(&o->lock);
    w->progress_ms = sf_now_ms(); /* libmicrohttpd reads for it: its client takes bytes */
    w->pos = pos;
    return may_resume(o);
}

bool sf_obj_worth_finishing(const struct sf_obj *o)
{
    sf_mutex_assert_held(&o->lock);
    if (o->state == SF_OBJ_PENDING)
        return o->shared;
    return o->state == SF_OBJ_STREAMING && o->storable && !o->pass;
}

bool sf_obj_drop_if_unwanted(struct sf_obj *o)
{
    sf_mutex_assert_held(&o->lock);
    bool running = o->state == SF_OBJ_PENDING || o->state == SF_OBJ_STREAMING;
    if (!running || o->flight->clients > 0 || sf_obj_worth_finishing(o)) /* running: a flight */
        return false;
    o->dropped = true;
    return true;
}

/* ---- the flight's fields, for the fetch and the request that leads it ---- */

void sf_obj_set_leader(struct sf_obj *o, const void *leader)
{
    sf_mutex_assert_held(&o->lock);
    o->flight->leader = leader; /* (its client is attached, or leaves: it has one) */
}

bool sf_obj_led_by(const struct sf_obj *o, const void *client)
{
    sf_mutex_assert_held(&o->lock);
    return o->flight != NULL && o->flight->leader == client;
}

unsigned sf_obj_clients(const struct sf_obj *o)
{
    sf_mutex_assert_held(&o->lock);
    return o->flight != NULL ? o->flight->clients : 0;
}

void sf_obj_set_fetch(struct sf_obj *o, void *fetch)
{
    sf_obj_lock(o);
    /* A fetch starts on a flight (PENDING, which has one) and its flight is not settled
     * while the fetch is set: a transfer on a settled object would be a bug, not hidden. */
    SF_ASSERT(o->flight != NULL);
    o->flight->fetch = fetch; /* it ends before the flight may be settled */
    if (fetch == NULL)
        sf_obj_settle(o);
    sf_obj_unlock(o);
}

void *sf_obj_fetch(struct sf_obj *o)
{
    sf_obj_lock(o);
    void *fetch = o->flight != NULL ? o->flight->fetch : NULL;
    sf_obj_unlock(o);
    return fetch;
}

void sf_obj_upstream_log(const struct sf_obj *o, struct sf_upstream_log *out)
{
    sf_mutex_assert_held(&o->lock);
    *out = (struct sf_upstream_log){.ttfb_us = -1};
    const struct sf_flight *f = o->flight;
    if (f == NULL || o->state == SF_OBJ_PENDING)
        return; /* (P): written by the fetch before it publishes the head or the failure */
    *out = (struct sf_upstream_log){f->upstream_status, f->upstream_tries,
                                    f->upstream_status != 0 ? f->upstream_ttfb_us : -1,
                                    sf_xstrdup_opt(f->upstream_addr)};
}
