/* resphead: see resphead.h. */
#include "resphead.h"

#include <stdlib.h>
#include <string.h>

/* Joins an obs-fold continuation (RFC 9112 §5.2) to the last field with one space. */
static void fold_into_last(struct sf_resphead *h, const char *line, size_t end)
{
    size_t skip = 0;
    while (skip < end && (line[skip] == ' ' || line[skip] == '\t'))
        skip++;
    sf_hdrs_extend_last(&h->hdrs, line + skip, end - skip);
}

/* The blank line: a final head ends (framing checked, RFC 9112 §6.3); an interim one only
 * ends its 1xx, and the next status line starts over. */
static enum sf_resphead_step end_of_head(struct sf_resphead *h, const char **why)
{
    if (h->status < 200)
        return SF_RESPHEAD_INTERIM;
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
        sf_hdrs_reserve(&h->hdrs, SF_RESPHEAD_FIELDS_RESERVE); /* (the judge trims it to fit) */
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
    if (h->hdrs.n >= SF_RESPHEAD_FIELDS_MAX && !folded)
        *why = "a response head with more fields than sfproxy passes on";
    else if ((*why = sf_http_check_field_line(line, end)) == NULL && folded && h->hdrs.n == 0)
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
    sf_hdrs_addn(&h->hdrs, line, (size_t)(colon - line), v, (size_t)(line + end - v));
    return SF_RESPHEAD_MORE;
}
