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

/* One peer's call in flight. */
struct call {
    CURL *e;
    struct curl_slist *fields;
    char *url;
    struct sf_resphead head;
    char field[SF_PEER_FIELD_MAX + 16]; /* "Sfproxy-Peer: value" */
    struct sf_peer_reply *out;
};

/* Prepares c's request of method target to p, signed as cfg's node for p; false (with
 * out->why) when it cannot be. */
static bool call_start(struct call *c, const struct sf_config *cfg, const struct sf_peer *p,
                       const char *method, const char *target, long timeout_ms)
{
    char nonce[SF_PEER_NONCE_HEX + 1];
    size_t at = (size_t)snprintf(c->field, sizeof c->field, "%s: ", SF_PEER_FIELD);
    if (!sf_cluster_nonce(nonce) ||
        !sf_cluster_sign(cfg->cluster_secret, method, target, NULL, cfg->cluster_self, p->id,
                         sf_wall_s(), nonce, c->field + at)) {
        snprintf(c->out->why, sizeof c->out->why, "cannot sign the request");
        return false;
    }
    c->e = curl_easy_init();
    c->fields = curl_slist_append(NULL, c->field);
    c->url = sf_http_join_url(p->url, target);
    CURL *e = c->e;
    bool ok = e != NULL && c->fields != NULL;
#define SET(option, value) (ok = ok && curl_easy_setopt(e, option, value) == CURLE_OK)
    SET(CURLOPT_URL, c->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE, 0L);
    }
    SET(CURLOPT_HTTPHEADER, c->fields);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->cluster_peer_connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    SET(CURLOPT_WRITEFUNCTION, take_reply);
    SET(CURLOPT_WRITEDATA, c->out);
    SET(CURLOPT_HEADERFUNCTION, take_head);
    SET(CURLOPT_HEADERDATA, &c->head);
    SET(CURLOPT_PRIVATE, c);
#undef SET
    if (!ok)
        snprintf(c->out->why, sizeof c->out->why, "cannot set up the request");
    return ok;
}

/* c's transfer ended with rc: whether the peer answered, its answer signed for c's
 * request; frees what c holds. */
static bool call_finish(struct call *c, const struct sf_config *cfg, CURLcode rc)
{
    struct sf_peer_reply *out = c->out;
    if (rc == CURLE_OK) /* a status curl cannot tell is no answer */
        rc = curl_easy_getinfo(c->e, CURLINFO_RESPONSE_CODE, &out->status);
    if (rc != CURLE_OK && out->why[0] == '\0') /* a reason of its own (not signed...) stays */
        snprintf(out->why, sizeof out->why, "%s", curl_easy_strerror(rc));
    /* Only the peer itself can sign its answer to this request (issue 18). */
    const char *value = c->field + strlen(SF_PEER_FIELD) + 2;
    bool own = rc == CURLE_OK && out->status == c->head.status &&
               sf_cluster_verify_answer(cfg->cluster_secret, value, (unsigned)c->head.status,
                                        &c->head.hdrs, NULL);
    if (rc == CURLE_OK && !own) {
        SF_COUNT(peer_bad_answers);
        snprintf(out->why, sizeof out->why, "its answer is not signed with cluster.secret");
        out->status = 0;
    }
    if (c->e != NULL)
        curl_easy_cleanup(c->e);
    curl_slist_free_all(c->fields);
    sf_resphead_clear(&c->head);
    free(c->url);
    return own;
}

void sf_peers_call_all(const struct sf_config *cfg, const struct sf_peer *const *peers, size_t n,
                       const char *method, const char *target, long timeout_ms,
                       struct sf_peer_reply *out, bool *answered)
{
    struct call *calls = sf_xcalloc(n > 0 ? n : 1, sizeof *calls);
    CURLM *m = curl_multi_init();
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        answered[i] = false;
        calls[i].out = &out[i];
        bool started =
            m != NULL && call_start(&calls[i], cfg, peers[i], method, target, timeout_ms);
        if (!started || curl_multi_add_handle(m, calls[i].e) != CURLM_OK) {
            if (started)
                snprintf(out[i].why, sizeof out[i].why, "cannot start the request");
            call_finish(&calls[i], cfg, CURLE_FAILED_INIT);
            calls[i].e = NULL;
            calls[i].out = NULL; /* done */
        }
    }
    /* Every call has its own CURLOPT_TIMEOUT_MS: they all end within timeout_ms. */
    int running = 1;
    while (m != NULL && running > 0) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        int left;
        for (CURLMsg *msg; (msg = curl_multi_info_read(m, &left)) != NULL;) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct call *c = NULL;
            /* Each handle was given its call (CURLOPT_PRIVATE): asking cannot fail. */
            CURLcode got = curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            SF_ASSERT(got == CURLE_OK && c != NULL);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(m, c->e);
            answered[c->out - out] = call_finish(c, cfg, rc);
            c->e = NULL;
            c->out = NULL;
        }
        if (running > 0)
            curl_multi_poll(m, NULL, 0, 200, NULL);
    }
    for (size_t i = 0; i < n; i++) /* what a failing multi left: no answer */
        if (calls[i].out != NULL) {
            if (m != NULL && calls[i].e != NULL)
                curl_multi_remove_handle(m, calls[i].e);
            call_finish(&calls[i], cfg, CURLE_FAILED_INIT);
        }
    if (m != NULL)
        curl_multi_cleanup(m);
    free(calls);
}

void sf_peers_probe(struct sf_snap *snap)
{
    const struct sf_config *cfg = &snap->cfg;
    size_t n = 0, at[SF_CLUSTER_MAX_PEERS];
    const struct sf_peer *peers[SF_CLUSTER_MAX_PEERS];
    for (size_t i = 0; cfg->cluster_self != NULL && i < cfg->cluster_peers.n; i++)
        if (atomic_load(&snap->peer_down_until_ms[i]) != 0) { /* down, as someone has seen */
            at[n] = i;
            peers[n++] = &cfg->cluster_peers.v[i];
        }
    if (n == 0)
        return;
    struct sf_peer_reply *replies = sf_xcalloc(n, sizeof *replies);
    bool answered[SF_CLUSTER_MAX_PEERS];
    sf_peers_call_all(cfg, peers, n, "GET", "/_sfproxy/health", 1000, replies, answered);
    for (size_t k = 0; k < n; k++) {
        _Atomic uint64_t *down = &snap->peer_down_until_ms[at[k]];
        if (answered[k] && replies[k].status == 200 && strcmp(replies[k].body, "ok\n") == 0) {
            atomic_store(down, 0);
            sf_log_info("cluster: peer %s (%s) answers its health check again: its keys go "
                        "back to it",
                        peers[k]->id, peers[k]->url);
        } else {
            atomic_store(down, sf_now_ms() + cfg->cluster_peer_retry_ms);
        }
    }
    free(replies);
}
