/* Unit tests for lib/pool.c: the registry of upstream pools. Configs are built by hand
 * (struct sf_config with only "upstreams"), and every clock is a number, so passive marks
 * and probe schedules are checked to the millisecond. Each test would catch a registry
 * that forgets a server's drain or health on a reload (or keeps a removed one's), hands
 * out a version whose def is not the config's, sends a fetch to a drained or down server,
 * probes a server twice at once, or logs a change other than as its one line. A
 * multi-threaded case gives ThreadSanitizer choices, probes, drains, reloads and scrapes
 * at once. `test_pool --bench` prints only the cost of a choice (scripts/bench,
 * BENCH_ONLY=pools). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/log.h"
#include "../../lib/metrics.h"
#include "../../lib/pool.h"
#include "../../lib/pooldef.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- configs by hand ---- */

struct srv {
    const char *url, *name; /* name NULL: the URL's host:port */
    unsigned weight;        /* 0: 1 */
    bool backup;
};

/* A pool def over servers (ended by a NULL url), with the config's defaults. */
static void def_init(struct sf_pool_def *d, const char *name, int balance, const struct srv *s)
{
    memset(d, 0, sizeof *d);
    d->name = sf_xstrdup(name);
    char kb[96];
    snprintf(kb, sizeof kb, "http://%s", name);
    d->key_base = sf_xstrdup(kb);
    while (s[d->nservers].url != NULL)
        d->nservers++;
    d->servers = sf_xcalloc(d->nservers, sizeof *d->servers);
    for (size_t i = 0; i < d->nservers; i++) {
        d->servers[i].url = sf_xstrdup(s[i].url);
        d->servers[i].name = sf_xstrdup(s[i].name ? s[i].name : s[i].url + strlen("http://"));
        d->servers[i].weight = s[i].weight ? s[i].weight : 1;
        d->servers[i].backup = s[i].backup;
    }
    d->balance = balance;
    d->max_fails = 1;
    d->fail_timeout_ms = 10000;
    d->retries = 1;
    d->tls_verify = true;
}

static void def_probes(struct sf_pool_def *d, uint64_t interval_ms, unsigned fall, unsigned rise)
{
    free(d->health_path);
    d->health_path = sf_xstrdup("/healthz");
    d->health_interval_ms = interval_ms;
    d->health_timeout_ms = interval_ms / 2;
    d->health_fall = fall;
    d->health_rise = rise;
}

/* A config of one pool. */
struct one {
    struct sf_config cfg;
    struct sf_pool_def def;
};

static void one_init(struct one *o, const char *name, int balance, const struct srv *s)
{
    memset(o, 0, sizeof *o);
    def_init(&o->def, name, balance, s);
    o->cfg.upstreams.v = &o->def;
    o->cfg.upstreams.n = 1;
}

static void one_clear(struct one *o)
{
    sf_pooldef_clear(&o->def);
}

static const struct srv THREE[] = {{"http://10.0.0.5:9000", NULL, 2, false},
                                   {"http://10.0.0.6:9000", NULL, 1, false},
                                   {"http://10.0.0.7:9000", NULL, 1, true},
                                   {NULL, NULL, 0, false}};

/* The state the stats show for a server, or "absent". */
static const char *state_of(struct sf_pools *ps, const char *pool, const char *server)
{
    static char out[64];
    json_t *j = sf_pools_server_json(ps, pool, server);
    snprintf(out, sizeof out, "%s", j ? json_string_value(json_object_get(j, "state")) : "absent");
    json_decref(j);
    return out;
}

static json_int_t number_of(struct sf_pools *ps, const char *pool, const char *server,
                            const char *field)
{
    json_t *j = sf_pools_server_json(ps, pool, server);
    assert_non_null(j);
    json_int_t v = json_integer_value(json_object_get(j, field));
    json_decref(j);
    return v;
}

/* Choose, then done with outcome: the server chosen. */
static int attempt(struct sf_pool *p, sf_balance_set tried, const char *key,
                   enum sf_pool_outcome outcome, uint64_t now)
{
    int i = sf_pool_choose(p, tried, key, now);
    if (i >= 0)
        sf_pool_done(p, i, outcome, 1000, now);
    return i;
}

/* ---- stderr captured, for the log lines ---- */

static int saved_stderr = -1;
static char capture_path[64];

static void capture_start(void)
{
    snprintf(capture_path, sizeof capture_path, "/tmp/test_pool_log.XXXXXX");
    int fd = mkstemp(capture_path);
    assert_true(fd >= 0);
    saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

/* What was logged since capture_start. Caller frees. */
static char *capture_end(void)
{
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *f = fopen(capture_path, "r");
    assert_non_null(f);
    char *buf = sf_xcalloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    unlink(capture_path);
    return buf;
}

static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---- the tests ---- */

/* A reload that keeps a server's URL keeps its drain and health; one that removes it
 * forgets it (once no version holds it), so it comes back up and undrained. */
static void apply_keeps_and_forgets(void **state)
{
    (void)state;
    uint64_t t = sf_now_ms();
    struct sf_pools *ps = sf_pools_new();
    struct one a;
    one_init(&a, "api", SF_BALANCE_ROUND_ROBIN, THREE);
    sf_pools_apply(ps, &a.cfg);
    assert_int_equal(sf_pools_set_drain(ps, "api", "10.0.0.6:9000", true), 0);
    /* 10.0.0.7 (the backup, chosen while .5 is drained too) marked down by one failure
     * (max_fails 1). */
    struct sf_pool *p = sf_pools_bind(ps, &a.cfg, 0);
    assert_int_equal(sf_pools_set_drain(ps, "api", "10.0.0.5:9000", true), 0);
    assert_int_equal(attempt(p, 0, NULL, SF_POOL_FAILED, t), 2);
    assert_int_equal(sf_pools_set_drain(ps, "api", "10.0.0.5:9000", false), 0);
    sf_pool_unref(p);
    assert_string_equal(state_of(ps, "api", "10.0.0.6:9000"), "drained");
    assert_string_equal(state_of(ps, "api", "10.0.0.7:9000"), "down (passive)");

    /* Reload: .5 goes, .8 comes, the others stay (and a setting changes). */
    static const struct srv B[] = {{"http://10.0.0.6:9000", NULL, 1, false},
                                   {"http://10.0.0.7:9000", NULL, 1, true},
                                   {"http://10.0.0.8:9000", NULL, 1, false},
                                   {NULL, NULL, 0, false}};
    struct one b;
    one_init(&b, "api", SF_BALANCE_ROUND_ROBIN, B);
    b.def.retries = 2;
    sf_pools_apply(ps, &b.cfg);
    assert_string_equal(state_of(ps, "api", "10.0.0.5:9000"), "absent");
    assert_string_equal(state_of(ps, "api", "10.0.0.6:9000"), "drained");
    assert_string_equal(state_of(ps, "api", "10.0.0.7:9000"), "down (passive)");
    assert_string_equal(state_of(ps, "api", "10.0.0.8:9000"), "up");
    assert_int_equal(number_of(ps, "api", "10.0.0.7:9000", "failures"), 1);

    /* .6 leaves, then returns: forgotten in between, so up and undrained. */
    sf_pools_apply(ps, &a.cfg);
    assert_string_equal(state_of(ps, "api", "10.0.0.8:9000"), "absent");
    struct one c;
    static const struct srv C[] = {{"http://10.0.0.5:9000", NULL, 1, false},
                                   {NULL, NULL, 0, false}};
    one_init(&c, "api", SF_BALANCE_ROUND_ROBIN, C);
    sf_pools_apply(ps, &c.cfg);
    sf_pools_apply(ps, &a.cfg);
    assert_string_equal(state_of(ps, "api", "10.0.0.6:9000"), "up");
    assert_int_equal(number_of(ps, "api", "10.0.0.7:9000", "failures"), 0);

    /* Forgotten at the reload that removes it, even while a version a running fetch holds
     * (the fetcher always holds its newest config's) still lists it: a server added back
     * is a new one, whoever held the old. The fetch's outcome still lands on the old. */
    p = sf_pools_bind(ps, &a.cfg, 0);
    assert_int_equal(sf_pools_set_drain(ps, "api", "10.0.0.6:9000", true), 0);
    int held = sf_pool_choose(p, 0, NULL, 1000);
    sf_pools_apply(ps, &c.cfg); /* .6 leaves the current pools, p still lists it */
    sf_pools_apply(ps, &a.cfg); /* and comes back: new, so undrained */
    assert_string_equal(state_of(ps, "api", "10.0.0.6:9000"), "up");
    sf_pool_done(p, held, SF_POOL_FAILED, -1, 1000);
    sf_pool_unref(p);

    struct sf_config none = {0};
    sf_pools_apply(ps, &none);
    json_t *j = sf_pools_json(ps);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    sf_pools_free(ps);
    one_clear(&a);
    one_clear(&b);
    one_clear(&c);
}

/* bind: the current version for a config equal to the one applied, a new one (sharing
 * the servers' state) otherwise, each with its own def. */
static void bind_versions(void **state)
{
    (void)state;
    struct sf_pools *ps = sf_pools_new();
    struct one a, a2, w;
    one_init(&a, "api", SF_BALANCE_ROUND_ROBIN, THREE);
    one_init(&a2, "api", SF_BALANCE_ROUND_ROBIN, THREE);
    one_init(&w, "api", SF_BALANCE_ROUND_ROBIN, THREE);
    w.def.servers[1].weight = 5;
    sf_pools_apply(ps, &a.cfg);
    struct sf_pool *p1 = sf_pools_bind(ps, &a.cfg, 0);
    struct sf_pool *p2 = sf_pools_bind(ps, &a2.cfg, 0); /* equal, not the same memory */
    struct sf_pool *p3 = sf_pools_bind(ps, &w.cfg, 0);
    assert_ptr_equal(p1, p2);
    assert_ptr_not_equal(p1, p3);
    assert_int_equal(sf_pool_def(p3)->servers[1].weight, 5);
    assert_int_equal(sf_pool_def(p1)->servers[1].weight, 1);
    assert_ptr_not_equal(sf_pool_def(p1), &a.def); /* its own copy */
    /* Any other setting makes another version too: a fetch reads retries from it. */
    a2.def.retries = 3;
    struct sf_pool *p4 = sf_pools_bind(ps, &a2.cfg, 0);
    assert_ptr_not_equal(p4, p1);
    assert_int_equal(sf_pool_def(p4)->retries, 3);
    /* The state is shared: a drain through the current pool binds p3's choices too. */
    assert_int_equal(sf_pools_set_drain(ps, "api", "10.0.0.5:9000", true), 0);
    for (int k = 0; k < 10; k++)
        assert_int_equal(attempt(p3, 0, NULL, SF_POOL_OK, 1), 1);
    assert_int_equal(number_of(ps, "api", "10.0.0.6:9000", "requests"), 10);
    /* The config applied next makes p3's def the current one: bind returns it then? No:
     * apply makes its own version, and bind of that config returns the current one. */
    sf_pools_apply(ps, &w.cfg);
    struct sf_pool *p5 = sf_pools_bind(ps, &w.cfg, 0);
    struct sf_pool *p6 = sf_pools_bind(ps, &w.cfg, 0);
    assert_ptr_equal(p5, p6);
    assert_string_equal(state_of(ps, "api", "10.0.0.5:9000"), "drained");
    sf_pool_unref(p1);
    sf_pool_unref(p2);
    sf_pool_unref(p3);
    sf_pool_unref(p4);
    sf_pool_unref(p5);
    sf_pool_unref(p6);
    sf_pool_unref(NULL);
    sf_pools_free(ps);
    one_clear(&a);
    one_clear(&a2);
    one_clear(&w);
}

/* Drained and down servers get nothing; backups only when no primary is usable; when
 * nothing is usable the primaries are tried anyway; tried servers are not tried again. */
static void choose_respects_health(void **state)
{
    (void)state;
    struct sf_pools *ps = sf_pools_new();
    struct one a;
    one_init(&a, "api", SF_BALANCE_ROUND_ROBIN, THREE);
    sf_pools_apply(ps, &a.cfg);
    struct sf_pool *p = sf_pools_bind(ps, &a.cfg, 0);
    uint64_t t = 1000;
    int seen[3] = {0};
    for (int k = 0; k < 30; k++)
        seen[attempt(p, 0, NULL, SF_POOL_OK, t)]++;
    assert_int_equal(seen[0], 20); /* weights 2:1, the backup never */
    assert_int_equal(seen[1], 10);
    assert_int_equal(seen[2], 0);
    assert_int_equal(sf_pools_set_drain(ps, "api", "10.0.0.5:9000", true), 0);
    for (int k = 0; k < 10; k++)
        assert_int_equal(attempt(p, 0, NULL, SF_POOL_OK, t), 1);
    /* .6 fails once (max_fails 1): down; only the backup is left. */
    assert_int_equal(attempt(p, 0, NULL, SF_POOL_FAILED, t), 1);
    for (int k = 0; k < 10; k++)
        assert_int_equal(attempt(p, 0, NULL, SF_POOL_OK, t), 2);
    /* The backup drained too: nothing usable, so the primaries are tried anyway. */
    assert_int_equal(sf_pools_set_drain(ps, "api", "10.0.0.7:9000", true), 0);
    int i = sf_pool_choose(p, 0, NULL, t);
    assert_true(i == 0 || i == 1);
    int j = sf_pool_choose(p, SF_BALANCE_BIT(i), NULL, t);
    assert_int_equal(j, 1 - i);
    assert_int_equal(sf_pool_choose(p, SF_BALANCE_BIT(0) | SF_BALANCE_BIT(1), NULL, t), -1);
    sf_pool_done(p, i, SF_POOL_CANCELLED, 0, t);
    sf_pool_done(p, j, SF_POOL_CANCELLED, 0, t);
    /* Usable servers all tried: none left (a known-down one is no retry worth making). */
    assert_int_equal(sf_pools_set_drain(ps, "api", "10.0.0.5:9000", false), 0);
    assert_int_equal(sf_pool_choose(p, SF_BALANCE_BIT(0), NULL, t), -1);
    /* .6's passive-down ends fail_timeout after its failure. */
    assert_int_equal(attempt(p, SF_BALANCE_BIT(0), NULL, SF_POOL_OK, t + 9999), -1);
    assert_int_equal(attempt(p, SF_BALANCE_BIT(0), NULL, SF_POOL_OK, t + 10000), 1);
    assert_int_equal(number_of(ps, "api", "10.0.0.5:9000", "active"), 0);
    sf_pool_unref(p);
    sf_pools_free(ps);
    one_clear(&a);
}

/* max_fails failures within fail_timeout mark a server down, logged as one line; a
 * cancelled attempt counts as neither; the running count follows choose and done. */
static void passive_marking(void **state)
{
    (void)state;
    struct sf_pools *ps = sf_pools_new();
    struct one a;
    one_init(&a, "api", SF_BALANCE_LEAST_CONN, THREE);
    a.def.max_fails = 3;
    sf_pools_apply(ps, &a.cfg);
    struct sf_pool *p = sf_pools_bind(ps, &a.cfg, 0);
    uint64_t t = 5000;
    capture_start();
    for (int k = 0; k < 2; k++) {
        assert_int_equal(sf_pool_choose(p, SF_BALANCE_BIT(0), NULL, t), 1);
        sf_pool_done(p, 1, SF_POOL_FAILED, 0, t + (uint64_t)k);
    }
    sf_pool_done(p, sf_pool_choose(p, SF_BALANCE_BIT(0), NULL, t), SF_POOL_CANCELLED, 0, t);
    int i = sf_pool_choose(p, SF_BALANCE_BIT(0), NULL, t + 5);
    assert_int_equal(i, 1);
    sf_pool_done(p, i, SF_POOL_FAILED, 0, t + 5);
    char *log = capture_end();
    assert_int_equal(count_of(log, "upstream api: server 10.0.0.6:9000 down (passive: 3 failures "
                                   "within 10s; skipped for 10s)"),
                     1);
    assert_int_equal(count_of(log, "upstream "), 1);
    free(log);
    /* .6 is down and .7 a backup: everything goes to .5, however many run there. */
    for (int k = 0; k < 20; k++)
        assert_int_equal(sf_pool_choose(p, 0, NULL, t + 6), 0);
    assert_int_equal(number_of(ps, "api", "10.0.0.5:9000", "active"), 20);
    for (int k = 0; k < 20; k++)
        sf_pool_done(p, 0, SF_POOL_OK, 2000, t + 7);
    assert_int_equal(number_of(ps, "api", "10.0.0.5:9000", "active"), 0);
    json_t *j = sf_pools_server_json(ps, "api", "10.0.0.5:9000");
    assert_int_equal(json_integer_value(json_object_get(j, "ttfb_count")), 20);
    assert_true(json_real_value(json_object_get(j, "ttfb_seconds_sum")) > 0.0399 &&
                json_real_value(json_object_get(j, "ttfb_seconds_sum")) < 0.0401);
    json_decref(j);
    assert_int_equal(number_of(ps, "api", "10.0.0.6:9000", "failures"), 3);
    /* Four attempts: three failed, one cancelled (neither a failure nor a success). */
    assert_int_equal(number_of(ps, "api", "10.0.0.6:9000", "requests"), 4);
    sf_pool_unref(p);
    sf_pools_free(ps);
    one_clear(&a);
}

/* least_conn sends a new fetch to the server with the fewest running per weight. */
static void least_conn_counts(void **state)
{
    (void)state;
    static const struct srv S[] = {{"http://10.0.1.1:80", NULL, 1, false},
                                   {"http://10.0.1.2:80", NULL, 1, false},
                                   {NULL, NULL, 0, false}};
    struct sf_pools *ps = sf_pools_new();
    struct one a;
    one_init(&a, "lc", SF_BALANCE_LEAST_CONN, S);
    sf_pools_apply(ps, &a.cfg);
    struct sf_pool *p = sf_pools_bind(ps, &a.cfg, 0);
    int f = sf_pool_choose(p, 0, NULL, 1);
    assert_int_equal(sf_pool_choose(p, 0, NULL, 1), 1 - f); /* 0 running beats 1 */
    for (int k = 0; k < 4; k++) /* 1 and 1, 2 and 2: the ties alternate */
        assert_int_equal(sf_pool_choose(p, 0, NULL, 1) + sf_pool_choose(p, 0, NULL, 1), 1);
    /* 5 and 5 running; three end on f: the next three go to f. */
    for (int k = 0; k < 3; k++)
        sf_pool_done(p, f, SF_POOL_OK, 10, 2);
    for (int k = 0; k < 3; k++)
        assert_int_equal(sf_pool_choose(p, 0, NULL, 2), f);
    for (int k = 0; k < 5; k++) {
        sf_pool_done(p, 0, SF_POOL_OK, 10, 3);
        sf_pool_done(p, 1, SF_POOL_OK, 10, 3);
    }
    assert_int_equal(number_of(ps, "lc", "10.0.1.1:80", "active"), 0);
    sf_pool_unref(p);
    sf_pools_free(ps);
    one_clear(&a);
}

/* Each server is due once per interval and never twice at once; results with fall and
 * rise take it down and up, each change one log line. */
static void probes_schedule_and_verdicts(void **state)
{
    (void)state;
    struct sf_pools *ps = sf_pools_new();
    struct one a;
    one_init(&a, "api", SF_BALANCE_ROUND_ROBIN, THREE);
    def_probes(&a.def, 2000, 3, 2);
    a.def.host = sf_xstrdup("api.internal");
    sf_pools_apply(ps, &a.cfg);
    struct sf_pool_probe *out[8];
    uint64_t next, t = 100000;
    assert_int_equal(sf_pools_due_probes(ps, t, out, 8, &next), 3);
    bool seen[3] = {false, false, false};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(strncmp(out[k]->url, "http://10.0.0.", 14), 0);
        assert_string_equal(out[k]->url + 15, ":9000/healthz");
        assert_string_equal(out[k]->host, "api.internal");
        assert_int_equal(out[k]->timeout_ms, 1000);
        assert_true(out[k]->tls.verify);
        seen[out[k]->url[14] - '5'] = true;
    }
    assert_true(seen[0] && seen[1] && seen[2]);
    struct sf_pool_probe *more[8];
    /* In flight: not due again, even past the interval. */
    assert_int_equal(sf_pools_due_probes(ps, t + 5000, more, 8, &next), 0);
    assert_int_equal(next, UINT64_MAX);
    capture_start();
    struct sf_pool_probe *six = NULL;
    for (int k = 0; k < 3; k++) {
        if (strstr(out[k]->url, "10.0.0.6") != NULL) {
            six = out[k];
            continue;
        }
        sf_pools_probe_done(ps, out[k], true, t + 10);
    }
    sf_pools_probe_done(ps, six, false, t + 10);
    assert_int_equal(sf_pools_due_probes(ps, t + 1999, more, 8, &next), 0);
    assert_int_equal(next, t + 2000);
    /* .6 fails twice more, one interval apart: down at the third. */
    for (int round = 1; round <= 4; round++) {
        uint64_t now = t + 2000 * (uint64_t)round;
        assert_int_equal(sf_pools_due_probes(ps, now, more, 8, &next), 3);
        assert_int_equal(next, now + 2000);
        for (int k = 0; k < 3; k++) {
            bool is_six = strstr(more[k]->url, "10.0.0.6") != NULL;
            /* .6: fails in rounds 1-2 (down at round 2), then passes in rounds 3-4 (up). */
            sf_pools_probe_done(ps, more[k], is_six ? round >= 3 : true, now + 1);
        }
        if (round == 2)
            assert_string_equal(state_of(ps, "api", "10.0.0.6:9000"), "down (probes)");
        if (round == 3)
            assert_string_equal(state_of(ps, "api", "10.0.0.6:9000"), "down (probes)");
    }
    char *log = capture_end();
    assert_string_equal(state_of(ps, "api", "10.0.0.6:9000"), "up");
    assert_int_equal(count_of(log, "upstream api: server 10.0.0.6:9000 down (probes: 3 failed "
                                   "checks)"),
                     1);
    assert_int_equal(count_of(log, "upstream api: server 10.0.0.6:9000 up (probes: 2 good "
                                   "checks)"),
                     1);
    assert_int_equal(count_of(log, "upstream "), 2);
    free(log);
    assert_int_equal(number_of(ps, "api", "10.0.0.6:9000", "probes_failed"), 3);
    assert_int_equal(number_of(ps, "api", "10.0.0.6:9000", "probes_ok"), 2);
    assert_int_equal(number_of(ps, "api", "10.0.0.6:9000", "transitions"), 2);
    assert_int_equal(number_of(ps, "api", "10.0.0.5:9000", "probes_ok"), 5);
    /* A reload that ends the probes: none due, and a probe freed unanswered lets go. */
    assert_int_equal(sf_pools_due_probes(ps, t + 10000, more, 1, &next), 1);
    assert_int_equal(next, t + 10000); /* the two others are due still: max was 1 */
    struct one b;
    one_init(&b, "api", SF_BALANCE_ROUND_ROBIN, THREE);
    sf_pools_apply(ps, &b.cfg);
    assert_int_equal(sf_pools_due_probes(ps, t + 20000, out, 8, &next), 0);
    assert_int_equal(next, UINT64_MAX);
    sf_pools_probe_done(ps, more[0], false, t + 20001); /* a result too late: ignored */
    sf_pools_apply(ps, &a.cfg);
    assert_int_equal(sf_pools_due_probes(ps, t + 20002, out, 8, &next), 3);
    for (int k = 0; k < 3; k++)
        sf_pool_probe_free(out[k]);
    struct sf_config none = {0};
    sf_pools_apply(ps, &none);
    sf_pools_free(ps);
    one_clear(&a);
    one_clear(&b);
}

/* A passive-down's end is found by the prober's pass even without traffic, and logged;
 * next_ms wakes it for that. */
static void passive_end_reported_by_tick(void **state)
{
    (void)state;
    struct sf_pools *ps = sf_pools_new();
    struct one a;
    one_init(&a, "api", SF_BALANCE_ROUND_ROBIN, THREE);
    sf_pools_apply(ps, &a.cfg);
    struct sf_pool *p = sf_pools_bind(ps, &a.cfg, 0);
    uint64_t t = 50000, next;
    capture_start();
    assert_int_equal(attempt(p, 0, NULL, SF_POOL_FAILED, t), 0);
    struct sf_pool_probe *out[4];
    assert_int_equal(sf_pools_due_probes(ps, t + 1, out, 4, &next), 0);
    assert_int_equal(next, t + 10000);
    assert_int_equal(sf_pools_due_probes(ps, t + 10000, out, 4, &next), 0);
    assert_int_equal(next, UINT64_MAX);
    char *log = capture_end();
    assert_int_equal(count_of(log, "upstream api: server 10.0.0.5:9000 down (passive"), 1);
    assert_int_equal(count_of(log, "upstream api: server 10.0.0.5:9000 up (passive: the mark "
                                   "of its failures is over)"),
                     1);
    free(log);
    sf_pool_unref(p);
    sf_pools_free(ps);
    one_clear(&a);
}

/* Two events of one call that are one change read as one line: the probes' "up" that also
 * ends a passive mark, and a failure just after a mark ran out (marked again). */
static void one_line_per_change(void **state)
{
    (void)state;
    struct sf_pools *ps = sf_pools_new();
    struct one a;
    one_init(&a, "api", SF_BALANCE_ROUND_ROBIN, THREE);
    def_probes(&a.def, 1000, 1, 2);
    sf_pools_apply(ps, &a.cfg);
    struct sf_pool *p = sf_pools_bind(ps, &a.cfg, 0);
    uint64_t t = 70000, next;
    struct sf_pool_probe *out[4];
    capture_start();
    assert_int_equal(attempt(p, 0, NULL, SF_POOL_FAILED, t), 0); /* .5 marked */
    assert_int_equal(sf_pools_due_probes(ps, t, out, 4, &next), 3);
    for (int k = 0; k < 3; k++) /* .5's check fails: down by its probes too (fall 1) */
        sf_pools_probe_done(ps, out[k], strstr(out[k]->url, "10.0.0.5") == NULL, t + 1);
    for (int round = 1; round <= 2; round++) { /* two good checks: up, the mark ended too */
        uint64_t now = t + 1000 * (uint64_t)round;
        assert_int_equal(sf_pools_due_probes(ps, now, out, 4, &next), 3);
        for (int k = 0; k < 3; k++)
            sf_pools_probe_done(ps, out[k], true, now + 1);
    }
    assert_string_equal(state_of(ps, "api", "10.0.0.5:9000"), "up");
    /* .6: marked, then failing again the moment its mark runs out. */
    assert_int_equal(attempt(p, SF_BALANCE_BIT(0), NULL, SF_POOL_FAILED, t + 3000), 1);
    sf_pool_done(p, sf_pool_choose(p, SF_BALANCE_BIT(0), NULL, t + 13000), SF_POOL_FAILED, 0,
                 t + 13000);
    char *log = capture_end();
    assert_int_equal(count_of(log, "upstream api: server 10.0.0.5:9000 "), 3);
    assert_int_equal(count_of(log, "upstream api: server 10.0.0.5:9000 up (probes: 2 good "
                                   "checks)"),
                     1);
    assert_int_equal(count_of(log, "upstream api: server 10.0.0.6:9000 "), 2);
    assert_int_equal(count_of(log, "upstream api: server 10.0.0.6:9000 down (passive"), 2);
    assert_int_equal(count_of(log, "still"), 0);
    free(log);
    assert_int_equal(number_of(ps, "api", "10.0.0.5:9000", "transitions"), 4);
    sf_pool_unref(p);
    sf_pools_free(ps);
    one_clear(&a);
}

/* The admin's drain: 404 for an unknown pool or server, its state in the answer, one log
 * line per change and none for a repeat. */
static void drain_by_name(void **state)
{
    (void)state;
    struct sf_pools *ps = sf_pools_new();
    struct one a;
    static const struct srv S[] = {{"http://10.0.0.5:9000", "blue", 1, false},
                                   {"http://10.0.0.6:9000", "green", 1, false},
                                   {NULL, NULL, 0, false}};
    one_init(&a, "api", SF_BALANCE_ROUND_ROBIN, S);
    assert_int_equal(sf_pools_set_drain(ps, "api", "blue", true), 404); /* nothing applied */
    sf_pools_apply(ps, &a.cfg);
    assert_int_equal(sf_pools_set_drain(ps, "web", "blue", true), 404);
    assert_int_equal(sf_pools_set_drain(ps, "api", "10.0.0.5:9000", true), 404);
    assert_int_equal(sf_pools_set_drain(ps, "api", "red", true), 404);
    assert_null(sf_pools_server_json(ps, "api", "red"));
    capture_start();
    assert_int_equal(sf_pools_set_drain(ps, "api", "blue", true), 0);
    assert_int_equal(sf_pools_set_drain(ps, "api", "blue", true), 0);
    assert_int_equal(sf_pools_set_drain(ps, "api", "blue", false), 0);
    char *log = capture_end();
    assert_int_equal(count_of(log, "upstream api: server blue drained (admin"), 1);
    assert_int_equal(count_of(log, "upstream api: server blue up (admin: drain lifted)"), 1);
    assert_int_equal(count_of(log, "upstream "), 2);
    free(log);
    json_t *j = sf_pools_server_json(ps, "api", "green");
    assert_string_equal(json_string_value(json_object_get(j, "url")), "http://10.0.0.6:9000");
    json_decref(j);
    struct sf_config none = {0};
    sf_pools_apply(ps, &none);
    assert_int_equal(sf_pools_set_drain(ps, "api", "blue", true), 404);
    sf_pools_free(ps);
    one_clear(&a);
}

/* Smooth WRR: over 10,000 choices a weight-2 server among three gets exactly half. */
static void weights_share(void **state)
{
    (void)state;
    static const struct srv S[] = {{"http://10.0.2.1:80", NULL, 2, false},
                                   {"http://10.0.2.2:80", NULL, 1, false},
                                   {"http://10.0.2.3:80", NULL, 1, false},
                                   {NULL, NULL, 0, false}};
    struct sf_pools *ps = sf_pools_new();
    struct one a;
    one_init(&a, "w", SF_BALANCE_ROUND_ROBIN, S);
    sf_pools_apply(ps, &a.cfg);
    struct sf_pool *p = sf_pools_bind(ps, &a.cfg, 0);
    int seen[3] = {0};
    for (int k = 0; k < 10000; k++)
        seen[attempt(p, 0, NULL, SF_POOL_OK, 1)]++;
    assert_int_equal(seen[0], 5000);
    assert_int_equal(seen[1], 2500);
    assert_int_equal(seen[2], 2500);
    assert_int_equal(number_of(ps, "w", "10.0.2.1:80", "requests"), 5000);
    sf_pool_unref(p);
    sf_pools_free(ps);
    one_clear(&a);
}

static void key_of(char *buf, size_t len, int i)
{
    snprintf(buf, len, "GET http://api/objects/%d?v=%d", i, i * 7919);
}

/* hash: a key always goes to the same server; a reload that removes one of four servers
 * moves only the keys that server had (about a quarter), all others stay put. */
static void hash_stable_across_reload(void **state)
{
    (void)state;
    static const struct srv FOUR[] = {{"http://10.0.3.1:80", NULL, 1, false},
                                      {"http://10.0.3.2:80", NULL, 1, false},
                                      {"http://10.0.3.3:80", NULL, 1, false},
                                      {"http://10.0.3.4:80", NULL, 1, false},
                                      {NULL, NULL, 0, false}};
    static const struct srv THREE_LEFT[] = {{"http://10.0.3.1:80", NULL, 1, false},
                                            {"http://10.0.3.2:80", NULL, 1, false},
                                            {"http://10.0.3.4:80", NULL, 1, false},
                                            {NULL, NULL, 0, false}};
    struct sf_pools *ps = sf_pools_new();
    struct one a, b;
    one_init(&a, "h", SF_BALANCE_HASH, FOUR);
    one_init(&b, "h", SF_BALANCE_HASH, THREE_LEFT);
    sf_pools_apply(ps, &a.cfg);
    struct sf_pool *p = sf_pools_bind(ps, &a.cfg, 0);
    enum { KEYS = 4000 };
    static const char *url_of[KEYS];
    char key[96];
    for (int i = 0; i < KEYS; i++) {
        key_of(key, sizeof key, i);
        int s = attempt(p, 0, key, SF_POOL_OK, 1);
        assert_int_equal(attempt(p, 0, key, SF_POOL_OK, 1), s);
        url_of[i] = sf_pool_def(p)->servers[s].url;
    }
    sf_pools_apply(ps, &b.cfg);
    struct sf_pool *q = sf_pools_bind(ps, &b.cfg, 0);
    int moved = 0;
    for (int i = 0; i < KEYS; i++) {
        key_of(key, sizeof key, i);
        const char *now = sf_pool_def(q)->servers[attempt(q, 0, key, SF_POOL_OK, 1)].url;
        bool was_removed = strcmp(url_of[i], "http://10.0.3.3:80") == 0;
        if (strcmp(now, url_of[i]) != 0) {
            moved++;
            assert_true(was_removed); /* only the removed server's keys move */
        } else {
            assert_false(was_removed);
        }
    }
    printf("hash: removing one of four servers moved %d of %d keys (%.1f%%)\n", moved, KEYS,
           100.0 * moved / KEYS);
    assert_true(moved > KEYS / 4 - KEYS / 20 && moved < KEYS / 4 + KEYS / 20);
    sf_pool_unref(p);
    sf_pool_unref(q);
    sf_pools_free(ps);
    one_clear(&a);
    one_clear(&b);
}

/* The stats JSON's shape and the Prometheus text, with a name that needs escaping. */
static void shown(void **state)
{
    (void)state;
    static const struct srv S[] = {{"http://10.0.4.1:80", "a\"b\\c", 3, false},
                                   {"http://10.0.4.2:80", NULL, 1, true},
                                   {NULL, NULL, 0, false}};
    struct sf_pools *ps = sf_pools_new();
    char *empty = sf_pools_prometheus(ps);
    assert_string_equal(empty, "");
    free(empty);
    struct one a;
    one_init(&a, "api", SF_BALANCE_HASH, S);
    sf_pools_apply(ps, &a.cfg);
    assert_int_equal(sf_pools_set_drain(ps, "api", "10.0.4.2:80", true), 0);
    json_t *j = sf_pools_json(ps);
    json_t *pool = json_object_get(j, "api");
    assert_string_equal(json_string_value(json_object_get(pool, "balance")), "hash");
    json_t *srv = json_object_get(json_object_get(pool, "servers"), "a\"b\\c");
    assert_int_equal(json_integer_value(json_object_get(srv, "weight")), 3);
    assert_false(json_boolean_value(json_object_get(srv, "backup")));
    assert_string_equal(json_string_value(json_object_get(srv, "state")), "up");
    static const char *const fields[] = {
        "url",      "state",     "weight",        "backup",      "active",           "requests",
        "failures", "probes_ok", "probes_failed", "transitions", "ttfb_seconds_sum", "ttfb_count"};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
        assert_non_null(json_object_get(srv, fields[k]));
    json_decref(j);
    char *text = sf_pools_prometheus(ps);
    static const char *const want[] = {
        "# TYPE sfproxy_upstream_server_up gauge\n",
        "sfproxy_upstream_server_up{upstream=\"api\",server=\"a\\\"b\\\\c\"} 1\n",
        "sfproxy_upstream_server_up{upstream=\"api\",server=\"10.0.4.2:80\"} 0\n",
        ("sfproxy_upstream_server_state{upstream=\"api\",server=\"10.0.4.2:80\",state=\"drained\"} "
         "1\n"),
        "sfproxy_upstream_server_state{upstream=\"api\",server=\"10.0.4.2:80\",state=\"up\"} 0\n",
        "# TYPE sfproxy_upstream_server_requests_total counter\n",
        "sfproxy_upstream_server_probes_total{upstream=\"api\",server=\"10.0.4.2:80\",result="
        "\"ok\"} 0\n",
        "# TYPE sfproxy_upstream_server_first_byte_seconds summary\n",
        "sfproxy_upstream_server_first_byte_seconds_count{upstream=\"api\",server=\"10.0.4.2:80\"} "
        "0\n",
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        if (strstr(text, want[k]) == NULL)
            fail_msg("metrics lack %s in:\n%s", want[k], text);
    assert_int_equal(count_of(text, "# TYPE "), count_of(text, "# HELP "));
    /* Appended to metrics.c's families in one scrape: no name may be one of theirs (an
     * exposition with a family twice is refused whole). */
    struct sf_cache_stats cs = {0};
    char *all = sf_metrics_prometheus(&cs, NULL, 0);
    for (const char *t = strstr(text, "# TYPE "); t != NULL; t = strstr(t + 1, "# TYPE ")) {
        char type_line[128];
        size_t len = strcspn(t + 7, " ");
        snprintf(type_line, sizeof type_line, "# TYPE %.*s ", (int)len, t + 7);
        if (strstr(all, type_line) != NULL)
            fail_msg("the family of \"%s\" is metrics.c's too", type_line);
    }
    if (getenv("SF_POOL_METRICS_OUT") != NULL) { /* for promtool, by hand */
        FILE *f = fopen(getenv("SF_POOL_METRICS_OUT"), "w");
        fprintf(f, "%s%s", all, text);
        fclose(f);
    }
    free(all);
    free(text);
    struct sf_config none = {0};
    sf_pools_apply(ps, &none);
    sf_pools_free(ps);
    one_clear(&a);
}

/* ---- threads at once (for ThreadSanitizer) ---- */

struct race {
    struct sf_pools *ps;
    struct one *cfgs; /* two configs the main thread alternates between */
    atomic_bool stop;
};

static void *chooser(void *arg)
{
    struct race *r = arg;
    char key[64];
    for (int k = 0; !atomic_load(&r->stop); k++) {
        struct sf_pool *p = sf_pools_bind(r->ps, &r->cfgs[k % 2].cfg, 0);
        for (int n = 0; n < 50; n++) {
            key_of(key, sizeof key, n);
            int i = sf_pool_choose(p, 0, key, sf_now_ms());
            if (i >= 0)
                sf_pool_done(p, i, n % 7 == 0 ? SF_POOL_FAILED : SF_POOL_OK, 100, sf_now_ms());
        }
        sf_pool_unref(p);
    }
    return NULL;
}

static void *prober(void *arg)
{
    struct race *r = arg;
    uint64_t t = sf_now_ms();
    for (int k = 0; !atomic_load(&r->stop); k++) {
        struct sf_pool_probe *out[16];
        uint64_t next;
        t += 1000; /* its own clock, far ahead: always something due */
        size_t n = sf_pools_due_probes(r->ps, t, out, 16, &next);
        for (size_t i = 0; i < n; i++) {
            if (i % 5 == 4)
                sf_pool_probe_free(out[i]);
            else
                sf_pools_probe_done(r->ps, out[i], (k + (int)i) % 3 != 0, t);
        }
    }
    return NULL;
}

static void *drainer(void *arg)
{
    struct race *r = arg;
    for (int k = 0; !atomic_load(&r->stop); k++) {
        sf_pools_set_drain(r->ps, "api", k % 2 ? "10.0.0.5:9000" : "10.0.0.6:9000", k % 4 < 2);
        json_decref(sf_pools_json(r->ps));
        free(sf_pools_prometheus(r->ps));
    }
    return NULL;
}

static void threads_at_once(void **state)
{
    (void)state;
    struct one cfgs[2];
    one_init(&cfgs[0], "api", SF_BALANCE_LEAST_CONN, THREE);
    one_init(&cfgs[1], "api", SF_BALANCE_HASH, THREE);
    def_probes(&cfgs[0].def, 1000, 2, 1);
    def_probes(&cfgs[1].def, 1000, 2, 1);
    struct race r = {sf_pools_new(), cfgs, false};
    sf_pools_apply(r.ps, &cfgs[0].cfg);
    /* Thousands of state changes, each its line: not shown (a sanitizer's report still
     * is, on the same stderr). */
    sf_log_set_level(SF_LOG_ERROR);
    pthread_t t[3];
    void *(*fn[3])(void *) = {chooser, prober, drainer};
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fn[i], &r), 0);
    for (int k = 0; k < 200; k++) { /* reloads, as main makes them */
        sf_pools_apply(r.ps, &cfgs[k % 2].cfg);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    sf_log_set_level(SF_LOG_INFO);
    json_t *j = sf_pools_json(r.ps);
    json_t *five =
        json_object_get(json_object_get(json_object_get(j, "api"), "servers"), "10.0.0.5:9000");
    assert_int_equal(json_integer_value(json_object_get(five, "active")), 0);
    json_decref(j);
    struct sf_config none = {0};
    sf_pools_apply(r.ps, &none);
    sf_pools_free(r.ps);
    one_clear(&cfgs[0]);
    one_clear(&cfgs[1]);
}

/* ---- the cost of a choice ---- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Prints the cost of sf_pool_choose + sf_pool_done among 64 servers (the registry's lock,
 * the usable set and the balance), one line per method; asserts nothing about speed. */
static void print_choice_cost(void)
{
    static const struct {
        const char *name;
        int balance;
        bool equal; /* all weights 1 (else 1, 2, 3, ...: a weighted hash takes logarithms) */
    } methods[] = {{"round_robin", SF_BALANCE_ROUND_ROBIN, false},
                   {"least_conn", SF_BALANCE_LEAST_CONN, false},
                   {"hash (weighted)", SF_BALANCE_HASH, false},
                   {"hash (equal weights)", SF_BALANCE_HASH, true}};
    struct srv s[SF_BALANCE_MAX_SERVERS + 1];
    static char urls[SF_BALANCE_MAX_SERVERS][48];
    for (int i = 0; i < SF_BALANCE_MAX_SERVERS; i++) {
        snprintf(urls[i], sizeof urls[i], "http://10.1.%d.%d:8080", i / 200, i % 200 + 1);
        s[i] = (struct srv){urls[i], NULL, 1 + (unsigned)i % 3, false};
    }
    s[SF_BALANCE_MAX_SERVERS] = (struct srv){NULL, NULL, 0, false};
    char keys[64][80];
    for (int i = 0; i < 64; i++)
        key_of(keys[i], sizeof keys[i], i);
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        struct sf_pools *ps = sf_pools_new();
        struct one a;
        one_init(&a, "bench", methods[m].balance, s);
        for (size_t i = 0; methods[m].equal && i < a.def.nservers; i++)
            a.def.servers[i].weight = 1;
        def_probes(&a.def, 2000, 3, 2);
        a.def.max_fails = 3;
        sf_pools_apply(ps, &a.cfg);
        struct sf_pool *p = sf_pools_bind(ps, &a.cfg, 0);
        uint64_t now = sf_now_ms();
        enum { ROUNDS = 200000 };
        static signed char chosen[ROUNDS];
        long sum = 0;
        double t0 = now_ns();
        for (int i = 0; i < ROUNDS; i++)
            chosen[i] = (signed char)sf_pool_choose(p, 0, keys[i & 63], now);
        double choose_ns = (now_ns() - t0) / ROUNDS;
        t0 = now_ns();
        for (int i = 0; i < ROUNDS; i++)
            sf_pool_done(p, chosen[i], SF_POOL_OK, 1000, now);
        double done_ns = (now_ns() - t0) / ROUNDS;
        for (int i = 0; i < ROUNDS; i++)
            sum += chosen[i];
        printf("pool choice among 64 servers, %s: %.0f ns per sf_pool_choose, %.0f ns per "
               "sf_pool_done (checksum %ld)\n",
               methods[m].name, choose_ns, done_ns, sum);
        sf_pool_unref(p);
        struct sf_config none = {0};
        sf_pools_apply(ps, &none);
        sf_pools_free(ps);
        one_clear(&a);
    }
}

static void choice_cost_64(void **state)
{
    (void)state;
    print_choice_cost();
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        print_choice_cost();
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apply_keeps_and_forgets),
        cmocka_unit_test(bind_versions),
        cmocka_unit_test(choose_respects_health),
        cmocka_unit_test(passive_marking),
        cmocka_unit_test(least_conn_counts),
        cmocka_unit_test(probes_schedule_and_verdicts),
        cmocka_unit_test(passive_end_reported_by_tick),
        cmocka_unit_test(one_line_per_change),
        cmocka_unit_test(drain_by_name),
        cmocka_unit_test(weights_share),
        cmocka_unit_test(hash_stable_across_reload),
        cmocka_unit_test(shown),
        cmocka_unit_test(threads_at_once),
        cmocka_unit_test(choice_cost_64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
