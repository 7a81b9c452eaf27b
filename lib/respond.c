/* respond: see respond.h.
 *
 * Threads: libmicrohttpd's workers run everything here. Lock order as in singleflight.h:
 * a reader takes its object's lock, and suspends its connection under it (the fetcher
 * wakes it off the list under the same lock, so no wake-up is lost); no response is
 * created or destroyed under an object lock. */
#include "respond.h"

#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The copy buffer libmicrohttpd allocates (and zeroes) for each streamed response: small
 * bodies get a small one, since a thousand woken followers each allocate theirs at once. */
#define READ_BLOCK_MAX (16u << 10)
#define READ_BLOCK_MIN 256u
/* Bodies up to this size are sent with their header in one system call. */
#define ONE_SEND_MAX (16u << 10)

/* Adds a field; false when libmicrohttpd refuses it (no memory, or a character it does not
 * allow), which makes the whole response unusable. */
static bool add(struct MHD_Response *resp, const char *name, const char *value)
{
    return MHD_add_response_header(resp, name, value) == MHD_YES;
}

/* Destroys resp and returns NULL when ok is false (a field could not be added). */
static struct MHD_Response *checked(struct MHD_Response *resp, bool ok)
{
    if (ok)
        return resp;
    MHD_destroy_response(resp);
    return NULL;
}

struct MHD_Response *sf_respond_text(const char *text, unsigned status, const char *xcache,
                                     bool close)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return NULL;
    bool ok =
        add(resp, "Content-Type", "text/plain; charset=utf-8") && add(resp, "Via", SF_VIA_VALUE);
    if (ok && xcache != NULL)
        ok = add(resp, "X-Cache", xcache);
    if (ok && status == MHD_HTTP_SERVICE_UNAVAILABLE)
        ok = add(resp, "Retry-After", "1");
    if (ok && close)
        ok = add(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    return checked(resp, ok);
}

/* Adds the object's fields, Via and X-Cache; with stored_age false the stored Age is left
 * out, for the caller to send its own (a response served from the cache). */
static bool add_object_fields(struct MHD_Response *resp, const struct sf_obj *o, const char *xcache,
                              bool stored_age)
{
    for (size_t i = 0; i < o->hdrs.n; i++)
        if ((stored_age || !sf_streq_ci(o->hdrs.v[i].name, "Age")) &&
            !add(resp, o->hdrs.v[i].name, o->hdrs.v[i].value))
            return false;
    return add(resp, "Via", SF_VIA_VALUE) && add(resp, "X-Cache", xcache);
}

/* The Age of o as sent now (RFC 9111 §4.2.3). */
static bool add_age(struct MHD_Response *resp, const struct sf_obj *o)
{
    char age[24];
    snprintf(age, sizeof age, "%lld",
             (long long)sf_policy_current_age(o->verdict.age_s, o->response_time_s, sf_wall_s()));
    return add(resp, "Age", age);
}

/* ---- stored responses ---- */

static void stored_done(void *cls)
{
    sf_obj_unref(cls);
}

/* A response over n bytes at off of o's body, which is complete, without copying them;
 * takes over a reference to o, released when libmicrohttpd is done with the response (or
 * at once, with NULL, if it cannot be made). Bytes within one segment, up to
 * ONE_SEND_MAX, are a plain buffer, which libmicrohttpd sends together with the header in
 * one system call (+10% cached 1 KiB responses/s); more is an iovec (faster from 64 KiB
 * on, as measured). */
static struct MHD_Response *body_response(struct sf_obj *o, size_t off, size_t n)
{
    size_t first = 0, count = 0;
    while (first < o->nsegs && o->segs[first]->off + o->segs[first]->cap <= off)
        first++;
    while (first + count < o->nsegs && o->segs[first + count]->off < off + n)
        count++;
    struct MHD_Response *resp;
    if (count <= 1 && n <= ONE_SEND_MAX) {
        const char *data = count ? o->segs[first]->data + (off - o->segs[first]->off) : NULL;
        resp =
            MHD_create_response_from_buffer_with_free_callback_cls(n, (void *)data, stored_done, o);
    } else {
        struct MHD_IoVec iov_small[8], *iov = iov_small;
        if (count > 8)
            iov = sf_xmalloc(count * sizeof *iov);
        for (size_t i = 0; i < count; i++) {
            const struct sf_seg *seg = o->segs[first + i];
            size_t from = off > seg->off ? off - seg->off : 0;
            size_t to = off + n < seg->off + seg->cap ? off + n - seg->off : seg->cap;
            iov[i].iov_base = seg->data + from;
            iov[i].iov_len = to - from;
        }
        resp = MHD_create_response_from_iovec(iov, (unsigned)count, stored_done, o);
        if (iov != iov_small)
            free(iov);
    }
    if (resp == NULL)
        sf_obj_unref(o);
    return resp;
}

/* 304 with the fields a 200 would have carried that RFC 9110 §15.4.5 asks for. Takes over
 * the reference to o. */
static struct MHD_Response *not_modified(struct sf_obj *o, const char *xcache)
{
    static const char *const keep[] = {"Cache-Control", "Content-Location", "Date", "ETag",
                                       "Expires",       "Last-Modified",    "Vary"};
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    bool ok = resp != NULL;
    for (size_t i = 0; ok && i < o->hdrs.n; i++)
        for (size_t k = 0; ok && k < sizeof keep / sizeof keep[0]; k++)
            if (sf_streq_ci(o->hdrs.v[i].name, keep[k]))
                ok = add(resp, o->hdrs.v[i].name, o->hdrs.v[i].value);
    ok = ok && add_age(resp, o) && add(resp, "Via", SF_VIA_VALUE) && add(resp, "X-Cache", xcache);
    sf_obj_unref(o);
    return resp != NULL ? checked(resp, ok) : NULL;
}

static const char *request_value(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* The byte range a request on conn asks of o's 200, whose body has total bytes (RFC 9110
 * §14.2): only a GET's, and only while If-Range holds; otherwise SF_RANGE_NONE. With
 * SF_RANGE_ONE, *first..*last; and *content_range is the Content-Range to send (for ONE
 * and UNSATISFIABLE). */
static enum sf_range requested_range(struct MHD_Connection *conn, const char *method,
                                     const struct sf_obj *o, uint64_t total, uint64_t *first,
                                     uint64_t *last, char *content_range, size_t size)
{
    const char *value = request_value(conn, "Range");
    *first = 0;
    *last = total ? total - 1 : 0;
    if (value == NULL || o->status != MHD_HTTP_OK || strcmp(method, "GET") != 0 ||
        !sf_policy_if_range_holds(&o->hdrs, request_value(conn, "If-Range")))
        return SF_RANGE_NONE;
    enum sf_range range = sf_http_range_parse(value, total, first, last);
    if (range == SF_RANGE_ONE)
        snprintf(content_range, size, "bytes %llu-%llu/%llu", (unsigned long long)*first,
                 (unsigned long long)*last, (unsigned long long)total);
    else if (range == SF_RANGE_UNSATISFIABLE)
        snprintf(content_range, size, "bytes */%llu", (unsigned long long)total);
    return range;
}

static unsigned status_for(enum sf_range range, int status)
{
    return range == SF_RANGE_ONE             ? MHD_HTTP_PARTIAL_CONTENT
           : range == SF_RANGE_UNSATISFIABLE ? MHD_HTTP_RANGE_NOT_SATISFIABLE
                                             : (unsigned)status;
}

struct MHD_Response *sf_respond_stored(struct sf_obj *o, struct MHD_Connection *conn,
                                       const char *method, const char *xcache, unsigned *status)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    if (o->status == MHD_HTTP_OK &&
        sf_policy_not_modified(&o->hdrs, request_value(conn, "If-None-Match"),
                               request_value(conn, "If-Modified-Since"))) {
        *status = MHD_HTTP_NOT_MODIFIED;
        return not_modified(o, xcache);
    }
    uint64_t first, last;
    char content_range[80];
    enum sf_range range = requested_range(conn, method, o, o->len, &first, &last, content_range,
                                          sizeof content_range);
    size_t n = range == SF_RANGE_UNSATISFIABLE ? 0 : o->len ? (size_t)(last - first + 1) : 0;
    *status = status_for(range, o->status);
    struct MHD_Response *resp = body_response(o, (size_t)first, n);
    if (resp == NULL)
        return NULL;
    bool ok = add_object_fields(resp, o, xcache, false) && add_age(resp, o);
    if (ok && range != SF_RANGE_NONE)
        ok = add(resp, "Content-Range", content_range);
    if (ok)
        SF_COUNT_N(bytes_to_clients, n);
    return checked(resp, ok);
}

/* ---- responses still arriving ---- */

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sf_reader *rd = cls;
    struct sf_obj *o = rd->obj;
    const char *data = NULL;
    ssize_t ret;
    sf_obj_lock(o);
    if (rd->w->gone) {
        sf_obj_unlock(o);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    rd->w->probe = false; /* the response has begun: nothing may be written in between */
    size_t at = (size_t)(rd->first + pos); /* a range's bytes start at first */
    bool resume_fetch = sf_obj_reader_at(o, rd->w, at);
    size_t n = pos < rd->count ? sf_obj_peek(o, at, &rd->seg_hint, &data) : 0;
    if (n > 0) {
        n = n < max ? n : max;
        n = n < rd->count - pos ? n : (size_t)(rd->count - pos);
        ret = (ssize_t)n;
    } else if (o->state == SF_OBJ_COMPLETE || pos >= rd->count) {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (o->state == SF_OBJ_FAILED) {
        /* Close without the rest: the client sees a short body or a missing last chunk. */
        ret = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (!sf_obj_park(o, rd->w)) {
        ret = MHD_CONTENT_READER_END_WITH_ERROR; /* shutting down */
    } else {
        MHD_suspend_connection(rd->conn);
        ret = 0;
    }
    sf_obj_unlock(o);
    if (resume_fetch)
        sf_upstream_unpause(rd->up, o);
    if (n > 0) {
        memcpy(buf, data, n); /* bytes at or above our position are neither changed nor freed */
        SF_COUNT_N(bytes_to_clients, n);
    }
    return ret;
}

static void reader_done(void *cls)
{
    struct sf_reader *rd = cls;
    rd->done(rd);
}

/* (Even a complete body goes through read_body: the header then leaves at once, and a
 * thousand woken waiters get their first bytes sooner than with one send of header and
 * body each, as measured.) */
struct MHD_Response *sf_respond_streamed(struct sf_reader *rd, const char *method,
                                         const char *xcache, const struct sf_hdrs *own,
                                         bool with_age, unsigned *status)
{
    const struct sf_obj *o = rd->obj;
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    int64_t length = o->content_length;
    uint64_t first = 0, last = 0;
    char content_range[80];
    /* A range is served from the live body once its length is known (RFC 9110 §14.2);
     * without one, the whole response. */
    enum sf_range range = length >= 0
                              ? requested_range(rd->conn, method, o, (uint64_t)length, &first,
                                                &last, content_range, sizeof content_range)
                              : SF_RANGE_NONE;
    *status = status_for(range, o->status);
    rd->first = range == SF_RANGE_ONE ? first : 0;
    rd->count = range == SF_RANGE_ONE             ? last - first + 1
                : range == SF_RANGE_UNSATISFIABLE ? 0
                : length >= 0                     ? (uint64_t)length
                                                  : UINT64_MAX;
    uint64_t size = length >= 0 ? rd->count : MHD_SIZE_UNKNOWN;
    size_t block = READ_BLOCK_MAX;
    if (size < READ_BLOCK_MAX)
        block = size > READ_BLOCK_MIN ? (size_t)size : READ_BLOCK_MIN;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(size, block, read_body, rd, reader_done);
    if (resp == NULL) {
        rd->done(rd);
        return NULL;
    }
    bool ok = add_object_fields(resp, o, xcache, !with_age);
    for (size_t i = 0; ok && own != NULL && i < own->n; i++)
        ok = add(resp, own->v[i].name, own->v[i].value);
    if (ok && with_age)
        ok = add_age(resp, o);
    if (ok && range != SF_RANGE_NONE)
        ok = add(resp, "Content-Range", content_range);
    return checked(resp, ok);
}
