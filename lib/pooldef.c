/* pooldef: see pooldef.h. Every field of struct sf_pool_def is named here twice, once to
 * copy and once to compare: a field added to the struct must join both (a version whose
 * def silently differs from its config's would send fetches with stale settings). */
#include "pooldef.h"

#include "balance.h"
#include "health.h"

#include <stdlib.h>
#include <string.h>

void sf_pooldef_copy(struct sf_pool_def *dst, const struct sf_pool_def *src)
{
    *dst = *src; /* the numbers and the status arrays; the strings follow */
    dst->name = sf_xstrdup_opt(src->name);
    dst->key_base = sf_xstrdup_opt(src->key_base);
    dst->health_path = sf_xstrdup_opt(src->health_path);
    dst->host = sf_xstrdup_opt(src->host);
    dst->tls_ca_file = sf_xstrdup_opt(src->tls_ca_file);
    dst->tls_sni = sf_xstrdup_opt(src->tls_sni);
    dst->servers = sf_xcalloc(src->nservers > 0 ? src->nservers : 1, sizeof *dst->servers);
    for (size_t i = 0; i < src->nservers; i++) {
        dst->servers[i] = src->servers[i];
        dst->servers[i].url = sf_xstrdup_opt(src->servers[i].url);
        dst->servers[i].name = sf_xstrdup_opt(src->servers[i].name);
    }
}

void sf_pooldef_clear(struct sf_pool_def *d)
{
    for (size_t i = 0; i < d->nservers; i++) {
        free(d->servers[i].url);
        free(d->servers[i].name);
    }
    free(d->servers);
    free(d->name);
    free(d->key_base);
    free(d->health_path);
    free(d->host);
    free(d->tls_ca_file);
    free(d->tls_sni);
    memset(d, 0, sizeof *d);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool same_statuses(const unsigned *a, size_t na, const unsigned *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

bool sf_pooldef_equal(const struct sf_pool_def *a, const struct sf_pool_def *b)
{
    if (!same_str(a->name, b->name) || !same_str(a->key_base, b->key_base) ||
        a->nservers != b->nservers || a->balance != b->balance ||
        !same_str(a->health_path, b->health_path) ||
        a->health_interval_ms != b->health_interval_ms ||
        a->health_timeout_ms != b->health_timeout_ms || a->health_fall != b->health_fall ||
        a->health_rise != b->health_rise ||
        !same_statuses(a->health_status, a->nhealth_status, b->health_status, b->nhealth_status) ||
        a->max_fails != b->max_fails || a->fail_timeout_ms != b->fail_timeout_ms ||
        !same_statuses(a->fail_status, a->nfail_status, b->fail_status, b->nfail_status) ||
        a->retries != b->retries || !same_str(a->host, b->host) ||
        !same_str(a->tls_ca_file, b->tls_ca_file) || a->tls_verify != b->tls_verify ||
        !same_str(a->tls_sni, b->tls_sni))
        return false;
    for (size_t i = 0; i < a->nservers; i++) {
        const struct sf_pool_server_def *x = &a->servers[i], *y = &b->servers[i];
        if (!same_str(x->url, y->url) || !same_str(x->name, y->name) || x->weight != y->weight ||
            x->backup != y->backup)
            return false;
    }
    return true;
}

void sf_pooldef_health(const struct sf_pool_def *d, struct sf_health_conf *out)
{
    bool probes = d->health_path != NULL;
    *out = (struct sf_health_conf){
        .fall = probes ? d->health_fall : 0,
        .rise = probes ? d->health_rise : 0,
        .max_fails = d->max_fails,
        .fail_timeout_ms = d->fail_timeout_ms,
        .start_down = false, /* HAProxy's default: up until the probes say otherwise */
    };
}

const char *sf_pooldef_balance_name(int balance)
{
    switch (balance) {
    case SF_BALANCE_ROUND_ROBIN: return "round_robin";
    case SF_BALANCE_LEAST_CONN: return "least_conn";
    case SF_BALANCE_HASH: return "hash";
    }
    return "?";
}
