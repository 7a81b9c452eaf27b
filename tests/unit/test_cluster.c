/* cluster: who owns a key, how keys move when peers come and go (measured on 100,000
 * keys), peer-request and answer signatures, and the replay set (replay.c). */
#include "../../lib/cluster.h"
#include "../../lib/replay.h"

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

#define NONCE "0123456789abcdef0123456789abcdef"

static bool verify(const char *secret, const char *field, const char *method, const char *target,
                   const char *self, int64_t now_s)
{
    struct sf_peer_claim claim;
    return sf_cluster_verify(secret, field, method, target, NULL, self, now_s, 30, &claim);
}

static void test_signatures(void **state)
{
    (void)state;
    const char *secret = "0123456789abcdef-cluster";
    char field[SF_PEER_FIELD_MAX];
    struct sf_peer_claim claim;
    assert_true(
        sf_cluster_sign(secret, "GET", "/a?b=c", NULL, "node-1", "node-2", 1000, NONCE, field));
    assert_true(
        sf_cluster_verify(secret, field, "GET", "/a?b=c", NULL, "node-2", 1010, 30, &claim));
    assert_string_equal(claim.id, "node-1");
    assert_int_equal(claim.ts, 1000);
    assert_non_null(strstr(field, "; to=node-2; hop=1; "));
    /* Another target, method, secret or time, or an edited field: not a peer. */
    assert_false(verify(secret, field, "GET", "/a?b=d", "node-2", 1010));
    assert_false(verify(secret, field, "HEAD", "/a?b=c", "node-2", 1010));
    assert_false(verify("another-secret-16chars", field, "GET", "/a?b=c", "node-2", 1010));
    assert_false(verify(secret, field, "GET", "/a?b=c", "node-2", 1031));
    char edited[SF_PEER_FIELD_MAX];
    snprintf(edited, sizeof edited, "%s", field);
    edited[3] = 'X'; /* another id */
    assert_false(verify(secret, edited, "GET", "/a?b=c", "node-2", 1010));
    char longer[SF_PEER_FIELD_MAX + 2];
    snprintf(longer, sizeof longer, "%s0", field); /* a longer signature */
    assert_false(verify(secret, longer, "GET", "/a?b=c", "node-2", 1010));
    assert_false(verify(secret, "id=node-1", "GET", "/a?b=c", "node-2", 1010));
    char hop2[SF_PEER_FIELD_MAX];
    snprintf(hop2, sizeof hop2, "%s", field);
    *strstr(hop2, "hop=1") = 'X'; /* "Xop=1": not the field's form */
    assert_false(verify(secret, hop2, "GET", "/a?b=c", "node-2", 1010));
    assert_false(verify(secret, NULL, "GET", "/a?b=c", "node-2", 1010));
    /* Issue 18: bound to the node it was sent to. At another node it is nobody's, and
     * renaming the addressee breaks the signature. */
    assert_false(verify(secret, field, "GET", "/a?b=c", "node-3", 1010));
    char readdressed[SF_PEER_FIELD_MAX];
    snprintf(readdressed, sizeof readdressed, "%s", field);
    strstr(readdressed, "to=node-2")[8] = '3';
    assert_false(verify(secret, readdressed, "GET", "/a?b=c", "node-3", 1010));
    /* The nonce is signed too; the same request with another nonce is another signature,
     * so another tag. */
    char other[SF_PEER_FIELD_MAX];
    assert_true(sf_cluster_sign(secret, "GET", "/a?b=c", NULL, "node-1", "node-2", 1000,
                                "ffffffffffffffffffffffffffffffff", other));
    struct sf_peer_claim other_claim;
    assert_true(
        sf_cluster_verify(secret, other, "GET", "/a?b=c", NULL, "node-2", 1010, 30, &other_claim));
    assert_true(other_claim.tag != claim.tag);
    char renonced[SF_PEER_FIELD_MAX];
    snprintf(renonced, sizeof renonced, "%s", field);
    strstr(renonced, "nonce=")[6] = '9';
    assert_false(verify(secret, renonced, "GET", "/a?b=c", "node-2", 1010));
    /* A short nonce is refused when signing. */
    assert_false(sf_cluster_sign(secret, "GET", "/", NULL, "node-1", "node-2", 1000, "abc", field));
}

/* (issue 20) The route the asking node took and its client's Host are under the request's
 * signature: an owner never takes a route, or keys a Host, that an on-path party chose. */
static void test_signatures_cover_route_and_host(void **state)
{
    (void)state;
    const char *secret = "0123456789abcdef-cluster";
    char field[SF_PEER_FIELD_MAX];
    struct sf_peer_claim claim;
    struct sf_peer_scope scope = {"b", "b.example"};
    assert_true(
        sf_cluster_sign(secret, "GET", "/x", &scope, "node-1", "node-2", 1000, NONCE, field));
    assert_true(sf_cluster_verify(secret, field, "GET", "/x", &scope, "node-2", 1000, 30, &claim));
    const struct sf_peer_scope changed[] = {
        {"a", "b.example"},  /* another route's name */
        {"b.", "b.example"}, /* a name one character longer */
        {NULL, "b.example"}, /* the route removed: the top level's settings */
        {"b", "c.example"},  /* another Host */
        {"b", NULL},         /* the Host removed */
        {"b", "b.example\nroute=b"},
        {NULL, NULL},
    };
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++)
        assert_false(
            sf_cluster_verify(secret, field, "GET", "/x", &changed[i], "node-2", 1000, 30, &claim));
    assert_false(sf_cluster_verify(secret, field, "GET", "/x", NULL, "node-2", 1000, 30, &claim));
    /* A route's name is never taken for a Host, nor the reverse. */
    struct sf_peer_scope host_only = {NULL, "b"}, route_only = {"b", NULL};
    assert_true(
        sf_cluster_sign(secret, "GET", "/x", &route_only, "node-1", "node-2", 1000, NONCE, field));
    assert_false(
        sf_cluster_verify(secret, field, "GET", "/x", &host_only, "node-2", 1000, 30, &claim));
    assert_true(
        sf_cluster_verify(secret, field, "GET", "/x", &route_only, "node-2", 1000, 30, &claim));
    /* No scope and an empty one sign alike: a purge's and a health check's text. */
    struct sf_peer_scope none = {NULL, NULL};
    assert_true(sf_cluster_sign(secret, "GET", "/x", NULL, "node-1", "node-2", 1000, NONCE, field));
    assert_true(sf_cluster_verify(secret, field, "GET", "/x", &none, "node-2", 1000, 30, &claim));
}

static void test_nonces_differ(void **state)
{
    (void)state;
    char a[SF_PEER_NONCE_HEX + 1], b[SF_PEER_NONCE_HEX + 1];
    assert_true(sf_cluster_nonce(a));
    assert_true(sf_cluster_nonce(b));
    assert_int_equal(strlen(a), SF_PEER_NONCE_HEX);
    assert_true(strcmp(a, b) != 0);
}

/* An answer is signed for one request: its status and fields, not the transport's. */
static void test_answer_signatures(void **state)
{
    (void)state;
    const char *secret = "0123456789abcdef-cluster";
    char request[SF_PEER_FIELD_MAX], another[SF_PEER_FIELD_MAX], sig[SF_PEER_ANSWER_MAX];
    assert_true(
        sf_cluster_sign(secret, "GET", "/x", NULL, "node-1", "node-2", 1000, NONCE, request));
    assert_true(sf_cluster_sign(secret, "GET", "/x", NULL, "node-1", "node-2", 1000,
                                "00000000000000000000000000000000", another));
    struct sf_hdrs sent = {0};
    sf_hdrs_add(&sent, "Content-Type", "text/plain");
    sf_hdrs_add(&sent, "ETag", "\"v1\"");
    sf_hdrs_add(&sent, "Cache-Control", "max-age=60");
    sf_hdrs_add(&sent, "Link", "</a.css>; rel=preload");
    sf_hdrs_add(&sent, "Link", "</b.css>; rel=preload");
    assert_true(sf_cluster_sign_answer(secret, request, 200, &sent, sig));
    assert_int_equal(strlen(sig), 68);

    /* As received: in another order, with what the transport adds, and the field. */
    struct sf_hdrs got = {0};
    sf_hdrs_add(&got, "Date", "Sun, 06 Dec 2026 20:00:00 GMT");
    sf_hdrs_add(&got, "Content-Length", "6");
    sf_hdrs_add(&got, "Connection", "keep-alive");
    sf_hdrs_add(&got, "cache-control", "max-age=60");
    sf_hdrs_add(&got, "Link", "</a.css>; rel=preload");
    sf_hdrs_add(&got, "Link", "</b.css>; rel=preload");
    sf_hdrs_add(&got, "ETag", "\"v1\"");
    sf_hdrs_add(&got, "Content-Type", "text/plain");
    assert_false(sf_cluster_verify_answer(secret, request, 200, &got, NULL)); /* no field yet */
    sf_hdrs_add(&got, SF_PEER_ANSWER_FIELD, "sig=" NONCE NONCE);              /* an origin's, say */
    assert_false(sf_cluster_verify_answer(secret, request, 200, &got, NULL));
    sf_hdrs_add(&got, SF_PEER_ANSWER_FIELD, sig);
    assert_true(sf_cluster_verify_answer(secret, request, 200, &got, NULL));
    /* Another request (nonce), status or secret: not its answer. */
    assert_false(sf_cluster_verify_answer(secret, another, 200, &got, NULL));
    assert_false(sf_cluster_verify_answer(secret, request, 203, &got, NULL));
    assert_false(sf_cluster_verify_answer("another-secret-16chars", request, 200, &got, NULL));
    assert_false(sf_cluster_verify_answer(secret, NULL, 200, &got, NULL));
    /* A field changed, added or removed: not its answer. */
    sf_hdrs_remove(&got, "ETag");
    assert_false(sf_cluster_verify_answer(secret, request, 200, &got, NULL));
    sf_hdrs_add(&got, "ETag", "\"v2\"");
    assert_false(sf_cluster_verify_answer(secret, request, 200, &got, NULL));
    sf_hdrs_remove(&got, "ETag");
    sf_hdrs_add(&got, "ETag", "\"v1\"");
    assert_true(sf_cluster_verify_answer(secret, request, 200, &got, NULL));
    sf_hdrs_add(&got, "Location", "http://evil.example/");
    assert_false(sf_cluster_verify_answer(secret, request, 200, &got, NULL));
    sf_hdrs_clear(&sent);
    sf_hdrs_clear(&got);
}

/* The SHA-256 of "abc" (FIPS 180-2's first example) and of nothing. */
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static uint64_t digest_of(const char *body, char hex[65])
{
    struct sf_body_hash *b = sf_cluster_body_new();
    assert_non_null(b);
    for (const char *p = body; *p != '\0'; p++)
        sf_cluster_body_add(b, p, 1); /* incrementally: byte by byte */
    return sf_cluster_body_end(b, hex);
}

/* A body's proof: the hash as it passes, the head field's forms, and the trailer's MAC,
 * bound to the answer's MAC, the length and the digest. */
static void test_body_proofs(void **state)
{
    (void)state;
    const char *secret = "0123456789abcdef-cluster";
    char hex[65], mac[65], field[SF_PEER_BODY_MAX], trailer[SF_PEER_ANSWER_MAX];
    assert_int_equal(digest_of("abc", hex), 3);
    assert_string_equal(hex, SHA256_ABC);
    assert_int_equal(digest_of("", hex), 0);
    assert_string_equal(hex, SHA256_EMPTY);
    sf_cluster_body_free(sf_cluster_body_new()); /* given up half way */
    sf_cluster_body_free(NULL);

    struct sf_body_claim c;
    sf_cluster_body_head(3, SHA256_ABC, field);
    assert_string_equal(field, "length=3; sha256=" SHA256_ABC);
    assert_true(sf_cluster_body_parse(field, &c));
    assert_true(c.length == 3 && !c.trailer);
    assert_string_equal(c.sha256, SHA256_ABC);
    sf_cluster_body_head(3, NULL, field);
    assert_string_equal(field, "length=3; trailer");
    assert_true(sf_cluster_body_parse(field, &c));
    assert_true(c.length == 3 && c.trailer);
    sf_cluster_body_head(-1, NULL, field);
    assert_string_equal(field, "trailer");
    assert_true(sf_cluster_body_parse(field, &c));
    assert_true(c.length == -1 && c.trailer);
    static const char *const bad[] = {
        "",
        "sha256=" SHA256_ABC, /* a digest says its length */
        "length=3; sha256=" SHA256_EMPTY "00",
        "length=3; sha256=BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        "length=-3; trailer",
        "length=; trailer",
        "length=3 trailer",
        "length=99999999999999999999; trailer",
        "trailer; length=3",
        "length=3; trailers",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(sf_cluster_body_parse(bad[i], &c));
    assert_false(sf_cluster_body_parse(NULL, &c));

    /* In the head: the digest and length must be the body's. */
    assert_true(sf_cluster_body_parse("length=3; sha256=" SHA256_ABC, &c));
    memset(mac, 'a', 64);
    mac[64] = '\0';
    assert_true(sf_cluster_body_verify(secret, mac, &c, NULL, 3, SHA256_ABC));
    assert_false(sf_cluster_body_verify(secret, mac, &c, NULL, 3, SHA256_EMPTY)); /* tampered */
    assert_false(sf_cluster_body_verify(secret, mac, &c, NULL, 4, SHA256_ABC));   /* padded */

    /* In the trailer: a MAC over the answer's MAC, the length and the digest. */
    assert_true(sf_cluster_body_trailer(secret, mac, 3, SHA256_ABC, trailer));
    assert_int_equal(strlen(trailer), 68);
    assert_true(sf_cluster_body_parse("trailer", &c));
    assert_true(sf_cluster_body_verify(secret, mac, &c, trailer, 3, SHA256_ABC));
    assert_false(sf_cluster_body_verify(secret, mac, &c, NULL, 3, SHA256_ABC)); /* none came */
    assert_false(sf_cluster_body_verify(secret, mac, &c, trailer, 3, SHA256_EMPTY));
    assert_false(sf_cluster_body_verify(secret, mac, &c, trailer, 2, SHA256_ABC));
    assert_false(sf_cluster_body_verify("another-secret-16chars", mac, &c, trailer, 3, SHA256_ABC));
    char other[65];
    memcpy(other, mac, 65);
    other[0] = 'b'; /* another answer's (another request or head) */
    assert_false(sf_cluster_body_verify(secret, other, &c, trailer, 3, SHA256_ABC));
    char garbled[SF_PEER_ANSWER_MAX];
    memcpy(garbled, trailer, sizeof garbled);
    garbled[10] = garbled[10] == '0' ? '1' : '0';
    assert_false(sf_cluster_body_verify(secret, mac, &c, garbled, 3, SHA256_ABC));
    assert_false(sf_cluster_body_verify(secret, mac, &c, "sig=", 3, SHA256_ABC));
    /* A length said in the head binds the trailer's body too. */
    assert_true(sf_cluster_body_parse("length=2; trailer", &c));
    assert_false(sf_cluster_body_verify(secret, mac, &c, trailer, 3, SHA256_ABC));

    /* The answer's MAC comes from its verification. */
    char request[SF_PEER_FIELD_MAX], sig[SF_PEER_ANSWER_MAX];
    assert_true(
        sf_cluster_sign(secret, "GET", "/x", NULL, "node-1", "node-2", 1000, NONCE, request));
    struct sf_hdrs h = {0};
    sf_hdrs_add(&h, SF_PEER_BODY_FIELD, "length=3; trailer");
    assert_true(sf_cluster_sign_answer(secret, request, 200, &h, sig));
    sf_hdrs_add(&h, SF_PEER_ANSWER_FIELD, sig);
    assert_true(sf_cluster_verify_answer(secret, request, 200, &h, mac));
    assert_string_equal(mac, sig + 4);
    sf_hdrs_remove(&h, SF_PEER_BODY_FIELD);
    sf_hdrs_add(&h, SF_PEER_BODY_FIELD, "length=3; sha256=" SHA256_ABC); /* the head's word */
    assert_false(sf_cluster_verify_answer(secret, request, 200, &h, mac));
    sf_hdrs_clear(&h);
}

/* The replay set: a tag is fresh once, seen within its window, free again after it; full
 * buckets refuse instead of forgetting. */
static void test_replay_set(void **state)
{
    (void)state;
    struct sf_replay *rs = sf_replay_new(32); /* two buckets of sixteen */
    assert_int_equal(sf_replay_admit(rs, 42, 1030, 1000), SF_REPLAY_FRESH);
    assert_int_equal(sf_replay_admit(rs, 42, 1030, 1010), SF_REPLAY_SEEN);
    assert_int_equal(sf_replay_admit(rs, 42, 1030, 1030), SF_REPLAY_SEEN);
    /* Past its window the signature check refuses it anyway; its entry is free again. */
    assert_int_equal(sf_replay_admit(rs, 42, 1061, 1031), SF_REPLAY_FRESH);
    sf_replay_free(rs);

    rs = sf_replay_new(32);
    enum sf_replay_verdict first[80];
    unsigned fresh = 0, full = 0;
    for (uint64_t t = 0; t < 80; t++) {
        first[t] = sf_replay_admit(rs, (t + 1) * 0x9e3779b97f4a7c15ull, 1030, 1000);
        fresh += first[t] == SF_REPLAY_FRESH;
        full += first[t] == SF_REPLAY_FULL;
    }
    assert_int_equal(fresh + full, 80);
    assert_in_range(fresh, 24, 32); /* no more than it holds */
    /* Every one kept is still known: none was forgotten to make room. */
    for (uint64_t t = 0; t < 80; t++) {
        enum sf_replay_verdict v = sf_replay_admit(rs, (t + 1) * 0x9e3779b97f4a7c15ull, 1030, 1000);
        assert_int_equal(v, first[t] == SF_REPLAY_FRESH ? SF_REPLAY_SEEN : SF_REPLAY_FULL);
    }
    /* Once their window has passed, there is room again. */
    assert_int_equal(sf_replay_admit(rs, 7, 1070, 1040), SF_REPLAY_FRESH);
    sf_replay_free(rs);

    /* At the process's size: 65,536 random tags; the first is refused at 58,177 (89%). */
    rs = sf_replay_new(65536);
    uint64_t x = 88172645463325252ull;
    unsigned kept = 0;
    for (unsigned i = 0; i < 65536; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        if (sf_replay_admit(rs, x, 1030, 1000) != SF_REPLAY_FRESH)
            break;
        kept++;
    }
    assert_true(kept >= 58000);
    sf_replay_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_spread_evenly),
        cmocka_unit_test(test_membership_changes_move_few_keys),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_signatures_cover_route_and_host),
        cmocka_unit_test(test_nonces_differ),
        cmocka_unit_test(test_answer_signatures),
        cmocka_unit_test(test_body_proofs),
        cmocka_unit_test(test_replay_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
