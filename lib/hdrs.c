/* hdrs: see hdrs.h. Everything here is a pure function of its arguments. */
#include "hdrs.h"

#include <stdlib.h>
#include <string.h>

/* A field's name and value live in one block, the value right after the name's NUL: one
 * allocation a field, freed through its name. */
static struct sf_hdr field_block(const char *name, size_t name_len, const char *value,
                                 size_t value_len)
{
    char *block = sf_xmalloc(name_len + value_len + 2);
    memcpy(block, name, name_len);
    block[name_len] = '\0';
    memcpy(block + name_len + 1, value, value_len);
    block[name_len + 1 + value_len] = '\0';
    return (struct sf_hdr){block, block + name_len + 1};
}

bool sf_hdrs_is_packed(const struct sf_hdrs *h)
{
    return h->cap == 0 && h->n > 0;
}

/* Back to the growing form, before a change: each field its own block again. */
static void unpack(struct sf_hdrs *h)
{
    if (!sf_hdrs_is_packed(h))
        return;
    struct sf_hdr *packed = h->v;
    h->v = sf_xmalloc(h->n * sizeof *h->v);
    h->cap = h->n;
    for (size_t i = 0; i < h->n; i++)
        h->v[i] = field_block(packed[i].name, strlen(packed[i].name), packed[i].value,
                              strlen(packed[i].value));
    free(packed);
}

void sf_hdrs_addn(struct sf_hdrs *h, const char *name, size_t name_len, const char *value,
                  size_t value_len)
{
    unpack(h);
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->v = sf_xrealloc(h->v, h->cap * sizeof *h->v);
    }
    h->v[h->n++] = field_block(name, name_len, value, value_len);
}

void sf_hdrs_reserve(struct sf_hdrs *h, size_t n)
{
    unpack(h);
    if (h->cap < n) {
        h->cap = n;
        h->v = sf_xrealloc(h->v, h->cap * sizeof *h->v);
    }
}

void sf_hdrs_add(struct sf_hdrs *h, const char *name, const char *value)
{
    sf_hdrs_addn(h, name, strlen(name), value, strlen(value));
}

void sf_hdrs_extend_last(struct sf_hdrs *h, const char *more, size_t len)
{
    SF_ASSERT(h->n > 0);
    unpack(h);
    struct sf_hdr *last = &h->v[h->n - 1];
    size_t name_len = strlen(last->name), old = strlen(last->value);
    char *block = sf_xrealloc(last->name, name_len + old + len + 3);
    char *value = block + name_len + 1;
    value[old] = ' ';
    memcpy(value + old + 1, more, len);
    value[old + 1 + len] = '\0';
    *last = (struct sf_hdr){block, value};
}

void sf_hdrs_clear(struct sf_hdrs *h)
{
    if (!sf_hdrs_is_packed(h)) /* packed: the text is in v's block */
        for (size_t i = 0; i < h->n; i++)
            free(h->v[i].name); /* (its value with it) */
    free(h->v);
    memset(h, 0, sizeof *h);
}

size_t sf_hdrs_remove(struct sf_hdrs *h, const char *name)
{
    unpack(h);
    size_t kept = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (sf_streq_ci(h->v[i].name, name)) {
            free(h->v[i].name); /* (its value with it) */
        } else {
            h->v[kept++] = h->v[i];
        }
    }
    size_t removed = h->n - kept;
    h->n = kept;
    return removed;
}

const char *sf_hdrs_get(const struct sf_hdrs *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (sf_streq_ci(h->v[i].name, name))
            return h->v[i].value;
    return NULL;
}

char *sf_hdrs_join(const struct sf_hdrs *h, const char *name)
{
    size_t len = 0, count = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (sf_streq_ci(h->v[i].name, name)) {
            len += strlen(h->v[i].value) + 2;
            count++;
        }
    }
    if (count == 0)
        return NULL;
    char *out = sf_xmalloc(len + 1), *p = out;
    for (size_t i = 0; i < h->n; i++) {
        if (!sf_streq_ci(h->v[i].name, name))
            continue;
        if (p != out) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        size_t n = strlen(h->v[i].value);
        memcpy(p, h->v[i].value, n);
        p += n;
    }
    *p = '\0';
    return out;
}

/* A field's text: name, NUL, value, NUL. */
static size_t field_bytes(const struct sf_hdr *f)
{
    return strlen(f->name) + strlen(f->value) + 2;
}

size_t sf_hdrs_bytes(const struct sf_hdrs *h)
{
    size_t bytes = (sf_hdrs_is_packed(h) ? h->n : h->cap) * sizeof *h->v;
    for (size_t i = 0; i < h->n; i++)
        bytes += field_bytes(&h->v[i]);
    return bytes;
}

size_t sf_hdrs_held(const struct sf_hdrs *h, size_t (*size_fn)(size_t asked))
{
    if (h->v == NULL)
        return 0;
    if (sf_hdrs_is_packed(h))
        return size_fn(sf_hdrs_bytes(h));
    size_t held = size_fn(h->cap * sizeof *h->v);
    for (size_t i = 0; i < h->n; i++)
        held += size_fn(field_bytes(&h->v[i]));
    return held;
}

void sf_hdrs_pack(struct sf_hdrs *h)
{
    if (h->n == 0 || sf_hdrs_is_packed(h))
        return;
    size_t slots = h->n * sizeof *h->v;
    struct sf_hdr *v = sf_xmalloc(sf_hdrs_bytes(h) - h->cap * sizeof *h->v + slots);
    char *text = (char *)(v + h->n);
    for (size_t i = 0; i < h->n; i++) {
        size_t name_len = strlen(h->v[i].name), len = field_bytes(&h->v[i]);
        memcpy(text, h->v[i].name, len); /* name, NUL, value, NUL: one block already */
        v[i] = (struct sf_hdr){text, text + name_len + 1};
        text += len;
        free(h->v[i].name);
    }
    free(h->v);
    h->v = v;
    h->cap = 0; /* the mark of the packed form */
}
