/* diskload: see diskload.h; docs/disk.md, "Start-up and the checkpoint", is the design.
 *
 * The checkpoint (<dir>/index.ckpt), little-endian:
 *
 *    0 u32 magic "SFCK"   4 u32 version   8 u64 store id   16 u64 log size   24 u64 head
 *   32 u64 entries   40 u64 index tail (the records below it were given up by a full
 *      index: never indexed again), then each entry: u64 key_hash, u64 variant, u64 pos, u32 size,
 *      u32 expires_s, u32 url (36 bytes)
 *    then u64 rules, then each rule: u64 pos, u32 length, its sf_diskpurge_encode() bytes
 *    then u64 XXH3_64bits of every byte before it.
 *
 * It is believed whole or not at all: the checksum, then every field is checked before
 * the first entry is indexed, so a refused checkpoint leaves the index and the rules empty
 * for the full scan. Version 1 had no url: such a checkpoint is refused (another version),
 * and the full scan reads each record's URL from its key, once.
 *
 * The scans read the log through one window of WINDOW bytes (sequential preads); a record
 * larger than the window is stepped over by reading its successor's header directly. Only
 * headers and keys are read (a tombstone's for its rule, a record's for its URL's hash):
 * the bodies are checked when a request reads them. */
#define _GNU_SOURCE /* SEEK_DATA */
#include "diskload.h"

#include "base.h"
#include "diskindex.h"
#include "diskpurge.h"
#include "diskrec.h"
#include "disktail.h"
#include "diskurls.h"
#include "lebytes.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define CKPT_MAGIC 0x4b434653u /* "SFCK" read as little-endian bytes */
/* 2: each entry has its URL's hash (diskurls.h); a version 1 checkpoint is not loaded. */
#define CKPT_VERSION 2
#define CKPT_HEAD 48  /* magic .. index tail */
#define CKPT_ENTRY 36 /* one index entry */
#define WINDOW (1u << 20)
#define ALIGN SF_DISKREC_ALIGN

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t tail_of(uint64_t head, uint64_t size)
{
    return head > size ? head - size : 0;
}

/* ---- reading the log ---- */

struct reader {
    const struct sf_disklog *log;
    uint8_t *buf;  /* WINDOW bytes */
    uint64_t at;   /* the log offset of buf[0] */
    size_t len;    /* bytes held */
    bool io_error; /* errno kept in err */
    int err_no;
};

/* The need bytes at log offset off (within one lap) into *out: 1, or 0 when the log or the
 * file ends first, or -1 on an I/O error. */
static int peek(struct reader *r, uint64_t off, size_t need, const uint8_t **out)
{
    if (off + need > r->log->size)
        return 0;
    if (off < r->at || off + need > r->at + r->len) {
        uint64_t want = r->log->size - off < WINDOW ? r->log->size - off : WINDOW;
        size_t got = 0;
        while (got < want) {
            ssize_t n = pread(r->log->fd, r->buf + got, (size_t)want - got,
                              (off_t)(r->log->base + off + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                r->io_error = true, r->err_no = errno;
                return -1;
            }
            if (n == 0)
                break; /* the file is shorter than the log: truncated */
            got += (size_t)n;
        }
        r->at = off, r->len = got;
    }
    if (off + need > r->at + r->len)
        return 0;
    *out = r->buf + (off - r->at);
    return 1;
}

/* Whether a header at off is in the bytes read already (else the next peek reads). */
static bool in_window(const struct reader *r, uint64_t off)
{
    return off >= r->at && off + SF_DISKREC_HEADER <= r->at + r->len;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* ---- what a scan does with a record ---- */

struct scan {
    struct reader rd;
    struct sf_diskindex *x;
    struct sf_diskpurge *p;
    struct sf_diskload_result *out;
    bool keep_newer; /* the full scan meets records out of order: keep each key's newest */
    char *scratch;   /* a tombstone's rule's strings */
};

/* Indexes e. A full index gives up the oldest records, as the writer's index_put does
 * (moving the tail an eighth of the way to e's end, at most 16 times), so a start keeps the
 * newest rather than the first it meets: the scan goes oldest first. */
static enum sf_diskindex_put put_evicting(struct scan *sc, const struct sf_diskindex_entry *e,
                                          uint64_t tail)
{
    enum sf_diskindex_put r = sf_diskindex_put(sc->x, e, tail);
    uint64_t end = e->pos + e->size;
    for (int i = 0; r == SF_DISKINDEX_FULL && i < 16; i++) {
        uint64_t from = tail > sc->out->evict_tail ? tail : sc->out->evict_tail;
        if (from >= e->pos)
            break; /* e would be the oldest: it goes */
        sc->out->evict_tail = tail = from + (end - from + 7) / 8;
        if (tail > e->pos)
            break;
        sf_diskindex_sweep(sc->x, tail, 2 * sf_diskindex_slots(sc->x));
        r = sf_diskindex_put(sc->x, e, tail);
        sc->out->evictions++;
    }
    return r;
}

/* Indexes the sound record m at log offset off, or adds its tombstone's rule. tail: no
 * record below it is indexed (the log overwrote it, or a full index gave it up). */
static int take(struct scan *sc, uint64_t off, const struct sf_diskrec_meta *m, uint64_t tail)
{
    if (m->pos < tail)
        return 1;
    if (m->flags & SF_DISKREC_F_TOMBSTONE) {
        const uint8_t *rec;
        int got = peek(&sc->rd, off, SF_DISKREC_HEADER + (size_t)m->key_len, &rec);
        if (got <= 0)
            return got;
        struct sf_diskpurge_rule rule;
        /* The key's sum is unchecked here (headers only): a damaged key fails to decode,
         * or reads as another rule, which can only hide more records, never show one. */
        if (!sf_diskpurge_decode(rec + SF_DISKREC_HEADER, m->key_len, m->pos, sc->scratch,
                                 SF_DISKREC_MAX_KEY + 2, &rule)) {
            sc->out->damaged++;
            return 1;
        }
        sf_diskpurge_add(sc->p, &rule);
        sc->out->tombstones++;
        return 1;
    }
    /* Not for tombstones: a later start may index the records a full index gave up here,
     * and the rules that hide them must be there then. */
    if (m->pos < sc->out->evict_tail)
        return 1;
    if (tail < sc->out->evict_tail)
        tail = sc->out->evict_tail;
    /* The key's sum is unchecked here too: a damaged key hashes to another URL, and its
     * record fails its sum when read, so it is never served for any. */
    const uint8_t *rec;
    int got = peek(&sc->rd, off, SF_DISKREC_HEADER + (size_t)m->key_len, &rec);
    if (got <= 0)
        return got; /* the file ends in its key: truncated, never readable whole */
    struct sf_diskindex_entry e = {
        .key_hash = m->key_hash,
        .variant = m->variant,
        .pos = m->pos,
        .size = (uint32_t)sf_diskrec_size(m->key_len, m->head_len, m->body_len),
        .expires_s = sf_diskindex_expires_s(m->expires_ms),
        .url = sf_diskurls_hash(sc->rd.log->hash_key, rec + SF_DISKREC_HEADER, m->key_len),
    };
    struct sf_diskindex_entry old;
    if (sc->keep_newer && sf_diskindex_get(sc->x, e.key_hash, e.variant, tail, &old) &&
        old.pos > e.pos)
        return 1;
    if (put_evicting(sc, &e, tail) != SF_DISKINDEX_FULL)
        sc->out->scanned++;
    return 1;
}

/* What the log holds where the record at position want should be. */
enum found {
    FOUND_RECORD, /* the record written at want */
    FOUND_OLDER,  /* a sound record of an earlier lap: the log ended before it */
    FOUND_NEWER,  /* a sound record of a later lap at its place: the log went on past want */
    FOUND_ZEROS,  /* nothing was ever written here, or the file ends */
    FOUND_DAMAGE, /* bytes that are no sound header of this place */
    FOUND_IO,     /* an I/O error */
};

static enum found look(struct scan *sc, uint64_t want, struct sf_diskrec_meta *m)
{
    uint64_t size = sc->rd.log->size, off = want % size;
    const uint8_t *h;
    int got = peek(&sc->rd, off, SF_DISKREC_HEADER, &h);
    if (got < 0)
        return FOUND_IO;
    if (got == 0)
        return FOUND_ZEROS;
    enum sf_diskrec_err err =
        sf_diskrec_decode_header(sc->rd.log->sum_seed, h, SF_DISKREC_HEADER, size, m);
    if (err != SF_DISKREC_OK)
        return all_zero(h, ALIGN) ? FOUND_ZEROS : FOUND_DAMAGE;
    uint64_t rsize = sf_diskrec_size(m->key_len, m->head_len, m->body_len);
    if (m->pos % size != off || off + rsize > size)
        return FOUND_DAMAGE; /* no writer put that header here: bytes of a body */
    return m->pos == want ? FOUND_RECORD : m->pos < want ? FOUND_OLDER : FOUND_NEWER;
}

/* Moves *off past a hole of the file (a store preallocated and not yet written reads as
 * zeros, which hold no record): false when no data follows. Best effort: a file system
 * that reports its unwritten extents as data is read through. */
static bool skip_hole(const struct reader *r, uint64_t *off)
{
    off_t at = (off_t)(r->log->base + *off);
    off_t d = lseek(r->log->fd, at, SEEK_DATA);
    if (d < 0)
        return errno != ENXIO;
    if (d > at)
        *off = ((uint64_t)d - r->log->base + ALIGN - 1) / ALIGN * ALIGN;
    return true;
}

/* ---- the scan after a checkpoint: the chain of records from its head ---- */

enum chain {
    CHAIN_ENDED, /* *pos: where the log ends */
    CHAIN_AHEAD, /* the log went a lap past the checkpoint: scan it whole */
    CHAIN_IO,
};

/* After damage at *pos: the next sound header of this lap within one record's largest
 * size, in ALIGN steps. FOUND_RECORD moves *pos to it. */
static enum found resync(struct scan *sc, uint64_t *pos, struct sf_diskrec_meta *m)
{
    uint64_t size = sc->rd.log->size, lap = *pos - *pos % size;
    uint64_t end =
        *pos % size + sf_diskrec_size(SF_DISKREC_MAX_KEY, SF_DISKREC_MAX_HEAD, SF_DISKREC_MAX_BODY);
    if (end > size)
        end = size;
    for (uint64_t q = *pos % size + ALIGN; q + SF_DISKREC_HEADER <= end; q += ALIGN) {
        if (!in_window(&sc->rd, q) && !skip_hole(&sc->rd, &q))
            return FOUND_ZEROS;
        if (q + SF_DISKREC_HEADER > end)
            break;
        enum found f = look(sc, lap + q, m);
        if (f == FOUND_RECORD)
            *pos = lap + q;
        if (f != FOUND_ZEROS && f != FOUND_DAMAGE)
            return f;
    }
    return FOUND_ZEROS;
}

/* Where the chain goes on when no record of this lap follows *pos: the next lap's start,
 * if the record written after it did not fit at the lap's end. */
static enum found wrap(struct scan *sc, uint64_t *pos, struct sf_diskrec_meta *m)
{
    uint64_t size = sc->rd.log->size;
    if (*pos % size == 0)
        return FOUND_ZEROS;
    uint64_t next = *pos - *pos % size + size;
    enum found f = look(sc, next, m);
    if (f == FOUND_RECORD)
        *pos = next;
    return f;
}

static enum chain follow(struct scan *sc, uint64_t *pos)
{
    uint64_t size = sc->rd.log->size;
    struct sf_diskrec_meta m;
    for (;;) {
        enum found f = look(sc, *pos, &m);
        bool damaged = false;
        if (f == FOUND_DAMAGE) {
            /* Found past the damage: a record was lost. Not when the wrap finds the next
             * (the bytes before the lap's end may be the last lap's, no record at all). */
            f = resync(sc, pos, &m);
            damaged = f == FOUND_RECORD;
        }
        if (f == FOUND_ZEROS || f == FOUND_OLDER || f == FOUND_DAMAGE)
            f = wrap(sc, pos, &m);
        if (f == FOUND_NEWER)
            return CHAIN_AHEAD;
        if (f == FOUND_IO)
            return CHAIN_IO;
        if (f != FOUND_RECORD)
            return CHAIN_ENDED;
        sc->out->damaged += damaged;
        uint64_t rsize = sf_diskrec_size(m.key_len, m.head_len, m.body_len);
        if (take(sc, *pos % size, &m, tail_of(*pos + rsize, size)) < 0)
            return CHAIN_IO;
        *pos += rsize;
    }
}

/* ---- the scan of the whole log ---- */

/* Every sound record at its own place, from the log's first byte to its last. The head is
 * past the newest of them (docs/disk.md says why); records are indexed newest first per
 * key, and none below the tail that the newest so far implies. */
static bool scan_all(struct scan *sc, uint64_t *head)
{
    uint64_t size = sc->rd.log->size, off = 0, end = 0, prev_end = 0, prev_lap = UINT64_MAX;
    while (off + SF_DISKREC_HEADER <= size) {
        struct sf_diskrec_meta m;
        const uint8_t *h;
        if (!in_window(&sc->rd, off) && !skip_hole(&sc->rd, &off))
            break;
        int got = peek(&sc->rd, off, SF_DISKREC_HEADER, &h);
        if (got <= 0) {
            if (got < 0)
                return false;
            break;
        }
        enum sf_diskrec_err err =
            sf_diskrec_decode_header(sc->rd.log->sum_seed, h, SF_DISKREC_HEADER, size, &m);
        uint64_t rsize =
            err == SF_DISKREC_OK ? sf_diskrec_size(m.key_len, m.head_len, m.body_len) : 0;
        if (err != SF_DISKREC_OK || m.pos % size != off || off + rsize > size) {
            off += ALIGN;
            continue;
        }
        /* A lap's records are contiguous: a gap between two of the same lap is a record
         * lost to damage (the one at a lap's change is the last lap's overwritten part). */
        sc->out->damaged += m.pos / size == prev_lap && off != prev_end;
        prev_lap = m.pos / size, prev_end = off + rsize;
        if (m.pos + rsize > end)
            end = m.pos + rsize;
        if (take(sc, off, &m, tail_of(end, size)) < 0)
            return false;
        off += rsize;
    }
    *head = end;
    return true;
}

/* ---- the checkpoint ---- */

static void ckpt_name(char *out, size_t len, const char *dir, const char *suffix)
{
    snprintf(out, len, "%s/index.ckpt%s", dir, suffix);
}

/* The whole file at name into *buf (malloc'd) and *len; a note when it cannot. */
static bool read_file(const char *name, uint8_t **buf, size_t *len, char *note, size_t note_len)
{
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(note, note_len, errno == ENOENT ? "no checkpoint" : "checkpoint: %s",
                 strerror(errno));
        return false;
    }
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size < SIZE_MAX / 2;
    size_t n = ok ? (size_t)st.st_size : 0, got = 0;
    uint8_t *b = ok ? malloc(n) : NULL;
    while (b != NULL && got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (b == NULL || got < n) {
        free(b);
        snprintf(note, note_len, "checkpoint unreadable or empty");
        return false;
    }
    *buf = b, *len = n;
    return true;
}

struct ckpt {
    uint64_t head, entries, index_tail, rules;
    const uint8_t *entry0; /* the first entry */
    const uint8_t *rule0;  /* the first rule */
    const uint8_t *end;    /* the checksum */
};

static bool entry_sound(const uint8_t *e, const struct sf_disklog *log, uint64_t head)
{
    uint64_t pos = sf_le_get64(e + 16), size = sf_le_get32(e + 24);
    return size >= ALIGN && size % ALIGN == 0 && size <= log->size && pos <= head &&
           size <= head - pos && pos % log->size + size <= log->size;
}

/* Checks the checkpoint in b (n bytes) whole: a note and false when it cannot be used. */
static bool ckpt_check(const uint8_t *b, size_t n, const struct sf_disklog *log, char *scratch,
                       struct ckpt *c, char *note, size_t note_len)
{
    if (n < CKPT_HEAD + 16 || sf_le_get64(b + n - 8) != XXH3_64bits(b, n - 8))
        return snprintf(note, note_len, "checkpoint damaged (checksum)"), false;
    if (sf_le_get32(b) != CKPT_MAGIC || sf_le_get32(b + 4) != CKPT_VERSION)
        return snprintf(note, note_len, "checkpoint of another version"), false;
    if (sf_le_get64(b + 8) != log->store_id)
        return snprintf(note, note_len, "checkpoint of another store"), false;
    if (sf_le_get64(b + 16) != log->size)
        return snprintf(note, note_len, "checkpoint of another log size"), false;
    c->head = sf_le_get64(b + 24), c->entries = sf_le_get64(b + 32), c->end = b + n - 8;
    c->index_tail = sf_le_get64(b + 40);
    c->entry0 = b + CKPT_HEAD;
    if (c->index_tail > c->head)
        return snprintf(note, note_len, "checkpoint malformed (index tail)"), false;
    if (c->entries > (size_t)(c->end - c->entry0 - 8) / CKPT_ENTRY)
        return snprintf(note, note_len, "checkpoint malformed (entries)"), false;
    for (uint64_t i = 0; i < c->entries; i++)
        if (!entry_sound(c->entry0 + i * CKPT_ENTRY, log, c->head))
            return snprintf(note, note_len, "checkpoint malformed (entry %" PRIu64 ")", i), false;
    const uint8_t *p = c->entry0 + c->entries * CKPT_ENTRY;
    c->rules = sf_le_get64(p), c->rule0 = p += 8;
    for (uint64_t i = 0; i < c->rules; i++) {
        struct sf_diskpurge_rule r;
        uint64_t len = (size_t)(c->end - p) >= 12 ? sf_le_get32(p + 8) : UINT64_MAX;
        if (len > (size_t)(c->end - p) - 12 || sf_le_get64(p) >= c->head ||
            !sf_diskpurge_decode(p + 12, (size_t)len, sf_le_get64(p), scratch,
                                 SF_DISKREC_MAX_KEY + 2, &r))
            return snprintf(note, note_len, "checkpoint malformed (rule %" PRIu64 ")", i), false;
        p += 12 + len;
    }
    if (p != c->end)
        return snprintf(note, note_len, "checkpoint malformed (length)"), false;
    return true;
}

/* Indexes what the checked checkpoint c holds above its tails. The records below its index
 * tail (or the later one of index.tail), given up by the running process's full index,
 * stay given up: the scan that follows starts its own evictions from there (take(),
 * put_evicting()), so a record whose URL the running process no longer counted (an
 * invalidation then wrote no tombstone) is never indexed again. The rules are kept down
 * to the log's own tail, as before. */
static void ckpt_apply(const struct ckpt *c, const struct sf_disklog *log, struct scan *sc)
{
    uint64_t tail = tail_of(c->head, log->size);
    if (c->index_tail > sc->out->evict_tail)
        sc->out->evict_tail = c->index_tail;
    uint64_t etail = sc->out->evict_tail > tail ? sc->out->evict_tail : tail;
    /* The table's size at once: doubling it step by step was most of a million entries'
     * load (diskloadbench). Without the memory, the puts grow it as far as they can. */
    if (etail < c->head) /* else every entry is below the tail: none will be indexed */
        (void)sf_diskindex_reserve(sc->x, (size_t)c->entries, etail); /* read whole: fits */
    for (uint64_t i = 0; i < c->entries; i++) {
        const uint8_t *b = c->entry0 + i * CKPT_ENTRY;
        struct sf_diskindex_entry e = {.key_hash = sf_le_get64(b),
                                       .variant = sf_le_get64(b + 8),
                                       .pos = sf_le_get64(b + 16),
                                       .size = sf_le_get32(b + 24),
                                       .expires_s = sf_le_get32(b + 28),
                                       .url = sf_le_get32(b + 32)};
        if (e.pos >= etail)
            sf_diskindex_put(sc->x, &e, etail);
    }
    const uint8_t *p = c->rule0;
    for (uint64_t i = 0; i < c->rules; i++) {
        struct sf_diskpurge_rule r;
        uint32_t len = sf_le_get32(p + 8);
        if (sf_diskpurge_decode(p + 12, len, sf_le_get64(p), sc->scratch, SF_DISKREC_MAX_KEY + 2,
                                &r) &&
            r.pos >= tail)
            sf_diskpurge_add(sc->p, &r);
        p += 12 + (size_t)len;
    }
}

/* Loads dir's checkpoint when it is of log and sound: its head into *head. */
static bool ckpt_load(const char *dir, const struct sf_disklog *log, struct scan *sc,
                      uint64_t *head)
{
    char name[4096];
    ckpt_name(name, sizeof name, dir, "");
    uint8_t *b;
    size_t n;
    struct ckpt c;
    if (!read_file(name, &b, &n, sc->out->note, sizeof sc->out->note))
        return false;
    bool ok = ckpt_check(b, n, log, sc->scratch, &c, sc->out->note, sizeof sc->out->note);
    if (ok) {
        ckpt_apply(&c, log, sc);
        *head = c.head;
    }
    free(b);
    return ok;
}

bool sf_diskload_run(const char *dir, const struct sf_disklog *log, struct sf_diskindex *x,
                     struct sf_diskpurge *p, struct sf_diskload_result *out, char *err,
                     size_t err_len)
{
    SF_ASSERT(log->size >= SF_DISKREC_HEADER);
    uint64_t t0 = now_ms();
    memset(out, 0, sizeof *out);
    /* The running process's last index tail (disktail.h): no record below it comes back. */
    if (!sf_disktail_load(dir, log->store_id, log->size, &out->evict_tail)) {
        snprintf(err, err_len, "cannot read %s/index.tail: %s", dir, strerror(errno));
        return false;
    }
    struct scan sc = {.rd = {.log = log, .buf = sf_xmalloc(WINDOW)},
                      .x = x,
                      .p = p,
                      .out = out,
                      .scratch = sf_xmalloc(SF_DISKREC_MAX_KEY + 2)};
    uint64_t head = 0;
    bool ok = true;
    out->from_checkpoint = ckpt_load(dir, log, &sc, &head);
    enum chain c = out->from_checkpoint ? follow(&sc, &head) : CHAIN_AHEAD;
    if (c == CHAIN_AHEAD) {
        if (out->from_checkpoint)
            snprintf(out->note, sizeof out->note,
                     "the log went on a lap past the checkpoint; scanned whole");
        /* What the checkpoint gave is still true (records stay where they were written;
         * the tail below drops the overwritten): the scan adds the newer. */
        out->from_checkpoint = false;
        sc.keep_newer = true;
        ok = scan_all(&sc, &head);
    } else if (c == CHAIN_IO) {
        ok = false;
    }
    if (ok) {
        out->head = head;
        /* A tail saved past the head the log has now (writes lost with the power): every
         * record is given up, none is indexed above the head. */
        if (out->evict_tail > head) {
            out->evict_tail = head;
            out->tail_clamped = true;
        }
        uint64_t tail = tail_of(head, log->size);
        sf_diskpurge_retire(p, tail);
        /* Once round the table: the count the store reports is then of live entries. */
        sf_diskindex_sweep(x, out->evict_tail > tail ? out->evict_tail : tail,
                           sf_diskindex_slots(x));
    } else {
        snprintf(err, err_len, "cannot read the disk store: %s", strerror(sc.rd.err_no));
    }
    free(sc.rd.buf);
    free(sc.scratch);
    out->ms = now_ms() - t0;
    return ok;
}

/* ---- writing the checkpoint ---- */

struct writer {
    int fd;
    uint8_t *buf; /* WINDOW bytes */
    size_t len;
    XXH3_state_t *sum;
    int err_no; /* the first write's error; 0 */
};

static void flush(struct writer *w)
{
    XXH3_64bits_update(w->sum, w->buf, w->len);
    for (size_t done = 0; w->err_no == 0 && done < w->len;) {
        ssize_t n = write(w->fd, w->buf + done, w->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            w->err_no = n < 0 ? errno : EIO;
        else
            done += (size_t)n;
    }
    w->len = 0;
}

static void emit(struct writer *w, const void *data, size_t len)
{
    const uint8_t *d = data;
    while (len > 0) {
        if (w->len == WINDOW)
            flush(w);
        size_t n = WINDOW - w->len < len ? WINDOW - w->len : len;
        memcpy(w->buf + w->len, d, n);
        w->len += n, d += n, len -= n;
    }
}

static void emit64(struct writer *w, uint64_t v)
{
    uint8_t b[8];
    sf_le_put64(b, v);
    emit(w, b, 8);
}

/* The bytes of r's tombstone key into key, if the checkpoint at head holds r (its
 * tombstone below head and above tail, its key one a tombstone can have); else 0. */
static size_t saved_rule(const struct sf_diskpurge_rule *r, uint64_t tail, uint64_t head,
                         uint8_t *key)
{
    if (r->pos < tail || r->pos >= head)
        return 0;
    return sf_diskpurge_encode(r, key, SF_DISKREC_MAX_KEY);
}

/* Everything but the trailing checksum. The entries are those at or above the index's tail
 * (the store's, which a full index moves past the log's own): an entry below it is dead
 * though not yet swept, and once swept its URL is no longer counted, so an invalidation of
 * it writes no tombstone; saved, a load would serve it again. The rules are those above
 * the log's own tail. */
static void emit_body(struct writer *w, const struct sf_disklog *log, uint64_t head,
                      uint64_t index_tail, const struct sf_diskindex *x,
                      const struct sf_diskpurge *p)
{
    uint64_t tail = tail_of(head, log->size), n = 0;
    uint64_t etail = index_tail > tail ? index_tail : tail;
    struct sf_diskindex_entry e;
    struct sf_diskpurge_rule r;
    for (size_t cur = 0; sf_diskindex_next(x, &cur, etail, &e);)
        n += e.pos + e.size <= head;
    uint8_t h[CKPT_HEAD];
    sf_le_put32(h, CKPT_MAGIC), sf_le_put32(h + 4, CKPT_VERSION), sf_le_put64(h + 8, log->store_id);
    sf_le_put64(h + 16, log->size), sf_le_put64(h + 24, head), sf_le_put64(h + 32, n);
    sf_le_put64(h + 40, etail);
    emit(w, h, sizeof h);
    for (size_t cur = 0; sf_diskindex_next(x, &cur, etail, &e);) {
        if (e.pos + e.size > head)
            continue; /* written after the head the caller names: its scan finds it */
        uint8_t b[CKPT_ENTRY];
        sf_le_put64(b, e.key_hash), sf_le_put64(b + 8, e.variant), sf_le_put64(b + 16, e.pos);
        sf_le_put32(b + 24, e.size), sf_le_put32(b + 28, e.expires_s);
        sf_le_put32(b + 32, e.url);
        emit(w, b, sizeof b);
    }
    n = 0;
    uint8_t *key = sf_xmalloc(SF_DISKREC_MAX_KEY); /* not on a thread's stack */
    for (size_t cur = 0; sf_diskpurge_next(p, &cur, &r);)
        n += saved_rule(&r, tail, head, key) > 0;
    emit64(w, n);
    for (size_t cur = 0; sf_diskpurge_next(p, &cur, &r);) {
        size_t len = saved_rule(&r, tail, head, key);
        if (len == 0)
            continue;
        emit64(w, r.pos);
        uint8_t l[4];
        sf_le_put32(l, (uint32_t)len);
        emit(w, l, 4);
        emit(w, key, len);
    }
    free(key);
}

bool sf_diskload_save(const char *dir, const struct sf_disklog *log, uint64_t head,
                      uint64_t index_tail, const struct sf_diskindex *x,
                      const struct sf_diskpurge *p, char *err, size_t err_len)
{
    char tmp[4096], name[4096];
    ckpt_name(tmp, sizeof tmp, dir, ".tmp");
    ckpt_name(name, sizeof name, dir, "");
    struct writer w = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)};
    if (w.fd < 0) {
        snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
        return false;
    }
    w.buf = sf_xmalloc(WINDOW);
    w.sum = XXH3_createState();
    SF_ASSERT(w.sum != NULL);
    XXH3_64bits_reset(w.sum);
    emit_body(&w, log, head, index_tail, x, p);
    flush(&w);
    uint8_t sum[8];
    sf_le_put64(sum, XXH3_64bits_digest(w.sum));
    emit(&w, sum, sizeof sum);
    flush(&w);
    if (w.err_no == 0 && fdatasync(w.fd) != 0)
        w.err_no = errno;
    if (close(w.fd) != 0 && w.err_no == 0)
        w.err_no = errno;
    if (w.err_no == 0 && rename(tmp, name) != 0)
        w.err_no = errno;
    if (w.err_no == 0 && !sf_disktail_sync_dir(dir))
        w.err_no = errno;
    if (w.err_no != 0) {
        snprintf(err, err_len, "cannot write %s: %s", name, strerror(w.err_no));
        unlink(tmp);
    }
    bool ok = w.err_no == 0;
    XXH3_freeState(w.sum);
    free(w.buf);
    return ok;
}
