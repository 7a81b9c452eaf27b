/* textbuf: see textbuf.h. */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>

void sf_text_add(struct sf_text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (n > 0 ? (size_t)n : 0) + 64;
        t->s = sf_xrealloc(t->s, t->cap);
    }
}
