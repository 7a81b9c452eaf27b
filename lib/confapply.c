/* confapply: see confapply.h. */
#include "confapply.h"

#include "confpos.h"
#include "confvalue.h"

#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sf_conf_targets_clear(struct sf_targets *t)
{
    for (size_t i = 0; i < t->n; i++)
        free((char *)t->v[i].name); /* owned here; const for the rules that read it */
    free(t->v);
    *t = (struct sf_targets){0};
}

void sf_conf_peers_clear(struct sf_peers *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free((void *)p->v[i].id);
        free((void *)p->v[i].url);
    }
    free(p->v);
    *p = (struct sf_peers){0};
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
        ok = sf_confvalue_parse_bytes(json_string_value(v), out);
    } else if (json_is_string(v) && f->kind == K_MS) {
        ok = sf_confvalue_parse_ms(json_string_value(v), out);
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
            sf_conf_targets_clear(&parsed);
            return bad_entry(ld, f, i, item,
                             "a field name like \"CDN-Cache-Control\", or {\"name\": "
                             "\"Sfproxy-Cache-Control\", \"strip\": true}");
        }
        parsed.n++;
    }
    sf_conf_targets_clear(slot);
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
        sf_conf_peers_clear(&parsed);
        return bad_entry(ld, f, i, item,
                         "{\"id\": \"node-1\", \"url\": \"http://HOST:PORT\", \"weight\": "
                         "1..1000 (optional)}, its id unique");
    }
    sf_conf_peers_clear(slot);
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
        if (!json_is_string(v) || !sf_confvalue_parse_addr(json_string_value(v), slot))
            return bad_value(ld, f, v);
        return SF_OK;
    case K_FIELD:
        if (!json_is_string(v) || !sf_confvalue_field_name(json_string_value(v)))
            return bad_value(ld, f, v);
        free(*(char **)slot);
        *(char **)slot = sf_xstrdup(json_string_value(v));
        return SF_OK;
    case K_URL: /* or a pool's name (a peer id's grammar: no "://"), resolved once
                 * "upstreams" is read (confupstream.h) */
        if (!json_is_string(v) || (!sf_confvalue_parse_upstream(json_string_value(v)) &&
                                   !sf_confvalue_peer_id(json_string_value(v))))
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
    case K_ROUTES:    /* config.c reads "routes" itself (confroute.h): no route holds one */
    case K_UPSTREAMS: /* and "upstreams" (confupstream.h) */
        SF_ASSERT(f->kind != K_ROUTES && f->kind != K_UPSTREAMS);
        return SF_EINVAL;
    case K_DIR:
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1024 ||
            strlen(json_string_value(v)) != json_string_length(v))
            return bad_value(ld, f, v);
        free(*(char **)slot);
        *(char **)slot = sf_xstrdup(json_string_value(v));
        return SF_OK;
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
