/* slicestore: what of a response kept in slices (slice.h) is stored, as an only-if-cached
 * request (RFC 9111 §5.2.1.7) needs to know before it answers: such a request is served
 * from the stored slices when every slice it spans is there and usable, and gets 504
 * when one is not, since finding that out half way would cut a response already begun.
 * Looks slices up in the cache; lists, fetches and stores nothing. */
#ifndef SF_SLICESTORE_H
#define SF_SLICESTORE_H

#include "base.h"

struct sf_cache;
struct sf_req_directives;
struct sf_slice_ref;

/* Whether every slice (of size bytes, of the representation ref, under the response key
 * key) that a method request with the given Range and If-Range (NULL: absent) values
 * reads is stored, acceptable to the request's directives d at now_ms (a lookup that
 * could never list anything: only-if-cached), and that slice of ref (sf_slice_fits). A
 * HEAD reads the first slice; a request for one satisfiable range the slices that range
 * spans; any other (no Range, several ranges, an If-Range) the whole representation.
 * Any thread; takes the table lock once per slice. */
bool sf_slicestore_covers(struct sf_cache *c, const char *key, uint64_t size,
                          const struct sf_slice_ref *ref, const char *method, const char *range,
                          const char *if_range, const struct sf_req_directives *d, uint64_t now_ms);

#endif
