/* diskhit: a memory miss that the disk tier answers. The flight a MISS lists (cache.h) is
 * filled from the record the disk holds for the request, on the worker that leads it,
 * before anything is fetched: its head published, its body appended, complete, settled
 * under its variant's key and stored in memory (promoted: the memory policy admits it as
 * it admits any stored response, evict.h), so that this request and every one that
 * joined it meanwhile is answered from it as a HIT. A record that is stale, or that a soft
 * purge invalidated, becomes the response the flight revalidates (o->stale, RFC 9111
 * §4.3): the fetch is conditional, and a 304 refreshes it. */
#ifndef SF_DISKHIT_H
#define SF_DISKHIT_H

#include "base.h"

struct sf_cache;
struct sf_fields;
struct sf_obj;
struct sf_req_directives;
struct sf_slice_ref;

enum sf_diskhit {
    SF_DISKHIT_NONE,       /* the disk has nothing usable: fetch as for any miss */
    SF_DISKHIT_FILLED,     /* o is complete with the disk's response: serve it as a HIT */
    SF_DISKHIT_REVALIDATE, /* o->stale is the disk's response: fetch, conditionally */
    SF_DISKHIT_STALE,      /* as REVALIDATE, and *serve (a reference) may answer the
                            * request now while o is fetched (RFC 5861 §3) */
};

/* Asks the disk for o, a flight the caller's MISS just listed and leads, not yet
 * submitted, that revalidates nothing (o->stale NULL), for a request with fields (which
 * select among responses that vary) and directives d (NULL: none; they decide whether the
 * response is fresh enough, as for a memory hit: sf_policy_acceptable). Runs on: the
 * leader's worker. Until it is submitted, nothing fetches o, so this thread is its
 * fetcher: it may publish its head and change its key as publish.c does. With serve
 * non-NULL, a stale response that stale-while-revalidate lets d's request have is given
 * there (STALE), as a memory lookup would answer it. */
enum sf_diskhit sf_diskhit_fill(struct sf_cache *c, struct sf_obj *o,
                                const struct sf_fields *fields, const struct sf_req_directives *d,
                                struct sf_obj **serve);

/* Where the disk says the response o (a flight a MISS just listed, not submitted, that
 * revalidates nothing) is for is kept in slices: o is replaced by the memory cache's
 * sliced marker (cache.h) and its representation copied into *ref (owned), for the
 * request to read the slices; true. o itself is given up unless a request joined it
 * meanwhile: then *submit says the caller must still fetch it for them. False: nothing
 * done. Runs on: the leader's worker, as sf_diskhit_fill. */
bool sf_diskhit_sliced(struct sf_cache *c, struct sf_obj *o, struct sf_slice_ref *ref,
                       bool *submit);

/* For a request that may not start a shared fetch (only-if-cached, no-store: the lookup
 * listed nothing, cache.h's NONE): the response the disk holds for key that fits fields and
 * directives d as a memory hit must (fresh enough, not invalidated), as a complete object
 * listed nowhere (a reference), or NULL. Nothing is stored in memory. Any thread. */
struct sf_obj *sf_diskhit_read(const char *key, const struct sf_fields *fields,
                               const struct sf_req_directives *d);

#endif
