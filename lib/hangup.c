/* hangup: see hangup.h.
 *
 * Slots: id = index << 32 | generation. Unwatching bumps the generation, so an id from an
 * event is current exactly while its waiter is parked. Dispatch first takes a reference on
 * the slot's place under the hangup lock (a place outlives its parked waiters), then
 * locks the place and checks the id again: under the place's lock a current id means the
 * waiter is still parked, hence alive.
 *
 * Arming late: a watch is queued (its id and when it is due) and the fetcher arms it when
 * due, if its id is still current, under the hangup lock: a current id means a parked
 * waiter, so its socket is open and its own (libmicrohttpd does not close a suspended
 * connection). The queue is in due order (one delay for all), so the fetcher only looks at
 * its head. It is woken for a watch queued while it sleeps with none due before: when the
 * queue was empty (else its sleep ends by the head's due, which is earlier). */
#include "hangup.h"

#include "conn.h"
#include "metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct slot {
    uint32_t gen;
    void *place; /* NULL: free */
    const struct sf_place_ops *ops;
    struct sf_waiter *waiter;
    uint32_t next_free;
};

struct pending {
    uint64_t id;
    uint64_t due_ms;
};

struct sf_hangup {
    int epfd;
    struct sf_mutex lock;
    struct slot *slots;    /* (L) */
    uint32_t nslots;       /* (L) */
    uint32_t free_head;    /* (L) UINT32_MAX: none */
    struct pending *queue; /* (L) a ring: watches to arm, in due order */
    uint32_t qcap;         /* (L) a power of two, or 0 */
    uint32_t qhead, qlen;  /* (L) */
    bool sleeping;         /* (L) the fetcher sleeps with no watch due before its end */
    void (*wake)(void *);  /* (L) */
    void *wake_arg;        /* (L) */
};

struct sf_hangup *sf_hangup_new(void)
{
    struct sf_hangup *h = sf_xcalloc(1, sizeof *h);
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (h->epfd < 0) {
        free(h);
        return NULL;
    }
    sf_mutex_init(&h->lock);
    h->free_head = UINT32_MAX;
    return h;
}

void sf_hangup_free(struct sf_hangup *h)
{
    if (h == NULL)
        return;
    close(h->epfd);
    sf_mutex_destroy(&h->lock);
    free(h->slots);
    free(h->queue);
    free(h);
}

int sf_hangup_fd(const struct sf_hangup *h)
{
    return h->epfd;
}

static uint64_t slot_id(const struct sf_hangup *h, uint32_t idx)
{
    return (uint64_t)idx << 32 | h->slots[idx].gen;
}

/* Lock held. The slot index of a current id, or UINT32_MAX. */
static uint32_t current_slot(const struct sf_hangup *h, uint64_t id)
{
    sf_mutex_assert_held(&h->lock);
    uint32_t idx = (uint32_t)(id >> 32);
    if (idx >= h->nslots || h->slots[idx].place == NULL || h->slots[idx].gen != (uint32_t)id)
        return UINT32_MAX;
    return idx;
}

/* Watches fd for its client's end: EPOLLRDHUP (the client shut its sending side), or,
 * once it has, only a reset (EPOLLHUP and EPOLLERR, which epoll always reports). */
static void arm(struct sf_hangup *h, int fd, uint64_t id, bool half_closed)
{
    struct epoll_event ev = {.events = (half_closed ? 0 : EPOLLRDHUP) | EPOLLONESHOT,
                             .data.u64 = id};
    if (epoll_ctl(h->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
        (void)epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The client of w (parked: dispatch holds its place's lock) shut its sending side. A
 * half-close is not an abort (RFC 9112 §9.6), but a client that closed its socket altogether
 * looks the same until something is written to it. So, where nothing has been sent for the
 * request yet, write a 100 (Continue), which an HTTP/1.1 client must accept and skip (RFC
 * 9110 §15.2): a closed socket answers it with a reset, seen next as EPOLLHUP. Returns
 * whether the client is gone already. */
static bool half_closed(struct sf_hangup *h, struct sf_waiter *w, uint64_t id)
{
    static const char probe[] = "HTTP/1.1 100 Continue\r\n\r\n";
    w->half_closed = true;
    SF_COUNT(client_half_closes);
    /* Only a failed write says the client is gone; a full socket does not. (XXX: nor does
     * a part taken, as before: the client would then read a broken 100. Only a socket
     * that the client let fill with earlier pipelined answers can take part of 25 bytes.) */
    if (w->probe && sf_conn_write_interim(w->fd, probe, sizeof probe - 1) == SF_CONN_WROTE_FAILED)
        return true;
    w->probe = false;
    arm(h, w->fd, id, true);
    return false;
}

/* Lock held. */
static void queue_push(struct sf_hangup *h, uint64_t id, uint64_t due_ms)
{
    sf_mutex_assert_held(&h->lock);
    if (h->qlen == h->qcap) {
        uint32_t cap = h->qcap ? h->qcap * 2 : 256;
        struct pending *q = sf_xmalloc(cap * sizeof *q);
        for (uint32_t i = 0; i < h->qlen; i++)
            q[i] = h->queue[(h->qhead + i) & (h->qcap - 1)];
        free(h->queue);
        h->queue = q;
        h->qcap = cap;
        h->qhead = 0;
    }
    h->queue[(h->qhead + h->qlen) & (h->qcap - 1)] = (struct pending){id, due_ms};
    h->qlen++;
}

void sf_hangup_set_waker(struct sf_hangup *h, void (*wake)(void *), void *arg)
{
    sf_mutex_lock(&h->lock);
    h->wake = wake;
    h->wake_arg = arg;
    sf_mutex_unlock(&h->lock);
}

/* Lock held. Takes the queue's head off if it is stale or due by now_ms, arming it when
 * due and current. Returns whether it took one. */
static bool arm_head(struct sf_hangup *h, uint64_t now_ms)
{
    sf_mutex_assert_held(&h->lock);
    if (h->qlen == 0)
        return false;
    struct pending p = h->queue[h->qhead];
    uint32_t idx = current_slot(h, p.id);
    if (idx != UINT32_MAX && p.due_ms > now_ms)
        return false;
    h->qhead = (h->qhead + 1) & (h->qcap - 1);
    h->qlen--;
    /* One-shot, and never deleted: a socket stays in the set (re-armed by MOD when its
     * client parks again) until libmicrohttpd closes it, which removes it. Waking a
     * thousand waiters then costs no system call each; a stale event carries a retired id
     * and is ignored. A failure leaves the client unwatched: it still gets its data, only
     * a hangup goes unnoticed until it is woken. Not worth failing the request for. */
    if (idx != UINT32_MAX)
        arm(h, h->slots[idx].waiter->fd, p.id, h->slots[idx].waiter->half_closed);
    return true;
}

long sf_hangup_before_sleep(struct sf_hangup *h, uint64_t now_ms)
{
    sf_mutex_lock(&h->lock);
    while (arm_head(h, now_ms)) {
        /* Let go between watches: a thousand due at once are a thousand system calls,
         * which the workers parking and waking clients should not wait behind. */
        sf_mutex_unlock(&h->lock);
        sf_mutex_lock(&h->lock);
    }
    h->sleeping = true;
    long next = h->qlen ? (long)(h->queue[h->qhead].due_ms - now_ms) : -1;
    sf_mutex_unlock(&h->lock);
    return next;
}

void sf_hangup_after_sleep(struct sf_hangup *h)
{
    sf_mutex_lock(&h->lock);
    h->sleeping = false;
    sf_mutex_unlock(&h->lock);
}

void sf_hangup_watch(struct sf_waiter *w, void *place, const struct sf_place_ops *ops)
{
    struct sf_hangup *h = w->hangup;
    SF_ASSERT(!w->watched);
    if (h == NULL || w->fd < 0)
        return;
    sf_mutex_lock(&h->lock);
    uint32_t idx = h->free_head;
    if (idx == UINT32_MAX) {
        idx = h->nslots;
        uint32_t cap = h->nslots ? h->nslots * 2 : 1024;
        h->slots = sf_xrealloc(h->slots, cap * sizeof *h->slots);
        for (uint32_t i = h->nslots; i < cap; i++)
            h->slots[i] = (struct slot){0, NULL, NULL, NULL, i + 1 < cap ? i + 1 : UINT32_MAX};
        h->nslots = cap;
    }
    h->free_head = h->slots[idx].next_free;
    h->slots[idx].place = place;
    h->slots[idx].ops = ops;
    h->slots[idx].waiter = w;
    w->watch_id = slot_id(h, idx);
    w->watched = true;
    bool first = h->qlen == 0;
    queue_push(h, w->watch_id, sf_now_ms() + SF_HANGUP_ARM_MS);
    if (first && h->sleeping && h->wake != NULL) {
        h->sleeping = false; /* one wakeup is enough */
        h->wake(h->wake_arg);
    }
    sf_mutex_unlock(&h->lock);
}

void sf_hangup_unwatch(struct sf_waiter *w)
{
    struct sf_hangup *h = w->hangup;
    if (!w->watched)
        return;
    w->watched = false;
    sf_mutex_lock(&h->lock);
    uint32_t idx = current_slot(h, w->watch_id);
    SF_ASSERT(idx != UINT32_MAX);
    h->slots[idx].gen++;
    h->slots[idx].place = NULL;
    h->slots[idx].ops = NULL;
    h->slots[idx].waiter = NULL;
    h->slots[idx].next_free = h->free_head;
    h->free_head = idx;
    sf_mutex_unlock(&h->lock);
}

static bool id_current(struct sf_hangup *h, uint64_t id)
{
    sf_mutex_lock(&h->lock);
    bool current = current_slot(h, id) != UINT32_MAX;
    sf_mutex_unlock(&h->lock);
    return current;
}

size_t sf_hangup_dispatch(struct sf_hangup *h)
{
    struct epoll_event evs[256];
    size_t dropped = 0;
    int n = epoll_wait(h->epfd, evs, 256, 0);
    for (int i = 0; i < n; i++) {
        uint64_t id = evs[i].data.u64;
        sf_mutex_lock(&h->lock);
        uint32_t idx = current_slot(h, id);
        struct slot s = idx == UINT32_MAX ? (struct slot){0} : h->slots[idx];
        if (s.place != NULL)
            s.ops->ref(s.place);
        sf_mutex_unlock(&h->lock);
        if (s.place == NULL)
            continue;
        struct sf_waiter *wake = NULL, *w = s.waiter;
        bool reset = (evs[i].events & (EPOLLHUP | EPOLLERR)) != 0;
        s.ops->lock(s.place);
        /* Under the place's lock a current id means w is parked: its connection is
         * suspended, and nothing else writes to its socket. */
        if (id_current(h, id) && (reset || w->half_closed || half_closed(h, w, id))) {
            wake = s.ops->drop_gone(s.place, w);
            dropped++;
        }
        s.ops->unlock(s.place);
        sf_waiters_wake(wake);
        s.ops->unref(s.place);
    }
    return dropped;
}
