/* Unit tests for lib/netacl.c: network and host lists, and which addresses are internal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/netacl.h"

#include <string.h>

static bool addr_in(const struct sf_acl *a, const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    assert_true(sf_net_parse_addr(ip, &ss));
    return sf_acl_match_addr(a, (struct sockaddr *)&ss, port);
}

static void test_parse(void **state)
{
    (void)state;
    struct sf_acl a = {0};
    static const char *const good_nets[] = {"10.0.0.0/8",    "192.168.1.5", "::1",      "fc00::/7",
                                            "10.0.0.1:8080", "[::1]:8080",  "0.0.0.0/0"};
    for (size_t i = 0; i < sizeof good_nets / sizeof good_nets[0]; i++)
        if (!sf_acl_add(&a, good_nets[i], false))
            fail_msg("refused: %s", good_nets[i]);
    static const char *const bad[] = {
        "10.0.0.0/33", "::1/129", "10.0.0.1:0", "10.0.0.1:x",    "a b",   "",
        "*.",          "[::1",    "10.0.0.0/",  "example.com/8", "-a.com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sf_acl_add(&a, bad[i], true))
            fail_msg("accepted: %s", bad[i]);
    assert_false(sf_acl_add(&a, "example.com", false)); /* names only where hosts are */
    assert_true(sf_acl_add(&a, "example.com:8080", true));
    assert_true(sf_acl_add(&a, "*.Example.ORG", true));
    sf_acl_clear(&a);
}

static void test_match(void **state)
{
    (void)state;
    struct sf_acl a = {0};
    sf_acl_add(&a, "10.0.0.0/8", true);
    sf_acl_add(&a, "192.168.1.5:80", true);
    sf_acl_add(&a, "fc00::/7", true);
    sf_acl_add(&a, "api.example.com", true);
    sf_acl_add(&a, "*.cdn.example.org:443", true);
    assert_true(addr_in(&a, "10.1.2.3", 9000));
    assert_true(addr_in(&a, "::ffff:10.1.2.3", 1)); /* IPv4-mapped is IPv4 */
    assert_false(addr_in(&a, "11.0.0.1", 80));
    assert_true(addr_in(&a, "192.168.1.5", 80));
    assert_false(addr_in(&a, "192.168.1.5", 81));
    assert_true(addr_in(&a, "fd12::1", 80));
    assert_false(addr_in(&a, "fe80::1", 80));
    assert_true(sf_acl_match_host(&a, "API.example.com", 8080));
    assert_false(sf_acl_match_host(&a, "example.com", 80));
    assert_false(sf_acl_match_host(&a, "xapi.example.com", 80));
    assert_true(sf_acl_match_host(&a, "a.b.cdn.example.org", 443));
    assert_false(sf_acl_match_host(&a, "a.cdn.example.org", 80));
    assert_false(sf_acl_match_host(&a, "cdn.example.org", 443)); /* a suffix needs a label */
    assert_true(sf_acl_match_host(&a, "10.9.9.9", 1));           /* a literal: by network */
    sf_acl_clear(&a);
}

static void test_internal(void **state)
{
    (void)state;
    static const char *const internal[] = {"127.0.0.1",       "10.1.1.1",    "172.16.0.1",
                                           "172.31.255.255",  "192.168.0.1", "169.254.169.254",
                                           "100.64.0.1",      "0.0.0.0",     "224.0.0.1",
                                           "255.255.255.255", "::1",         "::",
                                           "fe80::1",         "fd00::1",     "::ffff:127.0.0.1",
                                           "ff02::1"};
    static const char *const external[] = {"8.8.8.8", "172.32.0.1", "93.184.216.34",
                                           "2606:4700::1111", "100.128.0.1"};
    struct sockaddr_storage ss;
    static const char *const loopback[] = {"127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.2"};
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++) {
        assert_true(sf_net_parse_addr(loopback[i], &ss));
        if (!sf_net_is_loopback((struct sockaddr *)&ss))
            fail_msg("not loopback: %s", loopback[i]);
    }
    assert_true(sf_net_parse_addr("10.0.0.1", &ss));
    assert_false(sf_net_is_loopback((struct sockaddr *)&ss));
    for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++) {
        assert_true(sf_net_parse_addr(internal[i], &ss));
        if (!sf_net_is_internal((struct sockaddr *)&ss))
            fail_msg("not internal: %s", internal[i]);
    }
    for (size_t i = 0; i < sizeof external / sizeof external[0]; i++) {
        assert_true(sf_net_parse_addr(external[i], &ss));
        if (sf_net_is_internal((struct sockaddr *)&ss))
            fail_msg("internal: %s", external[i]);
    }
}

static void test_destinations(void **state)
{
    (void)state;
    struct sf_acl allow = {0};
    _Atomic uint16_t self[SF_SELF_PORTS] = {0};
    atomic_store(&self[2], 8080); /* the last of them counts too */
    struct sf_dest_rules r = {.allow = &allow, .self_ports = self};
    bool listed;
    struct sockaddr_storage ss;
    /* An empty list: public names and addresses, never internal ones, never ourselves. */
    assert_true(sf_dest_name_ok(&r, "example.com", 80, &listed) && !listed);
    assert_false(sf_dest_name_ok(&r, "10.1.2.3", 80, &listed));
    assert_true(sf_dest_name_ok(&r, "8.8.8.8", 80, &listed));
    sf_net_parse_addr("127.0.0.1", &ss);
    assert_false(sf_dest_addr_ok(&r, false, (struct sockaddr *)&ss, 9000));
    /* Networks: a name may resolve into them (judged when connecting). */
    sf_acl_add(&allow, "10.0.0.0/8", true);
    sf_acl_add(&allow, "127.0.0.1", true);
    assert_true(sf_dest_name_ok(&r, "intranet.example", 80, &listed) && !listed);
    sf_net_parse_addr("10.9.9.9", &ss);
    assert_true(sf_dest_addr_ok(&r, false, (struct sockaddr *)&ss, 80));
    sf_net_parse_addr("8.8.8.8", &ss);
    assert_false(sf_dest_addr_ok(&r, false, (struct sockaddr *)&ss, 80)); /* not listed */
    sf_net_parse_addr("127.0.0.1", &ss);
    assert_true(sf_dest_addr_ok(&r, false, (struct sockaddr *)&ss, 9000));
    assert_false(sf_dest_addr_ok(&r, false, (struct sockaddr *)&ss, 8080)); /* ourselves */
    sf_acl_clear(&allow);
    /* Names only: an unnamed host is refused before resolving. */
    sf_acl_add(&allow, "api.example.com", true);
    assert_false(sf_dest_name_ok(&r, "other.example.com", 80, &listed));
    assert_true(sf_dest_name_ok(&r, "api.example.com", 80, &listed) && listed);
    sf_net_parse_addr("10.9.9.9", &ss);
    assert_true(sf_dest_addr_ok(&r, true, (struct sockaddr *)&ss, 80)); /* named: allowed */
    sf_acl_clear(&allow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_internal),
        cmocka_unit_test(test_destinations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
