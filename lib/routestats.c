/* routestats: see routestats.h. The names live in a fixed table of slots, found through
 * an open-addressing index four times their number (a lookup probes one or two entries).
 * A slot is written whole, under the mutex, before the index entry that leads to it is
 * published (release); readers load the entry (acquire) and never take the mutex. Slots
 * are never removed, so a reader's slot stays valid. The last slot is the overflow's. */
#include "routestats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_SIZE (4 * SF_ROUTESTATS_MAX) /* a power of two */

struct slot {
    char name[64];
    sf_counter n[SF_OUT_COUNT];
};

static struct slot slots[SF_ROUTESTATS_MAX + 1]; /* [SF_ROUTESTATS_MAX]: the overflow */
static atomic_uint index_[INDEX_SIZE];           /* 0: empty; else its slot + 1 */
static atomic_size_t nslots;                     /* slots given a name */
static atomic_bool overflowed;                   /* a name went to the overflow */
static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* name's slot, or NULL; with at, where the probe for it ended (an empty entry). */
static struct slot *find(const char *name, uint32_t *at)
{
    for (uint32_t i = hash(name) & (INDEX_SIZE - 1);; i = (i + 1) & (INDEX_SIZE - 1)) {
        unsigned k = atomic_load_explicit(&index_[i], memory_order_acquire);
        if (k == 0) {
            *at = i;
            return NULL;
        }
        if (strcmp(slots[k - 1].name, name) == 0)
            return &slots[k - 1];
    }
}

/* name's slot, made on its first count; the overflow's when the table is full. */
static struct slot *slot_of(const char *name)
{
    uint32_t at;
    struct slot *s = find(name, &at);
    if (s != NULL)
        return s;
    SF_PTOK(pthread_mutex_lock(&add_lock));
    s = find(name, &at); /* another thread may have added it meanwhile */
    size_t n = atomic_load_explicit(&nslots, memory_order_relaxed);
    if (s == NULL && n < SF_ROUTESTATS_MAX && strlen(name) < sizeof s->name) {
        s = &slots[n];
        memcpy(s->name, name, strlen(name) + 1);
        atomic_store_explicit(&nslots, n + 1, memory_order_release);
        atomic_store_explicit(&index_[at], (unsigned)n + 1, memory_order_release);
    }
    SF_PTOK(pthread_mutex_unlock(&add_lock));
    if (s == NULL) {
        atomic_store_explicit(&overflowed, true, memory_order_release);
        s = &slots[SF_ROUTESTATS_MAX];
    }
    return s;
}

void sf_routestats_count(const char *route, enum sf_outcome outcome)
{
    SF_ASSERT(outcome < SF_OUT_COUNT);
    atomic_fetch_add_explicit(&slot_of(route)->n[outcome], 1, memory_order_relaxed);
}

/* The slots to show: the named ones, then the overflow's once used. Returns how many,
 * and their names in names (SF_ROUTESTATS_MAX + 1). */
static size_t shown(const struct slot **v, const char **names)
{
    size_t n = atomic_load_explicit(&nslots, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        v[i] = &slots[i];
        names[i] = slots[i].name;
    }
    if (atomic_load_explicit(&overflowed, memory_order_acquire)) {
        v[n] = &slots[SF_ROUTESTATS_MAX];
        names[n++] = SF_ROUTESTATS_OTHER;
    }
    return n;
}

json_t *sf_routestats_json(void)
{
    const struct slot *v[SF_ROUTESTATS_MAX + 1];
    const char *names[SF_ROUTESTATS_MAX + 1];
    size_t n = shown(v, names);
    json_t *out = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *counts = json_object();
        for (int o = 0; o < SF_OUT_COUNT; o++)
            json_object_set_new(
                counts, sf_metrics_outcome_name((enum sf_outcome)o),
                json_integer((json_int_t)atomic_load_explicit(&v[i]->n[o], memory_order_relaxed)));
        json_object_set_new(out, names[i], counts);
    }
    return out;
}

char *sf_routestats_prometheus(void)
{
    const struct slot *v[SF_ROUTESTATS_MAX + 1];
    const char *names[SF_ROUTESTATS_MAX + 1];
    size_t n = shown(v, names);
    if (n == 0)
        return sf_xstrdup("");
    static const char head[] =
        "# HELP sfproxy_route_requests_total Requests that took a route, by route and how "
        "they were answered (their X-Cache; none: answered by sfproxy itself, or ended "
        "first).\n# TYPE sfproxy_route_requests_total counter\n";
    /* A line: the name (at most 63 characters, which need no escaping: route.h), an
     * outcome, a 20-digit count and the rest. */
    size_t cap = sizeof head + n * SF_OUT_COUNT * 160;
    char *out = sf_xmalloc(cap);
    size_t len = (size_t)snprintf(out, cap, "%s", head);
    for (size_t i = 0; i < n; i++)
        for (int o = 0; o < SF_OUT_COUNT; o++)
            len += (size_t)snprintf(
                out + len, cap - len,
                "sfproxy_route_requests_total{route=\"%s\",cache=\"%s\"} %llu\n", names[i],
                sf_metrics_outcome_name((enum sf_outcome)o),
                (unsigned long long)atomic_load_explicit(&v[i]->n[o], memory_order_relaxed));
    return out;
}
