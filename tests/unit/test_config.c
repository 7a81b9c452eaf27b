/* Unit tests for lib/config.c: every bad config in tests/unit/configs/ gives exactly the
 * message in its .expect file; the shipped configs load; readable sizes and durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/confdump.h"
#include "../../lib/config.h"
#include "../../lib/confvalue.h"
#include "../../lib/route.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_DIR "tests/unit/configs"

static void read_expect(const char *json_path, char *out, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%.*s.expect", (int)(strlen(json_path) - 5), json_path);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, size - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
}

static void test_bad_configs_give_their_messages(void **state)
{
    (void)state;
    DIR *d = opendir(CONFIG_DIR);
    assert_non_null(d);
    struct dirent *e;
    int checked = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "bad_", 4) != 0 || len < 5 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        char path[512], expect[1024], got[1024];
        snprintf(path, sizeof path, CONFIG_DIR "/%s", e->d_name);
        struct sf_config cfg;
        enum sf_err err = sf_config_load(path, &cfg, got, sizeof got);
        read_expect(path, expect, sizeof expect);
        if (err == SF_OK || strcmp(got, expect) != 0)
            fail_msg("%s:\n expected: %s\n got:      %s", path, expect,
                     err == SF_OK ? "(loaded fine)" : got);
        sf_config_clear(&cfg);
        checked++;
    }
    closedir(d);
    assert_true(checked >= 10);
}

static void test_shipped_configs_load(void **state)
{
    (void)state;
    /* The example's upstream is a URL; the demo's a pool of two (make run). */
    const char *paths[] = {"conf/sfproxy.json", "conf/demo.json"};
    const char *upstream[] = {"http://127.0.0.1:9000", "http://demo"};
    for (size_t i = 0; i < 2; i++) {
        struct sf_config cfg;
        char err[512] = "";
        if (sf_config_load(paths[i], &cfg, err, sizeof err) != SF_OK)
            fail_msg("%s: %s", paths[i], err);
        assert_string_equal(cfg.upstream, upstream[i]);
        assert_int_equal(cfg.upstream_pool, i == 0 ? -1 : 0);
        sf_config_clear(&cfg);
    }
}

static void test_example_values(void **state)
{
    (void)state;
    struct sf_config cfg;
    char err[512];
    assert_int_equal(sf_config_load("conf/sfproxy.json", &cfg, err, sizeof err), SF_OK);
    assert_int_equal(cfg.cache_max_bytes, 256u << 20);
    assert_int_equal(cfg.connect_timeout_ms, 2000);
    assert_int_equal(cfg.listen.port, 8080);
    assert_string_equal(cfg.listen.host, "127.0.0.1");
    assert_int_equal(cfg.admin_listen.port, 8081);
    assert_true(cfg.admin_enabled);
    assert_string_equal(cfg.access_log_path, "-");
    assert_int_equal(cfg.access_log_format, SF_ACCESS_COMBINED);
    assert_int_equal(cfg.access_log_buffer_bytes, 1u << 20);
    sf_config_clear(&cfg);
}

/* Loads text as a config file; returns what sf_config_load did. */
static enum sf_err load_text(const char *text, struct sf_config *cfg, char *err, size_t size)
{
    char path[] = "/tmp/sfproxy-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    enum sf_err e = sf_config_load(path, cfg, err, size);
    unlink(path);
    return e;
}

static void test_access_log_settings(void **state)
{
    (void)state;
    struct sf_config cfg;
    char err[512] = "";
    assert_int_equal(load_text("{\"access_log\": null}", &cfg, err, sizeof err), SF_EINVAL);
    assert_non_null(strstr(err, "\"access_log\" must be an object"));
    sf_config_clear(&cfg);
    assert_int_equal(load_text("{\"access_log\": {\"path\": null, \"format\": \"json\"}}", &cfg,
                               err, sizeof err),
                     SF_OK);
    assert_null(cfg.access_log_path);
    assert_int_equal(cfg.access_log_format, SF_ACCESS_JSON);
    sf_config_clear(&cfg);
    char path[] = "/tmp/sfproxy-test-log-XXXXXX";
    close(mkstemp(path));
    char text[256];
    snprintf(text, sizeof text, "{\"access_log\": {\"path\": \"%s\", \"buffer\": \"64KiB\"}}",
             path);
    assert_int_equal(load_text(text, &cfg, err, sizeof err), SF_OK);
    assert_string_equal(cfg.access_log_path, path);
    assert_int_equal(cfg.access_log_buffer_bytes, 65536);
    sf_config_clear(&cfg);
    unlink(path);
    /* A file not there yet, in a writable directory: valid, and checking creates nothing. */
    snprintf(text, sizeof text, "{\"access_log\": {\"path\": \"%s.new\"}}", path);
    assert_int_equal(load_text(text, &cfg, err, sizeof err), SF_OK);
    snprintf(text, sizeof text, "%s.new", path);
    assert_int_equal(access(text, F_OK), -1);
    sf_config_clear(&cfg);
    assert_int_equal(load_text("{\"access_log\": {\"path\": \"/nonexistent-dir/a.log\"}}", &cfg,
                               err, sizeof err),
                     SF_EINVAL);
    assert_non_null(strstr(err, "cannot open /nonexistent-dir/a.log for appending"));
    sf_config_clear(&cfg);
    assert_int_equal(load_text("{\"access_log\": {\"buffer\": \"1KiB\"}}", &cfg, err, sizeof err),
                     SF_EINVAL);
    assert_non_null(strstr(err, "access_log.buffer"));
    sf_config_clear(&cfg);
}

/* cache.disk (issue 22): off when absent; given, its path and sizes with their defaults;
 * its sizes alone are not written back (no disk tier), so the dump loads again. */
static void test_disk_settings(void **state)
{
    (void)state;
    struct sf_config cfg;
    char err[512] = "";
    assert_int_equal(load_text("{}", &cfg, err, sizeof err), SF_OK);
    assert_null(cfg.disk_path);
    char *dump = sf_config_dump(&cfg);
    assert_null(strstr(dump, "\"disk\""));
    free(dump);
    sf_config_clear(&cfg);
    assert_int_equal(load_text("{\"cache\": {\"disk\": {\"path\": \"/var/cache/sfproxy\"}}}", &cfg,
                               err, sizeof err),
                     SF_OK);
    assert_string_equal(cfg.disk_path, "/var/cache/sfproxy");
    assert_int_equal(cfg.disk_max_bytes, UINT64_C(1) << 30);
    assert_int_equal(cfg.disk_queue_bytes, UINT64_C(64) << 20);
    sf_config_clear(&cfg);
    assert_int_equal(load_text("{\"cache\": {\"disk\": {\"path\": \"d\", \"max_bytes\": \"20GiB\", "
                               "\"queue_bytes\": \"1MiB\"}}}",
                               &cfg, err, sizeof err),
                     SF_OK);
    assert_int_equal(cfg.disk_max_bytes, UINT64_C(20) << 30);
    assert_int_equal(cfg.disk_queue_bytes, UINT64_C(1) << 20);
    dump = sf_config_dump(&cfg);
    assert_non_null(strstr(dump, "\"max_bytes\": \"20GiB\""));
    free(dump);
    sf_config_clear(&cfg);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct sf_config cfg;
    char err[512];
    assert_int_equal(sf_config_load("no/such.json", &cfg, err, sizeof err), SF_ENOENT);
    assert_non_null(strstr(err, "no/such.json: cannot read"));
    sf_config_clear(&cfg);
}

static void test_bytes(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(sf_confvalue_parse_bytes("256MiB", &v));
    assert_int_equal(v, 256u << 20);
    assert_true(sf_confvalue_parse_bytes("10MB", &v));
    assert_int_equal(v, 10000000);
    assert_true(sf_confvalue_parse_bytes("64 KiB", &v));
    assert_int_equal(v, 65536);
    assert_true(sf_confvalue_parse_bytes("512", &v));
    assert_int_equal(v, 512);
    assert_false(sf_confvalue_parse_bytes("256XB", &v));
    assert_false(sf_confvalue_parse_bytes("-1", &v));
    assert_false(sf_confvalue_parse_bytes("MiB", &v));
    assert_false(sf_confvalue_parse_bytes("99999999999999999999GiB", &v));
}

static void test_durations(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(sf_confvalue_parse_ms("1500ms", &v));
    assert_int_equal(v, 1500);
    assert_true(sf_confvalue_parse_ms("5s", &v));
    assert_int_equal(v, 5000);
    assert_true(sf_confvalue_parse_ms("2m", &v));
    assert_int_equal(v, 120000);
    assert_true(sf_confvalue_parse_ms("250", &v));
    assert_int_equal(v, 250);
    assert_false(sf_confvalue_parse_ms("5 seconds", &v));
    assert_false(sf_confvalue_parse_ms("", &v));
}

static void test_addresses(void **state)
{
    (void)state;
    struct sf_addr a;
    assert_true(sf_confvalue_parse_addr("127.0.0.1:8080", &a));
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 8080);
    assert_true(sf_confvalue_parse_addr("[::1]:0", &a));
    assert_string_equal(a.host, "::1");
    assert_true(sf_confvalue_parse_addr(":80", &a));
    assert_string_equal(a.host, "0.0.0.0");
    assert_true(sf_confvalue_parse_addr("localhost:1", &a));
    assert_false(sf_confvalue_parse_addr("localhost", &a));
    assert_false(sf_confvalue_parse_addr("127.0.0.1:70000", &a));
    assert_false(sf_confvalue_parse_addr("example.com:80", &a));
}

/* A config written by sf_config_dump loads back to one that writes the same text. */
static void assert_round_trip(struct sf_config *cfg)
{
    char *first = sf_config_dump(cfg);
    struct sf_config again;
    char err[512] = "";
    if (load_text(first, &again, err, sizeof err) != SF_OK)
        fail_msg("%s\n%s", err, first);
    char *second = sf_config_dump(&again);
    assert_string_equal(first, second);
    free(first);
    free(second);
    sf_config_clear(&again);
}

static void test_the_effective_config_loads_back(void **state)
{
    (void)state;
    struct sf_config cfg;
    char err[512] = "";
    sf_config_defaults(&cfg);
    assert_round_trip(&cfg);
    sf_config_clear(&cfg);
    assert_int_equal(sf_config_load("conf/sfproxy.json", &cfg, err, sizeof err), SF_OK);
    assert_round_trip(&cfg);
    sf_config_clear(&cfg);
    const char *odd =
        "{\"listen\": \"[::1]:0\", \"admin\": {\"listen\": null, \"token\": "
        "\"0123456789abcdef0123\"}, \"forward_proxy\": {\"allow\": [\"*.Example.com:8080\", "
        "\"10.0.0.0/8\"]}, \"cache\": {\"targeted_fields\": [{\"name\": \"Sf-CC\", "
        "\"strip\": true}, \"CDN-Cache-Control\"], \"max_bytes\": 100000001, "
        "\"hit_for_pass\": 1500}, \"access_log\": {\"path\": null, \"format\": \"json\"}}";
    assert_int_equal(load_text(odd, &cfg, err, sizeof err), SF_OK);
    char *text = sf_config_dump(&cfg);
    assert_null(strstr(text, "0123456789abcdef0123")); /* the secret stays out */
    assert_non_null(strstr(text, "\"listen\": \"[::1]:0\""));
    assert_non_null(strstr(text, "\"*.Example.com:8080\""));
    assert_non_null(strstr(text, "\"max_bytes\": 100000001"));
    assert_non_null(strstr(text, "\"hit_for_pass\": \"1500ms\""));
    free(text);
    assert_round_trip(&cfg);
    sf_config_clear(&cfg);
}

/* What a reload logs: each changed key with both values, a secret only named. */
/* conf/routes-example.json: the routes load, their values as written, the keys a
 * route does not set come from the top level, and --print-config writes them back. */
static void test_routes(void **state)
{
    (void)state;
    struct sf_config cfg;
    char err[1024] = "";
    if (sf_config_load("conf/routes-example.json", &cfg, err, sizeof err) != SF_OK)
        fail_msg("%s", err);
    assert_int_equal(sf_routes_count(cfg.routes), 6);
    const struct sf_route_def *packages = sf_routes_at(cfg.routes, 0);
    const struct sf_route_def *api = sf_routes_at(cfg.routes, 2);
    const struct sf_route_def *account = sf_routes_at(cfg.routes, 3);
    const struct sf_route_def *stat = sf_routes_at(cfg.routes, 5);
    assert_string_equal(packages->name, "packages");
    assert_int_equal(sf_ttl_table_lookup(&packages->cache.force, 200), 30 * 86400);
    assert_int_equal(sf_ttl_table_lookup(&packages->cache.force, 404), -1);
    assert_int_equal(packages->set.stale_if_error_ms, 3600000); /* the top level's */
    assert_int_equal(packages->set.hit_for_pass_ms, 5000);      /* the default */
    assert_string_equal(api->match.host, "api.example.com");
    assert_string_equal(api->set.upstream, "http://10.0.0.5:9000");
    assert_true(api->strip_prefix);
    assert_int_equal(api->set.first_byte_timeout_ms, 10000);
    assert_int_equal(api->set.upstream_idle_timeout_ms, 30000);
    assert_int_equal(sf_ttl_table_lookup(&api->cache.ttl, 404), 60);
    assert_int_equal(api->key.query, SF_KEY_QUERY_DROP);
    assert_int_equal(api->key.nparams, 2);
    assert_true(api->key.sort_query);
    assert_true(account->pass);
    assert_null(account->set.upstream); /* follows the top level's, --upstream included */
    assert_int_equal(stat->cache.ignore, SF_TTL_IGNORE_SET_COOKIE);
    assert_true(stat->key.narrow_cookies);
    assert_int_equal(stat->key.ncookies, 0);
    assert_string_equal(stat->client_cache_control, "public, max-age=300");
    assert_string_equal(sf_hdrs_get(&stat->response_set, "X-Content-Type-Options"), "nosniff");
    assert_round_trip(&cfg);
    char *text = sf_config_dump(&cfg);
    assert_non_null(strstr(text, "\"force_ttl\": {\n"));
    assert_non_null(strstr(text, "\"200\": \"30d\""));
    assert_null(strstr(text, "\"hit_for_pass\": \"5s\",\n          \"max_object_bytes\""));
    free(text);
    /* A reload that changes only the routes is a change, said briefly. */
    struct sf_config fewer;
    assert_int_equal(load_text("{\"upstream\": \"http://127.0.0.1:9000\", \"routes\": "
                               "[{\"name\": \"all\", \"match\": {}}]}",
                               &fewer, err, sizeof err),
                     SF_OK);
    char *diff = sf_config_diff(&cfg, &fewer);
    assert_non_null(diff);
    assert_non_null(strstr(diff, "routes (6 -> 1 routes)"));
    free(diff);
    sf_config_clear(&cfg);
    assert_int_equal(load_text("{\"upstream\": \"http://127.0.0.1:9000\", \"routes\": "
                               "[{\"name\": \"all\", \"match\": {}, \"pass\": true}]}",
                               &cfg, err, sizeof err),
                     SF_OK);
    diff = sf_config_diff(&fewer, &cfg);
    assert_string_equal(diff, "routes (changed, 1 routes)");
    free(diff);
    sf_config_clear(&fewer);
    sf_config_clear(&cfg);
    /* No routes: none built. */
    assert_int_equal(load_text("{\"routes\": []}", &cfg, err, sizeof err), SF_OK);
    assert_int_equal(sf_routes_count(cfg.routes), 0);
    sf_config_clear(&cfg);
}

static void test_what_changed(void **state)
{
    (void)state;
    struct sf_config was, now;
    char err[512] = "";
    sf_config_defaults(&was);
    sf_config_defaults(&now);
    assert_null(sf_config_diff(&was, &now));
    sf_config_clear(&now);
    assert_int_equal(load_text("{\"listen\": \"127.0.0.1:8090\", \"cache\": {\"max_bytes\": "
                               "\"64MiB\"}, \"admin\": {\"token\": \"0123456789abcdef0123\"}, "
                               "\"access_log\": {\"path\": null}, \"forward_proxy\": true}",
                               &now, err, sizeof err),
                     SF_OK);
    char *diff = sf_config_diff(&was, &now);
    assert_string_equal(diff, "listen 127.0.0.1:8080 -> 127.0.0.1:8090, forward_proxy.enabled "
                              "false -> true, cache.max_bytes 256MiB -> 64MiB, admin.token (not "
                              "shown), access_log.path - -> null");
    free(diff);
    diff = sf_config_diff(&now, &now);
    assert_null(diff);
    sf_config_clear(&was);
    sf_config_clear(&now);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_configs_give_their_messages),
        cmocka_unit_test(test_shipped_configs_load),
        cmocka_unit_test(test_example_values),
        cmocka_unit_test(test_access_log_settings),
        cmocka_unit_test(test_the_effective_config_loads_back),
        cmocka_unit_test(test_what_changed),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_disk_settings),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
