/* Unit tests for lib/disktail.c, on real files in a temporary directory: the saved tail
 * comes back; a later save replaces it; none, or one of another store or log size, reads
 * as 0, a damaged file as UINT64_MAX (it may have named any tail); a file that is there
 * but cannot be read is false with errno; a directory it cannot write is false with the
 * file's name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/disktail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void flip_byte(const char *dir, off_t at)
{
    char name[128];
    snprintf(name, sizeof name, "%s/index.tail", dir);
    int fd = open(name, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void test_round_trip_and_refusals(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf_disktail_XXXXXX", err[256] = "";
    assert_non_null(mkdtemp(dir));
    uint64_t tail = 1;
    assert_true(sf_disktail_load(dir, 7, 1 << 20, &tail));
    assert_int_equal(tail, 0); /* none */
    assert_true(sf_disktail_save(dir, 7, 1 << 20, 123456, err, sizeof err));
    assert_true(sf_disktail_load(dir, 7, 1 << 20, &tail));
    assert_int_equal(tail, 123456);
    assert_true(sf_disktail_save(dir, 7, 1 << 20, 999999999999ull, err, sizeof err));
    assert_true(sf_disktail_load(dir, 7, 1 << 20, &tail));
    assert_int_equal(tail, 999999999999ull);
    assert_true(sf_disktail_load(dir, 8, 1 << 20, &tail));
    assert_int_equal(tail, 0); /* another store */
    assert_true(sf_disktail_load(dir, 7, 2 << 20, &tail));
    assert_int_equal(tail, 0); /* another log size */
    flip_byte(dir, 26);        /* in the tail */
    assert_true(sf_disktail_load(dir, 7, 1 << 20, &tail));
    assert_true(tail == UINT64_MAX); /* damaged: any tail */
    assert_false(sf_disktail_save("/nonexistent/sfproxy", 7, 1 << 20, 1, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/sfproxy/index.tail"));
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A file that is there but cannot be read (here a directory of its name: open succeeds,
 * the read fails even as root) is an error, not a tail: it may pass (EMFILE, EIO), and
 * giving up the cache over it would lose what a later start can still use. */
static void test_unreadable_is_an_error(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf_disktail_XXXXXX", name[128];
    assert_non_null(mkdtemp(dir));
    snprintf(name, sizeof name, "%s/index.tail", dir);
    assert_int_equal(mkdir(name, 0700), 0);
    uint64_t tail = 1;
    errno = 0;
    assert_false(sf_disktail_load(dir, 7, 1 << 20, &tail));
    assert_int_equal(errno, EISDIR);
    assert_int_equal(rmdir(name), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_refusals),
        cmocka_unit_test(test_unreadable_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
