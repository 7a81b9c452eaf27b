/* upload: see upload.h. The fetch starts from the head (PASS), before the content: the
 * content is refused from the head when its announced length is over
 * max_request_body_bytes, and cut off when it goes over it on the way; content that is
 * not what its head announced (a broken chunked framing, a short body) aborts the
 * upstream request rather than end it, so that the origin never sees a truncated body as
 * whole.
 *
 * Runs on: the connection's libmicrohttpd worker. */
#include "upload.h"

#include "config.h"
#include "conn.h"
#include "fetcher.h"
#include "live.h"
#include "metrics.h"
#include "req.h"
#include "reqbody.h"

#include <stdlib.h>

#define UPLOAD_WINDOW (256u << 10)

static void reject_too_big(struct sf_req *r)
{
    r->reject_status = MHD_HTTP_CONTENT_TOO_LARGE;
    r->reject_text = "request content is larger than max_request_body_bytes\n";
}

/* Content is coming: decide now whether it can be forwarded, and make the pipe the fetch
 * reads it from, so that it streams upstream as it arrives. A refusal is answered at once,
 * from the head: the client need not send what is refused (and gets no 100 Continue), and
 * the connection closes after the answer. */
enum sf_req_step sf_upload_begin(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(ADMIT));
    (void)c;
    const struct sf_config *cfg = &r->snap->cfg;
    const char *length = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    int64_t declared = -1;
    if (length != NULL) {
        char *end;
        long long n = strtoll(length, &end, 10);
        declared = *end == '\0' && n >= 0 ? n : -1;
    }
    if (declared >= 0 && (uint64_t)declared > cfg->max_request_body_bytes) {
        reject_too_big(r);
        return sf_req_synth_rejected(r);
    }
    r->upload = sf_reqbody_new(UPLOAD_WINDOW, declared);
    return SF_REQ_PASS;
}

static void suspend_req(struct sf_waiter *w)
{
    struct sf_req *r = (struct sf_req *)((char *)w - offsetof(struct sf_req, w));
    MHD_suspend_connection(r->conn);
}

/* Passes a piece of content on; may park the connection while the pipe is full. */
static void upload_piece(struct sf_req *r, const char *data, size_t *size)
{
    if (r->reject_status != 0 || r->upload == NULL) {
        *size = 0; /* refused past the limit mid-way: read and drop, then answer */
        return;
    }
    if (sf_conn_body_bad(r->wire, r->seq)) {
        /* The chunked framing broke (conn.h): the connection is ending; the upstream
         * request must not end as if the body were whole. */
        sf_reqbody_close(r->upload);
        *size = 0;
        return;
    }
    if (r->upload_bytes + *size > r->snap->cfg.max_request_body_bytes) {
        reject_too_big(r);
        sf_reqbody_close(r->upload); /* the transfer aborts: it would be incomplete */
        *size = 0;
        return;
    }
    size_t taken;
    bool parked, reader_waiting;
    enum sf_reqbody_write st = sf_reqbody_write(r->upload, data, *size, &taken, &r->w, suspend_req,
                                                &parked, &reader_waiting);
    if (reader_waiting)
        sf_upstream_unpause(r->up, r->obj);
    r->upload_bytes += taken;
    if (st == SF_REQBODY_CLOSED || !parked) {
        *size = 0; /* all taken, or the transfer ended and wants no more */
        return;
    }
    *size -= taken; /* the rest is offered again after the resume */
}

/* A piece of content passed on, each call; once all is received, the transfer sees its
 * end and the request waits for the response. */
enum sf_req_step sf_upload_take(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(PASS) | SF_REQ_BIT(UPLOAD));
    if (*c->upload_data_size > 0) {
        upload_piece(r, c->upload_data, c->upload_data_size);
        return sf_req_yield(r, SF_REQ_UPLOAD);
    }
    if (r->reject_status != 0) {
        sf_req_detach(r); /* a transfer cut short by the limit has nobody left */
        return sf_req_synth_rejected(r);
    }
    int64_t declared = sf_reqbody_declared_len(r->upload);
    if (sf_conn_body_bad(r->wire, r->seq) ||
        (declared >= 0 && r->upload_bytes != (uint64_t)declared)) {
        /* Not the body its head announced: abort upstream rather than end it. */
        sf_reqbody_close(r->upload);
        sf_req_detach(r);
        return sf_req_synth_bad(r, MHD_HTTP_BAD_REQUEST,
                                "the request content is not what its "
                                "head announced\n");
    }
    if (sf_reqbody_finish(r->upload))
        sf_upstream_unpause(r->up, r->obj);
    return SF_REQ_WAIT_HEAD;
}
