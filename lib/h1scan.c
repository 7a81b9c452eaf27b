/* h1scan: see h1scan.h.
 *
 * One byte at a time through a small state machine, so a head may arrive in any number of
 * pieces. The grammar is RFC 9112's, read strictly where a lenient reading has been used
 * to smuggle requests:
 *   - request-line = method SP request-target SP HTTP-version CRLF (§3); the target is
 *     visible ASCII; the version is HTTP/1.0 or HTTP/1.1 (others: 505);
 *   - field-line = field-name ":" OWS field-value OWS CRLF (§5): no whitespace before the
 *     colon (§5.1 MUST), no obs-fold (§5.2), a name that is a token, a value without
 *     control characters; lines end in CRLF, never a bare CR or LF (§2.2);
 *   - framing (§6): Content-Length is one line of digits; Transfer-Encoding is one line
 *     that says exactly "chunked" (another coding is 501); both at once is 400 (§6.3); a
 *     Transfer-Encoding in HTTP/1.0 is 400 (§6.1); HTTP/1.1 has exactly one Host (§3.2);
 *   - chunked bodies (§7.1): hex sizes without leading junk, chunk data followed by
 *     exactly CRLF, trailer lines as strict as field lines.
 * One or more empty lines before a request line are ignored (§2.2). Each head is also
 * charged, as it is read, what libmicrohttpd's pool will hold of it (h1scan.h), so that a
 * head it accepts always leaves room there for the largest answer. */
#include "h1scan.h"

#include <string.h>

enum {
    S_START,
    S_START_LF,
    S_METHOD,
    S_TARGET,
    S_VERSION,
    S_RL_LF,
    S_FIELD_START,
    S_NAME,
    S_VALUE,
    S_FIELD_LF,
    S_HEAD_LF,
    S_BODY,
    S_CHUNK_SIZE,
    S_CHUNK_EXT,
    S_CHUNK_SIZE_LF,
    S_CHUNK_DATA,
    S_CHUNK_DATA_CR,
    S_CHUNK_DATA_LF,
    S_BAD
};

enum { F_OTHER, F_CONTENT_LENGTH, F_TRANSFER_ENCODING, F_HOST, F_COOKIE };

#define CHUNK_HEX_MAX 15 /* sizes below 2^60 */

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
    }
}

/* field-vchar, SP and HTAB (RFC 9110 §5.5): no NUL, CR, LF or other control. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void reset_message(struct sf_h1scan *s)
{
    s->_cost = s->_tok_len = s->_val_len = s->_seps = 0;
    s->_query = s->_q_part = s->_cookie_seen = false;
    s->_field = F_OTHER;
    s->_http10 = s->_trailer = false;
    s->_cl_count = s->_te_count = s->_host_count = 0;
    s->_te_chunked = s->_te_token = false;
    s->_cl = s->_left = 0;
    s->_hex_digits = 0;
}

void sf_h1scan_init(struct sf_h1scan *s)
{
    memset(s, 0, sizeof *s);
    s->_state = S_START;
    reset_message(s);
}

static void fail(struct sf_h1scan *s, unsigned status, const char *why)
{
    s->bad = true;
    s->bad_msg = s->msg;
    s->bad_in_body = s->_state >= S_BODY || s->_trailer;
    s->bad_status = status;
    s->bad_reason = why;
    s->in_head = false; /* nothing more is scanned */
    s->_state = S_BAD;
}

/* Adds n to what the head costs libmicrohttpd's pool; false (and the stream bad) past the
 * budget: 414 while the request line is still being read, else 431. */
static bool charge(struct sf_h1scan *s, size_t n)
{
    s->_cost += n;
    if (s->_cost <= SF_H1_HEAD_BUDGET)
        return true;
    if (s->_state <= S_RL_LF)
        fail(s, 414, "the request target is too long\n");
    else
        fail(s, 431, "the request head is too large\n");
    return false;
}

/* Appends c to the text being collected, as sent; keeps counting past the buffer. */
static void collect(struct sf_h1scan *s, unsigned char c)
{
    if (s->_val_len < sizeof s->_val - 1)
        s->_val[s->_val_len] = (char)c;
    s->_val_len++;
}

/* The collected text without trailing OWS, NUL-terminated; NULL when it overflowed. */
static const char *collected(struct sf_h1scan *s)
{
    if (s->_val_len >= sizeof s->_val - 1)
        return NULL;
    size_t n = s->_val_len;
    while (n > 0 && (s->_val[n - 1] == ' ' || s->_val[n - 1] == '\t'))
        n--;
    s->_val[n] = '\0';
    return s->_val;
}

static void classify_name(struct sf_h1scan *s)
{
    const char *name = collected(s);
    s->_field = F_OTHER;
    if (name == NULL || s->_trailer)
        return; /* trailers are not forwarded and frame nothing */
    if (sf_streq_ci(name, "Content-Length"))
        s->_field = F_CONTENT_LENGTH;
    else if (sf_streq_ci(name, "Transfer-Encoding"))
        s->_field = F_TRANSFER_ENCODING;
    else if (sf_streq_ci(name, "Host"))
        s->_field = F_HOST;
    else if (sf_streq_ci(name, "Cookie") && !s->_cookie_seen)
        s->_field = F_COOKIE; /* libmicrohttpd splits the first one into cookies */
    s->_cookie_seen = s->_cookie_seen || s->_field == F_COOKIE;
}

static bool is_token(const char *v)
{
    if (*v == '\0')
        return false;
    for (; *v; v++)
        if (!is_tchar((unsigned char)*v))
            return false;
    return true;
}

static bool all_digits(const char *v)
{
    if (*v == '\0' || strlen(v) > 18)
        return false;
    for (; *v; v++)
        if (*v < '0' || *v > '9')
            return false;
    return true;
}

/* host = uri-host [ ":" port ] (RFC 9110 §7.2): the characters of a reg-name, an IPv4
 * address or a bracketed IPv6 literal, then digits. */
static bool host_ok(const char *v)
{
    if (v == NULL || *v == '\0')
        return false;
    for (; *v; v++)
        if (!is_tchar((unsigned char)*v) && strchr(":[]!$&'()*+,;=", *v) == NULL)
            return false;
    return true;
}

/* A field line ended: check the framing fields. False (and the stream bad) on a fault. */
static bool end_field(struct sf_h1scan *s)
{
    const char *v;
    switch (s->_field) {
    case F_CONTENT_LENGTH:
        s->_cl_count++;
        v = collected(s);
        if (v == NULL || !all_digits(v)) {
            fail(s, 400, "Content-Length must be one decimal number\n");
            return false;
        }
        s->_cl = 0;
        for (; *v; v++)
            s->_cl = s->_cl * 10 + (uint64_t)(*v - '0');
        break;
    case F_TRANSFER_ENCODING:
        s->_te_count++;
        v = collected(s);
        /* Exactly "chunked", as RFC 9112 §7 spells it: any other spelling is a coding
         * some parser in front of us may read differently. */
        s->_te_chunked = v != NULL && strcmp(v, "chunked") == 0;
        s->_te_token = v != NULL && is_token(v);
        break;
    case F_HOST:
        s->_host_count++;
        if (!host_ok(collected(s))) {
            fail(s, 400, "the Host field is not a host name or address\n");
            return false;
        }
        break;
    case F_COOKIE: /* a copy of the value, and a record per cookie (parse_cookie_header) */
        if (!charge(s, ((s->_val_len + 1 + 15) & ~(size_t)15) + SF_H1_RECORD_COST * (s->_seps + 1)))
            return false;
        break;
    }
    s->_field = F_OTHER;
    return true;
}

/* The head ended: decide how its body is framed. False (and the stream bad) on a fault. */
static bool end_head(struct sf_h1scan *s)
{
    if (s->_te_count > 0 && s->_cl_count > 0) {
        fail(s, 400, "both Content-Length and Transfer-Encoding frame this request; send one\n");
        return false;
    }
    if (s->_cl_count > 1) {
        fail(s, 400, "more than one Content-Length; send one\n");
        return false;
    }
    if (s->_te_count > 1) {
        fail(s, 400, "more than one Transfer-Encoding line; send one: chunked\n");
        return false;
    }
    if (s->_te_count == 1 && s->_http10) {
        fail(s, 400, "Transfer-Encoding is not HTTP/1.0; send Content-Length\n");
        return false;
    }
    if (s->_te_count == 1 && !s->_te_chunked) {
        if (s->_te_token)
            fail(s, 501, "the only transfer coding accepted is chunked\n");
        else
            fail(s, 400, "Transfer-Encoding must be exactly: chunked\n");
        return false;
    }
    if (s->_host_count > 1 || (!s->_http10 && s->_host_count == 0)) {
        fail(s, 400,
             s->_host_count ? "more than one Host field; send one\n"
                            : "an HTTP/1.1 request needs one Host field\n");
        return false;
    }
    s->heads_ok++;
    s->in_head = false;
    if (s->_te_count == 1) {
        s->_state = S_CHUNK_SIZE;
    } else if (s->_cl > 0) {
        s->_left = s->_cl;
        s->_state = S_BODY;
    } else {
        s->msg++;
        reset_message(s);
        s->_state = S_START;
    }
    return true;
}

static void end_message(struct sf_h1scan *s)
{
    s->msg++;
    reset_message(s);
    s->_state = S_START;
}

/* Version "HTTP/1.0" or "HTTP/1.1" (case-sensitive, §2.3); "HTTP/d.d" otherwise is 505;
 * anything else 400. */
static bool end_version(struct sf_h1scan *s)
{
    const char *v = collected(s);
    if (v != NULL && (strcmp(v, "HTTP/1.1") == 0 || strcmp(v, "HTTP/1.0") == 0)) {
        s->_http10 = v[7] == '0';
        return true;
    }
    if (v != NULL && strlen(v) == 8 && strncmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' &&
        v[6] == '.' && v[7] >= '0' && v[7] <= '9')
        fail(s, 505, "only HTTP/1.0 and HTTP/1.1 are served here\n");
    else
        fail(s, 400, "the request line must end in HTTP/1.1\n");
    return false;
}

/* One byte of a head (request line or fields, or trailer fields). */
static void head_byte(struct sf_h1scan *s, unsigned char c)
{
    if (!charge(s, 1))
        return;
    switch (s->_state) {
    case S_START:
        s->in_head = true;
        if (c == '\r') {
            s->_state = S_START_LF; /* an empty line before the request line (§2.2) */
        } else if (is_tchar(c)) {
            s->_tok_len = 1;
            s->_state = S_METHOD;
        } else {
            fail(s, 400, "the request line must start with a method\n");
        }
        break;
    case S_START_LF:
        if (c == '\n')
            s->_state = S_START;
        else
            fail(s, 400, "a CR must be followed by LF\n");
        break;
    case S_METHOD:
        if (c == ' ' && s->_tok_len > 0) {
            s->_state = S_TARGET;
            s->_tok_len = 0;
        } else if (is_tchar(c)) {
            s->_tok_len++;
        } else {
            fail(s, 400, "the method must be a token followed by one space\n");
        }
        break;
    case S_TARGET:
        if (c == ' ' && s->_tok_len > 0) {
            s->_state = S_VERSION;
            s->_val_len = 0;
        } else if (c > 0x20 && c < 0x7f && c != '#') {
            s->_tok_len++;
            if (s->_q_part && !charge(s, SF_H1_RECORD_COST))
                return; /* a query parameter starts here: a record */
            s->_q_part = (c == '?' && !s->_query) || (c == '&' && s->_query);
            s->_query = s->_query || c == '?';
        } else {
            fail(s, 400,
                 "the request target has a space, a control character, a '#' or a "
                 "byte that is not ASCII; percent-encode it\n");
        }
        break;
    case S_VERSION:
        if (c == '\r') {
            if (end_version(s))
                s->_state = S_RL_LF;
        } else if (s->_val_len < 8 && c > 0x20 && c < 0x7f) {
            collect(s, c);
        } else {
            fail(s, 400, "the request line must end in HTTP/1.1\n");
        }
        break;
    case S_RL_LF:
    case S_FIELD_LF:
        if (c != '\n') {
            fail(s, 400, "a CR must be followed by LF\n");
        } else {
            s->_state = S_FIELD_START;
            s->_val_len = 0;
        }
        break;
    case S_FIELD_START:
        if (c == '\r') {
            s->_state = S_HEAD_LF;
        } else if (c == ' ' || c == '\t') {
            fail(s, 400,
                 "a field line is folded onto the previous one (obs-fold); send it on "
                 "one line\n");
        } else if (is_tchar(c)) {
            if (!charge(s, SF_H1_RECORD_COST))
                return; /* the field line's record */
            s->_val_len = 0;
            collect(s, c);
            s->_state = S_NAME;
        } else {
            fail(s, 400, "a field name must be a token\n");
        }
        break;
    case S_NAME:
        if (c == ':') {
            classify_name(s);
            s->_val_len = 0;
            s->_state = S_VALUE;
        } else if (is_tchar(c)) {
            collect(s, c);
        } else if (c == ' ' || c == '\t') {
            fail(s, 400, "whitespace between a field name and its colon\n");
        } else {
            fail(s, 400, "a field name must be a token followed by a colon\n");
        }
        break;
    case S_VALUE:
        if (c == '\r') {
            if (end_field(s))
                s->_state = S_FIELD_LF;
        } else if (!is_value_char(c)) {
            fail(s, 400, "a field value has a control character (a bare CR or LF, or NUL)\n");
        } else if (s->_val_len > 0 || (c != ' ' && c != '\t')) {
            if (s->_field != F_OTHER && s->_field != F_COOKIE)
                collect(s, c);
            else
                s->_val_len++;
            s->_seps += s->_field == F_COOKIE && (c == ';' || c == ',');
        }
        break;
    case S_HEAD_LF:
        if (c != '\n')
            fail(s, 400, "a CR must be followed by LF\n");
        else if (s->_trailer)
            end_message(s);
        else
            end_head(s);
        break;
    default: SF_ASSERT(!"head_byte in a body state");
    }
}

/* One byte of chunked framing (not chunk data). */
static void chunk_byte(struct sf_h1scan *s, unsigned char c)
{
    switch (s->_state) {
    case S_CHUNK_SIZE: {
        int h = hex_value(c);
        if (h >= 0 && s->_hex_digits < CHUNK_HEX_MAX) {
            s->_left = s->_left * 16 + (uint64_t)h;
            s->_hex_digits++;
        } else if (s->_hex_digits > 0 && c == '\r') {
            s->_state = S_CHUNK_SIZE_LF;
        } else if (s->_hex_digits > 0 && (c == ';' || c == ' ' || c == '\t')) {
            s->_state = S_CHUNK_EXT;
        } else {
            fail(s, 400, "a chunk size must be hexadecimal digits\n");
        }
        break;
    }
    case S_CHUNK_EXT:
        if (c == '\r')
            s->_state = S_CHUNK_SIZE_LF;
        else if (!is_value_char(c))
            fail(s, 400, "a chunk extension has a control character\n");
        break;
    case S_CHUNK_SIZE_LF:
        if (c != '\n') {
            fail(s, 400, "a CR must be followed by LF\n");
        } else if (s->_left == 0) {
            s->_trailer = true; /* the last chunk: trailer fields, then an empty line */
            s->_state = S_FIELD_START;
        } else {
            s->_state = S_CHUNK_DATA;
        }
        break;
    case S_CHUNK_DATA_CR:
        if (c == '\r')
            s->_state = S_CHUNK_DATA_LF;
        else
            fail(s, 400, "chunk data must be followed by CRLF: the chunk size is wrong\n");
        break;
    case S_CHUNK_DATA_LF:
        if (c == '\n') {
            s->_hex_digits = 0;
            s->_left = 0;
            s->_state = S_CHUNK_SIZE;
        } else {
            fail(s, 400, "chunk data must be followed by CRLF: the chunk size is wrong\n");
        }
        break;
    default: SF_ASSERT(!"chunk_byte outside chunked framing");
    }
}

/* The length of the run at p[0..n) that head_byte would take one byte at a time without
 * changing state: target bytes (but '?' and '&', which may start a query parameter), or
 * the bytes of a field value after its first (whose value is not collected). Hot: most
 * of a head is these two. */
static size_t plain_run(const struct sf_h1scan *s, const unsigned char *p, size_t n)
{
    size_t j = 0;
    if (s->_state == S_TARGET && !s->_q_part)
        while (j < n && p[j] > 0x20 && p[j] < 0x7f && p[j] != '#' && p[j] != '?' && p[j] != '&')
            j++;
    else if (s->_state == S_NAME)
        while (j < n && is_tchar(p[j]))
            j++;
    else if (s->_state == S_VALUE && (s->_field == F_OTHER || s->_field == F_COOKIE) &&
             s->_val_len > 0)
        while (j < n && (p[j] >= 0x20 ? p[j] != 0x7f : p[j] == '\t'))
            j++;
    return j;
}

size_t sf_h1scan_feed(struct sf_h1scan *s, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && !s->bad) {
        size_t run = plain_run(s, (const unsigned char *)p + i, n - i);
        if (run > 0 && s->_cost + run <= SF_H1_HEAD_BUDGET) {
            s->_cost += run;
            if (s->_state == S_TARGET) {
                s->_tok_len += run;
            } else if (s->_state == S_NAME) { /* names are collected: framing fields */
                if (s->_val_len < sizeof s->_val - 1) {
                    size_t room = sizeof s->_val - 1 - s->_val_len;
                    memcpy(s->_val + s->_val_len, p + i, run < room ? run : room);
                }
                s->_val_len += run;
            } else {
                s->_val_len += run;
                for (size_t j = 0; s->_field == F_COOKIE && j < run; j++)
                    s->_seps += p[i + j] == ';' || p[i + j] == ',';
            }
            i += run;
            continue;
        }
        if (s->_state == S_BODY || s->_state == S_CHUNK_DATA) {
            /* Content bytes: skip them in one step. */
            size_t take = n - i < s->_left ? n - i : (size_t)s->_left;
            s->_left -= take;
            i += take;
            if (s->_left == 0 && s->_state == S_BODY)
                end_message(s);
            else if (s->_left == 0)
                s->_state = S_CHUNK_DATA_CR;
            continue;
        }
        unsigned char c = (unsigned char)p[i];
        if (s->_state >= S_CHUNK_SIZE && s->_state <= S_CHUNK_DATA_LF)
            chunk_byte(s, c);
        else
            head_byte(s, c);
        if (!s->bad)
            i++;
    }
    return i;
}

unsigned sf_h1scan_verdict(const struct sf_h1scan *s, uint64_t k, const char **why)
{
    if (s->bad && s->bad_msg == k && !s->bad_in_body) {
        *why = s->bad_reason;
        return s->bad_status;
    }
    if (k < s->heads_ok)
        return 0;
    *why = "the request head is malformed\n";
    return 400;
}

size_t sf_h1scan_read_max(const struct sf_h1scan *s)
{
    /* Content bytes are taken by the request's handler as they come; what may follow
     * them is the next request. */
    if ((s->_state == S_BODY || s->_state == S_CHUNK_DATA) && s->_left < SIZE_MAX / 2)
        return (size_t)s->_left + SF_H1_READ_AHEAD;
    return SF_H1_READ_AHEAD;
}

size_t sf_h1scan_feed_capped(struct sf_h1scan *s, const char *p, size_t n, size_t *kept)
{
    /* While the message being read goes on, its bytes may; once it ends, what follows is
     * kept up to the read-ahead of the step it ended in. */
    uint64_t first = s->msg;
    size_t i = 0, ok = 0;
    while (i < n && !s->bad && s->msg == first) {
        size_t max = sf_h1scan_read_max(s);
        size_t step = n - i < max ? n - i : max;
        ok = i + sf_h1scan_feed(s, p + i, step);
        i += step;
    }
    *kept = i;
    return s->bad ? ok : i;
}

bool sf_h1scan_between(const struct sf_h1scan *s)
{
    return !s->bad && s->_state == S_START && !s->in_head;
}
