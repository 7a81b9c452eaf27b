/* policy: see policy.h. The rules of RFC 9111 for a shared cache:
 *  - a response is shared with the other waiters of a flight unless it says it belongs to
 *    one user (private, no-store, Set-Cookie) or matches no other request (Vary: *); one
 *    that varies is shared with the waiters whose requests select its variant (§4.1);
 *  - a final response is stored with explicit freshness whatever its status (§3), or with
 *    heuristic freshness when its status is cacheable by default (RFC 9110 §15.1); with
 *    no-cache, when it has a validator, and then it is validated before every use.
 * Everything here is a pure function. */
#include "policy.h"

#include "cluster.h"
#include "resphead.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sf_policy_key(const char *url, const struct sf_hdrs *credentials)
{
    size_t n = credentials != NULL ? credentials->n : 0;
    size_t len = strlen(url) + 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(credentials->v[i].name) + strlen(credentials->v[i].value) + 2;
    char *key = sf_xmalloc(len);
    char *p = stpcpy(key, url);
    /* A newline cannot occur in a URL or a field value (the scanner refuses them), so
     * these parts cannot collide: each line is its own part, in order. */
    for (size_t i = 0; i < n; i++) {
        *p++ = '\n';
        for (const char *c = credentials->v[i].name; *c; c++)
            *p++ = (char)tolower((unsigned char)*c);
        *p++ = ':';
        p = stpcpy(p, credentials->v[i].value);
    }
    *p = '\0';
    return key;
}

bool sf_policy_is_credential(const char *name)
{
    return sf_streq_ci(name, "Authorization") || sf_streq_ci(name, "Cookie");
}

/* Whether a and b are one name to a CGI-style stack: equal ignoring case, with "_" read as
 * "-". Rack, PHP, WSGI and Go's CGI adapters turn both X-Forwarded-Host and X_Forwarded_Host
 * into the variable HTTP_X_FORWARDED_HOST. */
static bool same_variable(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = *a == '_' ? '-' : (char)tolower((unsigned char)*a);
        char y = *b == '_' ? '-' : (char)tolower((unsigned char)*b);
        if (x != y)
            return false;
    }
    return *a == *b;
}

bool sf_policy_identity_field(const char *name)
{
    /* What common frameworks take as the truth about the client, its scheme, host and
     * path, or the method, when a proxy in front is trusted to set it. */
    static const char *const identity[] = {
        /* The client's address: Rails' RemoteIp (Client-IP too), Django and Flask proxy
         * helpers (ProxyFix, django-ipware), Express "trust proxy", Spring, nginx realip,
         * node's request-ip (the CDN ones, X-Cluster-Client-IP, Forwarded-For,
         * X-Forwarded). */
        "X-Forwarded-For",
        "Forwarded",
        "X-Real-IP",
        "X-Client-IP",
        "Client-IP",
        "True-Client-IP",
        "X-Cluster-Client-IP",
        "CF-Connecting-IP",
        "Fastly-Client-IP",
        "Forwarded-For",
        "X-Forwarded",
        /* The scheme: Rack (X-Forwarded-Ssl, -Scheme, -Proto), Spring (X-Forwarded-Ssl),
         * gunicorn's secure_scheme_headers (X-Forwarded-Protocol), CodeIgniter and
         * phpMyAdmin (Front-End-Https), Pyramid/Paste stacks (X-Url-Scheme). */
        "X-Forwarded-Proto",
        "X-Forwarded-Scheme",
        "X-Forwarded-Ssl",
        "X-Forwarded-Protocol",
        "Front-End-Https",
        "X-Url-Scheme",
        /* The host and port: Rack, Django (USE_X_FORWARDED_HOST), Spring, ASP.NET Core
         * (X-Original-Host), Apache's mod_proxy (X-Forwarded-Server); links and redirects
         * are built from them. */
        "X-Forwarded-Host",
        "X-Forwarded-Port",
        "X-Forwarded-Server",
        "X-Original-Host",
        "X-Host",
        /* The path the client asked for, or the prefix it was mounted under: Symfony and
         * IIS (X-Original-URL, X-Rewrite-URL), nginx auth_request setups (X-Original-URI),
         * Traefik's ForwardAuth (X-Forwarded-Uri), Kong (X-Forwarded-Path, -Prefix),
         * Envoy (X-Envoy-Original-Path), Spring and Werkzeug (X-Forwarded-Prefix), Flask
         * recipes (X-Script-Name). Origins route and authorise on them. */
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-Original-URI",
        "X-Forwarded-Uri",
        "X-Forwarded-Path",
        "X-Forwarded-Prefix",
        "X-Envoy-Original-Path",
        "X-Script-Name",
        /* The method: Rack::MethodOverride, Express's method-override, Symfony, Laravel
         * (X-HTTP-Method-Override); OData and Google APIs (the other two). */
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
        /* Next.js: a request carrying it skips the app's middleware, authentication
         * included (CVE-2025-29927). */
        "X-Middleware-Subrequest",
        /* Envoy and Istio: the client certificate a front proxy verified, taken by the
         * application as the caller's identity. */
        "X-Forwarded-Client-Cert",
    };
    for (size_t i = 0; i < sizeof identity / sizeof identity[0]; i++)
        if (same_variable(name, identity[i]))
            return true;
    return false;
}

/* Whether name, with "_" read as "-", is a field sfproxy acts on or writes itself: its
 * underscore spelling would reach a CGI-style origin as that field behind the cache's
 * back. */
static bool spells_managed_field(const char *name)
{
    static const char *const managed[] = {"Max-Forwards", "CDN-Loop", "Accept-Encoding",
                                          "Cache-Control", "Pragma"};
    char folded[64];
    size_t len = strlen(name);
    if (len >= sizeof folded)
        return false; /* longer than any name it could spell */
    for (size_t i = 0; i <= len; i++)
        folded[i] = name[i] == '_' ? '-' : name[i];
    for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++)
        if (sf_streq_ci(folded, managed[i]))
            return true;
    return sf_policy_identity_field(folded) || sf_policy_is_credential(folded) ||
           !sf_policy_forwarded(folded, NULL, true);
}

bool sf_policy_client_field(const char *name, bool trusted, bool underscores)
{
    if (strchr(name, '_') != NULL)
        return underscores && !spells_managed_field(name);
    return trusted || !sf_policy_identity_field(name);
}

void sf_policy_add_forwarding(struct sf_hdrs *h, const char *client_ip, const char *scheme,
                              const char *prior_xff, const char *prior_proto,
                              const char *prior_forwarded, bool forwarded)
{
    bool v6 = strchr(client_ip, ':') != NULL;
    size_t len = strlen(client_ip) + (prior_xff ? strlen(prior_xff) : 0) +
                 (prior_forwarded ? strlen(prior_forwarded) : 0) + 48;
    /* On the stack unless earlier proxies made the lists long: sf_hdrs_add copies it. */
    char small[256];
    char *buf = len <= sizeof small ? small : sf_xmalloc(len);
    snprintf(buf, len, "%s%s%s", prior_xff ? prior_xff : "", prior_xff ? ", " : "", client_ip);
    sf_hdrs_add(h, "X-Forwarded-For", buf);
    sf_hdrs_add(h, "X-Forwarded-Proto", prior_proto ? prior_proto : scheme);
    if (forwarded) {
        /* RFC 7239 §4, §6: an IPv6 node is quoted and bracketed. */
        snprintf(buf, len, "%s%sfor=%s%s%s%s;proto=%s", prior_forwarded ? prior_forwarded : "",
                 prior_forwarded ? ", " : "", v6 ? "\"[" : "", client_ip, v6 ? "]" : "",
                 v6 ? "\"" : "", scheme);
        sf_hdrs_add(h, "Forwarded", buf);
    }
    if (buf != small)
        free(buf);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

bool sf_policy_forwarded(const char *name, const char *connection, bool shared)
{
    /* X-Request-Id: the request's id goes upstream as sfproxy chose it (the client's when
     * it is well formed), once. Sfproxy-Peer: a cluster peer's signature is for one hop,
     * and a client's forged one goes nowhere; nor do the route and Host it covers. */
    static const char *const never[] = {
        "Host",        "Content-Length",    "Expect",          "Via", "X-Request-Id",
        SF_PEER_FIELD, SF_PEER_ROUTE_FIELD, SF_PEER_HOST_FIELD};
    /* A shared flight fetches the whole, unconditional response (RFC 9111 §4.3.1 leaves
     * conditionals of a client to the cache): one client's validators or range must not
     * shape what every waiter gets. */
    static const char *const own[] = {"If-None-Match",       "If-Modified-Since", "If-Match",
                                      "If-Unmodified-Since", "If-Range",          "Range"};
    if (sf_http_is_hop_by_hop(name, connection))
        return false;
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (sf_streq_ci(name, never[i]))
            return false;
    for (size_t i = 0; shared && i < sizeof own / sizeof own[0]; i++)
        if (sf_streq_ci(name, own[i]))
            return false;
    return true;
}

unsigned sf_policy_max_forwards(const char *method, const char *value, char next[24],
                                const char **why)
{
    next[0] = '\0';
    *why = "";
    if (value == NULL || (strcmp(method, "TRACE") != 0 && strcmp(method, "OPTIONS") != 0))
        return 0; /* other methods MAY ignore it (§7.6.2): it goes on untouched */
    uint64_t n = 0;
    for (const char *p = value; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            *why = "Max-Forwards must be a decimal number (RFC 9110 §7.6.2)\n";
            return 400;
        }
        n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(*p - '0');
    }
    if (value[0] == '\0') {
        *why = "Max-Forwards must be a decimal number (RFC 9110 §7.6.2)\n";
        return 400;
    }
    if (n > 0) {
        snprintf(next, 24, "%llu", (unsigned long long)(n - 1));
        return 0;
    }
    /* Zero: this proxy is the final recipient. It knows no resource's methods, so an
     * OPTIONS gets an empty 200 (§9.3.7 asks nothing more); a TRACE is not echoed (it
     * would reflect what the client sent, a shared cache's worst habit): 501, the
     * method not supported here for any resource. */
    if (strcmp(method, "OPTIONS") == 0)
        return 200;
    *why = "TRACE is not answered by sfproxy (Max-Forwards: 0 makes it the final "
           "recipient)\n";
    return 501;
}

static bool status_in(int status, const int *codes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (codes[i] == status)
            return true;
    return false;
}

/* Statuses whose responses are cacheable by default (RFC 9110 §15.1): heuristic freshness
 * applies to them (ttl.c keeps the list, which a route's plain ttl covers too). */
static bool status_cacheable_by_default(int status)
{
    return sf_ttl_cacheable_by_default(status);
}

/* Statuses whose caching rules sfproxy knows (for must-understand, §5.2.2.3): those
 * cacheable by default, and the redirects, client and server errors RFC 9110 defines
 * without caching rules of their own. */
static bool status_understood(int status)
{
    static const int more[] = {302, 303, 307, 400, 403, 451, 500, 502, 503, 504};
    return status_cacheable_by_default(status) ||
           status_in(status, more, sizeof more / sizeof more[0]);
}

/* Why a final response may not be stored for its status alone, or NULL (§3: any final
 * status may be, given explicit freshness; a 206 is never stored as complete, §3.3; a 304
 * only refreshes what is stored, §4.3.4). */
static const char *status_refusal(int status, const struct sf_cc *cc,
                                  const struct sf_cache_rules *rules)
{
    if (status < 200 || status == 206 || status == 304)
        return "status not stored";
    if (cc->must_understand && !status_understood(status))
        return "must-understand: status not understood";
    if (status >= 500 && status != 501 && rules != NULL && !rules->store_server_errors)
        return "server error (cache.store_server_errors is off)";
    return NULL;
}

/* §4.2.1: s-maxage, then max-age, then Expires minus Date (date_s: the response's own
 * Date, however far it is from our clock, or when it has none the time it arrived); with
 * a targeted field (RFC 9213 §2.1) Expires does not count. -1 when none applies. */
static int64_t explicit_lifetime(const struct sf_cc *cc, bool targeted, const struct sf_hdrs *h,
                                 int64_t date_s)
{
    if (cc->s_maxage >= 0)
        return cc->s_maxage;
    if (cc->max_age >= 0)
        return cc->max_age;
    if (targeted)
        return -1;
    size_t lines = 0;
    const char *expires = NULL;
    for (size_t i = 0; i < h->n; i++)
        if (sf_streq_ci(h->v[i].name, "Expires") && lines++ == 0)
            expires = h->v[i].value;
    if (lines == 0)
        return -1;
    int64_t expires_s;
    if (lines > 1 || !sf_http_date_parse(expires, &expires_s))
        return 0; /* an invalid Expires (or more than one) means already expired (§5.3) */
    return expires_s > date_s ? expires_s - date_s : 0;
}

/* §4.2.2: a fraction of the time since Last-Modified, capped; -1 when not allowed. */
static int64_t heuristic_lifetime(const struct sf_cache_rules *rules, const struct sf_hdrs *h,
                                  int64_t date_s)
{
    int64_t modified_s;
    if (rules == NULL || rules->heuristic_percent == 0 ||
        !sf_http_date_parse(sf_hdrs_get(h, "Last-Modified"), &modified_s) || modified_s >= date_s)
        return -1;
    int64_t lifetime = (date_s - modified_s) * (int64_t)rules->heuristic_percent / 100;
    return lifetime < rules->heuristic_max_s ? lifetime : rules->heuristic_max_s;
}

/* The Age field (§5.1): its first member (when it is a list) as delta-seconds; one that
 * is not a non-negative integer ("7200.0", "-1", "1e3") is ignored as if absent (0), and a
 * huge one saturates at 2^31 (§1.2.2: stale). */
static int64_t age_field(const struct sf_hdrs *h)
{
    const char *v = sf_hdrs_get(h, "Age");
    if (v == NULL)
        return 0;
    size_t n = strcspn(v, ",");
    while (n > 0 && is_ows(v[n - 1]))
        n--;
    int64_t age = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        age = age * 10 + (v[i] - '0');
        if (age > 2147483648LL)
            age = 2147483648LL;
    }
    return age;
}

/* The caching directives of a response (as a Cache-Control list), or NULL: those of the
 * first of the rules' targeted fields with a valid, non-empty value (RFC 9213 §2.1; then
 * *targeted is set, and Cache-Control and Expires do not apply), else Cache-Control's.
 * Borrowed from h where it can be (one Cache-Control field); else made in *owned, which the
 * caller frees. */
static const char *cache_control(const struct sf_hdrs *h, const struct sf_cache_rules *rules,
                                 bool *targeted, char **owned)
{
    *targeted = false;
    for (size_t i = 0; rules != NULL && i < rules->ntargeted; i++) {
        char *joined = sf_hdrs_join(h, rules->targeted[i].name);
        char *cc = sf_targeted_cache_control(joined);
        free(joined);
        if (cc != NULL) {
            *targeted = true;
            return *owned = cc;
        }
    }
    return sf_hdrs_list(h, "Cache-Control", owned);
}

void sf_policy_withhold_fields(struct sf_hdrs *h, const struct sf_cache_rules *rules,
                               struct sf_hdrs *own)
{
    bool targeted;
    char *owned;
    const char *cc = cache_control(h, rules, &targeted, &owned);
    if (cc == NULL || strchr(cc, '"') == NULL) {
        free(owned);
        return; /* the common case: no qualified directive */
    }
    struct sf_hdrs kept = {0};
    for (size_t i = 0; i < h->n; i++)
        sf_hdrs_add(sf_http_cc_names_field(cc, h->v[i].name) ? own : &kept, h->v[i].name,
                    h->v[i].value);
    sf_hdrs_clear(h);
    *h = kept;
    free(owned);
}

/* Why a shareable response may not be stored, or NULL when it may (§3), given its
 * freshness lifetime (-1: none) and v's age. */
static const char *unstorable_reason(const struct sf_resp_facts *facts, const struct sf_cc *cc,
                                     int64_t lifetime, const struct sf_verdict *v)
{
    const struct sf_hdrs *h = facts->hdrs;
    bool validator = sf_hdrs_get(h, "ETag") != NULL || sf_hdrs_get(h, "Last-Modified") != NULL;
    const char *refusal = status_refusal(facts->status, cc, facts->rules);
    if (refusal != NULL)
        return refusal;
    /* §5.2.2.4: no-cache may be stored, and is validated before every use; worth it only
     * with a validator, so that the validation can be a 304. */
    if (cc->no_cache && !validator)
        return "Cache-Control: no-cache without a validator";
    if (!cc->no_cache && lifetime < 0)
        return "no freshness lifetime, explicit or heuristic";
    /* Stale on arrival (a slow or distant origin, Date's whole seconds): kept only when it
     * can still be used, revalidated (a 304 saves sending the body again) or served stale
     * within a window that covers it already. */
    int64_t window = v->stale_while_revalidate_s > v->stale_if_error_s ? v->stale_while_revalidate_s
                                                                       : v->stale_if_error_s;
    if (!cc->no_cache && v->fresh_s <= v->age_s && !validator &&
        !sf_policy_within_stale_window(v, v->age_s, window))
        return "stale on arrival, with no validator and no stale window";
    if (facts->request_had_authorization && !cc->public_ && !cc->must_revalidate &&
        cc->s_maxage < 0)
        return "response to Authorization (RFC 9111 §3.5)";
    return NULL;
}

/* The freshness of a response (RFC 9111 §4.2.1, §4.2.2), with the rules' route rule (ttl.h)
 * over it, and which of the origin's refusals still hold; cc's no_cache becomes what
 * still holds. date_s: the origin's Date. */
static void freshness(const struct sf_resp_facts *facts, struct sf_cc *cc, bool targeted,
                      int64_t date_s, struct sf_ttl_decision *d)
{
    const struct sf_hdrs *h = facts->hdrs;
    const struct sf_cache_rules *rules = facts->rules;
    struct sf_ttl_origin o = {facts->status, explicit_lifetime(cc, targeted, h, date_s), -1,
                              /* §5.2.2.3: with must-understand, a cache that knows the
                               * status's caching rules ignores no-store; one that does not
                               * must not store. We know the storable ones. */
                              cc->no_store &&
                                  !(cc->must_understand && status_understood(facts->status)),
                              cc->no_cache, cc->private_, sf_hdrs_get(h, "Set-Cookie") != NULL};
    if (o.explicit_s < 0)
        o.heuristic_s = heuristic_lifetime(rules, h, date_s);
    sf_ttl_decide(&o, rules != NULL ? rules->ttl : NULL, d);
    cc->no_cache = d->no_cache;
}

void sf_policy_judge(const struct sf_resp_facts *facts, struct sf_verdict *v)
{
    const struct sf_hdrs *h = facts->hdrs;
    const struct sf_cache_rules *rules = facts->rules;
    struct sf_cc cc;
    bool targeted;
    char *owned, *vary_owned;
    sf_http_cc_parse(cache_control(h, rules, &targeted, &owned), &cc);
    free(owned);
    const char *vary = sf_hdrs_list(h, "Vary", &vary_owned);

    /* The origin's Date: lifetimes are measured on its clock (Expires - Date, §4.2.1), ages
     * on ours, where a Date in the future counts as none (§4.2.3). */
    int64_t date_s = facts->response_time_s;
    if (!sf_http_date_parse(sf_hdrs_get(h, "Date"), &date_s))
        date_s = facts->response_time_s;
    struct sf_ttl_decision fresh;
    freshness(facts, &cc, targeted, date_s, &fresh);

    memset(v, 0, sizeof *v);
    v->shareable = true;
    v->ignored = fresh.ignored;
    if (fresh.private_)
        v->reason = "Cache-Control: private";
    else if (fresh.no_store)
        v->reason = "Cache-Control: no-store";
    else if (fresh.set_cookie)
        v->reason = "Set-Cookie";
    else if (vary != NULL && sf_http_list_has(vary, "*"))
        v->reason = "Vary: *"; /* §4.1: it matches no other request */
    free(vary_owned);
    if (v->reason != NULL) {
        v->shareable = false;
        return;
    }

    /* §4.2.3: the corrected initial age. */
    int64_t apparent = facts->response_time_s - date_s;
    int64_t delay = facts->response_time_s - facts->request_time_s;
    int64_t corrected = age_field(h) + (delay > 0 ? delay : 0);
    if (apparent < 0)
        apparent = 0;
    v->age_s = apparent > corrected ? apparent : corrected;

    int64_t lifetime = fresh.lifetime_s;
    v->fresh_from = fresh.source;
    v->heuristic = fresh.source == SF_TTL_HEURISTIC;
    v->fresh_s = lifetime > 0 ? lifetime : 0;
    v->must_validate = cc.no_cache;
    v->never_stale = cc.no_cache || cc.must_revalidate || cc.proxy_revalidate || cc.s_maxage >= 0;
    v->stale_if_error_s = cc.stale_if_error >= 0 ? cc.stale_if_error
                          : rules != NULL        ? rules->stale_if_error_s
                                                 : -1;
    v->stale_while_revalidate_s = cc.stale_while_revalidate >= 0 ? cc.stale_while_revalidate
                                  : rules != NULL                ? rules->stale_while_revalidate_s
                                                                 : -1;
    v->reason = unstorable_reason(facts, &cc, lifetime, v);
    v->storable = v->reason == NULL;
}

void sf_policy_request_directives(const char *cache_control, const char *pragma,
                                  struct sf_req_directives *d)
{
    struct sf_cc cc;
    sf_http_cc_parse(cache_control, &cc);
    d->no_cache = cc.no_cache ||
                  (cache_control == NULL && pragma != NULL && sf_http_list_has(pragma, "no-cache"));
    d->no_store = cc.no_store;
    d->only_if_cached = cc.only_if_cached;
    d->max_age_s = cc.max_age;
    d->min_fresh_s = cc.min_fresh;
    d->max_stale_s = cc.max_stale_any && cc.max_stale < 0 ? INT64_MAX : cc.max_stale;
}

bool sf_policy_acceptable(const struct sf_verdict *v, int64_t age_s,
                          const struct sf_req_directives *d)
{
    int64_t left = v->fresh_s - age_s; /* seconds of freshness left; <= 0 is stale */
    if (v->must_validate || d->no_cache || (d->max_age_s >= 0 && age_s > d->max_age_s))
        return false;
    if (d->min_fresh_s >= 0 && left < d->min_fresh_s)
        return false;
    if (left > 0)
        return true;
    /* Stale: only for a client that said it accepts so much staleness, and never for a
     * response that forbids it. */
    return !v->never_stale && d->max_stale_s >= 0 && -left <= d->max_stale_s;
}

bool sf_policy_stale_allowed(const struct sf_req_directives *d, const struct sf_verdict *v,
                             int64_t age_s)
{
    if (d == NULL)
        return true;
    int64_t staleness = age_s - v->fresh_s;
    return !d->no_cache && (d->max_age_s < 0 || age_s <= d->max_age_s) && d->min_fresh_s < 0 &&
           (d->max_stale_s < 0 || staleness <= d->max_stale_s);
}

bool sf_policy_not_modified(const struct sf_hdrs *stored, const char *if_none_match,
                            const char *if_modified_since)
{
    if (if_none_match != NULL)
        return sf_http_etag_matches(if_none_match, sf_hdrs_get(stored, "ETag"));
    int64_t since, modified;
    /* §4.3.2: without Last-Modified, the stored response's Date. */
    const char *lm = sf_hdrs_get(stored, "Last-Modified");
    if (lm == NULL)
        lm = sf_hdrs_get(stored, "Date");
    return if_modified_since != NULL && lm != NULL &&
           sf_http_date_parse(if_modified_since, &since) && sf_http_date_parse(lm, &modified) &&
           modified <= since;
}

bool sf_policy_if_range_holds(const struct sf_hdrs *stored, const char *if_range)
{
    if (if_range == NULL)
        return true;
    if (if_range[0] == '"' || strncmp(if_range, "W/", 2) == 0) {
        const char *etag = sf_hdrs_get(stored, "ETag");
        return if_range[0] == '"' && etag != NULL && etag[0] == '"' && strcmp(etag, if_range) == 0;
    }
    int64_t since, modified;
    return sf_http_date_parse(if_range, &since) &&
           sf_http_date_parse(sf_hdrs_get(stored, "Last-Modified"), &modified) && since == modified;
}

void sf_policy_refresh_fields(const struct sf_hdrs *stored, const struct sf_hdrs *fresh,
                              struct sf_hdrs *out)
{
    for (size_t i = 0; i < stored->n; i++) {
        const struct sf_hdr *h = &stored->v[i];
        /* The stored Age was the old response's age on arrival: the refreshed response is
         * as old as the 304 says (§4.2.3), not older. */
        bool replaced = sf_streq_ci(h->name, "Age") ||
                        (!sf_streq_ci(h->name, "Content-Length") && sf_hdrs_get(fresh, h->name));
        if (!replaced)
            sf_hdrs_add(out, h->name, h->value);
    }
    for (size_t i = 0; i < fresh->n; i++)
        if (!sf_streq_ci(fresh->v[i].name, "Content-Length"))
            sf_hdrs_add(out, fresh->v[i].name, fresh->v[i].value);
    size_t bytes = sizeof "HTTP/1.1 200 OK\r\n\r\n"; /* a status line and the end */
    for (size_t i = 0; i < out->n; i++)
        bytes += strlen(out->v[i].name) + 2 + strlen(out->v[i].value) + 2;
    if (bytes <= SF_RESPHEAD_BYTES_MAX && out->n <= SF_RESPHEAD_FIELDS_MAX)
        return;
    sf_hdrs_clear(out);
    for (size_t i = 0; i < stored->n; i++)
        sf_hdrs_add(out, stored->v[i].name, stored->v[i].value);
}

/* Whether a field the HEAD response has is equal in the stored response. */
static bool same_if_present(const struct sf_hdrs *stored, const struct sf_hdrs *head,
                            const char *name)
{
    const char *h = sf_hdrs_get(head, name), *s = sf_hdrs_get(stored, name);
    return h == NULL || (s != NULL && strcmp(h, s) == 0);
}

bool sf_policy_head_matches(const struct sf_hdrs *stored, size_t body_len,
                            const struct sf_hdrs *head, int64_t head_length)
{
    bool validated =
        sf_hdrs_get(head, "ETag") != NULL || sf_hdrs_get(head, "Last-Modified") != NULL;
    return validated && same_if_present(stored, head, "ETag") &&
           same_if_present(stored, head, "Last-Modified") &&
           same_if_present(stored, head, "Content-Type") &&
           same_if_present(stored, head, "Content-Encoding") &&
           (head_length < 0 || (uint64_t)head_length == body_len);
}

bool sf_policy_within_stale_window(const struct sf_verdict *v, int64_t age_s, int64_t window_s)
{
    return !v->never_stale && window_s >= 0 && age_s - v->fresh_s <= window_s;
}

/* Removes "." and ".." segments from the path at the start of s, in place (RFC 3986
 * §5.2.4); what follows the path ("?query") moves up with it. */
static void remove_dot_segments(char *s)
{
    char *out = s, *in = s;
    size_t path_len = strcspn(s, "?");
    char *end = s + path_len;
    while (in < end) {
        size_t seg = strcspn(in + 1, "/?") + 1; /* "/name" */
        if (in + seg > end)
            seg = (size_t)(end - in);
        if (seg == 2 && in[1] == '.') { /* "/." */
            in += 2;
            if (in == end)
                *out++ = '/';
        } else if (seg == 3 && in[1] == '.' && in[2] == '.') { /* "/.." */
            while (out > s && *--out != '/')
                ;
            in += 3;
            if (in == end)
                *out++ = '/';
        } else {
            memmove(out, in, seg);
            out += seg;
            in += seg;
        }
    }
    memmove(out, end, strlen(end) + 1);
}

char *sf_policy_invalidation_url(const char *request_url, const char *ref)
{
    const char *authority = strstr(request_url, "://");
    if (authority == NULL)
        return NULL;
    /* The origin: "scheme://authority", compared exactly (same scheme, host and port). */
    size_t origin_len = (size_t)(authority + 3 - request_url) + strcspn(authority + 3, "/?#");
    size_t ref_len = strcspn(ref, "#"); /* a fragment is not part of what is stored */
    if (strstr(ref, "://") != NULL && strcspn(ref, ":") < strcspn(ref, "/?#")) {
        if (strncmp(ref, request_url, origin_len) != 0 || strchr("/?#", ref[origin_len]) == NULL)
            return NULL; /* another origin: MUST NOT (a NUL end matches strchr too) */
        return sf_xstrndup(ref, ref_len);
    }
    if (ref[0] == '/' && ref[1] == '/')
        return NULL; /* a network-path reference: another authority */
    /* RFC 3986 §5.2.2: an absolute path replaces the base's path; a query alone keeps it;
     * a relative path is merged with the base path's directory (§5.2.3). */
    if (ref_len == 0)
        return sf_xstrndup(request_url, strcspn(request_url, "#")); /* the target itself */
    const char *base_path = request_url + origin_len;
    size_t base_len = strcspn(base_path, "?#");
    size_t keep = 0; /* of the base path */
    if (ref[0] == '?')
        keep = base_len;
    else if (ref[0] != '/')
        for (size_t i = 0; i < base_len; i++)
            keep = base_path[i] == '/' ? i + 1 : keep;
    char *url = sf_xmalloc(origin_len + keep + ref_len + 2);
    memcpy(url, request_url, origin_len);
    char *path = url + origin_len;
    memcpy(path, base_path, keep);
    if (keep == 0 && ref[0] != '/' && ref[0] != '?')
        path[keep++] = '/'; /* merging with an empty base path (§5.2.3) */
    memcpy(path + keep, ref, ref_len);
    path[keep + ref_len] = '\0';
    if (path[0] == '/')
        remove_dot_segments(path);
    return url;
}

int64_t sf_policy_current_age(int64_t initial_age_s, int64_t response_time_s, int64_t now_s)
{
    int64_t resident = now_s - response_time_s;
    return initial_age_s + (resident > 0 ? resident : 0);
}
