/* disktier: see disktier.h. The store is the process's one (like the metrics): set on the
 * main thread before any other thread starts and cleared after they all stopped, so every
 * other thread reads the pointer without a lock. The store itself locks what it shares.
 *
 * Keys. A record is kept under its URL's key without a variant part (the key a request
 * looks up before it knows the key's responses vary) and the variant's hash; the VARY
 * record under the same key names what they vary on, so that a restarted process, whose
 * memory has no vary marker, can select the variant a request wants. The purge rules read
 * a record's URL from its key as the memory purge does (up to the first "\n",
 * sf_policy_key; table.c) and a tag from its head (diskobj.h). */
#include "disktier.h"

#include "config-t.h"
#include "log.h"
#include "metrics.h"
#include "singleflight.h"
#include "variant.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static struct sf_diskstore *store; /* set at start, before any other thread; see above */
static atomic_uint_fast64_t disk_hits;
/* Purges and invalidations passed to the store so far, counted once the store applies them
 * (sf_disktier_purge_gen). */
static atomic_uint_fast64_t purge_gen;

bool sf_disktier_start(const struct sf_config *cfg, char *err, size_t err_len)
{
    SF_ASSERT(store == NULL);
    if (cfg->disk_path == NULL)
        return true;
    struct sf_diskstore_conf conf = {.path = cfg->disk_path,
                                     .max_bytes = cfg->disk_max_bytes,
                                     .queue_bytes = cfg->disk_queue_bytes};
    store = sf_diskstore_open(&conf, err, err_len);
    if (store == NULL)
        return false;
    return true; /* the store said what it loaded (diskstore.c) */
}

void sf_disktier_stop(void)
{
    sf_diskstore_close(store);
    store = NULL;
}

bool sf_disktier_on(void)
{
    return store != NULL;
}

/* ---- --check-config ---- */

/* Whether dir (path, or the parent it would be made in) is a directory a file can be made
 * in: one is made and removed. */
static bool writable_dir(const char *path, const char *dir, char *err, size_t err_len)
{
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.sfproxy-check-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        if (strcmp(path, dir) == 0)
            snprintf(err, err_len,
                     "cache.disk.path %s: cannot write there (%s); give a directory sfproxy "
                     "may write, or make this one writable by its user",
                     path, strerror(errno));
        else
            snprintf(err, err_len,
                     "cache.disk.path %s: it is not there, and cannot be made in %s (%s); "
                     "make it, or give a directory sfproxy may write",
                     path, dir, strerror(errno));
        return false;
    }
    close(fd);
    unlink(probe);
    return true;
}

bool sf_disktier_check(const struct sf_config *cfg, char *err, size_t err_len)
{
    const char *path = cfg->disk_path;
    if (path == NULL)
        return true;
    struct stat sb;
    char *copy = sf_xstrdup(path);
    const char *dir = path; /* where the store goes, or the directory it would be made in */
    int rc = stat(path, &sb), stat_errno = errno;
    /* Absent: the store makes it (and its parents, mkdir -p): the nearest that is there
     * must take them. */
    while (rc != 0 && stat_errno == ENOENT && strcmp(dir, "/") != 0 && strcmp(dir, ".") != 0) {
        dir = dirname(copy);
        rc = stat(dir, &sb), stat_errno = errno;
    }
    if (rc != 0 || !S_ISDIR(sb.st_mode)) {
        const char *why = rc != 0 ? strerror(stat_errno) : "not a directory";
        if (dir == path)
            snprintf(err, err_len, "cache.disk.path %s: %s; give a directory", path, why);
        else
            snprintf(err, err_len, "cache.disk.path %s: its parent %s: %s; give a directory", path,
                     dir, why);
        free(copy);
        return false;
    }
    bool ok = writable_dir(path, dir, err, err_len);
    struct statvfs vfs;
    if (ok && statvfs(dir, &vfs) != 0) {
        snprintf(err, err_len, "cache.disk.path %s: statvfs: %s", dir, strerror(errno));
        ok = false;
    }
    if (ok) {
        char store_path[4200];
        snprintf(store_path, sizeof store_path, "%s/store", path);
        uint64_t have = stat(store_path, &sb) == 0 ? (uint64_t)sb.st_blocks * 512 : 0;
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        if (avail + have < cfg->disk_max_bytes) {
            snprintf(err, err_len,
                     "cache.disk.path %s: its file system has %llu bytes free (and %llu in the "
                     "store there), less than cache.disk.max_bytes %llu; free room there or "
                     "lower cache.disk.max_bytes",
                     path, (unsigned long long)avail, (unsigned long long)have,
                     (unsigned long long)cfg->disk_max_bytes);
            ok = false;
        }
    }
    free(copy);
    return ok;
}

/* ---- writes ---- */

/* (copy_body) The body of the complete object ctx. Runs on: the store's writer thread,
 * with a reference to it: a complete object's segments, length and fields never change
 * again and are freed only with it (singleflight.h), and sf_disktier_put checked its
 * first segment was never freed. */
static void copy_obj_body(void *ctx, uint8_t *out, uint32_t body_len)
{
    const struct sf_obj *o = ctx;
    size_t left = body_len;
    for (size_t i = 0; i < o->nsegs && left > 0; i++) {
        size_t n = left < o->segs[i]->cap ? left : o->segs[i]->cap;
        memcpy(out, o->segs[i]->data, n);
        out += n;
        left -= n;
    }
    SF_ASSERT(left == 0);
}

static void release_obj(void *ctx)
{
    sf_obj_unref(ctx);
}

static void copy_nothing(void *ctx, uint8_t *out, uint32_t body_len)
{
    (void)ctx, (void)out;
    SF_ASSERT(body_len == 0);
}

static void release_nothing(void *ctx)
{
    (void)ctx;
}

/* The length of key's part that names its records: all of it but a variant part (what
 * follows SF_VARIANT_MARK, which names the variant). A key with anything after its
 * variant part (a slice of a response that varies) is read under none of the variant's
 * records: its variant text, with that tail, is one no record was written with. */
static size_t primary_len(const char *key)
{
    const char *mark = strstr(key, SF_VARIANT_MARK);
    return mark != NULL ? (size_t)(mark - key) : strlen(key);
}

/* When the record stops being of use: never while it can be revalidated (it has a
 * validator), else once it is past its freshness and both RFC 5861 windows. */
static int64_t expires_ms(const struct sf_obj *o, int64_t stored_ms)
{
    const struct sf_verdict *v = &o->verdict;
    if (sf_hdrs_get(&o->hdrs, "ETag") != NULL || sf_hdrs_get(&o->hdrs, "Last-Modified") != NULL)
        return 0;
    int64_t left = v->fresh_s - v->age_s;
    int64_t window = v->stale_if_error_s > v->stale_while_revalidate_s
                         ? v->stale_if_error_s
                         : v->stale_while_revalidate_s;
    left += window > 0 ? window : 0;
    return stored_ms + (left > 0 ? left : 0) * 1000 + 1;
}

static void put_vary(const char *key, size_t key_len, const char *names, int64_t now_ms)
{
    uint32_t head_len;
    uint8_t *head = sf_diskobj_encode_vary(names, &head_len);
    if (head == NULL)
        return;
    struct sf_diskstore_item it = {.key = key,
                                   .key_len = key_len,
                                   .variant = SF_DISKSTORE_VARIANT_VARY,
                                   .stored_ms = now_ms,
                                   .head = head,
                                   .head_len = head_len,
                                   .copy_body = copy_nothing,
                                   .release = release_nothing};
    sf_diskstore_put(store, &it);
}

void sf_disktier_put_sliced(const char *key, const struct sf_slice_ref *ref)
{
    if (store == NULL || key[primary_len(key)] != '\0')
        return; /* none, or a variant's: its marker is the memory's alone */
    uint32_t head_len;
    uint8_t *head = sf_diskobj_encode_sliced(ref, &head_len);
    if (head == NULL)
        return;
    struct sf_diskstore_item it = {.key = key,
                                   .key_len = strlen(key),
                                   .variant = SF_DISKSTORE_VARIANT_VARY, /* the key's own */
                                   .stored_ms = sf_wall_s() * 1000,
                                   .head = head,
                                   .head_len = head_len,
                                   .copy_body = copy_nothing,
                                   .release = release_nothing};
    sf_diskstore_put(store, &it);
}

void sf_disktier_drop_sliced(const char *key)
{
    struct sf_slice_ref ref;
    if (!sf_disktier_sliced(key, &ref))
        return;
    sf_slice_ref_clear(&ref);
    put_vary(key, strlen(key), "", sf_wall_s() * 1000);
}

void sf_disktier_forget(const char *key)
{
    if (store != NULL && key[primary_len(key)] == '\0')
        sf_diskstore_forget(store, key, strlen(key), SF_DISKSTORE_VARIANT_NONE);
}

void sf_disktier_put(struct sf_obj *o)
{
    SF_CHECK_OBJ(o, SF_OBJ_MAGIC);
    if (store == NULL)
        return;
    sf_obj_lock(o);
    bool ok = o->shared && o->state == SF_OBJ_COMPLETE && !o->pass && !o->unproven &&
              o->seg_first == 0 && o->len <= SF_DISKREC_MAX_BODY && !o->from_disk &&
              (o->vary_names == NULL || o->variant != NULL);
    sf_obj_unlock(o);
    if (!ok)
        return;
    /* Complete: its (P) fields are read without the lock from here on. */
    struct sf_diskobj d = {.status = o->status,
                           .hdrs = o->hdrs, /* borrowed: encoded, never cleared */
                           .content_length = o->content_length,
                           .verdict = o->verdict,
                           .response_time_s = o->response_time_s,
                           .vary_names = o->vary_names,
                           .variant = o->variant};
    d.verdict.reason = NULL;
    uint32_t head_len;
    uint8_t *head = sf_diskobj_encode(&d, &head_len);
    if (head == NULL)
        return;
    int64_t now_ms = sf_wall_s() * 1000;
    size_t key_len = primary_len(o->key); /* the fetcher's to read without the table lock */
    /* A variant is written under its URL's key only when its own key is exactly that and
     * its variant (as settled, cache.h): never a slice of one, which another key names. */
    if (o->vary_names != NULL ? strcmp(o->key + key_len, o->variant) != 0
                              : o->key[key_len] != '\0') {
        free(head);
        return;
    }
    uint32_t size;
    if (o->vary_names != NULL)
        put_vary(o->key, key_len, o->vary_names, now_ms);
    else if (sf_diskstore_holds(store, o->key, key_len, SF_DISKSTORE_VARIANT_VARY, &size))
        /* The key's responses varied, or were kept in slices, before this one: after a
         * restart that older record would hide it (variant_of, sf_disktier_sliced). */
        put_vary(o->key, key_len, "", now_ms);
    uint64_t variant = o->vary_names != NULL
                           ? sf_diskstore_variant(store, o->variant, strlen(o->variant))
                           : SF_DISKSTORE_VARIANT_NONE;
    struct sf_diskstore_item it = {.key = o->key,
                                   .key_len = key_len,
                                   .variant = variant,
                                   .stored_ms = now_ms,
                                   .expires_ms = expires_ms(o, now_ms),
                                   .head = head,
                                   .head_len = head_len,
                                   .body_len = (uint32_t)o->len,
                                   .copy_body = copy_obj_body,
                                   .release = release_obj,
                                   .ctx = sf_obj_ref(o)};
    sf_diskstore_put(store, &it);
}

/* ---- purges ---- */

bool sf_disktier_purge(const char *url, bool prefix, bool soft, const char *tag_header, bool wait)
{
    if (store == NULL)
        return true;
    enum sf_diskpurge_kind kind = tag_header != NULL ? SF_DISKPURGE_TAG
                                  : prefix           ? SF_DISKPURGE_PREFIX
                                                     : SF_DISKPURGE_URL;
    bool ok = sf_diskstore_purge(store, kind, url, tag_header, soft, wait);
    atomic_fetch_add_explicit(&purge_gen, 1, memory_order_seq_cst); /* after: see the .h */
    return ok;
}

uint64_t sf_disktier_purge_gen(void)
{
    return atomic_load_explicit(&purge_gen, memory_order_seq_cst);
}

void sf_disktier_invalidate(const char *url, bool in_memory)
{
    if (store != NULL && (in_memory || sf_diskstore_holds_url(store, url, strlen(url)))) {
        sf_diskstore_purge(store, SF_DISKPURGE_URL, url, NULL, true, false);
        atomic_fetch_add_explicit(&purge_gen, 1, memory_order_seq_cst);
    }
}

/* ---- reads ---- */

struct tag_ctx {
    char *buf; /* (O) large enough for the whole head: a tag past any fixed size matches */
    size_t cap;
};

/* (sf_diskstore_match.tag_values) The field tag_header of an encoded head, whole: its
 * values joined are never longer than the head that holds them with their names. */
static const char *tag_values(void *ctx, const uint8_t *head, uint32_t head_len,
                              const char *tag_header)
{
    struct tag_ctx *t = ctx;
    if (t->cap < (size_t)head_len + 1) {
        free(t->buf);
        t->cap = (size_t)head_len + 1;
        t->buf = sf_xmalloc(t->cap);
    }
    return sf_diskobj_field(head, head_len, tag_header, t->buf, t->cap);
}

/* Reads key's record of variant into *hit, as the purges see it (match). */
static enum sf_diskstore_get get(const char *key, size_t key_len, uint64_t variant,
                                 struct sf_diskstore_hit *hit)
{
    struct tag_ctx t = {NULL, 0};
    struct sf_diskstore_match m = {key, strcspn(key, "\n"), tag_values, &t};
    if (m.url_len > key_len)
        m.url_len = key_len;
    enum sf_diskstore_get g = sf_diskstore_get(store, key, key_len, variant, &m, hit);
    free(t.buf);
    return g;
}

/* The variant text the request selects for key (caller frees): the key's own variant
 * part, or from the key's VARY record and the request's fields; NULL when the key's
 * responses do not vary (as far as the disk knows). *st says whether a VARY record that
 * was there could not be read. */
static char *variant_of(const char *key, size_t key_len, const struct sf_fields *fields,
                        enum sf_diskstore_get *st)
{
    *st = SF_DISKSTORE_FOUND;
    if (key[key_len] != '\0')
        return sf_xstrdup(key + key_len); /* memory knows it varies: the lookup's variant key */
    struct sf_diskstore_hit vh;
    enum sf_diskstore_get g = get(key, key_len, SF_DISKSTORE_VARIANT_VARY, &vh);
    if (g != SF_DISKSTORE_FOUND) {
        *st = g == SF_DISKSTORE_ABSENT ? SF_DISKSTORE_FOUND : g;
        return NULL;
    }
    char *names = sf_diskobj_decode_vary(vh.rec.head, vh.rec.meta.head_len);
    if (names != NULL && names[0] == '\0') {
        free(names); /* they do not vary any more: the key's own record (sf_disktier_put) */
        sf_diskstore_hit_free(&vh);
        return NULL;
    }
    struct sf_slice_ref ref;
    bool sliced =
        names == NULL && sf_diskobj_decode_sliced(vh.rec.head, vh.rec.meta.head_len, &ref);
    sf_diskstore_hit_free(&vh);
    if (sliced) {
        sf_slice_ref_clear(&ref);
        *st = SF_DISKSTORE_ABSENT; /* kept in slices (sf_disktier_sliced): none whole */
        return NULL;
    }
    if (names == NULL) {
        sf_diskstore_forget(store, key, key_len, SF_DISKSTORE_VARIANT_VARY);
        *st = SF_DISKSTORE_DAMAGED;
        return NULL;
    }
    char *variant =
        fields != NULL && strcmp(names, "*") != 0 ? sf_policy_variant(names, fields) : NULL;
    if (variant == NULL)
        *st = SF_DISKSTORE_ABSENT; /* "*", or no fields to select with: nothing matches */
    free(names);
    return variant;
}

static bool same_variant(const char *a, const char *b)
{
    return (a == NULL) == (b == NULL) && (a == NULL || strcmp(a, b) == 0);
}

enum sf_diskstore_get sf_disktier_read(const char *key, const struct sf_fields *fields,
                                       int64_t now_s, struct sf_disktier_hit *out)
{
    *out = (struct sf_disktier_hit){0};
    if (store == NULL)
        return SF_DISKSTORE_ABSENT;
    size_t key_len = primary_len(key);
    enum sf_diskstore_get g;
    char *variant = variant_of(key, key_len, fields, &g);
    if (g != SF_DISKSTORE_FOUND)
        return g;
    uint64_t vhash = variant != NULL ? sf_diskstore_variant(store, variant, strlen(variant))
                                     : SF_DISKSTORE_VARIANT_NONE;
    g = get(key, key_len, vhash, &out->rec);
    if (g == SF_DISKSTORE_FOUND &&
        !sf_diskobj_decode(out->rec.rec.head, out->rec.rec.meta.head_len, now_s, &out->obj)) {
        sf_diskstore_hit_free(&out->rec);
        sf_diskstore_forget(store, key, key_len, vhash);
        g = SF_DISKSTORE_DAMAGED;
    } else if (g == SF_DISKSTORE_FOUND && !same_variant(out->obj.variant, variant)) {
        /* Not the variant asked for (a hash collision, or a key whose responses stopped
         * or started varying): a miss. */
        sf_disktier_hit_free(out);
        g = SF_DISKSTORE_ABSENT;
    }
    free(variant);
    if (g != SF_DISKSTORE_FOUND)
        return g;
    out->body = out->rec.rec.body;
    out->body_len = out->rec.rec.meta.body_len;
    out->invalidated = out->rec.invalidated;
    return g;
}

bool sf_disktier_sliced(const char *key, struct sf_slice_ref *out)
{
    *out = (struct sf_slice_ref){0};
    size_t key_len = strlen(key);
    if (store == NULL || primary_len(key) != key_len)
        return false;
    struct sf_diskstore_hit h;
    if (get(key, key_len, SF_DISKSTORE_VARIANT_VARY, &h) != SF_DISKSTORE_FOUND)
        return false;
    bool sliced = sf_diskobj_decode_sliced(h.rec.head, h.rec.meta.head_len, out);
    sf_diskstore_hit_free(&h);
    return sliced;
}

void sf_disktier_hit_free(struct sf_disktier_hit *h)
{
    sf_diskobj_clear(&h->obj);
    sf_diskstore_hit_free(&h->rec);
    *h = (struct sf_disktier_hit){0};
}

void sf_disktier_count_hit(void)
{
    atomic_fetch_add_explicit(&disk_hits, 1, memory_order_relaxed);
}

bool sf_disktier_stats(struct sf_diskstore_stats *st, uint64_t *hits)
{
    *st = (struct sf_diskstore_stats){0};
    *hits = atomic_load_explicit(&disk_hits, memory_order_relaxed);
    if (store == NULL)
        return false;
    sf_diskstore_get_stats(store, st);
    return true;
}

bool sf_disktier_holds(const char *key)
{
    if (store == NULL)
        return false;
    size_t key_len = primary_len(key);
    uint32_t size;
    if (key[key_len] != '\0') {
        const char *v = key + key_len;
        return sf_diskstore_holds(store, key, key_len, sf_diskstore_variant(store, v, strlen(v)),
                                  &size);
    }
    return sf_diskstore_holds(store, key, key_len, SF_DISKSTORE_VARIANT_NONE, &size) ||
           sf_diskstore_holds(store, key, key_len, SF_DISKSTORE_VARIANT_VARY, &size);
}

void sf_disktier_fill_stats(struct sf_cache_stats *cs)
{
    struct sf_diskstore_stats st;
    uint64_t hits;
    cs->disk_open = sf_disktier_stats(&st, &hits);
    cs->disk_state = st.on;
    cs->disk_hits = hits;
    cs->disk_bytes_used = st.bytes_used;
    cs->disk_log_bytes = st.log_bytes;
    cs->disk_records = st.records;
    cs->disk_index_bytes = st.index_bytes;
    cs->disk_writes = st.writes;
    cs->disk_write_bytes = st.write_bytes;
    cs->disk_writes_queued = st.writes_queued;
    cs->disk_queued_bytes = st.queued_bytes;
    cs->disk_writes_dropped = st.writes_dropped;
    cs->disk_reads = st.reads;
    cs->disk_checksum_failures = st.checksum_failures;
    cs->disk_purged = st.purged;
    cs->disk_errors = st.errors;
    cs->disk_checkpoints = st.checkpoints;
    cs->disk_load_ms = st.load_ms;
    cs->disk_load_scanned = st.load_scanned;
    cs->disk_reads_queued = st.reads_queued;
    cs->disk_index_evictions = st.index_evictions;
    cs->disk_purge_rules = st.purge_rules;
    cs->disk_purge_collapses = st.purge_collapses;
}
