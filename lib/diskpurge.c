/* diskpurge: see diskpurge.h. Rules that say the same (kind, text, tag field) are one
 * entry with two slots, hard and soft, each holding the newest settled position and how
 * many of its tombstones are still pending: only the newest position matters, since a
 * rule selects the records below it, so a purge repeated a thousand times costs one entry.
 * URL rules are found by a keyed hash of their URL (sf_keyed_hash: clients choose URLs, so
 * nobody can make them collide into one probe run); prefix and tag rules are an admin's,
 * rare, and walked.
 *
 * Memory: an entry is about 64 bytes plus its strings, and 16 bytes of the URL table; a
 * rule lives until the log's tail passes its tombstone (at least 128 bytes of log each),
 * so a log of N bytes holds at most N / 128 rules. A flood of purges of distinct URLs
 * costs about 100 bytes plus the URL each, for one lap of the log, until the store's bound
 * collapses them (sf_diskpurge_collapse; docs/disk.md). */
#include "diskpurge.h"

#include "base.h"
#include "http.h"
#include "lebytes.h"
#include "siphash.h"

#include <stdlib.h>
#include <string.h>

#define SF_DISKPURGE_MAGIC 0xd15c9e6eu
#define ENCODING_VERSION 1
#define ENCODED_FIXED 12 /* version, kind, soft, reserved, text length, tag length */

enum { HARD, SOFT };

struct slot {
    uint64_t pos;     /* the newest settled tombstone's position; 0 for none */
    uint32_t pending; /* tombstones not yet written: the slot selects everything */
};

struct rule {
    enum sf_diskpurge_kind kind;
    char *text;
    size_t text_len;
    char *tag_header; /* TAG only */
    uint64_t hash;    /* URL only: sf_keyed_hash(text) */
    struct slot s[2]; /* [HARD], [SOFT] */
};

struct rules {
    struct rule **v;
    size_t n, cap;
};

struct sf_diskpurge {
    unsigned magic; /* SF_DISKPURGE_MAGIC */
    struct rules by_url;
    struct rules others; /* prefix and tag rules */
    size_t *table;       /* by_url's index + 1 per slot, 0 empty; linear probing */
    size_t nslots;       /* a power of two, at least twice by_url.n */
    size_t count;        /* rules: settled slots and pending tombstones */
    size_t of[2];        /* count's [HARD] and [SOFT] parts */
};

struct sf_diskpurge *sf_diskpurge_new(void)
{
    struct sf_diskpurge *p = sf_xcalloc(1, sizeof *p);
    p->magic = SF_DISKPURGE_MAGIC;
    p->nslots = 16;
    p->table = sf_xcalloc(p->nslots, sizeof *p->table);
    return p;
}

static void rule_free(struct rule *r)
{
    free(r->text);
    free(r->tag_header);
    free(r);
}

void sf_diskpurge_free(struct sf_diskpurge *p)
{
    if (p == NULL)
        return;
    SF_CHECK_OBJ(p, SF_DISKPURGE_MAGIC);
    for (size_t i = 0; i < p->by_url.n; i++)
        rule_free(p->by_url.v[i]);
    for (size_t i = 0; i < p->others.n; i++)
        rule_free(p->others.v[i]);
    free(p->by_url.v);
    free(p->others.v);
    free(p->table);
    p->magic = 0;
    free(p);
}

/* Rebuilds the URL table for by_url's entries, at least twice as many slots. */
static void rehash(struct sf_diskpurge *p)
{
    size_t n = 16;
    while (n < p->by_url.n * 2 + 2)
        n *= 2;
    free(p->table);
    p->table = sf_xcalloc(n, sizeof *p->table);
    p->nslots = n;
    for (size_t i = 0; i < p->by_url.n; i++) {
        size_t j = (size_t)p->by_url.v[i]->hash & (n - 1);
        while (p->table[j] != 0)
            j = (j + 1) & (n - 1);
        p->table[j] = i + 1;
    }
}

static struct rule *find_url(const struct sf_diskpurge *p, const char *url, size_t len)
{
    uint64_t h = sf_keyed_hash(url, len);
    for (size_t j = (size_t)h & (p->nslots - 1); p->table[j] != 0; j = (j + 1) & (p->nslots - 1)) {
        struct rule *r = p->by_url.v[p->table[j] - 1];
        if (r->hash == h && r->text_len == len && memcmp(r->text, url, len) == 0)
            return r;
    }
    return NULL;
}

static bool same_rule(const struct rule *r, const struct sf_diskpurge_rule *q)
{
    return r->kind == q->kind && strcmp(r->text, q->text) == 0 &&
           (r->kind != SF_DISKPURGE_TAG || strcmp(r->tag_header, q->tag_header) == 0);
}

/* The entry that says what q says, or NULL. */
static struct rule *find(const struct sf_diskpurge *p, const struct sf_diskpurge_rule *q)
{
    if (q->kind == SF_DISKPURGE_URL)
        return find_url(p, q->text, strlen(q->text));
    for (size_t i = 0; i < p->others.n; i++)
        if (same_rule(p->others.v[i], q))
            return p->others.v[i];
    return NULL;
}

static void push(struct rules *l, struct rule *r)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = sf_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = r;
}

static struct rule *insert(struct sf_diskpurge *p, const struct sf_diskpurge_rule *q)
{
    SF_ASSERT(q->text != NULL && (q->kind != SF_DISKPURGE_TAG || q->tag_header != NULL));
    struct rule *r = sf_xcalloc(1, sizeof *r);
    r->kind = q->kind;
    r->text = sf_xstrdup(q->text);
    r->text_len = strlen(q->text);
    if (q->kind == SF_DISKPURGE_TAG)
        r->tag_header = sf_xstrdup(q->tag_header);
    if (q->kind != SF_DISKPURGE_URL) {
        push(&p->others, r);
        return r;
    }
    r->hash = sf_keyed_hash(r->text, r->text_len);
    push(&p->by_url, r);
    if (p->by_url.n * 2 > p->nslots)
        rehash(p);
    else {
        size_t j = (size_t)r->hash & (p->nslots - 1);
        while (p->table[j] != 0)
            j = (j + 1) & (p->nslots - 1);
        p->table[j] = p->by_url.n;
    }
    return r;
}

void sf_diskpurge_add(struct sf_diskpurge *p, const struct sf_diskpurge_rule *q)
{
    SF_CHECK_OBJ(p, SF_DISKPURGE_MAGIC);
    struct rule *r = find(p, q);
    if (r == NULL)
        r = insert(p, q);
    struct slot *s = &r->s[q->soft ? SOFT : HARD];
    int k = q->soft ? SOFT : HARD;
    if (q->pos == SF_DISKPURGE_PENDING) {
        s->pending++;
        p->count++;
        p->of[k]++;
    } else if (q->pos > s->pos) {
        p->count += s->pos == 0;
        p->of[k] += s->pos == 0;
        s->pos = q->pos;
    }
}

void sf_diskpurge_settle(struct sf_diskpurge *p, const struct sf_diskpurge_rule *q, uint64_t pos)
{
    SF_CHECK_OBJ(p, SF_DISKPURGE_MAGIC);
    SF_ASSERT(pos != SF_DISKPURGE_PENDING);
    struct rule *r = find(p, q);
    SF_ASSERT(r != NULL && r->s[q->soft ? SOFT : HARD].pending > 0);
    struct slot *s = &r->s[q->soft ? SOFT : HARD];
    int k = q->soft ? SOFT : HARD;
    s->pending--;
    p->count--;
    p->of[k]--;
    if (pos > s->pos) {
        p->count += s->pos == 0;
        p->of[k] += s->pos == 0;
        s->pos = pos;
    }
}

/* Clears r's slots below tail; true when nothing is left of r. Counts what it drops. */
static bool retire_rule(struct rule *r, uint64_t tail, size_t dropped[2])
{
    for (int k = HARD; k <= SOFT; k++)
        if (r->s[k].pos != 0 && r->s[k].pos < tail) {
            r->s[k].pos = 0;
            dropped[k]++;
        }
    return r->s[HARD].pos == 0 && r->s[SOFT].pos == 0 && r->s[HARD].pending == 0 &&
           r->s[SOFT].pending == 0;
}

static void retire_list(struct rules *l, uint64_t tail, size_t dropped[2])
{
    size_t kept = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (retire_rule(l->v[i], tail, dropped))
            rule_free(l->v[i]);
        else
            l->v[kept++] = l->v[i];
    }
    l->n = kept;
}

size_t sf_diskpurge_retire(struct sf_diskpurge *p, uint64_t tail)
{
    SF_CHECK_OBJ(p, SF_DISKPURGE_MAGIC);
    size_t dropped[2] = {0, 0}, urls = p->by_url.n;
    retire_list(&p->by_url, tail, dropped);
    retire_list(&p->others, tail, dropped);
    if (p->by_url.n != urls)
        rehash(p);
    p->count -= dropped[HARD] + dropped[SOFT];
    p->of[HARD] -= dropped[HARD];
    p->of[SOFT] -= dropped[SOFT];
    return dropped[HARD] + dropped[SOFT];
}

size_t sf_diskpurge_count_of(const struct sf_diskpurge *p, bool soft)
{
    SF_CHECK_OBJ(p, SF_DISKPURGE_MAGIC);
    return p->of[soft ? SOFT : HARD];
}

size_t sf_diskpurge_collapse(struct sf_diskpurge *p, bool soft)
{
    SF_CHECK_OBJ(p, SF_DISKPURGE_MAGIC);
    int k = soft ? SOFT : HARD;
    size_t n = 0;
    for (int l = 0; l < 2; l++) {
        struct rules *rs = l == 0 ? &p->by_url : &p->others;
        for (size_t i = 0; i < rs->n; i++)
            if (rs->v[i]->s[k].pos != 0) {
                rs->v[i]->s[k].pos = 0;
                n++;
            }
    }
    p->count -= n;
    p->of[k] -= n;
    sf_diskpurge_retire(p, 0); /* frees the entries left with nothing */
    return n;
}

size_t sf_diskpurge_count(const struct sf_diskpurge *p)
{
    SF_CHECK_OBJ(p, SF_DISKPURGE_MAGIC);
    return p->count;
}

/* Whether slot s selects a record at rec_pos: a pending tombstone selects every record. */
static bool slot_selects(const struct slot *s, uint64_t rec_pos)
{
    return s->pending > 0 || s->pos > rec_pos;
}

static bool rule_matches(const struct rule *r, const struct sf_diskstore_match *m,
                         const uint8_t *head, uint32_t head_len)
{
    if (r->kind == SF_DISKPURGE_PREFIX)
        return m->url != NULL && m->url_len >= r->text_len &&
               memcmp(m->url, r->text, r->text_len) == 0;
    if (m->tag_values == NULL)
        return false;
    const char *v = m->tag_values(m->ctx, head, head_len, r->tag_header);
    return v != NULL && sf_http_tags_have(v, r->text);
}

/* Adds what r says of a record at rec_pos to *hard and *soft. */
static void apply(const struct rule *r, uint64_t rec_pos, bool *hard, bool *soft)
{
    *hard = *hard || slot_selects(&r->s[HARD], rec_pos);
    *soft = *soft || slot_selects(&r->s[SOFT], rec_pos);
}

enum sf_diskpurge_hit sf_diskpurge_check(const struct sf_diskpurge *p, uint64_t rec_pos,
                                         const struct sf_diskstore_match *m, const uint8_t *head,
                                         uint32_t head_len)
{
    SF_CHECK_OBJ(p, SF_DISKPURGE_MAGIC);
    bool hard = false, soft = false;
    if (m->url != NULL && p->by_url.n > 0) {
        const struct rule *r = find_url(p, m->url, m->url_len);
        if (r != NULL)
            apply(r, rec_pos, &hard, &soft);
    }
    /* A hard purge after the record wins over any soft one: no need to look further. */
    for (size_t i = 0; i < p->others.n && !hard; i++) {
        const struct rule *r = p->others.v[i];
        bool h = false, s = false;
        apply(r, rec_pos, &h, &s);
        if ((h && !hard) || (s && !soft)) {
            if (rule_matches(r, m, head, head_len))
                hard = hard || h, soft = soft || s;
        }
    }
    return hard ? SF_DISKPURGE_REMOVED : soft ? SF_DISKPURGE_INVALIDATED : SF_DISKPURGE_NONE;
}

bool sf_diskpurge_next(const struct sf_diskpurge *p, size_t *cursor, struct sf_diskpurge_rule *out)
{
    SF_CHECK_OBJ(p, SF_DISKPURGE_MAGIC);
    /* The cursor counts slots: two per entry, URL entries first. Pending slots are not
     * written (their tombstones are not yet on disk; the scan finds them once they are). */
    size_t total = (p->by_url.n + p->others.n) * 2;
    for (size_t c = *cursor; c < total; c++) {
        size_t i = c / 2;
        const struct rule *r = i < p->by_url.n ? p->by_url.v[i] : p->others.v[i - p->by_url.n];
        int k = (int)(c % 2);
        if (r->s[k].pos == 0)
            continue;
        *out = (struct sf_diskpurge_rule){.pos = r->s[k].pos,
                                          .kind = r->kind,
                                          .soft = k == SOFT,
                                          .text = r->text,
                                          .tag_header = r->tag_header};
        *cursor = c + 1;
        return true;
    }
    *cursor = total;
    return false;
}

size_t sf_diskpurge_encode(const struct sf_diskpurge_rule *r, uint8_t *out, size_t cap)
{
    size_t tl = strlen(r->text);
    size_t gl = r->kind == SF_DISKPURGE_TAG ? strlen(r->tag_header) : 0;
    if (tl > UINT32_MAX || gl > UINT32_MAX || cap < ENCODED_FIXED || cap - ENCODED_FIXED < tl ||
        cap - ENCODED_FIXED - tl < gl)
        return 0;
    out[0] = ENCODING_VERSION;
    out[1] = (uint8_t)r->kind;
    out[2] = r->soft ? 1 : 0;
    out[3] = 0;
    sf_le_put32(out + 4, (uint32_t)tl);
    sf_le_put32(out + 8, (uint32_t)gl);
    memcpy(out + ENCODED_FIXED, r->text, tl);
    if (gl)
        memcpy(out + ENCODED_FIXED + tl, r->tag_header, gl);
    return ENCODED_FIXED + tl + gl;
}

/* len bytes at s copied to d as a C string: false if they hold a NUL (no rule does). */
static bool copy_text(char *d, const uint8_t *s, size_t len)
{
    if (len > 0 && memchr(s, '\0', len) != NULL)
        return false;
    if (len)
        memcpy(d, s, len);
    d[len] = '\0';
    return true;
}

bool sf_diskpurge_decode(const uint8_t *key, size_t key_len, uint64_t pos, char *scratch,
                         size_t cap, struct sf_diskpurge_rule *out)
{
    memset(out, 0, sizeof *out);
    if (key_len < ENCODED_FIXED || key[0] != ENCODING_VERSION || key[2] > 1 || key[3] != 0)
        return false;
    unsigned kind = key[1];
    if (kind != SF_DISKPURGE_URL && kind != SF_DISKPURGE_PREFIX && kind != SF_DISKPURGE_TAG)
        return false;
    uint64_t tl = sf_le_get32(key + 4), gl = sf_le_get32(key + 8);
    if (ENCODED_FIXED + tl + gl != key_len || (kind == SF_DISKPURGE_TAG) != (gl > 0) ||
        tl + gl + 2 > cap)
        return false;
    const uint8_t *text = key + ENCODED_FIXED;
    if (!copy_text(scratch, text, (size_t)tl))
        return false;
    char *tag = NULL;
    if (gl) {
        tag = scratch + tl + 1;
        if (!copy_text(tag, text + tl, (size_t)gl))
            return false;
    }
    *out = (struct sf_diskpurge_rule){.pos = pos,
                                      .kind = (enum sf_diskpurge_kind)kind,
                                      .soft = key[2] == 1,
                                      .text = scratch,
                                      .tag_header = tag};
    return true;
}
