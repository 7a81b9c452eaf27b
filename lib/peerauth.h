/* peerauth: the answering side of a cluster hop (issue 18). Whether a request is a peer's:
 * its Sfproxy-Peer field signed with cluster.secret, for this node, within
 * SF_PEER_WINDOW_S, and never seen before (one process-wide replay set, replay.h, of
 * SF_PEER_REPLAY_CAPACITY requests, kept across reloads); the signature on every answer
 * to such a request (cluster.h), so that the asking node can tell it from a process at
 * this node's address without the secret; and the proof of each answer's body, so that
 * it can tell the body this node sent from one changed on the way.
 *
 * Runs on: libmicrohttpd's workers. */
#ifndef SF_PEERAUTH_H
#define SF_PEERAUTH_H

#include "config.h"

#include <microhttpd.h>

#define SF_PEER_WINDOW_S 30 /* how far a peer's clock and the time on the wire may be off */
#define SF_PEER_REPLAY_CAPACITY 65536

/* Whether the request of method for target on conn is a cluster peer's (see above; its
 * signature covers its SF_PEER_ROUTE_FIELD and SF_PEER_HOST_FIELD, cluster.h);
 * counted in the peer's received, and its id written into sender (may be NULL). A replay,
 * or one the replay set has no room for, is counted (cluster.peer_replays) and logged once
 * per interval: an ordinary client's. */
bool sf_peerauth_request(const struct sf_config *cfg, struct MHD_Connection *conn,
                         const char *method, const char *target, char sender[SF_PEER_ID_MAX]);

/* Adds SF_PEER_ANSWER_FIELD to resp, the answer of status to the peer's request on conn
 * (verified), over every field resp has now; false when it cannot be (resp must then not
 * be sent). */
bool sf_peerauth_sign_answer(const struct sf_config *cfg, struct MHD_Connection *conn,
                             unsigned status, struct MHD_Response *resp);

/* ---- the body's proof (cluster.h's SF_PEER_BODY_FIELD) ----
 * Every answer with a body to a peer's GET carries one, so that the asking node stores
 * only the body this node sent. What it costs: one SHA-256 over each body byte sent to a
 * peer; nothing for any other client. */

/* Proves a body known whole before the head is sent (a stored response, a text): its
 * iovcnt pieces iov, in order, hashed into resp's SF_PEER_BODY_FIELD ("length=N;
 * sha256=HEX"; any such field the stored response brought is dropped). False when it
 * cannot be (resp must then not be sent). */
bool sf_peerauth_prove_whole(struct MHD_Response *resp, const struct MHD_IoVec *iov, size_t iovcnt);

/* The proof of a body sent as it is read (a content reader's response). */
struct sf_peerproof;

/* Makes resp, a content reader's response of length bytes (-1: unknown), go chunked even
 * with a known length (which SF_PEER_BODY_FIELD then says: "length=N; trailer"), its proof
 * in a trailer signed with secret (borrowed: it must outlive the proof). NULL when it
 * cannot be (resp must then not be sent). */
struct sf_peerproof *sf_peerauth_prove_streamed(struct MHD_Response *resp, int64_t length,
                                                const char *secret);

/* The next len bytes of the body, as handed to libmicrohttpd. */
void sf_peerauth_proof_add(struct sf_peerproof *p, const char *data, size_t len);

/* The body has been handed over whole: adds the trailer (once; later calls do nothing).
 * libmicrohttpd writes the trailer after the last chunk, so this must come no later than
 * the read that hands over the last byte (or returns the end of the stream). Without it
 * (no memory) the asking node sees no proof, and keeps nothing. */
void sf_peerauth_proof_end(struct sf_peerproof *p);

void sf_peerauth_proof_free(struct sf_peerproof *p); /* NULL is fine */

#endif
