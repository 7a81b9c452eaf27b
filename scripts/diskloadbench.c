/* diskloadbench: the disk tier's start-up as lib/diskload.c does it, measured for
 * docs/disk.md: sf_diskload_save and sf_diskload_run of a checkpoint of N index entries
 * (no record after it), then the scan of MIB MiB of real 1-4 KiB records written after that
 * checkpoint (page cache warm, then cold: the file's pages dropped with
 * POSIX_FADV_DONTNEED), then the same log with no checkpoint (the whole log scanned). Not
 * built by the Makefile:
 *
 *   make && cc -O2 -Ilib -o /tmp/diskloadbench scripts/diskloadbench.c \
 *       build/release/libsfproxy.a -lxxhash -lm -pthread
 *   /tmp/diskloadbench DIR N MIB        (e.g. /var/tmp/dlb 1000000 256)
 *
 * DIR must exist, on a real disk; the run leaves a store file of about MIB MiB and a
 * checkpoint there (remove them after). */
#define _GNU_SOURCE
#include "diskindex.h"
#include "diskload.h"
#include "diskpurge.h"
#include "diskrec.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* One run of sf_diskload_run into a fresh index; prints its result with label. */
static void load(const char *label, const char *dir, const struct sf_disklog *log, size_t max)
{
    struct sf_diskindex *x = sf_diskindex_new(max);
    struct sf_diskpurge *p = sf_diskpurge_new();
    struct sf_diskload_result r;
    char err[256];
    double t0 = now_s();
    if (!sf_diskload_run(dir, log, x, p, &r, err, sizeof err)) {
        fprintf(stderr, "run: %s\n", err);
        exit(1);
    }
    printf("%-40s %8.3f s  entries %zu  scanned %llu  ckpt %d  %s\n", label, now_s() - t0,
           sf_diskindex_count(x), (unsigned long long)r.scanned, r.from_checkpoint, r.note);
    sf_diskindex_free(x);
    sf_diskpurge_free(p);
}

/* Drops the store file's pages from the page cache (after writing them back). */
static void drop_cache(int fd)
{
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s DIR N MIB\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    size_t n = strtoull(argv[2], NULL, 10);
    uint64_t mib = strtoull(argv[3], NULL, 10);
    char name[4096];
    snprintf(name, sizeof name, "%s/store", dir);
    /* The checkpoint's entries stand for records of 3 KiB before its head (not written:
     * the load does not read them); the log holds them and MIB more. */
    uint64_t head = (uint64_t)n * 3072, size = head + mib * 2 * (1 << 20);
    struct sf_disklog log = {.base = 4096, .size = size, .store_id = 99, .sum_seed = 0x5eed};
    log.fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (log.fd < 0 || ftruncate(log.fd, (off_t)(log.base + size)) != 0) {
        perror(name);
        return 1;
    }
    struct sf_diskindex *x = sf_diskindex_new(n * 2);
    uint64_t seed = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        struct sf_diskindex_entry e = {.key_hash = rnd(&seed),
                                       .variant = i % 4 == 0 ? rnd(&seed) : 0,
                                       .pos = (uint64_t)i * 3072,
                                       .size = 3072,
                                       .expires_s = 2000000000u,
                                       .url = (uint32_t)rnd(&seed)};
        sf_diskindex_put(x, &e, 0);
    }
    struct sf_diskpurge *p = sf_diskpurge_new();
    char err[256];
    double t0 = now_s();
    if (!sf_diskload_save(dir, &log, head, 0, x, p, err, sizeof err)) {
        fprintf(stderr, "save: %s\n", err);
        return 1;
    }
    printf("%-40s %8.3f s  entries %zu\n", "save checkpoint", now_s() - t0, n);
    load("load checkpoint, nothing after it", dir, &log, n * 2);

    /* MIB MiB of records of 1-4 KiB after the checkpoint's head. */
    uint8_t *buf = malloc(8 << 20), body[4096], key[64];
    memset(body, 'b', sizeof body);
    uint64_t pos = head, written = 0, recs = 0;
    size_t fill = 0;
    while (written < mib << 20) {
        uint32_t body_len = 1024 + (uint32_t)(rnd(&seed) % 3072);
        uint32_t key_len =
            (uint32_t)snprintf((char *)key, sizeof key, "http://o/%llu", (unsigned long long)recs);
        struct sf_diskrec_meta m = {.pos = pos,
                                    .key_hash = rnd(&seed),
                                    .key_len = key_len,
                                    .head_len = 200,
                                    .body_len = body_len,
                                    .stored_ms = 1,
                                    .expires_ms = 0};
        size_t w;
        sf_diskrec_encode(log.sum_seed, &m, key, body, body, buf + fill, (8 << 20) - fill, &w);
        fill += w, pos += w, written += w, recs++;
        if (fill > (7 << 20)) {
            pwrite(log.fd, buf, fill, (off_t)(log.base + (pos - fill) % size));
            fill = 0;
        }
    }
    pwrite(log.fd, buf, fill, (off_t)(log.base + (pos - fill) % size));
    printf("wrote %llu records, %llu MiB after the checkpoint\n", (unsigned long long)recs,
           (unsigned long long)(written >> 20));
    load("checkpoint + scan, warm", dir, &log, n * 2);
    load("checkpoint + scan, warm (again)", dir, &log, n * 2);
    drop_cache(log.fd);
    load("checkpoint + scan, cold", dir, &log, n * 2);
    snprintf(name, sizeof name, "%s/index.ckpt", dir);
    unlink(name);
    load("no checkpoint: whole log, warm", dir, &log, n * 2);
    drop_cache(log.fd);
    load("no checkpoint: whole log, cold", dir, &log, n * 2);
    free(buf);
    sf_diskindex_free(x);
    sf_diskpurge_free(p);
    close(log.fd);
    return 0;
}
