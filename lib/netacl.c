/* netacl: see netacl.h. Networks are kept as 16 bytes (IPv4 as IPv4-mapped IPv6) and a
 * prefix length, so one comparison serves both families. */
#include "netacl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum entry_kind { E_NET, E_HOST, E_SUFFIX };

struct sf_acl_entry {
    enum entry_kind kind;
    unsigned char addr[16]; /* E_NET: the network, IPv4 as ::ffff:a.b.c.d */
    unsigned prefix;        /* E_NET: bits of addr that count (of 128) */
    char *host;             /* E_HOST, E_SUFFIX: lower case; a suffix keeps its dot */
    uint16_t port;          /* 0: any */
    char *text;             /* as the config wrote it */
};

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The 16-byte form of sa; false for other families. */
static bool addr16(const struct sockaddr *sa, unsigned char out[16])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, v4_mapped, 12);
        memcpy(out + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

static bool in_net(const unsigned char a[16], const unsigned char net[16], unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

bool sf_net_parse_addr(const char *text, struct sockaddr_storage *sa)
{
    memset(sa, 0, sizeof *sa);
    struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

bool sf_net_split_hostport(const char *text, char *host, size_t size, uint16_t *port)
{
    const char *colon = NULL;
    *port = 0;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return false;
        colon = close[1] == ':' ? close + 1 : NULL;
        if ((size_t)(close - text - 1) >= size)
            return false;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
    } else {
        colon = strchr(text, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL)
            colon = NULL; /* a bare IPv6 address (with a prefix, maybe) */
        size_t len = colon != NULL ? (size_t)(colon - text) : strlen(text);
        if (len >= size)
            return false;
        memcpy(host, text, len);
        host[len] = '\0';
    }
    if (colon == NULL)
        return true;
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || p == 0 || p > 65535)
        return false;
    *port = (uint16_t)p;
    return true;
}

static bool host_name_ok(const char *h)
{
    if (*h == '\0' || *h == '.' || *h == '-')
        return false;
    for (; *h; h++)
        if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-')
            return false;
    return true;
}

static void push(struct sf_acl *a, const struct sf_acl_entry *e, const char *text)
{
    a->v = sf_xrealloc(a->v, (a->n + 1) * sizeof *a->v);
    a->v[a->n] = *e;
    a->v[a->n++].text = sf_xstrdup(text);
}

const char *sf_acl_text(const struct sf_acl *a, size_t i)
{
    return a->v[i].text;
}

bool sf_acl_add(struct sf_acl *a, const char *text, bool hosts)
{
    char host[256];
    struct sf_acl_entry e = {0};
    if (!sf_net_split_hostport(text, host, sizeof host, &e.port))
        return false;
    char *slash = strchr(host, '/');
    if (slash != NULL)
        *slash = '\0';
    struct sockaddr_storage ss;
    if (sf_net_parse_addr(host, &ss)) {
        addr16((struct sockaddr *)&ss, e.addr);
        unsigned max = ss.ss_family == AF_INET ? 32 : 128;
        e.prefix = max;
        if (slash != NULL) {
            char *end;
            unsigned long p = strtoul(slash + 1, &end, 10);
            if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || p > max)
                return false;
            e.prefix = (unsigned)p;
        }
        if (ss.ss_family == AF_INET)
            e.prefix += 96;
        e.kind = E_NET;
        push(a, &e, text);
        return true;
    }
    if (!hosts || slash != NULL)
        return false;
    bool suffix = strncmp(host, "*.", 2) == 0;
    const char *name = suffix ? host + 1 : host;
    if (!host_name_ok(suffix ? name + 1 : name))
        return false;
    e.kind = suffix ? E_SUFFIX : E_HOST;
    e.host = sf_xstrdup(name);
    for (char *p = e.host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    push(a, &e, text);
    return true;
}

void sf_acl_clear(struct sf_acl *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].host);
        free(a->v[i].text);
    }
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

static bool port_ok(const struct sf_acl_entry *e, uint16_t port)
{
    return e->port == 0 || e->port == port;
}

bool sf_acl_match_addr(const struct sf_acl *a, const struct sockaddr *sa, uint16_t port)
{
    unsigned char x[16];
    if (!addr16(sa, x))
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].kind == E_NET && port_ok(&a->v[i], port) &&
            in_net(x, a->v[i].addr, a->v[i].prefix))
            return true;
    return false;
}

bool sf_acl_match_host(const struct sf_acl *a, const char *host, uint16_t port)
{
    struct sockaddr_storage ss;
    if (sf_net_parse_addr(host, &ss))
        return sf_acl_match_addr(a, (struct sockaddr *)&ss, port);
    size_t hlen = strlen(host);
    for (size_t i = 0; i < a->n; i++) {
        const struct sf_acl_entry *e = &a->v[i];
        if (!port_ok(e, port) || e->kind == E_NET)
            continue;
        size_t elen = strlen(e->host);
        if (e->kind == E_HOST && sf_streq_ci(host, e->host))
            return true;
        if (e->kind == E_SUFFIX && hlen > elen && sf_streq_ci(host + hlen - elen, e->host))
            return true;
    }
    return false;
}

bool sf_net_is_loopback(const struct sockaddr *sa)
{
    static const unsigned char loop4[13] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127};
    static const unsigned char loop6[16] = {[15] = 1};
    unsigned char x[16];
    return addr16(sa, x) && (memcmp(x, loop4, 13) == 0 || memcmp(x, loop6, 16) == 0);
}

bool sf_net_is_internal(const struct sockaddr *sa)
{
    static const struct {
        const char *net;
        unsigned prefix; /* of 128 */
    } internal[] = {
        {"::ffff:0.0.0.0", 104},
        {"::ffff:10.0.0.0", 104},
        {"::ffff:100.64.0.0", 106},
        {"::ffff:127.0.0.0", 104},
        {"::ffff:169.254.0.0", 112},
        {"::ffff:172.16.0.0", 108},
        {"::ffff:192.0.0.0", 120},
        {"::ffff:192.168.0.0", 112},
        {"::ffff:198.18.0.0", 111},
        {"::ffff:224.0.0.0", 100},
        {"::ffff:240.0.0.0", 100},
        {"::", 128},
        {"::1", 128},
        {"fe80::", 10},
        {"fc00::", 7},
        {"ff00::", 8},
        {"64:ff9b::", 96},
        {"2001:db8::", 32},
    };
    unsigned char x[16], net[16];
    if (!addr16(sa, x))
        return true;
    for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++) {
        SF_ASSERT(inet_pton(AF_INET6, internal[i].net, net) == 1);
        if (in_net(x, net, internal[i].prefix))
            return true;
    }
    return false;
}

bool sf_dest_name_ok(const struct sf_dest_rules *r, const char *host, uint16_t port, bool *listed)
{
    *listed = sf_acl_match_host(r->allow, host, port);
    struct sockaddr_storage ss;
    if (sf_net_parse_addr(host, &ss)) /* a literal is judged as the address it is */
        return sf_dest_addr_ok(r, *listed, (struct sockaddr *)&ss, port);
    bool networks = false; /* a name may resolve into a listed network: judged then */
    for (size_t i = 0; i < r->allow->n && !networks; i++)
        networks = r->allow->v[i].kind == E_NET;
    return *listed || networks || r->allow->n == 0;
}

bool sf_dest_addr_ok(const struct sf_dest_rules *r, bool name_listed, const struct sockaddr *a,
                     uint16_t port)
{
    unsigned char x[16];
    if (!addr16(a, x))
        return false;
    static const unsigned char any[16];
    bool any4 = memcmp(x, v4_mapped, 12) == 0 && memcmp(x + 12, any, 4) == 0;
    bool self_addr = sf_net_is_loopback(a) || memcmp(x, any, 16) == 0 || any4;
    for (size_t i = 0; i < SF_SELF_PORTS; i++)
        if (self_addr && port != 0 && port == atomic_load(&r->self_ports[i]))
            return false; /* a request to ourselves would come back, forever */
    if (sf_acl_match_addr(r->allow, a, port) || name_listed)
        return true;
    return r->allow->n == 0 && !sf_net_is_internal(a);
}

void sf_net_addr_text(const struct sockaddr *sa, char *out, size_t size)
{
    const void *addr = NULL;
    if (sa->sa_family == AF_INET)
        addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (addr == NULL || inet_ntop(sa->sa_family, addr, out, (socklen_t)size) == NULL)
        snprintf(out, size, "unknown");
}
