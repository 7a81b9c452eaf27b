/* confrule: see confrule.h. */
#include "confrule.h"

#include "confvalue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sf_confrule_path(const struct sf_confrule_ctx *c, const char *rel, char *out,
                             size_t size)
{
    snprintf(out, size, "routes[%zu]%s%s", c->index, *rel ? "." : "", rel);
    return out;
}

/* A message at the route's rel, starting with the route's label. */
enum sf_err sf_confrule_fail(const struct sf_confrule_ctx *c, const char *rel, bool at_key,
                             const char *fmt, ...)
{
    char path[256], msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sf_conf_fail_at(c->ld, sf_confrule_path(c, rel, path, sizeof path), at_key, "%s: %s",
                           c->label, msg);
}

/* "\"routes[i].rel\" must be WHAT (got V)". */
enum sf_err sf_confrule_must(const struct sf_confrule_ctx *c, const char *rel, json_t *v,
                             const char *what)
{
    char path[256];
    char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    enum sf_err err =
        sf_conf_fail_at(c->ld, sf_confrule_path(c, rel, path, sizeof path), false,
                        "\"%s\" must be %s (got %s)", path, what, shown ? shown : "?");
    free(shown);
    return err;
}

bool sf_confrule_printable(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* A list of strings each ok() accepts (with one_ok, a lone string too) into *out. */
enum sf_err sf_confrule_strings(const struct sf_confrule_ctx *c, const char *rel, json_t *v,
                                bool (*ok)(const char *), const char *what, bool one_ok,
                                bool empty_ok, char ***out, size_t *n)
{
    json_t *single = one_ok && json_is_string(v) ? v : NULL;
    if (single == NULL && (!json_is_array(v) || (!empty_ok && json_array_size(v) == 0)))
        return sf_confrule_must(c, rel, v, what);
    size_t count = single ? 1 : json_array_size(v);
    char **list = sf_xcalloc(count + 1, sizeof *list);
    for (size_t i = 0; i < count; i++) {
        json_t *item = single ? single : json_array_get(v, i);
        if (!json_is_string(item) || !ok(json_string_value(item))) {
            for (size_t j = 0; j < i; j++)
                free(list[j]);
            free(list);
            return sf_confrule_must(c, rel, v, what);
        }
        list[i] = sf_xstrdup(json_string_value(item));
    }
    for (size_t i = 0; i < *n; i++)
        free((*out)[i]);
    free(*out);
    *out = list;
    *n = count;
    return SF_OK;
}

/* A name of a query parameter or cookie as the key rule matches it: no separator, '*'
 * only as its last character. */
bool sf_confrule_param_pattern(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || !sf_confrule_printable(s) || strpbrk(s, "&=#; ") != NULL)
        return false;
    const char *star = strchr(s, '*');
    return star == NULL || star == s + n - 1;
}

/* A duration as a whole number of seconds, into *s. */
static bool seconds(json_t *v, int64_t *s)
{
    uint64_t ms;
    if (!json_is_string(v) || !sf_confvalue_parse_ms(json_string_value(v), &ms) || ms % 1000 != 0 ||
        ms > UINT64_C(315360000000))
        return false;
    *s = (int64_t)(ms / 1000);
    return true;
}

/* "any" (0) or a status a response can be stored with. */
static enum sf_err status_key(const struct sf_confrule_ctx *c, const char *rel, const char *key,
                              int *status)
{
    char at[160];
    snprintf(at, sizeof at, "%s.%s", rel, key);
    if (strcmp(key, "any") == 0) {
        *status = 0;
        return SF_OK;
    }
    bool digits = strlen(key) == 3 && key[0] >= '1' && key[0] <= '9' && key[1] >= '0' &&
                  key[1] <= '9' && key[2] >= '0' && key[2] <= '9';
    int n = digits ? atoi(key) : 0;
    if (n == 206 || n == 304)
        return sf_confrule_fail(
            c, at, true,
            "\"%s\" has status \"%s\", which is never stored as a response of its own "
            "(%s); remove it",
            rel, key,
            n == 206 ? "a partial response is kept only as a slice"
                     : "a 304 refreshes the stored response");
    if (n < 200 || n > 599)
        return sf_confrule_fail(
            c, at, true,
            "\"%s\" has key \"%s\", which is not a status; write a final status from 200 "
            "to 599 like \"200\" or \"404\", or \"any\"",
            rel, key);
    *status = n;
    return SF_OK;
}

/* "ttl" or "force_ttl": a duration, or an object of statuses and "any". */
enum sf_err sf_confrule_ttl(const struct sf_confrule_ctx *c, const char *rel, json_t *v,
                            struct sf_ttl_table *t)
{
    static const char what[] = "a duration in whole seconds, written with its unit, like \"60s\", "
                               "\"10m\" or \"30d\", or an object of statuses "
                               "like {\"200\": \"5m\", \"404\": \"1m\", \"any\": \"10s\"}";
    sf_ttl_table_clear(t);
    if (json_is_string(v)) {
        if (!seconds(v, &t->plain_s))
            return sf_confrule_must(c, rel, v, what);
        return SF_OK;
    }
    if (!json_is_object(v) || json_object_size(v) == 0)
        return sf_confrule_must(c, rel, v, what);
    const char *key;
    json_t *d;
    json_object_foreach(v, key, d)
    {
        int status = 0;
        int64_t s;
        if (status_key(c, rel, key, &status) != SF_OK)
            return SF_EINVAL;
        if (!seconds(d, &s)) {
            char at[160];
            snprintf(at, sizeof at, "%s.%s", rel, key);
            return sf_confrule_must(c, at, d,
                                    "a duration in whole seconds, written with its unit, like "
                                    "\"60s\", \"10m\" or \"30d\"");
        }
        sf_ttl_table_set(t, status, s);
    }
    return SF_OK;
}

enum sf_err sf_confrule_ignore(const struct sf_confrule_ctx *c, const char *rel, json_t *v)
{
    static const char what[] = "a list of \"no-cache\", \"no-store\", \"private\", \"set-cookie\"";
    if (!json_is_array(v))
        return sf_confrule_must(c, rel, v, what);
    size_t i;
    json_t *item;
    unsigned bits = 0;
    json_array_foreach(v, i, item)
    {
        unsigned bit = 0;
        for (unsigned b = 1; b <= SF_TTL_IGNORE_SET_COOKIE && json_is_string(item); b <<= 1)
            if (strcmp(sf_ttl_ignore_name(b), json_string_value(item)) == 0)
                bit = b;
        if (bit == 0)
            return sf_confrule_must(c, rel, v, what);
        bits |= bit;
    }
    c->r->cache.ignore = bits;
    return SF_OK;
}

enum sf_err sf_confrule_key_query(const struct sf_confrule_ctx *c, const char *rel, json_t *v)
{
    static const char what[] = "\"all\", \"none\", {\"keep\": [\"id\", \"page\"]} or "
                               "{\"drop\": [\"utm_*\", \"fbclid\"]}";
    struct sf_key_rule *k = &c->r->key;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s != NULL && (strcmp(s, "all") == 0 || strcmp(s, "none") == 0)) {
        k->query = strcmp(s, "all") == 0 ? SF_KEY_QUERY_ALL : SF_KEY_QUERY_NONE;
        return SF_OK;
    }
    json_t *keep = json_object_get(v, "keep"), *drop = json_object_get(v, "drop");
    if (!json_is_object(v) || json_object_size(v) != 1 || (keep == NULL && drop == NULL))
        return sf_confrule_must(c, rel, v, what);
    k->query = keep != NULL ? SF_KEY_QUERY_KEEP : SF_KEY_QUERY_DROP;
    char at[160];
    snprintf(at, sizeof at, "%s.%s", rel, keep != NULL ? "keep" : "drop");
    return sf_confrule_strings(
        c, at, keep != NULL ? keep : drop, sf_confrule_param_pattern,
        "a list of parameter names, a '*' at the end matching any rest, like "
        "[\"utm_*\", \"fbclid\"]",
        false, false, &k->params, &k->nparams);
}

/* Fields a route may not key on by name: what the key always or never has. */
enum sf_err sf_confrule_key_headers(const struct sf_confrule_ctx *c, const char *rel, json_t *v)
{
    struct sf_key_rule *k = &c->r->key;
    enum sf_err err = sf_confrule_strings(c, rel, v, sf_confvalue_field_name,
                                          "a list of field names like [\"X-Api-Version\"]", false,
                                          false, &k->headers, &k->nheaders);
    for (size_t i = 0; err == SF_OK && i < k->nheaders; i++) {
        const char *h = k->headers[i];
        const char *instead = sf_streq_ci(h, "Cookie") ? "name the cookies in \"key.cookies\""
                              : sf_streq_ci(h, "Authorization") ? "it is in every key already"
                              : sf_streq_ci(h, "Host")
                                  ? "a route that matches on \"match.host\" keys the host"
                                  : NULL;
        if (instead != NULL)
            err =
                sf_confrule_fail(c, rel, false, "\"%s\" lists %s; remove it: %s", rel, h, instead);
    }
    return err;
}

/* Fields clients' responses must keep as sfproxy frames them, or sets itself. */
static bool managed_field(const char *name)
{
    static const char *const managed[] = {"Content-Length", "Transfer-Encoding",
                                          "Connection",     "Keep-Alive",
                                          "Upgrade",        "TE",
                                          "Trailer",        "Age",
                                          "Content-Range"};
    for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++)
        if (sf_streq_ci(name, managed[i]))
            return true;
    return false;
}

enum sf_err sf_confrule_response_set(const struct sf_confrule_ctx *c, const char *rel, json_t *v)
{
    if (!json_is_object(v))
        return sf_confrule_must(c, rel, v,
                                "an object of fields like {\"X-Frame-Options\": \"DENY\"}");
    const char *name;
    json_t *value;
    json_object_foreach(v, name, value)
    {
        char at[160];
        snprintf(at, sizeof at, "%s.%s", rel, name);
        if (!sf_confvalue_field_name(name) || managed_field(name) ||
            sf_streq_ci(name, "Cache-Control"))
            return sf_confrule_fail(
                c, at, true, "\"%s\" cannot set \"%s\"%s", rel, name,
                sf_streq_ci(name, "Cache-Control")
                    ? ": use \"client_cache_control\""
                    : ": it is not a field name, or one sfproxy frames or sets itself "
                      "(Content-Length, Transfer-Encoding, Connection, Age, ...)");
        if (!json_is_string(value) || !sf_confrule_printable(json_string_value(value)))
            return sf_confrule_must(c, at, value, "a non-empty string of printable characters");
        sf_hdrs_add(&c->r->response_set, name, json_string_value(value));
    }
    return SF_OK;
}

bool sf_confrule_removable_field(const char *name)
{
    return sf_confvalue_field_name(name) && !managed_field(name);
}

bool sf_confrule_cookie_pattern(const char *s)
{
    return sf_confrule_param_pattern(s);
}
