/* http: pure helpers for HTTP fields (RFC 9110): an ordered list of header fields,
 * hop-by-hop filtering, token lists, Cache-Control parsing and HTTP dates. No I/O, no
 * locks, no clock: every function is safe on any thread for data it owns. */
#ifndef SF_HTTP_H
#define SF_HTTP_H

#include "base.h"
#include "hdrs.h"

#include <time.h>

/* What sfproxy adds to Via, on responses and on the requests it forwards. */
#define SF_VIA_VALUE "1.1 sfproxy"
/* The field sfproxy's own 503 carries while it shuts down, so that a cluster peer that
 * asked for a key fetches it elsewhere at once (peerhop.h). */
#define SF_DRAINING_FIELD "Sfproxy-Draining"
/* sfproxy's own 421 (Misdirected Request, RFC 9110 §15.5.20) carries this field: a cluster
 * peer's request named a route this node has none of (outbound.c), so the peer asks the
 * next node instead (peerhop.h). */
#define SF_PEER_NO_ROUTE_FIELD "Sfproxy-Peer-No-Route"
#define SF_PEER_NO_ROUTE_STATUS 421

/* True if the field must not be forwarded nor stored (RFC 9110 §7.6.1, RFC 9111 §3.1):
 * the fixed hop-by-hop and proxy-authentication fields, plus any field named in the
 * message's Connection header (connection may be NULL). */
bool sf_http_is_hop_by_hop(const char *name, const char *connection);

/* Response heads from an origin (RFC 9112 §4, §5, §6.3), checked before anything of them
 * is passed on. Each returns NULL when the input is well-formed, else a static sentence
 * saying what is wrong, for the log. */

/* A status line "HTTP/1.x NNN[ reason]": sets *status (100..599). */
const char *sf_http_check_status_line(const char *line, size_t len, int *status);
/* One field line without its line end: a token name, a colon, a value without control
 * characters (no CR, LF or NUL: they would split the field downstream). An obs-fold
 * continuation (starting with SP or HTAB) is checked as a value. */
const char *sf_http_check_field_line(const char *line, size_t len);
/* The framing of a complete response head: Content-Length lines that all carry one and
 * the same decimal number (sets *length; -1 when there is none), no Content-Length with
 * Transfer-Encoding, and no transfer coding but chunked, named once: sfproxy sends no TE,
 * so any other (gzip, deflate...) is refused before libcurl would decode it (RFC 9112
 * §6.1, §7.4; a compressed bomb would otherwise decode into memory no bound sees). */
const char *sf_http_check_framing(const struct sf_hdrs *h, int64_t *length);

/* A base URL ("http://o:9000", trailing slashes ignored) followed by an origin-form
 * target ("/a?b"). Caller frees. */
char *sf_http_join_url(const char *base, const char *target);

/* True if the comma-separated list contains token, ignoring case and whitespace. */
bool sf_http_list_has(const char *list, const char *token);

/* True if a surrogate-key field's value (tags separated by spaces, tabs or commas) lists
 * tag exactly (case matters): what a tag purge selects, in memory and on disk. */
bool sf_http_tags_have(const char *value, const char *tag);

/* Whether an If-None-Match list matches etag by the weak comparison RFC 9110 §13.1.2
 * prescribes for GET and HEAD ("*" matches any). */
bool sf_http_etag_matches(const char *if_none_match, const char *etag);

/* A Range request against a representation of len bytes (RFC 9110 §14.1.2, §14.2). */
enum sf_range {
    SF_RANGE_NONE,          /* absent, not bytes, invalid, overlapping, too many: send it all */
    SF_RANGE_ONE,           /* one satisfiable range: *first..*last, inclusive */
    SF_RANGE_UNSATISFIABLE, /* valid, but no byte of it exists: 416 */
    SF_RANGE_MANY,          /* several satisfiable ranges (multipart/byteranges) */
};
/* More ranges than this, or ranges that overlap, are not served: the whole response is
 * (RFC 9110 §14.2 lets a server ignore them; many small or overlapping ranges are a way to
 * make it send far more than the representation). */
#define SF_RANGES_MAX 16
struct sf_ranges {
    size_t n; /* the satisfiable ranges, in the order asked */
    uint64_t first[SF_RANGES_MAX], last[SF_RANGES_MAX];
};
/* Parses a Range value for len bytes into out: SF_RANGE_ONE or SF_RANGE_MANY with the
 * satisfiable ranges (the unsatisfiable ones left out, §14.1.2), UNSATISFIABLE when none
 * is, NONE when it is to be ignored. */
enum sf_range sf_http_ranges_parse(const char *range, uint64_t len, struct sf_ranges *out);

/* Parses a Content-Range of a 206 (RFC 9110 §14.4): "bytes first-last/complete", exactly,
 * with first <= last < complete. False for anything else (a "*" length, a 416's form). */
bool sf_http_content_range_parse(const char *value, uint64_t *first, uint64_t *last,
                                 uint64_t *complete);

/* Cache-Control directives a proxy acts on (RFC 9111 §5.2). A delta of -1 is absent. */
struct sf_cc {
    bool no_store, no_cache, private_, public_, must_revalidate, proxy_revalidate;
    bool must_understand, no_transform, only_if_cached;
    int64_t max_age, s_maxage, max_stale, min_fresh, stale_while_revalidate, stale_if_error;
    bool max_stale_any; /* max-stale without a value: any staleness */
    /* private="..." / no-cache="..." with field names: only those fields are withheld
     * (RFC 9111 §5.2.2.7, §5.2.2.4); private_ and no_cache are for the unqualified forms. */
    bool private_fields, no_cache_fields;
};

/* Parses a (joined) Cache-Control value; NULL gives the all-absent result. Unknown
 * directives are ignored (§5.2.3); a delta that does not parse makes that directive absent
 * except where §4.2.1 says otherwise; values above 2^31 are capped to 2^31 (§1.2.2). */
void sf_http_cc_parse(const char *value, struct sf_cc *cc);

/* Whether a Cache-Control value's qualified private="..." or no-cache="..." directives
 * name field (case-insensitive). */
bool sf_http_cc_names_field(const char *value, const char *field);

/* Parses an HTTP-date in any of the three forms RFC 9110 §5.6.7 requires recipients to
 * accept. False if it is none of them. */
bool sf_http_date_parse(const char *s, int64_t *epoch_s);
/* Writes the IMF-fixdate form into buf (at least 30 bytes). */
void sf_http_date_format(int64_t epoch_s, char *buf, size_t size);

#endif
