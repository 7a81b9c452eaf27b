/* textbuf: a growing text that formatted pieces are appended to (the Prometheus documents
 * of metrics.c and poolview.c). Pure. */
#ifndef SF_TEXTBUF_H
#define SF_TEXTBUF_H

#include "base.h"

/* A text of len bytes (NUL-terminated) in s, which has cap bytes. Zeroed: empty, nothing
 * allocated yet. The holder frees s. */
struct sf_text {
    char *s;
    size_t len, cap;
};

/* Appends printf's rendering of fmt, growing t as it needs. */
void sf_text_add(struct sf_text *t, const char *fmt, ...) SF_FORMAT(2, 3);

#endif
