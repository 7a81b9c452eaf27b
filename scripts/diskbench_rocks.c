/* diskbench_rocks: scripts/diskbench.c's churn on RocksDB with FIFO compaction (the
 * style that fits a cache: all files in L0, the oldest deleted past the budget; no
 * deletes of our own), a 20-bit Bloom filter, no compression, 64 MiB memtables, the WAL
 * on (what a kill -9 needs). Not built by the Makefile; needs librocksdb-dev:
 *
 *   cc -O2 -o /tmp/diskbench_rocks scripts/diskbench_rocks.c -lrocksdb -lxxhash
 *   /tmp/diskbench_rocks DIR N BUDGET_MIB MINK MAXK   (e.g. 200000 2048 1 64) */
#define _GNU_SOURCE
#include <rocksdb/c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
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
static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
#define CK(e)                                                                                      \
    do {                                                                                           \
        if (err) {                                                                                 \
            fprintf(stderr, "%s: %s\n", e, err);                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static rocksdb_t *open_db(const char *dir, uint64_t budget, rocksdb_options_t **op)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_compaction_style(o, rocksdb_fifo_compaction);
    rocksdb_fifo_compaction_options_t *f = rocksdb_fifo_compaction_options_create();
    rocksdb_fifo_compaction_options_set_max_table_files_size(f, budget);
    rocksdb_options_set_fifo_compaction_options(o, f);
    rocksdb_options_set_compression(o, rocksdb_no_compression);
    rocksdb_options_set_write_buffer_size(o, 64 << 20);
    rocksdb_options_set_level0_slowdown_writes_trigger(o, 1000);
    rocksdb_options_set_level0_stop_writes_trigger(o, 1000);
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom(20));
    rocksdb_options_set_block_based_table_factory(o, t);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, dir, &err);
    CK("open");
    *op = o;
    return db;
}

int main(int argc, char **argv)
{
    if (argc < 6)
        return 2;
    const char *dir = argv[1];
    uint64_t n = strtoull(argv[2], NULL, 10), budget = strtoull(argv[3], NULL, 10) << 20;
    size_t mink = strtoul(argv[4], NULL, 10), maxk = strtoul(argv[5], NULL, 10);
    uint8_t *body = malloc(128 * 1024 + 8);
    for (int i = 0; i < 128 * 1024 + 8; i++)
        body[i] = (uint8_t)xr();
    rocksdb_options_t *o;
    rocksdb_t *db = open_db(dir, budget, &o);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    char *err = NULL;
    uint64_t written = 0;
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        uint8_t k[32];
        key_of(i, k);
        size_t len = size_of(i, mink, maxk);
        uint64_t h = XXH3_64bits(body + 8, len);
        memcpy(body, &h, 8);
        rocksdb_put(db, wo, (char *)k, 32, (char *)body, len + 8, &err);
        CK("put");
        written += len;
        if ((i + 1) % (n / 5) == 0) {
            char *sst = rocksdb_property_value(db, "rocksdb.total-sst-files-size");
            printf("  %llu written: %.0f MB/s so far, sst %.0f MiB\n", (unsigned long long)(i + 1),
                   written / (now_s() - t0) / 1e6, atof(sst) / 1048576.0);
            free(sst);
        }
    }
    double el = now_s() - t0;
    printf("rocksdb write: %llu records, %.0f MB/s, %.0f rec/s\n", (unsigned long long)n,
           written / el / 1e6, n / el);
    rocksdb_flush(db, rocksdb_flushoptions_create(), &err);
    CK("flush");
    char *sst = rocksdb_property_value(db, "rocksdb.total-sst-files-size");
    char *nfiles = rocksdb_property_value(db, "rocksdb.num-files-at-level0");
    char *mem = rocksdb_property_value(db, "rocksdb.estimate-table-readers-mem");
    printf("rocksdb: sst %.0f MiB in %s L0 files for budget %.0f MiB; table readers' memory %.1f "
           "MiB\n",
           atof(sst) / 1048576.0, nfiles, budget / 1048576.0, atof(mem) / 1048576.0);
    /* reads of the newer half of what the budget holds */
    uint64_t held = 0, bytes = 0;
    for (uint64_t i = n; i-- > 0 && bytes < budget;)
        bytes += size_of(i, mink, maxk), held++;
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    int nr = 100000, found = 0;
    double *lat = malloc(nr * sizeof *lat);
    double tr = now_s();
    for (int r = 0; r < nr; r++) {
        uint64_t i = n - 1 - xr() % (held / 2);
        uint8_t k[32];
        key_of(i, k);
        double a = now_s();
        size_t vlen;
        char *v = rocksdb_get(db, ro, (char *)k, 32, &vlen, &err);
        CK("get");
        if (v) {
            uint64_t h;
            memcpy(&h, v, 8);
            if (h != XXH3_64bits(v + 8, vlen - 8))
                abort();
            rocksdb_free(v);
            lat[found++] = now_s() - a;
        }
    }
    double rel = now_s() - tr;
    qsort(lat, found, sizeof *lat, cmpd);
    printf("rocksdb read (copy + xxh3 verify): %.0f reads/s, found %d of %d; p50 %.1f us, p99 %.1f "
           "us\n",
           found / rel, found, nr, lat[found / 2] * 1e6, lat[found * 99 / 100] * 1e6);
    rocksdb_close(db);
    double to = now_s();
    db = open_db(dir, budget, &o);
    printf("rocksdb reopen: %.1f ms\n", (now_s() - to) * 1e3);
    uint8_t k[32];
    key_of(n - 1, k);
    size_t vlen;
    to = now_s();
    char *v = rocksdb_get(db, ro, (char *)k, 32, &vlen, &err);
    printf("rocksdb first get after reopen: %.2f ms (%s)\n", (now_s() - to) * 1e3,
           v ? "found" : "missing");
    rocksdb_free(v);
    rocksdb_close(db);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("max RSS %ld KiB\n", ru.ru_maxrss);
    return 0;
}
