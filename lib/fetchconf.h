/* fetchconf: what upstream transfers derive from one config snapshot: the rules a response
 * head is judged by, the publisher that carries a judgement out, and how TLS to the
 * upstream is set up. Built when a fetch pinned to a snapshot the fetcher has not seen
 * starts (transfer.c), kept while a transfer uses it. Runs on: the fetcher thread (and the
 * thread that starts or stops it, before or after that thread runs). */
#ifndef SF_FETCHCONF_H
#define SF_FETCHCONF_H

#include "cache.h"
#include "judge.h"
#include "live.h"
#include "origintls.h"
#include "publish.h"

/* (F) all fields. */
struct sf_fetchconf {
    unsigned refs;               /* the fetcher's newest, and each transfer's */
    struct sf_snap *snap;        /* pinned */
    const struct sf_config *cfg; /* &snap->cfg */
    struct sf_cache_rules rules;
    struct sf_judge_cfg judge; /* with rules */
    struct sf_publisher publisher;
    struct sf_origin_tls tls; /* upstream_tls.*, for the upstream's fetches */
};

/* The settings of snap, with one reference, publishing into cache; NULL when the upstream
 * URL cannot be taken apart for TLS (checked at load: not expected). */
struct sf_fetchconf *sf_fetchconf_new(struct sf_cache *cache, struct sf_snap *snap);

/* Drops a reference; the last frees. NULL is fine. */
void sf_fetchconf_unref(struct sf_fetchconf *c);

#endif
