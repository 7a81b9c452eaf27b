/* Unit tests for lib/pinned.c's choice of whom to shed (sf_pinned_choose): nothing under
 * the budget; down to the budget among the idle, most idle first; past twice the budget
 * whatever it takes, in the same order; an object is shed whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/pinned.h"

#define MIB (UINT64_C(1) << 20)
#define IDLE SF_PINNED_IDLE_MIN_MS

/* Whether the candidate the caller numbered id was marked to shed. */
static bool shed_id(const struct sf_pinned_cand *c, size_t n, size_t id)
{
    for (size_t i = 0; i < n; i++)
        if (c[i].id == id)
            return c[i].shed;
    fail_msg("no candidate %zu", id);
    return false;
}

static void test_nothing_is_shed_under_the_budget(void **state)
{
    (void)state;
    struct sf_pinned_cand c[] = {{4 * MIB, 10 * IDLE, 4 * MIB, 0, true},
                                 {4 * MIB, 10 * IDLE, 4 * MIB, 1, true}};
    uint64_t kept;
    assert_int_equal(sf_pinned_choose(c, 2, 8 * MIB, &kept), 8 * MIB);
    assert_int_equal(kept, 8 * MIB);
    assert_false(c[0].shed || c[1].shed);
    assert_int_equal(sf_pinned_choose(NULL, 0, MIB, &kept), 0);
    assert_int_equal(kept, 0);
}

static void test_the_most_idle_go_first_down_to_the_budget(void **state)
{
    (void)state;
    struct sf_pinned_cand c[] = {
        {4 * MIB, 3 * IDLE, 3 * MIB, 0, false}, /* idle a while */
        {4 * MIB, 9 * IDLE, 3 * MIB, 1, false}, /* idle the longest: first to go */
        {4 * MIB, 0, 0, 2, false},              /* reading: kept */
        {4 * MIB, 5 * IDLE, 3 * MIB, 3, false}, /* second */
    };
    uint64_t kept;
    assert_int_equal(sf_pinned_choose(c, 4, 8 * MIB, &kept), 16 * MIB);
    assert_int_equal(kept, 8 * MIB);
    assert_true(shed_id(c, 4, 1) && shed_id(c, 4, 3));
    assert_false(shed_id(c, 4, 0) || shed_id(c, 4, 2));
}

static void test_equally_idle_the_furthest_behind_then_the_largest_go_first(void **state)
{
    (void)state;
    struct sf_pinned_cand c[] = {
        {2 * MIB, IDLE, 1 * MIB, 0, false},
        {2 * MIB, IDLE, 2 * MIB, 1, false}, /* further behind */
        {3 * MIB, IDLE, 1 * MIB, 2, false}, /* as far behind as 0, larger */
    };
    uint64_t kept;
    sf_pinned_choose(c, 3, 4 * MIB, &kept);
    assert_true(shed_id(c, 3, 1) && shed_id(c, 3, 2));
    assert_false(shed_id(c, 3, 0));
    assert_int_equal(kept, 2 * MIB);
}

static void test_new_readers_get_time_until_twice_the_budget(void **state)
{
    (void)state;
    /* None idle long enough to tell: kept up to twice the budget. */
    struct sf_pinned_cand c[] = {
        {4 * MIB, IDLE - 1, 4 * MIB, 0, false},
        {4 * MIB, 0, 0, 1, false},
        {4 * MIB, IDLE / 2, 4 * MIB, 2, false},
    };
    uint64_t kept;
    sf_pinned_choose(c, 3, 4 * MIB, &kept);
    assert_int_equal(kept, 8 * MIB); /* 12 MiB was over twice 4 MiB... */
    assert_true(shed_id(c, 3, 0));   /* ...so the idlest went, and that was enough */
    assert_false(shed_id(c, 3, 1) || shed_id(c, 3, 2));
    /* Under twice the budget: all kept, for now. */
    sf_pinned_choose(c, 3, 6 * MIB, &kept);
    assert_int_equal(kept, 12 * MIB);
    assert_false(shed_id(c, 3, 0) || shed_id(c, 3, 1) || shed_id(c, 3, 2));
}

static void test_one_object_over_the_budget_is_shed_whole(void **state)
{
    (void)state;
    struct sf_pinned_cand c[] = {{16 * MIB, 4 * IDLE, 16 * MIB, 0, false}};
    uint64_t kept;
    assert_int_equal(sf_pinned_choose(c, 1, 8 * MIB, &kept), 16 * MIB);
    assert_true(c[0].shed);
    assert_int_equal(kept, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_is_shed_under_the_budget),
        cmocka_unit_test(test_the_most_idle_go_first_down_to_the_budget),
        cmocka_unit_test(test_equally_idle_the_furthest_behind_then_the_largest_go_first),
        cmocka_unit_test(test_new_readers_get_time_until_twice_the_budget),
        cmocka_unit_test(test_one_object_over_the_budget_is_shed_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
