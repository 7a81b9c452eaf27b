/* origintls: see origintls.h. */
#include "origintls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sf_origin_tls_init(struct sf_origin_tls *t, const char *url, const char *ca_file, bool verify,
                        const char *sni, const char **why)
{
    memset(t, 0, sizeof *t);
    t->ca_file = ca_file;
    t->verify = verify;
    if (sni == NULL || url == NULL)
        return true;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *written = NULL;
    bool ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok) {
        /* from: "https://" and the authority, exactly as the upstream URL starts (the
         * config made it https://); to: the same with the SNI name as the host. */
        size_t scheme = strlen("https://");
        t->from = sf_xstrndup(url, scheme + strcspn(url + scheme, "/?#"));
        bool port_written = curl_url_get(u, CURLUPART_PORT, &written, 0) == CURLUE_OK;
        size_t n = scheme + strlen(sni) + strlen(port) + 2;
        t->to = sf_xmalloc(n);
        snprintf(t->to, n, "https://%s%s%s", sni, port_written ? ":" : "",
                 port_written ? port : "");
        char line[512];
        snprintf(line, sizeof line, "%s:%s:%s:%s", sni, port, host, port);
        t->connect_to = curl_slist_append(NULL, line);
        ok = t->connect_to != NULL;
    }
    curl_free(written);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    if (!ok) {
        *why = "the upstream URL could not be taken apart for upstream_tls.sni";
        sf_origin_tls_clear(t);
    }
    return ok;
}

void sf_origin_tls_clear(struct sf_origin_tls *t)
{
    free(t->from);
    free(t->to);
    curl_slist_free_all(t->connect_to);
    memset(t, 0, sizeof *t);
}

bool sf_origin_tls_apply(const struct sf_origin_tls *t, CURL *e, const char *url, char **renamed)
{
    bool ok = true;
#define SET(option, value) (ok = ok && curl_easy_setopt(e, option, value) == CURLE_OK)
    *renamed = NULL;
    if (t->from != NULL && strncmp(url, t->from, strlen(t->from)) == 0) {
        size_t n = strlen(t->to) + strlen(url + strlen(t->from)) + 1;
        *renamed = sf_xmalloc(n);
        snprintf(*renamed, n, "%s%s", t->to, url + strlen(t->from));
        SET(CURLOPT_CONNECT_TO, t->connect_to);
    }
    SET(CURLOPT_URL, *renamed != NULL ? *renamed : url);
    if (t->ca_file != NULL)
        SET(CURLOPT_CAINFO, t->ca_file);
    if (!t->verify) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
#undef SET
    return ok;
}
