/* confroute: see confroute.h. A route object is read member by member against the list
 * of paths a route has (route_keys): a path in the list is a value, read by its handler; a
 * prefix of some path is an object to walk into; anything else is an unknown key. Values
 * of the top-level keys a route may set go through the top-level schema's checks
 * (sf_conf_apply_field) with the route's path in their messages. The checks that span a
 * route (it needs a name and a match; strip_prefix needs a prefix; a pass route stores
 * nothing) follow each route, and the checks across routes (names, routes hidden by an
 * earlier one) the whole list. */
#include "confroute.h"

#include "confpos.h"
#include "confrule.h"
#include "confvalue.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROFF(f) offsetof(struct sf_route_settings, f)

const struct sf_route_setting sf_route_settings_table[] = {
    {"upstream", ROFF(upstream)},
    {"timeouts.first_byte", ROFF(first_byte_timeout_ms)},
    {"timeouts.upstream_idle", ROFF(upstream_idle_timeout_ms)},
    {"cache.hit_for_pass", ROFF(hit_for_pass_ms)},
    {"cache.max_object_bytes", ROFF(max_object_bytes)},
    {"cache.heuristic_percent", ROFF(heuristic_percent)},
    {"cache.heuristic_max", ROFF(heuristic_max_ms)},
    {"cache.strip_set_cookie", ROFF(strip_set_cookie)},
    {"cache.store_server_errors", ROFF(store_server_errors)},
    {"cache.store_post_responses", ROFF(store_post_responses)},
    {"cache.normalize_accept_encoding", ROFF(normalize_accept_encoding)},
    {"cache.stale_if_error", ROFF(stale_if_error_ms)},
    {"cache.stale_while_revalidate", ROFF(stale_while_revalidate_ms)},
};
const size_t sf_route_nsettings =
    sizeof sf_route_settings_table / sizeof sf_route_settings_table[0];

/* Every path a route has, in the order messages list them. */
static const char *const route_keys[] = {
    "name",
    "match.host",
    "match.path_prefix",
    "match.path_exact",
    "match.path_regex",
    "match.methods",
    "match.header",
    "match.query",
    "upstream",
    "strip_prefix",
    "timeouts.first_byte",
    "timeouts.upstream_idle",
    "pass",
    "cache.ttl",
    "cache.force_ttl",
    "cache.ignore",
    "cache.ignore_request_directives",
    "cache.hit_for_pass",
    "cache.max_object_bytes",
    "cache.heuristic_percent",
    "cache.heuristic_max",
    "cache.strip_set_cookie",
    "cache.store_server_errors",
    "cache.store_post_responses",
    "cache.normalize_accept_encoding",
    "cache.stale_if_error",
    "cache.stale_while_revalidate",
    "key.query",
    "key.sort_query",
    "key.headers",
    "key.cookies",
    "client_cache_control",
    "response_headers.set",
    "response_headers.remove",
};
#define NKEYS (sizeof route_keys / sizeof route_keys[0])

const struct sf_conf_field *sf_conf_field_of(const char *path)
{
    for (size_t i = 0; i < sf_conf_nfields; i++)
        if (strcmp(sf_conf_schema[i].path, path) == 0)
            return &sf_conf_schema[i];
    return NULL;
}

static bool method_name(const char *s)
{
    return sf_confvalue_field_name(s); /* a method is a token too (RFC 9110 §9.1) */
}

static bool plain_param(const char *s)
{
    return sf_confrule_param_pattern(s) && strchr(s, '*') == NULL;
}

/* A pattern compiled, or PCRE2's complaint at the pattern's place. */
static enum sf_err pattern(const struct sf_confrule_ctx *c, const char *rel, json_t *v, char **text,
                           void **code)
{
    if (!json_is_string(v) || json_string_length(v) == 0)
        return sf_confrule_must(c, rel, v, "a regular expression (PCRE2) like \"\\\\.(css|js)$\"");
    char why[256];
    size_t offset = 0;
    void *compiled = NULL;
    if (!sf_route_compile(json_string_value(v), &compiled, why, sizeof why, &offset))
        return sf_confrule_fail(
            c, rel, false,
            "\"%s\" does not compile: %s at offset %zu of \"%s\"; fix the pattern "
            "(PCRE2 syntax, as nginx and Varnish use; in JSON a backslash is \"\\\\\")",
            rel, why, offset, json_string_value(v));
    *text = sf_xstrdup(json_string_value(v));
    *code = compiled;
    return SF_OK;
}

/* "present" or "regex" for one "header" condition (rel: where it is). */
static enum sf_err header_cond(const struct sf_confrule_ctx *c, const char *rel, json_t *item,
                               struct sf_route_header *h)
{
    char at[200];
    snprintf(at, sizeof at, "%.160s.regex", rel);
    static const char what[] = "{\"name\": \"X-Beta\", \"present\": true} or {\"name\": "
                               "\"User-Agent\", \"regex\": \"...\"}, or a list of them";
    json_t *name = json_object_get(item, "name"), *present = json_object_get(item, "present");
    json_t *regex = json_object_get(item, "regex");
    if (!json_is_object(item) || !json_is_string(name) ||
        !sf_confvalue_field_name(json_string_value(name)) || (present == NULL) == (regex == NULL) ||
        json_object_size(item) != 2 || (present != NULL && !json_is_boolean(present)))
        return sf_confrule_must(c, rel, item, what);
    if (regex != NULL && pattern(c, at, regex, &h->regex, &h->_code) != SF_OK)
        return SF_EINVAL;
    h->name = sf_xstrdup(json_string_value(name));
    h->present = present != NULL ? json_is_true(present) : true;
    return SF_OK;
}

static enum sf_err headers_match(const struct sf_confrule_ctx *c, const char *rel, json_t *v)
{
    struct sf_route_match *m = &c->r->match;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (n == 0 || (!json_is_array(v) && !json_is_object(v)))
        return sf_confrule_must(
            c, rel, v, "a header condition like {\"name\": \"X-Beta\", \"present\": true}");
    m->headers = sf_xcalloc(n, sizeof *m->headers);
    for (size_t i = 0; i < n; i++) {
        char at[160];
        snprintf(at, sizeof at, json_is_array(v) ? "%s[%zu]" : "%s", rel, i);
        enum sf_err err =
            header_cond(c, at, json_is_array(v) ? json_array_get(v, i) : v, &m->headers[i]);
        if (err)
            return err; /* what was filled is freed with the route */
        m->nheaders++;
    }
    return SF_OK;
}

static enum sf_err host_match(const struct sf_confrule_ctx *c, const char *rel, json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    bool wild = strncmp(s, "*.", 2) == 0;
    if (!sf_confvalue_host_name(wild ? s + 2 : s))
        return sf_confrule_must(c, rel, v,
                                "a host name like \"api.example.com\" or \"*.example.com\"");
    char *host = sf_xstrdup(s);
    for (char *p = host; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    free(c->r->match.host);
    c->r->match.host = host;
    return SF_OK;
}

/* A path to match: as requests are matched, normalised (route.h). */
static enum sf_err path_match(const struct sf_confrule_ctx *c, const char *rel, json_t *v,
                              char **slot)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (s[0] != '/' || !sf_confrule_printable(s) || strpbrk(s, "?# ") != NULL)
        return sf_confrule_must(c, rel, v,
                                "a path starting with \"/\", without query, like \"/api/\"");
    char *normal = sf_route_path(s);
    if (strcmp(normal, s) != 0) {
        enum sf_err err =
            sf_confrule_fail(c, rel, false,
                             "\"%s\" is matched against normalised paths and \"%s\" is not "
                             "one (escapes of plain characters decoded, no \".\" or \"..\" "
                             "segments); write \"%s\"",
                             rel, s, normal);
        free(normal);
        return err;
    }
    *slot = normal;
    return SF_OK;
}

/* The value at rel (a path of route_keys) of the route being read. */
static enum sf_err leaf(struct sf_confrule_ctx *c, const char *rel, json_t *v)
{
    struct sf_route_def *r = c->r;
    struct sf_route_match *m = &r->match;
    for (size_t i = 0; i < sf_route_nsettings; i++) {
        if (strcmp(sf_route_settings_table[i].path, rel) != 0)
            continue;
        char path[256];
        struct sf_conf_field f = *sf_conf_field_of(rel);
        f.path = sf_confrule_path(c, rel, path, sizeof path);
        f.off = sf_route_settings_table[i].off;
        r->set.given |= UINT32_C(1) << i;
        return sf_conf_apply_field(c->ld, &f, v, &r->set, NULL);
    }
    if (strcmp(rel, "name") == 0)
        return SF_OK; /* read first, by route() */
    if (strcmp(rel, "match.host") == 0)
        return host_match(c, rel, v);
    if (strcmp(rel, "match.path_prefix") == 0)
        return path_match(c, rel, v, &m->path_prefix);
    if (strcmp(rel, "match.path_exact") == 0)
        return path_match(c, rel, v, &m->path_exact);
    if (strcmp(rel, "match.path_regex") == 0)
        return pattern(c, rel, v, &m->path_regex, &m->_path_code);
    if (strcmp(rel, "match.methods") == 0)
        return sf_confrule_strings(c, rel, v, method_name,
                                   "a list of methods like [\"GET\", \"HEAD\"]", false, false,
                                   &m->methods, &m->nmethods);
    if (strcmp(rel, "match.header") == 0)
        return headers_match(c, rel, v);
    if (strcmp(rel, "match.query") == 0)
        return sf_confrule_strings(c, rel, v, plain_param,
                                   "a parameter name, or a list of them, like [\"debug\"]", true,
                                   false, &m->query, &m->nquery);
    if (strcmp(rel, "strip_prefix") == 0 || strcmp(rel, "pass") == 0 ||
        strcmp(rel, "key.sort_query") == 0 || strcmp(rel, "cache.ignore_request_directives") == 0) {
        if (!json_is_boolean(v))
            return sf_confrule_must(c, rel, v, "true or false");
        bool *slot = rel[0] == 's'   ? &r->strip_prefix
                     : rel[0] == 'p' ? &r->pass
                     : rel[0] == 'c' ? &r->ignore_request_directives
                                     : &r->key.sort_query;
        *slot = json_is_true(v);
        return SF_OK;
    }
    if (strcmp(rel, "cache.ttl") == 0)
        return sf_confrule_ttl(c, rel, v, &r->cache.ttl);
    if (strcmp(rel, "cache.force_ttl") == 0)
        return sf_confrule_ttl(c, rel, v, &r->cache.force);
    if (strcmp(rel, "cache.ignore") == 0)
        return sf_confrule_ignore(c, rel, v);
    if (strcmp(rel, "key.query") == 0)
        return sf_confrule_key_query(c, rel, v);
    if (strcmp(rel, "key.headers") == 0)
        return sf_confrule_key_headers(c, rel, v);
    if (strcmp(rel, "key.cookies") == 0) {
        r->key.narrow_cookies = true;
        return sf_confrule_strings(c, rel, v, sf_confrule_cookie_pattern,
                                   "a list of cookie names like [\"ab_bucket\"] ([] for none)",
                                   false, true, &r->key.cookies, &r->key.ncookies);
    }
    if (strcmp(rel, "client_cache_control") == 0) {
        if (!json_is_string(v) || !sf_confrule_printable(json_string_value(v)))
            return sf_confrule_must(c, rel, v,
                                    "a Cache-Control value like \"public, max-age=300\"");
        free(r->client_cache_control);
        r->client_cache_control = sf_xstrdup(json_string_value(v));
        return SF_OK;
    }
    if (strcmp(rel, "response_headers.set") == 0)
        return sf_confrule_response_set(c, rel, v);
    SF_ASSERT(strcmp(rel, "response_headers.remove") == 0); /* route_keys' last */
    return sf_confrule_strings(
        c, rel, v, sf_confrule_removable_field,
        "a list of field names like [\"Server\"], none that sfproxy frames or sets "
        "itself",
        false, false, &r->response_remove, &r->nresponse_remove);
}

static enum sf_err members(struct sf_confrule_ctx *c, const char *prefix, json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char rel[128];
        bool object;
        snprintf(rel, sizeof rel, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (!sf_confpos_is_key(route_keys, NKEYS, rel, &object)) {
            char keys[1024], where[160] = "", guess[96] = "";
            const char *near =
                sf_confpos_known_keys(route_keys, NKEYS, prefix, key, keys, sizeof keys);
            if (*prefix)
                snprintf(where, sizeof where, " in \"%s\"", prefix);
            if (near != NULL)
                snprintf(guess, sizeof guess, "did you mean \"%s\"? ", near);
            return sf_confrule_fail(c, rel, true,
                                    "unknown key \"%s\"%s; %sthe keys allowed here are %s", key,
                                    where, guess, keys);
        }
        enum sf_err err;
        if (!object)
            err = leaf(c, rel, v);
        else if (!json_is_object(v))
            err = sf_confrule_fail(c, rel, false, "\"%s\" must be an object {...}", rel);
        else
            err = members(c, rel, v);
        if (err)
            return err;
    }
    return SF_OK;
}

/* The name: read before the rest, so that every other message can use it. */
static enum sf_err route_name(struct sf_confrule_ctx *c, json_t *route)
{
    json_t *name = json_object_get(route, "name");
    if (name == NULL)
        return sf_confrule_fail(
            c, "", false,
            "a route needs a \"name\" (letters, digits, '-', '_', '.'), which logs, "
            "metrics and explain call it by; add one");
    if (!json_is_string(name) || !sf_confvalue_peer_id(json_string_value(name)))
        return sf_confrule_must(c, "name", name,
                                "a name of 1 to 63 letters, digits, '-', '_' and '.' like \"api\"");
    if (strcmp(json_string_value(name), "-") == 0)
        return sf_confrule_fail(c, "name", false,
                                "\"-\" is what the access log writes for a request no route "
                                "took; give the route a name of its own");
    for (size_t i = 0; i + 1 < sf_routes_count(c->rs); i++)
        if (strcmp(sf_routes_at(c->rs, i)->name, json_string_value(name)) == 0)
            return sf_confrule_fail(
                c, "name", false,
                "the name \"%s\" is taken by routes[%zu] already; give each route a "
                "name of its own (logs and metrics tell routes apart by it)",
                json_string_value(name), i);
    c->r->name = sf_xstrdup(json_string_value(name));
    snprintf(c->label, sizeof c->label, "route \"%s\"", c->r->name);
    return SF_OK;
}

/* The rules across a route's keys, and its warnings. */
static enum sf_err route_checks(struct sf_confrule_ctx *c, json_t *route)
{
    const struct sf_route_def *r = c->r;
    if (json_object_get(route, "match") == NULL)
        return sf_confrule_fail(
            c, "", false,
            "a route needs a \"match\" (every condition in it must hold; {} matches "
            "every request); add one");
    if (r->match.path_prefix != NULL && r->match.path_exact != NULL)
        return sf_confrule_fail(
            c, "match.path_exact", true,
            "give \"path_prefix\" or \"path_exact\", not both (a path that equals one "
            "starts with it anyway)");
    if (r->strip_prefix && r->match.path_prefix == NULL)
        return sf_confrule_fail(
            c, "strip_prefix", false,
            "\"strip_prefix\" cuts \"match.path_prefix\" from the path sent upstream, "
            "and the route has none; add one, or remove \"strip_prefix\"");
    json_t *cache = json_object_get(route, "cache");
    if (r->pass && cache != NULL && json_object_size(cache) > 0) {
        const char *first = json_object_iter_key(json_object_iter(cache));
        char rel[96];
        snprintf(rel, sizeof rel, "cache.%s", first);
        return sf_confrule_fail(c, rel, true,
                                "the route is \"pass\": it never stores or shares a response, so "
                                "\"cache.%s\" would do nothing; remove it, or remove \"pass\"",
                                first);
    }
    for (unsigned bit = SF_TTL_IGNORE_PRIVATE; bit <= SF_TTL_IGNORE_SET_COOKIE; bit <<= 1) {
        if (!(r->cache.ignore & bit))
            continue;
        int line, col;
        char path[256];
        sf_confpos_find(c->ld->text, sf_confrule_path(c, "cache.ignore", path, sizeof path), false,
                        &line, &col);
        sf_log_warn("%s:%d:%d: %s ignores \"%s\": responses its origin meant for one user are "
                    "stored and shared with every client; make sure nothing personal is served "
                    "under it",
                    c->ld->path, line, col, c->label, sf_ttl_ignore_name(bit));
    }
    return SF_OK;
}

static enum sf_err route(struct sf_confrule_ctx *c, json_t *item)
{
    if (!json_is_object(item))
        return sf_confrule_must(
            c, "", item,
            "a route object like {\"name\": \"api\", \"match\": {\"path_prefix\": "
            "\"/api/\"}}");
    enum sf_err err = route_name(c, item);
    if (err == SF_OK)
        err = members(c, "", item);
    if (err == SF_OK)
        err = route_checks(c, item);
    /* Two sites behind one route never share an object: a host match keys the host. */
    c->r->key.host = c->r->match.host != NULL;
    return err;
}

/* A route no request can reach is a mistake in the order (nginx warns of none). */
static enum sf_err hidden_routes(struct sf_conf_loader *ld, struct sf_routes *rs)
{
    for (size_t i = 0; i < sf_routes_count(rs); i++) {
        long j = sf_routes_shadowed_by(rs, i);
        if (j < 0)
            continue;
        const struct sf_route_def *a = sf_routes_at(rs, (size_t)j), *b = sf_routes_at(rs, i);
        struct sf_confrule_ctx c = {ld, rs, NULL, i, ""};
        snprintf(c.label, sizeof c.label, "route \"%s\"", b->name);
        bool all =
            a->match.host == NULL && a->match.path_prefix == NULL && a->match.path_exact == NULL;
        if (all)
            return sf_confrule_fail(
                &c, "", false,
                "can never match: route \"%s\" (routes[%ld]) before it has an empty "
                "\"match\" and takes every request; move \"%s\" above it, or give "
                "\"%s\" a condition",
                a->name, j, b->name, a->name);
        return sf_confrule_fail(
            &c, "", false,
            "can never match: route \"%s\" (routes[%ld]) before it matches every "
            "request it would; move \"%s\" above \"%s\", or narrow \"%s\"",
            a->name, j, b->name, a->name, a->name);
    }
    return SF_OK;
}

enum sf_err sf_confroute_parse(struct sf_conf_loader *ld, const struct sf_conf_field *f, json_t *v,
                               struct sf_routes **slot)
{
    if (!json_is_array(v)) {
        char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        enum sf_err err = sf_conf_fail_at(ld, f->path, false, "\"%s\" must be %s (got %s)", f->path,
                                          sf_conf_kind_hint(f->kind), shown ? shown : "?");
        free(shown);
        return err;
    }
    struct sf_routes *rs = sf_routes_new();
    size_t i;
    json_t *item;
    enum sf_err err = SF_OK;
    json_array_foreach(v, i, item)
    {
        struct sf_confrule_ctx c = {ld, rs, sf_routes_add(rs), i, ""};
        snprintf(c.label, sizeof c.label, "routes[%zu]", i);
        if (c.r == NULL) {
            err = sf_conf_fail_at(ld, "routes", false,
                                  "\"routes\" has more than %d routes; merge some (one route "
                                  "can match many paths with \"path_regex\")",
                                  SF_ROUTES_MAX);
            break;
        }
        err = route(&c, item);
        if (err)
            break;
    }
    if (err == SF_OK)
        err = hidden_routes(ld, rs);
    if (err) {
        sf_routes_free(rs);
        return err;
    }
    sf_routes_free(*slot);
    *slot = rs;
    return SF_OK;
}

/* Copies the top level's value of setting i into a route that did not give it. */
static void inherit(const struct sf_config *cfg, struct sf_route_settings *set, size_t i)
{
    const struct sf_route_setting *s = &sf_route_settings_table[i];
    const struct sf_conf_field *f = sf_conf_field_of(s->path);
    const char *from = (const char *)cfg + f->off;
    char *to = (char *)set + s->off;
    switch (f->kind) {
    case K_MS:
    case K_BYTES: memcpy(to, from, sizeof(uint64_t)); return;
    case K_UINT: memcpy(to, from, sizeof(unsigned)); return;
    case K_BOOL: memcpy(to, from, sizeof(bool)); return;
    default:
        /* "upstream": NULL follows the top level's (command line included:
         * sf_confroute_follow_top), and so does the pool index. */
        set->upstream_pool = cfg->upstream_pool;
        return;
    }
}

void sf_confroute_top_settings(const struct sf_config *cfg, struct sf_route_settings *set)
{
    memset(set, 0, sizeof *set);
    set->upstream_pool = -1;
    for (size_t i = 0; i < sf_route_nsettings; i++)
        inherit(cfg, set, i);
}

void sf_confroute_follow_top(struct sf_config *cfg)
{
    for (size_t r = 0; cfg->routes != NULL && r < sf_routes_count(cfg->routes); r++) {
        struct sf_route_def *def = (struct sf_route_def *)sf_routes_at(cfg->routes, r);
        if (def->set.upstream == NULL)
            def->set.upstream_pool = cfg->upstream_pool;
    }
}

enum sf_err sf_confroute_finish(struct sf_conf_loader *ld, struct sf_config *cfg)
{
    (void)ld;
    if (cfg->routes == NULL)
        return SF_OK;
    for (size_t r = 0; r < sf_routes_count(cfg->routes); r++) {
        struct sf_route_def *def = (struct sf_route_def *)sf_routes_at(cfg->routes, r);
        for (size_t i = 0; i < sf_route_nsettings; i++)
            if (!(def->set.given & (UINT32_C(1) << i)))
                inherit(cfg, &def->set, i);
    }
    sf_routes_index(cfg->routes);
    return SF_OK;
}
