/* xfersend: what a transfer sends (transfer-t.h): its easy handle's options, the
 * request's fields as the client sent them and nothing curl would add, the client's
 * content streamed as it arrives, and the checks made as the connection opens (a
 * forward-proxy destination's address, the first-byte clock). Runs on: the fetcher thread.
 */
#include "transfer-t.h"

#include "fetchspec.h"
#include "reqbody.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* Feeds the client's content to curl as it arrives. */
static size_t on_read(char *dst, size_t size, size_t n, void *arg)
{
    struct sf_transfer *x = arg;
    size_t got;
    if (x->cancel)
        return CURL_READFUNC_ABORT;
    switch (sf_reqbody_read(x->spec->body, dst, size * n, &got)) {
    case SF_REQBODY_DATA:
        /* With a declared length curl asks for no more once it has that many bytes: the
         * last of them is the request's end, or the wait for the head would be clocked
         * by upstream_idle (a 504 after it, not after first_byte). */
        x->upload_sent += (int64_t)got;
        x->first_byte_deadline_ms =
            sf_now_ms() + (x->upload_sent == sf_reqbody_declared_len(x->spec->body)
                               ? x->rule->set->first_byte_timeout_ms
                               : x->rule->set->upstream_idle_timeout_ms);
        return got;
    case SF_REQBODY_EOF:
        /* The request is sent: the wait for its response head starts now. */
        x->first_byte_deadline_ms = sf_now_ms() + x->rule->set->first_byte_timeout_ms;
        return 0;
    case SF_REQBODY_WAIT:
        x->paused = true;           /* waiting for our client is not the origin's delay */
        return CURL_READFUNC_PAUSE; /* sf_upstream_unpause continues it */
    case SF_REQBODY_ABORTED:
        /* The client's side ended it (gone, over the limit, a broken chunked body): a
         * cancellation, not an origin failure to warn about. */
        x->cancel = true;
        break;
    }
    return CURL_READFUNC_ABORT;
}

/* The request's field lines for curl (CURLOPT_HTTPHEADER), built in one block: the list's
 * nodes, then their texts. Counted in a first pass (node NULL), written in a second. curl
 * only reads the list, for as long as the transfer runs; xfer_free frees the block. */
struct lines {
    struct curl_slist *node; /* the next node to write; NULL while counting */
    char *text;              /* where the next line's text goes */
    size_t count, bytes;     /* counted: nodes, and their texts' bytes */
};

/* One line: "Name: value"; "Name;" for an empty value (curl's way to send one); "Name:"
 * when value is NULL (curl's way to leave out a field it would add on its own). */
static void add_line(struct lines *l, const char *name, const char *value)
{
    size_t name_len = strlen(name), value_len = value != NULL ? strlen(value) : 0;
    size_t len = name_len + 1 + (value_len ? value_len + 1 : 0);
    if (l->node == NULL) {
        l->count++;
        l->bytes += len + 1;
        return;
    }
    char *p = l->text;
    memcpy(p, name, name_len);
    p += name_len;
    *p++ = value == NULL || value_len ? ':' : ';';
    if (value_len) {
        *p++ = ' ';
        memcpy(p, value, value_len);
        p += value_len;
    }
    *p++ = '\0';
    l->node->data = l->text;
    l->node->next = l->node + 1;
    l->node++;
    l->text = p;
}

/* Every line x's request sends, into l (either pass). */
static void request_lines(const struct sf_transfer *x, struct lines *l)
{
    const struct sf_fetch_spec *s = x->spec;
    /* On a pool, the pool's Host, unless the request's own is sent (preserve_host). */
    if (x->pool != NULL && x->pool->def->host != NULL && sf_hdrs_get(&s->hdrs, "Host") == NULL)
        add_line(l, "Host", x->pool->def->host);
    /* Content of unknown length: chunked, framed by us (sf_xfer_setup). */
    if (s->body != NULL && sf_reqbody_declared_len(s->body) < 0)
        add_line(l, "Transfer-Encoding", "chunked");
    for (size_t i = 0; i < s->hdrs.n; i++)
        add_line(l, s->hdrs.v[i].name, s->hdrs.v[i].value);
    /* Send only what the client sent: remove what curl would add on its own. */
    static const char *const curl_adds[] = {"Accept", "Content-Type", "Expect"};
    for (size_t i = 0; i < 3; i++)
        if (sf_hdrs_get(&s->hdrs, curl_adds[i]) == NULL)
            add_line(l, curl_adds[i], NULL);
}

/* x's field lines as one block (x->fields), one allocation for them all. */
static void build_lines(struct sf_transfer *x)
{
    struct lines l = {0};
    request_lines(x, &l);
    if (l.count == 0)
        return;
    struct curl_slist *nodes = sf_xmalloc(l.count * sizeof *nodes + l.bytes);
    l.node = nodes;
    l.text = (char *)(nodes + l.count);
    request_lines(x, &l);
    nodes[l.count - 1].next = NULL;
    x->fields = nodes;
}

/* Connected, the request about to be sent: without content it is sent now, so the
 * first-byte clock starts; with content, the clock watches the upload's progress first
 * (on_read starts the first-byte clock at its end). */
static int on_connected(void *arg, char *primary_ip, char *local_ip, int primary_port,
                        int local_port)
{
    struct sf_transfer *x = arg;
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    const struct sf_route_settings *set = x->rule->set;
    x->connected = true;
    /* Empty content (Content-Length: 0) is sent with the head: curl asks for none. */
    bool sent = x->spec->body == NULL || sf_reqbody_declared_len(x->spec->body) == 0;
    x->first_byte_deadline_ms =
        sf_now_ms() + (sent ? set->first_byte_timeout_ms : set->upstream_idle_timeout_ms);
    /* On a pool, the fetch's first byte is due by one deadline, whatever server answers
     * (content's upload has clocks of its own: a long one would outlast that). */
    if (x->spec->body == NULL)
        sf_xfer_pool_cap(x);
    return CURL_PREREQFUNC_OK;
}

/* Opens the socket of a forward-proxy fetch only toward an allowed address: the name was
 * checked when the request came, but a name may resolve anywhere (DNS rebinding). */
static curl_socket_t open_checked(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct sf_transfer *x = arg;
    (void)purpose;
    uint16_t port = 0;
    if (a->family == AF_INET)
        port = ntohs(((const struct sockaddr_in *)(const void *)&a->addr)->sin_port);
    else if (a->family == AF_INET6)
        port = ntohs(((const struct sockaddr_in6 *)(const void *)&a->addr)->sin6_port);
    struct sf_dest_rules dest = {&x->conf->cfg->forward_allow, x->t->self_ports};
    if (x->t->self_ports == NULL || !sf_dest_addr_ok(&dest, x->spec->dest_listed, &a->addr, port)) {
        x->forbidden = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* The server of x's attempt on its pool (xferpool.c chose it): its URL and its TLS (the
 * pool's Host: request_lines). */
static bool set_server(struct sf_transfer *x)
{
    const struct sf_pool_def *def = x->pool->def;
    int i = x->spec->att.server;
    x->server_url = sf_attempt_url(x->spec->url, def->key_base, def->servers[i].url);
    return sf_origin_tls_apply(&x->pool->tls[i], x->easy, x->server_url, &x->renamed_url);
}

/* Sets x's easy handle up for its spec; false when curl refuses an option (the transfer
 * must then fail, not go out without it). */
bool sf_xfer_setup(struct sf_transfer *x)
{
    const struct sf_config *cfg = x->conf->cfg;
    struct sf_fetch_spec *s = x->spec;
    CURL *e = x->easy;
    bool ok = true;
#define SET(option, value) (ok = ok && curl_easy_setopt(e, option, value) == CURLE_OK)
    if (s->forward)
        SET(CURLOPT_URL, s->url);
    else if (x->pool != NULL)
        ok = set_server(x);
    else
        ok = sf_origin_tls_apply(&x->conf->tls, e, s->url, &x->renamed_url);
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROXY, ""); /* never an environment proxy */
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_PROTOCOLS_STR, s->forward ? "http" : "http,https");
    if (s->forward) {
        SET(CURLOPT_OPENSOCKETFUNCTION, open_checked);
        SET(CURLOPT_OPENSOCKETDATA, x);
    }
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        (long)(s->fallback_url != NULL ? s->peer_connect_timeout_ms : cfg->connect_timeout_ms));
    SET(CURLOPT_HEADERFUNCTION, sf_xfer_on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, sf_xfer_on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_PREREQFUNCTION, on_connected);
    SET(CURLOPT_PREREQDATA, x);
    if (strcmp(s->method, "HEAD") == 0)
        SET(CURLOPT_NOBODY, 1L); /* the front refuses a HEAD with content */
    else if (strcmp(s->method, "GET") != 0 || s->body != NULL)
        SET(CURLOPT_CUSTOMREQUEST, s->method); /* a GET with content stays GET */
    if (s->body != NULL) {
        /* Streamed content, framed by us: the length libmicrohttpd read it by (a check at
         * its end aborts the transfer if fewer bytes came), else chunked. */
        int64_t len = sf_reqbody_declared_len(s->body);
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len); /* (< 0: chunked, request_lines) */
    }
    build_lines(x);
    SET(CURLOPT_HTTPHEADER, x->fields);
#undef SET
    return ok;
}
