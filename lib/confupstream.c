/* confupstream: see confupstream.h. A pool object is read member by member against the
 * list of paths a pool has (pool_keys), as confroute.c reads a route: a path in the list is
 * a value, a prefix of one an object to walk into, anything else an unknown key. Values of
 * a kind the top-level schema has (durations, counts, a file, a host name) go through its
 * checks (sf_conf_apply_field) with the pool's path in their messages; the others (servers,
 * balance, statuses, the health path, host) are read here. The defaults are set before the
 * members are read, and the checks across a pool's keys follow them.
 *
 * Paths in messages and positions are "upstreams.NAME.key"; a name with a dot in it is
 * quoted ("upstreams.'api.v2'.retries"), which confpos reads as one key. */
#include "confupstream.h"

#include "balance.h"
#include "confpos.h"
#include "confvalue.h"
#include "route.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POFF(f) offsetof(struct sf_pool_def, f)

/* The pool's values that have a kind of the top-level schema, checked as it checks them. */
static const struct sf_conf_field pool_fields[] = {
    {"health.interval", K_MS, POFF(health_interval_ms), 100, 3600000},
    {"health.timeout", K_MS, POFF(health_timeout_ms), 10, 3600000},
    {"health.fall", K_UINT, POFF(health_fall), 1, 100},
    {"health.rise", K_UINT, POFF(health_rise), 1, 100},
    {"passive.max_fails", K_UINT, POFF(max_fails), 0, 1000},
    {"passive.fail_timeout", K_MS, POFF(fail_timeout_ms), 100, 86400000},
    {"retries", K_UINT, POFF(retries), 0, SF_BALANCE_MAX_SERVERS - 1},
    {"tls.ca_file", K_FILE, POFF(tls_ca_file), 0, 0},
    {"tls.verify", K_BOOL, POFF(tls_verify), 0, 0},
    {"tls.sni", K_HOSTNAME, POFF(tls_sni), 0, 0},
};
#define NFIELDS (sizeof pool_fields / sizeof pool_fields[0])

/* Every path a pool has, in the order messages list them. */
static const char *const pool_keys[] = {
    "servers",          "balance",     "health.path",   "health.interval",   "health.timeout",
    "health.fall",      "health.rise", "health.status", "passive.max_fails", "passive.fail_timeout",
    "passive.statuses", "retries",     "host",          "tls.ca_file",       "tls.verify",
    "tls.sni",
};
#define NKEYS (sizeof pool_keys / sizeof pool_keys[0])

static const char *const server_keys[] = {"url", "weight", "backup", "name"};
#define NSERVER_KEYS (sizeof server_keys / sizeof server_keys[0])

static const char *const balance_names[] = {
    [SF_BALANCE_ROUND_ROBIN] = "round_robin",
    [SF_BALANCE_LEAST_CONN] = "least_conn",
    [SF_BALANCE_HASH] = "hash",
};

/* The pool being read. */
struct pool_ctx {
    struct sf_conf_loader *ld;
    struct sf_pool_def *p;
    char at[96]; /* "upstreams.api": where its values are, for messages and positions */
};

/* "upstreams.NAME.rel" into out (rel "": the pool itself). */
static const char *path_of(const struct pool_ctx *c, const char *rel, char *out, size_t size)
{
    snprintf(out, size, "%s%s%s", c->at, *rel ? "." : "", rel);
    return out;
}

static enum sf_err fail(const struct pool_ctx *c, const char *rel, bool at_key, const char *fmt,
                        ...) SF_FORMAT(4, 5);

static enum sf_err fail(const struct pool_ctx *c, const char *rel, bool at_key, const char *fmt,
                        ...)
{
    char path[256], msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sf_conf_fail_at(c->ld, path_of(c, rel, path, sizeof path), at_key, "%s", msg);
}

/* "\"upstreams.NAME.rel\" must be WHAT (got V)". */
static enum sf_err must(const struct pool_ctx *c, const char *rel, json_t *v, const char *what)
{
    char path[256];
    char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    enum sf_err err = fail(c, rel, false, "\"%s\" must be %s (got %s)",
                           path_of(c, rel, path, sizeof path), what, shown ? shown : "?");
    free(shown);
    return err;
}

/* The message for key, unknown in the object at rel among keys (prefixed by prefix). */
static enum sf_err unknown_key(const struct pool_ctx *c, const char *const *keys, size_t nkeys,
                               const char *prefix, const char *rel, const char *key)
{
    char known[1024], where[300] = "", guess[96] = "", path[256];
    const char *near = sf_confpos_known_keys(keys, nkeys, prefix, key, known, sizeof known);
    size_t cut = strlen(rel) - strlen(key);
    snprintf(path, sizeof path, "%s%s%.*s", c->at, cut > 0 ? "." : "", (int)(cut > 0 ? cut - 1 : 0),
             rel);
    snprintf(where, sizeof where, " in \"%s\"", path);
    if (near != NULL)
        snprintf(guess, sizeof guess, "did you mean \"%s\"? ", near);
    return fail(c, rel, true, "unknown key \"%s\"%s; %sthe keys allowed here are %s", key, where,
                guess, known);
}

/* A list of 1 to SF_POOL_MAX_STATUSES statuses, each lo..hi, into out. */
static enum sf_err statuses(const struct pool_ctx *c, const char *rel, json_t *v, unsigned lo,
                            unsigned hi, unsigned *out, size_t *n)
{
    char what[128], path[256];
    snprintf(what, sizeof what, "a list of 1 to %d statuses like [%u, %u]", SF_POOL_MAX_STATUSES,
             lo == 500 ? 502u : 200u, lo == 500 ? 503u : 204u);
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > SF_POOL_MAX_STATUSES)
        return must(c, rel, v, what);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_integer(item))
            return must(c, rel, v, what);
        json_int_t s = json_integer_value(item);
        if (s >= lo && s <= hi) {
            out[i] = (unsigned)s;
            continue;
        }
        if (lo == 500 && s >= 100 && s <= 499)
            return fail(c, rel, false,
                        "\"%s\" counts a response as its server's failure, and %lld is not one "
                        "(a %s is the request's, not the server's); list statuses 500..599 only",
                        path_of(c, rel, path, sizeof path), (long long)s,
                        s >= 400 ? "4xx" : "status below 500");
        return fail(c, rel, false, "\"%s\": %lld is not a status %u..%u; remove it",
                    path_of(c, rel, path, sizeof path), (long long)s, lo, hi);
    }
    *n = json_array_size(v);
    return SF_OK;
}

char *sf_confupstream_server_name(const char *url)
{
    const char *host = strstr(url, "://") + 3;
    size_t len = strcspn(host, "/");
    const char *at = memchr(host, '@', len);
    if (at != NULL) {
        len -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    return sf_xstrndup(host, len);
}

/* A server's given name: 1 to 63 letters, digits, '-', '_', '.' and ':' (a path segment of
 * the admin endpoint, a metrics label). */
static bool server_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (const char *q = s; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
              strchr("-_.:", *q) != NULL))
            return false;
    return true;
}

static size_t scheme_len(const char *url)
{
    return (size_t)(strstr(url, "://") - url);
}

/* Two URLs name one server: equal but for a trailing "/". */
static bool same_url(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    la -= la > 0 && a[la - 1] == '/';
    lb -= lb > 0 && b[lb - 1] == '/';
    return la == lb && strncmp(a, b, la) == 0;
}

/* servers[i]'s url: http(s), one scheme in the pool, not given twice. */
static enum sf_err server_url(const struct pool_ctx *c, size_t i, json_t *url, const char *rel)
{
    const struct sf_pool_def *p = c->p;
    char path[256];
    if (url == NULL)
        return fail(c, rel, false,
                    "\"%s\" needs a \"url\" (http:// or https://, like \"http://10.0.0.5:9000\"); "
                    "add one",
                    path_of(c, rel, path, sizeof path));
    char at[160];
    snprintf(at, sizeof at, "%s.url", rel);
    const char *s = json_is_string(url) ? json_string_value(url) : "";
    if (!sf_confvalue_parse_upstream(s))
        return must(c, at, url,
                    "an http:// or https:// URL without query or fragment like "
                    "\"http://10.0.0.5:9000\"");
    const char *first = p->servers[0].url;
    if (i > 0 && (scheme_len(s) != scheme_len(first) || strncmp(s, first, scheme_len(s)) != 0))
        return fail(c, at, false,
                    "\"%s\" is %.*s:// and servers[0] is %.*s://; a pool's servers share one "
                    "scheme (its fetches are keyed by it): put them in two pools",
                    path_of(c, at, path, sizeof path), (int)scheme_len(s), s,
                    (int)scheme_len(first), first);
    for (size_t j = 0; j < i; j++)
        if (same_url(p->servers[j].url, s))
            return fail(c, at, false,
                        "\"%s\": %s is servers[%zu] already; list each server once (give it a "
                        "larger \"weight\" to send it more)",
                        path_of(c, at, path, sizeof path), s, j);
    return SF_OK;
}

/* One entry of "servers", at i, into c->p->servers[i]. */
static enum sf_err server(const struct pool_ctx *c, size_t i, json_t *item)
{
    struct sf_pool_server_def *s = &c->p->servers[i];
    char rel[64], at[96], path[256];
    snprintf(rel, sizeof rel, "servers[%zu]", i);
    if (!json_is_object(item))
        return must(c, rel, item,
                    "a server like {\"url\": \"http://10.0.0.5:9000\", \"weight\": 2, "
                    "\"backup\": false, \"name\": \"api-1\"}");
    const char *key;
    json_t *v;
    json_object_foreach(item, key, v)
    {
        bool known = false;
        for (size_t k = 0; k < NSERVER_KEYS; k++)
            known = known || strcmp(server_keys[k], key) == 0;
        snprintf(at, sizeof at, "%s.%s", rel, key);
        if (!known)
            return unknown_key(c, server_keys, NSERVER_KEYS, "", at, key);
    }
    json_t *url = json_object_get(item, "url"), *weight = json_object_get(item, "weight");
    json_t *backup = json_object_get(item, "backup"), *name = json_object_get(item, "name");
    enum sf_err err = server_url(c, i, url, rel);
    if (err)
        return err;
    snprintf(at, sizeof at, "%s.weight", rel);
    if (weight != NULL && (!json_is_integer(weight) || json_integer_value(weight) < 1 ||
                           json_integer_value(weight) > 1000))
        return must(c, at, weight, "a whole number 1..1000");
    snprintf(at, sizeof at, "%s.backup", rel);
    if (backup != NULL && !json_is_boolean(backup))
        return must(c, at, backup, "true or false");
    snprintf(at, sizeof at, "%s.name", rel);
    if (name != NULL && (!json_is_string(name) || !server_name(json_string_value(name))))
        return must(c, at, name,
                    "a name of 1 to 63 letters, digits, '-', '_', '.' and ':' like \"api-1\"");
    char *named = name != NULL ? sf_xstrdup(json_string_value(name))
                               : sf_confupstream_server_name(json_string_value(url));
    for (size_t j = 0; j < i; j++) {
        if (strcmp(c->p->servers[j].name, named) != 0)
            continue;
        if (name == NULL)
            snprintf(at, sizeof at, "%s.url", rel);
        err = fail(c, at, false,
                   "\"%s\": servers[%zu] is called \"%s\" already (the admin endpoint and the "
                   "metrics name a server so); give %s a \"name\" of its own",
                   path_of(c, at, path, sizeof path), j, named,
                   name == NULL ? "one of them" : "this one");
        free(named);
        return err;
    }
    s->url = sf_xstrdup(json_string_value(url));
    s->name = named;
    s->weight = weight != NULL ? (unsigned)json_integer_value(weight) : 1;
    s->backup = json_is_true(backup);
    return SF_OK;
}

static enum sf_err servers(const struct pool_ctx *c, const char *rel, json_t *v)
{
    struct sf_pool_def *p = c->p;
    char path[256];
    if (!json_is_array(v))
        return must(c, rel, v, "a list of servers like [{\"url\": \"http://10.0.0.5:9000\"}]");
    size_t n = json_array_size(v);
    if (n == 0)
        return fail(c, rel, false,
                    "pool \"%s\" has no servers; list at least one: [{\"url\": "
                    "\"http://10.0.0.5:9000\"}]",
                    p->name);
    if (n > SF_BALANCE_MAX_SERVERS)
        return fail(c, rel, false,
                    "\"%s\" lists %zu servers, more than %d; make two pools (routes can "
                    "send some requests to each)",
                    path_of(c, rel, path, sizeof path), n, SF_BALANCE_MAX_SERVERS);
    p->servers = sf_xcalloc(n, sizeof *p->servers);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        enum sf_err err = server(c, i, item);
        if (err)
            return err; /* the servers read so far are freed with the pool */
        p->nservers++;
    }
    for (i = 0; i < n && p->servers[i].backup; i++)
        ;
    if (i == n)
        return fail(c, rel, false,
                    "every server of pool \"%s\" is a backup, and a backup takes requests "
                    "only when no primary can; make at least one a primary (no \"backup\")",
                    p->name);
    return SF_OK;
}

/* An origin-form path to probe: "/healthz". */
static bool probe_path(const char *s)
{
    if (s[0] != '/')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '#')
            return false;
    return true;
}

/* A Host field's value: a host name, and a port. */
static bool host_value(const char *s)
{
    const char *colon = strrchr(s, ':');
    char host[256];
    if (colon == NULL)
        return sf_confvalue_host_name(s);
    if ((size_t)(colon - s) >= sizeof host || colon[1] == '\0' ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5 ||
        atoi(colon + 1) > 65535)
        return false;
    snprintf(host, sizeof host, "%.*s", (int)(colon - s), s);
    return sf_confvalue_host_name(host);
}

/* The value at rel (a path of pool_keys) of the pool being read. */
static enum sf_err leaf(const struct pool_ctx *c, const char *rel, json_t *v)
{
    struct sf_pool_def *p = c->p;
    for (size_t i = 0; i < NFIELDS; i++) {
        if (strcmp(pool_fields[i].path, rel) != 0)
            continue;
        char path[256];
        struct sf_conf_field f = pool_fields[i];
        f.path = path_of(c, rel, path, sizeof path);
        return sf_conf_apply_field(c->ld, &f, v, p, NULL);
    }
    if (strcmp(rel, "servers") == 0)
        return servers(c, rel, v);
    if (strcmp(rel, "balance") == 0) {
        for (int b = 0; b <= SF_BALANCE_HASH; b++) {
            if (json_is_string(v) && strcmp(json_string_value(v), balance_names[b]) == 0) {
                p->balance = b;
                return SF_OK;
            }
        }
        return must(c, rel, v, "\"round_robin\", \"least_conn\" or \"hash\"");
    }
    if (strcmp(rel, "health.path") == 0) {
        if (!json_is_string(v) || !probe_path(json_string_value(v)))
            return must(c, rel, v, "a path starting with \"/\" like \"/healthz\"");
        p->health_path = sf_xstrdup(json_string_value(v));
        return SF_OK;
    }
    if (strcmp(rel, "health.status") == 0)
        return statuses(c, rel, v, 100, 599, p->health_status, &p->nhealth_status);
    if (strcmp(rel, "passive.statuses") == 0)
        return statuses(c, rel, v, 500, 599, p->fail_status, &p->nfail_status);
    SF_ASSERT(strcmp(rel, "host") == 0); /* pool_keys' last not read above */
    if (!json_is_string(v) || !host_value(json_string_value(v)))
        return must(c, rel, v, "a host name like \"api.internal\", or with a port");
    p->host = sf_xstrdup(json_string_value(v));
    return SF_OK;
}

static enum sf_err members(const struct pool_ctx *c, const char *prefix, json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char rel[128];
        bool object;
        snprintf(rel, sizeof rel, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (!sf_confpos_is_key(pool_keys, NKEYS, rel, &object))
            return unknown_key(c, pool_keys, NKEYS, prefix, rel, key);
        enum sf_err err;
        if (!object)
            err = leaf(c, rel, v);
        else if (!json_is_object(v))
            err = must(c, rel, v, "an object {...}");
        else
            err = members(c, rel, v);
        if (err)
            return err;
    }
    return SF_OK;
}

/* The checks across a pool's keys, once they are read. */
static enum sf_err pool_checks(const struct pool_ctx *c, json_t *obj)
{
    struct sf_pool_def *p = c->p;
    char path[256];
    if (json_object_get(obj, "servers") == NULL)
        return fail(c, "", false,
                    "pool \"%s\" needs \"servers\": [{\"url\": \"http://10.0.0.5:9000\"}, ...]; "
                    "add them",
                    p->name);
    if (json_object_get(obj, "health") != NULL && p->health_path == NULL)
        return fail(c, "health", false,
                    "\"%s\" probes each server at \"path\", and there is none; add \"path\": "
                    "\"/healthz\", or remove \"health\" for no probes",
                    path_of(c, "health", path, sizeof path));
    if (p->health_path != NULL && p->health_timeout_ms > p->health_interval_ms)
        return fail(c, "health.timeout", false,
                    "\"%s\" (%llums) is longer than \"health.interval\" (%llums): a probe would "
                    "still run when the next is due; make it at most the interval",
                    path_of(c, "health.timeout", path, sizeof path),
                    (unsigned long long)p->health_timeout_ms,
                    (unsigned long long)p->health_interval_ms);
    if (p->health_path == NULL)
        p->health_interval_ms = p->health_timeout_ms = p->health_fall = p->health_rise = 0;
    bool https = strncmp(p->servers[0].url, "https://", 8) == 0;
    if (p->tls_sni != NULL && !https)
        return fail(c, "tls.sni", false,
                    "\"%s\" names the TLS server of https:// servers, and pool \"%s\" has "
                    "none; remove it, or make the servers https://",
                    path_of(c, "tls.sni", path, sizeof path), p->name);
    size_t len = scheme_len(p->servers[0].url) + 3 + strlen(p->name) + 1;
    p->key_base = sf_xmalloc(len);
    snprintf(p->key_base, len, "%.*s://%s", (int)scheme_len(p->servers[0].url), p->servers[0].url,
             p->name);
    return SF_OK;
}

static void pool_defaults(struct sf_pool_def *p)
{
    p->balance = SF_BALANCE_ROUND_ROBIN;
    p->health_interval_ms = 2000;
    p->health_timeout_ms = 1000;
    p->health_fall = 3;
    p->health_rise = 2;
    p->max_fails = 1;
    p->fail_timeout_ms = 10000;
    p->retries = 1;
    p->tls_verify = true;
}

static enum sf_err pool(struct sf_conf_loader *ld, struct sf_pool_defs *defs, const char *name,
                        json_t *obj)
{
    struct pool_ctx c = {ld, &defs->v[defs->n], ""};
    bool quote = strchr(name, '.') != NULL && strchr(name, '\'') == NULL;
    snprintf(c.at, sizeof c.at, quote ? "upstreams.'%s'" : "upstreams.%s", name);
    if (!sf_confvalue_peer_id(name))
        return fail(&c, "", true,
                    "\"%s\" is no name for a pool: write 1 to 63 letters, digits, '-', '_' and "
                    "'.' (\"upstream\" names it so, and the admin endpoint and the metrics)",
                    name);
    if (!json_is_object(obj))
        return must(&c, "", obj,
                    "a pool like {\"servers\": [{\"url\": \"http://10.0.0.5:9000\"}]}");
    pool_defaults(c.p);
    c.p->name = sf_xstrdup(name);
    defs->n++; /* filled or not, freed with the others */
    enum sf_err err = members(&c, "", obj);
    return err ? err : pool_checks(&c, obj);
}

enum sf_err sf_confupstream_parse(struct sf_conf_loader *ld, const struct sf_conf_field *f,
                                  json_t *v, struct sf_pool_defs *slot)
{
    if (!json_is_object(v)) {
        char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        enum sf_err err = sf_conf_fail_at(ld, f->path, false, "\"%s\" must be %s (got %s)", f->path,
                                          sf_conf_kind_hint(f->kind), shown ? shown : "?");
        free(shown);
        return err;
    }
    struct sf_pool_defs parsed = {sf_xcalloc(json_object_size(v) + 1, sizeof *parsed.v), 0};
    const char *name;
    json_t *obj;
    json_object_foreach(v, name, obj)
    {
        enum sf_err err = pool(ld, &parsed, name, obj);
        if (err) {
            sf_confupstream_clear(&parsed);
            return err;
        }
    }
    sf_confupstream_clear(slot);
    *slot = parsed;
    return SF_OK;
}

void sf_confupstream_clear(struct sf_pool_defs *defs)
{
    for (size_t i = 0; i < defs->n; i++) {
        struct sf_pool_def *p = &defs->v[i];
        for (size_t j = 0; j < p->nservers; j++) {
            free(p->servers[j].url);
            free(p->servers[j].name);
        }
        free(p->servers);
        free(p->name);
        free(p->key_base);
        free(p->health_path);
        free(p->host);
        free(p->tls_ca_file);
        free(p->tls_sni);
    }
    free(defs->v);
    *defs = (struct sf_pool_defs){0};
}

int sf_confupstream_find(const struct sf_pool_defs *defs, const char *name)
{
    for (size_t i = 0; i < defs->n; i++)
        if (strcmp(defs->v[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *sf_confupstream_balance_name(int balance)
{
    SF_ASSERT(balance >= 0 && balance <= SF_BALANCE_HASH);
    return balance_names[balance];
}

bool sf_confupstream_names_pool(const char *value)
{
    return strstr(value, "://") == NULL;
}

bool sf_confupstream_resolve(const struct sf_pool_defs *defs, char **upstream, int *pool)
{
    if (*upstream == NULL || !sf_confupstream_names_pool(*upstream)) {
        *pool = -1;
        return true;
    }
    int i = sf_confupstream_find(defs, *upstream);
    if (i < 0)
        return false;
    free(*upstream);
    *upstream = sf_xstrdup(defs->v[i].key_base);
    *pool = i;
    return true;
}

/* The message for an "upstream" (at path; label: "" or the route's "route \"api\": ")
 * naming no pool. */
static enum sf_err unknown_pool(struct sf_conf_loader *ld, const char *path, const char *label,
                                const struct sf_pool_defs *defs, const char *name)
{
    if (defs->n == 0)
        return sf_conf_fail_at(ld, path, false,
                               "%s\"upstream\" names the pool \"%s\", and there is no "
                               "\"upstreams\"; define it there, or write a URL like "
                               "\"http://10.0.0.5:9000\"",
                               label, name);
    char known[512] = "", guess[96] = "";
    size_t used = 0;
    unsigned best = 3;
    for (size_t i = 0; i < defs->n; i++) {
        unsigned d = sf_confpos_distance(name, defs->v[i].name);
        if (d < best && d <= 2) {
            best = d;
            snprintf(guess, sizeof guess, "did you mean \"%s\"? ", defs->v[i].name);
        }
        if (used < sizeof known)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s\"%s\"",
                                     used ? ", " : "", defs->v[i].name);
    }
    return sf_conf_fail_at(ld, path, false,
                           "%s\"upstream\" names the pool \"%s\", and \"upstreams\" has none "
                           "of that name; %sthe pools are %s",
                           label, name, guess, known);
}

/* The pool whose key_base the plain upstream URL url starts as (its scheme and authority
 * are "http://api" for a pool "api"), or -1: such a URL's fetches would be keyed, purged
 * and stored together with the pool's, though they reach other servers. */
static int keyed_as_pool(const struct sf_pool_defs *defs, const char *url)
{
    for (size_t i = 0; i < defs->n; i++) {
        size_t n = strlen(defs->v[i].key_base);
        if (strncasecmp(url, defs->v[i].key_base, n) == 0 && strchr("/?#", url[n]) != NULL)
            return (int)i; /* (a NUL end is in the set) */
    }
    return -1;
}

/* Refuses the plain URL upstream at path (pool -1; label as unknown_pool's) when it keys as
 * a pool does. */
static enum sf_err check_url(struct sf_conf_loader *ld, const char *path, const char *label,
                             const struct sf_pool_defs *defs, const char *url, int pool)
{
    int i = url != NULL && pool < 0 ? keyed_as_pool(defs, url) : -1;
    if (i < 0)
        return SF_OK;
    return sf_conf_fail_at(ld, path, false,
                           "%s\"upstream\" %s is keyed as the pool \"%s\" is (its fetches are "
                           "stored as %s/...), so their responses would be served for each "
                           "other's; name the pool (\"upstream\": \"%s\") or rename the pool",
                           label, url, defs->v[i].name, defs->v[i].key_base, defs->v[i].name);
}

enum sf_err sf_confupstream_finish(struct sf_conf_loader *ld, struct sf_config *cfg)
{
    const struct sf_pool_defs *defs = &cfg->upstreams;
    if (cfg->upstream != NULL &&
        !sf_confupstream_resolve(defs, &cfg->upstream, &cfg->upstream_pool))
        return unknown_pool(ld, "upstream", "", defs, cfg->upstream);
    if (check_url(ld, "upstream", "", defs, cfg->upstream, cfg->upstream_pool) != SF_OK)
        return SF_EINVAL;
    for (size_t r = 0; cfg->routes != NULL && r < sf_routes_count(cfg->routes); r++) {
        struct sf_route_def *def = (struct sf_route_def *)sf_routes_at(cfg->routes, r);
        if (def->set.upstream == NULL)
            continue; /* the top level's, filled in by sf_confroute_finish */
        char path[64], label[96];
        snprintf(path, sizeof path, "routes[%zu].upstream", r);
        snprintf(label, sizeof label, "route \"%s\": ", def->name);
        if (!sf_confupstream_resolve(defs, &def->set.upstream, &def->set.upstream_pool))
            return unknown_pool(ld, path, label, defs, def->set.upstream);
        if (check_url(ld, path, label, defs, def->set.upstream, def->set.upstream_pool) != SF_OK)
            return SF_EINVAL;
    }
    if (cfg->upstream_sni != NULL && cfg->upstream_pool >= 0)
        return sf_conf_fail_at(
            ld, "upstream_tls.sni", false,
            "\"upstream_tls.sni\" is for an https:// upstream URL, and \"upstream\" names the "
            "pool \"%s\"; a pool's servers take \"tls.sni\" in their pool: move it there",
            defs->v[cfg->upstream_pool].name);
    if (cfg->upstream_sni != NULL &&
        (cfg->upstream == NULL || strncmp(cfg->upstream, "https://", 8) != 0))
        return sf_conf_fail_at(
            ld, "upstream_tls.sni", false,
            "\"upstream_tls.sni\" names the TLS server of an https:// upstream, and "
            "\"upstream\" is not one; remove it or make the upstream https://");
    return SF_OK;
}
