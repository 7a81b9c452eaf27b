/* config: see config.h.
 *
 * jansson parses the file and reports syntax errors with their position. It keeps no
 * positions for values, so for the errors we find ourselves a small scanner walks the
 * (already valid) text along the path of the bad value to recover its line and column.
 * The schema is one table: each leaf names its path, its kind, where it lands in struct
 * sf_config and its range; object members not in the table are unknown keys. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind {
    K_ADDR,
    K_ADDR_OR_NULL,
    K_URL,
    K_BOOL,
    K_UINT,
    K_BYTES,
    K_MS,
    K_LOGLEVEL,
    K_FIELD,
    K_SWITCH,     /* true / false, or an object of the settings under it (with "enabled") */
    K_NETS,       /* a list of addresses and networks: ["10.0.0.0/8", "::1"] */
    K_DESTS,      /* K_NETS and host names: ["api.example.com", "*.example.org:443"] */
    K_TOKEN,      /* a secret string of 16 or more printable characters */
    K_TARGETS,    /* a list of field names, or {"name": ..., "strip": true} (RFC 9213) */
    K_TOKEN_FILE, /* a file holding a K_TOKEN, read at load time */
    K_LOG_PATH,   /* "-" (standard output), a file that can be appended to (not created), null */
    K_LOG_FORMAT, /* "combined" or "json" */
    K_FILE,       /* the path of a readable file (checked at load) */
    K_HOSTNAME,   /* a DNS name: letters, digits, '-' and '.' */
    K_PEM_FILE,   /* a PEM file read at load: its path, and its text in the next slot */
    K_NAME,       /* a peer's id: 1 to 63 letters, digits, '-', '_', '.' */
    K_PEERS,      /* a list of {"id": ..., "url": "http://host:port", "weight": 1} */
};

struct field {
    const char *path; /* dotted: "cache.max_bytes" */
    enum kind kind;
    size_t off;
    uint64_t min, max; /* for K_UINT, K_BYTES, K_MS */
};

#define OFF(f) offsetof(struct sf_config, f)
static const struct field schema[] = {
    {"listen", K_ADDR_OR_NULL, OFF(listen), 0, 0},
    {"tls.listen", K_ADDR_OR_NULL, OFF(tls_listen), 0, 0},
    {"tls.cert", K_PEM_FILE, OFF(tls_cert_path), 0, 0},
    {"tls.key", K_PEM_FILE, OFF(tls_key_path), 0, 0},
    {"upstream", K_URL, OFF(upstream), 0, 0},
    {"upstream_tls.ca_file", K_FILE, OFF(upstream_ca_file), 0, 0},
    {"upstream_tls.verify", K_BOOL, OFF(upstream_verify), 0, 0},
    {"upstream_tls.sni", K_HOSTNAME, OFF(upstream_sni), 0, 0},
    {"forward_proxy", K_SWITCH, OFF(forward_proxy), 0, 0},
    {"forward_proxy.enabled", K_BOOL, OFF(forward_proxy), 0, 0},
    {"forward_proxy.allow", K_DESTS, OFF(forward_allow), 0, 0},
    {"forward_proxy.clients", K_NETS, OFF(forward_clients), 0, 0},
    {"trusted_proxies", K_NETS, OFF(trusted_proxies), 0, 0},
    {"forwarded_header", K_BOOL, OFF(forwarded_header), 0, 0},
    {"preserve_host", K_BOOL, OFF(preserve_host), 0, 0},
    {"forward_underscore_fields", K_BOOL, OFF(underscore_fields), 0, 0},
    {"workers", K_UINT, OFF(workers), 0, 256},
    {"connection_limit", K_UINT, OFF(connection_limit), 16, 1000000},
    {"max_request_body_bytes", K_BYTES, OFF(max_request_body_bytes), 0, UINT64_C(1) << 40},
    {"log_level", K_LOGLEVEL, OFF(log_level), 0, 0},
    {"timeouts.connect", K_MS, OFF(connect_timeout_ms), 1, 3600000},
    {"timeouts.first_byte", K_MS, OFF(first_byte_timeout_ms), 1, 86400000},
    {"timeouts.upstream_idle", K_MS, OFF(upstream_idle_timeout_ms), 1000, 86400000},
    {"timeouts.client_idle", K_MS, OFF(client_idle_timeout_ms), 1000, 86400000},
    {"timeouts.request_head", K_MS, OFF(request_head_timeout_ms), 100, 3600000},
    {"timeouts.shutdown_grace", K_MS, OFF(shutdown_grace_ms), 0, 3600000},
    {"cache.max_bytes", K_BYTES, OFF(cache_max_bytes), 0, UINT64_C(1) << 44},
    {"cache.max_object_bytes", K_BYTES, OFF(cache_max_object_bytes), 0, UINT64_C(1) << 40},
    {"cache.slice_bytes", K_BYTES, OFF(cache_slice_bytes), 0, UINT64_C(1) << 40},
    {"cache.max_variants", K_UINT, OFF(cache_max_variants), 1, 100000},
    {"cache.hit_for_pass", K_MS, OFF(hit_for_pass_ms), 0, 86400000},
    {"cache.surrogate_key_header", K_FIELD, OFF(surrogate_key_header), 0, 0},
    {"cache.targeted_fields", K_TARGETS, OFF(targeted), 0, 0},
    {"cache.heuristic_percent", K_UINT, OFF(heuristic_percent), 0, 100},
    {"cache.heuristic_max", K_MS, OFF(heuristic_max_ms), 0, 31536000000ULL},
    {"cache.strip_set_cookie", K_BOOL, OFF(strip_set_cookie), 0, 0},
    {"cache.store_server_errors", K_BOOL, OFF(store_server_errors), 0, 0},
    {"cache.store_post_responses", K_BOOL, OFF(store_post_responses), 0, 0},
    {"cache.normalize_accept_encoding", K_BOOL, OFF(normalize_accept_encoding), 0, 0},
    {"cache.stale_if_error", K_MS, OFF(stale_if_error_ms), 0, 31536000000ULL},
    {"cache.stale_while_revalidate", K_MS, OFF(stale_while_revalidate_ms), 0, 31536000000ULL},
    {"cache.max_pinned_bytes", K_BYTES, OFF(cache_max_pinned_bytes), UINT64_C(1) << 20,
     UINT64_C(1) << 44},
    {"admin.listen", K_ADDR_OR_NULL, OFF(admin_listen), 0, 0},
    {"admin.connection_limit", K_UINT, OFF(admin_connection_limit), 1, 10000},
    {"admin.token", K_TOKEN, OFF(admin_token), 0, 0},
    {"admin.token_file", K_TOKEN_FILE, OFF(admin_token), 0, 0},
    {"access_log.path", K_LOG_PATH, OFF(access_log_path), 0, 0},
    {"access_log.format", K_LOG_FORMAT, OFF(access_log_format), 0, 0},
    {"access_log.buffer", K_BYTES, OFF(access_log_buffer_bytes), 65536, UINT64_C(1) << 30},
    {"cluster.self", K_NAME, OFF(cluster_self), 0, 0},
    {"cluster.peers", K_PEERS, OFF(cluster_peers), 0, 0},
    {"cluster.secret", K_TOKEN, OFF(cluster_secret), 0, 0},
    {"cluster.secret_file", K_TOKEN_FILE, OFF(cluster_secret), 0, 0},
    {"cluster.peer_connect_timeout", K_MS, OFF(cluster_peer_connect_timeout_ms), 1, 60000},
    {"cluster.peer_retry", K_MS, OFF(cluster_peer_retry_ms), 100, 3600000},
    {"cluster.store_on_edge", K_BOOL, OFF(cluster_store_on_edge), 0, 0},
};
#define NFIELDS (sizeof schema / sizeof schema[0])

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
}

/* An HTTP field name: a token (RFC 9110 §5.1). */
static bool is_field_name(const char *s)
{
    if (*s == '\0' || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
            strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return false;
    return true;
}

bool sf_config_parse_addr(const char *s, struct sf_addr *out)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon[1] == '\0')
        return false;
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || errno != 0 || port > 65535 || colon[1] < '0' || colon[1] > '9')
        return false;
    size_t hlen = (size_t)(colon - s);
    char host[64];
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        s++;
        hlen -= 2;
    }
    if (hlen >= sizeof host)
        return false;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (hlen == 0)
        strcpy(host, "0.0.0.0");
    else if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    unsigned char tmp[16];
    if (inet_pton(AF_INET, host, tmp) != 1 && inet_pton(AF_INET6, host, tmp) != 1)
        return false;
    strcpy(out->host, host);
    out->port = (uint16_t)port;
    return true;
}

bool sf_config_parse_upstream(const char *s)
{
    const char *rest = NULL;
    if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    if (rest == NULL || *rest == '\0' || *rest == '/')
        return false;
    return strpbrk(s, " \t\r\n?#") == NULL;
}

/* Parses digits and a unit from a table; false on anything else. */
static bool parse_with_units(const char *s, const char *const *units, const uint64_t *mult,
                             size_t nunits, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0)
        return false;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < nunits; i++) {
        if (strcmp(end, units[i]) == 0) {
            if (n > UINT64_MAX / mult[i])
                return false;
            *out = n * mult[i];
            return true;
        }
    }
    return false;
}

bool sf_config_parse_bytes(const char *s, uint64_t *out)
{
    static const char *const units[] = {"", "B", "KB", "KiB", "MB", "MiB", "GB", "GiB"};
    static const uint64_t mult[] = {1, 1, 1000, 1024, 1000000, 1 << 20, 1000000000, 1 << 30};
    return parse_with_units(s, units, mult, 8, out);
}

bool sf_config_parse_ms(const char *s, uint64_t *out)
{
    static const char *const units[] = {"", "ms", "s", "m", "min", "h", "d"};
    static const uint64_t mult[] = {1, 1, 1000, 60000, 60000, 3600000, 86400000};
    return parse_with_units(s, units, mult, 7, out);
}

/* ---- positions: walk valid JSON text to the value at a dotted path ---- */

struct scan {
    const char *p;
    int line, col;
};

static void adv(struct scan *s)
{
    if (*s->p == '\n') {
        s->line++;
        s->col = 1;
    } else {
        s->col++;
    }
    s->p++;
}

static void skip_ws(struct scan *s)
{
    while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')
        adv(s);
}

/* Moves past a string; if key is non-NULL, says whether the string equals it. */
static bool skip_string(struct scan *s, const char *key, size_t keylen)
{
    const char *start = s->p + 1;
    adv(s);
    while (*s->p != '"' && *s->p != '\0') {
        if (*s->p == '\\')
            adv(s);
        adv(s);
    }
    bool match =
        key != NULL && (size_t)(s->p - start) == keylen && strncmp(start, key, keylen) == 0;
    adv(s);
    return match;
}

static void skip_value(struct scan *s)
{
    skip_ws(s);
    if (*s->p == '"') {
        skip_string(s, NULL, 0);
    } else if (*s->p == '{' || *s->p == '[') {
        int depth = 0;
        do {
            if (*s->p == '"') {
                skip_string(s, NULL, 0);
                continue;
            }
            if (*s->p == '{' || *s->p == '[')
                depth++;
            else if (*s->p == '}' || *s->p == ']')
                depth--;
            adv(s);
        } while (depth > 0 && *s->p != '\0');
    } else {
        while (*s->p != '\0' && strchr(",}] \t\r\n", *s->p) == NULL)
            adv(s);
    }
}

/* Finds the value at path (or, with want_key, the key naming it). Falls back to the
 * position of the deepest object found. */
static void find_position(const char *text, const char *path, bool want_key, int *line, int *col)
{
    struct scan s = {text, 1, 1};
    skip_ws(&s);
    *line = s.line;
    *col = s.col;
    while (*path != '\0' && *s.p == '{') {
        const char *dot = strchr(path, '.');
        size_t seglen = dot ? (size_t)(dot - path) : strlen(path);
        adv(&s);
        bool found = false;
        for (;;) {
            skip_ws(&s);
            if (*s.p != '"')
                return;
            struct scan at_key = s;
            bool match = skip_string(&s, path, seglen);
            skip_ws(&s);
            adv(&s); /* ':' */
            skip_ws(&s);
            if (match) {
                found = true;
                *line = (want_key && !dot) ? at_key.line : s.line;
                *col = (want_key && !dot) ? at_key.col : s.col;
                break;
            }
            skip_value(&s);
            skip_ws(&s);
            if (*s.p != ',')
                return;
            adv(&s);
        }
        if (!found || !dot)
            return;
        path = dot + 1;
    }
}

/* ---- validation ---- */

static char *read_file(const char *path);

struct loader {
    const char *path;
    const char *text;
    char *errbuf;
    size_t errlen;
};

static enum sf_err fail_at(struct loader *ld, const char *json_path, bool at_key, const char *fmt,
                           ...) SF_FORMAT(4, 5);

static enum sf_err fail_at(struct loader *ld, const char *json_path, bool at_key, const char *fmt,
                           ...)
{
    int line, col;
    find_position(ld->text, json_path, at_key, &line, &col);
    int n = snprintf(ld->errbuf, ld->errlen, "%s:%d:%d: ", ld->path, line, col);
    if (n < 0 || (size_t)n >= ld->errlen)
        return SF_EINVAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->errbuf + n, ld->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return SF_EINVAL;
}

static const char *kind_hint(enum kind k)
{
    switch (k) {
    case K_ADDR: return "an address string like \"127.0.0.1:8080\"";
    case K_ADDR_OR_NULL: return "an address string like \"127.0.0.1:8080\", or null for none";
    case K_URL: return "a base URL string like \"http://127.0.0.1:9000\"";
    case K_BOOL: return "true or false";
    case K_UINT: return "a whole number";
    case K_BYTES: return "a byte count like 268435456 or \"256MiB\"";
    case K_MS: return "a duration like 1500 (milliseconds), \"1500ms\" or \"5s\"";
    case K_LOGLEVEL: return "one of \"error\", \"warn\", \"info\", \"debug\"";
    case K_FIELD: return "a header field name like \"Surrogate-Key\"";
    case K_SWITCH: return "true, false or an object {\"enabled\": true, ...}";
    case K_NETS: return "a list of addresses or networks like [\"10.0.0.0/8\", \"::1\"]";
    case K_DESTS:
        return "a list of host names, host:port, \"*.example.com\", addresses or networks "
               "like [\"api.example.com\", \"10.0.0.0/8\"]";
    case K_TOKEN: return "a string of at least 16 printable characters (a random secret)";
    case K_TOKEN_FILE: return "the path of a readable file holding the token";
    case K_LOG_PATH:
        return "\"-\" (standard output), the path of a file to append to, or null for none";
    case K_LOG_FORMAT: return "\"combined\" or \"json\"";
    case K_FILE: return "the path of a readable file";
    case K_PEM_FILE: return "the path of a readable PEM file";
    case K_HOSTNAME: return "a host name like \"origin.example.com\"";
    case K_NAME: return "a name of letters, digits, '-', '_' and '.' like \"node-1\"";
    case K_PEERS:
        return "a list of peers like [{\"id\": \"node-1\", \"url\": \"http://10.0.0.1:8080\", "
               "\"weight\": 1}]";
    case K_TARGETS:
        return "a list of field names like [\"Sfproxy-Cache-Control\", \"CDN-Cache-Control\"], "
               "or an empty list";
    }
    return "";
}

static enum sf_err bad_value(struct loader *ld, const struct field *f, json_t *v)
{
    char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    enum sf_err err = fail_at(ld, f->path, false, "\"%s\" must be %s (got %s)", f->path,
                              kind_hint(f->kind), shown ? shown : "?");
    free(shown);
    return err;
}

static enum sf_err out_of_range(struct loader *ld, const struct field *f, uint64_t got)
{
    return fail_at(ld, f->path, false,
                   "\"%s\" is %llu, outside %llu..%llu; write a value in that range", f->path,
                   (unsigned long long)got, (unsigned long long)f->min, (unsigned long long)f->max);
}

static enum sf_err number_field(struct loader *ld, const struct field *f, json_t *v, uint64_t *out)
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
static enum sf_err bad_entry(struct loader *ld, const struct field *f, size_t i, json_t *item,
                             const char *must)
{
    char *shown = json_dumps(item, JSON_ENCODE_ANY | JSON_COMPACT);
    enum sf_err err = fail_at(ld, f->path, false, "\"%s\" entry %zu must be %s (got %s)", f->path,
                              i + 1, must, shown ? shown : "?");
    free(shown);
    return err;
}

/* A list of networks (and, for K_DESTS, host names); replaces the default list. */
static enum sf_err acl_field(struct loader *ld, const struct field *f, json_t *v,
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

/* One entry of a K_TARGETS list into *t: "Name", or {"name": "Name", "strip": bool}. */
static bool target_entry(json_t *item, struct sf_targeted *t)
{
    json_t *name = json_is_object(item) ? json_object_get(item, "name") : item;
    json_t *strip = json_is_object(item) ? json_object_get(item, "strip") : NULL;
    size_t keys = json_is_object(item) ? json_object_size(item) : 1;
    if (!json_is_string(name) || !is_field_name(json_string_value(name)) ||
        (strip != NULL && !json_is_boolean(strip)) || keys != (strip != NULL ? 2u : 1u))
        return false;
    *t = (struct sf_targeted){sf_xstrdup(json_string_value(name)), json_is_true(strip)};
    return true;
}

/* The targeted cache fields (RFC 9213), in order; replaces the default list. */
static enum sf_err targets_field(struct loader *ld, const struct field *f, json_t *v,
                                 struct sf_targets *slot)
{
    if (!json_is_array(v))
        return bad_value(ld, f, v);
    struct sf_targets parsed = {sf_xcalloc(json_array_size(v) + 1, sizeof *parsed.v), 0};
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!target_entry(item, &parsed.v[parsed.n])) {
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

static bool token_ok(const char *t)
{
    if (strlen(t) < 16)
        return false;
    for (; *t; t++)
        if (*t <= 0x20 || *t >= 0x7f)
            return false;
    return true;
}

/* A DNS host name (RFC 1123): labels of letters, digits and '-', not starting or ending
 * with '-', at most 253 characters. */
static bool is_peer_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return false;
    return true;
}

/* One entry of cluster.peers into *p; false when it is not one. */
static bool peer_entry(json_t *item, struct sf_peer *p)
{
    json_t *id = json_object_get(item, "id"), *url = json_object_get(item, "url");
    json_t *weight = json_object_get(item, "weight");
    size_t known = (id != NULL) + (url != NULL) + (weight != NULL);
    if (!json_is_object(item) || json_object_size(item) != known || !json_is_string(id) ||
        !is_peer_id(json_string_value(id)) || !json_is_string(url) ||
        strncmp(json_string_value(url), "http://", 7) != 0 ||
        !sf_config_parse_upstream(json_string_value(url)) ||
        (weight != NULL && (!json_is_integer(weight) || json_integer_value(weight) < 1 ||
                            json_integer_value(weight) > 1000)))
        return false;
    *p = (struct sf_peer){sf_xstrdup(json_string_value(id)), sf_xstrdup(json_string_value(url)),
                          weight != NULL ? (unsigned)json_integer_value(weight) : 1};
    return true;
}

static enum sf_err peers_field(struct loader *ld, const struct field *f, json_t *v,
                               struct sf_peers *slot)
{
    if (!json_is_array(v) || json_array_size(v) > SF_CLUSTER_MAX_PEERS)
        return bad_value(ld, f, v);
    struct sf_peers parsed = {sf_xcalloc(json_array_size(v) + 1, sizeof *parsed.v), 0};
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        bool ok = peer_entry(item, &parsed.v[parsed.n]);
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

static bool is_host_name(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/* The text of the file f's value v names (the caller frees), or NULL with *err set when v
 * is not a string or the file cannot be read now. */
static char *file_text(struct loader *ld, const struct field *f, json_t *v, enum sf_err *err)
{
    if (!json_is_string(v)) {
        *err = bad_value(ld, f, v);
        return NULL;
    }
    const char *path = json_string_value(v);
    char *text = read_file(path);
    if (text == NULL)
        *err = fail_at(ld, f->path, false, "\"%s\": cannot read %s: %s; give a readable file",
                       f->path, path, strerror(errno));
    return text;
}

/* A file that must be readable now (a CA bundle): its path. */
static enum sf_err readable_file_field(struct loader *ld, const struct field *f, json_t *v,
                                       char **slot)
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
static enum sf_err pem_file_field(struct loader *ld, const struct field *f, json_t *v,
                                  struct sf_config *cfg)
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

/* Whether path could be opened for appending, without creating it: an existing file is
 * opened (and closed), a missing one needs a directory it may be created in. Sets errno
 * when not. */
static bool appendable(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    if (errno != ENOENT)
        return false;
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? sf_xstrdup(".")
                : slash == path ? sf_xstrdup("/")
                                : strndup(path, (size_t)(slash - path));
    bool ok = dir != NULL && access(dir, W_OK | X_OK) == 0;
    int saved = errno;
    free(dir);
    errno = saved;
    return ok;
}

/* An access log path: "-", null, or a file that can be opened for appending (so a wrong
 * directory is a config error with its position, not a failure after startup). Checking
 * creates nothing: --check-config and --print-config leave no file behind. */
static enum sf_err log_path_field(struct loader *ld, const struct field *f, json_t *v, char **slot)
{
    if (!json_is_null(v) && (!json_is_string(v) || json_string_length(v) == 0))
        return bad_value(ld, f, v);
    const char *path = json_is_null(v) ? NULL : json_string_value(v);
    if (path != NULL && strcmp(path, "-") != 0 && !appendable(path))
        return fail_at(ld, f->path, false,
                       "\"%s\": cannot open %s for appending: %s; give a writable file, "
                       "\"-\" for standard output or null for none",
                       f->path, path, strerror(errno));
    free(*slot);
    *slot = path != NULL ? sf_xstrdup(path) : NULL;
    return SF_OK;
}

/* The token in the file a config names, without its trailing line end. */
static enum sf_err token_file_field(struct loader *ld, const struct field *f, json_t *v,
                                    char **slot)
{
    enum sf_err err = SF_EINVAL;
    char *text = file_text(ld, f, v, &err);
    if (text == NULL)
        return err;
    const char *path = json_string_value(v);
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    if (!token_ok(text)) {
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

/* The flag saying whether the listener a K_ADDR_OR_NULL key addresses is on. */
static bool *listener_on(struct sf_config *cfg, const struct field *f)
{
    return f->off == OFF(listen)         ? &cfg->listen_enabled
           : f->off == OFF(admin_listen) ? &cfg->admin_enabled
                                         : &cfg->tls_enabled;
}

static enum sf_err apply_field(struct loader *ld, const struct field *f, json_t *v,
                               struct sf_config *cfg)
{
    void *slot = (char *)cfg + f->off;
    uint64_t n = 0;
    enum sf_err err;
    switch (f->kind) {
    case K_ADDR_OR_NULL:
        *listener_on(cfg, f) = !json_is_null(v);
        if (json_is_null(v))
            return SF_OK;
        /* fall through */
    case K_ADDR:
        if (!json_is_string(v) || !sf_config_parse_addr(json_string_value(v), slot))
            return bad_value(ld, f, v);
        return SF_OK;
    case K_FIELD:
        if (!json_is_string(v) || !is_field_name(json_string_value(v)))
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
        if (!json_is_string(v) || !token_ok(json_string_value(v)))
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
        if (!json_is_string(v) || !is_peer_id(json_string_value(v)))
            return bad_value(ld, f, v);
        free(*(char **)slot);
        *(char **)slot = sf_xstrdup(json_string_value(v));
        return SF_OK;
    case K_PEERS: return peers_field(ld, f, v, slot);
    case K_HOSTNAME:
        if (!json_is_string(v) || !is_host_name(json_string_value(v)))
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
static bool schema_lookup(const char *path, const struct field **leaf)
{
    size_t len = strlen(path);
    *leaf = NULL;
    for (size_t i = 0; i < NFIELDS; i++) {
        if (strcmp(schema[i].path, path) == 0) {
            *leaf = &schema[i];
            return true;
        }
        if (strncmp(schema[i].path, path, len) == 0 && schema[i].path[len] == '.')
            return true;
    }
    return false;
}

/* Edit distance of two short names, capped at 3: enough to spot a typo. */
static unsigned distance(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned row[64];
    if (alen >= 63 || blen >= 63)
        return 3;
    for (size_t j = 0; j <= blen; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= alen; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= blen; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[blen] < 3 ? row[blen] : 3;
}

/* Writes the keys allowed in the object at prefix into out, for the "unknown key"
 * message; returns the one closest to key when it looks like a typo, else NULL. */
static const char *known_keys(const char *prefix, const char *key, char *out, size_t size)
{
    static _Thread_local char nearest[64];
    unsigned best = 3;
    size_t plen = strlen(prefix), used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *p = schema[i].path;
        if (plen > 0 && (strncmp(p, prefix, plen) != 0 || p[plen] != '.'))
            continue;
        const char *name = plen > 0 ? p + plen + 1 : p;
        size_t nlen = strcspn(name, ".");
        char item[64], bare[64];
        snprintf(item, sizeof item, "\"%.*s\"", (int)nlen, name);
        if (strstr(out, item) != NULL)
            continue;
        snprintf(bare, sizeof bare, "%.*s", (int)nlen, name);
        unsigned d = distance(key, strlen(key), bare);
        if (d < best) {
            best = d;
            snprintf(nearest, sizeof nearest, "%s", bare);
        }
        if (used < size)
            used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", item);
    }
    return best <= 2 ? nearest : NULL;
}

static enum sf_err apply_object(struct loader *ld, const char *prefix, json_t *obj,
                                struct sf_config *cfg)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char path[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        const struct field *leaf;
        if (!schema_lookup(path, &leaf)) {
            char keys[512], where[160] = "", guess[96] = "";
            const char *near = known_keys(prefix, key, keys, sizeof keys);
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
            err = apply_field(ld, leaf, v, cfg);
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

/* The whole of a regular file of at most 16 MiB, or NULL with errno set (EISDIR for
 * anything but a regular file, EFBIG for a larger one). */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct stat st;
    int err = fstat(fileno(f), &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EISDIR : 0;
    if (err == 0 && st.st_size >= (1 << 24))
        err = EFBIG;
    char *buf = NULL;
    if (err == 0) {
        size_t len = fread(buf = sf_xmalloc((size_t)st.st_size + 1), 1, (size_t)st.st_size, f);
        err = ferror(f) ? EIO : 0;
        buf[len] = '\0'; /* a file that shrank meanwhile: what it holds now */
    }
    fclose(f);
    if (err != 0) {
        free(buf);
        errno = err;
        return NULL;
    }
    return buf;
}

/* ---- the effective config, written as a file ---- */

/* n with the largest unit it is a whole number of ("256MiB", "5s"), or as a number. */
static json_t *with_unit(uint64_t n, const char *const *units, const uint64_t *mult, size_t count)
{
    for (size_t i = count; i-- > 0;) {
        if (n != 0 && n % mult[i] == 0) {
            char text[48];
            snprintf(text, sizeof text, "%llu%s", (unsigned long long)(n / mult[i]), units[i]);
            return json_string(text);
        }
    }
    return json_integer((json_int_t)n);
}

static json_t *addr_value(const struct sf_addr *a)
{
    char text[96];
    snprintf(text, sizeof text, strchr(a->host, ':') ? "[%s]:%u" : "%s:%u", a->host, a->port);
    return json_string(text);
}

static json_t *list_value(const struct sf_acl *acl)
{
    json_t *list = json_array();
    for (size_t i = 0; i < acl->n; i++)
        json_array_append_new(list, json_string(sf_acl_text(acl, i)));
    return list;
}

static json_t *peers_value(const struct sf_peers *p)
{
    json_t *list = json_array();
    for (size_t i = 0; i < p->n; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:i}", "id", p->v[i].id, "url",
                                              p->v[i].url, "weight", (int)p->v[i].weight));
    return list;
}

static json_t *targets_value(const struct sf_targets *t)
{
    json_t *list = json_array();
    for (size_t i = 0; i < t->n; i++)
        json_array_append_new(list, t->v[i].strip
                                        ? json_pack("{s:s, s:b}", "name", t->v[i].name, "strip", 1)
                                        : json_string(t->v[i].name));
    return list;
}

/* f's value in cfg as the file writes it; NULL to leave it out (a secret, or a value the
 * file has no way to write, such as no upstream). */
static json_t *field_value(const struct sf_config *cfg, const struct field *f)
{
    static const char *const byte_units[] = {"KiB", "MiB", "GiB"};
    static const uint64_t byte_mult[] = {1024, 1 << 20, 1 << 30};
    static const char *const ms_units[] = {"ms", "s", "m", "h", "d"};
    static const uint64_t ms_mult[] = {1, 1000, 60000, 3600000, 86400000};
    const void *slot = (const char *)cfg + f->off;
    /* Only the string kinds' slots hold a pointer. */
    const char *text = f->kind == K_URL || f->kind == K_FIELD || f->kind == K_FILE ||
                               f->kind == K_HOSTNAME || f->kind == K_LOG_PATH ||
                               f->kind == K_NAME || f->kind == K_PEM_FILE
                           ? *(const char *const *)slot
                           : NULL;
    switch (f->kind) {
    case K_ADDR: return addr_value(slot);
    case K_ADDR_OR_NULL:
        return *listener_on((struct sf_config *)cfg, f) ? addr_value(slot) : json_null();
    case K_URL:
    case K_FIELD:
    case K_FILE:
    case K_HOSTNAME:
    case K_NAME:
    case K_PEM_FILE: return text != NULL ? json_string(text) : NULL;
    case K_PEERS: return ((const struct sf_peers *)slot)->n > 0 ? peers_value(slot) : NULL;
    case K_BOOL: return json_boolean(*(const bool *)slot);
    case K_SWITCH: return NULL; /* written as its object's "enabled" */
    case K_UINT: return json_integer(*(const unsigned *)slot);
    case K_BYTES: return with_unit(*(const uint64_t *)slot, byte_units, byte_mult, 3);
    case K_MS: return with_unit(*(const uint64_t *)slot, ms_units, ms_mult, 5);
    case K_LOGLEVEL: return json_string(sf_log_level_name(*(const enum sf_log_level *)slot));
    case K_NETS:
    case K_DESTS: return list_value(slot);
    case K_TOKEN:
    case K_TOKEN_FILE: return NULL;
    case K_TARGETS: return targets_value(slot);
    case K_LOG_PATH: return text != NULL ? json_string(text) : json_null();
    case K_LOG_FORMAT:
        return json_string(*(const enum sf_access_format *)slot == SF_ACCESS_JSON ? "json"
                                                                                  : "combined");
    }
    return NULL;
}

/* Puts v at the dotted path under root, making the objects on the way. */
static void put_path(json_t *root, const char *path, json_t *v)
{
    const char *dot = strchr(path, '.');
    if (dot == NULL) {
        json_object_set_new(root, path, v);
        return;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(dot - path), path);
    json_t *sub = json_object_get(root, name);
    if (sub == NULL) {
        sub = json_object();
        json_object_set_new(root, name, sub);
    }
    put_path(sub, dot + 1, v);
}

char *sf_config_dump(const struct sf_config *cfg)
{
    json_t *root = json_object();
    for (size_t i = 0; i < NFIELDS; i++) {
        json_t *v = field_value(cfg, &schema[i]);
        if (v != NULL)
            put_path(root, schema[i].path, v);
    }
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}

/* v as a config file writes it, without a string's quotes; "null" for NULL. Caller frees. */
static char *value_text(const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return sf_xstrdup("null");
    if (json_is_string(v))
        return sf_xstrdup(json_string_value(v));
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return text != NULL ? text : sf_xstrdup("?");
}

/* Appends "what" to the list being built in *out, ", " between items. */
static void add_change(char **out, const char *what)
{
    size_t had = *out != NULL ? strlen(*out) : 0;
    char *grown = sf_xmalloc(had + strlen(what) + 3);
    if (had > 0)
        memcpy(grown, *out, had);
    snprintf(grown + had, strlen(what) + 3, "%s%s", had > 0 ? ", " : "", what);
    free(*out);
    *out = grown;
}

char *sf_config_diff(const struct sf_config *was, const struct sf_config *now)
{
    char *out = NULL;
    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *f = &schema[i];
        char *line = NULL;
        if (f->kind == K_TOKEN) {
            const char *a = *(char *const *)((const char *)was + f->off);
            const char *b = *(char *const *)((const char *)now + f->off);
            if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0)) {
                line = sf_xmalloc(strlen(f->path) + 16);
                sprintf(line, "%s (not shown)", f->path);
            }
        } else {
            json_t *a = field_value(was, f), *b = field_value(now, f);
            if (!json_equal(a, b) && (a != NULL || b != NULL)) {
                char *ta = value_text(a), *tb = value_text(b);
                line = sf_xmalloc(strlen(f->path) + strlen(ta) + strlen(tb) + 6);
                sprintf(line, "%s %s -> %s", f->path, ta, tb);
                free(ta);
                free(tb);
            } else if (f->kind == K_PEM_FILE && a != NULL) {
                bool cert = f->off == OFF(tls_cert_path);
                const char *pa = cert ? was->tls_cert_pem : was->tls_key_pem;
                const char *pb = cert ? now->tls_cert_pem : now->tls_key_pem;
                if (strcmp(pa, pb) != 0) {
                    line = sf_xmalloc(strlen(f->path) + 32);
                    sprintf(line, "%s (its contents)", f->path);
                }
            }
            json_decref(a);
            json_decref(b);
        }
        if (line != NULL)
            add_change(&out, line);
        free(line);
    }
    return out;
}

/* cluster.*: all of it or none; this node among the peers. */
static enum sf_err check_cluster(struct loader *ld, const struct sf_config *cfg)
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
    struct loader ld = {path, NULL, errbuf, errlen};
    enum sf_err err = SF_OK;
    json_t *root = NULL;
    sf_config_defaults(cfg);
    char *text = read_file(path);
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
out:
    if (err) {
        sf_config_clear(cfg);
        sf_config_defaults(cfg);
    }
    json_decref(root);
    free(text);
    return err;
}
