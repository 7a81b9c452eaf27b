/* RFC 9213 targeted cache-control fields read as Structured Field Dictionaries (RFC 8941
 * §3.2, §4.2.2), lib/targeted.c: each row a field value and the Cache-Control list it
 * means, or NULL when the field is to be ignored as a whole (RFC 9213 §2.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/targeted.h"

#include <stdlib.h>
#include <string.h>

/* One row per rule, laid out by hand. */
/* clang-format off */
static const struct {
    const char *rule, *value, *cache_control;
} rows[] = {
    {"an Integer directive",               "max-age=60",                  "max-age=60"},
    {"a Boolean true by its bare key",     "max-age=60, no-store",        "max-age=60, no-store"},
    {"?1 is true",                         "no-store=?1",                 "no-store"},
    {"?0 is false: valid, says nothing",   "no-store=?0",                 ""},
    {"a String qualifies private",         "private=\"Set-Cookie\", max-age=60",
                                           "private=\"Set-Cookie\", max-age=60"},
    {"spaces around commas, and leading",  " max-age=60 ,\tmust-revalidate",
                                           "max-age=60, must-revalidate"},
    {"parameters and extensions ignored",  "max-age=60;a=1, foo=bar, baz", "max-age=60"},
    {"every delta directive",              "s-maxage=10, stale-while-revalidate=30, stale-if-error=5",
                                           "s-maxage=10, stale-while-revalidate=30, stale-if-error=5"},
    {"spaces around = do not parse",       "max-age = 60",                NULL},
    {"a String where an Integer belongs",  "max-age=\"60\"",              NULL},
    {"a Decimal where an Integer belongs", "max-age=60.5",                NULL},
    {"a negative age",                     "max-age=-1",                  NULL},
    {"an Integer where a Boolean belongs", "no-store=1",                  NULL},
    {"an Inner List",                      "max-age=(60)",                NULL},
    {"an empty field",                     "",                            NULL},
    {"keys are lowercase",                 "Max-Age=60",                  NULL},
    {"a trailing comma",                   "max-age=60,",                 NULL},
    {"more than 15 digits",                "max-age=1234567890123456",    NULL},
    {"a key given again: the last counts", "max-age=10, max-age=20",      "max-age=20"},
    {"...also over a wrong type",          "max-age=\"x\", max-age=20",   "max-age=20"},
    {"an unterminated String",             "private=\"Set-Cookie",        NULL},
};
/* clang-format on */

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *got = sf_targeted_cache_control(rows[i].value);
        print_message("%s\n", rows[i].rule);
        if (rows[i].cache_control == NULL)
            assert_null(got);
        else
            assert_string_equal(got != NULL ? got : "(ignored)", rows[i].cache_control);
        free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
