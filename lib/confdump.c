/* confdump: the effective config as a config file, and the changes a reload made
 * (confdump.h). Each value is written as the file would write it (field_value: one case
 * per kind of the schema), so the dump loads back to the same config and the diff speaks
 * the file's terms. Pure: a config in, text out. */
#include "confdump.h"

#include "confschema.h"

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

/* f's value in cfg as the file writes it; NULL to leave it out (a secret, or a value the
 * file has no way to write, such as no upstream). */
static json_t *field_value(const struct sf_config *cfg, const struct sf_conf_field *f)
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
        return *sf_conf_listener_on((struct sf_config *)cfg, f) ? addr_value(slot) : json_null();
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
