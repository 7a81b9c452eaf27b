/* disktail: see disktail.h. A tiny file of its own rather than a field rewritten in the
 * checkpoint: the tail moves once an eighth of a full index's records is given up, and a
 * checkpoint is the whole index (36 MB and 75 ms for a million entries), this 40 bytes. */
#include "disktail.h"

#include "lebytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define TAIL_MAGIC 0x4c544653u /* "SFTL" read as little-endian bytes */
#define TAIL_VERSION 1
#define TAIL_BYTES 40

static void tail_name(char *out, size_t len, const char *dir, const char *suffix)
{
    snprintf(out, len, "%s/index.tail%s", dir, suffix);
}

static bool write_all(int fd, const uint8_t *b, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, b + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        done += (size_t)w;
    }
    return true;
}

bool sf_disktail_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    int e = errno; /* fsync's, not close's */
    close(fd);
    errno = e;
    return ok;
}

bool sf_disktail_save(const char *dir, uint64_t store_id, uint64_t log_size, uint64_t tail,
                      char *err, size_t err_len)
{
    char tmp[4096], name[4096];
    tail_name(tmp, sizeof tmp, dir, ".tmp");
    tail_name(name, sizeof name, dir, "");
    uint8_t b[TAIL_BYTES];
    sf_le_put32(b, TAIL_MAGIC), sf_le_put32(b + 4, TAIL_VERSION), sf_le_put64(b + 8, store_id);
    sf_le_put64(b + 16, log_size), sf_le_put64(b + 24, tail);
    sf_le_put64(b + 32, XXH3_64bits(b, 32));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    bool ok = fd >= 0 && write_all(fd, b, sizeof b) && fdatasync(fd) == 0;
    int err_no = ok ? 0 : errno;
    if (fd >= 0 && close(fd) != 0 && ok)
        ok = false, err_no = errno;
    if (ok && rename(tmp, name) != 0)
        ok = false, err_no = errno;
    if (ok && !sf_disktail_sync_dir(dir))
        ok = false, err_no = errno;
    if (!ok) {
        snprintf(err, err_len, "cannot write %s: %s", name, strerror(err_no));
        unlink(tmp);
    }
    return ok;
}

bool sf_disktail_load(const char *dir, uint64_t store_id, uint64_t log_size, uint64_t *tail)
{
    char name[4096];
    tail_name(name, sizeof name, dir, "");
    *tail = 0;
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    uint8_t b[TAIL_BYTES + 1];
    ssize_t n = pread(fd, b, sizeof b, 0);
    int e = errno; /* pread's, not close's */
    close(fd);
    if (n < 0) {
        errno = e;
        return false;
    }
    /* Written whole by a rename: a short or damaged file is damage, not a torn write. */
    if (n != TAIL_BYTES || sf_le_get64(b + 32) != XXH3_64bits(b, 32) ||
        sf_le_get32(b) != TAIL_MAGIC || sf_le_get32(b + 4) != TAIL_VERSION)
        *tail = UINT64_MAX;
    else if (sf_le_get64(b + 8) == store_id && sf_le_get64(b + 16) == log_size)
        *tail = sf_le_get64(b + 24); /* else an earlier store's, left when it was made anew */
    return true;
}
