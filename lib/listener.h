/* listener: one listening libmicrohttpd daemon that a reload can replace. Its successor
 * starts first, on a new address or on this one's socket handed over (so no connection
 * attempt is refused in between); then this one retires: it stops accepting at once,
 * answers what its connections still ask with "Connection: close" (keep-alive clients
 * reconnect to the successor), and is stopped once its last connection has closed. A
 * parked client is a connection: a retired daemon serves it to the end of its response.
 *
 * The owner (the front, the admin listener) says what its daemon is (struct
 * sf_listener_settings, from a config) and gives its callbacks (struct sf_listener_calls);
 * this module starts the daemon with them, and decides at a reload whether the running
 * one serves the new config as it is. The owner counts connections through
 * sf_listener_count.
 *
 * Threads: new, started, retire and reap run on the thread that starts, reloads and stops
 * sfproxy; libmicrohttpd's threads read owner, snap and retired, and count. */
#ifndef SF_LISTENER_H
#define SF_LISTENER_H

#include "live.h"

#include <microhttpd.h>

/* What a listener's daemon is, as its owner derives it from a config. Two listeners on
 * the same address whose settings are equal serve alike: a reload keeps the running one. */
struct sf_listener_settings {
    bool enabled;              /* false: no listener */
    struct sf_addr addr;       /* as configured (port 0: any) */
    unsigned flags;            /* MHD_USE_* beyond what every listener has (an internal
                                * polling thread in poll mode, the inter-thread channel,
                                * error logs, IPv6 by the address): the threading model,
                                * suspend and resume, MHD_USE_TLS */
    unsigned threads;          /* MHD_OPTION_THREAD_POOL_SIZE (0: no pool) */
    unsigned connection_limit; /* libmicrohttpd's own */
    unsigned idle_timeout_s;   /* MHD_OPTION_CONNECTION_TIMEOUT */
    size_t pool_bytes;         /* MHD_OPTION_CONNECTION_MEMORY_LIMIT (0: its default) */
    unsigned backlog;          /* MHD_OPTION_LISTEN_BACKLOG_SIZE (0: its default) */
    const char *tls_cert_pem;  /* with MHD_USE_TLS: the certificate and key (borrowed from */
    const char *tls_key_pem;   /* the config the listener pins) */
};

/* The owner's libmicrohttpd callbacks; each is called with the listener as its closure
 * (its owner is l->owner). NULL: none (accept and request are needed). */
struct sf_listener_calls {
    MHD_AcceptPolicyCallback accept;
    MHD_AccessHandlerCallback request;
    MHD_RequestCompletedCallback completed;
    MHD_NotifyConnectionCallback connection;
    void *(*uri)(void *cls, const char *uri, struct MHD_Connection *conn); /* URI log */
};

struct sf_listener {
    void *owner;                          /* the front or the admin listener, for the callbacks */
    struct sf_snap *snap;                 /* the config it was started with (pinned) */
    struct sf_listener_settings settings; /* what it was started with */
    struct MHD_Daemon *mhd;
    uint16_t port;   /* bound */
    atomic_int open; /* its connections, parked ones too */
    atomic_bool retired;
    struct sf_listener *next; /* on a list of retired listeners */
};

/* Starts a listener of owner under snap (a reference is taken) as s says (copied), with
 * calls: on fd when it is not MHD_INVALID_SOCKET (a duplicate of a predecessor's socket,
 * taken over: closed when the listener cannot start), else on s->addr. NULL when
 * libmicrohttpd could not start it (it logs why). */
struct sf_listener *sf_listener_start(void *owner, struct sf_snap *snap,
                                      const struct sf_listener_settings *s,
                                      const struct sf_listener_calls *calls, MHD_socket fd);
/* A connection of l opened or closed (libmicrohttpd's connection notification). */
void sf_listener_count(struct sf_listener *l, enum MHD_ConnectionNotificationCode code);
/* Whether l has retired: its responses should close their connections. */
bool sf_listener_retired(const struct sf_listener *l);
/* Stops l accepting, at once: from then on a connection attempt is refused (its listening
 * socket is shut down and closed); its connections go on. */
void sf_listener_quiesce(struct sf_listener *l);
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

/* A reload's first step for s, whose listener is to be as want says under snap (with
 * owner and calls, as sf_listener_start): nothing when cur can go on as it is (same
 * address, equal settings); else s->replace, with the successor started (on a duplicate
 * of cur's socket when only the settings differ, so that no connection attempt is refused
 * in between; on want->addr when the address changed), or none when want is not enabled.
 * False when it cannot start: then nothing is prepared. */
bool sf_listener_prepare(struct sf_listener_slot *s, void *owner, struct sf_snap *snap,
                         const struct sf_listener_settings *want,
                         const struct sf_listener_calls *calls);
/* The prepared successor takes over; cur retires onto *retired. */
void sf_listener_commit(struct sf_listener_slot *s, struct sf_listener **retired);
/* The prepared successor stops; cur goes on. */
void sf_listener_abort(struct sf_listener_slot *s);

#endif
