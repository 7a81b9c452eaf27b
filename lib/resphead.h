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
/* Room made for a head's fields at its status line: most heads have fewer (one allocation
 * for the array, not one per doubling). */
#define SF_RESPHEAD_FIELDS_RESERVE 16

struct sf_resphead {
    int status;          /* of the head being read; 0 before its status line */
    struct sf_hdrs hdrs; /* its fields so far */
    size_t bytes;        /* its size so far, line ends included */
};

enum sf_resphead_step {
    SF_RESPHEAD_MORE,    /* the line was taken: more follow */
    SF_RESPHEAD_INTERIM, /* the blank line ending an interim (1xx) head; its fields are in
                          * hdrs until the next status line */
    SF_RESPHEAD_FINAL,   /* the blank line ending a final (>= 200) head, whose framing holds */
    SF_RESPHEAD_BAD,     /* refused: *why says why; the response must not be used */
};

/* Reads one line (len bytes with its line end: CRLF or LF). */
enum sf_resphead_step sf_resphead_line(struct sf_resphead *h, const char *line, size_t len,
                                       const char **why);

#endif
