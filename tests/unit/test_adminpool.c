/* Unit tests for lib/adminpool.c: the drain endpoint's answers (200 with the server's new
 * state, 400 for a bad state or path, 404 for an unknown pool or server) over a real
 * registry. Each would catch an endpoint that drains on a bad request, splits a server
 * name containing "/" or ":" wrongly, or answers 200 for a server that is not there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/adminpool.h"
#include "../../lib/pooldef.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void def_of(struct sf_pool_def *d)
{
    static const char *const urls[] = {"http://10.0.0.5:9000", "http://10.0.0.6:9000/app"};
    static const char *const names[] = {"10.0.0.5:9000", "blue/1"};
    memset(d, 0, sizeof *d);
    d->name = sf_xstrdup("api");
    d->key_base = sf_xstrdup("http://api");
    d->nservers = 2;
    d->servers = sf_xcalloc(2, sizeof *d->servers);
    for (size_t i = 0; i < 2; i++) {
        d->servers[i].url = sf_xstrdup(urls[i]);
        d->servers[i].name = sf_xstrdup(names[i]);
        d->servers[i].weight = 1;
    }
    d->max_fails = 1;
    d->fail_timeout_ms = 10000;
    d->tls_verify = true;
}

/* The answer's status and, when it is JSON with "state", that state ("" otherwise). */
static unsigned ask(struct sf_pools *ps, const char *path, const char *state, char *got, size_t len)
{
    unsigned status = 0;
    char *text = sf_adminpool_set_state(ps, path, state, &status);
    assert_non_null(text);
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    const char *s = json_string_value(json_object_get(doc, "state"));
    snprintf(got, len, "%s", s ? s : "");
    if (status == 200) {
        assert_string_equal(json_string_value(json_object_get(doc, "upstream")), "api");
        assert_non_null(json_object_get(doc, "url"));
    } else {
        assert_non_null(json_object_get(doc, "error"));
    }
    json_decref(doc);
    free(text);
    return status;
}

static void answers(void **state)
{
    (void)state;
    struct sf_pool_def d;
    def_of(&d);
    struct sf_config cfg = {0};
    cfg.upstreams.v = &d;
    cfg.upstreams.n = 1;
    struct sf_pools *ps = sf_pools_new();
    sf_pools_apply(ps, &cfg);
    char got[64];
    const char *P = SF_ADMINPOOL_PREFIX;
    char path[128];
    snprintf(path, sizeof path, "%sapi/10.0.0.5:9000", P);
    assert_int_equal(ask(ps, path, "drain", got, sizeof got), 200);
    assert_string_equal(got, "drained");
    assert_int_equal(ask(ps, path, "sideways", got, sizeof got), 400);
    assert_int_equal(ask(ps, path, NULL, got, sizeof got), 400);
    assert_int_equal(ask(ps, path, "up", got, sizeof got), 200);
    assert_string_equal(got, "up");
    /* A bad state changes nothing. */
    assert_int_equal(ask(ps, path, "drain", got, sizeof got), 200);
    assert_int_equal(ask(ps, path, "Drain", got, sizeof got), 400);
    json_t *j = sf_pools_server_json(ps, "api", "10.0.0.5:9000");
    assert_string_equal(json_string_value(json_object_get(j, "state")), "drained");
    json_decref(j);
    /* The server's name takes every character after the pool's "/". */
    snprintf(path, sizeof path, "%sapi/blue/1", P);
    assert_int_equal(ask(ps, path, "drain", got, sizeof got), 200);
    assert_string_equal(got, "drained");
    snprintf(path, sizeof path, "%sapi/blue", P);
    assert_int_equal(ask(ps, path, "drain", got, sizeof got), 404);
    snprintf(path, sizeof path, "%sweb/blue/1", P);
    assert_int_equal(ask(ps, path, "drain", got, sizeof got), 404);
    snprintf(path, sizeof path, "%sapi/no\xff", P); /* not UTF-8: still a JSON answer */
    assert_int_equal(ask(ps, path, "drain", got, sizeof got), 404);
    static const char *const bad[] = {"", "api", "api/", "/10.0.0.5:9000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s%s", P, bad[i]);
        assert_int_equal(ask(ps, path, "drain", got, sizeof got), 400);
    }
    struct sf_config none = {0};
    sf_pools_apply(ps, &none);
    sf_pools_free(ps);
    sf_pooldef_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
