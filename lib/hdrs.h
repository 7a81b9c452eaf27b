/* hdrs: an ordered list of HTTP header fields (RFC 9110 §5), and the packed form a stored
 * response keeps (sf_hdrs_pack). Pure: no I/O, no locks; safe on any thread for a list it
 * owns. Included by http.h, where the rest of the field helpers are. */
#ifndef SF_HDRS_H
#define SF_HDRS_H

#include "base.h"

struct sf_hdr {
    char *name;  /* the field's name, NUL, its value, NUL (one allocation, or the pack's) */
    char *value; /* inside name's block: never freed nor replaced on its own */
};

/* An ordered list of fields; owns its strings. Zero-initialised is empty.
 *
 * Two forms, one API. Growing: v has room for cap fields, each field's text its own
 * allocation. Packed (sf_hdrs_pack; cap == 0 while n > 0): v is one allocation holding the
 * n slots and, right after them, every field's text, so a stored head costs one malloc
 * chunk, not one per field plus a table of 8 slots. Readers see no difference (v[i].name,
 * v[i].value); sf_hdrs_remove and sf_hdrs_filter compact a packed list in place (and
 * shrink it to fit), a call that adds to one first copies it back to the growing form,
 * and sf_hdrs_clear frees either. A packed list never moves while nobody changes it: a
 * published head (singleflight.h (P)) is read without a lock. */
struct sf_hdrs {
    struct sf_hdr *v;
    size_t n, cap;
};

void sf_hdrs_add(struct sf_hdrs *h, const char *name, const char *value);
void sf_hdrs_addn(struct sf_hdrs *h, const char *name, size_t name_len, const char *value,
                  size_t value_len);
/* Makes room for n fields in all, so that adding up to that many allocates only their
 * strings. */
void sf_hdrs_reserve(struct sf_hdrs *h, size_t n);
/* Appends a space and len bytes of more to the last field's value (an obs-fold's
 * continuation, RFC 9112 §5.2). The list must not be empty. */
void sf_hdrs_extend_last(struct sf_hdrs *h, const char *more, size_t len);
void sf_hdrs_clear(struct sf_hdrs *h);
/* Removes every field of that name; returns how many. */
size_t sf_hdrs_remove(struct sf_hdrs *h, const char *name);
/* Removes every field keep(f, arg) refuses, the others keeping their order; returns how
 * many. A packed list stays packed: it is compacted in place and shrunk to fit (no
 * allocation beyond that realloc). */
size_t sf_hdrs_filter(struct sf_hdrs *h, bool (*keep)(const struct sf_hdr *f, void *arg),
                      void *arg);
/* The first value of a field, borrowed from h; NULL when absent. */
const char *sf_hdrs_get(const struct sf_hdrs *h, const char *name);
/* All values of a field joined with ", " (RFC 9110 §5.3); NULL when absent. Caller frees. */
char *sf_hdrs_join(const struct sf_hdrs *h, const char *name);
/* A field's values as one list (RFC 9110 §5.3), without a copy where it can: borrowed from h
 * when the field occurs once (*joined NULL), else joined as sf_hdrs_join does into *joined,
 * which the caller frees (free(NULL) is fine). NULL when absent. */
const char *sf_hdrs_list(const struct sf_hdrs *h, const char *name, char **joined);
/* Bytes the list occupies (its slots and text; a packed list: its one block), for memory
 * accounting. */
size_t sf_hdrs_bytes(const struct sf_hdrs *h);
/* The list's allocations: what sf_hdrs_bytes counts, split as malloc asked for it (each
 * size through size_fn, which says what an allocation of that size holds). */
size_t sf_hdrs_held(const struct sf_hdrs *h, size_t (*size_fn)(size_t asked));

/* Packs h into one allocation (the packed form above): same fields, same order. A list
 * already packed, or empty, is left as it is. */
void sf_hdrs_pack(struct sf_hdrs *h);
/* Makes h (empty) the packed form of the n fields in text's len bytes, each its name, NUL,
 * its value, NUL, one after the other: one allocation, however many fields (an origin's
 * head, gathered line by line in one buffer, resphead.c). */
void sf_hdrs_pack_text(struct sf_hdrs *h, const char *text, size_t len, size_t n);
/* Whether h is in the packed form. */
bool sf_hdrs_is_packed(const struct sf_hdrs *h);

#endif
