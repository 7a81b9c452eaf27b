/* peerauth: see peerauth.h. */
#include "peerauth.h"

#include "cluster.h"
#include "log.h"
#include "metrics.h"
#include "replay.h"

#include <pthread.h>
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
    struct sf_peer_claim claim;
    int64_t now_s = sf_wall_s();
    if (cfg->cluster_self == NULL || value == NULL ||
        !sf_cluster_verify(cfg->cluster_secret, value, method, target, cfg->cluster_self, now_s,
                           SF_PEER_WINDOW_S, &claim))
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

bool sf_peerauth_sign_answer(const struct sf_config *cfg, struct MHD_Connection *conn,
                             unsigned status, struct MHD_Response *resp)
{
    const char *request = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, SF_PEER_FIELD);
    if (request == NULL)
        return false; /* verified, so not expected */
    struct sf_hdrs fields = {0};
    MHD_get_response_headers(resp, collect, &fields);
    char sig[SF_PEER_ANSWER_MAX];
    bool ok = sf_cluster_sign_answer(cfg->cluster_secret, request, status, &fields, sig) &&
              MHD_add_response_header(resp, SF_PEER_ANSWER_FIELD, sig) == MHD_YES;
    sf_hdrs_clear(&fields);
    return ok;
}
