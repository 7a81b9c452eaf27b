/* diskbench: the measurements behind docs/disk.md's choice of store, kept to be run again.
 * A cache's churn on LMDB and on a cyclic log with an in-memory index (records of 32-byte
 * keys and MINK..MAXK KiB bodies; the oldest deleted or overwritten to stay in BUDGET;
 * random reads of the newer half, each checked with XXH3), the log's start-up (a scan of
 * every header against a checkpoint of the index), and checksum throughput. Not built by
 * the Makefile; needs liblmdb-dev and libxxhash-dev, and an SSE4.2 CPU for CRC32C:
 *
 *   cc -O2 -msse4.2 -o /tmp/diskbench scripts/diskbench.c -llmdb -lxxhash
 *   /tmp/diskbench log  DIR N BUDGET_MIB MINK MAXK   (e.g. 200000 2048 1 64)
 *   /tmp/diskbench lmdb DIR N BUDGET_MIB MINK MAXK   (SYNC=1: syncing commits)
 *   /tmp/diskbench startup DIR                       (after `log` in DIR)
 *   /tmp/diskbench sum
 *
 * DIR must exist, on a real disk (not tmpfs); the runs leave a file of BUDGET there. The
 * log's header here is an 80-byte stand-in for lib/diskrec.h's (same size and alignment).
 * RocksDB's run is scripts/diskbench_rocks.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <nmmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xr(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void key_of(uint64_t i, uint8_t k[32])
{
    uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
    for (int j = 0; j < 4; j++) {
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9ull;
        memcpy(k + 8 * j, &x, 8);
    }
}

static size_t size_of(uint64_t i, size_t mink, size_t maxk)
{
    uint64_t x = (i + 7) * 0xD6E8FEB86659FD93ull;
    x ^= x >> 29;
    return mink * 1024 + x % ((maxk - mink) * 1024 + 1);
}

static long rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report_lat(const char *what, double *lat, int n)
{
    qsort(lat, n, sizeof *lat, cmpd);
    printf("%s: p50 %.1f us, p99 %.1f us, max %.1f us\n", what, lat[n / 2] * 1e6,
           lat[n * 99 / 100] * 1e6, lat[n - 1] * 1e6);
}

static uint8_t *body_buf;

/* ---------------- LMDB ---------------- */
#define CK(x)                                                                                      \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_) {                                                                                 \
            fprintf(stderr, "%s: %s\n", #x, mdb_strerror(rc_));                                    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int run_lmdb(const char *dir, uint64_t n, uint64_t budget, size_t mink, size_t maxk)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    CK(mdb_env_create(&env));
    CK(mdb_env_set_mapsize(env, budget * 4));
    double t0 = now_s();
    CK(mdb_env_open(
        env, dir, (getenv("SYNC") ? 0 : MDB_NOSYNC | MDB_NOMETASYNC) | MDB_WRITEMAP | MDB_NORDAHEAD,
        0644));
    CK(mdb_txn_begin(env, NULL, 0, &txn));
    CK(mdb_dbi_open(txn, NULL, 0, &dbi));
    CK(mdb_txn_commit(txn));
    printf("lmdb open: %.3f ms\n", (now_s() - t0) * 1e3);
    uint64_t live = 0, oldest = 0, peak_file = 0;
    uint64_t batch = 64;
    double tw = now_s(), tcommit = 0;
    CK(mdb_txn_begin(env, NULL, 0, &txn));
    uint64_t written = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t k[32];
        key_of(i, k);
        size_t len = size_of(i, mink, maxk);
        MDB_val key = {32, k}, val = {len + 8, NULL};
        CK(mdb_put(txn, dbi, &key, &val, MDB_RESERVE));
        memcpy((uint8_t *)val.mv_data + 8, body_buf, len);
        uint64_t h = XXH3_64bits(body_buf, len);
        memcpy(val.mv_data, &h, 8);
        live += len;
        written += len;
        while (live > budget) {
            uint8_t ok[32];
            key_of(oldest, ok);
            MDB_val okey = {32, ok};
            CK(mdb_del(txn, dbi, &okey, NULL));
            live -= size_of(oldest, mink, maxk);
            oldest++;
        }
        if ((i + 1) % batch == 0) {
            double tc = now_s();
            CK(mdb_txn_commit(txn));
            tcommit += now_s() - tc;
            CK(mdb_txn_begin(env, NULL, 0, &txn));
        }
        if ((i + 1) % (n / 10) == 0) {
            struct stat st;
            MDB_envinfo ei;
            mdb_env_info(env, &ei);
            stat(dir, &st);
            char p[512];
            snprintf(p, sizeof p, "%s/data.mdb", dir);
            stat(p, &st);
            uint64_t used = (ei.me_last_pgno + 1) * 4096ull;
            if (used > peak_file)
                peak_file = used;
            printf("  %llu written: %.0f MB/s so far, live %.0f MiB, used pages %.0f MiB "
                   "(x%.2f)\n",
                   (unsigned long long)(i + 1), written / (now_s() - tw) / 1e6, live / 1048576.0,
                   used / 1048576.0, (double)used / live);
        }
    }
    CK(mdb_txn_commit(txn));
    double el = now_s() - tw;
    printf("lmdb write: %llu records, %.0f MB/s, %.0f rec/s (commit share %.0f%%)\n",
           (unsigned long long)n, written / el / 1e6, n / el, 100 * tcommit / el);
    /* reads of recent keys */
    int nr = 100000;
    double *lat = malloc(nr * sizeof *lat);
    uint64_t nlive = n - oldest, sum = 0;
    double tr = now_s();
    for (int r = 0; r < nr; r++) {
        uint64_t i = n - 1 - xr() % (nlive / 2);
        uint8_t k[32];
        key_of(i, k);
        double a = now_s();
        CK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
        MDB_val key = {32, k}, val;
        CK(mdb_get(txn, dbi, &key, &val));
        uint64_t h;
        memcpy(&h, val.mv_data, 8);
        if (h != XXH3_64bits((uint8_t *)val.mv_data + 8, val.mv_size - 8))
            abort();
        sum += val.mv_size;
        mdb_txn_abort(txn);
        lat[r] = now_s() - a;
    }
    printf("lmdb read (zero-copy mmap + xxh3 verify): %.0f reads/s, %.0f MB/s\n",
           nr / (now_s() - tr), sum / (now_s() - tr) / 1e6);
    report_lat("lmdb read latency", lat, nr);
    MDB_stat ms;
    mdb_env_stat(env, &ms);
    printf("lmdb: entries %llu, depth %u, branch %llu leaf %llu overflow pages %llu\n",
           (unsigned long long)ms.ms_entries, ms.ms_depth, (unsigned long long)ms.ms_branch_pages,
           (unsigned long long)ms.ms_leaf_pages, (unsigned long long)ms.ms_overflow_pages);
    mdb_env_close(env);
    char p[512];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    struct stat st;
    stat(p, &st);
    printf("lmdb file: %.0f MiB (peak used %.0f MiB) for %.0f MiB live: x%.2f\n",
           st.st_size / 1048576.0, peak_file / 1048576.0, live / 1048576.0,
           (double)peak_file / live);
    t0 = now_s();
    CK(mdb_env_create(&env));
    CK(mdb_env_set_mapsize(env, budget * 4));
    CK(mdb_env_open(env, dir, MDB_NOSYNC | MDB_WRITEMAP, 0644));
    CK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    CK(mdb_dbi_open(txn, NULL, 0, &dbi));
    mdb_txn_abort(txn);
    printf("lmdb reopen: %.3f ms; max RSS %ld KiB\n", (now_s() - t0) * 1e3, rss_kib());
    mdb_env_close(env);
    return 0;
}

/* ---------------- cyclic log ---------------- */
/* 64-byte header: magic, version, flags, head_len, body_len, pos (logical), key[32], sum */
struct hdr {
    uint32_t magic;
    uint16_t version, flags;
    uint32_t head_len, body_len;
    uint64_t pos;
    uint8_t key[32];
    uint64_t sum;
    uint8_t pad[16]; /* the format's header is 80 bytes */
};
_Static_assert(sizeof(struct hdr) == 80, "hdr");
#define MAGIC 0x53464431u
#define ALIGN 64

struct ent {
    uint64_t tag; /* key's first 8 bytes, 0 = empty */
    uint64_t pos;
    uint32_t len;
    uint32_t pad;
};
struct idx {
    struct ent *e;
    uint64_t mask, n;
};

static void idx_init(struct idx *x, uint64_t cap)
{
    uint64_t c = 1;
    while (c < cap * 4 / 3)
        c <<= 1;
    x->e = calloc(c, sizeof *x->e);
    x->mask = c - 1;
    x->n = 0;
}
static struct ent *idx_find(struct idx *x, uint64_t tag)
{
    for (uint64_t i = tag & x->mask;; i = (i + 1) & x->mask) {
        if (x->e[i].tag == tag || x->e[i].tag == 0)
            return &x->e[i];
    }
}
static void idx_put(struct idx *x, uint64_t tag, uint64_t pos, uint32_t len)
{
    struct ent *e = idx_find(x, tag);
    if (e->tag == 0)
        x->n++;
    e->tag = tag, e->pos = pos, e->len = len;
}
static void idx_del(struct idx *x, uint64_t tag)
{
    struct ent *e = idx_find(x, tag);
    if (e->tag == 0)
        return;
    /* backward-shift deletion (linear probing) */
    uint64_t i = e - x->e, j = i;
    for (;;) {
        j = (j + 1) & x->mask;
        if (x->e[j].tag == 0)
            break;
        uint64_t h = x->e[j].tag & x->mask;
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            x->e[i] = x->e[j];
            i = j;
        }
    }
    x->e[i].tag = 0;
    x->n--;
}

static uint64_t rec_size(uint32_t body)
{
    return (sizeof(struct hdr) + body + ALIGN - 1) / ALIGN * ALIGN;
}

static int run_log(const char *dir, uint64_t n, uint64_t budget, size_t mink, size_t maxk)
{
    char p[512];
    snprintf(p, sizeof p, "%s/store", dir);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || posix_fallocate(fd, 0, budget)) {
        perror("open/fallocate");
        return 1;
    }
    struct idx x;
    idx_init(&x, n < 1500000 ? n : 1500000);
    uint64_t wpos = 0, tail = 0, written = 0;
    uint8_t *buf = aligned_alloc(4096, 128 * 1024);
    double tw = now_s();
    uint64_t tail_reads = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct hdr h = {.magic = MAGIC, .version = 1};
        key_of(i, h.key);
        h.body_len = size_of(i, mink, maxk);
        uint64_t rs = rec_size(h.body_len);
        uint64_t off = wpos % budget;
        if (off + rs > budget) { /* skip the end: the next lap starts at 0 */
            wpos += budget - off;
            off = 0;
        }
        /* free the space ahead: records whose start is < wpos + rs - budget are overwritten */
        while (tail < wpos && tail + budget < wpos + rs) {
            struct hdr th;
            uint64_t toff = tail % budget;
            if (pread(fd, &th, sizeof th, toff) != sizeof th || th.magic != MAGIC ||
                th.pos != tail) {
                /* the skipped end of a lap */
                tail += budget - toff;
                continue;
            }
            tail_reads++;
            uint64_t tag;
            memcpy(&tag, th.key, 8);
            struct ent *e = idx_find(&x, tag);
            if (e->tag == tag && e->pos == tail)
                idx_del(&x, tag);
            tail += rec_size(th.body_len);
        }
        h.pos = wpos;
        memcpy(buf, &h, sizeof h);
        memcpy(buf + sizeof h, body_buf, h.body_len);
        memset(buf + sizeof h + h.body_len, 0, rs - sizeof h - h.body_len);
        uint64_t s = XXH3_64bits(buf, sizeof h + h.body_len);
        memcpy(buf + offsetof(struct hdr, sum), &s, 8);
        if (pwrite(fd, buf, rs, off) != (ssize_t)rs) {
            perror("pwrite");
            return 1;
        }
        uint64_t tag;
        memcpy(&tag, h.key, 8);
        idx_put(&x, tag, wpos, h.body_len);
        wpos += rs;
        written += h.body_len;
        if ((i + 1) % (n / 10) == 0)
            printf("  %llu written: %.0f MB/s so far, indexed %llu\n", (unsigned long long)(i + 1),
                   written / (now_s() - tw) / 1e6, (unsigned long long)x.n);
    }
    double el = now_s() - tw;
    uint64_t live = 0;
    for (uint64_t i = 0; i <= x.mask; i++)
        if (x.e[i].tag)
            live += x.e[i].len;
    printf("log write: %llu records, %.0f MB/s, %.0f rec/s; tail header reads %llu\n",
           (unsigned long long)n, written / el / 1e6, n / el, (unsigned long long)tail_reads);
    printf("log file %.0f MiB, live bodies %.0f MiB (x%.2f), indexed %llu, index %.1f MiB "
           "(%.1f B/record)\n",
           budget / 1048576.0, live / 1048576.0, (double)budget / live, (unsigned long long)x.n,
           (x.mask + 1) * sizeof(struct ent) / 1048576.0,
           (double)(x.mask + 1) * sizeof(struct ent) / x.n);
    /* reads */
    int nr = 100000;
    double *lat = malloc(nr * sizeof *lat);
    uint64_t sum = 0, found = 0;
    double tr = now_s();
    for (int r = 0; r < nr; r++) {
        uint64_t i = n - 1 - xr() % (x.n / 2);
        uint8_t k[32];
        key_of(i, k);
        uint64_t tag;
        memcpy(&tag, k, 8);
        double a = now_s();
        struct ent *e = idx_find(&x, tag);
        if (e->tag != tag)
            continue;
        uint64_t rs = sizeof(struct hdr) + e->len;
        if (pread(fd, buf, rs, e->pos % budget) != (ssize_t)rs)
            abort();
        struct hdr h;
        memcpy(&h, buf, sizeof h);
        uint64_t want = h.sum;
        memset(buf + offsetof(struct hdr, sum), 0, 8);
        if (XXH3_64bits(buf, rs) != want || memcmp(h.key, k, 32))
            abort();
        sum += rs;
        found++;
        lat[r] = now_s() - a;
    }
    double rel = now_s() - tr;
    printf("log read (pread copy + xxh3 verify): %.0f reads/s, %.0f MB/s (found %llu)\n",
           found / rel, sum / rel / 1e6, (unsigned long long)found);
    report_lat("log read latency", lat, (int)found);
    /* checkpoint: live entries + wpos/tail */
    snprintf(p, sizeof p, "%s/checkpoint", dir);
    double tc = now_s();
    FILE *f = fopen(p, "wb");
    uint64_t hdrv[3] = {wpos, tail, x.n};
    fwrite(hdrv, sizeof hdrv, 1, f);
    for (uint64_t i = 0; i <= x.mask; i++)
        if (x.e[i].tag)
            fwrite(&x.e[i], sizeof x.e[i], 1, f);
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    printf("checkpoint write: %.1f ms for %llu entries; max RSS %ld KiB\n", (now_s() - tc) * 1e3,
           (unsigned long long)x.n, rss_kib());
    snprintf(p, sizeof p, "%s/meta", dir);
    f = fopen(p, "w");
    fprintf(f, "%llu %llu %llu\n", (unsigned long long)budget, (unsigned long long)wpos,
            (unsigned long long)tail);
    fclose(f);
    fdatasync(fd);
    close(fd);
    return 0;
}

/* Start-up: (1) scan the whole log from tail to wpos, reading only each header;
 * (2) load the checkpoint. Run with the page cache warm, then cold (fadvise DONTNEED). */
static int run_startup(const char *dir, int cold)
{
    char p[512];
    unsigned long long budget, wpos, tail;
    snprintf(p, sizeof p, "%s/meta", dir);
    FILE *f = fopen(p, "r");
    if (!f || fscanf(f, "%llu %llu %llu", &budget, &wpos, &tail) != 3)
        return 1;
    fclose(f);
    snprintf(p, sizeof p, "%s/store", dir);
    int fd = open(p, O_RDONLY);
    if (cold)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    double t0 = now_s();
    struct idx x;
    idx_init(&x, 1500000);
    uint64_t pos = tail, nrec = 0;
    while (pos < wpos) {
        struct hdr h;
        uint64_t off = pos % budget;
        if (pread(fd, &h, sizeof h, off) != sizeof h)
            break;
        if (h.magic != MAGIC || h.pos != pos) {
            pos += budget - off;
            continue;
        }
        uint64_t tag;
        memcpy(&tag, h.key, 8);
        idx_put(&x, tag, pos, h.body_len);
        pos += rec_size(h.body_len);
        nrec++;
    }
    printf("startup scan (%s): %llu records in %.3f s\n", cold ? "cold" : "warm",
           (unsigned long long)nrec, now_s() - t0);
    free(x.e);
    snprintf(p, sizeof p, "%s/checkpoint", dir);
    int cfd = open(p, O_RDONLY);
    if (cold)
        posix_fadvise(cfd, 0, 0, POSIX_FADV_DONTNEED);
    close(cfd);
    t0 = now_s();
    f = fopen(p, "rb");
    uint64_t hv[3];
    if (fread(hv, sizeof hv, 1, f) != 1)
        return 1;
    idx_init(&x, hv[2]);
    struct ent *all = malloc(hv[2] * sizeof *all);
    if (fread(all, sizeof *all, hv[2], f) != hv[2])
        return 1;
    for (uint64_t i = 0; i < hv[2]; i++)
        idx_put(&x, all[i].tag, all[i].pos, all[i].len);
    fclose(f);
    printf("startup checkpoint load (%s): %llu entries in %.3f s\n", cold ? "cold" : "warm",
           (unsigned long long)x.n, now_s() - t0);
    close(fd);
    return 0;
}

/* ---------------- checksums ---------------- */
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
    }
    uint32_t c32 = (uint32_t)c;
    for (; n; n--, p++)
        c32 = _mm_crc32_u8(c32, *p);
    return ~c32;
}
static uint32_t crc_tab[256];
static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_tab[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static int run_sum(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_tab[i] = c;
    }
    if (crc32c_sw(0, (const uint8_t *)"123456789", 9) != 0xE3069283u ||
        crc32c_hw(0, (const uint8_t *)"123456789", 9) != 0xE3069283u)
        abort();
    size_t sizes[] = {1024, 65536};
    for (int s = 0; s < 2; s++) {
        size_t sz = sizes[s];
        uint64_t reps = (4ull << 30) / sz, acc = 0;
        double t = now_s();
        for (uint64_t r = 0; r < reps; r++)
            acc += XXH3_64bits(body_buf + (r & 7), sz);
        double xx = (double)reps * sz / (now_s() - t) / 1e9;
        t = now_s();
        for (uint64_t r = 0; r < reps; r++)
            acc += crc32c_hw(0, body_buf + (r & 7), sz);
        double hw = (double)reps * sz / (now_s() - t) / 1e9;
        t = now_s();
        for (uint64_t r = 0; r < reps / 16; r++)
            acc += crc32c_sw(0, body_buf + (r & 7), sz);
        double sw = (double)reps / 16 * sz / (now_s() - t) / 1e9;
        printf("%6zu B: XXH3_64bits %.1f GB/s, CRC32C sse4.2 (1 stream) %.1f GB/s, CRC32C table "
               "%.2f GB/s (%llu)\n",
               sz, xx, hw, sw, (unsigned long long)(acc & 1));
    }
    return 0;
}

int main(int argc, char **argv)
{
    body_buf = malloc(128 * 1024);
    for (int i = 0; i < 128 * 1024; i++)
        body_buf[i] = (uint8_t)xr();
    if (argc >= 2 && !strcmp(argv[1], "sum"))
        return run_sum();
    if (argc >= 3 && !strcmp(argv[1], "startup"))
        return run_startup(argv[2], 0) || run_startup(argv[2], 1);
    if (argc < 7)
        return 2;
    uint64_t n = strtoull(argv[3], NULL, 10), budget = strtoull(argv[4], NULL, 10) << 20;
    size_t mink = strtoul(argv[5], NULL, 10), maxk = strtoul(argv[6], NULL, 10);
    if (!strcmp(argv[1], "lmdb"))
        return run_lmdb(argv[2], n, budget, mink, maxk);
    return run_log(argv[2], n, budget, mink, maxk);
}
