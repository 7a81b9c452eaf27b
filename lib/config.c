/* config: see config.h. Loading a file: the text read and parsed (jansson), each member
 * looked up in the schema (confschema.h) and its value checked against its kind's grammar
 * (confvalue.h) into struct sf_config, then the rules across keys (max_object_bytes within
 * max_bytes, a cluster complete, something to listen on). Every refusal names the file,
 * line and column (confpos.h finds them) and what to write instead. Also the defaults, and
 * freeing a config. Writing one back and diffing two is confdump.c's. */
#include "config.h"

#include "confapply.h"
#include "confpos.h"
#include "confroute.h"
#include "confschema.h"
#include "confupstream.h"
#include "confvalue.h"
#include "route.h"

#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

unsigned sf_config_default_connection_limit(void)
{
    /* Each client connection can hold a second descriptor upstream, and 256 are kept for
     * the rest (listeners, logs, the admin's clients): a default the machine's hard limit
     * allows, so that sfproxy can raise its soft limit to it without a warning. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max == RLIM_INFINITY ||
        rl.rlim_max >= 16384 * 2 + 256)
        return 16384;
    return rl.rlim_max > 256 + 2 * 16 ? (unsigned)((rl.rlim_max - 256) / 2) : 16;
}

void sf_config_defaults(struct sf_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    sf_confvalue_parse_addr("127.0.0.1:8080", &cfg->listen);
    cfg->listen_enabled = true;
    cfg->upstream = NULL;
    cfg->upstream_pool = -1; /* a URL, or none */
    cfg->upstream_verify = true;
    cfg->connection_limit = sf_config_default_connection_limit();
    cfg->connect_timeout_ms = 2000;
    cfg->first_byte_timeout_ms = 30000;
    cfg->upstream_idle_timeout_ms = 30000;
    cfg->client_idle_timeout_ms = 60000;
    cfg->request_head_timeout_ms = 10000;
    cfg->shutdown_grace_ms = 10000;
    cfg->cache_max_bytes = UINT64_C(256) << 20;
    cfg->cache_max_object_bytes = UINT64_C(16) << 20;
    cfg->cache_slice_bytes = UINT64_C(1) << 20;
    cfg->cache_max_variants = 64;
    cfg->cache_max_pinned_bytes = UINT64_C(64) << 20;
    cfg->disk_max_bytes = UINT64_C(1) << 30;
    cfg->disk_queue_bytes = UINT64_C(64) << 20;
    cfg->hit_for_pass_ms = 5000;
    cfg->surrogate_key_header = sf_xstrdup("Surrogate-Key");
    cfg->targeted.v = sf_xcalloc(1, sizeof *cfg->targeted.v);
    cfg->targeted.v[0] = (struct sf_targeted){sf_xstrdup("CDN-Cache-Control"), false};
    cfg->targeted.n = 1;
    cfg->heuristic_percent = 10;
    cfg->store_server_errors = true;
    cfg->heuristic_max_ms = UINT64_C(86400000);
    cfg->max_request_body_bytes = UINT64_C(64) << 20;
    cfg->admin_enabled = true;
    sf_confvalue_parse_addr("127.0.0.1:8081", &cfg->admin_listen);
    cfg->admin_connection_limit = 32;
    sf_acl_add(&cfg->forward_clients, "127.0.0.0/8", false);
    sf_acl_add(&cfg->forward_clients, "::1", false);
    cfg->log_level = SF_LOG_INFO;
    cfg->access_log_path = sf_xstrdup("-");
    cfg->cluster_peer_connect_timeout_ms = 300;
    cfg->cluster_peer_retry_ms = 5000;
    cfg->cluster_store_on_edge = true;
    cfg->access_log_format = SF_ACCESS_COMBINED;
    cfg->access_log_buffer_bytes = UINT64_C(1) << 20;
}

uint64_t sf_config_slice_bytes(const struct sf_config *cfg)
{
    return cfg->cache_slice_bytes < cfg->cache_max_object_bytes ? cfg->cache_slice_bytes
                                                                : cfg->cache_max_object_bytes;
}

void sf_config_clear(struct sf_config *cfg)
{
    free(cfg->upstream);
    cfg->upstream = NULL;
    cfg->upstream_pool = -1; /* a URL, or none */
    free(cfg->upstream_ca_file);
    cfg->upstream_ca_file = NULL;
    free(cfg->upstream_sni);
    cfg->upstream_sni = NULL;
    free(cfg->tls_cert_pem);
    free(cfg->tls_key_pem);
    free(cfg->tls_cert_path);
    free(cfg->tls_key_path);
    cfg->tls_cert_pem = cfg->tls_key_pem = cfg->tls_cert_path = cfg->tls_key_path = NULL;
    free(cfg->surrogate_key_header);
    cfg->surrogate_key_header = NULL;
    free(cfg->disk_path);
    cfg->disk_path = NULL;
    sf_conf_targets_clear(&cfg->targeted);
    free(cfg->admin_token);
    cfg->admin_token = NULL;
    free(cfg->access_log_path);
    cfg->access_log_path = NULL;
    free(cfg->cluster_self);
    cfg->cluster_self = NULL;
    sf_conf_peers_clear(&cfg->cluster_peers);
    free(cfg->cluster_secret);
    cfg->cluster_secret = NULL;
    sf_acl_clear(&cfg->forward_allow);
    sf_acl_clear(&cfg->forward_clients);
    sf_acl_clear(&cfg->trusted_proxies);
    sf_routes_free(cfg->routes);
    cfg->routes = NULL;
    sf_confupstream_clear(&cfg->upstreams);
}

/* True if path names a leaf or an object of the schema; *leaf is set for leaves. */
static bool schema_lookup(const char *path, const struct sf_conf_field **leaf)
{
    size_t len = strlen(path);
    *leaf = NULL;
    for (size_t i = 0; i < sf_conf_nfields; i++) {
        if (strcmp(sf_conf_schema[i].path, path) == 0) {
            *leaf = &sf_conf_schema[i];
            return true;
        }
        if (strncmp(sf_conf_schema[i].path, path, len) == 0 && sf_conf_schema[i].path[len] == '.')
            return true;
    }
    return false;
}

/* sf_confpos_known_keys over the schema's paths. */
static const char *hint(const char *prefix, const char *key, char *out, size_t size)
{
    const char **paths = sf_xcalloc(sf_conf_nfields, sizeof *paths);
    for (size_t i = 0; i < sf_conf_nfields; i++)
        paths[i] = sf_conf_schema[i].path;
    const char *near = sf_confpos_known_keys(paths, sf_conf_nfields, prefix, key, out, size);
    free(paths);
    return near;
}

static enum sf_err apply_object(struct sf_conf_loader *ld, const char *prefix, json_t *obj,
                                struct sf_config *cfg)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char path[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        const struct sf_conf_field *leaf;
        if (!schema_lookup(path, &leaf)) {
            char keys[512], where[160] = "", guess[96] = "";
            const char *near = hint(prefix, key, keys, sizeof keys);
            if (*prefix)
                snprintf(where, sizeof where, " in \"%s\"", prefix);
            if (near != NULL)
                snprintf(guess, sizeof guess, "did you mean \"%s\"? ", near);
            return sf_conf_fail_at(ld, path, true,
                                   "unknown key \"%s\"%s; %sthe keys allowed here are %s", key,
                                   where, guess, keys);
        }
        enum sf_err err;
        if (leaf != NULL && leaf->kind == K_SWITCH && json_is_object(v)) {
            *(bool *)((char *)cfg + leaf->off) = true; /* settings given: on, unless said */
            err = apply_object(ld, path, v, cfg);
        } else if (leaf != NULL && leaf->kind == K_ROUTES) {
            err = sf_confroute_parse(ld, leaf, v, &cfg->routes);
        } else if (leaf != NULL && leaf->kind == K_UPSTREAMS) {
            err = sf_confupstream_parse(ld, leaf, v, &cfg->upstreams);
        } else if (leaf != NULL) {
            err = sf_conf_apply_field(ld, leaf, v, cfg, cfg);
        } else if (!json_is_object(v)) {
            err = sf_conf_fail_at(ld, path, false, "\"%s\" must be an object {...}", path);
        } else {
            err = apply_object(ld, path, v, cfg);
        }
        if (err)
            return err;
    }
    return SF_OK;
}

/* cluster.*: all of it or none; this node among the peers. */
static enum sf_err check_cluster(struct sf_conf_loader *ld, const struct sf_config *cfg)
{
    const struct sf_peers *p = &cfg->cluster_peers;
    if (cfg->cluster_self == NULL && p->n == 0)
        return SF_OK;
    if (cfg->cluster_self == NULL)
        return sf_conf_fail_at(
            ld, "cluster.peers", false,
            "\"cluster.peers\" needs \"cluster.self\": the id of this node among them");
    bool listed = false;
    for (size_t i = 0; i < p->n; i++)
        listed = listed || strcmp(p->v[i].id, cfg->cluster_self) == 0;
    if (!listed)
        return sf_conf_fail_at(
            ld, "cluster.self", false,
            "\"cluster.self\" (\"%s\") is not the id of one of \"cluster.peers\"; "
            "list this node there too (every node can run the same file)",
            cfg->cluster_self);
    if (cfg->cluster_secret == NULL)
        return sf_conf_fail_at(
            ld, "cluster.self", false,
            "a cluster needs \"cluster.secret\" or \"cluster.secret_file\" (the same "
            "on every node): peer requests are signed with it");
    if (cfg->upstream == NULL)
        return sf_conf_fail_at(
            ld, "cluster.self", false,
            "a cluster shares the fetches of \"upstream\", and there is none; set it");
    return SF_OK;
}

/* cache.disk: a path whenever the object is given; a queue smaller than the store. */
static enum sf_err check_disk(struct sf_conf_loader *ld, json_t *root, const struct sf_config *cfg)
{
    json_t *disk = json_object_get(json_object_get(root, "cache"), "disk");
    if (disk != NULL && cfg->disk_path == NULL)
        return sf_conf_fail_at(ld, "cache.disk", true,
                               "\"cache.disk\" needs \"path\": the directory its store lives "
                               "in, like \"/var/cache/sfproxy\" (one sfproxy each)");
    if (cfg->disk_path != NULL && cfg->disk_queue_bytes > cfg->disk_max_bytes / 4)
        return sf_conf_fail_at(ld, "cache.disk.queue_bytes", false,
                               "\"cache.disk.queue_bytes\" (%llu) is more than a quarter of "
                               "\"cache.disk.max_bytes\" (%llu); make it at most %llu",
                               (unsigned long long)cfg->disk_queue_bytes,
                               (unsigned long long)cfg->disk_max_bytes,
                               (unsigned long long)(cfg->disk_max_bytes / 4));
    return SF_OK;
}

enum sf_err sf_config_load(const char *path, struct sf_config *cfg, char *errbuf, size_t errlen)
{
    struct sf_conf_loader ld = {path, NULL, errbuf, errlen};
    enum sf_err err = SF_OK;
    json_t *root = NULL;
    sf_config_defaults(cfg);
    char *text = sf_confvalue_read_file(path);
    if (text == NULL) {
        snprintf(errbuf, errlen, "%s: cannot read: %s; pass an existing file with -c", path,
                 strerror(errno));
        return SF_ENOENT;
    }
    ld.text = text;
    json_error_t jerr;
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        bool dup = strncmp(jerr.text, "duplicate object key", 20) == 0;
        snprintf(errbuf, errlen, "%s:%d:%d: %s; %s", path, jerr.line, jerr.column, jerr.text,
                 dup ? "keep only one of the two" : "fix the JSON syntax there");
        err = SF_EINVAL;
        goto out;
    }
    if (!json_is_object(root)) {
        err = sf_conf_fail_at(&ld, "", false, "the config must be a JSON object {...}");
        goto out;
    }
    err = apply_object(&ld, "", root, cfg);
    if (err == SF_OK && cfg->cache_max_object_bytes > cfg->cache_max_bytes)
        err =
            sf_conf_fail_at(&ld, "cache.max_object_bytes", false,
                            "\"cache.max_object_bytes\" (%llu) is larger than \"cache.max_bytes\" "
                            "(%llu); make it at most that",
                            (unsigned long long)cfg->cache_max_object_bytes,
                            (unsigned long long)cfg->cache_max_bytes);
    if (err == SF_OK && cfg->cache_slice_bytes != 0 && cfg->cache_slice_bytes < 4096)
        err = sf_conf_fail_at(
            &ld, "cache.slice_bytes", false,
            "\"cache.slice_bytes\" (%llu) is too small: a slice is one upstream request; "
            "make it at least 4KiB, or 0 to store no slices",
            (unsigned long long)cfg->cache_slice_bytes);
    if (err == SF_OK)
        err = check_disk(&ld, root, cfg);
    if (err == SF_OK && !cfg->listen_enabled && !cfg->tls_enabled)
        err = sf_conf_fail_at(
            &ld, "listen", false,
            "\"listen\" is null and there is no \"tls.listen\": nothing to listen on; "
            "give an address to one of them");
    if (err == SF_OK && cfg->tls_enabled && (cfg->tls_cert_pem == NULL || cfg->tls_key_pem == NULL))
        err = sf_conf_fail_at(&ld, "tls.listen", false,
                              "\"tls.listen\" needs \"tls.cert\" and \"tls.key\" (PEM files): add "
                              "them, or set \"tls.listen\" to null");
    if (err == SF_OK) /* names of pools resolved, so the rest sees URLs and key bases */
        err = sf_confupstream_finish(&ld, cfg);
    if (err == SF_OK)
        err = check_cluster(&ld, cfg);
    if (err == SF_OK)
        err = sf_confroute_finish(&ld, cfg);
out:
    if (err) {
        sf_config_clear(cfg);
        sf_config_defaults(cfg);
    }
    json_decref(root);
    free(text);
    return err;
}

bool sf_config_set_upstream(struct sf_config *cfg, const char *value, const char **why)
{
    bool pool_name = sf_confupstream_names_pool(value);
    char *upstream = sf_xstrdup(value);
    int pool = -1;
    bool ok = pool_name ? sf_confupstream_resolve(&cfg->upstreams, &upstream, &pool)
                        : sf_confvalue_parse_upstream(value);
    *why = !ok && pool_name ? "is not a base URL, nor the name of a pool in \"upstreams\"; "
                              "write e.g. http://127.0.0.1:9000, or a pool's name"
           : !ok            ? "is not a base URL; write e.g. http://127.0.0.1:9000"
           : pool >= 0 && cfg->upstream_sni != NULL
               ? "names a pool, and \"upstream_tls.sni\" is for an https:// upstream URL; "
                 "give the pool's servers \"tls.sni\" in their pool instead"
               : NULL;
    if (*why != NULL) {
        free(upstream);
        return false;
    }
    free(cfg->upstream);
    cfg->upstream = upstream;
    cfg->upstream_pool = pool;
    sf_confroute_follow_top(cfg);
    return true;
}
