/* slice: the pure rules for serving a response too large to store whole in slices (the
 * idea of nginx's slice module, on RFC 9111 §3.3 and §3.4). Such a response is kept as
 * aligned partial responses of cache.slice_bytes each: each fetched with a Range of its
 * own, stored under a key of its own, and combined into whatever range a client asks
 * only while every slice carries the representation's length and strong validator. No
 * locks, no cache, no clock. */
#ifndef SF_SLICE_H
#define SF_SLICE_H

#include "http.h"

/* What separates a slice's index from its response's key (sf_policy_key: a newline cannot
 * occur in a URL or a credential, so a slice key collides with no other key). */
#define SF_SLICE_MARK "\nslice\n"

/* A representation served in slices: its length and its strong validator (RFC 9110
 * §8.8.1), an entity tag or, without one, a Last-Modified date; owned strings. */
struct sf_slice_ref {
    uint64_t total;
    char *etag;          /* a strong ETag, or NULL */
    char *last_modified; /* with etag NULL: a strong Last-Modified */
};

/* Fills ref from a 200's fields h and body length total; false, with ref empty, when the
 * response has no strong validator: an ETag that is not weak, or a Last-Modified at least
 * 60 seconds before its Date (§8.8.2.2). Slices of a response without one cannot be told
 * apart from slices of the next version, and are never combined (RFC 9111 §3.4). */
bool sf_slice_ref_of(const struct sf_hdrs *h, uint64_t total, struct sf_slice_ref *ref);
void sf_slice_ref_copy(const struct sf_slice_ref *from, struct sf_slice_ref *to);
void sf_slice_ref_clear(struct sf_slice_ref *ref);
/* Whether a and b describe the same representation. */
bool sf_slice_ref_same(const struct sf_slice_ref *a, const struct sf_slice_ref *b);

/* The key slice index (of size bytes) of the response under key is stored at: the size
 * is part of it, so that slices cut by another cache.slice_bytes are never looked up.
 * Caller frees. */
char *sf_slice_key(const char *key, uint64_t size, uint64_t index);

/* The bytes of slice index, first..last inclusive, in a representation of total bytes cut
 * into slices of size bytes; false when the slice starts past the end. */
bool sf_slice_bytes(uint64_t index, uint64_t size, uint64_t total, uint64_t *first, uint64_t *last);

/* Whether a response (status, fields h, a body of length bytes; -1: unknown) to the
 * request for slice index is that slice of the representation ref describes: a 206 whose
 * Content-Range is exactly the slice's bytes of ref->total, whose body is that long, and
 * whose validator is ref's. */
bool sf_slice_fits(const struct sf_slice_ref *ref, uint64_t size, uint64_t index, int status,
                   const struct sf_hdrs *h, int64_t length);

/* Whether a 206 with fields h, whose body is length bytes, is the partial response a
 * slice fetch starting at first asked for (its Content-Range starts there and spans the
 * body): one that may be stored as that slice (RFC 9111 §3.3). */
bool sf_slice_partial_ok(const struct sf_hdrs *h, uint64_t first, int64_t length);

#endif
