/* Unit tests for lib/diskurls.c: a URL's hash is of the key up to its first "\n" (the
 * parts after it, credentials or a route's key fields, do not change it) and depends on
 * the store's key; counts go up and down per hash, through the table's growth and
 * backward-shift deletions (checked against a plain array after every step); a set made
 * for n hashes never needs to grow for them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/base.h"
#include "../../lib/diskurls.h"

#include <string.h>

static const uint8_t key_a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t key_b[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

static uint32_t hash(const uint8_t *k, const char *s)
{
    return sf_diskurls_hash(k, s, strlen(s));
}

static void test_hash_is_of_the_url(void **state)
{
    (void)state;
    uint32_t u = hash(key_a, "http://o/a?x=1");
    assert_int_equal(hash(key_a, "http://o/a?x=1\nauthorization:Bearer t"), u);
    assert_int_equal(hash(key_a, "http://o/a?x=1\nhost:h\n+x-device:mobile"), u);
    assert_int_equal(hash(key_a, "http://o/a?x=1\n"), u);
    assert_int_not_equal(hash(key_a, "http://o/a?x=2"), u);
    assert_int_not_equal(hash(key_a, "http://o/a?x=1 "), u);
    assert_int_not_equal(hash(key_b, "http://o/a?x=1"), u); /* the store's own key */
    /* Not NUL-terminated: only key_len bytes are read. */
    const char rec[] = "http://o/a?x=1XYZ";
    assert_int_equal(sf_diskurls_hash(key_a, rec, 14), u);
    assert_int_equal(sf_diskurls_hash(key_a, "", 0), hash(key_a, "\nauthorization:x"));
}

static void test_counts(void **state)
{
    (void)state;
    struct sf_diskurls *u = sf_diskurls_new(0);
    assert_non_null(u);
    assert_int_equal(sf_diskurls_count(u, 7), 0);
    assert_true(sf_diskurls_add(u, 7));
    assert_true(sf_diskurls_add(u, 7));
    assert_true(sf_diskurls_add(u, 0)); /* 0 is a hash like any other */
    assert_int_equal(sf_diskurls_count(u, 7), 2);
    assert_int_equal(sf_diskurls_count(u, 0), 1);
    assert_int_equal(sf_diskurls_size(u), 2);
    sf_diskurls_remove(u, 7);
    assert_int_equal(sf_diskurls_count(u, 7), 1);
    sf_diskurls_remove(u, 7);
    assert_int_equal(sf_diskurls_count(u, 7), 0);
    assert_int_equal(sf_diskurls_size(u), 1);
    sf_diskurls_remove(u, 0);
    assert_int_equal(sf_diskurls_size(u), 0);
    sf_diskurls_free(u);
    sf_diskurls_free(NULL);
}

#define NURL 3000

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* NURL hashes whose home slots collide: 30 homes for all of them in any table of up to
 * 4,096 slots (the low 12 bits of sf_mix64, which diskurls.c takes the home from, are one
 * of 30 values), so runs are long, wrap the table's end, and deletions shift entries back
 * across them. The set never holds more than NURL hashes: at most 4,096 slots. */
static uint32_t urls[NURL];

static void pick_colliding(void)
{
    uint32_t n = 0;
    for (uint32_t c = 1; n < NURL; c++)
        if ((sf_mix64(c) & 0xfffu) < 30 || (sf_mix64(c) & 0xfffu) > 4090)
            urls[n++] = c;
}

/* Random adds and removes of those hashes, against an array of counts. */
static void test_random_against_model(void **state)
{
    (void)state;
    static uint32_t model[NURL];
    memset(model, 0, sizeof model);
    pick_colliding();
    struct sf_diskurls *u = sf_diskurls_new(0);
    size_t distinct = 0;
    for (int step = 0; step < 200000; step++) {
        uint32_t i = rnd() % NURL, url = urls[i];
        if (rnd() % 3 != 0 || model[i] == 0) {
            assert_true(sf_diskurls_add(u, url));
            distinct += model[i]++ == 0;
        } else {
            sf_diskurls_remove(u, url);
            distinct -= --model[i] == 0;
        }
        if (step % 1000 != 0)
            continue;
        assert_int_equal(sf_diskurls_size(u), distinct);
        for (uint32_t j = 0; j < NURL; j++)
            if (sf_diskurls_count(u, urls[j]) != model[j])
                fail_msg("step %d, hash %u: expected %u, got %u", step, urls[j], model[j],
                         sf_diskurls_count(u, urls[j]));
        /* Empty the model now and then, so the table empties through deletions too. */
        if (step % 50000 == 0)
            for (uint32_t j = 0; j < NURL; j++) {
                distinct -= model[j] > 0;
                for (; model[j] > 0; model[j]--)
                    sf_diskurls_remove(u, urls[j]);
            }
    }
    assert_true(sf_diskurls_bytes(u) <= 4096 * 8 + 64);
    sf_diskurls_free(u);
}

/* Made for n: n distinct hashes fit without growing (the index relies on it: its counts
 * never need memory the table did not get). */
static void test_made_for_n_never_grows(void **state)
{
    (void)state;
    struct sf_diskurls *u = sf_diskurls_new(768);
    size_t bytes = sf_diskurls_bytes(u);
    assert_true(bytes <= 1024 * 8 + 64);
    for (uint32_t i = 0; i < 768; i++)
        assert_true(sf_diskurls_add(u, i * 2654435761u));
    assert_int_equal(sf_diskurls_bytes(u), bytes);
    assert_true(sf_diskurls_add(u, 1)); /* one more: it grows */
    assert_true(sf_diskurls_bytes(u) > bytes);
    for (uint32_t i = 0; i < 768; i++)
        assert_int_equal(sf_diskurls_count(u, i * 2654435761u), 1);
    sf_diskurls_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_of_the_url),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_made_for_n_never_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
