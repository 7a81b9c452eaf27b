/* diskrec: see diskrec.h for the format. The encoder writes every field explicitly,
 * little-endian, so the bytes on disk do not depend on a struct's padding or the host's
 * byte order. The decoder never trusts a byte it has not checked: the magic first (is
 * there a record here at all), then hdr_sum (are the header's lengths what was written),
 * then every field against its limit, and only then sum, over bytes whose extent the
 * checked lengths gave and the caller's buffer is known to hold.
 *
 * The checksum is XXH3_64bits from Debian's libxxhash (see docs/disk.md for why: it runs
 * at page-cache speed on every CPU, where CRC32C needs SSE4.2 code of our own). */
#include "diskrec.h"

#include "lebytes.h"

#include <string.h>
#include <xxhash.h>

/* The header's own checksum: bytes 8 to 80, sum included, folded to 32 bits, keyed by the
 * store's seed: bytes an origin chose (a body holding a record header at its own place in
 * the log) cannot pass for a record without the seed, which only the store file holds. */
static uint32_t header_sum(uint64_t seed, const uint8_t *hdr)
{
    return (uint32_t)XXH3_64bits_withSeed(hdr + 8, SF_DISKREC_HEADER - 8, seed);
}

size_t sf_diskrec_size(uint32_t key_len, uint32_t head_len, uint32_t body_len)
{
    if (key_len > SF_DISKREC_MAX_KEY || head_len > SF_DISKREC_MAX_HEAD ||
        body_len > SF_DISKREC_MAX_BODY)
        return 0;
    /* At most 80 + 16 KiB + 1 MiB + 1 GiB: no overflow, even in 32 bits. */
    uint64_t n = (uint64_t)SF_DISKREC_HEADER + key_len + head_len + body_len;
    return (size_t)((n + SF_DISKREC_ALIGN - 1) / SF_DISKREC_ALIGN * SF_DISKREC_ALIGN);
}

/* The limits every record meets, whichever side asks: lengths, flags, tombstones. */
static enum sf_diskrec_err check_fields(const struct sf_diskrec_meta *m)
{
    if ((m->flags & ~SF_DISKREC_F_KNOWN) != 0)
        return SF_DISKREC_BAD_FIELD;
    if (sf_diskrec_size(m->key_len, m->head_len, m->body_len) == 0)
        return SF_DISKREC_BAD_LENGTH;
    if ((m->flags & SF_DISKREC_F_TOMBSTONE) && (m->head_len != 0 || m->body_len != 0))
        return SF_DISKREC_BAD_LENGTH;
    return SF_DISKREC_OK;
}

enum sf_diskrec_err sf_diskrec_encode(uint64_t seed, const struct sf_diskrec_meta *meta,
                                      const void *key, const void *head, const void *body,
                                      uint8_t *out, size_t out_len, size_t *written)
{
    *written = 0;
    enum sf_diskrec_err err = check_fields(meta);
    if (err)
        return err;
    size_t size = sf_diskrec_size(meta->key_len, meta->head_len, meta->body_len);
    if (out_len < size)
        return SF_DISKREC_TRUNCATED;
    uint8_t *h = out;
    sf_le_put32(h + 0, SF_DISKREC_MAGIC);
    sf_le_put16(h + 16, SF_DISKREC_VERSION);
    sf_le_put16(h + 18, (uint16_t)meta->flags);
    sf_le_put32(h + 20, meta->key_len);
    sf_le_put64(h + 24, meta->pos);
    sf_le_put64(h + 32, meta->key_hash);
    sf_le_put64(h + 40, meta->variant);
    sf_le_put64(h + 48, (uint64_t)meta->stored_ms);
    sf_le_put64(h + 56, (uint64_t)meta->expires_ms);
    sf_le_put32(h + 64, meta->head_len);
    sf_le_put32(h + 68, meta->body_len);
    sf_le_put64(h + 72, 0);
    uint8_t *p = h + SF_DISKREC_HEADER;
    /* memcpy with a length of 0 still wants a valid pointer: a tombstone has no body. */
    if (meta->key_len)
        memcpy(p, key, meta->key_len);
    p += meta->key_len;
    if (meta->head_len)
        memcpy(p, head, meta->head_len);
    p += meta->head_len;
    if (meta->body_len)
        memcpy(p, body, meta->body_len);
    p += meta->body_len;
    memset(p, 0, size - (size_t)(p - out));
    sf_le_put64(h + 8, XXH3_64bits_withSeed(h + 16, (size_t)(p - h) - 16, seed));
    sf_le_put32(h + 4, header_sum(seed, h));
    *written = size;
    return SF_DISKREC_OK;
}

enum sf_diskrec_err sf_diskrec_decode_header(uint64_t seed, const uint8_t *buf, size_t len,
                                             uint64_t max_size, struct sf_diskrec_meta *out)
{
    memset(out, 0, sizeof *out);
    if (len < 4)
        return SF_DISKREC_TRUNCATED;
    if (sf_le_get32(buf) != SF_DISKREC_MAGIC)
        return SF_DISKREC_BAD_MAGIC;
    if (len < SF_DISKREC_HEADER)
        return SF_DISKREC_TRUNCATED;
    if (sf_le_get32(buf + 4) != header_sum(seed, buf))
        return SF_DISKREC_BAD_HEADER_SUM;
    if (sf_le_get16(buf + 16) != SF_DISKREC_VERSION)
        return SF_DISKREC_BAD_VERSION;
    struct sf_diskrec_meta m = {
        .flags = sf_le_get16(buf + 18),
        .key_len = sf_le_get32(buf + 20),
        .pos = sf_le_get64(buf + 24),
        .key_hash = sf_le_get64(buf + 32),
        .variant = sf_le_get64(buf + 40),
        .stored_ms = (int64_t)sf_le_get64(buf + 48),
        .expires_ms = (int64_t)sf_le_get64(buf + 56),
        .head_len = sf_le_get32(buf + 64),
        .body_len = sf_le_get32(buf + 68),
    };
    if (sf_le_get64(buf + 72) != 0)
        return SF_DISKREC_BAD_FIELD;
    enum sf_diskrec_err err = check_fields(&m);
    if (err)
        return err;
    if (sf_diskrec_size(m.key_len, m.head_len, m.body_len) > max_size)
        return SF_DISKREC_BAD_LENGTH;
    *out = m;
    return SF_DISKREC_OK;
}

enum sf_diskrec_err sf_diskrec_decode(uint64_t seed, const uint8_t *buf, size_t len,
                                      uint64_t max_size, struct sf_diskrec_view *out)
{
    memset(out, 0, sizeof *out);
    struct sf_diskrec_meta m;
    enum sf_diskrec_err err = sf_diskrec_decode_header(seed, buf, len, max_size, &m);
    if (err)
        return err;
    /* The padding need not have been read: a record's last read may end at its body. */
    size_t end = (size_t)SF_DISKREC_HEADER + m.key_len + m.head_len + m.body_len;
    if (len < end)
        return SF_DISKREC_TRUNCATED;
    if (sf_le_get64(buf + 8) != XXH3_64bits_withSeed(buf + 16, end - 16, seed))
        return SF_DISKREC_BAD_SUM;
    out->meta = m;
    out->key = buf + SF_DISKREC_HEADER;
    out->head = out->key + m.key_len;
    out->body = out->head + m.head_len;
    out->size = sf_diskrec_size(m.key_len, m.head_len, m.body_len);
    return SF_DISKREC_OK;
}

enum sf_diskrec_err sf_diskrec_check_pos(const struct sf_diskrec_meta *meta, uint64_t pos)
{
    return meta->pos == pos ? SF_DISKREC_OK : SF_DISKREC_STALE;
}

const char *sf_diskrec_strerror(enum sf_diskrec_err err)
{
    switch (err) {
    case SF_DISKREC_OK: return "ok";
    case SF_DISKREC_TRUNCATED: return "truncated";
    case SF_DISKREC_BAD_MAGIC: return "bad magic";
    case SF_DISKREC_BAD_HEADER_SUM: return "bad header checksum";
    case SF_DISKREC_BAD_VERSION: return "unknown version";
    case SF_DISKREC_BAD_FIELD: return "bad field";
    case SF_DISKREC_BAD_LENGTH: return "length out of range";
    case SF_DISKREC_BAD_SUM: return "bad checksum";
    case SF_DISKREC_STALE: return "stale record";
    }
    return "unknown error";
}
