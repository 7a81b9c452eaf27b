/* Unit tests for lib/diskload.c, on real files in a temporary directory: a log written
 * record by record as the store's writer lays it out (sf_diskrec_encode, pwrite at the log's
 * base + pos % size, a record that does not fit at a lap's end at the next lap's start),
 * then the checkpoint's round trip, the scan after it, the scan of a whole log (wrapped
 * too, and a checkpoint a lap behind it), a damaged checkpoint or one of another store
 * refused with a note, a damaged header in the middle passed over (the records and the
 * tombstone after it found), torn and truncated last records, and purge rules brought
 * back from tombstones. Each entry's URL hash (its key up to the first "\n"; keys here
 * share URLs three at a time) comes back from the checkpoint and from every scan, and the
 * index's counts per URL with it; a checkpoint of version 1 (without them) is refused for
 * the full scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/diskindex.h"
#include "../../lib/diskload.h"
#include "../../lib/diskpurge.h"
#include "../../lib/diskrec.h"
#include "../../lib/disktail.h"
#include "../../lib/diskurls.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define BASE 4096
#define MAX_RECS 4096

struct rec {
    uint64_t pos, size, key_hash, variant;
    uint32_t url; /* the key's URL's hash */
    bool tombstone;
};

/* A store file and what was written into it. */
struct sim {
    char dir[64];
    struct sf_disklog log;
    uint64_t head;
    struct rec recs[MAX_RECS];
    size_t n;
    uint32_t seed;
};

static uint32_t rnd(struct sim *s)
{
    s->seed = s->seed * 1103515245u + 12345u;
    return s->seed >> 8;
}

static void sim_open(struct sim *s, uint64_t log_size, uint64_t store_id)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/sfdiskloadXXXXXX");
    assert_non_null(mkdtemp(s->dir));
    char name[128];
    snprintf(name, sizeof name, "%s/store", s->dir);
    s->log.fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(s->log.fd >= 0);
    assert_int_equal(ftruncate(s->log.fd, (off_t)(BASE + log_size)), 0);
    s->log.base = BASE;
    s->log.size = log_size;
    for (int i = 0; i < 16; i++)
        s->log.hash_key[i] = (uint8_t)(store_id + i);
    s->log.store_id = store_id;
    s->log.sum_seed = 0x5eed5eed5eedull * store_id;
    s->seed = 7;
}

static void sim_close(struct sim *s)
{
    char name[128];
    close(s->log.fd);
    snprintf(name, sizeof name, "%s/store", s->dir);
    unlink(name);
    snprintf(name, sizeof name, "%s/index.ckpt", s->dir);
    unlink(name);
    rmdir(s->dir);
}

/* Writes a record (or a tombstone whose key is rule's encoding) as the writer does. */
static struct rec *sim_write(struct sim *s, uint64_t key_hash, uint64_t variant, uint32_t body_len,
                             const struct sf_diskpurge_rule *rule)
{
    char key[256];
    uint32_t key_len;
    if (rule != NULL)
        key_len = (uint32_t)sf_diskpurge_encode(rule, (uint8_t *)key, sizeof key);
    else /* three keys to a URL, as credentials or a route's key fields make them */
        key_len =
            (uint32_t)snprintf(key, sizeof key, "http://o/%llu\nauthorization:%llu",
                               (unsigned long long)key_hash / 3, (unsigned long long)key_hash);
    uint32_t head_len = rule ? 0 : 20;
    body_len = rule ? 0 : body_len;
    size_t size = sf_diskrec_size(key_len, head_len, body_len);
    if (s->head % s->log.size + size > s->log.size)
        s->head += s->log.size - s->head % s->log.size; /* the next lap's start */
    uint8_t *buf = malloc(size), *body = calloc(1, body_len + 1);
    for (uint32_t i = 0; i < body_len; i++)
        body[i] = (uint8_t)(key_hash + i);
    struct sf_diskrec_meta m = {.pos = s->head,
                                .key_hash = key_hash,
                                .variant = variant,
                                .stored_ms = 1,
                                .expires_ms = rule ? 0 : 4000000000000,
                                .flags = rule ? SF_DISKREC_F_TOMBSTONE : 0,
                                .key_len = key_len,
                                .head_len = head_len,
                                .body_len = body_len};
    size_t written;
    assert_int_equal(sf_diskrec_encode(s->log.sum_seed, &m, key, "HTTP/1.1 200 OK\r\n\r\n!", body,
                                       buf, size, &written),
                     SF_DISKREC_OK);
    assert_int_equal(pwrite(s->log.fd, buf, size, (off_t)(BASE + s->head % s->log.size)),
                     (ssize_t)size);
    free(buf);
    free(body);
    assert_true(s->n < MAX_RECS);
    struct rec *r = &s->recs[s->n++];
    *r = (struct rec){.pos = s->head,
                      .size = size,
                      .key_hash = key_hash,
                      .variant = variant,
                      .url = sf_diskurls_hash(s->log.hash_key, key, key_len),
                      .tombstone = rule != NULL};
    s->head += size;
    return r;
}

static uint64_t tail(const struct sim *s, uint64_t head)
{
    return head > s->log.size ? head - s->log.size : 0;
}

/* The index a store would hold after the writes so far: each key's newest live record. */
static struct sf_diskindex *expected_index(const struct sim *s)
{
    struct sf_diskindex *x = sf_diskindex_new(100000);
    for (size_t i = 0; i < s->n; i++) {
        const struct rec *r = &s->recs[i];
        if (r->tombstone || r->pos < tail(s, s->head))
            continue;
        struct sf_diskindex_entry e = {.key_hash = r->key_hash,
                                       .variant = r->variant,
                                       .pos = r->pos,
                                       .size = (uint32_t)r->size,
                                       .expires_s = 4000000000u,
                                       .url = r->url};
        assert_int_not_equal(sf_diskindex_put(x, &e, tail(s, s->head)), SF_DISKINDEX_FULL);
    }
    return x;
}

/* Every record that is its key's newest and live is in x, at its place; no other is. */
static void assert_index_holds(const struct sim *s, const struct sf_diskindex *x, uint64_t head,
                               const struct rec *lost)
{
    uint64_t t = tail(s, head);
    for (size_t i = 0; i < s->n; i++) {
        const struct rec *r = &s->recs[i];
        if (r->tombstone)
            continue;
        bool newest = r->pos >= t;
        for (size_t j = i + 1; j < s->n; j++)
            if (s->recs[j].key_hash == r->key_hash && s->recs[j].variant == r->variant &&
                !s->recs[j].tombstone && &s->recs[j] != lost)
                newest = false;
        struct sf_diskindex_entry e;
        bool got = sf_diskindex_get(x, r->key_hash, r->variant, t, &e);
        if (r == lost || !newest) {
            assert_true(!got || e.pos != r->pos);
            continue;
        }
        if (!got)
            fail_msg("record %zu (pos %llu) not indexed", i, (unsigned long long)r->pos);
        assert_int_equal(e.pos, r->pos);
        assert_int_equal(e.size, r->size);
        assert_int_equal(e.expires_s, 4000000000u);
        assert_int_equal(e.url, r->url);
    }
    /* Each URL counted once per live entry of it: the dead were swept at the load's end. */
    struct sf_diskindex_entry e;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t n = 0;
        for (size_t cur = 0; sf_diskindex_next(x, &cur, t, &e);)
            n += e.url == s->recs[i].url;
        if (!s->recs[i].tombstone)
            assert_int_equal(sf_diskindex_url_entries(x, s->recs[i].url), n);
    }
    assert_int_equal(
        sf_diskindex_url_entries(x, sf_diskurls_hash(s->log.hash_key, "http://o/none", 13)), 0);
}

static struct sf_diskload_result run(const struct sim *s, struct sf_diskindex **x,
                                     struct sf_diskpurge **p)
{
    *x = sf_diskindex_new(100000);
    *p = sf_diskpurge_new();
    struct sf_diskload_result r;
    char err[256] = "";
    if (!sf_diskload_run(s->dir, &s->log, *x, *p, &r, err, sizeof err))
        fail_msg("run: %s", err);
    return r;
}

static void save(const struct sim *s, const struct sf_diskindex *x, const struct sf_diskpurge *p)
{
    char err[256] = "";
    if (!sf_diskload_save(s->dir, &s->log, s->head, 0, x, p, err, sizeof err))
        fail_msg("save: %s", err);
}

static enum sf_diskpurge_hit check_url(const struct sf_diskpurge *p, uint64_t pos, const char *url)
{
    struct sf_diskstore_match m = {.url = url, .url_len = strlen(url)};
    return sf_diskpurge_check(p, pos, &m, NULL, 0);
}

static void write_some(struct sim *s, uint64_t first_key, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sim_write(s, first_key + i, i % 3 == 0 ? 0 : 1000 + i, 100 + rnd(s) % 3000, NULL);
}

static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    struct sim s;
    sim_open(&s, 1 << 20, 42);
    write_some(&s, 1, 50);
    struct sf_diskindex *want = expected_index(&s);
    struct sf_diskpurge *rules = sf_diskpurge_new();
    struct sf_diskpurge_rule r = {.pos = s.recs[10].pos, .kind = SF_DISKPURGE_URL, .text = "u"};
    sf_diskpurge_add(rules, &r);
    struct sf_diskpurge_rule pending = {
        .pos = SF_DISKPURGE_PENDING, .kind = SF_DISKPURGE_PREFIX, .text = "p"};
    sf_diskpurge_add(rules, &pending);
    /* A rule no tombstone key can hold (the store never writes one) is left out. */
    static char longer[SF_DISKREC_MAX_KEY + 1];
    memset(longer, 'l', sizeof longer - 1);
    struct sf_diskpurge_rule too_long = {.pos = 100, .kind = SF_DISKPURGE_URL, .text = longer};
    sf_diskpurge_add(rules, &too_long);
    save(&s, want, rules);

    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result res = run(&s, &x, &p);
    assert_true(res.from_checkpoint);
    assert_string_equal(res.note, "");
    assert_int_equal(res.head, s.head);
    assert_int_equal(res.scanned, 0);
    assert_int_equal(res.damaged, 0);
    assert_int_equal(sf_diskindex_count(x), sf_diskindex_count(want));
    assert_index_holds(&s, x, res.head, NULL);
    /* The settled rule came back; the pending one was not written. */
    assert_int_equal(sf_diskpurge_count(p), 1);
    assert_int_equal(check_url(p, s.recs[9].pos, "u"), SF_DISKPURGE_REMOVED);
    assert_int_equal(check_url(p, s.recs[10].pos, "u"), SF_DISKPURGE_NONE);
    assert_int_equal(check_url(p, 0, "px"), SF_DISKPURGE_NONE);
    sf_diskindex_free(x), sf_diskpurge_free(p), sf_diskindex_free(want), sf_diskpurge_free(rules);
    sim_close(&s);
}

static void test_checkpoint_then_scan(void **state)
{
    (void)state;
    struct sim s;
    sim_open(&s, 1 << 20, 42);
    write_some(&s, 1, 30);
    struct sf_diskindex *want = expected_index(&s);
    struct sf_diskpurge *rules = sf_diskpurge_new();
    save(&s, want, rules);
    write_some(&s, 100, 10);
    struct sf_diskpurge_rule r = {.kind = SF_DISKPURGE_URL, .soft = true, .text = "http://o/5"};
    struct rec *t = sim_write(&s, 5, 0, 0, &r);
    write_some(&s, 1, 5); /* newer records of keys the checkpoint holds */
    write_some(&s, 200, 5);

    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result res = run(&s, &x, &p);
    assert_true(res.from_checkpoint);
    assert_int_equal(res.head, s.head);
    assert_int_equal(res.scanned, 20);
    assert_int_equal(res.tombstones, 1);
    assert_index_holds(&s, x, res.head, NULL);
    assert_int_equal(check_url(p, t->pos - 1, "http://o/5"), SF_DISKPURGE_INVALIDATED);
    assert_int_equal(check_url(p, t->pos + 1, "http://o/5"), SF_DISKPURGE_NONE);
    sf_diskindex_free(x), sf_diskpurge_free(p), sf_diskindex_free(want), sf_diskpurge_free(rules);
    sim_close(&s);
}

static void test_no_checkpoint(void **state)
{
    (void)state;
    struct sim s;
    sim_open(&s, 1 << 20, 42);
    write_some(&s, 1, 100);
    struct sf_diskpurge_rule r = {
        .kind = SF_DISKPURGE_TAG, .text = "blue", .tag_header = "Surrogate-Key"};
    sim_write(&s, 77, 0, 0, &r);
    write_some(&s, 1, 10);
    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    assert_string_equal(res.note, "no checkpoint");
    assert_int_equal(res.head, s.head);
    assert_int_equal(res.tombstones, 1);
    assert_int_equal(sf_diskpurge_count(p), 1);
    assert_index_holds(&s, x, res.head, NULL);
    sf_diskindex_free(x), sf_diskpurge_free(p);
    sim_close(&s);
}

/* Keys rewritten at random over several laps of a log whose size is no multiple of 64. */
static void write_laps(struct sim *s, double laps, struct sf_diskpurge_rule *rule)
{
    uint64_t until = (uint64_t)((double)s->log.size * laps);
    for (size_t i = 0; s->head < until; i++) {
        if (rule != NULL && i % 37 == 0)
            sim_write(s, 0, 0, 0, rule);
        else
            sim_write(s, 1 + rnd(s) % 60, rnd(s) % 2, 1000 + rnd(s) % 3000, NULL);
    }
}

static void test_wrapped_log(void **state)
{
    (void)state;
    struct sim s;
    sim_open(&s, 100000 + 17, 42);
    struct sf_diskpurge_rule rule = {.kind = SF_DISKPURGE_URL, .text = "http://o/1"};
    write_laps(&s, 3.4, &rule);
    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    assert_int_equal(res.head, s.head);
    assert_int_equal(res.damaged, 0); /* the last lap's overwritten part is no damage */
    assert_index_holds(&s, x, res.head, NULL);
    /* The tombstones below the tail are retired; the live ones kept, as one rule. */
    assert_int_equal(sf_diskpurge_count(p), 1);
    uint64_t newest = 0;
    for (size_t i = 0; i < s.n; i++)
        if (s.recs[i].tombstone)
            newest = s.recs[i].pos;
    assert_int_equal(check_url(p, newest - 1, "http://o/1"), SF_DISKPURGE_REMOVED);
    assert_int_equal(check_url(p, newest, "http://o/1"), SF_DISKPURGE_NONE);
    sf_diskindex_free(x), sf_diskpurge_free(p);

    /* A checkpoint half a lap back, the scan after it crossing the lap's end. */
    struct sf_diskindex *want = expected_index(&s);
    struct sf_diskpurge *none = sf_diskpurge_new();
    save(&s, want, none);
    write_laps(&s, 3.4 + 0.8, NULL);
    res = run(&s, &x, &p);
    assert_true(res.from_checkpoint);
    assert_int_equal(res.head, s.head);
    assert_int_equal(res.damaged, 0);
    assert_index_holds(&s, x, res.head, NULL);
    sf_diskindex_free(x), sf_diskpurge_free(p);

    /* The log went on more than a lap past that checkpoint: it is refused as stale and
     * the whole log scanned. */
    write_laps(&s, 3.4 + 2.1, NULL);
    res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    assert_non_null(strstr(res.note, "past the checkpoint"));
    assert_int_equal(res.head, s.head);
    assert_int_equal(res.damaged, 0);
    assert_index_holds(&s, x, res.head, NULL);
    sf_diskindex_free(x), sf_diskpurge_free(p), sf_diskindex_free(want), sf_diskpurge_free(none);
    sim_close(&s);
}

static void flip_file_byte(const char *dir, const char *file, off_t at)
{
    char name[128];
    snprintf(name, sizeof name, "%s/%s", dir, file);
    int fd = open(name, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

/* Writes len bytes at at into dir's checkpoint, and its checksum again over them. */
static void patch_checkpoint(const char *dir, off_t at, const uint8_t *bytes, size_t len)
{
    char ck[128];
    snprintf(ck, sizeof ck, "%s/index.ckpt", dir);
    int fd = open(ck, O_RDWR);
    assert_true(fd >= 0);
    off_t n = lseek(fd, 0, SEEK_END);
    uint8_t *b = malloc((size_t)n);
    assert_int_equal(pread(fd, b, (size_t)n, 0), n);
    memcpy(b + at, bytes, len);
    uint64_t sum = XXH3_64bits(b, (size_t)n - 8);
    for (int i = 0; i < 8; i++)
        b[n - 8 + i] = (uint8_t)(sum >> (8 * i));
    assert_int_equal(pwrite(fd, b, (size_t)n, 0), n);
    close(fd);
    free(b);
}

static void test_refused_checkpoints(void **state)
{
    (void)state;
    struct sim s;
    sim_open(&s, 1 << 20, 42);
    write_some(&s, 1, 40);
    struct sf_diskindex *want = expected_index(&s);
    struct sf_diskpurge *rules = sf_diskpurge_new();
    save(&s, want, rules);
    flip_file_byte(s.dir, "index.ckpt", 48 + 36 * 7 + 3); /* in an entry */
    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    assert_string_equal(res.note, "checkpoint damaged (checksum)");
    assert_int_equal(res.head, s.head);
    assert_int_equal(res.scanned, 40);
    assert_index_holds(&s, x, res.head, NULL);
    sf_diskindex_free(x), sf_diskpurge_free(p);

    /* A checksum that matches over an entry no writer makes (a size of 0): refused whole,
     * the entries before it not kept. */
    save(&s, want, rules);
    static const uint8_t zeros[4];
    patch_checkpoint(s.dir, 48 + 36 * 20 + 24, zeros, 4);
    res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    assert_string_equal(res.note, "checkpoint malformed (entry 20)");
    assert_int_equal(res.scanned, 40);
    assert_index_holds(&s, x, res.head, NULL);
    sf_diskindex_free(x), sf_diskpurge_free(p);

    /* A sound checkpoint of version 1 (its entries had no URL hash): never read as this
     * version's; the full scan brings every entry back with its URL. */
    save(&s, want, rules);
    static const uint8_t v1[4] = {1, 0, 0, 0};
    patch_checkpoint(s.dir, 4, v1, 4);
    res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    assert_string_equal(res.note, "checkpoint of another version");
    assert_int_equal(res.scanned, 40);
    assert_index_holds(&s, x, res.head, NULL);
    sf_diskindex_free(x), sf_diskpurge_free(p);

    /* Sound, but of another store (the store file was made anew). */
    save(&s, want, rules);
    s.log.store_id = 43;
    res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    assert_string_equal(res.note, "checkpoint of another store");
    assert_index_holds(&s, x, res.head, NULL);
    sf_diskindex_free(x), sf_diskpurge_free(p);
    s.log.size -= 64;
    res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    sf_diskindex_free(x), sf_diskpurge_free(p);

    /* A directory that is not there: the save says so. */
    char err[256] = "";
    struct sf_disklog log = s.log;
    assert_false(
        sf_diskload_save("/nonexistent/sfproxy", &log, s.head, 0, want, rules, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/sfproxy/index.ckpt"));
    sf_diskindex_free(want), sf_diskpurge_free(rules);
    sim_close(&s);
}

/* Whether a record of s below at (and none at or above it) is indexed in x. */
static void assert_given_up_below(const struct sim *s, const struct sf_diskindex *x, uint64_t at)
{
    for (size_t i = 0; i < s->n; i++) {
        struct sf_diskindex_entry e;
        bool got = sf_diskindex_get(x, s->recs[i].key_hash, s->recs[i].variant, 0, &e) &&
                   e.pos == s->recs[i].pos;
        if (got != (s->recs[i].pos >= at))
            fail_msg("record %zu (pos %llu): indexed %d, the tail %llu", i,
                     (unsigned long long)s->recs[i].pos, got, (unsigned long long)at);
    }
}

/* The index tail (the records a full index gave up lie below it): the checkpoint saves no
 * entry below it and names it, and the load starts its evictions from it; index.tail
 * (disktail.h), saved later, bounds the load the same way, with or without a checkpoint;
 * a tail past the head is malformed. */
static void test_index_tail(void **state)
{
    (void)state;
    struct sim s;
    sim_open(&s, 1 << 20, 42);
    for (size_t i = 0; i < 40; i++)
        sim_write(&s, 1 + i, 0, 100 + rnd(&s) % 3000, NULL); /* distinct keys */
    struct sf_diskindex *want = expected_index(&s);
    struct sf_diskpurge *rules = sf_diskpurge_new();
    uint64_t at = s.recs[10].pos;
    char err[256] = "";
    assert_true(sf_diskload_save(s.dir, &s.log, s.head, at, want, rules, err, sizeof err));
    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result res = run(&s, &x, &p);
    assert_true(res.from_checkpoint);
    assert_int_equal(res.evict_tail, at);
    assert_given_up_below(&s, x, at);
    sf_diskindex_free(x), sf_diskpurge_free(p);

    /* A later tail in index.tail: the checkpoint's entries below it are not indexed. */
    at = s.recs[20].pos;
    assert_true(sf_disktail_save(s.dir, s.log.store_id, s.log.size, at, err, sizeof err));
    res = run(&s, &x, &p);
    assert_true(res.from_checkpoint);
    assert_int_equal(res.evict_tail, at);
    assert_given_up_below(&s, x, at);
    sf_diskindex_free(x), sf_diskpurge_free(p);
    /* Nor the scan's, without a checkpoint. */
    char name[128];
    snprintf(name, sizeof name, "%s/index.ckpt", s.dir);
    assert_int_equal(unlink(name), 0);
    res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    assert_given_up_below(&s, x, at);
    sf_diskindex_free(x), sf_diskpurge_free(p);
    snprintf(name, sizeof name, "%s/index.tail", s.dir);
    assert_int_equal(unlink(name), 0);

    /* Past the head: refused whole. */
    assert_true(sf_diskload_save(s.dir, &s.log, s.head, 0, want, rules, err, sizeof err));
    uint8_t past[8];
    for (int i = 0; i < 8; i++)
        past[i] = (uint8_t)((s.head + 1) >> (8 * i));
    patch_checkpoint(s.dir, 40, past, 8);
    res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    assert_string_equal(res.note, "checkpoint malformed (index tail)");
    assert_given_up_below(&s, x, 0);
    sf_diskindex_free(x), sf_diskpurge_free(p);
    sf_diskindex_free(want), sf_diskpurge_free(rules);
    sim_close(&s);
}

/* A flipped byte at header offset at of the 11th record, with or without a checkpoint
 * from before it: that record is lost, and the records and the tombstone after it are
 * found, the head where it was. */
static void damaged_header(size_t at, bool checkpoint)
{
    struct sim s;
    sim_open(&s, 1 << 20, 42);
    write_some(&s, 1, 5);
    struct sf_diskindex *want = expected_index(&s);
    struct sf_diskpurge *rules = sf_diskpurge_new();
    if (checkpoint)
        save(&s, want, rules);
    write_some(&s, 10, 5);
    struct rec *lost = sim_write(&s, 999, 0, 5000, NULL);
    write_some(&s, 20, 5);
    struct sf_diskpurge_rule r = {.kind = SF_DISKPURGE_PREFIX, .text = "http://o/2"};
    struct rec *t = sim_write(&s, 0, 0, 0, &r);
    write_some(&s, 30, 5);
    flip_file_byte(s.dir, "store", (off_t)(BASE + lost->pos + at));
    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result res = run(&s, &x, &p);
    assert_int_equal(res.from_checkpoint, checkpoint);
    assert_int_equal(res.head, s.head);
    assert_int_equal(res.damaged, 1);
    assert_int_equal(res.tombstones, 1);
    assert_index_holds(&s, x, res.head, lost);
    assert_int_equal(check_url(p, t->pos - 1, "http://o/20"), SF_DISKPURGE_REMOVED);
    sf_diskindex_free(x), sf_diskpurge_free(p), sf_diskindex_free(want), sf_diskpurge_free(rules);
    sim_close(&s);
}

static void test_damaged_header(void **state)
{
    (void)state;
    static const size_t at[] = {0, 2, 5, 17, 30, 64, 79};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        damaged_header(at[i], true);
        damaged_header(at[i], false);
    }
}

enum tear { TEAR_ZEROS, TEAR_HALF_HEADER, TEAR_BODY, TEAR_TRUNCATED };

/* The last record torn as a crash can leave it: the head resumes at it (its header
 * unsound: the writer overwrites it) or past it (its header sound: the read finds the
 * damage), never in front of a sound record. */
static void torn_last(enum tear how, bool checkpoint)
{
    struct sim s;
    sim_open(&s, 1 << 20, 42);
    write_some(&s, 1, 5);
    struct sf_diskindex *want = expected_index(&s);
    struct sf_diskpurge *rules = sf_diskpurge_new();
    if (checkpoint)
        save(&s, want, rules);
    write_some(&s, 10, 5);
    struct rec *last = sim_write(&s, 999, 0, 3000, NULL);
    uint64_t resume = last->pos;
    uint8_t zeros[4096] = {0};
    off_t at = (off_t)(BASE + last->pos);
    switch (how) {
    case TEAR_ZEROS:
        assert_int_equal(pwrite(s.log.fd, zeros, last->size, at), (ssize_t)last->size);
        break;
    case TEAR_HALF_HEADER: /* the header's first 40 bytes written, nothing after */
        assert_int_equal(pwrite(s.log.fd, zeros, last->size - 40, at + 40),
                         (ssize_t)last->size - 40);
        break;
    case TEAR_BODY: /* the header whole, the body never written */
        assert_int_equal(pwrite(s.log.fd, zeros, last->size - 128, at + 128),
                         (ssize_t)last->size - 128);
        resume = s.head;
        break;
    case TEAR_TRUNCATED: assert_int_equal(ftruncate(s.log.fd, at + 50), 0); break;
    }
    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result res = run(&s, &x, &p);
    assert_int_equal(res.from_checkpoint, checkpoint);
    assert_int_equal(res.head, resume);
    assert_index_holds(&s, x, res.head, how == TEAR_BODY ? NULL : last);
    sf_diskindex_free(x), sf_diskpurge_free(p), sf_diskindex_free(want), sf_diskpurge_free(rules);
    sim_close(&s);
}

static void test_torn_last_record(void **state)
{
    (void)state;
    for (int how = TEAR_ZEROS; how <= TEAR_TRUNCATED; how++) {
        torn_last((enum tear)how, true);
        torn_last((enum tear)how, false);
    }
}

/* The writer's skip to the next lap when a record does not fit, with the checkpoint's
 * head at the very place it skipped from. */
static void test_skip_at_lap_end(void **state)
{
    (void)state;
    struct sim s;
    sim_open(&s, 64 * 1024, 42);
    while (s.head + 5000 < s.log.size)
        sim_write(&s, 1 + s.n, 0, 2000, NULL);
    struct sf_diskindex *want = expected_index(&s);
    struct sf_diskpurge *rules = sf_diskpurge_new();
    save(&s, want, rules);
    uint64_t before = s.head;
    sim_write(&s, 5000, 0, 4900, NULL); /* does not fit: at the next lap's start */
    assert_int_equal(s.recs[s.n - 1].pos, s.log.size);
    assert_true(before < s.log.size);
    sim_write(&s, 5001, 0, 100, NULL);
    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result res = run(&s, &x, &p);
    assert_true(res.from_checkpoint);
    assert_int_equal(res.head, s.head);
    assert_int_equal(res.scanned, 2);
    assert_index_holds(&s, x, res.head, NULL);
    sf_diskindex_free(x), sf_diskpurge_free(p);
    char name[128];
    snprintf(name, sizeof name, "%s/index.ckpt", s.dir);
    assert_int_equal(unlink(name), 0);
    res = run(&s, &x, &p); /* the same without it */
    assert_false(res.from_checkpoint);
    assert_int_equal(res.head, s.head);
    assert_index_holds(&s, x, res.head, NULL);
    sf_diskindex_free(x), sf_diskpurge_free(p), sf_diskindex_free(want), sf_diskpurge_free(rules);
    sim_close(&s);
}

/* A body that holds a record header at its own place in the log (an origin's choice of
 * bytes), exposed when the record's own header is overwritten (a lap's partly overwritten
 * end): a full scan steps through it, and must not take it for a record. The forger does
 * not know the store's seed: its sums are XXH3's unseeded ones. */
static void test_forged_header_in_a_body(void **state)
{
    (void)state;
    struct sim s;
    sim_open(&s, 1 << 20, 42);
    write_some(&s, 1, 10);
    struct rec *a = sim_write(&s, 500, 0, 4000, NULL);
    write_some(&s, 20, 10);
    uint64_t at = a->pos + 1024; /* inside a's body, 64-aligned */
    struct sf_diskrec_meta m = {.pos = at, .key_hash = 0xf0f0, .key_len = 10};
    uint8_t forged[128];
    size_t n = 0;
    assert_int_equal(sf_diskrec_encode(0, &m, "http://o/x", NULL, NULL, forged, sizeof forged, &n),
                     SF_DISKREC_OK);
    assert_int_equal(pwrite(s.log.fd, forged, n, (off_t)(BASE + at % s.log.size)), (ssize_t)n);
    uint8_t junk[64];
    memset(junk, 0xab, sizeof junk); /* a's header overwritten */
    assert_int_equal(pwrite(s.log.fd, junk, sizeof junk, (off_t)(BASE + a->pos % s.log.size)),
                     (ssize_t)sizeof junk);
    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result res = run(&s, &x, &p);
    assert_false(res.from_checkpoint);
    struct sf_diskindex_entry e;
    assert_false(sf_diskindex_get(x, 0xf0f0, 0, 0, &e));
    assert_int_equal(res.head, s.head);
    assert_index_holds(&s, x, res.head, a);
    sf_diskindex_free(x), sf_diskpurge_free(p);
    sim_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_checkpoint_then_scan),
        cmocka_unit_test(test_no_checkpoint),
        cmocka_unit_test(test_forged_header_in_a_body),
        cmocka_unit_test(test_wrapped_log),
        cmocka_unit_test(test_refused_checkpoints),
        cmocka_unit_test(test_index_tail),
        cmocka_unit_test(test_damaged_header),
        cmocka_unit_test(test_torn_last_record),
        cmocka_unit_test(test_skip_at_lap_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
