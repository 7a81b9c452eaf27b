/* The disk tier's start-up scan and checkpoint load, fed any bytes as the store file and
 * the checkpoint (what a damaged disk or a foreign file holds): never a crash or a read
 * past a buffer, and without a checkpoint every entry indexed is a record whose header
 * passes every check at its own place in the log, its URL hash that of its key.
 *
 * Input: byte 0 flags (1: make the header sums of every block starting with the magic
 * right, which a fuzzer cannot forge; 2: the next bytes hold a checkpoint; 4: make the
 * checkpoint's store id, log size and checksum right), byte 1 the checkpoint's length in
 * 8-byte units, byte 2 how much shorter than the log the file is, then the checkpoint,
 * then the log. */
#include "fuzz.h"

#include "../../lib/diskindex.h"
#include "../../lib/diskload.h"
#include "../../lib/diskpurge.h"
#include "../../lib/diskrec.h"
#include "../../lib/diskurls.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

static char dir[64];

/* The store's seed of the record checksums: fix_header_sums knows it, as the writer does. */
#define SEED 0x5eedf00dull

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_header_sums(uint8_t *log, size_t len)
{
    for (size_t o = 0; o + SF_DISKREC_HEADER <= len; o += SF_DISKREC_ALIGN)
        if (memcmp(log + o, "SFDR", 4) == 0)
            put_le(log + o + 4,
                   (uint32_t)XXH3_64bits_withSeed(log + o + 8, SF_DISKREC_HEADER - 8, SEED), 4);
}

static void write_file(const char *name, const uint8_t *data, size_t len)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0, "open %s", name);
    FUZZ_CHECK(len == 0 || write(fd, data, len) == (ssize_t)len, "write %s", name);
    close(fd);
}

/* Every entry of x is a sound record at its place in log. */
static void check_entries(const struct sf_diskindex *x, const uint8_t *log, size_t file_len,
                          uint64_t size, uint64_t head)
{
    struct sf_diskindex_entry e;
    uint64_t tail = head > size ? head - size : 0;
    for (size_t cur = 0; sf_diskindex_next(x, &cur, tail, &e);) {
        uint64_t off = e.pos % size;
        FUZZ_CHECK(off + SF_DISKREC_HEADER <= file_len, "entry past the file");
        struct sf_diskrec_meta m;
        FUZZ_CHECK(sf_diskrec_decode_header(SEED, log + off, file_len - off, size, &m) ==
                       SF_DISKREC_OK,
                   "an unsound header indexed at %llu", (unsigned long long)e.pos);
        FUZZ_CHECK(m.pos == e.pos && m.key_hash == e.key_hash && m.variant == e.variant,
                   "an entry that is not its record");
        FUZZ_CHECK(e.size == sf_diskrec_size(m.key_len, m.head_len, m.body_len) &&
                       off + e.size <= size && e.pos + e.size <= head,
                   "an entry's size or place");
        FUZZ_CHECK(!(m.flags & SF_DISKREC_F_TOMBSTONE), "a tombstone indexed");
        static const uint8_t zero_key[16];
        FUZZ_CHECK(off + SF_DISKREC_HEADER + m.key_len <= file_len &&
                       e.url ==
                           sf_diskurls_hash(zero_key, log + off + SF_DISKREC_HEADER, m.key_len),
                   "an entry's URL hash is not its key's");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/fuzzdiskloadXXXXXX");
        FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    }
    unsigned flags = data[0];
    size_t ck_len = (flags & 2) ? (size_t)data[1] * 8 : 0, cut = data[2];
    data += 3, size -= 3;
    if (ck_len > size)
        ck_len = size;
    uint8_t *ck = malloc(ck_len + 1), *log = malloc(size - ck_len + 1);
    memcpy(ck, data, ck_len);
    size_t log_len = size - ck_len;
    memcpy(log, data + ck_len, log_len);
    uint64_t log_size = log_len < SF_DISKREC_HEADER ? SF_DISKREC_HEADER : log_len;
    size_t file_len = cut < log_len ? log_len - cut : 0;
    if (flags & 1)
        fix_header_sums(log, log_len);
    if ((flags & 4) && ck_len >= 48) {
        put_le(ck + 8, 1, 8);
        put_le(ck + 16, log_size, 8);
        put_le(ck + ck_len - 8, XXH3_64bits(ck, ck_len - 8), 8);
    }
    char name[128];
    snprintf(name, sizeof name, "%s/store", dir);
    write_file(name, log, file_len);
    int fd = open(name, O_RDONLY);
    FUZZ_CHECK(fd >= 0, "open store");
    char ckname[128];
    snprintf(ckname, sizeof ckname, "%s/index.ckpt", dir);
    if (flags & 2)
        write_file(ckname, ck, ck_len);
    else
        unlink(ckname);

    struct sf_disklog dl = {.fd = fd, .base = 0, .size = log_size, .store_id = 1, .sum_seed = SEED};
    struct sf_diskindex *x = sf_diskindex_new(4096);
    struct sf_diskpurge *p = sf_diskpurge_new();
    struct sf_diskload_result r;
    char err[256];
    bool ok = sf_diskload_run(dir, &dl, x, p, &r, err, sizeof err);
    FUZZ_CHECK(ok, "run: %s", err);
    if (!r.from_checkpoint && !(flags & 2))
        check_entries(x, log, file_len, log_size, r.head);
    /* What was loaded saves and loads back. */
    ok = sf_diskload_save(dir, &dl, r.head, r.evict_tail, x, p, err, sizeof err);
    FUZZ_CHECK(ok, "save: %s", err);
    sf_diskindex_free(x);
    sf_diskpurge_free(p);
    close(fd);
    unlink(ckname);
    free(ck);
    free(log);
    return 0;
}
