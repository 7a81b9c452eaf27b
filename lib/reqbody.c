/* reqbody: see reqbody.h. One contiguous buffer of window bytes, compacted when the reader
 * has consumed its front; a request's content passes through it in order, once. */
#include "reqbody.h"

#include "hangup.h"
#include "park.h"

#include <stdlib.h>
#include <string.h>

#define SF_REQBODY_MAGIC 0x5fb0d71eu

struct sf_reqbody {
    unsigned magic;
    atomic_uint refs;
    struct sf_mutex lock;
    char *buf;                /* (C) window bytes */
    size_t window;            /* (C) */
    int64_t declared_len;     /* (C) */
    size_t head, len;         /* (L) unread bytes are buf[head .. head+len) */
    bool finished;            /* (L) the client sent everything */
    bool closed;              /* (L) the transfer ended */
    bool reader_paused;       /* (L) the transfer waits for data */
    struct sf_waiter *writer; /* (L) the parked uploader, or NULL */
};

struct sf_reqbody *sf_reqbody_new(size_t window, int64_t declared_len)
{
    struct sf_reqbody *b = sf_xcalloc(1, sizeof *b);
    b->magic = SF_REQBODY_MAGIC;
    atomic_init(&b->refs, 1);
    sf_mutex_init(&b->lock);
    b->window = window;
    b->buf = sf_xmalloc(window);
    b->declared_len = declared_len;
    return b;
}

struct sf_reqbody *sf_reqbody_ref(struct sf_reqbody *b)
{
    SF_CHECK_OBJ(b, SF_REQBODY_MAGIC);
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void sf_reqbody_unref(struct sf_reqbody *b)
{
    if (b == NULL)
        return;
    SF_CHECK_OBJ(b, SF_REQBODY_MAGIC);
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    SF_ASSERT(b->writer == NULL);
    sf_mutex_destroy(&b->lock);
    free(b->buf);
    b->magic = 0;
    free(b);
}

int64_t sf_reqbody_declared_len(const struct sf_reqbody *b)
{
    return b->declared_len;
}

/* ---- the hangup watcher's way to a parked uploader ---- */

static void place_ref(void *b)
{
    sf_reqbody_ref(b);
}

static void place_unref(void *b)
{
    sf_reqbody_unref(b);
}

static void place_lock(void *b)
{
    sf_mutex_lock(&((struct sf_reqbody *)b)->lock);
}

static void place_unlock(void *b)
{
    sf_mutex_unlock(&((struct sf_reqbody *)b)->lock);
}

static struct sf_waiter *take_writer(struct sf_reqbody *b);

/* The parked uploader's client is gone: its content will never be whole, so the pipe
 * closes (the transfer aborts rather than send a body with its end missing). */
static struct sf_waiter *drop_gone(void *place, struct sf_waiter *w)
{
    struct sf_reqbody *b = place;
    SF_ASSERT(b->writer == w);
    b->closed = true;
    w->gone = true;
    return take_writer(b);
}

static const struct sf_place_ops pipe_place = {place_ref, place_unref, place_lock, place_unlock,
                                               drop_gone};

enum sf_reqbody_write sf_reqbody_write(struct sf_reqbody *b, const char *data, size_t len,
                                       size_t *taken, struct sf_waiter *w,
                                       void (*suspend_fn)(struct sf_waiter *w), bool *parked,
                                       bool *reader_waiting)
{
    *taken = 0;
    *parked = *reader_waiting = false;
    sf_mutex_lock(&b->lock);
    SF_ASSERT(b->writer == NULL && !b->finished);
    if (b->closed) {
        sf_mutex_unlock(&b->lock);
        return SF_REQBODY_CLOSED;
    }
    if (b->head + b->len + len > b->window && b->head > 0) {
        memmove(b->buf, b->buf + b->head, b->len);
        b->head = 0;
    }
    size_t room = b->window - b->head - b->len;
    size_t n = len < room ? len : room;
    memcpy(b->buf + b->head + b->len, data, n);
    b->len += n;
    *taken = n;
    if (n > 0 && b->reader_paused) {
        b->reader_paused = false;
        *reader_waiting = true;
    }
    if (n < len && !sf_park_begin()) {
        /* Shutting down: nothing may park, so the rest of this piece can never be taken.
         * A body with a hole must not reach the origin: the pipe closes and the transfer
         * aborts instead of ending. */
        b->closed = true;
        *reader_waiting = b->reader_paused;
        b->reader_paused = false;
        sf_mutex_unlock(&b->lock);
        return SF_REQBODY_CLOSED;
    }
    if (n < len) {
        b->writer = w;
        suspend_fn(w);
        sf_hangup_watch(w, b, &pipe_place);
        *parked = true;
    }
    sf_mutex_unlock(&b->lock);
    return SF_REQBODY_TOOK;
}

bool sf_reqbody_finish(struct sf_reqbody *b)
{
    sf_mutex_lock(&b->lock);
    b->finished = true;
    bool waiting = b->reader_paused;
    b->reader_paused = false;
    sf_mutex_unlock(&b->lock);
    return waiting;
}

/* Lock held. Returns the parked writer to wake, if any, clearing it. */
static struct sf_waiter *take_writer(struct sf_reqbody *b)
{
    sf_mutex_assert_held(&b->lock);
    struct sf_waiter *w = b->writer;
    b->writer = NULL;
    if (w != NULL)
        sf_hangup_unwatch(w);
    return w;
}

enum sf_reqbody_read sf_reqbody_read(struct sf_reqbody *b, char *dst, size_t max, size_t *n)
{
    struct sf_waiter *wake = NULL;
    enum sf_reqbody_read st = SF_REQBODY_DATA;
    sf_mutex_lock(&b->lock);
    if (b->closed) {
        /* Closed before the reader saw the end: whatever is left is not the whole body,
         * even if the client went on to finish it. */
        *n = 0;
        sf_mutex_unlock(&b->lock);
        return SF_REQBODY_ABORTED;
    }
    *n = b->len < max ? b->len : max;
    memcpy(dst, b->buf + b->head, *n);
    b->head += *n;
    b->len -= *n;
    if (b->len == 0)
        b->head = 0;
    if (*n == 0 && b->finished)
        st = SF_REQBODY_EOF;
    else if (*n == 0)
        st = SF_REQBODY_WAIT;
    b->reader_paused = st == SF_REQBODY_WAIT;
    /* Wake the writer once half the window is free, not for every byte. */
    if (b->writer != NULL && b->len <= b->window / 2)
        wake = take_writer(b);
    sf_mutex_unlock(&b->lock);
    sf_waiters_wake(wake); /* off the pipe, still suspended: only we may resume it */
    return st;
}

void sf_reqbody_close(struct sf_reqbody *b)
{
    sf_mutex_lock(&b->lock);
    b->closed = true;
    struct sf_waiter *wake = take_writer(b);
    sf_mutex_unlock(&b->lock);
    sf_waiters_wake(wake);
}
