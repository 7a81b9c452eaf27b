/* policy: the pure rules of a shared HTTP cache (RFC 9111) that the singleflight core and
 * the cache ask about: what a request's cache key is, whether a response may be shared
 * with other waiters, whether it may be stored, and for how long it is fresh. No clock
 * of its own: callers pass times in. */
#ifndef SF_POLICY_H
#define SF_POLICY_H

#include "http.h"
#include "variant.h"
#include "targeted.h"
#include "ttl.h"

/* Builds the cache key of a GET or HEAD request: the absolute URL fetched upstream (scheme,
 * host, raw target with its query), plus every credential field line the request carries
 * (its Authorization and Cookie lines, in the order sent, each value exactly as forwarded;
 * credentials may be NULL: none), so that two requests whose forwarded credentials differ
 * in any way never share a flight or an object. Caller frees. */
char *sf_policy_key(const char *url, const struct sf_hdrs *credentials);

/* Whether a request field is a credential the cache key must include. */
bool sf_policy_is_credential(const char *name);

/* Whether a request field tells the origin who the client is or what it asked for on the
 * way (X-Forwarded-*, Forwarded, X-Real-IP, X-Original-URL, X-Rewrite-URL, method
 * overrides and the rest of policy.c's list), spelt with "-" or "_" in any mix. Origins
 * act on them and caches do not key on them: from a client that is not a trusted proxy
 * they are dropped, and sfproxy writes its own. */
bool sf_policy_identity_field(const char *name);

/* Whether a field a client sent may go upstream at all (sf_policy_forwarded decides the
 * rest), or select a variant. A name with "_" only with underscores (forward_underscore_fields;
 * nginx's underscores_in_headers), and never when, with "_" read as "-", it spells a
 * field sfproxy acts on (identity, credentials, hop-by-hop, its own, a client's
 * conditionals, Max-Forwards, Accept-Encoding, Cache-Control, Pragma), trusted or not:
 * CGI-style origins read both spellings as one variable. An identity field only from a
 * trusted proxy. */
bool sf_policy_client_field(const char *name, bool trusted, bool underscores);

/* RFC 9110 §7.6.2: whether a request of method with Max-Forwards value (joined; NULL:
 * none) goes upstream. Returns 0 when it does, with next the value to send instead
 * (empty: leave it as it is; for TRACE and OPTIONS, one less); else the status to answer
 * with here, its text in *why: 200 for OPTIONS and 501 for TRACE at 0 (this proxy is
 * the final recipient), 400 for a value that is not digits. Other methods ignore it. */
unsigned sf_policy_max_forwards(const char *method, const char *value, char next[24],
                                const char **why);

/* Writes the forwarding fields of a request from client_ip (text; IPv6 without brackets)
 * that came in over scheme ("http" or "https") into h: X-Forwarded-For with the client
 * appended, X-Forwarded-Proto, and, with forwarded, an RFC 7239 Forwarded element
 * appended. prior_* are the values a trusted proxy sent (joined; NULL: none), which they
 * extend; h must hold none of these fields. */
void sf_policy_add_forwarding(struct sf_hdrs *h, const char *client_ip, const char *scheme,
                              const char *prior_xff, const char *prior_proto,
                              const char *prior_forwarded, bool forwarded);

/* Whether a request field is sent upstream (a shared flight's, with shared): not
 * hop-by-hop (connection: the request's Connection value, may be NULL), not one the
 * proxy sets itself, and, for a shared flight, not one client's own conditional or
 * range. The request a stored response answered is made of these fields (§4.1). */
bool sf_policy_forwarded(const char *name, const char *connection, bool shared);

/* What a deployment tunes about the rules (from the config). */
struct sf_cache_rules {
    const struct sf_targeted *targeted; /* RFC 9213 fields obeyed, first valid one wins */
    size_t ntargeted;
    unsigned heuristic_percent;       /* of the time since Last-Modified (§4.2.2); 0: never */
    int64_t heuristic_max_s;          /* cap on a heuristic freshness lifetime */
    int64_t stale_while_revalidate_s; /* RFC 5861 windows for responses that set none; */
    int64_t stale_if_error_s;         /* -1: none */
    bool store_server_errors;         /* store 5xx with explicit freshness (§3) */
    const struct sf_ttl_rule *ttl;    /* a route's ttl, force_ttl and ignore; NULL: none */
};

/* The facts about a response that a verdict is built from. Times are wall-clock seconds:
 * when the request went upstream and when its headers arrived. rules may be NULL. */
struct sf_resp_facts {
    int status;
    const struct sf_hdrs *hdrs;
    bool request_had_authorization;
    int64_t request_time_s;
    int64_t response_time_s;
    const struct sf_cache_rules *rules;
};

struct sf_verdict {
    /* (Small fields first, together: every stored response keeps a verdict, 56 bytes.) */
    bool shareable;     /* may be sent to the other waiters of its flight */
    bool storable;      /* may be kept in the cache once complete */
    bool never_stale;   /* no-cache, must-revalidate, proxy-revalidate or s-maxage: §4.2.4 */
    bool must_validate; /* no-cache (§5.2.2.4): validated before every use, however fresh */
    bool heuristic;     /* fresh_s is a heuristic lifetime (§4.2.2) */
    enum sf_ttl_source fresh_from; /* where fresh_s came from (the origin, a route, ...) */
    unsigned ignored;   /* SF_TTL_IGNORE_*: origin directives the route's rule disregarded */
    int64_t fresh_s;    /* freshness lifetime, RFC 9111 §4.2.1 */
    int64_t age_s;      /* corrected initial age at response_time, §4.2.3 */
    const char *reason; /* why it is not shareable or not storable, for the debug log: a static
                         * sentence, never freed (a hit-for-pass marker keeps it, cache.c) */
    int64_t stale_if_error_s;         /* RFC 5861 §4 window, or the rules' default; -1 */
    int64_t stale_while_revalidate_s; /* RFC 5861 §3 window, or the rules' default; -1 */
};

void sf_policy_judge(const struct sf_resp_facts *facts, struct sf_verdict *v);

/* Moves the fields a response's qualified private="..." and no-cache="..." directives name
 * (RFC 9111 §5.2.2.7: a shared cache must not store them; §5.2.2.4: nor reuse them without
 * validation) from h into own, for the one client whose request brought the response. The
 * rest is judged, shared and stored as the response. rules may be NULL. */
void sf_policy_withhold_fields(struct sf_hdrs *h, const struct sf_cache_rules *rules,
                               struct sf_hdrs *own);

/* Whether a client's conditional GET or HEAD is answered 304 from a stored 200 response
 * with fields stored (RFC 9110 §13.1.1, §13.1.3, §13.2.2): If-None-Match against its ETag;
 * without If-None-Match, If-Modified-Since against its Last-Modified. Either may be NULL. */
bool sf_policy_not_modified(const struct sf_hdrs *stored, const char *if_none_match,
                            const char *if_modified_since);

/* Whether a Range request's If-Range (may be NULL: none) lets a range of a stored
 * response with fields stored be sent (RFC 9110 §13.1.5): an entity-tag that is strong
 * and equal to the stored ETag, or a date equal to the stored Last-Modified. When not,
 * the whole response is sent. */
bool sf_policy_if_range_holds(const struct sf_hdrs *stored, const char *if_range);

/* The stored fields of a response refreshed by a 304 (RFC 9111 §3.2, §4.3.4): each field
 * of the 304 replaces the stored fields of that name, except Content-Length; the stored
 * Age goes (the refreshed response is as old as the 304). Writes the result into *out
 * (which must be empty). A result larger than an origin's head may be (resphead.h) would
 * not fit beside a request head in libmicrohttpd's pool (mhdpool.h): then the stored
 * fields stay as they are. */
void sf_policy_refresh_fields(const struct sf_hdrs *stored, const struct sf_hdrs *fresh,
                              struct sf_hdrs *out);

/* Whether a 200 response to HEAD (fields head, its Content-Length head_length; -1: none)
 * describes the same representation as a stored GET response (fields stored, body_len
 * bytes), so that its fields may update it (RFC 9111 §4.3.5): it has at least one
 * validator (ETag, Last-Modified) and each equals the stored one, its Content-Length (when
 * it has one) is the stored body's length, and the fields the stored body is read by
 * (Content-Type, Content-Encoding), when it has them, are the stored ones. A HEAD response
 * without validators cannot tell one representation from another: it never matches. When
 * it does not match, the stored response is to be treated as stale. */
bool sf_policy_head_matches(const struct sf_hdrs *stored, size_t body_len,
                            const struct sf_hdrs *head, int64_t head_length);

/* What a request accepts from the cache, from its Cache-Control (RFC 9111 §5.2.1) or, without
 * one, its Pragma (§5.4). A delta of -1 is absent. */
struct sf_req_directives {
    bool no_cache;       /* a stored response must be validated first */
    bool no_store;       /* the response to this request must not be stored */
    bool only_if_cached; /* answer from the cache or with 504, never from upstream */
    int64_t max_age_s, min_fresh_s, max_stale_s; /* max_stale_s INT64_MAX: any staleness */
};

/* Parses a request's (joined) Cache-Control and Pragma values; either may be NULL. */
void sf_policy_request_directives(const char *cache_control, const char *pragma,
                                  struct sf_req_directives *d);

/* Whether a stored response whose age is now age_s may answer a request with directives d
 * without contacting the origin (§4, §4.2.4, §5.2.1). */
bool sf_policy_acceptable(const struct sf_verdict *v, int64_t age_s,
                          const struct sf_req_directives *d);

/* Whether a stored response whose age is now age_s is stale by no more than window_s
 * and nothing forbids serving it stale (§4.2.4: no-cache, must-revalidate,
 * proxy-revalidate, s-maxage): for RFC 5861's windows. A window of -1 is none. */
bool sf_policy_within_stale_window(const struct sf_verdict *v, int64_t age_s, int64_t window_s);
/* Whether a request's directives (NULL: none) let a stale response whose age is now age_s
 * be served to it while it is revalidated (RFC 5861 §3). Only the directives that limit
 * staleness stop it (RFC 9111 §5.2.1): no-cache (or Pragma: no-cache alone), a max-age the
 * response is older than, min-fresh, a max-stale smaller than how stale it is. Directives
 * sfproxy does not know are ignored (§5.2). */
bool sf_policy_stale_allowed(const struct sf_req_directives *d, const struct sf_verdict *v,
                             int64_t age_s);

/* What a non-error response to an unsafe request to request_url invalidates for one of
 * its Location or Content-Location values, ref (RFC 9111 §4.4): the absolute URL it
 * names, when it has the same origin as request_url; else NULL. Caller frees. */
char *sf_policy_invalidation_url(const char *request_url, const char *ref);

/* The Age to send for a stored response: its initial age plus the time it has been
 * resident (§4.2.3). */
int64_t sf_policy_current_age(int64_t initial_age_s, int64_t response_time_s, int64_t now_s);

#endif
