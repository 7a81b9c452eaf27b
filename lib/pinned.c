/* pinned: see pinned.h. */
#include "pinned.h"

#include "cache.h"
#include "log.h"
#include "metrics.h"
#include "park.h"
#include "singleflight.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

/* Who goes first: the most idle, then the furthest behind, then the largest. */
static int cmp_cand(const void *a, const void *b)
{
    const struct sf_pinned_cand *x = a, *y = b;
    if (x->idle_ms != y->idle_ms)
        return x->idle_ms > y->idle_ms ? -1 : 1;
    if (x->behind != y->behind)
        return x->behind > y->behind ? -1 : 1;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return 0;
}

uint64_t sf_pinned_choose(struct sf_pinned_cand *c, size_t n, uint64_t budget, uint64_t *kept)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += c[i].bytes;
        c[i].shed = false;
    }
    *kept = total;
    if (total <= budget)
        return total;
    qsort(c, n, sizeof *c, cmp_cand);
    /* Down to the budget among the idle; then, past twice the budget, whatever it takes. */
    for (size_t i = 0; i < n; i++) {
        bool over = *kept > budget && c[i].idle_ms >= SF_PINNED_IDLE_MIN_MS;
        if (over || *kept > 2 * budget) {
            c[i].shed = true;
            *kept -= c[i].bytes;
        }
    }
    return total;
}

/* (F): the fetcher thread's alone. */
static size_t grown;          /* body bytes appended since the last pass */
static uint64_t last_pass_ms; /* when the last pass ran */
static uint64_t last_log_ms;  /* when the last "shed" line was logged (0: never) */
static uint64_t unlogged_readers, unlogged_objects; /* shed since that line */
static bool over;                                   /* the last pass left more than the budget */

bool sf_pinned_over(void)
{
    return over;
}

bool sf_pinned_watch_hit(struct sf_obj *o, struct sf_waiter *w)
{
    /* A stored object is complete: its length no longer changes. */
    if (o->len < SF_PINNED_HIT_MIN || w->fd < 0)
        return false;
    sf_obj_lock(o);
    bool ok = sf_obj_attach(o, w);
    if (ok) {
        w->by_socket = true;
        w->acked = UINT64_MAX;
    }
    sf_obj_unlock(o);
    return ok;
}

/* Object lock held. For a reader sent a stored body whole: whether its client took bytes
 * since the last look (its socket's acknowledged count moved; the first look counts). The
 * socket is still this client's: it is attached, so its request has not ended. */
static void socket_progress(struct sf_waiter *w, uint64_t now_ms)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(w->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked)
        return; /* no way to tell: it stays as idle as it looks */
    if (ti.tcpi_bytes_acked != w->acked) {
        w->acked = ti.tcpi_bytes_acked;
        w->progress_ms = now_ms;
    }
}

void sf_pinned_grew(size_t len)
{
    grown += len;
}

/* Object lock held. o as a candidate (id: its index), or false when it pins nothing a
 * shed could free: no body yet, or every reader already shed (on its way out). A flight
 * its clients left, whose body still arrives to fill the cache, counts as a reader idle
 * for SF_PINNED_IDLE_MIN_MS: after the idle readers, before the active ones. */
static bool as_candidate(struct sf_obj *o, size_t id, uint64_t now_ms, struct sf_pinned_cand *c)
{
    /* Its flight went (singleflight.h: settled) if its readers and fetch ended since it
     * was listed: it pins nothing. */
    const struct sf_flight *f = o->flight;
    if (f == NULL)
        return false;
    *c = (struct sf_pinned_cand){
        .bytes = o->mem_bytes + (f->seg_retired != NULL ? f->seg_retired->cap : 0),
        .idle_ms = UINT64_MAX,
        .behind = UINT64_MAX,
        .id = id}; /* a retired segment (singleflight.c) is held until its readers leave */
    for (struct sf_waiter *w = f->readers_first; w != NULL; w = w->rnext) {
        if (w->shed)
            continue;
        if (w->by_socket)
            socket_progress(w, now_ms);
        /* A parked reader waits for bytes (or a head) that are not there yet: not idle. */
        uint64_t idle = !w->on_obj && now_ms > w->progress_ms ? now_ms - w->progress_ms : 0;
        uint64_t behind = o->len > w->pos ? o->len - w->pos : 0;
        if (idle < c->idle_ms || (idle == c->idle_ms && behind < c->behind)) {
            c->idle_ms = idle;
            c->behind = behind;
        }
    }
    /* (Storable: still filling the cache; one given up already, its readers shed and gone,
     * is on its way out and is not shed, nor counted, twice.) */
    if (f->clients == 0 && o->state == SF_OBJ_STREAMING && o->storable) {
        c->idle_ms = SF_PINNED_IDLE_MIN_MS;
        c->behind = 0;
    }
    return c->bytes > 0 && c->idle_ms != UINT64_MAX;
}

/* Sheds o's readers; a flight of theirs is given up, as nobody would read it (cancel,
 * with arg, stops its transfer). Returns how many readers. No lock held. */
static size_t shed(struct sf_cache *cache, struct sf_obj *o, sf_pinned_cancel_cb *cancel, void *arg)
{
    size_t count;
    sf_obj_lock(o);
    struct sf_waiter *wake = sf_obj_shed_readers(o, &count);
    bool running = o->state == SF_OBJ_PENDING || o->state == SF_OBJ_STREAMING;
    if (running) {
        o->storable = false; /* its last reader's detach cancels the fetch */
        sf_obj_close_joins(o);
    }
    sf_obj_unlock(o);
    sf_waiters_wake(wake);
    if (running) {
        /* The next request for its key fetches anew; a stored response it revalidated
         * goes back, stale, for stale-if-error and the next revalidation. */
        sf_cache_unlist_keep_stale(cache, o);
        cancel(arg, o); /* when its readers are gone (now, for a fill) */
    }
    return count;
}

/* Logs what was shed, once per 10 s at most, with the counts since the last line. */
static void report(uint64_t now_ms, uint64_t kept, uint64_t budget)
{
    if (unlogged_readers == 0 || (last_log_ms != 0 && now_ms - last_log_ms < 10000))
        return;
    sf_log_warn("memory: what clients pin outside the cache passed cache.max_pinned_bytes "
                "(%llu): shed the %llu slowest readers (%llu objects) since the last such "
                "line, closing their connections; %llu bytes pinned now",
                (unsigned long long)budget, (unsigned long long)unlogged_readers,
                (unsigned long long)unlogged_objects, (unsigned long long)kept);
    last_log_ms = now_ms;
    unlogged_readers = unlogged_objects = 0;
}

/* One pass: charges what readers pin, sheds down to budget. */
static void pass(struct sf_cache *cache, uint64_t budget, uint64_t now_ms,
                 sf_pinned_cancel_cb *cancel, void *arg)
{
    size_t n;
    struct sf_obj **objs = sf_obj_with_readers(&n);
    bool *stored = sf_xcalloc(n ? n : 1, sizeof *stored);
    struct sf_pinned_cand *cand = sf_xcalloc(n ? n : 1, sizeof *cand);
    sf_cache_which_stored(cache, objs, n, stored);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (stored[i])
            continue; /* the cache's bytes, under cache.max_bytes */
        sf_obj_lock(objs[i]);
        m += as_candidate(objs[i], i, now_ms, &cand[m]);
        sf_obj_unlock(objs[i]);
    }
    uint64_t kept;
    sf_pinned_choose(cand, m, budget, &kept);
    uint64_t readers = 0, objects = 0;
    for (size_t i = 0; i < m; i++) {
        if (!cand[i].shed)
            continue;
        readers += shed(cache, objs[cand[i].id], cancel, arg);
        objects++;
    }
    over = kept > budget;
    atomic_store_explicit(&sf_metrics.pinned_bytes, kept, memory_order_relaxed);
    SF_COUNT_N(pinned_shed_readers, readers);
    SF_COUNT_N(pinned_shed_objects, objects);
    unlogged_readers += readers;
    unlogged_objects += objects;
    report(now_ms, kept, budget);
    for (size_t i = 0; i < n; i++)
        sf_obj_unref(objs[i]);
    free(objs);
    free(stored);
    free(cand);
}

void sf_pinned_tick(struct sf_cache *c, uint64_t budget, sf_pinned_cancel_cb *cancel, void *arg)
{
    uint64_t now_ms = sf_now_ms();
    size_t soon = budget / 8 > (256u << 10) ? (size_t)(budget / 8) : (256u << 10);
    if (now_ms - last_pass_ms < SF_PINNED_PERIOD_MS && grown < soon)
        return;
    last_pass_ms = now_ms;
    grown = 0;
    pass(c, budget, now_ms, cancel, arg);
}
