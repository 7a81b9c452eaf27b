/* Unit tests for lib/health.c: one server's health machine. The clock is a number, so the
 * fail_timeout edges are checked to the millisecond. Each test would catch a machine that
 * counts non-consecutive results, windows failures wrongly, mixes drain into health, or
 * reports a transition twice or never. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/health.h"

#include <stdio.h>

static const struct sf_health_conf PROBES = {.fall = 3, .rise = 2};
static const struct sf_health_conf PASSIVE = {.max_fails = 3, .fail_timeout_ms = 10000};
static const struct sf_health_conf BOTH = {
    .fall = 3, .rise = 2, .max_fails = 3, .fail_timeout_ms = 10000};

static enum sf_health_why why_at(const struct sf_health *h, uint64_t now)
{
    enum sf_health_why w;
    bool usable = sf_health_usable(h, now, &w, NULL);
    assert_int_equal(usable, w == SF_HEALTH_UP);
    return w;
}

static void fall_at_third_consecutive_failure(void **state)
{
    (void)state;
    struct sf_health *h = sf_health_new(&PROBES);
    assert_int_equal(why_at(h, 0), SF_HEALTH_UP); /* starts up: HAProxy's default */
    assert_int_equal(sf_health_probe(h, false, 1), 0);
    assert_int_equal(sf_health_probe(h, false, 2), 0);
    assert_int_equal(sf_health_probe(h, true, 3), 0); /* restarts the count */
    assert_int_equal(sf_health_probe(h, false, 4), 0);
    assert_int_equal(sf_health_probe(h, false, 5), 0);
    assert_int_equal(why_at(h, 5), SF_HEALTH_UP);
    assert_int_equal(sf_health_probe(h, false, 6), SF_HEALTH_EV_PROBES_DOWN);
    assert_int_equal(why_at(h, 6), SF_HEALTH_DOWN_PROBES);
    /* Further failures change nothing and report nothing. */
    assert_int_equal(sf_health_probe(h, false, 7), 0);
    assert_int_equal(sf_health_probe(h, false, 8), 0);
    assert_int_equal(sf_health_probe(h, false, 9), 0);
    assert_int_equal(sf_health_counters(h).transitions, 1);
    sf_health_free(h);
}

static void rise_at_second_consecutive_success(void **state)
{
    (void)state;
    struct sf_health_conf c = PROBES;
    c.start_down = true;
    struct sf_health *h = sf_health_new(&c);
    assert_int_equal(why_at(h, 0), SF_HEALTH_DOWN_PROBES);
    assert_int_equal(sf_health_probe(h, true, 1), 0);
    assert_int_equal(sf_health_probe(h, false, 2), 0); /* restarts the count */
    assert_int_equal(sf_health_probe(h, true, 3), 0);
    assert_int_equal(why_at(h, 3), SF_HEALTH_DOWN_PROBES);
    assert_int_equal(sf_health_probe(h, true, 4), SF_HEALTH_EV_PROBES_UP);
    assert_int_equal(why_at(h, 4), SF_HEALTH_UP);
    assert_int_equal(sf_health_probe(h, true, 5), 0);
    /* Going down again needs fall fresh failures: the rise run left nothing behind. */
    assert_int_equal(sf_health_probe(h, false, 6), 0);
    assert_int_equal(sf_health_probe(h, false, 7), 0);
    assert_int_equal(sf_health_probe(h, false, 8), SF_HEALTH_EV_PROBES_DOWN);
    struct sf_health_counters n = sf_health_counters(h);
    assert_int_equal(n.probes_ok, 4);
    assert_int_equal(n.probes_failed, 4);
    assert_int_equal(n.transitions, 2);
    sf_health_free(h);
}

static void passive_failures_spread_over_11s_do_not_mark(void **state)
{
    (void)state;
    struct sf_health *h = sf_health_new(&PASSIVE);
    assert_int_equal(sf_health_passive(h, true, 0), 0);
    assert_int_equal(sf_health_passive(h, true, 5500), 0);
    assert_int_equal(sf_health_passive(h, true, 11000), 0);
    assert_int_equal(why_at(h, 11000), SF_HEALTH_UP);
    /* Exactly fail_timeout between the first and the third: outside the window. */
    struct sf_health *e = sf_health_new(&PASSIVE);
    assert_int_equal(sf_health_passive(e, true, 100000), 0);
    assert_int_equal(sf_health_passive(e, true, 105000), 0);
    assert_int_equal(sf_health_passive(e, true, 110000), 0);
    assert_int_equal(why_at(e, 110000), SF_HEALTH_UP);
    /* The window slides: 5500, 11000 and 15499 are within 10 s. */
    assert_int_equal(sf_health_passive(h, true, 15499), SF_HEALTH_EV_PASSIVE_DOWN);
    assert_int_equal(sf_health_counters(h).passive_failures, 4);
    sf_health_free(h);
    sf_health_free(e);
}

static void passive_three_within_10s_down_for_10s(void **state)
{
    (void)state;
    struct sf_health *h = sf_health_new(&PASSIVE);
    assert_int_equal(sf_health_passive(h, true, 20000), 0);
    assert_int_equal(sf_health_passive(h, true, 25000), 0);
    assert_int_equal(sf_health_passive(h, true, 29999), SF_HEALTH_EV_PASSIVE_DOWN);
    enum sf_health_why w;
    uint64_t until = 0;
    assert_false(sf_health_usable(h, 39998, &w, &until));
    assert_int_equal(w, SF_HEALTH_DOWN_PASSIVE);
    assert_int_equal(until, 39999);
    /* A failure while down (the all-down fallback) does not push the end back. */
    assert_int_equal(sf_health_passive(h, true, 35000), 0);
    assert_int_equal(sf_health_passive(h, true, 35001), 0);
    assert_int_equal(sf_health_passive(h, true, 35002), 0);
    sf_health_usable(h, 35002, &w, &until);
    assert_int_equal(until, 39999);
    assert_int_equal(sf_health_tick(h, 39998), 0);
    assert_true(sf_health_usable(h, 39999, &w, NULL)); /* usable before it is reported */
    assert_int_equal(sf_health_tick(h, 39999), SF_HEALTH_EV_PASSIVE_UP);
    assert_int_equal(sf_health_tick(h, 40000), 0); /* once */
    /* On probation (nginx): the first failure marks it down again at once. */
    assert_int_equal(sf_health_passive(h, true, 41000), SF_HEALTH_EV_PASSIVE_DOWN);
    sf_health_usable(h, 41000, &w, &until);
    assert_int_equal(w, SF_HEALTH_DOWN_PASSIVE);
    assert_int_equal(until, 51000);
    /* Expiry and a new failure in one call: both, in the order they happened. */
    assert_int_equal(sf_health_passive(h, true, 51000),
                     SF_HEALTH_EV_PASSIVE_UP | SF_HEALTH_EV_PASSIVE_DOWN);
    /* A success on probation clears it: one failure no longer marks. */
    assert_int_equal(sf_health_passive(h, false, 61000), SF_HEALTH_EV_PASSIVE_UP);
    assert_int_equal(sf_health_passive(h, true, 61001), 0);
    assert_int_equal(sf_health_passive(h, true, 61002), 0);
    assert_int_equal(why_at(h, 61002), SF_HEALTH_UP);
    assert_int_equal(sf_health_counters(h).transitions, 6);
    sf_health_free(h);
}

static void passive_success_resets_count(void **state)
{
    (void)state;
    struct sf_health *h = sf_health_new(&PASSIVE);
    assert_int_equal(sf_health_passive(h, true, 0), 0);
    assert_int_equal(sf_health_passive(h, true, 1), 0);
    assert_int_equal(sf_health_passive(h, false, 2), 0);
    assert_int_equal(sf_health_passive(h, true, 3), 0);
    assert_int_equal(sf_health_passive(h, true, 4), 0);
    assert_int_equal(why_at(h, 4), SF_HEALTH_UP);
    assert_int_equal(sf_health_passive(h, true, 5), SF_HEALTH_EV_PASSIVE_DOWN);
    /* A success while down (tried anyway) ends it: the server just answered. */
    assert_int_equal(sf_health_passive(h, false, 6), SF_HEALTH_EV_PASSIVE_UP);
    assert_int_equal(why_at(h, 6), SF_HEALTH_UP);
    sf_health_free(h);
}

static void passive_off_with_max_fails_0(void **state)
{
    (void)state;
    struct sf_health_conf c = {.max_fails = 0};
    struct sf_health *h = sf_health_new(&c);
    for (uint64_t t = 0; t < 100; t++)
        assert_int_equal(sf_health_passive(h, true, t), 0);
    assert_int_equal(why_at(h, 100), SF_HEALTH_UP);
    assert_int_equal(sf_health_counters(h).passive_failures, 100);
    sf_health_free(h);
}

static void drain_apart_from_health(void **state)
{
    (void)state;
    struct sf_health *h = sf_health_new(&BOTH);
    assert_int_equal(sf_health_set_drain(h, true, 0), SF_HEALTH_EV_DRAIN);
    assert_int_equal(sf_health_set_drain(h, true, 1), 0);
    assert_int_equal(why_at(h, 1), SF_HEALTH_DRAINED);
    /* A drained server still goes down by its probes, and says so once. */
    assert_int_equal(sf_health_probe(h, false, 2), 0);
    assert_int_equal(sf_health_probe(h, false, 3), 0);
    assert_int_equal(sf_health_probe(h, false, 4), SF_HEALTH_EV_PROBES_DOWN);
    assert_int_equal(why_at(h, 4), SF_HEALTH_DRAINED);
    /* "up" is back to health: still down by probes, not forced up. */
    assert_int_equal(sf_health_set_drain(h, false, 5), SF_HEALTH_EV_UNDRAIN);
    assert_int_equal(why_at(h, 5), SF_HEALTH_DOWN_PROBES);
    assert_int_equal(sf_health_set_drain(h, false, 6), 0);
    assert_int_equal(sf_health_probe(h, true, 7), 0);
    assert_int_equal(sf_health_probe(h, true, 8), SF_HEALTH_EV_PROBES_UP);
    assert_int_equal(why_at(h, 8), SF_HEALTH_UP);
    /* Drain and undrain of a healthy server, passive failures in between. */
    assert_int_equal(sf_health_set_drain(h, true, 9), SF_HEALTH_EV_DRAIN);
    assert_int_equal(sf_health_passive(h, true, 10), 0);
    assert_int_equal(sf_health_passive(h, true, 11), 0);
    assert_int_equal(sf_health_passive(h, true, 12), SF_HEALTH_EV_PASSIVE_DOWN);
    assert_int_equal(why_at(h, 12), SF_HEALTH_DRAINED);
    assert_int_equal(sf_health_set_drain(h, false, 13), SF_HEALTH_EV_UNDRAIN);
    assert_int_equal(why_at(h, 13), SF_HEALTH_DOWN_PASSIVE);
    assert_int_equal(sf_health_counters(h).transitions, 7);
    sf_health_free(h);
}

/* Mixed active and passive sequences: each step at an absolute time, with the events it
 * must return and the state after it. */
enum op { PROBE_OK, PROBE_FAIL, XFER_OK, XFER_FAIL, DRAIN, UNDRAIN, TICK };
struct step {
    uint64_t t;
    enum op op;
    unsigned ev;
    enum sf_health_why why;
};
struct seq {
    const char *name;
    struct sf_health_conf conf;
    struct step steps[16];
    unsigned nsteps;
};

#define UP SF_HEALTH_UP
#define DRN SF_HEALTH_DRAINED
#define PRB SF_HEALTH_DOWN_PROBES
#define PAS SF_HEALTH_DOWN_PASSIVE
#define E_PU SF_HEALTH_EV_PASSIVE_UP
#define E_PD SF_HEALTH_EV_PASSIVE_DOWN
#define E_BD SF_HEALTH_EV_PROBES_DOWN
#define E_BU SF_HEALTH_EV_PROBES_UP

static const struct seq seqs[] = {
    {"passive-down ended early by rise good probes",
     {.fall = 3, .rise = 2, .max_fails = 3, .fail_timeout_ms = 10000},
     {{0, XFER_FAIL, 0, UP},
      {1, XFER_FAIL, 0, UP},
      {2, XFER_FAIL, E_PD, PAS},
      {1000, PROBE_OK, 0, PAS},
      {2000, PROBE_FAIL, 0, PAS}, /* restarts the run */
      {3000, PROBE_OK, 0, PAS},
      {4000, PROBE_OK, E_PU, UP},
      {4001, TICK, 0, UP}},
     8},
    {"good probes from before the mark do not count toward ending it",
     {.fall = 3, .rise = 2, .max_fails = 2, .fail_timeout_ms = 10000},
     {{0, PROBE_OK, 0, UP},
      {1, XFER_FAIL, 0, UP},
      {2, XFER_FAIL, E_PD, PAS},
      {3, PROBE_OK, 0, PAS},
      {4, PROBE_OK, E_PU, UP}},
     5},
    {"good probes of an earlier passive-down do not count toward ending the next",
     {.fall = 3, .rise = 2, .max_fails = 2, .fail_timeout_ms = 10000},
     {{0, XFER_FAIL, 0, UP},
      {1, XFER_FAIL, E_PD, PAS},
      {2, PROBE_OK, 0, PAS},
      {3, XFER_OK, E_PU, UP},
      {4, XFER_FAIL, 0, UP},
      {5, XFER_FAIL, E_PD, PAS},
      {6, PROBE_OK, 0, PAS},
      {7, PROBE_OK, E_PU, UP}},
     8},
    {"probes down and passive down; the probes' rise clears both",
     {.fall = 2, .rise = 2, .max_fails = 2, .fail_timeout_ms = 60000},
     {{0, XFER_FAIL, 0, UP},
      {1, XFER_FAIL, E_PD, PAS},
      {2, PROBE_FAIL, 0, PAS},
      {3, PROBE_FAIL, E_BD, PRB}, /* probes are the more binding reason */
      {4, PROBE_OK, 0, PRB},
      {5, PROBE_OK, E_PU | E_BU, UP}},
     6},
    {"passive-down expires while the probes keep it down",
     {.fall = 1, .rise = 3, .max_fails = 2, .fail_timeout_ms = 100},
     {{0, XFER_FAIL, 0, UP},
      {0, XFER_FAIL, E_PD, PAS},
      {10, PROBE_FAIL, E_BD, PRB},
      {100, PROBE_FAIL, E_PU, PRB}, /* expiry reported by the next call */
      {200, PROBE_OK, 0, PRB},
      {300, PROBE_OK, 0, PRB},
      {400, PROBE_OK, E_BU, UP},
      /* The probes' rise started passive counting afresh: no probation. */
      {401, XFER_FAIL, 0, UP}},
     8},
    {"drained through it all, every transition still once",
     {.fall = 2, .rise = 1, .max_fails = 2, .fail_timeout_ms = 1000},
     {{0, DRAIN, SF_HEALTH_EV_DRAIN, DRN},
      {1, XFER_FAIL, 0, DRN},
      {2, XFER_FAIL, E_PD, DRN},
      {3, PROBE_FAIL, 0, DRN},
      {4, PROBE_FAIL, E_BD, DRN},
      {5, PROBE_OK, E_PU | E_BU, DRN},
      {6, UNDRAIN, SF_HEALTH_EV_UNDRAIN, UP}},
     7},
    {"success between passive failures, then a transfer success on probation",
     {.fall = 3, .rise = 2, .max_fails = 2, .fail_timeout_ms = 500},
     {{0, XFER_FAIL, 0, UP},
      {10, XFER_OK, 0, UP},
      {20, XFER_FAIL, 0, UP},
      {30, XFER_FAIL, E_PD, PAS},
      {529, TICK, 0, PAS},
      {530, XFER_OK, E_PU, UP},
      {531, XFER_FAIL, 0, UP},
      {532, PROBE_FAIL, 0, UP},
      {533, XFER_FAIL, E_PD, PAS}},
     9},
};

static unsigned apply(struct sf_health *h, const struct step *s)
{
    switch (s->op) {
    case PROBE_OK: return sf_health_probe(h, true, s->t);
    case PROBE_FAIL: return sf_health_probe(h, false, s->t);
    case XFER_OK: return sf_health_passive(h, false, s->t);
    case XFER_FAIL: return sf_health_passive(h, true, s->t);
    case DRAIN: return sf_health_set_drain(h, true, s->t);
    case UNDRAIN: return sf_health_set_drain(h, false, s->t);
    case TICK: return sf_health_tick(h, s->t);
    }
    return ~0u;
}

static void mixed_sequences(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        const struct seq *q = &seqs[i];
        struct sf_health *h = sf_health_new(&q->conf);
        uint64_t events = 0;
        for (unsigned j = 0; j < q->nsteps; j++) {
            const struct step *s = &q->steps[j];
            unsigned ev = apply(h, s);
            enum sf_health_why w = why_at(h, s->t);
            if (ev != s->ev || w != s->why)
                fail_msg("%s, step %u (t=%llu): expected events %#x and %s, got %#x and %s",
                         q->name, j, (unsigned long long)s->t, s->ev, sf_health_why_name(s->why),
                         ev, sf_health_why_name(w));
            events += (uint64_t)__builtin_popcount(ev);
        }
        assert_int_equal(sf_health_counters(h).transitions, events);
        sf_health_free(h);
    }
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(sf_health_why_name(SF_HEALTH_DOWN_PASSIVE), "down (passive)");
    assert_string_equal(sf_health_event_name(SF_HEALTH_EV_PROBES_UP), "probes up");
    assert_string_equal(sf_health_event_name(3), "?"); /* one bit at a time */
}

/* A reload that keeps a server keeps its drain, its probe verdict and its passive-down,
 * and obeys the new numbers from then on. */
static void reconf_keeps_state(void **state)
{
    (void)state;
    struct sf_health *h = sf_health_new(&BOTH);
    sf_health_set_drain(h, true, 0);
    for (int i = 1; i <= 3; i++)
        sf_health_probe(h, false, (uint64_t)i);
    struct sf_health_conf c = BOTH;
    c.rise = 1; /* one good probe now brings it up */
    assert_int_equal(sf_health_reconf(&h, &c), 0);
    assert_int_equal(why_at(h, 4), SF_HEALTH_DRAINED);
    sf_health_set_drain(h, false, 4);
    assert_int_equal(why_at(h, 4), SF_HEALTH_DOWN_PROBES); /* the verdict stayed */
    assert_int_equal(sf_health_probe(h, true, 5), SF_HEALTH_EV_PROBES_UP);
    /* Passive: a larger max_fails (the ring grows) forgets what was counted, then counts. */
    sf_health_passive(h, true, 10);
    sf_health_passive(h, true, 11);
    c.max_fails = 5;
    assert_int_equal(sf_health_reconf(&h, &c), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sf_health_passive(h, true, 20 + (uint64_t)i), 0);
    assert_int_equal(sf_health_passive(h, true, 30), SF_HEALTH_EV_PASSIVE_DOWN);
    assert_int_equal(why_at(h, 31), SF_HEALTH_DOWN_PASSIVE);
    /* A smaller one keeps the passive-down in force; max_fails 0 ends it, reported. */
    c.max_fails = 2;
    assert_int_equal(sf_health_reconf(&h, &c), 0);
    assert_int_equal(why_at(h, 32), SF_HEALTH_DOWN_PASSIVE);
    c.max_fails = 0;
    assert_int_equal(sf_health_reconf(&h, &c), SF_HEALTH_EV_PASSIVE_UP);
    assert_int_equal(why_at(h, 33), SF_HEALTH_UP);
    /* Probes off: a server they had taken down is up, as nothing could bring it back. */
    for (int i = 0; i < 3; i++)
        sf_health_probe(h, false, 40 + (uint64_t)i);
    assert_int_equal(why_at(h, 43), SF_HEALTH_DOWN_PROBES);
    struct sf_health_conf none = {0};
    assert_int_equal(sf_health_reconf(&h, &none), SF_HEALTH_EV_PROBES_UP);
    assert_int_equal(why_at(h, 44), SF_HEALTH_UP);
    sf_health_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fall_at_third_consecutive_failure),
        cmocka_unit_test(rise_at_second_consecutive_success),
        cmocka_unit_test(passive_failures_spread_over_11s_do_not_mark),
        cmocka_unit_test(passive_three_within_10s_down_for_10s),
        cmocka_unit_test(passive_success_resets_count),
        cmocka_unit_test(passive_off_with_max_fails_0),
        cmocka_unit_test(drain_apart_from_health),
        cmocka_unit_test(mixed_sequences),
        cmocka_unit_test(names),
        cmocka_unit_test(reconf_keeps_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
