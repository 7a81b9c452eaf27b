/* sfproxy: the daemon. Reads arguments and the config, raises the open-files limit to fit
 * the connection limit, starts the fetcher and the front, then waits for signals: SIGHUP
 * reloads the config (reload below), SIGUSR1 reopens the access log, and SIGTERM or SIGINT
 * stop in order: stop accepting, let running responses finish for up to the grace time,
 * fail what remains (waking every parked client), stop the front, then the fetcher.
 * Between signals, once a second, listeners a reload retired are stopped when their last
 * connection has closed, and cluster peers marked down are probed. Runs in the foreground
 * and logs to stderr.
 *
 * Exit codes: 0 stopped by a signal, or --check-config found the config valid; 1 could not
 * start (a port in use, a library that failed); 2 bad arguments or a bad config. */
#include "../lib/admin.h"
#include "../lib/cache.h"
#include "../lib/confdump.h"
#include "../lib/config.h"
#include "../lib/confvalue.h"
#include "../lib/conn.h"
#include "../lib/disktier.h"
#include "../lib/explain.h"
#include "../lib/front.h"
#include "../lib/hangup.h"
#include "../lib/listener.h"
#include "../lib/live.h"
#include "../lib/log.h"
#include "../lib/metrics.h"
#include "../lib/park.h"
#include "../lib/route.h"
#include "../lib/peers.h"
#include "../lib/pool.h"
#include "../lib/prober.h"
#include "../lib/respond.h"
#include "../lib/fetcher.h"

#include <curl/curl.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
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
    "       sfproxy -c FILE --explain URL [--host HOST] [--method METHOD] [--header 'N: V']...\n"
    "\n"
    "  -c, --config FILE   JSON config (see sfproxy.json(5)); without it the defaults apply\n"
    "  --listen ADDR:PORT  where clients connect (overrides \"listen\"; port 0: any free)\n"
    "  --upstream URL      the origin's base URL, or the name of a pool of \"upstreams\"\n"
    "                      (overrides \"upstream\")\n"
    "  --admin ADDR:PORT   the stats listener (overrides \"admin.listen\"; \"off\" disables)\n"
    "  --check-config      validate the config and exit: 0 valid, 2 invalid\n"
    "  --print-config      print the effective config (the file, the defaults and these\n"
    "                      options) as a config file, and exit\n"
    "  --explain URL       print, as JSON, the route a request for URL takes (and why each\n"
    "                      earlier route did not match), its cache key and the upstream URL\n"
    "                      it would fetch, then exit; nothing is fetched. --host, --method\n"
    "                      (GET) and --header (repeatable) say more about the request\n"
    "  --test-clock        for tests only: POST /_sfproxy/clock?advance=SECONDS on the admin\n"
    "                      listener moves sfproxy's clocks forward\n"
    "  --version, --help\n";

#define MAX_EXPLAIN_HEADERS 32

struct options {
    const char *config_path, *listen, *upstream, *admin;
    const char *explain, *explain_host, *explain_method;
    const char *explain_headers[MAX_EXPLAIN_HEADERS];
    size_t nexplain_headers;
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
        else if (strcmp(a, "--explain") == 0)
            slot = &o->explain;
        else if (strcmp(a, "--host") == 0)
            slot = &o->explain_host;
        else if (strcmp(a, "--method") == 0)
            slot = &o->explain_method;
        else if (strcmp(a, "--header") == 0 && o->nexplain_headers < MAX_EXPLAIN_HEADERS)
            slot = &o->explain_headers[o->nexplain_headers++];
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
    if (o->listen && !sf_confvalue_parse_addr(o->listen, &cfg->listen)) {
        fprintf(stderr, "sfproxy: --listen \"%s\" is not ADDR:PORT; write e.g. 127.0.0.1:8080\n",
                o->listen);
        return EXIT_USAGE;
    }
    if (o->listen)
        cfg->listen_enabled = true;
    if (o->admin && strcmp(o->admin, "off") == 0) {
        cfg->admin_enabled = false;
    } else if (o->admin) {
        if (!sf_confvalue_parse_addr(o->admin, &cfg->admin_listen)) {
            fprintf(stderr, "sfproxy: --admin \"%s\" is not ADDR:PORT or off\n", o->admin);
            return EXIT_USAGE;
        }
        cfg->admin_enabled = true;
    }
    const char *why = NULL;
    if (o->upstream && !sf_config_set_upstream(cfg, o->upstream, &why)) {
        fprintf(stderr, "sfproxy: --upstream \"%s\" %s\n", o->upstream, why);
        return EXIT_USAGE;
    }
    cfg->test_clock = o->test_clock;
    if (cfg->upstream == NULL && !cfg->forward_proxy) {
        fprintf(stderr, "sfproxy: nothing to proxy to: set \"upstream\" (or --upstream URL), "
                        "or \"forward_proxy\": true\n");
        return EXIT_USAGE;
    }
    return 0;
}

/* --explain: the decisions for one request, as JSON on stdout. Returns the exit code. */
static int explain(const struct options *o, const struct sf_config *cfg)
{
    struct sf_hdrs fields = {0};
    for (size_t i = 0; i < o->nexplain_headers; i++) {
        const char *h = o->explain_headers[i];
        const char *colon = strchr(h, ':');
        if (colon == NULL || colon == h) {
            fprintf(stderr, "sfproxy: --header \"%s\" is not \"Name: value\"\n", h);
            sf_hdrs_clear(&fields);
            return EXIT_USAGE;
        }
        const char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        sf_hdrs_addn(&fields, h, (size_t)(colon - h), value, strlen(value));
    }
    struct sf_explain_req req = {o->explain_method ? o->explain_method : "GET", o->explain,
                                 o->explain_host, &fields};
    const char *why = NULL;
    json_t *out = sf_explain(cfg, &req, &why);
    sf_hdrs_clear(&fields);
    if (out == NULL) {
        fprintf(stderr, "sfproxy: --explain %s: %s\n", o->explain, why);
        return EXIT_USAGE;
    }
    char *text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(text);
    free(text);
    json_decref(out);
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

/* What runs, for reload and stop (main's thread only). */
struct running {
    const struct options *opt;
    struct sf_live *live;
    struct sf_cache *cache;
    struct sf_pools *pools;   /* the upstream pools: their servers' state across reloads */
    struct sf_prober *prober; /* their active health checks */
    struct sf_conns *conns;
    struct sf_access_log *access_log;
    struct sf_admin *admin;
    struct sf_front *front;
    struct sf_listener *retired; /* listeners a reload replaced, until their last connection */
};

/* The line saying where sfproxy listens, after prefix. */
static void log_listening(const struct running *run, const struct sf_config *cfg,
                          const char *prefix)
{
    char http[96] = "off", https[96] = "off";
    if (cfg->listen_enabled)
        snprintf(http, sizeof http, "http://%s:%u", cfg->listen.host, sf_front_port(run->front));
    if (cfg->tls_enabled)
        snprintf(https, sizeof https, "https://%s:%u", cfg->tls_listen.host,
                 sf_front_tls_port(run->front));
    sf_log_info("%slistening on %s admin %s:%u upstream %s forward_proxy %s tls %s", prefix, http,
                cfg->admin_enabled ? cfg->admin_listen.host : "off", sf_admin_port(run->admin),
                cfg->upstream ? cfg->upstream : "none", cfg->forward_proxy ? "on" : "off", https);
}

static bool access_log_changed(const struct sf_config *was, const struct sf_config *now,
                               bool *path_changed)
{
    const char *a = was->access_log_path, *b = now->access_log_path;
    *path_changed = (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
    return *path_changed || was->access_log_format != now->access_log_format;
}

/* Puts next in force: listeners first (a new one that cannot start keeps everything as
 * it was), then the access log, then the limits held outside the config, then the
 * config every new request pins (the log level is set by the caller, once it has said
 * what changed). False, with errbuf written, when nothing changed. */
static bool apply(struct running *run, const struct sf_config *was, struct sf_snap *next,
                  char *errbuf, size_t errlen)
{
    const struct sf_config *cfg = &next->cfg;
    if (cfg->tls_enabled && !sf_conns_tls_checked(errbuf, errlen))
        return false; /* as at start: no HTTPS listener whose bytes go unchecked */
    if (!sf_admin_prepare(run->admin, next, errbuf, errlen))
        return false;
    if (!sf_front_prepare(run->front, next, errbuf, errlen)) {
        sf_admin_abort(run->admin);
        return false;
    }
    bool path_changed;
    if (access_log_changed(was, cfg, &path_changed) &&
        !sf_access_log_reconfigure(run->access_log, cfg->access_log_path, path_changed,
                                   cfg->access_log_format)) {
        snprintf(errbuf, errlen, "cannot open the access log %s: %s; change \"access_log.path\"",
                 cfg->access_log_path, strerror(errno));
        sf_front_abort(run->front);
        sf_admin_abort(run->admin);
        return false;
    }
    raise_nofile(cfg->connection_limit);
    /* Before the snapshot is in force: its fetches bind the pools just made current. */
    sf_pools_apply(run->pools, cfg);
    sf_prober_wake(run->prober); /* new servers are probed now, not at its next look */
    sf_conns_set_limits(run->conns, cfg);
    sf_cache_set_max_bytes(run->cache, cfg->cache_max_bytes);
    sf_cache_set_max_variants(run->cache, cfg->cache_max_variants);
    struct sf_snap *in_force = sf_snap_ref(next);
    sf_live_replace(run->live, &in_force);
    sf_admin_commit(run->admin, &run->retired);
    sf_front_commit(run->front, &run->retired);
    sf_front_set_admin_port(run->front, sf_admin_port(run->admin));
    return true;
}

/* Whether cache.disk differs (read at start only). */
static bool disk_changed(const struct sf_config *was, const struct sf_config *now)
{
    const char *a = was->disk_path, *b = now->disk_path;
    if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
        return true;
    return a != NULL && (was->disk_max_bytes != now->disk_max_bytes ||
                         was->disk_queue_bytes != now->disk_queue_bytes);
}

/* SIGHUP: reads the config file again, with the command line over it as at start, and
 * puts it in force for new requests (those running keep theirs). An invalid file, or a
 * listener that cannot start, leaves the running config as it was. */
static void reload(struct running *run)
{
    const char *path = run->opt->config_path;
    if (path == NULL) {
        sf_log_warn("reload: sfproxy was started without a config file (-c): nothing to read "
                    "again");
        return;
    }
    struct sf_config cfg;
    char err[1024];
    if (sf_config_load(path, &cfg, err, sizeof err) != SF_OK) {
        SF_COUNT(reloads_failed);
        sf_log_error("reload: %s; the running config stays", err);
        sf_config_clear(&cfg);
        return;
    }
    if (apply_overrides(run->opt, &cfg) != 0) {
        SF_COUNT(reloads_failed);
        sf_log_error("reload: %s with the command line is not a config to run (above); the "
                     "running config stays",
                     path);
        sf_config_clear(&cfg);
        return;
    }
    struct sf_snap *was = sf_live_pin(run->live);
    char *changes = sf_config_diff(&was->cfg, &cfg);
    struct sf_snap *next = changes != NULL ? sf_snap_new(&cfg) : NULL;
    bool ok = changes == NULL || apply(run, &was->cfg, next, err, sizeof err);
    if (ok)
        SF_COUNT(reloads_ok);
    else
        SF_COUNT(reloads_failed);
    if (changes == NULL) {
        sf_log_info("reload: %s: nothing changed", path);
    } else if (!ok) {
        sf_log_error("reload: %s; the running config stays", err);
    } else {
        sf_log_info("reload: %s", changes);
        if (disk_changed(&was->cfg, &next->cfg))
            sf_log_warn("reload: cache.disk needs a restart to change; the running disk store "
                        "stays as it is");
        if (was->cfg.access_log_buffer_bytes != next->cfg.access_log_buffer_bytes)
            sf_log_warn("reload: access_log.buffer applies from the next start; the running "
                        "buffer stays");
        log_listening(run, &next->cfg, "reload: ");
        sf_log_set_level(next->cfg.log_level); /* after saying what changed */
    }
    free(changes);
    sf_snap_unref(next);
    sf_snap_unref(was);
    sf_config_clear(&cfg);
}

/* Waits for the signal that stops sfproxy, reloading and reopening on the way, and
 * stopping retired listeners as their connections end. Returns the signal. */
static int serve(struct running *run, const sigset_t *signals)
{
    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(signals, NULL, &tick);
        if (sig == SIGHUP)
            reload(run);
        else if (sig == SIGUSR1)
            sf_access_log_reopen(run->access_log);
        else if (sig == SIGTERM || sig == SIGINT)
            return sig;
        sf_listener_reap(&run->retired, false);
        struct sf_snap *snap = sf_live_pin(run->live);
        sf_peers_probe(snap); /* a down cluster peer comes back once it answers */
        sf_snap_unref(snap);
    }
}

int main(int argc, char **argv)
{
    struct options opt;
    struct sf_config cfg;
    char err[1024];
#ifdef __GLIBC__
    /* Body segments of 128 KiB and more live in mappings of their own, so freeing one (an
     * eviction, a reader shed) gives its memory back at once. Set, the threshold no longer
     * rises to the largest block freed, as glibc's default does, after which such blocks
     * would come from the heap and freed ones stay counted in RSS. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
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
    if (!rc && opt.explain != NULL) {
        rc = explain(&opt, &cfg);
        sf_config_clear(&cfg);
        return rc;
    }
    if (!rc && opt.print_config) {
        char *text = sf_config_dump(&cfg);
        puts(text);
        free(text);
        if (cfg.admin_token != NULL)
            fprintf(stderr, "sfproxy: admin.token is set and not printed (a secret)\n");
        sf_config_clear(&cfg);
        return 0;
    }
    if (!rc && opt.check_only && !sf_disktier_check(&cfg, err, sizeof err)) {
        fprintf(stderr, "sfproxy: %s\n", err);
        rc = EXIT_USAGE;
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
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);  /* reload the config */
    sigaddset(&signals, SIGUSR1); /* reopen the access log (logrotate's postrotate) */
    SF_PTOK(pthread_sigmask(SIG_BLOCK, &signals, NULL));
    signal(SIGPIPE, SIG_IGN);
    raise_nofile(cfg.connection_limit);
    if (cfg.connection_limit < 16384 &&
        cfg.connection_limit == sf_config_default_connection_limit())
        sf_log_info("connection_limit %u: as many as the open-files hard limit allows (two "
                    "descriptors each, 256 kept); raise that limit, or set connection_limit",
                    cfg.connection_limit);

    rc = EXIT_RUNTIME;
    struct running run = {.opt = &opt};
    run.access_log = sf_access_log_open(cfg.access_log_path, cfg.access_log_format,
                                        (size_t)cfg.access_log_buffer_bytes);
    if (run.access_log == NULL) {
        sf_log_error("cannot open the access log %s: %s; change \"access_log.path\"",
                     cfg.access_log_path, strerror(errno));
        sf_config_clear(&cfg);
        curl_global_cleanup();
        return EXIT_RUNTIME;
    }
    run.live = sf_live_new(&cfg); /* from here on the config is the snapshot in force */
    struct sf_snap *snap = sf_live_pin(run.live);
    const struct sf_config *c = &snap->cfg;
    struct sf_hangup *hangup = sf_hangup_new();
    run.cache = sf_cache_new(c->cache_max_bytes);
    sf_cache_set_max_variants(run.cache, c->cache_max_variants);
    /* Before the fetcher and the listeners: the first request may be a disk hit. */
    if (!sf_disktier_start(c, err, sizeof err)) {
        sf_log_error("cannot start: %s", err);
        sf_cache_free(run.cache);
        sf_hangup_free(hangup);
        sf_snap_unref(snap);
        sf_live_free(run.live);
        sf_access_log_close(run.access_log, 2000);
        curl_global_cleanup();
        return EXIT_RUNTIME;
    }
    run.pools = sf_pools_new();
    sf_pools_apply(run.pools, c); /* before the fetcher: its first fetch may bind them */
    struct sf_upstream *up = hangup ? sf_upstream_start(snap, run.cache, run.pools, hangup) : NULL;
    sf_respond_set_unpause(sf_upstream_unpause); /* before the front's workers start */
    run.conns = up ? sf_conns_new(c, err, sizeof err) : NULL;
    if (run.conns != NULL)
        sf_conns_set_access_log(run.conns, run.access_log);
    if (run.conns != NULL && c->tls_enabled && !sf_conns_tls_checked(err, sizeof err)) {
        sf_conns_free(run.conns); /* no listener has started: nothing reads sockets yet */
        run.conns = NULL;
    }
    run.admin = run.conns
                    ? sf_admin_start(run.live, run.cache, run.pools, run.conns, err, sizeof err)
                    : NULL;
    run.front = run.admin ? sf_front_start(run.live,
                                           &(struct sf_front_parts){run.cache, up, hangup,
                                                                    run.conns, run.access_log},
                                           err, sizeof err)
                          : NULL;
    if (run.front == NULL) {
        sf_log_error("%s", up ? err : "cannot start the fetcher");
        goto out;
    }
    sf_front_set_admin_port(run.front, sf_admin_port(run.admin));
    run.prober = sf_prober_start(run.pools);
    if (run.prober == NULL)
        goto out;
    if (c->admin_enabled && c->admin_token == NULL &&
        strncmp(c->admin_listen.host, "127.", 4) != 0 && strcmp(c->admin_listen.host, "::1") != 0)
        sf_log_warn("the admin listener (stats, purge) on %s has no admin.token: anyone who can "
                    "reach it can purge the cache; set admin.token_file or listen on loopback",
                    c->admin_listen.host);
    log_listening(&run, c, "sfproxy " SFPROXY_VERSION " ");

    int sig = serve(&run, &signals);
    struct sf_snap *last = sf_live_pin(run.live);
    uint64_t grace_ms = last->cfg.shutdown_grace_ms;
    sf_snap_unref(last);
    sf_log_info("signal %d: stopping (grace %llums)", sig, (unsigned long long)grace_ms);
    sf_admin_draining(run.admin);
    if (!drain(run.front, up, grace_ms))
        return EXIT_RUNTIME; /* stopping libmicrohttpd now would abort the process */
    rc = 0;
out:
    sf_listener_reap(&run.retired, true); /* drained: none has a parked client */
    sf_front_stop(run.front);
    sf_access_log_close(run.access_log, 2000); /* every request's line is in */
    sf_admin_stop(run.admin);
    sf_upstream_stop(up);
    sf_disktier_stop();         /* nothing writes to it now: what is queued goes to disk */
    sf_prober_stop(run.prober); /* after the fetcher: nothing probes or chooses from here */
    sf_conns_free(run.conns);   /* last: every thread that reads sockets (recv) has stopped */
    sf_cache_free(run.cache);
    sf_hangup_free(hangup);
    sf_snap_unref(snap);
    sf_live_free(run.live);
    sf_pools_free(run.pools); /* after the snapshots, which hold the versions they bound */
    curl_global_cleanup();
    if (rc == 0)
        sf_log_info("stopped");
    return rc;
}
