/* Unit tests for lib/held.c: what an allocation holds, as glibc's malloc rounds it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/held.h"

#include <malloc.h>
#include <stdlib.h>

static void test_chunk_sizes(void **state)
{
    (void)state;
    assert_int_equal(sf_held_bytes(0), 32);
    assert_int_equal(sf_held_bytes(24), 32); /* 24 + 8 fits the smallest chunk */
    assert_int_equal(sf_held_bytes(25), 48);
    assert_int_equal(sf_held_bytes(38), 48);   /* a 37-character key and its NUL */
    assert_int_equal(sf_held_bytes(744), 752); /* 744 + 8, already a multiple of 16 */
    assert_int_equal(sf_held_bytes(1040), 1056);
    assert_int_equal(sf_held_bytes(4112), 4128);
    assert_int_equal(sf_held_str(NULL), 0);
    assert_int_equal(sf_held_str("0123456789"), 32);
}

/* Against the allocator itself where it is glibc's (ASan's malloc_usable_size gives back
 * the size asked, so there it says nothing). */
static void test_matches_malloc_usable_size(void **state)
{
    (void)state;
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    for (size_t n = 1; n < 5000; n += 7) {
        void *p = malloc(n);
        assert_non_null(p);
        assert_int_equal(sf_held_bytes(n), malloc_usable_size(p) + 8);
        free(p);
    }
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_sizes),
        cmocka_unit_test(test_matches_malloc_usable_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
