/* Unit tests for lib/prober.c: the active health checks against real sockets on
 * 127.0.0.1 (small HTTP servers in this file, one thread each): a passing server stays
 * up, one answering 503, one refusing connections and one that never answers (its
 * timeout) go down after fall checks, each server is checked about once per interval and
 * with the pool's Host, a configured status list is obeyed, a server that recovers comes
 * back after rise checks, and stop ends the thread with checks in flight. Each would
 * catch a prober that reads statuses wrongly, waits on a silent server past its timeout
 * (holding the others up), probes in a busy loop, or drops the pool's Host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/pool.h"
#include "../../lib/pooldef.h"
#include "../../lib/prober.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- a small HTTP server ---- */

struct origin {
    int fd;
    uint16_t port;
    atomic_int status;    /* what it answers; 0: accepts and never answers */
    atomic_int requests;  /* heads read */
    char last_head[1024]; /* (lock) */
    pthread_mutex_t lock;
    atomic_bool stop;
    pthread_t thread;
    int silent[64]; /* connections held unanswered */
    int nsilent;
};

static void *origin_main(void *arg)
{
    struct origin *o = arg;
    while (!atomic_load(&o->stop)) {
        struct pollfd p = {o->fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(o->fd, NULL, NULL);
        if (c < 0)
            continue;
        char head[1024];
        size_t n = 0;
        while (n < sizeof head - 1) {
            struct pollfd q = {c, POLLIN, 0};
            if (poll(&q, 1, 1000) <= 0)
                break;
            ssize_t r = read(c, head + n, sizeof head - 1 - n);
            if (r <= 0)
                break;
            n += (size_t)r;
            head[n] = '\0';
            if (strstr(head, "\r\n\r\n") != NULL)
                break;
        }
        head[n] = '\0';
        pthread_mutex_lock(&o->lock);
        snprintf(o->last_head, sizeof o->last_head, "%s", head);
        pthread_mutex_unlock(&o->lock);
        atomic_fetch_add(&o->requests, 1);
        int status = atomic_load(&o->status);
        if (status == 0 && o->nsilent < 64) {
            o->silent[o->nsilent++] = c;
            continue;
        }
        char resp[128];
        int len =
            snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
        ssize_t w = write(c, resp, (size_t)len);
        (void)w;
        close(c);
    }
    return NULL;
}

static void origin_start(struct origin *o, int status)
{
    memset(o, 0, sizeof *o);
    o->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(o->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(o->fd, 64), 0);
    socklen_t len = sizeof a;
    getsockname(o->fd, (struct sockaddr *)&a, &len);
    o->port = ntohs(a.sin_port);
    atomic_store(&o->status, status);
    pthread_mutex_init(&o->lock, NULL);
    assert_int_equal(pthread_create(&o->thread, NULL, origin_main, o), 0);
}

static void origin_stop(struct origin *o)
{
    atomic_store(&o->stop, true);
    pthread_join(o->thread, NULL);
    for (int i = 0; i < o->nsilent; i++)
        close(o->silent[i]);
    close(o->fd);
    pthread_mutex_destroy(&o->lock);
}

/* A port nothing listens on: bound, then closed. */
static uint16_t refused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- a pool of them ---- */

static void def_of(struct sf_pool_def *d, const uint16_t *ports, size_t n)
{
    memset(d, 0, sizeof *d);
    d->name = sf_xstrdup("api");
    d->key_base = sf_xstrdup("http://api");
    d->nservers = n;
    d->servers = sf_xcalloc(n, sizeof *d->servers);
    for (size_t i = 0; i < n; i++) {
        char url[64], name[32]; /* room for any size_t: gcc checks */
        snprintf(url, sizeof url, "http://127.0.0.1:%u", ports[i]);
        snprintf(name, sizeof name, "s%zu", i);
        d->servers[i].url = sf_xstrdup(url);
        d->servers[i].name = sf_xstrdup(name);
        d->servers[i].weight = 1;
    }
    d->health_path = sf_xstrdup("/healthz");
    d->health_interval_ms = 200;
    d->health_timeout_ms = 150;
    d->health_fall = 2;
    d->health_rise = 1;
    d->max_fails = 1;
    d->fail_timeout_ms = 10000;
    d->host = sf_xstrdup("api.internal");
    d->tls_verify = true;
}

static const char *state_of(struct sf_pools *ps, const char *server)
{
    static char out[64];
    json_t *j = sf_pools_server_json(ps, "api", server);
    snprintf(out, sizeof out, "%s", j ? json_string_value(json_object_get(j, "state")) : "absent");
    json_decref(j);
    return out;
}

static json_int_t number_of(struct sf_pools *ps, const char *server, const char *field)
{
    json_t *j = sf_pools_server_json(ps, "api", server);
    json_int_t v = json_integer_value(json_object_get(j, field));
    json_decref(j);
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to 10 s (bounded polling) for server to read want. */
static bool wait_state(struct sf_pools *ps, const char *server, const char *want)
{
    for (int i = 0; i < 1000; i++) {
        if (strcmp(state_of(ps, server), want) == 0)
            return true;
        sleep_ms(10);
    }
    return false;
}

static void verdicts_from_real_servers(void **state)
{
    (void)state;
    struct origin ok, bad, silent;
    origin_start(&ok, 200);
    origin_start(&bad, 503);
    origin_start(&silent, 0);
    uint16_t ports[4] = {ok.port, bad.port, refused_port(), silent.port};
    struct sf_pool_def d;
    def_of(&d, ports, 4);
    struct sf_config cfg = {0};
    cfg.upstreams.v = &d;
    cfg.upstreams.n = 1;
    struct sf_pools *ps = sf_pools_new();
    sf_pools_apply(ps, &cfg);
    uint64_t t0 = sf_now_ms();
    struct sf_prober *pr = sf_prober_start(ps);
    assert_non_null(pr);
    /* 503, refused and silent (150 ms timeout) all go down after two checks. */
    assert_true(wait_state(ps, "s1", "down (probes)"));
    assert_true(wait_state(ps, "s2", "down (probes)"));
    assert_true(wait_state(ps, "s3", "down (probes)"));
    assert_string_equal(state_of(ps, "s0"), "up");
    /* The silent one did not hold the others up: all were checked at once. */
    assert_true(number_of(ps, "s3", "probes_failed") >= 2);
    pthread_mutex_lock(&ok.lock);
    assert_non_null(strstr(ok.last_head, "GET /healthz HTTP/1.1\r\n"));
    assert_non_null(strstr(ok.last_head, "\r\nHost: api.internal\r\n"));
    pthread_mutex_unlock(&ok.lock);
    /* The 503 one recovers: up after one good check (rise 1). */
    atomic_store(&bad.status, 204);
    assert_true(wait_state(ps, "s1", "up"));
    sleep_ms(600);
    /* About once per interval (200 ms), never a busy loop: from t0 to now, at most
     * elapsed/200 + 2 checks of the good server. */
    uint64_t elapsed = sf_now_ms() - t0;
    int checks = atomic_load(&ok.requests);
    printf("prober: %d checks of a good server in %llu ms (interval 200 ms)\n", checks,
           (unsigned long long)elapsed);
    assert_true(checks >= 2);
    assert_true(checks <= (int)(elapsed / 200) + 2);
    json_int_t counted = number_of(ps, "s0", "probes_ok"); /* one may be under way */
    assert_true(counted == checks || counted == checks - 1);
    sf_prober_stop(pr);
    struct sf_config none = {0};
    sf_pools_apply(ps, &none);
    sf_pools_free(ps);
    sf_pooldef_clear(&d);
    origin_stop(&ok);
    origin_stop(&bad);
    origin_stop(&silent);
}

/* A status list replaces 200-399: a 200 fails where only 204 passes. */
static void status_list_obeyed(void **state)
{
    (void)state;
    struct origin o200, o204;
    origin_start(&o200, 200);
    origin_start(&o204, 204);
    uint16_t ports[2] = {o200.port, o204.port};
    struct sf_pool_def d;
    def_of(&d, ports, 2);
    d.health_status[0] = 204;
    d.nhealth_status = 1;
    struct sf_config cfg = {0};
    cfg.upstreams.v = &d;
    cfg.upstreams.n = 1;
    struct sf_pools *ps = sf_pools_new();
    sf_pools_apply(ps, &cfg);
    struct sf_prober *pr = sf_prober_start(ps);
    assert_true(wait_state(ps, "s0", "down (probes)"));
    assert_string_equal(state_of(ps, "s1"), "up");
    assert_int_equal(number_of(ps, "s1", "probes_failed"), 0);
    /* A reload that drops the probes: wake, and no more checks are made. */
    free(d.health_path);
    d.health_path = NULL;
    sf_pools_apply(ps, &cfg);
    sf_prober_wake(pr);
    assert_string_equal(state_of(ps, "s0"), "up"); /* no probe can bring it back: up */
    sleep_ms(100);
    int before = atomic_load(&o204.requests);
    sleep_ms(500);
    assert_int_equal(atomic_load(&o204.requests), before);
    sf_prober_stop(pr);
    struct sf_config none = {0};
    sf_pools_apply(ps, &none);
    sf_pools_free(ps);
    sf_pooldef_clear(&d);
    origin_stop(&o200);
    origin_stop(&o204);
}

/* Stop with a check in flight (a silent server, a long timeout) returns at once and lets
 * the check go without a result. */
static void stop_with_checks_in_flight(void **state)
{
    (void)state;
    struct origin silent;
    origin_start(&silent, 0);
    uint16_t ports[1] = {silent.port};
    struct sf_pool_def d;
    def_of(&d, ports, 1);
    d.health_interval_ms = 60000;
    d.health_timeout_ms = 30000;
    struct sf_config cfg = {0};
    cfg.upstreams.v = &d;
    cfg.upstreams.n = 1;
    struct sf_pools *ps = sf_pools_new();
    sf_pools_apply(ps, &cfg);
    struct sf_prober *pr = sf_prober_start(ps);
    for (int i = 0; i < 500 && atomic_load(&silent.requests) == 0; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&silent.requests), 1);
    uint64_t t = sf_now_ms();
    sf_prober_stop(pr);
    assert_true(sf_now_ms() - t < 2000);
    assert_int_equal(number_of(ps, "s0", "probes_failed") + number_of(ps, "s0", "probes_ok"), 0);
    struct sf_config none = {0};
    sf_pools_apply(ps, &none);
    sf_pools_free(ps); /* would assert if the check still held its server */
    sf_pooldef_clear(&d);
    origin_stop(&silent);
}

/* tls.sni for a server named by address: the URL renamed, the connection sent to the
 * address, for IPv4, IPv6, a default port and a path. */
static void sni_urls(void **state)
{
    (void)state;
    static const struct {
        const char *url, *renamed, *to;
    } rows[] = {
        {"https://10.0.0.5:8443/healthz", "https://api.internal:8443/healthz",
         "api.internal:8443:10.0.0.5:8443"},
        {"https://10.0.0.5/app/healthz", "https://api.internal/app/healthz",
         "api.internal:443:10.0.0.5:443"},
        {"https://[::1]:9443/h", "https://api.internal:9443/h", "api.internal:9443:[::1]:9443"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *renamed;
        struct curl_slist *to;
        assert_true(sf_prober_sni_url(rows[i].url, "api.internal", &renamed, &to));
        assert_string_equal(renamed, rows[i].renamed);
        assert_string_equal(to->data, rows[i].to);
        assert_null(to->next);
        free(renamed);
        curl_slist_free_all(to);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sni_urls),
        cmocka_unit_test(verdicts_from_real_servers),
        cmocka_unit_test(status_list_obeyed),
        cmocka_unit_test(stop_with_checks_in_flight),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
