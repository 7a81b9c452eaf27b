/* peerhop: see peerhop.h. */
#include "peerhop.h"

#include "cluster.h"
#include "log.h"
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

/* Points s at peer index (at place rank in its key's order), signed for it with a fresh
 * nonce; false, s unchanged, when it cannot be signed. */
static bool send_to(struct sf_fetch_spec *s, const struct sf_config *cfg, _Atomic uint64_t *down,
                    size_t index, size_t rank)
{
    const struct sf_peer *p = &cfg->cluster_peers.v[index];
    char nonce[SF_PEER_NONCE_HEX + 1], field[SF_PEER_FIELD_MAX];
    if (!sf_cluster_nonce(nonce) ||
        !sf_cluster_sign(cfg->cluster_secret, s->method, s->peer_path, cfg->cluster_self, p->id,
                         sf_wall_s(), nonce, field))
        return false;
    if (s->fallback_url == NULL)
        s->fallback_url = s->url; /* the upstream's, kept for this node's turn */
    else
        free(s->url); /* the peer before, which failed */
    s->url = sf_http_join_url(p->url, s->peer_path);
    sf_hdrs_remove(&s->hdrs, SF_PEER_FIELD);
    sf_hdrs_add(&s->hdrs, SF_PEER_FIELD, field);
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
                      const char *path)
{
    s->peer_path = sf_xstrdup(path);
    if (!walk(s, cfg, down, s->url, 0)) {
        free(s->peer_path);
        s->peer_path = NULL;
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
    sf_hdrs_remove(&s->hdrs, SF_PEER_FIELD);
    return false;
}

/* Runs on: the fetcher thread only. */
static struct sf_ratelimit rl_bad_answer;

const char *sf_peerhop_answer(const struct sf_fetch_spec *s, int status, struct sf_hdrs *fields,
                              bool *mark_down)
{
    *mark_down = false;
    const struct sf_config *cfg = &s->snap->cfg;
    const char *request = sf_hdrs_get(&s->hdrs, SF_PEER_FIELD);
    if (status < 100 ||
        !sf_cluster_verify_answer(cfg->cluster_secret, request, (unsigned)status, fields)) {
        SF_COUNT(peer_bad_answers);
        sf_log_limited(&rl_bad_answer, 10000, SF_LOG_WARN,
                       "cluster: the answer of peer %s (%s) is not signed with cluster.secret "
                       "for its request: dropped, neither stored nor served",
                       s->peer_id, s->url);
        return "its answer is not signed with cluster.secret";
    }
    sf_hdrs_remove(fields, SF_PEER_ANSWER_FIELD); /* the hop's, no field of the response */
    if (status == 503 && sf_hdrs_get(fields, SF_DRAINING_FIELD) != NULL) {
        *mark_down = true;
        return "it is shutting down";
    }
    return NULL;
}
