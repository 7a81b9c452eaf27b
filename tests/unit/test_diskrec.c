/* Unit tests for lib/diskrec.c: a record survives the round trip field for field, its
 * layout is the documented one, and every damage the disk can do (a flipped bit anywhere,
 * a record cut short, a header that is sound but lies about its lengths) is refused with
 * its own error before a byte of it is handed out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../lib/diskrec.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* The store's secret seed of the checksums (from its superblock). */
#define SEED 0x243f6a8885a308d3ull

static const char KEY[] = "GET http://origin.test/a/b?c=1";
static const char HEAD[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
static const char BODY[] = "hello, disk";

static struct sf_diskrec_meta sample_meta(void)
{
    struct sf_diskrec_meta m = {
        .pos = 0x0102030405060708ULL,
        .key_hash = 0x1122334455667788ULL,
        .variant = 42,
        .stored_ms = 1765000000123LL,
        .expires_ms = 1765000600123LL,
        .flags = 0,
        .key_len = sizeof KEY - 1,
        .head_len = sizeof HEAD - 1,
        .body_len = sizeof BODY - 1,
    };
    return m;
}

/* Encodes the sample into buf (of cap bytes) and returns its size. */
static size_t encode_sample(uint8_t *buf, size_t cap)
{
    struct sf_diskrec_meta m = sample_meta();
    size_t n = 0;
    assert_int_equal(sf_diskrec_encode(SEED, &m, KEY, HEAD, BODY, buf, cap, &n), SF_DISKREC_OK);
    return n;
}

/* The end of the sample's body: the bytes sum covers end there. */
static size_t sample_end(void)
{
    return SF_DISKREC_HEADER + sizeof KEY - 1 + sizeof HEAD - 1 + sizeof BODY - 1;
}

/* A header field changed, and hdr_sum made right again: a header that is sound in every
 * byte the sum covers but says what the test wants. */
static void patch32(uint8_t *buf, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        buf[at + i] = (uint8_t)(v >> (8 * i));
    uint32_t hs = (uint32_t)XXH3_64bits_withSeed(buf + 8, SF_DISKREC_HEADER - 8, SEED);
    for (int i = 0; i < 4; i++)
        buf[4 + i] = (uint8_t)(hs >> (8 * i));
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t buf[512];
    memset(buf, 0xAA, sizeof buf);
    size_t n = encode_sample(buf, sizeof buf);
    assert_int_equal(n, sf_diskrec_size(sizeof KEY - 1, sizeof HEAD - 1, sizeof BODY - 1));
    assert_int_equal(n % SF_DISKREC_ALIGN, 0);
    assert_true(n >= sample_end() && n < sample_end() + SF_DISKREC_ALIGN);
    for (size_t i = sample_end(); i < n; i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(buf[n], 0xAA); /* nothing written past the record */

    struct sf_diskrec_view v;
    assert_int_equal(sf_diskrec_decode(SEED, buf, n, 1 << 20, &v), SF_DISKREC_OK);
    struct sf_diskrec_meta m = sample_meta();
    assert_true(v.meta.pos == m.pos && v.meta.key_hash == m.key_hash);
    assert_true(v.meta.variant == m.variant && v.meta.flags == 0);
    assert_true(v.meta.stored_ms == m.stored_ms && v.meta.expires_ms == m.expires_ms);
    assert_int_equal(v.meta.key_len, m.key_len);
    assert_int_equal(v.meta.head_len, m.head_len);
    assert_int_equal(v.meta.body_len, m.body_len);
    assert_memory_equal(v.key, KEY, m.key_len);
    assert_memory_equal(v.head, HEAD, m.head_len);
    assert_memory_equal(v.body, BODY, m.body_len);
    assert_int_equal(v.size, n);
    assert_int_equal(sf_diskrec_check_pos(&v.meta, m.pos), SF_DISKREC_OK);
    assert_int_equal(sf_diskrec_check_pos(&v.meta, m.pos + n), SF_DISKREC_STALE);

    /* The padding need not be read; the header alone decodes to the same fields. */
    assert_int_equal(sf_diskrec_decode(SEED, buf, sample_end(), 1 << 20, &v), SF_DISKREC_OK);
    struct sf_diskrec_meta h;
    assert_int_equal(sf_diskrec_decode_header(SEED, buf, SF_DISKREC_HEADER, 1 << 20, &h),
                     SF_DISKREC_OK);
    assert_memory_equal(&h, &v.meta, sizeof h);
}

/* The bytes on disk are the documented ones, whatever the host. */
static void test_layout(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = encode_sample(buf, sizeof buf);
    assert_memory_equal(buf, "SFDR", 4);
    assert_int_equal(buf[16], SF_DISKREC_VERSION);
    assert_int_equal(buf[17], 0);
    assert_int_equal(buf[20], sizeof KEY - 1);
    static const uint8_t pos_le[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    assert_memory_equal(buf + 24, pos_le, 8);
    assert_int_equal(buf[40], 42);
    assert_int_equal(buf[64], sizeof HEAD - 1);
    assert_int_equal(buf[68], sizeof BODY - 1);
    assert_memory_equal(buf + SF_DISKREC_HEADER, KEY, sizeof KEY - 1);
    uint64_t sum = XXH3_64bits_withSeed(buf + 16, sample_end() - 16, SEED);
    for (int i = 0; i < 8; i++)
        assert_int_equal(buf[8 + i], (uint8_t)(sum >> (8 * i)));
    assert_int_equal(n, 192);
}

/* Every single flipped bit of the record is caught, and by the check that covers it;
 * a flip in the padding changes nothing a client could receive. */
static void test_every_bit_flip(void **state)
{
    (void)state;
    uint8_t good[512], buf[512];
    size_t n = encode_sample(good, sizeof good);
    for (size_t byte = 0; byte < n; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, good, n);
            buf[byte] ^= (uint8_t)(1u << bit);
            struct sf_diskrec_view v;
            enum sf_diskrec_err err = sf_diskrec_decode(SEED, buf, n, 1 << 20, &v);
            enum sf_diskrec_err want = byte < 4                   ? SF_DISKREC_BAD_MAGIC
                                       : byte < SF_DISKREC_HEADER ? SF_DISKREC_BAD_HEADER_SUM
                                       : byte < sample_end()      ? SF_DISKREC_BAD_SUM
                                                                  : SF_DISKREC_OK;
            if (err != want)
                fail_msg("bit %d of byte %zu: expected %s, got %s", bit, byte,
                         sf_diskrec_strerror(want), sf_diskrec_strerror(err));
            if (err == SF_DISKREC_OK)
                assert_memory_equal(v.body, BODY, sizeof BODY - 1);
            else
                assert_null(v.body);
        }
    }
}

/* A record cut anywhere before its body's end is truncated, never half-served. */
static void test_every_truncation(void **state)
{
    (void)state;
    uint8_t buf[512];
    encode_sample(buf, sizeof buf);
    for (size_t len = 0; len < sample_end(); len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exactly len bytes, for ASan */
        memcpy(copy, buf, len);
        struct sf_diskrec_view v;
        enum sf_diskrec_err err = sf_diskrec_decode(SEED, copy, len, 1 << 20, &v);
        if (err != SF_DISKREC_TRUNCATED)
            fail_msg("%zu bytes: expected truncated, got %s", len, sf_diskrec_strerror(err));
        free(copy);
    }
}

/* A header whose sum is right but whose fields are out of range: refused by field. */
static void test_sound_header_bad_fields(void **state)
{
    (void)state;
    uint8_t good[512], buf[512];
    size_t n = encode_sample(good, sizeof good);
    static const struct {
        size_t at;
        uint32_t value;
        enum sf_diskrec_err want;
    } rows[] = {
        {16, 2, SF_DISKREC_BAD_VERSION},                      /* version 2 */
        {16, 0, SF_DISKREC_BAD_VERSION},                      /* version 0 */
        {18, 0x0002, SF_DISKREC_BAD_FIELD},                   /* an unknown flag */
        {72, 1, SF_DISKREC_BAD_FIELD},                        /* reserved */
        {76, 0x80000000u, SF_DISKREC_BAD_FIELD},              /* reserved, high half */
        {20, SF_DISKREC_MAX_KEY + 1, SF_DISKREC_BAD_LENGTH},  /* key_len */
        {64, SF_DISKREC_MAX_HEAD + 1, SF_DISKREC_BAD_LENGTH}, /* head_len */
        {68, SF_DISKREC_MAX_BODY + 1, SF_DISKREC_BAD_LENGTH}, /* body_len */
        {68, 0xFFFFFFFFu, SF_DISKREC_BAD_LENGTH},             /* body_len */
        {68, 100000, SF_DISKREC_BAD_LENGTH},                  /* over max_size below */
        {68, 1000, SF_DISKREC_TRUNCATED},                     /* more than was read */
        {18, SF_DISKREC_F_TOMBSTONE, SF_DISKREC_BAD_LENGTH},  /* a tombstone with a body */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        memcpy(buf, good, n);
        if (rows[i].at == 16 || rows[i].at == 18) {
            /* 16-bit fields: keep the neighbour. */
            uint32_t word = (uint32_t)buf[16] | (uint32_t)buf[17] << 8 | (uint32_t)buf[18] << 16 |
                            (uint32_t)buf[19] << 24;
            word = rows[i].at == 16 ? (word & 0xFFFF0000u) | rows[i].value
                                    : (word & 0xFFFFu) | rows[i].value << 16;
            patch32(buf, 16, word);
        } else {
            patch32(buf, rows[i].at, rows[i].value);
        }
        struct sf_diskrec_view v;
        enum sf_diskrec_err err = sf_diskrec_decode(SEED, buf, n, 65536, &v);
        if (err != rows[i].want)
            fail_msg("row %zu (byte %zu = %u): expected %s, got %s", i, rows[i].at, rows[i].value,
                     sf_diskrec_strerror(rows[i].want), sf_diskrec_strerror(err));
        assert_null(v.key);
    }
    /* max_size: the log smaller than the record. */
    struct sf_diskrec_view v;
    assert_int_equal(sf_diskrec_decode(SEED, good, n, n - 1, &v), SF_DISKREC_BAD_LENGTH);
    assert_int_equal(sf_diskrec_decode(SEED, good, n, n, &v), SF_DISKREC_OK);
}

static void test_tombstone(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct sf_diskrec_meta m = sample_meta();
    m.flags = SF_DISKREC_F_TOMBSTONE;
    size_t n = 1;
    assert_int_equal(sf_diskrec_encode(SEED, &m, KEY, HEAD, BODY, buf, sizeof buf, &n),
                     SF_DISKREC_BAD_LENGTH);
    assert_int_equal(n, 0);
    m.head_len = m.body_len = 0;
    assert_int_equal(sf_diskrec_encode(SEED, &m, KEY, NULL, NULL, buf, sizeof buf, &n),
                     SF_DISKREC_OK);
    assert_int_equal(n, 128);
    struct sf_diskrec_view v;
    assert_int_equal(sf_diskrec_decode(SEED, buf, n, 1 << 20, &v), SF_DISKREC_OK);
    assert_int_equal(v.meta.flags, SF_DISKREC_F_TOMBSTONE);
    assert_int_equal(v.meta.body_len, 0);
    assert_memory_equal(v.key, KEY, sizeof KEY - 1);
}

static void test_encode_limits(void **state)
{
    (void)state;
    uint8_t buf[512];
    memset(buf, 0x55, sizeof buf);
    struct sf_diskrec_meta m = sample_meta();
    size_t n = 7;
    /* Too small a buffer: refused, and not a byte written. */
    assert_int_equal(sf_diskrec_encode(SEED, &m, KEY, HEAD, BODY, buf, 191, &n),
                     SF_DISKREC_TRUNCATED);
    assert_int_equal(n, 0);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0x55);
    m.flags = 0x8000;
    assert_int_equal(sf_diskrec_encode(SEED, &m, KEY, HEAD, BODY, buf, sizeof buf, &n),
                     SF_DISKREC_BAD_FIELD);
    m = sample_meta();
    m.key_len = SF_DISKREC_MAX_KEY + 1;
    assert_int_equal(sf_diskrec_encode(SEED, &m, KEY, HEAD, BODY, buf, sizeof buf, &n),
                     SF_DISKREC_BAD_LENGTH);
    assert_int_equal(sf_diskrec_size(0, 0, SF_DISKREC_MAX_BODY + 1), 0);
    assert_int_equal(sf_diskrec_size(0, 0, 0), SF_DISKREC_HEADER + 48);
    assert_int_equal(sf_diskrec_size(48, 0, 0), 128);
    assert_int_equal(sf_diskrec_size(49, 0, 0), 192);
}

/* Bytes that are no record at all: zeros (a preallocated log's unwritten end), and a
 * record of another lap read where this lap's was expected. */
static void test_not_a_record(void **state)
{
    (void)state;
    uint8_t zeros[256] = {0};
    struct sf_diskrec_meta h;
    assert_int_equal(sf_diskrec_decode_header(SEED, zeros, sizeof zeros, 1 << 20, &h),
                     SF_DISKREC_BAD_MAGIC);
    assert_int_equal(sf_diskrec_decode_header(SEED, zeros, 3, 1 << 20, &h), SF_DISKREC_TRUNCATED);
    uint8_t buf[512];
    encode_sample(buf, sizeof buf);
    assert_int_equal(sf_diskrec_decode_header(SEED, buf, SF_DISKREC_HEADER - 1, 1 << 20, &h),
                     SF_DISKREC_TRUNCATED);
    for (int e = SF_DISKREC_OK; e <= SF_DISKREC_STALE; e++)
        assert_true(strlen(sf_diskrec_strerror((enum sf_diskrec_err)e)) > 0);
}

/* The sums are keyed by the store's seed: a record made without it (what an origin could
 * put in a body: the public algorithm, unseeded, or any other seed) is refused at its
 * header, and a record of one store does not pass in another. */
static void test_sums_are_keyed(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct sf_diskrec_meta m = sample_meta();
    size_t n = 0;
    assert_int_equal(sf_diskrec_encode(0, &m, KEY, HEAD, BODY, buf, sizeof buf, &n), SF_DISKREC_OK);
    struct sf_diskrec_meta h;
    assert_int_equal(sf_diskrec_decode_header(SEED, buf, n, 1 << 20, &h),
                     SF_DISKREC_BAD_HEADER_SUM);
    /* The unseeded XXH3 a forger knows, made right by hand. */
    uint32_t hs = (uint32_t)XXH3_64bits(buf + 8, SF_DISKREC_HEADER - 8);
    for (int i = 0; i < 4; i++)
        buf[4 + i] = (uint8_t)(hs >> (8 * i));
    assert_int_equal(sf_diskrec_decode_header(SEED, buf, n, 1 << 20, &h),
                     SF_DISKREC_BAD_HEADER_SUM);
    assert_int_equal(encode_sample(buf, sizeof buf), n);
    assert_int_equal(sf_diskrec_decode_header(SEED + 1, buf, n, 1 << 20, &h),
                     SF_DISKREC_BAD_HEADER_SUM);
    struct sf_diskrec_view v;
    assert_int_equal(sf_diskrec_decode(SEED + 1, buf, n, 1 << 20, &v), SF_DISKREC_BAD_HEADER_SUM);
    assert_int_equal(sf_diskrec_decode(SEED, buf, n, 1 << 20, &v), SF_DISKREC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_sums_are_keyed),
        cmocka_unit_test(test_layout),           cmocka_unit_test(test_every_bit_flip),
        cmocka_unit_test(test_every_truncation), cmocka_unit_test(test_sound_header_bad_fields),
        cmocka_unit_test(test_tombstone),        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_not_a_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
