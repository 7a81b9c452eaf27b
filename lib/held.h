/* held: what an allocation really takes of the process's memory, for charges that are to
 * match it (cache.max_bytes counts what stored responses hold: docs/performance.md,
 * "Memory per stored response"). Pure; any thread. */
#ifndef SF_HELD_H
#define SF_HELD_H

#include <stddef.h>

/* The bytes a malloc of asked bytes holds: glibc's chunk for it, the request plus its
 * 8-byte size header rounded up to 16, at least 32 (malloc_usable_size + 8). Computed,
 * not asked of the allocator, so that a charge is the same under ASan or another malloc
 * as in the release build it models (for them it is an estimate). An allocation past
 * glibc's mmap threshold (128 KiB at first) is mapped whole pages instead: this is then
 * under it by up to a page (1.5% at 256 KiB), an estimate too. */
size_t sf_held_bytes(size_t asked);

/* sf_held_bytes of a NUL-terminated copy of s (strdup); 0 for NULL. */
size_t sf_held_str(const char *s);

#endif
