/* Unit tests for lib/origintls.c: how upstream_tls.sni renames the upstream URL and where
 * libcurl is then sent to connect, for the forms an upstream URL takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/config.h"
#include "../../lib/origintls.h"

#include <string.h>

static void check_sni(const char *upstream, const char *from, const char *to,
                      const char *connect_to)
{
    struct sf_config cfg;
    sf_config_defaults(&cfg);
    cfg.upstream = sf_xstrdup(upstream);
    cfg.upstream_sni = sf_xstrdup("origin.test");
    struct sf_origin_tls t;
    const char *why = NULL;
    assert_true(sf_origin_tls_init(&t, cfg.upstream, cfg.upstream_ca_file, cfg.upstream_verify,
                                   cfg.upstream_sni, &why));
    assert_string_equal(t.from, from);
    assert_string_equal(t.to, to);
    assert_string_equal(t.connect_to->data, connect_to);
    sf_origin_tls_clear(&t);
    sf_config_clear(&cfg);
}

static void test_sni_renames_the_authority(void **state)
{
    (void)state;
    check_sni("https://10.0.0.5", "https://10.0.0.5", "https://origin.test",
              "origin.test:443:10.0.0.5:443");
    check_sni("https://10.0.0.5:8443/api/v1", "https://10.0.0.5:8443", "https://origin.test:8443",
              "origin.test:8443:10.0.0.5:8443");
    check_sni("https://[::1]:8443/a]b", "https://[::1]:8443", "https://origin.test:8443",
              "origin.test:8443:[::1]:8443");
    check_sni("https://10.0.0.5:8443/a]b", "https://10.0.0.5:8443", "https://origin.test:8443",
              "origin.test:8443:10.0.0.5:8443");
    check_sni("https://10.0.0.5/x]y:7", "https://10.0.0.5", "https://origin.test",
              "origin.test:443:10.0.0.5:443");
}

static void test_without_sni_nothing_is_renamed(void **state)
{
    (void)state;
    struct sf_config cfg;
    sf_config_defaults(&cfg);
    cfg.upstream = sf_xstrdup("https://10.0.0.5");
    struct sf_origin_tls t;
    const char *why = NULL;
    assert_true(sf_origin_tls_init(&t, cfg.upstream, cfg.upstream_ca_file, cfg.upstream_verify,
                                   cfg.upstream_sni, &why));
    assert_null(t.from);
    assert_null(t.connect_to);
    assert_true(t.verify);
    sf_origin_tls_clear(&t);
    sf_config_clear(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sni_renames_the_authority),
        cmocka_unit_test(test_without_sni_nothing_is_renamed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
