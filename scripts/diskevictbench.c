/* diskevictbench: how long the disk store's writer holds its lock for one step of an index
 * eviction (diskwriter.c, index_put), measured for docs/disk.md. An index of N live entries,
 * full; the tail moves an eighth of the way, as the writer moves it; then one step's sweep
 * under the lock, as it was (twice the table's slots: every entry that died removed at once)
 * and as it is (EVICT_SWEEP slots, the rest on later steps and inserts), timed in the
 * thread's CPU time (the machine's other load does not count), then the insert that
 * follows. Not built by the Makefile:
 *
 *   make && cc -O2 -Ilib -o /tmp/diskevictbench scripts/diskevictbench.c \
 *       build/release/libsfproxy.a -lxxhash -lm -pthread
 *   /tmp/diskevictbench N        (e.g. 1000000) */
#include "diskindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define EVICT_SWEEP 4096 /* as diskwriter.c */

static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* A full index of n entries at positions 0..n-1, random keys and URLs. */
static struct sf_diskindex *full_index(size_t n, uint64_t *seed)
{
    struct sf_diskindex *x = sf_diskindex_new(n);
    for (size_t i = 0; i < n; i++) {
        struct sf_diskindex_entry e = {.key_hash = rnd(seed),
                                       .pos = i,
                                       .size = 1,
                                       .expires_s = 1,
                                       .url = (uint32_t)rnd(seed)};
        if (sf_diskindex_put(x, &e, 0) != SF_DISKINDEX_ADDED)
            abort();
    }
    return x;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s N\n", argv[0]);
        return 2;
    }
    size_t n = strtoull(argv[1], NULL, 10);
    uint64_t seed = 88172645463325252ull, tail = n / 8;
    for (int round = 0; round < 3; round++) {
        struct sf_diskindex *x = full_index(n, &seed);
        double t0 = cpu_us();
        size_t gone = sf_diskindex_sweep(x, tail, 2 * sf_diskindex_slots(x));
        double whole = cpu_us() - t0;
        sf_diskindex_free(x);
        x = full_index(n, &seed);
        t0 = cpu_us();
        size_t some = sf_diskindex_sweep(x, tail, EVICT_SWEEP);
        double step = cpu_us() - t0;
        struct sf_diskindex_entry e = {.key_hash = rnd(&seed), .pos = n, .size = 1};
        t0 = cpu_us();
        enum sf_diskindex_put r = sf_diskindex_put(x, &e, tail);
        double put = cpu_us() - t0;
        printf("%zu entries, the tail at %llu: whole sweep %.0f us (%zu removed); "
               "bounded sweep %.0f us (%zu removed), then the insert %s in %.1f us\n",
               n, (unsigned long long)tail, whole, gone, step, some,
               r == SF_DISKINDEX_FULL ? "FULL" : "fits", put);
        sf_diskindex_free(x);
    }
    return 0;
}
