/* listener: one listening libmicrohttpd daemon that a reload can replace. Its successor
 * starts first, on a new address or on this one's socket handed over (so no connection
 * attempt is refused in between); then this one retires: it stops accepting at once,
 * answers what its connections still ask with "Connection: close" (keep-alive clients
 * reconnect to the successor), and is stopped once its last connection has closed. A
 * parked client is a connection: a retired daemon serves it to the end of its response.
 *
 * The owner (the front, the admin listener) starts the daemon itself, with the listener
 * as the callbacks' argument, and counts connections through sf_listener_count.
 *
 * Threads: new, started, retire and reap run on the thread that starts, reloads and stops
 * sfproxy; libmicrohttpd's threads read owner, snap and retired, and count. */
#ifndef SF_LISTENER_H
#define SF_LISTENER_H

#include "live.h"

#include <microhttpd.h>

struct sf_listener {
    void *owner;          /* the front or the admin listener, for the callbacks */
    struct sf_snap *snap; /* the config it was started with (pinned) */
    struct sf_addr addr;  /* as configured (port 0: any) */
    struct MHD_Daemon *mhd;
    uint16_t port;   /* bound */
    atomic_int open; /* its connections, parked ones too */
    atomic_bool retired;
    struct sf_listener *next; /* on a list of retired listeners */
};

/* A listener of owner for addr under snap (a reference is taken); its daemon is not
 * started yet. */
struct sf_listener *sf_listener_new(void *owner, struct sf_snap *snap, const struct sf_addr *addr);
/* Records l's started daemon (NULL: it did not start, and l is freed). Returns mhd. */
struct MHD_Daemon *sf_listener_started(struct sf_listener *l, struct MHD_Daemon *mhd);
/* A duplicate of l's listening socket, for a successor on the same address to own
 * (MHD_OPTION_LISTEN_SOCKET); MHD_INVALID_SOCKET when there is none. */
MHD_socket sf_listener_dup_socket(const struct sf_listener *l);
/* A connection of l opened or closed (libmicrohttpd's connection notification). */
void sf_listener_count(struct sf_listener *l, enum MHD_ConnectionNotificationCode code);
/* Whether l has retired: its responses should close their connections. */
bool sf_listener_retired(const struct sf_listener *l);
/* Stops l accepting and closes its listening socket; its connections go on. */
void sf_listener_quiesce(struct sf_listener *l);
/* Retires l onto *retired (see above), closing its listening socket (a successor on the
 * same address listens on a duplicate of it). */
void sf_listener_retire(struct sf_listener *l, struct sf_listener **retired);
/* Stops and frees the retired listeners whose connections have all closed; with all,
 * every one (at stop: each must have no parked client left). */
void sf_listener_reap(struct sf_listener **retired, bool all);
/* Stops l's daemon (closing its socket unless it retired) and frees l. NULL is fine. */
void sf_listener_stop(struct sf_listener *l);

/* Where a listener runs (cur, NULL: off) and, while a reload is prepared, what follows it:
 * with replace, next (NULL: none) takes over at commit. */
struct sf_listener_slot {
    struct sf_listener *cur, *next;
    bool replace;
};
/* Whether a listener started under was must start again to serve under now: the
 * settings its daemon was started with differ. */
typedef bool sf_listener_differ_fn(const struct sf_config *was, const struct sf_config *now,
                                   void *arg);
/* Starts a listener of the owner under snap: on fd, a duplicate of a predecessor's socket
 * it takes over, or with MHD_INVALID_SOCKET on its configured address. NULL when it cannot
 * start. */
typedef struct sf_listener *sf_listener_start_fn(void *arg, struct sf_snap *snap, MHD_socket fd);

/* A reload's first step for s, whose listener snap wants at addr (enabled false: none):
 * nothing when cur can go on as it is; else s->replace, with the successor started (on a
 * duplicate of cur's socket when only differ says so, so that no connection attempt is
 * refused in between; on addr when the address changed). False when it cannot start: then
 * nothing is prepared. */
bool sf_listener_prepare(struct sf_listener_slot *s, struct sf_snap *snap, bool enabled,
                         const struct sf_addr *addr, sf_listener_differ_fn *differ,
                         sf_listener_start_fn *start, void *arg);
/* The prepared successor takes over; cur retires onto *retired. */
void sf_listener_commit(struct sf_listener_slot *s, struct sf_listener **retired);
/* The prepared successor stops; cur goes on. */
void sf_listener_abort(struct sf_listener_slot *s);
/* Whether two configured addresses are the same. */
bool sf_listener_same_addr(const struct sf_addr *a, const struct sf_addr *b);

#endif
