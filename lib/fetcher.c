/* fetcher: see fetcher.h (its API keeps the sf_upstream_ names its callers know).
 *
 * One loop on one thread: take queued work, let curl move bytes, wake the readers of
 * objects that received data (once per pass, not once per piece), finish the transfers
 * curl reports done, fail those past their first-byte deadline, drop parked clients that
 * hung up, then sleep in curl_multi_poll until a socket, the hangup watcher, a wakeup or
 * the next deadline. Curl handles never leave this thread. One transfer's life is
 * transfer.c's; this file hands it the context (struct sf_transfers) and nothing else.
 *
 * Lock order: the queue lock takes no other; it is taken inside an object or pipe lock
 * and the hangup lock when a parked client's watch wakes the fetcher (wake_for_hangup),
 * and object locks are taken without it. */
#include "fetcher.h"

#include "transfer.h"
#include "cache.h"
#include "fetchspec.h"
#include "hangup.h"
#include "live.h"
#include "log.h"
#include "pinned.h"
#include "singleflight.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdlib.h>

enum job_kind { JOB_SUBMIT, JOB_CANCEL, JOB_UNPAUSE };

struct job {
    enum job_kind kind;
    struct sf_obj *obj; /* a reference */
    struct sf_fetch_spec *spec;
    struct job *next;
};

struct sf_upstream {
    struct sf_cache *cache;
    struct sf_hangup *hangup;
    CURLM *multi;
    pthread_t thread;
    struct sf_mutex qlock;
    struct job *queue_head, **queue_tail; /* (Q) */
    bool wake_pending;            /* (Q) a wakeup was sent since the fetcher last took the queue */
    bool aborting;                /* (Q) fail everything from now on */
    bool stopping;                /* (Q) leave the loop */
    struct sf_ratelimit rl_multi; /* curl_multi_* failures in the log */
    struct sf_transfers *t;       /* what the transfers see (transfer.h) */
};

void sf_upstream_set_self_ports(struct sf_upstream *up, const _Atomic uint16_t *self_ports)
{
    sf_transfers_set_self_ports(up->t, self_ports);
}

/* Interrupts the fetcher's poll. Should curl fail to, the fetcher still looks at its
 * queue within a second (sf_transfers_enforce_deadlines' longest sleep). */
static bool wake_fetcher(struct sf_upstream *up)
{
    CURLMcode mc = curl_multi_wakeup(up->multi);
    if (mc != CURLM_OK)
        sf_log_limited(&up->rl_multi, 10000, SF_LOG_ERROR, "upstream: curl_multi_wakeup: %s",
                       curl_multi_strerror(mc));
    return mc == CURLM_OK;
}

/* Lets go of the queue lock (held) and wakes the fetcher, unless a wakeup sent since it
 * last took the queue is still to come: that one brings it back to the queue (its poll
 * returns at once while the wakeup is unread). Under load the fetcher is mostly busy
 * between polls, and one wakeup serves the jobs queued meanwhile: a write on curl's
 * socketpair, and a read on the fetcher's side, fewer per miss. */
static void unlock_and_wake(struct sf_upstream *up)
{
    bool wake = !up->wake_pending;
    up->wake_pending = true;
    sf_mutex_unlock(&up->qlock);
    if (wake && !wake_fetcher(up)) {
        sf_mutex_lock(&up->qlock); /* none is coming: the next job tries again */
        up->wake_pending = false;
        sf_mutex_unlock(&up->qlock);
    }
}

/* Queues j and wakes the fetcher (batched). */
static void enqueue(struct sf_upstream *up, struct job *j)
{
    j->next = NULL;
    sf_mutex_lock(&up->qlock);
    *up->queue_tail = j;
    up->queue_tail = &j->next;
    unlock_and_wake(up);
}

/* The hangup watcher's waker (a watch queued while the fetcher sleeps): the same batched
 * wakeup. A miss's leader parks just after queueing its fetch, so its wakeup is usually
 * still unread, and this costs no system call. */
static void wake_for_hangup(void *arg)
{
    struct sf_upstream *up = arg;
    sf_mutex_lock(&up->qlock);
    unlock_and_wake(up);
}

void sf_upstream_submit(struct sf_upstream *up, struct sf_obj *o, struct sf_fetch_spec **spec)
{
    struct job *j = sf_xcalloc(1, sizeof *j);
    j->kind = JOB_SUBMIT;
    j->obj = sf_obj_ref(o);
    j->spec = *spec;
    *spec = NULL;
    enqueue(up, j);
}

static void enqueue_for(struct sf_upstream *up, enum job_kind kind, struct sf_obj *o)
{
    struct job *j = sf_xcalloc(1, sizeof *j);
    j->kind = kind;
    j->obj = sf_obj_ref(o);
    enqueue(up, j);
}

void sf_upstream_cancel(struct sf_upstream *up, struct sf_obj *o)
{
    enqueue_for(up, JOB_CANCEL, o);
}

/* A flight the pinned-memory pass gave up (pinned.h). */
static void cancel_pinned(void *arg, struct sf_obj *o)
{
    sf_upstream_cancel(arg, o);
}

void sf_upstream_unpause(struct sf_upstream *up, struct sf_obj *o)
{
    enqueue_for(up, JOB_UNPAUSE, o);
}

void sf_upstream_abort_all(struct sf_upstream *up)
{
    sf_mutex_lock(&up->qlock);
    up->aborting = true;
    sf_mutex_unlock(&up->qlock);
    wake_fetcher(up);
}

static void run_jobs(struct sf_upstream *up, struct job *j, bool aborting)
{
    while (j != NULL) {
        struct job *next = j->next;
        struct sf_obj *o = j->obj;
        if (j->kind == JOB_SUBMIT && !aborting) {
            sf_transfer_start(up->t, o, j->spec); /* the job's reference becomes the fetch's */
        } else if (j->kind == JOB_SUBMIT) {
            sf_transfer_fail_unstarted(up->t, o, j->spec);
        } else if (j->kind == JOB_UNPAUSE) {
            sf_transfer_unpause(up->t, o);
            sf_obj_unref(o);
        } else {
            sf_transfer_cancel_unwanted(up->t, o);
            sf_obj_unref(o);
        }
        free(j);
        j = next;
    }
}

static void reap_done(struct sf_upstream *up)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        sf_transfer_done(up->t, msg->easy_handle, msg->data.result);
    }
}

static void *fetcher_main(void *arg)
{
    struct sf_upstream *up = arg;
    bool hangup_ready = true; /* the hangup set's descriptor was readable at the last poll */
    for (;;) {
        sf_mutex_lock(&up->qlock);
        struct job *jobs = up->queue_head;
        up->queue_head = NULL;
        up->queue_tail = &up->queue_head;
        up->wake_pending = false; /* what is queued from now on needs a wakeup of its own */
        bool aborting = up->aborting, stopping = up->stopping;
        sf_mutex_unlock(&up->qlock);
        run_jobs(up, jobs, aborting);
        if (aborting)
            for (struct sf_transfer *x; (x = sf_transfers_first(up->t)) != NULL;)
                sf_transfer_cancel(x, "shutting down");
        if (stopping)
            break;
        int running;
        CURLMcode mc = curl_multi_perform(up->multi, &running);
        if (mc != CURLM_OK)
            sf_log_limited(&up->rl_multi, 10000, SF_LOG_ERROR, "upstream: curl_multi_perform: %s",
                           curl_multi_strerror(mc));
        /* Finished transfers first: a reader woken in this pass then finds its object
         * complete (or failed) rather than one piece further, and gets its end at once.
         * (A transfer's end wakes before it stores: a client that asks again in between
         * joins the complete object, which serves it all the same.) */
        reap_done(up);
        sf_transfers_wake(up->t);
        long timeout_ms = sf_transfers_enforce_deadlines(up->t);
        if (hangup_ready) /* else no event waits: spare the epoll_wait */
            sf_hangup_dispatch(up->hangup);
        sf_cache_expire(up->cache, sf_now_ms());
        sf_pinned_tick(up->cache, sf_transfers_config(up->t)->cache_max_pinned_bytes, cancel_pinned,
                       up);
        if (sf_pinned_over() && timeout_ms > SF_PINNED_PERIOD_MS)
            timeout_ms = SF_PINNED_PERIOD_MS; /* idle readers to shed soon */
        long arm_ms = sf_hangup_before_sleep(up->hangup, sf_now_ms());
        if (arm_ms >= 0 && arm_ms < timeout_ms)
            timeout_ms = arm_ms; /* a parked client's watch to arm */
        struct curl_waitfd extra = {sf_hangup_fd(up->hangup), CURL_WAIT_POLLIN, 0};
        mc = curl_multi_poll(up->multi, &extra, 1, (int)timeout_ms, NULL);
        sf_hangup_after_sleep(up->hangup);
        hangup_ready = mc != CURLM_OK || extra.revents != 0;
        if (mc != CURLM_OK) {
            sf_log_limited(&up->rl_multi, 10000, SF_LOG_ERROR, "upstream: curl_multi_poll: %s",
                           curl_multi_strerror(mc));
            poll(NULL, 0, 10); /* not a busy loop; the deadlines still hold */
        }
    }
    return NULL;
}

struct sf_upstream *sf_upstream_start(struct sf_snap *snap, struct sf_cache *cache,
                                      struct sf_pools *pools, struct sf_hangup *hangup)
{
    struct sf_upstream *up = sf_xcalloc(1, sizeof *up);
    up->cache = cache;
    up->hangup = hangup;
    up->multi = curl_multi_init();
    if (up->multi == NULL) {
        free(up);
        return NULL;
    }
    /* Also checks the upstream URL for TLS. */
    up->t = sf_transfers_new(snap, cache, pools, up->multi, cancel_pinned, up);
    if (up->t == NULL) {
        curl_multi_cleanup(up->multi);
        free(up);
        return NULL;
    }
    if (curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, 256L) != CURLM_OK)
        sf_log_warn("upstream: libcurl refused CURLMOPT_MAXCONNECTS; its default applies");
    sf_mutex_init(&up->qlock);
    up->queue_tail = &up->queue_head;
    sf_hangup_set_waker(hangup, wake_for_hangup, up);
    SF_PTOK(pthread_create(&up->thread, NULL, fetcher_main, up));
    return up;
}

void sf_upstream_stop(struct sf_upstream *up)
{
    if (up == NULL)
        return;
    sf_mutex_lock(&up->qlock);
    up->aborting = true;
    up->stopping = true;
    sf_mutex_unlock(&up->qlock);
    wake_fetcher(up);
    SF_PTOK(pthread_join(up->thread, NULL));
    sf_hangup_set_waker(up->hangup, NULL, NULL);
    /* Work queued after the last pass. */
    run_jobs(up, up->queue_head, true);
    CURLMcode mc = curl_multi_cleanup(up->multi);
    if (mc != CURLM_OK)
        sf_log_warn("upstream: curl_multi_cleanup: %s", curl_multi_strerror(mc));
    sf_mutex_destroy(&up->qlock);
    sf_transfers_free(up->t);
    free(up);
}
