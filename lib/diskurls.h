/* diskurls: which URLs the disk tier holds a record of, whatever else their keys hold
 * (credentials, a route's key fields, a variant): a counted set of URL hashes, so that an
 * RFC 9111 §4.4 invalidation of a URL can tell, without a disk read, whether any record
 * of it may be on disk (pure; no I/O, no lock).
 *
 * A record's URL is its cache key up to the first "\n" (sf_policy_key, cachekey.h: the
 * URL comes first, every other part on a line of its own), as the purges match it
 * (diskpurge.h). Its hash is SipHash-2-4 under the store's own key (stable across
 * restarts, so the checkpoint keeps it; unpredictable to clients, so none can aim a URL at
 * another's hash), cut to 32 bits: a collision only makes an invalidation write a
 * tombstone it did not need (N/2^32 of the URLs nothing holds, for N URLs held).
 *
 * The set counts, for each hash, how many holders it has (the index's entries, or the
 * records queued for the writer); a hash is in it while its count is above zero.
 * Memory: 8 bytes a slot, at most three quarters full.
 *
 * Thread: not thread-safe; its owner locks around every call. */
#ifndef SF_DISKURLS_H
#define SF_DISKURLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sf_diskurls;

/* The URL hash of a cache key (key_len bytes, no terminator needed) under hash_key: of its
 * bytes up to the first "\n", or all of them. */
uint32_t sf_diskurls_hash(const uint8_t hash_key[16], const void *key, size_t key_len);

/* A new empty set with room for n hashes before it grows. Caller frees with
 * sf_diskurls_free (NULL is fine). NULL when there is no memory. */
struct sf_diskurls *sf_diskurls_new(size_t n);
void sf_diskurls_free(struct sf_diskurls *u);

/* Counts one more holder of url; the set doubles when it must. False when it had to grow
 * and there was no memory (nothing changed). Never false in a set made (sf_diskurls_new)
 * for at least as many distinct hashes as it holds then. */
bool sf_diskurls_add(struct sf_diskurls *u, uint32_t url);

/* Counts one holder of url less; url must have one (an invariant of the owner's). */
void sf_diskurls_remove(struct sf_diskurls *u, uint32_t url);

/* How many holders url has (0: none). */
uint32_t sf_diskurls_count(const struct sf_diskurls *u, uint32_t url);

/* Distinct hashes held; and the table's bytes. */
size_t sf_diskurls_size(const struct sf_diskurls *u);
size_t sf_diskurls_bytes(const struct sf_diskurls *u);

#endif
