/* netacl: lists of networks and host names from the config, and what an address is.
 * Used for who may use the forward proxy and be trusted as a proxy in front of sfproxy
 * (client address lists), and for where the forward proxy may fetch (destination lists:
 * networks, and host names with an optional port or a "*." suffix). Pure: no I/O (it
 * never resolves a name), no locks; a list is constant once the config is loaded. */
#ifndef SF_NETACL_H
#define SF_NETACL_H

#include "base.h"

#include <sys/socket.h>

struct sf_acl_entry;
struct sf_acl {
    struct sf_acl_entry *v;
    size_t n;
};

/* Adds one entry: "10.0.0.0/8", "192.168.1.5", "::1", "fc00::/7", "10.0.0.1:8080",
 * "[::1]:8080"; with hosts, also "example.com", "example.com:8080", "*.example.com".
 * False (the list unchanged) when text is none of these. */
bool sf_acl_add(struct sf_acl *a, const char *text, bool hosts);
void sf_acl_clear(struct sf_acl *a);
/* Entry i (below a->n) as it was added. */
const char *sf_acl_text(const struct sf_acl *a, size_t i);

/* Whether address sa (AF_INET or AF_INET6; IPv4-mapped IPv6 counts as IPv4) with port
 * (0: any) is in one of a's networks. */
bool sf_acl_match_addr(const struct sf_acl *a, const struct sockaddr *sa, uint16_t port);
/* Whether host (a name, compared without case, or an address literal; IPv6 without
 * brackets) with port is listed: by a name or suffix entry, or, for a literal, a network. */
bool sf_acl_match_host(const struct sf_acl *a, const char *host, uint16_t port);

/* Whether sa is an address a forward proxy must not reach unless it is listed: loopback,
 * private (RFC 1918, RFC 4193), link-local, shared (RFC 6598), unspecified, multicast or
 * reserved. */
bool sf_net_is_internal(const struct sockaddr *sa);

/* Splits "host", "host:port", "[v6]" or "[v6]:port" into host (brackets removed) and
 * *port (0: none given). False on a bad port or a host longer than size - 1. */
bool sf_net_split_hostport(const char *text, char *host, size_t size, uint16_t *port);

/* Where a forward proxy may connect (the config's forward_proxy.allow, and its own
 * listening ports, which it must never fetch from: a loop). */
#define SF_SELF_PORTS 3 /* HTTP, HTTPS, admin */
struct sf_dest_rules {
    const struct sf_acl *allow;
    const _Atomic uint16_t *self_ports; /* SF_SELF_PORTS of them; 0: none (not listening) */
};
/* By name, before resolving: whether host:port may be fetched (an allow list that is not
 * empty must name it, or hold a network it may resolve into) and, in *listed, whether the
 * list names it. */
bool sf_dest_name_ok(const struct sf_dest_rules *r, const char *host, uint16_t port, bool *listed);
/* By address, when connecting: a listed network, or a name the list named, or, with an
 * empty list, any address that is not internal (sf_net_is_internal); never a loopback or
 * unspecified address on one of the proxy's own ports. */
bool sf_dest_addr_ok(const struct sf_dest_rules *r, bool name_listed, const struct sockaddr *a,
                     uint16_t port);

/* Whether sa is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped loopback). */
bool sf_net_is_loopback(const struct sockaddr *sa);
/* sa's address as text (no port) into out (INET6_ADDRSTRLEN); "unknown" for another
 * family. */
void sf_net_addr_text(const struct sockaddr *sa, char *out, size_t size);

/* Parses a numeric address into sa (port 0); false when text is not one. */
bool sf_net_parse_addr(const char *text, struct sockaddr_storage *sa);

#endif
