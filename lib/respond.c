/* respond: see respond.h.
 *
 * Threads: libmicrohttpd's workers run everything here. Lock order as in singleflight.h:
 * a reader takes its object's lock, and suspends its connection under it (the fetcher
 * wakes it off the list under the same lock, so no wake-up is lost); no response is
 * created or destroyed under an object lock. */
#include "respond.h"

#include "metrics.h"
#include "peerauth.h"
#include "singleflight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The copy buffer libmicrohttpd allocates (and zeroes) for each streamed response: small
 * bodies get a small one, since a thousand woken followers each allocate theirs at once. */
#define READ_BLOCK_MAX (16u << 10)
#define READ_BLOCK_MIN 256u
/* Bodies up to this size are sent with their header in one system call. */
#define ONE_SEND_MAX (16u << 10)

/* The fetcher's unpause (sf_respond_set_unpause): set once before the workers start. */
static sf_respond_unpause_cb *unpause_fetch;

void sf_respond_set_unpause(sf_respond_unpause_cb *unpause)
{
    unpause_fetch = unpause;
}

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
                                     bool close, bool peer)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return NULL;
    bool ok =
        add(resp, "Content-Type", "text/plain; charset=utf-8") && add(resp, "Via", SF_VIA_VALUE);
    if (ok && xcache != NULL)
        ok = add(resp, "X-Cache", xcache);
    if (ok && status == MHD_HTTP_SERVICE_UNAVAILABLE) /* sfproxy's only 503: shutting down */
        ok = add(resp, "Retry-After", "1") && add(resp, SF_DRAINING_FIELD, "1");
    if (ok && status == SF_PEER_NO_ROUTE_STATUS) /* its only 421: a peer's route unknown */
        ok = add(resp, SF_PEER_NO_ROUTE_FIELD, "1");
    if (ok && close)
        ok = add(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (ok && peer)
        ok = sf_peerauth_prove_whole(resp, &(struct MHD_IoVec){text, strlen(text)}, 1);
    return checked(resp, ok);
}

/* What add_object_fields leaves out of the object's fields. */
enum {
    OWN_AGE = 1,    /* the stored Age: the caller sends its own (served from the cache) */
    MULTIPART = 2,  /* Content-Type: it goes in each part instead */
    SLICE_RANGE = 4 /* a slice's Content-Range: the caller sends the response's own */
};

/* Adds the object's fields, less what leave says (OWN_AGE...), Via and X-Cache. */
static bool add_object_fields(struct MHD_Response *resp, const struct sf_obj *o, const char *xcache,
                              unsigned leave)
{
    for (size_t i = 0; i < o->hdrs.n; i++) {
        const char *name = o->hdrs.v[i].name;
        if (!((leave & OWN_AGE) && sf_streq_ci(name, "Age")) &&
            !((leave & MULTIPART) && sf_streq_ci(name, "Content-Type")) &&
            !((leave & SLICE_RANGE) && sf_streq_ci(name, "Content-Range")) &&
            !sf_streq_ci(name, "X-Request-Id") && /* the leader's: each client gets its own */
            !sf_streq_ci(name, "X-Cache") &&      /* the hop before's (a cluster peer's): ours */
            !add(resp, name, o->hdrs.v[i].value))
            return false;
    }
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

/* The segments of o (complete) that hold the n bytes at off: the index of the first, and
 * how many. */
static size_t segments_of(const struct sf_obj *o, size_t off, size_t n, size_t *first)
{
    size_t count = 0;
    *first = 0;
    while (*first < o->nsegs && o->segs[*first]->off + o->segs[*first]->cap <= off)
        (*first)++;
    while (*first + count < o->nsegs && o->segs[*first + count]->off < off + n)
        count++;
    return count;
}

/* Points iov (room for segments_of's count) at the n bytes at off of o. Returns how many
 * entries it wrote. */
static size_t body_iov(const struct sf_obj *o, size_t off, size_t n, struct MHD_IoVec *iov)
{
    size_t first, count = segments_of(o, off, n, &first);
    for (size_t i = 0; i < count; i++) {
        const struct sf_seg *seg = o->segs[first + i];
        size_t from = off > seg->off ? off - seg->off : 0;
        size_t to = off + n < seg->off + seg->cap ? off + n - seg->off : seg->cap;
        iov[i].iov_base = seg->data + from;
        iov[i].iov_len = to - from;
    }
    return count;
}

/* A response over n bytes at off of o's body, which is complete, without copying them;
 * takes over a reference to o, released when libmicrohttpd is done with the response (or
 * at once, with NULL, if it cannot be made). Bytes within one segment, up to
 * ONE_SEND_MAX, are a plain buffer, which libmicrohttpd sends together with the header in
 * one system call (+10% cached 1 KiB responses/s); more is an iovec (faster from 64 KiB
 * on, as measured; libmicrohttpd copies the array). */
static struct MHD_Response *body_response(struct sf_obj *o, size_t off, size_t n)
{
    size_t first, count = segments_of(o, off, n, &first);
    struct MHD_Response *resp;
    if (count <= 1 && n <= ONE_SEND_MAX) {
        const char *data = count ? o->segs[first]->data + (off - o->segs[first]->off) : NULL;
        resp =
            MHD_create_response_from_buffer_with_free_callback_cls(n, (void *)data, stored_done, o);
    } else {
        struct MHD_IoVec iov_small[8], *iov = iov_small;
        if (count > 8)
            iov = sf_xmalloc(count * sizeof *iov);
        body_iov(o, off, n, iov);
        resp = MHD_create_response_from_iovec(iov, (unsigned)count, stored_done, o);
        if (iov != iov_small)
            free(iov);
    }
    if (resp == NULL)
        sf_obj_unref(o);
    return resp;
}

/* The parts' texts of a multipart/byteranges response, freed with it. */
struct multipart {
    struct sf_obj *o; /* the response's reference */
    char text[];
};

static void multipart_done(void *cls)
{
    struct multipart *m = cls;
    sf_obj_unref(m->o);
    free(m);
}

/* A boundary no body will contain by chance: 64 random-looking bits per response. */
static void new_boundary(char *out, size_t size)
{
    static _Atomic uint64_t seq;
    uint64_t x = atomic_fetch_add(&seq, 1) + sf_now_ms() * 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull; /* splitmix64's finaliser */
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    snprintf(out, size, "sfproxy-%016llx", (unsigned long long)(x ^ (x >> 31)));
}

/* A multipart/byteranges response (RFC 9110 §14.6) of r's ranges of o's body (complete):
 * each a part with o's Content-Type and its Content-Range, its bytes sent zero-copy from
 * the segments. Takes over the reference to o; sets *bytes to the body's size. */
static struct MHD_Response *multipart_response(struct sf_obj *o, const struct sf_ranges *r,
                                               const char *boundary, bool peer, size_t *bytes)
{
    const char *type = sf_hdrs_get(&o->hdrs, "Content-Type");
    size_t per_part = strlen(boundary) + (type ? strlen(type) : 0) + 128;
    struct multipart *m = sf_xmalloc(sizeof *m + per_part * (r->n + 1));
    m->o = o;
    size_t niov = 1;
    for (size_t i = 0; i < r->n; i++) {
        size_t first;
        niov += 1 + segments_of(o, r->first[i], r->last[i] - r->first[i] + 1, &first);
    }
    struct MHD_IoVec *iov = sf_xmalloc(niov * sizeof *iov);
    char *t = m->text;
    size_t k = 0;
    *bytes = 0;
    for (size_t i = 0; i < r->n; i++) {
        size_t n = (size_t)(r->last[i] - r->first[i] + 1);
        int len = sprintf(t, "%s--%s\r\n%s%s%sContent-Range: bytes %llu-%llu/%zu\r\n\r\n",
                          i ? "\r\n" : "", boundary, type ? "Content-Type: " : "", type ? type : "",
                          type ? "\r\n" : "", (unsigned long long)r->first[i],
                          (unsigned long long)r->last[i], o->len);
        iov[k++] = (struct MHD_IoVec){t, (size_t)len};
        t += len;
        k += body_iov(o, (size_t)r->first[i], n, iov + k);
        *bytes += (size_t)len + n;
    }
    int len = sprintf(t, "\r\n--%s--\r\n", boundary);
    iov[k++] = (struct MHD_IoVec){t, (size_t)len};
    *bytes += (size_t)len;
    struct MHD_Response *resp = MHD_create_response_from_iovec(iov, (unsigned)k, multipart_done, m);
    if (resp == NULL)
        multipart_done(m);
    else if (peer && !sf_peerauth_prove_whole(resp, iov, k))
        resp = checked(resp, false);
    free(iov);
    return resp;
}

/* A stored body (complete) for a cluster peer, too large to hash before the head goes
 * out (PEER_HASH_AHEAD_MAX): read from its segments as libmicrohttpd sends it, hashed on
 * the way, its proof in a trailer (peerauth.h). Freed with its response. */
struct peer_stored {
    struct sf_obj *o; /* the response's reference */
    size_t off, n;    /* the bytes of o's body sent */
    struct sf_peerproof *proof;
};

/* Bodies up to this size are hashed before their head is sent, and their proof goes in
 * the head (about 40 us at 1.7 GB/s); larger ones are hashed as they go. */
#define PEER_HASH_AHEAD_MAX (64u << 10)

static ssize_t read_peer_stored(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct peer_stored *ps = cls;
    if (pos >= ps->n) {
        sf_peerauth_proof_end(ps->proof);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t at = ps->off + (size_t)pos, first;
    size_t want = ps->n - (size_t)pos < max ? ps->n - (size_t)pos : max;
    segments_of(ps->o, at, want, &first);
    const struct sf_seg *seg = ps->o->segs[first];
    size_t k = seg->off + seg->cap - at < want ? seg->off + seg->cap - at : want;
    memcpy(buf, seg->data + (at - seg->off), k);
    sf_peerauth_proof_add(ps->proof, buf, k);
    if (pos + k == ps->n) /* libmicrohttpd asks for nothing past a known length */
        sf_peerauth_proof_end(ps->proof);
    return (ssize_t)k;
}

static void peer_stored_done(void *cls)
{
    struct peer_stored *ps = cls;
    sf_peerauth_proof_free(ps->proof);
    sf_obj_unref(ps->o);
    free(ps);
}

/* The n bytes at off of o (complete) as a peer's answer proven in its trailer, signed
 * with secret; takes over a reference to o (released at once, with NULL, on failure). */
static struct MHD_Response *peer_stored_response(struct sf_obj *o, size_t off, size_t n,
                                                 const char *secret)
{
    struct peer_stored *ps = sf_xcalloc(1, sizeof *ps);
    *ps = (struct peer_stored){o, off, n, NULL};
    struct MHD_Response *resp = MHD_create_response_from_callback(
        n, READ_BLOCK_MAX, read_peer_stored, ps, peer_stored_done);
    if (resp == NULL) {
        peer_stored_done(ps);
        return NULL;
    }
    ps->proof = sf_peerauth_prove_streamed(resp, (int64_t)n, secret);
    return checked(resp, ps->proof != NULL);
}

/* Proves the n bytes at off of o (complete) as the body of resp, a peer's answer. */
static bool prove_stored(struct MHD_Response *resp, const struct sf_obj *o, size_t off, size_t n)
{
    size_t first, count = segments_of(o, off, n, &first);
    struct MHD_IoVec *iov = sf_xmalloc((count > 0 ? count : 1) * sizeof *iov);
    count = body_iov(o, off, n, iov);
    bool ok = sf_peerauth_prove_whole(resp, iov, count);
    free(iov);
    return ok;
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

/* The status of the whole response o is, or is a slice of: 200 for a slice (slice.h). */
static int whole_status(const struct sf_obj *o, bool slice)
{
    return slice ? MHD_HTTP_OK : o->status;
}

/* The byte ranges a request on conn asks of o's 200 (or of the 200 it is a slice of),
 * whose body has total bytes (RFC 9110 §14.2): only a GET's, and only while If-Range
 * holds; otherwise SF_RANGE_NONE. Fills *r; *content_range is the Content-Range to send
 * for ONE and UNSATISFIABLE. */
static enum sf_range requested_ranges(struct MHD_Connection *conn, const char *method,
                                      const struct sf_obj *o, bool slice, uint64_t total,
                                      struct sf_ranges *r, char *content_range, size_t size)
{
    const char *value = request_value(conn, "Range");
    r->n = 0;
    if (value == NULL || whole_status(o, slice) != MHD_HTTP_OK || strcmp(method, "GET") != 0 ||
        !sf_policy_if_range_holds(&o->hdrs, request_value(conn, "If-Range")))
        return SF_RANGE_NONE;
    enum sf_range range = sf_http_ranges_parse(value, total, r);
    if (range == SF_RANGE_ONE)
        snprintf(content_range, size, "bytes %llu-%llu/%llu", (unsigned long long)r->first[0],
                 (unsigned long long)r->last[0], (unsigned long long)total);
    else if (range == SF_RANGE_UNSATISFIABLE)
        snprintf(content_range, size, "bytes */%llu", (unsigned long long)total);
    return range;
}

static unsigned status_for(enum sf_range range, int status)
{
    return range == SF_RANGE_ONE || range == SF_RANGE_MANY ? MHD_HTTP_PARTIAL_CONTENT
           : range == SF_RANGE_UNSATISFIABLE               ? MHD_HTTP_RANGE_NOT_SATISFIABLE
                                                           : (unsigned)status;
}

bool sf_respond_unchanged_for(const struct sf_obj *o, bool slice, struct MHD_Connection *conn)
{
    return whole_status(o, slice) == MHD_HTTP_OK &&
           sf_policy_not_modified(&o->hdrs, request_value(conn, "If-None-Match"),
                                  request_value(conn, "If-Modified-Since"));
}

struct MHD_Response *sf_respond_unchanged(struct sf_obj *o, const char *xcache)
{
    return not_modified(sf_obj_ref(o), xcache); /* (it lets go of the reference it gets) */
}

struct MHD_Response *sf_respond_stored(struct sf_obj *o, struct MHD_Connection *conn,
                                       const char *method, const char *xcache,
                                       const char *peer_secret, unsigned *status,
                                       uint64_t *body_bytes)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    *body_bytes = 0;
    if (sf_respond_unchanged_for(o, false, conn)) {
        *status = MHD_HTTP_NOT_MODIFIED;
        return not_modified(o, xcache);
    }
    struct sf_ranges r;
    char content_range[80], boundary[40], type[80];
    enum sf_range range =
        requested_ranges(conn, method, o, false, o->len, &r, content_range, sizeof content_range);
    *status = status_for(range, o->status);
    size_t n = range == SF_RANGE_UNSATISFIABLE ? 0
               : range == SF_RANGE_ONE         ? (size_t)(r.last[0] - r.first[0] + 1)
                                               : o->len;
    struct MHD_Response *resp;
    size_t off = range == SF_RANGE_ONE ? (size_t)r.first[0] : 0;
    bool peer = peer_secret != NULL && strcmp(method, "HEAD") != 0; /* (a HEAD sends none) */
    if (range == SF_RANGE_MANY) {
        new_boundary(boundary, sizeof boundary);
        snprintf(type, sizeof type, "multipart/byteranges; boundary=%s", boundary);
        resp = multipart_response(o, &r, boundary, peer, &n);
    } else if (peer && n > PEER_HASH_AHEAD_MAX) {
        resp = peer_stored_response(o, off, n, peer_secret);
    } else {
        resp = body_response(o, off, n);
        if (resp != NULL && peer && !prove_stored(resp, o, off, n))
            resp = checked(resp, false);
    }
    if (resp == NULL)
        return NULL;
    bool ok =
        add_object_fields(resp, o, xcache, OWN_AGE | (range == SF_RANGE_MANY ? MULTIPART : 0)) &&
        add_age(resp, o);
    if (ok && (range == SF_RANGE_ONE || range == SF_RANGE_UNSATISFIABLE))
        ok = add(resp, "Content-Range", content_range);
    if (ok && range == SF_RANGE_MANY)
        ok = add(resp, "Content-Type", type);
    if (ok)
        SF_COUNT_N(bytes_to_clients, n);
    *body_bytes = n;
    return checked(resp, ok);
}

/* ---- responses still arriving ---- */

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sf_reader *rd = cls;
    uint64_t at = rd->first + pos; /* a range's bytes start at first */
    if (rd->advance != NULL && pos < rd->count && !rd->advance(rd, at))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    struct sf_obj *o = rd->obj;
    const char *data = NULL;
    ssize_t ret;
    sf_obj_lock(o);
    if (rd->w->gone || rd->w->shed) { /* shed: cut to bound pinned memory (pinned.h) */
        sf_obj_unlock(o);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    rd->w->probe = false; /* the response has begun: nothing may be written in between */
    size_t in_obj = (size_t)(at - rd->base);
    bool resume_fetch = sf_obj_reader_at(o, rd->w, in_obj);
    size_t n = pos < rd->count ? sf_obj_peek(o, in_obj, &rd->seg_hint, &data) : 0;
    n = n < max ? n : max;
    n = n < rd->count - pos ? n : (size_t)(rd->count - pos);
    if (o->content_length >= 0 && in_obj + n > (uint64_t)o->content_length)
        n = in_obj < (uint64_t)o->content_length ? (size_t)((uint64_t)o->content_length - in_obj)
                                                 : 0; /* never a byte past the length */
    /* A cluster peer's answer is proven only at its end (peerhop.h): until then its last
     * byte, and this response's (a range's), are held back, so that a forged body reaches
     * a client cut, never whole. Not a range's end in an object its fetch may pause for
     * its slowest reader (a pass): that reader would wait for the end of a fetch that
     * waits for it. */
    if (n > 0 && o->unproven && o->state != SF_OBJ_COMPLETE &&
        ((pos + n == rd->count && !sf_obj_may_pause(o)) ||
         (o->content_length >= 0 && in_obj + n == (uint64_t)o->content_length)))
        n--;
    if (n > 0) {
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
    if (resume_fetch) {
        SF_ASSERT(unpause_fetch != NULL); /* sf_respond_set_unpause before the first reader */
        unpause_fetch(rd->up, o);
    }
    if (n > 0) {
        memcpy(buf, data, n); /* bytes at or above our position are neither changed nor freed */
        SF_COUNT_N(bytes_to_clients, n);
        rd->sent += n;
    }
    if (rd->_proof != NULL) {
        if (n > 0)
            sf_peerauth_proof_add(rd->_proof, buf, n);
        /* libmicrohttpd asks for no more once a known length is sent. */
        if (ret == MHD_CONTENT_READER_END_OF_STREAM || rd->sent == rd->count)
            sf_peerauth_proof_end(rd->_proof);
    }
    return ret;
}

static void reader_done(void *cls)
{
    struct sf_reader *rd = cls;
    struct sf_obj *held = rd->_held;
    rd->_held = NULL;
    sf_peerauth_proof_free(rd->_proof);
    rd->_proof = NULL;
    rd->done(rd);
    sf_obj_unref(held); /* last: the bytes sent whole were its (whole_now) */
}

/* resp, read by rd, answers a cluster peer's request of method: its body goes chunked
 * with its proof in a trailer (peerauth.h). Its length: rd->count, when the response's
 * length (length) is known. False when that cannot be (resp must not be sent). */
static bool prove_reader(struct sf_reader *rd, struct MHD_Response *resp, const char *method,
                         int64_t length)
{
    if (rd->peer_secret == NULL || strcmp(method, "HEAD") == 0)
        return true;
    if (length >= 0 && rd->count == 0) /* no read comes to end it: proven in the head */
        return sf_peerauth_prove_whole(resp, NULL, 0);
    rd->_proof =
        sf_peerauth_prove_streamed(resp, length >= 0 ? (int64_t)rd->count : -1, rd->peer_secret);
    return rd->_proof != NULL;
}

/* Where rd's bytes are when they can go as a hit's do, head and body in one system call
 * from the object's one segment, without a copy: a small response already whole when its
 * one client is answered (a miss, as a rule: its fetch ended in the pass that woke the
 * client). Sets *data (NULL for no bytes); false when they
 * are to be read as they come (read_body) instead: a flight with followers (a thousand
 * woken waiters get their first bytes sooner with the head sent at once, as measured), a
 * cluster peer's answer or request (proven as read), a body of unknown length (sent
 * chunked, as it came), a HEAD (no body: none counted). No other reader passes the bytes,
 * so nothing trims them; a reference of the reader's own (rd->_held, dropped when
 * libmicrohttpd frees the response) keeps them, as a hit's does, since the request may
 * drop its reference (its end, front.c) before libmicrohttpd frees the response. */
static bool whole_now(struct sf_reader *rd, const char *method, const char **data)
{
    struct sf_obj *o = rd->obj;
    size_t first = 0, count = 0;
    *data = NULL;
    if (rd->peer_secret != NULL || rd->advance != NULL || rd->count > ONE_SEND_MAX ||
        strcmp(method, "HEAD") == 0)
        return false;
    sf_obj_lock(o);
    bool whole = o->state == SF_OBJ_COMPLETE && o->clients_ever == 1 && !o->unproven &&
                 o->content_length >= 0 && !rd->w->gone && !rd->w->shed &&
                 rd->first + rd->count <= o->len &&
                 (count = segments_of(o, (size_t)rd->first, (size_t)rd->count, &first)) <= 1;
    if (whole) {
        rd->w->probe = false; /* the response has begun (as in read_body) */
        if (count == 1 && rd->count > 0)
            *data = o->segs[first]->data + (rd->first - o->segs[first]->off);
        rd->_held = sf_obj_ref(o);
    }
    sf_obj_unlock(o);
    return whole;
}

/* The response rd reads, of length bytes (-1: unknown, chunked) with o's fields less
 * leave (add_object_fields), and Content-Range when range is not NONE; its body from
 * data when whole (whole_now), else read as it comes. */
static struct MHD_Response *reader_response(struct sf_reader *rd, const struct sf_obj *o,
                                            int64_t length, const char *xcache, unsigned leave,
                                            enum sf_range range, const char *content_range,
                                            bool whole, const char *data)
{
    uint64_t size = length >= 0 ? rd->count : MHD_SIZE_UNKNOWN;
    size_t block = READ_BLOCK_MAX;
    if (size < READ_BLOCK_MAX)
        block = size > READ_BLOCK_MIN ? (size_t)size : READ_BLOCK_MIN;
    struct MHD_Response *resp =
        whole ? MHD_create_response_from_buffer_with_free_callback_cls(
                    (size_t)rd->count, (void *)data, reader_done, rd)
              : MHD_create_response_from_callback(size, block, read_body, rd, reader_done);
    if (resp == NULL) {
        rd->done(rd);
        return NULL;
    }
    bool ok = add_object_fields(resp, o, xcache, leave);
    if (ok && range != SF_RANGE_NONE)
        ok = add(resp, "Content-Range", content_range);
    return checked(resp, ok);
}

/* Sets rd's bytes (first, count) for what a request of method asks of a body of length
 * bytes (-1: unknown): one range of it (of o's 200, or of the 200 o is a slice of), none
 * (416), or all; returns which, with the Content-Range to send. Several ranges get it all. */
static enum sf_range reader_bytes(struct sf_reader *rd, const char *method, const struct sf_obj *o,
                                  bool slice, int64_t length, char *content_range, size_t size)
{
    struct sf_ranges r;
    /* One range is served from the live body once its length is known (RFC 9110 §14.2);
     * without one, or for several, the whole response. */
    enum sf_range range = length >= 0 ? requested_ranges(rd->conn, method, o, slice,
                                                         (uint64_t)length, &r, content_range, size)
                                      : SF_RANGE_NONE;
    if (range == SF_RANGE_MANY)
        range = SF_RANGE_NONE;
    rd->first = range == SF_RANGE_ONE ? r.first[0] : 0;
    rd->count = range == SF_RANGE_ONE             ? r.last[0] - r.first[0] + 1
                : range == SF_RANGE_UNSATISFIABLE ? 0
                : length >= 0                     ? (uint64_t)length
                                                  : UINT64_MAX;
    return range;
}

/* (A complete body with followers goes through read_body too: see whole_now.) */
struct MHD_Response *sf_respond_streamed(struct sf_reader *rd, const char *method,
                                         const char *xcache, const struct sf_hdrs *own,
                                         bool with_age, unsigned *status)
{
    const struct sf_obj *o = rd->obj;
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    char content_range[80];
    enum sf_range range =
        reader_bytes(rd, method, o, false, o->content_length, content_range, sizeof content_range);
    *status = status_for(range, o->status);
    const char *data;
    bool whole = whole_now(rd, method, &data);
    struct MHD_Response *resp =
        reader_response(rd, o, o->content_length, xcache, with_age ? OWN_AGE : 0, range,
                        content_range, whole, data);
    bool ok = resp != NULL;
    for (size_t i = 0; ok && own != NULL && i < own->n; i++)
        ok = add(resp, own->v[i].name, own->v[i].value);
    if (ok && with_age)
        ok = add_age(resp, o);
    ok = ok && prove_reader(rd, resp, method, o->content_length);
    resp = resp != NULL ? checked(resp, ok) : NULL;
    if (resp != NULL && whole) { /* counted once it will go, as a hit's bytes are */
        rd->sent = rd->count;
        SF_COUNT_N(bytes_to_clients, rd->count);
    }
    return resp;
}

struct MHD_Response *sf_respond_sliced(struct sf_reader *rd, const char *method, const char *xcache,
                                       uint64_t total, unsigned *status)
{
    const struct sf_obj *o = rd->obj;
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    char content_range[80];
    enum sf_range range =
        reader_bytes(rd, method, o, true, (int64_t)total, content_range, sizeof content_range);
    *status = status_for(range, MHD_HTTP_OK);
    struct MHD_Response *resp = reader_response(
        rd, o, (int64_t)total, xcache, OWN_AGE | SLICE_RANGE, range, content_range, false, NULL);
    return resp != NULL
               ? checked(resp, add_age(resp, o) && prove_reader(rd, resp, method, (int64_t)total))
               : NULL;
}
