/* Unit tests for lib/confpos.c: where a dotted key path sits in a config's text, and the
 * "did you mean" hint for an unknown key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/confpos.h"

#include <string.h>

static const char text[] =
    "{\n"
    "  \"listen\": \"127.0.0.1:8080\",\n"
    "  \"cache\": {\"note\": \"a \\\"quoted\\\" }\", \"list\": [1, {\"x\": 2}],\n"
    "    \"max_bytes\":   \"256XB\"\n"
    "  }\n"
    "}\n";

static void at(const char *path, bool want_key, int line, int col)
{
    int l = 0, c = 0;
    sf_confpos_find(text, path, want_key, &l, &c);
    if (l != line || c != col)
        fail_msg("%s%s: expected %d:%d, got %d:%d", path, want_key ? " (key)" : "", line, col, l,
                 c);
}

static void test_find(void **state)
{
    (void)state;
    at("", false, 1, 1);
    at("listen", false, 2, 13);
    at("listen", true, 2, 3);
    at("cache", false, 3, 12);
    at("cache.max_bytes", false, 4, 20); /* past a string with escaped quotes and a list */
    at("cache.max_bytes", true, 4, 5);
    at("cache.list", false, 3, 47);
    at("cache.missing", false, 3, 12); /* not there: the deepest object found */
    at("nothere.max_bytes", false, 1, 1);
    at("listen.deeper", false, 2, 13); /* a value that is no object: where it stands */
    /* Array elements, "[N]" from 0: the list's second element, and a member in it. */
    at("cache.list[0]", false, 3, 48);
    at("cache.list[1]", false, 3, 51);
    at("cache.list[1].x", false, 3, 57);
    at("cache.list[1].x", true, 3, 52);
    at("cache.list[2]", false, 3, 47); /* no such element: the list */
    at("listen[0]", false, 2, 13);     /* not a list: where it stands */
    int l = 0, c = 0;
    sf_confpos_find("  \n\t[1]", "a", false, &l, &c); /* no object: the first value */
    assert_int_equal(l, 2);
    assert_int_equal(c, 2);
}

/* A key with dots in it (a pool named "api.v2"), quoted: one key, not a path. */
static void test_quoted_key(void **state)
{
    (void)state;
    static const char pools[] = "{\"u\": {\"api\": 1,\n"
                                "  \"api.v2\": {\"r\": [7, 8]}}}";
    int l = 0, c = 0;
    sf_confpos_find(pools, "u.'api.v2'.r", false, &l, &c);
    assert_int_equal(l, 2);
    assert_int_equal(c, 19);
    sf_confpos_find(pools, "u.'api.v2'.r[1]", false, &l, &c);
    assert_int_equal(c, 23);
    sf_confpos_find(pools, "u.'api.v2'", true, &l, &c);
    assert_int_equal(l, 2);
    assert_int_equal(c, 3);
    sf_confpos_find(pools, "u.api.v2.r", false, &l, &c); /* unquoted: "api", then no "v2" */
    assert_int_equal(l, 1);
    assert_int_equal(c, 15);
    assert_int_equal(sf_confpos_distance("api", "apx"), 1);
    assert_int_equal(sf_confpos_distance("api.v2", "api"), 3); /* capped */
}

static const char *const paths[] = {
    "listen",       "cache.max_bytes", "cache.max_object_bytes", "cache.slice_bytes",
    "admin.listen", "admin.token"};
#define NPATHS (sizeof paths / sizeof paths[0])

static void test_known_keys(void **state)
{
    (void)state;
    char out[256];
    const char *near = sf_confpos_known_keys(paths, NPATHS, "", "cahce", out, sizeof out);
    assert_string_equal(out, "\"listen\", \"cache\", \"admin\""); /* each object once */
    assert_non_null(near);
    assert_string_equal(near, "cache");
    near = sf_confpos_known_keys(paths, NPATHS, "cache", "max_byte", out, sizeof out);
    assert_string_equal(out, "\"max_bytes\", \"max_object_bytes\", \"slice_bytes\"");
    assert_string_equal(near, "max_bytes");
    /* Three edits away is no typo. */
    assert_null(sf_confpos_known_keys(paths, NPATHS, "admin", "tkx", out, sizeof out));
    assert_string_equal(out, "\"listen\", \"token\"");
    assert_null(sf_confpos_known_keys(paths, NPATHS, "admin", "", out, sizeof out));
    /* A long key is compared as no match, never past the row. */
    char longkey[200];
    memset(longkey, 'a', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_null(sf_confpos_known_keys(paths, NPATHS, "", longkey, out, sizeof out));
    /* A small buffer holds what fits, terminated. */
    char small[8];
    sf_confpos_known_keys(paths, NPATHS, "", "x", small, sizeof small);
    assert_true(strlen(small) < sizeof small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_known_keys),
        cmocka_unit_test(test_quoted_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
