/* resphead: see resphead.h. */
#include "resphead.h"

#include <stdlib.h>
#include <string.h>

static char *text_of(struct sf_resphead *h)
{
    return h->text != NULL ? h->text : h->inline_text;
}

/* Room for len more bytes of text: inline, then on the heap. The head's size limit bounds
 * it. */
static char *text_room(struct sf_resphead *h, size_t len)
{
    size_t cap = h->text != NULL ? h->text_cap : sizeof h->inline_text;
    if (h->text_len + len > cap) {
        while (cap < h->text_len + len)
            cap *= 2;
        if (h->text == NULL) {
            h->text = sf_xmalloc(cap);
            memcpy(h->text, h->inline_text, h->text_len);
        } else {
            h->text = sf_xrealloc(h->text, cap);
        }
        h->text_cap = cap;
    }
    return text_of(h) + h->text_len;
}

static void add_field(struct sf_resphead *h, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    if (h->trailers) {
        sf_hdrs_addn(&h->hdrs, name, name_len, value, value_len);
        h->fields++;
        return;
    }
    char *p = text_room(h, name_len + value_len + 2);
    memcpy(p, name, name_len);
    p[name_len] = '\0';
    memcpy(p + name_len + 1, value, value_len);
    p[name_len + 1 + value_len] = '\0';
    h->text_len += name_len + value_len + 2;
    h->fields++;
}

/* Joins an obs-fold continuation (RFC 9112 §5.2) to the last field with one space: the last
 * field's value ends the text, so the continuation goes where its NUL was. */
static void fold_into_last(struct sf_resphead *h, const char *line, size_t end)
{
    size_t skip = 0;
    while (skip < end && (line[skip] == ' ' || line[skip] == '\t'))
        skip++;
    if (h->trailers) {
        sf_hdrs_extend_last(&h->hdrs, line + skip, end - skip);
        return;
    }
    char *p = text_room(h, end - skip + 1) - 1;
    *p = ' ';
    memcpy(p + 1, line + skip, end - skip);
    p[1 + end - skip] = '\0';
    h->text_len += end - skip + 1;
}

/* The fields gathered become hdrs, in one block, and the text is empty again (for trailers,
 * or the next head). */
static void take_fields(struct sf_resphead *h)
{
    sf_hdrs_clear(&h->hdrs);
    sf_hdrs_pack_text(&h->hdrs, text_of(h), h->text_len, h->fields);
    h->text_len = h->fields = 0;
}

void sf_resphead_clear(struct sf_resphead *h)
{
    sf_hdrs_clear(&h->hdrs);
    free(h->text);
    memset(h, 0, sizeof *h);
}

/* The blank line: a final head ends (framing checked, RFC 9112 §6.3); an interim one only
 * ends its 1xx, and the next status line starts over. */
static enum sf_resphead_step end_of_head(struct sf_resphead *h, const char **why)
{
    if (!h->trailers)
        take_fields(h);
    if (h->status < 200)
        return SF_RESPHEAD_INTERIM;
    h->trailers = true;
    int64_t length;
    *why = sf_http_check_framing(&h->hdrs, &length);
    return *why == NULL ? SF_RESPHEAD_FINAL : SF_RESPHEAD_BAD;
}

enum sf_resphead_step sf_resphead_line(struct sf_resphead *h, const char *line, size_t len,
                                       const char **why)
{
    *why = NULL;
    /* One line end: CRLF, or LF (RFC 9112 §2.2). A CR left inside is bare: refused. */
    size_t end = len;
    if (end > 0 && line[end - 1] == '\n')
        end--;
    if (end > 0 && line[end - 1] == '\r')
        end--;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* Every response of the transfer starts here, 1xx included: start over. */
        sf_hdrs_clear(&h->hdrs);
        h->text_len = h->fields = 0;
        h->trailers = false;
        h->bytes = len;
        *why = sf_http_check_status_line(line, end, &h->status);
        return *why == NULL ? SF_RESPHEAD_MORE : SF_RESPHEAD_BAD;
    }
    h->bytes += len;
    if (h->status == 0)
        *why = "a response that does not start with a status line";
    else if (h->bytes > SF_RESPHEAD_BYTES_MAX)
        *why = "a response head larger than sfproxy passes on";
    if (*why != NULL)
        return SF_RESPHEAD_BAD;
    if (end == 0)
        return end_of_head(h, why);
    bool folded = line[0] == ' ' || line[0] == '\t';
    if (h->fields >= SF_RESPHEAD_FIELDS_MAX && !folded)
        *why = "a response head with more fields than sfproxy passes on";
    else if ((*why = sf_http_check_field_line(line, end)) == NULL && folded && h->fields == 0)
        *why = "a folded line with no field before it";
    if (*why != NULL)
        return SF_RESPHEAD_BAD;
    while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--; /* trailing whitespace is not part of a value (RFC 9112 §5) */
    if (folded) {
        fold_into_last(h, line, end);
        return SF_RESPHEAD_MORE;
    }
    const char *colon = memchr(line, ':', end);
    const char *v = colon + 1;
    while (v < line + end && (*v == ' ' || *v == '\t'))
        v++;
    add_field(h, line, (size_t)(colon - line), v, (size_t)(line + end - v));
    return SF_RESPHEAD_MORE;
}
