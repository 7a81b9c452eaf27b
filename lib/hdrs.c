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

/* A field's text: name, NUL, value, NUL. */
static size_t field_bytes(const struct sf_hdr *f)
{
    return strlen(f->name) + strlen(f->value) + 2;
}

/* Points a packed list's n slots at its text, which follows them: name, NUL, value, NUL, one
 * field after the other in the slots' order. */
static void point_packed(struct sf_hdrs *h)
{
    char *text = (char *)(h->v + h->n);
    for (size_t i = 0; i < h->n; i++) {
        char *value = text + strlen(text) + 1;
        h->v[i] = (struct sf_hdr){text, value};
        text = value + strlen(value) + 1;
    }
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

/* A packed list without the fields keep refuses, in place: the kept slots move down, then
 * their text after them (every move goes to a lower address, and the slots still to be read
 * are compacted first), and the block shrinks to fit, so sf_hdrs_bytes stays its size. */
static size_t filter_packed(struct sf_hdrs *h, bool (*keep)(const struct sf_hdr *f, void *arg),
                            void *arg)
{
    size_t kept = 0;
    for (size_t i = 0; i < h->n; i++)
        if (keep(&h->v[i], arg))
            h->v[kept++] = h->v[i];
    size_t removed = h->n - kept;
    if (removed == 0)
        return 0;
    h->n = kept;
    if (kept == 0) {
        sf_hdrs_clear(h);
        return removed;
    }
    char *text = (char *)(h->v + kept);
    for (size_t i = 0; i < kept; i++) {
        size_t len = field_bytes(&h->v[i]);
        memmove(text, h->v[i].name, len);
        text += len;
    }
    h->v = sf_xrealloc(h->v, (size_t)(text - (char *)h->v));
    point_packed(h);
    return removed;
}

size_t sf_hdrs_filter(struct sf_hdrs *h, bool (*keep)(const struct sf_hdr *f, void *arg), void *arg)
{
    if (sf_hdrs_is_packed(h))
        return filter_packed(h, keep, arg);
    size_t kept = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (keep(&h->v[i], arg))
            h->v[kept++] = h->v[i];
        else
            free(h->v[i].name); /* (its value with it) */
    }
    size_t removed = h->n - kept;
    h->n = kept;
    return removed;
}

static bool is_not_named(const struct sf_hdr *f, void *name)
{
    return !sf_streq_ci(f->name, name);
}

size_t sf_hdrs_remove(struct sf_hdrs *h, const char *name)
{
    return sf_hdrs_filter(h, is_not_named, (void *)name);
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

const char *sf_hdrs_list(const struct sf_hdrs *h, const char *name, char **joined)
{
    *joined = NULL;
    const char *first = NULL;
    bool found = false; /* (not first != NULL: the analyzer then takes a value for NULL) */
    for (size_t i = 0; i < h->n; i++) {
        if (!sf_streq_ci(h->v[i].name, name))
            continue;
        if (found)
            return *joined = sf_hdrs_join(h, name);
        first = h->v[i].value;
        found = true;
    }
    return first;
}

void sf_hdrs_pack_text(struct sf_hdrs *h, const char *text, size_t len, size_t n)
{
    SF_ASSERT(h->n == 0 && h->v == NULL);
    if (n == 0)
        return;
    h->v = sf_xmalloc(n * sizeof *h->v + len);
    memcpy(h->v + n, text, len);
    h->n = n;
    point_packed(h);
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
