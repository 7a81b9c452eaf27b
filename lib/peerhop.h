/* peerhop: the asking side of a cluster hop (issue 12; failover and answer checks, issue
 * 18). Which node a shared fetch of the upstream goes to: the first in its key's rendezvous
 * order that is not marked down, this node's turn ending the search; after a peer fails
 * (not reached, stopping, or an answer not signed with the cluster's secret), the next in
 * the same order, which every node agrees on, so that the nodes that notice a dead owner
 * together ask one node rather than each the origin. And whether a peer's answer is its
 * own (cluster.h's answer signature) before anything of it reaches a client, and whether
 * its body is (the body's proof) before it is stored or a client gets its end.
 *
 * Runs on: libmicrohttpd's workers (first), the fetcher thread (next, answer). */
#ifndef SF_PEERHOP_H
#define SF_PEERHOP_H

#include "base.h"

struct sf_config;
struct sf_fetch_spec; /* fetchspec.h */
struct sf_hdrs;
struct sf_obj;

/* Sends the shared fetch s of the origin-form target path, for the client's Host host
 * (NULL: none), on s->route (s->url: its upstream URL, also its key's place in the order)
 * to the node that should fetch it, under cfg with the peers' health down (struct
 * sf_snap's): nothing changes when that is this node. The route's name and host go with
 * it under its signature, so that the peer takes that route and keys that Host. */
void sf_peerhop_first(struct sf_fetch_spec *s, const struct sf_config *cfg, _Atomic uint64_t *down,
                      const char *path, const char *host);

/* Whether the node id comes before this node (cfg's cluster.self) in key's order by cfg's
 * peer list, or is not in it: a peer's request from it means the two nodes' lists
 * disagree, since with one list a node asks only nodes ranked before itself. */
bool sf_peerhop_ranks_before(const struct sf_config *cfg, const char *key, const char *id);

/* s's peer failed (the caller has marked it down): points s at the next node after it in
 * the key's order that is not marked down and returns true; or, when this node comes
 * first, at the upstream (fallback_url, its peer field removed) and returns false. Runs
 * with s->snap's settings. */
bool sf_peerhop_next(struct sf_fetch_spec *s);

/* What a peer's answer says its body is, and the hash of what arrived (cluster.h). */
struct sf_peerbody;

/* The final head (status, fields) a peer answered s with, for o: NULL when it is the
 * peer's answer to s's request (signed with the cluster's secret for it), its answer and
 * body fields then removed from fields; else why it is not taken, and the caller asks the
 * next node. With *mark_down: whether the peer is to be skipped for cluster.peer_retry
 * too: yes for a signed 503 with SF_DRAINING_FIELD ("it is shutting down"); no for a
 * signed 421 with SF_PEER_NO_ROUTE_FIELD (its config has no route of s's route's name), an
 * unsigned or badly signed answer, or one with a body that does not say how it is proven
 * (counted in cluster.peer_bad_answers, logged once per interval), which a live owner
 * gives when it could not take the request as a peer's (its replay set full, its clock
 * off) and which one client's request must never be able to turn into a peer marked down
 * for everyone. A taken answer with a body (not to a HEAD, not 1xx, 204 or 304) sets
 * *body, the caller's to pass to sf_peerhop_body and sf_peerhop_body_end, then free; the
 * Content-Length its body field signed replaces any on the wire (which then goes
 * chunked), and o is marked unproven (singleflight.h). */
const char *sf_peerhop_answer(const struct sf_fetch_spec *s, struct sf_obj *o, int status,
                              struct sf_hdrs *fields, struct sf_peerbody **body, bool *mark_down);

/* Whether s's body may take len more bytes (b NULL: not a peer's answer: true): false when
 * they would run past the length the peer signed, which no honest peer sends (the wire's
 * framing is not the signed length's), then counted as a bad body (cluster.peer_bad_bodies),
 * logged, the peer skipped for cluster.peer_retry; the caller refuses them, so the
 * transfer fails cut and the object never holds a byte past its signed length. Asking
 * takes nothing: bytes refused with a pause come again and are asked about again. */
bool sf_peerhop_body_fits(const struct sf_fetch_spec *s, const struct sf_peerbody *b, size_t len);

/* The next len bytes of the body, taken (b NULL: not a peer's answer, nothing to do). */
void sf_peerhop_body(struct sf_peerbody *b, const char *data, size_t len);

/* The transfer of s ended well, with fields (the trailer's, after whatever is left of the
 * head's: its body fields were taken out by sf_peerhop_answer): whether its
 * body is the one the peer signed (true when b is NULL). When not, the caller fails it
 * (SF_FAIL_TRUNCATED: neither stored nor shared, its readers cut): counted
 * (cluster.peer_bad_bodies, and in the peer's failures), logged once per interval, and the
 * peer skipped for cluster.peer_retry. */
bool sf_peerhop_body_end(const struct sf_fetch_spec *s, struct sf_peerbody *b,
                         const struct sf_hdrs *fields);

void sf_peerhop_body_free(struct sf_peerbody *b); /* NULL is fine */

#endif
