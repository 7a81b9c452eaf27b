/* siphash: see siphash.h. Written from the paper's description (§2): little-endian 64-bit
 * words, two compression rounds per word, the length in the last word's top byte, four
 * finalization rounds. */
#include "siphash.h"

#include "base.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

/* One unaligned little-endian word: a plain load on a little-endian machine. (A byte loop
 * here made a key's hash cost twice as many instructions, 717 against 330 for a miss's key
 * under callgrind, and a miss hashes its key about ten times: table.c's slot, list,
 * unlist, charge.) */
static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&v, p, sizeof v);
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    memcpy(&v, p, sizeof v);
    v = __builtin_bswap64(v);
#else
    v = 0; /* an order the compiler does not say: byte by byte */
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
#endif
    return v;
}

/* Rounds of SipRound over the state v. */
static void sip_rounds(uint64_t v[4], int rounds)
{
    for (int i = 0; i < rounds; i++) {
        v[0] += v[1], v[1] = rotl(v[1], 13), v[1] ^= v[0], v[0] = rotl(v[0], 32);
        v[2] += v[3], v[3] = rotl(v[3], 16), v[3] ^= v[2];
        v[0] += v[3], v[3] = rotl(v[3], 21), v[3] ^= v[0];
        v[2] += v[1], v[1] = rotl(v[1], 17), v[1] ^= v[2], v[2] = rotl(v[2], 32);
    }
}

uint64_t sf_siphash(const uint8_t key[SF_SIPHASH_KEY_BYTES], const void *data, size_t len)
{
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                     k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    const uint8_t *p = data;
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = load_le64(p + i);
        v[3] ^= m;
        sip_rounds(v, 2);
        v[0] ^= m;
    }
    uint8_t last[8] = {0};
    memcpy(last, p + whole, len % 8);
    last[7] = (uint8_t)len;
    uint64_t m = load_le64(last);
    v[3] ^= m;
    sip_rounds(v, 2);
    v[0] ^= m;
    v[2] ^= 0xff;
    sip_rounds(v, 4);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The process's secret, drawn once. */
static uint8_t process_key[SF_SIPHASH_KEY_BYTES];
static pthread_once_t process_key_once = PTHREAD_ONCE_INIT;

static void draw_process_key(void)
{
    size_t got = 0;
    while (got < sizeof process_key) {
        ssize_t n = getrandom(process_key + got, sizeof process_key - got, 0);
        SF_ASSERT(n > 0 || errno == EINTR); /* Linux >= 3.17 with the pool initialised */
        got += n > 0 ? (size_t)n : 0;
    }
}

uint64_t sf_keyed_hash(const void *data, size_t len)
{
    SF_PTOK(pthread_once(&process_key_once, draw_process_key));
    return sf_siphash(process_key, data, len);
}
