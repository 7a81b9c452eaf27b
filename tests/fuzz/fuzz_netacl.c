/* Address lists: never a crash on any entry, and an entry that parses matches what it
 * names when it is an address. */
#include "fuzz.h"

#include "../../lib/netacl.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_string(data, size);
    struct sf_acl a = {0};
    if (sf_acl_add(&a, s, true)) {
        struct sockaddr_storage ss;
        if (sf_net_parse_addr(s, &ss))
            FUZZ_CHECK(sf_acl_match_addr(&a, (struct sockaddr *)&ss, 80), "%s misses itself", s);
        (void)sf_acl_match_host(&a, "api.example.com", 443);
    }
    char host[256];
    uint16_t port;
    (void)sf_net_split_hostport(s, host, sizeof host, &port);
    _Atomic uint16_t self[SF_SELF_PORTS] = {0};
    atomic_store(&self[0], 8080);
    struct sf_dest_rules r = {.allow = &a, .self_ports = self};
    bool listed;
    (void)sf_dest_name_ok(&r, s, 80, &listed);
    sf_acl_clear(&a);
    free(s);
    return 0;
}
