/* listener: see listener.h. libmicrohttpd's own connection count is summed from its
 * workers without a lock; ours is an atomic kept by the connection notification. */
#include "listener.h"

#include "conn.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sf_listener *sf_listener_new(void *owner, struct sf_snap *snap, const struct sf_addr *addr)
{
    struct sf_listener *l = sf_xcalloc(1, sizeof *l);
    l->owner = owner;
    l->snap = sf_snap_ref(snap);
    l->addr = *addr;
    atomic_init(&l->open, 0);
    atomic_init(&l->retired, false);
    return l;
}

static void listener_free(struct sf_listener *l)
{
    sf_snap_unref(l->snap);
    free(l);
}

struct MHD_Daemon *sf_listener_started(struct sf_listener *l, struct MHD_Daemon *mhd)
{
    if (mhd == NULL) {
        listener_free(l);
        return NULL;
    }
    l->mhd = mhd;
    l->port = sf_listen_bound_port(mhd);
    return mhd;
}

MHD_socket sf_listener_dup_socket(const struct sf_listener *l)
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

void sf_listener_quiesce(struct sf_listener *l)
{
    MHD_socket fd = MHD_quiesce_daemon(l->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void sf_listener_retire(struct sf_listener *l, struct sf_listener **retired)
{
    sf_listener_quiesce(l);
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
                        l->addr.host, l->port);
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

bool sf_listener_prepare(struct sf_listener_slot *s, struct sf_snap *snap, bool enabled,
                         const struct sf_addr *addr, sf_listener_differ_fn *differ,
                         sf_listener_start_fn *start, void *arg)
{
    bool same_addr = s->cur != NULL && enabled && sf_listener_same_addr(&s->cur->addr, addr);
    if (same_addr && !differ(&s->cur->snap->cfg, &snap->cfg, arg))
        return true; /* it goes on */
    if (!enabled) {
        s->replace = s->cur != NULL;
        return true;
    }
    s->next = start(arg, snap, same_addr ? sf_listener_dup_socket(s->cur) : MHD_INVALID_SOCKET);
    s->replace = s->next != NULL;
    return s->replace;
}

void sf_listener_commit(struct sf_listener_slot *s, struct sf_listener **retired)
{
    if (!s->replace)
        return;
    if (s->cur != NULL)
        sf_listener_retire(s->cur, retired);
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

bool sf_listener_same_addr(const struct sf_addr *a, const struct sf_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}
