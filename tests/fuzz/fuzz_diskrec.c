/* The disk record decoder, fed any bytes (what a damaged or foreign file holds): never a
 * crash or a read past the buffer; a record it accepts points inside the buffer, encodes
 * back to the very bytes it came from, and its header alone decodes to the same fields.
 * A fuzzer cannot forge a checksum, so the third byte may ask for the sums to be made
 * right first (under the seed the third byte also picks): then the field checks behind them
 * are what the bytes exercise. */
#include "fuzz.h"

#include "../../lib/diskrec.h"

#include <string.h>
#include <xxhash.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* sum over what the header's lengths say (as far as there are bytes), then hdr_sum. */
static void make_sums_right(uint8_t *buf, size_t size, uint64_t seed)
{
    if (size < SF_DISKREC_HEADER)
        return;
    uint64_t end = SF_DISKREC_HEADER + (uint64_t)le32(buf + 20) + le32(buf + 64) + le32(buf + 68);
    if (end > size)
        end = size;
    put_le(buf + 8, XXH3_64bits_withSeed(buf + 16, (size_t)end - 16, seed), 8);
    put_le(buf + 4, (uint32_t)XXH3_64bits_withSeed(buf + 8, SF_DISKREC_HEADER - 8, seed), 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    /* The first two bytes choose the log's size, so the max_size check is reached too. */
    uint64_t max_size = ((uint64_t)data[0] << 8 | data[1]) * 16;
    int fix = data[2] & 1;
    uint64_t seed = (uint64_t)(data[2] >> 1) * 0x9e3779b97f4a7c15ull; /* the store's, any */
    data += 3, size -= 3;
    /* A copy of exactly size bytes, so that ASan sees any read past them. */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    if (fix)
        make_sums_right(buf, size, seed);
    struct sf_diskrec_view v;
    enum sf_diskrec_err err = sf_diskrec_decode(seed, buf, size, max_size, &v);
    FUZZ_CHECK(strlen(sf_diskrec_strerror(err)) > 0, "error %d has no name", (int)err);
    struct sf_diskrec_meta h;
    enum sf_diskrec_err herr = sf_diskrec_decode_header(seed, buf, size, max_size, &h);
    if (err != SF_DISKREC_OK) {
        FUZZ_CHECK(v.key == NULL && v.body == NULL && v.size == 0, "a refused record leaks");
        FUZZ_CHECK(herr == err || (herr == SF_DISKREC_OK &&
                                   (err == SF_DISKREC_TRUNCATED || err == SF_DISKREC_BAD_SUM)),
                   "header %s, record %s", sf_diskrec_strerror(herr), sf_diskrec_strerror(err));
        free(buf);
        return 0;
    }
    FUZZ_CHECK(herr == SF_DISKREC_OK && memcmp(&h, &v.meta, sizeof h) == 0,
               "the header alone decodes differently");
    size_t end = SF_DISKREC_HEADER + (size_t)v.meta.key_len + v.meta.head_len + v.meta.body_len;
    FUZZ_CHECK(end <= size && v.size >= end && v.size <= max_size, "end %zu, size %zu of %zu", end,
               v.size, size);
    FUZZ_CHECK(v.key == buf + SF_DISKREC_HEADER && v.body + v.meta.body_len == buf + end,
               "the parts point outside the record");
    uint8_t *out = malloc(v.size);
    size_t n = 0;
    FUZZ_CHECK(sf_diskrec_encode(seed, &v.meta, v.key, v.head, v.body, out, v.size, &n) ==
                       SF_DISKREC_OK &&
                   n == v.size,
               "an accepted record does not encode");
    FUZZ_CHECK(memcmp(out, buf, end) == 0, "the record does not encode back to its bytes");
    free(out);
    free(buf);
    return 0;
}
