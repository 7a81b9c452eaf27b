/* varindex: see varindex.h. Groups are chained by the keyed hash (siphash.h) of their key
 * (the key before SF_VARIANT_MARK), and indexed variants by their language hash (keyed
 * too: clients choose both), each table
 * doubling at load 1. A group lives while it has a variant. */
#include "varindex.h"

#include "siphash.h"
#include "variant.h"

#include <stdlib.h>
#include <string.h>

/* The stored variants of one URL (with its credentials: one key before the mark). */
struct sf_vgroup {
    struct sf_vgroup *next;       /* hash chain */
    uint64_t hash;                /* of key */
    size_t count;                 /* variants in it */
    struct sf_entry *head, *tail; /* most and least recently used */
    char key[];
};

void sf_varindex_init(struct sf_varindex *x, size_t max_variants)
{
    memset(x, 0, sizeof *x);
    x->ngroup_buckets = x->nlang_buckets = 64;
    x->groups = sf_xcalloc(x->ngroup_buckets, sizeof *x->groups);
    x->by_lang = sf_xcalloc(x->nlang_buckets, sizeof *x->by_lang);
    x->max_variants = max_variants > 0 ? max_variants : 1;
}

void sf_varindex_clear(struct sf_varindex *x)
{
    SF_ASSERT(x->ngroups == 0 && x->nlang == 0);
    free(x->groups);
    free(x->by_lang);
    memset(x, 0, sizeof *x);
}

void sf_varindex_set_max(struct sf_varindex *x, size_t max_variants)
{
    x->max_variants = max_variants > 0 ? max_variants : 1;
}

static void grow_groups(struct sf_varindex *x)
{
    size_t n = x->ngroup_buckets * 2;
    struct sf_vgroup **b = sf_xcalloc(n, sizeof *b);
    for (size_t i = 0; i < x->ngroup_buckets; i++)
        for (struct sf_vgroup *g = x->groups[i], *next; g != NULL; g = next) {
            next = g->next;
            g->next = b[g->hash & (n - 1)];
            b[g->hash & (n - 1)] = g;
        }
    free(x->groups);
    x->groups = b;
    x->ngroup_buckets = n;
}

static void grow_lang(struct sf_varindex *x)
{
    size_t n = x->nlang_buckets * 2;
    struct sf_entry **b = sf_xcalloc(n, sizeof *b);
    for (size_t i = 0; i < x->nlang_buckets; i++)
        for (struct sf_entry *e = x->by_lang[i], *next; e != NULL; e = next) {
            next = e->var->lnext;
            e->var->lnext = b[e->var->lhash & (n - 1)];
            b[e->var->lhash & (n - 1)] = e;
        }
    free(x->by_lang);
    x->by_lang = b;
    x->nlang_buckets = n;
}

/* The group of the variants whose key starts with key's len bytes; a new one if none. */
static struct sf_vgroup *group_of(struct sf_varindex *x, const char *key, size_t len)
{
    uint64_t h = sf_keyed_hash(key, len);
    struct sf_vgroup **pp = &x->groups[h & (x->ngroup_buckets - 1)];
    for (struct sf_vgroup *g = *pp; g != NULL; g = g->next)
        if (g->hash == h && strncmp(g->key, key, len) == 0 && g->key[len] == '\0')
            return g;
    if (x->ngroups >= x->ngroup_buckets) {
        grow_groups(x);
        pp = &x->groups[h & (x->ngroup_buckets - 1)];
    }
    struct sf_vgroup *g = sf_xcalloc(1, sizeof *g + len + 1);
    memcpy(g->key, key, len);
    g->hash = h;
    g->next = *pp;
    *pp = g;
    x->ngroups++;
    return g;
}

static void group_free(struct sf_varindex *x, struct sf_vgroup *g)
{
    struct sf_vgroup **pp = &x->groups[g->hash & (x->ngroup_buckets - 1)];
    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    x->ngroups--;
    if (x->over == g)
        x->over = NULL;
    free(g);
}

static void group_push_front(struct sf_vgroup *g, struct sf_entry *e)
{
    e->var->prev = NULL;
    e->var->next = g->head;
    if (g->head != NULL)
        g->head->var->prev = e;
    else
        g->tail = e;
    g->head = e;
}

static void group_unlink(struct sf_vgroup *g, struct sf_entry *e)
{
    if (e->var->prev != NULL)
        e->var->prev->var->next = e->var->next;
    else
        g->head = e->var->next;
    if (e->var->next != NULL)
        e->var->next->var->prev = e->var->prev;
    else
        g->tail = e->var->prev;
    e->var->prev = e->var->next = NULL;
}

void sf_varindex_add(struct sf_varindex *x, struct sf_entry *e, const char *content_language)
{
    const char *mark = strstr(e->key, SF_VARIANT_MARK);
    if (mark == NULL || e->var != NULL)
        return;
    struct sf_vgroup *g = group_of(x, e->key, (size_t)(mark - e->key));
    e->var = sf_xcalloc(1, sizeof *e->var);
    e->var->group = g;
    group_push_front(g, e);
    g->count++;
    x->variants++;
    if (g->count > x->max_variants)
        x->over = g;
    if (sf_policy_language_hash(e->key, content_language, &e->var->lhash)) {
        if (x->nlang >= x->nlang_buckets)
            grow_lang(x);
        struct sf_entry **pp = &x->by_lang[e->var->lhash & (x->nlang_buckets - 1)];
        e->var->lnext = *pp; /* the newest first, as the walk by URL found them */
        *pp = e;
        e->var->lindexed = true;
        x->nlang++;
    }
}

void sf_varindex_remove(struct sf_varindex *x, struct sf_entry *e)
{
    if (e->var == NULL)
        return;
    struct sf_vgroup *g = e->var->group;
    if (e->var->lindexed) {
        struct sf_entry **pp = &x->by_lang[e->var->lhash & (x->nlang_buckets - 1)];
        while (*pp != e)
            pp = &(*pp)->var->lnext;
        *pp = e->var->lnext;
        x->nlang--;
    }
    group_unlink(g, e);
    free(e->var);
    e->var = NULL;
    x->variants--;
    if (--g->count == 0)
        group_free(x, g);
}

void sf_varindex_touch(struct sf_varindex *x, struct sf_entry *e)
{
    (void)x;
    if (e->var != NULL && e->var->group->head != e) {
        group_unlink(e->var->group, e);
        group_push_front(e->var->group, e);
    }
}

struct sf_entry *sf_varindex_over(struct sf_varindex *x)
{
    struct sf_vgroup *g = x->over;
    if (g == NULL || g->count <= x->max_variants) {
        x->over = NULL;
        return NULL;
    }
    return g->tail;
}

void sf_varindex_evicted(struct sf_varindex *x)
{
    x->evictions++;
}

struct sf_entry *sf_varindex_language_chain(const struct sf_varindex *x, uint64_t hash)
{
    return x->by_lang[hash & (x->nlang_buckets - 1)];
}
