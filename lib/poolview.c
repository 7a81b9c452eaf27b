/* poolview: see poolview.h. The Prometheus families follow DESIGN.md's conventions: one
 * HELP and TYPE per family, its samples together, labels upstream and server (and state,
 * result), their values escaped as the text format requires (a server's name is the
 * operator's). */
#include "poolview.h"

#include "textbuf.h"

#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sf_poolview_free(struct sf_pool_server_view *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].url);
    }
    free(v);
}

json_t *sf_poolview_server_json(const struct sf_pool_server_view *s)
{
    return json_pack("{s:s, s:s, s:i, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I}", "url", s->url,
                     "state", sf_health_why_name(s->why), "weight", (int)s->weight, "backup",
                     s->backup, "active", (json_int_t)s->active, "requests",
                     (json_int_t)s->requests, "failures", (json_int_t)s->failures, "probes_ok",
                     (json_int_t)s->probes_ok, "probes_failed", (json_int_t)s->probes_failed,
                     "transitions", (json_int_t)s->transitions, "ttfb_seconds_sum",
                     (double)s->ttfb_us_sum / 1e6, "ttfb_count", (json_int_t)s->ttfb_count);
}

json_t *sf_poolview_json(const struct sf_pool_server_view *v, size_t n)
{
    json_t *doc = json_object();
    json_t *servers = NULL;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(v[i].pool, v[i - 1].pool) != 0) {
            servers = json_object();
            json_object_set_new(
                doc, v[i].pool,
                json_pack("{s:s, s:o}", "balance", v[i].balance, "servers", servers));
        }
        json_object_set_new(servers, v[i].name, sf_poolview_server_json(&v[i]));
    }
    return doc;
}

/* ---- the Prometheus text ---- */

/* A label value as the text format writes it: \ " and newline escaped. Caller frees. */
static char *escaped(const char *s)
{
    char *out = sf_xmalloc(strlen(s) * 2 + 1), *o = out;
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            *o++ = '\\';
            *o++ = *s == '\n' ? 'n' : *s;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

/* The label values each server's lines carry: upstream="..",server=".." */
static char **labels(const struct sf_pool_server_view *v, size_t n)
{
    char **l = sf_xcalloc(n, sizeof *l);
    for (size_t i = 0; i < n; i++) {
        char *pool = escaped(v[i].pool), *server = escaped(v[i].name);
        size_t len = strlen(pool) + strlen(server) + 24;
        l[i] = sf_xmalloc(len);
        snprintf(l[i], len, "upstream=\"%s\",server=\"%s\"", pool, server);
        free(pool);
        free(server);
    }
    return l;
}

enum { F_UP, F_ACTIVE, F_WEIGHT, F_REQUESTS, F_FAILURES, F_TRANSITIONS };

static uint64_t number(const struct sf_pool_server_view *s, int f)
{
    switch (f) {
    case F_UP: return s->why == SF_HEALTH_UP;
    case F_ACTIVE: return s->active;
    case F_WEIGHT: return s->weight;
    case F_REQUESTS: return s->requests;
    case F_FAILURES: return s->failures;
    case F_TRANSITIONS: return s->transitions;
    }
    return 0;
}

static const struct {
    const char *name, *type, *help;
} families[] = {
    [F_UP] = {"upstream_server_up", "gauge",
              "Whether the server takes new fetches (1) or not: drained or down (0)."},
    [F_ACTIVE] = {"upstream_server_active", "gauge", "Transfers running on the server."},
    [F_WEIGHT] = {"upstream_server_weight", "gauge", "The server's weight in its pool."},
    [F_REQUESTS] = {"upstream_server_requests_total", "counter",
                    "Fetch attempts sent to the server."},
    [F_FAILURES] = {"upstream_server_failures_total", "counter",
                    "Attempts that failed before a response head, or with a failure status."},
    [F_TRANSITIONS] = {"upstream_server_transitions_total", "counter",
                       "Changes of the server's state (each logged as one line)."},
};

static const char *const states[] = {"up", "drained", "down_probes", "down_passive"};

char *sf_poolview_prometheus(const struct sf_pool_server_view *v, size_t n)
{
    struct sf_text t = {sf_xmalloc(1024), 0, 1024};
    t.s[0] = '\0';
    if (n == 0)
        return t.s;
    char **l = labels(v, n);
    for (int f = 0; f < (int)(sizeof families / sizeof families[0]); f++) {
        sf_text_add(&t, "# HELP sfproxy_%s %s\n# TYPE sfproxy_%s %s\n", families[f].name,
                    families[f].help, families[f].name, families[f].type);
        for (size_t i = 0; i < n; i++)
            sf_text_add(&t, "sfproxy_%s{%s} %llu\n", families[f].name, l[i],
                        (unsigned long long)number(&v[i], f));
    }
    sf_text_add(&t,
                "# HELP sfproxy_upstream_server_state The server's state: 1 for the one it is in.\n"
                "# TYPE sfproxy_upstream_server_state gauge\n");
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < 4; s++)
            sf_text_add(&t, "sfproxy_upstream_server_state{%s,state=\"%s\"} %d\n", l[i], states[s],
                        (int)v[i].why == s);
    sf_text_add(
        &t, "# HELP sfproxy_upstream_server_probes_total Active health checks of the server, by "
            "result.\n"
            "# TYPE sfproxy_upstream_server_probes_total counter\n");
    for (size_t i = 0; i < n; i++) {
        sf_text_add(&t, "sfproxy_upstream_server_probes_total{%s,result=\"ok\"} %llu\n", l[i],
                    (unsigned long long)v[i].probes_ok);
        sf_text_add(&t, "sfproxy_upstream_server_probes_total{%s,result=\"failed\"} %llu\n", l[i],
                    (unsigned long long)v[i].probes_failed);
    }
    sf_text_add(
        &t,
        "# HELP sfproxy_upstream_server_first_byte_seconds From an attempt's start to the server's "
        "response head.\n# TYPE sfproxy_upstream_server_first_byte_seconds summary\n");
    for (size_t i = 0; i < n; i++)
        sf_text_add(&t,
                    "sfproxy_upstream_server_first_byte_seconds_sum{%s} %.6f\n"
                    "sfproxy_upstream_server_first_byte_seconds_count{%s} %llu\n",
                    l[i], (double)v[i].ttfb_us_sum / 1e6, l[i],
                    (unsigned long long)v[i].ttfb_count);
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
    return t.s;
}
