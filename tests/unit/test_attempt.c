/* Unit tests for lib/attempt.c: the URL an attempt on a pool's server fetches, which
 * failed requests may be sent again to another server, and the servers tried as the
 * access log lists them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/attempt.h"
#include "../../lib/config-t.h"

#include <stdlib.h>

static void check_url(const char *url, const char *server, const char *want)
{
    char *got = sf_attempt_url(url, "http://api", server);
    assert_string_equal(got, want);
    free(got);
}

static void test_server_url_replaces_the_key_base(void **state)
{
    (void)state;
    check_url("http://api/a/b?x=1", "http://10.0.0.5:9000", "http://10.0.0.5:9000/a/b?x=1");
    check_url("http://api/a", "http://10.0.0.5:9000/", "http://10.0.0.5:9000/a");
    check_url("http://api/a", "http://10.0.0.5:9000/v1", "http://10.0.0.5:9000/v1/a");
    check_url("http://api/", "https://h.example", "https://h.example/");
}

static void test_only_what_may_be_resent_is(void **state)
{
    (void)state;
    /* Nothing reached the server: anything may go elsewhere, content included. */
    assert_true(sf_attempt_may_resend("POST", true, false));
    assert_true(sf_attempt_may_resend("PATCH", false, false));
    /* It may have: only idempotent methods without content. */
    assert_true(sf_attempt_may_resend("GET", false, true));
    assert_true(sf_attempt_may_resend("HEAD", false, true));
    assert_true(sf_attempt_may_resend("DELETE", false, true));
    assert_false(sf_attempt_may_resend("POST", false, true));
    assert_false(sf_attempt_may_resend("POST", true, true));
    assert_false(sf_attempt_may_resend("PUT", true, true));  /* its content is not kept */
    assert_false(sf_attempt_may_resend("get", false, true)); /* methods are case-sensitive */
}

static void test_tries_and_names_accumulate(void **state)
{
    (void)state;
    struct sf_pool_def def = {.retries = 1, .nfail_status = 2, .fail_status = {502, 503}};
    struct sf_attempts a = {0};
    assert_true(sf_attempt_retries_left(&a, &def));
    sf_attempt_note(&a, 2, "10.0.0.7:9000");
    assert_true(sf_attempt_retries_left(&a, &def));
    sf_attempt_note(&a, 0, "b");
    assert_false(sf_attempt_retries_left(&a, &def));
    assert_int_equal(a.tries, 2);
    assert_int_equal(a.server, 0);
    assert_true(a.tried == (SF_BALANCE_BIT(0) | SF_BALANCE_BIT(2)));
    assert_string_equal(a.addrs, "10.0.0.7:9000,b");
    assert_true(sf_attempt_fail_status(&def, 503));
    assert_false(sf_attempt_fail_status(&def, 504));
    sf_attempts_clear(&a);
    assert_null(a.addrs);
    assert_int_equal(a.tries, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_url_replaces_the_key_base),
        cmocka_unit_test(test_only_what_may_be_resent_is),
        cmocka_unit_test(test_tries_and_names_accumulate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
