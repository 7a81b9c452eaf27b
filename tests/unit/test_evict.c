/* Unit tests for lib/evict.c, S3-FIFO by bytes with size classes: the order of insertion
 * and eviction, the reinsertion of what was asked again, one-hit wonders leaving from
 * small, ghost hits going to main, a large node leaving before older small ones (from
 * small by charge^4 * age, from main by charge * age), the byte accounting, the ghost's
 * bound, and a scan that does not flush a hot set. A tiny cache of nodes stands for the
 * table: it charges, evicts to fit and removes, as table.c does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/evict.h"

#include <stdlib.h>
#include <string.h>

#define NODES 4096

/* The table's part: nodes by key number, the bytes charged, the limit. */
struct cache {
    struct sf_evict p;
    struct sf_evict_node node[NODES];
    uint64_t bytes, max_bytes;
    int evicted[NODES]; /* keys in eviction order */
    size_t nevicted;
};

static struct cache *cache_new(uint64_t max_bytes)
{
    struct cache *c = calloc(1, sizeof *c);
    sf_evict_init(&c->p);
    c->max_bytes = max_bytes;
    return c;
}

static void cache_free(struct cache *c)
{
    sf_evict_fini(&c->p);
    free(c);
}

/* A key's hash: any 64-bit value; 0 included (the ghost's empty mark, remembered as 1). */
static uint64_t hash_of(int key)
{
    return (uint64_t)key * UINT64_C(0x9E3779B97F4A7C15);
}

static bool in_cache(const struct cache *c, int key)
{
    return c->node[key].queue != SF_EVICT_NONE;
}

/* Charges key (not in) charge bytes, then evicts until the bytes fit, as sf_table_fit. */
static void put(struct cache *c, int key, size_t charge)
{
    assert_false(in_cache(c, key));
    sf_evict_insert(&c->p, &c->node[key], hash_of(key), charge);
    c->bytes += charge;
    while (c->bytes > c->max_bytes) {
        struct sf_evict_node *v = sf_evict_victim(&c->p, c->max_bytes);
        assert_non_null(v);
        int k = (int)(v - c->node);
        c->evicted[c->nevicted++ % NODES] = k;
        c->bytes -= v->charge;
        sf_evict_remove(&c->p, v);
    }
    assert_int_equal(c->p.small_bytes + c->p.main_bytes, c->bytes);
}

/* A request for key: a hit counts; a miss stores it. True on a hit. */
static bool get(struct cache *c, int key, size_t charge)
{
    if (in_cache(c, key)) {
        sf_evict_hit(&c->node[key]);
        return true;
    }
    put(c, key, charge);
    return false;
}

/* New nodes enter small; with nothing asked again, they leave oldest first, from small,
 * and their keys go to the ghost. */
static void test_fifo_order_from_small(void **state)
{
    (void)state;
    struct cache *c = cache_new(1000);
    for (int k = 0; k < 10; k++)
        put(c, k, 100);
    assert_int_equal(c->p.small_bytes, 1000);
    assert_int_equal(c->p.main_bytes, 0);
    for (int k = 10; k < 15; k++)
        put(c, k, 100);
    assert_int_equal(c->nevicted, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(c->evicted[i], i);
        assert_true(sf_evict_ghost_has(&c->p, hash_of(i)));
    }
    assert_int_equal(c->p.evicted_small, 5);
    assert_int_equal(c->p.evicted_main, 0);
    assert_false(sf_evict_ghost_has(&c->p, hash_of(5)));
    cache_free(c);
}

/* Asked again while in small: moved to main on eviction's pass (its count cleared), not
 * evicted; the oldest never asked again goes instead. */
static void test_asked_again_moves_to_main(void **state)
{
    (void)state;
    struct cache *c = cache_new(1000);
    for (int k = 0; k < 10; k++)
        put(c, k, 100);
    assert_true(get(c, 0, 100));
    assert_true(get(c, 2, 100));
    put(c, 10, 100);
    assert_int_equal(c->nevicted, 1);
    assert_int_equal(c->evicted[0], 1);
    assert_int_equal(c->node[0].queue, SF_EVICT_MAIN);
    assert_int_equal(c->node[0].freq, 0);
    assert_int_equal(c->p.promoted, 1); /* 2 is still in small: small fits again */
    assert_int_equal(c->p.main_bytes, 100);
    cache_free(c);
}

/* In main, a node asked again since it last passed goes round once more, its count less
 * one (at most 3: counts saturate); the first one not asked again is evicted. */
static void test_main_reinserts_what_was_asked(void **state)
{
    (void)state;
    struct cache *c = cache_new(1000);
    for (int k = 0; k < 10; k++) { /* each asked once more */
        put(c, k, 100);
        get(c, k, 100);
    }
    /* 0..9 move to main (counts cleared); 10, the newest, stays in small while main can
     * give, and main gives its oldest, 0. */
    put(c, 10, 100);
    assert_int_equal(c->p.promoted, 10);
    assert_int_equal(c->p.main_bytes, 900);
    assert_int_equal(c->p.small_bytes, 100);
    assert_int_equal(c->nevicted, 1);
    assert_int_equal(c->evicted[0], 0);
    /* 1 asked 10 times: counts 3; 2 once: 1; the rest not at all. */
    for (int i = 0; i < 10; i++)
        get(c, 1, 100);
    get(c, 2, 100);
    assert_int_equal(c->node[1].freq, 3);
    /* From main: small holds no more than its share (100 of 1000). */
    struct sf_evict_node *v = sf_evict_victim(&c->p, 1000);
    assert_ptr_equal(v, &c->node[3]);
    assert_int_equal(c->p.evicted_main, 2);
    assert_int_equal(c->node[1].freq, 2); /* went round once */
    assert_int_equal(c->node[2].freq, 0);
    c->bytes -= v->charge;
    sf_evict_remove(&c->p, v);
    assert_false(sf_evict_ghost_has(&c->p, hash_of(3))); /* from main: not remembered */
    cache_free(c);
}

/* A node larger than small's whole share is not evicted by the store that brought it
 * while main can give: it stays until the next store, so it can be asked for again. */
static void test_large_node_outlives_its_own_store(void **state)
{
    (void)state;
    struct cache *c = cache_new(1000);
    put(c, 0, 100);
    get(c, 0, 100);
    put(c, 1, 950); /* 0 moves to main and leaves from there; 1 stays */
    assert_true(in_cache(c, 1));
    assert_false(in_cache(c, 0));
    assert_int_equal(c->p.evicted_main, 1);
    assert_true(get(c, 1, 950));
    put(c, 2, 900); /* 1, asked again, moves to main; main gives it (its count cleared) */
    assert_true(in_cache(c, 2));
    assert_false(in_cache(c, 1));
    assert_int_equal(c->bytes, 900);
    cache_free(c);
}

/* In small, a large node leaves before older small ones: fetches are counted per request,
 * and the bytes of one 2000-byte node keep twenty of 100. (The plain S3-FIFO took small's
 * oldest, 1.) */
static void test_small_lets_a_large_node_go_first(void **state)
{
    (void)state;
    struct cache *c = cache_new(10000);
    for (int k = 1; k <= 40; k++)
        put(c, k, 100);
    put(c, 0, 2000);
    for (int k = 41; k <= 80; k++)
        put(c, k, 100);
    assert_int_equal(c->nevicted, 0);
    put(c, 81, 100); /* over: small gives (main has nothing) */
    assert_int_equal(c->nevicted, 1);
    assert_int_equal(c->evicted[0], 0);
    assert_true(sf_evict_ghost_has(&c->p, hash_of(0)));
    assert_true(in_cache(c, 1));
    /* Among equal charges, the oldest: FIFO within a class. */
    put(c, 82, 2000);
    for (int i = 1; i < (int)c->nevicted; i++)
        assert_int_equal(c->evicted[i], i);
    cache_free(c);
}

/* In main, of the classes' oldest nodes the one with the largest charge * age leaves: a
 * node of 400 that came into main after one of 100 leaves before it. (The plain S3-FIFO
 * took main's oldest.) */
static void test_main_weighs_charge_and_age(void **state)
{
    (void)state;
    struct sf_evict p;
    struct sf_evict_node a = {0}, b = {0}, n = {0};
    sf_evict_init(&p);
    sf_evict_insert(&p, &a, 1, 100);
    sf_evict_insert(&p, &b, 2, 400);
    /* Both leave small (main has nothing), a first: b is small's newest. */
    assert_ptr_equal(sf_evict_victim(&p, 1000), &a);
    sf_evict_remove(&p, &a);
    assert_ptr_equal(sf_evict_victim(&p, 1000), &b);
    sf_evict_remove(&p, &b);
    /* The ghost remembers both: they come back into main, a before b. */
    sf_evict_insert(&p, &a, 1, 100);
    sf_evict_insert(&p, &b, 2, 400);
    assert_int_equal(a.queue, SF_EVICT_MAIN);
    assert_int_equal(b.queue, SF_EVICT_MAIN);
    sf_evict_insert(&p, &n, 3, 100); /* small: within its share, so main gives */
    /* a: 100 * 2 insertions old; b: 400 * 1. */
    assert_ptr_equal(sf_evict_victim(&p, 500), &b);
    assert_int_equal(p.evicted_main, 1);
    sf_evict_remove(&p, &b);
    assert_ptr_equal(sf_evict_victim(&p, 500), &a);
    sf_evict_remove(&p, &a);
    sf_evict_fini(&p);
}

/* The clock does not wrap where it matters: a small entry in main for more than 2^32
 * stores still weighs as old (a 32-bit clock wrapped its age to 1, and a young large one
 * would have left in its place). */
static void test_age_past_2_to_the_32_stores(void **state)
{
    (void)state;
    struct sf_evict p;
    struct sf_evict_node a = {0}, b = {0}, n = {0};
    sf_evict_init(&p);
    sf_evict_insert(&p, &a, 1, 100);
    sf_evict_insert(&p, &b, 2, 400);
    sf_evict_remove(&p, sf_evict_victim(&p, 1000)); /* both to the ghost */
    sf_evict_remove(&p, sf_evict_victim(&p, 1000));
    sf_evict_insert(&p, &a, 1, 100); /* into main */
    p.now += UINT64_C(1) << 32;      /* as 2^32 stores would */
    sf_evict_insert(&p, &b, 2, 400); /* into main, young */
    sf_evict_insert(&p, &n, 3, 100);
    assert_ptr_equal(sf_evict_victim(&p, 500), &a); /* 100 * (2^32 + 2) against 400 * 1 */
    sf_evict_fini(&p);
}

/* One-hit wonders leave from small; what is in main stays, however many pass. */
/* Evicts from p until bytes fit max; returns how many left. */
static int shrink_to(struct sf_evict *p, uint64_t *bytes, uint64_t max)
{
    int evicted = 0;
    while (*bytes > max) {
        struct sf_evict_node *v = sf_evict_victim(p, max);
        assert_non_null(v);
        *bytes -= v->charge;
        sf_evict_remove(p, v);
        evicted++;
    }
    return evicted;
}

/* Small's newest node is kept while main can give only when it can fit at all: a reload
 * that lowers the limit below it would otherwise empty main first, then evict it anyway
 * (a review found the cache left empty). */
static void test_a_newest_node_over_the_limit_is_not_kept(void **state)
{
    (void)state;
    static struct sf_evict_node node[200];
    memset(node, 0, sizeof node);
    struct sf_evict p;
    sf_evict_init(&p);
    uint64_t bytes = 0;
    for (int i = 0; i < 100; i++) { /* asked again: to main at their first pass */
        sf_evict_insert(&p, &node[i], 1000 + (uint64_t)i, 10);
        sf_evict_hit(&node[i]);
        bytes += 10;
    }
    shrink_to(&p, &bytes, 900);
    sf_evict_insert(&p, &node[150], 7, 800); /* small's newest, larger than the next limit */
    bytes += 800;
    shrink_to(&p, &bytes, 2000);
    /* It leaves first, and main gives only what is left to give: 500 of its bytes stay
     * (not none, as when main was emptied before it). */
    assert_int_equal(node[150].queue, SF_EVICT_SMALL);
    assert_int_equal(shrink_to(&p, &bytes, 500), 1 + 40);
    assert_int_equal(node[150].queue, SF_EVICT_NONE);
    assert_int_equal(p.main_bytes, 500);
    assert_int_equal(p.small_bytes, 0);
    sf_evict_fini(&p);
}

static void test_one_hit_wonders_leave_from_small(void **state)
{
    (void)state;
    struct cache *c = cache_new(10000);
    for (int k = 0; k < 50; k++) { /* 5000 bytes asked twice: to main */
        put(c, k, 100);
        get(c, k, 100);
    }
    for (int k = 50; k < 2000; k++) { /* each once, and the 50 asked now and then */
        put(c, k, 100);
        if (k % 10 == 0)
            get(c, (k / 10) % 50, 100);
    }
    for (int k = 0; k < 50; k++)
        assert_true(in_cache(c, k));
    assert_true(c->p.evicted_small >= 1900 - 100);
    assert_true(c->p.main_bytes >= 5000);
    cache_free(c);
}

/* A key the ghost remembers (evicted from small not long ago) comes back into main, and
 * the ghost forgets it; others still enter small. */
static void test_ghost_hit_goes_to_main(void **state)
{
    (void)state;
    struct cache *c = cache_new(1000);
    for (int k = 0; k < 12; k++)
        put(c, k, 100);
    assert_true(sf_evict_ghost_has(&c->p, hash_of(0)));
    put(c, 0 + 100, 100); /* another key: small */
    assert_int_equal(c->node[100].queue, SF_EVICT_SMALL);
    /* 0 came back: its node is a new one under the same key. */
    memset(&c->node[0], 0, sizeof c->node[0]);
    put(c, 0, 100);
    assert_int_equal(c->node[0].queue, SF_EVICT_MAIN);
    assert_int_equal(c->p.ghost_hits, 1);
    assert_false(sf_evict_ghost_has(&c->p, hash_of(0)));
    cache_free(c);
}

/* Bytes: insert, hit, promotion, reinsertion and removal keep small + main equal to what
 * is charged; removing is not evicting (no ghost, no count). */
static void test_bytes_are_exact(void **state)
{
    (void)state;
    struct cache *c = cache_new(50000);
    uint64_t seed = 7;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        int k = (int)((seed >> 33) % 1000);
        size_t charge = 1 + (size_t)((seed >> 13) % 3000);
        if ((seed >> 20) % 50 == 0 && in_cache(c, k)) {
            uint64_t evicted = c->p.evicted_small + c->p.evicted_main;
            uint64_t pushed = c->p.ghost.pushed;
            c->bytes -= c->node[k].charge;
            sf_evict_remove(&c->p, &c->node[k]); /* a purge, a replacement */
            assert_int_equal(c->p.evicted_small + c->p.evicted_main, evicted);
            assert_int_equal(c->p.ghost.pushed, pushed);
            continue;
        }
        get(c, k, charge);
        assert_true(c->bytes <= 50000);
        assert_int_equal(c->p.small_bytes + c->p.main_bytes, c->bytes);
    }
    size_t n = 0;
    for (int k = 0; k < 1000; k++)
        n += in_cache(c, k);
    assert_int_equal(n, c->p.count);
    cache_free(c);
}

/* The ghost remembers as many keys as the cache holds nodes (at least
 * SF_EVICT_GHOST_MIN), the oldest forgotten first; growing keeps them. */
static void test_ghost_is_bounded(void **state)
{
    (void)state;
    struct cache *c = cache_new(100 * 10); /* 10 nodes */
    for (int k = 0; k < 1000; k++)
        put(c, k, 100);
    size_t remembered = 0;
    for (int k = 0; k < 1000; k++)
        remembered += sf_evict_ghost_has(&c->p, hash_of(k));
    assert_int_equal(remembered, SF_EVICT_GHOST_MIN);
    assert_true(sf_evict_ghost_has(&c->p, hash_of(989)));  /* the newest evicted */
    assert_false(sf_evict_ghost_has(&c->p, hash_of(700))); /* too old */
    cache_free(c);

    c = cache_new(100 * 1000); /* 1000 nodes: the ghost grows to hold as many */
    for (int k = 0; k < 4000; k++)
        put(c, k, 100);
    remembered = 0;
    for (int k = 0; k < 4000; k++)
        remembered += sf_evict_ghost_has(&c->p, hash_of(k));
    assert_int_equal(remembered, 1000);
    assert_true(sf_evict_ghost_has(&c->p, hash_of(2999)));
    assert_false(sf_evict_ghost_has(&c->p, hash_of(1999)));
    cache_free(c);
}

/* One eviction makes at most SF_EVICT_MAX_STEPS moves: with every node of main asked 3
 * times, it takes main's oldest after that many rounds instead of walking main three
 * times round. */
/* A cache that shrank (purges: nodes out without an eviction) trims its ghost a bounded
 * number of keys per eviction, not all at once under the table lock (a review measured
 * 26 ms to trim a million in one eviction). */
static void test_ghost_trims_a_bounded_number_per_eviction(void **state)
{
    (void)state;
    struct cache *c = cache_new(100 * 1000); /* 1000 nodes: the ghost holds 1000 keys */
    for (int k = 0; k < 3000; k++)
        put(c, k, 100);
    size_t before = c->p.ghost.n;
    assert_int_equal(before, 1000);
    for (int k = 0; k < 3000; k++) /* purged down to a few */
        if (in_cache(c, k) && c->p.count > 10) {
            c->bytes -= c->node[k].charge;
            sf_evict_remove(&c->p, &c->node[k]);
        }
    c->max_bytes = 100 * 10;
    put(c, 3000, 100); /* one eviction from small: a key in, at most SF_EVICT_MAX_STEPS out */
    assert_int_equal(c->nevicted, 2000 + 1);
    assert_true(c->p.ghost.n + SF_EVICT_MAX_STEPS >= before);
    assert_true(c->p.ghost.n < before);
    cache_free(c);
}

static void test_one_eviction_is_bounded(void **state)
{
    (void)state;
    struct cache *c = cache_new(100 * 1000);
    for (int k = 0; k < 1000; k++) /* into small, each asked again */
        put(c, k, 100), get(c, k, 100);
    put(c, 1000, 100); /* 64 move to main; small's next ones were asked again: main gives 0 */
    assert_int_equal(c->p.promoted, SF_EVICT_MAX_STEPS);
    assert_int_equal(c->p.evicted_small, 0); /* not one asked again left from small */
    assert_false(in_cache(c, 0));
    assert_true(in_cache(c, SF_EVICT_MAX_STEPS) && c->node[SF_EVICT_MAX_STEPS].freq > 0);
    cache_free(c);

    c = cache_new(100 * 1000);
    for (int k = 0; k < 1000; k++)
        put(c, k, 100), get(c, k, 100);
    for (int k = 2000; k < 2040; k++) /* 0..999 move to main, 64 at most an eviction */
        put(c, k, 100);
    assert_true(c->p.small_bytes <= c->max_bytes * SF_EVICT_SMALL_SHARE / 100); /* main gives */
    unsigned sum = 0;
    for (int k = 0; k < 1000; k++) {
        if (c->node[k].queue == SF_EVICT_MAIN)
            for (int i = 0; i < 3; i++)
                get(c, k, 100);
        sum += c->node[k].freq;
    }
    struct sf_evict_node *v = sf_evict_victim(&c->p, c->max_bytes);
    assert_non_null(v);
    assert_int_equal(v->queue, SF_EVICT_MAIN);
    assert_int_equal(v->freq, 3); /* taken whatever its count, after the 64 rounds */
    unsigned after = 0;
    for (int k = 0; k < 1000; k++)
        after += c->node[k].freq;
    assert_int_equal(sum - after, SF_EVICT_MAX_STEPS);
    cache_free(c);
}

/* A hot set asked again and again survives a scan of keys each asked once, more bytes
 * than the whole cache; LRU would have lost all of it. */
static void test_scan_keeps_the_hot_set(void **state)
{
    (void)state;
    struct cache *c = cache_new(100 * 100); /* 100 nodes of 100 bytes */
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 40; k++)
            get(c, k, 100);
    for (int k = 1000; k < 1000 + 500; k++) /* the scan: five times the cache */
        get(c, k, 100);
    int hits = 0;
    for (int k = 0; k < 40; k++)
        hits += get(c, k, 100);
    assert_int_equal(hits, 40);
    assert_int_equal(c->p.evicted_main, 0);
    cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_order_from_small),
        cmocka_unit_test(test_asked_again_moves_to_main),
        cmocka_unit_test(test_main_reinserts_what_was_asked),
        cmocka_unit_test(test_large_node_outlives_its_own_store),
        cmocka_unit_test(test_a_newest_node_over_the_limit_is_not_kept),
        cmocka_unit_test(test_small_lets_a_large_node_go_first),
        cmocka_unit_test(test_main_weighs_charge_and_age),
        cmocka_unit_test(test_age_past_2_to_the_32_stores),
        cmocka_unit_test(test_one_hit_wonders_leave_from_small),
        cmocka_unit_test(test_ghost_hit_goes_to_main),
        cmocka_unit_test(test_bytes_are_exact),
        cmocka_unit_test(test_ghost_is_bounded),
        cmocka_unit_test(test_one_eviction_is_bounded),
        cmocka_unit_test(test_ghost_trims_a_bounded_number_per_eviction),
        cmocka_unit_test(test_scan_keeps_the_hot_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
