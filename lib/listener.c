/* listener: see listener.h. libmicrohttpd's own connection count is summed from its
 * workers without a lock; ours is an atomic kept by the connection notification. */
#define _GNU_SOURCE /* accept4 */
#include "listener.h"

#include "log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* TLS 1.2 and 1.3 only (GnuTLS priority string). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define SF_LISTENER_DRAIN_MAX 4096 /* a backlog's bound on Linux (somaxconn's default) */

static void listener_free(struct sf_listener *l)
{
    sf_snap_unref(l->snap);
    free(l);
}

/* The socket address of a configured listen address (checked by the config); false if it
 * is neither IPv4 nor IPv6. */
static bool listen_sockaddr(const struct sf_addr *a, struct sockaddr_storage *ss, bool *v6)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, a->host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(a->port);
        *v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, a->host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        *v6 = true;
        return true;
    }
    return false;
}

/* The port a libmicrohttpd daemon is bound to (useful with port 0); 0 when unknown. */
static uint16_t bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

/* Fills opts (room for 12) with the options of s that take no callback: where, the pool,
 * the limits, and TLS's. */
static void value_options(const struct sf_listener_settings *s, MHD_socket fd,
                          const struct sockaddr_storage *ss, struct MHD_OptionItem *opts)
{
    size_t n = 0;
    if (fd != MHD_INVALID_SOCKET)
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
    else
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)ss};
    if (s->threads > 0)
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, s->threads, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, s->connection_limit, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout_s, NULL};
    if (s->backlog > 0)
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, s->backlog, NULL};
    if (s->pool_bytes > 0)
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                            (intptr_t)s->pool_bytes, NULL};
    if (s->flags & MHD_USE_TLS) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)s->tls_key_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)s->tls_cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

struct sf_listener *sf_listener_start(void *owner, struct sf_snap *snap,
                                      const struct sf_listener_settings *s,
                                      const struct sf_listener_calls *calls, MHD_socket fd)
{
    struct sf_listener *l = sf_xcalloc(1, sizeof *l);
    l->owner = owner;
    l->snap = sf_snap_ref(snap);
    l->settings = *s;
    atomic_init(&l->open, 0);
    atomic_init(&l->retired, false);
    struct sockaddr_storage ss;
    bool v6 = false;
    listen_sockaddr(&s->addr, &ss, &v6); /* the config checked the address */
    struct MHD_OptionItem opts[12];
    value_options(s, fd, &ss, opts);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) | s->flags;
    l->mhd = MHD_start_daemon(flags, 0, calls->accept, l, calls->request, l, MHD_OPTION_ARRAY, opts,
                              MHD_OPTION_URI_LOG_CALLBACK, calls->uri, l,
                              MHD_OPTION_NOTIFY_COMPLETED, calls->completed, l,
                              MHD_OPTION_NOTIFY_CONNECTION, calls->connection, l, MHD_OPTION_END);
    if (l->mhd == NULL) {
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        listener_free(l);
        return NULL;
    }
    l->port = bound_port(l->mhd);
    return l;
}

/* A duplicate of l's listening socket, for a successor on the same address to own
 * (MHD_OPTION_LISTEN_SOCKET); MHD_INVALID_SOCKET when there is none. */
static MHD_socket dup_socket(const struct sf_listener *l)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_LISTEN_FD);
    return info != NULL && info->listen_fd != MHD_INVALID_SOCKET ? dup(info->listen_fd)
                                                                 : MHD_INVALID_SOCKET;
}

void sf_listener_count(struct sf_listener *l, enum MHD_ConnectionNotificationCode code)
{
    atomic_fetch_add(&l->open, code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

bool sf_listener_retired(const struct sf_listener *l)
{
    return atomic_load_explicit(&l->retired, memory_order_relaxed);
}

/* The connections the kernel completed on l's socket that its workers had not accepted
 * when they stopped (MHD_quiesce_daemon): shut down, the socket would reset them, and a
 * client reconnecting just then (told to by a retired listener's "Connection: close") saw
 * its request lost (t81, under ASan). Given to l's daemon instead, they are answered; only
 * a connection completed between the last accept and the shutdown is still reset. */
static void drain_backlog(struct sf_listener *l, MHD_socket fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return;
    for (int i = 0; i < SF_LISTENER_DRAIN_MAX; i++) {
        struct sockaddr_storage a;
        socklen_t alen = sizeof a;
        int c = accept4(fd, (struct sockaddr *)&a, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            return;
        /* (libmicrohttpd closes c itself when it cannot take it) */
        if (MHD_add_connection(l->mhd, c, (const struct sockaddr *)&a, alen) != MHD_YES)
            sf_log_warn("reload: a connection waiting on a retired listener was dropped");
    }
}

/* Stops l accepting. Unless its socket is passed_on (a successor listens on a duplicate of
 * it), the socket is shut down before it is closed: closing the descriptor alone leaves
 * the socket listening for as long as a worker of l is still inside poll() on it (poll
 * holds a reference to the file until it returns), and the kernel completes a connection
 * attempt made meanwhile, then resets it when the last reference goes. A client told to
 * reconnect by a retired listener's "Connection: close" met exactly that: its new
 * connection to the old address was accepted, its request sent, then reset. Shut down,
 * the socket refuses at once, which a client can tell from a request lost. */
static void listener_quiesce(struct sf_listener *l, bool passed_on)
{
    MHD_socket fd = MHD_quiesce_daemon(l->mhd);
    if (fd == MHD_INVALID_SOCKET)
        return;
    if (!passed_on) {
        drain_backlog(l, fd);
        shutdown(fd, SHUT_RDWR);
    }
    close(fd);
}

void sf_listener_quiesce(struct sf_listener *l)
{
    listener_quiesce(l, false);
}

/* Retires l onto *retired (listener.h says what that means), closing its listening socket
 * (passed_on: a successor on the same address listens on a duplicate of it). */
static void listener_retire(struct sf_listener *l, bool passed_on, struct sf_listener **retired)
{
    listener_quiesce(l, passed_on);
    atomic_store(&l->retired, true);
    l->next = *retired;
    *retired = l;
}

void sf_listener_reap(struct sf_listener **retired, bool all)
{
    struct sf_listener **pp = retired;
    while (*pp != NULL) {
        struct sf_listener *l = *pp;
        if (!all && atomic_load(&l->open) > 0) {
            pp = &l->next;
            continue;
        }
        *pp = l->next;
        if (!all)
            sf_log_info("reload: the retired listener on %s:%u has stopped (its last "
                        "connection closed)",
                        l->settings.addr.host, l->port);
        sf_listener_stop(l);
    }
}

void sf_listener_stop(struct sf_listener *l)
{
    if (l == NULL)
        return;
    MHD_stop_daemon(l->mhd);
    listener_free(l);
}

static bool same_addr(const struct sf_addr *a, const struct sf_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static bool same_text(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether daemons started as a and as b serve alike (the address aside). */
static bool same_settings(const struct sf_listener_settings *a,
                          const struct sf_listener_settings *b)
{
    return a->flags == b->flags && a->threads == b->threads &&
           a->connection_limit == b->connection_limit && a->idle_timeout_s == b->idle_timeout_s &&
           a->pool_bytes == b->pool_bytes && a->backlog == b->backlog &&
           same_text(a->tls_cert_pem, b->tls_cert_pem) && same_text(a->tls_key_pem, b->tls_key_pem);
}

bool sf_listener_prepare(struct sf_listener_slot *s, void *owner, struct sf_snap *snap,
                         const struct sf_listener_settings *want,
                         const struct sf_listener_calls *calls)
{
    bool on_same =
        s->cur != NULL && want->enabled && same_addr(&s->cur->settings.addr, &want->addr);
    if (on_same && same_settings(&s->cur->settings, want))
        return true; /* it goes on */
    if (!want->enabled) {
        s->replace = s->cur != NULL;
        return true;
    }
    s->next = sf_listener_start(owner, snap, want, calls,
                                on_same ? dup_socket(s->cur) : MHD_INVALID_SOCKET);
    s->replace = s->next != NULL;
    return s->replace;
}

void sf_listener_commit(struct sf_listener_slot *s, struct sf_listener **retired)
{
    if (!s->replace)
        return;
    if (s->cur != NULL) /* prepare started next on a duplicate of cur's socket when on_same */
        listener_retire(
            s->cur, s->next != NULL && same_addr(&s->cur->settings.addr, &s->next->settings.addr),
            retired);
    s->cur = s->next;
    s->next = NULL;
    s->replace = false;
}

void sf_listener_abort(struct sf_listener_slot *s)
{
    sf_listener_stop(s->next);
    s->next = NULL;
    s->replace = false;
}
