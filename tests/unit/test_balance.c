/* Unit tests for lib/balance.c: smooth weighted round robin's exact sequences and shares
 * (nginx's documented 5,1,1 order), least_conn's preference and tie-breaking, rendezvous
 * hashing's stability when a server leaves, backups, the all-down fallback, retries that
 * never repeat a server, 64 servers, and (printed, never asserted) the cost of a choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/balance.h"
#include "../../lib/base.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ALL ((sf_balance_set)-1)

static struct sf_balance *pool(enum sf_balance_method m, const unsigned *weights, size_t n,
                               sf_balance_set backups)
{
    static char ids[SF_BALANCE_MAX_SERVERS][48]; /* room for any size_t: gcc checks */
    struct sf_balance_server s[SF_BALANCE_MAX_SERVERS];
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "http://10.0.0.%zu:9000", i + 1);
        s[i].id = ids[i];
        s[i].weight = weights != NULL ? weights[i] : 1;
        s[i].backup = (backups & SF_BALANCE_BIT(i)) != 0;
    }
    return sf_balance_new(m, s, n);
}

static void expect_sequence(struct sf_balance *b, const char *want)
{
    for (size_t i = 0; want[i] != '\0'; i++) {
        int got = sf_balance_choose(b, ALL, 0, NULL, NULL);
        if (got != want[i] - 'a')
            fail_msg("choice %zu: expected %c, got %c (sequence %s)", i, want[i], 'a' + got, want);
    }
}

static void test_rr_nginx_sequence_5_1_1(void **state)
{
    (void)state;
    const unsigned w[] = {5, 1, 1};
    struct sf_balance *b = pool(SF_BALANCE_ROUND_ROBIN, w, 3, 0);
    /* nginx's ngx_http_upstream_round_robin.c comment: { a, a, b, a, c, a, a }, twice. */
    expect_sequence(b, "aabacaaaabacaa");
    sf_balance_free(b);
}

static void test_rr_weights_2_1_1(void **state)
{
    (void)state;
    const unsigned w[] = {2, 1, 1};
    struct sf_balance *b = pool(SF_BALANCE_ROUND_ROBIN, w, 3, 0);
    expect_sequence(b, "abcaabca");
    unsigned count[3] = {0};
    for (int i = 0; i < 10000; i++)
        count[sf_balance_choose(b, ALL, 0, NULL, NULL)]++;
    /* Smooth RR is exact, far inside the 50% +- 1% asked for. */
    assert_int_equal(count[0], 5000);
    assert_int_equal(count[1], 2500);
    assert_int_equal(count[2], 2500);
    sf_balance_free(b);
}

static void test_rr_skips_unusable(void **state)
{
    (void)state;
    const unsigned w[] = {2, 1, 1};
    struct sf_balance *b = pool(SF_BALANCE_ROUND_ROBIN, w, 3, 0);
    unsigned count[3] = {0};
    for (int i = 0; i < 900; i++)
        count[sf_balance_choose(b, SF_BALANCE_BIT(1) | SF_BALANCE_BIT(2), 0, NULL, NULL)]++;
    assert_int_equal(count[0], 0);
    assert_int_equal(count[1], 450);
    assert_int_equal(count[2], 450);
    sf_balance_free(b);
}

static void test_least_conn(void **state)
{
    (void)state;
    const unsigned w[] = {1, 1, 1};
    struct sf_balance *b = pool(SF_BALANCE_LEAST_CONN, w, 3, 0);
    unsigned active[3] = {4, 0, 3};
    for (int i = 0; i < 5; i++)
        assert_int_equal(sf_balance_choose(b, ALL, 0, active, NULL), 1);
    /* Relative to weight: 4 transfers on weight 4 is fewer than 2 on weight 1. */
    sf_balance_free(b);
    const unsigned w2[] = {4, 1};
    b = pool(SF_BALANCE_LEAST_CONN, w2, 2, 0);
    unsigned active2[2] = {4, 2};
    assert_int_equal(sf_balance_choose(b, ALL, 0, active2, NULL), 0);
    sf_balance_free(b);
    /* Ties go round: all idle, equal weights, so a, b, c, a, b, c. */
    b = pool(SF_BALANCE_LEAST_CONN, w, 3, 0);
    unsigned idle[3] = {0, 0, 0};
    for (int i = 0; i < 6; i++)
        assert_int_equal(sf_balance_choose(b, ALL, 0, idle, NULL), i % 3);
    /* The idle one is preferred even when unusable ones are idler... it is not a candidate. */
    unsigned busy[3] = {0, 5, 2};
    assert_int_equal(sf_balance_choose(b, SF_BALANCE_BIT(1) | SF_BALANCE_BIT(2), 0, busy, NULL), 2);
    sf_balance_free(b);
}

static void key_of(char *buf, size_t size, int i)
{
    snprintf(buf, size, "GET http://example.com/objects/%d?v=%d", i, i * 7);
}

static void test_hash_stable_and_moves_only_removed(void **state)
{
    (void)state;
    struct sf_balance *four = pool(SF_BALANCE_HASH, NULL, 4, 0);
    /* The same servers but the second gone from the file: ids, not indexes, are hashed. */
    struct sf_balance_server three_s[3] = {{"http://10.0.0.1:9000", 1, false},
                                           {"http://10.0.0.3:9000", 1, false},
                                           {"http://10.0.0.4:9000", 1, false}};
    struct sf_balance *three = sf_balance_new(SF_BALANCE_HASH, three_s, 3);
    const int old_index[3] = {0, 2, 3};
    unsigned on[4] = {0}, moved = 0;
    char key[80];
    for (int i = 0; i < 10000; i++) {
        key_of(key, sizeof key, i);
        int s = sf_balance_choose(four, ALL, 0, NULL, key);
        assert_int_equal(sf_balance_choose(four, ALL, 0, NULL, key), s); /* stable */
        on[s]++;
        int t = old_index[sf_balance_choose(three, ALL, 0, NULL, key)];
        if (s != 1 && t != s)
            fail_msg("key %d moved from server %d to %d though its server stayed", i, s, t);
        moved += s == 1;
        /* The server down instead of removed, or tried: the same next server. */
        assert_int_equal(old_index[sf_balance_choose(three, ALL, 0, NULL, key)],
                         sf_balance_choose(four, ALL & ~SF_BALANCE_BIT(1), 0, NULL, key));
        if (s == 1)
            assert_int_equal(t, sf_balance_choose(four, ALL, SF_BALANCE_BIT(1), NULL, key));
    }
    for (int s = 0; s < 4; s++)
        if (on[s] < 2200 || on[s] > 2800)
            fail_msg("server %d holds %u of 10000 keys, expected about 2500", s, on[s]);
    printf("hash: %u of 10000 keys moved when one of four servers left\n", moved);
    sf_balance_free(four);
    sf_balance_free(three);
}

static void test_hash_weighted(void **state)
{
    (void)state;
    const unsigned w[] = {2, 1, 1};
    struct sf_balance *b = pool(SF_BALANCE_HASH, w, 3, 0);
    unsigned count[3] = {0};
    char key[80];
    for (int i = 0; i < 10000; i++) {
        key_of(key, sizeof key, i);
        count[sf_balance_choose(b, ALL, 0, NULL, key)]++;
    }
    if (count[0] < 4700 || count[0] > 5300)
        fail_msg("weight 2 of 2:1:1 got %u of 10000 keys, expected 5000 +- 300", count[0]);
    sf_balance_free(b);
}

/* The weighted rendezvous as first written: every candidate scored (one logarithm each),
 * the first of the highest winning. balance.c scores only each weight's best candidate;
 * the winner must be the same for every key and candidate set. */
static int reference_rendezvous(const char *const *ids, const unsigned *w, size_t n,
                                sf_balance_set set, const char *key)
{
    uint64_t kh = 0xcbf29ce484222325ull, ih;
    for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
        kh = (kh ^ *p) * 0x100000001b3ull;
    kh = sf_mix64(kh);
    int best = -1;
    double best_score = 0;
    for (size_t i = 0; i < n; i++) {
        if ((set & SF_BALANCE_BIT(i)) == 0)
            continue;
        ih = 0xcbf29ce484222325ull;
        for (const unsigned char *p = (const unsigned char *)ids[i]; *p != '\0'; p++)
            ih = (ih ^ *p) * 0x100000001b3ull;
        uint64_t u = sf_mix64(kh ^ sf_mix64(ih));
        double uf = ((double)(u >> 11) + 0.5) / 9007199254740992.0;
        double score = (double)w[i] / -log(uf);
        if (best < 0 || score > best_score) {
            best = (int)i;
            best_score = score;
        }
    }
    return best;
}

static void test_hash_weighted_same_as_scoring_all(void **state)
{
    (void)state;
    enum { N = 20 };
    static char idbuf[N][48];
    const char *ids[N];
    struct sf_balance_server s[N];
    unsigned w[N];
    for (int i = 0; i < N; i++) {
        snprintf(idbuf[i], sizeof idbuf[i], "http://10.9.0.%d:8080", i + 1);
        ids[i] = idbuf[i];
        w[i] = 1 + (unsigned)(i * 7) % 5;
        s[i] = (struct sf_balance_server){ids[i], w[i], false};
    }
    struct sf_balance *b = sf_balance_new(SF_BALANCE_HASH, s, N);
    uint64_t r = 42;
    char key[80];
    for (int k = 0; k < 20000; k++) {
        key_of(key, sizeof key, k);
        r = sf_mix64(r + (uint64_t)k);
        sf_balance_set usable = (r & ((SF_BALANCE_BIT(N)) - 1)) | 1; /* never empty */
        sf_balance_set tried = k % 3 == 0 ? (sf_mix64(r) & usable & ~(sf_balance_set)1) : 0;
        int got = sf_balance_choose(b, usable, tried, NULL, key);
        int want = reference_rendezvous(ids, w, N, usable & ~tried, key);
        if (got != want)
            fail_msg("key %d: chose %d, scoring every candidate chooses %d", k, got, want);
    }
    sf_balance_free(b);
}

static void test_backups(void **state)
{
    (void)state;
    const enum sf_balance_method methods[] = {SF_BALANCE_ROUND_ROBIN, SF_BALANCE_LEAST_CONN,
                                              SF_BALANCE_HASH};
    unsigned active[4] = {0, 0, 0, 0};
    for (size_t m = 0; m < 3; m++) {
        /* a, b primaries; c, d backups. */
        struct sf_balance *b = pool(methods[m], NULL, 4, SF_BALANCE_BIT(2) | SF_BALANCE_BIT(3));
        for (int i = 0; i < 100; i++) {
            char key[80];
            key_of(key, sizeof key, i);
            int s = sf_balance_choose(b, ALL, 0, active, key);
            assert_true(s == 0 || s == 1);
            s = sf_balance_choose(b, ALL & ~SF_BALANCE_BIT(0), 0, active, key);
            assert_int_equal(s, 1);
            /* No primary usable: backups, only the usable ones. */
            s = sf_balance_choose(b, SF_BALANCE_BIT(2) | SF_BALANCE_BIT(3), 0, active, key);
            assert_true(s == 2 || s == 3);
            assert_int_equal(sf_balance_choose(b, SF_BALANCE_BIT(3), 0, active, key), 3);
            /* Nothing usable at all: the primaries anyway. */
            s = sf_balance_choose(b, 0, 0, active, key);
            assert_true(s == 0 || s == 1);
            /* The usable primary tried already: no backup, no down server; done. */
            assert_int_equal(sf_balance_choose(b, SF_BALANCE_BIT(1) | SF_BALANCE_BIT(2),
                                               SF_BALANCE_BIT(1), active, key),
                             -1);
        }
        sf_balance_free(b);
    }
}

static void test_retries_64_servers(void **state)
{
    (void)state;
    const enum sf_balance_method methods[] = {SF_BALANCE_ROUND_ROBIN, SF_BALANCE_LEAST_CONN,
                                              SF_BALANCE_HASH};
    unsigned w[SF_BALANCE_MAX_SERVERS], active[SF_BALANCE_MAX_SERVERS];
    for (unsigned i = 0; i < SF_BALANCE_MAX_SERVERS; i++) {
        w[i] = 1 + i % 3;
        active[i] = i % 5;
    }
    for (size_t m = 0; m < 3; m++) {
        struct sf_balance *b = pool(methods[m], w, SF_BALANCE_MAX_SERVERS, 0);
        for (int k = 0; k < 20; k++) {
            char key[80];
            key_of(key, sizeof key, k);
            sf_balance_set tried = 0;
            for (int n = 0; n < SF_BALANCE_MAX_SERVERS; n++) {
                int s = sf_balance_choose(b, ALL, tried, active, key);
                assert_true(s >= 0 && s < SF_BALANCE_MAX_SERVERS);
                if (tried & SF_BALANCE_BIT(s))
                    fail_msg("method %zu: server %d chosen twice (attempt %d)", m, s, n);
                tried |= SF_BALANCE_BIT(s);
            }
            assert_int_equal(sf_balance_choose(b, ALL, tried, active, key), -1);
            /* All down: the same, over the primaries. */
            assert_int_equal(sf_balance_choose(b, 0, tried, active, key), -1);
        }
        sf_balance_free(b);
    }
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Prints the cost of one choice among 64 servers; asserts nothing about speed. */
static void test_choice_cost_64(void **state)
{
    (void)state;
    static const char *names[] = {"round_robin", "least_conn", "hash (weighted)",
                                  "hash (equal weights)"};
    unsigned w[SF_BALANCE_MAX_SERVERS], one[SF_BALANCE_MAX_SERVERS], active[SF_BALANCE_MAX_SERVERS];
    for (unsigned i = 0; i < SF_BALANCE_MAX_SERVERS; i++) {
        w[i] = 1 + i % 3;
        one[i] = 1;
        active[i] = i % 4;
    }
    char keys[64][80];
    for (int i = 0; i < 64; i++)
        key_of(keys[i], sizeof keys[i], i);
    for (int m = 0; m < 4; m++) {
        enum sf_balance_method method = m == 3 ? SF_BALANCE_HASH : (enum sf_balance_method)m;
        struct sf_balance *b = pool(method, m == 3 ? one : w, SF_BALANCE_MAX_SERVERS, 0);
        const int rounds = 200000;
        long sum = 0;
        double t0 = now_ns();
        for (int i = 0; i < rounds; i++)
            sum += sf_balance_choose(b, ALL, 0, active, keys[i & 63]);
        double ns = (now_ns() - t0) / rounds;
        printf("choice among 64 servers, %s: %.0f ns (checksum %ld)\n", names[m], ns, sum);
        sf_balance_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rr_nginx_sequence_5_1_1),
        cmocka_unit_test(test_rr_weights_2_1_1),
        cmocka_unit_test(test_rr_skips_unusable),
        cmocka_unit_test(test_least_conn),
        cmocka_unit_test(test_hash_stable_and_moves_only_removed),
        cmocka_unit_test(test_hash_weighted),
        cmocka_unit_test(test_hash_weighted_same_as_scoring_all),
        cmocka_unit_test(test_backups),
        cmocka_unit_test(test_retries_64_servers),
        cmocka_unit_test(test_choice_cost_64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
