/* peerauth: see peerauth.h. */
#include "peerauth.h"

#include "cluster.h"
#include "log.h"
#include "metrics.h"
#include "replay.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static struct sf_replay *replay_set; /* (C) after replay_once: for the process's life */
static pthread_once_t replay_once = PTHREAD_ONCE_INIT;
static struct sf_ratelimit rl_replay;

static void replay_init(void)
{
    replay_set = sf_replay_new(SF_PEER_REPLAY_CAPACITY);
}

bool sf_peerauth_request(const struct sf_config *cfg, struct MHD_Connection *conn,
                         const char *method, const char *target, char sender[SF_PEER_ID_MAX])
{
    const char *value = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, SF_PEER_FIELD);
    /* What the request is for, as the asking node signed it (a purge or a health check:
     * neither). The field's first line is the one read here and wherever it is used. */
    struct sf_peer_scope scope = {
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, SF_PEER_ROUTE_FIELD),
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, SF_PEER_HOST_FIELD)};
    struct sf_peer_claim claim;
    int64_t now_s = sf_wall_s();
    if (cfg->cluster_self == NULL || value == NULL ||
        !sf_cluster_verify(cfg->cluster_secret, value, method, target, &scope, cfg->cluster_self,
                           now_s, SF_PEER_WINDOW_S, &claim))
        return false;
    SF_PTOK(pthread_once(&replay_once, replay_init));
    enum sf_replay_verdict v =
        sf_replay_admit(replay_set, claim.tag, claim.ts + SF_PEER_WINDOW_S, now_s);
    if (v != SF_REPLAY_FRESH) {
        if (v == SF_REPLAY_SEEN)
            SF_COUNT(peer_replays);
        else
            SF_COUNT(peer_replay_full);
        sf_log_limited(&rl_replay, 10000, SF_LOG_WARN,
                       "cluster: a request signed by peer %s for %s %s %s: treated as a "
                       "client's",
                       claim.id, method, target,
                       v == SF_REPLAY_SEEN
                           ? "was seen before (a replay)"
                           : "cannot be told from a replay (the replay set is full)");
        return false;
    }
    SF_PEER_COUNT(claim.id, received);
    if (sender != NULL)
        memcpy(sender, claim.id, SF_PEER_ID_MAX);
    return true;
}

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *name,
                               const char *value)
{
    if (kind == MHD_HEADER_KIND) /* (footers come after the signature) */
        sf_hdrs_add(cls, name, value != NULL ? value : "");
    return MHD_YES;
}

/* Removes every field named name (any case) from resp: an origin's field of that name,
 * stored with its response, is not this node's word. */
static void drop_fields(struct MHD_Response *resp, const char *name)
{
    struct sf_hdrs fields = {0};
    MHD_get_response_headers(resp, collect, &fields);
    for (size_t i = 0; i < fields.n; i++)
        if (sf_streq_ci(fields.v[i].name, name))
            MHD_del_response_header(resp, fields.v[i].name, fields.v[i].value);
    sf_hdrs_clear(&fields);
}

bool sf_peerauth_sign_answer(const struct sf_config *cfg, struct MHD_Connection *conn,
                             unsigned status, struct MHD_Response *resp)
{
    const char *request = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, SF_PEER_FIELD);
    if (request == NULL)
        return false; /* verified, so not expected */
    /* Ours alone: the body's proof in a trailer is bound to it (sf_peerauth_proof_end). */
    drop_fields(resp, SF_PEER_ANSWER_FIELD);
    struct sf_hdrs fields = {0};
    MHD_get_response_headers(resp, collect, &fields);
    char sig[SF_PEER_ANSWER_MAX];
    bool ok = sf_cluster_sign_answer(cfg->cluster_secret, request, status, &fields, sig) &&
              MHD_add_response_header(resp, SF_PEER_ANSWER_FIELD, sig) == MHD_YES;
    sf_hdrs_clear(&fields);
    return ok;
}

/* ---- the body's proof ---- */

bool sf_peerauth_prove_whole(struct MHD_Response *resp, const struct MHD_IoVec *iov, size_t iovcnt)
{
    struct sf_body_hash *b = sf_cluster_body_new();
    if (b == NULL)
        return false;
    for (size_t i = 0; i < iovcnt; i++)
        sf_cluster_body_add(b, iov[i].iov_base, iov[i].iov_len);
    char sha256[65], value[SF_PEER_BODY_MAX];
    uint64_t len = sf_cluster_body_end(b, sha256);
    sf_cluster_body_head((int64_t)len, sha256, value);
    drop_fields(resp, SF_PEER_BODY_FIELD);
    return MHD_add_response_header(resp, SF_PEER_BODY_FIELD, value) == MHD_YES;
}

/* Runs on: the worker that serves the response (libmicrohttpd's reader calls). */
struct sf_peerproof {
    struct MHD_Response *resp; /* whose trailer it writes (the response owns the proof) */
    const char *secret;
    struct sf_body_hash *hash; /* NULL once the trailer is added */
};

struct sf_peerproof *sf_peerauth_prove_streamed(struct MHD_Response *resp, int64_t length,
                                                const char *secret)
{
    char value[SF_PEER_BODY_MAX];
    sf_cluster_body_head(length, NULL, value);
    drop_fields(resp, SF_PEER_BODY_FIELD);
    /* A trailer needs the chunked coding (RFC 9112 §7.1.2); libmicrohttpd uses it for a
     * response of known size too when asked to, and then sends no Content-Length. */
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_TRANSFER_ENCODING, "chunked") != MHD_YES ||
        MHD_add_response_header(resp, SF_PEER_BODY_FIELD, value) != MHD_YES)
        return NULL;
    struct sf_peerproof *p = sf_xcalloc(1, sizeof *p);
    p->hash = sf_cluster_body_new();
    if (p->hash == NULL) {
        free(p);
        return NULL;
    }
    p->resp = resp;
    p->secret = secret;
    return p;
}

void sf_peerauth_proof_add(struct sf_peerproof *p, const char *data, size_t len)
{
    if (p->hash != NULL)
        sf_cluster_body_add(p->hash, data, len);
}

void sf_peerauth_proof_end(struct sf_peerproof *p)
{
    if (p->hash == NULL)
        return;
    char sha256[65], sig[SF_PEER_ANSWER_MAX];
    uint64_t len = sf_cluster_body_end(p->hash, sha256);
    p->hash = NULL;
    /* The answer's own signature (sf_peerauth_sign_answer left no other). */
    const char *answer = MHD_get_response_header(p->resp, SF_PEER_ANSWER_FIELD);
    if (answer != NULL && strlen(answer) == 68 &&
        sf_cluster_body_trailer(p->secret, answer + 4, len, sha256, sig))
        (void)MHD_add_response_footer(p->resp, SF_PEER_BODY_FIELD, sig);
}

void sf_peerauth_proof_free(struct sf_peerproof *p)
{
    if (p == NULL)
        return;
    sf_cluster_body_free(p->hash);
    free(p);
}
