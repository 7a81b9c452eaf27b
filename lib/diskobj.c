/* diskobj: see diskobj.h for the encoding. The writer appends to a growing buffer; the
 * reader is a cursor that refuses (and stays refused) the first time a length runs past
 * the head's end, so a head is either decoded whole or not at all. */
#include "diskobj.h"

#include "diskrec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OBJ_MAGIC 0x424f4653u    /* "SFOB" read as little-endian bytes */
#define VARY_MAGIC 0x564f4653u   /* "SFOV" */
#define SLICED_MAGIC 0x4c4f4653u /* "SFOL" */
#define NO_STR 0xffffffffu

enum {
    F_NEVER_STALE = 1,
    F_MUST_VALIDATE = 2,
    F_HEURISTIC = 4,
    F_KNOWN = 7,
};

/* ---- writing ---- */

struct wbuf {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct wbuf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = sf_xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_le(struct wbuf *b, uint64_t v, size_t bytes)
{
    uint8_t x[8];
    for (size_t i = 0; i < bytes; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, bytes);
}

/* A string: its length, then its bytes; NULL as NO_STR and nothing. */
static void put_str(struct wbuf *b, const char *s)
{
    if (s == NULL) {
        put_le(b, NO_STR, 4);
        return;
    }
    size_t n = strlen(s);
    put_le(b, n, 4);
    put(b, s, n);
}

/* The buffer as a head, or NULL (freed) when it is too large for a record. */
static uint8_t *finish(struct wbuf *b, uint32_t *len)
{
    if (b->len > SF_DISKREC_MAX_HEAD) {
        free(b->p);
        return NULL;
    }
    *len = (uint32_t)b->len;
    return b->p;
}

uint8_t *sf_diskobj_encode(const struct sf_diskobj *o, uint32_t *len)
{
    const struct sf_verdict *v = &o->verdict;
    if (o->hdrs.n > SF_DISKOBJ_MAX_FIELDS)
        return NULL;
    struct wbuf b = {0};
    unsigned flags = (v->never_stale ? F_NEVER_STALE : 0) |
                     (v->must_validate ? F_MUST_VALIDATE : 0) | (v->heuristic ? F_HEURISTIC : 0);
    put_le(&b, OBJ_MAGIC, 4);
    put_le(&b, SF_DISKOBJ_VERSION, 2);
    put_le(&b, flags, 2);
    put_le(&b, (uint64_t)o->status, 2);
    put_le(&b, (uint64_t)v->fresh_from, 1);
    put_le(&b, 0, 1);
    put_le(&b, v->ignored, 4);
    put_le(&b, (uint64_t)v->fresh_s, 8);
    put_le(&b, (uint64_t)v->age_s, 8);
    put_le(&b, (uint64_t)o->response_time_s, 8);
    put_le(&b, (uint64_t)o->content_length, 8);
    put_le(&b, (uint64_t)v->stale_if_error_s, 8);
    put_le(&b, (uint64_t)v->stale_while_revalidate_s, 8);
    put_str(&b, o->vary_names);
    put_str(&b, o->vary_names != NULL ? o->variant : NULL);
    put_le(&b, o->hdrs.n, 4);
    for (size_t i = 0; i < o->hdrs.n; i++) {
        put_str(&b, o->hdrs.v[i].name);
        put_str(&b, o->hdrs.v[i].value);
    }
    return finish(&b, len);
}

uint8_t *sf_diskobj_encode_vary(const char *names, uint32_t *len)
{
    struct wbuf b = {0};
    put_le(&b, VARY_MAGIC, 4);
    put_le(&b, SF_DISKOBJ_VERSION, 2);
    put_le(&b, 0, 2);
    put_str(&b, names);
    return finish(&b, len);
}

uint8_t *sf_diskobj_encode_sliced(const struct sf_slice_ref *ref, uint32_t *len)
{
    struct wbuf b = {0};
    put_le(&b, SLICED_MAGIC, 4);
    put_le(&b, SF_DISKOBJ_VERSION, 2);
    put_le(&b, 0, 2);
    put_le(&b, ref->total, 8);
    put_str(&b, ref->etag);
    put_str(&b, ref->last_modified);
    return finish(&b, len);
}

/* ---- reading ---- */

struct rbuf {
    const uint8_t *p;
    size_t len, at;
    bool bad; /* a read ran past the end: every later read fails too */
};

static uint64_t get_le(struct rbuf *r, size_t bytes)
{
    if (r->bad || r->len - r->at < bytes) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[r->at + i] << (8 * i);
    r->at += bytes;
    return v;
}

/* A string's bytes, borrowed from the head, into *s and *n; *s NULL for none. False when
 * it runs past the end. */
static bool get_span(struct rbuf *r, const char **s, size_t *n)
{
    uint64_t len = get_le(r, 4);
    *s = NULL;
    *n = 0;
    if (r->bad)
        return false;
    if (len == NO_STR)
        return true;
    if (r->len - r->at < len) {
        r->bad = true;
        return false;
    }
    *s = (const char *)r->p + r->at;
    *n = (size_t)len;
    r->at += (size_t)len;
    return true;
}

/* A string, copied (caller frees), or NULL for none or when it fails (r->bad says which);
 * a NUL inside is refused: no field or name has one. */
static char *get_str(struct rbuf *r)
{
    const char *s;
    size_t n;
    if (!get_span(r, &s, &n) || s == NULL)
        return NULL;
    if (memchr(s, '\0', n) != NULL) {
        r->bad = true;
        return NULL;
    }
    return sf_xstrndup(s, n);
}

/* The fixed part of a response's head into out; false when it is not one of ours. */
static bool get_fixed(struct rbuf *r, struct sf_diskobj *out)
{
    struct sf_verdict *v = &out->verdict;
    if (get_le(r, 4) != OBJ_MAGIC || get_le(r, 2) != SF_DISKOBJ_VERSION)
        return false;
    uint64_t flags = get_le(r, 2);
    out->status = (int)get_le(r, 2);
    uint64_t from = get_le(r, 1);
    uint64_t zero = get_le(r, 1);
    v->ignored = (unsigned)get_le(r, 4);
    v->fresh_s = (int64_t)get_le(r, 8);
    v->age_s = (int64_t)get_le(r, 8);
    out->response_time_s = (int64_t)get_le(r, 8);
    out->content_length = (int64_t)get_le(r, 8);
    v->stale_if_error_s = (int64_t)get_le(r, 8);
    v->stale_while_revalidate_s = (int64_t)get_le(r, 8);
    if (r->bad || (flags & ~(uint64_t)F_KNOWN) != 0 || zero != 0 || from > SF_TTL_HEURISTIC ||
        out->status < 100 || out->status > 999)
        return false;
    v->shareable = v->storable = true;
    v->never_stale = flags & F_NEVER_STALE;
    v->must_validate = flags & F_MUST_VALIDATE;
    v->heuristic = flags & F_HEURISTIC;
    v->fresh_from = (enum sf_ttl_source)from;
    return true;
}

static bool get_fields(struct rbuf *r, struct sf_hdrs *h)
{
    uint64_t n = get_le(r, 4);
    if (r->bad || n > SF_DISKOBJ_MAX_FIELDS)
        return false;
    for (uint64_t i = 0; i < n; i++) {
        char *name = get_str(r);
        char *value = name != NULL ? get_str(r) : NULL;
        if (value == NULL) {
            free(name);
            return false;
        }
        sf_hdrs_add(h, name, value);
        free(name);
        free(value);
    }
    return true;
}

bool sf_diskobj_decode(const uint8_t *head, uint32_t len, int64_t now_s, struct sf_diskobj *out)
{
    struct rbuf r = {head, len, 0, false};
    *out = (struct sf_diskobj){0};
    bool ok = get_fixed(&r, out);
    if (ok) {
        out->vary_names = get_str(&r);
        out->variant = get_str(&r);
        ok = !r.bad && (out->vary_names == NULL) == (out->variant == NULL) &&
             get_fields(&r, &out->hdrs) && r.at == r.len;
    }
    if (!ok) {
        sf_diskobj_clear(out);
        return false;
    }
    int64_t then = out->response_time_s;
    out->verdict.age_s = sf_policy_current_age(out->verdict.age_s, then, now_s);
    out->response_time_s = now_s > then ? now_s : then;
    return true;
}

char *sf_diskobj_decode_vary(const uint8_t *head, uint32_t len)
{
    struct rbuf r = {head, len, 0, false};
    if (get_le(&r, 4) != VARY_MAGIC || get_le(&r, 2) != SF_DISKOBJ_VERSION || get_le(&r, 2) != 0)
        return NULL;
    char *names = get_str(&r);
    if (r.bad || names == NULL || r.at != r.len) {
        free(names);
        return NULL;
    }
    return names;
}

bool sf_diskobj_decode_sliced(const uint8_t *head, uint32_t len, struct sf_slice_ref *out)
{
    struct rbuf r = {head, len, 0, false};
    *out = (struct sf_slice_ref){0};
    if (get_le(&r, 4) != SLICED_MAGIC || get_le(&r, 2) != SF_DISKOBJ_VERSION || get_le(&r, 2) != 0)
        return false;
    out->total = get_le(&r, 8);
    out->etag = get_str(&r);
    out->last_modified = get_str(&r);
    if (r.bad || r.at != r.len || (out->etag == NULL) == (out->last_modified == NULL)) {
        sf_slice_ref_clear(out); /* exactly one validator: sf_slice_ref_of's */
        *out = (struct sf_slice_ref){0};
        return false;
    }
    return true;
}

const char *sf_diskobj_field(const uint8_t *head, uint32_t len, const char *name, char *out,
                             size_t cap)
{
    struct sf_diskobj skip = {0};
    struct rbuf r = {head, len, 0, false};
    if (cap == 0 || !get_fixed(&r, &skip))
        return NULL;
    const char *s;
    size_t n;
    get_span(&r, &s, &n); /* vary_names */
    get_span(&r, &s, &n); /* variant */
    uint64_t count = get_le(&r, 4);
    size_t used = 0;
    bool found = false;
    for (uint64_t i = 0; !r.bad && i < count; i++) {
        const char *fname, *value;
        size_t fn, vn;
        if (!get_span(&r, &fname, &fn) || !get_span(&r, &value, &vn) || fname == NULL ||
            value == NULL)
            return NULL;
        if (fn != strlen(name) || strncasecmp(fname, name, fn) != 0)
            continue;
        const char *sep = found ? ", " : "";
        for (const char *c = sep; *c != '\0' && used + 1 < cap; c++)
            out[used++] = *c;
        for (size_t k = 0; k < vn && used + 1 < cap; k++)
            out[used++] = value[k];
        found = true;
    }
    if (r.bad || !found)
        return NULL;
    out[used] = '\0';
    return out;
}

void sf_diskobj_clear(struct sf_diskobj *d)
{
    sf_hdrs_clear(&d->hdrs);
    free(d->vary_names);
    free(d->variant);
    *d = (struct sf_diskobj){0};
}
