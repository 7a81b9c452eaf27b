/* interpose: see interpose.h. The real functions are looked up once, on the first call
 * (pthread_once): RTLD_NEXT for the two that are interposed (the next definition after
 * the executable's), RTLD_DEFAULT for the two GnuTLS calls that are not. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "interpose.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

static pthread_once_t found_once = PTHREAD_ONCE_INIT;
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_tls_recv)(struct gnutls_session_int *, void *, size_t);
static ssize_t (*real_tls_send)(struct gnutls_session_int *, const void *, size_t);
static int (*real_tls_fd)(struct gnutls_session_int *);
static _Atomic(const struct sf_interpose_hooks *) hooks;

static void find_real(void) /* (writing through void ** is POSIX's idiom for dlsym) */
{
    *(void **)&real_recv = dlsym(RTLD_NEXT, "recv");
    *(void **)&real_tls_recv = dlsym(RTLD_NEXT, "gnutls_record_recv");
    *(void **)&real_tls_send = dlsym(RTLD_DEFAULT, "gnutls_record_send");
    *(void **)&real_tls_fd = dlsym(RTLD_DEFAULT, "gnutls_transport_get_int");
}

void sf_interpose_install(const struct sf_interpose_hooks *h)
{
    pthread_once(&found_once, find_real);
    atomic_store_explicit(&hooks, h, memory_order_release);
}

ssize_t sf_interpose_recv(int fd, void *buf, size_t len, int flags)
{
    pthread_once(&found_once, find_real);
    if (real_recv == NULL) {
        errno = ENOSYS;
        return -1;
    }
    return real_recv(fd, buf, len, flags);
}

ssize_t sf_interpose_tls_recv(struct gnutls_session_int *session, void *data, size_t size)
{
    pthread_once(&found_once, find_real);
    return real_tls_recv != NULL ? real_tls_recv(session, data, size) : SF_TLS_E_PULL_ERROR;
}

ssize_t sf_interpose_tls_send(struct gnutls_session_int *session, const void *data, size_t size)
{
    pthread_once(&found_once, find_real);
    return real_tls_send != NULL ? real_tls_send(session, data, size) : SF_TLS_E_PULL_ERROR;
}

int sf_interpose_tls_fd(struct gnutls_session_int *session)
{
    pthread_once(&found_once, find_real);
    return real_tls_fd != NULL ? real_tls_fd(session) : -1;
}

/* libmicrohttpd's reads of a plain connection, and of a TLS one's records. */
ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    const struct sf_interpose_hooks *h = atomic_load_explicit(&hooks, memory_order_acquire);
    return h != NULL ? h->recv(fd, buf, len, flags) : sf_interpose_recv(fd, buf, len, flags);
}

/* libmicrohttpd's reads of a TLS connection's plaintext (it calls GnuTLS's by name). */
ssize_t gnutls_record_recv(struct gnutls_session_int *session, void *data, size_t size);
ssize_t gnutls_record_recv(struct gnutls_session_int *session, void *data, size_t size)
{
    const struct sf_interpose_hooks *h = atomic_load_explicit(&hooks, memory_order_acquire);
    return h != NULL ? h->tls_recv(session, data, size)
                     : sf_interpose_tls_recv(session, data, size);
}

bool sf_interpose_recv_ok(char *errbuf, size_t errlen)
{
    pthread_once(&found_once, find_real);
    if (real_recv != NULL && dlsym(RTLD_DEFAULT, "recv") == (void *)recv)
        return true;
    snprintf(errbuf, errlen,
             "recv() is not interposed (a static or -Bsymbolic build?): requests could not be "
             "checked before libmicrohttpd parses them; build sfproxy as a normal dynamic "
             "executable");
    return false;
}

bool sf_interpose_tls_ok(char *errbuf, size_t errlen)
{
    pthread_once(&found_once, find_real);
    if (real_tls_recv != NULL && real_tls_send != NULL && real_tls_fd != NULL &&
        dlsym(RTLD_DEFAULT, "gnutls_record_recv") == (void *)gnutls_record_recv)
        return true;
    snprintf(errbuf, errlen,
             "gnutls_record_recv() is not interposed (libmicrohttpd without GnuTLS?): HTTPS "
             "requests could not be checked before libmicrohttpd parses them; remove "
             "\"tls.listen\"");
    return false;
}
