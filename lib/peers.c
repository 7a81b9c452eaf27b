/* peers: see peers.h. */
#include "peers.h"

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "resphead.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t take_reply(char *data, size_t size, size_t n, void *arg)
{
    struct sf_peer_reply *r = arg;
    size_t len = size * n, room = sizeof r->body - 1 - r->len;
    size_t taken = len < room ? len : room;
    memcpy(r->body + r->len, data, taken);
    r->len += taken;
    r->body[r->len] = '\0';
    return len;
}

/* The answer's head, for its signature; a head sfproxy would refuse stops the call. */
static size_t take_head(char *line, size_t size, size_t n, void *arg)
{
    const char *why;
    return sf_resphead_line(arg, line, size * n, &why) == SF_RESPHEAD_BAD ? 0 : size * n;
}

bool sf_peer_call(CURL *e, const struct sf_config *cfg, const struct sf_peer *p, const char *method,
                  const char *target, long timeout_ms, struct sf_peer_reply *out)
{
    memset(out, 0, sizeof *out);
    char field[SF_PEER_FIELD_MAX + 16] = SF_PEER_FIELD ": ";
    char nonce[SF_PEER_NONCE_HEX + 1];
    const char *value = field + strlen(field);
    if (!sf_cluster_nonce(nonce) ||
        !sf_cluster_sign(cfg->cluster_secret, method, target, cfg->cluster_self, p->id, sf_wall_s(),
                         nonce, field + strlen(field))) {
        snprintf(out->why, sizeof out->why, "cannot sign the request");
        return false;
    }
    struct curl_slist *fields = curl_slist_append(NULL, field);
    char *url = sf_http_join_url(p->url, target);
    struct sf_resphead head = {0};
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, fields);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->cluster_peer_connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, take_reply);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, take_head);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &head);
    CURLcode rc = fields != NULL ? curl_easy_perform(e) : CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out->status);
    else
        snprintf(out->why, sizeof out->why, "%s", curl_easy_strerror(rc));
    /* Only the peer itself can sign its answer to this request (issue 18). */
    bool own = rc == CURLE_OK && out->status == head.status &&
               sf_cluster_verify_answer(cfg->cluster_secret, value, (unsigned)head.status,
                                        &head.hdrs, NULL);
    if (rc == CURLE_OK && !own) {
        SF_COUNT(peer_bad_answers);
        snprintf(out->why, sizeof out->why, "its answer is not signed with cluster.secret");
        out->status = 0;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(fields);
    sf_hdrs_clear(&head.hdrs);
    free(url);
    return own;
}

void sf_peers_probe(struct sf_snap *snap)
{
    const struct sf_config *cfg = &snap->cfg;
    CURL *e = NULL;
    for (size_t i = 0; cfg->cluster_self != NULL && i < cfg->cluster_peers.n; i++) {
        _Atomic uint64_t *down = &snap->peer_down_until_ms[i];
        if (atomic_load(down) == 0)
            continue; /* up, as far as anyone has seen */
        if (e == NULL)
            e = curl_easy_init();
        if (e == NULL)
            return;
        const struct sf_peer *p = &cfg->cluster_peers.v[i];
        struct sf_peer_reply reply;
        bool answered = sf_peer_call(e, cfg, p, "GET", "/_sfproxy/health", 1000, &reply);
        if (answered && reply.status == 200 && strcmp(reply.body, "ok\n") == 0) {
            atomic_store(down, 0);
            sf_log_info("cluster: peer %s (%s) answers its health check again: its keys go "
                        "back to it",
                        p->id, p->url);
        } else {
            atomic_store(down, sf_now_ms() + cfg->cluster_peer_retry_ms);
        }
    }
    if (e != NULL)
        curl_easy_cleanup(e);
}
