/* balance: see balance.h.
 *
 * A pool is an array of at most 64 servers, so every set (primaries, backups, usable,
 * tried, candidates) is one 64-bit word and a choice is one pass over the candidate bits:
 * no allocation, no sort. The rendezvous score of a server for a key mixes the key's hash
 * (computed once per choice) with the server id's (computed once, at creation), so a hash
 * choice with 64 servers costs 64 multiplications and, only when weights differ, one
 * logarithm per distinct weight (see rendezvous()).
 *
 * Lifetime: sf_balance_new to sf_balance_free, the caller's. Locking: none here; the caller
 * serialises choices on one pool (balance.h). */
#include "balance.h"

#include "base.h"

#include <math.h>
#include <stdlib.h>

#define SF_BALANCE_MAGIC 0xba1a9ce5u

/* (C) constant after creation  (S) changed by choices: the caller serialises them */
struct sf_balance {
    unsigned magic;                          /* SF_BALANCE_MAGIC */
    enum sf_balance_method method;           /* (C) */
    size_t n;                                /* (C) */
    sf_balance_set primaries;                /* (C) */
    sf_balance_set backups;                  /* (C) */
    bool equal_weights;                      /* (C) then a rendezvous score needs no logarithm */
    unsigned weight[SF_BALANCE_MAX_SERVERS]; /* (C) */
    unsigned char wclass[SF_BALANCE_MAX_SERVERS];  /* (C) index of the server's weight among: */
    unsigned nclasses;                             /* (C) the distinct weights, */
    unsigned class_weight[SF_BALANCE_MAX_SERVERS]; /* (C) in order of first use */
    uint64_t id_hash[SF_BALANCE_MAX_SERVERS];      /* (C) */
    int64_t current[SF_BALANCE_MAX_SERVERS];       /* (S) smooth round robin's current weights */
};

/* FNV-1a, then mixed. Not keyed on purpose: a key's server must be the same after a
 * restart and on every node, so that the origins' own caches stay warm; a client who
 * steers its keys to one server gains nothing it could not by repeating one key. */
static uint64_t text_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return sf_mix64(h);
}

struct sf_balance *sf_balance_new(enum sf_balance_method method,
                                  const struct sf_balance_server *servers, size_t n)
{
    SF_ASSERT(n >= 1 && n <= SF_BALANCE_MAX_SERVERS);
    struct sf_balance *b = sf_xcalloc(1, sizeof *b);
    b->magic = SF_BALANCE_MAGIC;
    b->method = method;
    b->n = n;
    b->equal_weights = true;
    for (size_t i = 0; i < n; i++) {
        SF_ASSERT(servers[i].weight >= 1 && servers[i].id != NULL);
        b->weight[i] = servers[i].weight;
        b->id_hash[i] = text_hash(servers[i].id);
        unsigned c = 0;
        while (c < b->nclasses && b->class_weight[c] != servers[i].weight)
            c++;
        if (c == b->nclasses)
            b->class_weight[b->nclasses++] = servers[i].weight;
        b->wclass[i] = (unsigned char)c;
        if (servers[i].weight != servers[0].weight)
            b->equal_weights = false;
        if (servers[i].backup)
            b->backups |= SF_BALANCE_BIT(i);
        else
            b->primaries |= SF_BALANCE_BIT(i);
    }
    SF_ASSERT(b->primaries != 0);
    return b;
}

void sf_balance_free(struct sf_balance *b)
{
    if (b == NULL)
        return;
    SF_CHECK_OBJ(b, SF_BALANCE_MAGIC);
    b->magic = 0;
    free(b);
}

/* The servers this attempt may go to (balance.h's three tiers). */
static sf_balance_set candidates(const struct sf_balance *b, sf_balance_set usable,
                                 sf_balance_set tried)
{
    sf_balance_set all = b->primaries | b->backups;
    usable &= all;
    if (usable == 0)
        return b->primaries & ~tried;
    if ((usable & b->primaries) != 0)
        return usable & b->primaries & ~tried;
    return usable & b->backups & ~tried;
}

/* nginx's smooth weighted round robin over set (not empty): every candidate gains its
 * weight, the largest (the first on a tie) is chosen and gives back the round's total. */
static int smooth_rr(struct sf_balance *b, sf_balance_set set)
{
    int best = -1;
    int64_t total = 0;
    for (sf_balance_set s = set; s != 0; s &= s - 1) {
        int i = __builtin_ctzll(s);
        b->current[i] += b->weight[i];
        total += b->weight[i];
        if (best < 0 || b->current[i] > b->current[best])
            best = i;
    }
    b->current[best] -= total;
    return best;
}

/* The candidates with the fewest running transfers per weight (a/wa < c/wc compared as
 * a*wc < c*wa, exact), then the round robin among them. */
static int least_conn(struct sf_balance *b, sf_balance_set set, const unsigned *active)
{
    SF_ASSERT(active != NULL);
    sf_balance_set tied = 0;
    int low = -1;
    for (sf_balance_set s = set; s != 0; s &= s - 1) {
        int i = __builtin_ctzll(s);
        if (low < 0) {
            low = i;
            tied = SF_BALANCE_BIT(i);
            continue;
        }
        uint64_t mine = (uint64_t)active[i] * b->weight[low];
        uint64_t theirs = (uint64_t)active[low] * b->weight[i];
        if (mine < theirs) {
            low = i;
            tied = SF_BALANCE_BIT(i);
        } else if (mine == theirs) {
            tied |= SF_BALANCE_BIT(i);
        }
    }
    return smooth_rr(b, tied);
}

/* Weighted rendezvous: each server scores weight / -ln(u), u uniform in (0, 1) from the
 * key and the server's id; the highest wins (the first on a tie). The score grows with u
 * at a fixed weight, so only the candidate with the largest u of its weight can win: with
 * equal weights u itself is compared and no logarithm is taken, and otherwise each
 * weight's best is found first (integer compares) and only those are scored, one
 * logarithm per distinct weight rather than one per candidate; the winner is the same as
 * scoring every candidate. The winner among the untried candidates is exactly the next
 * server in the key's full order. */
static int rendezvous(const struct sf_balance *b, sf_balance_set set, const char *key)
{
    SF_ASSERT(key != NULL);
    uint64_t kh = text_hash(key);
    int top[SF_BALANCE_MAX_SERVERS]; /* by weight class: its candidate of largest u */
    uint64_t top_u[SF_BALANCE_MAX_SERVERS];
    SF_ASSERT(b->nclasses >= 1); /* at least one server, so one weight */
    for (unsigned c = 0; c < b->nclasses; c++)
        top[c] = -1;
    for (sf_balance_set s = set; s != 0; s &= s - 1) {
        int i = __builtin_ctzll(s);
        uint64_t u = sf_mix64(kh ^ b->id_hash[i]);
        unsigned c = b->wclass[i];
        if (top[c] < 0 || u > top_u[c]) {
            top[c] = i;
            top_u[c] = u;
        }
    }
    if (b->equal_weights)
        return top[0];
    int best = -1;
    double best_score = 0;
    for (unsigned c = 0; c < b->nclasses; c++) {
        int i = top[c];
        if (i < 0)
            continue;
        /* u in (0, 1), never 0 or 1: the top 53 bits, offset by half a step. */
        double uf = ((double)(top_u[c] >> 11) + 0.5) / 9007199254740992.0;
        double score = (double)b->weight[i] / -log(uf);
        if (best < 0 || score > best_score || (score == best_score && i < best)) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

int sf_balance_choose(struct sf_balance *b, sf_balance_set usable, sf_balance_set tried,
                      const unsigned *active, const char *key)
{
    SF_CHECK_OBJ(b, SF_BALANCE_MAGIC);
    sf_balance_set set = candidates(b, usable, tried);
    if (set == 0)
        return -1;
    switch (b->method) {
    case SF_BALANCE_ROUND_ROBIN: return smooth_rr(b, set);
    case SF_BALANCE_LEAST_CONN: return least_conn(b, set, active);
    case SF_BALANCE_HASH: return rendezvous(b, set, key);
    }
    SF_ASSERT(!"unknown balance method");
    return -1;
}
