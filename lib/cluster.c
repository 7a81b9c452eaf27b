/* cluster: see cluster.h. */
#include "cluster.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 64-bit hash of the peer's id and the key (FNV-1a, then splitmix64's finaliser so that
 * ids differing in one character land far apart). */
static uint64_t peer_key_hash(const char *id, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = id; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull; /* a separator no id or key contains */
    for (const char *p = key; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static double score(const struct sf_peer *p, const char *key)
{
    /* u in (0, 1), never 0 or 1: the top 53 bits, offset by half a step. */
    double u = ((double)(peer_key_hash(p->id, key) >> 11) + 0.5) / 9007199254740992.0;
    return (double)p->weight / -log(u);
}

void sf_cluster_order(const struct sf_peer *peers, size_t n, const char *key, size_t *order)
{
    SF_ASSERT(n <= SF_CLUSTER_MAX_PEERS);
    double scores[SF_CLUSTER_MAX_PEERS];
    for (size_t i = 0; i < n; i++) {
        scores[i] = score(&peers[i], key);
        /* Insertion by descending score (a handful of peers); ties by index. */
        size_t j = i;
        while (j > 0 && scores[order[j - 1]] < scores[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

/* HMAC-SHA-256 of "method\ntarget\nid\nts" as 64 hex digits into hex (65 bytes). */
static bool mac_hex(const char *secret, const char *method, const char *target, const char *id,
                    int64_t ts, char hex[65])
{
    char ts_text[24];
    snprintf(ts_text, sizeof ts_text, "%" PRId64, ts);
    const char *parts[] = {method, "\n", target, "\n", id, "\n", ts_text};
    size_t len = 0;
    for (size_t i = 0; i < 7; i++)
        len += strlen(parts[i]);
    char *text = sf_xmalloc(len + 1);
    size_t at = 0;
    for (size_t i = 0; i < 7; i++) {
        size_t n = strlen(parts[i]);
        memcpy(text + at, parts[i], n);
        at += n;
    }
    unsigned char digest[32];
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, strlen(secret), text, len, digest);
    free(text);
    if (rc != 0)
        return false;
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return true;
}

bool sf_cluster_sign(const char *secret, const char *method, const char *target, const char *id,
                     int64_t now_s, char out[SF_PEER_FIELD_MAX])
{
    char hex[65];
    if (!mac_hex(secret, method, target, id, now_s, hex))
        return false;
    int n =
        snprintf(out, SF_PEER_FIELD_MAX, "id=%s; hop=1; ts=%" PRId64 "; sig=%s", id, now_s, hex);
    return n > 0 && n < SF_PEER_FIELD_MAX;
}

bool sf_cluster_verify(const char *secret, const char *value, const char *method,
                       const char *target, int64_t now_s, int64_t window_s, char *id, size_t idlen)
{
    char got_id[64], sig[65];
    long long ts;
    int used = 0;
    if (value == NULL ||
        sscanf(value, "id=%63[^;]; hop=1; ts=%lld; sig=%64[0-9a-f]%n", got_id, &ts, sig, &used) !=
            3 ||
        value[used] != '\0' || strlen(sig) != 64)
        return false;
    if (ts < now_s - window_s || ts > now_s + window_s)
        return false; /* a captured request replayed later, or a clock far off */
    char want[65];
    if (!mac_hex(secret, method, target, got_id, ts, want))
        return false;
    unsigned char diff = 0; /* compared whole: the time taken says nothing */
    for (size_t i = 0; i < 64; i++)
        diff |= (unsigned char)(want[i] ^ sig[i]);
    if (diff != 0 || strlen(got_id) >= idlen)
        return false;
    memcpy(id, got_id, strlen(got_id) + 1);
    return true;
}
