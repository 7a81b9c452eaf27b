/* peercall: a cluster peer's own calls on the public listener, signed with the cluster's
 * secret: a purge (admin.c fans one out to every peer) carried out on this node's cache
 * alone, and a health check (peers.c's probe). The step PEER (reqsteps.h) answers them. */
#ifndef SF_PEERCALL_H
#define SF_PEERCALL_H

#include "req.h"

/* Whether r, a request of method (with content: it has a body), is a peer's signed call;
 * anything else at those paths, or unsigned, is an ordinary request
 * (SF_PEERCALL_NONE). Checks the signature once, for RECV. */
enum sf_peercall sf_peercall_check(struct sf_req *r, const char *method, bool content);

#endif
