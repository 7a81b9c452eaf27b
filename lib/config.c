/* config: see config.h. Loading a file: the text read and parsed (jansson), each member
 * looked up in the schema (confschema.h) and its value checked against its kind's grammar
 * (confvalue.h) into struct sf_config, then the rules across keys (max_object_bytes within
 * max_bytes, a cluster complete, something to listen on). Every refusal names the file,
 * line and column (confpos.h finds them) and what to write instead. Also the defaults, and
 * freeing a config. Writing one back and diffing two is confdump.c's. */
#include "config.h"

#include "confpos.h"
#include "confroute.h"
#include "confschema.h"
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
    sf_config_parse_addr("127.0.0.1:8080", &cfg->listen);
    cfg->listen_enabled = true;
    cfg->upstream = NULL;
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
    sf_config_parse_addr("127.0.0.1:8081", &cfg->admin_listen);
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

static void targets_clear(struct sf_targets *t)
{
    for (size_t i = 0; i < t->n; i++)
        free((char *)t->v[i].name); /* owned here; const for the rules that read it */
    free(t->v);
    *t = (struct sf_targets){0};
}

static void peers_clear(struct sf_peers *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free((void *)p->v[i].id);
        free((void *)p->v[i].url);
    }
    free(p->v);
    *p = (struct sf_peers){0};
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
    targets_clear(&cfg->targeted);
    free(cfg->admin_token);
    cfg->admin_token = NULL;
    free(cfg->access_log_path);
    cfg->access_log_path = NULL;
    free(cfg->cluster_self);
    cfg->cluster_self = NULL;
    peers_clear(&cfg->cluster_peers);
    free(cfg->cluster_secret);
    cfg->cluster_secret = NULL;
    sf_acl_clear(&cfg->forward_allow);
    sf_acl_clear(&cfg->forward_clients);
    sf_acl_clear(&cfg->trusted_proxies);
    sf_routes_free(cfg->routes);
    cfg->routes = NULL;
}

static enum sf_err vfail_at(struct sf_conf_loader *ld, const char *json_path, bool at_key,
                            const char *fmt, va_list ap) SF_FORMAT(4, 0);

static enum sf_err vfail_at(struct sf_conf_loader *ld, const char *json_path, bool at_key,
                            const char *fmt, va_list ap)
{
    int line, col;
    sf_confpos_find(ld->text, json_path, at_key, &line, &col);
    int n = snprintf(ld->errbuf, ld->errlen, "%s:%d:%d: ", ld->path, line, col);
    if (n < 0 || (size_t)n >= ld->errlen)
        return SF_EINVAL;
    vsnprintf(ld->errbuf + n, ld->errlen - (size_t)n, fmt, ap);
    return SF_EINVAL;
}

static enum sf_err fail_at(struct sf_conf_loader *ld, const char *json_path, bool at_key,
                           const char *fmt, ...) SF_FORMAT(4, 5);

static enum sf_err fail_at(struct sf_conf_loader *ld, const char *json_path, bool at_key,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum sf_err err = vfail_at(ld, json_path, at_key, fmt, ap);
    va_end(ap);
    return err;
}

enum sf_err sf_conf_fail_at(struct sf_conf_loader *ld, const char *json_path, bool at_key,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum sf_err err = vfail_at(ld, json_path, at_key, fmt, ap);
    va_end(ap);
    return err;
}

static enum sf_err bad_value(struct sf_conf_loader *ld, const struct sf_conf_field *f, json_t *v)
{
    char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    enum sf_err err = fail_at(ld, f->path, false, "\"%s\" must be %s (got %s)", f->path,
                              sf_conf_kind_hint(f->kind), shown ? shown : "?");
    free(shown);
    return err;
}

static enum sf_err out_of_range(struct sf_conf_loader *ld, const struct sf_conf_field *f,
                                uint64_t got)
{
    return fail_at(ld, f->path, false,
                   "\"%s\" is %llu, outside %llu..%llu; write a value in that range", f->path,
                   (unsigned long long)got, (unsigned long long)f->min, (unsigned long long)f->max);
}

static enum sf_err number_field(struct sf_conf_loader *ld, const struct sf_conf_field *f, json_t *v,
                                uint64_t *out)
{
    bool ok;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        ok = true;
    } else if (json_is_string(v) && f->kind == K_BYTES) {
        ok = sf_config_parse_bytes(json_string_value(v), out);
    } else if (json_is_string(v) && f->kind == K_MS) {
        ok = sf_config_parse_ms(json_string_value(v), out);
    } else {
        ok = false;
    }
    if (!ok)
        return bad_value(ld, f, v);
    if (*out < f->min || *out > f->max)
        return out_of_range(ld, f, *out);
    return SF_OK;
}

/* The error for entry i (from 0) of the list at f, item: what it must be, and what it was. */
static enum sf_err bad_entry(struct sf_conf_loader *ld, const struct sf_conf_field *f, size_t i,
                             json_t *item, const char *must)
{
    char *shown = json_dumps(item, JSON_ENCODE_ANY | JSON_COMPACT);
    enum sf_err err = fail_at(ld, f->path, false, "\"%s\" entry %zu must be %s (got %s)", f->path,
                              i + 1, must, shown ? shown : "?");
    free(shown);
    return err;
}

/* A list of networks (and, for K_DESTS, host names); replaces the default list. */
static enum sf_err acl_field(struct sf_conf_loader *ld, const struct sf_conf_field *f, json_t *v,
                             struct sf_acl *acl)
{
    if (!json_is_array(v))
        return bad_value(ld, f, v);
    struct sf_acl parsed = {0};
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) ||
            !sf_acl_add(&parsed, json_string_value(item), f->kind == K_DESTS)) {
            sf_acl_clear(&parsed);
            return bad_entry(ld, f, i, item,
                             f->kind == K_DESTS
                                 ? "a host name, host:port, \"*.example.com\", an address or a "
                                   "network like \"10.0.0.0/8\""
                                 : "an address or a network like \"10.0.0.0/8\"");
        }
    }
    sf_acl_clear(acl);
    *acl = parsed;
    return SF_OK;
}

/* The targeted cache fields (RFC 9213), in order; replaces the default list. */
static enum sf_err targets_field(struct sf_conf_loader *ld, const struct sf_conf_field *f,
                                 json_t *v, struct sf_targets *slot)
{
    if (!json_is_array(v))
        return bad_value(ld, f, v);
    struct sf_targets parsed = {sf_xcalloc(json_array_size(v) + 1, sizeof *parsed.v), 0};
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!sf_confvalue_target(item, &parsed.v[parsed.n])) {
            targets_clear(&parsed);
            return bad_entry(ld, f, i, item,
                             "a field name like \"CDN-Cache-Control\", or {\"name\": "
                             "\"Sfproxy-Cache-Control\", \"strip\": true}");
        }
        parsed.n++;
    }
    targets_clear(slot);
    *slot = parsed;
    return SF_OK;
}

static enum sf_err peers_field(struct sf_conf_loader *ld, const struct sf_conf_field *f, json_t *v,
                               struct sf_peers *slot)
{
    if (!json_is_array(v) || json_array_size(v) > SF_CLUSTER_MAX_PEERS)
        return bad_value(ld, f, v);
    struct sf_peers parsed = {sf_xcalloc(json_array_size(v) + 1, sizeof *parsed.v), 0};
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        bool ok = sf_confvalue_peer(item, &parsed.v[parsed.n]);
        for (size_t j = 0; ok && j < parsed.n; j++)
            ok = strcmp(parsed.v[j].id, parsed.v[parsed.n].id) != 0;
        if (ok) {
            parsed.n++;
            continue;
        }
        if (parsed.v[parsed.n].id != NULL) {
            free((void *)parsed.v[parsed.n].id);
            free((void *)parsed.v[parsed.n].url);
        }
        peers_clear(&parsed);
        return bad_entry(ld, f, i, item,
                         "{\"id\": \"node-1\", \"url\": \"http://HOST:PORT\", \"weight\": "
                         "1..1000 (optional)}, its id unique");
    }
    peers_clear(slot);
    *slot = parsed;
    return SF_OK;
}

/* The text of the file f's value v names (the caller frees), or NULL with *err set when v
 * is not a string or the file cannot be read now. */
static char *file_text(struct sf_conf_loader *ld, const struct sf_conf_field *f, json_t *v,
                       enum sf_err *err)
{
    if (!json_is_string(v)) {
        *err = bad_value(ld, f, v);
        return NULL;
    }
    const char *path = json_string_value(v);
    char *text = sf_confvalue_read_file(path);
    if (text == NULL)
        *err = fail_at(ld, f->path, false, "\"%s\": cannot read %s: %s; give a readable file",
                       f->path, path, strerror(errno));
    return text;
}

/* A file that must be readable now (a CA bundle): its path. */
static enum sf_err readable_file_field(struct sf_conf_loader *ld, const struct sf_conf_field *f,
                                       json_t *v, char **slot)
{
    enum sf_err err = SF_EINVAL;
    char *text = file_text(ld, f, v, &err);
    if (text == NULL)
        return err;
    free(text);
    free(*slot);
    *slot = sf_xstrdup(json_string_value(v));
    return SF_OK;
}

/* tls.cert or tls.key: its path, and its text, which must look like PEM. */
static enum sf_err pem_file_field(struct sf_conf_loader *ld, const struct sf_conf_field *f,
                                  json_t *v, struct sf_config *cfg)
{
    enum sf_err err = SF_EINVAL;
    char *text = file_text(ld, f, v, &err);
    if (text == NULL)
        return err;
    if (strstr(text, "-----BEGIN ") == NULL) {
        free(text);
        return fail_at(ld, f->path, false,
                       "\"%s\": %s is not PEM (no \"-----BEGIN\" line); give the PEM file", f->path,
                       json_string_value(v));
    }
    bool cert = f->off == OFF(tls_cert_path);
    char **path = cert ? &cfg->tls_cert_path : &cfg->tls_key_path;
    char **pem = cert ? &cfg->tls_cert_pem : &cfg->tls_key_pem;
    free(*path);
    free(*pem);
    *path = sf_xstrdup(json_string_value(v));
    *pem = text;
    return SF_OK;
}

/* An access log path: "-", null, or a file that can be opened for appending (so a wrong
 * directory is a config error with its position, not a failure after startup). Checking
 * creates nothing: --check-config and --print-config leave no file behind. */
static enum sf_err log_path_field(struct sf_conf_loader *ld, const struct sf_conf_field *f,
                                  json_t *v, char **slot)
{
    if (!json_is_null(v) && (!json_is_string(v) || json_string_length(v) == 0))
        return bad_value(ld, f, v);
    const char *path = json_is_null(v) ? NULL : json_string_value(v);
    if (path != NULL && strcmp(path, "-") != 0 && !sf_confvalue_appendable(path))
        return fail_at(ld, f->path, false,
                       "\"%s\": cannot open %s for appending: %s; give a writable file, "
                       "\"-\" for standard output or null for none",
                       f->path, path, strerror(errno));
    free(*slot);
    *slot = path != NULL ? sf_xstrdup(path) : NULL;
    return SF_OK;
}

/* The token in the file a config names, without its trailing line end. */
static enum sf_err token_file_field(struct sf_conf_loader *ld, const struct sf_conf_field *f,
                                    json_t *v, char **slot)
{
    enum sf_err err = SF_EINVAL;
    char *text = file_text(ld, f, v, &err);
    if (text == NULL)
        return err;
    const char *path = json_string_value(v);
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    if (!sf_confvalue_token(text)) {
        free(text);
        return fail_at(ld, f->path, false,
                       "\"%s\": %s must hold one line of at least 16 printable characters "
                       "(a random secret: head -c 24 /dev/urandom | base64)",
                       f->path, path);
    }
    free(*slot);
    *slot = text;
    return SF_OK;
}

enum sf_err sf_conf_apply_field(struct sf_conf_loader *ld, const struct sf_conf_field *f, json_t *v,
                                void *base, struct sf_config *cfg)
{
    void *slot = (char *)base + f->off;
    uint64_t n = 0;
    enum sf_err err;
    switch (f->kind) {
    case K_ADDR_OR_NULL:
        *sf_conf_listener_on(cfg, f) = !json_is_null(v);
        if (json_is_null(v))
            return SF_OK;
        /* fall through */
    case K_ADDR:
        if (!json_is_string(v) || !sf_config_parse_addr(json_string_value(v), slot))
            return bad_value(ld, f, v);
        return SF_OK;
    case K_FIELD:
        if (!json_is_string(v) || !sf_confvalue_field_name(json_string_value(v)))
            return bad_value(ld, f, v);
        free(*(char **)slot);
        *(char **)slot = sf_xstrdup(json_string_value(v));
        return SF_OK;
    case K_URL:
        if (!json_is_string(v) || !sf_config_parse_upstream(json_string_value(v)))
            return bad_value(ld, f, v);
        free(*(char **)slot);
        *(char **)slot = sf_xstrdup(json_string_value(v));
        return SF_OK;
    case K_SWITCH:
    case K_BOOL:
        if (!json_is_boolean(v))
            return bad_value(ld, f, v);
        *(bool *)slot = json_is_true(v);
        return SF_OK;
    case K_NETS:
    case K_DESTS: return acl_field(ld, f, v, slot);
    case K_TOKEN:
        if (!json_is_string(v) || !sf_confvalue_token(json_string_value(v)))
            return bad_value(ld, f, v);
        free(*(char **)slot);
        *(char **)slot = sf_xstrdup(json_string_value(v));
        return SF_OK;
    case K_TOKEN_FILE: return token_file_field(ld, f, v, slot);
    case K_TARGETS: return targets_field(ld, f, v, slot);
    case K_LOG_PATH: return log_path_field(ld, f, v, slot);
    case K_FILE: return readable_file_field(ld, f, v, slot);
    case K_PEM_FILE: return pem_file_field(ld, f, v, cfg);
    case K_NAME:
        if (!json_is_string(v) || !sf_confvalue_peer_id(json_string_value(v)))
            return bad_value(ld, f, v);
        free(*(char **)slot);
        *(char **)slot = sf_xstrdup(json_string_value(v));
        return SF_OK;
    case K_PEERS: return peers_field(ld, f, v, slot);
    case K_ROUTES: return sf_confroute_parse(ld, f, v, slot);
    case K_HOSTNAME:
        if (!json_is_string(v) || !sf_confvalue_host_name(json_string_value(v)))
            return bad_value(ld, f, v);
        free(*(char **)slot);
        *(char **)slot = sf_xstrdup(json_string_value(v));
        return SF_OK;
    case K_LOG_FORMAT:
        if (!json_is_string(v))
            return bad_value(ld, f, v);
        if (strcmp(json_string_value(v), "combined") == 0)
            *(enum sf_access_format *)slot = SF_ACCESS_COMBINED;
        else if (strcmp(json_string_value(v), "json") == 0)
            *(enum sf_access_format *)slot = SF_ACCESS_JSON;
        else
            return bad_value(ld, f, v);
        return SF_OK;
    case K_LOGLEVEL:
        if (!json_is_string(v) || !sf_log_level_parse(json_string_value(v), slot))
            return bad_value(ld, f, v);
        return SF_OK;
    case K_UINT:
        if (!json_is_integer(v))
            return bad_value(ld, f, v);
        err = number_field(ld, f, v, &n);
        if (err == SF_OK)
            *(unsigned *)slot = (unsigned)n;
        return err;
    case K_BYTES:
    case K_MS:
        err = number_field(ld, f, v, &n);
        if (err == SF_OK)
            *(uint64_t *)slot = n;
        return err;
    }
    return SF_EINVAL;
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
            return fail_at(ld, path, true, "unknown key \"%s\"%s; %sthe keys allowed here are %s",
                           key, where, guess, keys);
        }
        enum sf_err err;
        if (leaf != NULL && leaf->kind == K_SWITCH && json_is_object(v)) {
            *(bool *)((char *)cfg + leaf->off) = true; /* settings given: on, unless said */
            err = apply_object(ld, path, v, cfg);
        } else if (leaf != NULL) {
            err = sf_conf_apply_field(ld, leaf, v, cfg, cfg);
        } else if (!json_is_object(v)) {
            err = fail_at(ld, path, false, "\"%s\" must be an object {...}", path);
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
        return fail_at(ld, "cluster.peers", false,
                       "\"cluster.peers\" needs \"cluster.self\": the id of this node among them");
    bool listed = false;
    for (size_t i = 0; i < p->n; i++)
        listed = listed || strcmp(p->v[i].id, cfg->cluster_self) == 0;
    if (!listed)
        return fail_at(ld, "cluster.self", false,
                       "\"cluster.self\" (\"%s\") is not the id of one of \"cluster.peers\"; "
                       "list this node there too (every node can run the same file)",
                       cfg->cluster_self);
    if (cfg->cluster_secret == NULL)
        return fail_at(ld, "cluster.self", false,
                       "a cluster needs \"cluster.secret\" or \"cluster.secret_file\" (the same "
                       "on every node): peer requests are signed with it");
    if (cfg->upstream == NULL)
        return fail_at(ld, "cluster.self", false,
                       "a cluster shares the fetches of \"upstream\", and there is none; set it");
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
        err = fail_at(&ld, "", false, "the config must be a JSON object {...}");
        goto out;
    }
    err = apply_object(&ld, "", root, cfg);
    if (err == SF_OK && cfg->cache_max_object_bytes > cfg->cache_max_bytes)
        err = fail_at(&ld, "cache.max_object_bytes", false,
                      "\"cache.max_object_bytes\" (%llu) is larger than \"cache.max_bytes\" "
                      "(%llu); make it at most that",
                      (unsigned long long)cfg->cache_max_object_bytes,
                      (unsigned long long)cfg->cache_max_bytes);
    if (err == SF_OK && cfg->cache_slice_bytes != 0 && cfg->cache_slice_bytes < 4096)
        err = fail_at(&ld, "cache.slice_bytes", false,
                      "\"cache.slice_bytes\" (%llu) is too small: a slice is one upstream request; "
                      "make it at least 4KiB, or 0 to store no slices",
                      (unsigned long long)cfg->cache_slice_bytes);
    if (err == SF_OK && !cfg->listen_enabled && !cfg->tls_enabled)
        err = fail_at(&ld, "listen", false,
                      "\"listen\" is null and there is no \"tls.listen\": nothing to listen on; "
                      "give an address to one of them");
    if (err == SF_OK && cfg->tls_enabled && (cfg->tls_cert_pem == NULL || cfg->tls_key_pem == NULL))
        err = fail_at(&ld, "tls.listen", false,
                      "\"tls.listen\" needs \"tls.cert\" and \"tls.key\" (PEM files): add "
                      "them, or set \"tls.listen\" to null");
    if (err == SF_OK && cfg->upstream_sni != NULL &&
        (cfg->upstream == NULL || strncmp(cfg->upstream, "https://", 8) != 0))
        err = fail_at(&ld, "upstream_tls.sni", false,
                      "\"upstream_tls.sni\" names the TLS server of an https:// upstream, and "
                      "\"upstream\" is not one; remove it or make the upstream https://");
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
