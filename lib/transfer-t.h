/* transfer-t: a transfer's insides, shared by the files of one job that run it (HAProxy's
 * x-t.h habit): transfer.c (its life: start, head and body received, end, deadlines) and
 * xfersend.c (what it sends: its easy handle's options, the request's fields and content).
 * No other file includes this. Runs on: the fetcher thread, everything here. */
#ifndef SF_TRANSFER_T_H
#define SF_TRANSFER_T_H

#include "fetchconf.h"
#include "log.h"
#include "pinned.h"
#include "resphead.h"

#include <curl/curl.h>

/* A running transfer. (F) all fields. */
struct sf_transfer {
    struct sf_transfers *t;          /* the loop's context */
    struct sf_fetchconf *conf;       /* the settings of the config its request arrived under */
    const struct sf_fetchrule *rule; /* in conf: its route's (or the top level's) settings */
    struct sf_obj *obj;              /* the fetch's reference */
    struct sf_fetch_spec *spec;
    CURL *easy;
    struct curl_slist *fields; /* the request's field lines: one block (xfersend.c) */
    struct sf_resphead head;   /* the response head being received */
    bool headers_done;
    const char *bad_head; /* why the origin's head was refused (then: 502), or NULL */
    bool cancel;          /* abort at the next callback */
    bool paused;          /* receiving is paused until the reader catches up */
    bool discard;         /* the body is not the response served: drop it */
    bool store_for_get;   /* once complete, store the response for GETs (judge.h) */
    bool forbidden;       /* a forward-proxy destination resolved to a refused address */
    bool connected;       /* the connection to the server is up (libcurl's prerequest) */
    const char *refused;  /* why a cluster peer's answer is not taken (peerhop.h), or NULL */
    bool refused_down;    /* with refused: the peer is to be marked down too */
    bool dirty;           /* received data since the last wake pass */
    struct sf_transfer *dirty_next;
    struct sf_transfer *prev, *next;
    /* Before the response head: when the transfer fails for want of it. Until connected,
     * connect + first byte; while the request content is sent, the last progress +
     * upstream_idle (an origin that stops reading); once the request is sent, + first_byte
     * (RFC-wise: from the request to its response). */
    uint64_t first_byte_deadline_ms;
    int64_t upload_sent;   /* request content bytes given to curl */
    uint64_t last_byte_ms; /* when the headers or the last body bytes arrived */
    int64_t request_time_s;
    uint64_t start_us; /* sf_mono_us when the transfer started */
    char *renamed_url; /* the URL fetched, when upstream_tls.sni renamed it; owned */
    char errbuf[CURL_ERROR_SIZE];
    /* A cluster peer's answer whose body is being proven (peerhop.h), or NULL. */
    struct sf_peerbody *peer_body;
    /* On an upstream pool (xferpool.c): the pool of this attempt's server (in conf; NULL:
     * not a pool fetch), the URL fetched on it (owned), when its head came (us from start;
     * -1: none yet), and the server a refused head's retry goes to (-1: none chosen). */
    const struct sf_fetchpool *pool;
    char *server_url;
    int64_t head_us;
    int next_server;
    bool reported;   /* its server has been told how the attempt went */
    bool capped;     /* its first-byte deadline is the fetch's, not its own (shorter) */
    bool budget_out; /* it timed out at that capped deadline: the fetch's time, not its */
};

/* What the transfers share with the loop that runs them (fetcher.c). (C) set by
 * sf_transfers_new, and self_ports before the first fetch; (F) the rest. */
struct sf_transfers {
    struct sf_cache *cache;             /* (C) */
    struct sf_pools *pools;             /* (C) the upstream pools (pool.h) */
    CURLM *multi;                       /* (C) the loop's: transfers add and remove handles */
    const _Atomic uint16_t *self_ports; /* (C) sfproxy's own ports (fetcher.h), or NULL */
    sf_pinned_cancel_cb *cancel;        /* (C) queues a cancel (the pinned-memory pass's) */
    void *cancel_arg;                   /* (C) */
    struct sf_ratelimit rl_connect, rl_timeout, rl_truncated; /* (F) */
    struct sf_fetchconf *conf;                                /* (F) the newest config's settings */
    struct sf_transfer all;    /* (F) sentinel of the running transfers */
    struct sf_transfer *dirty; /* (F) received data since the last wake pass */
};

/* (xfersend.c) Sets x's easy handle up for its spec (and, on a pool, the server its
 * attempt goes to); false when curl refuses an option (the transfer must then fail,
 * not go out without it). */
bool sf_xfer_setup(struct sf_transfer *x);

/* (xferpool.c) A transfer's attempt on an upstream pool. sf_xfer_pool_begin, as x starts
 * (its conf and rule set): x->pool is its route's pool, if any, and a fetch's first
 * attempt chooses its server there; the first-byte deadline is capped by the fetch's
 * (all its attempts together). */
void sf_xfer_pool_begin(struct sf_transfer *x);

/* x's final head came with x->head.status: true when that status is one the pool retries
 * and another attempt will be made (its server chosen now): the head is then refused. */
bool sf_xfer_pool_refuse_head(struct sf_transfer *x);

/* x ends with fail (why for the log): its server is told how it went (pool.h), and the
 * server the fetch is to be sent to next is returned, or -1 (no retry: x ends as it is).
 * With a server returned, the fetch's attempt on it is recorded (spec->att). */
int sf_xfer_pool_end(struct sf_transfer *x, enum sf_fail fail, const char *why);

/* Caps x's first-byte deadline, as just set, by its fetch's on a pool (all attempts share
 * one budget), noting whether the fetch's was the shorter. */
void sf_xfer_pool_cap(struct sf_transfer *x);

/* Whether x's fetch may still move to another server of its pool before a head: a 103 it
 * receives then is not passed on (it may be a server's whose answer is not served). */
bool sf_xfer_pool_may_move(const struct sf_transfer *x);

/* A retry whose transfer could not start (no memory for it): its server, chosen in conf's
 * pool, is told the attempt never happened. Nothing when spec's fetch has no pending
 * retry. */
void sf_xfer_pool_abandon(struct sf_fetchconf *conf, struct sf_fetch_spec *spec);

/* Writes the fetch's attempts into its object, for the access log (before the object's
 * head or failure is published; nothing when not on a pool). */
void sf_xfer_pool_note(struct sf_transfer *x);

/* (transfer.c) curl's header and body callbacks, which sf_xfer_setup installs. */
size_t sf_xfer_on_header(char *line, size_t size, size_t n, void *arg);
size_t sf_xfer_on_body(char *data, size_t size, size_t n, void *arg);

#endif
