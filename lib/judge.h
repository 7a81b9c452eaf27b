/* judge: what an origin's response head means for the flight that asked, decided without
 * curl. Inputs: the request as sent, the stored response it revalidates (if any), the
 * parsed head, the clock. Output: a decision a transfer carries out (transfer.c):
 * publish the response received, or the stored one refreshed by a 304 (RFC 9111 §4.3.4),
 * or the stored one standing in for an error (RFC 5861 §4); with its verdict (RFC 9111
 * §3, §4.2), the fields for everyone and for the leader alone, what it varies on (§4.1),
 * what it invalidates (§4.4), and whether it updates a stored GET (§4.3.5). Pure: no
 * locks, no cache, no counters. */
#ifndef SF_JUDGE_H
#define SF_JUDGE_H

#include "policy.h"
#include "singleflight.h"
#include "slice.h"

/* The configuration a judgement reads. */
struct sf_judge_cfg {
    const struct sf_cache_rules *rules;
    uint64_t max_object_bytes; /* cache.max_object_bytes: larger is never stored */
    bool strip_set_cookie;     /* cache.strip_set_cookie (or a route that ignores
                                * set-cookie): shared and stored as if none were sent */
    bool store_post_responses; /* cache.store_post_responses (RFC 9110 §9.3.3) */
    uint64_t slice_bytes;      /* slices of larger responses (slice.h); 0: none */
};

/* The request whose response is judged. */
struct sf_judged_request {
    const char *method;
    const char *url;
    const struct sf_hdrs *hdrs; /* the fields sent upstream */
    bool shared;                /* a flight others may join (GET for a cache key) */
    bool has_get_key;           /* the request knows its URL's GET key (sf_fetch_spec) */
    /* The stored response this fetch revalidates (complete, so readable without its
     * lock), or NULL. */
    const struct sf_obj *stale;
    int64_t request_time_s; /* wall clock when it went upstream */
    bool slice;             /* a slice's fetch (slice.h), whose Range starts at: */
    uint64_t slice_first;
};

enum sf_head_use {
    SF_HEAD_RECEIVED,  /* the response received: its body follows from the transfer */
    SF_HEAD_REFRESHED, /* a 304 confirmed the stale response: its body, the fields merged */
    SF_HEAD_STALE,     /* an error answered by the stale response; the transfer is dropped */
};

#define SF_JUDGE_INVALIDATE_MAX 3

struct sf_head_decision {
    enum sf_head_use use;
    int status;            /* the status to publish */
    struct sf_hdrs fields; /* to publish: forwardable, for every client */
    struct sf_hdrs own;    /* withheld from followers of a shared flight: the leader's */
    int64_t length;        /* the body's length; -1: unknown */
    struct sf_verdict verdict;
    char *vary_names; /* what a shared response varies on, or NULL */
    char *variant;    /* with vary_names: the variant the request selects */
    /* Absolute URLs whose stored responses this response invalidates (RFC 9111 §4.4);
     * the rest NULL. */
    char *invalidate[SF_JUDGE_INVALIDATE_MAX];
    bool update_stored_get; /* a 200 to a HEAD sent on its own: see sf_judge_head_update */
    /* A POST's response that, once complete, is stored as its URL's GET response (RFC 9110
     * §9.3.3: explicit freshness, a Content-Location that is its target URI). */
    bool store_for_get;
    /* A shared GET's 200 that would be stored but for its size: its key is to be served
     * in slices of this representation from now on (slice.h). */
    bool sliced;
    struct sf_slice_ref slice;
};

/* Decides what the head (status, head: the parsed fields, consumed and cleared) means
 * for req, at now_s (wall clock when the head arrived). Free with sf_head_decision_clear. */
void sf_judge_head(const struct sf_judge_cfg *cfg, const struct sf_judged_request *req, int status,
                   struct sf_hdrs *head, int64_t now_s, struct sf_head_decision *d);
void sf_head_decision_clear(struct sf_head_decision *d);

/* The transfer for req failed before any head arrived (refused, reset, timed out): true,
 * with a decision to answer with the stale response instead (RFC 5861 §4), when its
 * stale-if-error window allows; false to fail. */
bool sf_judge_failure(const struct sf_judged_request *req, int64_t now_s,
                      struct sf_head_decision *d);

/* Whether a response with status to method has no body whatever its fields say
 * (RFC 9112 §6.3): a HEAD's, a 1xx, 204 or 304. */
bool sf_judge_bodiless(const char *method, int status);

/* What a 200 to a HEAD sent on its own does to the GET response stored for its key. */
enum sf_head_update {
    SF_HEAD_UPDATE_NONE,   /* nothing: the request said no-store (RFC 9111 §5.2.1.5) */
    SF_HEAD_UPDATE_FIELDS, /* the stored response, its fields refreshed by the HEAD's */
    SF_HEAD_UPDATE_STALE,  /* it describes another representation: the stored one is stale */
};

/* A 200 to a HEAD sent on its own, with fields head (forwardable) and its Content-Length
 * head_length (-1: none), against the GET response stored for its key (complete): with
 * SF_HEAD_UPDATE_FIELDS, the stored fields refreshed by the head's into *merged (without
 * Set-Cookie under strip_set_cookie) and their verdict, when the head describes the stored
 * response (sf_policy_head_matches) and it may still be stored (RFC 9111 §4.3.5). A
 * request that said no-store updates nothing (§5.2.1.5: no part of its response is
 * stored), though a mismatch still makes the stored response stale. */
enum sf_head_update sf_judge_head_update(const struct sf_judge_cfg *cfg,
                                         const struct sf_judged_request *req,
                                         const struct sf_obj *stored, const struct sf_hdrs *head,
                                         int64_t head_length, int64_t now_s, struct sf_hdrs *merged,
                                         struct sf_verdict *v);

/* A field of the request a shared flight sent (hdrs: struct sf_hdrs *), as
 * sf_policy_variant reads it: only the client's own, not those the proxy added (Via,
 * validators). For struct sf_fields. */
char *sf_judge_sent_field(void *hdrs, const char *name);

#endif
