/* Unit tests for lib/interpose.c when dlsym finds nothing (a static build, libmicrohttpd
 * without GnuTLS): every call fails with an error instead of calling NULL, and the checks
 * say why sfproxy cannot run. The module is compiled into this test with dlsym replaced,
 * so this binary's own recv and gnutls_record_recv are those under test (the archive's
 * copy is not linked: every symbol it defines is defined here first). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define dlsym find_nothing
#include "../../lib/interpose.c"
#undef dlsym

#include <string.h>
#include <unistd.h>

void *find_nothing(void *restrict handle, const char *restrict name)
{
    (void)handle;
    (void)name;
    return NULL;
}

static int hooked;

static ssize_t hook_recv(int fd, void *buf, size_t len, int flags)
{
    hooked++;
    return sf_interpose_recv(fd, buf, len, flags);
}

static ssize_t hook_tls_recv(struct gnutls_session_int *session, void *data, size_t size)
{
    hooked++;
    return sf_interpose_tls_recv(session, data, size);
}

static void test_calls_fail_without_the_real_functions(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    assert_int_equal(send(fds[1], "x", 1, 0), 1);
    char buf[8];
    errno = 0;
    assert_int_equal(recv(fds[0], buf, sizeof buf, 0), -1);
    assert_int_equal(errno, ENOSYS);
    assert_int_equal(gnutls_record_recv(NULL, buf, sizeof buf), SF_TLS_E_PULL_ERROR);
    assert_int_equal(sf_interpose_tls_send(NULL, "x", 1), SF_TLS_E_PULL_ERROR);
    assert_int_equal(sf_interpose_tls_fd(NULL), -1);
    /* Through the hooks too: they reach the real functions the same way. */
    static const struct sf_interpose_hooks h = {hook_recv, hook_tls_recv};
    sf_interpose_install(&h);
    errno = 0;
    assert_int_equal(recv(fds[0], buf, sizeof buf, 0), -1);
    assert_int_equal(errno, ENOSYS);
    assert_int_equal(gnutls_record_recv(NULL, buf, sizeof buf), SF_TLS_E_PULL_ERROR);
    assert_int_equal(hooked, 2);
    sf_interpose_install(NULL);
    close(fds[0]);
    close(fds[1]);
}

static void test_the_checks_say_why_nothing_can_be_checked(void **state)
{
    (void)state;
    char err[256];
    assert_false(sf_interpose_recv_ok(err, sizeof err));
    assert_non_null(strstr(err, "recv() is not interposed"));
    assert_false(sf_interpose_tls_ok(err, sizeof err));
    assert_non_null(strstr(err, "remove \"tls.listen\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_fail_without_the_real_functions),
        cmocka_unit_test(test_the_checks_say_why_nothing_can_be_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
