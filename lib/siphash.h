/* siphash: SipHash-2-4 (Aumasson and Bernstein, 2012), a keyed hash of short inputs, and
 * the process's own secret key for it. The cache's tables hash URLs and fields that
 * clients choose: with a secret key, nobody outside the process can make them collide
 * into one chain (hash flooding). */
#ifndef SF_SIPHASH_H
#define SF_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SF_SIPHASH_KEY_BYTES 16

/* The 64-bit SipHash-2-4 of len bytes at data under key. */
uint64_t sf_siphash(const uint8_t key[SF_SIPHASH_KEY_BYTES], const void *data, size_t len);

/* The SipHash-2-4 of len bytes under the process's secret key, drawn from the kernel at
 * the first call: for every table whose keys clients choose (the cache's, the variant
 * index's), so that no one outside the process can make them collide. Any thread. */
uint64_t sf_keyed_hash(const void *data, size_t len);

#endif
