/* interpose: sfproxy's own recv() and gnutls_record_recv(), which the dynamic linker binds
 * libmicrohttpd's calls to instead of libc's and GnuTLS's (an executable's definitions come
 * first), and the real functions behind them, found with dlsym. Nothing else: what is done
 * with the bytes read is conn.c's, through the hooks it installs. Why sfproxy reads a
 * client's bytes before libmicrohttpd does is conn.h's.
 *
 * Every function here is NULL-safe: when dlsym found no real function (a static build, no
 * GnuTLS), the call fails (ENOSYS, or GnuTLS's pull error) instead of jumping to NULL.
 * Threads: any; the hooks are one atomic pointer. */
#ifndef SF_INTERPOSE_H
#define SF_INTERPOSE_H

#include "base.h"

#include <sys/types.h>

/* A GnuTLS session, as GnuTLS's gnutls_session_t is, without GnuTLS's headers. */
struct gnutls_session_int;

/* GNUTLS_E_PULL_ERROR: libmicrohttpd closes a connection whose read returned it. */
#define SF_TLS_E_PULL_ERROR (-53)

/* What runs instead of the real call while installed; each calls the real function
 * itself (sf_interpose_recv, sf_interpose_tls_recv) when it wants the bytes. */
struct sf_interpose_hooks {
    ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
    ssize_t (*tls_recv)(struct gnutls_session_int *session, void *data, size_t size);
};

/* Installs h (NULL: none; then recv and gnutls_record_recv are the real ones). h must stay
 * valid while installed, and until every thread that may read has stopped after. */
void sf_interpose_install(const struct sf_interpose_hooks *h);

/* Whether recv is sfproxy's (the executable's definition is the one the dynamic linker
 * gives libmicrohttpd) and libc's was found; false, with errbuf written, when not. */
bool sf_interpose_recv_ok(char *errbuf, size_t errlen);
/* The same for gnutls_record_recv, and the two GnuTLS calls below. */
bool sf_interpose_tls_ok(char *errbuf, size_t errlen);

/* libc's recv: -1 with errno ENOSYS when none was found. */
ssize_t sf_interpose_recv(int fd, void *buf, size_t len, int flags);
/* GnuTLS's gnutls_record_recv: SF_TLS_E_PULL_ERROR when none was found. */
ssize_t sf_interpose_tls_recv(struct gnutls_session_int *session, void *data, size_t size);
/* gnutls_record_send: SF_TLS_E_PULL_ERROR when none was found. */
ssize_t sf_interpose_tls_send(struct gnutls_session_int *session, const void *data, size_t size);
/* gnutls_transport_get_int, the socket of a session: -1 when none was found. */
int sf_interpose_tls_fd(struct gnutls_session_int *session);

#endif
