/* prober: see prober.h.
 *
 * The loop: take the due probes (sf_pools_due_probes, which also says when the next is
 * due), start each as an easy handle on the multi, run the multi, hand every finished
 * probe's result back (sf_pools_probe_done), then sleep in curl_multi_poll until a socket
 * is ready, a timeout of libcurl's, the next due probe, a second at most (a passive-down's
 * end made by the fetcher after the last look is then logged within a second), or
 * curl_multi_wakeup (a reload, or stop).
 *
 * A probe is a GET of the server's URL and the pool's health path on a new connection
 * each time (CURLOPT_FORBID_REUSE: a check that rode a kept-alive connection would say
 * nothing of whether the server still accepts; HAProxy's checks connect each time too),
 * with the pool's Host, its TLS settings (upstream_tls's three: CA file, verification, and
 * SNI for a server named by address, done as origintls.c does it: the URL renamed to the
 * SNI name and CURLOPT_CONNECT_TO sending it to the address), CURLOPT_TIMEOUT_MS for the
 * whole exchange, and the body discarded. It passes when a status the pool lists (or,
 * with none listed, 200 to 399) arrives in time.
 *
 * Threads: the prober's thread owns the multi and every easy handle; the main thread only
 * calls curl_multi_wakeup on it (libcurl allows that from any thread) and, after joining
 * the thread, curl_multi_cleanup. Lifetime: start to stop, main's. */
#include "prober.h"

#include "log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SF_PROBER_MAGIC 0x9b0be700u
#define MAX_SLEEP_MS 1000
#define BATCH 64

/* One probe in flight. (P) the prober thread only. */
struct xfer {
    struct xfer *next;
    struct sf_pool_probe *probe;
    CURL *e;
    struct curl_slist *headers, *connect_to;
    char *renamed; /* the URL with the SNI name as its host, or NULL */
};

struct sf_prober {
    unsigned magic; /* SF_PROBER_MAGIC */
    struct sf_pools *ps;
    CURLM *multi;      /* (P), but curl_multi_wakeup from main */
    struct xfer *live; /* (P) */
    atomic_bool stop;
    pthread_t thread;
};

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

bool sf_prober_sni_url(const char *url, const char *sni, char **renamed, struct curl_slist **to)
{
    *renamed = NULL;
    *to = NULL;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *out = NULL;
    bool ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
              curl_url_set(u, CURLUPART_HOST, sni, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK;
    if (ok) {
        char line[600];
        snprintf(line, sizeof line, "%s:%s:%s:%s", sni, port, host, port);
        *to = curl_slist_append(NULL, line);
        *renamed = sf_xstrdup(out);
        ok = *to != NULL;
    }
    curl_free(out);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

/* The easy handle's options for pr; false when libcurl refuses one. */
static bool set_up(struct xfer *x)
{
    const struct sf_pool_probe *pr = x->probe;
    CURL *e = x->e;
    bool ok = true;
#define SET(option, value) (ok = ok && curl_easy_setopt(e, option, value) == CURLE_OK)
    const char *url = pr->url;
    if (pr->tls.sni != NULL && strncmp(url, "https://", 8) == 0) {
        ok = sf_prober_sni_url(url, pr->tls.sni, &x->renamed, &x->connect_to);
        SET(CURLOPT_CONNECT_TO, x->connect_to);
        url = x->renamed;
    }
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_HTTPGET, 1L);
    SET(CURLOPT_FORBID_REUSE, 1L);
    long timeout = pr->timeout_ms > 0 && pr->timeout_ms < 86400000 ? (long)pr->timeout_ms : 1000;
    SET(CURLOPT_TIMEOUT_MS, timeout);
    SET(CURLOPT_CONNECTTIMEOUT_MS, timeout);
    SET(CURLOPT_WRITEFUNCTION, discard);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    if (pr->host != NULL) {
        char line[300];
        snprintf(line, sizeof line, "Host: %s", pr->host);
        x->headers = curl_slist_append(NULL, line);
        ok = ok && x->headers != NULL;
    }
    struct curl_slist *more = curl_slist_append(x->headers, "User-Agent: sfproxy health check");
    ok = ok && more != NULL;
    if (more != NULL)
        x->headers = more;
    SET(CURLOPT_HTTPHEADER, x->headers);
    if (pr->tls.ca_file != NULL)
        SET(CURLOPT_CAINFO, pr->tls.ca_file);
    if (!pr->tls.verify) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
#undef SET
    return ok;
}

static void xfer_free(struct xfer *x)
{
    curl_easy_cleanup(x->e);
    curl_slist_free_all(x->headers);
    curl_slist_free_all(x->connect_to);
    free(x->renamed);
    free(x);
}

/* Starts one due probe. A probe libcurl will not take is let go without a result: the
 * failure is ours, not the server's. */
static void start(struct sf_prober *pr, struct sf_pool_probe *probe)
{
    struct xfer *x = sf_xcalloc(1, sizeof *x);
    x->probe = probe;
    x->e = curl_easy_init();
    if (x->e == NULL || !set_up(x) || curl_multi_add_handle(pr->multi, x->e) != CURLM_OK) {
        sf_log_error("upstream probe of %s: libcurl refused it; not counted", probe->url);
        sf_pool_probe_free(probe);
        xfer_free(x);
        return;
    }
    x->next = pr->live;
    pr->live = x;
}

static void unlink_xfer(struct sf_prober *pr, struct xfer *x)
{
    struct xfer **pp = &pr->live;
    while (*pp != x)
        pp = &(*pp)->next;
    *pp = x->next;
    curl_multi_remove_handle(pr->multi, x->e);
}

static bool status_passes(const struct sf_pool_probe *pr, long status)
{
    if (pr->nstatus == 0)
        return status >= 200 && status <= 399;
    for (size_t i = 0; i < pr->nstatus; i++)
        if ((long)pr->status[i] == status)
            return true;
    return false;
}

/* Hands every finished probe's result to the registry. */
static void reap(struct sf_prober *pr)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(pr->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = m->data.result;
        long status = 0;
        curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &status);
        bool ok = rc == CURLE_OK && status_passes(x->probe, status);
        if (!ok && rc != CURLE_OK)
            sf_log_debug("upstream probe of %s failed: %s", x->probe->url, curl_easy_strerror(rc));
        else if (!ok)
            sf_log_debug("upstream probe of %s failed: status %ld", x->probe->url, status);
        unlink_xfer(pr, x);
        struct sf_pool_probe *probe = x->probe;
        xfer_free(x);
        sf_pools_probe_done(pr->ps, probe, ok, sf_now_ms());
    }
}

/* Runs on: the prober thread. */
static void *prober_main(void *arg)
{
    struct sf_prober *pr = arg;
    while (!atomic_load(&pr->stop)) {
        /* Results first: a server whose probe just ended is due again at its interval,
         * which the schedule below must count (skipped while in flight, it would not be,
         * and the wait would run to MAX_SLEEP_MS). */
        int running;
        curl_multi_perform(pr->multi, &running);
        reap(pr);
        uint64_t now = sf_now_ms(), next;
        struct sf_pool_probe *due[BATCH];
        size_t n;
        do {
            n = sf_pools_due_probes(pr->ps, now, due, BATCH, &next);
            for (size_t i = 0; i < n; i++)
                start(pr, due[i]);
        } while (n == BATCH);
        long wait = MAX_SLEEP_MS, curl_wait = -1;
        if (next != UINT64_MAX)
            wait = next <= now ? 0 : next - now < MAX_SLEEP_MS ? (long)(next - now) : MAX_SLEEP_MS;
        if (curl_multi_timeout(pr->multi, &curl_wait) == CURLM_OK && curl_wait >= 0 &&
            curl_wait < wait)
            wait = curl_wait;
        curl_multi_poll(pr->multi, NULL, 0, (int)wait, NULL);
    }
    /* Stopping: what is in flight ends unanswered. */
    while (pr->live != NULL) {
        struct xfer *x = pr->live;
        unlink_xfer(pr, x);
        sf_pool_probe_free(x->probe);
        xfer_free(x);
    }
    return NULL;
}

struct sf_prober *sf_prober_start(struct sf_pools *ps)
{
    struct sf_prober *pr = sf_xcalloc(1, sizeof *pr);
    pr->magic = SF_PROBER_MAGIC;
    pr->ps = ps;
    pr->multi = curl_multi_init();
    if (pr->multi == NULL) {
        sf_log_error("cannot start the upstream prober: curl_multi_init failed");
        free(pr);
        return NULL;
    }
    SF_PTOK(pthread_create(&pr->thread, NULL, prober_main, pr));
    return pr;
}

void sf_prober_wake(struct sf_prober *pr)
{
    if (pr == NULL)
        return;
    SF_CHECK_OBJ(pr, SF_PROBER_MAGIC);
    curl_multi_wakeup(pr->multi);
}

void sf_prober_stop(struct sf_prober *pr)
{
    if (pr == NULL)
        return;
    SF_CHECK_OBJ(pr, SF_PROBER_MAGIC);
    atomic_store(&pr->stop, true);
    curl_multi_wakeup(pr->multi);
    SF_PTOK(pthread_join(pr->thread, NULL));
    curl_multi_cleanup(pr->multi);
    pr->magic = 0;
    free(pr);
}
