/* Test-only fake of lib/diskload.c for test_diskstore.c, compiled only while that file is
 * absent (the load helper writes it; delete this file when it is merged). The checkpoint
 * is the store id, the head, the index's live entries and the rules, written whole; there
 * is no scan of the log after it, so only what a checkpoint holds comes back (enough for a
 * close and an open, not for a crash). */
#include <stdio.h>

static bool fake_put64(FILE *f, uint64_t v)
{
    return fwrite(&v, sizeof v, 1, f) == 1;
}

static bool fake_get64(FILE *f, uint64_t *v)
{
    return fread(v, sizeof *v, 1, f) == 1;
}

bool sf_diskload_save(const char *dir, const struct sf_disklog *log, uint64_t head,
                      const struct sf_diskindex *x, const struct sf_diskpurge *p, char *err,
                      size_t err_len)
{
    char tmp[4096], name[4096];
    snprintf(tmp, sizeof tmp, "%s/index.ckpt.tmp", dir);
    snprintf(name, sizeof name, "%s/index.ckpt", dir);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        snprintf(err, err_len, "%s: %s", tmp, strerror(errno));
        return false;
    }
    uint64_t tail = head > log->size ? head - log->size : 0;
    struct sf_diskindex_entry e;
    struct sf_diskpurge_rule r;
    size_t cursor = 0;
    uint64_t n = 0;
    while (sf_diskindex_next(x, &cursor, tail, &e))
        n++;
    fake_put64(f, log->store_id);
    fake_put64(f, head);
    fake_put64(f, n);
    cursor = 0;
    while (sf_diskindex_next(x, &cursor, tail, &e))
        fwrite(&e, sizeof e, 1, f);
    fake_put64(f, sf_diskpurge_count(p));
    cursor = 0;
    while (sf_diskpurge_next(p, &cursor, &r)) {
        uint8_t enc[4096];
        size_t len = sf_diskpurge_encode(&r, enc, sizeof enc);
        fake_put64(f, r.pos);
        fake_put64(f, len);
        fwrite(enc, 1, len, f);
    }
    bool ok = fflush(f) == 0 && fdatasync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok && rename(tmp, name) == 0;
    if (!ok)
        snprintf(err, err_len, "%s: %s", name, strerror(errno));
    return ok;
}

bool sf_diskload_run(const char *dir, const struct sf_disklog *log, struct sf_diskindex *x,
                     struct sf_diskpurge *p, struct sf_diskload_result *out, char *err,
                     size_t err_len)
{
    (void)err;
    (void)err_len;
    char name[4096];
    snprintf(name, sizeof name, "%s/index.ckpt", dir);
    memset(out, 0, sizeof *out);
    FILE *f = fopen(name, "r");
    uint64_t id = 0, head = 0, n = 0;
    if (f == NULL || !fake_get64(f, &id) || id != log->store_id || !fake_get64(f, &head) ||
        !fake_get64(f, &n)) {
        snprintf(out->note, sizeof out->note, "no checkpoint (fake: no scan)");
        if (f != NULL)
            fclose(f);
        return true;
    }
    uint64_t tail = head > log->size ? head - log->size : 0;
    for (uint64_t i = 0; i < n; i++) {
        struct sf_diskindex_entry e;
        SF_ASSERT(fread(&e, sizeof e, 1, f) == 1);
        SF_ASSERT(sf_diskindex_put(x, &e, tail) != SF_DISKINDEX_FULL);
    }
    SF_ASSERT(fake_get64(f, &n));
    for (uint64_t i = 0; i < n; i++) {
        uint64_t pos, len;
        uint8_t enc[4096];
        char scratch[4096];
        struct sf_diskpurge_rule r;
        SF_ASSERT(fake_get64(f, &pos) && fake_get64(f, &len) && len <= sizeof enc);
        SF_ASSERT(fread(enc, 1, len, f) == len);
        SF_ASSERT(sf_diskpurge_decode(enc, len, pos, scratch, sizeof scratch, &r));
        sf_diskpurge_add(p, &r);
    }
    fclose(f);
    out->head = head;
    out->from_checkpoint = true;
    return true;
}
