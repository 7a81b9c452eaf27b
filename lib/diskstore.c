/* diskstore: see diskstore.h; docs/disk.md is the design. This file opens and closes the
 * store (the directory, its lock, the store file and its superblock, the start-up load)
 * and serves reads; diskwriter.c is the writer thread and its queue.
 *
 * The store file is a 4 KiB superblock, then the log. The superblock says whose log it is:
 * magic, version, a random store id (a checkpoint of another store is refused), the log's
 * size, the SipHash key of the store's key hashes (stable across restarts, secret to
 * clients), the seed of the records' checksums (secret too: diskrec.h), and an XXH3 of
 * those. An existing file whose superblock is ours but does not
 * match the configuration (another max_bytes, a damaged superblock, another version) is
 * recreated empty: it is a cache, and its contents are only worth keeping as they are. A
 * file that is not a store at all (no magic) is refused, never overwritten: the path
 * probably names something else.
 *
 * Reads (request threads): the index lookup under the lock, the pread and every check
 * outside it, then whether the writer's tail passed the record meanwhile (it publishes the
 * tail before it overwrites: then the bytes read may be of the next lap), then the purge
 * rules under the lock. An index entry whose record the writer has not finished writing
 * (the writer indexes before it writes, so that a record the index refuses is never
 * written) lies at or above the published written mark and is not read from the file: the
 * record is still in the queued map (diskwriter.c), which a read asks first, and is built
 * from the caller's object.
 *
 * Lock order: the store's lock is a leaf. No cache or object lock is taken under it, no
 * I/O is done under it, and no caller's callback is called under it. */
#include "diskstore.h"

#include "base.h"
#include "diskindex.h"
#include "diskload.h"
#include "diskstorei.h"
#include "disktail.h"
#include "handoff.h"
#include "diskurls.h"
#include "log.h"
#include "siphash.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define SUPER_MAGIC 0x45524f5453444653ull /* "SFDSTORE" read as little-endian bytes */
/* 2: the records' checksums are seeded (a store of version 1 is recreated). */
#define SUPER_VERSION 2
/* The smallest log: a few records of 64 KiB. */
#define MIN_LOG_BYTES (256u * 1024)
#define BYTES_PER_ENTRY 4096 /* the index holds at most a record per 4 KiB of log */
#define MIN_ENTRIES 64
/* Soft rules, and hard ones, held at most: about 10 MB at 150 bytes each (docs/disk.md). */
#define DEFAULT_PURGE_RULES 65536u

/* The superblock's fields, little-endian at these offsets; the rest of its 4 KiB is zero. */
enum {
    SB_MAGIC = 0,
    SB_VERSION = 8,
    SB_STORE_ID = 16,
    SB_LOG_SIZE = 24,
    SB_HASH_KEY = 32,
    SB_SUM_SEED = 48, /* the records' checksums' secret seed (diskrec.h) */
    SB_SUM = 56,      /* XXH3_64bits of bytes [0, 56) */
};

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void fill_random(void *out, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom((uint8_t *)out + got, len - got, 0);
        SF_ASSERT(n > 0 || errno == EINTR); /* Linux >= 3.17 with the pool initialised */
        got += n > 0 ? (size_t)n : 0;
    }
}

bool sf_diskstore_pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return true;
}

/* mkdir -p of path, each new directory 0750. */
static bool make_dirs(const char *path, char *err, size_t err_len)
{
    if (path[0] == '\0') {
        snprintf(err, err_len, "cache.disk.path is empty; give it a directory");
        return false;
    }
    char *p = sf_xstrdup(path);
    bool ok = true;
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char was = *c;
        *c = '\0';
        if (mkdir(p, 0750) != 0 && errno != EEXIST) {
            snprintf(err, err_len, "cache.disk.path %s: cannot create %s: %s", path, p,
                     strerror(errno));
            ok = false;
            break;
        }
        *c = was;
        if (was == '\0')
            break;
    }
    free(p);
    return ok;
}

/* Takes <path>/lock for the process's life (flock goes with the process: a kill -9 leaves
 * no stale lock) and writes the pid into it; names the holder's pid when it is taken. */
static int take_lock(const char *path, char *err, size_t err_len)
{
    char name[4096];
    snprintf(name, sizeof name, "%s/lock", path);
    int fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, err_len, "cache.disk.path %s: cannot open %s: %s", path, name,
                 strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        size_t got = 0;
        if (sf_diskstore_pread_all(fd, pid, sizeof pid - 1, 0, &got))
            pid[got] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            snprintf(err, err_len,
                     "cache.disk.path %s is in use by another sfproxy (pid %s); give each its "
                     "own cache.disk.path",
                     path, pid[0] != '\0' ? pid : "unknown");
        else
            snprintf(err, err_len, "cache.disk.path %s: cannot lock %s: %s", path, name,
                     strerror(e));
        close(fd);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        snprintf(err, err_len, "cache.disk.path %s: cannot write %s: %s", path, name,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* Creates the store anew in fd: preallocated to max_bytes, a new superblock. */
static bool create_store(struct sf_diskstore *s, uint64_t max_bytes, char *err, size_t err_len)
{
    if (ftruncate(s->log.fd, 0) != 0) {
        snprintf(err, err_len, "cache.disk.path %s: cannot truncate its store: %s", s->path,
                 strerror(errno));
        return false;
    }
    int e = posix_fallocate(s->log.fd, 0, (off_t)max_bytes);
    if (e != 0) {
        snprintf(err, err_len,
                 "cache.disk.path %s: cannot allocate %" PRIu64
                 " bytes for its store: %s; free room there or lower cache.disk.max_bytes",
                 s->path, max_bytes, strerror(e));
        return false;
    }
    uint8_t sb[SF_DISKSTORE_SUPER] = {0};
    fill_random(&s->log.store_id, sizeof s->log.store_id);
    fill_random(s->log.hash_key, sizeof s->log.hash_key);
    fill_random(&s->log.sum_seed, sizeof s->log.sum_seed);
    put_le64(sb + SB_MAGIC, SUPER_MAGIC);
    put_le64(sb + SB_VERSION, SUPER_VERSION);
    put_le64(sb + SB_STORE_ID, s->log.store_id);
    put_le64(sb + SB_LOG_SIZE, s->log.size);
    memcpy(sb + SB_HASH_KEY, s->log.hash_key, sizeof s->log.hash_key);
    put_le64(sb + SB_SUM_SEED, s->log.sum_seed);
    put_le64(sb + SB_SUM, XXH3_64bits(sb, SB_SUM));
    if (pwrite(s->log.fd, sb, sizeof sb, 0) != (ssize_t)sizeof sb || fdatasync(s->log.fd) != 0) {
        snprintf(err, err_len, "cache.disk.path %s: cannot write its store: %s", s->path,
                 strerror(errno));
        return false;
    }
    /* A checkpoint of the old store names the old store id: the load refuses it anyway.
     * load() writes the new store's empty one. */
    char name[4096];
    snprintf(name, sizeof name, "%s/index.ckpt", s->path);
    unlink(name);
    if (!sf_disktail_sync_dir(s->path)) { /* the file created there: kept after a power loss */
        snprintf(err, err_len, "cache.disk.path %s: cannot fsync the directory: %s", s->path,
                 strerror(errno));
        return false;
    }
    s->created = true;
    return true;
}

/* Opens <path>/store: reads its superblock when it is one of ours that matches, recreates
 * it when it is ours and does not, refuses a file that is not a store. */
static bool open_store(struct sf_diskstore *s, uint64_t max_bytes, char *err, size_t err_len)
{
    char name[4096];
    snprintf(name, sizeof name, "%s/store", s->path);
    s->log.fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (s->log.fd < 0) {
        snprintf(err, err_len, "cache.disk.path %s: cannot open %s: %s", s->path, name,
                 strerror(errno));
        return false;
    }
    s->log.base = SF_DISKSTORE_SUPER;
    s->log.size = max_bytes - SF_DISKSTORE_SUPER;
    struct stat st;
    if (fstat(s->log.fd, &st) != 0) {
        snprintf(err, err_len, "cache.disk.path %s: cannot stat %s: %s", s->path, name,
                 strerror(errno));
        return false;
    }
    if (st.st_size == 0)
        return create_store(s, max_bytes, err, err_len);
    uint8_t sb[SF_DISKSTORE_SUPER];
    size_t got = 0;
    if (!sf_diskstore_pread_all(s->log.fd, sb, sizeof sb, 0, &got)) {
        snprintf(err, err_len, "cache.disk.path %s: cannot read %s: %s", s->path, name,
                 strerror(errno));
        return false;
    }
    if (all_zero(sb, got)) {
        /* create_store allocates the file before it writes the superblock: a crash between
         * leaves zeros. Nobody else's file starts with 4 KiB of them (or is all zeros). */
        sf_log_warn("disk store %s: its creation never finished; the disk cache starts empty",
                    name);
        return create_store(s, max_bytes, err, err_len);
    }
    if (got < 8 || get_le64(sb + SB_MAGIC) != SUPER_MAGIC) {
        snprintf(err, err_len,
                 "cache.disk.path %s: %s is not an sfproxy disk store; remove it or give "
                 "cache.disk.path a directory of its own",
                 s->path, name);
        return false;
    }
    const char *why = NULL;
    /* The version first: an older layout keeps its sum elsewhere. */
    if (got >= SB_VERSION + 8 && get_le64(sb + SB_VERSION) != SUPER_VERSION)
        why = "it is of another version";
    else if (got < sizeof sb || get_le64(sb + SB_SUM) != XXH3_64bits(sb, SB_SUM))
        why = "its superblock is damaged";
    else if (get_le64(sb + SB_LOG_SIZE) != s->log.size || (uint64_t)st.st_size != max_bytes)
        why = "cache.disk.max_bytes changed";
    if (why != NULL) {
        sf_log_warn("disk store %s: %s; the disk cache starts empty", name, why);
        return create_store(s, max_bytes, err, err_len);
    }
    s->log.store_id = get_le64(sb + SB_STORE_ID);
    memcpy(s->log.hash_key, sb + SB_HASH_KEY, sizeof s->log.hash_key);
    s->log.sum_seed = get_le64(sb + SB_SUM_SEED);
    return true;
}

static bool load(struct sf_diskstore *s, char *err, size_t err_len)
{
    struct sf_diskload_result r;
    memset(&r, 0, sizeof r);
    if (s->created) {
        /* Nothing to load. An empty checkpoint at once, so that the next starts follow a
         * chain from it even before the first is due: without one the load reads the whole
         * log (a second and more for a GiB of zeros, measured; on tmpfs SEEK_DATA skips no
         * unwritten space). */
        if (!sf_diskload_save(s->path, &s->log, 0, 0, s->index, s->purges, err, err_len))
            return false;
        sf_log_info("disk store %s: created, %" PRIu64 " bytes", s->path, s->log.size);
        return true;
    }
    if (!sf_diskload_run(s->path, &s->log, s->index, s->purges, &r, err, err_len)) {
        /* An I/O error reading the log or its index.tail: as any disk error, the tier goes off (one log line)
         * and the memory cache goes on, rather than sfproxy not starting. The store stays
         * open and off: reads find nothing, stores and purges are refused, close writes no
         * checkpoint, so the file is as it was for the next start. */
        sf_diskstore_turn_off(s, "the start's scan", err);
        return true;
    }
    /* The load gave up records of its own (a full index), or a saved tail past the head
     * made it give up all: saved before any is swept while running, as the writer saves
     * its own (disktail.h). Left past the head, the file would give up again, at every
     * start, the records written from here on. */
    if (r.tail_clamped)
        sf_log_warn("disk store %s: its index tail was past the log's head (writes lost in a "
                    "power cut, or index.tail damaged): every record given up",
                    s->path);
    if ((r.evictions > 0 || r.tail_clamped) &&
        !sf_disktail_save(s->path, s->log.store_id, s->log.size, r.evict_tail, err, err_len)) {
        sf_diskstore_turn_off(s, "saving the index tail", err);
        return true;
    }
    s->head = r.head;
    uint64_t tail = r.head > s->log.size ? r.head - s->log.size : 0;
    atomic_store(&s->tail, r.evict_tail > tail ? r.evict_tail : tail); /* as the writer's */
    atomic_store(&s->st.index_evictions, r.evictions);
    atomic_store(&s->written, r.head);
    atomic_store(&s->st.load_ms, r.ms);
    atomic_store(&s->st.load_scanned, r.scanned);
    s->load_from_checkpoint = r.from_checkpoint;
    atomic_store(&s->st.checksum_failures, r.damaged);
    sf_log_info("disk store %s: %zu records in %" PRIu64 " ms (%s%" PRIu64 " scanned, %" PRIu64
                " damaged)%s%s",
                s->path, sf_diskindex_count(s->index), r.ms,
                r.from_checkpoint ? "checkpoint, then " : "no checkpoint: ", r.scanned, r.damaged,
                r.note[0] != '\0' ? "; " : "", r.note);
    return true;
}

static void store_free(struct sf_diskstore *s)
{
    if (s->log.fd >= 0)
        close(s->log.fd);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    sf_diskindex_free(s->index);
    sf_diskurls_free(s->q_urls);
    free(s->q_map);
    sf_diskpurge_free(s->purges);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->done_cv);
    pthread_cond_destroy(&s->unpin_cv);
    sf_handoff_destroy(&s->handoff);
    sf_mutex_destroy(&s->lock);
    free(s->path);
    s->magic = 0;
    free(s);
}

struct sf_diskstore *sf_diskstore_open(const struct sf_diskstore_conf *conf, char *err,
                                       size_t err_len)
{
    if (conf->max_bytes < SF_DISKSTORE_SUPER + MIN_LOG_BYTES) {
        snprintf(err, err_len, "cache.disk.max_bytes must be at least %u (got %" PRIu64 ")",
                 SF_DISKSTORE_SUPER + MIN_LOG_BYTES, conf->max_bytes);
        return NULL;
    }
    struct sf_diskstore *s = sf_xcalloc(1, sizeof *s);
    s->magic = SF_DISKSTORE_MAGIC;
    s->path = sf_xstrdup(conf->path);
    s->queue_max = conf->queue_bytes;
    size_t buckets = SF_DISKSTORE_QBUCKETS_MIN;
    while (buckets < SF_DISKSTORE_QBUCKETS_MAX &&
           (uint64_t)buckets * SF_DISKSTORE_QBUCKET_BYTES < conf->queue_bytes)
        buckets *= 2;
    s->q_map = sf_xcalloc(buckets, sizeof *s->q_map);
    s->q_mask = buckets - 1;
    s->purge_max = conf->purge_rules_max > 0 ? conf->purge_rules_max : DEFAULT_PURGE_RULES;
    s->lock_fd = -1;
    s->log.fd = -1;
    sf_mutex_init(&s->lock);
    sf_handoff_init(&s->handoff);
    sf_cond_init(&s->work_cv);
    sf_cond_init(&s->done_cv);
    sf_cond_init(&s->unpin_cv);
    atomic_store(&s->on, true);
    if (!make_dirs(conf->path, err, err_len))
        goto fail;
    s->lock_fd = take_lock(conf->path, err, err_len);
    if (s->lock_fd < 0 || !open_store(s, conf->max_bytes, err, err_len))
        goto fail;
    uint64_t entries = s->log.size / BYTES_PER_ENTRY;
    s->index = sf_diskindex_new(entries > MIN_ENTRIES ? (size_t)entries : MIN_ENTRIES);
    s->purges = sf_diskpurge_new();
    s->q_urls = sf_diskurls_new(0);
    SF_ASSERT(s->q_urls != NULL); /* 512 bytes: as sf_xcalloc, no memory here is fatal */
    if (!load(s, err, err_len))
        goto fail;
    sf_diskwriter_start(s);
    return s;
fail:
    store_free(s);
    return NULL;
}

void sf_diskstore_close(struct sf_diskstore *s)
{
    if (s == NULL)
        return;
    SF_CHECK_OBJ(s, SF_DISKSTORE_MAGIC);
    sf_diskwriter_stop(s);
    store_free(s);
}

void sf_diskstore_turn_off(struct sf_diskstore *s, const char *what, const char *why)
{
    atomic_fetch_add(&s->st.errors, 1);
    if (!atomic_exchange(&s->on, false))
        return;
    sf_log_error("disk store %s/store: %s failed: %s; the disk tier is off, the memory cache "
                 "goes on",
                 s->path, what, why);
    /* Purges waiting for their tombstone hear it will not come; the writer drains the
     * queue. */
    sf_mutex_lock(&s->lock);
    SF_PTOK(pthread_cond_broadcast(&s->done_cv));
    SF_PTOK(pthread_cond_signal(&s->work_cv));
    sf_mutex_unlock(&s->lock);
}

uint64_t sf_diskstore_key_hash(const struct sf_diskstore *s, const void *key, size_t len)
{
    return sf_siphash(s->log.hash_key, key, len);
}

uint64_t sf_diskstore_variant(const struct sf_diskstore *s, const char *text, size_t len)
{
    SF_CHECK_OBJ(s, SF_DISKSTORE_MAGIC);
    uint64_t v = sf_siphash(s->log.hash_key, text, len);
    /* NONE and VARY are reserved: 2^-63 of the texts share a hash with another anyway. */
    return v <= SF_DISKSTORE_VARIANT_VARY ? v + 2 : v;
}

void sf_diskstore_index_remove(struct sf_diskstore *s, uint64_t key_hash, uint64_t variant,
                               uint64_t pos)
{
    sf_mutex_assert_held(&s->lock);
    if (!s->saving) {
        sf_diskindex_remove_at(s->index, key_hash, variant, pos);
    } else if (s->n_deferred < SF_DISKSTORE_DEFERRED) {
        s->deferred[s->n_deferred].key_hash = key_hash;
        s->deferred[s->n_deferred].variant = variant;
        s->deferred[s->n_deferred].pos = pos;
        s->n_deferred++;
    }
}

/* Drops the index entry of a record found unusable at pos (a newer one stays). */
static void drop_entry(struct sf_diskstore *s, uint64_t key_hash, uint64_t variant, uint64_t pos)
{
    sf_handoff_lock(&s->handoff, &s->lock);
    sf_diskstore_index_remove(s, key_hash, variant, pos);
    sf_mutex_unlock(&s->lock);
}

/* Reads the record e names into a new buffer; a short read leaves the record truncated
 * (decode says so). NULL on an I/O error (the store is turned off). */
static uint8_t *read_record(struct sf_diskstore *s, const struct sf_diskindex_entry *e, size_t *got)
{
    uint8_t *buf = malloc(e->size);
    if (buf == NULL)
        return NULL;
    if (!sf_diskstore_pread_all(s->log.fd, buf, e->size, s->log.base + e->pos % s->log.size, got)) {
        sf_diskstore_turn_off(s, "pread", strerror(errno));
        free(buf);
        return NULL;
    }
    return buf;
}

/* A queued record's position for the purge rules: above every settled tombstone (those
 * were queued before it, so it will be written after them), below a pending one (which
 * hides every record it selects until its tombstone is written). */
#define QUEUED_POS (SF_DISKPURGE_PENDING - 1)

/* The record q (pinned by the caller) as a hit: key, head and body copied into one buffer,
 * the body by copy_body, outside the lock. */
static enum sf_diskstore_get get_queued(struct sf_diskstore *s, struct sf_diskstore_qitem *q,
                                        const char *key, size_t key_len,
                                        const struct sf_diskstore_match *match,
                                        struct sf_diskstore_hit *out)
{
    size_t n = (size_t)q->key_len + q->head_len + q->body_len;
    uint8_t *buf = NULL;
    if (q->key_len == key_len && memcmp(q->key, key, key_len) == 0)
        buf = malloc(n > 0 ? n : 1); /* else another key with the same hash: ABSENT */
    if (buf != NULL) {
        memcpy(buf, q->key, q->key_len);
        if (q->head_len > 0)
            memcpy(buf + q->key_len, q->head, q->head_len);
        if (q->body_len > 0)
            q->copy_body(q->ctx, buf + q->key_len + q->head_len, q->body_len);
    }
    struct sf_diskrec_view v = {
        .meta = {.key_hash = q->key_hash,
                 .variant = q->variant,
                 .stored_ms = q->stored_ms,
                 .expires_ms = q->expires_ms,
                 .key_len = q->key_len,
                 .head_len = q->head_len,
                 .body_len = q->body_len},
        .key = buf,
        .head = buf + q->key_len,
        .body = buf + q->key_len + q->head_len,
        .size = q->rec_size,
    };
    /* The rules are asked while q is still pinned: until the writer is done with q no
     * tombstone queued after it is written, so a purge after the put is still PENDING and
     * hides it. Unpinned first, the writer could write q and a tombstone after it, settling
     * the rule below QUEUED_POS: a purged record served. */
    sf_handoff_lock(&s->handoff, &s->lock);
    enum sf_diskpurge_hit ph =
        buf != NULL ? sf_diskpurge_check(s->purges, QUEUED_POS, match, v.head, v.meta.head_len)
                    : SF_DISKPURGE_NONE;
    sf_diskwriter_unpin(s, q);
    sf_mutex_unlock(&s->lock);
    if (buf == NULL)
        return SF_DISKSTORE_ABSENT;
    if (ph == SF_DISKPURGE_REMOVED) {
        atomic_fetch_add(&s->st.purged, 1);
        free(buf);
        return SF_DISKSTORE_PURGED;
    }
    atomic_fetch_add(&s->st.reads, 1);
    atomic_fetch_add(&s->st.reads_queued, 1);
    out->buf = buf;
    out->rec = v;
    out->invalidated = ph == SF_DISKPURGE_INVALIDATED;
    out->queued = true;
    return SF_DISKSTORE_FOUND;
}

enum sf_diskstore_get sf_diskstore_get(struct sf_diskstore *s, const char *key, size_t key_len,
                                       uint64_t variant, const struct sf_diskstore_match *match,
                                       struct sf_diskstore_hit *out)
{
    SF_CHECK_OBJ(s, SF_DISKSTORE_MAGIC);
    SF_ASSERT(match != NULL);
    memset(out, 0, sizeof *out);
    if (!atomic_load(&s->on))
        return SF_DISKSTORE_ABSENT;
    uint64_t kh = sf_diskstore_key_hash(s, key, key_len);
    struct sf_diskindex_entry e;
    sf_handoff_lock(&s->handoff, &s->lock);
    /* The queue first: it holds the newest, and a record leaves it only once written. */
    struct sf_diskstore_qitem *q = sf_diskwriter_pin(s, kh, variant);
    bool indexed = q == NULL && sf_diskindex_get(s->index, kh, variant, atomic_load(&s->tail), &e);
    sf_mutex_unlock(&s->lock);
    if (q != NULL)
        return get_queued(s, q, key, key_len, match, out);
    if (!indexed || e.pos + e.size > atomic_load(&s->written))
        return SF_DISKSTORE_ABSENT;
    size_t got = 0;
    uint8_t *buf = read_record(s, &e, &got);
    if (buf == NULL)
        return SF_DISKSTORE_ABSENT;
    struct sf_diskrec_view v;
    enum sf_diskrec_err derr = sf_diskrec_decode(s->log.sum_seed, buf, got, s->log.size, &v);
    if (derr == SF_DISKREC_OK)
        derr = sf_diskrec_check_pos(&v.meta, e.pos);
    if (derr == SF_DISKREC_OK && (v.meta.key_hash != kh || v.meta.variant != variant ||
                                  (v.meta.flags & SF_DISKREC_F_TOMBSTONE) != 0))
        derr = SF_DISKREC_STALE; /* sound, in its place, and not what the index says */
    /* The writer publishes the tail before it overwrites: past it, what was read may be of
     * the next lap, and the record is simply gone. */
    if (atomic_load(&s->tail) > e.pos) {
        free(buf);
        return SF_DISKSTORE_ABSENT;
    }
    if (derr != SF_DISKREC_OK) {
        atomic_fetch_add(&s->st.checksum_failures, 1);
        drop_entry(s, kh, variant, e.pos);
        free(buf);
        return SF_DISKSTORE_DAMAGED;
    }
    if (v.meta.key_len != key_len || memcmp(v.key, key, key_len) != 0) {
        free(buf); /* another key with the same 64-bit hash: never its response */
        return SF_DISKSTORE_ABSENT;
    }
    sf_handoff_lock(&s->handoff, &s->lock);
    enum sf_diskpurge_hit ph = sf_diskpurge_check(s->purges, e.pos, match, v.head, v.meta.head_len);
    if (ph == SF_DISKPURGE_REMOVED)
        sf_diskstore_index_remove(s, kh, variant, e.pos);
    sf_mutex_unlock(&s->lock);
    if (ph == SF_DISKPURGE_REMOVED) {
        atomic_fetch_add(&s->st.purged, 1);
        free(buf);
        return SF_DISKSTORE_PURGED;
    }
    atomic_fetch_add(&s->st.reads, 1);
    out->buf = buf;
    out->rec = v;
    out->invalidated = ph == SF_DISKPURGE_INVALIDATED;
    return SF_DISKSTORE_FOUND;
}

void sf_diskstore_hit_free(struct sf_diskstore_hit *h)
{
    if (h == NULL)
        return;
    free(h->buf);
    memset(h, 0, sizeof *h);
}

void sf_diskstore_forget(struct sf_diskstore *s, const char *key, size_t key_len, uint64_t variant)
{
    SF_CHECK_OBJ(s, SF_DISKSTORE_MAGIC);
    uint64_t kh = sf_diskstore_key_hash(s, key, key_len);
    struct sf_diskindex_entry e;
    sf_handoff_lock(&s->handoff, &s->lock);
    if (sf_diskindex_get(s->index, kh, variant, atomic_load(&s->tail), &e))
        sf_diskstore_index_remove(s, kh, variant, e.pos);
    sf_mutex_unlock(&s->lock);
}

bool sf_diskstore_holds(struct sf_diskstore *s, const char *key, size_t key_len, uint64_t variant,
                        uint32_t *size)
{
    SF_CHECK_OBJ(s, SF_DISKSTORE_MAGIC);
    if (!atomic_load(&s->on))
        return false;
    uint64_t kh = sf_diskstore_key_hash(s, key, key_len);
    struct sf_diskindex_entry e;
    sf_handoff_lock(&s->handoff, &s->lock);
    /* A record still queued is held too: a purge must not pass it by. */
    struct sf_diskstore_qitem *q = sf_diskwriter_find(s, kh, variant);
    bool held = q != NULL || sf_diskindex_get(s->index, kh, variant, atomic_load(&s->tail), &e);
    if (held && size != NULL)
        *size = q != NULL ? (uint32_t)q->rec_size : e.size;
    sf_mutex_unlock(&s->lock);
    return held;
}

bool sf_diskstore_holds_url(struct sf_diskstore *s, const char *url, size_t len)
{
    SF_CHECK_OBJ(s, SF_DISKSTORE_MAGIC);
    if (!atomic_load(&s->on))
        return false;
    uint32_t h = sf_diskurls_hash(s->log.hash_key, url, len);
    sf_handoff_lock(&s->handoff, &s->lock);
    /* The queue too: a record not yet written is hidden by a pending rule all the same,
     * and written after it would be found by a restart's scan, stale. */
    bool held = sf_diskurls_count(s->q_urls, h) > 0 || sf_diskindex_url_entries(s->index, h) > 0;
    sf_mutex_unlock(&s->lock);
    return held;
}

void sf_diskstore_get_stats(struct sf_diskstore *s, struct sf_diskstore_stats *out)
{
    SF_CHECK_OBJ(s, SF_DISKSTORE_MAGIC);
    memset(out, 0, sizeof *out);
    sf_handoff_lock(&s->handoff, &s->lock);
    out->records = sf_diskindex_count(s->index);
    out->index_bytes = sf_diskindex_bytes(s->index) + sf_diskurls_bytes(s->q_urls);
    out->writes_queued = s->q_count;
    out->queued_bytes = s->q_bytes;
    out->purge_rules = sf_diskpurge_count(s->purges);
    sf_mutex_unlock(&s->lock);
    uint64_t written = atomic_load(&s->written);
    out->on = atomic_load(&s->on);
    out->log_bytes = s->log.size;
    out->bytes_used = written < s->log.size ? written : s->log.size;
    out->writes = atomic_load(&s->st.writes);
    out->write_bytes = atomic_load(&s->st.write_bytes);
    out->writes_dropped = atomic_load(&s->st.writes_dropped);
    out->reads = atomic_load(&s->st.reads);
    out->checksum_failures = atomic_load(&s->st.checksum_failures);
    out->purged = atomic_load(&s->st.purged);
    out->errors = atomic_load(&s->st.errors);
    out->checkpoints = atomic_load(&s->st.checkpoints);
    out->index_evictions = atomic_load(&s->st.index_evictions);
    out->load_ms = atomic_load(&s->st.load_ms);
    out->load_scanned = atomic_load(&s->st.load_scanned);
    out->reads_queued = atomic_load(&s->st.reads_queued);
    out->load_from_checkpoint = s->load_from_checkpoint;
    out->purge_collapses = atomic_load(&s->st.purge_collapses);
}
