/* peercall: see peercall.h.
 *
 * Runs on: the connection's libmicrohttpd worker. */
#include "peercall.h"

#include "admin.h"

#include <string.h>

#define PEER_PURGE "/_sfproxy/purge?"  /* a peer's purge, on the public listener */
#define PEER_HEALTH "/_sfproxy/health" /* a peer's health check, there too */

enum sf_peercall sf_peercall_check(struct sf_req *r, const char *method, bool content)
{
    if (content || r->snap->cfg.cluster_self == NULL)
        return SF_PEERCALL_NONE;
    bool purge =
        strcmp(method, "POST") == 0 && strncmp(r->target, PEER_PURGE, strlen(PEER_PURGE)) == 0;
    bool health = strcmp(method, "GET") == 0 && strcmp(r->target, PEER_HEALTH) == 0;
    if (!purge && !health)
        return SF_PEERCALL_NONE;
    r->dest.peer_checked = true; /* once: a second check would count a replay twice */
    if (!sf_outbound_from_peer(&r->out, r->conn, method, r->target))
        return SF_PEERCALL_NONE;
    return purge ? SF_PEERCALL_PURGE : SF_PEERCALL_HEALTH;
}

/* A peer's health check: 200 while this node serves, 503 (with SF_DRAINING_FIELD) once it
 * has begun to stop. */
static enum sf_req_step health_for_peer(struct sf_req *r)
{
    bool stopping = atomic_load(r->draining);
    const char *text = stopping ? "draining\n" : "ok\n";
    unsigned status = stopping ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
    r->body_bytes = strlen(text);
    return sf_req_respond(r, status, sf_respond_text(text, status, NULL, false, false));
}

/* A cluster peer's signed purge (admin.c sends it to every peer): carried out on this
 * node's cache alone, never sent on. */
static enum sf_req_step purge_for_peer(struct sf_req *r)
{
    unsigned status;
    struct MHD_Response *resp =
        sf_admin_purge_here(r->cache, &r->snap->cfg, r->conn, &status, &r->body_bytes);
    return sf_req_respond(r, status, resp);
}

enum sf_req_step sf_peercall_answer(struct sf_req *r, const struct sf_req_call *c)
{
    SF_REQ_FROM(r, SF_REQ_BIT(RECV));
    (void)c;
    SF_ASSERT(r->peer_call != SF_PEERCALL_NONE);
    return r->peer_call == SF_PEERCALL_PURGE ? purge_for_peer(r) : health_for_peer(r);
}
