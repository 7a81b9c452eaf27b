/* resphead: an origin's response head, read line by line as curl hands the lines over, and
 * checked strictly (RFC 9112): status lines, field lines (an obs-fold joined with a space,
 * §5.2), a size and field-count limit, and unambiguous framing once the head is final.
 * Every interim (1xx) head starts it over. Pure: no curl, no locks. */
#ifndef SF_RESPHEAD_H
#define SF_RESPHEAD_H

#include "http.h"

/* A head past these is refused (502): libmicrohttpd builds the head it sends in each
 * connection's 32 KiB memory pool, and a stored response whose head could not be sent
 * would fail on every hit. nginx's default for the same is 4-8 KiB. */
#define SF_RESPHEAD_BYTES_MAX (16u << 10)
#define SF_RESPHEAD_FIELDS_MAX 100
/* Room for a head's field text inside struct sf_resphead itself: a small head (a static
 * file's, an API's) needs no allocation for it; a larger one moves to the heap. Kept so
 * that a transfer (which embeds this) stays below 1 KiB, the size from which glibc's
 * malloc sweeps its fast bins first. */
#define SF_RESPHEAD_TEXT_INLINE 384

/* Zero-initialised is ready; sf_resphead_clear ends it. The fields of a head are gathered in
 * text (name, NUL, value, NUL each) as the lines come and become hdrs, packed in one
 * allocation, at the blank line: one block per head, where a list growing field by field
 * made one a field (issue 23). */
struct sf_resphead {
    int status;          /* of the head being read; 0 before its status line */
    struct sf_hdrs hdrs; /* the fields of the head last ended (blank line), packed */
    size_t bytes;        /* its size so far, line ends included */
    char *text; /* the fields of the head being read, so far, when past inline_text (owned) */
    size_t text_len, text_cap, fields;
    bool trailers; /* the final head has ended: lines now are trailer fields, which go to
                    * hdrs at once (not waiting for a blank line after them, which curl
                    * may or may not hand over) */
    char inline_text[SF_RESPHEAD_TEXT_INLINE]; /* the text while text is NULL */
};

enum sf_resphead_step {
    SF_RESPHEAD_MORE,    /* the line was taken: more follow */
    SF_RESPHEAD_INTERIM, /* the blank line ending an interim (1xx) head; its fields are in
                          * hdrs until the next status line */
    SF_RESPHEAD_FINAL,   /* the blank line ending a final (>= 200) head, whose framing holds */
    SF_RESPHEAD_BAD,     /* refused: *why says why; the response must not be used */
};

/* Reads one line (len bytes with its line end: CRLF or LF). At INTERIM and FINAL, hdrs holds
 * the head's fields, which the caller may take over (and then leave h->hdrs empty). */
enum sf_resphead_step sf_resphead_line(struct sf_resphead *h, const char *line, size_t len,
                                       const char **why);

/* Frees what h holds (its fields and its text), leaving it zero. */
void sf_resphead_clear(struct sf_resphead *h);

#endif
