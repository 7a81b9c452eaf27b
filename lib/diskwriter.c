/* diskwriter: the disk store's queue and its writer thread (docs/disk.md, "The writer
 * thread and its queue"). diskstore.c opens the store and serves reads; diskstorei.h is
 * the struct both share.
 *
 * Request threads queue records (sf_diskstore_put) without ever waiting for the disk: the
 * queue is bounded in bytes, and what does not fit is dropped and counted. Purges queue a
 * tombstone that is never dropped, behind everything queued before it, bounded apart
 * (queue_purge: identical no-wait ones coalesce, and past the bound they become one that
 * selects every record). The one writer
 * thread takes each item in order and:
 *
 *   1. places it at the head, or at the next lap's start when it would cross the log's
 *      end (the skipped end keeps zeros or old records: the scan expects that);
 *   2. copies the body (copy_body, on this thread) and encodes the record into a buffer
 *      it reuses;
 *   3. indexes it (a record the full index refuses is not written: counted as dropped);
 *   4. publishes the new tail, then pwrites: a reader that read bytes the write replaced
 *      sees the tail past its record when it checks after its read;
 *   5. publishes the written mark (readers do not read an indexed record above it);
 *   6. takes the record out of the queued map, waits for the reads copying it from there,
 *      and releases its object.
 *
 * From put to step 6 a read finds the record in the queued map (newest first) and builds
 * it from the item: its head and copy_body, outside the lock, the item pinned meanwhile.
 * Without that, a response the memory cache evicted before the writer reached it was
 * fetched again from the origin (11 of 18,547 keys in disk_bench's Zipf phase).
 *
 * A tombstone is not indexed: its rule (added PENDING by the purge) is settled at its
 * position, the file is fdatasync'd (settle() says when) and the purge's waiter woken.
 * Every 256 MiB written or 30 s, and at close once the queue is drained, the writer
 * writes the index and a copy of the settled rules as the checkpoint, outside the lock:
 * the index holds still while it does (checkpoint() says how), and it is consistent with
 * the head it names because only this thread moves the head and indexes records.
 *
 * A full index gives up its oldest records by moving the tail (index_put), saved first in
 * index.tail (disktail.h), so that a start never brings them back; request threads lock
 * through the handoff (handoff.h), so that the sweeps' steps really let them in.
 *
 * A write error turns the store off (diskstore.c): the writer then releases what is
 * queued without writing it, and put and purge refuse. */
#include "diskstore.h"

#include "base.h"
#include "diskindex.h"
#include "diskload.h"
#include "diskstorei.h"
#include "disktail.h"
#include "handoff.h"
#include "diskurls.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CKPT_BYTES (256ull << 20)
#define CKPT_MS 30000u

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void item_free(struct sf_diskstore_qitem *q)
{
    free(q->key);
    free(q->head);
    free((char *)q->rule.text);
    free((char *)q->rule.tag_header);
    free(q);
}

/* Gives the item's object back: called exactly once for a record, written or not. */
static void item_release(struct sf_diskstore_qitem *q)
{
    if (q->release != NULL)
        q->release(q->ctx);
    q->release = NULL;
}

static size_t bucket_of(const struct sf_diskstore *s, uint64_t key_hash)
{
    return (size_t)key_hash & s->q_mask;
}

struct sf_diskstore_qitem *sf_diskwriter_find(struct sf_diskstore *s, uint64_t key_hash,
                                              uint64_t variant)
{
    sf_mutex_assert_held(&s->lock);
    /* Newest first: a key stored twice while queued is read as its second store. */
    for (struct sf_diskstore_qitem *q = s->q_map[bucket_of(s, key_hash)]; q != NULL;
         q = q->map_next)
        if (q->key_hash == key_hash && q->variant == variant)
            return q;
    return NULL;
}

struct sf_diskstore_qitem *sf_diskwriter_pin(struct sf_diskstore *s, uint64_t key_hash,
                                             uint64_t variant)
{
    struct sf_diskstore_qitem *q = sf_diskwriter_find(s, key_hash, variant);
    if (q != NULL)
        q->readers++;
    return q;
}

void sf_diskwriter_unpin(struct sf_diskstore *s, struct sf_diskstore_qitem *q)
{
    sf_mutex_assert_held(&s->lock);
    SF_ASSERT(q->readers > 0);
    if (--q->readers == 0 && !q->mapped)
        SF_PTOK(pthread_cond_broadcast(&s->unpin_cv));
}

/* Takes q out of the queued map and waits for the reads copying it: after this nobody
 * reads its key, head or object. */
static void unmap(struct sf_diskstore *s, struct sf_diskstore_qitem *q)
{
    if (!q->mapped)
        return; /* never queued (put refused it), or a tombstone: only this thread knows q */
    sf_mutex_lock(&s->lock);
    struct sf_diskstore_qitem **pp = &s->q_map[bucket_of(s, q->key_hash)];
    while (*pp != q)
        pp = &(*pp)->map_next;
    *pp = q->map_next;
    q->mapped = false;
    sf_diskurls_remove(s->q_urls, q->url);
    while (q->readers > 0)
        sf_cond_wait_ms(&s->unpin_cv, &s->lock, 1000);
    sf_mutex_unlock(&s->lock);
}

/* The writer is done with q, written or not: out of the map, its object given back. */
static void item_done(struct sf_diskstore *s, struct sf_diskstore_qitem *q)
{
    unmap(s, q);
    item_release(q);
    item_free(q);
}

static void item_drop(struct sf_diskstore *s, struct sf_diskstore_qitem *q)
{
    if (q->collapse) {
        sf_mutex_lock(&s->lock);
        s->collapses_pending--;
        sf_mutex_unlock(&s->lock);
    }
    if (!q->tombstone)
        atomic_fetch_add(&s->st.writes_dropped, 1);
    item_done(s, q);
}

/* Appends q to the queue (a record to the map too). Lock held. */
static void enqueue(struct sf_diskstore *s, struct sf_diskstore_qitem *q)
{
    sf_mutex_assert_held(&s->lock);
    if (!q->tombstone) {
        struct sf_diskstore_qitem **b = &s->q_map[bucket_of(s, q->key_hash)];
        q->map_next = *b;
        *b = q;
        q->mapped = true;
        s->q_bytes += q->rec_size;
    } else {
        s->t_count++; /* a bound of their own: tombstones never push a store out */
        q->t_next = NULL;
        q->t_prev = s->t_last;
        if (s->t_last != NULL)
            s->t_last->t_next = q;
        else
            s->t_first = q;
        s->t_last = q;
    }
    q->next = NULL;
    q->prev = s->q_last;
    if (s->q_last != NULL)
        s->q_last->next = q;
    else
        s->q_first = q;
    s->q_last = q;
    s->q_count++;
    SF_PTOK(pthread_cond_signal(&s->work_cv));
}

/* Takes q out of the queue, undoing enqueue's counts (not the map's). Lock held. */
static void dequeue(struct sf_diskstore *s, struct sf_diskstore_qitem *q)
{
    sf_mutex_assert_held(&s->lock);
    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        s->q_first = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    else
        s->q_last = q->prev;
    q->next = q->prev = NULL;
    if (q->tombstone) {
        s->t_count--;
        if (q->t_prev != NULL)
            q->t_prev->t_next = q->t_next;
        else
            s->t_first = q->t_next;
        if (q->t_next != NULL)
            q->t_next->t_prev = q->t_prev;
        else
            s->t_last = q->t_prev;
        q->t_next = q->t_prev = NULL;
    } else
        s->q_bytes -= q->rec_size;
    s->q_count--;
}

bool sf_diskstore_put(struct sf_diskstore *s, struct sf_diskstore_item *item)
{
    SF_CHECK_OBJ(s, SF_DISKSTORE_MAGIC);
    struct sf_diskstore_qitem *q = sf_xcalloc(1, sizeof *q);
    q->head = item->head;
    item->head = NULL; /* the store's now, whatever happens */
    q->release = item->release;
    q->ctx = item->ctx;
    q->rec_size = item->key_len <= SF_DISKREC_MAX_KEY
                      ? sf_diskrec_size((uint32_t)item->key_len, item->head_len, item->body_len)
                      : 0;
    bool queued = false;
    if (q->rec_size != 0 && q->rec_size <= s->log.size && atomic_load(&s->on)) {
        q->key = malloc(item->key_len > 0 ? item->key_len : 1);
        if (q->key != NULL) {
            memcpy(q->key, item->key, item->key_len);
            q->key_len = (uint32_t)item->key_len;
            q->key_hash = sf_diskstore_key_hash(s, item->key, item->key_len);
            q->url = sf_diskurls_hash(s->log.hash_key, item->key, item->key_len);
            q->variant = item->variant;
            q->stored_ms = item->stored_ms;
            q->expires_ms = item->expires_ms;
            q->head_len = item->head_len;
            q->body_len = item->body_len;
            q->copy_body = item->copy_body;
            sf_handoff_lock(&s->handoff, &s->lock);
            /* Its URL counted while it is in the queued map (unmap), so that an
             * invalidation does not pass it by (sf_diskstore_holds_url). */
            if (!s->stopping && s->q_bytes + q->rec_size <= s->queue_max &&
                sf_diskurls_add(s->q_urls, q->url)) {
                enqueue(s, q);
                queued = true;
            }
            sf_mutex_unlock(&s->lock);
        }
    }
    if (!queued)
        item_drop(s, q); /* outside the lock: release is the caller's code */
    return queued;
}

/* Makes q's rule PREFIX "" (every record) of its softness, its key the rule's encoding. */
static void select_all(struct sf_diskstore *s, struct sf_diskstore_qitem *q)
{
    free((char *)q->rule.text);
    free((char *)q->rule.tag_header);
    q->rule.kind = SF_DISKPURGE_PREFIX;
    q->rule.text = sf_xstrdup("");
    q->rule.tag_header = NULL;
    uint8_t enc[64];
    size_t len = sf_diskpurge_encode(&q->rule, enc, sizeof enc);
    SF_ASSERT(len > 0); /* a dozen bytes */
    free(q->key);
    q->key = sf_xmalloc(len);
    memcpy(q->key, enc, len);
    q->key_len = (uint32_t)len;
    q->key_hash = sf_diskstore_key_hash(s, q->key, len);
    q->rec_size = sf_diskrec_size(q->key_len, 0, 0);
}

/* The rules of q's softness are over the bound: they go (the settled ones), for q, made
 * the one rule that selects every record (PREFIX ""), whose tombstone is queued after all
 * of theirs, so it selects at least what each of them did, persisted like them so a
 * restart agrees. How many went (counted as a collapse when any did). Lock held. */
static size_t collapse(struct sf_diskstore *s, bool soft)
{
    sf_mutex_assert_held(&s->lock);
    size_t n = sf_diskpurge_collapse(s->purges, soft);
    if (n > 0)
        atomic_fetch_add(&s->st.purge_collapses, 1);
    return n;
}

/* Until a collapse's tombstone is written the rules it dropped are in no checkpoint, so
 * none is written meanwhile (checkpoint()). Lock held. */
static void mark_collapse(struct sf_diskstore *s, struct sf_diskstore_qitem *q)
{
    if (!q->collapse) {
        q->collapse = true;
        s->collapses_pending++;
    }
}

/* How many identical no-wait purges one queued tombstone stands for at most: under a
 * steady flood it keeps moving to the tail, and past this a new one is queued, so that
 * some tombstone of the rule reaches the disk (and a collapse's lets checkpoints go on). */
#define COALESCE_MAX 1000u

/* A queued tombstone of q's very rule (the same encoding) that nobody waits for, or NULL.
 * Only the queued tombstones are walked: at most SF_DISKSTORE_TOMB_MAX and the waited
 * ones. Lock held. */
static struct sf_diskstore_qitem *pending_twin(struct sf_diskstore *s,
                                               const struct sf_diskstore_qitem *q)
{
    sf_mutex_assert_held(&s->lock);
    for (struct sf_diskstore_qitem *t = s->t_last; t != NULL; t = t->t_prev)
        if (!t->waited && t->coalesced < COALESCE_MAX && t->key_len == q->key_len &&
            memcmp(t->key, q->key, q->key_len) == 0)
            return t;
    return NULL;
}

/* A no-wait purge identical to the queued tombstone t needs no tombstone of its own: t's
 * pending rule already hides every record it selects, wherever those are written. What
 * must hold is that t, once written, still lies after every record queued before this
 * purge (else a restart's scan would find such a record after the tombstone and serve
 * it): moving t to the queue's tail, with this purge's number, does that, and since
 * nobody waits for t no waiter's answer moves. The numbers in the queue stay in order, so
 * purge_done still means "every purge up to it". Lock held. */
static void coalesce(struct sf_diskstore *s, struct sf_diskstore_qitem *t)
{
    dequeue(s, t);
    t->seq = ++s->purge_seq;
    t->coalesced++;
    enqueue(s, t);
}

/* Queues q (its rule added PENDING) or folds it into an identical queued tombstone (then
 * frees it). Over the rules' bound the settled rules collapse; past the tombstones' bound
 * a no-wait purge (a soft one: sf_diskstore_purge made a hard one wait) becomes "every
 * record needs validation". Either way q becomes PREFIX "", which coalesces with the
 * last such queued. The purge's number; *collapsed: how many rules went. Lock held. */
static uint64_t queue_purge(struct sf_diskstore *s, struct sf_diskstore_qitem *q, size_t *collapsed)
{
    bool over_rules = sf_diskpurge_count_of(s->purges, q->rule.soft) >= s->purge_max;
    if (over_rules)
        *collapsed = collapse(s, q->rule.soft);
    if (over_rules || (!q->waited && s->t_count >= SF_DISKSTORE_TOMB_MAX))
        select_all(s, q);
    struct sf_diskstore_qitem *t = q->waited ? NULL : pending_twin(s, q);
    if (t != NULL) {
        coalesce(s, t);
        if (over_rules)
            mark_collapse(s, t);
        item_free(q);
        return t->seq;
    }
    if (over_rules)
        mark_collapse(s, q);
    /* The rule hides every record it selects from now on, the tombstone's place being
     * unknown until it is written. */
    sf_diskpurge_add(s->purges, &q->rule);
    q->seq = ++s->purge_seq;
    enqueue(s, q); /* never dropped: tombstones have their own bound (above) */
    return q->seq;
}

bool sf_diskstore_purge(struct sf_diskstore *s, enum sf_diskpurge_kind kind, const char *text,
                        const char *tag_header, bool soft, bool wait)
{
    SF_CHECK_OBJ(s, SF_DISKSTORE_MAGIC);
    if (!atomic_load(&s->on))
        return false;
    struct sf_diskpurge_rule r = {.pos = SF_DISKPURGE_PENDING,
                                  .kind = kind,
                                  .soft = soft,
                                  .text = text,
                                  .tag_header = kind == SF_DISKPURGE_TAG ? tag_header : NULL};
    uint8_t *enc = sf_xmalloc(SF_DISKREC_MAX_KEY);
    size_t n = sf_diskpurge_encode(&r, enc, SF_DISKREC_MAX_KEY);
    if (n == 0) {
        free(enc); /* a rule over 16 KiB: too long to persist */
        return false;
    }
    struct sf_diskstore_qitem *q = sf_xcalloc(1, sizeof *q);
    q->tombstone = true;
    q->key = sf_xmalloc(n); /* its own length: the queue may hold many */
    memcpy(q->key, enc, n);
    free(enc);
    q->key_len = (uint32_t)n;
    q->key_hash = sf_diskstore_key_hash(s, q->key, n);
    q->stored_ms = wall_ms();
    q->rec_size = sf_diskrec_size(q->key_len, 0, 0);
    q->rule = r;
    q->rule.text = sf_xstrdup(text);
    q->rule.tag_header = sf_xstrdup_opt(r.tag_header);
    q->waited = wait;
    sf_handoff_lock(&s->handoff, &s->lock);
    if (s->stopping || !atomic_load(&s->on)) {
        sf_mutex_unlock(&s->lock);
        item_free(q);
        return false;
    }
    /* Past the tombstones' bound an invalidation (soft, a client's unsafe request) becomes
     * "every record needs validation", which coalesces into one tombstone (queue_purge); a
     * hard no-wait purge (an admin's) waits for its tombstone instead: the waiters are as
     * many as the threads, so waited tombstones need no bound. */
    if (!wait && !soft && s->t_count >= SF_DISKSTORE_TOMB_MAX)
        wait = q->waited = true;
    size_t collapsed = 0;
    uint64_t seq = queue_purge(s, q, &collapsed);
    while (wait && s->purge_done < seq && atomic_load(&s->on))
        sf_cond_wait_ms(&s->done_cv, &s->lock, 1000);
    bool done = !wait || s->purge_done >= seq;
    sf_mutex_unlock(&s->lock);
    if (collapsed > 0)
        sf_log_warn("disk store %s: over %" PRIu64 " %s purge rules: %zu collapsed into one "
                    "that selects every record stored before it (%s)",
                    s->path, s->purge_max, soft ? "soft" : "hard", collapsed,
                    soft ? "each needs validation before use" : "all of them gone");
    return done;
}

static bool grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return true;
    uint8_t *b = realloc(*buf, need);
    if (b == NULL)
        return false;
    *buf = b;
    *cap = need;
    return true;
}

/* Encodes q at pos into rec_buf (copying its body on this thread). The object is released
 * once the record is written: until then reads copy it from the queued map. */
static bool encode(struct sf_diskstore *s, struct sf_diskstore_qitem *q, uint64_t pos)
{
    if (!grow(&s->rec_buf, &s->rec_cap, q->rec_size) ||
        !grow(&s->body_buf, &s->body_cap, q->body_len > 0 ? q->body_len : 1))
        return false;
    if (q->body_len > 0)
        q->copy_body(q->ctx, s->body_buf, q->body_len);
    struct sf_diskrec_meta m = {
        .pos = pos,
        .key_hash = q->key_hash,
        .variant = q->variant,
        .stored_ms = q->stored_ms,
        .expires_ms = q->expires_ms,
        .flags = q->tombstone ? SF_DISKREC_F_TOMBSTONE : 0,
        .key_len = q->key_len,
        .head_len = q->head_len,
        .body_len = q->body_len,
    };
    size_t n = 0;
    enum sf_diskrec_err err = sf_diskrec_encode(s->log.sum_seed, &m, q->key, q->head, s->body_buf,
                                                s->rec_buf, s->rec_cap, &n);
    SF_ASSERT(err == SF_DISKREC_OK && n == q->rec_size); /* put checked every length */
    return true;
}

static bool pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return false;
        }
        done += (size_t)n;
    }
    return true;
}

/* The position of the next record of size bytes: the head, or the next lap's start when
 * it would cross the log's end. */
static uint64_t place(const struct sf_diskstore *s, size_t size)
{
    uint64_t in_lap = s->head % s->log.size;
    return in_lap + size > s->log.size ? s->head + (s->log.size - in_lap) : s->head;
}

/* The tombstone of q is at pos: its rule gets its place, and once it is on the disk the
 * purge's waiter hears it. The fdatasync is for a waiter, a collapse (the checkpoint that
 * follows drops the rules it replaced), or the last of a run of tombstones: a flood of
 * invalidations costs one per run, not one each. An unsynced one still moves purge_done:
 * every waited purge before it was synced when written, and the next sync covers it. */
static void settle(struct sf_diskstore *s, struct sf_diskstore_qitem *q, uint64_t pos)
{
    sf_mutex_lock(&s->lock);
    sf_diskpurge_settle(s->purges, &q->rule, pos);
    bool sync = q->waited || q->collapse || s->q_first == NULL || !s->q_first->tombstone;
    sf_mutex_unlock(&s->lock);
    if (sync && fdatasync(s->log.fd) != 0) {
        sf_diskstore_turn_off(s, "fdatasync", strerror(errno));
        return;
    }
    sf_mutex_lock(&s->lock);
    if (q->collapse) {
        q->collapse = false; /* its rule is settled: a checkpoint saves it */
        s->collapses_pending--;
    }
    s->purge_done = q->seq;
    SF_PTOK(pthread_cond_broadcast(&s->done_cv));
    sf_mutex_unlock(&s->lock);
}

/* The most the writer waits, between two steps of an index eviction, for the request
 * threads that were waiting for the lock when the step ended to have had it (handoff.h).
 * They take microseconds each; those that come meanwhile are not waited for. */
#define HANDOFF_MS 2

/* Persists to, the tail a full index is about to move to (disktail.h), before any sweep
 * uncounts the URLs below it: after a kill -9 the start gives up what this process gave
 * up. The lock is let go meanwhile (two fsyncs; only this thread moves the tail). False,
 * the store turned off, when it cannot be written. Lock held. */
static bool save_tail(struct sf_diskstore *s, uint64_t to)
{
    char err[512];
    sf_mutex_unlock(&s->lock);
    bool ok = sf_disktail_save(s->path, s->log.store_id, s->log.size, to, err, sizeof err);
    if (!ok)
        sf_diskstore_turn_off(s, "saving the index tail", err);
    sf_mutex_lock(&s->lock);
    return ok;
}

/* Indexes e. An index full of live entries (records smaller than BYTES_PER_ENTRY on
 * average fill it before the log) would refuse every record from then on, since only
 * writes move the tail that makes entries dead: so the oldest records are given up
 * instead, by moving the tail an eighth of the way to the head (they are still in the
 * file, no longer read; the new tail saved first: save_tail), until the entry fits. The
 * table is swept for dead entries SF_DISKSTORE_EVICT_SWEEP slots at a time, the request
 * threads waiting for the lock let in between them (handoff.h: merely unlocking let none
 * in), and e tried after each: the
 * tail moves only once the whole table (twice its slots of examinations: a removal moves
 * the next entry back into the swept slot) was swept in vain since it last moved. After a
 * move the first chunk almost always frees room (an eighth of the entries died, spread
 * over the table); the rest of the dead go with later inserts' sweeps. FULL only when
 * that cannot help (no memory for the table). */
static enum sf_diskindex_put index_put(struct sf_diskstore *s, const struct sf_diskindex_entry *e)
{
    sf_mutex_lock(&s->lock);
    enum sf_diskindex_put r = sf_diskindex_put(s->index, e, atomic_load(&s->tail));
    /* The dead first: sweeps are bounded, so entries that died in an earlier eviction may
     * still be there, and giving up more records while they are would be early. */
    size_t moves = 0, swept = 0;
    while (r == SF_DISKINDEX_FULL && atomic_load(&s->on)) { /* off: nothing more to save */
        uint64_t tail = atomic_load(&s->tail);
        if (swept >= 2 * sf_diskindex_slots(s->index)) {
            if (moves == 16 || tail >= s->head || !save_tail(s, tail + (s->head - tail + 7) / 8))
                break;
            atomic_store(&s->tail, tail + (s->head - tail + 7) / 8);
            atomic_fetch_add(&s->st.index_evictions, 1);
            moves++, swept = 0;
        }
        sf_diskindex_sweep(s->index, atomic_load(&s->tail), SF_DISKSTORE_EVICT_SWEEP);
        swept += SF_DISKSTORE_EVICT_SWEEP;
        r = sf_diskindex_put(s->index, e, atomic_load(&s->tail));
        if (r == SF_DISKINDEX_FULL) /* request threads between the steps, really */
            sf_handoff_yield(&s->handoff, &s->lock, HANDOFF_MS);
    }
    sf_mutex_unlock(&s->lock);
    return r;
}

static void write_item(struct sf_diskstore *s, struct sf_diskstore_qitem *q)
{
    if (!atomic_load(&s->on)) {
        item_drop(s, q);
        return;
    }
    uint64_t pos = place(s, q->rec_size);
    if (!encode(s, q, pos)) {
        /* No memory for the buffer: a record is dropped, but a tombstone cannot be: its
         * rule would stay PENDING, its waiter asleep, and a later settle would move
         * purge_done past it (a false success). The store goes off: waiters hear false. */
        if (q->tombstone)
            sf_diskstore_turn_off(s, "a tombstone's encoding", "out of memory");
        item_drop(s, q);
        return;
    }
    if (!q->tombstone) {
        struct sf_diskindex_entry e = {
            .key_hash = q->key_hash,
            .variant = q->variant,
            .pos = pos,
            .size = (uint32_t)q->rec_size,
            .expires_s = sf_diskindex_expires_s(q->expires_ms), /* as the load has it */
            .url = q->url,
        };
        if (index_put(s, &e) == SF_DISKINDEX_FULL) {
            item_drop(s, q);
            return;
        }
    }
    uint64_t end = pos + q->rec_size;
    if (end > s->log.size && end - s->log.size > atomic_load(&s->tail))
        atomic_store(&s->tail, end - s->log.size);
    if (!pwrite_all(s->log.fd, s->rec_buf, q->rec_size, s->log.base + pos % s->log.size)) {
        sf_diskstore_turn_off(s, "pwrite", strerror(errno));
        item_drop(s, q);
        return;
    }
    s->head = end;
    atomic_store(&s->written, end);
    atomic_fetch_add(&s->st.writes, 1);
    atomic_fetch_add(&s->st.write_bytes, q->rec_size);
    s->ckpt_bytes += q->rec_size;
    if (q->tombstone)
        settle(s, q, pos);
    item_done(s, q); /* after the written mark: a read finds the record in one or the other */
}

/* Writes the checkpoint: the index itself and a copy of the settled rules. While it is
 * written nobody changes the index (the writer is busy here, and readers defer their
 * removals: sf_diskstore_index_remove), so the save reads it without the lock, beside
 * readers that only read it; readers never wait for the disk, nor for a copy (75 ms for
 * a million entries, measured). A rule still PENDING has its tombstone after the head:
 * the scan that follows the checkpoint finds it. */
static void checkpoint(struct sf_diskstore *s)
{
    /* The rules a collapse dropped are in no checkpoint until its tombstone is written, and
     * a restart follows the log from this one's head: wait (ckpt_bytes kept, so it is
     * still due once the tombstone is written). Rather than saving the pending collapse
     * rule: a checkpoint's rules are settled ones, with a position the load trusts. */
    sf_mutex_lock(&s->lock);
    bool collapsing = s->collapses_pending > 0;
    sf_mutex_unlock(&s->lock);
    if (collapsing)
        return;
    s->ckpt_bytes = 0;
    s->ckpt_ms = sf_now_ms();
    struct sf_diskpurge *p = sf_diskpurge_new();
    struct sf_diskpurge_rule r;
    size_t cursor = 0;
    sf_mutex_lock(&s->lock);
    /* The log's own tail, not the one a full index moved on: the records between them are
     * still in the file, and a start's load indexes them again, so the rules that hide
     * them must stay. */
    sf_diskpurge_retire(s->purges, s->head > s->log.size ? s->head - s->log.size : 0);
    while (sf_diskpurge_next(s->purges, &cursor, &r))
        if (r.pos != SF_DISKPURGE_PENDING)
            sf_diskpurge_add(p, &r);
    s->saving = true;
    sf_mutex_unlock(&s->lock);
    char err[512];
    bool ok = sf_diskload_save(s->path, &s->log, s->head, atomic_load(&s->tail), s->index, p, err,
                               sizeof err);
    sf_diskpurge_free(p);
    sf_mutex_lock(&s->lock);
    s->saving = false;
    for (size_t i = 0; i < s->n_deferred; i++)
        sf_diskindex_remove_at(s->index, s->deferred[i].key_hash, s->deferred[i].variant,
                               s->deferred[i].pos);
    s->n_deferred = 0;
    sf_mutex_unlock(&s->lock);
    if (ok)
        atomic_fetch_add(&s->st.checkpoints, 1);
    else
        sf_diskstore_turn_off(s, "the checkpoint", err);
}

/* How long the writer may sleep before a checkpoint is due; 0: due now. */
static uint64_t checkpoint_due_in(const struct sf_diskstore *s)
{
    if (s->ckpt_bytes == 0 || !atomic_load(&s->on))
        return CKPT_MS;
    if (s->ckpt_bytes >= s->ckpt_every_bytes)
        return 0;
    uint64_t now = sf_now_ms();
    return now >= s->ckpt_ms + CKPT_MS ? 0 : s->ckpt_ms + CKPT_MS - now;
}

/* Runs on: the writer thread. */
static void *writer_main(void *arg)
{
    struct sf_diskstore *s = arg;
    s->ckpt_ms = sf_now_ms();
    sf_mutex_lock(&s->lock);
    for (;;) {
        struct sf_diskstore_qitem *q = s->q_first;
        s->writing = q != NULL;
        if (q != NULL) {
            dequeue(s, q);
        } else if (s->stopping) {
            break;
        } else {
            uint64_t wait = checkpoint_due_in(s);
            if (wait > 0) {
                sf_cond_wait_ms(&s->work_cv, &s->lock, wait);
                continue;
            }
        }
        sf_mutex_unlock(&s->lock);
        if (q != NULL)
            write_item(s, q);
        if (checkpoint_due_in(s) == 0)
            checkpoint(s);
        sf_mutex_lock(&s->lock);
    }
    sf_mutex_unlock(&s->lock);
    if (s->ckpt_bytes > 0 && atomic_load(&s->on))
        checkpoint(s);
    free(s->rec_buf);
    free(s->body_buf);
    s->rec_buf = s->body_buf = NULL;
    return NULL;
}

void sf_diskwriter_start(struct sf_diskstore *s)
{
    /* Tests make checkpoints frequent to race them with readers; nobody else should. */
    const char *every = getenv("SF_DISK_CKPT_BYTES");
    s->ckpt_every_bytes = every != NULL && atoll(every) > 0 ? (uint64_t)atoll(every) : CKPT_BYTES;
    SF_PTOK(pthread_create(&s->writer, NULL, writer_main, s));
    s->writer_started = true;
}

void sf_diskwriter_stop(struct sf_diskstore *s)
{
    if (!s->writer_started)
        return;
    sf_mutex_lock(&s->lock);
    s->stopping = true;
    SF_PTOK(pthread_cond_signal(&s->work_cv));
    sf_mutex_unlock(&s->lock);
    SF_PTOK(pthread_join(s->writer, NULL));
    s->writer_started = false;
}
