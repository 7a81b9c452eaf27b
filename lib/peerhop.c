/* peerhop: see peerhop.h. */
#include "peerhop.h"

#include "cluster.h"
#include "config.h"
#include "fetchspec.h"
#include "live.h"
#include "judge.h"
#include "log.h"
#include "metrics.h"
#include "route.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Removes the fields of a hop from h: sent to the next node, or to the upstream. */
static void remove_peer_fields(struct sf_hdrs *h)
{
    sf_hdrs_remove(h, SF_PEER_FIELD);
    sf_hdrs_remove(h, SF_PEER_ROUTE_FIELD);
    sf_hdrs_remove(h, SF_PEER_HOST_FIELD);
}

/* Points s at peer index (at place rank in its key's order), signed for it with a fresh
 * nonce; false, s unchanged, when it cannot be signed. */
static bool send_to(struct sf_fetch_spec *s, const struct sf_config *cfg, _Atomic uint64_t *down,
                    size_t index, size_t rank)
{
    const struct sf_peer *p = &cfg->cluster_peers.v[index];
    char nonce[SF_PEER_NONCE_HEX + 1], field[SF_PEER_FIELD_MAX];
    /* The owner takes this node's route, by name, and keys the client's Host, not its own
     * address the hop sends (cluster.h). */
    struct sf_peer_scope scope = {s->route != NULL ? s->route->name : NULL, s->peer_host};
    if (!sf_cluster_nonce(nonce) ||
        !sf_cluster_sign(cfg->cluster_secret, s->method, s->peer_path, &scope, cfg->cluster_self,
                         p->id, sf_wall_s(), nonce, field))
        return false;
    if (s->fallback_url == NULL)
        s->fallback_url = s->url; /* the upstream's, kept for this node's turn */
    else
        free(s->url); /* the peer before, which failed */
    s->url = sf_http_join_url(p->url, s->peer_path);
    remove_peer_fields(&s->hdrs);
    sf_hdrs_add(&s->hdrs, SF_PEER_FIELD, field);
    if (scope.route != NULL)
        sf_hdrs_add(&s->hdrs, SF_PEER_ROUTE_FIELD, scope.route);
    if (scope.host != NULL)
        sf_hdrs_add(&s->hdrs, SF_PEER_HOST_FIELD, scope.host);
    s->peer_down_until = &down[index];
    s->peer_rank = rank;
    s->peer_retry_ms = cfg->cluster_peer_retry_ms;
    s->peer_connect_timeout_ms = cfg->cluster_peer_connect_timeout_ms;
    s->store_peer_response = cfg->cluster_store_on_edge;
    s->peer_id = p->id; /* the snapshot s pins keeps it */
    SF_PEER_COUNT(p->id, sent);
    return true;
}

/* Sends s to the first node from place from in key's order that is not marked down, when
 * that is not this node: returns whether it went to a peer. */
static bool walk(struct sf_fetch_spec *s, const struct sf_config *cfg, _Atomic uint64_t *down,
                 const char *key, size_t from)
{
    const struct sf_peers *peers = &cfg->cluster_peers;
    size_t order[SF_CLUSTER_MAX_PEERS];
    sf_cluster_order(peers->v, peers->n, key, order);
    uint64_t now = sf_now_ms();
    for (size_t k = from; k < peers->n; k++) {
        if (strcmp(peers->v[order[k]].id, cfg->cluster_self) == 0)
            return false; /* this node's turn: every node before it is down */
        if (atomic_load_explicit(&down[order[k]], memory_order_relaxed) > now)
            continue;
        return send_to(s, cfg, down, order[k], k);
    }
    return false;
}

bool sf_peerhop_ranks_before(const struct sf_config *cfg, const char *key, const char *id)
{
    const struct sf_peers *peers = &cfg->cluster_peers;
    bool listed = false;
    for (size_t i = 0; i < peers->n && !listed; i++)
        listed = strcmp(peers->v[i].id, id) == 0;
    if (!listed)
        return true; /* not a peer of this node's list: the lists differ */
    size_t order[SF_CLUSTER_MAX_PEERS];
    sf_cluster_order(peers->v, peers->n, key, order);
    for (size_t k = 0; k < peers->n; k++) {
        if (strcmp(peers->v[order[k]].id, cfg->cluster_self) == 0)
            return false; /* this node first: id comes after it */
        if (strcmp(peers->v[order[k]].id, id) == 0)
            return true;
    }
    return false; /* (unreached: this node is in its own list) */
}

void sf_peerhop_first(struct sf_fetch_spec *s, const struct sf_config *cfg, _Atomic uint64_t *down,
                      const char *path, const char *host)
{
    s->peer_path = sf_xstrdup(path);
    s->peer_host = sf_xstrdup_opt(host);
    if (!walk(s, cfg, down, s->url, 0)) {
        free(s->peer_path);
        s->peer_path = NULL;
        free(s->peer_host);
        s->peer_host = NULL;
    }
}

bool sf_peerhop_next(struct sf_fetch_spec *s)
{
    SF_ASSERT(s->fallback_url != NULL && s->snap != NULL);
    /* The key's place in the order is its upstream URL's, as in sf_peerhop_first. */
    if (walk(s, &s->snap->cfg, s->snap->peer_down_until_ms, s->fallback_url, s->peer_rank + 1))
        return true;
    free(s->url);
    s->url = s->fallback_url;
    s->fallback_url = NULL;
    remove_peer_fields(&s->hdrs);
    return false;
}

/* Runs on: the fetcher thread only. */
static struct sf_ratelimit rl_bad_answer, rl_bad_body;

struct sf_peerbody {
    struct sf_body_claim claim;
    char mac[65];              /* the answer's, which a trailer's proof is bound to */
    struct sf_body_hash *hash; /* what arrived */
    uint64_t received;         /* bytes of it */
};

/* Counts and logs an answer not taken; returns why (its answer ...). */
static const char *bad_answer(const struct sf_fetch_spec *s, const char *why)
{
    SF_COUNT(peer_bad_answers);
    sf_log_limited(&rl_bad_answer, 10000, SF_LOG_WARN,
                   "cluster: peer %s (%s): %s: dropped, neither stored nor served", s->peer_id,
                   s->url, why);
    return why;
}

/* The body field of an answer (its only one), removed from fields; false when there is
 * not exactly one, or it says nothing sfproxy knows. */
static bool take_claim(struct sf_hdrs *fields, struct sf_body_claim *claim)
{
    const char *value = NULL;
    size_t count = 0;
    for (size_t i = 0; i < fields->n; i++)
        if (sf_streq_ci(fields->v[i].name, SF_PEER_BODY_FIELD)) {
            value = fields->v[i].value;
            count++;
        }
    bool ok = count == 1 && sf_cluster_body_parse(value, claim);
    sf_hdrs_remove(fields, SF_PEER_BODY_FIELD);
    return ok;
}

const char *sf_peerhop_answer(const struct sf_fetch_spec *s, struct sf_obj *o, int status,
                              struct sf_hdrs *fields, struct sf_peerbody **body, bool *mark_down)
{
    *mark_down = false;
    const struct sf_config *cfg = &s->snap->cfg;
    const char *request = sf_hdrs_get(&s->hdrs, SF_PEER_FIELD);
    char mac[65];
    if (status < 100 ||
        !sf_cluster_verify_answer(cfg->cluster_secret, request, (unsigned)status, fields, mac))
        return bad_answer(s, "its answer is not signed with cluster.secret for its request");
    sf_hdrs_remove(fields, SF_PEER_ANSWER_FIELD); /* the hop's, no field of the response */
    if (status == 503 && sf_hdrs_get(fields, SF_DRAINING_FIELD) != NULL) {
        *mark_down = true;
        return "it is shutting down";
    }
    if (status == SF_PEER_NO_ROUTE_STATUS && sf_hdrs_get(fields, SF_PEER_NO_ROUTE_FIELD) != NULL)
        return "it has no route of this request's route's name (the nodes' routes differ)";
    if (sf_judge_bodiless(s->method, status)) {
        sf_hdrs_remove(fields, SF_PEER_BODY_FIELD);
        return NULL; /* no body to prove: the signed head is all of it */
    }
    struct sf_body_claim claim;
    if (!take_claim(fields, &claim))
        return bad_answer(s, "its answer does not say how its body is proven");
    struct sf_body_hash *hash = sf_cluster_body_new();
    if (hash == NULL)
        return bad_answer(s, "its answer cannot be checked (no memory for a hash)");
    if (claim.length >= 0) {
        /* The length the peer signed, not the wire's: the body is checked against it. */
        char len_text[24];
        snprintf(len_text, sizeof len_text, "%" PRId64, claim.length);
        sf_hdrs_remove(fields, "Content-Length");
        sf_hdrs_add(fields, "Content-Length", len_text);
    }
    struct sf_peerbody *b = sf_xcalloc(1, sizeof *b);
    b->claim = claim;
    memcpy(b->mac, mac, sizeof mac);
    b->hash = hash;
    *body = b;
    sf_obj_lock(o);
    o->unproven = true;
    sf_obj_unlock(o);
    return NULL;
}

/* A peer's body that is not the one it signed: counted, the peer skipped, logged. */
static void bad_body(const struct sf_fetch_spec *s, uint64_t len, const char *why)
{
    SF_COUNT(peer_bad_bodies);
    SF_PEER_COUNT(s->peer_id, failures);
    atomic_store(s->peer_down_until, sf_now_ms() + s->peer_retry_ms);
    sf_log_limited(&rl_bad_body, 10000, SF_LOG_WARN,
                   "cluster: the body of peer %s's answer (%s, %llu bytes) is not the one it "
                   "signed (%s): cut, not stored, and skipping the peer for %llums",
                   s->peer_id, s->url, (unsigned long long)len, why,
                   (unsigned long long)s->peer_retry_ms);
}

bool sf_peerhop_body_fits(const struct sf_fetch_spec *s, const struct sf_peerbody *b, size_t len)
{
    if (b == NULL || b->claim.length < 0 || b->received + len <= (uint64_t)b->claim.length)
        return true;
    bad_body(s, b->received + len, "it runs past its signed length");
    return false;
}

void sf_peerhop_body(struct sf_peerbody *b, const char *data, size_t len)
{
    if (b == NULL)
        return;
    b->received += len;
    sf_cluster_body_add(b->hash, data, len);
}

bool sf_peerhop_body_end(const struct sf_fetch_spec *s, struct sf_peerbody *b,
                         const struct sf_hdrs *fields)
{
    if (b == NULL)
        return true;
    /* The trailer's (the head's body fields were all taken out of it). */
    const char *trailer = NULL;
    for (size_t i = 0; i < fields->n; i++)
        if (sf_streq_ci(fields->v[i].name, SF_PEER_BODY_FIELD))
            trailer = fields->v[i].value;
    char sha256[65];
    uint64_t len = sf_cluster_body_end(b->hash, sha256);
    b->hash = NULL;
    if (sf_cluster_body_verify(s->snap->cfg.cluster_secret, b->mac, &b->claim, trailer, len,
                               sha256))
        return true;
    bad_body(s, len,
             b->claim.trailer && trailer == NULL ? "no proof came after it"
                                                 : "its proof does not hold");
    return false;
}

void sf_peerhop_body_free(struct sf_peerbody *b)
{
    if (b == NULL)
        return;
    sf_cluster_body_free(b->hash);
    free(b);
}
