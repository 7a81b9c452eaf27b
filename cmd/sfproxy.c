/* sfproxy: the daemon. Reads arguments and the config, raises the open-files limit to fit
 * the connection limit, starts the fetcher and the front, then waits for SIGTERM or
 * SIGINT and stops in order: stop accepting, let running responses finish for up to the
 * grace time, fail what remains (waking every parked client), stop the front, then the
 * fetcher. Runs in the foreground and logs to stderr.
 *
 * Exit codes: 0 stopped by a signal, or --check-config found the config valid; 1 could not
 * start (a port in use, a library that failed); 2 bad arguments or a bad config. */
#include "../lib/admin.h"
#include "../lib/cache.h"
#include "../lib/config.h"
#include "../lib/conn.h"
#include "../lib/front.h"
#include "../lib/hangup.h"
#include "../lib/log.h"
#include "../lib/metrics.h"
#include "../lib/park.h"
#include "../lib/upstream.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define SFPROXY_VERSION "0.1.0"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const char usage[] =
    "usage: sfproxy [-c FILE] [--listen ADDR:PORT] [--upstream URL] [--admin ADDR:PORT|off]\n"
    "               [--check-config] [--print-config] [--test-clock] [--version] [--help]\n"
    "\n"
    "  -c, --config FILE   JSON config (see README); without it the defaults apply\n"
    "  --listen ADDR:PORT  where clients connect (overrides \"listen\"; port 0: any free)\n"
    "  --upstream URL      the origin's base URL (overrides \"upstream\")\n"
    "  --admin ADDR:PORT   the stats listener (overrides \"admin.listen\"; \"off\" disables)\n"
    "  --check-config      validate the config and exit: 0 valid, 2 invalid\n"
    "  --print-config      print the effective config (the file, the defaults and these\n"
    "                      options) as a config file, and exit\n"
    "  --test-clock        for tests only: POST /_sfproxy/clock?advance=SECONDS on the admin\n"
    "                      listener moves sfproxy's clocks forward\n"
    "  --version, --help\n";

struct options {
    const char *config_path, *listen, *upstream, *admin;
    bool check_only;
    bool print_config;
    bool test_clock;
};

static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0)
            slot = &o->config_path;
        else if (strcmp(a, "--listen") == 0)
            slot = &o->listen;
        else if (strcmp(a, "--upstream") == 0)
            slot = &o->upstream;
        else if (strcmp(a, "--admin") == 0)
            slot = &o->admin;
        else if (strcmp(a, "--check-config") == 0)
            o->check_only = true;
        else if (strcmp(a, "--print-config") == 0)
            o->print_config = true;
        else if (strcmp(a, "--test-clock") == 0)
            o->test_clock = true;
        else if (strcmp(a, "--version") == 0) {
            printf("sfproxy %s (libcurl %s)\n", SFPROXY_VERSION,
                   curl_version_info(CURLVERSION_NOW)->version);
            exit(0);
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else {
            fprintf(stderr, "sfproxy: unknown argument \"%s\"\n%s", a, usage);
            return EXIT_USAGE;
        }
        if (slot != NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sfproxy: %s needs a value\n%s", a, usage);
                return EXIT_USAGE;
            }
            *slot = argv[++i];
        }
    }
    return 0;
}

/* Applies the command line over the file. Returns 0 or EXIT_USAGE. */
static int apply_overrides(const struct options *o, struct sf_config *cfg)
{
    if (o->listen && !sf_config_parse_addr(o->listen, &cfg->listen)) {
        fprintf(stderr, "sfproxy: --listen \"%s\" is not ADDR:PORT; write e.g. 127.0.0.1:8080\n",
                o->listen);
        return EXIT_USAGE;
    }
    if (o->listen)
        cfg->listen_enabled = true;
    if (o->admin && strcmp(o->admin, "off") == 0) {
        cfg->admin_enabled = false;
    } else if (o->admin) {
        if (!sf_config_parse_addr(o->admin, &cfg->admin_listen)) {
            fprintf(stderr, "sfproxy: --admin \"%s\" is not ADDR:PORT or off\n", o->admin);
            return EXIT_USAGE;
        }
        cfg->admin_enabled = true;
    }
    if (o->upstream) {
        if (!sf_config_parse_upstream(o->upstream)) {
            fprintf(stderr,
                    "sfproxy: --upstream \"%s\" is not a base URL; write e.g. "
                    "http://127.0.0.1:9000\n",
                    o->upstream);
            return EXIT_USAGE;
        }
        free(cfg->upstream);
        cfg->upstream = sf_xstrdup(o->upstream);
    }
    cfg->test_clock = o->test_clock;
    if (cfg->upstream == NULL && !cfg->forward_proxy) {
        fprintf(stderr, "sfproxy: nothing to proxy to: set \"upstream\" (or --upstream URL), "
                        "or \"forward_proxy\": true\n");
        return EXIT_USAGE;
    }
    return 0;
}

/* Every parked client's socket and every upstream connection is a descriptor. */
static void raise_nofile(unsigned connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections * 2 + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        sf_log_warn("open-files hard limit is %llu, below the %llu that connection_limit %u "
                    "needs; raise it (LimitNOFILE= in systemd, ulimit -Hn) or lower "
                    "connection_limit",
                    (unsigned long long)rl.rlim_max, (unsigned long long)want, connections);
        want = rl.rlim_max;
    }
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        sf_log_warn("cannot raise the open-files limit to %llu", (unsigned long long)want);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Stops in order; returns false when some parked client could not be let go, so that
 * libmicrohttpd must not be stopped (it aborts the process if a connection is still
 * suspended). */
static bool drain(struct sf_front *front, struct sf_upstream *up, uint64_t grace_ms)
{
    sf_front_quiesce(front);
    uint64_t deadline = sf_now_ms() + grace_ms;
    while (sf_front_active_requests(front) > 0 && sf_now_ms() < deadline)
        sleep_ms(20);
    int left = sf_front_active_requests(front);
    long long parked = (long long)sf_park_count();
    if (left > 0)
        sf_log_info("grace time over: cutting off %d unfinished requests (%lld of them parked: "
                    "503, or a closed connection mid-body)",
                    left, parked);
    sf_front_close(front);
    sf_upstream_abort_all(up);
    /* Every flight now fails and wakes its parked clients; nothing new parks. Stopping
     * libmicrohttpd needs every one of them resumed first. */
    uint64_t wait_ms = grace_ms > 10000 ? grace_ms : 10000;
    deadline = sf_now_ms() + wait_ms;
    while (sf_park_count() > 0 && sf_now_ms() < deadline)
        sleep_ms(5);
    parked = (long long)sf_park_count();
    if (parked == 0) {
        /* Woken, each is being answered (503, or the end of a cut stream): give the
         * answers a moment to leave before the daemon closes every connection. */
        deadline = sf_now_ms() + 2000;
        while (sf_front_active_requests(front) > 0 && sf_now_ms() < deadline)
            sleep_ms(5);
        return true;
    }
    sf_log_error("%lld parked clients were not let go within %llums; exiting without stopping "
                 "the listener (a bug: please report it)",
                 parked, (unsigned long long)wait_ms);
    return false;
}

int main(int argc, char **argv)
{
    struct options opt;
    struct sf_config cfg;
    char err[1024];
    int rc = parse_args(argc, argv, &opt);
    if (rc)
        return rc;
    if (opt.config_path != NULL) {
        if (sf_config_load(opt.config_path, &cfg, err, sizeof err) != SF_OK) {
            fprintf(stderr, "sfproxy: %s\n", err);
            sf_config_clear(&cfg); /* the defaults it left */
            return EXIT_USAGE;
        }
    } else {
        sf_config_defaults(&cfg);
    }
    rc = apply_overrides(&opt, &cfg);
    if (!rc && opt.print_config) {
        char *text = sf_config_dump(&cfg);
        puts(text);
        free(text);
        if (cfg.admin_token != NULL)
            fprintf(stderr, "sfproxy: admin.token is set and not printed (a secret)\n");
        sf_config_clear(&cfg);
        return 0;
    }
    if (rc || opt.check_only) {
        if (!rc)
            printf("%s: ok\n", opt.config_path ? opt.config_path : "(defaults)");
        sf_config_clear(&cfg);
        return rc;
    }
    sf_log_set_level(cfg.log_level);

    /* Before any thread: libcurl's global state, and signals delivered only to sigwait. */
    CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (init != CURLE_OK) {
        sf_log_error("cannot start: curl_global_init: %s", curl_easy_strerror(init));
        sf_config_clear(&cfg);
        return EXIT_RUNTIME;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);  /* its default action would end the process without a drain */
    sigaddset(&stop, SIGUSR1); /* reopen the access log (logrotate's postrotate) */
    SF_PTOK(pthread_sigmask(SIG_BLOCK, &stop, NULL));
    signal(SIGPIPE, SIG_IGN);
    raise_nofile(cfg.connection_limit);

    rc = EXIT_RUNTIME;
    struct sf_access_log *access_log = NULL;
    if (cfg.access_log_path != NULL) {
        access_log = sf_access_log_open(cfg.access_log_path, cfg.access_log_format,
                                        (size_t)cfg.access_log_buffer_bytes);
        if (access_log == NULL) {
            sf_log_error("cannot open the access log %s: %s; change \"access_log.path\"",
                         cfg.access_log_path, strerror(errno));
            sf_config_clear(&cfg);
            curl_global_cleanup();
            return EXIT_RUNTIME;
        }
    }
    struct sf_hangup *hangup = sf_hangup_new();
    struct sf_cache *cache = sf_cache_new(cfg.cache_max_bytes);
    struct sf_upstream *up = hangup ? sf_upstream_start(&cfg, cache, hangup) : NULL;
    struct sf_conns *conns =
        up ? sf_conns_new(cfg.connection_limit, cfg.request_head_timeout_ms, err, sizeof err)
           : NULL;
    if (conns != NULL)
        sf_conns_set_access_log(conns, access_log);
    if (conns != NULL && cfg.tls_enabled && !sf_conns_tls_checked(err, sizeof err)) {
        sf_conns_free(conns); /* no listener has started: nothing reads sockets yet */
        conns = NULL;
    }
    struct sf_admin *admin =
        conns && cfg.admin_enabled ? sf_admin_start(&cfg, cache, conns, err, sizeof err) : NULL;
    struct sf_front *front =
        conns && (admin || !cfg.admin_enabled)
            ? sf_front_start(&cfg,
                             &(struct sf_front_parts){cache, up, hangup, conns, access_log,
                                                      sf_admin_port(admin)},
                             err, sizeof err)
            : NULL;
    if (front == NULL) {
        sf_log_error("%s", up ? err : "cannot start the fetcher");
        goto out;
    }
    uint16_t port = sf_front_port(front), admin_port = sf_admin_port(admin);
    if (cfg.admin_enabled && cfg.admin_token == NULL &&
        strncmp(cfg.admin_listen.host, "127.", 4) != 0 && strcmp(cfg.admin_listen.host, "::1") != 0)
        sf_log_warn("the admin listener (stats, purge) on %s has no admin.token: anyone who can "
                    "reach it can purge the cache; set admin.token_file or listen on loopback",
                    cfg.admin_listen.host);
    char http[96] = "off", https[96] = "off";
    if (cfg.listen_enabled)
        snprintf(http, sizeof http, "http://%s:%u", cfg.listen.host, port);
    if (cfg.tls_enabled)
        snprintf(https, sizeof https, "https://%s:%u", cfg.tls_listen.host,
                 sf_front_tls_port(front));
    sf_log_info("sfproxy %s listening on %s admin %s:%u upstream %s forward_proxy %s tls %s",
                SFPROXY_VERSION, http, cfg.admin_enabled ? cfg.admin_listen.host : "off",
                admin_port, cfg.upstream ? cfg.upstream : "none", cfg.forward_proxy ? "on" : "off",
                https);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0 || sig == SIGHUP || sig == SIGUSR1) {
        if (sig == SIGHUP)
            sf_log_warn("SIGHUP: reloading the config is not supported yet; ignored (restart "
                        "with SIGTERM to apply a new config)");
        if (sig == SIGUSR1)
            sf_access_log_reopen(access_log);
        sig = 0;
    }
    sf_log_info("signal %d: stopping (grace %llums)", sig,
                (unsigned long long)cfg.shutdown_grace_ms);
    sf_admin_draining(admin);
    if (!drain(front, up, cfg.shutdown_grace_ms))
        return EXIT_RUNTIME; /* stopping libmicrohttpd now would abort the process */
    rc = 0;
out:
    sf_front_stop(front);
    sf_access_log_close(access_log, 2000); /* every request's line is in */
    sf_admin_stop(admin);
    sf_upstream_stop(up);
    sf_conns_free(conns); /* last: every thread that reads sockets (recv) has stopped */
    sf_cache_free(cache);
    sf_hangup_free(hangup);
    sf_config_clear(&cfg);
    curl_global_cleanup();
    if (rc == 0)
        sf_log_info("stopped");
    return rc;
}
