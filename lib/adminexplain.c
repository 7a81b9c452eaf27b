/* adminexplain: see adminexplain.h. The arguments make the request that explain.h
 * explains: url (a path or an absolute URL, as --explain takes it), host, method (GET by
 * default), and header=Name:Value, repeatable, for the fields a URL cannot carry but a
 * route or the key depends on (Cookie, Authorization, Accept-Language, ...). explain.c
 * decides the route, the upstream URL and the key from the config snapshot in force, as
 * the request path does; the cache is then asked for a copy of what is listed under that
 * key (sf_cache_inspect: one hold of the table lock, nothing touched or moved), and the
 * copy joins the answer as "stored". Where responses vary, the variant the given fields
 * select is marked, chosen as a lookup chooses it: the fields' values as a shared fetch on
 * the route sends them (outbound.h's sf_outbound_sent_value: Accept-Encoding normalised
 * where the route, or the top level, says so; the Cookie narrowed to key.cookies).
 *
 * Runs on: the admin connection's own thread; it shares nothing but the cache (its own
 * lock) and the snapshot (read-only, pinned by the caller). */
#include "adminexplain.h"

#include "cacheview.h"
#include "disktier.h"
#include "explain.h"
#include "outbound.h"
#include "route.h"
#include "variant.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many header= arguments one explain takes. */
#define MAX_FIELDS 64

/* The request the arguments describe, and the first thing wrong with them. */
struct args {
    const char *url, *host, *method;
    struct sf_hdrs fields;
    const char *error;
    char error_buf[160];
};

/* Whether s is a token (RFC 9110 §5.6.2): a method's or a field name's characters. */
static bool is_token(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s) != NULL))
            return false;
    return true;
}

/* Whether s has a byte that cannot be in a request target or a Host: a space, a control
 * character, DEL. */
static bool has_blank_or_control(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return true;
    return false;
}

/* Adds one header=Name:Value to a->fields, or says what is wrong with it. */
static void add_field(struct args *a, const char *line)
{
    const char *colon = line != NULL ? strchr(line, ':') : NULL;
    if (colon == NULL || colon == line || sf_http_check_field_line(line, strlen(line)) != NULL) {
        a->error = "each header= must be one field line, \"Name:Value\": a field name, a colon, "
                   "a value without control characters";
        return;
    }
    if (a->fields.n == MAX_FIELDS) {
        a->error = "too many header= arguments (64 at most)";
        return;
    }
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t len = strlen(value);
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    sf_hdrs_addn(&a->fields, line, (size_t)(colon - line), value, len);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *name,
                                   const char *value)
{
    struct args *a = cls;
    (void)kind;
    if (a->error != NULL)
        return MHD_YES;
    if (strcmp(name, "url") == 0)
        a->url = value;
    else if (strcmp(name, "host") == 0)
        a->host = value;
    else if (strcmp(name, "method") == 0)
        a->method = value;
    else if (strcmp(name, "header") == 0)
        add_field(a, value);
    else {
        snprintf(a->error_buf, sizeof a->error_buf,
                 "unknown argument \"%.40s\"; explain takes url=URL, and optionally host=HOST, "
                 "method=METHOD and header=Name:Value (repeatable)",
                 name);
        a->error = a->error_buf;
    }
    return MHD_YES;
}

/* Reads the arguments of conn into a; false with a->error set when they make no request. */
static bool read_args(struct MHD_Connection *conn, struct args *a)
{
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, a);
    if (a->error == NULL && (a->url == NULL || a->url[0] == '\0'))
        a->error = "give url=URL: a path (\"/x?y\") or an absolute http:// URL, percent-encoded "
                   "as one argument (curl -G --data-urlencode url=...)";
    else if (a->error == NULL && has_blank_or_control(a->url))
        a->error = "url has a space or a control character: percent-encode the URL as one "
                   "argument (curl -G --data-urlencode url=...; a '+' reads as a space)";
    else if (a->error == NULL && a->host != NULL &&
             (a->host[0] == '\0' || has_blank_or_control(a->host)))
        a->error = "host must be a host name, with an optional port, without spaces";
    else if (a->error == NULL && a->method != NULL && !is_token(a->method))
        a->error = "method must be a method name, like GET or HEAD";
    return a->error == NULL;
}

/* A request field for a variant's selection: as a shared fetch on the request's route
 * sends it, by the function the request path selects with (sf_outbound_shared_field). */
struct select_ctx {
    const struct sf_config *cfg;
    const struct sf_route_def *route; /* NULL: none */
    const struct sf_hdrs *fields;
};

static char *select_field(void *ctx, const char *name)
{
    const struct select_ctx *s = ctx;
    struct sf_hdrs lines = {0};
    for (size_t i = 0; i < s->fields->n; i++)
        if (sf_streq_ci(s->fields->v[i].name, name))
            sf_hdrs_add(&lines, s->fields->v[i].name, s->fields->v[i].value);
    char *value = sf_outbound_sent_value(s->cfg, s->route, name, &lines);
    sf_hdrs_clear(&lines);
    return value;
}

/* Which tier holds the response key (a variant's key where they vary) selects: "memory",
 * "disk", "both" or "none". */
static const char *tier(const struct sf_cache_view *view, const char *key)
{
    bool memory = view->kind == SF_CACHE_VIEW_RESPONSE;
    for (size_t i = 0; view->kind == SF_CACHE_VIEW_VARY && i < view->nvariants; i++)
        memory = memory || strcmp(view->variants[i].key, key) == 0;
    bool disk = sf_disktier_holds(key);
    return memory && disk ? "both" : memory ? "memory" : disk ? "disk" : "none";
}

/* What is stored under key, as explain's "stored", with the tier that holds it. */
static json_t *stored(struct sf_cache *cache, const struct sf_config *cfg,
                      const struct sf_route_def *route, const char *key,
                      const struct sf_hdrs *fields)
{
    struct sf_cache_view view = {0};
    sf_cache_inspect(cache, key, sf_config_slice_bytes(cfg), sf_now_ms(), &view);
    char *selected = NULL;
    if (view.kind == SF_CACHE_VIEW_VARY) {
        struct select_ctx ctx = {cfg, route, fields};
        char *variant = sf_policy_variant(view.vary_names, &(struct sf_fields){select_field, &ctx});
        selected = sf_xmalloc(strlen(key) + strlen(variant) + 1);
        strcpy(selected, key);
        strcat(selected, variant);
        free(variant);
    }
    json_t *out = sf_explain_stored(&view, selected);
    if (sf_disktier_on()) /* without a disk tier, memory is the only one */
        json_object_set_new(out, "tier", json_string(tier(&view, selected ? selected : key)));
    free(selected);
    sf_cache_view_clear(&view);
    return out;
}

static struct MHD_Response *json_answer(json_t *doc, size_t flags)
{
    char *text = json_dumps(doc, flags);
    json_decref(doc);
    if (text == NULL)
        return NULL;
    size_t len = strlen(text);
    text = sf_xrealloc(text, len + 2);
    strcpy(text + len, "\n");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len + 1, text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return NULL;
    }
    if (MHD_add_response_header(resp, "Content-Type", "application/json") == MHD_YES)
        return resp;
    MHD_destroy_response(resp);
    return NULL;
}

struct MHD_Response *sf_admin_explain(struct sf_cache *cache, const struct sf_config *cfg,
                                      struct MHD_Connection *conn, unsigned *status)
{
    struct args a = {0};
    json_t *doc = NULL;
    const char *why = NULL;
    if (read_args(conn, &a)) {
        struct sf_explain_req req = {a.method ? a.method : "GET", a.url, a.host, &a.fields};
        doc = sf_explain(cfg, &req, &why);
    } else {
        why = a.error;
    }
    if (doc == NULL) {
        sf_hdrs_clear(&a.fields);
        *status = MHD_HTTP_BAD_REQUEST;
        return json_answer(json_pack("{s:s}", "error", why), JSON_COMPACT);
    }
    json_object_del(doc, "offline"); /* this one looked */
    const char *key = json_string_value(json_object_get(doc, "key"));
    const char *name = json_string_value(json_object_get(doc, "route"));
    const struct sf_route_def *route = name != NULL ? sf_routes_named(cfg->routes, name) : NULL;
    json_t *held = key != NULL ? stored(cache, cfg, route, key, &a.fields) : json_null();
    if (key != NULL && json_is_true(json_object_get(doc, "pass")))
        /* A pass route's requests never look: whatever is listed there stays unused. */
        json_object_set_new(held, "answer", json_string("PASS"));
    json_object_set_new(doc, "stored", held);
    sf_hdrs_clear(&a.fields);
    *status = MHD_HTTP_OK;
    return json_answer(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}
