/* http: see http.h. Everything here is a pure function of its arguments. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The comma that ends the list element starting at p, or NULL at the last one. Commas
 * inside a quoted string (RFC 9110 §5.6.4) do not count. */
static const char *element_end(const char *p)
{
    bool quoted = false;
    for (; *p != '\0'; p++) {
        if (quoted && *p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            return p;
    }
    return NULL;
}

/* Calls fn on each element of a comma-separated list, trimmed; stops when it returns
 * true and returns true then. */
static bool list_each(const char *list, bool (*fn)(const char *el, size_t len, void *arg),
                      void *arg)
{
    const char *p = list;
    while (p != NULL && *p != '\0') {
        const char *end = element_end(p);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (len > 0 && is_ows(*s)) {
            s++;
            len--;
        }
        while (len > 0 && is_ows(s[len - 1]))
            len--;
        if (len > 0 && fn(s, len, arg))
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static bool element_is(const char *el, size_t len, void *arg)
{
    const char *token = arg;
    return strlen(token) == len && sf_strneq_ci(el, token, len);
}

bool sf_http_list_has(const char *list, const char *token)
{
    return list_each(list, element_is, (void *)token);
}

bool sf_http_tags_have(const char *value, const char *tag)
{
    /* Surrogate keys are separated by spaces; accept commas too. */
    size_t tlen = strlen(tag);
    for (const char *p = value; *p != '\0';) {
        p += strspn(p, " ,\t");
        size_t n = strcspn(p, " ,\t");
        if (n == tlen && strncmp(p, tag, n) == 0)
            return true;
        p += n;
    }
    return false;
}

/* An entity-tag without its weakness prefix W/ (RFC 9110 §8.8.3.2: weak comparison). */
static void opaque_tag(const char *tag, size_t len, const char **out, size_t *out_len)
{
    if (len >= 2 && tag[0] == 'W' && tag[1] == '/') {
        tag += 2;
        len -= 2;
    }
    *out = tag;
    *out_len = len;
}

struct etag_match {
    const char *tag;
    size_t len;
};

static bool element_matches_etag(const char *el, size_t len, void *arg)
{
    const struct etag_match *m = arg;
    const char *t;
    size_t tlen;
    if (len == 1 && el[0] == '*')
        return true;
    opaque_tag(el, len, &t, &tlen);
    return tlen == m->len && memcmp(t, m->tag, tlen) == 0;
}

bool sf_http_etag_matches(const char *if_none_match, const char *etag)
{
    if (if_none_match == NULL)
        return false;
    struct etag_match m = {NULL, 0};
    if (etag != NULL)
        opaque_tag(etag, strlen(etag), &m.tag, &m.len);
    else if (!sf_http_list_has(if_none_match, "*"))
        return false;
    return list_each(if_none_match, element_matches_etag, &m);
}

/* Digits at *p into *out (no sign, no overflow past 2^62); advances *p. False if none. */
static bool parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        if (v > (UINT64_C(1) << 62) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s++ - '0');
    }
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* One range-spec at *p (RFC 9110 §14.1.2: "a-b", "a-" or "-n") for len bytes; advances
 * *p past it. Returns false when malformed; *satisfiable says whether any of its bytes
 * exist, and then *first..*last are they. */
static bool parse_range_spec(const char **p, uint64_t len, uint64_t *first, uint64_t *last,
                             bool *satisfiable)
{
    uint64_t a = 0, b = 0;
    bool suffix = **p == '-';
    if (suffix) {
        (*p)++;
        if (!parse_u64(p, &b))
            return false;
    } else if (!parse_u64(p, &a) || *(*p)++ != '-') {
        return false;
    }
    bool open_end = !suffix && (**p == '\0' || is_ows(**p) || **p == ',');
    if (!suffix && !open_end && (!parse_u64(p, &b) || b < a))
        return false;
    if (suffix) { /* the last b bytes */
        *satisfiable = len > 0 && b > 0;
        *first = b >= len ? 0 : len - b;
        *last = len ? len - 1 : 0;
        return true;
    }
    *satisfiable = a < len;
    *first = a;
    *last = open_end || b >= len ? len - 1 : b;
    return true;
}

/* What sf_http_ranges_parse says when a Range is to be ignored: nothing of it kept. */
static enum sf_range ignored(struct sf_ranges *out)
{
    out->n = 0;
    return SF_RANGE_NONE;
}

enum sf_range sf_http_ranges_parse(const char *range, uint64_t len, struct sf_ranges *out)
{
    out->n = 0;
    if (range == NULL || strncasecmp(range, "bytes", 5) != 0)
        return SF_RANGE_NONE;
    const char *p = range + 5;
    while (is_ows(*p))
        p++;
    if (*p++ != '=')
        return SF_RANGE_NONE;
    size_t specs = 0;
    for (;;) {
        while (is_ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            break;
        uint64_t first, last;
        bool satisfiable;
        if (++specs > SF_RANGES_MAX || !parse_range_spec(&p, len, &first, &last, &satisfiable))
            return ignored(out); /* malformed, or too many to be worth it (§14.2) */
        while (is_ows(*p))
            p++;
        if (*p != '\0' && *p != ',')
            return ignored(out);
        for (size_t i = 0; satisfiable && i < out->n; i++)
            if (first <= out->last[i] && out->first[i] <= last)
                return ignored(out); /* overlapping ranges: the whole response (§15.3.7) */
        if (satisfiable) {
            out->first[out->n] = first;
            out->last[out->n++] = last;
        }
    }
    if (specs == 0)
        return SF_RANGE_NONE;
    return out->n == 0 ? SF_RANGE_UNSATISFIABLE : out->n == 1 ? SF_RANGE_ONE : SF_RANGE_MANY;
}

bool sf_http_content_range_parse(const char *value, uint64_t *first, uint64_t *last,
                                 uint64_t *complete)
{
    if (value == NULL || strncasecmp(value, "bytes ", 6) != 0) /* units: any case, §14.1 */
        return false;
    const char *p = value + 6;
    return parse_u64(&p, first) && *p++ == '-' && parse_u64(&p, last) && *p++ == '/' &&
           parse_u64(&p, complete) && *p == '\0' && *first <= *last && *last < *complete;
}

bool sf_http_is_hop_by_hop(const char *name, const char *connection)
{
    /* The proxy-authentication fields concern one hop too; RFC 9111 §3.1 forbids storing
     * them. */
    static const char *const fixed[] = {"connection",
                                        "keep-alive",
                                        "proxy-connection",
                                        "proxy-authenticate",
                                        "proxy-authorization",
                                        "proxy-authentication-info",
                                        "te",
                                        "trailer",
                                        "transfer-encoding",
                                        "upgrade"};
    /* Only the names with the same first letter: a head's fields were compared with all
     * ten (about 100 compares a miss). [first, end) in fixed. */
    size_t first = 0, end = 0;
    switch (*name | 0x20) {
    case 'c': first = 0, end = 1; break;
    case 'k': first = 1, end = 2; break;
    case 'p': first = 2, end = 6; break;
    case 't': first = 6, end = 9; break;
    case 'u': first = 9, end = 10; break;
    }
    for (size_t i = first; i < end; i++)
        if (sf_streq_ci(name, fixed[i]))
            return true;
    return connection != NULL && sf_http_list_has(connection, name);
}

/* delta-seconds (RFC 9111 §1.2.2): digits only; huge values are capped at 2^31. */
static int64_t parse_delta(const char *s, size_t len)
{
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') { /* tolerate the quoted form */
        s++;
        len -= 2;
    }
    if (len == 0)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v < 2147483648LL)
            v = v * 10 + (s[i] - '0');
    }
    return v > 2147483648LL ? 2147483648LL : v;
}

struct cc_directive {
    const char *name;
    size_t flag_off;  /* offset of a bool, or SIZE_MAX */
    size_t delta_off; /* offset of an int64_t, or SIZE_MAX */
};

#define CC_FLAG(n, f)                                                                              \
    {                                                                                              \
        n, offsetof(struct sf_cc, f), SIZE_MAX                                                     \
    }
#define CC_DELTA(n, f)                                                                             \
    {                                                                                              \
        n, SIZE_MAX, offsetof(struct sf_cc, f)                                                     \
    }
static const struct cc_directive cc_directives[] = {
    CC_FLAG("no-store", no_store),
    CC_FLAG("no-cache", no_cache),
    CC_FLAG("private", private_),
    CC_FLAG("public", public_),
    CC_FLAG("must-revalidate", must_revalidate),
    CC_FLAG("proxy-revalidate", proxy_revalidate),
    CC_FLAG("must-understand", must_understand),
    CC_FLAG("no-transform", no_transform),
    CC_FLAG("only-if-cached", only_if_cached),
    CC_DELTA("max-age", max_age),
    CC_DELTA("s-maxage", s_maxage),
    CC_DELTA("max-stale", max_stale),
    CC_DELTA("min-fresh", min_fresh),
    CC_DELTA("stale-while-revalidate", stale_while_revalidate),
    CC_DELTA("stale-if-error", stale_if_error),
};

/* The inside of a directive's quoted, non-empty value (el="...": el is len bytes), or
 * NULL when it has none. */
static const char *qualified_names(const char *el, size_t len)
{
    const char *eq = memchr(el, '=', len);
    if (eq == NULL)
        return NULL;
    const char *v = eq + 1;
    while (v < el + len && is_ows(*v))
        v++;
    size_t vlen = (size_t)(el + len - v);
    return vlen > 2 && v[0] == '"' && v[vlen - 1] == '"' ? v + 1 : NULL;
}

struct qualified_ctx {
    const char *field;
    size_t field_len;
};

static bool names_field(const char *el, size_t len, void *arg)
{
    const struct qualified_ctx *q = arg;
    const char *eq = memchr(el, '=', len);
    size_t name_len = eq ? (size_t)(eq - el) : len;
    while (name_len > 0 && is_ows(el[name_len - 1]))
        name_len--;
    bool directive = (name_len == 7 && sf_strneq_ci(el, "private", 7)) ||
                     (name_len == 8 && sf_strneq_ci(el, "no-cache", 8));
    const char *names = qualified_names(el, len);
    if (!directive || names == NULL)
        return false;
    /* The field names, up to the closing quote, separated by commas and spaces. */
    const char *end = el + len - 1;
    for (const char *p = names; p < end;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,\"");
        if (p + n > end)
            n = (size_t)(end - p);
        if (n == q->field_len && sf_strneq_ci(p, q->field, n))
            return true;
        p += n ? n : 1;
    }
    return false;
}

bool sf_http_cc_names_field(const char *value, const char *field)
{
    struct qualified_ctx q = {field, strlen(field)};
    return value != NULL && list_each(value, names_field, &q);
}

static bool cc_apply(const char *el, size_t len, void *arg)
{
    struct sf_cc *cc = arg;
    const char *eq = memchr(el, '=', len);
    size_t name_len = eq ? (size_t)(eq - el) : len;
    while (name_len > 0 && is_ows(el[name_len - 1]))
        name_len--;
    for (size_t i = 0; i < sizeof cc_directives / sizeof cc_directives[0]; i++) {
        const struct cc_directive *d = &cc_directives[i];
        if (strlen(d->name) != name_len || !sf_strneq_ci(el, d->name, name_len))
            continue;
        if (d->flag_off != SIZE_MAX && qualified_names(el, len) != NULL) {
            /* private="field" and no-cache="field" (§5.2.2.4, §5.2.2.7): only the fields
             * named are withheld, not the whole response. */
            if (d->flag_off == offsetof(struct sf_cc, private_))
                cc->private_fields = true;
            else if (d->flag_off == offsetof(struct sf_cc, no_cache))
                cc->no_cache_fields = true;
            else
                *(bool *)((char *)cc + d->flag_off) = true;
        } else if (d->flag_off != SIZE_MAX) {
            *(bool *)((char *)cc + d->flag_off) = true;
        } else {
            int64_t *slot = (int64_t *)((char *)cc + d->delta_off);
            const char *v = eq ? eq + 1 : el + len;
            while (v < el + len && is_ows(*v))
                v++;
            int64_t delta = parse_delta(v, (size_t)(el + len - v));
            if (d->delta_off == offsetof(struct sf_cc, max_stale) && eq == NULL)
                cc->max_stale_any = true;
            /* With duplicates, the first valid one wins; an invalid max-age makes the
             * response stale (RFC 9111 §4.2.1), which we express as 0. */
            if (*slot < 0)
                *slot = delta >= 0 ? delta
                                   : (d->delta_off == offsetof(struct sf_cc, max_age) ||
                                              d->delta_off == offsetof(struct sf_cc, s_maxage)
                                          ? 0
                                          : -1);
        }
        return false;
    }
    return false;
}

void sf_http_cc_parse(const char *value, struct sf_cc *cc)
{
    memset(cc, 0, sizeof *cc);
    cc->max_age = cc->s_maxage = cc->max_stale = cc->min_fresh = -1;
    cc->stale_while_revalidate = cc->stale_if_error = -1;
    if (value != NULL)
        list_each(value, cc_apply, cc);
}

static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The month named by the 3 letters at s, any letter case; 0 when none. */
static int month_index(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (strncasecmp(s, month_names[i], 3) == 0)
            return i + 1;
    return 0;
}

/* Exactly n digits at s, as a number; -1 when they are not. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Whether the n letters at s name a day of the week, short ("Sun") or long ("Sunday"),
 * any letter case. */
static bool is_day_name(const char *s, size_t n, bool long_form)
{
    static const char *const long_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                             "Thursday", "Friday", "Saturday"};
    for (int i = 0; i < 7; i++) {
        const char *name = long_form ? long_names[i] : day_names[i];
        if (strlen(name) == n && strncasecmp(s, name, n) == 0)
            return true;
    }
    return false;
}

/* "HH:MM:SS" at s (time-of-day, RFC 9110 §5.6.7); false when malformed. */
static bool time_of_day(const char *s, int *hh, int *mm, int *ss)
{
    *hh = digits(s, 2);
    *mm = digits(s + 3, 2);
    *ss = digits(s + 6, 2);
    return s[2] == ':' && s[5] == ':' && *hh >= 0 && *hh <= 23 && *mm >= 0 && *mm <= 59 &&
           *ss >= 0 && *ss <= 60;
}

/* RFC 9110 §5.6.7, exactly: the three forms with their spacing and two-digit fields. Only
 * the letter case of day names, month names and "GMT" is let go: that is unambiguous, and
 * some origins send it. Anything else (doubled spaces, a one-digit hour, "0") is invalid,
 * which for Expires means already expired (RFC 9111 §5.3). */
bool sf_http_date_parse(const char *s, int64_t *epoch_s)
{
    if (s == NULL)
        return false;
    size_t len = strlen(s), comma = strcspn(s, ",");
    int d, m, y, hh, mm, ss;
    const char *t; /* the time of day */
    if (comma == 3 && len == 29) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        if (!is_day_name(s, 3, false) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
            s[16] != ' ' || s[25] != ' ' || strncasecmp(s + 26, "GMT", 3) != 0)
            return false;
        d = digits(s + 5, 2), m = month_index(s + 8), y = digits(s + 12, 4), t = s + 17;
    } else if (comma >= 6 && comma <= 9 && len == comma + 24) {
        /* obsolete RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        const char *p = s + comma + 1;
        if (!is_day_name(s, comma, true) || p[0] != ' ' || p[3] != '-' || p[7] != '-' ||
            p[10] != ' ' || p[19] != ' ' || strncasecmp(p + 20, "GMT", 3) != 0)
            return false;
        d = digits(p + 1, 2), m = month_index(p + 4), y = digits(p + 8, 2), t = p + 11;
        if (y >= 0)
            y += y < 70 ? 2000 : 1900; /* §5.6.7: within 50 years is close enough */
    } else if (comma == len && len == 24) {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        if (!is_day_name(s, 3, false) || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
            return false;
        d = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
        m = month_index(s + 4), y = digits(s + 20, 4), t = s + 11;
    } else {
        return false;
    }
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 0 || y < 0 || d < 1 || d > month_days[m - 1] || !time_of_day(t, &hh, &mm, &ss))
        return false;
    *epoch_s = days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
    return true;
}

void sf_http_date_format(int64_t epoch_s, char *buf, size_t size)
{
    time_t t = (time_t)epoch_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[tm.tm_wday], tm.tm_mday,
             month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

const char *sf_http_check_status_line(const char *line, size_t len, int *status)
{
    /* HTTP-version SP 3DIGIT SP [reason-phrase] (§4); a missing SP before an empty reason
     * is tolerated, as most clients do. */
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ')
        return "the status line is not HTTP/1.x";
    for (size_t i = 9; i < 12; i++)
        if (line[i] < '0' || line[i] > '9')
            return "the status code is not three digits";
    if (len > 12 && line[12] != ' ')
        return "the status code is not three digits";
    for (size_t i = 13; i < len; i++)
        if (line[i] != '\t' && ((unsigned char)line[i] < 0x20 || line[i] == 0x7f))
            return "the reason phrase has a control character";
    *status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (*status < 100 || *status > 599)
        return "the status is outside 100-599";
    return NULL;
}

const char *sf_http_check_field_line(const char *line, size_t len)
{
    size_t i = 0;
    if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        i = 1; /* obs-fold: the rest is more of the previous value */
    } else {
        while (i < len && is_tchar((unsigned char)line[i]))
            i++;
        if (i == 0 || i == len || line[i] != ':')
            return i < len && (line[i] == ' ' || line[i] == '\t')
                       ? "whitespace between a field name and its colon"
                       : "a field line without a token name and a colon";
        i++;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c != '\t' && (c < 0x20 || c == 0x7f))
            return "a field value has a control character (CR, LF or NUL)";
    }
    return NULL;
}

/* One Transfer-Encoding line's codings (v), after those of earlier lines (*chunked: one of
 * them was chunked): NULL when it names chunked alone. sfproxy never sends TE, so an origin
 * may apply no other transfer coding (RFC 9112 §6.1, §7.4; RFC 9110 §10.1.4); one that does
 * is refused (as nginx does) before libcurl decodes a byte of it: a few hundred bytes of
 * gzip, twice over, decode to a gigabyte that no reader bound would see. */
static const char *check_codings(const char *v, bool *chunked)
{
    if (v[strspn(v, " \t,")] == '\0')
        return "a Transfer-Encoding that names no coding";
    for (const char *p = v; *p != '\0';) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,;");
        if (n == 0)
            break;
        if (*chunked)
            return "a transfer coding after chunked";
        if (n != 7 || !sf_strneq_ci(p, "chunked", 7) || p[n] == ';')
            return "a transfer coding other than chunked (sfproxy sends no TE)";
        *chunked = true;
        p += n;
    }
    return NULL;
}

const char *sf_http_check_framing(const struct sf_hdrs *h, int64_t *length)
{
    *length = -1;
    bool te = false, chunked = false;
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->v[i].name, *v = h->v[i].value;
        if (sf_streq_ci(name, "Transfer-Encoding")) {
            /* RFC 9112 §6.3: chunked frames the body; no other coding is accepted. */
            const char *why = check_codings(v, &chunked);
            if (why != NULL)
                return why;
            te = true;
        } else if (sf_streq_ci(name, "Content-Length")) {
            const char *p = v;
            uint64_t n;
            if (!parse_u64(&p, &n) || n > INT64_MAX)
                return "a Content-Length that is not one decimal number";
            while (is_ows(*p))
                p++;
            if (*p != '\0')
                return "a Content-Length that is not one decimal number";
            if (*length >= 0 && (uint64_t)*length != n)
                return "Content-Length lines that differ";
            *length = (int64_t)n;
        }
    }
    if (te && *length >= 0)
        return "both Content-Length and Transfer-Encoding";
    return NULL;
}

char *sf_http_join_url(const char *base, const char *target)
{
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    char *url = sf_xmalloc(blen + strlen(target) + 1);
    memcpy(url, base, blen);
    strcpy(url + blen, target);
    return url;
}
