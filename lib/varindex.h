/* varindex: the cache's index of stored variants (RFC 9111 §4.1), private to table.c and
 * cache.c. A URL's responses that vary are each listed under the URL's key plus the
 * variant its request selects (cache.c), so selecting the variant a request names is one
 * hash lookup. Two things need more than that, and would otherwise walk every variant of
 * the URL under the table lock (12,000 variants made every such lookup, and every other
 * client's hit, wait on that walk):
 *   - the bound: a URL keeps at most max_variants stored variants. Its variants form a
 *     group (by the key before SF_VARIANT_MARK), in least recently used order; storing one
 *     more marks the group over its bound, and the table evicts the group's least recently
 *     used variant (sf_varindex_over). Eviction rather than refusal: a flood of one-off
 *     values then pushes out only itself, while the variants clients keep asking for stay
 *     at the front; refusing would let the first max_variants values (an attacker's) keep
 *     the URL's room until the LRU evicts them, and no new language could be stored.
 *   - the language match (cache.c): a stored variant that differs from the one a request
 *     selects in Accept-Language alone and whose Content-Language is the language the
 *     request prefers most. Such variants are chained by a hash of exactly that (the key,
 *     the variant but its Accept-Language, the Content-Language lowercased:
 *     sf_policy_language_hash), so the match is a walk over the variants that could
 *     answer, not over every variant of the URL.
 * Every function runs under the table lock; the index holds no references (the table
 * does) and never frees an entry. */
#ifndef SF_VARINDEX_H
#define SF_VARINDEX_H

#include "entry.h"

/* The cache.max_variants a cache starts with. */
#define SF_VARINDEX_DEFAULT_MAX 64

struct sf_varindex {
    struct sf_vgroup **groups; /* (L) groups by the hash of their key */
    size_t ngroup_buckets;     /* (L) a power of two */
    size_t ngroups;            /* (L) */
    struct sf_entry **by_lang; /* (L) indexed variants by language hash */
    size_t nlang_buckets;      /* (L) a power of two */
    size_t nlang;              /* (L) */
    size_t max_variants;       /* (L) per URL, at least 1 */
    uint64_t variants;         /* (L) stored variants, every URL's */
    uint64_t evictions;        /* (L) variants evicted by the bound */
    struct sf_vgroup *over;    /* (L) a group over its bound, or NULL */
};

void sf_varindex_init(struct sf_varindex *x, size_t max_variants);
/* Frees the index's own memory; no entry may be in it any more. */
void sf_varindex_clear(struct sf_varindex *x);
/* A new bound: a group over it gives back its extra variants at its next store. */
void sf_varindex_set_max(struct sf_varindex *x, size_t max_variants);

/* Adds e, a stored response whose key has SF_VARIANT_MARK, as its URL's most recently used
 * variant (e->var, its place, is allocated here and freed by sf_varindex_remove); its Content-Language (NULL: none) puts it in the language index when its
 * variant names Accept-Language. No-op for a key without the mark. */
void sf_varindex_add(struct sf_varindex *x, struct sf_entry *e, const char *content_language);
/* Takes e out (no-op if it is not in). */
void sf_varindex_remove(struct sf_varindex *x, struct sf_entry *e);
/* e (in the index or not) was used now. */
void sf_varindex_touch(struct sf_varindex *x, struct sf_entry *e);
/* The variant to evict so that the group last stored into keeps its bound: its least
 * recently used one; NULL when no group is over. The caller unlists it (which removes it
 * here) and counts it with sf_varindex_evicted. */
struct sf_entry *sf_varindex_over(struct sf_varindex *x);
void sf_varindex_evicted(struct sf_varindex *x);

/* The first entry of the language chain hash (sf_policy_language_hash) falls in; walk on
 * with e->var->lnext, and take only entries whose e->var->lhash is hash. */
struct sf_entry *sf_varindex_language_chain(const struct sf_varindex *x, uint64_t hash);

#endif
