/* judge: see judge.h. */
#include "judge.h"

#include <stdlib.h>
#include <string.h>

static int64_t parse_length(const char *v)
{
    if (v == NULL || *v < '0' || *v > '9')
        return -1;
    char *end;
    long long n = strtoll(v, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    return *end == '\0' && n >= 0 ? n : -1;
}

static void copy_fields(const struct sf_hdrs *in, struct sf_hdrs *out)
{
    for (size_t i = 0; i < in->n; i++)
        sf_hdrs_add(out, in->v[i].name, in->v[i].value);
}

/* Whether a targeted cache field (RFC 9213) is this cache's own, not to be forwarded. */
static bool stripped_target(const struct sf_cache_rules *rules, const char *name)
{
    for (size_t i = 0; i < rules->ntargeted; i++)
        if (rules->targeted[i].strip && sf_streq_ci(name, rules->targeted[i].name))
            return true;
    return false;
}

/* What forwardable_fields keeps a field by. */
struct forwardable {
    const struct sf_judge_cfg *cfg;
    const char *connection; /* the Connection field's list, or NULL */
};

static bool is_forwardable(const struct sf_hdr *h, void *arg)
{
    const struct forwardable *fw = arg;
    return !sf_http_is_hop_by_hop(h->name, fw->connection) &&
           !sf_streq_ci(h->name, "Content-Length") && !stripped_target(fw->cfg->rules, h->name);
}

/* The fields to keep and send downstream: no hop-by-hop fields (RFC 9110 §7.6.1), no
 * Content-Length, which libmicrohttpd writes from the response size, and no targeted
 * cache field that is this deployment's own. A field meant for every CDN tier on the path
 * (CDN-Cache-Control, RFC 9213 §3.1) goes on to the next one. Takes in's fields over into
 * out (empty), without copying them: in is left empty. An origin's head comes packed
 * (resphead.c) and stays so, compacted in place. */
static void forwardable_fields(const struct sf_judge_cfg *cfg, struct sf_hdrs *in,
                               struct sf_hdrs *out)
{
    SF_ASSERT(out->n == 0 && out->v == NULL);
    /* The Connection list outlives its own field, which goes: a copy, on the stack when it
     * is short (keep-alive, close), as it nearly always is. */
    char *joined, small[64];
    const char *connection = sf_hdrs_list(in, "Connection", &joined);
    if (connection != NULL && joined == NULL) {
        size_t len = strlen(connection);
        connection = len < sizeof small ? memcpy(small, connection, len + 1)
                                        : (joined = sf_xstrdup(connection));
    }
    struct forwardable fw = {cfg, connection};
    sf_hdrs_filter(in, is_forwardable, &fw);
    free(joined);
    if (in->n == 0)
        sf_hdrs_clear(in);
    else if (in->cap > in->n) /* stored with the response: no room it will not use */
        in->v = sf_xrealloc(in->v, (in->cap = in->n) * sizeof *in->v);
    *out = *in;
    memset(in, 0, sizeof *in);
}

static bool is_safe(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "OPTIONS") == 0 || strcmp(method, "TRACE") == 0;
}

char *sf_judge_sent_field(void *hdrs, const char *name)
{
    return sf_policy_forwarded(name, NULL, true) ? sf_hdrs_join(hdrs, name) : NULL;
}

/* Whether a stale response may stand in for an origin failure (RFC 5861 §4): its
 * stale-if-error window (its own, or the configured default) covers how stale it is now,
 * and nothing forbids serving it stale. */
static bool stale_if_error_ok(const struct sf_obj *stale, int64_t now_s)
{
    if (stale == NULL)
        return false;
    int64_t age = sf_policy_current_age(stale->verdict.age_s, stale->response_time_s, now_s);
    return sf_policy_within_stale_window(&stale->verdict, age, stale->verdict.stale_if_error_s);
}

/* The stale response instead of the origin's error, as it is: stored again still stale,
 * so that the next request tries the origin once more and, while the origin stays down,
 * gets it too. It carries the age it has now. */
static void use_stale(const struct sf_obj *stale, int64_t now_s, struct sf_head_decision *d)
{
    d->use = SF_HEAD_STALE;
    d->status = stale->status;
    copy_fields(&stale->hdrs, &d->fields);
    d->length = (int64_t)stale->len;
    d->verdict = stale->verdict;
    d->verdict.age_s = sf_policy_current_age(stale->verdict.age_s, stale->response_time_s, now_s);
    d->verdict.storable = true;
    d->vary_names = sf_xstrdup_opt(stale->vary_names);
    d->variant = sf_xstrdup_opt(stale->variant);
}

/* The verdict on fields (RFC 9111 §3, §4.2), with cache.max_object_bytes applied to a
 * body of length (-1: unknown). True when that limit alone kept it from being stored. */
static bool verdict_of(const struct sf_judge_cfg *cfg, const struct sf_judged_request *req,
                       int status, const struct sf_hdrs *fields, int64_t length, int64_t now_s,
                       struct sf_verdict *v)
{
    struct sf_resp_facts facts = {
        status, fields,    sf_hdrs_get(req->hdrs, "Authorization") != NULL, req->request_time_s,
        now_s,  cfg->rules};
    sf_policy_judge(&facts, v);
    if (length > 0 && (uint64_t)length > cfg->max_object_bytes && v->storable) {
        v->storable = false;
        v->reason = "larger than cache.max_object_bytes";
        return true;
    }
    return false;
}

/* Whether a shared GET's 200, too large to store, is to be kept in slices instead: the
 * origin allows storing it, its length is known, it varies on nothing, it has a strong
 * validator (then *ref), and the origin says it serves byte ranges (RFC 9110 §14.3:
 * Accept-Ranges: bytes; without it a Range might be ignored, and each slice would be the
 * whole response). */
static bool sliceable(const struct sf_judge_cfg *cfg, const struct sf_judged_request *req,
                      const struct sf_head_decision *d, struct sf_slice_ref *ref)
{
    char *accept = sf_hdrs_join(&d->fields, "Accept-Ranges");
    bool ranges = accept != NULL && sf_http_list_has(accept, "bytes");
    free(accept);
    return ranges && cfg->slice_bytes > 0 && req->shared && !req->slice &&
           strcmp(req->method, "GET") == 0 && d->use == SF_HEAD_RECEIVED && d->status == 200 &&
           d->length > 0 && sf_hdrs_get(&d->fields, "Vary") == NULL &&
           sf_slice_ref_of(&d->fields, (uint64_t)d->length, ref);
}

/* The status a response is judged by: a slice fetch's 206 that holds the bytes it asked
 * for is a partial response that may be stored as that slice (RFC 9111 §3.3), by the
 * rules of the 200 it is part of; anything else a slice fetch gets is for its clients
 * alone to look at (slice.h: they check what they combine). */
static int judged_status(const struct sf_judged_request *req, const struct sf_head_decision *d,
                         const struct sf_hdrs *fields)
{
    if (!req->slice)
        return d->status;
    return d->status == 206 && sf_slice_partial_ok(fields, req->slice_first, d->length) ? 200 : 206;
}

/* The body length a head announces for req (RFC 9112 §6.3): none for 1xx, 204, 304; a
 * HEAD's Content-Length describes the GET's body. */
static int64_t length_of(const struct sf_judged_request *req, int status,
                         const struct sf_hdrs *head)
{
    if (strcmp(req->method, "HEAD") != 0 && sf_judge_bodiless(req->method, status))
        return 0;
    return parse_length(sf_hdrs_get(head, "Content-Length"));
}

bool sf_judge_bodiless(const char *method, int status)
{
    return strcmp(method, "HEAD") == 0 || status == 204 || status == 304 ||
           (status >= 100 && status < 200);
}

/* A non-error response to an unsafe method invalidates what is stored for its target and
 * for its Location and Content-Location, when they have the target's origin (§4.4). */
static void invalidations(const struct sf_judged_request *req, int status,
                          const struct sf_hdrs *head, struct sf_head_decision *d)
{
    if (is_safe(req->method) || status < 200 || status >= 400)
        return;
    d->invalidate[0] = sf_xstrdup(req->url);
    size_t n = 1;
    const char *refs[] = {sf_hdrs_get(head, "Location"), sf_hdrs_get(head, "Content-Location")};
    for (size_t i = 0; i < 2; i++) {
        char *url = refs[i] != NULL ? sf_policy_invalidation_url(req->url, refs[i]) : NULL;
        if (url != NULL)
            d->invalidate[n++] = url;
    }
}

/* Whether fields carry a Content-Location that names req's target URI (RFC 9110 §8.7). */
static bool names_target(const struct sf_judged_request *req, const struct sf_hdrs *fields)
{
    const char *location = sf_hdrs_get(fields, "Content-Location");
    char *url = location != NULL ? sf_policy_invalidation_url(req->url, location) : NULL;
    bool same = url != NULL && strcmp(url, req->url) == 0;
    free(url);
    return same;
}

void sf_judge_head(const struct sf_judge_cfg *cfg, const struct sf_judged_request *req, int status,
                   struct sf_hdrs *head, int64_t now_s, struct sf_head_decision *d)
{
    memset(d, 0, sizeof *d);
    const struct sf_obj *stale = req->stale;
    if (status >= 500 && stale_if_error_ok(stale, now_s)) {
        use_stale(stale, now_s, d);
        sf_hdrs_clear(head);
        return;
    }
    d->use = SF_HEAD_RECEIVED;
    d->status = status;
    if (stale != NULL && status == 304) {
        /* The stale response, its fields refreshed by the 304's (RFC 9111 §4.3.4). */
        struct sf_hdrs merged = {0};
        sf_policy_refresh_fields(&stale->hdrs, head, &merged);
        sf_hdrs_clear(head);
        *head = merged;
        d->use = SF_HEAD_REFRESHED;
        d->status = stale->status;
    }
    struct sf_hdrs own = {0}; /* fields for the leader alone */
    if (req->shared && cfg->strip_set_cookie)
        sf_hdrs_remove(head, "Set-Cookie"); /* shared as if the origin had sent none */
    if (req->shared)
        sf_policy_withhold_fields(head, cfg->rules, &own);
    d->length = d->use == SF_HEAD_REFRESHED ? (int64_t)stale->len : length_of(req, d->status, head);
    bool too_big =
        verdict_of(cfg, req, judged_status(req, d, head), head, d->length, now_s, &d->verdict);
    if (stale != NULL && status >= 500 && d->verdict.storable) {
        /* RFC 9111 §4.3.3: a 5xx to a revalidation may be treated as no answer: it goes to
         * this flight's clients, and the stored response stays (stale, to be revalidated
         * again or served within its windows) rather than be replaced by an error. */
        d->verdict.storable = false;
        d->verdict.reason = "a server error while revalidating keeps the stored response";
    }
    if (!req->shared)
        invalidations(req, status, head, d);
    forwardable_fields(cfg, head, &d->fields); /* (head and own are left empty) */
    forwardable_fields(cfg, &own, &d->own);
    d->sliced = too_big && sliceable(cfg, req, d, &d->slice);
    d->update_stored_get = req->has_get_key && strcmp(req->method, "HEAD") == 0 && status == 200;
    d->store_for_get = req->has_get_key && cfg->store_post_responses &&
                       strcmp(req->method, "POST") == 0 && d->verdict.storable &&
                       !d->verdict.heuristic && names_target(req, &d->fields);
    if (req->shared && d->verdict.shareable) {
        char *vary = sf_hdrs_join(&d->fields, "Vary");
        d->vary_names = sf_policy_vary_names(vary);
        free(vary);
        if (d->vary_names != NULL)
            d->variant = sf_policy_variant(
                d->vary_names, &(struct sf_fields){sf_judge_sent_field, (void *)req->hdrs});
    }
}

bool sf_judge_failure(const struct sf_judged_request *req, int64_t now_s,
                      struct sf_head_decision *d)
{
    memset(d, 0, sizeof *d);
    if (!stale_if_error_ok(req->stale, now_s))
        return false;
    use_stale(req->stale, now_s, d);
    return true;
}

void sf_head_decision_clear(struct sf_head_decision *d)
{
    sf_hdrs_clear(&d->fields);
    sf_hdrs_clear(&d->own);
    free(d->vary_names);
    free(d->variant);
    for (size_t i = 0; i < SF_JUDGE_INVALIDATE_MAX; i++)
        free(d->invalidate[i]);
    sf_slice_ref_clear(&d->slice);
    memset(d, 0, sizeof *d);
}

/* Whether the request req sent said no-store (RFC 9111 §5.2.1.5). */
static bool request_no_store(const struct sf_judged_request *req)
{
    char *cc = sf_judge_sent_field((void *)req->hdrs, "Cache-Control");
    char *pragma = sf_judge_sent_field((void *)req->hdrs, "Pragma");
    struct sf_req_directives d;
    sf_policy_request_directives(cc, pragma, &d);
    free(cc);
    free(pragma);
    return d.no_store;
}

enum sf_head_update sf_judge_head_update(const struct sf_judge_cfg *cfg,
                                         const struct sf_judged_request *req,
                                         const struct sf_obj *stored, const struct sf_hdrs *head,
                                         int64_t head_length, int64_t now_s, struct sf_hdrs *merged,
                                         struct sf_verdict *v)
{
    *merged = (struct sf_hdrs){0};
    if (!sf_policy_head_matches(&stored->hdrs, stored->len, head, head_length))
        return SF_HEAD_UPDATE_STALE;
    if (request_no_store(req))
        return SF_HEAD_UPDATE_NONE;
    struct sf_hdrs withheld = {0};
    sf_policy_refresh_fields(&stored->hdrs, head, merged);
    if (cfg->strip_set_cookie)
        sf_hdrs_remove(merged, "Set-Cookie"); /* stored as a shared response's is: without */
    sf_policy_withhold_fields(merged, cfg->rules, &withheld);
    sf_hdrs_clear(&withheld);
    verdict_of(cfg, req, stored->status, merged, -1, now_s, v);
    if (v->storable)
        return SF_HEAD_UPDATE_FIELDS;
    sf_hdrs_clear(merged);
    return SF_HEAD_UPDATE_STALE;
}
