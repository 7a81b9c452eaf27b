/* live: the config in force, pinned per request, replaced whole by a reload. */
#include "../../lib/live.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct sf_config config_with_upstream(const char *url)
{
    struct sf_config cfg;
    sf_config_defaults(&cfg);
    cfg.upstream = sf_xstrdup(url);
    return cfg;
}

/* A request that pinned the config before a reload keeps reading it; the next one reads
 * the new one; the old one lives until its last pin goes. */
static void test_pins_outlive_a_replace(void **state)
{
    (void)state;
    struct sf_config cfg = config_with_upstream("http://a");
    struct sf_live *live = sf_live_new(&cfg);
    assert_null(cfg.upstream); /* taken over */
    struct sf_snap *before = sf_live_pin(live);
    assert_int_equal(before->gen, 1);
    cfg = config_with_upstream("http://b");
    struct sf_snap *next = sf_snap_new(&cfg);
    assert_int_equal(sf_live_replace(live, &next), 2);
    assert_null(next);
    struct sf_snap *after = sf_live_pin(live);
    assert_string_equal(before->cfg.upstream, "http://a");
    assert_string_equal(after->cfg.upstream, "http://b");
    assert_int_equal(atomic_load(&before->_refs), 1); /* only the request's pin is left */
    sf_snap_unref(before);                            /* frees it (ASan checks) */
    sf_live_free(live);
    assert_string_equal(after->cfg.upstream, "http://b"); /* a pin outlives the holder too */
    sf_snap_unref(after);
}

struct churn {
    struct sf_live *live;
    atomic_bool stop;
};

static void *pin_loop(void *arg)
{
    struct churn *c = arg;
    unsigned last = 0;
    while (!atomic_load(&c->stop)) {
        struct sf_snap *s = sf_live_pin(c->live);
        assert_true(s->gen >= last); /* never an older config after a newer one */
        last = s->gen;
        assert_int_equal(strncmp(s->cfg.upstream, "http://", 7), 0);
        sf_snap_unref(s);
    }
    return NULL;
}

/* Pins on two threads while the config is replaced 2000 times: no pin ever sees a freed
 * config (ASan, TSan), and generations only go up. */
static void test_pinning_races_replacing(void **state)
{
    (void)state;
    struct sf_config cfg = config_with_upstream("http://0");
    struct churn c = {sf_live_new(&cfg), false};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, pin_loop, &c), 0);
    for (int i = 1; i <= 2000; i++) {
        char url[32];
        snprintf(url, sizeof url, "http://%d", i);
        cfg = config_with_upstream(url);
        struct sf_snap *next = sf_snap_new(&cfg);
        sf_live_replace(c.live, &next);
    }
    atomic_store(&c.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    struct sf_snap *s = sf_live_pin(c.live);
    assert_int_equal(s->gen, 2001);
    sf_snap_unref(s);
    sf_live_free(c.live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pins_outlive_a_replace),
        cmocka_unit_test(test_pinning_races_replacing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
