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

/* One server of an upstream pool ("upstreams.NAME.servers[i]"). Strings owned. */
struct sf_pool_server_def {
    char *url;       /* http:// or https://, no query or fragment; its path prefixes what is sent */
    char *name;      /* unique in the pool: "name" as given, else the URL's host:port; the admin
                 * endpoint and the metrics' server label name it so */
    unsigned weight; /* 1 to 1000 */
    bool backup;     /* used only when no primary is usable */
};

#define SF_POOL_MAX_STATUSES 16

/* One named pool ("upstreams.NAME"; issue 21). Strings owned. A fetch on a route (or the
 * top level) whose "upstream" names the pool is sent to one of its servers (balance.h),
 * retried on another before any response head (lib/pool.h). */
struct sf_pool_def {
    char *name;     /* [A-Za-z0-9_.-], 1 to 63 characters */
    char *key_base; /* "<scheme>://<name>": where its fetches are keyed and named before a
                     * server is chosen (cache keys, purge, explain), as nginx keys
                     * $scheme$proxy_host on the upstream block's name */
    struct sf_pool_server_def *servers; /* 1 to SF_BALANCE_MAX_SERVERS, one scheme, at
                                         * least one primary */
    size_t nservers;
    int balance; /* enum sf_balance_method (balance.h); "round_robin" by default */
    /* "health": active probes; path NULL: none (then the rest are 0). */
    char *health_path;                              /* origin-form, "/healthz" */
    uint64_t health_interval_ms, health_timeout_ms; /* default 2s, 1s; timeout <= interval */
    unsigned health_fall, health_rise;              /* default 3, 2 */
    unsigned health_status[SF_POOL_MAX_STATUSES];   /* statuses that pass; none given: 200-399 */
    size_t nhealth_status;
    /* "passive": failures of real transfers; max_fails 0: never marked (default 1, and
     * fail_timeout 10s, as nginx's). */
    unsigned max_fails;
    uint64_t fail_timeout_ms;
    /* "passive.statuses": response statuses that count as a failure and are retried on the
     * next server for a request that may be resent; default none (502, 503, 504 allowed). */
    unsigned fail_status[SF_POOL_MAX_STATUSES];
    size_t nfail_status;
    unsigned retries; /* more servers tried after the first, before a head; default 1 */
    char *host;       /* "host": the Host sent to every server; NULL: each server's own
                       * (preserve_host still sends the client's) */
    /* "tls": as upstream_tls, for this pool's https:// servers. */
    char *tls_ca_file;
    bool tls_verify; /* default true */
    char *tls_sni;
};

/* "upstreams": the pools, in the file's order. */
struct sf_pool_defs {
    struct sf_pool_def *v;
    size_t n;
};

struct sf_config {
    struct sf_addr listen;
    bool listen_enabled;                /* listen is not null (null: HTTPS only) */
    bool tls_enabled;                   /* tls.listen was given */
    struct sf_addr tls_listen;          /* the HTTPS listener */
    char *tls_cert_pem;                 /* tls.cert's text: the certificate chain, PEM */
    char *tls_key_pem;                  /* tls.key's text: its private key, PEM */
    char *tls_cert_path, *tls_key_path; /* the files they were read from (for --print-config) */
    char *upstream;                     /* base URL for reverse proxying; NULL: forward proxy only.
                                    * When "upstream" names a pool: that pool's key_base */
    int upstream_pool;                  /* the index in upstreams of the pool it names; -1: a URL */
    char *upstream_ca_file;             /* PEM CAs an https upstream's certificate must chain to */
    bool upstream_verify;               /* check an https upstream's certificate and name */
    char *upstream_sni;                 /* the name sent in SNI and checked, for an address URL */
    bool forward_proxy;                 /* accept absolute-form http:// targets */
    struct sf_acl forward_allow;        /* where the forward proxy may fetch (empty: public) */
    struct sf_acl forward_clients;      /* who may use the forward proxy */
    struct sf_acl trusted_proxies;      /* whose X-Forwarded-* and Forwarded fields are kept */
    bool forwarded_header;              /* add RFC 7239 Forwarded upstream */
    bool preserve_host;                 /* send the client's Host upstream (and key on it) */
    bool underscore_fields;             /* forward_underscore_fields: send names with "_" on */
    unsigned workers;                   /* libmicrohttpd pool size; 0: one per core */
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
    /* cache.disk: the disk tier (docs/disk.md), on when a path is given; read at start
     * only (a reload that changes it says it needs a restart). */
    char *disk_path;
    uint64_t disk_max_bytes;   /* the store file's size */
    uint64_t disk_queue_bytes; /* what may wait for the writer before stores are dropped */
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
    struct sf_pool_defs upstreams;  /* "upstreams": named pools of origin servers */
};

#endif
