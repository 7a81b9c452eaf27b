/* xferpool: a transfer's attempts on an upstream pool (transfer-t.h; issue 21). The server
 * of each attempt comes from the pool (pool.h: health, drain, balance); this file decides
 * when a failed attempt goes on to another server, the move its flight's waiters never see:
 * before any response head reached them, while the fetch has retries and first-byte time
 * left, and only for a request that may be sent again (attempt.h). A retry is the same
 * restart the cluster's fall back makes (transfer.c). Runs on: the fetcher thread. */
#include "transfer-t.h"

#include "attempt.h"
#include "fetchspec.h"
#include "pool.h"
#include "singleflight.h"

#include <stdio.h>
#include <stdlib.h>

/* What the pool's hash chooses by: the cache key (each key's fetches go to one server,
 * whose own cache stays warm), or a private fetch's URL. */
static const char *hash_key(const struct sf_transfer *x)
{
    return x->obj->shared ? x->obj->key : x->spec->url;
}

/* Records that the fetch's next attempt goes to server i. */
static void note_attempt(struct sf_transfer *x, int i)
{
    sf_attempt_note(&x->spec->att, i, x->pool->def->servers[i].name);
}

void sf_xfer_pool_begin(struct sf_transfer *x)
{
    struct sf_fetch_spec *s = x->spec;
    x->head_us = -1;
    x->next_server = -1;
    if (s->forward || s->fallback_url != NULL)
        return; /* a forward proxy's destination, or a cluster peer: not the upstream */
    x->pool = sf_fetchconf_pool(x->conf, x->rule->set);
    if (x->pool == NULL)
        return;
    if (s->att.tries == 0) {
        /* The first attempt: some server is always a candidate (none tried yet). */
        int i = sf_pool_choose(x->pool->pool, 0, hash_key(x), sf_now_ms());
        SF_ASSERT(i >= 0);
        note_attempt(x, i);
        s->att.deadline_ms = x->first_byte_deadline_ms;
        s->att.start_us = x->start_us;
    } else {
        sf_xfer_pool_cap(x);
    }
}

void sf_xfer_pool_cap(struct sf_transfer *x)
{
    uint64_t budget = x->spec->att.deadline_ms;
    x->capped = x->pool != NULL && x->first_byte_deadline_ms >= budget;
    if (x->capped)
        x->first_byte_deadline_ms = budget;
}

void sf_xfer_pool_abandon(struct sf_fetchconf *conf, struct sf_fetch_spec *spec)
{
    if (spec->att.tries == 0 || spec->forward || spec->fallback_url != NULL)
        return; /* no server chosen for the transfer that could not start */
    const struct sf_fetchpool *fp =
        sf_fetchconf_pool(conf, sf_fetchconf_rule(conf, spec->route)->set);
    SF_ASSERT(fp != NULL);
    sf_pool_done(fp->pool, spec->att.server, SF_POOL_CANCELLED, -1, sf_now_ms());
}

/* Whether x's fetch may go on to another server after this attempt: no head published,
 * not ended by our side, the request one that may be sent again, retries and time left. */
static bool may_retry(const struct sf_transfer *x)
{
    const struct sf_fetch_spec *s = x->spec;
    return x->pool != NULL && !x->headers_done && !x->cancel &&
           sf_attempt_may_resend(s->method, s->body != NULL, x->connected) &&
           sf_attempt_retries_left(&s->att, x->pool->def) && sf_now_ms() < s->att.deadline_ms;
}

bool sf_xfer_pool_may_move(const struct sf_transfer *x)
{
    return may_retry(x) && x->pool->def->nservers > 1;
}

bool sf_xfer_pool_refuse_head(struct sf_transfer *x)
{
    x->head_us = (int64_t)(sf_mono_us() - x->start_us);
    if (x->pool == NULL || !sf_attempt_fail_status(x->pool->def, x->head.status) || !may_retry(x))
        return false;
    /* Its server failed (whatever follows): told first, so that the choice below sees it
     * down when this was its last chance (a backup's turn comes). */
    uint64_t now = sf_now_ms();
    sf_pool_done(x->pool->pool, x->spec->att.server, SF_POOL_FAILED, x->head_us, now);
    x->reported = true;
    int i = sf_pool_choose(x->pool->pool, x->spec->att.tried, hash_key(x), now);
    if (i < 0)
        return false; /* no server left: this answer is the fetch's */
    x->next_server = i;
    return true;
}

/* How x's attempt went, for its server's health and numbers. */
static enum sf_pool_outcome outcome_of(const struct sf_transfer *x, enum sf_fail fail)
{
    if (fail == SF_FAIL_CANCELLED || x->cancel)
        return SF_POOL_CANCELLED; /* our side ended it: no client left, memory, shutdown */
    if (fail == SF_FAIL_TIMEOUT && x->budget_out)
        return SF_POOL_CANCELLED; /* the fetch's time ran out, not the server's (see cap) */
    if (x->headers_done)          /* a fail status passed on (no retry left), or a body cut off */
        return fail == SF_FAIL_NONE && !sf_attempt_fail_status(x->pool->def, x->head.status)
                   ? SF_POOL_OK
                   : SF_POOL_FAILED;
    return SF_POOL_FAILED; /* refused, reset, timed out or garbled before a head */
}

int sf_xfer_pool_end(struct sf_transfer *x, enum sf_fail fail, const char *why)
{
    if (x->pool == NULL)
        return -1;
    struct sf_pool *pool = x->pool->pool;
    struct sf_fetch_spec *s = x->spec;
    uint64_t now = sf_now_ms();
    if (!x->reported)
        sf_pool_done(pool, s->att.server, outcome_of(x, fail), x->head_us, now);
    int next = x->next_server;
    char answered[32];
    if (next >= 0) {
        snprintf(answered, sizeof answered, "it answered %d", x->head.status);
        why = answered;
    }
    x->next_server = -1;
    if (next < 0 && (fail == SF_FAIL_CONNECT || fail == SF_FAIL_TIMEOUT) && may_retry(x))
        next = sf_pool_choose(pool, s->att.tried, hash_key(x), now);
    if (next < 0)
        return -1;
    if (x->cancel || fail == SF_FAIL_CANCELLED) {
        /* Ended by our side after a head was refused: no retry after all. */
        sf_pool_done(pool, next, SF_POOL_CANCELLED, -1, now);
        return -1;
    }
    const struct sf_pool_def *def = x->pool->def;
    sf_log_limited(&x->t->rl_connect, 10000, SF_LOG_WARN,
                   "upstream %s: %s %s: server %s failed (%s); trying %s", def->name, s->method,
                   s->url, def->servers[s->att.server].name, why, def->servers[next].name);
    note_attempt(x, next);
    return next;
}

void sf_xfer_pool_note(struct sf_transfer *x)
{
    if (x->pool == NULL)
        return;
    struct sf_flight *f = x->obj->flight; /* (its fetch runs: it has one) */
    f->upstream_tries = x->spec->att.tries;
    free(f->upstream_addr);
    f->upstream_addr = sf_xstrdup(x->spec->att.addrs);
}
