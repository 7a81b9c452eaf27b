/* cluster: who owns a key, how keys move when peers come and go (measured on 100,000
 * keys), and peer-request signatures. */
#include "../../lib/cluster.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#define KEYS 100000

static const char *key_of(int i, char *buf, size_t size)
{
    snprintf(buf, size, "http://origin.example/object/%d?v=%d", i, i * 7);
    return buf;
}

static size_t owner(const struct sf_peer *peers, size_t n, const char *key)
{
    size_t order[SF_CLUSTER_MAX_PEERS];
    sf_cluster_order(peers, n, key, order);
    return order[0];
}

/* Each of N equal peers owns about 1/N of the keys, and the order is a permutation that
 * every node computes alike. */
static void test_keys_spread_evenly(void **state)
{
    (void)state;
    struct sf_peer peers[] = {{"a", "http://a", 1}, {"b", "http://b", 1}, {"c", "http://c", 1}};
    unsigned owned[3] = {0};
    char buf[96];
    for (int i = 0; i < KEYS; i++) {
        size_t order[3];
        sf_cluster_order(peers, 3, key_of(i, buf, sizeof buf), order);
        assert_true(order[0] != order[1] && order[1] != order[2] && order[0] != order[2]);
        owned[order[0]]++;
    }
    for (int p = 0; p < 3; p++) /* 33,333 each, within 3% */
        assert_in_range(owned[p], KEYS / 3 - 1000, KEYS / 3 + 1000);
}

/* Adding a fourth peer moves about a quarter of the keys, each to the new peer; removing
 * one moves only the keys it owned, each to its next in order. */
static void test_membership_changes_move_few_keys(void **state)
{
    (void)state;
    struct sf_peer four[] = {
        {"a", "http://a", 1}, {"b", "http://b", 1}, {"c", "http://c", 1}, {"d", "http://d", 1}};
    unsigned moved = 0;
    char buf[96];
    for (int i = 0; i < KEYS; i++) {
        const char *key = key_of(i, buf, sizeof buf);
        size_t before = owner(four, 3, key), after = owner(four, 4, key);
        if (before != after) {
            moved++;
            assert_int_equal(after, 3); /* only ever to the new peer */
        }
        size_t order[4];
        sf_cluster_order(four, 4, key, order);
        struct sf_peer without_b[] = {four[0], four[2], four[3]};
        size_t left = owner(without_b, 3, key);
        const char *want = order[0] == 1 ? four[order[1]].id : four[order[0]].id;
        assert_string_equal(without_b[left].id, want);
    }
    /* 1/4 of 100,000 is 25,000; within 5% of that. */
    assert_in_range(moved, 23750, 26250);
}

/* A peer of weight 2 among three of weight 1 owns about 2/5 of the keys. */
static void test_weights(void **state)
{
    (void)state;
    struct sf_peer peers[] = {
        {"a", "http://a", 2}, {"b", "http://b", 1}, {"c", "http://c", 1}, {"d", "http://d", 1}};
    unsigned heavy = 0;
    char buf[96];
    for (int i = 0; i < KEYS; i++)
        heavy += owner(peers, 4, key_of(i, buf, sizeof buf)) == 0;
    assert_in_range(heavy, 38000, 42000);
}

static void test_signatures(void **state)
{
    (void)state;
    const char *secret = "0123456789abcdef-cluster";
    char field[SF_PEER_FIELD_MAX], id[64];
    assert_true(sf_cluster_sign(secret, "GET", "/a?b=c", "node-1", 1000, field));
    assert_true(sf_cluster_verify(secret, field, "GET", "/a?b=c", 1010, 30, id, sizeof id));
    assert_string_equal(id, "node-1");
    /* Another target, method, secret or time, or an edited field: not a peer. */
    assert_false(sf_cluster_verify(secret, field, "GET", "/a?b=d", 1010, 30, id, sizeof id));
    assert_false(sf_cluster_verify(secret, field, "HEAD", "/a?b=c", 1010, 30, id, sizeof id));
    assert_false(sf_cluster_verify("another-secret-16chars", field, "GET", "/a?b=c", 1010, 30, id,
                                   sizeof id));
    assert_false(sf_cluster_verify(secret, field, "GET", "/a?b=c", 1031, 30, id, sizeof id));
    char edited[SF_PEER_FIELD_MAX];
    snprintf(edited, sizeof edited, "%s", field);
    edited[3] = 'X'; /* another id */
    assert_false(sf_cluster_verify(secret, edited, "GET", "/a?b=c", 1010, 30, id, sizeof id));
    char longer[SF_PEER_FIELD_MAX + 2];
    snprintf(longer, sizeof longer, "%s0", field); /* a longer signature */
    assert_false(sf_cluster_verify(secret, longer, "GET", "/a?b=c", 1010, 30, id, sizeof id));
    assert_false(sf_cluster_verify(secret, "id=node-1", "GET", "/a?b=c", 1010, 30, id, sizeof id));
    assert_non_null(strstr(field, "; hop=1; "));
    char hop2[SF_PEER_FIELD_MAX];
    snprintf(hop2, sizeof hop2, "%s", field);
    *strstr(hop2, "hop=1") = 'X'; /* "Xop=1": not the field's form */
    assert_false(sf_cluster_verify(secret, hop2, "GET", "/a?b=c", 1010, 30, id, sizeof id));
    assert_false(sf_cluster_verify(secret, NULL, "GET", "/a?b=c", 1010, 30, id, sizeof id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_spread_evenly),
        cmocka_unit_test(test_membership_changes_move_few_keys),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_signatures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
