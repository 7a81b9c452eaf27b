/* Unit tests for lib/disktail.c, on real files in a temporary directory: the saved tail
 * comes back; a later save replaces it; none, or one of another store or log size, reads
 * as 0, a damaged file as UINT64_MAX (it may have named any tail); a directory it cannot
 * write is false with the file's name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/disktail.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    assert_int_equal(sf_disktail_load(dir, 7, 1 << 20), 0); /* none */
    assert_true(sf_disktail_save(dir, 7, 1 << 20, 123456, err, sizeof err));
    assert_int_equal(sf_disktail_load(dir, 7, 1 << 20), 123456);
    assert_true(sf_disktail_save(dir, 7, 1 << 20, 999999999999ull, err, sizeof err));
    assert_int_equal(sf_disktail_load(dir, 7, 1 << 20), 999999999999ull);
    assert_int_equal(sf_disktail_load(dir, 8, 1 << 20), 0);       /* another store */
    assert_int_equal(sf_disktail_load(dir, 7, 2 << 20), 0);       /* another log size */
    flip_byte(dir, 26);                                           /* in the tail */
    assert_true(sf_disktail_load(dir, 7, 1 << 20) == UINT64_MAX); /* damaged: any tail */
    assert_false(sf_disktail_save("/nonexistent/sfproxy", 7, 1 << 20, 1, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/sfproxy/index.tail"));
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
