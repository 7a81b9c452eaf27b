/* route: see route.h.
 *
 * The index. Each route is a bit (its position in the list). For each way a request can
 * be told apart cheaply there is a table whose entries carry the set of routes they let
 * through: exact hosts and wildcard suffixes (".example.com"), each sorted for binary
 * search, plus the set of routes with no host condition; exact paths and path prefixes,
 * plus the routes with no path condition. A request's candidates are (host routes) AND
 * (path routes); the bits are visited in ascending order, so among candidates the first
 * declared wins, as if every route had been tried in order.
 *
 * Prefixes: in a table sorted by strcmp, every entry that is a prefix of a path P is also
 * a prefix of E, the greatest entry <= P (entries between a prefix Q of P and P all start
 * with Q). Each entry records its parent, the longest other entry that is a prefix of it,
 * and its bits include its ancestors'. So one binary search, then a walk up the parents
 * of E to the first one that is a prefix of P, gives every route whose prefix fits.
 *
 * Patterns: compiled once (pcre2_compile, then pcre2_jit_compile; without a JIT the
 * interpreter runs them, same results). A compiled pattern is shared by every thread;
 * match data is not, so each thread keeps one of its own (a pthread key frees it when the
 * thread ends). A match context caps backtracking, so a pattern cannot be made to spin on
 * a client's path. */
#include "route.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTES_MAGIC 0x52545331u
#define WORDS_MAX ((SF_ROUTES_MAX + 63) / 64)
#define MATCH_LIMIT 100000

struct entry {
    char *text;     /* owned */
    uint64_t *bits; /* routes[words]: for prefixes, with the parents' routes */
    long parent;    /* prefixes only: the longest other entry that is a prefix; -1 */
};

struct table {
    struct entry *v;
    size_t n;
};

struct sf_routes {
    unsigned magic;
    struct sf_route_def **v;
    size_t n;
    size_t words; /* of each route set */
    bool indexed;
    uint64_t *host_any, *path_any;
    struct table hosts, wild, prefixes, exacts;
};

/* ---- patterns ---- */

static pthread_once_t regex_once = PTHREAD_ONCE_INIT;
static pthread_key_t match_data_key;
static pcre2_match_context *match_ctx;

static void free_match_data(void *md)
{
    pcre2_match_data_free(md);
}

static void regex_init(void)
{
    SF_PTOK(pthread_key_create(&match_data_key, free_match_data));
    match_ctx = pcre2_match_context_create(NULL);
    SF_ASSERT(match_ctx != NULL);
    pcre2_set_match_limit(match_ctx, MATCH_LIMIT);
    pcre2_set_depth_limit(match_ctx, MATCH_LIMIT);
}

bool sf_route_compile(const char *pattern, void **code, char *err, size_t errlen, size_t *offset)
{
    int errcode;
    PCRE2_SIZE at;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &errcode, &at, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        snprintf(err, errlen, "%s", (const char *)msg);
        *offset = at;
        return false;
    }
    /* A pattern JIT cannot take (or a machine without it) still runs, interpreted. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *code = re;
    return true;
}

bool sf_route_jit_available(void)
{
    uint32_t jit = 0;
    return pcre2_config(PCRE2_CONFIG_JIT, &jit) >= 0 && jit == 1;
}

/* This thread's match data (made on its first match). */
static pcre2_match_data *thread_match_data(void)
{
    pthread_once(&regex_once, regex_init);
    pcre2_match_data *md = pthread_getspecific(match_data_key);
    if (md == NULL) {
        /* One pair of offsets is all a yes or no needs, for any pattern: a match with
         * too few slots still returns 0, "matched". */
        md = pcre2_match_data_create(1, NULL);
        SF_ASSERT(md != NULL);
        SF_PTOK(pthread_setspecific(match_data_key, md));
    }
    return md;
}

static bool regex_match(pcre2_match_data *md, const void *code, const char *subject, size_t len)
{
    /* The JIT's own entry skips pcre2_match's checks of its arguments (ours are always
     * valid); a pattern the JIT did not take answers "bad option", and is interpreted. */
    int rc = pcre2_jit_match(code, (PCRE2_SPTR)subject, len, 0, 0, md, match_ctx);
    if (rc == PCRE2_ERROR_JIT_BADOPTION)
        rc = pcre2_match(code, (PCRE2_SPTR)subject, len, 0, 0, md, match_ctx);
    return rc >= 0;
}

bool sf_route_regex_match(const void *code, const char *subject, size_t len)
{
    return regex_match(thread_match_data(), code, subject, len);
}

/* ---- building ---- */

struct sf_routes *sf_routes_new(void)
{
    struct sf_routes *rs = sf_xcalloc(1, sizeof *rs);
    rs->magic = ROUTES_MAGIC;
    return rs;
}

struct sf_route_def *sf_routes_add(struct sf_routes *rs)
{
    SF_CHECK_OBJ(rs, ROUTES_MAGIC);
    SF_ASSERT(!rs->indexed);
    if (rs->n >= SF_ROUTES_MAX)
        return NULL;
    rs->v = sf_xrealloc(rs->v, (rs->n + 1) * sizeof *rs->v);
    struct sf_route_def *r = sf_xcalloc(1, sizeof *r);
    sf_ttl_rule_init(&r->cache);
    r->set.upstream_pool = -1; /* a URL, or the top level's */
    r->index = rs->n;
    rs->v[rs->n++] = r;
    return r;
}

size_t sf_routes_count(const struct sf_routes *rs)
{
    return rs != NULL ? rs->n : 0;
}

const struct sf_route_def *sf_routes_at(const struct sf_routes *rs, size_t i)
{
    SF_ASSERT(i < rs->n);
    return rs->v[i];
}

const struct sf_route_def *sf_routes_named(const struct sf_routes *rs, const char *name)
{
    /* A cluster peer's request names its route (outbound.c): one pass, no index to keep. */
    for (size_t i = 0; rs != NULL && i < rs->n; i++)
        if (strcmp(rs->v[i]->name, name) == 0)
            return rs->v[i];
    return NULL;
}

static void set_bit(uint64_t *bits, size_t i)
{
    bits[i / 64] |= UINT64_C(1) << (i % 64);
}

static int by_text(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->text, ((const struct entry *)b)->text);
}

/* Adds route i under text to t (entries merged later). */
static void table_put(struct sf_routes *rs, struct table *t, const char *text, size_t i)
{
    t->v = sf_xrealloc(t->v, (t->n + 1) * sizeof *t->v);
    struct entry *e = &t->v[t->n++];
    e->text = sf_xstrdup(text);
    e->bits = sf_xcalloc(rs->words, sizeof *e->bits);
    e->parent = -1;
    set_bit(e->bits, i);
}

/* Sorts t and merges entries of equal text. */
static void table_finish(struct sf_routes *rs, struct table *t)
{
    if (t->n == 0)
        return;
    qsort(t->v, t->n, sizeof *t->v, by_text);
    size_t out = 0;
    for (size_t i = 1; i < t->n; i++) {
        if (strcmp(t->v[out].text, t->v[i].text) == 0) {
            for (size_t w = 0; w < rs->words; w++)
                t->v[out].bits[w] |= t->v[i].bits[w];
            free(t->v[i].text);
            free(t->v[i].bits);
        } else {
            t->v[++out] = t->v[i];
        }
    }
    t->n = out + 1;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Parents and cumulative bits of the (sorted) prefix table. */
static void link_prefixes(struct sf_routes *rs, struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        long p = (long)i - 1;
        while (p >= 0 && !starts_with(t->v[i].text, t->v[p].text))
            p = t->v[p].parent;
        t->v[i].parent = p;
        for (size_t w = 0; p >= 0 && w < rs->words; w++)
            t->v[i].bits[w] |= t->v[p].bits[w]; /* the parent's own include its parents' */
    }
}

void sf_routes_index(struct sf_routes *rs)
{
    SF_CHECK_OBJ(rs, ROUTES_MAGIC);
    SF_ASSERT(!rs->indexed);
    rs->words = rs->n > 0 ? (rs->n + 63) / 64 : 1;
    rs->host_any = sf_xcalloc(rs->words, sizeof *rs->host_any);
    rs->path_any = sf_xcalloc(rs->words, sizeof *rs->path_any);
    for (size_t i = 0; i < rs->n; i++) {
        const struct sf_route_match *m = &rs->v[i]->match;
        if (m->host == NULL)
            set_bit(rs->host_any, i);
        else if (m->host[0] == '*')
            table_put(rs, &rs->wild, m->host + 1, i); /* ".example.com" */
        else
            table_put(rs, &rs->hosts, m->host, i);
        if (m->path_exact != NULL)
            table_put(rs, &rs->exacts, m->path_exact, i);
        else if (m->path_prefix != NULL)
            table_put(rs, &rs->prefixes, m->path_prefix, i);
        else
            set_bit(rs->path_any, i);
    }
    table_finish(rs, &rs->hosts);
    table_finish(rs, &rs->wild);
    table_finish(rs, &rs->exacts);
    table_finish(rs, &rs->prefixes);
    link_prefixes(rs, &rs->prefixes);
    rs->indexed = true;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void route_free(struct sf_route_def *r)
{
    struct sf_route_match *m = &r->match;
    free(r->name);
    free(m->host);
    free(m->path_prefix);
    free(m->path_exact);
    free(m->path_regex);
    pcre2_code_free(m->_path_code);
    free_list(m->methods, m->nmethods);
    for (size_t i = 0; i < m->nheaders; i++) {
        free(m->headers[i].name);
        free(m->headers[i].regex);
        pcre2_code_free(m->headers[i]._code);
    }
    free(m->headers);
    free_list(m->query, m->nquery);
    free(r->set.upstream);
    sf_ttl_rule_clear(&r->cache);
    sf_key_rule_clear(&r->key);
    free(r->client_cache_control);
    sf_hdrs_clear(&r->response_set);
    free_list(r->response_remove, r->nresponse_remove);
    free(r);
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].text);
        free(t->v[i].bits);
    }
    free(t->v);
}

void sf_routes_free(struct sf_routes *rs)
{
    if (rs == NULL)
        return;
    SF_CHECK_OBJ(rs, ROUTES_MAGIC);
    for (size_t i = 0; i < rs->n; i++)
        route_free(rs->v[i]);
    free(rs->v);
    free(rs->host_any);
    free(rs->path_any);
    table_free(&rs->hosts);
    table_free(&rs->wild);
    table_free(&rs->prefixes);
    table_free(&rs->exacts);
    rs->magic = 0;
    free(rs);
}

/* ---- shadowing ---- */

static bool host_covers(const char *a, const char *b)
{
    if (a == NULL)
        return true;
    if (b == NULL)
        return false;
    if (a[0] != '*')
        return strcmp(a, b) == 0;
    size_t al = strlen(a + 1), bl = strlen(b + (b[0] == '*'));
    const char *bs = b + (b[0] == '*');
    /* "*.x" covers "y.x" and "*.y.x", and "*.x" itself. */
    return bl >= al && strcmp(bs + bl - al, a + 1) == 0 && (b[0] == '*' || bl > al);
}

static bool path_covers(const struct sf_route_match *a, const struct sf_route_match *b)
{
    if (a->path_exact != NULL)
        return b->path_exact != NULL && strcmp(a->path_exact, b->path_exact) == 0;
    if (a->path_prefix == NULL)
        return true;
    const char *bp = b->path_exact != NULL ? b->path_exact : b->path_prefix;
    return bp != NULL && starts_with(bp, a->path_prefix);
}

long sf_routes_shadowed_by(const struct sf_routes *rs, size_t i)
{
    const struct sf_route_match *b = &rs->v[i]->match;
    for (size_t j = 0; j < i; j++) {
        const struct sf_route_match *a = &rs->v[j]->match;
        if (a->nmethods == 0 && a->path_regex == NULL && a->nheaders == 0 && a->nquery == 0 &&
            host_covers(a->host, b->host) && path_covers(a, b))
            return (long)j;
    }
    return -1;
}

/* ---- a request, as routes see it ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static bool unreserved(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 §5.2.4, in place on a path of n bytes that starts with '/': segment by segment, "." dropped
 * and ".." dropping the segment written before it; one at the end leaves a "/". */
static void remove_dot_segments(char *path, size_t n)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t seg = i + 1, end = seg; /* path[i] is the '/' before the segment */
        while (end < n && path[end] != '/')
            end++;
        bool dot = end - seg == 1 && path[seg] == '.';
        bool dotdot = end - seg == 2 && path[seg] == '.' && path[seg + 1] == '.';
        if (dotdot)
            while (o > 0 && path[--o] != '/')
                ;
        if ((dot || dotdot) && end == n)
            path[o++] = '/';
        if (!dot && !dotdot) {
            memmove(path + o, path + i, end - i);
            o += end - i;
        }
        i = end;
    }
    if (o == 0)
        path[o++] = '/';
    path[o] = '\0';
}

/* Where a target's path starts, and how long it is (up to '?'). */
static const char *path_of(const char *target, size_t *len)
{
    const char *p = target;
    const char *scheme = strstr(target, "://");
    if (target[0] != '/' && scheme != NULL) {
        p = scheme + 3;
        p += strcspn(p, "/?");
    }
    *len = strcspn(p, "?");
    return p;
}

/* The normalised path of target into out, which has room for its path's length + 2. */
static void normalise(const char *p, size_t len, char *out)
{
    char *w = out;
    *w++ = '/'; /* every path starts with one; the target's own is merged into it */
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '%' && i + 2 < len && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
            int c = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
            if (unreserved(c)) {
                *w++ = (char)c;
            } else {
                *w++ = '%';
                *w++ = (char)toupper((unsigned char)p[i + 1]);
                *w++ = (char)toupper((unsigned char)p[i + 2]);
            }
            i += 2;
        } else if (p[i] != '/' || w[-1] != '/') { /* "//" is "/" (nginx's merge_slashes) */
            *w++ = p[i];
        }
    }
    *w = '\0';
    remove_dot_segments(out, (size_t)(w - out));
}

char *sf_route_path(const char *target)
{
    size_t len;
    const char *p = path_of(target, &len);
    char *out = sf_xmalloc(len + 2);
    normalise(p, len, out);
    return out;
}

char *sf_route_upstream_target(const struct sf_route_def *r, const char *target)
{
    const char *prefix = r->match.path_prefix;
    if (!r->strip_prefix || prefix == NULL || target[0] != '/')
        return sf_xstrdup(target);
    char *path = sf_route_path(target);
    const char *rest = starts_with(path, prefix) ? path + strlen(prefix) : path;
    const char *query = strchr(target, '?');
    size_t len = strlen(rest) + (query ? strlen(query) : 0) + 2;
    char *out = sf_xmalloc(len);
    /* nginx's proxy_pass with a URI: "/v1/users" under "/v1/" goes as "/users". */
    snprintf(out, len, "%s%s%s", rest[0] == '/' ? "" : "/", rest, query ? query : "");
    free(path);
    return out;
}

/* A request prepared once for all the routes it meets. */
struct view {
    const struct sf_route_req *req;
    char host[256];       /* lowercased, without port or trailing dot; "" when none */
    char *path;           /* sf_route_path: in buf when it fits */
    const char *query;    /* after '?', raw; NULL: none */
    pcre2_match_data *md; /* this thread's, once a pattern is tried */
    char buf[512];
};

static void view_clear(struct view *v)
{
    if (v->path != v->buf)
        free(v->path);
}

static bool view_regex(struct view *v, const void *code, const char *subject)
{
    if (v->md == NULL)
        v->md = thread_match_data();
    return regex_match(v->md, code, subject, strlen(subject));
}

static void view_init(struct view *v, const struct sf_route_req *req)
{
    v->req = req;
    const char *host = req->host;
    size_t hlen = host != NULL ? strlen(host) : 0;
    const char *scheme = strstr(req->target, "://");
    if (req->target[0] != '/' && scheme != NULL) {
        host = scheme + 3; /* RFC 9112 §3.2.2: an absolute target's authority wins */
        hlen = strcspn(host, "/?");
        const char *at = memchr(host, '@', hlen);
        if (at != NULL) {
            hlen -= (size_t)(at + 1 - host);
            host = at + 1;
        }
    }
    if (hlen > 0 && host[0] == '[') {
        const char *end = memchr(host, ']', hlen);
        hlen = end != NULL ? (size_t)(end - host) + 1 : hlen;
    } else if (host != NULL) {
        const char *colon = memchr(host, ':', hlen);
        if (colon != NULL)
            hlen = (size_t)(colon - host);
    }
    while (hlen > 0 && host[hlen - 1] == '.')
        hlen--;
    if (hlen >= sizeof v->host)
        hlen = 0; /* no name is that long: it matches no host condition */
    for (size_t i = 0; i < hlen; i++)
        v->host[i] = (char)tolower((unsigned char)host[i]);
    v->host[hlen] = '\0';
    size_t len;
    const char *p = path_of(req->target, &len);
    v->path = len + 2 <= sizeof v->buf ? v->buf : sf_xmalloc(len + 2);
    normalise(p, len, v->path);
    v->md = NULL;
    const char *q = strchr(req->target, '?');
    v->query = q != NULL ? q + 1 : NULL;
}

static bool query_has(const char *query, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = query; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, "=&");
        if (len == nlen && memcmp(p, name, len) == 0)
            return true;
        p += strcspn(p, "&");
        if (*p == '&')
            p++;
    }
    return false;
}

static bool host_fits(const char *cond, const char *host)
{
    if (cond[0] != '*')
        return strcmp(cond, host) == 0;
    size_t cl = strlen(cond + 1), hl = strlen(host);
    return hl > cl && strcmp(host + hl - cl, cond + 1) == 0;
}

/* Whether the request fits r; when not and why is given, a line saying why. */
static bool fits(const struct sf_route_def *r, struct view *v, char *why, size_t size)
{
    const struct sf_route_match *m = &r->match;
    const struct sf_route_req *req = v->req;
#define MISS(...) (why != NULL ? (void)snprintf(why, size, __VA_ARGS__) : (void)0, false)
    if (m->host != NULL && !host_fits(m->host, v->host))
        return MISS("host \"%s\" is not %s", v->host, m->host);
    if (m->path_exact != NULL && strcmp(m->path_exact, v->path) != 0)
        return MISS("path \"%s\" is not path_exact \"%s\"", v->path, m->path_exact);
    if (m->path_prefix != NULL && !starts_with(v->path, m->path_prefix))
        return MISS("path \"%s\" does not start with path_prefix \"%s\"", v->path, m->path_prefix);
    if (m->nmethods > 0) {
        bool listed = false;
        for (size_t i = 0; i < m->nmethods && !listed; i++)
            listed = strcmp(m->methods[i], req->method) == 0;
        if (!listed)
            return MISS("method %s is not listed in methods", req->method);
    }
    if (m->_path_code != NULL && !view_regex(v, m->_path_code, v->path))
        return MISS("path \"%s\" does not match path_regex \"%s\"", v->path, m->path_regex);
    for (size_t i = 0; i < m->nquery; i++)
        if (!query_has(v->query, m->query[i]))
            return MISS("query has no parameter \"%s\"", m->query[i]);
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct sf_route_header *h = &m->headers[i];
        char *value = req->fields != NULL ? req->fields->get(req->fields->ctx, h->name) : NULL;
        bool ok = h->_code != NULL
                      ? value != NULL && sf_route_regex_match(h->_code, value, strlen(value))
                      : (value != NULL) == h->present;
        free(value);
        if (!ok)
            return MISS(h->_code != NULL ? "header %s does not match \"%s\""
                        : h->present     ? "header %s is absent%s"
                                         : "header %s is present%s",
                        h->name, h->_code != NULL ? h->regex : "");
    }
#undef MISS
    return true;
}

/* binary search: the entry whose text equals s, or NULL. */
static const struct entry *find(const struct table *t, const char *s)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->v[mid].text, s);
        if (c == 0)
            return &t->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The prefix entry whose routes apply to path (the longest entry that is a prefix of it,
 * its bits holding its ancestors'), or NULL. */
static const struct entry *longest_prefix(const struct table *t, const char *path)
{
    size_t lo = 0, hi = t->n; /* first entry > path */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->v[mid].text, path) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    long e = (long)lo - 1;
    while (e >= 0 && !starts_with(path, t->v[e].text))
        e = t->v[e].parent;
    return e >= 0 ? &t->v[e] : NULL;
}

static void or_bits(uint64_t *into, const struct entry *e, size_t words)
{
    for (size_t w = 0; e != NULL && w < words; w++)
        into[w] |= e->bits[w];
}

/* The candidates for v: routes whose host and path conditions the index says fit. */
static void candidates(const struct sf_routes *rs, const struct view *v, uint64_t *out)
{
    uint64_t hosts[WORDS_MAX], paths[WORDS_MAX];
    size_t words = rs->words;
    memcpy(hosts, rs->host_any, words * sizeof *hosts);
    memcpy(paths, rs->path_any, words * sizeof *paths);
    if (v->host[0] != '\0') {
        or_bits(hosts, find(&rs->hosts, v->host), words);
        for (const char *dot = strchr(v->host + 1, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
            or_bits(hosts, find(&rs->wild, dot), words);
    }
    or_bits(paths, find(&rs->exacts, v->path), words);
    or_bits(paths, longest_prefix(&rs->prefixes, v->path), words);
    for (size_t w = 0; w < words; w++)
        out[w] = hosts[w] & paths[w];
}

const struct sf_route_def *sf_routes_match(const struct sf_routes *rs,
                                           const struct sf_route_req *req, size_t *tried)
{
    if (tried != NULL)
        *tried = 0;
    if (rs == NULL || rs->n == 0)
        return NULL;
    SF_CHECK_OBJ(rs, ROUTES_MAGIC);
    SF_ASSERT(rs->indexed);
    struct view v;
    view_init(&v, req);
    uint64_t cand[WORDS_MAX];
    candidates(rs, &v, cand);
    const struct sf_route_def *found = NULL;
    for (size_t w = 0; w < rs->words && found == NULL; w++) {
        for (uint64_t bits = cand[w]; bits != 0 && found == NULL; bits &= bits - 1) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            if (tried != NULL)
                (*tried)++;
            if (fits(rs->v[i], &v, NULL, 0))
                found = rs->v[i];
        }
    }
    view_clear(&v);
    return found;
}

const struct sf_route_def *sf_routes_explain(const struct sf_routes *rs,
                                             const struct sf_route_req *req, char **why)
{
    const struct sf_route_def *found = NULL;
    size_t n = sf_routes_count(rs);
    if (n == 0)
        return NULL;
    struct view v;
    view_init(&v, req);
    for (size_t i = 0; i < n; i++) {
        char line[512];
        if (found == NULL && !fits(rs->v[i], &v, line, sizeof line))
            why[i] = sf_xstrdup(line);
        else if (found == NULL)
            found = rs->v[i], why[i] = NULL;
        else
            why[i] = NULL;
    }
    view_clear(&v);
    return found;
}
