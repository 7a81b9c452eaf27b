/* Unit tests for lib/diskindex.c: lookups, variants and purges, entries the log has
 * overwritten (dead below the tail: never returned, reused, swept), the bound on entries,
 * and a long random run against a plain list that must agree with the table after every
 * step, through growth, backward-shift deletions and runs that wrap the table's end; and
 * the counts of entries per URL, which must equal a count of the slots after every kind
 * of change (insert, overwrite by another URL, reuse of a dead entry, removal, sweep,
 * growth, reserve). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/base.h"
#include "../../lib/diskindex.h"

#include <stdlib.h>
#include <string.h>

/* URLs 0..NURL-1: keys share them, as a URL's keys with credentials or key fields do. */
#define NURL 37
/* A table slot's bytes: its entry and its URL count's slot. */
#define SLOT_BYTES (sizeof(struct sf_diskindex_entry) + 8)

static struct sf_diskindex_entry ent(uint64_t key, uint64_t variant, uint64_t pos)
{
    struct sf_diskindex_entry e = {.key_hash = key,
                                   .variant = variant,
                                   .pos = pos,
                                   .size = 128,
                                   .expires_s = 7,
                                   .url = (uint32_t)(key % NURL)};
    return e;
}

/* Each URL's count is the number of slots that hold an entry of it, the dead included (a
 * tail of 0 lists every slot). */
static void check_url_counts(const struct sf_diskindex *x)
{
    uint32_t n[NURL + 1] = {0};
    struct sf_diskindex_entry e;
    for (size_t cur = 0; sf_diskindex_next(x, &cur, 0, &e);)
        n[e.url < NURL ? e.url : NURL]++;
    for (uint32_t u = 0; u < NURL; u++)
        if (sf_diskindex_url_entries(x, u) != n[u])
            fail_msg("URL %u: expected %u entries counted, got %u", u, n[u],
                     sf_diskindex_url_entries(x, u));
    assert_int_equal(n[NURL], 0);
    assert_int_equal(sf_diskindex_url_entries(x, NURL + 1000), 0);
}

static void test_put_get_replace(void **state)
{
    (void)state;
    struct sf_diskindex *x = sf_diskindex_new(1000);
    struct sf_diskindex_entry e = ent(11, 0, 100), got;
    assert_false(sf_diskindex_get(x, 11, 0, 0, &got));
    assert_int_equal(sf_diskindex_put(x, &e, 0), SF_DISKINDEX_ADDED);
    assert_true(sf_diskindex_get(x, 11, 0, 0, &got));
    assert_memory_equal(&got, &e, sizeof e);
    assert_false(sf_diskindex_get(x, 11, 1, 0, &got)); /* another variant */
    assert_false(sf_diskindex_get(x, 12, 0, 0, &got));
    e = ent(11, 0, 900);
    assert_int_equal(sf_diskindex_put(x, &e, 0), SF_DISKINDEX_REPLACED);
    assert_true(sf_diskindex_get(x, 11, 0, 0, &got));
    assert_int_equal(got.pos, 900);
    assert_int_equal(sf_diskindex_count(x), 1);
    /* remove_at only removes the record it names: the older one is gone already. */
    assert_false(sf_diskindex_remove_at(x, 11, 0, 100));
    assert_true(sf_diskindex_get(x, 11, 0, 0, &got));
    assert_true(sf_diskindex_remove_at(x, 11, 0, 900));
    assert_false(sf_diskindex_get(x, 11, 0, 0, &got));
    assert_int_equal(sf_diskindex_count(x), 0);
    sf_diskindex_free(x);
    sf_diskindex_free(NULL);
}

/* Keys whose home slot in a 64-slot table is the same, so their runs interleave. */
static size_t same_home_keys(uint64_t *out, size_t n)
{
    size_t found = 0;
    for (uint64_t k = 1; found < n; k++)
        if ((sf_mix64(k) & 63) == (sf_mix64(1) & 63))
            out[found++] = k;
    return found;
}

static void test_variants_and_purge(void **state)
{
    (void)state;
    struct sf_diskindex *x = sf_diskindex_new(1000);
    uint64_t k[4];
    same_home_keys(k, 4);
    /* Interleaved: key 0's and key 1's variants in one run, then 2 and 3. */
    for (uint64_t v = 0; v < 5; v++)
        for (int i = 0; i < 4; i++) {
            struct sf_diskindex_entry e = ent(k[i], v, 1000 + 10 * v + (uint64_t)i);
            assert_int_equal(sf_diskindex_put(x, &e, 0), SF_DISKINDEX_ADDED);
        }
    assert_int_equal(sf_diskindex_count(x), 20);
    assert_int_equal(sf_diskindex_remove_key(x, k[1]), 5);
    assert_int_equal(sf_diskindex_remove_key(x, k[1]), 0);
    struct sf_diskindex_entry got;
    static const int kept[] = {0, 2, 3};
    for (uint64_t v = 0; v < 5; v++) {
        assert_false(sf_diskindex_get(x, k[1], v, 0, &got));
        for (int j = 0; j < 3; j++) {
            assert_true(sf_diskindex_get(x, k[kept[j]], v, 0, &got));
            assert_int_equal(got.pos, 1000 + 10 * v + (uint64_t)kept[j]);
        }
    }
    assert_int_equal(sf_diskindex_count(x), 15);
    sf_diskindex_free(x);
}

/* The log overwrote what is below the tail: never returned, then reused and swept. */
static void test_dead_below_tail(void **state)
{
    (void)state;
    struct sf_diskindex *x = sf_diskindex_new(1000);
    for (uint64_t i = 0; i < 40; i++) {
        struct sf_diskindex_entry e = ent(i + 1, 0, i * 128);
        assert_int_equal(sf_diskindex_put(x, &e, 0), SF_DISKINDEX_ADDED);
    }
    uint64_t tail = 20 * 128; /* records 0..19 overwritten */
    struct sf_diskindex_entry got;
    assert_false(sf_diskindex_get(x, 1, 0, tail, &got));
    assert_false(sf_diskindex_get(x, 20, 0, tail, &got));
    assert_true(sf_diskindex_get(x, 21, 0, tail, &got));
    /* A key written again after being overwritten is back, counted as added. */
    struct sf_diskindex_entry e = ent(5, 0, 40 * 128);
    assert_int_equal(sf_diskindex_put(x, &e, tail), SF_DISKINDEX_ADDED);
    assert_true(sf_diskindex_get(x, 5, 0, tail, &got));
    size_t cursor = 0, live = 0;
    while (sf_diskindex_next(x, &cursor, tail, &got)) {
        assert_true(got.pos >= tail);
        live++;
    }
    assert_int_equal(live, 21);
    assert_true(sf_diskindex_count(x) >= 21);
    size_t removed = sf_diskindex_sweep(x, tail, 2 * 64);
    assert_int_equal(sf_diskindex_count(x), 21);
    assert_true(removed <= 19);
    sf_diskindex_free(x);
}

/* At most max_entries live entries; full refuses, and dead entries make room again. */
static void test_bounded(void **state)
{
    (void)state;
    struct sf_diskindex *x = sf_diskindex_new(1000);
    for (uint64_t i = 0; i < 1000; i++) {
        struct sf_diskindex_entry e = ent(i + 1, 0, i);
        assert_int_equal(sf_diskindex_put(x, &e, 0), SF_DISKINDEX_ADDED);
    }
    struct sf_diskindex_entry e = ent(5000, 0, 1000);
    assert_int_equal(sf_diskindex_put(x, &e, 0), SF_DISKINDEX_FULL);
    size_t bytes = sf_diskindex_bytes(x);
    assert_true(bytes <= 2048 * SLOT_BYTES + 512);
    check_url_counts(x);
    /* Replacing a key that is there is no growth, even when full. */
    e = ent(7, 0, 1001);
    assert_int_equal(sf_diskindex_put(x, &e, 0), SF_DISKINDEX_REPLACED);
    /* Half the log overwritten: new keys fit again, and the table did not grow. */
    for (uint64_t i = 0; i < 400; i++) {
        e = ent(10000 + i, 0, 2000 + i);
        assert_int_not_equal(sf_diskindex_put(x, &e, 500), SF_DISKINDEX_FULL);
    }
    assert_int_equal(sf_diskindex_bytes(x), bytes);
    assert_true(sf_diskindex_count(x) <= 1000);
    sf_diskindex_free(x);
}

/* The model: what a plain list says the index holds. */
struct model_ent {
    uint64_t key, variant, pos;
    bool present;
};

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define NKEYS 300
#define NVAR 3

/* A cyclic log of 600 records' worth of positions, written key after random key, with
 * purges and single removals mixed in: after each step, every (key, variant) looks up
 * exactly as the model says, and an iteration lists exactly the model's live entries. */
static void test_random_against_model(void **state)
{
    (void)state;
    static struct model_ent m[NKEYS][NVAR];
    memset(m, 0, sizeof m);
    struct sf_diskindex *x = sf_diskindex_new(NKEYS * NVAR);
    uint64_t head = 0, span = 600;
    for (int step = 0; step < 60000; step++) {
        uint64_t tail = head > span ? head - span : 0;
        uint64_t k = rnd() % NKEYS, v = rnd() % NVAR, op = rnd() % 100;
        /* Keys 1..NKEYS, and some with the top bit set, so both halves of a hash occur. */
        uint64_t key = (k + 1) | (k % 7 == 0 ? 1ULL << 63 : 0);
        if (op < 80) {
            struct sf_diskindex_entry e = ent(key, v, head);
            if (rnd() % 8 == 0)
                e.url = (uint32_t)(rnd() % NURL); /* an overwrite that changes the URL */
            enum sf_diskindex_put r = sf_diskindex_put(x, &e, tail);
            bool was = m[k][v].present && m[k][v].pos >= tail;
            assert_int_equal(r, was ? SF_DISKINDEX_REPLACED : SF_DISKINDEX_ADDED);
            m[k][v] = (struct model_ent){key, v, head, true};
            head++;
        } else if (op < 85) {
            size_t want = 0;
            for (int j = 0; j < NVAR; j++) {
                want += m[k][j].present; /* dead ones too: the table still holds them */
                m[k][j].present = false;
            }
            size_t got = sf_diskindex_remove_key(x, key);
            assert_true(got <= want);
        } else if (op < 95) {
            bool want = m[k][v].present;
            uint64_t pos = want && rnd() % 2 ? m[k][v].pos : m[k][v].pos + 1;
            bool got = sf_diskindex_remove_at(x, key, v, pos);
            if (got)
                m[k][v].present = false;
            assert_true(!got || want);
            if (want && pos == m[k][v].pos && m[k][v].pos >= tail)
                assert_true(got);
        } else {
            sf_diskindex_sweep(x, tail, rnd() % 50);
        }
        if (step % 97 != 0)
            continue;
        tail = head > span ? head - span : 0;
        size_t live = 0;
        for (int i = 0; i < NKEYS; i++)
            for (int j = 0; j < NVAR; j++) {
                struct sf_diskindex_entry got;
                uint64_t kk = (uint64_t)(i + 1) | (i % 7 == 0 ? 1ULL << 63 : 0);
                bool want = m[i][j].present && m[i][j].pos >= tail;
                bool has = sf_diskindex_get(x, kk, (uint64_t)j, tail, &got);
                if (has != want)
                    fail_msg("step %d key %d variant %d: expected %s, got %s", step, i, j,
                             want ? "found" : "absent", has ? "found" : "absent");
                if (has)
                    assert_int_equal(got.pos, m[i][j].pos);
                live += want;
            }
        size_t cursor = 0, listed = 0;
        struct sf_diskindex_entry e;
        while (sf_diskindex_next(x, &cursor, tail, &e))
            listed++;
        assert_int_equal(listed, live);
        assert_true(sf_diskindex_count(x) >= live);
        check_url_counts(x);
    }
    /* A full sweep leaves exactly the live ones. */
    uint64_t tail = head - span;
    sf_diskindex_sweep(x, tail, 4 * sf_diskindex_bytes(x) / sizeof(struct sf_diskindex_entry));
    size_t live = 0;
    for (int i = 0; i < NKEYS; i++)
        for (int j = 0; j < NVAR; j++)
            live += m[i][j].present && m[i][j].pos >= tail;
    assert_int_equal(sf_diskindex_count(x), live);
    check_url_counts(x);
    sf_diskindex_free(x);
}

/* Many more keys than the log holds: the entries held stay near the live ones, because
 * inserts reuse and sweep the dead. */
static void test_memory_follows_the_log(void **state)
{
    (void)state;
    struct sf_diskindex *x = sf_diskindex_new(1 << 20);
    uint64_t span = 10000; /* the log holds 10,000 records */
    size_t most = 0;
    for (uint64_t i = 0; i < 500000; i++) {
        uint64_t tail = i > span ? i - span : 0;
        struct sf_diskindex_entry e = ent(rnd() | 1, 0, i);
        assert_int_not_equal(sf_diskindex_put(x, &e, tail), SF_DISKINDEX_FULL);
        if (sf_diskindex_count(x) > most)
            most = sf_diskindex_count(x);
    }
    if (most > 2 * span)
        fail_msg("expected at most %llu entries held for %llu live, got %zu",
                 (unsigned long long)(2 * span), (unsigned long long)span, most);
    assert_true(sf_diskindex_bytes(x) <= 32768 * SLOT_BYTES + 512);
    check_url_counts(x);
    sf_diskindex_free(x);
}

/* A reserve makes the table its final size at once: as many puts then never grow it (the
 * checkpoint's load), entries already there stay, the dead below the tail go, and the
 * bound still caps it. */
static void test_reserve(void **state)
{
    (void)state;
    struct sf_diskindex *x = sf_diskindex_new(100000);
    struct sf_diskindex_entry e = ent(1, 0, 5), d = ent(2, 0, 1), got;
    assert_int_equal(sf_diskindex_put(x, &e, 0), SF_DISKINDEX_ADDED);
    assert_int_equal(sf_diskindex_put(x, &d, 0), SF_DISKINDEX_ADDED);
    assert_true(sf_diskindex_reserve(x, 50000, 2));
    size_t bytes = sf_diskindex_bytes(x);
    assert_true(bytes >= 50000 * sizeof e * 4 / 3);
    assert_true(sf_diskindex_get(x, 1, 0, 2, &got));
    assert_int_equal(sf_diskindex_count(x), 1); /* the dead one left behind */
    for (uint64_t i = 0; i < 49999; i++) {
        e = ent(rnd() | 1, 0, 10 + i);
        assert_int_equal(sf_diskindex_put(x, &e, 2), SF_DISKINDEX_ADDED);
        assert_int_equal(sf_diskindex_bytes(x), bytes); /* never grown */
    }
    check_url_counts(x);
    assert_true(sf_diskindex_reserve(x, 10, 2)); /* smaller: nothing to do */
    assert_int_equal(sf_diskindex_bytes(x), bytes);
    sf_diskindex_free(x);
    x = sf_diskindex_new(1000);
    assert_true(sf_diskindex_reserve(x, 1000000, 0)); /* capped at max_entries' table */
    assert_true(sf_diskindex_bytes(x) <= 2048 * SLOT_BYTES + 512);
    sf_diskindex_free(x);
}

/* A full table (three quarters of 64 slots) whose every entry has a URL of its own: a new
 * key of a new URL reusing a dead entry in its run replaces the dead one's URL without the
 * counts growing (they have as many slots as the table; an add before the removal would
 * have made them double). */
static void test_reuse_at_full_keeps_the_counts_size(void **state)
{
    (void)state;
    struct sf_diskindex *x = sf_diskindex_new(48);
    uint64_t k[2];
    size_t found = 0;
    for (uint64_t key = 1; found < 2; key++) /* a home past the first sweep's 4 slots */
        if ((sf_mix64(key) & 63) == 20)
            k[found++] = key;
    struct sf_diskindex_entry e = ent(k[0], 0, 0);
    e.url = 0;
    assert_int_equal(sf_diskindex_put(x, &e, 0), SF_DISKINDEX_ADDED);
    uint64_t key = 1000;
    for (uint32_t i = 1; i < 48; key++) {
        if ((sf_mix64(key) & 63) == 20)
            continue;
        e = ent(key, 0, i);
        e.url = i++;
        assert_int_equal(sf_diskindex_put(x, &e, 0), SF_DISKINDEX_ADDED);
    }
    size_t bytes = sf_diskindex_bytes(x);
    assert_int_equal(sf_diskindex_slots(x), 64);
    e = ent(k[1], 0, 48);
    e.url = 100;
    assert_int_equal(sf_diskindex_put(x, &e, 1), SF_DISKINDEX_ADDED); /* k[0]'s entry died */
    assert_int_equal(sf_diskindex_count(x), 48);
    assert_int_equal(sf_diskindex_bytes(x), bytes);
    assert_int_equal(sf_diskindex_url_entries(x, 0), 0);
    assert_int_equal(sf_diskindex_url_entries(x, 100), 1);
    sf_diskindex_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace),
        cmocka_unit_test(test_variants_and_purge),
        cmocka_unit_test(test_dead_below_tail),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_memory_follows_the_log),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_reuse_at_full_keeps_the_counts_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
