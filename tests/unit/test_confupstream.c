/* Unit tests for lib/confupstream.c: "upstreams" as the loader leaves it in struct
 * sf_config (each pool's servers, weights, backups, names, key_base, balance, health,
 * passive statuses, retries, TLS, and the defaults of what a file leaves out), and
 * "upstream" naming a pool (top level, routes, --upstream) resolved to its key_base and
 * index; --print-config writes pools back, the reload's diff names a changed pool. The
 * errors are tests/unit/configs/bad_pool_*.json, checked by test_config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/balance.h"
#include "../../lib/confdump.h"
#include "../../lib/config.h"
#include "../../lib/fetchrule.h"
#include "../../lib/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Loads text as a config file; returns what sf_config_load did. */
static enum sf_err load_text(const char *text, struct sf_config *cfg, char *err, size_t size)
{
    char path[] = "/tmp/sfproxy-test-pools-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    enum sf_err e = sf_config_load(path, cfg, err, size);
    unlink(path);
    return e;
}

static void load_ok(const char *text, struct sf_config *cfg)
{
    char err[1024] = "";
    if (load_text(text, cfg, err, sizeof err) != SF_OK)
        fail_msg("%s", err);
}

/* conf/pools-example.json: every value as written, the rest the defaults. */
static void test_example_pools(void **state)
{
    (void)state;
    struct sf_config cfg;
    char err[1024] = "";
    if (sf_config_load("conf/pools-example.json", &cfg, err, sizeof err) != SF_OK)
        fail_msg("%s", err);
    assert_int_equal(cfg.upstreams.n, 2);
    const struct sf_pool_def *api = &cfg.upstreams.v[0], *st = &cfg.upstreams.v[1];
    assert_string_equal(api->name, "api"); /* the file's order */
    assert_string_equal(api->key_base, "http://api");
    assert_int_equal(api->nservers, 4);
    const unsigned weights[] = {2, 1, 1, 1};
    const bool backups[] = {false, false, false, true};
    const char *const names[] = {"10.0.0.5:9000", "10.0.0.6:9000", "10.0.0.7:9000", "spare"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(api->servers[i].weight, weights[i]);
        assert_int_equal(api->servers[i].backup, backups[i]);
        assert_string_equal(api->servers[i].name, names[i]);
    }
    assert_string_equal(api->servers[3].url, "http://10.0.0.9:9000");
    assert_int_equal(api->balance, SF_BALANCE_ROUND_ROBIN);
    assert_string_equal(api->health_path, "/healthz");
    assert_int_equal(api->health_interval_ms, 2000);
    assert_int_equal(api->health_timeout_ms, 1000);
    assert_int_equal(api->health_fall, 3);
    assert_int_equal(api->health_rise, 2);
    assert_int_equal(api->nhealth_status, 2);
    assert_int_equal(api->health_status[0], 200);
    assert_int_equal(api->health_status[1], 204);
    assert_int_equal(api->max_fails, 3);
    assert_int_equal(api->fail_timeout_ms, 10000);
    assert_int_equal(api->nfail_status, 3);
    assert_int_equal(api->fail_status[2], 504);
    assert_int_equal(api->retries, 2);
    assert_null(api->host);
    assert_true(api->tls_verify);
    assert_string_equal(st->key_base, "https://static");
    assert_int_equal(st->balance, SF_BALANCE_HASH);
    assert_string_equal(st->servers[1].name, "static-b");
    assert_string_equal(st->host, "static.internal");
    assert_string_equal(st->tls_sni, "static.internal");
    assert_null(st->health_path);
    /* "upstream": "api" and the route's "static" resolved; a route without follows. */
    assert_string_equal(cfg.upstream, "http://api");
    assert_int_equal(cfg.upstream_pool, 0);
    const struct sf_route_def *r = sf_routes_at(cfg.routes, 0);
    assert_string_equal(r->set.upstream, "https://static");
    assert_int_equal(r->set.upstream_pool, 1);
    sf_config_clear(&cfg);
}

/* A pool given only its servers: every default of config-t.h. */
static void test_defaults(void **state)
{
    (void)state;
    struct sf_config cfg;
    load_ok("{\"upstreams\": {\"p\": {\"servers\": [{\"url\": \"http://origin.internal/app\"}, "
            "{\"url\": \"http://u:secret@10.0.0.6:81/\"}, {\"url\": \"http://[::1]:9000\"}]}}}",
            &cfg);
    const struct sf_pool_def *p = &cfg.upstreams.v[0];
    assert_int_equal(p->balance, SF_BALANCE_ROUND_ROBIN);
    assert_null(p->health_path); /* no probes: the rest 0 */
    assert_int_equal(p->health_interval_ms, 0);
    assert_int_equal(p->health_timeout_ms, 0);
    assert_int_equal(p->health_fall, 0);
    assert_int_equal(p->health_rise, 0);
    assert_int_equal(p->nhealth_status, 0);
    assert_int_equal(p->max_fails, 1);
    assert_int_equal(p->fail_timeout_ms, 10000);
    assert_int_equal(p->nfail_status, 0);
    assert_int_equal(p->retries, 1);
    assert_null(p->host);
    assert_true(p->tls_verify);
    assert_null(p->tls_ca_file);
    assert_null(p->tls_sni);
    /* Names: the host alone without a port, never the user information; IPv6 as written. */
    assert_string_equal(p->servers[0].name, "origin.internal");
    assert_string_equal(p->servers[1].name, "10.0.0.6:81");
    assert_string_equal(p->servers[2].name, "[::1]:9000");
    assert_int_equal(p->servers[0].weight, 1);
    assert_false(p->servers[0].backup);
    assert_null(cfg.upstream); /* a pool nobody names: still none */
    assert_int_equal(cfg.upstream_pool, -1);
    sf_config_clear(&cfg);
    assert_int_equal(cfg.upstreams.n, 0); /* cleared */
    /* "health" with a path only: its defaults. Durations in any unit, least_conn, TLS. */
    load_ok("{\"upstreams\": {\"p\": {\"servers\": [{\"url\": \"https://10.0.0.5\"}], "
            "\"balance\": \"least_conn\", \"health\": {\"path\": \"/up\"}, \"passive\": "
            "{\"max_fails\": 0, \"fail_timeout\": \"1m\"}, \"retries\": 0, \"tls\": "
            "{\"ca_file\": \"conf/sfproxy.json\", \"verify\": false, \"sni\": \"a.internal\"}, "
            "\"host\": \"a.internal:8443\"}}}",
            &cfg);
    p = &cfg.upstreams.v[0];
    assert_int_equal(p->balance, SF_BALANCE_LEAST_CONN);
    assert_int_equal(p->health_interval_ms, 2000);
    assert_int_equal(p->health_timeout_ms, 1000);
    assert_int_equal(p->health_fall, 3);
    assert_int_equal(p->health_rise, 2);
    assert_int_equal(p->max_fails, 0);
    assert_int_equal(p->fail_timeout_ms, 60000);
    assert_int_equal(p->retries, 0);
    assert_string_equal(p->tls_ca_file, "conf/sfproxy.json");
    assert_false(p->tls_verify);
    assert_string_equal(p->tls_sni, "a.internal");
    assert_string_equal(p->host, "a.internal:8443");
    assert_string_equal(p->key_base, "https://p");
    assert_string_equal(p->servers[0].name, "10.0.0.5");
    sf_config_clear(&cfg);
    /* Indices are the file's order, not the names'. */
    load_ok("{\"upstream\": \"alpha\", \"upstreams\": {\"zeta\": {\"servers\": [{\"url\": "
            "\"http://z\"}]}, \"alpha\": {\"servers\": [{\"url\": \"http://a\"}]}}}",
            &cfg);
    assert_string_equal(cfg.upstreams.v[0].name, "zeta");
    assert_string_equal(cfg.upstreams.v[1].name, "alpha");
    assert_int_equal(cfg.upstream_pool, 1);
    sf_config_clear(&cfg);
}

static const char routed[] =
    "{\"routes\": [{\"name\": \"a\", \"match\": {\"path_prefix\": \"/a/\"}, \"upstream\": "
    "\"two\"},\n"
    " {\"name\": \"b\", \"match\": {\"path_prefix\": \"/b/\"}, \"upstream\": "
    "\"http://10.0.9.9:80\"},\n"
    " {\"name\": \"c\", \"match\": {\"path_prefix\": \"/c/\"}}],\n"
    " \"upstream\": \"one.v1\",\n"
    " \"upstreams\": {\"one.v1\": {\"servers\": [{\"url\": \"http://10.0.0.1:80\"}]},\n"
    "               \"two\": {\"servers\": [{\"url\": \"http://10.0.0.2:80\"}], \"retries\": 3}}}";

/* "upstream" may come before "upstreams": names resolve once the file is read; a route
 * with a URL has no pool; one with no "upstream" follows the top level's, as do the
 * settings of a request no route takes. */
static void test_resolution(void **state)
{
    (void)state;
    struct sf_config cfg;
    load_ok(routed, &cfg);
    assert_string_equal(cfg.upstream, "http://one.v1");
    assert_int_equal(cfg.upstream_pool, 0);
    const struct sf_route_def *a = sf_routes_at(cfg.routes, 0), *b = sf_routes_at(cfg.routes, 1);
    const struct sf_route_def *c = sf_routes_at(cfg.routes, 2);
    assert_string_equal(a->set.upstream, "http://two");
    assert_int_equal(a->set.upstream_pool, 1);
    assert_string_equal(b->set.upstream, "http://10.0.9.9:80");
    assert_int_equal(b->set.upstream_pool, -1);
    assert_null(c->set.upstream);
    assert_int_equal(c->set.upstream_pool, 0);
    struct sf_route_settings top;
    sf_fetchrule_top_settings(&cfg, &top);
    assert_null(top.upstream);
    assert_int_equal(top.upstream_pool, 0);
    /* The command line: a URL, then a pool; the routes without their own follow. */
    const char *why = NULL;
    assert_true(sf_config_set_upstream(&cfg, "http://127.0.0.1:9000", &why));
    assert_string_equal(cfg.upstream, "http://127.0.0.1:9000");
    assert_int_equal(cfg.upstream_pool, -1);
    assert_int_equal(c->set.upstream_pool, -1);
    assert_int_equal(a->set.upstream_pool, 1); /* its own */
    sf_fetchrule_top_settings(&cfg, &top);
    assert_int_equal(top.upstream_pool, -1);
    assert_true(sf_config_set_upstream(&cfg, "two", &why));
    assert_string_equal(cfg.upstream, "http://two");
    assert_int_equal(cfg.upstream_pool, 1);
    assert_int_equal(c->set.upstream_pool, 1);
    assert_false(sf_config_set_upstream(&cfg, "three", &why));
    assert_non_null(strstr(why, "nor the name of a pool"));
    assert_false(sf_config_set_upstream(&cfg, "ftp://x", &why));
    assert_non_null(strstr(why, "is not a base URL;"));
    assert_string_equal(cfg.upstream, "http://two"); /* untouched */
    sf_config_clear(&cfg);
    /* No pools at all: a URL works as before, a name does not. */
    sf_config_defaults(&cfg);
    assert_true(sf_config_set_upstream(&cfg, "https://10.0.0.1:8443/base", &why));
    assert_int_equal(cfg.upstream_pool, -1);
    assert_false(sf_config_set_upstream(&cfg, "api", &why));
    sf_config_clear(&cfg);
}

/* --print-config writes the pools and "upstream" as the pool's name; it loads back to the
 * same text. */
static void test_dump_loads_back(void **state)
{
    (void)state;
    struct sf_config cfg, again;
    load_ok(routed, &cfg);
    char *first = sf_config_dump(&cfg);
    assert_non_null(strstr(first, "\"upstream\": \"one.v1\""));
    assert_non_null(strstr(first, "\"upstream\": \"two\""));
    assert_non_null(strstr(first, "\"upstream\": \"http://10.0.9.9:80\""));
    assert_null(strstr(first, "http://one.v1")); /* never the key_base */
    load_ok(first, &again);
    char *second = sf_config_dump(&again);
    assert_string_equal(first, second);
    free(second);
    sf_config_clear(&again);
    free(first);
    sf_config_clear(&cfg);
    assert_int_equal(sf_config_load("conf/pools-example.json", &cfg, (char[512]){0}, 512), SF_OK);
    first = sf_config_dump(&cfg);
    assert_non_null(strstr(first, "\"name\": \"spare\""));
    assert_null(strstr(first, "\"name\": \"10.0.0.5:9000\"")); /* the URL's: not written */
    load_ok(first, &again);
    second = sf_config_dump(&again);
    assert_string_equal(first, second);
    assert_int_equal(again.upstreams.v[0].nservers, 4);
    assert_int_equal(again.upstreams.v[0].health_interval_ms, 2000);
    free(second);
    free(first);
    sf_config_clear(&again);
    sf_config_clear(&cfg);
}

/* What a reload says of pools: which changed and in what, which came and went. */
static void test_diff(void **state)
{
    (void)state;
    struct sf_config was, now;
    load_ok(routed, &was);
    load_ok(routed, &now);
    assert_null(sf_config_diff(&was, &now));
    sf_config_clear(&now);
    load_ok("{\"upstream\": \"one.v1\", \"upstreams\": {\"one.v1\": {\"servers\": [{\"url\": "
            "\"http://10.0.0.1:80\"}, {\"url\": \"http://10.0.0.3:80\"}], \"retries\": 2}, "
            "\"new\": {\"servers\": [{\"url\": \"http://10.0.0.4:80\"}]}}}",
            &now);
    char *diff = sf_config_diff(&was, &now);
    assert_non_null(diff);
    assert_non_null(strstr(diff, "upstreams.one.v1 (changed: servers, retries)"));
    assert_non_null(strstr(diff, "upstreams.new (added)"));
    assert_non_null(strstr(diff, "upstreams.two (removed)"));
    assert_null(strstr(diff, "upstream one.v1")); /* still the same pool's name */
    free(diff);
    sf_config_clear(&now);
    load_ok("{\"upstream\": \"http://10.0.0.1:80\"}", &now);
    diff = sf_config_diff(&was, &now);
    assert_non_null(strstr(diff, "upstream one.v1 -> http://10.0.0.1:80"));
    free(diff);
    sf_config_clear(&now);
    sf_config_clear(&was);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_pools), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_resolution),    cmocka_unit_test(test_dump_loads_back),
        cmocka_unit_test(test_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
