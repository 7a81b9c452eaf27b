/* origintls: how libcurl talks TLS to the configured upstream (upstream_tls.*): the CAs its
 * certificate must chain to, whether it is checked at all, and the name sent in SNI and
 * checked against it when the upstream URL names an address. Forward-proxy fetches are
 * http:// only and never see these. */
#ifndef SF_ORIGINTLS_H
#define SF_ORIGINTLS_H

#include "config.h"

#include <curl/curl.h>

struct sf_origin_tls {
    const char *ca_file; /* NULL: the system's CAs */
    bool verify;
    /* With upstream_tls.sni: URLs that start with from are fetched as to + the rest (the
     * SNI name in place of the address), and connect_to sends them to the address. */
    char *from, *to;
    struct curl_slist *connect_to;
};

/* Sets t up from cfg (which must outlive it). False, with why set, when the upstream URL
 * cannot be taken apart (it was checked at load: not expected). */
bool sf_origin_tls_init(struct sf_origin_tls *t, const struct sf_config *cfg, const char **why);
void sf_origin_tls_clear(struct sf_origin_tls *t);

/* Applies t to e, which is about to fetch url from the upstream: sets CURLOPT_URL (to
 * *renamed, which the caller frees, when SNI renames it) and the TLS options. False when
 * libcurl refuses one. */
bool sf_origin_tls_apply(const struct sf_origin_tls *t, CURL *e, const char *url, char **renamed);

#endif
