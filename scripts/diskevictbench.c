/* diskevictbench: what an index eviction's sweep costs the disk store's readers
 * (diskwriter.c, index_put), measured for docs/disk.md. An index of N live entries, full.
 *
 * 1. One step's CPU: the tail moves an eighth of the way, as the writer moves it; then the
 *    sweep as it once was (twice the table's slots at once) and one step of it
 *    (SF_DISKSTORE_EVICT_SWEEP slots), in the thread's CPU time, then the insert after it.
 * 2. A reader's wait: a writer thread sweeps the table in vain (nothing below the tail:
 *    the sweep that precedes each move), four times over, in steps, as index_put does; a
 *    reader locks every 200 us and times how long it waited for the lock (wall clock),
 *    its mean and its longest. Between the steps the writer either unlocks and locks again
 *    ("unlock") or yields through the handoff ("handoff", handoff.h: the reader locks
 *    through sf_handoff_lock), as the store does now.
 *
 * Not built by the Makefile:
 *
 *   make && cc -O2 -Ilib -o /tmp/diskevictbench scripts/diskevictbench.c \
 *       build/release/libsfproxy.a -lxxhash -lm -pthread
 *   /tmp/diskevictbench N        (e.g. 1000000) */
#include "diskindex.h"
#include "diskstorei.h"
#include "handoff.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
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

static void step_cpu(size_t n, uint64_t *seed)
{
    uint64_t tail = n / 8;
    struct sf_diskindex *x = full_index(n, seed);
    double t0 = cpu_us();
    size_t gone = sf_diskindex_sweep(x, tail, 2 * sf_diskindex_slots(x));
    double whole = cpu_us() - t0;
    sf_diskindex_free(x);
    x = full_index(n, seed);
    t0 = cpu_us();
    size_t some = sf_diskindex_sweep(x, tail, SF_DISKSTORE_EVICT_SWEEP);
    double step = cpu_us() - t0;
    struct sf_diskindex_entry e = {.key_hash = rnd(seed), .pos = n, .size = 1};
    t0 = cpu_us();
    enum sf_diskindex_put r = sf_diskindex_put(x, &e, tail);
    double put = cpu_us() - t0;
    printf("%zu entries, the tail at %llu: whole sweep %.0f us (%zu removed); "
           "bounded sweep %.0f us (%zu removed), then the insert %s in %.1f us\n",
           n, (unsigned long long)tail, whole, gone, step, some,
           r == SF_DISKINDEX_FULL ? "FULL" : "fits", put);
    sf_diskindex_free(x);
}

struct race {
    struct sf_mutex lock;
    struct sf_handoff handoff;
    struct sf_diskindex *x;
    bool use_handoff;
    atomic_bool done;
    double writer_us;
};

static void *writer_main(void *arg)
{
    struct race *r = arg;
    size_t slots = sf_diskindex_slots(r->x);
    double t0 = wall_us();
    sf_mutex_lock(&r->lock);
    for (int rep = 0; rep < 4; rep++)
        for (size_t swept = 0; swept < 2 * slots; swept += SF_DISKSTORE_EVICT_SWEEP) {
            sf_diskindex_sweep(r->x, 0, SF_DISKSTORE_EVICT_SWEEP);
            if (r->use_handoff) {
                sf_handoff_yield(&r->handoff, &r->lock, 2);
            } else {
                sf_mutex_unlock(&r->lock);
                sf_mutex_lock(&r->lock);
            }
        }
    sf_mutex_unlock(&r->lock);
    r->writer_us = wall_us() - t0;
    atomic_store(&r->done, true);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void reader_wait(size_t n, uint64_t *seed, bool use_handoff)
{
    struct race r = {.x = full_index(n, seed), .use_handoff = use_handoff};
    sf_mutex_init(&r.lock);
    sf_handoff_init(&r.handoff);
    atomic_store(&r.done, false);
    pthread_t w;
    SF_PTOK(pthread_create(&w, NULL, writer_main, &r));
    static double waits[100000];
    double longest = 0, sum = 0;
    long locks = 0;
    while (!atomic_load(&r.done) && locks < 100000) {
        usleep(200);
        double t0 = wall_us();
        if (use_handoff)
            sf_handoff_lock(&r.handoff, &r.lock);
        else
            sf_mutex_lock(&r.lock);
        double waited = wall_us() - t0;
        sf_mutex_unlock(&r.lock);
        waits[locks++] = waited, sum += waited;
        if (waited > longest)
            longest = waited;
    }
    SF_PTOK(pthread_join(w, NULL));
    qsort(waits, (size_t)locks, sizeof *waits, by_value);
    printf("%zu entries, %s between steps: the writer's sweeps took %.0f ms; the reader "
           "locked %ld times, waited %.0f us on average, %.0f us at the 90th percentile, "
           "%.0f us at most\n",
           n, use_handoff ? "handoff" : "unlock", r.writer_us / 1000, locks,
           locks > 0 ? sum / (double)locks : 0, locks > 0 ? waits[locks * 9 / 10] : 0, longest);
    sf_handoff_destroy(&r.handoff);
    sf_mutex_destroy(&r.lock);
    sf_diskindex_free(r.x);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s N\n", argv[0]);
        return 2;
    }
    size_t n = strtoull(argv[1], NULL, 10);
    uint64_t seed = 88172645463325252ull;
    for (int round = 0; round < 3; round++)
        step_cpu(n, &seed);
    for (int round = 0; round < 3; round++) {
        reader_wait(n, &seed, false);
        reader_wait(n, &seed, true);
    }
    return 0;
}
