/* confdump: the effective config as a config file, and the changes a reload made
 * (confdump.h). Each value is written as the file would write it (field_value: one case
 * per kind of the schema), so the dump loads back to the same config and the diff speaks
 * the file's terms. Pure: a config in, text out. */
#include "confdump.h"

#include "confroute.h"
#include "confschema.h"
#include "confupstream.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static json_t *routes_value(const struct sf_routes *rs);
static json_t *pools_value(const struct sf_pool_defs *defs);

/* The pool index beside "upstream" at base: the top level's (base is cfg) or a route's
 * settings' (cfg NULL). */
static int upstream_pool(const struct sf_config *cfg, const void *base)
{
    if (cfg != NULL)
        return cfg->upstream_pool;
    SF_ASSERT(base != NULL);
    return ((const struct sf_route_settings *)base)->upstream_pool;
}

/* f's value in cfg (at base + f->off: base is cfg, or a route's settings) as the file
 * writes it; NULL to leave it out (a secret, or a value the file has no way to write, such
 * as no upstream). */
static json_t *value_at(const struct sf_config *cfg, const void *base,
                        const struct sf_conf_field *f)
{
    static const char *const byte_units[] = {"KiB", "MiB", "GiB"};
    static const uint64_t byte_mult[] = {1024, 1 << 20, 1 << 30};
    static const char *const ms_units[] = {"ms", "s", "m", "h", "d"};
    static const uint64_t ms_mult[] = {1, 1000, 60000, 3600000, 86400000};
    const void *slot = (const char *)base + f->off;
    /* Only the string kinds' slots hold a pointer. */
    const char *text = f->kind == K_URL || f->kind == K_FIELD || f->kind == K_FILE ||
                               f->kind == K_HOSTNAME || f->kind == K_LOG_PATH ||
                               f->kind == K_NAME || f->kind == K_PEM_FILE || f->kind == K_DIR
                           ? *(const char *const *)slot
                           : NULL;
    switch (f->kind) {
    case K_ADDR: return addr_value(slot);
    case K_ADDR_OR_NULL:
        return *sf_conf_listener_on((struct sf_config *)cfg, f) ? addr_value(slot) : json_null();
    case K_URL:
        if (text != NULL && upstream_pool(cfg, base) >= 0)
            return json_string(strstr(text, "://") + 3); /* key_base: "http://NAME" */
        /* fall through */
    case K_FIELD:
    case K_FILE:
    case K_HOSTNAME:
    case K_NAME:
    case K_PEM_FILE:
    case K_DIR: return text != NULL ? json_string(text) : NULL;
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
    case K_ROUTES: return routes_value(*(const struct sf_routes *const *)slot);
    case K_UPSTREAMS: return pools_value(slot);
    case K_LOG_PATH: return text != NULL ? json_string(text) : json_null();
    case K_LOG_FORMAT:
        return json_string(*(const enum sf_access_format *)slot == SF_ACCESS_JSON ? "json"
                                                                                  : "combined");
    }
    return NULL;
}

static json_t *field_value(const struct sf_config *cfg, const struct sf_conf_field *f)
{
    /* cache.disk's sizes without its path: no disk tier, so no "cache.disk" to write. */
    if (cfg->disk_path == NULL && strncmp(f->path, "cache.disk.", 11) == 0)
        return NULL;
    return value_at(cfg, cfg, f);
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

/* ---- routes, written with what each was given (route.h, confroute.h) ---- */

static json_t *seconds_value(int64_t s)
{
    static const char *const units[] = {"s", "m", "h", "d"};
    static const uint64_t mult[] = {1, 60, 3600, 86400};
    return s == 0 ? json_string("0s") : with_unit((uint64_t)s, units, mult, 4);
}

static json_t *ttl_table_value(const struct sf_ttl_table *t)
{
    if (t->plain_s >= 0 && t->any_s < 0 && t->n == 0)
        return seconds_value(t->plain_s);
    json_t *o = json_object();
    for (size_t i = 0; i < t->n; i++) {
        char status[8];
        snprintf(status, sizeof status, "%d", t->v[i].status);
        json_object_set_new(o, status, seconds_value(t->v[i].s));
    }
    if (t->any_s >= 0)
        json_object_set_new(o, "any", seconds_value(t->any_s));
    return o;
}

static json_t *strings_value(char *const *v, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_string(v[i]));
    return list;
}

static json_t *match_value(const struct sf_route_match *m)
{
    json_t *o = json_object();
    if (m->host != NULL)
        json_object_set_new(o, "host", json_string(m->host));
    if (m->path_prefix != NULL)
        json_object_set_new(o, "path_prefix", json_string(m->path_prefix));
    if (m->path_exact != NULL)
        json_object_set_new(o, "path_exact", json_string(m->path_exact));
    if (m->path_regex != NULL)
        json_object_set_new(o, "path_regex", json_string(m->path_regex));
    if (m->nmethods > 0)
        json_object_set_new(o, "methods", strings_value(m->methods, m->nmethods));
    if (m->nheaders > 0) {
        json_t *list = json_array();
        for (size_t i = 0; i < m->nheaders; i++) {
            const struct sf_route_header *h = &m->headers[i];
            json_array_append_new(
                list, h->regex != NULL
                          ? json_pack("{s:s, s:s}", "name", h->name, "regex", h->regex)
                          : json_pack("{s:s, s:b}", "name", h->name, "present", h->present));
        }
        json_object_set_new(o, "header", list);
    }
    if (m->nquery > 0)
        json_object_set_new(o, "query", strings_value(m->query, m->nquery));
    return o;
}

static json_t *key_value(const struct sf_key_rule *k)
{
    json_t *o = json_object();
    if (k->query == SF_KEY_QUERY_NONE)
        json_object_set_new(o, "query", json_string("none"));
    else if (k->query != SF_KEY_QUERY_ALL)
        json_object_set_new(o, "query",
                            json_pack("{s:o}", k->query == SF_KEY_QUERY_KEEP ? "keep" : "drop",
                                      strings_value(k->params, k->nparams)));
    if (k->sort_query)
        json_object_set_new(o, "sort_query", json_true());
    if (k->nheaders > 0)
        json_object_set_new(o, "headers", strings_value(k->headers, k->nheaders));
    if (k->narrow_cookies)
        json_object_set_new(o, "cookies", strings_value(k->cookies, k->ncookies));
    return o;
}

json_t *sf_config_route_json(const struct sf_route_def *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "match", match_value(&r->match));
    for (size_t i = 0; i < sf_route_nsettings; i++) {
        if (!(r->set.given & (UINT32_C(1) << i)))
            continue;
        struct sf_conf_field f = *sf_conf_field_of(sf_route_settings_table[i].path);
        f.off = sf_route_settings_table[i].off;
        json_t *v = value_at(NULL, &r->set, &f);
        if (v != NULL)
            put_path(o, f.path, v);
    }
    if (r->strip_prefix)
        json_object_set_new(o, "strip_prefix", json_true());
    if (r->pass)
        json_object_set_new(o, "pass", json_true());
    if (r->ignore_request_directives)
        put_path(o, "cache.ignore_request_directives", json_true());
    if (sf_ttl_table_given(&r->cache.ttl))
        put_path(o, "cache.ttl", ttl_table_value(&r->cache.ttl));
    if (sf_ttl_table_given(&r->cache.force))
        put_path(o, "cache.force_ttl", ttl_table_value(&r->cache.force));
    if (r->cache.ignore != 0) {
        json_t *list = json_array();
        for (unsigned bit = 1; bit <= SF_TTL_IGNORE_SET_COOKIE; bit <<= 1)
            if (r->cache.ignore & bit)
                json_array_append_new(list, json_string(sf_ttl_ignore_name(bit)));
        put_path(o, "cache.ignore", list);
    }
    json_t *key = key_value(&r->key);
    if (json_object_size(key) > 0)
        json_object_set_new(o, "key", key);
    else
        json_decref(key);
    if (r->client_cache_control != NULL)
        json_object_set_new(o, "client_cache_control", json_string(r->client_cache_control));
    if (r->response_set.n > 0) {
        json_t *set = json_object();
        for (size_t i = 0; i < r->response_set.n; i++)
            json_object_set_new(set, r->response_set.v[i].name,
                                json_string(r->response_set.v[i].value));
        put_path(o, "response_headers.set", set);
    }
    if (r->nresponse_remove > 0)
        put_path(o, "response_headers.remove",
                 strings_value(r->response_remove, r->nresponse_remove));
    return o;
}

static json_t *routes_value(const struct sf_routes *rs)
{
    if (rs == NULL)
        return NULL;
    json_t *list = json_array();
    for (size_t i = 0; i < sf_routes_count(rs); i++)
        json_array_append_new(list, sf_config_route_json(sf_routes_at(rs, i)));
    return list;
}

char *sf_config_dump(const struct sf_config *cfg)
{
    json_t *root = json_object();
    for (size_t i = 0; i < sf_conf_nfields; i++) {
        json_t *v = field_value(cfg, &sf_conf_schema[i]);
        if (v != NULL)
            put_path(root, sf_conf_schema[i].path, v);
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

/* ---- pools (confupstream.h), written with every key and compared pool by pool ---- */

static json_t *ms_value(uint64_t ms)
{
    static const char *const units[] = {"ms", "s", "m", "h", "d"};
    static const uint64_t mult[] = {1, 1000, 60000, 3600000, 86400000};
    return with_unit(ms, units, mult, 5);
}

static json_t *status_list(const unsigned *v, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_integer(v[i]));
    return list;
}

static json_t *servers_value(const struct sf_pool_def *p)
{
    json_t *list = json_array();
    for (size_t i = 0; i < p->nservers; i++) {
        const struct sf_pool_server_def *s = &p->servers[i];
        json_t *o = json_pack("{s:s, s:i}", "url", s->url, "weight", (int)s->weight);
        if (s->backup)
            json_object_set_new(o, "backup", json_true());
        char *dflt = sf_confupstream_server_name(s->url);
        if (strcmp(dflt, s->name) != 0)
            json_object_set_new(o, "name", json_string(s->name));
        free(dflt);
        json_array_append_new(list, o);
    }
    return list;
}

static json_t *pool_value(const struct sf_pool_def *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "servers", servers_value(p));
    json_object_set_new(o, "balance", json_string(sf_confupstream_balance_name(p->balance)));
    if (p->health_path != NULL) {
        json_t *h =
            json_pack("{s:s, s:o, s:o, s:i, s:i}", "path", p->health_path, "interval",
                      ms_value(p->health_interval_ms), "timeout", ms_value(p->health_timeout_ms),
                      "fall", (int)p->health_fall, "rise", (int)p->health_rise);
        if (p->nhealth_status > 0)
            json_object_set_new(h, "status", status_list(p->health_status, p->nhealth_status));
        json_object_set_new(o, "health", h);
    }
    json_t *passive = json_pack("{s:i, s:o}", "max_fails", (int)p->max_fails, "fail_timeout",
                                ms_value(p->fail_timeout_ms));
    if (p->nfail_status > 0)
        json_object_set_new(passive, "statuses", status_list(p->fail_status, p->nfail_status));
    json_object_set_new(o, "passive", passive);
    json_object_set_new(o, "retries", json_integer(p->retries));
    if (p->host != NULL)
        json_object_set_new(o, "host", json_string(p->host));
    json_t *tls = json_object();
    if (p->tls_ca_file != NULL)
        json_object_set_new(tls, "ca_file", json_string(p->tls_ca_file));
    json_object_set_new(tls, "verify", json_boolean(p->tls_verify));
    if (p->tls_sni != NULL)
        json_object_set_new(tls, "sni", json_string(p->tls_sni));
    json_object_set_new(o, "tls", tls);
    return o;
}

static json_t *pools_value(const struct sf_pool_defs *defs)
{
    if (defs->n == 0)
        return NULL;
    json_t *o = json_object();
    for (size_t i = 0; i < defs->n; i++)
        json_object_set_new(o, defs->v[i].name, pool_value(&defs->v[i]));
    return o;
}

/* "upstreams.NAME (changed: k1, k2)" for the members of a and b that differ, or NULL. */
static char *pool_change(const char *name, json_t *a, json_t *b)
{
    char *keys = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v)
    {
        if (!json_equal(v, json_object_get(b, key)))
            add_change(&keys, key);
    }
    json_object_foreach(b, key, v)
    {
        if (json_object_get(a, key) == NULL)
            add_change(&keys, key);
    }
    if (keys == NULL)
        return NULL;
    size_t len = strlen(name) + strlen(keys) + 32;
    char *line = sf_xmalloc(len);
    snprintf(line, len, "upstreams.%s (changed: %s)", name, keys);
    free(keys);
    return line;
}

/* What differs between two configs' pools: "upstreams.api (changed: servers, retries)",
 * "upstreams.web (added)", "upstreams.old (removed)", joined by ", "; NULL when nothing
 * does. Caller frees. */
static char *pools_diff(const struct sf_pool_defs *was, const struct sf_pool_defs *now)
{
    char *out = NULL, line[128];
    for (size_t i = 0; i < now->n; i++) {
        int j = sf_confupstream_find(was, now->v[i].name);
        if (j < 0) {
            snprintf(line, sizeof line, "upstreams.%s (added)", now->v[i].name);
            add_change(&out, line);
            continue;
        }
        json_t *a = pool_value(&was->v[j]), *b = pool_value(&now->v[i]);
        char *changed = pool_change(now->v[i].name, a, b);
        if (changed != NULL)
            add_change(&out, changed);
        free(changed);
        json_decref(a);
        json_decref(b);
    }
    for (size_t j = 0; j < was->n; j++) {
        if (sf_confupstream_find(now, was->v[j].name) < 0) {
            snprintf(line, sizeof line, "upstreams.%s (removed)", was->v[j].name);
            add_change(&out, line);
        }
    }
    return out;
}

char *sf_config_diff(const struct sf_config *was, const struct sf_config *now)
{
    char *out = NULL;
    for (size_t i = 0; i < sf_conf_nfields; i++) {
        const struct sf_conf_field *f = &sf_conf_schema[i];
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
            if (f->kind == K_UPSTREAMS) {
                line = pools_diff(&was->upstreams, &now->upstreams); /* pool by pool */
            } else if (f->kind == K_ROUTES && !json_equal(a, b) && (a != NULL || b != NULL)) {
                /* The lists whole would make a line nobody reads: their sizes say enough,
                 * --print-config says the rest. */
                size_t was_n = a ? json_array_size(a) : 0, now_n = b ? json_array_size(b) : 0;
                line = sf_xmalloc(64);
                if (was_n == now_n)
                    snprintf(line, 64, "routes (changed, %zu routes)", now_n);
                else
                    snprintf(line, 64, "routes (%zu -> %zu routes)", was_n, now_n);
            } else if (!json_equal(a, b) && (a != NULL || b != NULL)) {
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
