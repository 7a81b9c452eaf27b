/* slice: see slice.h. */
#include "slice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sf_slice_ref_of(const struct sf_hdrs *h, uint64_t total, struct sf_slice_ref *ref)
{
    *ref = (struct sf_slice_ref){.total = total};
    const char *etag = sf_hdrs_get(h, "ETag");
    if (etag != NULL && etag[0] == '"') { /* not W/: a strong entity tag */
        ref->etag = sf_xstrdup(etag);
        return true;
    }
    const char *modified = sf_hdrs_get(h, "Last-Modified");
    int64_t modified_s, date_s;
    if (etag == NULL && modified != NULL && sf_http_date_parse(modified, &modified_s) &&
        sf_http_date_parse(sf_hdrs_get(h, "Date"), &date_s) && date_s - modified_s >= 60) {
        ref->last_modified = sf_xstrdup(modified);
        return true;
    }
    return false;
}

void sf_slice_ref_copy(const struct sf_slice_ref *from, struct sf_slice_ref *to)
{
    to->total = from->total;
    to->etag = sf_xstrdup_opt(from->etag);
    to->last_modified = sf_xstrdup_opt(from->last_modified);
}

void sf_slice_ref_clear(struct sf_slice_ref *ref)
{
    free(ref->etag);
    free(ref->last_modified);
    *ref = (struct sf_slice_ref){0};
}

/* Whether two optional strings are both absent or equal. */
static bool same_opt(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

bool sf_slice_ref_same(const struct sf_slice_ref *a, const struct sf_slice_ref *b)
{
    return a->total == b->total && same_opt(a->etag, b->etag) &&
           same_opt(a->last_modified, b->last_modified);
}

char *sf_slice_key(const char *key, uint64_t size, uint64_t index)
{
    size_t len = strlen(key) + sizeof SF_SLICE_MARK + 42;
    char *out = sf_xmalloc(len);
    snprintf(out, len, "%s%s%llu/%llu", key, SF_SLICE_MARK, (unsigned long long)size,
             (unsigned long long)index);
    return out;
}

bool sf_slice_bytes(uint64_t index, uint64_t size, uint64_t total, uint64_t *first, uint64_t *last)
{
    if (size == 0 || index >= (total + size - 1) / size)
        return false;
    *first = index * size;
    *last = total - *first > size ? *first + size - 1 : total - 1;
    return true;
}

/* Whether h carries ref's validator: the same strong ETag, or the same Last-Modified and
 * no ETag. */
static bool same_validator(const struct sf_slice_ref *ref, const struct sf_hdrs *h)
{
    const char *etag = sf_hdrs_get(h, "ETag");
    if (ref->etag != NULL)
        return etag != NULL && strcmp(etag, ref->etag) == 0;
    const char *modified = sf_hdrs_get(h, "Last-Modified");
    return etag == NULL && ref->last_modified != NULL && modified != NULL &&
           strcmp(modified, ref->last_modified) == 0;
}

bool sf_slice_fits(const struct sf_slice_ref *ref, uint64_t size, uint64_t index, int status,
                   const struct sf_hdrs *h, int64_t length)
{
    uint64_t want_first, want_last, first, last, total;
    return status == 206 && sf_slice_bytes(index, size, ref->total, &want_first, &want_last) &&
           length >= 0 && (uint64_t)length == want_last - want_first + 1 &&
           sf_http_content_range_parse(sf_hdrs_get(h, "Content-Range"), &first, &last, &total) &&
           first == want_first && last == want_last && total == ref->total &&
           same_validator(ref, h);
}

bool sf_slice_partial_ok(const struct sf_hdrs *h, uint64_t first, int64_t length)
{
    uint64_t got_first, got_last, total;
    return length > 0 &&
           sf_http_content_range_parse(sf_hdrs_get(h, "Content-Range"), &got_first, &got_last,
                                       &total) &&
           got_first == first && got_last - got_first + 1 == (uint64_t)length;
}
