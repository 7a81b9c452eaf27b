/* cluster: see cluster.h. */
#include "cluster.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ctype.h>
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
    return sf_mix64(h);
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

/* The parts of a text to sign, joined by newlines. */
struct text {
    char *s;
    size_t len, cap;
};

static void text_add(struct text *t, const char *part, size_t n)
{
    if (t->len + n + 2 > t->cap) {
        t->cap = (t->len + n + 2) * 2;
        t->s = sf_xrealloc(t->s, t->cap);
    }
    if (t->len > 0)
        t->s[t->len++] = '\n';
    memcpy(t->s + t->len, part, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void text_adds(struct text *t, const char *part)
{
    text_add(t, part, strlen(part));
}

/* HMAC-SHA-256 of t (freed here) with secret, as 64 hex digits into hex (65 bytes). */
static bool mac_hex(const char *secret, struct text *t, char hex[65])
{
    unsigned char digest[32];
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, strlen(secret), t->s ? t->s : "", t->len,
                              digest);
    free(t->s);
    if (rc != 0)
        return false;
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return true;
}

/* Whether two strings of 64 hex digits are equal, compared whole: the time taken says
 * nothing of where they differ. */
static bool same_mac(const char *a, const char *b)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < 64; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* The request's MAC: its method, target, sender, addressee, time and nonce, then, each on a
 * line of its own and only when given, the route and the Host it is for (a purge's or
 * health check's text is the same as before routes crossed the hop). The tags keep the
 * two apart, and a newline is in none of the parts (the request scanner refuses one in a
 * target or a field value, and a route's name is letters, digits, "-", "_" and "."). */
static bool request_mac(const char *secret, const char *method, const char *target,
                        const struct sf_peer_scope *scope, const char *id, const char *to,
                        int64_t ts, const char *nonce, char hex[65])
{
    char ts_text[24];
    snprintf(ts_text, sizeof ts_text, "%" PRId64, ts);
    struct text t = {0};
    const char *parts[] = {method, target, id, to, ts_text, nonce};
    for (size_t i = 0; i < 6; i++)
        text_adds(&t, parts[i]);
    if (scope != NULL) {
        const char *tags[] = {"route=", "host="}, *values[] = {scope->route, scope->host};
        for (size_t i = 0; i < 2; i++) {
            if (values[i] == NULL)
                continue;
            size_t n = strlen(tags[i]) + strlen(values[i]) + 1;
            char *line = sf_xmalloc(n);
            snprintf(line, n, "%s%s", tags[i], values[i]);
            text_adds(&t, line);
            free(line);
        }
    }
    return mac_hex(secret, &t, hex);
}

bool sf_cluster_nonce(char nonce[SF_PEER_NONCE_HEX + 1])
{
    unsigned char raw[SF_PEER_NONCE_HEX / 2];
    if (gnutls_rnd(GNUTLS_RND_NONCE, raw, sizeof raw) != 0)
        return false;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
    return true;
}

bool sf_cluster_sign(const char *secret, const char *method, const char *target,
                     const struct sf_peer_scope *scope, const char *id, const char *to,
                     int64_t now_s, const char *nonce, char out[SF_PEER_FIELD_MAX])
{
    char hex[65];
    if (strlen(nonce) != SF_PEER_NONCE_HEX ||
        !request_mac(secret, method, target, scope, id, to, now_s, nonce, hex))
        return false;
    int n =
        snprintf(out, SF_PEER_FIELD_MAX, "id=%s; to=%s; hop=1; ts=%" PRId64 "; nonce=%s; sig=%s",
                 id, to, now_s, nonce, hex);
    return n > 0 && n < SF_PEER_FIELD_MAX;
}

bool sf_cluster_verify(const char *secret, const char *value, const char *method,
                       const char *target, const struct sf_peer_scope *scope, const char *self,
                       int64_t now_s, int64_t window_s, struct sf_peer_claim *claim)
{
    char id[64], to[64], nonce[SF_PEER_NONCE_HEX + 1], sig[65];
    long long ts;
    int used = 0;
    if (value == NULL ||
        sscanf(value,
               "id=%63[^;]; to=%63[^;]; hop=1; ts=%lld; nonce=%32[0-9a-f]; sig=%64[0-9a-f]%n", id,
               to, &ts, nonce, sig, &used) != 5 ||
        value[used] != '\0' || strlen(sig) != 64 || strlen(nonce) != SF_PEER_NONCE_HEX)
        return false;
    if (strcmp(to, self) != 0)
        return false; /* signed for another node: replayed there, it is nobody's */
    if (ts < now_s - window_s || ts > now_s + window_s)
        return false; /* a captured request replayed later, or a clock far off */
    char want[65];
    if (!request_mac(secret, method, target, scope, id, to, ts, nonce, want) ||
        !same_mac(want, sig))
        return false;
    memcpy(claim->id, id, strlen(id) + 1);
    claim->ts = ts;
    char first[17];
    memcpy(first, sig, 16);
    first[16] = '\0';
    claim->tag = strtoull(first, NULL, 16);
    return true;
}

/* ---- answers ---- */

/* Whether the answer's MAC covers a field of this name. */
static bool signed_field(const char *name)
{
    static const char *const skip[] = {"Date",           "Connection",        "Keep-Alive",
                                       "Content-Length", "Transfer-Encoding", SF_PEER_ANSWER_FIELD};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (sf_streq_ci(name, skip[i]))
            return false;
    return true;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The answer's MAC: the request's field, the status, then the signed fields' lines. */
static bool answer_mac(const char *secret, const char *request, unsigned status,
                       const struct sf_hdrs *fields, char hex[65])
{
    char **lines = sf_xcalloc(fields->n + 1, sizeof *lines);
    size_t n = 0;
    for (size_t i = 0; i < fields->n; i++) {
        const char *name = fields->v[i].name, *v = fields->v[i].value;
        if (!signed_field(name))
            continue;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t nl = strlen(name), vl = strlen(v);
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        char *line = sf_xmalloc(nl + vl + 2);
        for (size_t k = 0; k < nl; k++)
            line[k] = (char)tolower((unsigned char)name[k]);
        line[nl] = ':';
        memcpy(line + nl + 1, v, vl);
        line[nl + 1 + vl] = '\0';
        lines[n++] = line;
    }
    qsort(lines, n, sizeof *lines, by_text);
    char status_text[16];
    snprintf(status_text, sizeof status_text, "%u", status);
    struct text t = {0};
    text_adds(&t, "sfproxy-answer");
    text_adds(&t, request);
    text_adds(&t, status_text);
    for (size_t i = 0; i < n; i++) {
        text_adds(&t, lines[i]);
        free(lines[i]);
    }
    free(lines);
    return mac_hex(secret, &t, hex);
}

bool sf_cluster_sign_answer(const char *secret, const char *request, unsigned status,
                            const struct sf_hdrs *fields, char out[SF_PEER_ANSWER_MAX])
{
    char hex[65];
    if (!answer_mac(secret, request, status, fields, hex))
        return false;
    snprintf(out, SF_PEER_ANSWER_MAX, "sig=%s", hex);
    return true;
}

bool sf_cluster_verify_answer(const char *secret, const char *request, unsigned status,
                              const struct sf_hdrs *fields, char *mac)
{
    char want[65];
    if (request == NULL || !answer_mac(secret, request, status, fields, want))
        return false;
    bool ok = false;
    for (size_t i = 0; i < fields->n; i++) {
        const char *v = fields->v[i].value;
        if (sf_streq_ci(fields->v[i].name, SF_PEER_ANSWER_FIELD) && strlen(v) == 68 &&
            strncmp(v, "sig=", 4) == 0)
            ok = same_mac(want, v + 4) || ok; /* any of them: an origin may send one too */
    }
    if (ok && mac != NULL)
        memcpy(mac, want, 65);
    return ok;
}

/* ---- bodies ---- */

struct sf_body_hash {
    gnutls_hash_hd_t h;
    uint64_t len;
};

struct sf_body_hash *sf_cluster_body_new(void)
{
    struct sf_body_hash *b = sf_xcalloc(1, sizeof *b);
    if (gnutls_hash_init(&b->h, GNUTLS_DIG_SHA256) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

void sf_cluster_body_add(struct sf_body_hash *b, const void *data, size_t len)
{
    /* (gnutls_hash fails only for an algorithm it lacks, which init already refused.) */
    (void)gnutls_hash(b->h, data, len);
    b->len += len;
}

static void to_hex(const unsigned char *raw, size_t n, char *hex)
{
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
}

uint64_t sf_cluster_body_end(struct sf_body_hash *b, char hex[65])
{
    if (b == NULL)
        return 0;
    unsigned char digest[32];
    gnutls_hash_deinit(b->h, digest);
    to_hex(digest, sizeof digest, hex);
    uint64_t len = b->len;
    free(b);
    return len;
}

void sf_cluster_body_free(struct sf_body_hash *b)
{
    if (b == NULL)
        return;
    gnutls_hash_deinit(b->h, NULL);
    free(b);
}

void sf_cluster_body_head(int64_t length, const char *sha256, char out[SF_PEER_BODY_MAX])
{
    char len_text[40] = "";
    if (length >= 0)
        snprintf(len_text, sizeof len_text, "length=%" PRId64 "; ", length);
    if (sha256 != NULL)
        snprintf(out, SF_PEER_BODY_MAX, "%ssha256=%s", len_text, sha256);
    else
        snprintf(out, SF_PEER_BODY_MAX, "%strailer", len_text);
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

bool sf_cluster_body_parse(const char *value, struct sf_body_claim *claim)
{
    *claim = (struct sf_body_claim){.length = -1};
    if (value == NULL)
        return false;
    const char *p = value;
    if (strncmp(p, "length=", 7) == 0) {
        p += 7;
        if (*p < '0' || *p > '9')
            return false;
        char *end;
        unsigned long long n = strtoull(p, &end, 10);
        if (n > INT64_MAX || strncmp(end, "; ", 2) != 0)
            return false;
        claim->length = (int64_t)n;
        p = end + 2;
    }
    if (strcmp(p, "trailer") == 0) {
        claim->trailer = true;
        return true;
    }
    if (strncmp(p, "sha256=", 7) != 0 || !all_hex(p + 7, 64) || claim->length < 0)
        return false;
    memcpy(claim->sha256, p + 7, 65);
    return true;
}

static bool body_mac(const char *secret, const char *mac, uint64_t length, const char *sha256,
                     char hex[65])
{
    char len_text[24];
    snprintf(len_text, sizeof len_text, "%" PRIu64, length);
    struct text t = {0};
    const char *parts[] = {"sfproxy-body", mac, len_text, sha256};
    for (size_t i = 0; i < 4; i++)
        text_adds(&t, parts[i]);
    return mac_hex(secret, &t, hex);
}

bool sf_cluster_body_trailer(const char *secret, const char *mac, uint64_t length,
                             const char *sha256, char out[SF_PEER_ANSWER_MAX])
{
    char hex[65];
    if (!body_mac(secret, mac, length, sha256, hex))
        return false;
    snprintf(out, SF_PEER_ANSWER_MAX, "sig=%s", hex);
    return true;
}

bool sf_cluster_body_verify(const char *secret, const char *mac, const struct sf_body_claim *claim,
                            const char *trailer, uint64_t length, const char *sha256)
{
    if (claim->length >= 0 && (uint64_t)claim->length != length)
        return false; /* cut, or padded */
    if (!claim->trailer)
        return same_mac(claim->sha256, sha256); /* the head's signature covered the digest */
    char want[65];
    return trailer != NULL && strlen(trailer) == 68 && strncmp(trailer, "sig=", 4) == 0 &&
           body_mac(secret, mac, length, sha256, want) && same_mac(want, trailer + 4);
}
