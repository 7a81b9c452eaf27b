/* config-t: the types of the config (struct sf_config and what it embeds), apart from
 * config.h's functions, so that the schema (confschema.h, whose rows are offsets into
 * struct sf_config) and the value grammars (confvalue.h) can name them without depending
 * on the loader that calls them (HAProxy's x-t.h habit). */
#ifndef SF_CONFIG_T_H
#define SF_CONFIG_T_H

#include "accesslog.h"
#include "base.h"
#include "cluster.h"
#include "log.h"
#include "netacl.h"
#include "targeted.h"

struct sf_addr {
    char host[64]; /* numeric IPv4 or IPv6 address */
    uint16_t port; /* 0: any free port */
};

/* A list of targeted cache fields (targeted.h). */
struct sf_targets {
    struct sf_targeted *v;
    size_t n;
};

/* cluster.peers: ids and URLs owned. */
struct sf_peers {
    struct sf_peer *v;
    size_t n;
};

struct sf_routes; /* route.h */

struct sf_config {
    struct sf_addr listen;
    bool listen_enabled;                /* listen is not null (null: HTTPS only) */
    bool tls_enabled;                   /* tls.listen was given */
    struct sf_addr tls_listen;          /* the HTTPS listener */
    char *tls_cert_pem;                 /* tls.cert's text: the certificate chain, PEM */
    char *tls_key_pem;                  /* tls.key's text: its private key, PEM */
    char *tls_cert_path, *tls_key_path; /* the files they were read from (for --print-config) */
    char *upstream;                /* base URL for reverse proxying; NULL: forward proxy only */
    char *upstream_ca_file;        /* PEM CAs an https upstream's certificate must chain to */
    bool upstream_verify;          /* check an https upstream's certificate and name */
    char *upstream_sni;            /* the name sent in SNI and checked, for an address URL */
    bool forward_proxy;            /* accept absolute-form http:// targets */
    struct sf_acl forward_allow;   /* where the forward proxy may fetch (empty: public) */
    struct sf_acl forward_clients; /* who may use the forward proxy */
    struct sf_acl trusted_proxies; /* whose X-Forwarded-* and Forwarded fields are kept */
    bool forwarded_header;         /* add RFC 7239 Forwarded upstream */
    bool preserve_host;            /* send the client's Host upstream (and key on it) */
    bool underscore_fields;        /* forward_underscore_fields: send names with "_" on */
    unsigned workers;              /* libmicrohttpd pool size; 0: one per core */
    unsigned connection_limit;
    uint64_t connect_timeout_ms;
    uint64_t first_byte_timeout_ms;    /* request sent to response headers */
    uint64_t upstream_idle_timeout_ms; /* no body bytes for this long: the origin stalled */
    uint64_t client_idle_timeout_ms;
    uint64_t request_head_timeout_ms; /* a whole request head must arrive within this */
    uint64_t shutdown_grace_ms;
    uint64_t cache_max_bytes;
    uint64_t cache_max_object_bytes;
    unsigned cache_max_variants; /* stored variants one URL keeps (RFC 9111 §4.1) */
    /* A larger response is kept in slices of this many bytes (at most max_object_bytes;
     * 0: never): slice.h. */
    uint64_t cache_slice_bytes;
    uint64_t cache_max_pinned_bytes; /* what readers may pin outside the cache: pinned.h */
    uint64_t hit_for_pass_ms;
    char *surrogate_key_header; /* response field whose tokens tag objects for purging */
    struct sf_targets targeted; /* RFC 9213 fields obeyed, in order (names owned) */
    unsigned heuristic_percent; /* heuristic freshness: % of the time since Last-Modified */
    uint64_t heuristic_max_ms;
    bool strip_set_cookie;          /* drop Set-Cookie from shared responses instead of passing */
    bool store_server_errors;       /* store 5xx responses that have explicit freshness */
    bool store_post_responses;      /* a POST's response may become its URL's GET response */
    bool normalize_accept_encoding; /* shared fetches ask for br/gzip/zstd or none (few variants) */
    uint64_t stale_if_error_ms;     /* serve stale this long past expiry when the origin fails */
    uint64_t stale_while_revalidate_ms; /* serve stale this long while refreshing it */
    uint64_t max_request_body_bytes;
    bool admin_enabled;
    struct sf_addr admin_listen;
    unsigned admin_connection_limit;
    char *admin_token; /* Bearer token purge needs (and stats, off loopback); NULL: none */
    bool test_clock;   /* --test-clock only, never the file: POST /_sfproxy/clock (tests) */
    enum sf_log_level log_level;
    char *access_log_path; /* "-": standard output; NULL: no access log */
    enum sf_access_format access_log_format;
    uint64_t access_log_buffer_bytes; /* lines waiting for the writer; past it, dropped */
    char *cluster_self;               /* this node's id in cluster.peers; NULL: no cluster */
    struct sf_peers cluster_peers;    /* every node of the cluster, this one too */
    char *cluster_secret;             /* signs peer requests (HMAC-SHA-256) */
    uint64_t cluster_peer_connect_timeout_ms;
    uint64_t cluster_peer_retry_ms; /* a peer that could not be reached is skipped this long */
    bool cluster_store_on_edge;     /* a node keeps what it fetched from a key's owner */
    struct sf_routes *routes;       /* "routes", indexed (route.h); NULL: none */
};

#endif
