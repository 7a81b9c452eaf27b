/* origintls: how libcurl talks TLS to an upstream server (upstream_tls.*, or a pool's
 * "tls"): the CAs its certificate must chain to, whether it is checked at all, and the
 * name sent in SNI and checked against it when the server's URL names an address.
 * Forward-proxy fetches are http:// only and never see these. */
#ifndef SF_ORIGINTLS_H
#define SF_ORIGINTLS_H

#include "base.h"

#include <curl/curl.h>

struct sf_origin_tls {
    const char *ca_file; /* NULL: the system's CAs */
    bool verify;
    /* With upstream_tls.sni: URLs that start with from are fetched as to + the rest (the
     * SNI name in place of the address), and connect_to sends them to the address. */
    char *from, *to;
    struct curl_slist *connect_to;
};

/* Sets t up for the server at url (NULL: none) with these settings; ca_file is borrowed
 * (it must outlive t), sni may be NULL. False, with why set, when url cannot be taken
 * apart (it was checked at load: not expected). */
bool sf_origin_tls_init(struct sf_origin_tls *t, const char *url, const char *ca_file, bool verify,
                        const char *sni, const char **why);
void sf_origin_tls_clear(struct sf_origin_tls *t);

/* Applies t to e, which is about to fetch url from the upstream: sets CURLOPT_URL (to
 * *renamed, which the caller frees, when SNI renames it) and the TLS options. False when
 * libcurl refuses one. */
bool sf_origin_tls_apply(const struct sf_origin_tls *t, CURL *e, const char *url, char **renamed);

#endif
