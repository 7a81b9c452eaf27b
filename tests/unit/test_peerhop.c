/* peerhop: which node a shared fetch asks, in the key's rendezvous order, and the next one
 * after a failed peer (the upstream at this node's turn); whether a peer's answer is its
 * own. */
#include "../../lib/peerhop.h"

#include "../../lib/cluster.h"
#include "../../lib/config.h"
#include "../../lib/fetchspec.h"
#include "../../lib/live.h"
#include "../../lib/metrics.h"
#include "../../lib/singleflight.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "0123456789abcdef-cluster"
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* Four nodes a, b, c, d; this one is c. */
static struct sf_snap *cluster_snap(void)
{
    struct sf_config cfg;
    sf_config_defaults(&cfg);
    cfg.upstream = sf_xstrdup("http://origin");
    cfg.cluster_self = sf_xstrdup("c");
    cfg.cluster_secret = sf_xstrdup(SECRET);
    cfg.cluster_peers.n = 4;
    cfg.cluster_peers.v = sf_xcalloc(4, sizeof *cfg.cluster_peers.v);
    static const char *const ids[] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < 4; i++) {
        char url[32];
        snprintf(url, sizeof url, "http://%s:8080", ids[i]);
        cfg.cluster_peers.v[i] = (struct sf_peer){sf_xstrdup(ids[i]), sf_xstrdup(url), 1};
    }
    return sf_snap_new(&cfg);
}

/* A target whose key has this node (index 2) at place rank in its order; order filled. */
static void target_at(const struct sf_snap *snap, size_t rank, char *path, size_t size,
                      size_t *order)
{
    for (int k = 0;; k++) {
        char key[96];
        snprintf(path, size, "/obj?k=%d", k);
        snprintf(key, sizeof key, "http://origin%s", path);
        sf_cluster_order(snap->cfg.cluster_peers.v, 4, key, order);
        if (order[rank] == 2)
            return;
    }
}

static struct sf_fetch_spec *spec_for(struct sf_snap *snap, const char *path)
{
    struct sf_fetch_spec *s = sf_xcalloc(1, sizeof *s);
    s->method = sf_xstrdup("GET");
    s->url = sf_http_join_url(snap->cfg.upstream, path);
    s->snap = sf_snap_ref(snap);
    sf_peerhop_first(s, &snap->cfg, snap->peer_down_until_ms, path, NULL);
    return s;
}

/* s asks peer index, signed for it (and only it), with one peer field. */
static void assert_asks(const struct sf_snap *snap, const struct sf_fetch_spec *s, size_t index,
                        const char *path)
{
    const struct sf_peer *p = &snap->cfg.cluster_peers.v[index];
    char want[128];
    snprintf(want, sizeof want, "%s%s", p->url, path);
    assert_string_equal(s->url, want);
    assert_string_equal(s->peer_id, p->id);
    assert_ptr_equal(s->peer_down_until, &snap->peer_down_until_ms[index]);
    assert_non_null(s->fallback_url);
    struct sf_peer_claim claim;
    const char *field = sf_hdrs_get(&s->hdrs, SF_PEER_FIELD);
    assert_true(
        sf_cluster_verify(SECRET, field, "GET", path, NULL, p->id, sf_wall_s(), 30, &claim));
    assert_string_equal(claim.id, "c");
    size_t lines = 0;
    for (size_t i = 0; i < s->hdrs.n; i++)
        lines += sf_streq_ci(s->hdrs.v[i].name, SF_PEER_FIELD);
    assert_int_equal(lines, 1);
}

static void assert_upstream(const struct sf_fetch_spec *s, const char *path)
{
    char want[96];
    snprintf(want, sizeof want, "http://origin%s", path);
    assert_string_equal(s->url, want);
    assert_null(s->fallback_url);
    assert_null(sf_hdrs_get(&s->hdrs, SF_PEER_FIELD));
}

/* The owner down: the next in order, then (this node next) the upstream. */
static void test_failover_walks_the_order(void **state)
{
    (void)state;
    struct sf_snap *snap = cluster_snap();
    size_t order[4];
    char path[32];
    target_at(snap, 2, path, sizeof path, order); /* two peers before this node */
    struct sf_fetch_spec *s = spec_for(snap, path);
    assert_asks(snap, s, order[0], path);
    assert_int_equal(s->peer_rank, 0);
    /* The owner fails: the next node, signed anew for it. */
    atomic_store(s->peer_down_until, sf_now_ms() + 5000);
    assert_true(sf_peerhop_next(s));
    assert_asks(snap, s, order[1], path);
    assert_int_equal(s->peer_rank, 1);
    struct sf_peer_claim claim;
    assert_false(sf_cluster_verify(SECRET, sf_hdrs_get(&s->hdrs, SF_PEER_FIELD), "GET", path, NULL,
                                   snap->cfg.cluster_peers.v[order[0]].id, sf_wall_s(), 30,
                                   &claim)); /* no longer good at the failed owner */
    /* That one fails too: this node is next, so the upstream. */
    atomic_store(s->peer_down_until, sf_now_ms() + 5000);
    assert_false(sf_peerhop_next(s));
    assert_upstream(s, path);
    sf_fetch_spec_free(s);

    /* Later requests skip both at once: this node's turn, nothing routed. */
    s = spec_for(snap, path);
    assert_upstream(s, path);
    assert_null(s->peer_path);
    sf_fetch_spec_free(s);
    sf_snap_unref(snap);
}

/* A peer marked down is skipped on the way; a node after this one is never asked. */
static void test_failover_skips_the_down_and_stops_at_this_node(void **state)
{
    (void)state;
    struct sf_snap *snap = cluster_snap();
    size_t order[4];
    char path[32];
    target_at(snap, 2, path, sizeof path, order);
    atomic_store(&snap->peer_down_until_ms[order[1]], sf_now_ms() + 5000);
    struct sf_fetch_spec *s = spec_for(snap, path);
    assert_asks(snap, s, order[0], path);
    atomic_store(s->peer_down_until, sf_now_ms() + 5000);
    assert_false(sf_peerhop_next(s)); /* order[1] down, then this node: order[3] never */
    assert_upstream(s, path);
    sf_fetch_spec_free(s);
    sf_snap_unref(snap);

    /* This node second: the owner's failure makes it fetch, though d (after it) is up. */
    snap = cluster_snap();
    target_at(snap, 1, path, sizeof path, order);
    s = spec_for(snap, path);
    assert_asks(snap, s, order[0], path);
    atomic_store(s->peer_down_until, sf_now_ms() + 5000);
    assert_false(sf_peerhop_next(s));
    assert_upstream(s, path);
    sf_fetch_spec_free(s);
    sf_snap_unref(snap);
}

/* (issue 20) The client's Host goes to each peer asked, under that peer's signature, and
 * never to the upstream. */
static void test_the_host_goes_signed_to_peers_only(void **state)
{
    (void)state;
    struct sf_snap *snap = cluster_snap();
    size_t order[4];
    char path[32];
    target_at(snap, 2, path, sizeof path, order);
    struct sf_fetch_spec *s = sf_xcalloc(1, sizeof *s);
    s->method = sf_xstrdup("GET");
    s->url = sf_http_join_url(snap->cfg.upstream, path);
    s->snap = sf_snap_ref(snap);
    sf_peerhop_first(s, &snap->cfg, snap->peer_down_until_ms, path, "b.example");
    assert_string_equal(sf_hdrs_get(&s->hdrs, SF_PEER_HOST_FIELD), "b.example");
    assert_null(sf_hdrs_get(&s->hdrs, SF_PEER_ROUTE_FIELD)); /* no route taken */
    struct sf_peer_claim claim;
    struct sf_peer_scope scope = {NULL, "b.example"}, other = {NULL, "c.example"};
    const struct sf_peer *p = &snap->cfg.cluster_peers.v[order[0]];
    const char *field = sf_hdrs_get(&s->hdrs, SF_PEER_FIELD);
    assert_true(
        sf_cluster_verify(SECRET, field, "GET", path, &scope, p->id, sf_wall_s(), 30, &claim));
    assert_false(
        sf_cluster_verify(SECRET, field, "GET", path, &other, p->id, sf_wall_s(), 30, &claim));
    atomic_store(s->peer_down_until, sf_now_ms() + 5000);
    assert_true(sf_peerhop_next(s)); /* one line of it for the next peer */
    size_t lines = 0;
    for (size_t i = 0; i < s->hdrs.n; i++)
        lines += sf_streq_ci(s->hdrs.v[i].name, SF_PEER_HOST_FIELD);
    assert_int_equal(lines, 1);
    atomic_store(s->peer_down_until, sf_now_ms() + 5000);
    assert_false(sf_peerhop_next(s));
    assert_upstream(s, path);
    assert_null(sf_hdrs_get(&s->hdrs, SF_PEER_HOST_FIELD));
    sf_fetch_spec_free(s);
    sf_snap_unref(snap);
}

/* The peer's answer: taken when signed for this request (its field then dropped); an
 * unsigned one, or one signed for another request, is counted and refused; a signed 503
 * with Sfproxy-Draining sends the fetch on. */
static void test_answers(void **state)
{
    (void)state;
    struct sf_snap *snap = cluster_snap();
    size_t order[4];
    char path[32];
    target_at(snap, 2, path, sizeof path, order);
    struct sf_fetch_spec *s = spec_for(snap, path);
    struct sf_obj *o = sf_obj_new(NULL);
    struct sf_peerbody *body = NULL;
    const char *request = sf_hdrs_get(&s->hdrs, SF_PEER_FIELD);
    struct sf_hdrs h = {0};
    sf_hdrs_add(&h, "Cache-Control", "max-age=60");
    sf_hdrs_add(&h, SF_PEER_BODY_FIELD, "trailer");
    char sig[SF_PEER_ANSWER_MAX];
    assert_true(sf_cluster_sign_answer(SECRET, request, 200, &h, sig));
    uint64_t bad = atomic_load(&sf_metrics.peer_bad_answers);
    bool down = true;
    assert_non_null(sf_peerhop_answer(s, o, 200, &h, &body, &down)); /* unsigned */
    assert_false(down); /* not taken, but no reason to skip the peer for everyone */
    assert_int_equal(atomic_load(&sf_metrics.peer_bad_answers), bad + 1);
    sf_hdrs_add(&h, SF_PEER_ANSWER_FIELD, sig);
    assert_non_null(sf_peerhop_answer(s, o, 304, &h, &body, &down)); /* another status */
    assert_null(body);
    assert_false(o->unproven);
    assert_null(sf_peerhop_answer(s, o, 200, &h, &body, &down));
    assert_null(sf_hdrs_get(&h, SF_PEER_ANSWER_FIELD)); /* no field of the response */
    assert_null(sf_hdrs_get(&h, SF_PEER_BODY_FIELD));
    assert_non_null(body);
    assert_true(o->unproven);
    assert_int_equal(atomic_load(&sf_metrics.peer_bad_answers), bad + 2);
    sf_peerhop_body_free(body);
    body = NULL;

    /* The same answer for the next request (another nonce) is not its answer. */
    sf_hdrs_add(&h, SF_PEER_BODY_FIELD, "trailer");
    sf_hdrs_add(&h, SF_PEER_ANSWER_FIELD, sig);
    atomic_store(s->peer_down_until, sf_now_ms() + 5000);
    assert_true(sf_peerhop_next(s));
    assert_non_null(sf_peerhop_answer(s, o, 200, &h, &body, &down));
    sf_hdrs_clear(&h);

    sf_hdrs_add(&h, SF_DRAINING_FIELD, "1");
    assert_true(sf_cluster_sign_answer(SECRET, sf_hdrs_get(&s->hdrs, SF_PEER_FIELD), 503, &h, sig));
    sf_hdrs_add(&h, SF_PEER_ANSWER_FIELD, sig);
    assert_string_equal(sf_peerhop_answer(s, o, 503, &h, &body, &down), "it is shutting down");
    assert_true(down); /* a node that stops: skipped until it answers its probe */
    assert_null(body);
    sf_hdrs_clear(&h);

    /* (issue 20) An owner without the route named: the next node, this one not marked
     * down; a 421 of the origin's, relayed without the field, is the answer. */
    const char *req = sf_hdrs_get(&s->hdrs, SF_PEER_FIELD);
    sf_hdrs_add(&h, SF_PEER_NO_ROUTE_FIELD, "1");
    assert_true(sf_cluster_sign_answer(SECRET, req, SF_PEER_NO_ROUTE_STATUS, &h, sig));
    sf_hdrs_add(&h, SF_PEER_ANSWER_FIELD, sig);
    assert_non_null(sf_peerhop_answer(s, o, SF_PEER_NO_ROUTE_STATUS, &h, &body, &down));
    assert_false(down);
    assert_null(body);
    sf_hdrs_clear(&h);
    sf_hdrs_add(&h, SF_PEER_BODY_FIELD, "length=0; sha256=" SHA256_EMPTY);
    assert_true(sf_cluster_sign_answer(SECRET, req, 421, &h, sig));
    sf_hdrs_add(&h, SF_PEER_ANSWER_FIELD, sig);
    assert_null(sf_peerhop_answer(s, o, 421, &h, &body, &down));
    assert_non_null(body);
    sf_peerhop_body_free(body);
    sf_hdrs_clear(&h);
    sf_obj_unref(o);
    sf_fetch_spec_free(s);
    sf_snap_unref(snap);
}

/* The peer's signed head, with fields, for s's request; *mac is its MAC. */
static void signed_head(const struct sf_fetch_spec *s, unsigned status, struct sf_hdrs *h,
                        char mac[65])
{
    char sig[SF_PEER_ANSWER_MAX];
    assert_true(
        sf_cluster_sign_answer(SECRET, sf_hdrs_get(&s->hdrs, SF_PEER_FIELD), status, h, sig));
    sf_hdrs_add(h, SF_PEER_ANSWER_FIELD, sig);
    memcpy(mac, sig + 4, 65);
}

/* A body is kept only when it is the one the peer signed: its digest in the head, or a
 * trailer's MAC over it; a body without a field saying how it is proven is refused with
 * the head; a HEAD's or a 304's has none to prove. A body that fails is counted, and the
 * peer skipped. */
static void test_bodies(void **state)
{
    (void)state;
    struct sf_snap *snap = cluster_snap();
    size_t order[4];
    char path[32], mac[65], trailer[SF_PEER_ANSWER_MAX];
    target_at(snap, 2, path, sizeof path, order);
    struct sf_fetch_spec *s = spec_for(snap, path);
    struct sf_obj *o = sf_obj_new(NULL);
    struct sf_peerbody *body = NULL;
    bool down = false;
    struct sf_hdrs h = {0};
    uint64_t bad_answers = atomic_load(&sf_metrics.peer_bad_answers);
    uint64_t bad_bodies = atomic_load(&sf_metrics.peer_bad_bodies);

    /* No body field: refused with the head. */
    sf_hdrs_add(&h, "Content-Length", "3");
    signed_head(s, 200, &h, mac);
    assert_string_equal(sf_peerhop_answer(s, o, 200, &h, &body, &down),
                        "its answer does not say how its body is proven");
    assert_int_equal(atomic_load(&sf_metrics.peer_bad_answers), bad_answers + 1);
    sf_hdrs_clear(&h);
    /* A 304 has no body to prove. */
    signed_head(s, 304, &h, mac);
    assert_null(sf_peerhop_answer(s, o, 304, &h, &body, &down));
    assert_null(body);
    sf_hdrs_clear(&h);

    /* In the head: the signed length replaces the wire's. */
    sf_hdrs_add(&h, "Content-Length", "4");
    sf_hdrs_add(&h, SF_PEER_BODY_FIELD, "length=3; sha256=" SHA256_ABC);
    signed_head(s, 200, &h, mac);
    assert_null(sf_peerhop_answer(s, o, 200, &h, &body, &down));
    assert_string_equal(sf_hdrs_get(&h, "Content-Length"), "3");
    sf_peerhop_body(body, "ab", 2);
    sf_peerhop_body(body, "c", 1);
    assert_true(sf_peerhop_body_end(s, body, &h));
    sf_peerhop_body_free(body);
    body = NULL;
    sf_hdrs_clear(&h);
    assert_int_equal(atomic_load(&sf_metrics.peer_bad_bodies), bad_bodies);

    /* In the trailer, which comes after the head's fields. */
    sf_hdrs_add(&h, SF_PEER_BODY_FIELD, "trailer");
    signed_head(s, 200, &h, mac);
    assert_null(sf_peerhop_answer(s, o, 200, &h, &body, &down));
    assert_null(sf_hdrs_get(&h, "Content-Length"));
    sf_peerhop_body(body, "abc", 3);
    assert_true(sf_cluster_body_trailer(SECRET, mac, 3, SHA256_ABC, trailer));
    struct sf_hdrs with = {0};
    for (size_t i = 0; i < h.n; i++)
        sf_hdrs_add(&with, h.v[i].name, h.v[i].value);
    sf_hdrs_add(&with, SF_PEER_BODY_FIELD, trailer);
    assert_true(sf_peerhop_body_end(s, body, &with));
    sf_peerhop_body_free(body);
    body = NULL;
    assert_int_equal(atomic_load(&sf_metrics.peer_bad_bodies), bad_bodies);

    /* The same trailer over another body (tampered on the way), or none: not kept. */
    sf_hdrs_clear(&h);
    sf_hdrs_add(&h, SF_PEER_BODY_FIELD, "trailer");
    signed_head(s, 200, &h, mac);
    assert_null(sf_peerhop_answer(s, o, 200, &h, &body, &down));
    sf_peerhop_body(body, "abd", 3);
    assert_false(sf_peerhop_body_end(s, body, &with)); /* another answer's trailer, too */
    sf_peerhop_body_free(body);
    body = NULL;
    assert_int_equal(atomic_load(&sf_metrics.peer_bad_bodies), bad_bodies + 1);
    assert_true(atomic_load(s->peer_down_until) > sf_now_ms()); /* the peer is skipped */
    sf_hdrs_clear(&h);
    sf_hdrs_add(&h, SF_PEER_BODY_FIELD, "trailer");
    signed_head(s, 200, &h, mac);
    assert_null(sf_peerhop_answer(s, o, 200, &h, &body, &down));
    sf_peerhop_body(body, "abc", 3);
    assert_false(sf_peerhop_body_end(s, body, &h)); /* no trailer came */
    sf_peerhop_body_free(body);
    assert_int_equal(atomic_load(&sf_metrics.peer_bad_bodies), bad_bodies + 2);

    sf_hdrs_clear(&with);
    sf_hdrs_clear(&h);
    sf_obj_unref(o);
    sf_fetch_spec_free(s);
    sf_snap_unref(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_walks_the_order),
        cmocka_unit_test(test_failover_skips_the_down_and_stops_at_this_node),
        cmocka_unit_test(test_the_host_goes_signed_to_peers_only),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
