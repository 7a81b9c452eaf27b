/* peerauth: the answering side of a cluster hop (issue 18). Whether a request is a peer's:
 * its Sfproxy-Peer field signed with cluster.secret, for this node, within
 * SF_PEER_WINDOW_S, and never seen before (one process-wide replay set, replay.h, of
 * SF_PEER_REPLAY_CAPACITY requests, kept across reloads); and the signature on every answer
 * to such a request (cluster.h), so that the asking node can tell it from a process at
 * this node's address without the secret.
 *
 * Runs on: libmicrohttpd's workers. */
#ifndef SF_PEERAUTH_H
#define SF_PEERAUTH_H

#include "config.h"

#include <microhttpd.h>

#define SF_PEER_WINDOW_S 30 /* how far a peer's clock and the time on the wire may be off */
#define SF_PEER_REPLAY_CAPACITY 65536

/* Whether the request of method for target on conn is a cluster peer's (see above);
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

#endif
